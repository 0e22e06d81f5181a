//! Software tokens: issuance, binding to a person, import, and the one path every code
//! takes — registration, exchange, stop and transfer confirmation alike.
//!
//! A code is accepted once: its step is spent by a conditional update in the caller's
//! transaction, or in the statement that confirms a transfer at once
//! (`last_used_step < step`, one row), so across any number of instances one
//! request wins and every older step stays refused. Wrong codes count in the same row
//! and lock the token at the threshold.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use secrecy::ExposeSecret;

use crate::db::lockout::Counted;
use crate::db::soft_tokens::{Bind, StepUse, StoredSeed};
use crate::db::{self, Db, DbConn, Insert, write_tx};
use crate::domain::audit::{AuditAction, Event, Outcome};
use crate::domain::otp_code::OtpCode;
use crate::domain::soft_token::{Purpose, TokenSource};
use crate::domain::token_id::TokenId;
use crate::domain::{Secret, SoftToken};
use crate::error::{AppError, ErrorCode};
use crate::otp::pskc::OtpKind;
use crate::otp::seal::Sealed;
use crate::otp::totp::{self, Algorithm, TotpParams};

use super::{Person, Refusable, Services, audit, new_id};

/// A token just issued: the only moment its secret leaves the server.
pub struct IssuedToken {
    pub token_id: TokenId,
    pub otpauth_uri: String,
    pub qr_png_base64: String,
    pub expires_at: DateTime<Utc>,
}

/// Issues a new software token for any RFC 6238 app, bound to the caller's company.
pub fn issue(db: &mut Db, svc: &Services, who: &Person) -> Result<IssuedToken, AppError> {
    let mut seed = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let params = TotpParams::DEFAULT;
    let now = svc.now();
    let expires_at = now + Duration::seconds(svc.policy.unregistered_token_ttl_secs);
    // Ten million issued IDs: a collision is rare, and the unique index decides.
    for _ in 0..5 {
        let token_id = TokenId::generate_issued();
        let token = SoftToken {
            id: new_id(),
            token_id: token_id.as_str().to_owned(),
            company_id: Some(who.company_id.clone()),
            source: TokenSource::Issued,
            holder_id: None,
            registered_at: None,
            expires_at: Some(expires_at),
            locked: false,
            suspended: false,
        };
        let stored = sealed(svc, &token.token_id, &seed, &params)?;
        let inserted = write_tx(db.conn()?, |conn| {
            // Tokens nobody registers are cheap to ask for and cost a row each: a company
            // may have only so many waiting.
            if db::soft_tokens::pending_count(conn, &who.company_id, now)?
                >= svc.policy.max_pending_tokens
            {
                return Err(AppError::new(
                    ErrorCode::TooManyPendingTokens,
                    "your company has too many tokens waiting for registration: register or let some expire first",
                ));
            }
            let inserted = db::soft_tokens::insert(conn, &token, stored, &who.user_id, now)?;
            if inserted == Insert::Done {
                audit::record(
                    conn,
                    svc,
                    who.event(AuditAction::TokenIssued, Outcome::Success)
                        .target("token", &token.id),
                )?;
            }
            Ok::<_, AppError>(inserted)
        })?;
        if inserted == Insert::Duplicate {
            continue;
        }
        let issuer = &svc.policy.otp_issuer;
        return Ok(IssuedToken {
            otpauth_uri: totp::otpauth_uri(&seed, &params, issuer, token_id.as_str()),
            qr_png_base64: totp::qr_png_base64(&seed, &params, issuer, token_id.as_str())
                .map_err(|e| AppError::Internal(format!("qr: {e}")))?,
            token_id,
            expires_at,
        });
    }
    Err(AppError::Internal("could not find a free token ID".into()))
}

/// Seals a seed under the current master key, bound to its token ID.
pub(super) fn sealed(
    svc: &Services,
    token_id: &str,
    seed: &[u8],
    params: &TotpParams,
) -> Result<StoredSeed, AppError> {
    let sealed = svc
        .keyring
        .seal(token_id, seed)
        .map_err(|e| AppError::Internal(format!("seal: {e}")))?;
    Ok(StoredSeed {
        algorithm: params.algorithm.as_str().to_owned(),
        digits: params.digits as i32,
        period: params.period as i32,
        key_id: sealed.key_id,
        sealed: sealed.ciphertext,
        kind: OtpKind::Totp.as_str().to_owned(),
        time_drift: 0,
    })
}

