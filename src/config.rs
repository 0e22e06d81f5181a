//! Typed settings from the environment, optionally over a TOML file named by
//! `WEBFB_CONFIG`. Secrets are wrapped so that no `Debug` or log line can print them.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Deserialize;

use crate::db::Database;
use crate::otp::seal::{Keyring, MasterKey};

/// Everything the server needs to start.
#[derive(Debug)]
pub struct Settings {
    pub database: Database,
    pub bind: String,
    pub data_dir: PathBuf,
    pub jwt_secret: SecretString,
    pub master_key: SecretBox<[u8; 32]>,
    /// Which key sealed a token seed; stored beside each ciphertext so keys can rotate.
    pub master_key_id: String,
    /// Keys that sealed older seeds (`WEBFB_MASTER_KEYS_PREVIOUS=id:base64,…`): they open,
    /// the current key seals.
    pub previous_master_keys: Vec<(String, SecretBox<[u8; 32]>)>,
    pub policy: Policy,
    pub argon2: Argon2Params,
    pub db_pool_size: u32,
    /// Browser origins allowed to call the API (CORS); none by default.
    pub cors_origins: Vec<String>,
}

/// The bank's rules that an operator may tune.
#[derive(Clone, Debug)]
pub struct Policy {
    pub session_idle_secs: i64,
    pub session_absolute_secs: i64,
    pub login_lockout_threshold: i32,
    pub approval_lockout_threshold: i32,
    pub transfer_password_lockout_threshold: i32,
    pub otp_lockout_threshold: i32,
    /// Steps accepted either side of the current one.
    pub otp_window: u32,
    pub otp_issuer: String,
    pub unregistered_token_ttl_secs: i64,
    pub transfer_ttl_secs: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            session_idle_secs: 10 * 60,
            session_absolute_secs: 8 * 60 * 60,
            login_lockout_threshold: 5,
            approval_lockout_threshold: 5,
            transfer_password_lockout_threshold: 5,
            otp_lockout_threshold: 5,
            otp_window: 1,
            otp_issuer: "webfb".to_owned(),
            unregistered_token_ttl_secs: 7 * 24 * 60 * 60,
            transfer_ttl_secs: 10 * 60,
        }
    }
}

/// Argon2id cost. The default is OWASP's (19 MiB, 2 passes, 1 lane); anything cheaper is
/// refused from configuration and exists only for test suites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Argon2Params {
    pub const OWASP: Argon2Params = Argon2Params {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Deliberately weak: only for tests, which hash hundreds of passwords.
    pub const INSECURE_FAST_FOR_TESTS: Argon2Params = Argon2Params {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("setting {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error(
        "{0} is required with PostgreSQL: a production deployment states its keys (generate one with `openssl rand -base64 32`)"
    )]
    MissingKey(&'static str),
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
    #[error("cannot write generated key {path}: {reason}")]
    KeyFile { path: String, reason: String },
}

/// The optional file: the same names as the environment, lower-case, without `WEBFB_`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    bind: Option<String>,
    data_dir: Option<String>,
    jwt_secret: Option<String>,
    master_key: Option<String>,
    master_key_id: Option<String>,
    master_keys_previous: Option<String>,
    session_idle_secs: Option<i64>,
    session_absolute_secs: Option<i64>,
    login_lockout_threshold: Option<i32>,
    approval_lockout_threshold: Option<i32>,
    transfer_password_lockout_threshold: Option<i32>,
    otp_lockout_threshold: Option<i32>,
    otp_window: Option<u32>,
    otp_issuer: Option<String>,
    unregistered_token_ttl_secs: Option<i64>,
    transfer_ttl_secs: Option<i64>,
    argon2_memory_kib: Option<u32>,
    argon2_iterations: Option<u32>,
    argon2_parallelism: Option<u32>,
    db_pool_size: Option<u32>,
    cors_origins: Option<Vec<String>>,
}

/// Reads one setting: the environment wins over the file.
struct Source {
    env: HashMap<String, String>,
    file: FileSettings,
}

impl Source {
    fn string(&self, env_name: &str, file_value: &Option<String>) -> Option<String> {
        self.env
            .get(env_name)
            .cloned()
            .filter(|v| !v.is_empty())
            .or_else(|| file_value.clone())
    }

    fn number<T: std::str::FromStr + Copy>(
        &self,
        env_name: &'static str,
        file_value: Option<T>,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.env.get(env_name).filter(|v| !v.is_empty()) {
            Some(raw) => raw.trim().parse().map_err(|_| ConfigError::Invalid {
                name: env_name,
                reason: format!("{raw:?} is not a number"),
            }),
            None => Ok(file_value.unwrap_or(default)),
        }
    }
}

impl Settings {
    /// Loads from the process environment (and `WEBFB_CONFIG`, if set).
    pub fn from_env() -> Result<Settings, ConfigError> {
        Self::load(std::env::vars().collect())
    }

