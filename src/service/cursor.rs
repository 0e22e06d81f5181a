//! Page cursors: opaque to clients, naming the last item shown by its time and id.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::domain::Invalid;
use crate::error::AppError;

pub fn encode(at: DateTime<Utc>, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.timestamp_micros()))
}

pub fn decode(cursor: &str) -> Result<(DateTime<Utc>, String), AppError> {
    let invalid = || {
        AppError::field(
            "cursor",
            Invalid::new("format", "not a cursor this API gave out"),
        )
    };
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
    // Only what this API gave out reaches the database: a transfer id is a UUID.
    let id = uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
    Ok((at, id.to_string()))
}
