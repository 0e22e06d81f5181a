//! Argon2id hashing of every password the service keeps: login, approval and transfer
//! confirmation passwords of people, and operators' passwords.
//!
//! At most `workers` hashes run at once, each in a memory area of its own that passes
//! from one hash to the next while callers wait and goes back to the system when none do,
//! so a storm of sign-ins neither starves the machine nor leaves memory behind; a few
//! more wait their turn, and beyond that the answer is 503 with `Retry-After` rather than
//! an ever longer queue.

use std::sync::{Condvar, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::config::Argon2Params;
use crate::error::{AppError, ErrorCode};

/// The calling thread's nice value raised by 10, to 19 at most (Linux keeps one per
/// thread). Only for a thread that ends after its one task: without privileges it could
/// not be lowered again.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: nice reads no memory of ours; glibc applies it to the calling thread.
    unsafe {
        libc::nice(10);
    }
}

pub struct Passwords {
    params: Params,
    /// Verified against when a login ID is unknown, so that an unknown ID costs the same
    /// time as a wrong password and cannot be told apart.
    dummy_hash: String,
    memory: Mutex<Areas>,
    freed: Condvar,
    queue: usize,
    workers: usize,
    /// Only in `webfb-bench`'s provisioning (`reusing_results`): answers remembered.
    memo: Option<Mutex<Memo>>,
}

/// Hashes by the SHA-256 of their password, and verifications by that of hash and
/// password: thousands of provisioned people then cost one argon2 run per distinct value.
#[derive(Default)]
struct Memo {
    hashes: std::collections::HashMap<[u8; 32], String>,
    verified: std::collections::HashMap<[u8; 32], bool>,
}

fn digest(parts: &[&str]) -> [u8; 32] {
    use sha2::Digest;
    let mut d = sha2::Sha256::new();
    for part in parts {
        d.update((part.len() as u64).to_be_bytes());
        d.update(part.as_bytes());
    }
    d.finalize().into()
}

/// Hashes running, callers waiting for a turn, and areas handed from a finished hash to
/// a waiting one.
struct Areas {
    running: usize,
    waiting: usize,
    handed: Vec<Vec<Block>>,
}

/// A memory area lent to one hash. When dropped it goes to a caller waiting for one, or,
/// with nobody waiting, back to the system (allocations this large are mapped and
/// unmapped on their own), so a storm leaves nothing behind.
struct Lent<'a> {
    passwords: &'a Passwords,
    area: Option<Vec<Block>>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let mut areas = self.passwords.lock();
        areas.running -= 1;
        let freed = match areas.waiting {
            0 => std::mem::take(&mut areas.handed),
            _ => {
                areas.handed.extend(self.area.take());
                self.passwords.freed.notify_one();
                vec![]
            }
        };
        drop(areas);
        drop(freed);
    }
}

impl Passwords {
    pub fn new(p: Argon2Params, workers: usize, queue: usize) -> Result<Passwords, AppError> {
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .map_err(|e| AppError::Internal(format!("argon2 parameters: {e}")))?;
        let mut passwords = Passwords {
            params,
            dummy_hash: String::new(),
            memory: Mutex::new(Areas {
                running: 0,
                waiting: 0,
                handed: vec![],
            }),
            freed: Condvar::new(),
            queue,
            workers: workers.max(1),
            memo: None,
        };
        passwords.dummy_hash = passwords.hash("dummy password for unknown login IDs")?;
        Ok(passwords)
    }

    /// For the load tool's provisioning only, never for serving: each distinct password
    /// is hashed once (so the people provisioned share its salt) and each distinct
    /// verification computed once. Real argon2id hashes, reused.
    pub fn reusing_results(self) -> Passwords {
        Passwords {
            memo: Some(Mutex::new(Memo::default())),
            ..self
        }
    }

