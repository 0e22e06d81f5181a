//! One mechanism for every password a person types — login, operator, approval and
//! transfer passwords: read the stored hash, give the connection back while argon2 runs,
//! count and audit a wrong attempt in a transaction of its own, and lock at the threshold.
//! Token codes are counted by the same database mechanism (`tokens::verify_code`).

use serde_json::{Value, json};

use crate::db::lockout::{Counted, StoredPassword, Subject};
use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{AuditAction, Event, Outcome};
use crate::domain::{PasswordAttempt, Secret};
use crate::error::{AppError, ErrorCode};

use super::{Services, audit};

/// A password proven right: whose it was. The action that follows must call
/// [`still_open`] in its own transaction.
pub struct Proven {
    pub subject_id: String,
    /// The caller's audit template, now naming the subject's company and the subject.
    pub audit: Event,
    /// Told only now, after the right password, so that it reveals nothing to a guesser.
    pub disabled: bool,
}

/// Checks `attempt` against the stored `secret` of `subject`. `audit` names who is acting
/// and on what; the mechanism gives it its action, outcome and reason. A refusal is
/// counted, audited and committed before it is answered.
///
/// At sign-in an unknown login ID, a wrong password and a locked login answer alike, in
/// the same time (argon2 runs for each), so the answer tells a guesser nothing; a
/// signed-in person is told of a lock (423) and of the tries left.
pub fn check_password(
    db: &mut Db,
    svc: &Services,
    secret: Secret,
    subject: Subject<'_>,
    attempt: &PasswordAttempt,
    audit: &Event,
) -> Result<Proven, AppError> {
    let key = match subject {
        Subject::Id(id) => format!("{secret:?}:{id}"),
        Subject::LoginId(login_id) => format!("{secret:?}:{login_id}"),
    };
    svc.throttle.check(audit.client_addr.as_deref(), &key)?;
    let now = svc.now();
    let stored = db::lockout::stored_password(db.conn()?, secret, subject)?;
    let audit = match &stored {
        Some(s) => of_subject(audit, secret, s),
        None => audit.clone(),
    };
    let sign_in = matches!(secret, Secret::LoginPassword | Secret::OperatorPassword);
    let locked = stored
        .as_ref()
        .is_some_and(|s| s.lock.is_some_and(|lock| lock.holds(now)));
    if locked && !sign_in {
        record(db.conn()?, svc, &audit, refused_action(secret), "locked")?;
        return Err(locked_error(secret));
    }
    // argon2 runs with no connection held: a flood of sign-ins cannot starve the pool.
    db.release();
    let right = match &stored {
        Some(s) => svc
            .passwords
            .verify(s.hash.as_deref().unwrap_or_default(), attempt.expose())?,
        None => svc.passwords.verify_dummy(attempt.expose())?,
    };
    let stored = match stored {
        Some(stored) if right && !locked => {
            return Ok(Proven {
                subject_id: stored.subject_id,
                audit,
                disabled: stored.disabled,
            });
        }
        Some(stored) if !locked => stored,
        Some(_) => {
            record(db.conn()?, svc, &audit, refused_action(secret), "locked")?;
            return Err(wrong(secret, 0));
        }
        None => {
            record(
                db.conn()?,
                svc,
                &audit,
                wrong_action(secret),
                "unknown_login_id",
            )?;
            return Err(wrong(secret, 0));
        }
    };
    let policy = svc.lock_policy(secret);
    let counted = write_tx(db.conn()?, |conn| {
        let counted = db::lockout::count_failure(conn, secret, &stored.subject_id, policy, now)?;
        if counted == Counted::Locked {
            record(conn, svc, &audit, refused_action(secret), "locked")?;
            return Ok::<_, AppError>(counted);
        }
        record(conn, svc, &audit, wrong_action(secret), "wrong_password")?;
        if counted == Counted::LockedNow {
            audit::record(
                conn,
                svc,
                audit.with(locked_action(secret), Outcome::Success),
            )?;
        }
        Ok(counted)
    })?;
    Err(match counted {
        Counted::Remaining(left) => wrong(secret, left),
        Counted::LockedNow | Counted::Locked => locked_error(secret),
    })
}

