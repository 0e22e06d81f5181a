//! The importer against files an independent implementation wrote and read: the RFC 6030
//! figures and vendor-style files made with python-pskc (tests/data/pskc), each key's
//! secret and parameters as python-pskc read them.

use std::path::PathBuf;

use serde_json::Value;

use super::*;

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/pskc")
        .join(path)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn protection(expected: &Value) -> Protection {
    Protection {
        preshared_key: expected["key_hex"].as_str().map(unhex),
        password: expected["password"]
            .as_str()
            .map(|p| secrecy::SecretString::from(p.to_owned())),
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Every key python-pskc decrypted as TOTP or HOTP is read with the same secret and
/// parameters; every other one gets an outcome with a reason.
fn agrees_with_python_pskc(folder: &str) {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(data(&format!("{folder}/expected.json"))).unwrap(),
    )
    .unwrap();
    for (file, want) in expected.as_object().unwrap() {
        let Some(keys) = want["keys"].as_array() else {
            continue;
        };
        let xml = std::fs::read_to_string(data(&format!("{folder}/{file}"))).unwrap();
        let read = read(&xml, &protection(want), now());
        if file.starts_with("tampered") {
            assert!(
                matches!(read, Err(PskcError::WrongKey(_))),
                "{file}: {read:?}"
            );
            continue;
        }
        let Ok(packages) = read else {
            // Only files python-pskc could not open either (RSA, figure 8).
            assert!(
                keys.iter().all(|k| k["secret_hex"].is_null()),
                "{file}: {read:?}"
            );
            continue;
        };
        for key in keys {
            let name = key["serial"]
                .as_str()
                .or(key["id"].as_str())
                .unwrap_or_default();
            // By the key's id first: one device may hold several keys under one serial.
            let package = packages
                .iter()
                .find(|p| key["id"].is_string() && p.key_id.as_deref() == key["id"].as_str())
                .or_else(|| packages.iter().find(|p| p.serial.as_deref() == Some(name)))
                .unwrap_or_else(|| panic!("{file}: no package for {name}: {packages:?}"));
            let algorithm = key["algorithm"].as_str().unwrap_or_default();
            let otp = algorithm.ends_with("totp") || algorithm.ends_with("hotp");
            match &package.outcome {
                Outcome::Usable(k) => {
                    assert_eq!(
                        Some(hex(&k.seed).as_str()),
                        key["secret_hex"].as_str(),
                        "{file} {name}"
                    );
                    assert_eq!(
                        i64::from(k.params.digits),
                        key["digits"].as_i64().unwrap_or(6),
                        "{file} {name}"
                    );
                    if let Some(interval) = key["time_interval"].as_i64() {
                        assert_eq!(k.params.period as i64, interval, "{file} {name}");
                    }
                    if k.kind == OtpKind::Hotp {
                        assert_eq!(
                            k.counter as i64,
                            key["counter"].as_i64().unwrap_or(0),
                            "{file} {name}"
                        );
                    }
                    assert_eq!(
                        k.time_drift,
                        key["time_drift"].as_i64().unwrap_or(0),
                        "{file} {name}"
                    );
                }
                Outcome::Skipped(why) | Outcome::Refused(why) => assert!(
                    !otp || key["secret_hex"].is_null() || !why.is_empty(),
                    "{file} {name}: {why}"
                ),
            }
            // RFC 4226 asks at least 128 bits: figure 2's four-byte secret is refused.
            let long_enough = key["secret_hex"].as_str().is_some_and(|h| h.len() >= 32);
            if otp && long_enough && key["expiry_date"].is_null() {
                let usage = key["key_usage"].as_array();
                if usage.is_none_or(|u| u.is_empty() || u.iter().any(|x| x == "OTP")) {
                    assert!(
                        matches!(package.outcome, Outcome::Usable(_)),
                        "{file} {name}: {:?}",
                        package.outcome
                    );
                }
            }
        }
    }
}

#[test]
fn the_rfc_6030_figures_read_as_python_pskc_reads_them() {
    agrees_with_python_pskc("rfc6030");
}

#[test]
fn vendor_files_written_by_python_pskc_read_as_it_reads_them() {
    agrees_with_python_pskc("vendor");
}

fn vendor(file: &str) -> (String, Value) {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(data("vendor/expected.json")).unwrap())
            .unwrap();
    (
        std::fs::read_to_string(data(&format!("vendor/{file}"))).unwrap(),
        expected[file].clone(),
    )
}

#[test]
fn a_wrong_or_missing_key_refuses_the_whole_file() {
    let (xml, want) = vendor("aes128_psk_hmac_sha1.pskcxml");
    let missing = read(&xml, &Protection::default(), now());
    assert!(
        matches!(missing, Err(PskcError::KeyRequired(_))),
        "{missing:?}"
    );
    let wrong = Protection {
        preshared_key: Some(vec![7; 16]),
        password: None,
    };
    assert!(matches!(
        read(&xml, &wrong, now()),
        Err(PskcError::WrongKey(_))
    ));
    assert!(read(&xml, &protection(&want), now()).is_ok());
    let (xml, want) = vendor("pbkdf2_aes128.pskcxml");
    let wrong = Protection {
        preshared_key: None,
        password: Some(secrecy::SecretString::from("not the passphrase".to_owned())),
    };
    assert!(matches!(
        read(&xml, &wrong, now()),
        Err(PskcError::WrongKey(_))
    ));
    assert!(read(&xml, &protection(&want), now()).is_ok());
}

#[test]
fn keys_webfb_does_not_use_are_skipped_with_the_reason() {
    let (xml, _) = vendor("expired_and_ocra.pskcxml");
    let packages = read(&xml, &Protection::default(), now()).unwrap();
    let outcome = |serial: &str| {
        let p = packages
            .iter()
            .find(|p| p.serial.as_deref() == Some(serial))
            .unwrap();
        match &p.outcome {
            Outcome::Usable(_) => "usable".to_owned(),
            Outcome::Skipped(why) => format!("skipped: {why}"),
            Outcome::Refused(why) => format!("refused: {why}"),
        }
    };
    assert_eq!(outcome("EXP-0001"), "usable");
    assert!(
        outcome("EXP-0002").contains("expired"),
        "{}",
        outcome("EXP-0002")
    );
    assert!(
        outcome("EXP-0003").contains("OCRA"),
        "{}",
        outcome("EXP-0003")
    );
    assert!(outcome("EXP-0004").contains("not one webfb verifies"));
    assert!(
        outcome("EXP-0005").contains("key usage"),
        "{}",
        outcome("EXP-0005")
    );
    assert!(
        outcome("EXP-0006").starts_with("skipped"),
        "{}",
        outcome("EXP-0006")
    );
}

#[test]
fn a_dtd_is_refused_before_anything_is_read() {
    let xml = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">&e;</KeyContainer>"#;
    assert!(matches!(
        read(xml, &Protection::default(), now()),
        Err(PskcError::Xml(_))
    ));
}

#[test]
fn the_seed_never_prints() {
    let (xml, _) = vendor("mixed_totp_hotp.pskcxml");
    let packages = read(&xml, &Protection::default(), now()).unwrap();
    let printed = format!("{packages:?}");
    for p in &packages {
        if let Outcome::Usable(k) = &p.outcome {
            assert!(!printed.contains(&format!("{:?}", k.seed)));
            assert!(!printed.contains(&hex(&k.seed)));
        }
    }
}
