//! A personal customer's self-service from the login page, before signing in (seeds 000,
//! 001, 003, 004): token registration (利用登録), stop (利用停止) and device change (交換).
//! Each proves the contract ID and login password first — with the throttling and
//! lockout of sign-in, opening no session — then takes the codes, in one transaction: a
//! code is spent only when its action succeeds.

use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{AuditAction, Outcome};
use crate::domain::otp_code::OtpCode;
use crate::domain::soft_token::Purpose;
use crate::domain::token_id::TokenId;
use crate::domain::{Company, OtpStatus, Role, Secret, SoftToken, User};
use crate::error::{AppError, ErrorCode};

use super::lockout::still_open;
use super::tokens::{self, CodeUse, IssuedToken};
use super::{Person, Refusable, Services, audit, otp_management, sessions};

/// The contract ID and login password typed on the login page (and any certificate
/// presented), and where from.
pub struct Proof<'a> {
    pub login: sessions::Credentials<'a>,
    pub client_addr: Option<String>,
}

/// A customer's one-time passwords after a self-service step.
pub struct CustomerOtp {
    pub customer: User,
    pub contract: Company,
    pub token: Option<SoftToken>,
}

/// The customer behind a proof; a company person is sent to their administrator.
fn customer(
    db: &mut Db,
    svc: &Services,
    proof: &Proof<'_>,
    purpose: &str,
) -> Result<Person, AppError> {
    let user = sessions::prove_person(db, svc, &proof.login, proof.client_addr.clone(), purpose)?;
    if user.role != Role::Customer {
        return Err(AppError::new(
            ErrorCode::PersonalContractOnly,
            "these steps are for personal contracts; a company's tokens are managed by its administrator",
        ));
    }
    let company = db::companies::get(db.conn()?, &user.company_id)?;
    Ok(Person::acting(
        user,
        company,
        None,
        proof.client_addr.clone(),
    ))
}

/// Runs a step for a proven customer in one transaction, and answers their state after.
fn step(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    act: impl FnOnce(&mut DbConn) -> Refusable<()>,
) -> Result<CustomerOtp, AppError> {
    let conn = db.conn()?;
    write_tx(conn, |conn| {
        still_open(conn, svc, Secret::LoginPassword, &who.user_id)?;
        act(conn)
    })??;
    let customer = db::users::find(conn, &who.user_id)?
        .ok_or_else(|| AppError::Internal("a customer vanished".into()))?;
    Ok(CustomerOtp {
        contract: db::companies::get(conn, &who.company_id)?,
        token: db::soft_tokens::held_by(conn, &who.user_id)?,
        customer: customer.as_of(svc.now()),
    })
}

/// A new software token for the customer's authenticator app, to register next.
pub fn issue(db: &mut Db, svc: &Services, proof: &Proof<'_>) -> Result<IssuedToken, AppError> {
    let who = customer(db, svc, proof, "token_issue")?;
    write_tx(db.conn()?, |conn| {
        still_open(conn, svc, Secret::LoginPassword, &who.user_id)
    })?;
    tokens::issue(db, svc, &who)
}

/// 利用登録: the token ID and a current code of it; one token per customer. From then on
/// sign-in and transfers ask for a code.
pub fn register(
    db: &mut Db,
    svc: &Services,
    proof: &Proof<'_>,
    token_id: &TokenId,
    code: &OtpCode,
) -> Result<CustomerOtp, AppError> {
    let who = customer(db, svc, proof, "otp_registration")?;
    step(db, svc, &who, |conn| {
        if db::soft_tokens::held_by(conn, &who.user_id)?.is_some() {
            return Err(AppError::new(
                ErrorCode::TokenAlreadyRegistered,
                "you already have a registered token: change device with the exchange, or stop first",
            ));
        }
        let token = tokens::registrable(conn, svc, &who.company_id, token_id)?;
        let used = CodeUse {
            token: &token,
            seed: None,
            code,
            purpose: Purpose::Registration,
            transfer_id: None,
        };
        if let Err(refused) = tokens::verify_code(conn, svc, &who, &used)? {
            return Ok(Err(refused));
        }
        tokens::bind(conn, svc, &token, &who.company_id, &who.user_id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::TokenRegistered, Outcome::Success)
                .target("user", &who.user_id)
                .detail(serde_json::json!({ "token": token.id, "role": "customer" })),
        )?;
        set_status(conn, svc, &who, OtpStatus::Active)?;
        Ok(Ok(()))
    })
}

/// 利用停止: a current code; the token is retired, and sign-in and transfers go back to
/// the passwords. Registration again is possible at any time.
pub fn stop(
    db: &mut Db,
    svc: &Services,
    proof: &Proof<'_>,
    code: &OtpCode,
) -> Result<CustomerOtp, AppError> {
    let who = customer(db, svc, proof, "otp_stop")?;
    step(db, svc, &who, |conn| {
        let token = db::soft_tokens::held_by(conn, &who.user_id)?.ok_or_else(|| {
            AppError::new(
                ErrorCode::TokenNotRegistered,
                "you have no registered token to stop",
            )
        })?;
        let used = CodeUse {
            token: &token,
            seed: None,
            code,
            purpose: Purpose::Stop,
            transfer_id: None,
        };
        if let Err(refused) = tokens::verify_code(conn, svc, &who, &used)? {
            return Ok(Err(refused));
        }
        db::soft_tokens::release(conn, &who.user_id, svc.now())?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::TokenUnregistered, Outcome::Success)
                .target("user", &who.user_id)
                .detail(serde_json::json!({ "token": token.id })),
        )?;
        set_status(conn, svc, &who, OtpStatus::Inactive)?;
        Ok(Ok(()))
    })
}

/// 交換: a code of the old token, then the new token's ID and a code of it; the old one
/// stops working at that moment.
pub fn exchange(
    db: &mut Db,
    svc: &Services,
    proof: &Proof<'_>,
    current: &OtpCode,
    new_token_id: &TokenId,
    new_code: &OtpCode,
) -> Result<CustomerOtp, AppError> {
    let who = customer(db, svc, proof, "otp_exchange")?;
    step(db, svc, &who, |conn| {
        let exchanged =
            otp_management::exchange_in(conn, svc, &who, current, new_token_id, new_code)?;
        Ok(exchanged.map(drop))
    })
}

/// The contract's OTP status follows its customer's token; each change is audited.
fn set_status(
    conn: &mut DbConn,
    svc: &Services,
    who: &Person,
    status: OtpStatus,
) -> Result<(), AppError> {
    let contract = db::companies::get(conn, &who.company_id)?;
    if contract.otp_status == status {
        return Ok(());
    }
    db::companies::set_otp_status(conn, &contract.id, status, svc.now())?;
    let action = match status {
        OtpStatus::Active => AuditAction::OtpActivated,
        OtpStatus::Inactive => AuditAction::OtpStopped,
    };
    audit::record(
        conn,
        svc,
        who.event(action, Outcome::Success)
            .target("company", &contract.id),
    )
}
