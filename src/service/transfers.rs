//! One-off transfers (都度振込): creation with an idempotency key, confirmation by a code
//! (OTP active) or the transfer password (OTP inactive), cancellation and expiry.
//!
//! A transfer is confirmed at most once: `… SET status = 'confirmed' WHERE id = ? AND
//! status = 'pending_confirmation'` must change one row, in the same transaction that
//! spends the code, so a code is spent only if the transfer really was confirmed.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::db::models::{CompanyRow, TransferRow, UserRow};
use crate::db::schema::{company_accounts, transfers, users};
use crate::db::{DbConn, write_tx};
use crate::domain::otp_code::OtpCode;
use crate::domain::transfer::{
    AccountNumber, AccountType, Amount, BankCode, BranchCode, PayeeName, TransferStatus,
};
use crate::domain::{
    BlockedReason, DebitAccount, Invalid, OtpStatus, PasswordAttempt, Role, TransferConfirmation,
    TransferLimit,
};
use crate::error::{AppError, ErrorCode};

use super::audit::{self, Event, Outcome};
use super::lockout::{Counted, Counter, count_failure};
use super::tokens::{self, Purpose};
use super::users::{confirmation_of, confirming_token, find_in_company, load_company};
use super::{Person, Services, new_id, unique_violation};

/// A transfer as parsed from the wire; the checks that need the company come here.
pub struct Draft {
    pub debit_account: DebitAccount,
    pub bank_code: BankCode,
    pub branch_code: BranchCode,
    pub account_type: AccountType,
    pub account_number: AccountNumber,
    pub payee_name: PayeeName,
    pub amount: Amount,
    pub execution_date: NaiveDate,
    pub memo: Option<String>,
}

/// What the edge needs to judge a transfer's fields in one pass.
pub struct TransferContext {
    pub limit: TransferLimit,
    /// Today in Japan, where the bank's calendar runs.
    pub today: NaiveDate,
}

pub fn context(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
) -> Result<TransferContext, AppError> {
    let company = load_company(conn, &who.company_id)?;
    Ok(TransferContext {
        limit: TransferLimit::new(company.transfer_limit)
            .map_err(|e| AppError::Internal(e.message))?,
        today: today_in_japan(svc),
    })
}

/// How the creator proves the confirmation.
pub enum Proof {
    Otp(OtpCode),
    TransferPassword(PasswordAttempt),
}

/// A transfer with what its screen needs.
pub struct TransferView {
    pub row: TransferRow,
    pub status: TransferStatus,
    /// How the creator confirms it now (or confirmed it).
    pub confirmation: TransferConfirmation,
    /// The company's one-time passwords are active: a code is the method, even when blocked.
    pub otp_active: bool,
}

/// Today in Japan, where the bank's calendar runs.
fn today_in_japan(svc: &Services) -> NaiveDate {
    (svc.now() + Duration::hours(9)).date_naive()
}

/// The hash of what is being authorised; re-checked at confirmation.
/// Keyed, so that whoever can write the database cannot also forge the hash of an
/// altered payee or amount.
fn content_hash(key: &[u8; 32], t: &TransferRow) -> String {
    let content = serde_json::json!([
        t.id,
        t.company_id,
        t.created_by,
        t.debit_account,
        t.payee_bank_code,
        t.payee_branch_code,
        t.payee_account_type,
        t.payee_account_number,
        t.payee_name,
        t.amount,
        t.execution_date.to_string(),
        t.memo,
    ]);
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(content.to_string().as_bytes());
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of a request body, for the idempotency check.
pub fn request_hash(canonical_json: &str) -> String {
    hex(&Sha256::digest(canonical_json.as_bytes()))
}

/// Refuses a transfer its creator could not confirm, before anything is typed.
fn ensure_can_confirm(
    conn: &mut DbConn,
    company: &CompanyRow,
    user: &UserRow,
) -> Result<TransferConfirmation, AppError> {
    match confirmation_of(conn, company, user)? {
        TransferConfirmation::Blocked(reason) => Err(blocked(reason)),
        ok => Ok(ok),
    }
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
        BlockedReason::TokenLocked => AppError::new(
            ErrorCode::TokenLocked,
            "your token is locked after too many wrong codes; the administrator (or, for the administrator's or the shared token, the bank) unlocks it",
        ),
        BlockedReason::TransferPasswordLocked => transfer_password_locked(),
    }
}