    pub fn load(env: HashMap<String, String>) -> Result<Settings, ConfigError> {
        let file = match env.get("WEBFB_CONFIG") {
            Some(path) => {
                let text = fs::read_to_string(path).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
            }
            None => FileSettings::default(),
        };
        let src = Source { env, file };
        let f = &src.file;

        let data_dir = PathBuf::from(
            src.string("WEBFB_DATA_DIR", &f.data_dir)
                .unwrap_or_else(|| "./data".into()),
        );
        let database = match src.string("DATABASE_URL", &f.database_url) {
            Some(url) => Database::parse(&url)?,
            None => {
                private_dir(&data_dir)?;
                Database::Sqlite(data_dir.join("webfb.db"))
            }
        };
        let embedded = matches!(database, Database::Sqlite(_));

        let jwt_secret = match src.string("WEBFB_JWT_SECRET", &f.jwt_secret) {
            Some(s) if s.len() >= 32 => s,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "WEBFB_JWT_SECRET",
                    reason: "must be at least 32 characters".into(),
                });
            }
            None if embedded => generated_key(&data_dir, "jwt_secret.key")?,
            None => return Err(ConfigError::MissingKey("WEBFB_JWT_SECRET")),
        };
        let master_key_b64 = match src.string("WEBFB_MASTER_KEY", &f.master_key) {
            Some(s) => s,
            None if embedded => generated_key(&data_dir, "master.key")?,
            None => return Err(ConfigError::MissingKey("WEBFB_MASTER_KEY")),
        };
        let master_key = decode_master_key(&master_key_b64)?;
        let master_key_id = src
            .string("WEBFB_MASTER_KEY_ID", &f.master_key_id)
            .unwrap_or_else(|| "k1".into());
        let mut previous_master_keys = Vec::new();
        for entry in src
            .string("WEBFB_MASTER_KEYS_PREVIOUS", &f.master_keys_previous)
            .unwrap_or_default()
            .split(',')
        {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (id, key) = entry.split_once(':').ok_or_else(|| ConfigError::Invalid {
                name: "WEBFB_MASTER_KEYS_PREVIOUS",
                reason: "write each key as id:base64".into(),
            })?;
            if id == master_key_id {
                return Err(ConfigError::Invalid {
                    name: "WEBFB_MASTER_KEYS_PREVIOUS",
                    reason: format!("key id {id:?} is the current key's id"),
                });
            }
            previous_master_keys.push((
                id.to_owned(),
                SecretBox::new(Box::new(decode_master_key(key)?)),
            ));
        }

        let d = Policy::default();
        let policy = Policy {
            session_idle_secs: src.number(
                "WEBFB_SESSION_IDLE_SECS",
                f.session_idle_secs,
                d.session_idle_secs,
            )?,
            session_absolute_secs: src.number(
                "WEBFB_SESSION_ABSOLUTE_SECS",
                f.session_absolute_secs,
                d.session_absolute_secs,
            )?,
            login_lockout_threshold: src.number(
                "WEBFB_LOGIN_LOCKOUT_THRESHOLD",
                f.login_lockout_threshold,
                d.login_lockout_threshold,
            )?,
            approval_lockout_threshold: src.number(
                "WEBFB_APPROVAL_LOCKOUT_THRESHOLD",
                f.approval_lockout_threshold,
                d.approval_lockout_threshold,
            )?,
            transfer_password_lockout_threshold: src.number(
                "WEBFB_TRANSFER_PASSWORD_LOCKOUT_THRESHOLD",
                f.transfer_password_lockout_threshold,
                d.transfer_password_lockout_threshold,
            )?,
            otp_lockout_threshold: src.number(
                "WEBFB_OTP_LOCKOUT_THRESHOLD",
                f.otp_lockout_threshold,
                d.otp_lockout_threshold,
            )?,
            otp_window: src.number("WEBFB_OTP_WINDOW", f.otp_window, d.otp_window)?,
            otp_issuer: src
                .string("WEBFB_OTP_ISSUER", &f.otp_issuer)
                .unwrap_or(d.otp_issuer),
            unregistered_token_ttl_secs: src.number(
                "WEBFB_UNREGISTERED_TOKEN_TTL_SECS",
                f.unregistered_token_ttl_secs,
                d.unregistered_token_ttl_secs,
            )?,
            transfer_ttl_secs: src.number(
                "WEBFB_TRANSFER_TTL_SECS",
                f.transfer_ttl_secs,
                d.transfer_ttl_secs,
            )?,
        };
        policy.check()?;

        let o = Argon2Params::OWASP;
        let argon2 = Argon2Params {
            memory_kib: src.number("WEBFB_ARGON2_MEMORY_KIB", f.argon2_memory_kib, o.memory_kib)?,
            iterations: src.number("WEBFB_ARGON2_ITERATIONS", f.argon2_iterations, o.iterations)?,
            parallelism: src.number(
                "WEBFB_ARGON2_PARALLELISM",
                f.argon2_parallelism,
                o.parallelism,
            )?,
        };
        if argon2.memory_kib < o.memory_kib
            || argon2.iterations < o.iterations
            || argon2.parallelism < 1
        {
            return Err(ConfigError::Invalid {
                name: "WEBFB_ARGON2_*",
                reason: "below the OWASP minimum (19456 KiB, 2 iterations, 1 lane)".into(),
            });
        }

        let cors_origins = match src.env.get("WEBFB_CORS_ORIGINS") {
            Some(list) => list
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            None => src.file.cors_origins.clone().unwrap_or_default(),
        };
        for origin in &cors_origins {
            check_origin(origin)?;
        }

        Ok(Settings {
            database,
            bind: src
                .string("WEBFB_BIND", &f.bind)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            data_dir,
            jwt_secret: SecretString::from(jwt_secret),
            master_key: SecretBox::new(Box::new(master_key)),
            master_key_id,
            previous_master_keys,
            policy,
            argon2,
            db_pool_size: src.number("WEBFB_DB_POOL_SIZE", f.db_pool_size, 10)?,
            cors_origins,
        })
    }

    /// The master key's bytes, for the sealing of token seeds.
    pub fn master_key_bytes(&self) -> [u8; 32] {
        *self.master_key.expose_secret()
    }

    /// The keys that seal (current) and open (current and previous) token seeds.
    pub fn keyring(&self) -> Result<Keyring, ConfigError> {
        let mut ring = Keyring::new(MasterKey::new(
            self.master_key_id.clone(),
            self.master_key_bytes(),
        ));
        for (id, key) in &self.previous_master_keys {
            ring = ring.with_previous(MasterKey::new(id.clone(), *key.expose_secret()));
        }
        Ok(ring)
    }
}

