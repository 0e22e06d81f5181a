//! One-time codes as typed by a person: 6 to 8 ASCII digits.
//!
//! An [`OtpCode`] is a credential while it is valid, so it is never printed: its `Debug` output
//! is masked and it has no `Display`. It deliberately has no `PartialEq` either: compare codes
//! only through the constant-time checks in [`crate::otp::totp`].

use std::fmt;

/// Fewest digits a one-time code may have (RFC 4226 section 5.3).
pub const MIN_DIGITS: usize = 6;
/// Most digits a one-time code may have.
pub const MAX_DIGITS: usize = 8;

/// Why a string is not an acceptable one-time code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OtpCodeError {
    /// Not 6 to 8 ASCII digits.
    #[error("a one-time code is 6 to 8 digits")]
    Malformed,
}

/// A syntactically valid one-time code (surrounding whitespace removed).
#[derive(Clone)]
pub struct OtpCode(String);

impl OtpCode {
    /// Parses a code as typed: trims surrounding whitespace, then requires 6 to 8 ASCII digits.
    ///
    /// # Errors
    ///
    /// [`OtpCodeError::Malformed`] for anything else, including inner spaces and non-ASCII digits.
    pub fn parse(s: &str) -> Result<OtpCode, OtpCodeError> {
        let trimmed = s.trim();
        let len_ok = (MIN_DIGITS..=MAX_DIGITS).contains(&trimmed.len());
        if len_ok && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            Ok(OtpCode(trimmed.to_owned()))
        } else {
            Err(OtpCodeError::Malformed)
        }
    }

    /// The digits of the code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(******)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_to_eight_digits_parse_after_trimming() {
        assert_eq!(OtpCode::parse("123456").unwrap().as_str(), "123456");
        assert_eq!(OtpCode::parse(" 1234567 ").unwrap().as_str(), "1234567");
        assert_eq!(OtpCode::parse("\t12345678\n").unwrap().as_str(), "12345678");
    }

    #[test]
    fn anything_else_is_malformed() {
        for bad in [
            "",
            "12345",
            "123456789",
            "12 3456",
            "12345a",
            "-123456",
            "１23456",
            "+123456",
        ] {
            assert!(OtpCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_does_not_reveal_the_code() {
        let code = OtpCode::parse("987654").unwrap();
        let shown = format!("{code:?}");
        assert_eq!(shown, "OtpCode(******)");
        assert!(!shown.contains("987654"));
    }
}
