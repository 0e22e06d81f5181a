//! PSKC's protection of values (RFC 6030 §6): AES-CBC with the IV before the ciphertext,
//! a MAC over IV and ciphertext with a MAC key of its own (itself encrypted), and keys
//! given in advance or derived from a password with PBKDF2.

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

/// What the operator gives at import to open encrypted values; never logged or stored.
#[derive(Default)]
pub struct Protection {
    /// A pre-shared key (§6.1), as bytes.
    pub preshared_key: Option<Vec<u8>>,
    /// The password of a PBKDF2-derived key (§6.2).
    pub password: Option<secrecy::SecretString>,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protection")
            .field("preshared_key", &self.preshared_key.is_some())
            .field("password", &self.password.is_some())
            .finish()
    }
}

/// `xmlenc` block ciphers PSKC uses: AES in CBC mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    Aes128,
    Aes192,
    Aes256,
}

impl Cipher {
    pub fn from_uri(uri: &str) -> Option<Cipher> {
        match uri.rsplit('#').next()? {
            "aes128-cbc" => Some(Cipher::Aes128),
            "aes192-cbc" => Some(Cipher::Aes192),
            "aes256-cbc" => Some(Cipher::Aes256),
            _ => None,
        }
    }

    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128 => 16,
            Cipher::Aes192 => 24,
            Cipher::Aes256 => 32,
        }
    }
}

/// Why a value does not open: the key does not fit, or the bytes are not a value this key
/// encrypted (what a wrong key gives, through the padding).
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    WrongKeyLength,
    TooShort,
    BadPadding,
}

/// `CipherValue` = IV ‖ ciphertext, PKCS#7-padded.
pub fn decrypt(cipher: Cipher, key: &[u8], value: &[u8]) -> Result<Vec<u8>, Opened> {
    if key.len() != cipher.key_len() {
        return Err(Opened::WrongKeyLength);
    }
    if value.len() < 32 || !value.len().is_multiple_of(16) {
        return Err(Opened::TooShort);
    }
    let (iv, data) = value.split_at(16);
    let mut buf = data.to_vec();
    let plain = match cipher {
        Cipher::Aes128 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| Opened::WrongKeyLength)?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map(<[u8]>::len),
        Cipher::Aes192 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(|_| Opened::WrongKeyLength)?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map(<[u8]>::len),
        Cipher::Aes256 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(|_| Opened::WrongKeyLength)?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map(<[u8]>::len),
    }
    .map_err(|_| Opened::BadPadding)?;
    buf.truncate(plain);
    Ok(buf)
}

/// The `xmldsig` HMACs a `MACMethod` may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacAlgorithm {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl MacAlgorithm {
    pub fn from_uri(uri: &str) -> Option<MacAlgorithm> {
        match uri.rsplit('#').next()? {
            "hmac-sha1" => Some(MacAlgorithm::Sha1),
            "hmac-sha224" => Some(MacAlgorithm::Sha224),
            "hmac-sha256" => Some(MacAlgorithm::Sha256),
            "hmac-sha384" => Some(MacAlgorithm::Sha384),
            "hmac-sha512" => Some(MacAlgorithm::Sha512),
            _ => None,
        }
    }

    /// Whether `mac` is this algorithm's MAC of `data` under `key`, in constant time.
    pub fn verifies(self, key: &[u8], data: &[u8], mac: &[u8]) -> bool {
        fn check<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8], mac: &[u8]) -> bool {
            let Ok(mut m) = <M as Mac>::new_from_slice(key) else {
                return false;
            };
            m.update(data);
            let expected = m.finalize().into_bytes();
            expected.len() == mac.len() && bool::from(expected.as_slice().ct_eq(mac))
        }
        match self {
            MacAlgorithm::Sha1 => check::<Hmac<sha1::Sha1>>(key, data, mac),
            MacAlgorithm::Sha224 => check::<Hmac<sha2::Sha224>>(key, data, mac),
            MacAlgorithm::Sha256 => check::<Hmac<sha2::Sha256>>(key, data, mac),
            MacAlgorithm::Sha384 => check::<Hmac<sha2::Sha384>>(key, data, mac),
            MacAlgorithm::Sha512 => check::<Hmac<sha2::Sha512>>(key, data, mac),
        }
    }
}

/// PBKDF2 (PKCS #5 v2.0) with the PRF the file names; HMAC-SHA1 when it names none.
pub fn pbkdf2(prf: MacAlgorithm, password: &[u8], salt: &[u8], rounds: u32, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    match prf {
        MacAlgorithm::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, rounds, &mut out),
        MacAlgorithm::Sha224 => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha224>(password, salt, rounds, &mut out)
        }
        MacAlgorithm::Sha256 => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, rounds, &mut out)
        }
        MacAlgorithm::Sha384 => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha384>(password, salt, rounds, &mut out)
        }
        MacAlgorithm::Sha512 => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, rounds, &mut out)
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_hmac_sha1_matches_rfc_6070() {
        // RFC 6070, test vector 2.
        let key = pbkdf2(MacAlgorithm::Sha1, b"password", b"salt", 2, 20);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
    }

    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        // RFC 2202, test case 2.
        let mac = [
            0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
            0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79,
        ];
        assert!(MacAlgorithm::Sha1.verifies(b"Jefe", b"what do ya want for nothing?", &mac));
        assert!(!MacAlgorithm::Sha1.verifies(b"Jeff", b"what do ya want for nothing?", &mac));
    }

    #[test]
    fn a_wrong_key_is_told_by_the_padding_or_the_length() {
        assert_eq!(
            decrypt(Cipher::Aes128, &[0; 15], &[0; 32]),
            Err(Opened::WrongKeyLength)
        );
        assert_eq!(
            decrypt(Cipher::Aes128, &[0; 16], &[0; 20]),
            Err(Opened::TooShort)
        );
    }
}
