//! One-off transfers (都度振込): creation with an idempotency key, confirmation by a code
//! (OTP active) or the transfer password (OTP inactive), cancellation and expiry.
//!
//! A transfer is confirmed at most once: one conditional update, in the transaction that
//! spends the code, changes it from pending to confirmed — and only while its creator may
//! still transfer and the company's OTP status still calls for that method. So a code is
//! spent only if the transfer really was confirmed, and nothing judged can change between
//! the judgement and the confirmation.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::db::lockout::Subject;
use crate::db::transfers::PageQuery;
use crate::db::{self, Db, DbConn, Insert, write_tx};
use crate::domain::audit::{AuditAction, Outcome};
use crate::domain::otp_code::OtpCode;
use crate::domain::soft_token::Purpose;
use crate::domain::transfer::{ConfirmationMethod, Draft, DraftInput, Transfer, TransferStatus};
use crate::domain::{
    BlockedReason, Company, Invalid, OtpStatus, PasswordAttempt, Role, Secret,
    TransferConfirmation, User,
};
use crate::error::{AppError, ErrorCode};

use super::lockout::{check_password, still_open};

use super::tokens::{self, CodeUse};
use super::{
    Person, Refusable, Services, audit, confirmation, confirming_token, in_company, new_id,
    system_event,
};

/// How the creator proves the confirmation.
pub enum Proof {
    Otp(OtpCode),
    TransferPassword(PasswordAttempt),
}

/// A transfer with how its confirmation stands now.
pub struct TransferWithConfirmation {
    pub transfer: Transfer,
    /// How the creator confirms it now (or confirmed it).
    pub confirmation: TransferConfirmation,
    /// The company's one-time passwords are active: a code is the method, even when blocked.
    pub otp_active: bool,
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

/// The hash of a request body, for the idempotency check.
pub fn request_hash(canonical_json: &str) -> String {
    crate::domain::transfer::hex(&Sha256::digest(canonical_json.as_bytes()))
}

fn blocked(reason: BlockedReason) -> AppError {
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

/// Creates a transfer. A retry with the same key is answered first, before anything is
/// judged, with the first answer: it stands even if the person's situation changed since.
/// `true` when this call created it.
pub fn create(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    idempotency_key: &str,
    request_hash: &str,
    input: DraftInput,
) -> Result<(TransferWithConfirmation, bool), AppError> {
    let conn = db.conn()?;
    if let Some(existing) = db::transfers::by_idempotency_key(conn, &who.user_id, idempotency_key)?
    {
        return replay(conn, svc, existing, request_hash);
    }
    let company = db::companies::get(conn, &who.company_id)?;
    let draft = Draft::parse(&input, company.transfer_limit, today_in_japan(svc))
        .map_err(AppError::refusals)?;
    let user = in_company(conn, &who.company_id, &who.user_id)?;
    // Refused at creation what could not be confirmed: the screen tells the person before
    // they type a code.
    let token = confirming_token(conn, &company, &user)?;
    if let TransferConfirmation::Blocked(reason) =
        confirmation(svc, &company, &user, token.as_ref())
    {
        return Err(blocked(reason));
    }
    // Another company's account gets the same answer as a mistyped one: nothing about
    // other customers' accounts can be learnt here.
    if db::companies::account_holder(conn, &draft.debit_account)?.as_deref() != Some(&company.id) {
        return Err(AppError::new(
            ErrorCode::DebitAccountUnknown,
            "the debit account is not one of your company's accounts",
        )
        .with_field(
            "debit_account",
            "debit_account_unknown",
            "not one of your company's accounts",
        ));
    }
    let now = svc.now();
    let mut transfer = Transfer {
        id: new_id(),
        company_id: company.id.clone(),
        created_by: user.id.clone(),
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
    };
    transfer.content_hash = transfer.content_hash(&svc.content_keys.current.1);
    let inserted = write_tx(conn, |conn| {
        let inserted = db::transfers::insert(conn, &transfer)?;
        if inserted == Insert::Done {
            audit::record(
                conn,
                svc,
                who.event(AuditAction::TransferCreated, Outcome::Success)
                    .target("transfer", &transfer.id)
                    .detail(serde_json::json!({ "amount": transfer.amount })),
            )?;
        }
        Ok::<_, AppError>(inserted)
    })?;
    if inserted == Insert::Duplicate {
        // A concurrent retry with the same key got in first: answer as a retry.
        let existing = db::transfers::by_idempotency_key(conn, &who.user_id, idempotency_key)?
            .ok_or_else(|| {
                AppError::Internal("idempotency key taken, transfer not found".into())
            })?;
        return replay(conn, svc, existing, request_hash);
    }
    let shown = Shown::new(svc, &company).show(conn, transfer)?;
    Ok((shown, true))
}

fn replay(
    conn: &mut DbConn,
    svc: &Services,
    existing: Transfer,
    request_hash: &str,
) -> Result<(TransferWithConfirmation, bool), AppError> {
    if existing.request_hash != request_hash {
        return Err(AppError::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used for a different transfer: use a new key for a new transfer",
        ));
    }
    expire_due(conn, svc, &existing.company_id)?;
    let company = db::companies::get(conn, &existing.company_id)?;
    let transfer = db::transfers::visible(conn, &existing.company_id, &existing.id, None)?
        .ok_or_else(|| AppError::not_found("transfer"))?;
    Ok((Shown::new(svc, &company).show(conn, transfer)?, false))
}

/// Marks the company's pending transfers past their time as expired, and audits each.
fn expire_due(conn: &mut DbConn, svc: &Services, company_id: &str) -> Result<(), AppError> {
    let due = db::transfers::due_for_expiry(conn, company_id, svc.now())?;
    if due.is_empty() {
        return Ok(());
    }
    write_tx(conn, |conn| {
        for id in &due {
            if db::transfers::expire(conn, id)? {
                let event = system_event(AuditAction::TransferExpired)
                    .company(company_id)
                    .target("transfer", id);
                audit::record(conn, svc, event)?;
            }
        }
        Ok(())
    })
}

/// Shows transfers of one company, judging each creator's confirmation once.
struct Shown<'a> {
    svc: &'a Services,
    company: &'a Company,
    by_creator: HashMap<String, TransferConfirmation>,
}