    fn remembered<T: Clone>(
        &self,
        pick: impl Fn(&mut Memo) -> &mut std::collections::HashMap<[u8; 32], T>,
        key: [u8; 32],
        compute: impl FnOnce() -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let Some(memo) = &self.memo else {
            return compute();
        };
        let lock = || memo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = pick(&mut lock()).get(&key) {
            return Ok(found.clone());
        }
        let value = compute()?;
        pick(&mut lock()).insert(key, value.clone());
        Ok(value)
    }

    /// Hashes being computed now, and callers waiting for a worker.
    pub fn load(&self) -> (usize, usize) {
        let areas = self.lock();
        (areas.running, areas.waiting)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Areas> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A turn and a memory area, after waiting in a short queue; a full queue is 503.
    fn lend(&self) -> Result<Lent<'_>, AppError> {
        let mut areas = self.lock();
        if areas.running >= self.workers && areas.waiting >= self.queue {
            return Err(AppError::new(
                ErrorCode::ServiceUnavailable,
                "too many sign-ins at once; try again in a moment",
            )
            .with_retry_after(1));
        }
        areas.waiting += 1;
        while areas.running >= self.workers {
            areas = self.freed.wait(areas).unwrap_or_else(|e| e.into_inner());
        }
        areas.waiting -= 1;
        areas.running += 1;
        let handed = areas.handed.pop();
        drop(areas);
        Ok(Lent {
            passwords: self,
            area: Some(handed.unwrap_or_else(|| vec![Block::new(); self.params.block_count()])),
        })
    }

