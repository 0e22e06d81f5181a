//! Software tokens and OTP management (ワンタイムパスワード認証情報管理).

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::SoftToken;
use crate::domain::otp_code::OtpCode;
use crate::domain::token_id::{TokenId, TokenIdError};
use crate::domain::{self, PasswordAttempt};
use crate::error::{AppError, Fields};
use crate::service::otp_management::{self, OtpSettings};
use crate::service::tokens;

use super::extract::SignedIn;
use super::json::Json;
use super::people::{CompanySummary, UserView, confirmation};
use super::wire::*;

/// A token as shown after issuance: never its full ID nor its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    #[schema(example = "WFBS****5674")]
    pub token_id_masked: String,
    pub status: TokenStatus,
    pub registered_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    /// Too many wrong codes: the administrator (or the bank) unlocks it.
    Locked,
    /// The bank suspended it (a lost device) until it reissues.
    Suspended,
}

impl From<&SoftToken> for TokenView {
    fn from(t: &SoftToken) -> Self {
        TokenView {
            token_id_masked: t.masked_id(),
            status: if t.suspended {
                TokenStatus::Suspended
            } else if t.locked {
                TokenStatus::Locked
            } else {
                TokenStatus::Active
            },
            registered_at: t.registered_at,
        }
    }
}

/// A new software token. Add `otpauth_uri` (or scan the QR code) in any RFC 6238
/// authenticator app; the secret is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedTokenView {
    #[schema(
        example = "WFBS12345674",
        pattern = "^[A-Za-z0-9](?:-?[A-Za-z0-9])*$",
        max_length = 40
    )]
    pub token_id: String,
    #[schema(
        example = "otpauth://totp/webfb:WFBS12345674?secret=JBSWY3DPEHPK3PXP&issuer=webfb&algorithm=SHA1&digits=6&period=30"
    )]
    pub otpauth_uri: String,
    /// PNG image of the QR code of `otpauth_uri`, base64.
    pub qr_png_base64: String,
    /// Register the token before this time, or it can no longer be registered.
    pub expires_at: DateTime<Utc>,
}

impl From<crate::service::tokens::IssuedToken> for IssuedTokenView {
    fn from(t: crate::service::tokens::IssuedToken) -> Self {
        IssuedTokenView {
            token_id: t.token_id.as_str().to_owned(),
            otpauth_uri: t.otpauth_uri,
            qr_png_base64: t.qr_png_base64,
            expires_at: t.expires_at,
        }
    }
}

pub(super) fn token_id(f: &mut Fields, field: &str, value: &str) -> Result<TokenId, AppError> {
    match TokenId::parse(value) {
        Ok(id) => Ok(id),
        Err(TokenIdError::Mistyped) => f.check_as(
            crate::error::ErrorCode::TokenIdMistyped,
            field,
            Err(domain::Invalid::new(
                "token_id_mistyped",
                TokenIdError::Mistyped.to_string(),
            )),
        ),
        Err(e) => f.check(field, Err(domain::Invalid::new("format", e.to_string()))),
    }
}

pub(super) fn otp(f: &mut Fields, field: &str, value: &str) -> Result<OtpCode, AppError> {
    f.check(
        field,
        OtpCode::parse(value).map_err(|e| domain::Invalid::new("format", e.to_string())),
    )
}

pub(super) fn approval(f: &mut Fields, value: &str) -> Result<PasswordAttempt, AppError> {
    f.check("approval_password", PasswordAttempt::parse(value))
}

#[derive(Deserialize, ToSchema)]
pub struct SetModeRequest {
    pub mode: TokenMode,
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub approval_password: String,
}

