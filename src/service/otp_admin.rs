//! OTP management (ワンタイムパスワード認証情報管理): the administrator's token mode,
//! registrations, unregistrations, unlocks and stop — each approved by the approval
//! password — every person's self-service exchange, and the bank's procedures on the
//! administrator's token.

use diesel::prelude::*;

use crate::db::models::{CompanyRow, SoftTokenRow, UserRow};
use crate::db::schema::{companies, soft_tokens, users};
use crate::db::{DbConn, write_tx};
use crate::domain::otp_code::OtpCode;
use crate::domain::token_id::TokenId;
use crate::domain::{OtpStatus, PasswordAttempt, Role, TokenMode, TransferConfirmation};
use crate::error::{AppError, ErrorCode};

use super::audit::{self, Event, Outcome};
use super::auth::person_is_admin;
use super::bank::CompanyView;
use super::lockout::{Counted, Counter, count_failure};
use super::tokens::{self, Purpose};
use super::users::{company_admin, confirmation_of, find_in_company, load_company, token_held_by};
use super::{Operator, Person, Services};

/// The OTP management screen.
pub struct OtpSettings {
    pub company: CompanyRow,
    pub admin_token: Option<SoftTokenRow>,
    pub users: Vec<OtpUser>,
}

pub struct OtpUser {
    pub user: UserRow,
    pub token: Option<SoftTokenRow>,
    pub confirmation: TransferConfirmation,
}

/// The OTP management screen, for the administrator.
pub fn settings_for(conn: &mut DbConn, who: &Person) -> Result<OtpSettings, AppError> {
    person_is_admin(who)?;
    settings(conn, &who.company_id)
}

fn settings(conn: &mut DbConn, company_id: &str) -> Result<OtpSettings, AppError> {
    let company = load_company(conn, company_id)?;
    let admin = company_admin(conn, company_id)?;
    let admin_token = token_held_by(conn, &admin.id)?;
    let people: Vec<UserRow> = users::table
        .filter(users::company_id.eq(company_id))
        .order((users::created_at.asc(), users::login_id.asc()))
        .select(UserRow::as_select())
        .load(conn)?;
    let mut listed = Vec::with_capacity(people.len());
    for user in people {
        let token = token_held_by(conn, &user.id)?;
        let confirmation = confirmation_of(conn, &company, &user)?;
        listed.push(OtpUser {
            user,
            token,
            confirmation,
        });
    }
    Ok(OtpSettings {
        company,
        admin_token,
        users: listed,
    })
}

/// Checks the administrator's approval password (承認用パスワード). Wrong ones are
/// counted and lock approval at the threshold, until a bank operator unlocks it. The
/// count is reset by the approved action itself, in its own transaction.
fn check_approval(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    attempt: &PasswordAttempt,
) -> Result<UserRow, AppError> {
    person_is_admin(who)?;
    let admin = find_in_company(conn, &who.company_id, &who.user_id)?;
    if admin.approval_locked_at.is_some() {
        audit::record(
            conn,
            svc,
            Event::by_person("approval_refused", Outcome::Denied, who),
        )?;
        return Err(approval_locked());
    }
    let hash = admin.approval_password_hash.clone().unwrap_or_default();
    if svc.passwords.verify(&hash, attempt.expose()) {
        return Ok(admin);
    }
    write_tx(conn, |conn| {
        let counted = count_failure(
            conn,
            Counter::Approval,
            &admin.id,
            svc.policy.approval_lockout_threshold,
            svc.now_naive(),
        )?;
        audit::record(
            conn,
            svc,
            Event::by_person("approval_password_failed", Outcome::Failure, who),
        )?;
        Ok::<_, AppError>(match counted {
            Counted::Remaining(left) => Err(AppError::new(
                ErrorCode::ApprovalPasswordInvalid,
                "the approval password is not correct",
            )
            .with_remaining_attempts(left)),
            Counted::LockedNow => {
                audit::record(
                    conn,
                    svc,
                    Event::by_person("approval_locked", Outcome::Success, who),
                )?;
                Err(approval_locked())
            }
            Counted::Locked => Err(approval_locked()),
        })
    })?
}

/// Inside the action's transaction: the approval still holds (no lock landed meanwhile)
/// and its failure count starts again.
fn approved(conn: &mut DbConn, admin: &UserRow) -> Result<(), AppError> {
    let reset = diesel::update(
        users::table
            .find(&admin.id)
            .filter(users::approval_locked_at.is_null()),
    )
    .set(users::approval_failures.eq(0))
    .execute(conn)?;
    if reset == 0 {
        return Err(approval_locked());
    }
    Ok(())
}

