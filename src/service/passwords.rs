//! Argon2id hashing of every password the service keeps: login, approval and transfer
//! confirmation passwords of people, and operators' passwords.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::Argon2Params;
use crate::error::AppError;

pub struct Passwords {
    argon2: Argon2<'static>,
    /// Verified against when a login ID is unknown, so that an unknown ID costs the same
    /// time as a wrong password and cannot be told apart.
    dummy_hash: String,
}

impl Passwords {
    pub fn new(p: Argon2Params) -> Result<Passwords, AppError> {
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .map_err(|e| AppError::Internal(format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut passwords = Passwords {
            argon2,
            dummy_hash: String::new(),
        };
        passwords.dummy_hash = passwords.hash("dummy password for unknown login IDs")?;
        Ok(passwords)
    }

    pub fn hash(&self, password: &str) -> Result<String, AppError> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("argon2 hash: {e}")))
    }

    /// Constant-time verification; a stored hash that cannot be read never matches.
    pub fn verify(&self, hash: &str, password: &str) -> bool {
        match PasswordHash::new(hash) {
            Ok(parsed) => self
                .argon2
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Spends the time of one verification and always fails.
    pub fn verify_dummy(&self, password: &str) -> bool {
        let _ = self.verify(&self.dummy_hash, password);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_and_verifies_only_its_password() {
        let p = Passwords::new(Argon2Params::INSECURE_FAST_FOR_TESTS).unwrap();
        let h = p.hash("Sakura-2026-spring").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify(&h, "Sakura-2026-spring"));
        assert!(!p.verify(&h, "sakura-2026-spring"));
        assert!(!p.verify("not a hash", "anything"));
        assert!(!p.verify_dummy("dummy password for unknown login IDs"));
    }
}
