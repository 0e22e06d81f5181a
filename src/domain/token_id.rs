//! Token IDs: the serial number printed on a hardware token or shown for a software token.
//!
//! A token ID is four capital ASCII letters followed by eight ASCII digits. IDs that this bank
//! issues itself carry the prefix [`ISSUED_PREFIX`] and end in a Luhn check digit over the seven
//! digits before it, so that a typo is told apart from an unknown token. Serials imported from
//! token vendors (for example `VSST12345678`) keep their own numbering and have no check digit.

use std::fmt;

use rand::Rng;
use rand::rngs::OsRng;

/// Prefix of the token IDs that this bank issues; only these carry a check digit.
pub const ISSUED_PREFIX: &str = "WFBS";

/// Number of letters at the start of a token ID.
const LETTERS: usize = 4;
/// Number of digits after the letters.
const DIGITS: usize = 8;
/// Exclusive upper bound of the random part of an issued ID (seven digits).
const ISSUED_SERIAL_BOUND: u32 = 10_000_000;

/// Why a string is not an acceptable token ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenIdError {
    /// Not four letters followed by eight digits.
    #[error("a token ID is four capital letters followed by eight digits")]
    Malformed,
    /// Well formed, but the check digit of a bank-issued ID does not match: most likely a typo.
    #[error("this token ID's check digit does not match: please check it for a typo")]
    Mistyped,
}

/// A validated token ID in canonical form (upper-case letters, no surrounding whitespace).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenId(String);

impl TokenId {
    /// Parses a token ID as typed by a person.
    ///
    /// Surrounding whitespace is trimmed and lower-case letters are upper-cased. IDs with the
    /// [`ISSUED_PREFIX`] must have a valid Luhn check digit.
    ///
    /// # Errors
    ///
    /// [`TokenIdError::Malformed`] if the shape is wrong, [`TokenIdError::Mistyped`] if a
    /// bank-issued ID has the wrong check digit.
    pub fn parse(s: &str) -> Result<TokenId, TokenIdError> {
        let canonical = s.trim().to_ascii_uppercase();
        let bytes = canonical.as_bytes();
        if bytes.len() != LETTERS + DIGITS {
            return Err(TokenIdError::Malformed);
        }
        let (letters, digits) = bytes.split_at(LETTERS);
        if !letters.iter().all(u8::is_ascii_uppercase) || !digits.iter().all(u8::is_ascii_digit) {
            return Err(TokenIdError::Malformed);
        }
        if letters == ISSUED_PREFIX.as_bytes() {
            let (payload, check) = digits.split_at(DIGITS - 1);
            if check != [luhn_check_digit(payload)] {
                return Err(TokenIdError::Mistyped);
            }
        }
        Ok(TokenId(canonical))
    }

    /// Generates a fresh bank-issued ID: [`ISSUED_PREFIX`], seven random digits, one Luhn digit.
    ///
    /// Uniqueness is not guaranteed (there are ten million IDs): the caller must insert under a
    /// unique constraint and retry on conflict.
    ///
    /// # Panics
    ///
    /// Only if the operating system's random number generator fails, which leaves the process
    /// unable to do any cryptography at all.
    pub fn generate_issued() -> TokenId {
        let serial = OsRng.gen_range(0..ISSUED_SERIAL_BOUND);
        let payload = format!("{serial:07}");
        let check = char::from(luhn_check_digit(payload.as_bytes()));
        TokenId(format!("{ISSUED_PREFIX}{payload}{check}"))
    }

    /// The full ID, e.g. `WFBS12345674`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ID with its middle hidden, for logs and screens: `WFBS****5674`.
    pub fn masked(&self) -> String {
        // Invariant: the ID is 12 ASCII characters, so both slices are in bounds and on
        // character boundaries.
        let letters = &self.0[..LETTERS];
        let last_four = &self.0[self.0.len() - 4..];
        format!("{letters}****{last_four}")
    }
}

/// The Luhn check digit (as an ASCII byte) for a run of ASCII digits.
///
/// Every second digit, starting with the rightmost payload digit, is doubled.
fn luhn_check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b.wrapping_sub(b'0'));
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    // Invariant: the value is 0..=9, so the cast cannot truncate.
    b'0' + ((10 - sum % 10) % 10) as u8
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_id_with_correct_check_digit_parses() {
        let id = TokenId::parse("WFBS12345674").unwrap();
        assert_eq!(id.as_str(), "WFBS12345674");
        assert_eq!(id.to_string(), "WFBS12345674");
    }

    #[test]
    fn issued_id_with_wrong_check_digit_is_a_typo() {
        assert_eq!(TokenId::parse("WFBS12345675"), Err(TokenIdError::Mistyped));
        // Swapping two neighbouring digits is caught too.
        assert_eq!(TokenId::parse("WFBS21345674"), Err(TokenIdError::Mistyped));
    }

    #[test]
    fn vendor_serials_need_no_check_digit() {
        assert_eq!(
            TokenId::parse("VSST12345678").unwrap().as_str(),
            "VSST12345678"
        );
    }

    #[test]
    fn whitespace_is_trimmed_and_letters_upper_cased() {
        let id = TokenId::parse("  wfbs12345674\n").unwrap();
        assert_eq!(id.as_str(), "WFBS12345674");
        assert_eq!(id, TokenId::parse("WfBs12345674").unwrap());
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "WFBS1234567",
            "WFBS123456745",
            "WFB112345674",
            "WFBS1234567A",
            "WF BS1234567",
            "WFBS 12345674",
            "ÄFBS12345674",
            "WFBS１2345674",
            "12345674WFBS",
        ] {
            assert_eq!(TokenId::parse(bad), Err(TokenIdError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_issued_and_valid() {
        for _ in 0..200 {
            let id = TokenId::generate_issued();
            assert!(id.as_str().starts_with(ISSUED_PREFIX));
            assert_eq!(TokenId::parse(id.as_str()), Ok(id));
        }
    }

    #[test]
    fn masked_shows_prefix_and_last_four_digits() {
        let id = TokenId::parse("WFBS12345674").unwrap();
        assert_eq!(id.masked(), "WFBS****5674");
    }

    #[test]
    fn luhn_check_digit_matches_known_values() {
        // 7992739871 is the classic Luhn example with check digit 3.
        assert_eq!(luhn_check_digit(b"7992739871"), b'3');
        assert_eq!(luhn_check_digit(b"1234567"), b'4');
        assert_eq!(luhn_check_digit(b"0000000"), b'0');
    }

    #[test]
    fn error_messages_speak_to_the_api_user() {
        assert_eq!(
            TokenIdError::Malformed.to_string(),
            "a token ID is four capital letters followed by eight digits"
        );
        assert_eq!(
            TokenIdError::Mistyped.to_string(),
            "this token ID's check digit does not match: please check it for a typo"
        );
    }
}
