//! Electronic certificates (電子証明書) the bank binds to people for sign-in (seed 002,
//! Q4), as the bank records them: never the private key, only what identifies the
//! certificate.

use chrono::{DateTime, Utc};

/// A person's certificate as registered by the bank.
#[derive(Clone, Debug)]
pub struct PersonCertificate {
    pub id: String,
    pub user_id: String,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub fingerprint: String,
    /// The serial number, lower-case hex.
    pub serial: String,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub registered_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl PersonCertificate {
    pub fn active(&self) -> bool {
        self.revoked_at.is_none()
    }
}