    /// The raw argon2id output of `password` with `salt` under `params`, computed in a
    /// lent area (or a fresh one for an old hash with other parameters).
    fn compute(&self, params: Params, password: &str, salt: &[u8]) -> Result<Output, AppError> {
        let mut lent = self.lend()?;
        let mut fresh;
        let area: &mut Vec<Block> = match lent.area.as_mut() {
            Some(area) if area.len() == params.block_count() => area,
            _ => {
                fresh = vec![Block::new(); params.block_count()];
                &mut fresh
            }
        };
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let run = || {
            lower_priority();
            Output::init_with(len, |out| {
                argon2
                    .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut *area)
                    .map_err(|_| argon2::password_hash::Error::Crypto)
            })
        };
        // On a thread of its own at a lower priority: during a storm of sign-ins every
        // other request, and /health, still gets the cores first. A thread costs tens of
        // microseconds; a hash, tens of milliseconds.
        std::thread::scope(|scope| {
            let hashing = std::thread::Builder::new()
                .name("argon2".into())
                .spawn_scoped(scope, run)
                .map_err(|e| AppError::Internal(format!("cannot start an argon2 thread: {e}")))?;
            hashing
                .join()
                .map_err(|_| AppError::Internal("argon2 thread panicked".into()))?
                .map_err(|e| AppError::Internal(format!("argon2: {e}")))
        })
    }

    pub fn hash(&self, password: &str) -> Result<String, AppError> {
        self.remembered(
            |m| &mut m.hashes,
            digest(&[password]),
            || self.hash_anew(password),
        )
    }

    fn hash_anew(&self, password: &str) -> Result<String, AppError> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let mut bytes = [0u8; 64];
        let salt_bytes = salt
            .decode_b64(&mut bytes)
            .map_err(|e| AppError::Internal(format!("salt: {e}")))?;
        let output = self.compute(self.params.clone(), password, salt_bytes)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params)
                .map_err(|e| AppError::Internal(format!("argon2 parameters: {e}")))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    /// Constant-time verification; a stored hash that cannot be read never matches. Err
    /// only when too many hashes are waiting already (503).
    pub fn verify(&self, hash: &str, password: &str) -> Result<bool, AppError> {
        self.remembered(
            |m| &mut m.verified,
            digest(&[hash, password]),
            || self.verify_anew(hash, password),
        )
    }

    fn verify_anew(&self, hash: &str, password: &str) -> Result<bool, AppError> {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return self.verify_dummy(password).map(|_| false);
        };
        let (Ok(params), Some(salt), Some(expected)) =
            (Params::try_from(&parsed), parsed.salt, parsed.hash)
        else {
            return self.verify_dummy(password).map(|_| false);
        };
        let mut bytes = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut bytes) else {
            return Ok(false);
        };
        let params = Params::new(
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            Some(expected.len()),
        )
        .map_err(|e| AppError::Internal(format!("argon2 parameters: {e}")))?;
        // Output's equality is constant-time.
        Ok(self.compute(params, password, salt)? == expected)
    }

    /// Spends the time of one verification and always fails.
    pub fn verify_dummy(&self, password: &str) -> Result<bool, AppError> {
        self.verify(&self.dummy_hash, password).map(|_| false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passwords() -> Passwords {
        Passwords::new(Argon2Params::INSECURE_FAST_FOR_TESTS, 2, 2).unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_lowered_thread_runs_ten_below_and_a_hash_leaves_its_caller_as_it_was() {
        // SAFETY: getpriority reads no memory of ours; 0 names the calling thread.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let before = nice();
        let lowered = std::thread::spawn(move || {
            lower_priority();
            nice()
        });
        assert_eq!(lowered.join().unwrap(), (before + 10).min(19));
        passwords().hash("Sakura-2026-spring").unwrap();
        assert_eq!(nice(), before, "the caller's thread keeps its priority");
    }

    #[test]
    fn a_hash_is_argon2id_and_verifies_only_its_password() {
        let p = passwords();
        let h = p.hash("Sakura-2026-spring").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"));
        assert!(p.verify(&h, "Sakura-2026-spring").unwrap());
        assert!(!p.verify(&h, "sakura-2026-spring").unwrap());
        assert!(!p.verify("not a hash", "anything").unwrap());
        assert!(
            !p.verify_dummy("dummy password for unknown login IDs")
                .unwrap()
        );
    }

    #[test]
    fn a_hash_made_by_the_argon2_crate_itself_verifies() {
        use argon2::PasswordHasher;
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let params = Params::new(64, 1, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"Sakura-2026-spring", &salt)
            .unwrap()
            .to_string();
        let p = passwords();
        assert!(p.verify(&theirs, "Sakura-2026-spring").unwrap());
        assert!(!p.verify(&theirs, "Sakura-2026-Spring").unwrap());
    }

    #[test]
    fn a_hash_with_other_parameters_still_verifies() {
        let other = Passwords::new(
            Argon2Params {
                memory_kib: 128,
                iterations: 2,
                parallelism: 1,
            },
            1,
            0,
        )
        .unwrap();
        let h = other.hash("Sakura-2026-spring").unwrap();
        assert!(passwords().verify(&h, "Sakura-2026-spring").unwrap());
    }

    #[test]
    fn reusing_results_hashes_a_password_once_and_still_tells_a_wrong_one() {
        let p = passwords().reusing_results();
        let h = p.hash("Sakura-2026-spring").unwrap();
        assert_eq!(p.hash("Sakura-2026-spring").unwrap(), h);
        assert_ne!(p.hash("Momiji-2026-autumn").unwrap(), h);
        assert!(p.verify(&h, "Sakura-2026-spring").unwrap());
        assert!(!p.verify(&h, "sakura-2026-spring").unwrap());
        assert_ne!(
            passwords().hash("Sakura-2026-spring").unwrap(),
            h,
            "salted anew"
        );
    }

    #[test]
    fn with_nobody_waiting_a_finished_hash_keeps_no_memory_area() {
        let p = passwords();
        p.hash("Sakura-2026-spring").unwrap();
        assert_eq!(p.load(), (0, 0));
        assert!(p.lock().handed.is_empty());
    }

    #[test]
    fn when_every_worker_is_busy_and_the_queue_is_full_the_answer_is_503() {
        let p = Passwords::new(Argon2Params::INSECURE_FAST_FOR_TESTS, 1, 0).unwrap();
        let held = p.lend().unwrap();
        let refused = p.hash("Sakura-2026-spring").unwrap_err();
        assert_eq!(refused.code(), ErrorCode::ServiceUnavailable);
        assert_eq!(refused.retry_after(), Some(1));
        drop(held);
        assert!(p.hash("Sakura-2026-spring").is_ok());
    }
}