impl Policy {
    fn check(&self) -> Result<(), ConfigError> {
        let positive = [
            ("WEBFB_SESSION_IDLE_SECS", self.session_idle_secs),
            ("WEBFB_SESSION_ABSOLUTE_SECS", self.session_absolute_secs),
            (
                "WEBFB_LOGIN_LOCKOUT_THRESHOLD",
                self.login_lockout_threshold.into(),
            ),
            (
                "WEBFB_APPROVAL_LOCKOUT_THRESHOLD",
                self.approval_lockout_threshold.into(),
            ),
            (
                "WEBFB_TRANSFER_PASSWORD_LOCKOUT_THRESHOLD",
                self.transfer_password_lockout_threshold.into(),
            ),
            (
                "WEBFB_OTP_LOCKOUT_THRESHOLD",
                self.otp_lockout_threshold.into(),
            ),
            (
                "WEBFB_UNREGISTERED_TOKEN_TTL_SECS",
                self.unregistered_token_ttl_secs,
            ),
            ("WEBFB_TRANSFER_TTL_SECS", self.transfer_ttl_secs),
        ];
        for (name, value) in positive {
            if value <= 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be greater than zero".into(),
                });
            }
        }
        if self.otp_window > 10 {
            return Err(ConfigError::Invalid {
                name: "WEBFB_OTP_WINDOW",
                reason: "at most 10 steps".into(),
            });
        }
        Ok(())
    }
}

/// An origin is `scheme://host[:port]`, nothing more; `*` is refused, because a bank's API
/// names the front-ends it serves.
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name: "WEBFB_CORS_ORIGINS",
        reason: format!("{origin:?}: {reason}"),
    };
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid("an origin starts with https:// or http:// (and \"*\" is never allowed)")
        })?;
    if rest.is_empty() || rest.contains(['/', '*', '?', '#', ' ']) {
        return Err(invalid(
            "an origin is scheme://host[:port] with no path or wildcard",
        ));
    }
    Ok(())
}

fn decode_master_key(b64: &str) -> Result<[u8; 32], ConfigError> {
    let bytes = B64.decode(b64.trim()).map_err(|_| ConfigError::Invalid {
        name: "WEBFB_MASTER_KEY",
        reason: "is not base64".into(),
    })?;
    bytes.try_into().map_err(|_| ConfigError::Invalid {
        name: "WEBFB_MASTER_KEY",
        reason: "must decode to exactly 32 bytes".into(),
    })
}

/// Creates the data directory readable by this user only: it holds the database (password
/// hashes, sealed seeds) and, for the embedded default, the keys.
fn private_dir(dir: &Path) -> Result<(), ConfigError> {
    let err = |e: std::io::Error| ConfigError::KeyFile {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(err)?;
        #[cfg(unix)]
        fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(err)?;
    }
    Ok(())
}

/// Reads a key from the data directory, generating it (mode 0600) on first start.
fn generated_key(dir: &Path, name: &str) -> Result<String, ConfigError> {
    let path = dir.join(name);
    let err = |e: std::io::Error| ConfigError::KeyFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if path.exists() {
        return Ok(fs::read_to_string(&path).map_err(err)?.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = B64.encode(bytes);
    fs::create_dir_all(dir).map_err(err)?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(err)?;
    file.write_all(key.as_bytes()).map_err(err)?;
    tracing::warn!(path = %path.display(), "generated a new key for the embedded database; keep this file safe");
    Ok(key)
}

#[cfg(test)]
mod tests {
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
        fs::write(&file, "bind = \"0.0.0.0:9090\"\notp_window = 2\ncors_origins = [\"https://fb.bank.example\"]\n").unwrap();
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
}
