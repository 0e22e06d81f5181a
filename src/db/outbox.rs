//! The outbox: messages the action's own transaction wrote, claimed by the dispatchers of
//! any instance (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so two never hold one) under
//! a lease that a crashed instance's claim outlives by no more than its length.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};

use super::DbConn;
use super::schema::outbox;

/// A message as the outbox holds it.
#[derive(Clone, Debug, Queryable, Selectable, QueryableByName, Insertable)]
#[diesel(table_name = outbox)]
pub struct Message {
    pub id: String,
    pub channel: String,
    pub destination: String,
    pub event_type: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const DEAD: &str = "dead";

pub fn insert(conn: &mut DbConn, m: &Message) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values(m.clone())
        .execute(conn)?;
    Ok(())
}

/// Claims up to `limit` due messages until `lease_until`, counting the attempt. Messages
/// another dispatcher holds are skipped, not waited for.
pub fn claim(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Message>> {
    let due = "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
               AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at, id LIMIT $3";
    let claim = |lock: &str| {
        format!(
            "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 \
             WHERE id IN ({due}{lock}) RETURNING *"
        )
    };
    match conn {
        DbConn::Postgres(pg) => diesel::sql_query(claim(" FOR UPDATE SKIP LOCKED"))
            .bind::<Timestamp, _>(now.naive_utc())
            .bind::<Timestamp, _>(lease_until.naive_utc())
            .bind::<BigInt, _>(limit)
            .load(pg),
        // One writer at a time: the caller's write transaction is the lock.
        DbConn::Sqlite(lite) => diesel::sql_query(claim("").replace('$', "?"))
            .bind::<Timestamp, _>(now.naive_utc())
            .bind::<Timestamp, _>(lease_until.naive_utc())
            .bind::<BigInt, _>(limit)
            .load(lite),
    }
}

/// Delivered: never sent again. Only under this dispatcher's lease (`claimed_until` as
/// it claimed): an instance that outlived its lease changes nothing.
pub fn delivered(
    conn: &mut DbConn,
    id: &str,
    lease: NaiveDateTime,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::claimed_until.eq(lease)),
    )
    .set((
        outbox::status.eq(DELIVERED),
        outbox::delivered_at.eq(now.naive_utc()),
        outbox::claimed_until.eq(None::<NaiveDateTime>),
        outbox::last_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(())
}

/// A failed attempt: tried again at `retry_at`, or dead when there is none.
pub fn failed(
    conn: &mut DbConn,
    id: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    lease: NaiveDateTime,
) -> QueryResult<()> {
    let row = outbox::table
        .find(id)
        .filter(outbox::claimed_until.eq(lease));
    let error: String = error.chars().take(500).collect();
    match retry_at {
        Some(at) => diesel::update(row)
            .set((
                outbox::next_attempt_at.eq(at.naive_utc()),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(error),
            ))
            .execute(conn)?,
        None => diesel::update(row)
            .set((
                outbox::status.eq(DEAD),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(error),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// A removed subscription's waiting messages will never go: dead, with the reason.
pub fn cancel_for(conn: &mut DbConn, destination: &str) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::destination.eq(destination))
            .filter(outbox::status.eq(PENDING)),
    )
    .set((
        outbox::status.eq(DEAD),
        outbox::last_error.eq("the subscription was removed"),
        // An attempt in flight finds its lease gone and records nothing.
        outbox::claimed_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
}

/// A dead message goes out again, its attempts counted afresh.
pub fn redeliver(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let changed = diesel::update(outbox::table.find(id).filter(outbox::status.eq(DEAD)))
        .set((
            outbox::status.eq(PENDING),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Message>> {
    outbox::table
        .find(id)
        .select(Message::as_select())
        .first(conn)
        .optional()
}

/// Messages, newest first, with optional filters; `before` is a (created_at, id) cursor.
pub fn list(
    conn: &mut DbConn,
    status: Option<&str>,
    channel: Option<&str>,
    event_type: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Message>> {
    let mut query = outbox::table
        .select(Message::as_select())
        .order((outbox::created_at.desc(), outbox::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(s) = status {
        query = query.filter(outbox::status.eq(s.to_owned()));
    }
    if let Some(c) = channel {
        query = query.filter(outbox::channel.eq(c.to_owned()));
    }
    if let Some(t) = event_type {
        query = query.filter(outbox::event_type.eq(t.to_owned()));
    }
    query.load(conn)
}

/// Counts by status, and when the oldest pending message was written.
#[derive(Debug, Default, QueryableByName)]
pub struct Backlog {
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    #[diesel(sql_type = BigInt)]
    pub dead: i64,
    #[diesel(sql_type = BigInt)]
    pub delivered: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamp>)]
    pub oldest_pending: Option<NaiveDateTime>,
}

pub fn backlog(conn: &mut DbConn) -> QueryResult<Backlog> {
    let sql = "SELECT \
        COUNT(CASE WHEN status = 'pending' THEN 1 END) AS pending, \
        COUNT(CASE WHEN status = 'dead' THEN 1 END) AS dead, \
        COUNT(CASE WHEN status = 'delivered' THEN 1 END) AS delivered, \
        MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldest_pending FROM outbox";
    match conn {
        DbConn::Postgres(pg) => diesel::sql_query(sql).get_result(pg),
        DbConn::Sqlite(lite) => diesel::sql_query(sql).get_result(lite),
    }
}
