//! The bank's back office: operators, companies and the procedures done at the branch.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::models::{AccountRow, CompanyRow, OperatorRow, SoftTokenRow, UserRow};
use crate::db::schema::{bank_operators, companies, company_accounts, users};
use crate::db::{DbConn, write_tx};
use crate::domain::{
    CompanyName, DebitAccount, LoginId, NewPassword, OtpStatus, PersonName, Role, TransferLimit,
};
use crate::error::{AppError, ErrorCode};

use super::audit::{self, Event, Outcome};
use super::users::{company_admin, ensure_login_id_free, token_held_by};
use super::{Operator, Services, new_id, unique_violation};

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
pub struct CompanyView {
    pub company: CompanyRow,
    pub accounts: Vec<AccountRow>,
    pub admin: UserRow,
    pub admin_token: Option<SoftTokenRow>,
}

pub fn create_operator(
    conn: &mut DbConn,
    svc: &Services,
    login_id: &LoginId,
    name: &PersonName,
    password: &NewPassword,
) -> Result<OperatorRow, AppError> {
    let row = OperatorRow {
        id: new_id(),
        login_id: login_id.as_str().to_owned(),
        name: name.as_str().to_owned(),
        password_hash: svc.passwords.hash(password.expose())?,
        failed_logins: 0,
        locked_at: None,
        created_at: svc.now_naive(),
    };
    write_tx(conn, |conn| {
        let taken: i64 = bank_operators::table
            .filter(bank_operators::login_id.eq(login_id.as_str()))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(AppError::new(
                ErrorCode::LoginIdTaken,
                "an operator with this login ID already exists",
            ));
        }
        diesel::insert_into(bank_operators::table)
            .values(&row)
            .execute(conn)
            .map_err(|e| {
                unique_violation(
                    e,
                    ErrorCode::LoginIdTaken,
                    "an operator with this login ID already exists",
                )
            })?;
        let event = Event {
            actor_kind: "system",
            ..Event::anonymous("operator_created", Outcome::Success, None)
        };
        audit::record(conn, svc, event.target("operator", &row.id))?;
        Ok(row.clone())
    })
}

pub fn create_company(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    new: NewCompany,
) -> Result<CompanyView, AppError> {
    let password_hash = svc.passwords.hash(new.admin.password.expose())?;
    let approval_hash = svc.passwords.hash(new.admin.approval_password.expose())?;
    let transfer_hash = svc.passwords.hash(new.admin.transfer_password.expose())?;
    let now = svc.now_naive();
    let company = CompanyRow {
        id: new_id(),
        name: new.name.as_str().to_owned(),
        transfer_limit: new.transfer_limit.yen(),
        otp_mode: None,
        otp_status: OtpStatus::Inactive.as_str().to_owned(),
        otp_activated_at: None,
        created_at: now,
        updated_at: now,
    };
    let accounts: Vec<AccountRow> = new
        .accounts
        .iter()
        .map(|a| AccountRow {
            id: new_id(),
            company_id: company.id.clone(),
            branch_code: a.branch_code().to_owned(),
            account_number: a.account_number().to_owned(),
        })
        .collect();
    let admin = UserRow {
        id: new_id(),
        company_id: company.id.clone(),
        login_id: new.admin.login_id.as_str().to_owned(),
        name: new.admin.name.as_str().to_owned(),
        role: Role::Admin.as_str().to_owned(),
        can_transfer: true,
        disabled: false,
        password_hash,
        failed_logins: 0,
        login_locked_at: None,
        transfer_password_hash: transfer_hash,
        transfer_password_failures: 0,
        transfer_password_locked_at: None,
        approval_password_hash: Some(approval_hash),
        approval_failures: 0,
        approval_locked_at: None,
        created_at: now,
        updated_at: now,
    };
    write_tx(conn, |conn| {
        // Checked inside the write transaction: the unique indexes decide races, these checks
        // give the operator a precise conflict instead of a generic one.
        ensure_login_id_free(conn, &new.admin.login_id)?;
        for a in &accounts {
            let taken: i64 = company_accounts::table
                .filter(company_accounts::branch_code.eq(&a.branch_code))
                .filter(company_accounts::account_number.eq(&a.account_number))
                .count()
                .get_result(conn)?;
            if taken > 0 {
                return Err(AppError::new(
                    ErrorCode::AccountAlreadyRegistered,
                    format!(
                        "account {}-{} already belongs to a company",
                        a.branch_code, a.account_number
                    ),
                ));
            }
        }
        diesel::insert_into(companies::table)
            .values(&company)
            .execute(conn)?;
        for account in &accounts {
            diesel::insert_into(company_accounts::table)
                .values(account)
                .execute(conn)
                .map_err(|e| {
                    unique_violation(
                        e,
                        ErrorCode::AccountAlreadyRegistered,
                        "an account already belongs to a company",
                    )
                })?;
        }
        diesel::insert_into(users::table)
            .values(&admin)
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
            Event::by_operator("company_created", Outcome::Success, who)
                .company(&company.id)
                .target("company", &company.id),
        )?;
        Ok(())
    })?;
    Ok(CompanyView {
        company,
        accounts,
        admin,
        admin_token: None,
    })
}

// Three queries for any number of companies, joined here, rather than three per company.
pub fn list_companies(conn: &mut DbConn) -> Result<Vec<CompanyView>, AppError> {
    let all: Vec<CompanyRow> = companies::table
        .order((companies::created_at.asc(), companies::id.asc()))
        .select(CompanyRow::as_select())
        .load(conn)?;
    let mut accounts: HashMap<String, Vec<AccountRow>> = HashMap::new();
    for a in company_accounts::table
        .order((
            company_accounts::branch_code.asc(),
            company_accounts::account_number.asc(),
        ))
        .select(AccountRow::as_select())
        .load(conn)?
    {
        accounts.entry(a.company_id.clone()).or_default().push(a);
    }
    let mut admins: HashMap<String, UserRow> = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|u| (u.company_id.clone(), u))
        .collect();
    let mut views = Vec::with_capacity(all.len());
    for company in all {
        let Some(admin) = admins.remove(&company.id) else {
            return Err(AppError::Internal(format!(
                "company {} has no administrator",
                company.id
            )));
        };
        let admin_token = token_held_by(conn, &admin.id)?;
        let accounts = accounts.remove(&company.id).unwrap_or_default();
        views.push(CompanyView {
            company,
            accounts,
            admin,
            admin_token,
        });
    }
    Ok(views)
}

pub fn get_company(conn: &mut DbConn, company_id: &str) -> Result<CompanyView, AppError> {
    let company: CompanyRow = companies::table
        .find(company_id)
        .select(CompanyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("company"))?;
    let accounts = company_accounts::table
        .filter(company_accounts::company_id.eq(company_id))
        .order((
            company_accounts::branch_code.asc(),
            company_accounts::account_number.asc(),
        ))
        .select(AccountRow::as_select())
        .load(conn)?;
    let admin = company_admin(conn, company_id)?;
    let admin_token = token_held_by(conn, &admin.id)?;
    Ok(CompanyView {
        company,
        accounts,
        admin,
        admin_token,
    })
}

/// Frees the administrator's login and transfer password, locked by wrong entries (a
/// branch procedure).
pub fn unlock_admin(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    company_id: &str,
) -> Result<CompanyView, AppError> {
    write_tx(conn, |conn| {
        let view = get_company(conn, company_id)?;
        diesel::update(users::table.find(&view.admin.id))
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
            Event::by_operator("login_unlocked", Outcome::Success, who)
                .company(company_id)
                .target("user", &view.admin.id),
        )?;
        get_company(conn, company_id)
    })
}
