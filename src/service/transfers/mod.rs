//! One-off transfers (都度振込): creation with an idempotency key, confirmation by a code
//! (OTP active) or the transfer password (OTP inactive), cancellation and expiry.
//!
//! A transfer is confirmed at most once: one conditional update, in the transaction or
//! the statement that spends the code, changes it from pending to confirmed — and only
//! while its creator may still transfer and the company's OTP status still calls for that
//! method. So a code is spent only if the transfer really was confirmed, and the rules are
//! judged by the statement that confirms. (On PostgreSQL a statement sees the rules as they
//! stood when it began: a change committed while it waited for the token's lock is
//! ordered after the confirmation.)

use chrono::{Duration, NaiveDate};
use sha2::{Digest, Sha256};

use crate::db::transfers::Then;
use crate::db::{self, Db, DbConn, Insert, write_tx};
use crate::domain::approval::{Approval, approvals_asked};
use crate::domain::audit::{AuditAction, Event, Outcome};
use crate::domain::otp_code::OtpCode;
use crate::domain::soft_token::Purpose;
use crate::domain::transfer::{ConfirmationMethod, Draft, DraftInput, Transfer, TransferStatus};
use crate::domain::{BlockedReason, Company, OtpStatus, Role, Secret, TransferConfirmation, User};
use crate::error::{AppError, ErrorCode};

use super::tokens;

mod proof;
mod reading;
use super::{Person, Refusable, Services, acting_token, audit, confirmation, confirming, new_id};
pub use proof::Proof;
pub(in crate::service) use proof::{prove_then, refused};
use reading::Shown;
pub use reading::{Listing, get, list};
pub(super) use reading::{current, seen, shown, visible};

/// A transfer with how its confirmation stands now.
pub struct TransferWithConfirmation {
    pub transfer: Transfer,
    /// How the creator confirms it now (or confirmed it).
    pub confirmation: TransferConfirmation,
    /// The company's one-time passwords are active: a code is the method, even when blocked.
    pub otp_active: bool,
    /// The approvers' decisions, oldest first (none unless it needs approvals).
    pub approvals: Vec<Approval>,
}

/// Today in Japan, where the bank's calendar runs.
fn today_in_japan(svc: &Services) -> NaiveDate {
    (svc.now() + Duration::hours(9)).date_naive()
}

/// The content still matches its hash, under the key whose id the transfer names (kept
/// across a rotation of the master key as a previous key).
fn intact(svc: &Services, transfer: &Transfer) -> Result<bool, AppError> {
    let key = svc
        .content_keys
        .get(transfer.content_key_id.as_deref())
        .ok_or_else(|| {
            AppError::Internal(format!(
                "transfer {} was hashed under master key {:?}, which is not configured: add it to WEBFB_MASTER_KEYS_PREVIOUS",
                transfer.id, transfer.content_key_id
            ))
        })?;
    let expected = transfer.content_hash(key);
    Ok(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), transfer.content_hash.as_bytes()).into())
}

/// Refuses a transfer whose content no longer matches its hash: someone changed what is
/// authorised after it was created. Flagged for a security officer, counted and logged
/// loudly; the answer is a stable 409.
pub(super) fn ensure_intact(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    transfer: &Transfer,
) -> Result<(), AppError> {
    if intact(svc, transfer)? {
        return Ok(());
    }
    svc.tampered_transfers
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::error!(transfer = %transfer.id, "transfer does not match its content hash");
    audit::record(
        conn,
        svc,
        who.event(AuditAction::TransferTampered, Outcome::Denied)
            .target("transfer", &transfer.id)
            .flagged(),
    )?;
    Err(AppError::new(
        ErrorCode::TransferTampered,
        "this transfer no longer matches what was created and cannot be confirmed; the bank has been told",
    ))
}

/// The hash of a request body, for the idempotency check.
pub fn request_hash(canonical_json: &str) -> String {
    crate::domain::transfer::hex(&Sha256::digest(canonical_json.as_bytes()))
}

pub(super) fn blocked(reason: BlockedReason) -> AppError {
    match reason {
        BlockedReason::NoTransferPermission => {
            AppError::forbidden("you do not have the one-off transfer permission")
        }
        BlockedReason::TokenNotRegistered => AppError::new(
            ErrorCode::TokenNotRegistered,
            "one-time passwords are active and you have no registered token: ask your administrator to register one",
        ),
        BlockedReason::TokenLocked => tokens::token_locked(),
        BlockedReason::TokenSuspended => tokens::token_suspended(),
        BlockedReason::TransferPasswordLocked => {
            super::lockout::locked_error(Secret::TransferPassword)
        }
    }
}

