//! Sealing of token seeds at rest with AES-256-GCM.
//!
//! Each seed is encrypted under the keyring's current master key with a fresh random 96-bit
//! nonce, and with the token ID as associated data: a ciphertext copied onto another token's
//! row does not open. The stored form is `nonce (12 bytes) || ciphertext || tag (16 bytes)`,
//! next to the ID of the master key that sealed it, so keys can rotate: new seals use the
//! current key while rows sealed under a previous key still open.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretBox};

/// Length of the random nonce at the start of a sealed seed.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM authentication tag at the end of a sealed seed.
pub const TAG_LEN: usize = 16;
/// Length of a master key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// Why a seed could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The sealed row names a master key that is not in the keyring.
    #[error("no master key with id {0:?} is configured")]
    UnknownKey(String),
    /// The sealed seed is truncated, tampered with, or belongs to another token.
    #[error("the sealed token seed is corrupt or belongs to another token")]
    Corrupt,
    /// The operating system's random number generator failed.
    #[error("no random nonce could be drawn for sealing")]
    Random,
    /// AES-GCM refused to encrypt (only possible for absurdly long seeds).
    #[error("the token seed could not be encrypted")]
    Encrypt,
}

/// An AES-256 master key with the ID stored next to everything it seals.
///
/// The key bytes are zeroed when dropped and never printed: `Debug` shows only the ID.
pub struct MasterKey {
    id: String,
    key: SecretBox<[u8; KEY_LEN]>,
}

impl MasterKey {
    /// Wraps raw key bytes; the caller's copy should be zeroed by the caller if it has one.
    pub fn new(id: impl Into<String>, mut key: [u8; KEY_LEN]) -> Self {
        let secret = SecretBox::init_with_mut(|slot: &mut [u8; KEY_LEN]| *slot = key);
        // `key` is a by-value copy on this stack frame: wipe it.
        key.zeroize();
        MasterKey {
            id: id.into(),
            key: secret,
        }
    }
    /// The key's ID, stored with each sealed seed.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.key.expose_secret().into())
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A sealed seed as stored in a token's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// ID of the master key that sealed it.
    pub key_id: String,
    /// `nonce (12 bytes) || AES-GCM ciphertext || tag (16 bytes)`.
    pub ciphertext: Vec<u8>,
}