/// A token of the caller's company that can be registered now: 404 for unknown or
/// another company's ID (indistinguishable), 422 for an expired one, 409 if it serves
/// someone already.
pub fn registrable(
    conn: &mut DbConn,
    svc: &Services,
    company_id: &str,
    token_id: &TokenId,
) -> Result<SoftToken, AppError> {
    // Issued tokens belong to their company; imported ones to whichever company the bank
    // handed the device, which proves it with a code at registration.
    let token =
        db::soft_tokens::registrable_by(conn, token_id.as_str(), company_id)?.ok_or_else(|| {
            AppError::new(
                ErrorCode::TokenUnknown,
                "no token with this ID was issued to your company",
            )
        })?;
    if token.holder_id.is_some() {
        return Err(token_in_use());
    }
    if token.expires_at.is_some_and(|at| at <= svc.now()) {
        return Err(AppError::new(
            ErrorCode::TokenExpired,
            "this token can no longer be registered (it expired or was unregistered): issue a new one",
        ));
    }
    Ok(token)
}

fn token_in_use() -> AppError {
    AppError::new(
        ErrorCode::TokenInUse,
        "this token is already registered to a person",
    )
}

/// Binds a token to a person of `company_id`. Conditional on its being free, so two
/// racing registrations of one token cannot both succeed.
pub fn bind(
    conn: &mut DbConn,
    svc: &Services,
    token: &SoftToken,
    company_id: &str,
    holder_id: &str,
) -> Result<(), AppError> {
    match db::soft_tokens::bind(conn, &token.id, company_id, holder_id, svc.now())? {
        Bind::Bound => Ok(()),
        Bind::TokenTaken => Err(token_in_use()),
        Bind::HolderHasOne => Err(AppError::new(
            ErrorCode::TokenAlreadyRegistered,
            "this person already has a token",
        )),
    }
}

/// A code to be checked against a token, and what it is for.
pub struct CodeUse<'a> {
    pub token: &'a SoftToken,
    /// The token's sealed seed and last accepted step, if read with it in this
    /// transaction; else the check reads them.
    pub seed: Option<&'a (StoredSeed, i64)>,
    pub code: &'a OtpCode,
    pub purpose: Purpose,
    pub transfer_id: Option<&'a str>,
}

impl<'a> CodeUse<'a> {
    /// The ledger's record of spending `step` for this use, by `who`.
    pub fn step_use(
        &self,
        who: &'a Person,
        id: &'a str,
        step: i64,
        at: DateTime<Utc>,
    ) -> StepUse<'a> {
        StepUse {
            id,
            token: &self.token.id,
            step,
            used_by: &who.user_id,
            purpose: self.purpose,
            transfer_id: self.transfer_id,
            at,
        }
    }

    fn event(&self, who: &Person, action: AuditAction, outcome: Outcome) -> Event {
        who.event(action, outcome)
            .target("token", &self.token.id)
            .detail(serde_json::json!({
                "purpose": self.purpose.as_str(),
                "transfer_id": self.transfer_id,
            }))
    }
}

/// Checks a code and spends its step, inside the caller's transaction. `Ok(Ok(step))`:
/// accepted and spent. `Ok(Err(problem))`: refused; the count, any lock and the audit
/// event are written, so the caller commits and then answers. `Err`: roll back.
pub fn verify_code(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    used: &CodeUse<'_>,
) -> Refusable<i64> {
    let step = match check_code(conn, svc, who, used)? {
        Ok(step) => step,
        Err(refused) => return Ok(Err(refused)),
    };
    spend(conn, svc, who, used, step)
}

/// Checks a code without spending it: wrong codes are counted and audited, a step at or
/// before the last one spent is a replay. `Ok(Ok(step))` for a matching, unspent code.
pub fn check_code(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    used: &CodeUse<'_>,
) -> Refusable<i64> {
    let token = used.token;
    if token.suspended {
        audit::record(
            conn,
            svc,
            used.event(who, AuditAction::OtpRefused, Outcome::Denied),
        )?;
        return Ok(Err(token_suspended()));
    }
    if token.locked {
        audit::record(
            conn,
            svc,
            used.event(who, AuditAction::OtpRefused, Outcome::Denied),
        )?;
        return Ok(Err(token_locked()));
    }
    let open = match open_seed(conn, svc, token, used.seed)? {
        Ok(open) => open,
        Err(unreadable) => {
            // A seed that does not open under its own token ID was tampered with or
            // damaged: the audit log must show it, and the answer reveals nothing.
            let event = used.event(who, AuditAction::TokenSeedUnreadable, Outcome::Denied);
            audit::record(conn, svc, event.flagged())?;
            return Ok(Err(unreadable));
        }
    };
    let matched = matching_step(svc, &open, used.code);
    match matched {
        Some(step) if step > open.last_used_step => Ok(Ok(step)),
        Some(_) => replayed(conn, svc, who, used),
        None => wrong_code(conn, svc, who, used),
    }
}

