//! Settings as an operator writes them.

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn postgres_without_keys_is_a_start_up_error() {
    let err =
        Settings::load(env(&[("DATABASE_URL", "postgres://u:p@localhost/webfb")])).unwrap_err();
    assert!(
        matches!(err, ConfigError::MissingKey("WEBFB_JWT_SECRET")),
        "{err}"
    );
}

#[test]
fn the_embedded_default_generates_private_keys_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let vars = env(&[("WEBFB_DATA_DIR", data.to_str().unwrap())]);
    let first = Settings::load(vars.clone()).unwrap();
    let second = Settings::load(vars).unwrap();
    assert_eq!(first.master_key_bytes(), second.master_key_bytes());
    assert_eq!(first.database, Database::Sqlite(data.join("webfb.db")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the data directory is private");
    }
}

#[test]
fn secrets_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::load(env(&[
        ("WEBFB_DATA_DIR", dir.path().to_str().unwrap()),
        (
            "WEBFB_JWT_SECRET",
            "a-very-long-jwt-secret-that-must-not-leak",
        ),
    ]))
    .unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains("must-not-leak"));
}

#[test]
fn argon2_below_owasp_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Settings::load(env(&[
        ("WEBFB_DATA_DIR", dir.path().to_str().unwrap()),
        ("WEBFB_ARGON2_MEMORY_KIB", "1024"),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("OWASP"));
}

#[test]
fn cors_origins_are_exact_and_never_a_wildcard() {
    let dir = tempfile::tempdir().unwrap();
    let load = |origins: &str| {
        Settings::load(env(&[
            ("WEBFB_DATA_DIR", dir.path().to_str().unwrap()),
            ("WEBFB_CORS_ORIGINS", origins),
        ]))
    };
    let s = load("https://fb.bank.example, http://localhost:5173").unwrap();
    assert_eq!(
        s.cors_origins,
        ["https://fb.bank.example", "http://localhost:5173"]
    );
    for bad in [
        "*",
        "https://*.bank.example",
        "fb.bank.example",
        "https://fb.bank.example/app",
    ] {
        assert!(load(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_toml_file_sets_what_the_environment_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("webfb.toml");
    fs::write(
        &file,
        "bind = \"0.0.0.0:9090\"\notp_window = 2\ncors_origins = [\"https://fb.bank.example\"]\n",
    )
    .unwrap();
    let vars = |extra: &[(&str, &str)]| {
        let mut v = env(&[
            ("WEBFB_DATA_DIR", dir.path().to_str().unwrap()),
            ("WEBFB_CONFIG", file.to_str().unwrap()),
        ]);
        v.extend(env(extra));
        v
    };
    let s = Settings::load(vars(&[])).unwrap();
    assert_eq!((s.bind.as_str(), s.policy.otp_window), ("0.0.0.0:9090", 2));
    assert_eq!(s.cors_origins, ["https://fb.bank.example"]);
    let s = Settings::load(vars(&[("WEBFB_BIND", "127.0.0.1:7070")])).unwrap();
    assert_eq!(s.bind, "127.0.0.1:7070", "the environment wins");
    fs::write(&file, "no_such_setting = 1\n").unwrap();
    assert!(
        Settings::load(vars(&[]))
            .unwrap_err()
            .to_string()
            .contains("no_such_setting")
    );
}

#[test]
fn a_bad_number_names_its_setting() {
    let dir = tempfile::tempdir().unwrap();
    let err = Settings::load(env(&[
        ("WEBFB_DATA_DIR", dir.path().to_str().unwrap()),
        ("WEBFB_SESSION_IDLE_SECS", "ten"),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("WEBFB_SESSION_IDLE_SECS"));
}

#[test]
fn a_client_ca_needs_a_way_for_certificates_to_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let err = Settings::load(env(&[
        ("WEBFB_DATA_DIR", data),
        ("WEBFB_CLIENT_CA", "ca.pem"),
    ]))
    .unwrap_err();
    assert!(
        err.to_string().contains("no certificate could ever arrive"),
        "{err}"
    );
    let err = Settings::load(env(&[
        ("WEBFB_DATA_DIR", data),
        ("WEBFB_CLIENT_CA", "ca.pem"),
        ("WEBFB_CLIENT_CERT_HEADER", "x-ssl-client-cert"),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("WEBFB_TRUSTED_PROXIES"), "{err}");
    let err = Settings::load(env(&[
        ("WEBFB_DATA_DIR", data),
        ("WEBFB_TLS_CERT", "s.pem"),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("WEBFB_TLS_KEY"), "{err}");
    let ok = Settings::load(env(&[
        ("WEBFB_DATA_DIR", data),
        ("WEBFB_CLIENT_CA", "ca.pem"),
        ("WEBFB_TLS_CERT", "s.pem"),
        ("WEBFB_TLS_KEY", "s.key"),
    ]))
    .unwrap();
    assert_eq!(ok.tls.client_ca, Some(std::path::PathBuf::from("ca.pem")));
}
