//! The bank's back office: operators, company and personal contracts, and the bank
//! procedures on an administrator's login, approval password and token (done at the
//! branch, with the company seal).

use crate::db::users::PasswordHashes;
use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{AuditAction, Event, Outcome};
use crate::domain::{
    BankOperator, Company, CompanyName, ContractKind, DebitAccount, LoginId, LoginMethod,
    NewPassword, OtpStatus, PersonName, Role, Secret, SoftToken, TokenMode, TransferLimit, User,
};
use crate::error::{AppError, ErrorCode};

use super::{
    LOGIN_ID_TAKEN, Operator, Services, audit, ensure_login_id_free, new_id, system_event,
    unless_duplicate, unlock_login,
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

/// A personal contract (個人): one customer, identified by the contract ID (契約者ID).
pub struct NewPersonalContract {
    pub contract_id: LoginId,
    pub name: PersonName,
    pub transfer_limit: TransferLimit,
    pub accounts: Vec<DebitAccount>,
    pub password: NewPassword,
    /// The funds-transfer password (資金移動用パスワード), used while no code is.
    pub transfer_password: NewPassword,
}

/// A contract as the bank sees it: contract, accounts, holder and token state.
pub struct ContractFile {
    pub company: Company,
    pub accounts: Vec<DebitAccount>,
    /// A company's administrator, or a personal contract's customer.
    pub holder: User,
    /// The holder's token: for a company the administrator's (per_user) or the shared one.
    pub holder_token: Option<SoftToken>,
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
) -> Result<ContractFile, AppError> {
    let hashes = PasswordHashes {
        login: svc.passwords.hash(new.admin.password.expose())?,
        transfer: svc.passwords.hash(new.admin.transfer_password.expose())?,
        approval: Some(svc.passwords.hash(new.admin.approval_password.expose())?),
    };
    let company = contract(
        svc,
        ContractKind::Corporate,
        new.name.as_str(),
        new.transfer_limit,
    );
    let admin = holder(
        svc,
        &company,
        Role::Admin,
        &new.admin.login_id,
        &new.admin.name,
    );
    let event = who.event(AuditAction::CompanyCreated, Outcome::Success);
    open_contract(db, svc, company, new.accounts, admin, hashes, event)
}

/// Opens a personal contract: the customer signs in with the contract ID, and registers
/// a token from the login page when they choose to.
pub fn open_personal_contract(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    new: NewPersonalContract,
) -> Result<ContractFile, AppError> {
    let hashes = PasswordHashes {
        login: svc.passwords.hash(new.password.expose())?,
        transfer: svc.passwords.hash(new.transfer_password.expose())?,
        approval: None,
    };
    let mut contract = contract(
        svc,
        ContractKind::Personal,
        new.name.as_str(),
        new.transfer_limit,
    );
    // One person, one token of their own.
    contract.otp_mode = Some(TokenMode::PerUser);
    let customer = holder(svc, &contract, Role::Customer, &new.contract_id, &new.name);
    let event = who.event(AuditAction::PersonalContractOpened, Outcome::Success);
    open_contract(db, svc, contract, new.accounts, customer, hashes, event)
}

fn contract(svc: &Services, kind: ContractKind, name: &str, limit: TransferLimit) -> Company {
    let now = svc.now();
    Company {
        id: new_id(),
        kind,
        name: name.to_owned(),
        transfer_limit: limit,
        otp_mode: None,
        otp_status: OtpStatus::Inactive,
        otp_activated_at: None,
        created_at: now,
        updated_at: now,
        closed_at: None,
        login_method: LoginMethod::Password,
        approval_policy: None,
    }
}

fn holder(
    svc: &Services,
    contract: &Company,
    role: Role,
    login_id: &LoginId,
    name: &PersonName,
) -> User {
    let now = svc.now();
    User {
        id: new_id(),
        company_id: contract.id.clone(),
        login_id: login_id.as_str().to_owned(),
        name: name.as_str().to_owned(),
        role,
        can_transfer: true,
        can_approve: false,
        disabled: false,
        email: None,
        login_lock: None,
        transfer_password_locked: false,
        approval_locked: false,
        created_at: now,
        updated_at: now,
    }
}

/// The contract, its accounts and its holder, in one transaction with the audit event.
fn open_contract(
    db: &mut Db,
    svc: &Services,
    company: Company,
    accounts: Vec<DebitAccount>,
    holder: User,
    hashes: PasswordHashes,
    event: Event,
) -> Result<ContractFile, AppError> {
    write_tx(db.conn()?, |conn| {
        // Checked inside the write transaction: the unique indexes decide races, these checks
        // give the operator a precise conflict instead of a generic one.
        ensure_login_id_free(conn, &holder.login_id)?;
        for a in &accounts {
            if db::companies::account_holder(conn, a)?.is_some() {
                return Err(account_taken(&format!(
                    "account {a} already belongs to a company"
                )));
            }
        }
        db::companies::insert(conn, &company)?;
        for a in &accounts {
            let inserted = db::companies::insert_account(conn, &new_id(), &company.id, a)?;
            unless_duplicate(
                inserted,
                ErrorCode::AccountAlreadyRegistered,
                "an account already belongs to a company",
            )?;
        }
        unless_duplicate(
            db::users::insert(conn, &holder, hashes)?,
            ErrorCode::LoginIdTaken,
            LOGIN_ID_TAKEN,
        )?;
        audit::record(
            conn,
            svc,
            event.company(&company.id).target("company", &company.id),
        )
    })?;
    Ok(ContractFile {
        company,
        accounts,
        holder,
        holder_token: None,
    })
}

fn account_taken(detail: &str) -> AppError {
    AppError::new(ErrorCode::AccountAlreadyRegistered, detail)
}

/// Every contract of a kind: four queries for any number of contracts (contracts,
/// accounts, holders, their tokens), joined here.
pub fn list_contracts(
    db: &mut Db,
    svc: &Services,
    kind: ContractKind,
) -> Result<Vec<ContractFile>, AppError> {
    let conn = db.conn()?;
    let contracts = db::companies::all(conn, kind)?;
    let mut accounts = db::companies::all_accounts(conn)?;
    let now = svc.now();
    let mut holders = db::users::holders(conn)?;
    let holder_ids: Vec<&str> = holders.values().map(|a| a.id.as_str()).collect();
    let mut tokens = db::soft_tokens::held_by_any(conn, &holder_ids)?;
    contracts
        .into_iter()
        .map(|company| {
            let holder = holders.remove(&company.id).ok_or_else(|| {
                AppError::Internal(format!("contract {} has no holder", company.id))
            })?;
            Ok(ContractFile {
                accounts: accounts.remove(&company.id).unwrap_or_default(),
                holder_token: tokens.remove(&holder.id),
                holder: holder.as_of(now),
                company,
            })
        })
        .collect()
}

/// One contract of a kind; a contract of the other kind is not found here.
pub fn get_contract(
    db: &mut Db,
    svc: &Services,
    kind: ContractKind,
    id: &str,
) -> Result<ContractFile, AppError> {
    contract_file(db.conn()?, svc, kind, id)
}

fn contract_file(
    conn: &mut DbConn,
    svc: &Services,
    kind: ContractKind,
    id: &str,
) -> Result<ContractFile, AppError> {
    let not_found = || match kind {
        ContractKind::Corporate => AppError::not_found("company"),
        ContractKind::Personal => AppError::not_found("personal contract"),
    };
    let company = db::companies::find(conn, id)?
        .filter(|c| c.kind == kind)
        .ok_or_else(not_found)?;
    let holder = db::users::holder_of(conn, id)?.as_of(svc.now());
    Ok(ContractFile {
        accounts: db::companies::accounts(conn, id)?,
        holder_token: db::soft_tokens::held_by(conn, &holder.id)?,
        holder,
        company,
    })
}

/// A bank procedure on one company: `act` runs in the transaction with the company's
/// file, and the answer is the file as it is afterwards.
fn procedure(
    db: &mut Db,
    svc: &Services,
    company_id: &str,
    act: impl FnOnce(&mut DbConn, &ContractFile) -> Result<(), AppError>,
) -> Result<ContractFile, AppError> {
    write_tx(db.conn()?, |conn| procedure_in(conn, svc, company_id, act))
}

/// [`procedure`] inside the caller's transaction (a procedure under dual control).
fn procedure_in(
    conn: &mut DbConn,
    svc: &Services,
    company_id: &str,
    act: impl FnOnce(&mut DbConn, &ContractFile) -> Result<(), AppError>,
) -> Result<ContractFile, AppError> {
    let kind = ContractKind::Corporate;
    let file = contract_file(conn, svc, kind, company_id)?;
    act(conn, &file)?;
    contract_file(conn, svc, kind, company_id)
}

/// Closes a contract: its people can no longer sign in, their sessions end at once, and
/// their tokens are retired. Audited with the reason; closing twice is a conflict.
pub(super) fn close_contract(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    kind: ContractKind,
    id: &str,
    reason: &str,
) -> Result<ContractFile, AppError> {
    contract_file(conn, svc, kind, id)?;
    let now = svc.now();
    if !db::companies::close(conn, id, now)? {
        return Err(AppError::new(
            ErrorCode::ContractClosed,
            "this contract is already closed",
        ));
    }
    db::users::disable_all_of(conn, id, now)?;
    for person in db::users::of_company(conn, id)? {
        db::sessions::end_all_of(conn, &person.id, now)?;
        db::soft_tokens::release(conn, &person.id, now)?;
    }
    audit::record(
        conn,
        svc,
        who.event(AuditAction::ContractClosed, Outcome::Success)
            .company(id)
            .target("company", id)
            .detail(serde_json::json!({ "kind": kind.as_str(), "reason": reason })),
    )?;
    contract_file(conn, svc, kind, id)
}

/// Frees the administrator's login and transfer password, locked by wrong entries.
pub fn unlock_admin(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    company_id: &str,
) -> Result<ContractFile, AppError> {
    procedure(db, svc, company_id, |conn, file| {
        unlock_login(conn, &file.holder.id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::LoginUnlocked, Outcome::Success)
                .company(company_id)
                .target("user", &file.holder.id),
        )
    })
}

