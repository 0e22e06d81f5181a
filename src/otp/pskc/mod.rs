//! RFC 6030 (PSKC) import of vendor tokens: serial number, TOTP parameters and the seed.
//! Only plain-value seeds are read; a file with encrypted keys is refused whole, as is a
//! file with any key that cannot be used.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::totp::{Algorithm, TotpParams};

const TOTP: &str = "urn:ietf:params:xml:ns:keyprov:pskc:totp";

/// One token read from a PSKC file.
pub struct ImportedKey {
    pub serial: String,
    pub params: TotpParams,
    pub seed: Vec<u8>,
}

impl std::fmt::Debug for ImportedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedKey")
            .field("serial", &self.serial)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PskcError {
    #[error("the file is not well-formed XML: {0}")]
    Xml(String),
    #[error("the file holds no KeyPackage")]
    Empty,
    #[error("key package {0}: {1}")]
    Key(usize, String),
}

fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text<'a>(node: Option<roxmltree::Node<'a, 'a>>) -> Option<&'a str> {
    node.and_then(|n| n.text()).map(str::trim)
}

/// A PSKC document is a few elements deep; a file nested thousands deep is an attack on
/// the parser's stack, refused before any parsing.
const MAX_DEPTH: usize = 32;

fn check_depth(xml: &str) -> Result<(), PskcError> {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let bytes = xml.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b != b'<' {
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b'?' | b'!') => {}
            Some(_) => {
                // A self-closing element opens nothing.
                let end = xml[i..].find('>').map_or(bytes.len(), |e| i + e);
                if !xml[i..end].ends_with('/') {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
            }
            None => {}
        }
        if deepest > MAX_DEPTH {
            return Err(PskcError::Xml(format!(
                "elements are nested more than {MAX_DEPTH} deep"
            )));
        }
    }
    Ok(())
}

/// Reads every key of a PSKC document, or explains the first that cannot be imported.
pub fn parse(xml: &str) -> Result<Vec<ImportedKey>, PskcError> {
    check_depth(xml)?;
    let doc = roxmltree::Document::parse(xml).map_err(|e| PskcError::Xml(e.to_string()))?;
    let packages: Vec<_> = doc
        .root_element()
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "KeyPackage")
        .collect();
    if packages.is_empty() {
        return Err(PskcError::Empty);
    }
    packages
        .into_iter()
        .enumerate()
        .map(|(i, package)| key(i + 1, package))
        .collect()
}

fn key(n: usize, package: roxmltree::Node) -> Result<ImportedKey, PskcError> {
    let fail = |why: &str| PskcError::Key(n, why.to_owned());
    let serial = text(child(package, "DeviceInfo").and_then(|d| child(d, "SerialNo")))
        .ok_or_else(|| fail("DeviceInfo/SerialNo is missing"))?;
    let key = child(package, "Key").ok_or_else(|| fail("Key is missing"))?;
    if key.attribute("Algorithm") != Some(TOTP) {
        return Err(fail(
            "only TOTP keys (urn:ietf:params:xml:ns:keyprov:pskc:totp) are imported",
        ));
    }
    let parameters = child(key, "AlgorithmParameters");
    let digits = match parameters.and_then(|p| child(p, "ResponseFormat")) {
        Some(format) => {
            if format.attribute("Encoding").is_some_and(|e| e != "DECIMAL") {
                return Err(fail("ResponseFormat must be DECIMAL"));
            }
            format
                .attribute("Length")
                .and_then(|l| l.parse().ok())
                .ok_or_else(|| fail("ResponseFormat/@Length is not a number"))?
        }
        None => 6,
    };
    let algorithm = match text(parameters.and_then(|p| child(p, "Suite"))) {
        None | Some("HMAC-SHA1") => Algorithm::Sha1,
        Some("HMAC-SHA256") => Algorithm::Sha256,
        Some("HMAC-SHA512") => Algorithm::Sha512,
        Some(_) => return Err(fail("Suite must be HMAC-SHA1, HMAC-SHA256 or HMAC-SHA512")),
    };
    let data = child(key, "Data").ok_or_else(|| fail("Data is missing"))?;
    let secret = child(data, "Secret").ok_or_else(|| fail("Data/Secret is missing"))?;
    if child(secret, "EncryptedValue").is_some() {
        return Err(fail(
            "encrypted secrets are not supported: export with plain values over a protected channel",
        ));
    }
    let seed = text(child(secret, "PlainValue"))
        .and_then(|v| B64.decode(v).ok())
        .filter(|s| s.len() >= 16)
        .ok_or_else(|| fail("Secret/PlainValue must be base64 of at least 16 bytes"))?;
    let period = match text(child(data, "TimeInterval").and_then(|t| child(t, "PlainValue"))) {
        Some(p) => p
            .parse()
            .map_err(|_| fail("TimeInterval is not a number"))?,
        None => 30,
    };
    let params = TotpParams::new(algorithm, digits, period).map_err(|e| fail(&e.to_string()))?;
    Ok(ImportedKey {
        serial: serial.to_owned(),
        params,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
  <KeyPackage>
    <DeviceInfo><Manufacturer>Vendor</Manufacturer><SerialNo>VSST12345678</SerialNo></DeviceInfo>
    <Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
      <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data>
        <Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>
        <TimeInterval><PlainValue>30</PlainValue></TimeInterval>
      </Data>
    </Key>
  </KeyPackage>
</KeyContainer>"#;

    #[test]
    fn a_plain_totp_key_package_is_read() {
        let keys = parse(SAMPLE).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].serial, "VSST12345678");
        assert_eq!(keys[0].params, TotpParams::DEFAULT);
        assert_eq!(keys[0].seed, b"12345678901234567890");
        assert!(
            !format!("{:?}", keys[0]).contains("1234567890123"),
            "the seed never prints"
        );
    }

    #[test]
    fn unusable_files_are_refused_with_a_reason() {
        assert!(matches!(parse("not xml"), Err(PskcError::Xml(_))));
        assert_eq!(parse("<KeyContainer/>").err(), Some(PskcError::Empty));
        let hotp = SAMPLE.replace("pskc:totp", "pskc:hotp");
        assert!(matches!(parse(&hotp), Err(PskcError::Key(1, _))));
        let encrypted = SAMPLE
            .replace("<PlainValue>MTIz", "<EncryptedValue>MTIz")
            .replace(
                "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue>",
                "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</EncryptedValue>",
            );
        assert!(
            matches!(parse(&encrypted), Err(PskcError::Key(1, why)) if why.contains("encrypted"))
        );
    }
}