/// Inside the action's transaction: no lock landed while the password was checked, and
/// the count of wrong attempts starts again.
pub fn still_open(
    conn: &mut DbConn,
    svc: &Services,
    secret: Secret,
    subject_id: &str,
) -> Result<(), AppError> {
    if db::lockout::still_open(conn, secret, subject_id, svc.now())? {
        Ok(())
    } else {
        Err(locked_error(secret))
    }
}

/// The subject's company and the subject as the target, once known.
fn of_subject(audit: &Event, secret: Secret, stored: &StoredPassword) -> Event {
    let mut event = audit.clone();
    if let Some(company) = &stored.company_id {
        event = event.company(company);
    }
    let kind = match secret {
        Secret::OperatorPassword => "operator",
        _ => "user",
    };
    event
        .target
        .get_or_insert((kind, stored.subject_id.clone()));
    event
}

/// Writes `action` for the template, its detail gaining the reason.
fn record(
    conn: &mut DbConn,
    svc: &Services,
    template: &Event,
    (action, outcome): (AuditAction, Outcome),
    reason: &str,
) -> Result<(), AppError> {
    let mut detail = match &template.detail {
        Some(Value::Object(fields)) => fields.clone(),
        _ => Default::default(),
    };
    detail.insert("reason".into(), json!(reason));
    let event = template.with(action, outcome).detail(Value::Object(detail));
    audit::record(conn, svc, event)
}

fn wrong_action(secret: Secret) -> (AuditAction, Outcome) {
    let action = match secret {
        Secret::LoginPassword => AuditAction::Login,
        Secret::OperatorPassword => AuditAction::OperatorLogin,
        Secret::ApprovalPassword => AuditAction::ApprovalPasswordFailed,
        Secret::TransferPassword | Secret::TokenCode => AuditAction::TransferConfirmationFailed,
    };
    (action, Outcome::Failure)
}

fn refused_action(secret: Secret) -> (AuditAction, Outcome) {
    match secret {
        Secret::ApprovalPassword => (AuditAction::ApprovalRefused, Outcome::Denied),
        other => wrong_action(other),
    }
}

fn locked_action(secret: Secret) -> AuditAction {
    match secret {
        Secret::LoginPassword | Secret::OperatorPassword => AuditAction::LoginLocked,
        Secret::ApprovalPassword => AuditAction::ApprovalLocked,
        Secret::TransferPassword | Secret::TokenCode => AuditAction::TransferPasswordLocked,
    }
}

/// A wrong password with `left` tries before the lock. A sign-in says nothing more, and
/// the same for an unknown login ID and a locked login.
fn wrong(secret: Secret, left: i32) -> AppError {
    match secret {
        Secret::LoginPassword | Secret::OperatorPassword => AppError::new(
            ErrorCode::InvalidCredentials,
            "the login ID or the password is incorrect, or the login is locked for a while",
        ),
        Secret::ApprovalPassword => AppError::new(
            ErrorCode::ApprovalPasswordInvalid,
            "the approval password is not correct",
        )
        .with_remaining_attempts(left),
        Secret::TransferPassword | Secret::TokenCode => AppError::new(
            ErrorCode::TransferPasswordInvalid,
            "the transfer password is not correct",
        )
        .with_remaining_attempts(left),
    }
}

/// A refused sign-in, worded like every other: a wrong password, an unknown login ID, a
/// lock, or a missing or wrong certificate look the same.
pub fn sign_in_refused() -> AppError {
    wrong(Secret::LoginPassword, 0)
}

/// A lock, as a signed-in person is told of it; a sign-in is told nothing (see [`wrong`]).
pub fn locked_error(secret: Secret) -> AppError {
    match secret {
        Secret::LoginPassword | Secret::OperatorPassword => wrong(secret, 0),
        Secret::ApprovalPassword => AppError::new(
            ErrorCode::ApprovalLocked,
            "approval is locked after too many wrong approval passwords; the bank unlocks it",
        ),
        Secret::TransferPassword | Secret::TokenCode => AppError::new(
            ErrorCode::TransferPasswordLocked,
            "the transfer password is locked after too many wrong entries",
        ),
    }
}
