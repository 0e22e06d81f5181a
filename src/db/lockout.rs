//! Wrong attempts and the locks they lead to, for every counted secret: login and
//! operator passwords, approval and transfer passwords, and token codes. Also the one
//! query that hands a password hash out of this layer.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::DbConn;
use super::schema::{bank_operators, soft_tokens, users};
use crate::domain::Secret;
use crate::domain::user::Lock;

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
    pub lock: Option<Lock>,
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

/// Runs `$body` with the columns of a sign-in's temporary lock; other secrets have none.
macro_rules! with_sign_in_columns {
    ($secret:expr, |$table:ident, $locked_at:ident, $until:ident, $locks:ident| $body:expr) => {{
        match $secret {
            Secret::LoginPassword => {
                use users as $table;
                use users::{
                    login_locked_at as $locked_at, login_locked_until as $until,
                    login_locks as $locks,
                };
                $body
            }
            Secret::OperatorPassword => {
                use bank_operators as $table;
                use bank_operators::{
                    locked_at as $locked_at, locked_until as $until, locks as $locks,
                };
                $body
            }
            _ => Ok(()),
        }
    }};
}

/// How wrong attempts lock a secret: after `threshold` of them, for the next of
/// `durations` (one per lock in a row), and for good once they are used up.
#[derive(Clone, Copy, Debug)]
pub struct LockPolicy<'a> {
    pub threshold: i32,
    pub durations: &'a [chrono::Duration],
}

/// Counts a wrong attempt on `id` and locks it at the threshold. Both steps are conditional
/// updates on an unlocked row, so racing attempts on any number of instances are counted
/// once each, and the lock lands (and is reported) once. A sign-in lock whose time has
/// passed is lifted first, and its count of wrong attempts starts again.
pub fn count_failure(
    conn: &mut DbConn,
    secret: Secret,
    id: &str,
    policy: LockPolicy<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Counted> {
    lift_lapsed(conn, secret, id, now)?;
    let threshold = policy.threshold;
    let counted = with_columns!(secret, |table, failures, locked_at| {
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
        Ok::<_, diesel::result::Error>(if locked == 1 {
            Counted::LockedNow
        } else {
            Counted::Locked
        })
    })?;
    if counted == Counted::LockedNow {
        with_sign_in_columns!(secret, |table, locked_at, until, locks| {
            let previous: i32 = table::table.find(id).select(locks).first(conn)?;
            let lasts = policy.durations.get(previous as usize);
            diesel::update(table::table.find(id).filter(locked_at.is_not_null()))
                .set((
                    until.eq(lasts.map(|d| (now + *d).naive_utc())),
                    locks.eq(previous + 1),
                ))
                .execute(conn)
                .map(|_| ())
        })?;
    }
    Ok(counted)
}

/// Lifts a sign-in lock whose time has passed.
fn lift_lapsed(conn: &mut DbConn, secret: Secret, id: &str, now: DateTime<Utc>) -> QueryResult<()> {
    let (now, none) = (now.naive_utc(), None::<chrono::NaiveDateTime>);
    match secret {
        Secret::LoginPassword => diesel::update(
            users::table
                .find(id)
                .filter(users::login_locked_until.le(now)),
        )
        .set((
            users::failed_logins.eq(0),
            users::login_locked_at.eq(none),
            users::login_locked_until.eq(none),
        ))
        .execute(conn)?,
        Secret::OperatorPassword => diesel::update(
            bank_operators::table
                .find(id)
                .filter(bank_operators::locked_until.le(now)),
        )
        .set((
            bank_operators::failed_logins.eq(0),
            bank_operators::locked_at.eq(none),
            bank_operators::locked_until.eq(none),
        ))
        .execute(conn)?,
        _ => 0,
    };
    Ok(())
}

/// Starts the count of wrong attempts (and of locks in a row) again after a success, in
/// the action's own transaction. `false` when a lock landed meanwhile: the lock wins.
pub fn still_open(
    conn: &mut DbConn,
    secret: Secret,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    lift_lapsed(conn, secret, id, now)?;
    let open = with_columns!(secret, |table, failures, locked_at| {
        let reset = diesel::update(table::table.find(id).filter(locked_at.is_null()))
            .set(failures.eq(0))
            .execute(conn)?;
        Ok::<_, diesel::result::Error>(reset == 1)
    })?;
    if open {
        forget_locks(conn, secret, id)?;
    }
    Ok(open)
}

/// Lifts a lock and forgets the wrong attempts.
pub fn unlock(conn: &mut DbConn, secret: Secret, id: &str) -> QueryResult<()> {
    with_columns!(secret, |table, failures, locked_at| {
        diesel::update(table::table.find(id))
            .set((failures.eq(0), locked_at.eq(None::<chrono::NaiveDateTime>)))
            .execute(conn)?;
        Ok::<_, diesel::result::Error>(())
    })?;
    forget_locks(conn, secret, id)
}

fn forget_locks(conn: &mut DbConn, secret: Secret, id: &str) -> QueryResult<()> {
    with_sign_in_columns!(secret, |table, locked_at, until, locks| {
        let _ = locked_at;
        diesel::update(table::table.find(id))
            .set((until.eq(None::<chrono::NaiveDateTime>), locks.eq(0)))
            .execute(conn)
            .map(|_| ())
    })
}

/// A password as stored, with its lock. Token codes have no stored password: `None`.
pub fn stored_password(
    conn: &mut DbConn,
    secret: Secret,
    subject: Subject<'_>,
) -> QueryResult<Option<StoredPassword>> {
    use chrono::NaiveDateTime as At;
    use diesel::sql_types::{Nullable, Timestamp};
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<At>,
        Option<At>,
        bool,
    );
    let forever = || diesel::dsl::sql::<Nullable<Timestamp>>("NULL");
    macro_rules! person {
        ($hash:expr, $locked_at:expr, $until:expr) => {{
            let q = users::table.select((
                users::id,
                $hash,
                users::company_id.nullable(),
                $locked_at,
                $until,
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
        Secret::LoginPassword => person!(
            users::password_hash.nullable(),
            users::login_locked_at,
            users::login_locked_until
        ),
        Secret::ApprovalPassword => person!(
            users::approval_password_hash,
            users::approval_locked_at,
            forever()
        ),
        Secret::TransferPassword => person!(
            users::transfer_password_hash.nullable(),
            users::transfer_password_locked_at,
            forever()
        ),
        Secret::OperatorPassword => {
            let q = bank_operators::table.select((
                bank_operators::id,
                bank_operators::password_hash.nullable(),
                bank_operators::locked_at,
                bank_operators::locked_until,
                bank_operators::disabled,
            ));
            match subject {
                Subject::Id(id) => q.filter(bank_operators::id.eq(id)).first(conn),
                Subject::LoginId(l) => q.filter(bank_operators::login_id.eq(l)).first(conn),
            }
            .optional()?
            .map(|(id, hash, at, until, disabled)| (id, hash, None, at, until, disabled))
        }
        Secret::TokenCode => None,
    };
    Ok(found.map(
        |(subject_id, hash, company_id, locked_at, until, disabled)| StoredPassword {
            subject_id,
            hash,
            company_id,
            lock: locked_at.map(|since| Lock {
                since: since.and_utc(),
                until: until.map(|t| t.and_utc()),
            }),
            disabled,
        },
    ))
}
