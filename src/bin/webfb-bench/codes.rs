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

/// A holder lent to one request at a time.
#[derive(Debug, PartialEq, Eq)]
pub struct Lease {
    pub holder: usize,
    /// The first step of its token not used yet.
    next: i64,
}

impl Lease {
    /// The step to send a code of now: the first unused one the server still accepts.
    /// Judged when the code is sent, so a request made first (a create) takes nothing
    /// from the margin.
    pub fn step(&self, unix_secs: i64) -> i64 {
        self.next.max(earliest(unix_secs))
    }
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

    /// The least recently used idle holder that is `wanted` and whose token has a step
    /// still unused within the window at `unix_secs`. `None`: none has (wait for the next
    /// step), or every such token is in use.
    pub fn lend(&self, unix_secs: i64, wanted: impl Fn(usize) -> bool) -> Option<Lease> {
        let last = step_at(unix_secs) + WINDOW;
        let mut idle = self.idle();
        let ready = idle
            .iter()
            .position(|&(holder, next)| next <= last && wanted(holder))?;
        // Those passed over keep their turn, ahead of the ones given back later.
        idle.rotate_left(ready);
        let (holder, next) = idle.pop_front()?;
        Some(Lease { holder, next })
    }

    /// The holder's token is free again, `spent` the step of the code it sent, whatever
    /// the answer was. A request that got no answer keeps its lease: the server may still
    /// judge its code, and a later one sent first would make it a replay.
    pub fn give_back(&self, lease: Lease, spent: Option<i64>) {
        let next = spent.map_or(lease.next, |step| step + 1);
        self.idle().push_back((lease.holder, next));
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

    fn any(_: usize) -> bool {
        true
    }

    /// Lends, sends the step it would send at `at`, gives back: the steps in order.
    fn drain(codes: &Codes, at: i64) -> Vec<i64> {
        let mut steps = vec![];
        while let Some(lease) = codes.lend(at, any) {
            let step = lease.step(at);
            steps.push(step);
            codes.give_back(lease, Some(step));
        }
        steps
    }

    #[test]
    fn a_fresh_token_gives_the_previous_current_and_next_step_in_order_then_waits() {
        let codes = Codes::new([0]);
        assert_eq!(drain(&codes, 3010), [99, 100, 101]);
        assert_eq!(drain(&codes, 3040), [102]);
    }

    #[test]
    fn the_previous_step_is_not_sent_in_the_last_seconds_before_it_leaves_the_window() {
        let codes = Codes::new([0]);
        assert_eq!(drain(&codes, 3026), [100, 101]);
    }

    #[test]
    fn a_step_is_judged_when_the_code_is_sent_not_when_the_token_is_lent() {
        let codes = Codes::new([0]);
        let lease = codes.lend(3010, any).unwrap();
        assert_eq!(lease.step(3010), 99);
        assert_eq!(lease.step(3026), 100, "a slow create took the margin");
    }

    #[test]
    fn a_token_lent_to_one_request_is_not_lent_to_another() {
        let codes = Codes::new([0, 0]);
        let a = codes.lend(310, any).unwrap();
        let b = codes.lend(310, any).unwrap();
        assert_ne!(a.holder, b.holder);
        assert_eq!(codes.lend(310, any), None);
        codes.give_back(a, Some(9));
        let again = codes.lend(310, any).unwrap();
        assert_eq!((again.holder, again.step(310)), (0, 10));
    }

    #[test]
    fn a_token_not_wanted_or_without_steps_left_is_passed_over_and_keeps_its_turn() {
        let codes = Codes::new([102, 0, 0]);
        let lease = codes.lend(3010, |h| h != 1).unwrap();
        assert_eq!((lease.holder, lease.step(3010)), (2, 99));
        assert_eq!(codes.lend(3010, any).map(|l| l.holder), Some(1));
    }

    #[test]
    fn a_token_given_back_unused_gives_the_same_step_again() {
        let codes = Codes::new([0]);
        let lease = codes.lend(3010, any).unwrap();
        codes.give_back(lease, None);
        assert_eq!(drain(&codes, 3010), [99, 100, 101]);
    }

    #[test]
    fn available_codes_count_only_unused_steps_in_the_window() {
        let codes = Codes::new([0, 100, 101, 102]);
        let left: Vec<i64> = codes.per_holder(3010).into_iter().map(|(_, n)| n).collect();
        assert_eq!(left, [3, 2, 1, 0]);
    }
}
