//! The administrator's user administration, and every person's own profile.

use diesel::prelude::*;

use crate::db::models::{CompanyRow, SoftTokenRow, UserRow};
use crate::db::schema::{companies, soft_tokens, users};
use crate::db::{DbConn, write_tx};
use crate::domain::confirmation::{ConfirmingToken, transfer_confirmation};
use crate::domain::{LoginId, NewPassword, PersonName, Role, TokenMode, TransferConfirmation};
use crate::error::{AppError, ErrorCode};

use super::audit::{self, Event, Outcome};
use super::auth::{end_sessions_of, person_is_admin};
use super::{Person, Services, new_id, unique_violation};

pub struct NewUser {
    pub login_id: LoginId,
    pub name: PersonName,
    pub password: NewPassword,
    pub transfer_password: NewPassword,
    pub can_transfer: bool,
}

#[derive(Default)]
pub struct UserPatch {
    pub name: Option<PersonName>,
    pub can_transfer: Option<bool>,
    pub disabled: Option<bool>,
}

/// A person as they see themselves: who, which company, which token, and how their next
/// one-off transfer is confirmed.
pub struct Profile {
    pub user: UserRow,
    pub company: CompanyRow,
    /// The token that confirms this person's transfers: their own, or the shared one.
    pub token: Option<SoftTokenRow>,
    pub confirmation: TransferConfirmation,
}

pub fn profile(conn: &mut DbConn, who: &Person) -> Result<Profile, AppError> {
    let user = find_in_company(conn, &who.company_id, &who.user_id)?;
    let company = load_company(conn, &who.company_id)?;
    let token = confirming_token(conn, &company, &user)?;
    let confirmation = confirmation(&company, &user, token.as_ref());
    Ok(Profile {
        user,
        company,
        token,
        confirmation,
    })
}

pub(crate) fn load_company(conn: &mut DbConn, company_id: &str) -> Result<CompanyRow, AppError> {
    Ok(companies::table
        .find(company_id)
        .select(CompanyRow::as_select())
        .first(conn)?)
}

/// The token that confirms `user`'s transfers: their own, or in shared mode the
/// company's token, which the administrator holds.
pub(crate) fn confirming_token(
    conn: &mut DbConn,
    company: &CompanyRow,
    user: &UserRow,
) -> Result<Option<SoftTokenRow>, AppError> {
    let holder = match (company.mode(), user.role()) {
        (Some(TokenMode::Shared), Role::User) => company_admin(conn, &company.id)?.id,
        _ => user.id.clone(),
    };
    token_held_by(conn, &holder)
}

/// How `user` confirms a one-off transfer now (SPEC §3, rule 3), given the token that
/// would confirm it.
pub(crate) fn confirmation(
    company: &CompanyRow,
    user: &UserRow,
    token: Option<&SoftTokenRow>,
) -> TransferConfirmation {
    let token = match token {
        None => ConfirmingToken::None,
        Some(t) if t.locked_at.is_some() => ConfirmingToken::Locked,
        Some(_) => ConfirmingToken::Active,
    };
    transfer_confirmation(
        company.status(),
        user.may_transfer(),
        user.transfer_password_locked_at.is_some(),
        token,
    )
}

pub(crate) fn confirmation_of(
    conn: &mut DbConn,
    company: &CompanyRow,
    user: &UserRow,
) -> Result<TransferConfirmation, AppError> {
    let token = confirming_token(conn, company, user)?;
    Ok(confirmation(company, user, token.as_ref()))
}

pub(crate) fn token_held_by(
    conn: &mut DbConn,
    user_id: &str,
) -> Result<Option<SoftTokenRow>, AppError> {
    Ok(soft_tokens::table
        .filter(soft_tokens::holder_id.eq(user_id))
        .select(SoftTokenRow::as_select())
        .first(conn)
        .optional()?)
}

pub(crate) fn company_admin(conn: &mut DbConn, company_id: &str) -> Result<UserRow, AppError> {
    Ok(users::table
        .filter(users::company_id.eq(company_id))
        .filter(users::role.eq(Role::Admin.as_str()))
        .select(UserRow::as_select())
        .first(conn)?)
}

