//! The bank's operators.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::OperatorRow;
use super::schema::bank_operators;
use super::{DbConn, Insert, inserted};
use crate::domain::BankOperator;

pub fn insert(
    conn: &mut DbConn,
    o: &BankOperator,
    password_hash: String,
    now: DateTime<Utc>,
) -> QueryResult<Insert> {
    inserted(
        diesel::insert_into(bank_operators::table)
            .values(OperatorRow {
                id: o.id.clone(),
                login_id: o.login_id.clone(),
                name: o.name.clone(),
                password_hash,
                failed_logins: 0,
                locked_at: None,
                created_at: now.naive_utc(),
                locked_until: None,
                locks: 0,
                disabled: false,
            })
            .execute(conn),
    )
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<BankOperator>> {
    Ok(bank_operators::table
        .find(id)
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()?
        .map(Into::into))
}

pub fn by_login_id(conn: &mut DbConn, login_id: &str) -> QueryResult<Option<BankOperator>> {
    Ok(bank_operators::table
        .filter(bank_operators::login_id.eq(login_id))
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()?
        .map(Into::into))
}

/// Every operator, in the order they were created.
pub fn all(conn: &mut DbConn) -> QueryResult<Vec<BankOperator>> {
    Ok(bank_operators::table
        .order((
            bank_operators::created_at.asc(),
            bank_operators::login_id.asc(),
        ))
        .select(OperatorRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub fn set_disabled(conn: &mut DbConn, id: &str, disabled: bool) -> QueryResult<()> {
    diesel::update(bank_operators::table.find(id))
        .set(bank_operators::disabled.eq(disabled))
        .execute(conn)?;
    Ok(())
}

pub fn set_password(conn: &mut DbConn, id: &str, password_hash: &str) -> QueryResult<()> {
    diesel::update(bank_operators::table.find(id))
        .set(bank_operators::password_hash.eq(password_hash))
        .execute(conn)?;
    Ok(())
}
