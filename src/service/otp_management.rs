//! OTP management (ワンタイムパスワード認証情報管理): the administrator's token mode,
//! registrations, unregistrations, unlocks and stop — each approved by the approval
//! password — and every person's self-service exchange.

use crate::db::lockout::Subject;
use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{AuditAction, Outcome};
use crate::domain::otp_code::OtpCode;
use crate::domain::soft_token::Purpose;
use crate::domain::token_id::TokenId;
use crate::domain::{
    Company, OtpStatus, PasswordAttempt, Role, Secret, SoftToken, TokenMode, TransferConfirmation,
    User,
};
use crate::error::{AppError, ErrorCode};

use super::lockout::{check_password, still_open};

use super::tokens::{self, CodeUse};
use super::{Person, Refusable, Services, audit, confirmation, in_company};

/// The OTP management screen.
pub struct OtpSettings {
    pub company: Company,
    /// The administrator's token (per_user) or the shared token (shared).
    pub admin_token: Option<SoftToken>,
    pub users: Vec<OtpUser>,
}

pub struct OtpUser {
    pub user: User,
    pub token: Option<SoftToken>,
    pub confirmation: TransferConfirmation,
}

/// The OTP management screen, for the administrator.
pub fn settings_for(db: &mut Db, svc: &Services, who: &Person) -> Result<OtpSettings, AppError> {
    who.require_admin()?;
    settings(db.conn()?, svc, &who.company_id)
}

/// Three queries for any number of people: the company, its people, their tokens.
fn settings(conn: &mut DbConn, svc: &Services, company_id: &str) -> Result<OtpSettings, AppError> {
    let company = db::companies::get(conn, company_id)?;
    let people = db::users::of_company(conn, company_id)?;
    let ids: Vec<&str> = people.iter().map(|u| u.id.as_str()).collect();
    let mut held = db::soft_tokens::held_by_any(conn, &ids)?;
    let admin_token = people
        .iter()
        .find(|u| u.is_admin())
        .and_then(|admin| held.get(&admin.id).cloned());
    let users = people
        .into_iter()
        .map(|user| {
            let token = held.remove(&user.id);
            let confirming = match (company.otp_mode, user.role) {
                (Some(TokenMode::Shared), Role::User) => admin_token.as_ref(),
                _ => token.as_ref(),
            };
            OtpUser {
                confirmation: confirmation(svc, &company, &user, confirming),
                user,
                token,
            }
        })
        .collect();
    Ok(OtpSettings {
        company,
        admin_token,
        users,
    })
}

/// Checks the administrator's approval password (承認用パスワード). Wrong ones are
/// counted and lock approval at the threshold, until a bank operator unlocks it. The
/// count is reset by the approved action itself, in its own transaction ([`approved`]).
pub(super) fn check_approval(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    attempt: &PasswordAttempt,
) -> Result<(), AppError> {
    who.require_admin()?;
    let audited = who.event(AuditAction::ApprovalPasswordFailed, Outcome::Failure);
    let subject = Subject::Id(&who.user_id);
    check_password(
        db,
        svc,
        Secret::ApprovalPassword,
        subject,
        attempt,
        &audited,
    )?;
    Ok(())
}

/// Inside the action's transaction: the approval still holds (no lock landed meanwhile).
pub(super) fn approved(conn: &mut DbConn, svc: &Services, who: &Person) -> Result<(), AppError> {
    still_open(conn, svc, Secret::ApprovalPassword, &who.user_id)
}

/// Runs an approved action in one transaction and answers with the screen.
fn approved_action(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    approval: &PasswordAttempt,
    action: impl FnOnce(&mut DbConn) -> Refusable<()>,
) -> Result<OtpSettings, AppError> {
    check_approval(db, svc, who, approval)?;
    let conn = db.conn()?;
    write_tx(conn, |conn| {
        approved(conn, svc, who)?;
        action(conn)
    })??;
    settings(conn, svc, &who.company_id)
}

pub fn set_mode(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    mode: TokenMode,
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    approved_action(db, svc, who, approval, |conn| {
        let company = db::companies::get(conn, &who.company_id)?;
        if company.otp_active() {
            return Err(AppError::new(
                ErrorCode::OtpActive,
                "the mode can be changed only while one-time passwords are not active",
            ));
        }
        db::companies::set_mode(conn, &company.id, mode, svc.now())?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::ModeSet, Outcome::Success)
                .target("company", &company.id)
                .detail(serde_json::json!({ "mode": mode.as_str() })),
        )?;
        Ok(Ok(()))
    })
}

