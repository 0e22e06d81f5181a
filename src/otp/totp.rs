//! Time-based one-time passwords (RFC 6238) on top of HMAC-based one-time passwords (RFC 4226).
//!
//! The HMAC and dynamic truncation are done by the `totp-rs` crate; this module adds the
//! bank's rules around it: strict parameter checks, a bounded verification window compared in
//! constant time, and the matched time step as result so that callers can refuse replays
//! (store the last accepted step per token and reject any step at or below it).
//!
//! Nothing here panics on bad input: invalid parameters, negative time steps and malformed
//! codes simply never verify.

use std::fmt;
use std::str::FromStr;

use secrecy::zeroize::Zeroize;
use serde::{Deserialize, Serialize};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use totp_rs::TOTP;

/// Fewest digits a code may have (RFC 4226 section 5.3).
pub const MIN_DIGITS: u32 = 6;
/// Most digits a code may have.
pub const MAX_DIGITS: u32 = 8;
/// Largest verification window accepted by [`verify`], in steps either side of the current one.
///
/// Guards against a configuration mistake turning each verification into millions of HMACs.
pub const MAX_WINDOW: u32 = 10;

/// The most counter values an HOTP check looks ahead.
pub const MAX_LOOK_AHEAD: u32 = 100;

/// Why TOTP parameters or a TOTP operation were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The algorithm name is not SHA1, SHA256 or SHA512.
    #[error("the OTP algorithm must be SHA1, SHA256 or SHA512")]
    UnknownAlgorithm,
    /// The number of digits is outside 6..=8.
    #[error("an OTP code has 6 to 8 digits, not {0}")]
    Digits(u32),
    /// The period is zero or too large to count steps with.
    #[error("the TOTP period must be a positive number of seconds, not {0}")]
    Period(u64),
    /// The QR code could not be drawn (for example because the URI is too long).
    #[error("the enrolment QR code could not be drawn: {0}")]
    Qr(String),
}

