//! Sign-in (with its code step where the bank asks one) and sign-out, for people and
//! bank operators.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::otp_code::OtpCode;
use crate::domain::{self, BankOperator as Operator, PasswordAttempt};
use crate::error::{AppError, Fields};
use crate::service::sessions;

use super::extract::{BankOperator, SignedIn, client_addr, presented_certificate};
use super::json::Json;
use super::otp::otp;
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
pub(super) fn bounded_login_id(value: &str) -> Result<String, domain::Invalid> {
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

impl From<sessions::Login<domain::User>> for LoginResponse {
    fn from(session: sessions::Login<domain::User>) -> Self {
        LoginResponse {
            access_token: session.access_token,
            token_type: "Bearer".into(),
            expires_in: session.expires_in,
            idle_timeout: session.idle_timeout,
            user: session.subject.into(),
        }
    }
}

/// The password was right and a code is asked next (ワンタイムパスワード認証): no session
/// yet. Send the challenge with a current code to `POST /api/v1/auth/login/otp`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInChallenge {
    /// Single use, for this person only.
    #[schema(example = "q3Z8w0bJmI9k2T1c4yVxR7nL5sPaE6dHfUoG0jKlQzM")]
    pub challenge: String,
    /// Seconds within which the code step must follow.
    #[schema(example = 120)]
    pub expires_in: i64,
}

/// Signs a person in (company person or personal customer). Where the bank asks a code
/// at sign-in and the person has a token, the answer is 202 with a challenge for the
/// code step instead of a session.
#[utoipa::path(
    operation_id = "login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse, description = "Signed in"),
        (status = 202, body = SignInChallenge, description = "Password right; a code is asked next"),
    )
)]
#[post("/auth/login")]
pub(super) async fn login(
    state: State,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let (login_id, password) = body.into_inner()?.into_domain()?;
    let addr = client_addr(&req);
    let certificate = presented_certificate(&req);
    let signed_in = blocking(&state, move |db, svc| {
        let login = sessions::Credentials {
            login_id: &login_id,
            password: &password,
            certificate: certificate.as_deref(),
        };
        sessions::login_person(db, svc, &login, addr)
    })
    .await?;
    Ok(match signed_in {
        sessions::SignIn::Session(session) => HttpResponse::Ok().json(LoginResponse::from(session)),
        sessions::SignIn::CodeStep(c) => HttpResponse::Accepted().json(SignInChallenge {
            challenge: c.challenge,
            expires_in: c.expires_in,
        }),
    })
}

#[derive(Deserialize, ToSchema)]
pub struct LoginCodeRequest {
    /// The `challenge` of the sign-in's password step.
    #[schema(min_length = 1, max_length = 128)]
    pub challenge: String,
    /// A current code of the person's token.
    #[schema(example = "123456", pattern = "^[0-9]{6,8}$")]
    pub otp: String,
}

impl LoginCodeRequest {
    pub fn into_domain(self) -> Result<(String, OtpCode), AppError> {
        let mut f = Fields::default();
        let challenge = f.check("challenge", domain::text_field(&self.challenge, 128));
        let code = otp(&mut f, "otp", &self.otp);
        f.finish()?;
        Ok((challenge?, code?))
    }
}

/// The code step of a sign-in (ワンタイムパスワード認証): opens the session. Wrong codes
/// count toward the token's lock; the code is spent and confirms nothing else.
#[utoipa::path(
    operation_id = "loginWithCode",
    tag = "auth",
    request_body = LoginCodeRequest,
    responses((status = 200, body = LoginResponse))
)]
#[post("/auth/login/otp")]
pub(super) async fn login_with_code(
    state: State,
    req: HttpRequest,
    body: Json<LoginCodeRequest>,
) -> Result<web::Json<LoginResponse>, AppError> {
    let (challenge, code) = body.into_inner()?.into_domain()?;
    let addr = client_addr(&req);
    let session = blocking(&state, move |db, svc| {
        sessions::login_with_code(db, svc, &challenge, &code, addr)
    })
    .await?;
    Ok(web::Json(session.into()))
}

/// Ends the session at once; the access token stops working everywhere.
#[utoipa::path(
    operation_id = "logout",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"))
)]
#[post("/auth/logout")]
pub(super) async fn logout(who: SignedIn) -> Result<HttpResponse, AppError> {
    who.run(sessions::logout_person).await?;
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