/// What every registration shares: a token of the company that can still be registered,
/// a current code of it (proof of possession), the binding, the audit event.
fn register(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    token_id: &TokenId,
    code: &OtpCode,
    holder: &User,
) -> Refusable<()> {
    let token = tokens::registrable(conn, svc, &who.company_id, token_id)?;
    let used = CodeUse {
        token: &token,
        seed: None,
        code,
        purpose: Purpose::Registration,
        transfer_id: None,
    };
    if let Err(refused) = tokens::verify_code(conn, svc, who, &used)? {
        return Ok(Err(refused));
    }
    tokens::bind(conn, svc, &token, &who.company_id, &holder.id)?;
    audit::record(
        conn,
        svc,
        who.event(AuditAction::TokenRegistered, Outcome::Success)
            .target("user", &holder.id)
            .detail(serde_json::json!({ "token": token.id, "role": holder.role.as_str() })),
    )?;
    Ok(Ok(()))
}

/// Registers the administrator's token (per_user) or the shared token (shared); the
/// first registration makes one-time passwords active for the company.
pub fn register_admin_token(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    token_id: &TokenId,
    code: &OtpCode,
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    approved_action(db, svc, who, approval, |conn| {
        let company = db::companies::get(conn, &who.company_id)?;
        if company.otp_mode.is_none() {
            return Err(AppError::new(
                ErrorCode::ModeNotSet,
                "choose the token mode (per_user or shared) first",
            ));
        }
        let admin = in_company(conn, &who.company_id, &who.user_id)?;
        if db::soft_tokens::held_by(conn, &admin.id)?.is_some() {
            return Err(AppError::new(
                ErrorCode::TokenAlreadyRegistered,
                "the administrator's token is registered; replacing it is a bank procedure or a token exchange",
            ));
        }
        if let Err(refused) = register(conn, svc, who, token_id, code, &admin)? {
            return Ok(Err(refused));
        }
        if !company.otp_active() {
            db::companies::set_otp_status(conn, &company.id, OtpStatus::Active, svc.now())?;
            audit::record(
                conn,
                svc,
                who.event(AuditAction::OtpActivated, Outcome::Success)
                    .target("company", &company.id),
            )?;
        }
        Ok(Ok(()))
    })
}

/// Registers a user's own token (per_user only, after the administrator's token).
pub fn register_user_token(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    user_id: &str,
    token_id: &TokenId,
    code: &OtpCode,
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    approved_action(db, svc, who, approval, |conn| {
        let target = in_company(conn, &who.company_id, user_id)?;
        let company = db::companies::get(conn, &who.company_id)?;
        if company.otp_mode != Some(TokenMode::PerUser) {
            return Err(AppError::new(
                ErrorCode::PerUserModeRequired,
                "users have tokens of their own only in per_user mode; in shared mode they use the shared token",
            ));
        }
        if target.is_admin() {
            return Err(AppError::forbidden(
                "register the administrator's token with PUT /api/v1/otp/admin-token",
            ));
        }
        if db::soft_tokens::held_by(conn, &who.user_id)?.is_none() {
            return Err(AppError::new(
                ErrorCode::AdminTokenRequired,
                "register the administrator's token first",
            ));
        }
        if db::soft_tokens::held_by(conn, &target.id)?.is_some() {
            return Err(AppError::new(
                ErrorCode::TokenAlreadyRegistered,
                "this user already has a token: unregister it first",
            ));
        }
        register(conn, svc, who, token_id, code, &target)
    })
}

/// A user of the company and the token they hold. The administrator's own (or the
/// shared) token is handled by the bank, with the company seal, never here.
fn users_token(
    conn: &mut DbConn,
    who: &Person,
    user_id: &str,
) -> Result<(User, SoftToken), AppError> {
    let target = in_company(conn, &who.company_id, user_id)?;
    if target.is_admin() {
        return Err(AppError::new(
            ErrorCode::BankProcedureRequired,
            "the administrator's (or the shared) token is a bank procedure: visit your branch",
        ));
    }
    let token = db::soft_tokens::held_by(conn, &target.id)?.ok_or_else(|| {
        AppError::new(
            ErrorCode::TokenNotRegistered,
            format!("user {} has no token", target.login_id),
        )
    })?;
    Ok((target, token))
}

/// Unregisters users' tokens, all or nothing. The administrator's own (or the shared)
/// token is a bank procedure.
pub fn unregister(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    user_ids: &[String],
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    approved_action(db, svc, who, approval, |conn| {
        for user_id in user_ids {
            let (target, token) = users_token(conn, who, user_id)?;
            db::soft_tokens::release(conn, &target.id, svc.now())?;
            audit::record(
                conn,
                svc,
                who.event(AuditAction::TokenUnregistered, Outcome::Success)
                    .target("user", &target.id)
                    .detail(serde_json::json!({ "token": token.id })),
            )?;
        }
        Ok(Ok(()))
    })
}

