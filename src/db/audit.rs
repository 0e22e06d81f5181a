//! The append-only audit log, each event with its MAC, and the seals that chain them in
//! the order they were seen committed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::DbConn;
use super::models::{AuditEventRow, NewAuditEvent};
use super::schema::{audit_chain_start, audit_events, audit_seals};
use crate::domain::audit::AuditEvent;

/// An event's own seal: its unique uid and the MAC of its content, with the key's id.
pub struct RowMac {
    pub uid: String,
    pub mac: String,
    pub key_id: String,
}

/// An event as stored, with what authenticates it (`None` for events written before
/// events carried a MAC).
pub struct StoredEvent {
    pub event: AuditEvent,
    pub mac: Option<RowMac>,
}

impl From<AuditEventRow> for StoredEvent {
    fn from(r: AuditEventRow) -> StoredEvent {
        let mac = match (r.uid.clone(), r.mac.clone(), r.mac_key_id.clone()) {
            (Some(uid), Some(mac), Some(key_id)) => Some(RowMac { uid, mac, key_id }),
            _ => None,
        };
        StoredEvent {
            event: r.into(),
            mac,
        }
    }
}

pub fn insert(conn: &mut DbConn, e: AuditEvent, mac: RowMac) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(row(e, mac))
        .execute(conn)?;
    Ok(())
}

pub(super) fn row(e: AuditEvent, mac: RowMac) -> NewAuditEvent {
    NewAuditEvent {
        uid: mac.uid,
        mac: mac.mac,
        mac_key_id: mac.key_id,
        occurred_at: e.occurred_at.naive_utc(),
        company_id: e.company_id,
        actor_kind: e.actor_kind,
        actor_id: e.actor_id,
        action: e.action,
        target_kind: e.target_kind,
        target_id: e.target_id,
        outcome: e.outcome,
        flagged: e.flagged,
        client_addr: e.client_addr,
        detail: e.detail,
        request_id: e.request_id,
    }
}

/// `row` as a link of a chained PostgreSQL statement: inserted once for each row its
/// `written` link returned, so not at all when that wrote nothing.
pub(super) fn row_for_written(
    e: AuditEvent,
    mac: RowMac,
) -> impl diesel::query_builder::QueryFragment<diesel::pg::Pg> {
    use diesel::sql_types::{Bool, Nullable, Text, Timestamp};
    let r = row(e, mac);
    diesel::insert_into(audit_events::table)
        .values(super::prepared::written::table.select((
            r.uid.into_sql::<Nullable<Text>>(),
            r.mac.into_sql::<Nullable<Text>>(),
            r.mac_key_id.into_sql::<Nullable<Text>>(),
            r.occurred_at.into_sql::<Timestamp>(),
            r.company_id.into_sql::<Nullable<Text>>(),
            r.actor_kind.into_sql::<Text>(),
            r.actor_id.into_sql::<Nullable<Text>>(),
            r.action.into_sql::<Text>(),
            r.target_kind.into_sql::<Nullable<Text>>(),
            r.target_id.into_sql::<Nullable<Text>>(),
            r.outcome.into_sql::<Text>(),
            r.flagged.into_sql::<Bool>(),
            r.client_addr.into_sql::<Nullable<Text>>(),
            r.detail.into_sql::<Nullable<Text>>(),
            r.request_id.into_sql::<Nullable<Text>>(),
        )))
        .into_columns((
            audit_events::uid,
            audit_events::mac,
            audit_events::mac_key_id,
            audit_events::occurred_at,
            audit_events::company_id,
            audit_events::actor_kind,
            audit_events::actor_id,
            audit_events::action,
            audit_events::target_kind,
            audit_events::target_id,
            audit_events::outcome,
            audit_events::flagged,
            audit_events::client_addr,
            audit_events::detail,
            audit_events::request_id,
        ))
}

/// Sealed events after position `after`, in sealed order, of one company or all.
pub fn page(
    conn: &mut DbConn,
    company_id: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    let mut query = audit_events::table
        .inner_join(audit_seals::table)
        .select((AuditEventRow::as_select(), audit_seals::position))
        .order(audit_seals::position.asc())
        .limit(limit)
        .into_boxed();
    if let Some(company) = company_id {
        query = query.filter(audit_events::company_id.eq(company));
    }
    if let Some(after) = after {
        query = query.filter(audit_seals::position.gt(after));
    }
    Ok(query
        .load::<(AuditEventRow, i64)>(conn)?
        .into_iter()
        .map(|(row, position)| AuditEvent {
            position: Some(position),
            ..row.into()
        })
        .collect())
}