/// The HMAC hash function of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Algorithm {
    /// HMAC-SHA-1, the RFC 4226 default and the only one every authenticator app supports.
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in otpauth URIs and in storage: `SHA1`, `SHA256` or `SHA512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// Parses `SHA1`, `SHA256` or `SHA512`, ignoring ASCII case and surrounding whitespace.
    ///
    /// # Errors
    ///
    /// [`TotpError::UnknownAlgorithm`] for any other name.
    pub fn parse(s: &str) -> Result<Algorithm, TotpError> {
        let s = s.trim();
        [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or(TotpError::UnknownAlgorithm)
    }

    fn to_totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Algorithm::Sha1 => totp_rs::Algorithm::SHA1,
            Algorithm::Sha256 => totp_rs::Algorithm::SHA256,
            Algorithm::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = TotpError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::parse(s)
    }
}

/// How a token derives its codes: hash function, code length and time step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TotpParams {
    /// The HMAC hash function.
    pub algorithm: Algorithm,
    /// Code length, 6 to 8 digits.
    pub digits: u32,
    /// Length of a time step in seconds, at least 1 (30 almost everywhere, 60 on some tokens).
    pub period: u64,
}

impl TotpParams {
    /// SHA1, 6 digits, 30 seconds: what every authenticator app assumes.
    pub const DEFAULT: TotpParams = TotpParams {
        algorithm: Algorithm::Sha1,
        digits: 6,
        period: 30,
    };

    /// Builds validated parameters.
    ///
    /// # Errors
    ///
    /// [`TotpError::Digits`] or [`TotpError::Period`] as described in [`TotpParams::validate`].
    pub fn new(algorithm: Algorithm, digits: u32, period: u64) -> Result<TotpParams, TotpError> {
        let params = TotpParams {
            algorithm,
            digits,
            period,
        };
        params.validate()?;
        Ok(params)
    }

    /// Checks that `digits` is 6..=8 and `period` is 1..=`i64::MAX` seconds.
    ///
    /// # Errors
    ///
    /// [`TotpError::Digits`] or [`TotpError::Period`].
    pub fn validate(&self) -> Result<(), TotpError> {
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&self.digits) {
            return Err(TotpError::Digits(self.digits));
        }
        if self.period == 0 || i64::try_from(self.period).is_err() {
            return Err(TotpError::Period(self.period));
        }
        Ok(())
    }
}

impl Default for TotpParams {
    fn default() -> Self {
        TotpParams::DEFAULT
    }
}

/// Owns a `totp-rs` generator and wipes its copy of the secret when dropped.
struct Generator(TOTP);

impl Generator {
    /// A counter-based generator (period 1, so "time" is the HOTP counter); `None` for bad digits.
    fn new(secret: &[u8], algorithm: Algorithm, digits: u32) -> Option<Generator> {
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
            return None;
        }
        Some(Generator(TOTP::new_unchecked(
            algorithm.to_totp_rs(),
            // Invariant: 6..=8 fits every usize.
            digits as usize,
            0,
            1,
            secret.to_vec(),
            None,
            String::new(),
        )))
    }

    fn code(&self, counter: u64) -> String {
        self.0.generate(counter)
    }
}

impl Drop for Generator {
    fn drop(&mut self) {
        self.0.secret.zeroize();
    }
}

/// The time step containing `unix_time`: `floor(unix_time / period)`.
///
/// Times before 1970 give negative steps, which never verify. A period of 0 (invalid, see
/// [`TotpParams::validate`]) is treated as 1 second rather than dividing by zero.
pub fn step_at(params: &TotpParams, unix_time: i64) -> i64 {
    let period = i64::try_from(params.period).unwrap_or(i64::MAX).max(1);
    unix_time.div_euclid(period)
}

/// The code for one time step, zero-padded to `params.digits` digits.
///
/// Returns an empty string, which no check accepts and [`crate::domain::otp_code::OtpCode`]
/// never parses, if `params` are invalid or `step` is negative.
pub fn code_at_step(secret: &[u8], params: &TotpParams, step: i64) -> String {
    match u64::try_from(step) {
        Ok(counter) if params.validate().is_ok() => {
            hotp(secret, params.algorithm, params.digits, counter)
        }
        _ => String::new(),
    }
}

/// The RFC 4226 HOTP code for `counter`, zero-padded to `digits` digits.
///
/// Returns an empty string if `digits` is outside 6..=8.
pub fn hotp(secret: &[u8], algorithm: Algorithm, digits: u32, counter: u64) -> String {
    Generator::new(secret, algorithm, digits)
        .map(|generator| generator.code(counter))
        .unwrap_or_default()
}

/// Checks `code` against the steps from `current - window` to `current + window`.
///
/// Every candidate is computed and compared in constant time, with no early exit, so the time
/// taken does not tell which step matched. Returns the matched step (the highest, should two
/// steps share a code) or `None` when nothing matches, when `code` is not exactly
/// `params.digits` ASCII digits, when `params` are invalid, or when `window` exceeds
/// [`MAX_WINDOW`]. Steps below zero are never candidates.
///
/// The caller must still refuse replays: reject a returned step that is not greater than the
/// last step accepted for the same token.
pub fn verify(
    secret: &[u8],
    params: &TotpParams,
    code: &str,
    unix_time: i64,
    window: u32,
) -> Option<i64> {
    params.validate().ok()?;
    // The expected length is public, so refusing a wrong length early leaks nothing.
    let length_ok = usize::try_from(params.digits).is_ok_and(|d| d == code.len());
    if window > MAX_WINDOW || !length_ok || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let generator = Generator::new(secret, params.algorithm, params.digits)?;
    let current = step_at(params, unix_time);
    let window = i64::from(window);

    let mut found = Choice::from(0);
    let mut matched = 0_i64;
    for offset in -window..=window {
        let Some(step) = current.checked_add(offset) else {
            continue;
        };
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        let is_match = generator.code(counter).as_bytes().ct_eq(code.as_bytes());
        // Ascending order plus overwrite-on-match keeps the highest matching step.
        matched = i64::conditional_select(&matched, &step, is_match);
        found |= is_match;
    }
    bool::from(found).then_some(matched)
}

/// Checks an RFC 4226 (HOTP) `code` against the `look_ahead` counter values after
/// `last_used`, in constant time as [`verify`] does. Returns the lowest matching counter:
/// the token's presses since its last accepted code, which the caller then spends.
pub fn verify_counter(
    secret: &[u8],
    params: &TotpParams,
    code: &str,
    last_used: i64,
    look_ahead: u32,
) -> Option<i64> {
    params.validate().ok()?;
    let length_ok = usize::try_from(params.digits).is_ok_and(|d| d == code.len());
    if look_ahead > MAX_LOOK_AHEAD || !length_ok || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let generator = Generator::new(secret, params.algorithm, params.digits)?;
    let mut found = Choice::from(0);
    let mut matched = 0_i64;
    // Descending plus overwrite-on-match keeps the lowest matching counter.
    for ahead in (1..=i64::from(look_ahead)).rev() {
        let Some(counter) = last_used.checked_add(ahead) else {
            continue;
        };
        let Ok(c) = u64::try_from(counter) else {
            continue;
        };
        let is_match = generator.code(c).as_bytes().ct_eq(code.as_bytes());
        matched = i64::conditional_select(&matched, &counter, is_match);
        found |= is_match;
    }
    bool::from(found).then_some(matched)
}

/// The step (or counter) among `candidates` at which the token showed `first` and then
/// `second`: two consecutive codes, as a resynchronisation asks. The first such step.
pub fn consecutive(
    secret: &[u8],
    params: &TotpParams,
    (first, second): (&str, &str),
    candidates: impl Iterator<Item = i64>,
) -> Option<i64> {
    params.validate().ok()?;
    let generator = Generator::new(secret, params.algorithm, params.digits)?;
    let shows = |step: i64, code: &str| {
        u64::try_from(step)
            .is_ok_and(|c| bool::from(generator.code(c).as_bytes().ct_eq(code.as_bytes())))
    };
    candidates
        .filter(|s| *s < i64::MAX)
        .find(|s| shows(*s, first) && shows(*s + 1, second))
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `otpauth://` enrolment URI for authenticator apps (Google Key URI format).
///
/// All parameters are spelt out:
/// `otpauth://totp/Issuer:account?secret=BASE32&issuer=Issuer&algorithm=SHA1&digits=6&period=30`.
/// Issuer and account are percent-encoded (a `:` inside either becomes `%3A`); an empty issuer
/// is left out. The URI contains the secret: treat it as a secret and never log it.
pub fn otpauth_uri(secret: &[u8], params: &TotpParams, issuer: &str, account: &str) -> String {
    let secret_b32 = base32_secret(secret);
    let account = percent_encode(account);
    let (label, issuer_param) = if issuer.is_empty() {
        (account, String::new())
    } else {
        let issuer = percent_encode(issuer);
        (format!("{issuer}:{account}"), format!("&issuer={issuer}"))
    };
    format!(
        "otpauth://totp/{label}?secret={secret_b32}{issuer_param}&algorithm={}&digits={}&period={}",
        params.algorithm, params.digits, params.period
    )
}

