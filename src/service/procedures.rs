//! Dual control (四つの目) in the back office: the bank's destructive procedures — a
//! contract's administrator or shared token reset, a token's suspension or reissue, a
//! contract's closing, an operator's unlock — are requested by one operator with the
//! reason and the evidence checked (e.g. the registered seal, 届出印), and carried out
//! only when a second, different operator approves, in the approval's own transaction.

use chrono::Duration;

use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::ContractKind;
use crate::domain::approval::{BankProcedure, ProcedureKind, ProcedureStatus};
use crate::domain::audit::{AuditAction, Outcome};
use crate::error::{AppError, ErrorCode};

use super::bank::{self, OperatorChange};
use super::{Operator, Services, audit, cursor, hotline, new_id, system_event};

/// A procedure as an operator asks for it.
pub struct ProcedureRequest {
    pub kind: ProcedureKind,
    pub target_id: String,
    pub reason: String,
    pub evidence: String,
}

/// The contract a procedure concerns, checked against its kind: 404 for a target that
/// does not exist as that kind of thing.
fn contract_of(
    conn: &mut DbConn,
    who: &Operator,
    kind: ProcedureKind,
    target: &str,
) -> Result<Option<String>, AppError> {
    match kind {
        ProcedureKind::AdminTokenReset | ProcedureKind::ContractClose => {
            let company =
                db::companies::find(conn, target)?.ok_or_else(|| AppError::not_found("company"))?;
            if kind == ProcedureKind::AdminTokenReset && company.kind != ContractKind::Corporate {
                // A personal customer's token is suspended and reissued instead.
                return Err(AppError::not_found("company"));
            }
            Ok(Some(company.id))
        }
        ProcedureKind::TokenSuspend | ProcedureKind::TokenReissue => {
            let person =
                db::users::find(conn, target)?.ok_or_else(|| AppError::not_found("person"))?;
            Ok(Some(person.company_id))
        }
        ProcedureKind::OperatorUnlock => {
            db::operators::find(conn, target)?.ok_or_else(|| AppError::not_found("operator"))?;
            if target == who.operator_id {
                return Err(AppError::forbidden(
                    "another operator asks for your own unlock",
                ));
            }
            Ok(None)
        }
    }
}

/// Records the request; nothing is changed until a second operator approves.
pub fn request(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    asked: ProcedureRequest,
) -> Result<BankProcedure, AppError> {
    write_tx(db.conn()?, |conn| {
        let company_id = contract_of(conn, who, asked.kind, &asked.target_id)?;
        let now = svc.now();
        let procedure = BankProcedure {
            id: new_id(),
            kind: asked.kind,
            target_id: asked.target_id,
            company_id,
            reason: asked.reason,
            evidence: asked.evidence,
            status: ProcedureStatus::Pending,
            requested_by: who.operator_id.clone(),
            requested_at: now,
            expires_at: now + Duration::seconds(svc.policy.procedure_ttl_secs),
            decided_by: None,
            decided_at: None,
            decision_note: None,
        };
        db::procedures::insert(conn, &procedure)?;
        let mut event = who
            .event(AuditAction::ProcedureRequested, Outcome::Success)
            .target("procedure", &procedure.id)
            .detail(serde_json::json!({
                "kind": procedure.kind.as_str(),
                "target_id": procedure.target_id,
                "reason": procedure.reason,
            }));
        if let Some(company) = &procedure.company_id {
            event = event.company(company);
        }
        audit::record(conn, svc, event)?;
        Ok(procedure)
    })
}

/// Marks pending requests past their time as expired, and audits each.
fn expire_due(conn: &mut DbConn, svc: &Services) -> Result<(), AppError> {
    let due = db::procedures::due_for_expiry(conn, svc.now())?;
    if due.is_empty() {
        return Ok(());
    }
    write_tx(conn, |conn| {
        for p in &due {
            if db::procedures::expire(conn, &p.id, svc.now())? {
                let event = system_event(AuditAction::ProcedureExpired)
                    .target("procedure", &p.id)
                    .detail(serde_json::json!({ "kind": p.kind.as_str() }));
                audit::record(conn, svc, event)?;
            }
        }
        Ok(())
    })
}

/// A procedure as it stands now: one past its time reads as expired even before the
/// expiry is written.
fn found(conn: &mut DbConn, svc: &Services, id: &str) -> Result<BankProcedure, AppError> {
    let procedure =
        db::procedures::find(conn, id)?.ok_or_else(|| AppError::not_found("procedure"))?;
    Ok(procedure.as_of(svc.now()))
}

