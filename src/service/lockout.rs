//! Wrong attempts and the locks they lead to: login passwords, operators' passwords,
//! approval passwords, transfer passwords and token codes all count the same way.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{bank_operators, soft_tokens, users};
use crate::error::AppError;

/// Which counter on which table.
#[derive(Clone, Copy, Debug)]
pub enum Counter {
    Login,
    OperatorLogin,
    Approval,
    TransferPassword,
    TokenCode,
}

/// One wrong attempt, counted.
#[derive(Clone, Copy, Debug)]
pub enum Counted {
    /// Still open: this many tries are left.
    Remaining(i32),
    /// This attempt reached the threshold and locked the row.
    LockedNow,
    /// Locked already (by an attempt racing this one): nothing was counted.
    Locked,
}

/// Counts a wrong attempt on row `id` and locks it at `threshold`. Both steps are
/// conditional updates on an unlocked row, so racing attempts on any number of instances
/// are counted once each, and the lock lands (and is reported) once.
pub fn count_failure(
    conn: &mut DbConn,
    counter: Counter,
    id: &str,
    threshold: i32,
    now: NaiveDateTime,
) -> Result<Counted, AppError> {
    macro_rules! count {
        ($table:ident, $failures:ident, $locked_at:ident) => {{
            let unlocked = || $table::table.find(id).filter($table::$locked_at.is_null());
            let counted = diesel::update(unlocked())
                .set($table::$failures.eq($table::$failures + 1))
                .execute(conn)?;
            if counted == 0 {
                return Ok(Counted::Locked);
            }
            let failures: i32 = $table::table
                .find(id)
                .select($table::$failures)
                .first(conn)?;
            if failures < threshold {
                return Ok(Counted::Remaining(threshold - failures));
            }
            let locked = diesel::update(unlocked())
                .set($table::$locked_at.eq(now))
                .execute(conn)?;
            Ok(if locked == 1 {
                Counted::LockedNow
            } else {
                Counted::Locked
            })
        }};
    }
    match counter {
        Counter::Login => count!(users, failed_logins, login_locked_at),
        Counter::OperatorLogin => count!(bank_operators, failed_logins, locked_at),
        Counter::Approval => count!(users, approval_failures, approval_locked_at),
        Counter::TransferPassword => count!(
            users,
            transfer_password_failures,
            transfer_password_locked_at
        ),
        Counter::TokenCode => count!(soft_tokens, failed_attempts, locked_at),
    }
}