impl SetModeRequest {
    pub fn into_domain(self) -> Result<(domain::TokenMode, PasswordAttempt), AppError> {
        let mut f = Fields::default();
        let approval = approval(&mut f, &self.approval_password);
        f.finish()?;
        Ok((self.mode.into(), approval?))
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterTokenRequest {
    #[schema(
        example = "WFBS12345674",
        pattern = "^[A-Za-z0-9](?:-?[A-Za-z0-9])*$",
        max_length = 40
    )]
    pub token_id: String,
    /// The code the token shows now: proof of possession.
    #[schema(example = "123456", pattern = "^[0-9]{6,8}$")]
    pub otp: String,
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub approval_password: String,
}

impl RegisterTokenRequest {
    pub fn into_domain(self) -> Result<(TokenId, OtpCode, PasswordAttempt), AppError> {
        let mut f = Fields::default();
        let id = token_id(&mut f, "token_id", &self.token_id);
        let code = otp(&mut f, "otp", &self.otp);
        let approval = approval(&mut f, &self.approval_password);
        f.finish()?;
        Ok((id?, code?, approval?))
    }
}

#[derive(Deserialize, ToSchema)]
pub struct UnregisterRequest {
    /// Users whose tokens are unregistered, all or none.
    #[schema(min_items = 1, max_items = 100)]
    pub user_ids: Vec<uuid::Uuid>,
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub approval_password: String,
}

impl UnregisterRequest {
    pub fn into_domain(self) -> Result<(Vec<String>, PasswordAttempt), AppError> {
        let mut f = Fields::default();
        if self.user_ids.is_empty() {
            f.push(
                "user_ids",
                domain::Invalid::new("required", "name at least one user"),
            );
        }
        if self.user_ids.len() > 100 {
            f.push(
                "user_ids",
                domain::Invalid::new("too_many", "at most 100 users at once"),
            );
        }
        for (i, id) in self.user_ids.iter().enumerate() {
            if self.user_ids[..i].contains(id) {
                f.push(
                    format!("user_ids[{i}]"),
                    domain::Invalid::new("duplicate", "this user is listed twice"),
                );
            }
        }
        let approval = approval(&mut f, &self.approval_password);
        f.finish()?;
        let ids = self.user_ids.iter().map(ToString::to_string).collect();
        Ok((ids, approval?))
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ApprovalRequest {
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub approval_password: String,
}

impl ApprovalRequest {
    pub fn into_domain(self) -> Result<PasswordAttempt, AppError> {
        let mut f = Fields::default();
        let approval = approval(&mut f, &self.approval_password);
        f.finish()?;
        approval
    }
}

#[derive(Deserialize, ToSchema)]
pub struct StopRequest {
    /// A current code of the administrator's (or the shared) token.
    #[schema(example = "123456", pattern = "^[0-9]{6,8}$")]
    pub otp: String,
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub approval_password: String,
}

impl StopRequest {
    pub fn into_domain(self) -> Result<(OtpCode, PasswordAttempt), AppError> {
        let mut f = Fields::default();
        let code = otp(&mut f, "otp", &self.otp);
        let approval = approval(&mut f, &self.approval_password);
        f.finish()?;
        Ok((code?, approval?))
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ExchangeRequest {
    /// A current code of the token being replaced.
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

impl ExchangeRequest {
    pub fn into_domain(self) -> Result<(OtpCode, TokenId, OtpCode), AppError> {
        let mut f = Fields::default();
        let current = otp(&mut f, "current_otp", &self.current_otp);
        let id = token_id(&mut f, "new_token_id", &self.new_token_id);
        let new = otp(&mut f, "new_otp", &self.new_otp);
        f.finish()?;
        Ok((current?, id?, new?))
    }
}

/// A person on the OTP management screen.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtpUserView {
    #[schema(format = Uuid)]
    pub user_id: String,
    pub login_id: String,
    pub name: String,
    pub role: Role,
    pub can_transfer: bool,
    /// The person's own token (per_user); null in shared mode for users.
    pub token: Option<TokenView>,
    /// The person can confirm one-off transfers now.
    pub ready: bool,
    pub blocked_reason: Option<Blocked>,
}

/// A user who may transfer but cannot, for want of a token.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRef {
    #[schema(format = Uuid)]
    pub user_id: String,
    pub login_id: String,
    pub name: String,
}

/// The OTP management screen (ワンタイムパスワード認証情報管理).
#[derive(Debug, Serialize, ToSchema)]
pub struct OtpSettingsView {
    pub mode: Option<TokenMode>,
    pub status: OtpStatus,
    /// The administrator's token (per_user) or the shared token (shared).
    pub admin_token: Option<TokenView>,
    pub users: Vec<OtpUserView>,
    /// People with the transfer permission who are blocked for want of a token.
    pub users_without_token: Vec<UserRef>,
}

impl From<OtpSettings> for OtpSettingsView {
    fn from(s: OtpSettings) -> Self {
        let summary = CompanySummary::from(&s.company);
        let mut users = Vec::with_capacity(s.users.len());
        let mut without = Vec::new();
        for u in s.users {
            let (method, blocked_reason) = confirmation(u.confirmation);
            if blocked_reason == Some(Blocked::TokenNotRegistered) {
                without.push(UserRef {
                    user_id: u.user.id.clone(),
                    login_id: u.user.login_id.clone(),
                    name: u.user.name.clone(),
                });
            }
            let view = UserView::from(u.user);
            users.push(OtpUserView {
                user_id: view.id,
                login_id: view.login_id,
                name: view.name,
                can_transfer: view.can_transfer,
                role: view.role,
                token: u.token.as_ref().map(TokenView::from),
                ready: !matches!(method, ConfirmationMethod::Blocked),
                blocked_reason,
            });
        }
        OtpSettingsView {
            mode: summary.otp_mode,
            status: summary.otp_status,
            admin_token: s.admin_token.as_ref().map(TokenView::from),
            users,
            users_without_token: without,
        }
    }
}

/// The caller's token after an exchange.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangedTokenView {
    pub token: TokenView,
}

/// Issues a new software token for any RFC 6238 authenticator app, bound to the
/// caller's company. Its secret is shown only in this answer.
#[utoipa::path(
    operation_id = "issueSoftToken",
    tag = "soft-tokens",
    security(("bearer" = [])),
    responses((status = 201, body = IssuedTokenView))
)]
#[post("/soft-tokens")]
pub(super) async fn issue_soft_token(who: SignedIn) -> Result<HttpResponse, AppError> {
    let issued = who.run(tokens::issue).await?;
    Ok(HttpResponse::Created().json(IssuedTokenView::from(issued)))
}

