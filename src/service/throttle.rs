//! How often secrets may be checked: per client address and per subject (a login ID, a
//! person, a token), with well-kept token buckets (`governor`). A throttled check costs no
//! argon2 and no database work, and is answered 429 with `Retry-After`. Each instance
//! throttles on its own; the lockout in the database holds across instances.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::{AppError, ErrorCode};

type Buckets = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

pub struct Throttle {
    by_addr: Buckets,
    by_subject: Buckets,
    checks: AtomicU64,
}

impl Throttle {
    pub fn new(per_addr_per_minute: u32, per_subject_per_minute: u32) -> Throttle {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Throttle {
            by_addr: RateLimiter::keyed(quota(per_addr_per_minute)),
            by_subject: RateLimiter::keyed(quota(per_subject_per_minute)),
            checks: AtomicU64::new(0),
        }
    }

    /// One check of a secret of `subject`, asked from `addr`.
    pub fn check(&self, addr: Option<&str>, subject: &str) -> Result<(), AppError> {
        // Forget buckets that have refilled, so a flood of made-up login IDs cannot grow
        // the maps without bound.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.by_addr.retain_recent();
            self.by_subject.retain_recent();
        }
        let addr = addr.unwrap_or("unknown").to_owned();
        self.by_addr
            .check_key(&addr)
            .and_then(|_| self.by_subject.check_key(&subject.to_lowercase()))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                AppError::new(
                    ErrorCode::TooManyRequests,
                    "too many attempts in a short time: wait before trying again",
                )
                .with_retry_after(wait.as_secs_f64().ceil() as u32)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_gets_its_share_and_then_a_429_with_retry_after() {
        let t = Throttle::new(1000, 3);
        for _ in 0..3 {
            t.check(Some("192.0.2.1"), "yamada.admin").unwrap();
        }
        let refused = t.check(Some("192.0.2.2"), "Yamada.Admin").unwrap_err();
        assert_eq!(refused.code(), ErrorCode::TooManyRequests);
        assert!(refused.retry_after().is_some_and(|s| (1..=60).contains(&s)));
        t.check(Some("192.0.2.1"), "sato.keiri").unwrap();
    }

    #[test]
    fn an_address_gets_its_share_whatever_login_ids_it_tries() {
        let t = Throttle::new(2, 1000);
        t.check(Some("192.0.2.1"), "a").unwrap();
        t.check(Some("192.0.2.1"), "b").unwrap();
        assert!(t.check(Some("192.0.2.1"), "c").is_err());
        t.check(Some("192.0.2.9"), "c").unwrap();
    }
}
