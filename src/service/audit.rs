//! The append-only audit log. Every security event is written in the same transaction as
//! the action it records, so the log never claims what did not happen, nor misses what did.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::models::{AuditEventRow, NewAuditEvent};
use crate::db::schema::audit_events;
use crate::error::AppError;

use super::{Operator, Person, Services};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// One event being written.
#[derive(Clone, Debug)]
pub struct Event {
    pub action: &'static str,
    pub outcome: Outcome,
    pub actor_kind: &'static str,
    pub actor_id: Option<String>,
    pub company_id: Option<String>,
    pub target: Option<(&'static str, String)>,
    pub client_addr: Option<String>,
    pub flagged: bool,
    pub detail: Option<serde_json::Value>,
}

impl Event {
    pub fn by_person(action: &'static str, outcome: Outcome, who: &Person) -> Event {
        Event {
            action,
            outcome,
            actor_kind: "person",
            actor_id: Some(who.user_id.clone()),
            company_id: Some(who.company_id.clone()),
            target: None,
            client_addr: who.client_addr.clone(),
            flagged: false,
            detail: None,
        }
    }

    pub fn by_operator(action: &'static str, outcome: Outcome, who: &Operator) -> Event {
        Event {
            action,
            outcome,
            actor_kind: "operator",
            actor_id: Some(who.operator_id.clone()),
            company_id: None,
            target: None,
            client_addr: who.client_addr.clone(),
            flagged: false,
            detail: None,
        }
    }

    /// An event of someone not yet identified (a failed sign-in), or of the system.
    pub fn anonymous(action: &'static str, outcome: Outcome, client_addr: Option<String>) -> Event {
        Event {
            action,
            outcome,
            actor_kind: "anonymous",
            actor_id: None,
            company_id: None,
            target: None,
            client_addr,
            flagged: false,
            detail: None,
        }
    }

    pub fn target(mut self, kind: &'static str, id: impl Into<String>) -> Event {
        self.target = Some((kind, id.into()));
        self
    }

    pub fn company(mut self, company_id: impl Into<String>) -> Event {
        self.company_id = Some(company_id.into());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Event {
        self.detail = Some(detail);
        self
    }

    pub fn flagged(mut self) -> Event {
        self.flagged = true;
        self
    }
}

pub fn record(conn: &mut DbConn, svc: &Services, event: Event) -> Result<(), AppError> {
    let (target_kind, target_id) = match event.target {
        Some((kind, id)) => (Some(kind.to_owned()), Some(id)),
        None => (None, None),
    };
    diesel::insert_into(audit_events::table)
        .values(NewAuditEvent {
            occurred_at: svc.now_naive(),
            company_id: event.company_id,
            actor_kind: event.actor_kind.to_owned(),
            actor_id: event.actor_id,
            action: event.action.to_owned(),
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

/// The administrator's view: their own company's events only; another company's
/// does not exist for them.
pub fn company_log(
    conn: &mut DbConn,
    who: &Person,
    company_id: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<AuditEventRow>, Option<i64>), AppError> {
    super::auth::person_is_admin(who)?;
    if company_id.is_some_and(|c| c != who.company_id) {
        return Err(AppError::not_found("company"));
    }
    list(conn, Some(&who.company_id), after, limit)
}

/// A page of events in the order they happened; `after` is the last id already seen.
pub fn list(
    conn: &mut DbConn,
    company_id: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<AuditEventRow>, Option<i64>), AppError> {
    let mut query = audit_events::table
        .select(AuditEventRow::as_select())
        .order(audit_events::id.asc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(company) = company_id {
        query = query.filter(audit_events::company_id.eq(company));
    }
    if let Some(after) = after {
        query = query.filter(audit_events::id.gt(after));
    }
    let mut rows: Vec<AuditEventRow> = query.load(conn)?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows, next))
}
