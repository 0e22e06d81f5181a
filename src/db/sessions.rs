//! Sessions: the row decides whether an access token still works.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::{CompanyRow, SessionRow, SoftTokenRow, UserRow};
use super::schema::{companies, sessions, soft_tokens, users};
use super::soft_tokens::WithSeed;
use super::{DbConn, entity};
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

/// `touch` for a person's session, reading the person, their company and the token they
/// hold, with its sealed seed, in the same statement: most requests then need one query
/// before their own.
pub fn touch_person(
    conn: &mut DbConn,
    id: &str,
    subject_id: &str,
    now: DateTime<Utc>,
    (idle_since, fresh_since): (DateTime<Utc>, DateTime<Utc>),
) -> QueryResult<Option<(User, Company, Option<WithSeed>)>> {
    let found: Option<(
        chrono::NaiveDateTime,
        UserRow,
        CompanyRow,
        Option<SoftTokenRow>,
    )> = sessions::table
        .inner_join(users::table.on(users::id.eq(sessions::subject_id)))
        .inner_join(companies::table.on(companies::id.eq(users::company_id)))
        .left_join(soft_tokens::table.on(soft_tokens::holder_id.eq(users::id.nullable())))
        .filter(sessions::id.eq(id))
        .filter(sessions::subject_id.eq(subject_id))
        .filter(sessions::kind.eq("person"))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now.naive_utc()))
        .filter(sessions::last_seen_at.gt(idle_since.naive_utc()))
        .select((
            sessions::last_seen_at,
            UserRow::as_select(),
            CompanyRow::as_select(),
            Option::<SoftTokenRow>::as_select(),
        ))
        .first(conn)
        .optional()?;
    let Some((seen, person, company, token)) = found else {
        return Ok(None);
    };
    let window = (idle_since, fresh_since);
    if seen <= fresh_since.naive_utc() && !touch(conn, id, "person", subject_id, now, window)? {
        return Ok(None);
    }
    let token = token.map(super::soft_tokens::with_seed).transpose()?;
    Ok(Some((entity(person)?, entity(company)?, token)))
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
