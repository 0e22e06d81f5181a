//! RFC 6030 (PSKC) import of vendor tokens, as vendors ship them: plain or encrypted
//! values (AES-CBC with a pre-shared key or a PBKDF2 password, each value's MAC checked),
//! TOTP and HOTP keys with their digits, interval, drift and counter, serials or key ids,
//! and the key's policy (dates, usage). Every key package gets an outcome of its own; a
//! key or MAC that does not fit refuses the whole file.

mod crypto;
#[cfg(test)]
mod tests;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};

pub use crypto::Protection;
use crypto::{Cipher, MacAlgorithm};

use super::totp::{Algorithm, TotpParams};

const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";

/// How a token's codes move: with time (RFC 6238) or with a counter (RFC 4226).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtpKind {
    Totp,
    Hotp,
}

impl OtpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpKind::Totp => "totp",
            OtpKind::Hotp => "hotp",
        }
    }

    pub fn parse(s: &str) -> Option<OtpKind> {
        match s {
            "totp" => Some(OtpKind::Totp),
            "hotp" => Some(OtpKind::Hotp),
            _ => None,
        }
    }
}

/// One usable key read from a PSKC file.
pub struct ImportedKey {
    pub serial: String,
    pub kind: OtpKind,
    /// Digits and hash; `period` is the TOTP time interval (unused for HOTP).
    pub params: TotpParams,
    pub seed: Vec<u8>,
    /// HOTP: the next counter value the token shows.
    pub counter: u64,
    /// TOTP: how many intervals the token's clock is ahead (negative: behind).
    pub time_drift: i64,
}

impl std::fmt::Debug for ImportedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedKey")
            .field("serial", &self.serial)
            .field("kind", &self.kind)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// What becomes of one key of the file.
#[derive(Debug)]
pub enum Outcome {
    Usable(ImportedKey),
    /// A key webfb does not use: expired, not an OTP key, an algorithm it does not verify.
    Skipped(String),
    /// A key package that is not right.
    Refused(String),
}

/// One key of the file, where it stands and what becomes of it.
#[derive(Debug)]
pub struct Package {
    /// 1-based, in the file's order.
    pub index: usize,
    pub key_id: Option<String>,
    pub serial: Option<String>,
    pub outcome: Outcome,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PskcError {
    #[error("the file is not well-formed XML: {0}")]
    Xml(String),
    #[error("not a PSKC 1.0 KeyContainer: {0}")]
    NotPskc(String),
    #[error("the file holds no KeyPackage")]
    Empty,
    /// Encrypted values and no key or password for them.
    #[error("{0}")]
    KeyRequired(String),
    /// A value did not open or its MAC does not match: wrong key, or a changed file.
    #[error("{0}")]
    WrongKey(String),
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
    let bytes = xml.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    // One pass: each tag is read to its `>` and the scan goes on from there.
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let end = bytes[i..]
            .iter()
            .position(|b| *b == b'>')
            .map_or(bytes.len(), |e| i + e);
        match bytes.get(i + 1) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b'?' | b'!') | None => {}
            // A self-closing element opens nothing.
            Some(_) if bytes[..end].ends_with(b"/") => {}
            Some(_) => depth += 1,
        }
        if depth > MAX_DEPTH {
            return Err(PskcError::Xml(format!(
                "elements are nested more than {MAX_DEPTH} deep"
            )));
        }
        i = end + 1;
    }
    Ok(())
}

/// The keys that open the file's encrypted values and check their MACs.
#[derive(Default)]
struct FileKeys {
    encryption: Option<Vec<u8>>,
    mac: Option<(MacAlgorithm, Vec<u8>)>,
}

/// A value that does not open: whole-file trouble, or this value's kind is not read.
enum ValueError {
    File(PskcError),
    Unsupported(String),
}

impl From<PskcError> for ValueError {
    fn from(e: PskcError) -> Self {
        ValueError::File(e)
    }
}

