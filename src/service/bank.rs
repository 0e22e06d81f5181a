//! The bank's back office: operators, company contracts, and the bank procedures on an
//! administrator's login, approval password and token (done at the branch, with the
//! company seal).

use crate::db::users::PasswordHashes;
use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{AuditAction, Outcome};
use crate::domain::{
    BankOperator, Company, CompanyName, DebitAccount, LoginId, NewPassword, OtpStatus, PersonName,
    Role, Secret, SoftToken, TransferLimit, User,
};
use crate::error::{AppError, ErrorCode};

use super::{
    Operator, Services, audit, ensure_login_id_free, new_id, system_event, unless_duplicate,
    unlock_login,
};

pub struct NewAdmin {
    pub login_id: LoginId,
    pub name: PersonName,
    pub password: NewPassword,
    pub approval_password: NewPassword,
    pub transfer_password: NewPassword,
}

pub struct NewCompany {
    pub name: CompanyName,
    pub transfer_limit: TransferLimit,
    pub accounts: Vec<DebitAccount>,
    pub admin: NewAdmin,
}

/// A company as the bank sees it: contract, accounts, administrator and token state.
pub struct CompanyFile {
    pub company: Company,
    pub accounts: Vec<DebitAccount>,
    pub admin: User,
    /// The administrator's token (per_user) or the shared token (shared).
    pub admin_token: Option<SoftToken>,
}

const OPERATOR_EXISTS: &str = "an operator with this login ID already exists";

pub fn create_operator(
    db: &mut Db,
    svc: &Services,
    login_id: &LoginId,
    name: &PersonName,
    password: &NewPassword,
) -> Result<BankOperator, AppError> {
    let hash = svc.passwords.hash(password.expose())?;
    let now = svc.now();
    let operator = BankOperator {
        id: new_id(),
        login_id: login_id.as_str().to_owned(),
        name: name.as_str().to_owned(),
        lock: None,
        disabled: false,
        created_at: now,
    };
    write_tx(db.conn()?, |conn| {
        if db::operators::by_login_id(conn, login_id.as_str())?.is_some() {
            return Err(AppError::new(ErrorCode::LoginIdTaken, OPERATOR_EXISTS));
        }
        let inserted = db::operators::insert(conn, &operator, hash, now)?;
        unless_duplicate(inserted, ErrorCode::LoginIdTaken, OPERATOR_EXISTS)?;
        audit::record(
            conn,
            svc,
            system_event(AuditAction::OperatorCreated).target("operator", &operator.id),
        )?;
        Ok(operator)
    })
}

pub fn create_company(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    new: NewCompany,
) -> Result<CompanyFile, AppError> {
    let hashes = PasswordHashes {
        login: svc.passwords.hash(new.admin.password.expose())?,
        transfer: svc.passwords.hash(new.admin.transfer_password.expose())?,
        approval: Some(svc.passwords.hash(new.admin.approval_password.expose())?),
    };
    let now = svc.now();
    let company = Company {
        id: new_id(),
        name: new.name.as_str().to_owned(),
        transfer_limit: new.transfer_limit,
        otp_mode: None,
        otp_status: OtpStatus::Inactive,
        otp_activated_at: None,
        created_at: now,
        updated_at: now,
    };
    let admin = User {
        id: new_id(),
        company_id: company.id.clone(),
        login_id: new.admin.login_id.as_str().to_owned(),
        name: new.admin.name.as_str().to_owned(),
        role: Role::Admin,
        can_transfer: true,
        disabled: false,
        login_lock: None,
        transfer_password_locked: false,
        approval_locked: false,
        created_at: now,
        updated_at: now,
    };
    write_tx(db.conn()?, |conn| {
        // Checked inside the write transaction: the unique indexes decide races, these checks
        // give the operator a precise conflict instead of a generic one.
        ensure_login_id_free(conn, &new.admin.login_id)?;
        for a in &new.accounts {
            if db::companies::account_holder(conn, a)?.is_some() {
                return Err(account_taken(&format!(
                    "account {a} already belongs to a company"
                )));
            }
        }
        db::companies::insert(conn, &company)?;
        for a in &new.accounts {
            let inserted = db::companies::insert_account(conn, &new_id(), &company.id, a)?;
            unless_duplicate(
                inserted,
                ErrorCode::AccountAlreadyRegistered,
                "an account already belongs to a company",
            )?;
        }
        unless_duplicate(
            db::users::insert(conn, &admin, hashes)?,
            ErrorCode::LoginIdTaken,
            "this login ID is already in use",
        )?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::CompanyCreated, Outcome::Success)
                .company(&company.id)
                .target("company", &company.id),
        )
    })?;
    Ok(CompanyFile {
        company,
        accounts: new.accounts,
        admin,
        admin_token: None,
    })
}