impl<'a> Shown<'a> {
    fn new(svc: &'a Services, company: &'a Company) -> Shown<'a> {
        Shown {
            svc,
            company,
            by_creator: HashMap::new(),
        }
    }

    fn show(
        &mut self,
        conn: &mut DbConn,
        transfer: Transfer,
    ) -> Result<TransferWithConfirmation, AppError> {
        let confirmation = match self.by_creator.get(&transfer.created_by) {
            Some(c) => *c,
            None => {
                let creator = in_company(conn, &self.company.id, &transfer.created_by)?;
                let token = confirming_token(conn, self.company, &creator)?;
                let c = confirmation(self.svc, self.company, &creator, token.as_ref());
                self.by_creator.insert(transfer.created_by.clone(), c);
                c
            }
        };
        Ok(TransferWithConfirmation {
            transfer,
            confirmation,
            otp_active: self.company.otp_active(),
        })
    }
}

/// A transfer the caller may see: their own, or any of the company's for the
/// administrator. Anything else does not exist for them.
fn visible(conn: &mut DbConn, who: &Person, id: &str) -> Result<Transfer, AppError> {
    let creator = (who.role != Role::Admin).then_some(who.user_id.as_str());
    db::transfers::visible(conn, &who.company_id, id, creator)?
        .ok_or_else(|| AppError::not_found("transfer"))
}

fn shown(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    id: &str,
) -> Result<TransferWithConfirmation, AppError> {
    let transfer = visible(conn, who, id)?;
    let company = db::companies::get(conn, &who.company_id)?;
    Shown::new(svc, &company).show(conn, transfer)
}

pub fn get(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    id: &str,
) -> Result<TransferWithConfirmation, AppError> {
    let conn = db.conn()?;
    expire_due(conn, svc, &who.company_id)?;
    shown(conn, svc, who, id)
}

/// A page of transfers, newest first, and the cursor naming the last one shown.
pub fn list(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    status: Option<TransferStatus>,
    limit: i64,
    cursor: Option<&str>,
) -> Result<(Vec<TransferWithConfirmation>, Option<String>), AppError> {
    let after = cursor.map(decode_cursor).transpose()?;
    let conn = db.conn()?;
    expire_due(conn, svc, &who.company_id)?;
    let mut page = db::transfers::page(
        conn,
        PageQuery {
            company_id: &who.company_id,
            creator: (who.role != Role::Admin).then_some(who.user_id.as_str()),
            status,
            after,
            limit: limit + 1,
        },
    )?;
    let next = if page.len() as i64 > limit {
        page.truncate(limit as usize);
        page.last().map(|t| encode_cursor(t.created_at, &t.id))
    } else {
        None
    };
    let company = db::companies::get(conn, &who.company_id)?;
    let mut shown = Shown::new(svc, &company);
    let items = page
        .into_iter()
        .map(|t| shown.show(conn, t))
        .collect::<Result<_, _>>()?;
    Ok((items, next))
}

fn encode_cursor(at: DateTime<Utc>, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, String), AppError> {
    let invalid = || {
        AppError::field(
            "cursor",
            Invalid::new("format", "not a cursor this API gave out"),
        )
    };
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
    // Only what this API gave out reaches the database: a transfer id is a UUID.
    let id = uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
    Ok((at, id.to_string()))
}

