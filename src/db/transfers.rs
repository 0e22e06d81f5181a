//! One-off transfers. Every change of state is a conditional update on the state it
//! leaves, so racing requests on any number of instances change a transfer once.

use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;

use super::models::TransferRow;
use super::schema::{companies, transfers, users};
use super::{DbConn, Insert, entities, entity, inserted};
use crate::domain::transfer::{ConfirmationMethod, Transfer, TransferStatus};
use crate::domain::{OtpStatus, Role};

const PENDING: &str = "pending_confirmation";

pub fn insert(conn: &mut DbConn, t: &Transfer) -> QueryResult<Insert> {
    inserted(
        diesel::insert_into(transfers::table)
            .values(TransferRow {
                id: t.id.clone(),
                company_id: t.company_id.clone(),
                created_by: t.created_by.clone(),
                idempotency_key: t.idempotency_key.clone(),
                request_hash: t.request_hash.clone(),
                content_hash: t.content_hash.clone(),
                debit_account: t.debit_account.clone(),
                payee_bank_code: t.payee.bank_code.clone(),
                payee_branch_code: t.payee.branch_code.clone(),
                payee_account_type: t.payee.account_type.as_str().to_owned(),
                payee_account_number: t.payee.account_number.clone(),
                payee_name: t.payee.name.clone(),
                amount: t.amount,
                execution_date: t.execution_date,
                memo: t.memo.clone(),
                status: t.status.as_str().to_owned(),
                created_at: t.created_at.naive_utc(),
                expires_at: t.expires_at.naive_utc(),
                confirmed_at: None,
                confirmation_method: None,
                confirmed_step: None,
                cancelled_at: None,
                cancelled_by: None,
                content_key_id: t.content_key_id.clone(),
            })
            .execute(conn),
    )
}

pub fn by_idempotency_key(
    conn: &mut DbConn,
    created_by: &str,
    key: &str,
) -> QueryResult<Option<Transfer>> {
    transfers::table
        .filter(transfers::created_by.eq(created_by))
        .filter(transfers::idempotency_key.eq(key))
        .select(TransferRow::as_select())
        .first(conn)
        .optional()?
        .map(entity)
        .transpose()
}

/// A transfer of the company, and only the creator's own when `creator` is given.
pub fn visible(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
    creator: Option<&str>,
) -> QueryResult<Option<Transfer>> {
    let mut query = transfers::table
        .filter(transfers::id.eq(id))
        .filter(transfers::company_id.eq(company_id))
        .select(TransferRow::as_select())
        .into_boxed();
    if let Some(creator) = creator {
        query = query.filter(transfers::created_by.eq(creator));
    }
    query.first(conn).optional()?.map(entity).transpose()
}

/// What a page of transfers is cut from.
pub struct PageQuery<'a> {
    pub company_id: &'a str,
    pub creator: Option<&'a str>,
    pub status: Option<TransferStatus>,
    /// The last one of the previous page: its creation time and id.
    pub after: Option<(DateTime<Utc>, String)>,
    pub limit: i64,
}

/// Newest first.
pub fn page(conn: &mut DbConn, q: PageQuery<'_>) -> QueryResult<Vec<Transfer>> {
    let mut query = transfers::table
        .filter(transfers::company_id.eq(q.company_id))
        .select(TransferRow::as_select())
        .order((transfers::created_at.desc(), transfers::id.desc()))
        .limit(q.limit)
        .into_boxed();
    if let Some(creator) = q.creator {
        query = query.filter(transfers::created_by.eq(creator));
    }
    if let Some(s) = q.status {
        query = query.filter(transfers::status.eq(s.as_str()));
    }
    if let Some((at, id)) = q.after {
        let at = at.naive_utc();
        query = query.filter(
            transfers::created_at
                .lt(at)
                .or(transfers::created_at.eq(at).and(transfers::id.lt(id))),
        );
    }
    entities(query.load(conn)?)
}

/// The company's pending transfers past their time.
pub fn due_for_expiry(
    conn: &mut DbConn,
    company_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<Vec<String>> {
    transfers::table
        .filter(transfers::company_id.eq(company_id))
        .filter(transfers::status.eq(PENDING))
        .filter(transfers::expires_at.le(now.naive_utc()))
        .select(transfers::id)
        .load(conn)
}

pub fn expire(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let changed = diesel::update(
        transfers::table
            .find(id)
            .filter(transfers::status.eq(PENDING)),
    )
    .set(transfers::status.eq(TransferStatus::Expired.as_str()))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Confirms a pending, unexpired transfer, and only while its creator still holds the
/// transfer permission and the company's OTP status still calls for `method`: the rules
/// are judged by the same statement that confirms, so nothing can change in between.
pub fn confirm(
    conn: &mut DbConn,
    t: &Transfer,
    method: ConfirmationMethod,
    codes_asked: bool,
    step: Option<i64>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    // Where the bank asks no code for transactions, the company's status does not matter.
    let statuses = if codes_asked {
        vec![method.requires().as_str()]
    } else {
        vec![OtpStatus::Inactive.as_str(), OtpStatus::Active.as_str()]
    };
    // User::may_transfer, as a condition of the statement itself.
    let creator_may_transfer = exists(
        users::table
            .filter(users::id.eq(&t.created_by))
            .filter(users::disabled.eq(false))
            .filter(
                users::role
                    .ne(Role::User.as_str())
                    .or(users::can_transfer.eq(true)),
            ),
    );
    let method_still_applies = exists(
        companies::table
            .filter(companies::id.eq(&t.company_id))
            .filter(companies::otp_status.eq_any(statuses)),
    );
    let confirmed = diesel::update(
        transfers::table
            .find(&t.id)
            .filter(transfers::status.eq(PENDING))
            .filter(transfers::expires_at.gt(now.naive_utc()))
            .filter(creator_may_transfer)
            .filter(method_still_applies),
    )
    .set((
        transfers::status.eq(TransferStatus::Confirmed.as_str()),
        transfers::confirmed_at.eq(now.naive_utc()),
        transfers::confirmation_method.eq(method.as_str()),
        transfers::confirmed_step.eq(step),
    ))
    .execute(conn)?;
    Ok(confirmed == 1)
}

pub fn cancel(conn: &mut DbConn, id: &str, by: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let changed = diesel::update(
        transfers::table
            .find(id)
            .filter(transfers::status.eq(PENDING)),
    )
    .set((
        transfers::status.eq(TransferStatus::Cancelled.as_str()),
        transfers::cancelled_at.eq(now.naive_utc()),
        transfers::cancelled_by.eq(by),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
