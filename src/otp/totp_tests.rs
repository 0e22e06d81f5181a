//! RFC 4226 and RFC 6238 vectors, and the edges of verification.

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
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
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