/// Confirms a transfer by its creator, with a code while OTP is active or the transfer
/// password while it is not.
pub fn confirm(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    id: &str,
    proof: Proof,
) -> Result<TransferWithConfirmation, AppError> {
    let conn = db.conn()?;
    expire_due(conn, svc, &who.company_id)?;
    let transfer = visible(conn, who, id)?;
    let failed = who
        .event(AuditAction::TransferConfirmationFailed, Outcome::Failure)
        .target("transfer", &transfer.id);
    let refuse = |conn: &mut DbConn, reason: &str, problem: AppError| {
        let event = failed
            .clone()
            .detail(serde_json::json!({ "reason": reason }));
        audit::record(conn, svc, event)?;
        Ok::<_, AppError>(problem)
    };
    if transfer.created_by != who.user_id {
        let problem = AppError::forbidden("only the person who created a transfer confirms it");
        return Err(refuse(conn, "not_creator", problem)?);
    }
    if let Err(e) = ensure_pending(&transfer) {
        return Err(refuse(conn, e.code().as_str(), e)?);
    }
    if !intact(svc, &transfer)? {
        // Someone changed what is authorised after it was created: refused, flagged for a
        // security officer, counted and logged loudly; the answer is a stable 409.
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
        return Err(AppError::new(
            ErrorCode::TransferTampered,
            "this transfer no longer matches what was created and cannot be confirmed; the bank has been told",
        ));
    }
    let method = match proof {
        Proof::Otp(_) => ConfirmationMethod::Otp,
        Proof::TransferPassword(_) => ConfirmationMethod::TransferPassword,
    };
    let outcome = match proof {
        Proof::Otp(code) => write_tx(conn, |conn| {
            let (company, user) = creator(conn, who)?;
            if let Err((reason, problem)) = judge(svc.transaction_status(&company), &user, method) {
                return Ok(Err(refuse(conn, reason, problem)?));
            }
            let Some(token) = confirming_token(conn, &company, &user)? else {
                let problem = blocked(BlockedReason::TokenNotRegistered);
                return Ok(Err(refuse(conn, "token_not_registered", problem)?));
            };
            let used = CodeUse {
                token: &token,
                code: &code,
                purpose: Purpose::TransferConfirmation,
                transfer_id: Some(&transfer.id),
            };
            let step = match tokens::verify_code(conn, svc, who, &used)? {
                Ok(step) => step,
                Err(refused) => {
                    let reason = refused.code().as_str();
                    return Ok(Err(refuse(conn, reason, refused)?));
                }
            };
            let codes_asked = svc.codes_for_transactions(&company);
            mark_confirmed(conn, svc, who, &transfer, (method, codes_asked), Some(step))
        }),
        Proof::TransferPassword(password) => {
            let (company, user) = creator(conn, who)?;
            if let Err((reason, problem)) = judge(svc.transaction_status(&company), &user, method) {
                return Err(refuse(conn, reason, problem)?);
            }
            let codes_asked = svc.codes_for_transactions(&company);
            let subject = Subject::Id(&who.user_id);
            check_password(
                db,
                svc,
                Secret::TransferPassword,
                subject,
                &password,
                &failed,
            )?;
            write_tx(db.conn()?, |conn| {
                still_open(conn, svc, Secret::TransferPassword, &who.user_id)?;
                mark_confirmed(conn, svc, who, &transfer, (method, codes_asked), None)
            })
        }
    };
    finish(db.conn()?, svc, who, &transfer, method, outcome)
}

fn creator(conn: &mut DbConn, who: &Person) -> Result<(Company, User), AppError> {
    let company = db::companies::get(conn, &who.company_id)?;
    let user = in_company(conn, &who.company_id, &who.user_id)?;
    Ok((company, user))
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

/// The one conditional update that confirms; any other outcome rolls the whole
/// transaction back, and with it the code's step. `codes_asked`: whether the bank asks
/// the contract's kind for codes on transactions.
fn mark_confirmed(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    transfer: &Transfer,
    (method, codes_asked): (ConfirmationMethod, bool),
    step: Option<i64>,
) -> Refusable<()> {
    if !db::transfers::confirm(conn, transfer, method, codes_asked, step, svc.now())? {
        return Err(not_pending());
    }
    audit::record(
        conn,
        svc,
        who.event(AuditAction::TransferConfirmed, Outcome::Success)
            .target("transfer", &transfer.id)
            .detail(serde_json::json!({
                "method": method.as_str(),
                "step": step,
                "amount": transfer.amount,
            })),
    )?;
    Ok(Ok(()))
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
    outcome: Refusable<()>,
) -> Result<TransferWithConfirmation, AppError> {
    match outcome {
        Ok(Ok(())) => shown(conn, svc, who, &transfer.id),
        Ok(Err(refused)) => Err(refused),
        Err(e) if e.code() == ErrorCode::TransferNotPending => {
            expire_due(conn, svc, &who.company_id)?;
            ensure_pending(&visible(conn, who, &transfer.id)?)?;
            let (company, user) = creator(conn, who)?;
            // Still pending: the permission or the OTP status changed meanwhile.
            judge(svc.transaction_status(&company), &user, method)
                .map_err(|(_, problem)| problem)?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Cancels a pending transfer: by its creator or the administrator.
pub fn cancel(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    id: &str,
) -> Result<TransferWithConfirmation, AppError> {
    let conn = db.conn()?;
    expire_due(conn, svc, &who.company_id)?;
    let transfer = visible(conn, who, id)?;
    ensure_pending(&transfer)?;
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
    shown(conn, svc, who, &transfer.id)
}
