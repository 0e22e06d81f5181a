//! Access tokens: short JWTs (HS256) that name a session; the session row decides.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, ErrorCode};

const ISSUER: &str = "webfb";

/// Which door a session was opened at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Person,
    Operator,
}

impl SessionKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            SessionKind::Person => "person",
            SessionKind::Operator => "operator",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Claims {
    iss: String,
    pub(super) sub: String,
    pub(super) sid: String,
    pub(super) kind: SessionKind,
    iat: i64,
    exp: i64,
}

impl Claims {
    pub(super) fn new(
        sub: &str,
        sid: String,
        kind: SessionKind,
        (issued, expires): (DateTime<Utc>, DateTime<Utc>),
    ) -> Claims {
        Claims {
            iss: ISSUER.to_owned(),
            sub: sub.to_owned(),
            sid,
            kind,
            iat: issued.timestamp(),
            exp: expires.timestamp(),
        }
    }
}

pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl SessionKeys {
    pub fn new(secret: &SecretString) -> SessionKeys {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["iss", "sub", "exp"]);
        // The session row decides by the service's clock; the token's own expiry is
        // checked too, with a minute's leeway for clocks that differ across instances.
        validation.validate_exp = true;
        validation.leeway = 60;
        SessionKeys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        }
    }
}

impl SessionKeys {
    pub(super) fn sign(&self, claims: &Claims) -> Result<String, AppError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("jwt: {e}")))
    }

    /// The claims of a token this server signed, still within its expiry.
    pub(super) fn read(&self, bearer: &str) -> Result<Claims, AppError> {
        jsonwebtoken::decode::<Claims>(bearer, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| AppError::new(ErrorCode::Unauthenticated, "the access token is not valid"))
    }
}