/// RFC 4648 base32 without padding, as authenticator apps expect.
fn base32_secret(secret: &[u8]) -> String {
    let mut totp = TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        0,
        30,
        secret.to_vec(),
        None,
        String::new(),
    );
    let encoded = totp.get_secret_base32();
    totp.secret.zeroize();
    encoded
}

/// A QR code of the enrolment URI, as a base64-encoded PNG (no `data:` prefix).
///
/// Drawn by `totp-rs`, whose URI is equivalent to [`otpauth_uri`] but omits parameters that have
/// their default value (SHA1, 6 digits, 30 s), which keeps the QR code smaller.
///
/// # Errors
///
/// [`TotpError::Digits`] or [`TotpError::Period`] for invalid parameters, [`TotpError::Qr`] if
/// the QR code cannot be drawn.
pub fn qr_png_base64(
    secret: &[u8],
    params: &TotpParams,
    issuer: &str,
    account: &str,
) -> Result<String, TotpError> {
    params.validate()?;
    let mut totp = TOTP::new_unchecked(
        params.algorithm.to_totp_rs(),
        // Invariant: validated to 6..=8 above.
        params.digits as usize,
        0,
        params.period,
        secret.to_vec(),
        (!issuer.is_empty()).then(|| issuer.to_owned()),
        account.to_owned(),
    );
    let drawn = totp.get_qr_base64().map_err(TotpError::Qr);
    totp.secret.zeroize();
    drawn
}

#[cfg(test)]
#[path = "totp_tests.rs"]
mod tests;
