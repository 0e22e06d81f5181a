//! Companies and their debit accounts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::{AccountRow, CompanyRow};
use super::schema::{companies, company_accounts};
use super::{DbConn, Insert, entities, entity, inserted};
use crate::domain::approval::ApprovalPolicy;
use crate::domain::{Company, ContractKind, DebitAccount, LoginMethod, OtpStatus, TokenMode};

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Company>> {
    companies::table
        .find(id)
        .select(CompanyRow::as_select())
        .first(conn)
        .optional()?
        .map(entity)
        .transpose()
}

/// A company that must exist (the caller's own).
pub fn get(conn: &mut DbConn, id: &str) -> QueryResult<Company> {
    entity(
        companies::table
            .find(id)
            .select(CompanyRow::as_select())
            .first(conn)?,
    )
}

/// Every contract of a kind, oldest first.
pub fn all(conn: &mut DbConn, kind: ContractKind) -> QueryResult<Vec<Company>> {
    entities(
        companies::table
            .filter(companies::kind.eq(kind.as_str()))
            .order((companies::created_at.asc(), companies::id.asc()))
            .select(CompanyRow::as_select())
            .load(conn)?,
    )
}

pub fn insert(conn: &mut DbConn, c: &Company) -> QueryResult<()> {
    diesel::insert_into(companies::table)
        .values(CompanyRow {
            id: c.id.clone(),
            name: c.name.clone(),
            transfer_limit: c.transfer_limit.yen(),
            otp_mode: c.otp_mode.map(|m| m.as_str().to_owned()),
            otp_status: c.otp_status.as_str().to_owned(),
            otp_activated_at: c.otp_activated_at.map(|t| t.naive_utc()),
            created_at: c.created_at.naive_utc(),
            updated_at: c.updated_at.naive_utc(),
            kind: c.kind.as_str().to_owned(),
            closed_at: c.closed_at.map(|t| t.naive_utc()),
            login_method: c.login_method.as_str().to_owned(),
            approval_min_amount: c.approval_policy.map(|p| p.min_amount),
            approvals_required: c.approval_policy.map_or(0, |p| p.approvals),
        })
        .execute(conn)?;
    Ok(())
}

pub fn set_mode(
    conn: &mut DbConn,
    id: &str,
    mode: TokenMode,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(companies::table.find(id))
        .set((
            companies::otp_mode.eq(mode.as_str()),
            companies::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Activates (since `now`) or stops one-time passwords.
pub fn set_otp_status(
    conn: &mut DbConn,
    id: &str,
    status: OtpStatus,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let activated_at = (status == OtpStatus::Active).then(|| now.naive_utc());
    diesel::update(companies::table.find(id))
        .set((
            companies::otp_status.eq(status.as_str()),
            companies::otp_activated_at.eq(activated_at),
            companies::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_login_method(
    conn: &mut DbConn,
    id: &str,
    method: LoginMethod,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(companies::table.find(id))
        .set((
            companies::login_method.eq(method.as_str()),
            companies::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Closes a contract (once): its people are disabled by the caller.
pub fn close(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let closed = diesel::update(
        companies::table
            .find(id)
            .filter(companies::closed_at.is_null()),
    )
    .set((
        companies::closed_at.eq(now.naive_utc()),
        companies::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(closed == 1)
}

fn account(row: AccountRow) -> QueryResult<DebitAccount> {
    DebitAccount::parse(&format!("{}-{}", row.branch_code, row.account_number))
        .map_err(|e| diesel::result::Error::DeserializationError(e.message.into()))
}

/// A company's debit accounts, in account order.
pub fn accounts(conn: &mut DbConn, company_id: &str) -> QueryResult<Vec<DebitAccount>> {
    company_accounts::table
        .filter(company_accounts::company_id.eq(company_id))
        .order((
            company_accounts::branch_code.asc(),
            company_accounts::account_number.asc(),
        ))
        .select(AccountRow::as_select())
        .load(conn)?
        .into_iter()
        .map(account)
        .collect()
}

/// Every company's debit accounts, by company, in one query.
pub fn all_accounts(conn: &mut DbConn) -> QueryResult<HashMap<String, Vec<DebitAccount>>> {
    let mut by_company: HashMap<String, Vec<DebitAccount>> = HashMap::new();
    let rows = company_accounts::table
        .order((
            company_accounts::branch_code.asc(),
            company_accounts::account_number.asc(),
        ))
        .select(AccountRow::as_select())
        .load(conn)?;
    for row in rows {
        let company = row.company_id.clone();
        by_company.entry(company).or_default().push(account(row)?);
    }
    Ok(by_company)
}

/// The company an account belongs to, if any.
pub fn account_holder(conn: &mut DbConn, a: &DebitAccount) -> QueryResult<Option<String>> {
    company_accounts::table
        .filter(company_accounts::branch_code.eq(a.branch_code()))
        .filter(company_accounts::account_number.eq(a.account_number()))
        .select(company_accounts::company_id)
        .first(conn)
        .optional()
}

pub fn insert_account(
    conn: &mut DbConn,
    id: &str,
    company_id: &str,
    a: &DebitAccount,
) -> QueryResult<Insert> {
    inserted(
        diesel::insert_into(company_accounts::table)
            .values(AccountRow {
                id: id.to_owned(),
                company_id: company_id.to_owned(),
                branch_code: a.branch_code().to_owned(),
                account_number: a.account_number().to_owned(),
            })
            .execute(conn),
    )
}

/// Sets (or with `None` turns off) the company's approval policy.
pub fn set_approval_policy(
    conn: &mut DbConn,
    id: &str,
    policy: Option<ApprovalPolicy>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(companies::table.find(id))
        .set((
            companies::approval_min_amount.eq(policy.map(|p| p.min_amount)),
            companies::approvals_required.eq(policy.map_or(0, |p| p.approvals)),
            companies::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}