/// The step of the token's code that matches `code`, spent or not.
fn matching_step(svc: &Services, open: &OpenSeed, code: &OtpCode) -> Option<i64> {
    let OpenSeed {
        seed,
        params,
        kind,
        last_used_step,
        time_drift: drift,
    } = open;
    let last_used_step = *last_used_step;
    match kind {
        // The token's clock, as far as it is known to drift.
        OtpKind::Totp => totp::verify(
            seed.expose_secret(),
            params,
            code.as_str(),
            token_time(svc, *drift, params),
            svc.policy.otp_window,
        ),
        // Counters after the last one spent; a code of the last few spent is a replay.
        OtpKind::Hotp => {
            let look_ahead = svc.policy.hotp_look_ahead;
            let check = |after: i64| {
                totp::verify_counter(
                    seed.expose_secret(),
                    params,
                    code.as_str(),
                    after,
                    look_ahead,
                )
            };
            check(last_used_step).or_else(|| {
                check(last_used_step.saturating_sub(i64::from(look_ahead)))
                    .filter(|c| *c <= last_used_step)
            })
        }
    }
}

/// The step `used` would spend, judged on the token and seed as read and writing
/// nothing: `None` for anything but a matching, unspent code of a usable token whose seed
/// was read with it (its refusal is for the check that writes it, `check_code`).
pub fn accepted_step(svc: &Services, used: &CodeUse<'_>) -> Result<Option<i64>, AppError> {
    let (token, Some(read)) = (used.token, used.seed) else {
        return Ok(None);
    };
    if token.suspended || token.locked {
        return Ok(None);
    }
    let Ok(open) = open_seed_read(svc, token, read.clone())? else {
        return Ok(None);
    };
    Ok(matching_step(svc, &open, used.code).filter(|step| *step > open.last_used_step))
}

fn stored_kind(stored: &StoredSeed) -> Result<OtpKind, AppError> {
    OtpKind::parse(&stored.kind)
        .ok_or_else(|| AppError::Internal(format!("stored token kind {:?}", stored.kind)))
}

/// Now as the token's clock shows it: the server's time moved by the token's drift.
fn token_time(svc: &Services, drift: i64, params: &TotpParams) -> i64 {
    let period = i64::try_from(params.period).unwrap_or(30);
    svc.now().timestamp() + drift.saturating_mul(period)
}

/// Spends a checked step: the conditional update decides between racing requests.
pub fn spend(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    used: &CodeUse<'_>,
    step: i64,
) -> Refusable<i64> {
    let token = used.token;
    let id = new_id();
    let spent = used.step_use(who, &id, step, svc.now());
    if !db::soft_tokens::spend_step(conn, token.holder_id.as_deref(), spent)? {
        let now = db::soft_tokens::get(conn, &token.id)?;
        if now.suspended || now.locked {
            audit::record(
                conn,
                svc,
                used.event(who, AuditAction::OtpRefused, Outcome::Denied),
            )?;
            return Ok(Err(if now.suspended {
                token_suspended()
            } else {
                token_locked()
            }));
        }
        if now.holder_id != token.holder_id {
            return Err(AppError::new(
                ErrorCode::TokenNotRegistered,
                "the token was unregistered meanwhile",
            ));
        }
        return replayed(conn, svc, who, used);
    }
    Ok(Ok(step))
}

fn replayed(conn: &mut DbConn, svc: &Services, who: &Person, used: &CodeUse<'_>) -> Refusable<i64> {
    let event = used.event(who, AuditAction::OtpReplayed, Outcome::Denied);
    audit::record(conn, svc, event.flagged())?;
    Ok(Err(AppError::new(
        ErrorCode::OtpReplayed,
        "this code has already been used: wait for the next code on your token",
    )))
}

fn wrong_code(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    used: &CodeUse<'_>,
) -> Refusable<i64> {
    let event = |action, outcome| used.event(who, action, outcome);
    Ok(Err(count_wrong(conn, svc, &used.token.id, &event)?))
}

/// Counts a wrong code against the token, audits it (and a lock it causes) with `event`,
/// and gives the answer.
pub(super) fn count_wrong(
    conn: &mut DbConn,
    svc: &Services,
    token_id: &str,
    event: &dyn Fn(AuditAction, Outcome) -> Event,
) -> Result<AppError, AppError> {
    let policy = svc.lock_policy(Secret::TokenCode);
    let counted = db::lockout::count_failure(conn, Secret::TokenCode, token_id, policy, svc.now())?;
    Ok(match counted {
        Counted::Remaining(left) => {
            audit::record(conn, svc, event(AuditAction::OtpFailed, Outcome::Failure))?;
            AppError::new(ErrorCode::OtpInvalid, "the one-time code is not correct")
                .with_remaining_attempts(left)
        }
        Counted::LockedNow => {
            audit::record(conn, svc, event(AuditAction::OtpFailed, Outcome::Failure))?;
            audit::record(conn, svc, event(AuditAction::TokenLocked, Outcome::Success))?;
            token_locked()
        }
        // A lock that landed meanwhile is the answer; nothing was counted.
        Counted::Locked => {
            audit::record(conn, svc, event(AuditAction::OtpRefused, Outcome::Denied))?;
            token_locked()
        }
    })
}

