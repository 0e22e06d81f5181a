//! Wrong attempts and the locks they lead to, for every counted secret: login and
//! operator passwords, approval and transfer passwords, and token codes. Also the one
//! query that hands a password hash out of this layer.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::DbConn;
use super::schema::{bank_operators, soft_tokens, users};
use crate::domain::Secret;

/// One wrong attempt, counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// Still open: this many tries are left.
    Remaining(i32),
    /// This attempt reached the threshold and locked the secret.
    LockedNow,
    /// Locked already (by an attempt racing this one): nothing was counted.
    Locked,
}

/// A password as stored, to be checked by argon2 away from the database.
pub struct StoredPassword {
    /// The person's or operator's id.
    pub subject_id: String,
    /// `None` where the person has no such password (a user's approval password).
    pub hash: Option<String>,
    /// A person's company; `None` for an operator.
    pub company_id: Option<String>,
    pub locked: bool,
    pub disabled: bool,
}

/// Whose password: by id (a signed-in person) or by login ID (signing in).
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    Id(&'a str),
    LoginId(&'a str),
}

/// Runs `$body` with `$table`, `$failures` and `$locked_at` naming the columns of `$secret`.
macro_rules! with_columns {
    ($secret:expr, |$table:ident, $failures:ident, $locked_at:ident| $body:expr) => {{
        use Secret::*;
        match $secret {
            LoginPassword => {
                use users as $table;
                use users::{failed_logins as $failures, login_locked_at as $locked_at};
                $body
            }
            OperatorPassword => {
                use bank_operators as $table;
                use bank_operators::{failed_logins as $failures, locked_at as $locked_at};
                $body
            }
            ApprovalPassword => {
                use users as $table;
                use users::{approval_failures as $failures, approval_locked_at as $locked_at};
                $body
            }
            TransferPassword => {
                use users as $table;
                use users::{
                    transfer_password_failures as $failures,
                    transfer_password_locked_at as $locked_at,
                };
                $body
            }
            TokenCode => {
                use soft_tokens as $table;
                use soft_tokens::{failed_attempts as $failures, locked_at as $locked_at};
                $body
            }
        }
    }};
}

/// Counts a wrong attempt on `id` and locks it at `threshold`. Both steps are conditional
/// updates on an unlocked row, so racing attempts on any number of instances are counted
/// once each, and the lock lands (and is reported) once.
pub fn count_failure(
    conn: &mut DbConn,
    secret: Secret,
    id: &str,
    threshold: i32,
    now: DateTime<Utc>,
) -> QueryResult<Counted> {
    with_columns!(secret, |table, failures, locked_at| {
        let unlocked = || table::table.find(id).filter(locked_at.is_null());
        if diesel::update(unlocked())
            .set(failures.eq(failures + 1))
            .execute(conn)?
            == 0
        {
            return Ok(Counted::Locked);
        }
        let counted: i32 = table::table.find(id).select(failures).first(conn)?;
        if counted < threshold {
            return Ok(Counted::Remaining(threshold - counted));
        }
        let locked = diesel::update(unlocked())
            .set(locked_at.eq(now.naive_utc()))
            .execute(conn)?;
        Ok(if locked == 1 {
            Counted::LockedNow
        } else {
            Counted::Locked
        })
    })
}

/// Starts the count of wrong attempts again after a success, in the action's own
/// transaction. `false` when a lock landed meanwhile: the lock wins.
pub fn still_open(conn: &mut DbConn, secret: Secret, id: &str) -> QueryResult<bool> {
    with_columns!(secret, |table, failures, locked_at| {
        let reset = diesel::update(table::table.find(id).filter(locked_at.is_null()))
            .set(failures.eq(0))
            .execute(conn)?;
        Ok(reset == 1)
    })
}

/// Lifts a lock and forgets the wrong attempts.
pub fn unlock(conn: &mut DbConn, secret: Secret, id: &str) -> QueryResult<()> {
    with_columns!(secret, |table, failures, locked_at| {
        diesel::update(table::table.find(id))
            .set((failures.eq(0), locked_at.eq(None::<chrono::NaiveDateTime>)))
            .execute(conn)?;
        Ok(())
    })
}

/// A password as stored, with its lock. Token codes have no stored password: `None`.
pub fn stored_password(
    conn: &mut DbConn,
    secret: Secret,
    subject: Subject<'_>,
) -> QueryResult<Option<StoredPassword>> {
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<chrono::NaiveDateTime>,
        bool,
    );
    macro_rules! person {
        ($hash:expr, $locked_at:expr) => {{
            let q = users::table.select((
                users::id,
                $hash,
                users::company_id.nullable(),
                $locked_at,
                users::disabled,
            ));
            match subject {
                Subject::Id(id) => q.filter(users::id.eq(id)).first::<Row>(conn),
                Subject::LoginId(l) => q.filter(users::login_id.eq(l)).first::<Row>(conn),
            }
            .optional()?
        }};
    }
    let found = match secret {
        Secret::LoginPassword => {
            person!(users::password_hash.nullable(), users::login_locked_at)
        }
        Secret::ApprovalPassword => {
            person!(users::approval_password_hash, users::approval_locked_at)
        }
        Secret::TransferPassword => person!(
            users::transfer_password_hash.nullable(),
            users::transfer_password_locked_at
        ),
        Secret::OperatorPassword => {
            let q = bank_operators::table.select((
                bank_operators::id,
                bank_operators::password_hash.nullable(),
                bank_operators::locked_at,
            ));
            match subject {
                Subject::Id(id) => q.filter(bank_operators::id.eq(id)).first(conn),
                Subject::LoginId(l) => q.filter(bank_operators::login_id.eq(l)).first(conn),
            }
            .optional()?
            .map(|(id, hash, locked_at)| (id, hash, None, locked_at, false))
        }
        Secret::TokenCode => None,
    };
    Ok(found.map(
        |(subject_id, hash, company_id, locked_at, disabled)| StoredPassword {
            subject_id,
            hash,
            company_id,
            locked: locked_at.is_some(),
            disabled,
        },
    ))
}
