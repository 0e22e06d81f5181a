//! Sessions: the row decides whether an access token still works.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::{CompanyRow, SessionRow, SoftTokenRow, TransferRow, UserRow};
use super::schema::{companies, sessions, soft_tokens, transfers, users};
use super::soft_tokens::WithSeed;
use super::{DbConn, entity};
use crate::domain::transfer::Transfer;
use crate::domain::{Company, User};

pub fn open(
    conn: &mut DbConn,
    id: &str,
    kind: &str,
    subject_id: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(SessionRow {
            id: id.to_owned(),
            kind: kind.to_owned(),
            subject_id: subject_id.to_owned(),
            created_at: now.naive_utc(),
            last_seen_at: now.naive_utc(),
            expires_at: expires_at.naive_utc(),
            ended_at: None,
        })
        .execute(conn)?;
    Ok(())
}

/// Whether a session is still open, within its lifetime, and was seen after
/// `idle_since`; it is kept alive by a write only when last seen before `fresh_since`, so
/// most requests read and write nothing (a session may end up to `now - fresh_since`
/// sooner than its idle time, never later). Outside any transaction: it writes in one of
/// its own.
pub fn touch(
    conn: &mut DbConn,
    id: &str,
    kind: &str,
    subject_id: &str,
    now: DateTime<Utc>,
    (idle_since, fresh_since): (DateTime<Utc>, DateTime<Utc>),
) -> QueryResult<bool> {
    let open = sessions::table
        .find(id)
        .filter(sessions::subject_id.eq(subject_id))
        .filter(sessions::kind.eq(kind))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now.naive_utc()))
        .filter(sessions::last_seen_at.gt(idle_since.naive_utc()));
    let seen: Option<chrono::NaiveDateTime> =
        open.select(sessions::last_seen_at).first(conn).optional()?;
    match seen {
        None => Ok(false),
        Some(seen) if seen > fresh_since.naive_utc() => Ok(true),
        // The same conditions decide again: a logout meanwhile wins. A write transaction
        // of its own: on SQLite it queues with the other writers instead of sleeping in
        // SQLite's busy handler (hundreds of ms under load).
        Some(_) => super::write_tx(conn, |conn| {
            let touched = diesel::update(open)
                .set(sessions::last_seen_at.eq(now.naive_utc()))
                .execute(conn)?;
            Ok(touched == 1)
        }),
    }
}

/// What a person's session statement reads besides the session.
pub struct PersonRead {
    pub user: User,
    pub company: Company,
    pub token: Option<WithSeed>,
    /// The transfer the request names, if it is their company's.
    pub transfer: Option<Transfer>,
}

/// When the session was last seen, and what `PersonRead` is read from.
type SessionRows = (
    chrono::NaiveDateTime,
    UserRow,
    CompanyRow,
    Option<SoftTokenRow>,
    Option<TransferRow>,
);

/// `touch` for a person's session, reading the person, their company, the token they
/// hold (with its sealed seed) and the transfer the request names in the same statement:
/// most requests then need one query before their own.
pub fn touch_person(
    conn: &mut DbConn,
    (id, subject_id): (&str, &str),
    transfer_id: Option<&str>,
    now: DateTime<Utc>,
    (idle_since, fresh_since): (DateTime<Utc>, DateTime<Utc>),
) -> QueryResult<Option<PersonRead>> {
    // Two shapes, each prepared once: a join with `transfers` when the request names
    // none cost `/me` 10 % on PostgreSQL.
    macro_rules! open_session {
        () => {
            sessions::table
                .inner_join(users::table.on(users::id.eq(sessions::subject_id)))
                .inner_join(companies::table.on(companies::id.eq(users::company_id)))
                .left_join(soft_tokens::table.on(soft_tokens::holder_id.eq(users::id.nullable())))
                .filter(sessions::id.eq(id))
                .filter(sessions::subject_id.eq(subject_id))
                .filter(sessions::kind.eq("person"))
                .filter(sessions::ended_at.is_null())
                .filter(sessions::expires_at.gt(now.naive_utc()))
                .filter(sessions::last_seen_at.gt(idle_since.naive_utc()))
        };
    }
    macro_rules! person {
        ($($transfer:expr)?) => {
            (
                sessions::last_seen_at,
                UserRow::as_select(),
                CompanyRow::as_select(),
                Option::<SoftTokenRow>::as_select(),
                $($transfer)?
            )
        };
    }
    let found: Option<SessionRows> = match transfer_id {
        None => open_session!()
            .select(person!())
            .first(conn)
            .optional()?
            .map(|(seen, user, company, token)| (seen, user, company, token, None)),
        Some(transfer_id) => open_session!()
            .left_join(
                transfers::table.on(transfers::id
                    .eq(transfer_id)
                    .and(transfers::company_id.eq(users::company_id))),
            )
            .select(person!(Option::<TransferRow>::as_select()))
            .first(conn)
            .optional()?,
    };
    let Some((seen, user, company, token, transfer)) = found else {
        return Ok(None);
    };
    let window = (idle_since, fresh_since);
    if seen <= fresh_since.naive_utc() && !touch(conn, id, "person", subject_id, now, window)? {
        return Ok(None);
    }
    Ok(Some(PersonRead {
        user: entity(user)?,
        company: entity(company)?,
        token: token.map(super::soft_tokens::with_seed).transpose()?,
        transfer: transfer.map(entity).transpose()?,
    }))
}

pub fn end(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now.naive_utc()))
    .execute(conn)?;
    Ok(())
}

/// Ends every open session of one person or operator.
pub fn end_all_of(conn: &mut DbConn, subject_id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::subject_id.eq(subject_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now.naive_utc()))
    .execute(conn)
}
