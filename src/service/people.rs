//! Every person's own profile, and the administrator's user administration.

use crate::config::policy::CodesAsked;
use crate::db::users::{PasswordHashes, UserChange};
use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{AuditAction, Outcome};
use crate::domain::{
    Company, EmailAddress, LoginId, NewPassword, PersonName, Role, SoftToken, TransferConfirmation,
    User,
};
use crate::error::{AppError, ErrorCode};

use super::{
    LOGIN_ID_TAKEN, Person, Services, acting_token, audit, confirmation, ensure_login_id_free,
    in_company, new_id, unless_duplicate, unlock_login,
};

pub struct NewUser {
    pub login_id: LoginId,
    pub name: PersonName,
    pub password: NewPassword,
    pub transfer_password: NewPassword,
    pub can_transfer: bool,
    pub can_approve: bool,
}

#[derive(Default)]
pub struct UserPatch {
    pub name: Option<PersonName>,
    pub can_transfer: Option<bool>,
    pub can_approve: Option<bool>,
    pub disabled: Option<bool>,
    /// `Some(None)` removes the address.
    pub email: Option<Option<EmailAddress>>,
}

/// A person as they see themselves: who, which company, which token, and how their next
/// one-off transfer is confirmed.
pub struct Profile {
    pub user: User,
    pub company: Company,
    /// The token that confirms the person's transfers: their own, or the shared one.
    pub token: Option<SoftToken>,
    pub confirmation: TransferConfirmation,
    /// Where the bank asks the person's kind of contract for codes.
    pub codes: CodesAsked,
}

pub fn profile(db: &mut Db, svc: &Services, who: &Person) -> Result<Profile, AppError> {
    let conn = db.conn()?;
    let user = who.user.clone().as_of(svc.now());
    let company = who.company.clone();
    let token = acting_token(conn, who)?;
    Ok(Profile {
        confirmation: confirmation(svc, &company, &user, token.as_ref()),
        codes: svc.policy.codes_asked(company.kind),
        user,
        company,
        token,
    })
}

pub fn list(db: &mut Db, svc: &Services, who: &Person) -> Result<Vec<User>, AppError> {
    who.require_admin()?;
    let now = svc.now();
    Ok(db::users::of_company(db.conn()?, &who.company_id)?
        .into_iter()
        .map(|u| u.as_of(now))
        .collect())
}

pub fn create(db: &mut Db, svc: &Services, who: &Person, new: NewUser) -> Result<User, AppError> {
    who.require_admin()?;
    // Hashed before a connection is taken: argon2 must hold neither a connection nor
    // the write lock.
    let hashes = PasswordHashes {
        login: svc.passwords.hash(new.password.expose())?,
        transfer: svc.passwords.hash(new.transfer_password.expose())?,
        approval: None,
    };
    let now = svc.now();
    let user = User {
        id: new_id(),
        company_id: who.company_id.clone(),
        login_id: new.login_id.as_str().to_owned(),
        name: new.name.as_str().to_owned(),
        role: Role::User,
        can_transfer: new.can_transfer,
        can_approve: new.can_approve,
        disabled: false,
        email: None,
        login_lock: None,
        transfer_password_locked: false,
        approval_locked: false,
        created_at: now,
        updated_at: now,
    };
    write_tx(db.conn()?, |conn| {
        ensure_open(conn, &who.company_id)?;
        ensure_login_id_free(conn, new.login_id.as_str())?;
        unless_duplicate(
            db::users::insert(conn, &user, hashes)?,
            ErrorCode::LoginIdTaken,
            LOGIN_ID_TAKEN,
        )?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::UserCreated, Outcome::Success)
                .target("user", &user.id),
        )?;
        Ok(user)
    })
}

pub fn update(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    user_id: &str,
    patch: UserPatch,
) -> Result<User, AppError> {
    who.require_admin()?;
    write_tx(db.conn()?, |conn| {
        let target = a_user(
            conn,
            who,
            user_id,
            "the administrator's own settings are changed by the bank",
        )?;
        if patch.disabled == Some(false) {
            ensure_open(conn, &who.company_id)?;
        }
        let change = UserChange {
            name: patch.name.as_ref().map(|n| n.as_str().to_owned()),
            can_transfer: patch.can_transfer,
            can_approve: patch.can_approve,
            disabled: patch.disabled,
            email: patch
                .email
                .as_ref()
                .map(|e| e.as_ref().map(|a| a.as_str().to_owned())),
        };
        db::users::update(conn, &target.id, &change, svc.now())?;
        // Disabling takes effect at once: open sessions end too, on every instance.
        if patch.disabled == Some(true) && !target.disabled {
            db::sessions::end_all_of(conn, &target.id, svc.now())?;
        }
        let changes = serde_json::json!({
            "name": patch.name.is_some(),
            "can_transfer": patch.can_transfer,
            "can_approve": patch.can_approve,
            "disabled": patch.disabled,
            "email": patch.email.is_some(),
        });
        audit::record(
            conn,
            svc,
            who.event(AuditAction::UserUpdated, Outcome::Success)
                .target("user", &target.id)
                .detail(changes),
        )?;
        Ok(in_company(conn, &who.company_id, &target.id)?.as_of(svc.now()))
    })
}

/// Frees a user's login and transfer password, locked by wrong entries.
pub fn unlock(db: &mut Db, svc: &Services, who: &Person, user_id: &str) -> Result<User, AppError> {
    who.require_admin()?;
    write_tx(db.conn()?, |conn| {
        let target = a_user(
            conn,
            who,
            user_id,
            "the administrator's login is unlocked by the bank",
        )?;
        unlock_login(conn, &target.id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::LoginUnlocked, Outcome::Success)
                .target("user", &target.id),
        )?;
        Ok(in_company(conn, &who.company_id, &target.id)?.as_of(svc.now()))
    })
}

/// Inside the transaction: the bank has not closed the contract meanwhile (a closed
/// contract gains no one who can sign in).
fn ensure_open(conn: &mut DbConn, company_id: &str) -> Result<(), AppError> {
    if db::companies::get(conn, company_id)?.closed_at.is_some() {
        return Err(AppError::new(
            ErrorCode::ContractClosed,
            "the bank closed this contract",
        ));
    }
    Ok(())
}

/// A user of the caller's company who is not the administrator: the administrator is
/// the bank's counterpart for the contract, so only the bank changes them.
fn a_user(conn: &mut DbConn, who: &Person, user_id: &str, why: &str) -> Result<User, AppError> {
    let target = in_company(conn, &who.company_id, user_id)?;
    if target.is_admin() {
        return Err(AppError::new(ErrorCode::BankProcedureRequired, why));
    }
    Ok(target)
}
