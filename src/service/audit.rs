//! The append-only audit log. Every security event is written in the same transaction as
//! the action it records, so the log never claims what did not happen, nor misses what did.

use crate::db::{self, Db, DbConn};
use crate::domain::audit::{AuditEvent, Event};
use crate::error::AppError;

use super::{Person, Services};

pub fn record(conn: &mut DbConn, svc: &Services, event: Event) -> Result<(), AppError> {
    Ok(db::audit::insert(conn, event, svc.now())?)
}

/// A page of events and the cursor of the next one.
pub struct Page {
    pub events: Vec<AuditEvent>,
    pub next: Option<i64>,
}

/// The administrator's view: their own company's events only; another company's
/// does not exist for them.
pub fn company_log(
    db: &mut Db,
    who: &Person,
    company_id: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<Page, AppError> {
    who.require_admin()?;
    if company_id.is_some_and(|c| c != who.company_id) {
        return Err(AppError::not_found("company"));
    }
    bank_log(db, Some(&who.company_id), after, limit)
}

/// The bank's view: every event, or one company's, in the order they happened; `after`
/// is the last id already seen.
pub fn bank_log(
    db: &mut Db,
    company_id: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<Page, AppError> {
    let mut events = db::audit::page(db.conn()?, company_id, after, limit + 1)?;
    let next = if events.len() as i64 > limit {
        events.truncate(limit as usize);
        events.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Page { events, next })
}
