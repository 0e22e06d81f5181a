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
mod tests {
    use super::*;
    use std::collections::HashMap;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    const SEED_SHA1: &[u8] = b"12345678901234567890";
    const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";
    const RFC6238_TIMES: [i64; 6] = [
        59,
        1_111_111_109,
        1_111_111_111,
        1_234_567_890,
        2_000_000_000,
        20_000_000_000,
    ];

    fn rfc6238_params(algorithm: Algorithm) -> TotpParams {
        TotpParams {
            algorithm,
            digits: 8,
            period: 30,
        }
    }

    fn check_rfc6238(algorithm: Algorithm, seed: &[u8], expected: [&str; 6]) {
        let params = rfc6238_params(algorithm);
        for (time, want) in RFC6238_TIMES.into_iter().zip(expected) {
            let step = step_at(&params, time);
            assert_eq!(
                code_at_step(seed, &params, step),
                want,
                "{algorithm} at {time}"
            );
            assert_eq!(verify(seed, &params, want, time, 0), Some(step));
        }
    }

    #[test]
    fn rfc4226_hotp_vectors_match() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in (0_u64..).zip(expected) {
            assert_eq!(hotp(SEED_SHA1, Algorithm::Sha1, 6, counter), want);
        }
    }

    #[test]
    fn rfc6238_sha1_vectors_match() {
        check_rfc6238(
            Algorithm::Sha1,
            SEED_SHA1,
            [
                "94287082", "07081804", "14050471", "89005924", "69279037", "65353130",
            ],
        );
    }

    #[test]
    fn rfc6238_sha256_vectors_match() {
        check_rfc6238(
            Algorithm::Sha256,
            SEED_SHA256,
            [
                "46119246", "68084774", "67062674", "91819424", "90698825", "77737706",
            ],
        );
    }

    #[test]
    fn rfc6238_sha512_vectors_match() {
        check_rfc6238(
            Algorithm::Sha512,
            SEED_SHA512,
            [
                "90693936", "25091201", "99943326", "93441116", "38618901", "47863826",
            ],
        );
    }

    #[test]
    fn step_at_floors_including_before_the_epoch() {
        let p = TotpParams::DEFAULT;
        assert_eq!(step_at(&p, 0), 0);
        assert_eq!(step_at(&p, 29), 0);
        assert_eq!(step_at(&p, 30), 1);
        assert_eq!(step_at(&p, 59), 1);
        assert_eq!(step_at(&p, -1), -1);
        assert_eq!(step_at(&p, -30), -1);
        assert_eq!(step_at(&p, -31), -2);
    }

    #[test]
    fn verify_accepts_one_step_either_side_and_refuses_two() {
        let p = TotpParams::DEFAULT;
        let now = 1_700_000_015;
        let current = step_at(&p, now);
        for offset in -1..=1 {
            let code = code_at_step(SEED_SHA1, &p, current + offset);
            assert_eq!(verify(SEED_SHA1, &p, &code, now, 1), Some(current + offset));
        }
        for offset in [-2, 2] {
            let code = code_at_step(SEED_SHA1, &p, current + offset);
            // Guard against a chance collision making the test meaningless.
            let neighbours: Vec<String> = (-1..=1)
                .map(|o| code_at_step(SEED_SHA1, &p, current + o))
                .collect();
            assert!(!neighbours.contains(&code));
            assert_eq!(verify(SEED_SHA1, &p, &code, now, 1), None);
        }
    }

    #[test]
    fn verify_with_window_zero_accepts_only_the_current_step() {
        let p = TotpParams::DEFAULT;
        let now = 1_700_000_015;
        let current = step_at(&p, now);
        let code = code_at_step(SEED_SHA1, &p, current);
        assert_eq!(verify(SEED_SHA1, &p, &code, now, 0), Some(current));
        let previous = code_at_step(SEED_SHA1, &p, current - 1);
        assert_eq!(verify(SEED_SHA1, &p, &previous, now, 0), None);
    }

    #[test]
    fn verify_rejects_wrong_length_and_non_digit_codes() {
        let p = TotpParams::DEFAULT;
        let now = 1_700_000_015;
        let code = code_at_step(SEED_SHA1, &p, step_at(&p, now));
        assert_eq!(verify(SEED_SHA1, &p, &code[..5], now, 1), None);
        assert_eq!(verify(SEED_SHA1, &p, &format!("{code}0"), now, 1), None);
        assert_eq!(verify(SEED_SHA1, &p, &format!(" {code}"), now, 1), None);
        assert_eq!(verify(SEED_SHA1, &p, "", now, 1), None);
        assert_eq!(verify(SEED_SHA1, &p, "12345a", now, 1), None);
        // An 8-digit code for the same step is not accepted by 6-digit parameters.
        let eight = TotpParams { digits: 8, ..p };
        let long = code_at_step(SEED_SHA1, &eight, step_at(&p, now));
        assert_eq!(verify(SEED_SHA1, &p, &long, now, 1), None);
    }

    #[test]
    fn sixty_second_period_works() {
        let p = TotpParams::new(Algorithm::Sha1, 6, 60).unwrap();
        // Step 28 333 334 runs from 1 700 000 040 to 1 700 000 099 inclusive.
        let start = 1_700_000_040;
        let step = step_at(&p, start);
        assert_eq!(step, 28_333_334);
        assert_eq!(step_at(&p, start + 59), step);
        let code = code_at_step(SEED_SHA1, &p, step);
        assert_eq!(code, hotp(SEED_SHA1, Algorithm::Sha1, 6, 28_333_334));
        assert_eq!(verify(SEED_SHA1, &p, &code, start, 0), Some(step));
        assert_eq!(verify(SEED_SHA1, &p, &code, start + 59, 0), Some(step));
        assert_eq!(verify(SEED_SHA1, &p, &code, start + 60, 0), None);
        assert_eq!(verify(SEED_SHA1, &p, &code, start - 1, 0), None);
        assert_eq!(verify(SEED_SHA1, &p, &code, start + 60, 1), Some(step));
        // The same code is not valid under a 30 s period at the same time.
        let thirty = TotpParams::DEFAULT;
        assert_ne!(
            code_at_step(SEED_SHA1, &thirty, step_at(&thirty, start)),
            code
        );
    }

    #[test]
    fn negative_steps_never_panic_and_never_match() {
        let p = TotpParams::DEFAULT;
        assert_eq!(code_at_step(SEED_SHA1, &p, -1), "");
        assert_eq!(code_at_step(SEED_SHA1, &p, i64::MIN), "");
        // At time 0 with window 1, step -1 is skipped but 0 and 1 still count.
        let code = code_at_step(SEED_SHA1, &p, 0);
        assert_eq!(verify(SEED_SHA1, &p, &code, 0, 1), Some(0));
        assert_eq!(verify(SEED_SHA1, &p, "000000", -1_000, 1), None);
        assert_eq!(verify(SEED_SHA1, &p, "000000", i64::MIN, MAX_WINDOW), None);
        let at_max = code_at_step(SEED_SHA1, &p, step_at(&p, i64::MAX));
        assert!(verify(SEED_SHA1, &p, &at_max, i64::MAX, MAX_WINDOW).is_some());
    }

    #[test]
    fn invalid_parameters_never_panic_and_never_verify() {
        let zero_period = TotpParams {
            period: 0,
            ..TotpParams::DEFAULT
        };
        assert_eq!(step_at(&zero_period, 100), 100);
        assert_eq!(code_at_step(SEED_SHA1, &zero_period, 1), "");
        assert_eq!(verify(SEED_SHA1, &zero_period, "123456", 100, 1), None);
        for digits in [0, 5, 9, 10, u32::MAX] {
            let p = TotpParams {
                digits,
                ..TotpParams::DEFAULT
            };
            assert_eq!(p.validate(), Err(TotpError::Digits(digits)));
            assert_eq!(code_at_step(SEED_SHA1, &p, 1), "");
            assert_eq!(hotp(SEED_SHA1, Algorithm::Sha1, digits, 1), "");
        }
        assert_eq!(
            TotpParams::new(Algorithm::Sha1, 6, u64::MAX),
            Err(TotpError::Period(u64::MAX))
        );
    }

    #[test]
    fn oversized_window_is_refused() {
        let p = TotpParams::DEFAULT;
        let now = 1_700_000_015;
        let code = code_at_step(SEED_SHA1, &p, step_at(&p, now));
        assert!(verify(SEED_SHA1, &p, &code, now, MAX_WINDOW).is_some());
        assert_eq!(verify(SEED_SHA1, &p, &code, now, MAX_WINDOW + 1), None);
    }

    #[test]
    fn verify_returns_the_highest_step_when_two_steps_share_a_code() {
        // Scan counters for the first code that repeats within 2 * MAX_WINDOW steps.
        let p = TotpParams::DEFAULT;
        let span = 2 * i64::from(MAX_WINDOW);
        let mut last_seen: HashMap<String, i64> = HashMap::new();
        let collision = (0..1_000_000_i64).find_map(|step| {
            let code = code_at_step(SEED_SHA1, &p, step);
            let earlier = last_seen.insert(code.clone(), step);
            earlier
                .filter(|&low| step - low <= span)
                .map(|low| (low, step, code))
        });
        let Some((low, high, code)) = collision else {
            panic!("no repeated code within {span} steps among a million counters");
        };
        // Put `high` at the top of the window, so `low` is inside it too.
        let centre = high - i64::from(MAX_WINDOW);
        assert!(low >= centre - i64::from(MAX_WINDOW));
        let now = centre * 30;
        assert_eq!(verify(SEED_SHA1, &p, &code, now, MAX_WINDOW), Some(high));
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            assert_eq!(Algorithm::parse(a.as_str()), Ok(a));
            assert_eq!(a.as_str().to_lowercase().parse::<Algorithm>(), Ok(a));
        }
        assert_eq!(Algorithm::parse("MD5"), Err(TotpError::UnknownAlgorithm));
        assert_eq!(Algorithm::parse("SHA-1"), Err(TotpError::UnknownAlgorithm));
    }

    #[test]
    fn otpauth_uri_spells_out_every_parameter() {
        let uri = otpauth_uri(SEED_SHA1, &TotpParams::DEFAULT, "WEB-FB", "alice");
        assert_eq!(
            uri,
            "otpauth://totp/WEB-FB:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=WEB-FB&algorithm=SHA1&digits=6&period=30"
        );
        let p = TotpParams::new(Algorithm::Sha256, 8, 60).unwrap();
        let uri = otpauth_uri(SEED_SHA1, &p, "Bank & Co", "a:b@x.example");
        assert_eq!(
            uri,
            "otpauth://totp/Bank%20%26%20Co:a%3Ab%40x.example\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Bank%20%26%20Co&algorithm=SHA256&digits=8&period=60"
        );
        let no_issuer = otpauth_uri(SEED_SHA1, &TotpParams::DEFAULT, "", "alice");
        assert!(no_issuer.starts_with("otpauth://totp/alice?secret="));
        assert!(!no_issuer.contains("issuer="));
    }

    #[test]
    fn qr_code_is_a_base64_png() {
        let b64 = qr_png_base64(SEED_SHA1, &TotpParams::DEFAULT, "WEB-FB", "alice").unwrap();
        let png = STANDARD.decode(b64).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let bad = TotpParams {
            digits: 4,
            ..TotpParams::DEFAULT
        };
        assert_eq!(
            qr_png_base64(SEED_SHA1, &bad, "WEB-FB", "alice"),
            Err(TotpError::Digits(4))
        );
    }

    #[test]
    fn qr_code_that_cannot_fit_is_an_error() {
        let huge_account = "a".repeat(5_000);
        let drawn = qr_png_base64(SEED_SHA1, &TotpParams::DEFAULT, "WEB-FB", &huge_account);
        assert!(matches!(drawn, Err(TotpError::Qr(_))));
    }
}