/// A token's seed opened, with how its codes are made: what a resynchronisation searches.
pub(super) struct OpenSeed {
    pub seed: secrecy::SecretBox<Vec<u8>>,
    pub params: TotpParams,
    pub kind: OtpKind,
    pub last_used_step: i64,
    /// TOTP: steps the token's clock was last known to be ahead.
    pub time_drift: i64,
}

/// A token's seed opened, with what verifying its codes needs. The inner `Err`: a seed
/// that does not open under its own token ID (tampered with or damaged).
pub(super) fn open_seed(
    conn: &mut DbConn,
    svc: &Services,
    token: &SoftToken,
    read: Option<&(StoredSeed, i64)>,
) -> Result<Result<OpenSeed, AppError>, AppError> {
    let read = match read {
        Some(read) => read.clone(),
        None => db::soft_tokens::seed(conn, &token.id)?,
    };
    open_seed_read(svc, token, read)
}

/// `open_seed` of a seed already read.
fn open_seed_read(
    svc: &Services,
    token: &SoftToken,
    (stored, last_used_step): (StoredSeed, i64),
) -> Result<Result<OpenSeed, AppError>, AppError> {
    let (kind, time_drift) = (stored_kind(&stored)?, stored.time_drift);
    let params = TotpParams {
        algorithm: Algorithm::parse(&stored.algorithm)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        digits: stored.digits as u32,
        period: stored.period as u64,
    };
    let sealed = Sealed {
        key_id: stored.key_id,
        ciphertext: stored.sealed,
    };
    Ok(match svc.keyring.open(&token.token_id, &sealed) {
        Ok(seed) => Ok(OpenSeed {
            seed,
            params,
            kind,
            last_used_step,
            time_drift,
        }),
        Err(e) => Err(AppError::Internal(format!(
            "cannot open the seed of token {}: {e}",
            token.id
        ))),
    })
}

pub(crate) fn token_locked() -> AppError {
    AppError::new(
        ErrorCode::TokenLocked,
        "the token is locked after too many wrong codes; the administrator (or, for the administrator's or the shared token, the bank) unlocks it",
    )
}

pub(crate) fn token_suspended() -> AppError {
    AppError::new(
        ErrorCode::TokenSuspended,
        "the bank suspended this token (a lost or replaced device); the bank reissues it, then you register a new token",
    )
}

/// At start-up: every key id the stored seeds name is configured and opens its seeds,
/// so a wrong or missing master key stops the server instead of failing every code.
pub fn check_keyring(db: &mut Db, svc: &Services) -> Result<(), AppError> {
    for (token_id, stored) in db::soft_tokens::one_seed_per_key(db.conn()?)? {
        let key_id = stored.key_id.clone();
        let sealed = Sealed {
            key_id: stored.key_id,
            ciphertext: stored.sealed,
        };
        svc.keyring.open(&token_id, &sealed).map_err(|e| {
            AppError::Internal(format!(
                "token seeds sealed with master key id {key_id:?} do not open ({e}): configure that key as WEBFB_MASTER_KEY (with its WEBFB_MASTER_KEY_ID) or in WEBFB_MASTER_KEYS_PREVIOUS"
            ))
        })?;
    }
    Ok(())
}

/// Seals again, under the current master key, every seed sealed under an older one, so
/// the older key can be retired. Safe while instances serve; returns how many it resealed.
pub fn reseal(db: &mut Db, svc: &Services) -> Result<usize, AppError> {
    let current = svc.keyring.current_key_id().to_owned();
    let mut resealed = 0;
    loop {
        let conn = db.conn()?;
        let batch = db::soft_tokens::sealed_under_other_keys(conn, &current, 500)?;
        if batch.is_empty() {
            return Ok(resealed);
        }
        for (id, token_id, old) in batch {
            let sealed = Sealed {
                key_id: old.key_id.clone(),
                ciphertext: old.sealed.clone(),
            };
            let seed = svc.keyring.open(&token_id, &sealed).map_err(|e| {
                AppError::Internal(format!("the seed of token {id} does not open: {e}"))
            })?;
            let fresh = svc
                .keyring
                .seal(&token_id, seed.expose_secret())
                .map_err(|e| AppError::Internal(format!("seal: {e}")))?;
            let done = write_tx(conn, |conn| {
                db::soft_tokens::reseal(conn, &id, &old, &fresh.key_id, &fresh.ciphertext)
            })?;
            resealed += usize::from(done);
        }
    }
}
