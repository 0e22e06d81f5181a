//! Software tokens: issuance, binding to a person, and the one path every code takes —
//! registration, exchange, stop and transfer confirmation alike.
//!
//! A code is accepted once: its step is consumed by a conditional update in the caller's
//! transaction (`last_used_step < step`, one row), so across any number of instances one
//! request wins and every older step stays refused. Wrong codes count in the same row
//! and lock the token at the threshold.

use chrono::Duration;
use diesel::prelude::*;
use rand::RngCore;

use crate::db::models::{OtpStepUseRow, SoftTokenRow};
use crate::db::schema::{otp_step_uses, soft_tokens};
use crate::db::{DbConn, write_tx};
use crate::domain::otp_code::OtpCode;
use crate::domain::token_id::TokenId;
use crate::error::{AppError, ErrorCode};
use crate::otp::pskc::ImportedKey;
use crate::otp::seal::Sealed;
use crate::otp::totp::{self, Algorithm, TotpParams};

use super::audit::{self, Event, Outcome};
use super::lockout::{Counted, Counter, count_failure};
use super::{Operator, Person, Services, new_id};

/// What a code is used for, as recorded in the ledger and the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Registration,
    Exchange,
    Stop,
    TransferConfirmation,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Registration => "registration",
            Purpose::Exchange => "exchange",
            Purpose::Stop => "stop",
            Purpose::TransferConfirmation => "transfer_confirmation",
        }
    }
}

/// A token just issued: the only moment its secret leaves the server.
pub struct IssuedToken {
    pub token_id: TokenId,
    pub otpauth_uri: String,
    pub qr_png_base64: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Issues a new software token for any RFC 6238 app, bound to the caller's company.
pub fn issue(conn: &mut DbConn, svc: &Services, who: &Person) -> Result<IssuedToken, AppError> {
    let mut seed = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let params = TotpParams::DEFAULT;
    let now = svc.now();
    let expires_at = now + Duration::seconds(svc.policy.unregistered_token_ttl_secs);
    // Ten million issued IDs: a collision is rare, and the unique index decides.
    for _ in 0..5 {
        let token_id = TokenId::generate_issued();
        let sealed = svc
            .keyring
            .seal(token_id.as_str(), &seed)
            .map_err(|e| AppError::Internal(format!("seal: {e}")))?;
        let row = SoftTokenRow {
            id: new_id(),
            token_id: token_id.as_str().to_owned(),
            company_id: Some(who.company_id.clone()),
            source: "issued".into(),
            algorithm: params.algorithm.as_str().to_owned(),
            digits: params.digits as i32,
            period: params.period as i32,
            key_id: sealed.key_id,
            sealed_secret: sealed.ciphertext,
            issued_by: Some(who.user_id.clone()),
            issued_at: now.naive_utc(),
            expires_at: Some(expires_at.naive_utc()),
            holder_id: None,
            registered_at: None,
            last_used_step: -1,
            failed_attempts: 0,
            locked_at: None,
        };
        let inserted = crate::db::write_tx(conn, |conn| {
            let n = diesel::insert_into(soft_tokens::table)
                .values(&row)
                .execute(conn)
                .map_err(|e| {
                    super::unique_violation(e, ErrorCode::TokenInUse, "token ID collision")
                })?;
            audit::record(
                conn,
                svc,
                Event::by_person("token_issued", Outcome::Success, who).target("token", &row.id),
            )?;
            Ok::<_, AppError>(n)
        });
        match inserted {
            Ok(_) => {
                let issuer = &svc.policy.otp_issuer;
                let uri = totp::otpauth_uri(&seed, &params, issuer, token_id.as_str());
                let qr = totp::qr_png_base64(&seed, &params, issuer, token_id.as_str())
                    .map_err(|e| AppError::Internal(format!("qr: {e}")))?;
                return Ok(IssuedToken {
                    token_id,
                    otpauth_uri: uri,
                    qr_png_base64: qr,
                    expires_at,
                });
            }
            Err(e) if e.code() == ErrorCode::TokenInUse => continue,
            Err(e) => return Err(e),
        }
    }
    Err(AppError::Internal("could not find a free token ID".into()))
}

/// A token of the caller's company that can be registered now: 404 for unknown or
/// another company's ID (indistinguishable), 422 for an expired one, 409 if it serves
/// someone already.
pub fn registrable(
    conn: &mut DbConn,
    svc: &Services,
    company_id: &str,
    token_id: &TokenId,
) -> Result<SoftTokenRow, AppError> {
    // Issued tokens belong to their company; imported ones to whichever company the bank
    // handed the device, which proves it with a code at registration.
    let token: SoftTokenRow = soft_tokens::table
        .filter(soft_tokens::token_id.eq(token_id.as_str()))
        .filter(
            soft_tokens::company_id
                .eq(company_id)
                .or(soft_tokens::company_id.is_null()),
        )
        .select(SoftTokenRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::TokenUnknown,
                "no token with this ID was issued to your company",
            )
        })?;
    if token.holder_id.is_some() {
        return Err(AppError::new(
            ErrorCode::TokenInUse,
            "this token is already registered to a person",
        ));
    }
    if token.expires_at.is_some_and(|at| at <= svc.now_naive()) {
        return Err(AppError::new(
            ErrorCode::TokenExpired,
            "this token can no longer be registered (it expired or was unregistered): issue a new one",
        ));
    }
    Ok(token)
}

