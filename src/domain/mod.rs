//! Pure rules and types of the bank: no database, no HTTP. Wire data is parsed into these
//! types at the edge; past it, no function takes a raw string where one of them is meant.

pub mod account;
pub mod confirmation;
pub mod otp_code;
pub mod person;
pub mod token_id;
pub mod transfer;

pub use account::{DebitAccount, TransferLimit};
pub use confirmation::{BlockedReason, OtpStatus, Role, TokenMode, TransferConfirmation};
pub use person::{CompanyName, LoginId, NewPassword, PasswordAttempt, PersonName};

/// Why a value was refused: a stable machine code and a sentence for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            code,
            message: message.into(),
        }
    }
}

/// Checks a free-text field: trimmed, within `max` characters, no control characters.
pub fn text_field(value: &str, max: usize) -> Result<String, Invalid> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new("required", "must not be empty"));
    }
    let len = trimmed.chars().count();
    if len > max {
        return Err(Invalid::new(
            "too_long",
            format!("must be at most {max} characters (got {len})"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::new(
            "invalid_character",
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}