/// The OTP management screen: mode, status, tokens and who is ready (administrator only).
#[utoipa::path(operation_id = "getOtpSettings", tag = "otp", security(("bearer" = [])), responses((status = 200, body = OtpSettingsView)))]
#[get("/otp")]
pub(super) async fn get_otp_settings(
    who: SignedIn,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let settings = who.run(otp_management::settings_for).await?;
    Ok(web::Json(settings.into()))
}

/// Chooses the token mode (利用形態設定); only while OTP is inactive.
#[utoipa::path(
    operation_id = "setOtpMode",
    tag = "otp",
    security(("bearer" = [])),
    request_body = SetModeRequest,
    responses((status = 200, body = OtpSettingsView))
)]
#[put("/otp/mode")]
pub(super) async fn set_otp_mode(
    who: SignedIn,
    body: Json<SetModeRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let settings = who
        .run(move |db, svc, who| {
            let (mode, approval) = input?;
            otp_management::set_mode(db, svc, who, mode, &approval)
        })
        .await?;
    Ok(web::Json(settings.into()))
}

/// Registers the administrator's token (per_user) or the shared token (shared) with its
/// token ID, a current code and the approval password; OTP becomes active.
#[utoipa::path(
    operation_id = "registerAdminToken",
    tag = "otp",
    security(("bearer" = [])),
    request_body = RegisterTokenRequest,
    responses((status = 200, body = OtpSettingsView))
)]
#[put("/otp/admin-token")]
pub(super) async fn register_admin_token(
    who: SignedIn,
    body: Json<RegisterTokenRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let settings = who
        .run(move |db, svc, who| {
            let (token_id, code, approval) = input?;
            otp_management::register_admin_token(db, svc, who, &token_id, &code, &approval)
        })
        .await?;
    Ok(web::Json(settings.into()))
}