pub fn get(db: &mut Db, svc: &Services, id: &str) -> Result<BankProcedure, AppError> {
    let conn = db.conn()?;
    expire_due(conn, svc)?;
    found(conn, svc, id)
}

/// A page of procedures, newest first, and the cursor naming the last one shown.
pub fn list(
    db: &mut Db,
    svc: &Services,
    status: Option<ProcedureStatus>,
    limit: i64,
    after: Option<&str>,
) -> Result<(Vec<BankProcedure>, Option<String>), AppError> {
    let after = after.map(cursor::decode).transpose()?;
    let conn = db.conn()?;
    expire_due(conn, svc)?;
    let mut page = db::procedures::page(conn, status, after, limit + 1)?;
    let next = if page.len() as i64 > limit {
        page.truncate(limit as usize);
        page.last().map(|p| cursor::encode(p.requested_at, &p.id))
    } else {
        None
    };
    Ok((page, next))
}

/// Why a procedure cannot be decided by `who` now, if it cannot.
fn undecidable(p: &BankProcedure, who: &Operator) -> Option<AppError> {
    match p.status {
        ProcedureStatus::Pending if p.requested_by == who.operator_id => Some(AppError::new(
            ErrorCode::SecondOperatorRequired,
            "you asked for this procedure: a second, different operator decides it",
        )),
        ProcedureStatus::Pending => None,
        ProcedureStatus::Expired => Some(AppError::new(
            ErrorCode::ProcedureExpired,
            "the procedure expired before a second operator approved it: ask for it again",
        )),
        other => Some(AppError::new(
            ErrorCode::ProcedureNotPending,
            format!("the procedure is {} already", other.as_str()),
        )),
    }
}

/// Decides a procedure: the conditional update on the pending request and, when it is
/// approved, the procedure itself, in one transaction. A lost race is answered by what
/// the winner made of it.
fn decide(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    id: &str,
    outcome: ProcedureStatus,
    note: Option<&str>,
) -> Result<BankProcedure, AppError> {
    let conn = db.conn()?;
    expire_due(conn, svc)?;
    let procedure = found(conn, svc, id)?;
    if let Some(refused) = undecidable(&procedure, who) {
        return Err(refused);
    }
    let decided = write_tx(conn, |conn| {
        let now = svc.now();
        if !db::procedures::decide(conn, id, &who.operator_id, outcome, note, now)? {
            return Ok(false);
        }
        let action = if outcome == ProcedureStatus::CarriedOut {
            carry_out(conn, svc, who, &procedure)?;
            AuditAction::ProcedureApproved
        } else {
            AuditAction::ProcedureRejected
        };
        let mut event = who
            .event(action, Outcome::Success)
            .target("procedure", id)
            .detail(serde_json::json!({
                "kind": procedure.kind.as_str(),
                "target_id": procedure.target_id,
                "requested_by": procedure.requested_by,
                "note": note,
            }));
        if let Some(company) = &procedure.company_id {
            event = event.company(company);
        }
        audit::record(conn, svc, event)?;
        Ok::<_, AppError>(true)
    })?;
    let now = found(conn, svc, id)?;
    match (decided, undecidable(&now, who)) {
        (false, Some(refused)) => Err(refused),
        _ => Ok(now),
    }
}

/// Approves and carries out a procedure another operator asked for.
pub fn approve(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    id: &str,
    note: Option<&str>,
) -> Result<BankProcedure, AppError> {
    decide(db, svc, who, id, ProcedureStatus::CarriedOut, note)
}

/// Refuses a procedure another operator asked for; nothing is changed.
pub fn reject(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    id: &str,
    note: &str,
) -> Result<BankProcedure, AppError> {
    decide(db, svc, who, id, ProcedureStatus::Rejected, Some(note))
}

/// The procedure itself, by the approving operator, with the requester's reason.
fn carry_out(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    p: &BankProcedure,
) -> Result<(), AppError> {
    let (target, reason) = (p.target_id.as_str(), p.reason.as_str());
    match p.kind {
        ProcedureKind::AdminTokenReset => {
            bank::reset_admin_token(conn, svc, who, target, reason)?;
        }
        ProcedureKind::ContractClose => {
            let kind = db::companies::get(conn, target)?.kind;
            bank::close_contract(conn, svc, who, kind, target, reason)?;
        }
        ProcedureKind::TokenSuspend => {
            hotline::suspend_token(conn, svc, who, target, reason)?;
        }
        ProcedureKind::TokenReissue => {
            hotline::reissue_token(conn, svc, who, target, reason)?;
        }
        ProcedureKind::OperatorUnlock => {
            bank::change_operator_in(conn, svc, Some(who), target, OperatorChange::Unlock)?;
        }
    }
    Ok(())
}
