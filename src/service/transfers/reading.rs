//! Reading transfers: one, or a page; what the caller may see; expiry on the way.

use std::collections::HashMap;

use crate::db::transfers::PageQuery;
use crate::db::{self, DbConn, write_tx};
use crate::domain::approval::Approval;
use crate::domain::audit::AuditAction;
use crate::domain::transfer::{Transfer, TransferStatus};
use crate::domain::{Company, Role, TransferConfirmation};
use crate::error::AppError;

use super::TransferWithConfirmation;
use crate::service::{
    Db, Person, Services, acting_token, audit, confirmation, confirming_token, cursor, in_company,
    system_event,
};

/// Marks the company's pending transfers past their time as expired, and audits each.
fn expire_due(conn: &mut DbConn, svc: &Services, company_id: &str) -> Result<(), AppError> {
    let due = db::transfers::due_for_expiry(conn, company_id, svc.now())?;
    if due.is_empty() {
        return Ok(());
    }
    write_tx(conn, |conn| {
        for id in &due {
            expire(conn, svc, company_id, id)?;
        }
        Ok(())
    })
}

/// The transfer as it stands now: past its time, it is expired and audited on the way, as
/// a page does for the whole company. An action on one transfer reads no other.
pub(in crate::service) fn current(
    conn: &mut DbConn,
    svc: &Services,
    transfer: Transfer,
) -> Result<Transfer, AppError> {
    if !transfer.status.open() || transfer.expires_at > svc.now() {
        return Ok(transfer);
    }
    write_tx(conn, |conn| {
        expire(conn, svc, &transfer.company_id, &transfer.id)
    })?;
    // Expired here or by a racer, or decided by one just before its time.
    db::transfers::visible(conn, &transfer.company_id, &transfer.id)?
        .ok_or_else(|| AppError::not_found("transfer"))
}

fn expire(conn: &mut DbConn, svc: &Services, company_id: &str, id: &str) -> Result<(), AppError> {
    if db::transfers::expire(conn, id, svc.now())? {
        let event = system_event(AuditAction::TransferExpired)
            .company(company_id)
            .target("transfer", id);
        audit::record(conn, svc, event)?;
    }
    Ok(())
}

/// Shows transfers of one company, judging each creator's confirmation once.
pub(super) struct Shown<'a> {
    svc: &'a Services,
    company: &'a Company,
    by_creator: HashMap<String, TransferConfirmation>,
    /// Decisions read ahead for a page, by transfer (one query for the whole page).
    decisions: Option<HashMap<String, Vec<Approval>>>,
    /// The caller, as read with their session: their own transfers need no read of them.
    caller: Option<&'a Person>,
}

impl<'a> Shown<'a> {
    pub(super) fn new(svc: &'a Services, company: &'a Company) -> Shown<'a> {
        Shown {
            svc,
            company,
            by_creator: HashMap::new(),
            decisions: None,
            caller: None,
        }
    }

    /// Shown to `who`, of their company.
    fn to(svc: &'a Services, who: &'a Person) -> Shown<'a> {
        Shown {
            caller: Some(who),
            ..Shown::new(svc, &who.company)
        }
    }

    /// How `creator` confirms now, judged already by the caller.
    pub(super) fn knowing(mut self, creator: &str, confirmation: TransferConfirmation) -> Self {
        self.by_creator.insert(creator.to_owned(), confirmation);
        self
    }

    /// Reads the decisions on every transfer of `page` that asks for approvals at once.
    fn reading_ahead(mut self, conn: &mut DbConn, page: &[Transfer]) -> Result<Self, AppError> {
        let ids: Vec<&str> = page
            .iter()
            .filter(|t| t.approvals_required > 0)
            .map(|t| t.id.as_str())
            .collect();
        let mut decisions: HashMap<String, Vec<Approval>> = HashMap::new();
        for a in db::approvals::of_transfers(conn, &ids)? {
            decisions.entry(a.transfer_id.clone()).or_default().push(a);
        }
        self.decisions = Some(decisions);
        Ok(self)
    }

    pub(super) fn show(
        &mut self,
        conn: &mut DbConn,
        transfer: Transfer,
    ) -> Result<TransferWithConfirmation, AppError> {
        let confirmation = match self.by_creator.get(&transfer.created_by) {
            Some(c) => *c,
            None => {
                let c = match self.caller.filter(|who| who.user_id == transfer.created_by) {
                    Some(who) => {
                        let token = acting_token(conn, who)?;
                        confirmation(self.svc, self.company, &who.user, token.as_ref())
                    }
                    None => {
                        let creator = in_company(conn, &self.company.id, &transfer.created_by)?;
                        let token = confirming_token(conn, self.company, &creator)?;
                        confirmation(self.svc, self.company, &creator, token.as_ref())
                    }
                };
                self.by_creator.insert(transfer.created_by.clone(), c);
                c
            }
        };
        let approvals = match (&mut self.decisions, transfer.approvals_required > 0) {
            (_, false) => Vec::new(),
            (Some(read), true) => read.remove(&transfer.id).unwrap_or_default(),
            (None, true) => db::approvals::of_transfers(conn, &[&transfer.id])?,
        };
        Ok(TransferWithConfirmation {
            transfer,
            confirmation,
            otp_active: self.company.otp_active(),
            approvals,
        })
    }
}