/// The current master key plus the previous ones that old rows may still name.
#[derive(Debug)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    /// A keyring with only `current`.
    pub fn new(current: MasterKey) -> Self {
        Keyring {
            current,
            previous: Vec::new(),
        }
    }

    /// Adds a previous key that is still accepted for opening but never used for sealing.
    ///
    /// When several keys share an ID the current key wins, then the earliest added.
    pub fn with_previous(mut self, k: MasterKey) -> Self {
        self.previous.push(k);
        self
    }

    /// The ID of the key new seals use; rows naming another key are due for re-sealing.
    pub fn current_key_id(&self) -> &str {
        self.current.id()
    }

    /// Encrypts `seed` under the current key, bound to `token_id`.
    ///
    /// # Errors
    ///
    /// [`SealError::Random`] if no nonce can be drawn, [`SealError::Encrypt`] if AES-GCM refuses.
    pub fn seal(&self, token_id: &str, seed: &[u8]) -> Result<Sealed, SealError> {
        let mut nonce = [0_u8; NONCE_LEN];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let encrypted = self
            .current
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: seed,
                    aad: token_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Encrypt)?;
        let mut ciphertext = Vec::with_capacity(NONCE_LEN + encrypted.len());
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&encrypted);
        Ok(Sealed {
            key_id: self.current.id().to_owned(),
            ciphertext,
        })
    }

    /// Decrypts a sealed seed with the key its row names, checking that it belongs to `token_id`.
    ///
    /// # Errors
    ///
    /// [`SealError::UnknownKey`] if the keyring lacks the named key, [`SealError::Corrupt`] if
    /// the ciphertext is too short, was altered, or was sealed for another token ID or key.
    pub fn open(&self, token_id: &str, sealed: &Sealed) -> Result<SecretBox<Vec<u8>>, SealError> {
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id() == sealed.key_id)
            .ok_or_else(|| SealError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.ciphertext.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Corrupt);
        }
        let (nonce, encrypted) = sealed.ciphertext.split_at(NONCE_LEN);
        let seed = key
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: encrypted,
                    aad: token_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt)?;
        Ok(SecretBox::new(Box::new(seed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &[u8] = b"12345678901234567890";

    fn key(id: &str, fill: u8) -> MasterKey {
        MasterKey::new(id, [fill; KEY_LEN])
    }

    #[test]
    fn sealed_seed_opens_to_the_same_bytes() {
        let ring = Keyring::new(key("k1", 7));
        let sealed = ring.seal("WFBS12345674", SEED).unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert_eq!(sealed.ciphertext.len(), NONCE_LEN + SEED.len() + TAG_LEN);
        let opened = ring.open("WFBS12345674", &sealed).unwrap();
        assert_eq!(opened.expose_secret().as_slice(), SEED);
    }

    #[test]
    fn empty_seed_round_trips() {
        let ring = Keyring::new(key("k1", 7));
        let sealed = ring.seal("WFBS12345674", b"").unwrap();
        let opened = ring.open("WFBS12345674", &sealed).unwrap();
        assert!(opened.expose_secret().is_empty());
    }

    #[test]
    fn seed_moved_to_another_token_does_not_open() {
        let ring = Keyring::new(key("k1", 7));
        let sealed = ring.seal("WFBS12345674", SEED).unwrap();
        assert_eq!(
            ring.open("VSST12345678", &sealed).err(),
            Some(SealError::Corrupt)
        );
    }

    #[test]
    fn tampered_ciphertext_does_not_open() {
        let ring = Keyring::new(key("k1", 7));
        let sealed = ring.seal("WFBS12345674", SEED).unwrap();
        for i in 0..sealed.ciphertext.len() {
            let mut bad = sealed.clone();
            bad.ciphertext[i] ^= 0x01;
            assert_eq!(
                ring.open("WFBS12345674", &bad).err(),
                Some(SealError::Corrupt),
                "flipped byte {i}"
            );
        }
        for len in [
            0,
            NONCE_LEN,
            NONCE_LEN + TAG_LEN - 1,
            sealed.ciphertext.len() - 1,
        ] {
            let mut short = sealed.clone();
            short.ciphertext.truncate(len);
            assert_eq!(
                ring.open("WFBS12345674", &short).err(),
                Some(SealError::Corrupt)
            );
        }
    }

    #[test]
    fn unknown_key_id_does_not_open() {
        let ring = Keyring::new(key("k1", 7));
        let mut sealed = ring.seal("WFBS12345674", SEED).unwrap();
        sealed.key_id = "k9".to_owned();
        assert_eq!(
            ring.open("WFBS12345674", &sealed).err(),
            Some(SealError::UnknownKey("k9".to_owned()))
        );
    }

    #[test]
    fn wrong_key_under_the_right_id_does_not_open() {
        let sealed = Keyring::new(key("k1", 7))
            .seal("WFBS12345674", SEED)
            .unwrap();
        let impostor = Keyring::new(key("k1", 8));
        assert_eq!(
            impostor.open("WFBS12345674", &sealed).err(),
            Some(SealError::Corrupt)
        );
    }

    #[test]
    fn rotated_keyring_opens_old_seals_and_seals_with_the_new_key() {
        let old_ring = Keyring::new(key("2024", 1));
        let old_sealed = old_ring.seal("WFBS12345674", SEED).unwrap();

        let ring = Keyring::new(key("2025", 2)).with_previous(key("2024", 1));
        assert_eq!(ring.current_key_id(), "2025");
        let opened = ring.open("WFBS12345674", &old_sealed).unwrap();
        assert_eq!(opened.expose_secret().as_slice(), SEED);

        let resealed = ring.seal("WFBS12345674", opened.expose_secret()).unwrap();
        assert_eq!(resealed.key_id, "2025");
        assert!(old_ring.open("WFBS12345674", &resealed).is_err());
    }

    #[test]
    fn ciphertext_does_not_contain_the_seed() {
        let ring = Keyring::new(key("k1", 7));
        let sealed = ring.seal("WFBS12345674", SEED).unwrap();
        assert!(
            !sealed
                .ciphertext
                .windows(4)
                .any(|w| SEED.windows(4).any(|s| s == w))
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let ring = Keyring::new(key("k1", 7));
        let a = ring.seal("WFBS12345674", SEED).unwrap();
        let b = ring.seal("WFBS12345674", SEED).unwrap();
        assert_ne!(a.ciphertext[..NONCE_LEN], b.ciphertext[..NONCE_LEN]);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn debug_shows_key_ids_but_never_key_bytes() {
        let ring = Keyring::new(key("current", 0xAB)).with_previous(key("old", 0xCD));
        let shown = format!("{ring:?}");
        assert!(shown.contains("current") && shown.contains("old"));
        assert!(!shown.contains("171") && !shown.contains("205"));
        assert!(!shown.contains("key:"));
    }
}
