//! Four eyes on transfers (承認: 依頼者 → 承認者). Under the company's approval policy a
//! transfer its creator confirmed waits for approvals (`pending_approval`); each approver
//! approves with a code of their own token (or the shared one) — or the transfer password
//! while OTP is inactive, as confirmation does — or rejects it with a reason.
//!
//! An approval is one transaction: the decision row (unique per person and transfer), the
//! conditional update that counts it — only on a waiting, unexpired transfer someone else
//! created, short of the approvals needed, while the approver holds the permission — and
//! the code's step. Racing approvers on a transfer one approval short: one wins; the
//! others' transactions roll back, their steps with them, and they are told it is decided.

use crate::db::{self, Db, DbConn, Insert, write_tx};
use crate::domain::approval::{Approval, ApprovalPolicy, Decision, approvals_needed};
use crate::domain::audit::{AuditAction, Event, Outcome};
use crate::domain::soft_token::Purpose;
use crate::domain::transfer::{ConfirmationMethod, Transfer, TransferStatus};
use crate::domain::{Company, ContractKind, PasswordAttempt, User};
use crate::error::{AppError, ErrorCode};

use super::otp_management::{approved, check_approval};
use super::transfers::{
    Proof, TransferWithConfirmation, current, ensure_intact, method_applies, prove_then, refused,
    shown, visible,
};
use super::{Person, Refusable, Services, audit, in_company, new_id};

/// The company's approval policy; `None`: off. Any person of a company reads it: a
/// creator sees before confirming whether approvals will follow.
pub fn policy(db: &mut Db, who: &Person) -> Result<Option<ApprovalPolicy>, AppError> {
    Ok(db::companies::get(db.conn()?, &who.company_id)?.approval_policy)
}

/// Sets or turns off the policy: the administrator, with the approval password. It applies
/// to confirmations from now on, and to approvals of transfers already waiting.
pub fn set_policy(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    policy: Option<ApprovalPolicy>,
    approval: &PasswordAttempt,
) -> Result<Option<ApprovalPolicy>, AppError> {
    check_approval(db, svc, who, approval)?;
    write_tx(db.conn()?, |conn| {
        approved(conn, svc, who)?;
        let company = db::companies::get(conn, &who.company_id)?;
        if company.kind == ContractKind::Personal {
            return Err(AppError::forbidden(
                "a personal contract has one person: nobody else approves",
            ));
        }
        db::companies::set_approval_policy(conn, &company.id, policy, svc.now())?;
        let detail = match policy {
            Some(p) => serde_json::json!({
                "min_amount": p.min_amount,
                "approvals_required": p.approvals,
            }),
            None => serde_json::json!({ "enabled": false }),
        };
        audit::record(
            conn,
            svc,
            who.event(AuditAction::ApprovalPolicySet, Outcome::Success)
                .target("company", &company.id)
                .detail(detail),
        )?;
        Ok(policy)
    })
}

/// A decision refused, for the audit log.
fn failed(who: &Person, transfer: &Transfer) -> Event {
    who.event(AuditAction::TransferApprovalFailed, Outcome::Failure)
        .target("transfer", &transfer.id)
}

/// A transfer of the company the caller may decide on now, or why not (a person without
/// the approver permission is told so). Refusals are audited.
fn decidable(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    id: &str,
) -> Result<Transfer, AppError> {
    let transfer = db::transfers::visible(conn, &who.company_id, id)?
        .ok_or_else(|| AppError::not_found("transfer"))?;
    let transfer = current(conn, svc, transfer)?;
    let event = failed(who, &transfer);
    let refuse = |conn: &mut DbConn, problem: AppError| {
        let reason = problem.code().as_str();
        refused(conn, svc, &event, reason, problem)
    };
    if transfer.created_by == who.user_id {
        let problem = AppError::new(
            ErrorCode::OwnTransfer,
            "nobody approves or rejects their own transfer: another approver decides it",
        );
        return Err(refuse(conn, problem)?);
    }
    if !approver(conn, who)?.1.may_approve() {
        return Err(refuse(conn, no_permission())?);
    }
    if let Err(problem) = awaiting(&transfer) {
        return Err(refuse(conn, problem)?);
    }
    let already = db::approvals::of_transfers(conn, &[&transfer.id])?
        .iter()
        .any(|a| a.person_id == who.user_id);
    if already {
        return Err(refuse(conn, already_decided())?);
    }
    ensure_intact(conn, svc, who, &transfer)?;
    Ok(transfer)
}

fn awaiting(transfer: &Transfer) -> Result<(), AppError> {
    match transfer.status {
        TransferStatus::PendingApproval => Ok(()),
        TransferStatus::Expired => Err(AppError::new(
            ErrorCode::TransferExpired,
            "the transfer expired before it was approved: its creator creates it again",
        )),
        other => Err(AppError::new(
            ErrorCode::NotAwaitingApproval,
            format!(
                "the transfer is not waiting for approvals: it is {}",
                other.as_str()
            ),
        )),
    }
}

fn already_decided() -> AppError {
    AppError::new(
        ErrorCode::AlreadyDecided,
        "you decided on this transfer already: another approver gives the next approval",
    )
}

fn no_permission() -> AppError {
    AppError::new(
        ErrorCode::NoApproverPermission,
        "you do not hold the approver permission: the administrator grants it",
    )
}