fn transfer_password_locked() -> AppError {
    AppError::new(
        ErrorCode::TransferPasswordLocked,
        "the transfer password is locked after too many wrong entries",
    )
}

pub fn create(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    idempotency_key: &str,
    request_hash: &str,
    draft: Draft,
) -> Result<(TransferView, bool), AppError> {
    // A retry is answered before anything else is judged: the first answer stands even if
    // the person's situation changed since.
    if let Some(existing) = by_idempotency_key(conn, who, idempotency_key)? {
        return replay(conn, svc, existing, request_hash);
    }
    let company = load_company(conn, &who.company_id)?;
    let user = find_in_company(conn, &who.company_id, &who.user_id)?;
    // Refused at creation what could not be confirmed: the screen tells the person before
    // they type a code.
    ensure_can_confirm(conn, &company, &user)?;

    let owned: i64 = company_accounts::table
        .filter(company_accounts::company_id.eq(&company.id))
        .filter(company_accounts::branch_code.eq(draft.debit_account.branch_code()))
        .filter(company_accounts::account_number.eq(draft.debit_account.account_number()))
        .count()
        .get_result(conn)?;
    // Another company's account gets the same answer as a mistyped one: nothing about
    // other customers' accounts can be learnt here.
    if owned == 0 {
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

    let now = svc.now_naive();
    let mut row = TransferRow {
        id: new_id(),
        company_id: company.id.clone(),
        created_by: user.id.clone(),
        idempotency_key: idempotency_key.to_owned(),
        request_hash: request_hash.to_owned(),
        content_hash: String::new(),
        debit_account: draft.debit_account.to_string(),
        payee_bank_code: draft.bank_code.as_str().to_owned(),
        payee_branch_code: draft.branch_code.as_str().to_owned(),
        payee_account_type: draft.account_type.as_str().to_owned(),
        payee_account_number: draft.account_number.as_str().to_owned(),
        payee_name: draft.payee_name.as_str().to_owned(),
        amount: draft.amount.yen(),
        execution_date: draft.execution_date,
        memo: draft.memo,
        status: TransferStatus::PendingConfirmation.as_str().to_owned(),
        created_at: now,
        expires_at: now + Duration::seconds(svc.policy.transfer_ttl_secs),
        confirmed_at: None,
        confirmation_method: None,
        confirmed_step: None,
        cancelled_at: None,
        cancelled_by: None,
    };
    row.content_hash = content_hash(&svc.content_key, &row);
    let inserted = write_tx(conn, |conn| {
        diesel::insert_into(transfers::table)
            .values(&row)
            .execute(conn)
            .map_err(|e| {
                unique_violation(
                    e,
                    ErrorCode::IdempotencyKeyReused,
                    "this Idempotency-Key is in use",
                )
            })?;
        audit::record(
            conn,
            svc,
            Event::by_person("transfer_created", Outcome::Success, who)
                .target("transfer", &row.id)
                .detail(serde_json::json!({ "amount": row.amount })),
        )
    });
    match inserted {
        Ok(()) => Ok((view(conn, row)?, true)),
        // A concurrent retry with the same key got in first: answer as a retry.
        Err(e) if e.code() == ErrorCode::IdempotencyKeyReused => {
            match by_idempotency_key(conn, who, idempotency_key)? {
                Some(existing) => replay(conn, svc, existing, request_hash),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

fn by_idempotency_key(
    conn: &mut DbConn,
    who: &Person,
    key: &str,
) -> Result<Option<TransferRow>, AppError> {
    Ok(transfers::table
        .filter(transfers::created_by.eq(&who.user_id))
        .filter(transfers::idempotency_key.eq(key))
        .select(TransferRow::as_select())
        .first(conn)
        .optional()?)
}

fn replay(
    conn: &mut DbConn,
    svc: &Services,
    existing: TransferRow,
    request_hash: &str,
) -> Result<(TransferView, bool), AppError> {
    if existing.request_hash != request_hash {
        return Err(AppError::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used for a different transfer: use a new key for a new transfer",
        ));
    }
    expire_due(conn, svc, &existing.company_id)?;
    let row = transfers::table
        .find(&existing.id)
        .select(TransferRow::as_select())
        .first(conn)?;
    Ok((view(conn, row)?, false))
}

/// Marks the company's pending transfers past their time as expired, and audits each.
fn expire_due(conn: &mut DbConn, svc: &Services, company_id: &str) -> Result<(), AppError> {
    let now = svc.now_naive();
    let due: Vec<String> = transfers::table
        .filter(transfers::company_id.eq(company_id))
        .filter(transfers::status.eq(TransferStatus::PendingConfirmation.as_str()))
        .filter(transfers::expires_at.le(now))
        .select(transfers::id)
        .load(conn)?;
    if due.is_empty() {
        return Ok(());
    }
    write_tx(conn, |conn| {
        for id in &due {
            let changed = diesel::update(
                transfers::table
                    .find(id)
                    .filter(transfers::status.eq(TransferStatus::PendingConfirmation.as_str())),
            )
            .set(transfers::status.eq(TransferStatus::Expired.as_str()))
            .execute(conn)?;
            if changed == 1 {
                let event = Event {
                    actor_kind: "system",
                    ..Event::anonymous("transfer_expired", Outcome::Success, None)
                };
                audit::record(conn, svc, event.company(company_id).target("transfer", id))?;
            }
        }
        Ok(())
    })
}

fn view(conn: &mut DbConn, row: TransferRow) -> Result<TransferView, AppError> {
    let mut cache = HashMap::new();
    view_cached(conn, row, &mut cache)
}

fn view_cached(
    conn: &mut DbConn,
    row: TransferRow,
    cache: &mut HashMap<String, (TransferConfirmation, bool)>,
) -> Result<TransferView, AppError> {
    let status: TransferStatus = row.status.parse().map_err(AppError::Internal)?;
    let (confirmation, otp_active) = match cache.get(&row.created_by) {
        Some(c) => *c,
        None => {
            let company = load_company(conn, &row.company_id)?;
            let creator = find_in_company(conn, &row.company_id, &row.created_by)?;
            let c = confirmation_of(conn, &company, &creator)?;
            let active = company.status() == OtpStatus::Active;
            cache.insert(row.created_by.clone(), (c, active));
            (c, active)
        }
    };
    Ok(TransferView {
        row,
        status,
        confirmation,
        otp_active,
    })
}

/// A transfer the caller may see: their own, or any of the company's for the
/// administrator. Anything else does not exist for them.
fn visible(conn: &mut DbConn, who: &Person, id: &str) -> Result<TransferRow, AppError> {
    let mut query = transfers::table
        .filter(transfers::id.eq(id))
        .filter(transfers::company_id.eq(&who.company_id))
        .select(TransferRow::as_select())
        .into_boxed();
    if who.role != Role::Admin {
        query = query.filter(transfers::created_by.eq(&who.user_id));
    }
    query
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("transfer"))
}

pub fn get(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    id: &str,
) -> Result<TransferView, AppError> {
    expire_due(conn, svc, &who.company_id)?;
    let row = visible(conn, who, id)?;
    view(conn, row)
}

/// A page of transfers, newest first. The cursor names the last one seen.
pub fn list(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    status: Option<TransferStatus>,
    limit: i64,
    cursor: Option<&str>,
) -> Result<(Vec<TransferView>, Option<String>), AppError> {
    expire_due(conn, svc, &who.company_id)?;
    let mut query = transfers::table
        .filter(transfers::company_id.eq(&who.company_id))
        .select(TransferRow::as_select())
        .order((transfers::created_at.desc(), transfers::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if who.role != Role::Admin {
        query = query.filter(transfers::created_by.eq(&who.user_id));
    }
    if let Some(s) = status {
        query = query.filter(transfers::status.eq(s.as_str()));
    }
    if let Some(c) = cursor {
        let (at, id) = decode_cursor(c)?;
        query = query.filter(
            transfers::created_at
                .lt(at)
                .or(transfers::created_at.eq(at).and(transfers::id.lt(id))),
        );
    }
    let mut rows: Vec<TransferRow> = query.load(conn)?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_cursor(r.created_at, &r.id))
    } else {
        None
    };
    let mut cache = HashMap::new();
    let items = rows
        .into_iter()
        .map(|r| view_cached(conn, r, &mut cache))
        .collect::<Result<_, _>>()?;
    Ok((items, next))
}

fn encode_cursor(at: NaiveDateTime, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.and_utc().timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> Result<(NaiveDateTime, String), AppError> {
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
    let at = chrono::DateTime::from_timestamp_micros(micros)
        .ok_or_else(invalid)?
        .naive_utc();
    Ok((at, id.to_owned()))
}

pub fn confirm(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    id: &str,
    proof: Proof,
) -> Result<TransferView, AppError> {
    expire_due(conn, svc, &who.company_id)?;
    let row = visible(conn, who, id)?;
    let failed = |conn: &mut DbConn, reason: &str| {
        audit::record(
            conn,
            svc,
            Event::by_person("transfer_confirmation_failed", Outcome::Failure, who)
                .target("transfer", &row.id)
                .detail(serde_json::json!({ "reason": reason })),
        )
    };
    if row.created_by != who.user_id {
        failed(conn, "not_creator")?;
        return Err(AppError::forbidden(
            "only the person who created a transfer confirms it",
        ));
    }
    if let Err(e) = ensure_pending(&row) {
        failed(conn, e.code().as_str())?;
        return Err(e);
    }
    if content_hash(&svc.content_key, &row) != row.content_hash {
        audit::record(
            conn,
            svc,
            Event::by_person("transfer_tampered", Outcome::Denied, who)
                .target("transfer", &row.id)
                .flagged(),
        )?;
        return Err(AppError::Internal(format!(
            "transfer {} does not match its content hash",
            row.id
        )));
    }
    let company = load_company(conn, &who.company_id)?;
    let user = find_in_company(conn, &who.company_id, &who.user_id)?;
    // The permission is judged now, not at creation: a revoked one stops the transfer.
    if !user.may_transfer() {
        failed(conn, "no_transfer_permission")?;
        return Err(blocked(BlockedReason::NoTransferPermission));
    }
    let otp_active = company
        .otp_status
        .parse::<OtpStatus>()
        .map_err(AppError::Internal)?
        == OtpStatus::Active;
    match (otp_active, proof) {
        (true, Proof::TransferPassword(_)) => {
            failed(conn, "otp_required")?;
            Err(AppError::new(
                ErrorCode::OtpRequired,
                "one-time passwords are active: confirm with a code from your token",
            ))
        }
        (false, Proof::Otp(_)) => {
            failed(conn, "transfer_password_required")?;
            Err(AppError::new(
                ErrorCode::TransferPasswordRequired,
                "one-time passwords are not active for your company: confirm with your transfer password",
            ))
        }
        (true, Proof::Otp(code)) => {
            let Some(token) = confirming_token(conn, &company, &user)? else {
                failed(conn, "token_not_registered")?;
                return Err(blocked(BlockedReason::TokenNotRegistered));
            };
            let outcome = write_tx(conn, |conn| {
                let step = match tokens::verify_code(
                    conn,
                    svc,
                    who,
                    &token.id,
                    &code,
                    Purpose::TransferConfirmation,
                    Some(&row.id),
                )? {
                    Ok(step) => step,
                    Err(refused) => {
                        failed(conn, refused.code().as_str())?;
                        return Ok(Err(refused));
                    }
                };
                mark_confirmed(conn, svc, who, &row, "otp", Some(step))?;
                Ok::<_, AppError>(Ok(()))
            });
            finish(conn, svc, who, &row, outcome)
        }
        (false, Proof::TransferPassword(password)) => {
            if user.transfer_password_locked_at.is_some() {
                failed(conn, "transfer_password_locked")?;
                return Err(transfer_password_locked());
            }
            if !svc
                .passwords
                .verify(&user.transfer_password_hash, password.expose())
            {
                return write_tx(conn, |conn| {
                    let counted = count_failure(
                        conn,
                        Counter::TransferPassword,
                        &user.id,
                        svc.policy.transfer_password_lockout_threshold,
                        svc.now_naive(),
                    )?;
                    failed(conn, "transfer_password_invalid")?;
                    Ok::<_, AppError>(match counted {
                        Counted::Remaining(left) => Err(AppError::new(
                            ErrorCode::TransferPasswordInvalid,
                            "the transfer password is not correct",
                        )
                        .with_remaining_attempts(left)),
                        Counted::LockedNow => {
                            audit::record(
                                conn,
                                svc,
                                Event::by_person("transfer_password_locked", Outcome::Success, who),
                            )?;
                            Err(transfer_password_locked())
                        }
                        Counted::Locked => Err(transfer_password_locked()),
                    })
                })?;
            }
            let outcome = write_tx(conn, |conn| {
                let reset = diesel::update(
                    users::table
                        .find(&user.id)
                        .filter(users::transfer_password_locked_at.is_null()),
                )
                .set(users::transfer_password_failures.eq(0))
                .execute(conn)?;
                if reset == 0 {
                    return Err(transfer_password_locked());
                }
                mark_confirmed(conn, svc, who, &row, "transfer_password", None)?;
                Ok(Ok(()))
            });
            finish(conn, svc, who, &row, outcome)
        }
    }
}

fn ensure_pending(row: &TransferRow) -> Result<(), AppError> {
    match row
        .status
        .parse::<TransferStatus>()
        .map_err(AppError::Internal)?
    {
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
/// transaction back, and with it the code's step.
fn mark_confirmed(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    row: &TransferRow,
    method: &str,
    step: Option<i64>,
) -> Result<(), AppError> {
    let now = svc.now_naive();
    let confirmed = diesel::update(
        transfers::table
            .find(&row.id)
            .filter(transfers::status.eq(TransferStatus::PendingConfirmation.as_str()))
            .filter(transfers::expires_at.gt(now)),
    )
    .set((
        transfers::status.eq(TransferStatus::Confirmed.as_str()),
        transfers::confirmed_at.eq(now),
        transfers::confirmation_method.eq(method),
        transfers::confirmed_step.eq(step),
    ))
    .execute(conn)?;
    if confirmed == 0 {
        return Err(AppError::new(
            ErrorCode::TransferNotPending,
            "the transfer is no longer waiting for confirmation",
        ));
    }
    audit::record(
        conn,
        svc,
        Event::by_person("transfer_confirmed", Outcome::Success, who)
            .target("transfer", &row.id)
            .detail(serde_json::json!({ "method": method, "step": step, "amount": row.amount })),
    )
}

/// After a confirmation transaction: a refusal whose bookkeeping committed is answered as
/// is; a lost race is answered by what the transfer now is.
fn finish(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    row: &TransferRow,
    outcome: Result<Result<(), AppError>, AppError>,
) -> Result<TransferView, AppError> {
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(refused)) => return Err(refused),
        Err(e) if e.code() == ErrorCode::TransferNotPending => {
            expire_due(conn, svc, &who.company_id)?;
            ensure_pending(&visible(conn, who, &row.id)?)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    }
    let row = visible(conn, who, &row.id)?;
    view(conn, row)
}

/// Cancels a pending transfer: by its creator or the administrator.
pub fn cancel(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    id: &str,
) -> Result<TransferView, AppError> {
    expire_due(conn, svc, &who.company_id)?;
    let row = visible(conn, who, id)?;
    ensure_pending(&row)?;
    write_tx(conn, |conn| {
        let changed = diesel::update(
            transfers::table
                .find(&row.id)
                .filter(transfers::status.eq(TransferStatus::PendingConfirmation.as_str())),
        )
        .set((
            transfers::status.eq(TransferStatus::Cancelled.as_str()),
            transfers::cancelled_at.eq(svc.now_naive()),
            transfers::cancelled_by.eq(&who.user_id),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(AppError::new(
                ErrorCode::TransferNotPending,
                "the transfer is no longer waiting for confirmation",
            ));
        }
        audit::record(
            conn,
            svc,
            Event::by_person("transfer_cancelled", Outcome::Success, who)
                .target("transfer", &row.id),
        )
    })?;
    let row = visible(conn, who, &row.id)?;
    view(conn, row)
}
