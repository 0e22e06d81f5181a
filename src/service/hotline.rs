//! The bank's hotline for a lost, broken or uninstalled device (seeds 003, 004): any
//! person's token — a personal customer's or a company person's — is suspended at once,
//! and later reissued: the token is retired and the person registers a new one.

use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{AuditAction, Outcome};
use crate::domain::{Company, EmailAddress, Role, Secret, SoftToken, User};
use crate::error::{AppError, ErrorCode};

use super::{Operator, Services, audit, unlock_login};

/// A person as the bank's hotline sees them: who, which contract, which token.
pub struct PersonFile {
    pub person: User,
    pub contract: Company,
    /// The token the person holds (in shared mode a user holds none: the administrator
    /// holds the company's).
    pub token: Option<SoftToken>,
}

fn person_file(conn: &mut DbConn, svc: &Services, person_id: &str) -> Result<PersonFile, AppError> {
    let person = db::users::find(conn, person_id)?
        .ok_or_else(|| AppError::not_found("person"))?
        .as_of(svc.now());
    Ok(PersonFile {
        contract: db::companies::get(conn, &person.company_id)?,
        token: db::soft_tokens::held_by(conn, &person.id)?,
        person,
    })
}

pub fn get_person(db: &mut Db, svc: &Services, person_id: &str) -> Result<PersonFile, AppError> {
    person_file(db.conn()?, svc, person_id)
}

/// A procedure on one person's token, in one transaction with its audit event; the
/// answer is the person's file afterwards.
fn on_token(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    person_id: &str,
    act: impl FnOnce(&mut DbConn, &SoftToken) -> Result<(AuditAction, serde_json::Value), AppError>,
) -> Result<PersonFile, AppError> {
    let file = person_file(conn, svc, person_id)?;
    let token = file.token.as_ref().ok_or_else(|| {
        AppError::new(
            ErrorCode::TokenNotRegistered,
            "this person holds no token (in shared mode, act on the administrator's)",
        )
    })?;
    let (action, detail) = act(conn, token)?;
    audit::record(
        conn,
        svc,
        who.event(action, Outcome::Success)
            .company(&file.contract.id)
            .target("user", &file.person.id)
            .detail(detail),
    )?;
    person_file(conn, svc, person_id)
}

/// Suspends a person's token at once: every code of it is refused from this moment, on
/// every instance, until the bank reissues; the person's open sessions end.
pub(super) fn suspend_token(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    person_id: &str,
    reason: &str,
) -> Result<PersonFile, AppError> {
    on_token(conn, svc, who, person_id, |conn, token| {
        if !db::soft_tokens::suspend(conn, &token.id, svc.now())? {
            return Err(AppError::new(
                ErrorCode::TokenSuspended,
                "this token is suspended already",
            ));
        }
        // Sessions on the lost device end too.
        db::sessions::end_all_of(conn, person_id, svc.now())?;
        let detail = serde_json::json!({ "token": token.id, "reason": reason });
        Ok((AuditAction::TokenSuspended, detail))
    })
}

/// Reissues (再発行): the person's token is retired for good, and they register a new one
/// (a personal customer from the login page, a company user through the administrator).
/// The contract's OTP status is unchanged: no code means no transfer until then.
pub(super) fn reissue_token(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    person_id: &str,
    reason: &str,
) -> Result<PersonFile, AppError> {
    on_token(conn, svc, who, person_id, |conn, token| {
        db::soft_tokens::release(conn, person_id, svc.now())?;
        let detail = serde_json::json!({ "token": token.id, "reason": reason });
        Ok((AuditAction::TokenReissued, detail))
    })
}

/// Frees a person's token locked by wrong codes (a suspension stays).
pub fn unlock_token(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    person_id: &str,
) -> Result<PersonFile, AppError> {
    write_tx(db.conn()?, |conn| {
        on_token(conn, svc, who, person_id, |conn, token| {
            db::lockout::unlock(conn, Secret::TokenCode, &token.id)?;
            Ok((
                AuditAction::TokenUnlocked,
                serde_json::json!({ "token": token.id }),
            ))
        })
    })
}

/// Sets (or removes) where a contract's holder — a company's administrator or a personal
/// customer — is told of security events; a company's users are the administrator's.
pub fn set_email(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    person_id: &str,
    email: Option<&EmailAddress>,
) -> Result<PersonFile, AppError> {
    write_tx(db.conn()?, |conn| {
        let file = person_file(conn, svc, person_id)?;
        if file.person.role == Role::User {
            return Err(AppError::forbidden(
                "a company's users' addresses are set by its administrator",
            ));
        }
        let change = db::users::UserChange {
            email: Some(email.map(|e| e.as_str().to_owned())),
            ..Default::default()
        };
        db::users::update(conn, person_id, &change, svc.now())?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::UserUpdated, Outcome::Success)
                .company(&file.contract.id)
                .target("user", person_id)
                .detail(serde_json::json!({ "email": email.is_some() })),
        )?;
        person_file(conn, svc, person_id)
    })
}

/// Frees a person's login and transfer password, locked by wrong entries.
pub fn unlock_login_of(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    person_id: &str,
) -> Result<PersonFile, AppError> {
    write_tx(db.conn()?, |conn| {
        let file = person_file(conn, svc, person_id)?;
        unlock_login(conn, &file.person.id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::LoginUnlocked, Outcome::Success)
                .company(&file.contract.id)
                .target("user", &file.person.id),
        )?;
        person_file(conn, svc, person_id)
    })
}
