//! The append-only audit log.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::DbConn;
use super::models::{AuditEventRow, NewAuditEvent};
use super::schema::audit_events;
use crate::domain::audit::{AuditEvent, Event};

pub fn insert(conn: &mut DbConn, event: Event, now: DateTime<Utc>) -> QueryResult<()> {
    let (target_kind, target_id) = match event.target {
        Some((kind, id)) => (Some(kind.to_owned()), Some(id)),
        None => (None, None),
    };
    diesel::insert_into(audit_events::table)
        .values(NewAuditEvent {
            occurred_at: now.naive_utc(),
            company_id: event.company_id,
            actor_kind: event.actor_kind.as_str().to_owned(),
            actor_id: event.actor_id,
            action: event.action.as_str().to_owned(),
            target_kind,
            target_id,
            outcome: event.outcome.as_str().to_owned(),
            flagged: event.flagged,
            client_addr: event.client_addr,
            detail: event.detail.map(|d| d.to_string()),
        })
        .execute(conn)?;
    Ok(())
}

/// Events after `after`, in the order they were written, of one company or all.
pub fn page(
    conn: &mut DbConn,
    company_id: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    let mut query = audit_events::table
        .select(AuditEventRow::as_select())
        .order(audit_events::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(company) = company_id {
        query = query.filter(audit_events::company_id.eq(company));
    }
    if let Some(after) = after {
        query = query.filter(audit_events::id.gt(after));
    }
    Ok(query
        .load::<AuditEventRow>(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}
