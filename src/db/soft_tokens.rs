//! Software tokens, their sealed seeds, and the ledger of spent steps.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::query_builder::QueryFragment;

use super::models::{OtpStepUseRow, SoftTokenRow};
use super::prepared::{And, first, together};
use super::schema::{otp_step_uses, soft_tokens};
use super::{DbConn, Insert, entities, entity, inserted, is_unique_violation, prepared_update};
use crate::domain::SoftToken;
use crate::domain::soft_token::{Purpose, TokenSource};

/// A token's seed as stored: sealed, with the id of the key that sealed it and the
/// parameters its codes are made with.
#[derive(Clone)]
pub struct StoredSeed {
    pub algorithm: String,
    pub digits: i32,
    pub period: i32,
    pub key_id: String,
    pub sealed: Vec<u8>,
    /// `totp` or `hotp`.
    pub kind: String,
    /// TOTP: how many steps the token's clock is ahead of the server's.
    pub time_drift: i64,
}

impl std::fmt::Debug for StoredSeed {
    // Sealed, yet no seed belongs in a log in any form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSeed")
            .field("key_id", &self.key_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl From<&SoftTokenRow> for StoredSeed {
    fn from(row: &SoftTokenRow) -> StoredSeed {
        StoredSeed {
            algorithm: row.algorithm.clone(),
            digits: row.digits,
            period: row.period,
            key_id: row.key_id.clone(),
            sealed: row.sealed_secret.clone(),
            kind: row.otp_kind.clone(),
            time_drift: row.time_drift,
        }
    }
}

/// One accepted code, for the ledger.
pub struct StepUse<'a> {
    pub id: &'a str,
    pub token: &'a str,
    pub step: i64,
    pub used_by: &'a str,
    pub purpose: Purpose,
    pub transfer_id: Option<&'a str>,
    pub at: DateTime<Utc>,
}

fn row(
    t: &SoftToken,
    seed: StoredSeed,
    issued_by: &str,
    issued_at: DateTime<Utc>,
    last_used_step: i64,
) -> SoftTokenRow {
    SoftTokenRow {
        id: t.id.clone(),
        token_id: t.token_id.clone(),
        company_id: t.company_id.clone(),
        source: t.source.as_str().to_owned(),
        algorithm: seed.algorithm,
        digits: seed.digits,
        period: seed.period,
        key_id: seed.key_id,
        sealed_secret: seed.sealed,
        issued_by: Some(issued_by.to_owned()),
        issued_at: issued_at.naive_utc(),
        expires_at: t.expires_at.map(|at| at.naive_utc()),
        holder_id: t.holder_id.clone(),
        registered_at: t.registered_at.map(|at| at.naive_utc()),
        last_used_step,
        failed_attempts: 0,
        locked_at: None,
        suspended_at: None,
        otp_kind: seed.kind,
        time_drift: seed.time_drift,
    }
}

pub fn insert(
    conn: &mut DbConn,
    t: &SoftToken,
    seed: StoredSeed,
    issued_by: &str,
    issued_at: DateTime<Utc>,
) -> QueryResult<Insert> {
    inserted(
        diesel::insert_into(soft_tokens::table)
            .values(row(t, seed, issued_by, issued_at, -1))
            .execute(conn),
    )
}

/// Inserts many tokens, a few hundred a statement; `last_used_step` is the step (HOTP:
/// counter) before the first one the token may use. `Duplicate`: a serial was taken
/// meanwhile (the caller rolls back).
pub fn insert_many(
    conn: &mut DbConn,
    tokens: Vec<(SoftToken, StoredSeed, i64)>,
    issued_by: &str,
    issued_at: DateTime<Utc>,
) -> QueryResult<Insert> {
    let rows: Vec<SoftTokenRow> = tokens
        .into_iter()
        .map(|(t, seed, last)| row(&t, seed, issued_by, issued_at, last))
        .collect();
    for chunk in rows.chunks(200) {
        let done = match conn {
            DbConn::Postgres(pg) => diesel::insert_into(soft_tokens::table)
                .values(chunk)
                .execute(pg),
            DbConn::Sqlite(lite) => diesel::insert_into(soft_tokens::table)
                .values(chunk)
                .execute(lite),
        };
        if inserted(done)? == Insert::Duplicate {
            return Ok(Insert::Duplicate);
        }
    }
    Ok(Insert::Done)
}

/// Which of `serials` are taken already.
pub fn serials_taken(conn: &mut DbConn, serials: &[&str]) -> QueryResult<Vec<String>> {
    let mut taken = Vec::new();
    for chunk in serials.chunks(500) {
        taken.extend(
            soft_tokens::table
                .filter(soft_tokens::token_id.eq_any(chunk))
                .select(soft_tokens::token_id)
                .load::<String>(conn)?,
        );
    }
    Ok(taken)
}

/// A token's drift and the step it was last used at, set by a resynchronisation whose two
/// codes are `steps`: only while the first of them is still unspent.
pub fn resynchronise(
    conn: &mut DbConn,
    id: &str,
    time_drift: i64,
    (first, last): (i64, i64),
) -> QueryResult<bool> {
    let changed = diesel::update(
        soft_tokens::table
            .find(id)
            .filter(soft_tokens::last_used_step.lt(first)),
    )
    .set((
        soft_tokens::time_drift.eq(time_drift),
        soft_tokens::last_used_step.eq(last),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn get(conn: &mut DbConn, id: &str) -> QueryResult<SoftToken> {
    entity(
        soft_tokens::table
            .find(id)
            .select(SoftTokenRow::as_select())
            .first(conn)?,
    )
}

pub fn held_by(conn: &mut DbConn, holder_id: &str) -> QueryResult<Option<SoftToken>> {
    Ok(held_with_seed(conn, holder_id)?.map(|(token, _)| token))
}

/// `held_by`, with the token's sealed seed and the last step it accepted: a code is
/// checked without reading the token again.
pub fn held_with_seed(conn: &mut DbConn, holder_id: &str) -> QueryResult<Option<WithSeed>> {
    soft_tokens::table
        .filter(soft_tokens::holder_id.eq(holder_id))
        .select(SoftTokenRow::as_select())
        .first(conn)
        .optional()?
        .map(with_seed)
        .transpose()
}

/// A token as read, with its sealed seed and the last step it accepted.
pub type WithSeed = (SoftToken, (StoredSeed, i64));

pub(super) fn with_seed(row: SoftTokenRow) -> QueryResult<WithSeed> {
    let seed = (StoredSeed::from(&row), row.last_used_step);
    Ok((entity(row)?, seed))
}

/// The tokens these people hold, by holder, in one query.
pub fn held_by_any(
    conn: &mut DbConn,
    holder_ids: &[&str],
) -> QueryResult<HashMap<String, SoftToken>> {
    let held: Vec<SoftToken> = entities(
        soft_tokens::table
            .filter(soft_tokens::holder_id.eq_any(holder_ids))
            .select(SoftTokenRow::as_select())
            .load(conn)?,
    )?;
    Ok(held
        .into_iter()
        .filter_map(|t| Some((t.holder_id.clone()?, t)))
        .collect())
}

/// A token with this serial that `company_id` may register: issued to or reserved for it,
/// or imported without a reservation.
pub fn registrable_by(
    conn: &mut DbConn,
    token_id: &str,
    company_id: &str,
) -> QueryResult<Option<SoftToken>> {
    soft_tokens::table
        .filter(soft_tokens::token_id.eq(token_id))
        .filter(
            soft_tokens::company_id
                .eq(company_id)
                .or(soft_tokens::company_id.is_null()),
        )
        .select(SoftTokenRow::as_select())
        .first(conn)
        .optional()?
        .map(entity)
        .transpose()
}

/// Issued tokens of a company that still wait for registration.
pub fn pending_count(conn: &mut DbConn, company_id: &str, now: DateTime<Utc>) -> QueryResult<i64> {
    soft_tokens::table
        .filter(soft_tokens::company_id.eq(company_id))
        .filter(soft_tokens::source.eq(TokenSource::Issued.as_str()))
        .filter(soft_tokens::holder_id.is_null())
        .filter(soft_tokens::expires_at.gt(now.naive_utc()))
        .count()
        .get_result(conn)
}

/// The sealed seed of a token and the last step it accepted.
pub fn seed(conn: &mut DbConn, id: &str) -> QueryResult<(StoredSeed, i64)> {
    let row: SoftTokenRow = soft_tokens::table
        .find(id)
        .select(SoftTokenRow::as_select())
        .first(conn)?;
    Ok((StoredSeed::from(&row), row.last_used_step))
}

/// How a binding ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    Bound,
    /// Another registration took the token first.
    TokenTaken,
    /// The person holds a token already (the unique index on the holder decided).
    HolderHasOne,
}

/// Binds a free token to a person of `company_id`, conditional on its being free.
pub fn bind(
    conn: &mut DbConn,
    id: &str,
    company_id: &str,
    holder_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<Bind> {
    let bound = diesel::update(
        soft_tokens::table
            .find(id)
            .filter(soft_tokens::holder_id.is_null()),
    )
    .set((
        soft_tokens::holder_id.eq(holder_id),
        soft_tokens::company_id.eq(company_id),
        soft_tokens::registered_at.eq(now.naive_utc()),
        soft_tokens::expires_at.eq(None::<chrono::NaiveDateTime>),
    ))
    .execute(conn);
    match bound {
        Ok(1) => Ok(Bind::Bound),
        Ok(_) => Ok(Bind::TokenTaken),
        Err(e) if is_unique_violation(&e) => Ok(Bind::HolderHasOne),
        Err(e) => Err(e),
    }
}

/// Retires the token a person holds: it can never be registered again, so a device left
/// with a former employee or a lost phone stays useless.
pub fn release(conn: &mut DbConn, holder_id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(soft_tokens::table.filter(soft_tokens::holder_id.eq(holder_id)))
        .set((
            soft_tokens::holder_id.eq(None::<String>),
            soft_tokens::registered_at.eq(None::<chrono::NaiveDateTime>),
            soft_tokens::expires_at.eq(now.naive_utc()),
            soft_tokens::failed_attempts.eq(0),
            soft_tokens::locked_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)
}

/// Suspends a token at once (a lost device); only its retirement lifts it.
pub fn suspend(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let suspended = diesel::update(
        soft_tokens::table
            .find(id)
            .filter(soft_tokens::suspended_at.is_null()),
    )
    .set(soft_tokens::suspended_at.eq(now.naive_utc()))
    .execute(conn)?;
    Ok(suspended == 1)
}

/// What spending the step of `u` asks of the token row (its holder aside): the token, not
/// locked or suspended, with no later step spent; and what it changes.
macro_rules! spending {
    ($u:expr) => {{
        let u = &$u;
        let unspent = soft_tokens::id
            .eq(u.token)
            .and(soft_tokens::last_used_step.lt(u.step))
            .and(soft_tokens::locked_at.is_null())
            .and(soft_tokens::suspended_at.is_null());
        let spend = (
            soft_tokens::last_used_step.eq(u.step),
            soft_tokens::failed_attempts.eq(0),
        );
        (unspent, spend)
    }};
}

/// The update that spends a step and the ledger row that records it: on PostgreSQL one
/// statement, the row inserted from what the update returned; on SQLite the row after the
/// update changed one.
macro_rules! spent_with {
    ($conn:expr, $update:expr, $use:expr) => {
        match $conn {
            DbConn::Postgres(pg) => {
                together($update.returning_all(), ledger_of_first($use)).execute(pg)? == 1
            }
            DbConn::Sqlite(lite) => {
                let spent = $update.execute(lite)? == 1;
                if spent {
                    diesel::insert_into(otp_step_uses::table)
                        .values(ledger_row($use))
                        .execute(lite)?;
                }
                spent
            }
        }
    };
}

/// The ledger row of `u`, as a PostgreSQL write reading the token row the `first` link
/// of its statement returned: none if that spent nothing.
fn ledger_of_first(u: StepUse<'_>) -> impl QueryFragment<diesel::pg::Pg> + '_ {
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
    diesel::insert_into(otp_step_uses::table)
        .values(first::table.select((
            u.id.into_sql::<Text>(),
            first::id,
            u.step.into_sql::<BigInt>(),
            u.used_by.into_sql::<Text>(),
            u.purpose.as_str().into_sql::<Text>(),
            u.transfer_id.into_sql::<Nullable<Text>>(),
            u.at.naive_utc().into_sql::<Timestamp>(),
        )))
        .into_columns((
            otp_step_uses::id,
            otp_step_uses::soft_token_id,
            otp_step_uses::step,
            otp_step_uses::used_by,
            otp_step_uses::purpose,
            otp_step_uses::transfer_id,
            otp_step_uses::used_at,
        ))
}

/// `spend_step` as two links of a chained PostgreSQL statement ahead of `rest`: `first`,
/// the token row spent — only where `gate` holds too — and its ledger row.
pub(super) fn spend_links<'a, G, R>(
    holder_id: Option<&'a str>,
    u: StepUse<'a>,
    gate: G,
    rest: R,
) -> And<impl QueryFragment<diesel::pg::Pg> + 'a, And<impl QueryFragment<diesel::pg::Pg> + 'a, R>>
where
    G: Expression<SqlType = diesel::sql_types::Bool> + QueryFragment<diesel::pg::Pg> + 'a,
{
    use diesel::PgExpressionMethods;
    let (unspent, spend) = spending!(u);
    let unspent = unspent
        .and(soft_tokens::holder_id.is_not_distinct_from(holder_id))
        .and(gate);
    let spent = prepared_update(soft_tokens::table, spend, unspent).returning_all();
    And("first", spent, And("ledger", ledger_of_first(u), rest))
}

/// Spends the step of `u` of a token held by `holder_id` (or, being registered, by
/// nobody) and not locked, and records it in the ledger: one row changes for exactly one
/// of any number of racing requests, and never for an older step. One statement on
/// PostgreSQL, whose ledger row is written from the token row the update changed.
pub fn spend_step(conn: &mut DbConn, holder_id: Option<&str>, u: StepUse<'_>) -> QueryResult<bool> {
    let (unspent, spend) = spending!(u);
    // It runs at every code accepted: prepared once.
    Ok(match holder_id {
        Some(holder) => {
            let held = unspent.and(soft_tokens::holder_id.eq(holder));
            spent_with!(conn, prepared_update(soft_tokens::table, spend, held), u)
        }
        None => {
            let shared = unspent.and(soft_tokens::holder_id.is_null());
            spent_with!(conn, prepared_update(soft_tokens::table, spend, shared), u)
        }
    })
}

fn ledger_row(u: StepUse<'_>) -> OtpStepUseRow {
    OtpStepUseRow {
        id: u.id.to_owned(),
        soft_token_id: u.token.to_owned(),
        step: u.step,
        used_by: u.used_by.to_owned(),
        purpose: u.purpose.as_str().to_owned(),
        transfer_id: u.transfer_id.map(str::to_owned),
        used_at: u.at.naive_utc(),
    }
}

/// Every key id the stored seeds name, each with one token sealed under it.
pub fn one_seed_per_key(conn: &mut DbConn) -> QueryResult<Vec<(String, StoredSeed)>> {
    let key_ids: Vec<String> = soft_tokens::table
        .select(soft_tokens::key_id)
        .distinct()
        .load(conn)?;
    let mut samples = Vec::with_capacity(key_ids.len());
    for key_id in key_ids {
        let row: SoftTokenRow = soft_tokens::table
            .filter(soft_tokens::key_id.eq(&key_id))
            .select(SoftTokenRow::as_select())
            .first(conn)?;
        samples.push((row.token_id.clone(), StoredSeed::from(&row)));
    }
    Ok(samples)
}

/// Up to `limit` tokens whose seed is sealed under another key than `current_key_id`.
pub fn sealed_under_other_keys(
    conn: &mut DbConn,
    current_key_id: &str,
    limit: i64,
) -> QueryResult<Vec<(String, String, StoredSeed)>> {
    Ok(soft_tokens::table
        .filter(soft_tokens::key_id.ne(current_key_id))
        .order(soft_tokens::id.asc())
        .limit(limit)
        .select(SoftTokenRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row: SoftTokenRow| {
            let seed = StoredSeed::from(&row);
            (row.id, row.token_id, seed)
        })
        .collect())
}

/// Replaces a sealed seed, only if it is still the one that was read: safe beside a
/// running server (which opens either by the key id stored with it).
pub fn reseal(
    conn: &mut DbConn,
    id: &str,
    old: &StoredSeed,
    key_id: &str,
    sealed: &[u8],
) -> QueryResult<bool> {
    let changed = diesel::update(
        soft_tokens::table
            .find(id)
            .filter(soft_tokens::key_id.eq(&old.key_id))
            .filter(soft_tokens::sealed_secret.eq(&old.sealed)),
    )
    .set((
        soft_tokens::key_id.eq(key_id),
        soft_tokens::sealed_secret.eq(sealed),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