fn approval_locked() -> AppError {
    AppError::new(
        ErrorCode::ApprovalLocked,
        "approval is locked after too many wrong approval passwords; the bank unlocks it",
    )
}

/// Commits a refused code's bookkeeping, then answers with the refusal.
fn committed<T>(outcome: Result<Result<T, AppError>, AppError>) -> Result<T, AppError> {
    outcome?
}

pub fn set_mode(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    mode: TokenMode,
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    let admin = check_approval(conn, svc, who, approval)?;
    write_tx(conn, |conn| {
        approved(conn, &admin)?;
        let company = load_company(conn, &who.company_id)?;
        if company.status() == OtpStatus::Active {
            return Err(AppError::new(
                ErrorCode::OtpActive,
                "the mode can be changed only while one-time passwords are not active",
            ));
        }
        diesel::update(companies::table.find(&company.id))
            .set((
                companies::otp_mode.eq(mode.as_str()),
                companies::updated_at.eq(svc.now_naive()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            svc,
            Event::by_person("mode_set", Outcome::Success, who)
                .target("company", &company.id)
                .detail(serde_json::json!({ "mode": mode.as_str() })),
        )?;
        Ok(())
    })?;
    settings(conn, &who.company_id)
}

/// What every registration shares: a token of the company that can still be registered,
/// a current code of it (proof of possession), the binding, the audit event.
fn register(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    token_id: &TokenId,
    code: &OtpCode,
    holder: &UserRow,
) -> Result<Result<(), AppError>, AppError> {
    let token = tokens::registrable(conn, svc, &who.company_id, token_id)?;
    if let Err(refused) =
        tokens::verify_code(conn, svc, who, &token.id, code, Purpose::Registration, None)?
    {
        return Ok(Err(refused));
    }
    tokens::bind(conn, svc, &token, &who.company_id, &holder.id)?;
    audit::record(
        conn,
        svc,
        Event::by_person("token_registered", Outcome::Success, who)
            .target("user", &holder.id)
            .detail(serde_json::json!({ "token": token.id, "role": holder.role })),
    )?;
    Ok(Ok(()))
}

/// Registers the administrator's token (per_user) or the shared token (shared); the
/// first registration makes one-time passwords active for the company.
pub fn register_admin_token(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    token_id: &TokenId,
    code: &OtpCode,
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    let admin = check_approval(conn, svc, who, approval)?;
    committed(write_tx(conn, |conn| {
        approved(conn, &admin)?;
        let company = load_company(conn, &who.company_id)?;
        if company.mode().is_none() {
            return Err(AppError::new(
                ErrorCode::ModeNotSet,
                "choose the token mode (per_user or shared) first",
            ));
        }
        if token_held_by(conn, &admin.id)?.is_some() {
            return Err(AppError::new(
                ErrorCode::TokenAlreadyRegistered,
                "the administrator's token is registered; replacing it is a bank procedure or a token exchange",
            ));
        }
        if let Err(refused) = register(conn, svc, who, token_id, code, &admin)? {
            return Ok(Err(refused));
        }
        if company.status() == OtpStatus::Inactive {
            diesel::update(companies::table.find(&company.id))
                .set((
                    companies::otp_status.eq(OtpStatus::Active.as_str()),
                    companies::otp_activated_at.eq(svc.now_naive()),
                    companies::updated_at.eq(svc.now_naive()),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                svc,
                Event::by_person("otp_activated", Outcome::Success, who)
                    .target("company", &company.id),
            )?;
        }
        Ok(Ok(()))
    }))?;
    settings(conn, &who.company_id)
}

/// Registers a user's own token (per_user only, after the administrator's token).
pub fn register_user_token(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    user_id: &str,
    token_id: &TokenId,
    code: &OtpCode,
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    let admin = check_approval(conn, svc, who, approval)?;
    committed(write_tx(conn, |conn| {
        approved(conn, &admin)?;
        let target = find_in_company(conn, &who.company_id, user_id)?;
        let company = load_company(conn, &who.company_id)?;
        if company.mode() != Some(TokenMode::PerUser) {
            return Err(AppError::new(
                ErrorCode::PerUserModeRequired,
                "users have tokens of their own only in per_user mode; in shared mode they use the shared token",
            ));
        }
        if target.role() == Role::Admin {
            return Err(AppError::forbidden(
                "register the administrator's token with PUT /api/v1/otp/admin-token",
            ));
        }
        if token_held_by(conn, &admin.id)?.is_none() {
            return Err(AppError::new(
                ErrorCode::AdminTokenRequired,
                "register the administrator's token first",
            ));
        }
        if token_held_by(conn, &target.id)?.is_some() {
            return Err(AppError::new(
                ErrorCode::TokenAlreadyRegistered,
                "this user already has a token: unregister it first",
            ));
        }
        register(conn, svc, who, token_id, code, &target)
    }))?;
    settings(conn, &who.company_id)
}

/// A user of the company and the token they hold. The administrator's own (or the
/// shared) token is handled by the bank, with the company seal, never here.
fn users_token(
    conn: &mut DbConn,
    who: &Person,
    user_id: &str,
) -> Result<(UserRow, SoftTokenRow), AppError> {
    let target = find_in_company(conn, &who.company_id, user_id)?;
    if target.role() == Role::Admin {
        return Err(AppError::new(
            ErrorCode::BankProcedureRequired,
            "the administrator's (or the shared) token is a bank procedure: visit your branch",
        ));
    }
    let token = token_held_by(conn, &target.id)?.ok_or_else(|| {
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
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    user_ids: &[String],
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    let admin = check_approval(conn, svc, who, approval)?;
    write_tx(conn, |conn| {
        approved(conn, &admin)?;
        for user_id in user_ids {
            let (target, token) = users_token(conn, who, user_id)?;
            tokens::release(conn, svc, &target.id)?;
            audit::record(
                conn,
                svc,
                Event::by_person("token_unregistered", Outcome::Success, who)
                    .target("user", &target.id)
                    .detail(serde_json::json!({ "token": token.id })),
            )?;
        }
        Ok::<_, AppError>(())
    })?;
    settings(conn, &who.company_id)
}

/// Frees a user's token locked by wrong codes.
pub fn unlock_user_token(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    user_id: &str,
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    let admin = check_approval(conn, svc, who, approval)?;
    write_tx(conn, |conn| {
        approved(conn, &admin)?;
        let (target, token) = users_token(conn, who, user_id)?;
        tokens::unlock(conn, &token.id)?;
        audit::record(
            conn,
            svc,
            Event::by_person("token_unlocked", Outcome::Success, who).target("user", &target.id),
        )?;
        Ok::<_, AppError>(())
    })?;
    settings(conn, &who.company_id)
}

/// Stops one-time passwords (利用停止): every token of the company is released and the
/// fixed transfer passwords apply again. Needs a current code and the approval password.
pub fn stop(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    code: &OtpCode,
    approval: &PasswordAttempt,
) -> Result<OtpSettings, AppError> {
    let admin = check_approval(conn, svc, who, approval)?;
    committed(write_tx(conn, |conn| {
        approved(conn, &admin)?;
        let company = load_company(conn, &who.company_id)?;
        if company.status() != OtpStatus::Active {
            return Err(AppError::new(
                ErrorCode::OtpInactive,
                "one-time passwords are not active",
            ));
        }
        let token = token_held_by(conn, &admin.id)?.ok_or_else(|| {
            AppError::new(
                ErrorCode::TokenNotRegistered,
                "register the administrator's token again before stopping",
            )
        })?;
        if let Err(refused) =
            tokens::verify_code(conn, svc, who, &token.id, code, Purpose::Stop, None)?
        {
            return Ok(Err(refused));
        }
        let people: Vec<String> = users::table
            .filter(users::company_id.eq(&company.id))
            .select(users::id)
            .load(conn)?;
        for person in &people {
            if tokens::release(conn, svc, person)? > 0 {
                audit::record(
                    conn,
                    svc,
                    Event::by_person("token_unregistered", Outcome::Success, who)
                        .target("user", person),
                )?;
            }
        }
        diesel::update(companies::table.find(&company.id))
            .set((
                companies::otp_status.eq(OtpStatus::Inactive.as_str()),
                companies::otp_activated_at.eq(None::<chrono::NaiveDateTime>),
                companies::updated_at.eq(svc.now_naive()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            svc,
            Event::by_person("otp_stopped", Outcome::Success, who).target("company", &company.id),
        )?;
        Ok(Ok(()))
    }))?;
    settings(conn, &who.company_id)
}

/// Self-service exchange to a new device while the old one still works: a code of the
/// old token, then the new token's ID and a code of it. Per_user: one's own token;
/// shared: the administrator exchanges the shared token.
pub fn exchange(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    current: &OtpCode,
    new_token_id: &TokenId,
    new_code: &OtpCode,
) -> Result<SoftTokenRow, AppError> {
    committed(write_tx(conn, |conn| {
        let company = load_company(conn, &who.company_id)?;
        if company.mode() == Some(TokenMode::Shared) && who.role != Role::Admin {
            return Err(AppError::forbidden(
                "in shared mode the administrator exchanges the shared token",
            ));
        }
        let old = token_held_by(conn, &who.user_id)?.ok_or_else(|| {
            AppError::new(
                ErrorCode::TokenNotRegistered,
                "you have no registered token to exchange",
            )
        })?;
        let new = tokens::registrable(conn, svc, &who.company_id, new_token_id)?;
        // The new device first: a mistyped new code then leaves the old code unspent, and
        // the person can simply try again.
        if let Err(refused) = tokens::verify_code(
            conn,
            svc,
            who,
            &new.id,
            new_code,
            Purpose::Registration,
            None,
        )? {
            return Ok(Err(refused));
        }
        if let Err(refused) =
            tokens::verify_code(conn, svc, who, &old.id, current, Purpose::Exchange, None)?
        {
            return Ok(Err(refused));
        }
        tokens::release(conn, svc, &who.user_id)?;
        tokens::bind(conn, svc, &new, &who.company_id, &who.user_id)?;
        audit::record(
            conn,
            svc,
            Event::by_person("token_exchanged", Outcome::Success, who)
                .target("user", &who.user_id)
                .detail(serde_json::json!({ "old_token": old.id, "new_token": new.id })),
        )?;
        Ok(Ok(soft_tokens::table
            .find(&new.id)
            .select(SoftTokenRow::as_select())
            .first(conn)?))
    }))
}

/// Bank procedure: removes the administrator's (or the shared) token after the
/// administrator's visit to the branch. The company stays active; the administrator
/// registers a new token with token ID, code and approval password.
pub fn bank_reset_admin_token(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    company_id: &str,
    reason: &str,
) -> Result<CompanyView, AppError> {
    write_tx(conn, |conn| {
        let view = super::bank::get_company(conn, company_id)?;
        let token = view.admin_token.ok_or_else(|| {
            AppError::new(
                ErrorCode::TokenNotRegistered,
                "the administrator has no registered token",
            )
        })?;
        tokens::release(conn, svc, &view.admin.id)?;
        audit::record(
            conn,
            svc,
            Event::by_operator("token_reset", Outcome::Success, who)
                .company(company_id)
                .target("user", &view.admin.id)
                .detail(serde_json::json!({ "token": token.id, "reason": reason })),
        )?;
        super::bank::get_company(conn, company_id)
    })
}

/// Bank procedure: frees the administrator's (or the shared) token locked by wrong codes.
pub fn bank_unlock_admin_token(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    company_id: &str,
) -> Result<CompanyView, AppError> {
    write_tx(conn, |conn| {
        let view = super::bank::get_company(conn, company_id)?;
        let token = view.admin_token.ok_or_else(|| {
            AppError::new(
                ErrorCode::TokenNotRegistered,
                "the administrator has no registered token",
            )
        })?;
        tokens::unlock(conn, &token.id)?;
        audit::record(
            conn,
            svc,
            Event::by_operator("token_unlocked", Outcome::Success, who)
                .company(company_id)
                .target("user", &view.admin.id),
        )?;
        super::bank::get_company(conn, company_id)
    })
}

/// Bank procedure: frees the administrator's approval password locked by wrong entries.
pub fn bank_unlock_approval(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    company_id: &str,
) -> Result<CompanyView, AppError> {
    write_tx(conn, |conn| {
        let view = super::bank::get_company(conn, company_id)?;
        diesel::update(users::table.find(&view.admin.id))
            .set((
                users::approval_failures.eq(0),
                users::approval_locked_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            svc,
            Event::by_operator("approval_unlocked", Outcome::Success, who)
                .company(company_id)
                .target("user", &view.admin.id),
        )?;
        super::bank::get_company(conn, company_id)
    })
}