/// Binds a token to a person of `company_id`. Conditional on its being free, so two
/// racing registrations of one token cannot both succeed.
pub fn bind(
    conn: &mut DbConn,
    svc: &Services,
    token: &SoftTokenRow,
    company_id: &str,
    holder_id: &str,
) -> Result<(), AppError> {
    let bound = diesel::update(
        soft_tokens::table
            .find(&token.id)
            .filter(soft_tokens::holder_id.is_null()),
    )
    .set((
        soft_tokens::holder_id.eq(holder_id),
        soft_tokens::company_id.eq(company_id),
        soft_tokens::registered_at.eq(svc.now_naive()),
        soft_tokens::expires_at.eq(None::<chrono::NaiveDateTime>),
    ))
    .execute(conn)
    .map_err(|e| {
        super::unique_violation(
            e,
            ErrorCode::TokenAlreadyRegistered,
            "this person already has a token",
        )
    })?;
    if bound == 0 {
        return Err(AppError::new(
            ErrorCode::TokenInUse,
            "this token is already registered to a person",
        ));
    }
    Ok(())
}

/// Imports vendor tokens from a PSKC file, all or none. With `company_id` they are
/// reserved for that company at once; without, they await registration by the company the
/// bank hands them to (until then any company that knows a serial could spend its tries).
pub fn import(
    conn: &mut DbConn,
    svc: &Services,
    who: &Operator,
    keys: Vec<ImportedKey>,
    company_id: Option<&str>,
) -> Result<Vec<TokenId>, AppError> {
    let mut rows = Vec::with_capacity(keys.len());
    let mut ids = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let token_id = TokenId::parse(&key.serial).map_err(|e| {
            AppError::field(
                format!("KeyPackage[{}].SerialNo", i + 1),
                crate::domain::Invalid::new("format", e.to_string()),
            )
        })?;
        if ids.contains(&token_id) {
            return Err(AppError::new(
                ErrorCode::TokenInUse,
                format!("serial {token_id} appears twice in the file"),
            ));
        }
        let sealed = svc
            .keyring
            .seal(token_id.as_str(), &key.seed)
            .map_err(|e| AppError::Internal(format!("seal: {e}")))?;
        rows.push(SoftTokenRow {
            id: new_id(),
            token_id: token_id.as_str().to_owned(),
            company_id: company_id.map(str::to_owned),
            source: "imported".into(),
            algorithm: key.params.algorithm.as_str().to_owned(),
            digits: key.params.digits as i32,
            period: key.params.period as i32,
            key_id: sealed.key_id,
            sealed_secret: sealed.ciphertext,
            issued_by: Some(who.operator_id.clone()),
            issued_at: svc.now_naive(),
            expires_at: None,
            holder_id: None,
            registered_at: None,
            last_used_step: -1,
            failed_attempts: 0,
            locked_at: None,
        });
        ids.push(token_id);
    }
    write_tx(conn, |conn| {
        if let Some(company) = company_id {
            super::bank::get_company(conn, company)?;
        }
        for row in &rows {
            let exists: i64 = soft_tokens::table
                .filter(soft_tokens::token_id.eq(&row.token_id))
                .count()
                .get_result(conn)?;
            if exists > 0 {
                return Err(AppError::new(
                    ErrorCode::TokenInUse,
                    format!("a token with serial {} exists already", row.token_id),
                ));
            }
            diesel::insert_into(soft_tokens::table)
                .values(row)
                .execute(conn)
                .map_err(|e| {
                    super::unique_violation(
                        e,
                        ErrorCode::TokenInUse,
                        "a token with this serial exists already",
                    )
                })?;
            audit::record(
                conn,
                svc,
                Event::by_operator("token_imported", Outcome::Success, who)
                    .target("token", &row.id),
            )?;
        }
        Ok(())
    })?;
    Ok(ids)
}