/// Registers a user's own token (per_user mode, after the administrator's token).
#[utoipa::path(
    operation_id = "registerUserToken",
    tag = "otp",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    request_body = RegisterTokenRequest,
    responses((status = 200, body = OtpSettingsView))
)]
#[put("/otp/users/{user_id}/token")]
pub(super) async fn register_user_token(
    who: SignedIn,
    path: web::Path<uuid::Uuid>,
    body: Json<RegisterTokenRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let user_id = path.into_inner().to_string();
    let settings = who
        .run(move |db, svc, who| {
            let (token_id, code, approval) = input?;
            otp_management::register_user_token(db, svc, who, &user_id, &token_id, &code, &approval)
        })
        .await?;
    Ok(web::Json(settings.into()))
}

/// Unregisters users' tokens, all or none. The administrator's own token is a bank
/// procedure (`bank_procedure_required`).
#[utoipa::path(
    operation_id = "unregisterTokens",
    tag = "otp",
    security(("bearer" = [])),
    request_body = UnregisterRequest,
    responses((status = 200, body = OtpSettingsView))
)]
#[post("/otp/unregistrations")]
pub(super) async fn unregister_tokens(
    who: SignedIn,
    body: Json<UnregisterRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let settings = who
        .run(move |db, svc, who| {
            let (user_ids, approval) = input?;
            otp_management::unregister(db, svc, who, &user_ids, &approval)
        })
        .await?;
    Ok(web::Json(settings.into()))
}

/// Frees a user's token locked by wrong codes.
#[utoipa::path(
    operation_id = "unlockUserToken",
    tag = "otp",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    request_body = ApprovalRequest,
    responses((status = 200, body = OtpSettingsView))
)]
#[post("/otp/users/{user_id}/token/unlock")]
pub(super) async fn unlock_user_token(
    who: SignedIn,
    path: web::Path<uuid::Uuid>,
    body: Json<ApprovalRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let user_id = path.into_inner().to_string();
    let settings = who
        .run(move |db, svc, who| {
            let approval = input?;
            otp_management::unlock_user_token(db, svc, who, &user_id, &approval)
        })
        .await?;
    Ok(web::Json(settings.into()))
}

/// Stops one-time passwords (利用停止): every token is unregistered and the fixed
/// transfer passwords apply again.
#[utoipa::path(
    operation_id = "stopOtp",
    tag = "otp",
    security(("bearer" = [])),
    request_body = StopRequest,
    responses((status = 200, body = OtpSettingsView))
)]
#[post("/otp/stop")]
pub(super) async fn stop_otp(
    who: SignedIn,
    body: Json<StopRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let settings = who
        .run(move |db, svc, who| {
            let (code, approval) = input?;
            otp_management::stop(db, svc, who, &code, &approval)
        })
        .await?;
    Ok(web::Json(settings.into()))
}

/// Exchanges one's token for a new one (device change): a code of the old token, the
/// new token's ID and a code of it.
#[utoipa::path(
    operation_id = "exchangeToken",
    tag = "me",
    security(("bearer" = [])),
    request_body = ExchangeRequest,
    responses((status = 200, body = ExchangedTokenView))
)]
#[post("/me/token/exchange")]
pub(super) async fn exchange_token(
    who: SignedIn,
    body: Json<ExchangeRequest>,
) -> Result<web::Json<ExchangedTokenView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let token = who
        .run(move |db, svc, who| {
            let (current, new_id, new_code) = input?;
            otp_management::exchange(db, svc, who, &current, &new_id, &new_code)
        })
        .await?;
    Ok(web::Json(ExchangedTokenView {
        token: TokenView::from(&token),
    }))
}
