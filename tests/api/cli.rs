//! The `webfb` command line, run as a real process.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn webfb(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_webfb"))
        .args(args)
        .env_clear()
        .env("WEBFB_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("webfb runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn operator_create_reads_the_password_from_stdin_and_refuses_duplicates_and_weak_ones() {
    let dir = tempfile::tempdir().unwrap();
    let ok = webfb(
        dir.path(),
        &["operator", "create", "--login-id", "op.tanaka"],
        "Operator-Pass-2026\n",
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let dup = webfb(
        dir.path(),
        &["operator", "create", "--login-id", "op.tanaka"],
        "Operator-Pass-2026\n",
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    let weak = webfb(
        dir.path(),
        &["operator", "create", "--login-id", "op.suzuki"],
        "short\n",
    );
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(stderr.contains("password refused"), "{stderr}");
    assert!(!stderr.contains("short\n"));
}

#[test]
fn demo_is_idempotent_and_prints_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let first = webfb(dir.path(), &["demo"], "");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = webfb(dir.path(), &["demo"], "");
    assert!(second.status.success());
    let out = String::from_utf8_lossy(&second.stdout);
    for login in [
        "demo.operator",
        "demo.checker",
        "demo.admin",
        "demo.user1",
        "demo.user2",
        "demo.customer",
    ] {
        assert!(out.contains(&format!("login_id={login}")), "{out}");
    }
    assert!(
        out.contains("funds-transfer password=Demo-Funds-2026"),
        "{out}"
    );
    let first = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.matches("otpauth://totp/").count(), 2, "{first}");
    assert!(!out.contains("otpauth://"), "a secret is shown only once");
}

#[test]
fn openapi_prints_the_committed_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = webfb(dir.path(), &["openapi"], "");
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[test]
fn an_unknown_database_scheme_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_webfb"))
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", "mysql://u:p@localhost/db")
        .env("WEBFB_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sqlite://") && stderr.contains("postgres://"),
        "{stderr}"
    );
}

#[test]
fn demo_refuses_a_database_other_than_sqlite_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_webfb"))
        .arg("demo")
        .env_clear()
        .env("DATABASE_URL", "postgres://u:p@127.0.0.1:1/webfb")
        .env(
            "WEBFB_JWT_SECRET",
            "a-jwt-secret-of-at-least-thirty-two-chars",
        )
        .env(
            "WEBFB_MASTER_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .env("WEBFB_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only on SQLite"), "{stderr}");
}

