//! The bank's procedures under dual control. A decision is one conditional update on a
//! pending, unexpired request by another operator, so two approvers decide it once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::bank_procedures;
use super::{DbConn, entities, entity};
use crate::domain::approval::{BankProcedure, ProcedureStatus};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = bank_procedures)]
pub(crate) struct ProcedureRow {
    id: String,
    kind: String,
    target_id: String,
    company_id: Option<String>,
    reason: String,
    evidence: String,
    status: String,
    requested_by: String,
    requested_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
    decided_by: Option<String>,
    decided_at: Option<chrono::NaiveDateTime>,
    decision_note: Option<String>,
}

impl TryFrom<ProcedureRow> for BankProcedure {
    type Error = Box<dyn std::error::Error + Send + Sync>;
    fn try_from(r: ProcedureRow) -> Result<BankProcedure, Self::Error> {
        let utc = |t: chrono::NaiveDateTime| t.and_utc();
        Ok(BankProcedure {
            kind: r.kind.parse()?,
            status: r.status.parse()?,
            requested_at: utc(r.requested_at),
            expires_at: utc(r.expires_at),
            decided_at: r.decided_at.map(utc),
            id: r.id,
            target_id: r.target_id,
            company_id: r.company_id,
            reason: r.reason,
            evidence: r.evidence,
            requested_by: r.requested_by,
            decided_by: r.decided_by,
            decision_note: r.decision_note,
        })
    }
}

pub fn insert(conn: &mut DbConn, p: &BankProcedure) -> QueryResult<()> {
    diesel::insert_into(bank_procedures::table)
        .values(ProcedureRow {
            id: p.id.clone(),
            kind: p.kind.as_str().to_owned(),
            target_id: p.target_id.clone(),
            company_id: p.company_id.clone(),
            reason: p.reason.clone(),
            evidence: p.evidence.clone(),
            status: p.status.as_str().to_owned(),
            requested_by: p.requested_by.clone(),
            requested_at: p.requested_at.naive_utc(),
            expires_at: p.expires_at.naive_utc(),
            decided_by: None,
            decided_at: None,
            decision_note: None,
        })
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<BankProcedure>> {
    bank_procedures::table
        .find(id)
        .select(ProcedureRow::as_select())
        .first(conn)
        .optional()?
        .map(entity)
        .transpose()
}

/// Newest first, after the cursor's (requested_at, id), optionally in one state.
pub fn page(
    conn: &mut DbConn,
    status: Option<ProcedureStatus>,
    after: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> QueryResult<Vec<BankProcedure>> {
    let mut query = bank_procedures::table
        .select(ProcedureRow::as_select())
        .order((
            bank_procedures::requested_at.desc(),
            bank_procedures::id.desc(),
        ))
        .limit(limit)
        .into_boxed();
    if let Some(s) = status {
        query = query.filter(bank_procedures::status.eq(s.as_str()));
    }
    if let Some((at, id)) = after {
        let at = at.naive_utc();
        query = query.filter(
            bank_procedures::requested_at
                .lt(at)
                .or(bank_procedures::requested_at
                    .eq(at)
                    .and(bank_procedures::id.lt(id))),
        );
    }
    entities(query.load(conn)?)
}

/// Pending requests past their time.
pub fn due_for_expiry(conn: &mut DbConn, now: DateTime<Utc>) -> QueryResult<Vec<BankProcedure>> {
    entities(
        bank_procedures::table
            .filter(bank_procedures::status.eq(ProcedureStatus::Pending.as_str()))
            .filter(bank_procedures::expires_at.le(now.naive_utc()))
            .select(ProcedureRow::as_select())
            .load(conn)?,
    )
}

pub fn expire(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let changed = diesel::update(
        bank_procedures::table
            .find(id)
            .filter(bank_procedures::status.eq(ProcedureStatus::Pending.as_str())),
    )
    .set((
        bank_procedures::status.eq(ProcedureStatus::Expired.as_str()),
        bank_procedures::decided_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Decides a pending, unexpired request by an operator other than its requester.
pub fn decide(
    conn: &mut DbConn,
    id: &str,
    by: &str,
    outcome: ProcedureStatus,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let changed = diesel::update(
        bank_procedures::table
            .find(id)
            .filter(bank_procedures::status.eq(ProcedureStatus::Pending.as_str()))
            .filter(bank_procedures::expires_at.gt(now.naive_utc()))
            .filter(bank_procedures::requested_by.ne(by)),
    )
    .set((
        bank_procedures::status.eq(outcome.as_str()),
        bank_procedures::decided_by.eq(by),
        bank_procedures::decided_at.eq(now.naive_utc()),
        bank_procedures::decision_note.eq(note),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