/// A released token is retired: it can never be registered again, so a device left
/// with a former employee or a lost phone stays useless.
pub fn release(conn: &mut DbConn, svc: &Services, holder_id: &str) -> Result<usize, AppError> {
    Ok(
        diesel::update(soft_tokens::table.filter(soft_tokens::holder_id.eq(holder_id)))
            .set((
                soft_tokens::holder_id.eq(None::<String>),
                soft_tokens::registered_at.eq(None::<chrono::NaiveDateTime>),
                soft_tokens::expires_at.eq(svc.now_naive()),
                soft_tokens::failed_attempts.eq(0),
                soft_tokens::locked_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn)?,
    )
}

/// Frees a token locked by wrong codes.
pub fn unlock(conn: &mut DbConn, token_row_id: &str) -> Result<(), AppError> {
    diesel::update(soft_tokens::table.find(token_row_id))
        .set((
            soft_tokens::failed_attempts.eq(0),
            soft_tokens::locked_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Checks `code` against `token` and consumes its step. Runs inside the caller's
/// transaction. `Ok(Ok(step))`: accepted, the step is spent. `Ok(Err(problem))`: refused;
/// the failure count, any lock and the audit event are written, so the caller must commit
/// and then answer with the problem. `Err`: a failure of ours; roll back.
pub fn verify_code(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    token_row_id: &str,
    code: &OtpCode,
    purpose: Purpose,
    transfer_id: Option<&str>,
) -> Result<Result<i64, AppError>, AppError> {
    let token: SoftTokenRow = soft_tokens::table
        .find(token_row_id)
        .select(SoftTokenRow::as_select())
        .first(conn)?;
    let event = |action: &'static str, outcome: Outcome| {
        Event::by_person(action, outcome, who)
            .target("token", token.id.clone())
            .detail(serde_json::json!({ "purpose": purpose.as_str(), "transfer_id": transfer_id }))
    };
    if token.locked_at.is_some() {
        audit::record(conn, svc, event("otp_refused", Outcome::Denied))?;
        return Ok(Err(token_locked()));
    }
    let sealed = Sealed {
        key_id: token.key_id.clone(),
        ciphertext: token.sealed_secret.clone(),
    };
    let seed = match svc.keyring.open(&token.token_id, &sealed) {
        Ok(seed) => seed,
        Err(e) => {
            // A seed that does not open under its own token ID was tampered with or
            // damaged: the audit log must show it, and the answer reveals nothing.
            audit::record(
                conn,
                svc,
                event("token_seed_unreadable", Outcome::Denied).flagged(),
            )?;
            return Ok(Err(AppError::Internal(format!(
                "cannot open the seed of token {}: {e}",
                token.id
            ))));
        }
    };
    let params = TotpParams {
        algorithm: Algorithm::parse(&token.algorithm)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        digits: token.digits as u32,
        period: token.period as u64,
    };
    let now = svc.now().timestamp();
    let matched = totp::verify(
        secrecy::ExposeSecret::expose_secret(&seed),
        &params,
        code.as_str(),
        now,
        svc.policy.otp_window,
    );

    let Some(step) = matched else {
        let counted = count_failure(
            conn,
            Counter::TokenCode,
            &token.id,
            svc.policy.otp_lockout_threshold,
            svc.now_naive(),
        )?;
        return Ok(Err(match counted {
            Counted::Remaining(left) => {
                audit::record(conn, svc, event("otp_failed", Outcome::Failure))?;
                AppError::new(ErrorCode::OtpInvalid, "the one-time code is not correct")
                    .with_remaining_attempts(left)
            }
            Counted::LockedNow => {
                audit::record(conn, svc, event("otp_failed", Outcome::Failure))?;
                audit::record(conn, svc, event("token_locked", Outcome::Success))?;
                token_locked()
            }
            // A lock that landed meanwhile is the answer; nothing was counted.
            Counted::Locked => {
                audit::record(conn, svc, event("otp_refused", Outcome::Denied))?;
                token_locked()
            }
        }));
    };

    let consumed = diesel::update(
        soft_tokens::table
            .find(&token.id)
            .filter(soft_tokens::last_used_step.lt(step))
            .filter(soft_tokens::locked_at.is_null()),
    )
    .set((
        soft_tokens::last_used_step.eq(step),
        soft_tokens::failed_attempts.eq(0),
    ))
    .execute(conn)?;
    if consumed == 0 {
        let locked: Option<chrono::NaiveDateTime> = soft_tokens::table
            .find(&token.id)
            .select(soft_tokens::locked_at)
            .first(conn)?;
        if locked.is_some() {
            audit::record(conn, svc, event("otp_refused", Outcome::Denied))?;
            return Ok(Err(token_locked()));
        }
        audit::record(conn, svc, event("otp_replayed", Outcome::Denied).flagged())?;
        return Ok(Err(AppError::new(
            ErrorCode::OtpReplayed,
            "this code has already been used: wait for the next code on your token",
        )));
    }
    diesel::insert_into(otp_step_uses::table)
        .values(OtpStepUseRow {
            id: new_id(),
            soft_token_id: token.id.clone(),
            step,
            used_by: who.user_id.clone(),
            purpose: purpose.as_str().to_owned(),
            transfer_id: transfer_id.map(str::to_owned),
            used_at: svc.now_naive(),
        })
        .execute(conn)?;
    Ok(Ok(step))
}

fn token_locked() -> AppError {
    AppError::new(
        ErrorCode::TokenLocked,
        "the token is locked after too many wrong codes; the administrator (or, for the administrator's or the shared token, the bank) unlocks it",
    )
}

/// At start-up: every key id the stored seeds name is configured and opens its seeds,
/// so a wrong or missing master key stops the server instead of failing every code.
pub fn check_keyring(conn: &mut DbConn, svc: &Services) -> Result<(), AppError> {
    let key_ids: Vec<String> = soft_tokens::table
        .select(soft_tokens::key_id)
        .distinct()
        .load(conn)?;
    for key_id in key_ids {
        let sample: SoftTokenRow = soft_tokens::table
            .filter(soft_tokens::key_id.eq(&key_id))
            .select(SoftTokenRow::as_select())
            .first(conn)?;
        let sealed = Sealed {
            key_id: key_id.clone(),
            ciphertext: sample.sealed_secret,
        };
        svc.keyring.open(&sample.token_id, &sealed).map_err(|e| {
            AppError::Internal(format!(
                "token seeds sealed with master key id {key_id:?} do not open ({e}): configure that key as WEBFB_MASTER_KEY (with its WEBFB_MASTER_KEY_ID) or in WEBFB_MASTER_KEYS_PREVIOUS"
            ))
        })?;
    }
    Ok(())
}
