//! The login page's self-service for personal customers, before signing in: a token for
//! an authenticator app, registration (利用登録), stop (利用停止) and device change (交換).
//! Each proves the contract ID and login password like sign-in does and opens no session.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::PasswordAttempt;
use crate::domain::otp_code::OtpCode;
use crate::domain::token_id::TokenId;
use crate::error::{AppError, Fields};
use crate::service::self_service::{self, CustomerOtp, Proof};
use crate::service::sessions::Credentials;
use rustls_pki_types::CertificateDer;

use super::extract::{client_addr, presented_certificate};
use super::json::Json;
use super::otp::{IssuedTokenView, TokenView, otp, token_id};
use super::sessions::bounded_login_id;
use super::wire::*;
use super::{State, blocking};

/// Who calls from the login page: their address and any certificate they presented.
struct Caller {
    client_addr: Option<String>,
    certificate: Option<Vec<CertificateDer<'static>>>,
}

impl Caller {
    fn of(req: &HttpRequest) -> Caller {
        Caller {
            client_addr: client_addr(req),
            certificate: presented_certificate(req),
        }
    }

    fn proof<'a>(&'a self, contract_id: &'a str, password: &'a PasswordAttempt) -> Proof<'a> {
        Proof {
            login: Credentials {
                login_id: contract_id,
                password,
                certificate: self.certificate.as_deref(),
            },
            client_addr: self.client_addr.clone(),
        }
    }
}

/// What every self-service step starts with: the contract ID and the login password.
fn proof(
    f: &mut Fields,
    contract_id: &str,
    password: &str,
) -> Result<(String, PasswordAttempt), AppError> {
    let id = f.check("contract_id", bounded_login_id(contract_id));
    let password = f.check("password", PasswordAttempt::parse(password));
    Ok((id?, password?))
}

#[derive(Deserialize, ToSchema)]
pub struct ContractProof {
    /// The contract ID (契約者ID).
    #[schema(example = "k10000001", min_length = 1, max_length = 64)]
    pub contract_id: String,
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SelfRegisterRequest {
    #[schema(example = "k10000001", min_length = 1, max_length = 64)]
    pub contract_id: String,
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub password: String,
    /// The token ID (serial) the token shows.
    #[schema(
        example = "WFBS12345674",
        pattern = "^[A-Za-z0-9](?:-?[A-Za-z0-9])*$",
        max_length = 40
    )]
    pub token_id: String,
    /// A current code of that token.
    #[schema(example = "123456", pattern = "^[0-9]{6,8}$")]
    pub otp: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SelfStopRequest {
    #[schema(example = "k10000001", min_length = 1, max_length = 64)]
    pub contract_id: String,
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub password: String,
    /// A current code of the registered token.
    #[schema(example = "123456", pattern = "^[0-9]{6,8}$")]
    pub otp: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SelfExchangeRequest {
    #[schema(example = "k10000001", min_length = 1, max_length = 64)]
    pub contract_id: String,
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub password: String,
    /// A current code of the old token (keep the old app until this succeeds).
    #[schema(example = "123456", pattern = "^[0-9]{6,8}$")]
    pub current_otp: String,
    #[schema(
        example = "WFBS12345674",
        pattern = "^[A-Za-z0-9](?:-?[A-Za-z0-9])*$",
        max_length = 40
    )]
    pub new_token_id: String,
    /// A current code of the new token.
    #[schema(example = "654321", pattern = "^[0-9]{6,8}$")]
    pub new_otp: String,
}

/// A customer's one-time passwords after a self-service step: go back to the login page.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerOtpView {
    #[schema(example = "k10000001")]
    pub contract_id: String,
    /// `active` while a token is registered.
    pub otp_status: OtpStatus,
    pub token: Option<TokenView>,
    /// Where the bank asks personal contracts for codes.
    pub codes: CodesAsked,
}

fn view(state: &State, c: CustomerOtp) -> CustomerOtpView {
    let codes = state.services.policy.codes_asked(c.contract.kind);
    CustomerOtpView {
        contract_id: c.customer.login_id,
        otp_status: c.contract.otp_status.into(),
        token: c.token.as_ref().map(TokenView::from),
        codes: codes.into(),
    }
}