/// Creates a transfer. A retry with the same key is answered with the first answer, even
/// if the person's situation changed since: the key is looked up when the insert finds it
/// taken, or when anything else refuses, so a first attempt costs no lookup. `true` when
/// this call created it.
pub fn create(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    idempotency_key: &str,
    request_hash: &str,
    input: DraftInput,
) -> Result<(TransferWithConfirmation, bool), AppError> {
    let conn = db.conn()?;
    // A retry is answered as the first attempt was; anything else gets `refused`.
    let replayed_or =
        |conn: &mut DbConn, refused: AppError| match db::transfers::by_idempotency_key(
            conn,
            &who.user_id,
            idempotency_key,
        )? {
            Some(existing) => replay(conn, svc, who, existing, request_hash),
            None => Err(refused),
        };
    let (draft, confirmed_by) = match judge_new(conn, svc, who, &input) {
        Ok(judged) => judged,
        Err(refused) => return replayed_or(conn, refused),
    };
    let company = &who.company;
    let now = svc.now();
    let mut transfer = Transfer {
        id: new_id(),
        company_id: company.id.clone(),
        created_by: who.user_id.clone(),
        idempotency_key: idempotency_key.to_owned(),
        request_hash: request_hash.to_owned(),
        content_hash: String::new(),
        debit_account: draft.debit_account.to_string(),
        payee: draft.payee,
        amount: draft.amount.yen(),
        execution_date: draft.execution_date,
        memo: draft.memo,
        status: TransferStatus::PendingConfirmation,
        created_at: now,
        expires_at: now + Duration::seconds(svc.policy.transfer_ttl_secs),
        confirmed_at: None,
        confirmation_method: None,
        confirmed_step: None,
        cancelled_at: None,
        cancelled_by: None,
        content_key_id: Some(svc.content_keys.current.0.clone()),
        approvals_required: 0,
        approvals_given: 0,
    };
    transfer.content_hash = transfer.content_hash(&svc.content_keys.current.1);
    let event = who
        .event(AuditAction::TransferCreated, Outcome::Success)
        .target("transfer", &transfer.id)
        .detail(serde_json::json!({ "amount": transfer.amount }));
    let recorded = audit::untold(svc, event)?;
    let debit = &draft.debit_account;
    match db::transfers::insert_recorded(conn, &transfer, debit, recorded)? {
        None => return replayed_or(conn, debit_account_unknown()),
        // A retry, or a concurrent one with the same key that got in first.
        Some(Insert::Duplicate) => {
            let lost = AppError::Internal("idempotency key taken, transfer not found".into());
            return replayed_or(conn, lost);
        }
        Some(Insert::Done) => {}
    }
    let shown = Shown::new(svc, company)
        .knowing(&who.user_id, confirmed_by)
        .show(conn, transfer)?;
    Ok((shown, true))
}

/// What a new transfer is refused for at creation, where it could not be confirmed: the
/// screen tells the person before they type a code.
fn judge_new(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    input: &DraftInput,
) -> Result<(Draft, TransferConfirmation), AppError> {
    let company = &who.company;
    let draft = Draft::parse(input, company.transfer_limit, today_in_japan(svc))
        .map_err(AppError::refusals)?;
    let token = acting_token(conn, who)?;
    let confirmed_by = confirmation(svc, company, &who.user, token.as_ref());
    if let TransferConfirmation::Blocked(reason) = confirmed_by {
        return Err(blocked(reason));
    }
    Ok((draft, confirmed_by))
}

/// Another company's account gets the same answer as a mistyped one: nothing about other
/// customers' accounts can be learnt here.
fn debit_account_unknown() -> AppError {
    AppError::new(
        ErrorCode::DebitAccountUnknown,
        "the debit account is not one of your company's accounts",
    )
    .with_field(
        "debit_account",
        "debit_account_unknown",
        "not one of your company's accounts",
    )
}

/// The first answer to the person's own transfer under their key, as it stands now: read
/// by that key, with the company read with their session.
fn replay(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    existing: Transfer,
    request_hash: &str,
) -> Result<(TransferWithConfirmation, bool), AppError> {
    if existing.request_hash != request_hash {
        return Err(AppError::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used for a different transfer: use a new key for a new transfer",
        ));
    }
    let transfer = current(conn, svc, existing)?;
    Ok((Shown::new(svc, &who.company).show(conn, transfer)?, false))
}