/// Reads every key of a PSKC document: an outcome for each, or the reason the whole file
/// cannot be read (not PSKC, encrypted without a key, a key or MAC that does not fit).
pub fn read(
    xml: &str,
    protection: &Protection,
    now: DateTime<Utc>,
) -> Result<Vec<Package>, PskcError> {
    check_depth(xml)?;
    // roxmltree refuses a DTD, and so every entity it could declare.
    let doc = roxmltree::Document::parse(xml).map_err(|e| PskcError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "KeyContainer" || root.tag_name().namespace() != Some(PSKC_NS) {
        return Err(PskcError::NotPskc(format!(
            "the root element must be KeyContainer in the namespace {PSKC_NS}"
        )));
    }
    match root.attribute("Version") {
        Some("1.0") => {}
        other => {
            return Err(PskcError::NotPskc(format!(
                "Version {other:?}: only PSKC 1.0 is read"
            )));
        }
    }
    let keys = file_keys(root, protection)?;
    let mut packages = Vec::new();
    for package in root
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "KeyPackage")
    {
        let serial = text(child(package, "DeviceInfo").and_then(|d| child(d, "SerialNo")));
        let in_package: Vec<_> = package
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "Key")
            .collect();
        if in_package.is_empty() {
            packages.push(Package {
                index: packages.len() + 1,
                key_id: None,
                serial: serial.map(str::to_owned),
                outcome: Outcome::Refused("the key package holds no Key".into()),
            });
        }
        let several = in_package.len() > 1;
        for key in in_package {
            let key_id = key.attribute("Id").map(str::to_owned);
            // A device with several keys names each by its serial and the key's id.
            let serial = match (serial, &key_id) {
                (Some(s), Some(id)) if several => Some(format!("{s}-{id}")),
                (Some(s), _) => Some(s.to_owned()),
                (None, id) => id.clone(),
            };
            let outcome = match &serial {
                Some(serial) => key_outcome(key, serial, &keys, now)?,
                None => {
                    Outcome::Refused("neither DeviceInfo/SerialNo nor Key/@Id names the key".into())
                }
            };
            packages.push(Package {
                index: packages.len() + 1,
                key_id,
                serial,
                outcome,
            });
        }
    }
    if packages.is_empty() {
        return Err(PskcError::Empty);
    }
    Ok(packages)
}

fn b64(node: Option<roxmltree::Node>) -> Option<Vec<u8>> {
    text(node).and_then(|v| {
        let compact: String = v.split_whitespace().collect();
        B64.decode(compact).ok()
    })
}

/// The file's encryption key (§6.1 pre-shared, §6.2 PBKDF2) and MAC key.
fn file_keys(root: roxmltree::Node, protection: &Protection) -> Result<FileKeys, PskcError> {
    let encryption = match child(root, "EncryptionKey") {
        None => None,
        Some(declared) => Some(encryption_key(declared, protection)?),
    };
    let mac = match child(root, "MACMethod") {
        None => None,
        Some(method) => {
            let uri = method.attribute("Algorithm").unwrap_or_default();
            let algorithm = MacAlgorithm::from_uri(uri).ok_or_else(|| {
                PskcError::NotPskc(format!("MACMethod {uri:?} is not an HMAC webfb checks"))
            })?;
            let key = match child(method, "MACKey") {
                Some(sealed) => {
                    let key = encryption.as_deref().ok_or_else(key_required)?;
                    match decrypt(sealed, key) {
                        Ok(k) => k,
                        Err(ValueError::File(e)) => return Err(e),
                        Err(ValueError::Unsupported(why)) => return Err(PskcError::NotPskc(why)),
                    }
                }
                // Files before RFC 6030 MAC with the encryption key itself.
                None => encryption.clone().ok_or_else(key_required)?,
            };
            Some((algorithm, key))
        }
    };
    Ok(FileKeys { encryption, mac })
}

fn key_required() -> PskcError {
    PskcError::KeyRequired(
        "the file's values are encrypted: send its pre-shared key (X-PSKC-Key, hex) or its password (X-PSKC-Password)".into(),
    )
}

fn encryption_key(
    declared: roxmltree::Node,
    protection: &Protection,
) -> Result<Vec<u8>, PskcError> {
    let Some(derived) = child(declared, "DerivedKey") else {
        return protection.preshared_key.clone().ok_or_else(|| {
            PskcError::KeyRequired(
                "the file is encrypted with a pre-shared key: send it as X-PSKC-Key (hex)".into(),
            )
        });
    };
    let params = derived
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "PBKDF2-params")
        .ok_or_else(|| {
            PskcError::NotPskc("the derived key is not PBKDF2: it cannot be derived".into())
        })?;
    let password = protection.password.as_ref().ok_or_else(|| {
        PskcError::KeyRequired(
            "the file's key is derived from a password: send it as X-PSKC-Password".into(),
        )
    })?;
    let salt = b64(child(params, "Salt").and_then(|s| child(s, "Specified")))
        .ok_or_else(|| PskcError::NotPskc("PBKDF2 Salt/Specified is missing".into()))?;
    let number = |name: &str| text(child(params, name)).and_then(|v| v.parse::<u32>().ok());
    let rounds = number("IterationCount")
        // A vendor uses thousands; a file asking millions would hold a thread for seconds.
        .filter(|n| (1..=1_000_000).contains(n))
        .ok_or_else(|| {
            PskcError::NotPskc("PBKDF2 IterationCount is missing or above 1,000,000".into())
        })?;
    let length = number("KeyLength")
        .filter(|n| [16, 24, 32].contains(n))
        .ok_or_else(|| PskcError::NotPskc("PBKDF2 KeyLength must be 16, 24 or 32".into()))?;
    let prf = match child(params, "PRF").and_then(|p| p.attribute("Algorithm")) {
        None => MacAlgorithm::Sha1,
        Some(uri) => MacAlgorithm::from_uri(uri)
            .ok_or_else(|| PskcError::NotPskc(format!("PBKDF2 PRF {uri:?} is not supported")))?,
    };
    use secrecy::ExposeSecret;
    Ok(crypto::pbkdf2(
        prf,
        password.expose_secret().as_bytes(),
        &salt,
        rounds,
        length as usize,
    ))
}