/// A new software token for the customer's authenticator app (add `otpauth_uri` or scan
/// the QR code), to register next. The secret is never shown again.
#[utoipa::path(
    operation_id = "selfIssueSoftToken",
    tag = "self-service",
    request_body = ContractProof,
    responses((status = 201, body = IssuedTokenView))
)]
#[post("/self-service/soft-tokens")]
pub(super) async fn self_issue_soft_token(
    state: State,
    req: HttpRequest,
    body: Json<ContractProof>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner()?;
    let mut f = Fields::default();
    let proven = proof(&mut f, &body.contract_id, &body.password);
    f.finish()?;
    let (id, password) = proven?;
    let caller = Caller::of(&req);
    let issued = blocking(&state, move |db, svc| {
        let proof = caller.proof(&id, &password);
        self_service::issue(db, svc, &proof)
    })
    .await?;
    Ok(HttpResponse::Created().json(IssuedTokenView::from(issued)))
}

/// 利用登録: registers the customer's token with its ID and a current code. From then on
/// sign-in and transfers ask for a code.
#[utoipa::path(
    operation_id = "selfRegisterToken",
    tag = "self-service",
    request_body = SelfRegisterRequest,
    responses((status = 200, body = CustomerOtpView))
)]
#[post("/self-service/otp/registration")]
pub(super) async fn self_register_token(
    state: State,
    req: HttpRequest,
    body: Json<SelfRegisterRequest>,
) -> Result<web::Json<CustomerOtpView>, AppError> {
    let body = body.into_inner()?;
    let mut f = Fields::default();
    let proven = proof(&mut f, &body.contract_id, &body.password);
    let token = token_id(&mut f, "token_id", &body.token_id);
    let code = otp(&mut f, "otp", &body.otp);
    f.finish()?;
    let ((id, password), token, code) = (proven?, token?, code?);
    let caller = Caller::of(&req);
    let done = blocking(&state, move |db, svc| {
        let proof = caller.proof(&id, &password);
        self_service::register(db, svc, &proof, &token, &code)
    })
    .await?;
    Ok(web::Json(view(&state, done)))
}

/// 利用停止: stops one-time passwords with a current code; sign-in and transfers use the
/// passwords again. Registration again is possible at any time.
#[utoipa::path(
    operation_id = "selfStopOtp",
    tag = "self-service",
    request_body = SelfStopRequest,
    responses((status = 200, body = CustomerOtpView))
)]
#[post("/self-service/otp/stop")]
pub(super) async fn self_stop_otp(
    state: State,
    req: HttpRequest,
    body: Json<SelfStopRequest>,
) -> Result<web::Json<CustomerOtpView>, AppError> {
    let body = body.into_inner()?;
    let mut f = Fields::default();
    let proven = proof(&mut f, &body.contract_id, &body.password);
    let code = otp(&mut f, "otp", &body.otp);
    f.finish()?;
    let ((id, password), code) = (proven?, code?);
    let caller = Caller::of(&req);
    let done = blocking(&state, move |db, svc| {
        let proof = caller.proof(&id, &password);
        self_service::stop(db, svc, &proof, &code)
    })
    .await?;
    Ok(web::Json(view(&state, done)))
}

/// 交換: moves to a new device with a code of the old token and the new token's ID and
/// code; the old token stops working at that moment.
#[utoipa::path(
    operation_id = "selfExchangeToken",
    tag = "self-service",
    request_body = SelfExchangeRequest,
    responses((status = 200, body = CustomerOtpView))
)]
#[post("/self-service/otp/exchange")]
pub(super) async fn self_exchange_token(
    state: State,
    req: HttpRequest,
    body: Json<SelfExchangeRequest>,
) -> Result<web::Json<CustomerOtpView>, AppError> {
    let body = body.into_inner()?;
    let mut f = Fields::default();
    let proven = proof(&mut f, &body.contract_id, &body.password);
    let current: Result<OtpCode, AppError> = otp(&mut f, "current_otp", &body.current_otp);
    let new_id: Result<TokenId, AppError> = token_id(&mut f, "new_token_id", &body.new_token_id);
    let new_code = otp(&mut f, "new_otp", &body.new_otp);
    f.finish()?;
    let ((id, password), current, new_id, new_code) = (proven?, current?, new_id?, new_code?);
    let caller = Caller::of(&req);
    let done = blocking(&state, move |db, svc| {
        let proof = caller.proof(&id, &password);
        self_service::exchange(db, svc, &proof, &current, &new_id, &new_code)
    })
    .await?;
    Ok(web::Json(view(&state, done)))
}
