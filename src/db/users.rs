//! The people of companies. Their password hashes go in here and come out only through
//! `lockout::stored_secret`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::{CompanyRow, SoftTokenRow, UserRow};
use super::schema::{companies, soft_tokens, users};
use super::soft_tokens::{WithSeed, with_seed};
use super::{DbConn, Insert, entities, entity, inserted, one_of};
use crate::domain::{Company, Role, User};

/// The argon2id hashes of a new person's passwords.
pub struct PasswordHashes {
    pub login: String,
    pub transfer: String,
    /// The administrator's approval password (承認用パスワード).
    pub approval: Option<String>,
}

/// What an administrator may change about a user; `None` leaves a field as it is.
#[derive(Default)]
pub struct UserChange {
    pub name: Option<String>,
    pub can_transfer: Option<bool>,
    pub can_approve: Option<bool>,
    pub disabled: Option<bool>,
    /// `Some(None)` removes the address.
    pub email: Option<Option<String>>,
}

pub fn insert(conn: &mut DbConn, u: &User, hashes: PasswordHashes) -> QueryResult<Insert> {
    inserted(
        diesel::insert_into(users::table)
            .values(UserRow {
                id: u.id.clone(),
                company_id: u.company_id.clone(),
                login_id: u.login_id.clone(),
                name: u.name.clone(),
                role: u.role.as_str().to_owned(),
                can_transfer: u.can_transfer,
                disabled: u.disabled,
                password_hash: hashes.login,
                failed_logins: 0,
                login_locked_at: None,
                transfer_password_hash: hashes.transfer,
                transfer_password_failures: 0,
                transfer_password_locked_at: None,
                approval_password_hash: hashes.approval,
                approval_failures: 0,
                approval_locked_at: None,
                created_at: u.created_at.naive_utc(),
                updated_at: u.updated_at.naive_utc(),
                login_locked_until: None,
                login_locks: 0,
                email: u.email.clone(),
                can_approve: u.can_approve,
            })
            .execute(conn),
    )
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(entity)
        .transpose()
}

/// A person of this company, or none: another company's people do not exist here.
pub fn in_company(conn: &mut DbConn, company_id: &str, id: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::id.eq(id))
        .filter(users::company_id.eq(company_id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(entity)
        .transpose()
}

/// `in_company`, with the company, in one query.
pub fn with_contract(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
) -> QueryResult<Option<(Company, User)>> {
    let found: Option<(CompanyRow, UserRow)> = users::table
        .inner_join(companies::table)
        .filter(users::id.eq(id))
        .filter(users::company_id.eq(company_id))
        .select((CompanyRow::as_select(), UserRow::as_select()))
        .first(conn)
        .optional()?;
    found
        .map(|(company, user)| Ok((entity(company)?, entity(user)?)))
        .transpose()
}

/// A person, their company and the token they hold themself with its sealed seed
/// (`soft_tokens::held_with_seed`), in one statement.
pub fn with_contract_and_token(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
) -> QueryResult<Option<(Company, User, Option<WithSeed>)>> {
    let found: Option<(CompanyRow, UserRow, Option<SoftTokenRow>)> = users::table
        .inner_join(companies::table)
        .left_join(soft_tokens::table.on(soft_tokens::holder_id.eq(users::id.nullable())))
        .filter(users::id.eq(id))
        .filter(users::company_id.eq(company_id))
        .select((
            CompanyRow::as_select(),
            UserRow::as_select(),
            Option::<SoftTokenRow>::as_select(),
        ))
        .first(conn)
        .optional()?;
    found
        .map(|(company, user, token)| {
            Ok((
                entity(company)?,
                entity(user)?,
                token.map(with_seed).transpose()?,
            ))
        })
        .transpose()
}

pub fn by_login_id(conn: &mut DbConn, login_id: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::login_id.eq(login_id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(entity)
        .transpose()
}

pub fn login_id_taken(conn: &mut DbConn, login_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::login_id.eq(login_id)),
    ))
    .get_result(conn)
}

/// Who holds a contract: a company's administrator or a personal contract's customer
/// (there is exactly one).
const HOLDERS: [&str; 2] = [Role::Admin.as_str(), Role::Customer.as_str()];

/// The contract's holder.
pub fn holder_of(conn: &mut DbConn, company_id: &str) -> QueryResult<User> {
    entity(
        users::table
            .filter(users::company_id.eq(company_id))
            .filter(one_of(users::role, HOLDERS))
            .select(UserRow::as_select())
            .first(conn)?,
    )
}

/// Every contract's holder, by contract, in one query.
pub fn holders(conn: &mut DbConn) -> QueryResult<HashMap<String, User>> {
    let admins: Vec<User> = entities(
        users::table
            .filter(one_of(users::role, HOLDERS))
            .select(UserRow::as_select())
            .load(conn)?,
    )?;
    Ok(admins
        .into_iter()
        .map(|u| (u.company_id.clone(), u))
        .collect())
}

/// Disables every person of a contract (it was closed).
pub fn disable_all_of(conn: &mut DbConn, company_id: &str, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(users::table.filter(users::company_id.eq(company_id)))
        .set((
            users::disabled.eq(true),
            users::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The company's people, in the order they were added.
pub fn of_company(conn: &mut DbConn, company_id: &str) -> QueryResult<Vec<User>> {
    entities(
        users::table
            .filter(users::company_id.eq(company_id))
            .order((users::created_at.asc(), users::login_id.asc()))
            .select(UserRow::as_select())
            .load(conn)?,
    )
}

pub fn update(
    conn: &mut DbConn,
    id: &str,
    change: &UserChange,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let row = users::table.find(id);
    if let Some(name) = &change.name {
        diesel::update(row)
            .set(users::name.eq(name))
            .execute(conn)?;
    }
    if let Some(can_transfer) = change.can_transfer {
        diesel::update(row)
            .set(users::can_transfer.eq(can_transfer))
            .execute(conn)?;
    }
    if let Some(can_approve) = change.can_approve {
        diesel::update(row)
            .set(users::can_approve.eq(can_approve))
            .execute(conn)?;
    }
    if let Some(disabled) = change.disabled {
        diesel::update(row)
            .set(users::disabled.eq(disabled))
            .execute(conn)?;
    }
    if let Some(email) = &change.email {
        diesel::update(row)
            .set(users::email.eq(email))
            .execute(conn)?;
    }
    diesel::update(row)
        .set(users::updated_at.eq(now.naive_utc()))
        .execute(conn)?;
    Ok(())
}

/// The people of a company who may approve transfers now: the administrator and the users
/// granted the permission, none disabled.
pub fn approvers_of(conn: &mut DbConn, company_id: &str) -> QueryResult<Vec<User>> {
    entities(
        users::table
            .filter(users::company_id.eq(company_id))
            .filter(users::disabled.eq(false))
            .filter(
                users::role.eq(Role::Admin.as_str()).or(users::role
                    .eq(Role::User.as_str())
                    .and(users::can_approve.eq(true))),
            )
            .order(users::login_id)
            .select(UserRow::as_select())
            .load(conn)?,
    )
}