#[test]
fn an_operator_is_unlocked_given_a_new_password_and_disabled_from_the_command_line() {
    use webfb::db::lockout::{Subject, stored_password};
    use webfb::db::{Database, Db};
    use webfb::domain::audit::{ActorKind, AuditAction, Event, Outcome};
    use webfb::domain::{PasswordAttempt, Secret};
    use webfb::service::Services;
    use webfb::service::lockout::check_password;

    let dir = tempfile::tempdir().unwrap();
    let create = webfb(
        dir.path(),
        &["operator", "create", "--login-id", "op.tanaka"],
        "Operator-Pass-2026\n",
    );
    assert!(create.status.success());
    let env = [(
        "WEBFB_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    )]
    .into();
    let settings = webfb::config::Settings::load(env).unwrap();
    let services =
        Services::new(&settings, std::sync::Arc::new(webfb::clock::SystemClock)).unwrap();
    let Database::Sqlite(path) = &settings.database else {
        panic!("embedded")
    };
    let database = Database::Sqlite(path.clone());
    let try_password = |password: &str| {
        let mut conn = database.connect().unwrap();
        let audit = Event::new(
            AuditAction::OperatorLogin,
            Outcome::Failure,
            ActorKind::Operator,
        );
        let attempt = PasswordAttempt::parse(password).unwrap();
        let subject = Subject::LoginId("op.tanaka");
        check_password(
            &mut Db::single(&mut conn),
            &services,
            Secret::OperatorPassword,
            subject,
            &attempt,
            &audit,
        )
    };
    let locked = || {
        let mut conn = database.connect().unwrap();
        stored_password(
            &mut conn,
            Secret::OperatorPassword,
            Subject::LoginId("op.tanaka"),
        )
        .unwrap()
        .unwrap()
    };
    for _ in 0..5 {
        assert!(try_password("Wrong-Pass-2026").is_err());
    }
    assert!(locked().lock.is_some());

    let unlock = webfb(
        dir.path(),
        &["operator", "unlock", "--login-id", "op.tanaka"],
        "",
    );
    assert!(
        unlock.status.success(),
        "{}",
        String::from_utf8_lossy(&unlock.stderr)
    );
    assert!(locked().lock.is_none());
    assert!(try_password("Operator-Pass-2026").is_ok());

    let reset = webfb(
        dir.path(),
        &["operator", "reset-password", "--login-id", "op.tanaka"],
        "Another-Pass-2026\n",
    );
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    assert!(try_password("Operator-Pass-2026").is_err());
    assert!(try_password("Another-Pass-2026").is_ok());

    let disable = webfb(
        dir.path(),
        &["operator", "disable", "--login-id", "op.tanaka"],
        "",
    );
    assert!(disable.status.success());
    assert!(try_password("Another-Pass-2026").unwrap().disabled);

    let unknown = webfb(
        dir.path(),
        &["operator", "unlock", "--login-id", "op.nobody"],
        "",
    );
    assert!(!unknown.status.success());
}

#[test]
fn keys_reseal_seals_every_seed_under_the_current_key() {
    let dir = tempfile::tempdir().unwrap();
    let demo = webfb(dir.path(), &["demo"], "");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let old_key = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    let rotate = |args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_webfb"))
            .args(args)
            .env_clear()
            .env("WEBFB_DATA_DIR", dir.path())
            .env(
                "WEBFB_MASTER_KEY",
                "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
            )
            .env("WEBFB_MASTER_KEY_ID", "k2")
            .env(
                "WEBFB_MASTER_KEYS_PREVIOUS",
                format!("k1:{}", old_key.trim()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take();
        child.wait_with_output().unwrap()
    };
    let first = rotate(&["keys", "reseal"]);
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(
        first.status.success() && said.contains("2 token seed(s)"),
        "{said}"
    );
    let again = rotate(&["keys", "reseal"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 token seed(s)"));
    // The old key can go now: the seeds open under the new one alone.
    let alone = Command::new(env!("CARGO_BIN_EXE_webfb"))
        .args(["keys", "reseal"])
        .env_clear()
        .env("WEBFB_DATA_DIR", dir.path())
        .env(
            "WEBFB_MASTER_KEY",
            "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
        )
        .env("WEBFB_MASTER_KEY_ID", "k2")
        .output()
        .unwrap();
    assert!(
        alone.status.success(),
        "{}",
        String::from_utf8_lossy(&alone.stderr)
    );
}

#[test]
fn audit_verify_walks_the_trail_and_names_a_changed_event() {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let dir = tempfile::tempdir().unwrap();
    assert!(webfb(dir.path(), &["demo"], "").status.success());
    let first = webfb(dir.path(), &["audit", "verify"], "");
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{said}");
    assert!(
        said.contains("audit trail intact: 0 event(s) sealed"),
        "{said}"
    );
    // The command only reads (the server seals as it serves): change an event waiting
    // for the sealer behind the application's back.
    let db = dir.path().join("webfb.db");
    let mut conn = diesel::SqliteConnection::establish(db.to_str().unwrap()).unwrap();
    conn.batch_execute(
        "DROP TRIGGER audit_events_no_update; \
         UPDATE audit_events SET detail = '{}' WHERE id = 3",
    )
    .unwrap();
    let second = webfb(dir.path(), &["audit", "verify"], "");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(
        said.contains("audit trail broken: event 3 was inserted or changed"),
        "{said}"
    );
}