/// Frees a user's token locked by wrong codes.
pub fn unlock_user_token(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    user_id: &str,
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    approved_action(db, svc, who, approval, |conn| {
        let (target, token) = users_token(conn, who, user_id)?;
        db::lockout::unlock(conn, Secret::TokenCode, &token.id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::TokenUnlocked, Outcome::Success)
                .target("user", &target.id),
        )?;
        Ok(Ok(()))
    })
}

/// Stops one-time passwords (利用停止): every token of the company is released and the
/// fixed transfer passwords apply again. Needs a current code and the approval password.
pub fn stop(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    code: &OtpCode,
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    approved_action(db, svc, who, approval, |conn| {
        let company = db::companies::get(conn, &who.company_id)?;
        if !company.otp_active() {
            return Err(AppError::new(
                ErrorCode::OtpInactive,
                "one-time passwords are not active",
            ));
        }
        let token = db::soft_tokens::held_by(conn, &who.user_id)?.ok_or_else(|| {
            AppError::new(
                ErrorCode::TokenNotRegistered,
                "register the administrator's token again before stopping",
            )
        })?;
        let used = CodeUse {
            token: &token,
            seed: None,
            code,
            purpose: Purpose::Stop,
            transfer_id: None,
        };
        if let Err(refused) = tokens::verify_code(conn, svc, who, &used)? {
            return Ok(Err(refused));
        }
        for person in db::users::of_company(conn, &company.id)? {
            if db::soft_tokens::release(conn, &person.id, svc.now())? > 0 {
                audit::record(
                    conn,
                    svc,
                    who.event(AuditAction::TokenUnregistered, Outcome::Success)
                        .target("user", &person.id),
                )?;
            }
        }
        db::companies::set_otp_status(conn, &company.id, OtpStatus::Inactive, svc.now())?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::OtpStopped, Outcome::Success)
                .target("company", &company.id),
        )?;
        Ok(Ok(()))
    })
}

/// Self-service exchange to a new device while the old one still works: a code of the
/// old token, then the new token's ID and a code of it. Per_user: one's own token;
/// shared: the administrator exchanges the shared token.
pub fn exchange(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    current: &OtpCode,
    new_token_id: &TokenId,
    new_code: &OtpCode,
) -> Result<SoftToken, AppError> {
    write_tx(db.conn()?, |conn| {
        exchange_in(conn, svc, who, current, new_token_id, new_code)
    })?
}

/// The exchange inside the caller's transaction.
pub(super) fn exchange_in(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    current: &OtpCode,
    new_token_id: &TokenId,
    new_code: &OtpCode,
) -> Refusable<SoftToken> {
    {
        let company = db::companies::get(conn, &who.company_id)?;
        if company.otp_mode == Some(TokenMode::Shared) && who.role != Role::Admin {
            return Err(AppError::forbidden(
                "in shared mode the administrator exchanges the shared token",
            ));
        }
        let old = db::soft_tokens::held_by(conn, &who.user_id)?.ok_or_else(|| {
            AppError::new(
                ErrorCode::TokenNotRegistered,
                "you have no registered token to exchange",
            )
        })?;
        let new = tokens::registrable(conn, svc, &who.company_id, new_token_id)?;
        let new_use = CodeUse {
            token: &new,
            seed: None,
            code: new_code,
            purpose: Purpose::Registration,
            transfer_id: None,
        };
        let old_use = CodeUse {
            token: &old,
            seed: None,
            code: current,
            purpose: Purpose::Exchange,
            transfer_id: None,
        };
        // Both codes are judged before either is spent: a refusal of one leaves the other
        // unspent, so the person simply tries again with the same codes.
        let new_step = tokens::check_code(conn, svc, who, &new_use)?;
        let old_step = tokens::check_code(conn, svc, who, &old_use)?;
        let (new_step, old_step) = match (new_step, old_step) {
            (Ok(n), Ok(o)) => (n, o),
            (Err(refused), _) | (_, Err(refused)) => return Ok(Err(refused)),
        };
        // A racing request spent one of them: nothing of this one stands.
        tokens::spend(conn, svc, who, &new_use, new_step)??;
        tokens::spend(conn, svc, who, &old_use, old_step)??;
        db::soft_tokens::release(conn, &who.user_id, svc.now())?;
        tokens::bind(conn, svc, &new, &who.company_id, &who.user_id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::TokenExchanged, Outcome::Success)
                .target("user", &who.user_id)
                .detail(serde_json::json!({ "old_token": old.id, "new_token": new.id })),
        )?;
        Ok(Ok(db::soft_tokens::get(conn, &new.id)?))
    }
}