/// Opens an `EncryptedValue` (or a `MACKey`) with `key`.
fn decrypt(sealed: roxmltree::Node, key: &[u8]) -> Result<Vec<u8>, ValueError> {
    let uri = child(sealed, "EncryptionMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or_default();
    let cipher = Cipher::from_uri(uri).ok_or_else(|| {
        ValueError::Unsupported(format!("encryption {uri:?} is not read: AES-CBC only"))
    })?;
    let value = b64(child(sealed, "CipherData").and_then(|d| child(d, "CipherValue")))
        .ok_or_else(|| ValueError::Unsupported("CipherData/CipherValue is not base64".into()))?;
    crypto::decrypt(cipher, key, &value).map_err(|why| {
        ValueError::File(PskcError::WrongKey(format!(
            "an encrypted value does not open with the key given ({why:?}): the key or password is not the file's"
        )))
    })
}

/// A `Data` element's value: plain, or encrypted and checked against its `ValueMAC`.
fn value(
    node: roxmltree::Node,
    keys: &FileKeys,
    what: &str,
) -> Result<Option<Vec<u8>>, ValueError> {
    if let Some(plain) = child(node, "PlainValue") {
        return Ok(Some(
            text(Some(plain)).unwrap_or_default().as_bytes().to_vec(),
        ));
    }
    let Some(sealed) = child(node, "EncryptedValue") else {
        return Ok(None);
    };
    let key = keys.encryption.as_deref().ok_or_else(key_required)?;
    let mac = b64(child(node, "ValueMAC")).ok_or_else(|| {
        ValueError::Unsupported(format!(
            "the encrypted {what} has no ValueMAC: it cannot be checked"
        ))
    })?;
    let (algorithm, mac_key) = keys.mac.as_ref().ok_or_else(|| {
        ValueError::File(PskcError::NotPskc(
            "a ValueMAC without a MACMethod cannot be checked".into(),
        ))
    })?;
    let cipher_value = b64(child(sealed, "CipherData").and_then(|d| child(d, "CipherValue")))
        .ok_or_else(|| ValueError::Unsupported("CipherData/CipherValue is not base64".into()))?;
    if !algorithm.verifies(mac_key, &cipher_value, &mac) {
        return Err(ValueError::File(PskcError::WrongKey(format!(
            "the MAC of an encrypted {what} does not match: the file was changed, or the key is not the file's"
        ))));
    }
    decrypt(sealed, key).map(Some)
}

/// Decodes a `Data` element's value: base64 for the secret, a number for the rest (text
/// when plain, big-endian bytes when it was encrypted).
fn number(data: roxmltree::Node, name: &str, keys: &FileKeys) -> Result<Option<i64>, ValueError> {
    let Some(node) = child(data, name) else {
        return Ok(None);
    };
    let encrypted = child(node, "EncryptedValue").is_some();
    let Some(bytes) = value(node, keys, name)? else {
        return Ok(None);
    };
    let parsed = if encrypted {
        (bytes.len() <= 8).then(|| bytes.iter().fold(0i64, |n, b| (n << 8) | i64::from(*b)))
    } else {
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.trim().parse().ok())
    };
    parsed
        .map(Some)
        .ok_or_else(|| ValueError::Unsupported(format!("{name} is not a number")))
}

/// The prefixes under which RFC 6030 and its drafts name their algorithms.
const ALGORITHM_PREFIXES: [&str; 3] = [
    "urn:ietf:params:xml:ns:keyprov:pskc:",
    "urn:ietf:params:xml:ns:keyprov:pskc#",
    "http://www.ietf.org/keyprov/pskc#",
];

fn key_outcome(
    key: roxmltree::Node,
    serial: &str,
    keys: &FileKeys,
    now: DateTime<Utc>,
) -> Result<Outcome, PskcError> {
    match read_key(key, serial, keys, now) {
        Ok(outcome) => Ok(outcome),
        Err(ValueError::File(e)) => Err(e),
        Err(ValueError::Unsupported(why)) => Ok(Outcome::Refused(why)),
    }
}

