//! Use cases. Each is a synchronous function on `&mut DbConn` that owns its transaction,
//! writes its audit events in that same transaction, and returns domain results. The HTTP
//! layer runs them on the blocking pool.

pub mod audit;
pub mod auth;
pub mod bank;
pub mod demo;
pub mod lockout;
pub mod otp_admin;
pub mod passwords;
pub mod tokens;
pub mod transfers;
pub mod users;

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::clock::Clock;
use crate::config::{Policy, Settings};
use crate::domain::Role;
use crate::error::{AppError, ErrorCode};
use crate::otp::seal::Keyring;

pub use passwords::Passwords;

/// What every use case may need besides the connection: the bank's policy, the clock,
/// password hashing and the session keys.
pub struct Services {
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
    pub passwords: Passwords,
    pub sessions: auth::SessionKeys,
    pub keyring: Keyring,
    /// Keys the content hash of transfers; derived from the master key.
    pub content_key: [u8; 32],
}

impl Services {
    pub fn new(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Services, AppError> {
        Ok(Services {
            policy: settings.policy.clone(),
            clock,
            passwords: Passwords::new(settings.argon2)?,
            sessions: auth::SessionKeys::new(&settings.jwt_secret),
            keyring: settings
                .keyring()
                .map_err(|e| AppError::Internal(e.to_string()))?,
            content_key: derive_key(&settings.master_key_bytes(), b"webfb/transfer-content/v1"),
        })
    }

    /// Now, to the microsecond: what both engines store, so a stored time compares
    /// equal to the value it was written from (cursors depend on it).
    pub fn now(&self) -> DateTime<Utc> {
        let now = self.clock.now();
        now.trunc_subsecs(6)
    }

    /// The time as stored: UTC without zone.
    pub fn now_naive(&self) -> NaiveDateTime {
        self.now().naive_utc()
    }
}

/// A signed-in company person, as established from a live session.
#[derive(Clone, Debug)]
pub struct Person {
    pub user_id: String,
    pub company_id: String,
    pub role: Role,
    pub session_id: String,
    pub client_addr: Option<String>,
}

/// A signed-in bank operator.
#[derive(Clone, Debug)]
pub struct Operator {
    pub operator_id: String,
    pub session_id: String,
    pub client_addr: Option<String>,
}

/// A key for one purpose, from the master key: HMAC-SHA256(master, purpose).
fn derive_key(master: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(master)
        .expect("HMAC takes a key of any length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Maps a unique-constraint race (two creates at once) to the conflict a client expects.
pub(crate) fn unique_violation(e: DieselError, code: ErrorCode, detail: &str) -> AppError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            AppError::new(code, detail)
        }
        other => other.into(),
    }
}
