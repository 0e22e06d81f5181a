//! The request an action serves. Its id travels from the HTTP edge to the audit events and
//! the problem answers the action writes, on whichever thread the action runs: the async
//! side reads it from the task, the blocking pool from the thread running the action.

use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

thread_local! {
    static ON_THIS_THREAD: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `fut` as the handling of request `id`.
pub async fn serving<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// Runs `f` synchronously as part of request `id` (the part of a service's call that runs
/// before its future is polled).
pub fn entering<T>(id: String, f: impl FnOnce() -> T) -> T {
    REQUEST_ID.sync_scope(id, f)
}

/// The id of the request being served, if any.
pub fn request_id() -> Option<String> {
    REQUEST_ID
        .try_with(Clone::clone)
        .ok()
        .or_else(|| ON_THIS_THREAD.with(|c| c.borrow().clone()))
}

/// Runs `f` (on a blocking thread) as part of request `id`.
pub fn carrying<T>(id: Option<String>, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ON_THIS_THREAD.with(|c| *c.borrow_mut() = None);
        }
    }
    ON_THIS_THREAD.with(|c| *c.borrow_mut() = id);
    let _reset = Reset;
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocking_action_sees_its_request_and_the_next_one_does_not() {
        let seen = carrying(Some("req-1".into()), request_id);
        assert_eq!(seen.as_deref(), Some("req-1"));
        assert_eq!(request_id(), None);
    }
}
