//! Token IDs: the serial number printed on a hardware token or shown for a software token.
//!
//! IDs that this bank issues itself are [`ISSUED_PREFIX`] and eight digits, the last a Luhn
//! check digit over the seven before it, so that a typo is told apart from an unknown token.
//! Tokens imported from vendors keep the vendor's serial as printed on the device (for example
//! `VSST12345678`, `FTCN00012345`, `1234567890123`, `YK-0001-A`): capital letters, digits and
//! inner hyphens, at most 40 characters, with no check digit.

use std::fmt;

use rand::Rng;
use rand::rngs::OsRng;

/// Prefix of the token IDs that this bank issues; only these carry a check digit.
pub const ISSUED_PREFIX: &str = "WFBS";

/// Number of letters at the start of an issued ID.
const LETTERS: usize = 4;
/// Number of digits after the letters.
const DIGITS: usize = 8;
/// The longest vendor serial kept.
pub const MAX_LEN: usize = 40;
/// Exclusive upper bound of the random part of an issued ID (seven digits).
const ISSUED_SERIAL_BOUND: u32 = 10_000_000;

/// Why a string is not an acceptable token ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenIdError {
    /// Neither an issued ID nor a vendor's serial.
    #[error(
        "a token ID is WFBS and eight digits, or a vendor's serial: letters, digits and inner hyphens, at most 40"
    )]
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
        if canonical.starts_with(ISSUED_PREFIX) && bytes[LETTERS..].iter().all(u8::is_ascii_digit) {
            // The bank's own: exactly eight digits, the last one checking the others.
            let digits = &bytes[LETTERS..];
            if digits.len() != DIGITS {
                return Err(TokenIdError::Malformed);
            }
            let (payload, check) = digits.split_at(DIGITS - 1);
            if check != [luhn_check_digit(payload)] {
                return Err(TokenIdError::Mistyped);
            }
            return Ok(TokenId(canonical));
        }
        let inner = |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit();
        let shaped = (1..=MAX_LEN).contains(&bytes.len())
            && bytes.iter().all(|b| inner(b) || *b == b'-')
            && bytes.first().is_some_and(inner)
            && bytes.last().is_some_and(inner)
            && !canonical.contains("--");
        if !shaped {
            return Err(TokenIdError::Malformed);
        }
        Ok(TokenId(canonical))
    }

    /// Creates a new bank-issued ID with a random serial and its check digit.
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
        // Every ID is ASCII, so any byte index is a character boundary.
        let id = &self.0;
        let shown = match id.len() {
            0..=4 => return "****".into(),
            5..=9 => 2,
            _ => 4,
        };
        format!("{}****{}", &id[..shown], &id[id.len() - shown..])
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
    fn vendor_serials_keep_their_own_shape_and_need_no_check_digit() {
        for serial in [
            "VSST12345678",
            "FTCN00012345",
            "1234567890123",
            "YK-0001-A",
            "X",
        ] {
            assert_eq!(TokenId::parse(serial).unwrap().as_str(), serial);
        }
        assert_eq!(TokenId::parse("ftcn0001").unwrap().as_str(), "FTCN0001");
        assert_eq!(TokenId::parse(&"A".repeat(40)).unwrap().as_str().len(), 40);
    }

    #[test]
    fn short_and_long_serials_are_masked_alike() {
        assert_eq!(
            TokenId::parse("1234567890123").unwrap().masked(),
            "1234****0123"
        );
        assert_eq!(TokenId::parse("YK-01-A").unwrap().masked(), "YK****-A");
        assert_eq!(TokenId::parse("ABC").unwrap().masked(), "****");
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
            "WF BS1234567",
            "WFBS 12345674",
            "ÄFBS12345674",
            "WFBS１2345674",
            "-FTCN1",
            "FTCN1-",
            "YK--0001",
            "FTCN_0001",
            &"A".repeat(41),
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
            "a token ID is WFBS and eight digits, or a vendor's serial: letters, digits and inner hyphens, at most 40"
        );
        assert_eq!(
            TokenIdError::Mistyped.to_string(),
            "this token ID's check digit does not match: please check it for a typo"
        );
    }
}
