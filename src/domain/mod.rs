//! Pure rules and entities of the bank: no database, no HTTP. Wire data is parsed into these
//! types at the edge; past it, no function takes a raw string where one of them is meant.
//! Services return these entities; a password hash is never part of one.

pub mod account;
pub mod approval;
pub mod audit;
pub mod certificate;
pub mod company;
pub mod confirmation;
pub mod otp_code;
pub mod person;
pub mod soft_token;
pub mod token_id;
pub mod transfer;
pub mod user;

pub use account::{DebitAccount, TransferLimit};
pub use audit::{AuditAction, Outcome};
pub use certificate::PersonCertificate;
pub use company::{Company, CompanyName, ContractKind, LoginMethod, OtpStatus, TokenMode};
pub use confirmation::{BlockedReason, TransferConfirmation};
pub use person::{EmailAddress, LoginId, NewPassword, PasswordAttempt, PersonName};
pub use soft_token::SoftToken;
pub use user::{BankOperator, Role, Secret, User};

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

/// Every refused field of one request, each named by its path, so a form can show them
/// all at once.
#[derive(Debug, Default)]
pub struct Refusals(pub Vec<(String, Invalid)>);

impl Refusals {
    /// Keeps the value, or records why its field was refused.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, Invalid>) -> Option<T> {
        parsed.map_err(|e| self.push(field, e)).ok()
    }

    pub fn push(&mut self, field: impl Into<String>, invalid: Invalid) {
        self.0.push((field.into(), invalid));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks a free-text field: trimmed, within `max` characters, no control characters and
/// no bidirectional overrides (which make a screen show other text than is stored).
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
    if trimmed
        .chars()
        .any(|c| c.is_control() || is_bidi_control(c))
    {
        return Err(Invalid::new(
            "invalid_character",
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Unicode's explicit direction marks, embeddings, overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Declares an enum that is stored and sent as fixed snake_case text.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }
    };
}
pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_field_refuses_controls_and_direction_overrides() {
        assert_eq!(text_field(" ok ", 5).unwrap(), "ok");
        assert_eq!(
            text_field("a\u{0}b", 5).unwrap_err().code,
            "invalid_character"
        );
        assert_eq!(
            text_field("abc\u{202E}fdp.exe", 50).unwrap_err().code,
            "invalid_character"
        );
        assert_eq!(
            text_field("a\u{2066}b", 5).unwrap_err().code,
            "invalid_character"
        );
    }
}