/// The approver and their company, judged now.
fn approver(conn: &mut DbConn, who: &Person) -> Result<(Company, User), AppError> {
    db::users::with_contract(conn, &who.company_id, &who.user_id)?
        .ok_or_else(|| AppError::not_found("user"))
}

/// The rules of an approval judged when it is given: the permission, then the method.
fn judge(
    svc: &Services,
    company: &Company,
    user: &User,
    method: ConfirmationMethod,
) -> Result<(), (&'static str, AppError)> {
    if !user.may_approve() {
        return Err(("no_approver_permission", no_permission()));
    }
    method_applies(svc.transaction_status(company), method)
}

/// Approves a transfer waiting for approvals, with a code of the approver's token (or the
/// transfer password while OTP is inactive). The last approval needed confirms it.
pub fn approve(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    id: &str,
    proof: Proof,
) -> Result<TransferWithConfirmation, AppError> {
    let conn = db.conn()?;
    let transfer = decidable(conn, svc, who, id)?;
    let rules = |company: &Company, user: &User, method| judge(svc, company, user, method);
    let outcome = prove_then(
        db,
        svc,
        who,
        (&transfer, proof, Purpose::TransferApproval),
        (&rules, &failed(who, &transfer)),
        |conn, judged, method, step| {
            count_approval(conn, svc, who, (&transfer, &judged.company), method, step)
        },
    );
    finish(db.conn()?, svc, who, &transfer, outcome)
}

/// The decision row and the conditional update that counts it; any other outcome rolls
/// the whole transaction back, and with it the code's step.
fn count_approval(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    (transfer, company): (&Transfer, &Company),
    method: ConfirmationMethod,
    step: Option<i64>,
) -> Refusable<()> {
    let now = svc.now();
    let approval = Approval {
        transfer_id: transfer.id.clone(),
        person_id: who.user_id.clone(),
        decision: Decision::Approved,
        method: Some(method),
        reason: None,
        decided_at: now,
    };
    if db::approvals::insert(conn, &new_id(), &approval, step)? == Insert::Duplicate {
        return Err(already_decided());
    }
    let needed = approvals_needed(company.approval_policy, transfer.amount);
    let Some(confirmed) = db::transfers::approve(conn, transfer, &who.user_id, needed, now)? else {
        return Err(lost());
    };
    let event = who
        .event(AuditAction::TransferApproved, Outcome::Success)
        .target("transfer", &transfer.id)
        .detail(serde_json::json!({
            "method": method.as_str(),
            "step": step,
            "approvals_required": needed,
            "confirmed": confirmed,
        }));
    audit::record(conn, svc, event)?;
    Ok(Ok(()))
}

/// The counting update found nothing to count: decided, expired, or the rules changed.
fn lost() -> AppError {
    AppError::new(
        ErrorCode::NotAwaitingApproval,
        "the transfer is no longer waiting for approvals",
    )
}

/// After an approval's transaction: a lost race is answered by what changed — the
/// transfer, or the approver's permission.
fn finish(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    transfer: &Transfer,
    outcome: Refusable<()>,
) -> Result<TransferWithConfirmation, AppError> {
    match outcome {
        // The approver just approved it: theirs to see, whatever their session said.
        Ok(Ok(())) => {
            let transfer = db::transfers::visible(conn, &who.company_id, &transfer.id)?
                .ok_or_else(|| AppError::not_found("transfer"))?;
            shown(conn, svc, who, transfer)
        }
        Ok(Err(refused)) => Err(refused),
        Err(e) if e.code() == ErrorCode::NotAwaitingApproval => {
            let (_, user) = approver(conn, who)?;
            if !user.may_approve() {
                return Err(no_permission());
            }
            awaiting(&visible(conn, svc, who, &transfer.id)?)?;
            // Still waiting: its creator lost the transfer permission meanwhile.
            if !in_company(conn, &who.company_id, &transfer.created_by)?.may_transfer() {
                return Err(AppError::forbidden(
                    "the transfer's creator no longer holds the one-off transfer permission",
                ));
            }
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Rejects a transfer waiting for approvals, with the reason; it is final. A rejection
/// authorises no money, so it asks no code.
pub fn reject(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    id: &str,
    reason: String,
) -> Result<TransferWithConfirmation, AppError> {
    let conn = db.conn()?;
    let transfer = decidable(conn, svc, who, id)?;
    let outcome = write_tx(conn, |conn| {
        let (_, user) = approver(conn, who)?;
        if !user.may_approve() {
            let event = failed(who, &transfer);
            let reason = "no_approver_permission";
            return Ok(Err(refused(conn, svc, &event, reason, no_permission())?));
        }
        let now = svc.now();
        let rejection = Approval {
            transfer_id: transfer.id.clone(),
            person_id: who.user_id.clone(),
            decision: Decision::Rejected,
            method: None,
            reason: Some(reason.clone()),
            decided_at: now,
        };
        if db::approvals::insert(conn, &new_id(), &rejection, None)? == Insert::Duplicate {
            return Err(already_decided());
        }
        if !db::transfers::reject(conn, &transfer.id, &who.user_id, now)? {
            return Err(lost());
        }
        audit::record(
            conn,
            svc,
            who.event(AuditAction::TransferRejected, Outcome::Success)
                .target("transfer", &transfer.id)
                .detail(serde_json::json!({ "reason": reason })),
        )?;
        Ok(Ok(()))
    });
    finish(db.conn()?, svc, who, &transfer, outcome)
}