/// A person of the company, or 404: another company's people do not exist for the caller.
pub(crate) fn find_in_company(
    conn: &mut DbConn,
    company_id: &str,
    user_id: &str,
) -> Result<UserRow, AppError> {
    users::table
        .filter(users::id.eq(user_id))
        .filter(users::company_id.eq(company_id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("user"))
}

pub fn list(conn: &mut DbConn, who: &Person) -> Result<Vec<UserRow>, AppError> {
    person_is_admin(who)?;
    Ok(users::table
        .filter(users::company_id.eq(&who.company_id))
        .order((users::created_at.asc(), users::login_id.asc()))
        .select(UserRow::as_select())
        .load(conn)?)
}

pub fn create(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    new: NewUser,
) -> Result<UserRow, AppError> {
    person_is_admin(who)?;
    // Hash before the transaction: argon2 must not hold the write lock.
    let password_hash = svc.passwords.hash(new.password.expose())?;
    let transfer_password_hash = svc.passwords.hash(new.transfer_password.expose())?;
    let now = svc.now_naive();
    let row = UserRow {
        id: new_id(),
        company_id: who.company_id.clone(),
        login_id: new.login_id.as_str().to_owned(),
        name: new.name.as_str().to_owned(),
        role: Role::User.as_str().to_owned(),
        can_transfer: new.can_transfer,
        disabled: false,
        password_hash,
        failed_logins: 0,
        login_locked_at: None,
        transfer_password_hash,
        transfer_password_failures: 0,
        transfer_password_locked_at: None,
        approval_password_hash: None,
        approval_failures: 0,
        approval_locked_at: None,
        created_at: now,
        updated_at: now,
    };
    write_tx(conn, |conn| {
        ensure_login_id_free(conn, &new.login_id)?;
        diesel::insert_into(users::table)
            .values(&row)
            .execute(conn)
            .map_err(|e| {
                unique_violation(
                    e,
                    ErrorCode::LoginIdTaken,
                    "this login ID is already in use",
                )
            })?;
        audit::record(
            conn,
            svc,
            Event::by_person("user_created", Outcome::Success, who).target("user", &row.id),
        )?;
        Ok(row.clone())
    })
}

pub(crate) fn ensure_login_id_free(conn: &mut DbConn, login_id: &LoginId) -> Result<(), AppError> {
    let taken: i64 = users::table
        .filter(users::login_id.eq(login_id.as_str()))
        .count()
        .get_result(conn)?;
    if taken > 0 {
        return Err(AppError::new(
            ErrorCode::LoginIdTaken,
            "this login ID is already in use",
        ));
    }
    Ok(())
}

pub fn update(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    user_id: &str,
    patch: UserPatch,
) -> Result<UserRow, AppError> {
    person_is_admin(who)?;
    write_tx(conn, |conn| {
        let target = find_in_company(conn, &who.company_id, user_id)?;
        // The administrator is the bank's counterpart for the contract: only the bank changes it.
        if target.role() == Role::Admin {
            return Err(AppError::new(
                ErrorCode::BankProcedureRequired,
                "the administrator's own settings are changed by the bank",
            ));
        }
        let now = svc.now_naive();
        let target_q = users::table.find(&target.id);
        if let Some(name) = &patch.name {
            diesel::update(target_q)
                .set(users::name.eq(name.as_str()))
                .execute(conn)?;
        }
        if let Some(can_transfer) = patch.can_transfer {
            diesel::update(target_q)
                .set(users::can_transfer.eq(can_transfer))
                .execute(conn)?;
        }
        if let Some(disabled) = patch.disabled {
            diesel::update(target_q)
                .set(users::disabled.eq(disabled))
                .execute(conn)?;
            // Disabling takes effect at once: open sessions end too, on every instance.
            if disabled && !target.disabled {
                end_sessions_of(conn, svc.now(), &target.id)?;
            }
        }
        diesel::update(target_q)
            .set(users::updated_at.eq(now))
            .execute(conn)?;
        let changes = serde_json::json!({
            "name": patch.name.is_some(),
            "can_transfer": patch.can_transfer,
            "disabled": patch.disabled,
        });
        audit::record(
            conn,
            svc,
            Event::by_person("user_updated", Outcome::Success, who)
                .target("user", &target.id)
                .detail(changes),
        )?;
        Ok(users::table
            .find(&target.id)
            .select(UserRow::as_select())
            .first(conn)?)
    })
}

/// Frees a user's login and transfer password, locked by wrong entries.
pub fn unlock(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    user_id: &str,
) -> Result<UserRow, AppError> {
    person_is_admin(who)?;
    write_tx(conn, |conn| {
        let target = find_in_company(conn, &who.company_id, user_id)?;
        if target.role == Role::Admin.as_str() {
            return Err(AppError::new(
                ErrorCode::BankProcedureRequired,
                "the administrator's login is unlocked by the bank",
            ));
        }
        diesel::update(users::table.find(&target.id))
            .set((
                users::failed_logins.eq(0),
                users::login_locked_at.eq(None::<chrono::NaiveDateTime>),
                users::transfer_password_failures.eq(0),
                users::transfer_password_locked_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            svc,
            Event::by_person("login_unlocked", Outcome::Success, who).target("user", &target.id),
        )?;
        Ok(users::table
            .find(&target.id)
            .select(UserRow::as_select())
            .first(conn)?)
    })
}