fn admin_token(file: &ContractFile) -> Result<&SoftToken, AppError> {
    file.holder_token.as_ref().ok_or_else(|| {
        AppError::new(
            ErrorCode::TokenNotRegistered,
            "the administrator has no registered token",
        )
    })
}

/// Removes the administrator's (or the shared) token after the administrator's visit to
/// the branch. The company stays active; the administrator registers a new token with
/// token ID, code and approval password.
pub(super) fn reset_admin_token(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    company_id: &str,
    reason: &str,
) -> Result<ContractFile, AppError> {
    procedure_in(conn, svc, company_id, |conn, file| {
        let token = admin_token(file)?;
        db::soft_tokens::release(conn, &file.holder.id, svc.now())?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::TokenReset, Outcome::Success)
                .company(company_id)
                .target("user", &file.holder.id)
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
) -> Result<ContractFile, AppError> {
    procedure(db, svc, company_id, |conn, file| {
        let token = admin_token(file)?;
        db::lockout::unlock(conn, Secret::TokenCode, &token.id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::TokenUnlocked, Outcome::Success)
                .company(company_id)
                .target("user", &file.holder.id),
        )
    })
}

/// Frees the administrator's approval password locked by wrong entries.
pub fn unlock_approval(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    company_id: &str,
) -> Result<ContractFile, AppError> {
    procedure(db, svc, company_id, |conn, file| {
        db::lockout::unlock(conn, Secret::ApprovalPassword, &file.holder.id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::ApprovalUnlocked, Outcome::Success)
                .company(company_id)
                .target("user", &file.holder.id),
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
    write_tx(db.conn()?, |conn| {
        change_operator_in(conn, svc, by, operator_id, change)
    })
}

/// [`change_operator`] inside the caller's transaction (a procedure under dual control).
pub(super) fn change_operator_in(
    conn: &mut DbConn,
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
    let target =
        db::operators::find(conn, operator_id)?.ok_or_else(|| AppError::not_found("operator"))?;
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
    let changed =
        db::operators::find(conn, &target.id)?.ok_or_else(|| AppError::not_found("operator"))?;
    Ok(changed.as_of(svc.now()))
}

/// The operator with this login ID (for the command line).
pub fn operator_by_login_id(db: &mut Db, login_id: &str) -> Result<BankOperator, AppError> {
    db::operators::by_login_id(db.conn()?, login_id)?.ok_or_else(|| AppError::not_found("operator"))
}
