//! Approvers' decisions on transfers: one per person and transfer (a unique index).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::transfer_approvals;
use super::{DbConn, Insert, inserted};
use crate::domain::approval::{Approval, Decision};
use crate::domain::transfer::ConfirmationMethod;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = transfer_approvals)]
struct ApprovalRow {
    id: String,
    transfer_id: String,
    person_id: String,
    decision: String,
    method: Option<String>,
    step: Option<i64>,
    reason: Option<String>,
    decided_at: chrono::NaiveDateTime,
}

/// Records a decision; `Duplicate` when the person decided on this transfer before.
pub fn insert(conn: &mut DbConn, id: &str, a: &Approval, step: Option<i64>) -> QueryResult<Insert> {
    inserted(
        diesel::insert_into(transfer_approvals::table)
            .values(ApprovalRow {
                id: id.to_owned(),
                transfer_id: a.transfer_id.clone(),
                person_id: a.person_id.clone(),
                decision: a.decision.as_str().to_owned(),
                method: a.method.map(|m| m.as_str().to_owned()),
                step,
                reason: a.reason.clone(),
                decided_at: a.decided_at.naive_utc(),
            })
            .execute(conn),
    )
}

/// The decisions on these transfers, oldest first.
pub fn of_transfers(conn: &mut DbConn, ids: &[&str]) -> QueryResult<Vec<Approval>> {
    let rows: Vec<ApprovalRow> = transfer_approvals::table
        .filter(transfer_approvals::transfer_id.eq_any(ids))
        .order((transfer_approvals::decided_at, transfer_approvals::id))
        .select(ApprovalRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            let damaged = |e: String| diesel::result::Error::DeserializationError(e.into());
            Ok(Approval {
                decision: r.decision.parse::<Decision>().map_err(damaged)?,
                method: r
                    .method
                    .as_deref()
                    .map(str::parse::<ConfirmationMethod>)
                    .transpose()
                    .map_err(damaged)?,
                decided_at: DateTime::<Utc>::from_naive_utc_and_offset(r.decided_at, Utc),
                transfer_id: r.transfer_id,
                person_id: r.person_id,
                reason: r.reason,
            })
        })
        .collect()
}
