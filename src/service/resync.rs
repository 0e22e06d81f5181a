//! Resynchronisation (再同期): a token whose clock (TOTP) or counter (HOTP) drifted beyond
//! the window is found again from two consecutive codes, searched within the bank's bound
//! (`WEBFB_RESYNC_SEARCH`). The drift found is kept for later codes, both codes are spent,
//! wrong pairs count toward the token's lock, and it is audited — by its holder, or by the
//! bank reading the codes over the telephone.

use secrecy::ExposeSecret;

use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::SoftToken;
use crate::domain::audit::{AuditAction, Event, Outcome};
use crate::domain::otp_code::OtpCode;
use crate::error::{AppError, ErrorCode};
use crate::otp::pskc::OtpKind;
use crate::otp::totp;

use super::tokens::{self, count_wrong, open_seed};
use super::{Operator, Person, Refusable, Services, audit};

/// What a resynchronisation found: the token's drift, and the steps of the two codes.
type Found = (i64, (i64, i64));

/// The drift and the steps of the two codes, if they are consecutive codes of the token
/// within the search.
fn search(
    conn: &mut DbConn,
    svc: &Services,
    token: &SoftToken,
    codes: (&OtpCode, &OtpCode),
) -> Result<Option<Found>, AppError> {
    let open = open_seed(conn, svc, token, None)??;
    let bound = i64::from(svc.policy.resync_search);
    let pair = (codes.0.as_str(), codes.1.as_str());
    let seed = open.seed.expose_secret();
    Ok(match open.kind {
        OtpKind::Totp => {
            let now = totp::step_at(&open.params, svc.now().timestamp());
            // Around where the token's clock was last known to be; only steps after the
            // last one spent: a resynchronisation replays nothing.
            let expected = now.saturating_add(open.time_drift);
            let from = expected.saturating_sub(bound).max(open.last_used_step + 1);
            let to = expected.saturating_add(bound);
            totp::consecutive(seed, &open.params, pair, from..=to)
                .map(|step| (step + 1 - now, (step, step + 1)))
        }
        OtpKind::Hotp => {
            let from = open.last_used_step.saturating_add(1);
            totp::consecutive(seed, &open.params, pair, from..=from.saturating_add(bound))
                .map(|counter| (0, (counter, counter + 1)))
        }
    })
}

/// Resynchronises `token` inside the caller's transaction; `event` audits it as its actor.
fn resynchronise(
    conn: &mut DbConn,
    svc: &Services,
    token: &SoftToken,
    codes: (&OtpCode, &OtpCode),
    event: &dyn Fn(AuditAction, Outcome) -> Event,
) -> Refusable<()> {
    if token.suspended {
        return Ok(Err(tokens::token_suspended()));
    }
    if token.locked {
        return Ok(Err(tokens::token_locked()));
    }
    let Some((drift, steps)) = search(conn, svc, token, codes)? else {
        let refused = count_wrong(conn, svc, &token.id, event)?;
        return Ok(Err(match refused.code() {
            ErrorCode::OtpInvalid => AppError::new(
                ErrorCode::TokenOutOfSync,
                "the two codes are not consecutive codes of this token: type two codes the token shows one after the other",
            ),
            _ => refused,
        }));
    };
    // Conditional on the last step still being before the pair: racing requests move it once.
    if !db::soft_tokens::resynchronise(conn, &token.id, drift, steps)? {
        return Err(AppError::new(
            ErrorCode::OtpReplayed,
            "these codes were used meanwhile: wait for the token's next codes",
        ));
    }
    db::lockout::unlock(conn, crate::domain::Secret::TokenCode, &token.id)?;
    let done = event(AuditAction::TokenResynchronised, Outcome::Success);
    audit::record(
        conn,
        svc,
        done.detail(serde_json::json!({ "drift": drift })),
    )?;
    Ok(Ok(()))
}

/// The holder resynchronises their own token (the shared token: its holder, the
/// administrator).
pub fn own(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    codes: (OtpCode, OtpCode),
) -> Result<SoftToken, AppError> {
    write_tx(db.conn()?, |conn| {
        let token = db::soft_tokens::held_by(conn, &who.user_id)?.ok_or_else(no_token)?;
        let event = |action, outcome| who.event(action, outcome).target("token", &token.id);
        let done = resynchronise(conn, svc, &token, (&codes.0, &codes.1), &event)?;
        Ok::<_, AppError>(done.and(Ok(db::soft_tokens::get(conn, &token.id)?)))
    })?
}

/// The bank resynchronises a person's token with the codes they read out.
pub fn for_person(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    person_id: &str,
    codes: (OtpCode, OtpCode),
) -> Result<SoftToken, AppError> {
    write_tx(db.conn()?, |conn| {
        let person =
            db::users::find(conn, person_id)?.ok_or_else(|| AppError::not_found("person"))?;
        let token = db::soft_tokens::held_by(conn, &person.id)?.ok_or_else(no_token)?;
        let event = |action, outcome| {
            who.event(action, outcome)
                .company(&person.company_id)
                .target("token", &token.id)
        };
        let done = resynchronise(conn, svc, &token, (&codes.0, &codes.1), &event)?;
        Ok::<_, AppError>(done.and(Ok(db::soft_tokens::get(conn, &token.id)?)))
    })?
}

fn no_token() -> AppError {
    AppError::new(
        ErrorCode::TokenNotRegistered,
        "no token is registered to this person (in shared mode, the administrator holds it)",
    )
}
