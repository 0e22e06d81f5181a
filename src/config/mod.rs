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

mod outside;
pub mod policy;

use crate::otp::seal::{Keyring, MasterKey};
pub use outside::{NotificationSettings, TlsSettings};
pub use policy::Policy;

/// Everything the server needs to start.
#[derive(Debug)]
pub struct Settings {
    pub database: Database,
    pub bind: String,
    /// Where `/metrics` is served instead of on `bind`, so it need not be public.
    pub metrics_bind: Option<String>,
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
    /// Proxies whose `X-Forwarded-For` tells the client's address; no one else's does.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// argon2 computations at once, and how many more may wait for one (then 503).
    pub argon2_workers: usize,
    pub argon2_queue: usize,
    pub tls: TlsSettings,
    /// How often the sealer chains newly committed audit events (`WEBFB_AUDIT_SEAL_MILLIS`,
    /// 250 by default; 0: only when the log is read or verified).
    pub audit_seal_every: Option<std::time::Duration>,
    pub notifications: NotificationSettings,
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
    metrics_bind: Option<String>,
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
    hotp_look_ahead: Option<u32>,
    resync_search: Option<u32>,
    otp_issuer: Option<String>,
    unregistered_token_ttl_secs: Option<i64>,
    transfer_ttl_secs: Option<i64>,
    approval_ttl_secs: Option<i64>,
    procedure_ttl_secs: Option<i64>,
    argon2_memory_kib: Option<u32>,
    argon2_iterations: Option<u32>,
    argon2_parallelism: Option<u32>,
    db_pool_size: Option<u32>,
    cors_origins: Option<Vec<String>>,
    login_lock_durations: Option<String>,
    checks_per_addr_per_minute: Option<u32>,
    checks_per_subject_per_minute: Option<u32>,
    max_pending_tokens: Option<i64>,
    trusted_proxies: Option<Vec<String>>,
    argon2_workers: Option<usize>,
    argon2_queue: Option<usize>,
    corporate_otp_at_login: Option<bool>,
    corporate_otp_for_transactions: Option<bool>,
    personal_otp_at_login: Option<bool>,
    personal_otp_for_transactions: Option<bool>,
    sign_in_challenge_secs: Option<i64>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    client_ca: Option<String>,
    client_crl: Option<String>,
    client_cert_header: Option<String>,
    audit_seal_millis: Option<u64>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    outbox_millis: Option<u64>,
    outbox_max_attempts: Option<i32>,
    webhook_timeout_secs: Option<u64>,
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
                reason: format!("{raw:?} is not a valid value (a number, or true or false)"),
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
            hotp_look_ahead: src.number(
                "WEBFB_HOTP_LOOK_AHEAD",
                f.hotp_look_ahead,
                d.hotp_look_ahead,
            )?,
            resync_search: src.number("WEBFB_RESYNC_SEARCH", f.resync_search, d.resync_search)?,
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
            approval_ttl_secs: src.number(
                "WEBFB_APPROVAL_TTL_SECS",
                f.approval_ttl_secs,
                d.approval_ttl_secs,
            )?,
            procedure_ttl_secs: src.number(
                "WEBFB_PROCEDURE_TTL_SECS",
                f.procedure_ttl_secs,
                d.procedure_ttl_secs,
            )?,
            login_lock_durations: match src
                .string("WEBFB_LOGIN_LOCK_DURATIONS", &f.login_lock_durations)
            {
                Some(text) => policy::durations("WEBFB_LOGIN_LOCK_DURATIONS", &text)?,
                None => d.login_lock_durations,
            },
            checks_per_addr_per_minute: src.number(
                "WEBFB_CHECKS_PER_ADDR_PER_MINUTE",
                f.checks_per_addr_per_minute,
                d.checks_per_addr_per_minute,
            )?,
            checks_per_subject_per_minute: src.number(
                "WEBFB_CHECKS_PER_SUBJECT_PER_MINUTE",
                f.checks_per_subject_per_minute,
                d.checks_per_subject_per_minute,
            )?,
            max_pending_tokens: src.number(
                "WEBFB_MAX_PENDING_TOKENS",
                f.max_pending_tokens,
                d.max_pending_tokens,
            )?,
            corporate: policy::CodesAsked {
                at_sign_in: src.number(
                    "WEBFB_CORPORATE_OTP_AT_LOGIN",
                    f.corporate_otp_at_login,
                    d.corporate.at_sign_in,
                )?,
                for_transactions: src.number(
                    "WEBFB_CORPORATE_OTP_FOR_TRANSACTIONS",
                    f.corporate_otp_for_transactions,
                    d.corporate.for_transactions,
                )?,
            },
            personal: policy::CodesAsked {
                at_sign_in: src.number(
                    "WEBFB_PERSONAL_OTP_AT_LOGIN",
                    f.personal_otp_at_login,
                    d.personal.at_sign_in,
                )?,
                for_transactions: src.number(
                    "WEBFB_PERSONAL_OTP_FOR_TRANSACTIONS",
                    f.personal_otp_for_transactions,
                    d.personal.for_transactions,
                )?,
            },
            sign_in_challenge_secs: src.number(
                "WEBFB_SIGN_IN_CHALLENGE_SECS",
                f.sign_in_challenge_secs,
                d.sign_in_challenge_secs,
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

        let trusted_proxies: Vec<ipnet::IpNet> = match src.env.get("WEBFB_TRUSTED_PROXIES") {
            Some(list) => list.split(',').map(|p| p.trim().to_owned()).collect(),
            None => src.file.trusted_proxies.clone().unwrap_or_default(),
        }
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| parse_proxy(p))
        .collect::<Result<_, _>>()?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let argon2_workers = src.number("WEBFB_ARGON2_WORKERS", f.argon2_workers, cores)?;
        let argon2_queue = src.number("WEBFB_ARGON2_QUEUE", f.argon2_queue, 2 * cores)?;
        if argon2_workers == 0 {
            return Err(ConfigError::Invalid {
                name: "WEBFB_ARGON2_WORKERS",
                reason: "must be greater than zero".into(),
            });
        }

        let tls = outside::tls(&src, f, &trusted_proxies)?;

        let seal_millis: u64 = src.number("WEBFB_AUDIT_SEAL_MILLIS", f.audit_seal_millis, 250)?;
        let notifications = outside::notifications(&src, f)?;

        Ok(Settings {
            notifications,
            audit_seal_every: (seal_millis > 0)
                .then(|| std::time::Duration::from_millis(seal_millis)),
            tls,
            database,
            bind: src
                .string("WEBFB_BIND", &f.bind)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            metrics_bind: src.string("WEBFB_METRICS_BIND", &f.metrics_bind),
            data_dir,
            jwt_secret: SecretString::from(jwt_secret),
            master_key: SecretBox::new(Box::new(master_key)),
            master_key_id,
            previous_master_keys,
            policy,
            argon2,
            db_pool_size: src.number("WEBFB_DB_POOL_SIZE", f.db_pool_size, 10)?,
            cors_origins,
            trusted_proxies,
            argon2_workers,
            argon2_queue,
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

/// A trusted proxy: a network (`10.0.0.0/8`) or one address.
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, ConfigError> {
    text.parse()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| ConfigError::Invalid {
            name: "WEBFB_TRUSTED_PROXIES",
            reason: format!("{text:?} is not an address or a network like 10.0.0.0/8"),
        })
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
mod tests;
