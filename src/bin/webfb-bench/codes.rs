//! Which code each request may use: a step of the holder's token that was never used and
//! that the server still accepts. A token is lent to one request at a time, so its steps
//! reach the server in order and none is ever refused as a replay.

use std::collections::VecDeque;
use std::sync::Mutex;

/// The server's window: a code of the previous, current or next step is accepted.
pub const WINDOW: i64 = 1;
pub const PERIOD: i64 = 30;

/// A code of the previous step is sent only this long before it leaves the window: a
/// request under load can take a second or more to be judged, and a refused code counts
/// toward the token's lock.
const MARGIN_SECS: i64 = 5;

pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(PERIOD)
}

/// The oldest step still safe to send at `unix_secs`.
fn earliest(unix_secs: i64) -> i64 {
    let step = step_at(unix_secs);
    match unix_secs.rem_euclid(PERIOD) < PERIOD - MARGIN_SECS {
        true => step - WINDOW,
        false => step - WINDOW + 1,
    }
}

/// The tokens not in use by a request, least recently used first, each with the first
/// step it has not used.
pub struct Codes {
    idle: Mutex<VecDeque<(usize, i64)>>,
}

/// A holder lent to one request, and the step its code is for.
#[derive(Debug, PartialEq, Eq)]
pub struct Lease {
    pub holder: usize,
    pub step: i64,
}

impl Codes {
    /// `next_steps[i]`: the first step holder `i`'s token has not used.
    pub fn new(next_steps: impl IntoIterator<Item = i64>) -> Codes {
        Codes {
            idle: Mutex::new(next_steps.into_iter().enumerate().collect()),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, VecDeque<(usize, i64)>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The least recently used idle token with a step still unused within the window at
    /// `unix_secs`. `None`: every idle token has spent its window (wait for the next
    /// step), or every token is in use.
    pub fn lend(&self, unix_secs: i64) -> Option<Lease> {
        let now_step = step_at(unix_secs);
        let mut idle = self.idle();
        let ready = idle
            .iter()
            .position(|&(_, next)| next <= now_step + WINDOW)?;
        // Those passed over keep their turn, ahead of the ones given back later.
        idle.rotate_left(ready);
        let (holder, next) = idle.pop_front()?;
        Some(Lease {
            holder,
            step: next.max(earliest(unix_secs)),
        })
    }

    /// The holder's token is free again; its step is spent whatever the answer was.
    pub fn give_back(&self, lease: Lease) {
        self.idle().push_back((lease.holder, lease.step + 1));
    }

    /// Each idle holder with the codes its token can give at `unix_secs` without waiting.
    pub fn per_holder(&self, unix_secs: i64) -> Vec<(usize, i64)> {
        let last = step_at(unix_secs) + WINDOW;
        let left = |next: i64| (last + 1 - next.max(earliest(unix_secs))).max(0);
        self.idle()
            .iter()
            .map(|&(h, next)| (h, left(next)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_token_gives_the_previous_current_and_next_step_in_order_then_waits() {
        let codes = Codes::new([0]);
        let mut steps = vec![];
        while let Some(lease) = codes.lend(3010) {
            steps.push(lease.step);
            codes.give_back(lease);
        }
        assert_eq!(steps, [99, 100, 101]);
        assert_eq!(codes.lend(3040).map(|l| l.step), Some(102));
    }

    #[test]
    fn the_previous_step_is_not_sent_in_the_last_seconds_before_it_leaves_the_window() {
        let codes = Codes::new([0]);
        assert_eq!(codes.lend(3026).map(|l| l.step), Some(100));
    }

    #[test]
    fn a_token_lent_to_one_request_is_not_lent_to_another() {
        let codes = Codes::new([0, 0]);
        let a = codes.lend(310).unwrap();
        let b = codes.lend(310).unwrap();
        assert_ne!(a.holder, b.holder);
        assert_eq!(codes.lend(310), None);
        codes.give_back(a);
        assert_eq!(codes.lend(310).map(|l| (l.holder, l.step)), Some((0, 10)));
    }

    #[test]
    fn a_token_with_steps_left_is_lent_even_behind_one_without() {
        let codes = Codes::new([102, 0]);
        assert_eq!(
            codes.lend(3010),
            Some(Lease {
                holder: 1,
                step: 99
            })
        );
    }

    #[test]
    fn available_codes_count_only_unused_steps_in_the_window() {
        let codes = Codes::new([0, 100, 101, 102]);
        let left: Vec<i64> = codes.per_holder(3010).into_iter().map(|(_, n)| n).collect();
        assert_eq!(left, [3, 2, 1, 0]);
    }
}
