//! How a person proves their say on a transfer: a code of the token that proves their
//! transactions, or the transfer password, judged again in the transaction that acts.

use crate::db::lockout::Subject;
use crate::db::soft_tokens::WithSeed;
use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::Event;
use crate::domain::otp_code::OtpCode;
use crate::domain::soft_token::{Purpose, SoftToken};
use crate::domain::transfer::{ConfirmationMethod, Transfer};
use crate::domain::{BlockedReason, Company, PasswordAttempt, Secret, User};
use crate::error::AppError;
use crate::service::lockout::{check_password, still_open};
use crate::service::tokens::{self, CodeUse};
use crate::service::{Person, Refusable, Services, audit, confirming};

use super::{blocked, creator};

/// How the creator proves the confirmation.
pub enum Proof {
    Otp(OtpCode),
    TransferPassword(PasswordAttempt),
}

impl Proof {
    pub fn method(&self) -> ConfirmationMethod {
        match self {
            Proof::Otp(_) => ConfirmationMethod::Otp,
            Proof::TransferPassword(_) => ConfirmationMethod::TransferPassword,
        }
    }
}

/// The rules a person's proof on a transfer is judged by, as their company and they stand.
pub(in crate::service) type Rules<'a> =
    dyn Fn(&Company, &User, ConfirmationMethod) -> Result<(), (&'static str, AppError)> + 'a;

/// Audits a refused proof (`failed`, with the reason) and gives the answer.
pub(in crate::service) fn refused(
    conn: &mut DbConn,
    svc: &Services,
    failed: &Event,
    reason: &str,
    problem: AppError,
) -> Result<AppError, AppError> {
    let event = failed
        .clone()
        .detail(serde_json::json!({ "reason": reason }));
    audit::record(conn, svc, event)?;
    Ok(problem)
}

/// What a proof's transaction judged: the company and the person as they stand, and the
/// token whose code was spent (none for the transfer password).
pub(in crate::service) struct Judged {
    pub company: Company,
    pub user: User,
    pub token: Option<SoftToken>,
}

/// Proves a person's say on `transfer` — a code of the token that proves their
/// transactions (spent for `purpose`), or their transfer password, hashed before any
/// transaction — and then runs `act` in the transaction that judges `rules` again, so that
/// nothing judged can change before it acts. Refusals are audited as `failed`.
pub(in crate::service) fn prove_then<T>(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    (transfer, proof, purpose): (&Transfer, Proof, Purpose),
    (rules, failed): (&Rules<'_>, &Event),
    act: impl Fn(&mut DbConn, &Judged, ConfirmationMethod, Option<i64>) -> Refusable<T>,
) -> Refusable<T> {
    let method = proof.method();
    let refuse =
        |conn: &mut DbConn, reason: &str, problem| refused(conn, svc, failed, reason, problem);
    let judged = |conn: &mut DbConn, (company, user): (Company, User)| -> Refusable<Judged> {
        Ok(match rules(&company, &user, method) {
            Ok(()) => Ok(Judged {
                company,
                user,
                token: None,
            }),
            Err((reason, problem)) => Err(refuse(conn, reason, problem)?),
        })
    };
    match proof {
        Proof::Otp(code) => write_tx(db.conn()?, |conn| {
            let (company, user, own) =
                db::users::with_contract_and_token(conn, &who.company_id, &who.user_id)?
                    .ok_or_else(|| AppError::not_found("user"))?;
            let mut judged = match judged(conn, (company, user))? {
                Ok(judged) => judged,
                Err(refused) => return Ok(Err(refused)),
            };
            let used = (&code, purpose, transfer.id.as_str());
            let judged_now = (&judged.company, &judged.user);
            let (step, token) = match spend_code(conn, svc, who, judged_now, own, used, &refuse)? {
                Ok(spent) => spent,
                Err(refused) => return Ok(Err(refused)),
            };
            judged.token = Some(token);
            act(conn, &judged, method, Some(step))
        }),
        Proof::TransferPassword(password) => {
            let conn = db.conn()?;
            let person = creator(conn, who)?;
            if let Err(refused) = judged(conn, person)? {
                return Ok(Err(refused));
            }
            let subject = Subject::Id(&who.user_id);
            check_password(
                db,
                svc,
                Secret::TransferPassword,
                subject,
                &password,
                failed,
            )?;
            write_tx(db.conn()?, |conn| {
                still_open(conn, svc, Secret::TransferPassword, &who.user_id)?;
                // The rules may have changed while the password was hashed.
                let person = creator(conn, who)?;
                match judged(conn, person)? {
                    Ok(judged) => act(conn, &judged, method, None),
                    Err(refused) => Ok(Err(refused)),
                }
            })
        }
    }
}

/// How a refusal is audited before it is answered: its reason and the problem.
pub(in crate::service) type Refuse<'a> =
    dyn Fn(&mut DbConn, &str, AppError) -> Result<AppError, AppError> + 'a;

/// Checks and spends a code of the token that proves `user`'s transaction on a transfer
/// (their own, or the shared one), inside the caller's transaction: the step, and the
/// token as it was read. Refusals are audited through `refuse` and answered after the
/// commit.
fn spend_code(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    (company, user): (&Company, &User),
    own: Option<WithSeed>,
    (code, purpose, transfer_id): (&OtpCode, Purpose, &str),
    refuse: &Refuse<'_>,
) -> Refusable<(i64, SoftToken)> {
    let read = confirming(
        conn,
        (company, user),
        Some(own),
        db::soft_tokens::held_with_seed,
    )?;
    let Some((token, seed)) = read else {
        let problem = blocked(BlockedReason::TokenNotRegistered);
        return Ok(Err(refuse(conn, "token_not_registered", problem)?));
    };
    let used = CodeUse {
        token: &token,
        seed: Some(&seed),
        code,
        purpose,
        transfer_id: Some(transfer_id),
    };
    match tokens::verify_code(conn, svc, who, &used)? {
        Ok(step) => Ok(Ok((step, token))),
        Err(refused) => {
            let reason = refused.code().as_str();
            Ok(Err(refuse(conn, reason, refused)?))
        }
    }
}