/// Confirms the transfer a request names (read with its session) by its creator, with a
/// code while OTP is active or the transfer password while it is not.
pub fn confirm(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    found: Option<Transfer>,
    proof: Proof,
) -> Result<TransferWithConfirmation, AppError> {
    let conn = db.conn()?;
    let transfer = seen(conn, svc, who, found)?;
    let failed = who
        .event(AuditAction::TransferConfirmationFailed, Outcome::Failure)
        .target("transfer", &transfer.id);
    let refuse =
        |conn: &mut DbConn, reason: &str, problem| refused(conn, svc, &failed, reason, problem);
    if transfer.created_by != who.user_id {
        let problem = AppError::forbidden("only the person who created a transfer confirms it");
        return Err(refuse(conn, "not_creator", problem)?);
    }
    if let Err(e) = ensure_pending(&transfer) {
        return Err(refuse(conn, e.code().as_str(), e)?);
    }
    ensure_intact(conn, svc, who, &transfer)?;
    if let Proof::Otp(code) = &proof
        && let Some(confirmed) = confirmed_at_once(conn, svc, who, &transfer, code)?
    {
        return Ok(confirmed);
    }
    let method = proof.method();
    let rules = |company: &Company, user: &User, method| {
        judge(svc.transaction_status(company), user, method)
    };
    let outcome = prove_then(
        db,
        svc,
        who,
        (&transfer, proof, Purpose::TransferConfirmation),
        (&rules, &failed),
        |conn, judged, method, step| {
            let confirmed =
                mark_confirmed(conn, svc, who, (&transfer, &judged.company), method, step)?;
            // Answered from what this transaction read and wrote: nothing to read again.
            let how = confirmation(svc, &judged.company, &judged.user, judged.token.as_ref());
            let shown = Shown::new(svc, &judged.company)
                .knowing(&who.user_id, how)
                .show(conn, confirmed)?;
            Ok(Ok(shown))
        },
    );
    finish(db.conn()?, svc, who, &transfer, method, outcome)
}

/// The creator and their company, judged now.
fn creator(conn: &mut DbConn, who: &Person) -> Result<(Company, User), AppError> {
    db::users::with_contract(conn, &who.company_id, &who.user_id)?
        .ok_or_else(|| AppError::not_found("user"))
}

/// The rules judged at confirmation, not at creation: a revoked permission or a change of
/// the company's OTP status stops the transfer. The refusal's reason for the audit log.
fn judge(
    status: OtpStatus,
    user: &User,
    method: ConfirmationMethod,
) -> Result<(), (&'static str, AppError)> {
    if !user.may_transfer() {
        let reason = BlockedReason::NoTransferPermission;
        return Err((reason.as_str(), blocked(reason)));
    }
    method_applies(status, method)
}

/// Whether `method` proves a transaction under the company's OTP status `status`.
pub(super) fn method_applies(
    status: OtpStatus,
    method: ConfirmationMethod,
) -> Result<(), (&'static str, AppError)> {
    if status == method.requires() {
        return Ok(());
    }
    Err(match method {
        ConfirmationMethod::TransferPassword => (
            "otp_required",
            AppError::new(
                ErrorCode::OtpRequired,
                "one-time passwords are active: confirm with a code from your token",
            ),
        ),
        ConfirmationMethod::Otp => (
            "transfer_password_required",
            AppError::new(
                ErrorCode::TransferPasswordRequired,
                "one-time passwords are not active for your company: confirm with your transfer password",
            ),
        ),
    })
}

fn ensure_pending(transfer: &Transfer) -> Result<(), AppError> {
    match transfer.status {
        TransferStatus::PendingConfirmation => Ok(()),
        TransferStatus::Expired => Err(AppError::new(
            ErrorCode::TransferExpired,
            "the transfer expired before it was confirmed: create it again",
        )),
        other => Err(AppError::new(
            ErrorCode::TransferNotPending,
            format!("the transfer is {} already", other.as_str()),
        )),
    }
}

/// The one conditional update that confirms, or hands the transfer to its approvers
/// where the company's policy asks approvals for its amount, and the transfer it wrote;
/// any other outcome rolls the whole transaction back, and with it the code's step.
fn mark_confirmed(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    (transfer, company): (&Transfer, &Company),
    method: ConfirmationMethod,
    step: Option<i64>,
) -> Result<Transfer, AppError> {
    let policy = company.approval_policy;
    let required = approvals_asked(policy, transfer.amount);
    let now = svc.now();
    let then = if required == 0 {
        Then::Confirmed
    } else {
        Then::AwaitApprovals {
            required,
            until: now + Duration::seconds(svc.policy.approval_ttl_secs),
        }
    };
    let codes_asked = svc.codes_for_transactions(company);
    let event = confirmed_event(who, transfer, method, step, required);
    let recorded = audit::untold(svc, event.clone())?;
    let Some(confirmed) = db::transfers::confirm(
        conn,
        transfer,
        (method, codes_asked),
        (policy, then),
        step,
        now,
        recorded,
    )?
    else {
        return Err(not_pending());
    };
    if required > 0 {
        // The approvers are told (Event::told).
        let waiting = event.with(AuditAction::TransferAwaitingApproval, Outcome::Success);
        audit::record(conn, svc, waiting)?;
    }
    Ok(confirmed)
}