fn account_taken(detail: &str) -> AppError {
    AppError::new(ErrorCode::AccountAlreadyRegistered, detail)
}

/// Every company: four queries for any number of companies (companies, accounts,
/// administrators, their tokens), joined here.
pub fn list_companies(db: &mut Db, svc: &Services) -> Result<Vec<CompanyFile>, AppError> {
    let conn = db.conn()?;
    let companies = db::companies::all(conn)?;
    let mut accounts = db::companies::all_accounts(conn)?;
    let now = svc.now();
    let mut admins = db::users::admins(conn)?;
    let admin_ids: Vec<&str> = admins.values().map(|a| a.id.as_str()).collect();
    let mut tokens = db::soft_tokens::held_by_any(conn, &admin_ids)?;
    companies
        .into_iter()
        .map(|company| {
            let admin = admins.remove(&company.id).ok_or_else(|| {
                AppError::Internal(format!("company {} has no administrator", company.id))
            })?;
            Ok(CompanyFile {
                accounts: accounts.remove(&company.id).unwrap_or_default(),
                admin_token: tokens.remove(&admin.id),
                admin: admin.as_of(now),
                company,
            })
        })
        .collect()
}

pub fn get_company(db: &mut Db, svc: &Services, company_id: &str) -> Result<CompanyFile, AppError> {
    company_file(db.conn()?, svc, company_id)
}

fn company_file(
    conn: &mut DbConn,
    svc: &Services,
    company_id: &str,
) -> Result<CompanyFile, AppError> {
    let company =
        db::companies::find(conn, company_id)?.ok_or_else(|| AppError::not_found("company"))?;
    let admin = db::users::admin_of(conn, company_id)?.as_of(svc.now());
    Ok(CompanyFile {
        accounts: db::companies::accounts(conn, company_id)?,
        admin_token: db::soft_tokens::held_by(conn, &admin.id)?,
        admin,
        company,
    })
}

/// A bank procedure on one company: `act` runs in the transaction with the company's
/// file, and the answer is the file as it is afterwards.
fn procedure(
    db: &mut Db,
    svc: &Services,
    company_id: &str,
    act: impl FnOnce(&mut DbConn, &CompanyFile) -> Result<(), AppError>,
) -> Result<CompanyFile, AppError> {
    write_tx(db.conn()?, |conn| {
        let file = company_file(conn, svc, company_id)?;
        act(conn, &file)?;
        company_file(conn, svc, company_id)
    })
}

/// Frees the administrator's login and transfer password, locked by wrong entries.
pub fn unlock_admin(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    company_id: &str,
) -> Result<CompanyFile, AppError> {
    procedure(db, svc, company_id, |conn, file| {
        unlock_login(conn, &file.admin.id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::LoginUnlocked, Outcome::Success)
                .company(company_id)
                .target("user", &file.admin.id),
        )
    })
}

fn admin_token(file: &CompanyFile) -> Result<&SoftToken, AppError> {
    file.admin_token.as_ref().ok_or_else(|| {
        AppError::new(
            ErrorCode::TokenNotRegistered,
            "the administrator has no registered token",
        )
    })
}