fn read_key(
    key: roxmltree::Node,
    serial: &str,
    keys: &FileKeys,
    now: DateTime<Utc>,
) -> Result<Outcome, ValueError> {
    let uri = key.attribute("Algorithm").unwrap_or_default();
    let name = ALGORITHM_PREFIXES
        .iter()
        .find_map(|p| uri.strip_prefix(p))
        .unwrap_or(uri);
    let kind = match name.to_ascii_lowercase().as_str() {
        "totp" => OtpKind::Totp,
        "hotp" => OtpKind::Hotp,
        n if n.starts_with("ocra") => {
            return Ok(Outcome::Skipped(format!(
                "OCRA (challenge-response) keys are not verified by webfb: {uri}"
            )));
        }
        _ => {
            return Ok(Outcome::Skipped(format!(
                "algorithm {uri:?} is not one webfb verifies (TOTP, HOTP)"
            )));
        }
    };
    if let Some(policy) = child(key, "Policy") {
        let usage: Vec<&str> = policy
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "KeyUsage")
            .filter_map(|c| text(Some(c)))
            .collect();
        if !usage.is_empty() && !usage.contains(&"OTP") {
            return Ok(Outcome::Skipped(format!(
                "key usage {}: not a one-time password key",
                usage.join(", ")
            )));
        }
        let date = |name: &str| {
            text(child(policy, name)).map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|_| ValueError::Unsupported(format!("Policy/{name} is not a date")))
            })
        };
        if let Some(expiry) = date("ExpiryDate").transpose()?
            && expiry <= now
        {
            return Ok(Outcome::Skipped(format!(
                "expired on {}",
                expiry.to_rfc3339()
            )));
        }
        if let Some(start) = date("StartDate").transpose()?
            && start > now
        {
            return Ok(Outcome::Skipped(format!(
                "valid only from {}",
                start.to_rfc3339()
            )));
        }
    }
    let parameters = child(key, "AlgorithmParameters");
    let digits = match parameters.and_then(|p| child(p, "ResponseFormat")) {
        Some(format) => {
            if format.attribute("Encoding").is_some_and(|e| e != "DECIMAL") {
                return Ok(Outcome::Refused("ResponseFormat must be DECIMAL".into()));
            }
            match format.attribute("Length").and_then(|l| l.parse().ok()) {
                Some(n) => n,
                None => {
                    return Ok(Outcome::Refused(
                        "ResponseFormat/@Length is not a number".into(),
                    ));
                }
            }
        }
        None => 6,
    };
    let algorithm = match text(parameters.and_then(|p| child(p, "Suite"))) {
        None | Some("HMAC-SHA1") => Algorithm::Sha1,
        Some("HMAC-SHA256") => Algorithm::Sha256,
        Some("HMAC-SHA512") => Algorithm::Sha512,
        Some(other) => return Ok(Outcome::Refused(format!("Suite {other:?} is not read"))),
    };
    let Some(data) = child(key, "Data") else {
        return Ok(Outcome::Refused("Data is missing".into()));
    };
    let Some(secret) = child(data, "Secret") else {
        return Ok(Outcome::Refused("Data/Secret is missing".into()));
    };
    let encrypted = child(secret, "EncryptedValue").is_some();
    let seed = match value(secret, keys, "Secret")? {
        Some(bytes) if encrypted => Some(bytes),
        Some(text) => std::str::from_utf8(&text)
            .ok()
            .and_then(|t| B64.decode(t.split_whitespace().collect::<String>()).ok()),
        None => None,
    };
    let Some(seed) = seed.filter(|s| s.len() >= 16) else {
        return Ok(Outcome::Refused(
            "the secret must be at least 16 bytes (RFC 4226: 128 bits)".into(),
        ));
    };
    let period = number(data, "TimeInterval", keys)?.unwrap_or(30);
    let time_drift = number(data, "TimeDrift", keys)?.unwrap_or(0);
    let counter = number(data, "Counter", keys)?.unwrap_or(0);
    if !(1..=600).contains(&period)
        || !(0..1 << 48).contains(&counter)
        || time_drift.abs() > 100_000
    {
        return Ok(Outcome::Refused(
            "TimeInterval, Counter or TimeDrift is out of range".into(),
        ));
    }
    let params = match TotpParams::new(algorithm, digits, period as u64) {
        Ok(p) => p,
        Err(e) => return Ok(Outcome::Refused(e.to_string())),
    };
    Ok(Outcome::Usable(ImportedKey {
        serial: serial.to_owned(),
        kind,
        params,
        seed,
        counter: counter as u64,
        time_drift: if kind == OtpKind::Totp { time_drift } else { 0 },
    }))
}