/// The audit event of a creator's confirmation.
fn confirmed_event(
    who: &Person,
    transfer: &Transfer,
    method: ConfirmationMethod,
    step: Option<i64>,
    required: i32,
) -> Event {
    let mut detail = serde_json::json!({
        "method": method.as_str(),
        "step": step,
        "amount": transfer.amount,
    });
    if required > 0 {
        detail["approvals_required"] = required.into();
    }
    who.event(AuditAction::TransferConfirmed, Outcome::Success)
        .target("transfer", &transfer.id)
        .detail(detail)
}

/// A confirmation with a code in the common case, in one write: the creator, their company
/// and token judged as read with their session, the code checked on that read, and its
/// step spent with the confirmation. `None`, with nothing written, when anything is not
/// plainly in order — a rule refuses, the code does not match, the transfer needs
/// approvals, or the write found something changed since the read: the transaction that
/// judges everything again then answers, and audits why.
fn confirmed_at_once(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    transfer: &Transfer,
    code: &OtpCode,
) -> Result<Option<TransferWithConfirmation>, AppError> {
    let method = ConfirmationMethod::Otp;
    let (company, user) = (&who.company, &who.user);
    let policy = company.approval_policy;
    if approvals_asked(policy, transfer.amount) > 0
        || judge(svc.transaction_status(company), user, method).is_err()
    {
        return Ok(None);
    }
    let own = who.held.clone();
    let read = confirming(conn, (company, user), own, db::soft_tokens::held_with_seed)?;
    let Some((token, seed)) = read else {
        return Ok(None);
    };
    let used = tokens::CodeUse {
        token: &token,
        seed: Some(&seed),
        code,
        purpose: Purpose::TransferConfirmation,
        transfer_id: Some(&transfer.id),
    };
    let Some(step) = tokens::accepted_step(svc, &used)? else {
        return Ok(None);
    };
    let (id, now) = (new_id(), svc.now());
    let spent = used.step_use(who, &id, step, now);
    let event = confirmed_event(who, transfer, method, Some(step), 0);
    let Some(confirmed) = db::transfers::confirm_spending(
        conn,
        transfer,
        (method, svc.codes_for_transactions(company)),
        policy,
        now,
        audit::untold(svc, event)?,
        (token.holder_id.as_deref(), spent),
    )?
    else {
        return Ok(None);
    };
    let how = confirmation(svc, company, user, Some(&token));
    let mut shown = Shown::new(svc, company).knowing(&who.user_id, how);
    Ok(Some(shown.show(conn, confirmed)?))
}

/// Still open: waiting for its confirmation or its approvals.
pub(super) fn ensure_open(transfer: &Transfer) -> Result<(), AppError> {
    if transfer.status == TransferStatus::PendingApproval {
        return Ok(());
    }
    ensure_pending(transfer)
}

fn not_pending() -> AppError {
    AppError::new(
        ErrorCode::TransferNotPending,
        "the transfer is no longer waiting for confirmation",
    )
}

/// After a confirmation transaction: a refusal whose bookkeeping committed is answered as
/// is; a lost race is answered by what changed — the transfer, or the rules.
fn finish(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    transfer: &Transfer,
    method: ConfirmationMethod,
    outcome: Refusable<TransferWithConfirmation>,
) -> Result<TransferWithConfirmation, AppError> {
    match outcome {
        Ok(Ok(confirmed)) => Ok(confirmed),
        Ok(Err(refused)) => Err(refused),
        Err(e) if e.code() == ErrorCode::TransferNotPending => {
            ensure_pending(&visible(conn, svc, who, &transfer.id)?)?;
            let (company, user) = creator(conn, who)?;
            // Still pending: the permission or the OTP status changed meanwhile.
            judge(svc.transaction_status(&company), &user, method)
                .map_err(|(_, problem)| problem)?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Cancels the transfer a request names (read with its session) while it waits for
/// confirmation or approvals: by its creator or the administrator.
pub fn cancel(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    found: Option<Transfer>,
) -> Result<TransferWithConfirmation, AppError> {
    let conn = db.conn()?;
    let transfer = seen(conn, svc, who, found)?;
    if transfer.created_by != who.user_id && who.role != Role::Admin {
        return Err(AppError::forbidden(
            "only its creator or the administrator cancels a transfer",
        ));
    }
    ensure_open(&transfer)?;
    write_tx(conn, |conn| {
        if !db::transfers::cancel(conn, &transfer.id, &who.user_id, svc.now())? {
            return Err(not_pending());
        }
        audit::record(
            conn,
            svc,
            who.event(AuditAction::TransferCancelled, Outcome::Success)
                .target("transfer", &transfer.id),
        )
    })?;
    let transfer = visible(conn, svc, who, &transfer.id)?;
    shown(conn, svc, who, transfer)
}
