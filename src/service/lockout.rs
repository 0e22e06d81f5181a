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
    pub company_id: Option<String>,
    /// Told only now, after the right password, so that it reveals nothing to a guesser.
    pub disabled: bool,
}

/// Checks `attempt` against the stored `secret` of `subject`. `audit` names who is acting
/// and on what; the mechanism gives it its action, outcome and reason. A refusal is
/// counted, audited and committed before it is answered.
pub fn check_password(
    db: &mut Db,
    svc: &Services,
    secret: Secret,
    subject: Subject<'_>,
    attempt: &PasswordAttempt,
    audit: &Event,
) -> Result<Proven, AppError> {
    let stored = db::lockout::stored_password(db.conn()?, secret, subject)?;
    let audit = match &stored {
        Some(s) => of_subject(audit, secret, s),
        None => audit.clone(),
    };
    let known = stored.is_some();
    let Some(stored) = stored.filter(|s| !s.locked) else {
        return refuse_unknown_or_locked(db, svc, secret, attempt, &audit, known);
    };
    // argon2 runs with no connection held: a flood of sign-ins cannot starve the pool.
    db.release();
    let right = svc
        .passwords
        .verify(stored.hash.as_deref().unwrap_or_default(), attempt.expose());
    if right {
        return Ok(Proven {
            subject_id: stored.subject_id,
            company_id: stored.company_id,
            disabled: stored.disabled,
        });
    }
    let threshold = svc.threshold(secret);
    let counted = write_tx(db.conn()?, |conn| {
        let counted =
            db::lockout::count_failure(conn, secret, &stored.subject_id, threshold, svc.now())?;
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
        Counted::LockedNow | Counted::Locked => locked(secret),
    })
}

/// Inside the action's transaction: no lock landed while the password was checked, and
/// the count of wrong attempts starts again.
pub fn still_open(conn: &mut DbConn, secret: Secret, subject_id: &str) -> Result<(), AppError> {
    if db::lockout::still_open(conn, secret, subject_id)? {
        Ok(())
    } else {
        Err(locked(secret))
    }
}

/// An unknown subject (a mistyped login ID) or a locked one: audited, no count.
fn refuse_unknown_or_locked(
    db: &mut Db,
    svc: &Services,
    secret: Secret,
    attempt: &PasswordAttempt,
    audit: &Event,
    known: bool,
) -> Result<Proven, AppError> {
    if !known {
        // The same time as a wrong password, so an unknown ID cannot be told apart.
        db.release();
        svc.passwords.verify_dummy(attempt.expose());
    }
    let (action, reason) = match known {
        true => (refused_action(secret), "locked"),
        false => (wrong_action(secret), "unknown_login_id"),
    };
    record(db.conn()?, svc, audit, action, reason)?;
    Err(match known {
        true => locked(secret),
        false => wrong(secret, svc.threshold(secret)),
    })
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

/// A wrong password with `left` tries before the lock. A login says nothing more.
fn wrong(secret: Secret, left: i32) -> AppError {
    match secret {
        Secret::LoginPassword | Secret::OperatorPassword => AppError::new(
            ErrorCode::InvalidCredentials,
            "the login ID or the password is incorrect",
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

pub fn locked(secret: Secret) -> AppError {
    match secret {
        Secret::LoginPassword | Secret::OperatorPassword => AppError::new(
            ErrorCode::AccountLocked,
            "this login is locked after too many wrong passwords; ask your administrator (or, for an administrator, the bank) to unlock it",
        ),
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