/// Removes the administrator's (or the shared) token after the administrator's visit to
/// the branch. The company stays active; the administrator registers a new token with
/// token ID, code and approval password.
pub fn reset_admin_token(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    company_id: &str,
    reason: &str,
) -> Result<CompanyFile, AppError> {
    procedure(db, svc, company_id, |conn, file| {
        let token = admin_token(file)?;
        db::soft_tokens::release(conn, &file.admin.id, svc.now())?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::TokenReset, Outcome::Success)
                .company(company_id)
                .target("user", &file.admin.id)
                .detail(serde_json::json!({ "token": token.id, "reason": reason })),
        )
    })
}

/// Frees the administrator's (or the shared) token locked by wrong codes.
pub fn unlock_admin_token(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    company_id: &str,
) -> Result<CompanyFile, AppError> {
    procedure(db, svc, company_id, |conn, file| {
        let token = admin_token(file)?;
        db::lockout::unlock(conn, Secret::TokenCode, &token.id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::TokenUnlocked, Outcome::Success)
                .company(company_id)
                .target("user", &file.admin.id),
        )
    })
}

/// Frees the administrator's approval password locked by wrong entries.
pub fn unlock_approval(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    company_id: &str,
) -> Result<CompanyFile, AppError> {
    procedure(db, svc, company_id, |conn, file| {
        db::lockout::unlock(conn, Secret::ApprovalPassword, &file.admin.id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::ApprovalUnlocked, Outcome::Success)
                .company(company_id)
                .target("user", &file.admin.id),
        )
    })
}

/// The bank's operators, as they stand now.
pub fn list_operators(db: &mut Db, svc: &Services) -> Result<Vec<BankOperator>, AppError> {
    let now = svc.now();
    Ok(db::operators::all(db.conn()?)?
        .into_iter()
        .map(|o| o.as_of(now))
        .collect())
}

/// What can be done to an operator's sign-in, by another operator or at the command line.
#[derive(Clone, Copy, Debug)]
pub enum OperatorChange<'a> {
    /// Lifts a lock from wrong passwords.
    Unlock,
    /// No more sign-ins; open sessions end at once.
    Disable,
    /// A new password (argon2id hash), which also lifts any lock.
    ResetPassword(&'a str),
}

/// Changes an operator's sign-in; `by` is the operator doing it, or `None` for the
/// command line (someone with the server's keys). Audited.
pub fn change_operator(
    db: &mut Db,
    svc: &Services,
    by: Option<&Operator>,
    operator_id: &str,
    change: OperatorChange<'_>,
) -> Result<BankOperator, AppError> {
    if by.is_some_and(|o| o.operator_id == operator_id) {
        return Err(AppError::forbidden(
            "another operator (or the command line) changes your own sign-in",
        ));
    }
    write_tx(db.conn()?, |conn| {
        let target = db::operators::find(conn, operator_id)?
            .ok_or_else(|| AppError::not_found("operator"))?;
        let action = match change {
            OperatorChange::Unlock => {
                db::lockout::unlock(conn, Secret::OperatorPassword, &target.id)?;
                AuditAction::OperatorUnlocked
            }
            OperatorChange::Disable => {
                db::operators::set_disabled(conn, &target.id, true)?;
                db::sessions::end_all_of(conn, &target.id, svc.now())?;
                AuditAction::OperatorDisabled
            }
            OperatorChange::ResetPassword(hash) => {
                db::operators::set_password(conn, &target.id, hash)?;
                db::lockout::unlock(conn, Secret::OperatorPassword, &target.id)?;
                AuditAction::OperatorPasswordReset
            }
        };
        let event = match by {
            Some(operator) => operator.event(action, Outcome::Success),
            None => system_event(action),
        };
        audit::record(conn, svc, event.target("operator", &target.id))?;
        let changed = db::operators::find(conn, &target.id)?
            .ok_or_else(|| AppError::not_found("operator"))?;
        Ok(changed.as_of(svc.now()))
    })
}

/// The operator with this login ID (for the command line).
pub fn operator_by_login_id(db: &mut Db, login_id: &str) -> Result<BankOperator, AppError> {
    db::operators::by_login_id(db.conn()?, login_id)?.ok_or_else(|| AppError::not_found("operator"))
}