/// One sealer at a time across instances, until the transaction ends; `false` when
/// another holds it (SQLite's write transaction serialises already).
pub fn lock_sealer(conn: &mut DbConn) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    match conn {
        DbConn::Postgres(pg) => {
            let got: Locked =
                diesel::sql_query("SELECT pg_try_advisory_xact_lock(7230331) AS locked")
                    .get_result(pg)?;
            Ok(got.locked)
        }
        DbConn::Sqlite(_) => Ok(true),
    }
}

pub fn is_sealed(conn: &mut DbConn, event_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        audit_seals::table.filter(audit_seals::event_id.eq(event_id)),
    ))
    .get_result(conn)
}

/// The last seal: its position and chain value.
pub fn head(conn: &mut DbConn) -> QueryResult<Option<(i64, String)>> {
    audit_seals::table
        .order(audit_seals::position.desc())
        .select((audit_seals::position, audit_seals::chain))
        .first(conn)
        .optional()
}

/// The highest event id any seal names (0 before the first seal): every event above it is
/// unsealed.
pub fn newest_sealed(conn: &mut DbConn) -> QueryResult<i64> {
    audit_seals::table
        .select(diesel::dsl::max(audit_seals::event_id))
        .first::<Option<i64>>(conn)
        .map(Option::unwrap_or_default)
}

/// Events written before events carried a MAC have ids up to this.
pub fn legacy_until(conn: &mut DbConn) -> QueryResult<i64> {
    audit_chain_start::table
        .select(audit_chain_start::legacy_until)
        .first(conn)
}

/// Committed events no seal names yet with an id above `after` and at most `through`,
/// oldest id first.
pub fn unsealed(
    conn: &mut DbConn,
    after: i64,
    through: i64,
    limit: i64,
) -> QueryResult<Vec<StoredEvent>> {
    // Both sides bounded: PostgreSQL otherwise scans every seal for its anti-join.
    let seal = audit_seals::event_id
        .eq(audit_events::id)
        .and(audit_seals::event_id.gt(after))
        .and(audit_seals::event_id.le(through));
    let rows = audit_events::table
        .left_join(audit_seals::table.on(seal))
        .filter(audit_seals::position.is_null())
        .filter(audit_events::id.gt(after))
        .filter(audit_events::id.le(through))
        .select(AuditEventRow::as_select())
        .order(audit_events::id.asc())
        .limit(limit)
        .load::<AuditEventRow>(conn)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A seal to insert: its position, the event it names and the chain value so far.
pub struct NewSeal {
    pub position: i64,
    pub event_id: i64,
    pub chain: String,
}

/// Inserts seals in one statement.
pub fn insert_seals(
    conn: &mut DbConn,
    seals: &[NewSeal],
    key_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let sealed_at = now.naive_utc();
    let rows: Vec<_> = seals
        .iter()
        .map(|seal| {
            (
                audit_seals::position.eq(seal.position),
                audit_seals::event_id.eq(seal.event_id),
                audit_seals::chain.eq(&seal.chain),
                audit_seals::key_id.eq(key_id),
                audit_seals::sealed_at.eq(sealed_at),
            )
        })
        .collect();
    let insert = diesel::insert_into(audit_seals::table).values(rows);
    match conn {
        DbConn::Postgres(pg) => insert.execute(pg)?,
        DbConn::Sqlite(lite) => insert.execute(lite)?,
    };
    Ok(())
}

/// A seal as stored, with the event it names if that event still exists.
pub struct Seal {
    pub position: i64,
    pub event_id: i64,
    pub chain: String,
    pub key_id: String,
    pub event: Option<StoredEvent>,
}

/// Seals after `after`, in order, with their events.
pub fn seals(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<Seal>> {
    let rows: Vec<(i64, i64, String, String)> = audit_seals::table
        .filter(audit_seals::position.gt(after))
        .order(audit_seals::position.asc())
        .limit(limit)
        .select((
            audit_seals::position,
            audit_seals::event_id,
            audit_seals::chain,
            audit_seals::key_id,
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let mut events: std::collections::HashMap<i64, StoredEvent> = audit_events::table
        .filter(audit_events::id.eq_any(&ids))
        .select(AuditEventRow::as_select())
        .load::<AuditEventRow>(conn)?
        .into_iter()
        .map(|r| (r.id, r.into()))
        .collect();
    Ok(rows
        .into_iter()
        .map(|(position, event_id, chain, key_id)| Seal {
            event: events.remove(&event_id),
            position,
            event_id,
            chain,
            key_id,
        })
        .collect())
}

/// Events with an id above `after`, in id order: for checking each one's MAC, and for
/// sealing those above the newest sealed one, which no seal can name.
pub fn events_after(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<StoredEvent>> {
    Ok(audit_events::table
        .filter(audit_events::id.gt(after))
        .order(audit_events::id.asc())
        .limit(limit)
        .select(AuditEventRow::as_select())
        .load::<AuditEventRow>(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}
