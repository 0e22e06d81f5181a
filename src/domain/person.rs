//! What people type about themselves: login IDs, names and passwords.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use super::{Invalid, text_field};

/// A sign-in ID (契約者ID / ログインID): 4–32 characters of letters, digits and `. _ - @`,
/// starting with a letter or digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LoginId(String);

impl LoginId {
    pub fn parse(value: &str) -> Result<LoginId, Invalid> {
        let v = value.trim();
        let len = v.chars().count();
        if !(4..=32).contains(&len) {
            return Err(Invalid::new(
                "length",
                format!("must be 4 to 32 characters (got {len})"),
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
        if let Some(bad) = v.chars().find(|c| !allowed(*c)) {
            return Err(Invalid::new(
                "invalid_character",
                format!("{bad:?} is not allowed: use letters, digits and . _ - @"),
            ));
        }
        if !v.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(Invalid::new(
                "invalid_character",
                "must start with a letter or a digit",
            ));
        }
        Ok(LoginId(v.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LoginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(value: &str) -> Result<PersonName, Invalid> {
        text_field(value, 64).map(PersonName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address to tell a person of security events: `local@domain`, at most 254
/// characters, no spaces, controls or angle brackets (nothing a mail header could be
/// injected with). Deliverability is the mail server's to judge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(value: &str) -> Result<EmailAddress, Invalid> {
        let value = value.trim();
        let shape = Invalid::new("format", "an e-mail address looks like name@example.co.jp");
        if value.len() > 254 {
            return Err(Invalid::new("too_long", "at most 254 characters"));
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(|| shape.clone())?;
        let bad = |c: char| c.is_whitespace() || c.is_control() || "<>,;:\\\"()[]@".contains(c);
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.chars().any(bad) || !domain_ok {
            return Err(shape);
        }
        Ok(EmailAddress(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password being set: login, approval (承認用) or transfer confirmation password.
/// 10–128 characters with at least one letter and one digit, not containing the login ID.
pub struct NewPassword(SecretString);

impl NewPassword {
    pub fn parse(value: &str, login_id: Option<&LoginId>) -> Result<NewPassword, Invalid> {
        let len = value.chars().count();
        if !(10..=128).contains(&len) {
            return Err(Invalid::new(
                "length",
                format!("must be 10 to 128 characters (got {len})"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(Invalid::new(
                "invalid_character",
                "must not contain control characters",
            ));
        }
        let letters = value.chars().any(char::is_alphabetic);
        let digits = value.chars().any(|c| c.is_ascii_digit());
        if !(letters && digits) {
            return Err(Invalid::new(
                "too_weak",
                "must contain both letters and digits",
            ));
        }
        if let Some(id) = login_id
            && value.to_lowercase().contains(&id.as_str().to_lowercase())
        {
            return Err(Invalid::new("too_weak", "must not contain the login ID"));
        }
        Ok(NewPassword(SecretString::from(value.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// A password typed to prove who one is: any non-empty text of sane length, because
/// the policy of the day must not lock out a password set under an older one.
pub struct PasswordAttempt(SecretString);

impl PasswordAttempt {
    pub fn parse(value: &str) -> Result<PasswordAttempt, Invalid> {
        if value.is_empty() {
            return Err(Invalid::new("required", "must not be empty"));
        }
        if value.chars().count() > 128 {
            return Err(Invalid::new("too_long", "must be at most 128 characters"));
        }
        Ok(PasswordAttempt(SecretString::from(value.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for PasswordAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordAttempt(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_ids_are_four_to_thirty_two_safe_characters() {
        assert!(LoginId::parse("taro.yamada").is_ok());
        assert_eq!(LoginId::parse("abc").unwrap_err().code, "length");
        assert_eq!(
            LoginId::parse("taro yamada").unwrap_err().code,
            "invalid_character"
        );
        assert_eq!(
            LoginId::parse("-taro").unwrap_err().code,
            "invalid_character"
        );
        assert_eq!(LoginId::parse(&"a".repeat(33)).unwrap_err().code, "length");
    }

    #[test]
    fn a_new_password_needs_length_letters_digits_and_not_the_login_id() {
        let id = LoginId::parse("yamada01").unwrap();
        assert!(NewPassword::parse("Sakura-2026-spring", Some(&id)).is_ok());
        assert_eq!(
            NewPassword::parse("short1", None).unwrap_err().code,
            "length"
        );
        assert_eq!(
            NewPassword::parse("onlyletterslong", None)
                .unwrap_err()
                .code,
            "too_weak"
        );
        assert_eq!(
            NewPassword::parse("xYAMADA01x2026", Some(&id))
                .unwrap_err()
                .code,
            "too_weak"
        );
    }

    #[test]
    fn passwords_do_not_print() {
        let p = NewPassword::parse("Sakura-2026-spring", None).unwrap();
        assert!(!format!("{p:?}").contains("Sakura"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            PersonName::parse("  山田 太郎 ").unwrap().as_str(),
            "山田 太郎"
        );
        assert_eq!(PersonName::parse("   ").unwrap_err().code, "required");
        assert_eq!(
            PersonName::parse(&"あ".repeat(65)).unwrap_err().code,
            "too_long"
        );
    }
}