/// A transfer the caller may see: their own, or any of the company's for the
/// administrator and approvers. Anything else does not exist for them.
pub(in crate::service) fn visible(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    id: &str,
) -> Result<Transfer, AppError> {
    let found = db::transfers::visible(conn, &who.company_id, id)?;
    seen(conn, svc, who, found)
}

/// `visible` for a transfer of the caller's company already read (with their session).
pub(in crate::service) fn seen(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    found: Option<Transfer>,
) -> Result<Transfer, AppError> {
    let transfer = found
        .filter(|t| {
            t.company_id == who.company_id && (!only_own(who) || t.created_by == who.user_id)
        })
        .ok_or_else(|| AppError::not_found("transfer"))?;
    current(conn, svc, transfer)
}

/// Whether the caller sees only their own transfers: everyone but the administrator and
/// the approvers, whose permission was read with their session.
fn only_own(who: &Person) -> bool {
    match who.role {
        Role::Admin => false,
        Role::Customer => true,
        Role::User => !who.user.may_approve(),
    }
}

/// A transfer of the caller's company, found by `visible` or `seen`, with how its
/// confirmation stands.
pub(in crate::service) fn shown(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    transfer: Transfer,
) -> Result<TransferWithConfirmation, AppError> {
    Shown::to(svc, who).show(conn, transfer)
}

/// The transfer a request names, read with its session (`SignedIn::run_on`).
pub fn get(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    found: Option<Transfer>,
) -> Result<TransferWithConfirmation, AppError> {
    let conn = db.conn()?;
    let transfer = seen(conn, svc, who, found)?;
    shown(conn, svc, who, transfer)
}

/// Which transfers a page is cut from.
pub struct Listing {
    pub status: Option<TransferStatus>,
    /// Only those waiting for the caller's approval.
    pub awaiting_my_approval: bool,
    pub limit: i64,
    pub cursor: Option<String>,
}

/// A page of transfers, newest first, and the cursor naming the last one shown.
pub fn list(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    q: Listing,
) -> Result<(Vec<TransferWithConfirmation>, Option<String>), AppError> {
    let after = q.cursor.as_deref().map(cursor::decode).transpose()?;
    let conn = db.conn()?;
    expire_due(conn, svc, &who.company_id)?;
    let only_own = only_own(who);
    let mut page = db::transfers::page(
        conn,
        PageQuery {
            company_id: &who.company_id,
            // Someone who may not approve has nothing awaiting their approval.
            creator: (only_own && !q.awaiting_my_approval).then_some(who.user_id.as_str()),
            status: q.status,
            awaiting_approval_by: q.awaiting_my_approval.then_some(who.user_id.as_str()),
            after,
            limit: q.limit + 1,
        },
    )?;
    if only_own && q.awaiting_my_approval {
        page.clear();
    }
    let next = if page.len() as i64 > q.limit {
        page.truncate(q.limit as usize);
        page.last().map(|t| cursor::encode(t.created_at, &t.id))
    } else {
        None
    };
    let mut shown = Shown::to(svc, who).reading_ahead(conn, &page)?;
    let items = page
        .into_iter()
        .map(|t| shown.show(conn, t))
        .collect::<Result<_, _>>()?;
    Ok((items, next))
}
