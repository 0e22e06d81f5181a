//! Sign-in and sign-out, for company people and bank operators.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{self, BankOperator as Operator, PasswordAttempt};
use crate::error::{AppError, Fields};
use crate::service::sessions;

use super::extract::{BankOperator, SignedIn, client_addr};
use super::json::Json;
use super::people::UserView;
use super::{State, blocking};

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "yamada.admin", min_length = 1, max_length = 64)]
    pub login_id: String,
    #[schema(example = "Sakura-2026-spring", min_length = 1, max_length = 128, format = Password)]
    pub password: String,
}

impl LoginRequest {
    pub fn into_domain(self) -> Result<(String, PasswordAttempt), AppError> {
        let mut f = Fields::default();
        let login_id = f.check("login_id", bounded_login_id(&self.login_id));
        let password = f.check("password", PasswordAttempt::parse(&self.password));
        f.finish()?;
        Ok((login_id?, password?))
    }
}

/// At sign-in any ID of sane length without control characters is looked up (no login ID
/// has one); the format rules are for new IDs.
fn bounded_login_id(value: &str) -> Result<String, domain::Invalid> {
    domain::text_field(value, 64)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the session ends at the latest.
    #[schema(example = 28800)]
    pub expires_in: i64,
    /// Seconds of inactivity after which the session ends.
    #[schema(example = 600)]
    pub idle_timeout: i64,
    pub user: UserView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorLoginResponse {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    #[schema(example = 28800)]
    pub expires_in: i64,
    #[schema(example = 600)]
    pub idle_timeout: i64,
    pub operator: OperatorView,
}

/// A bank operator.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorView {
    #[schema(format = Uuid)]
    pub id: String,
    pub login_id: String,
    pub name: String,
    /// Signing in is locked after too many wrong passwords (for a while, or until lifted).
    pub locked: bool,
    /// No longer allowed to sign in.
    pub disabled: bool,
}

impl From<Operator> for OperatorView {
    fn from(r: Operator) -> Self {
        OperatorView {
            locked: r.lock.is_some(),
            disabled: r.disabled,
            id: r.id,
            login_id: r.login_id,
            name: r.name,
        }
    }
}

/// Signs a company person in.
#[utoipa::path(
    operation_id = "login",
    tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse))
)]
#[post("/auth/login")]
pub(super) async fn login(
    state: State,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<web::Json<LoginResponse>, AppError> {
    let (login_id, password) = body.into_inner()?.into_domain()?;
    let addr = client_addr(&req);
    let session = blocking(&state, move |db, svc| {
        sessions::login_person(db, svc, &login_id, &password, addr)
    })
    .await?;
    Ok(web::Json(LoginResponse {
        access_token: session.access_token,
        token_type: "Bearer".into(),
        expires_in: session.expires_in,
        idle_timeout: session.idle_timeout,
        user: session.subject.into(),
    }))
}

/// Ends the session at once; the access token stops working everywhere.
#[utoipa::path(
    operation_id = "logout",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"))
)]
#[post("/auth/logout")]
pub(super) async fn logout(state: State, who: SignedIn) -> Result<HttpResponse, AppError> {
    blocking(&state, move |db, svc| {
        sessions::logout_person(db, svc, &who.0)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Signs a bank operator in.
#[utoipa::path(
    operation_id = "bankLogin",
    tag = "bank",
    request_body = LoginRequest,
    responses((status = 200, body = OperatorLoginResponse))
)]
#[post("/bank/auth/login")]
pub(super) async fn bank_login(
    state: State,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<web::Json<OperatorLoginResponse>, AppError> {
    let (login_id, password) = body.into_inner()?.into_domain()?;
    let addr = client_addr(&req);
    let session = blocking(&state, move |db, svc| {
        sessions::login_operator(db, svc, &login_id, &password, addr)
    })
    .await?;
    Ok(web::Json(OperatorLoginResponse {
        access_token: session.access_token,
        token_type: "Bearer".into(),
        expires_in: session.expires_in,
        idle_timeout: session.idle_timeout,
        operator: session.subject.into(),
    }))
}

/// Ends the operator's session at once.
#[utoipa::path(operation_id = "bankLogout", tag = "bank", security(("bearer" = [])), responses((status = 204, description = "Signed out")))]
#[post("/bank/auth/logout")]
pub(super) async fn bank_logout(state: State, who: BankOperator) -> Result<HttpResponse, AppError> {
    blocking(&state, move |db, svc| {
        sessions::logout_operator(db, svc, &who.0)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
