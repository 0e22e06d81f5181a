//! Every endpoint, registered through utoipa-actix-web so the document and the router
//! are one list.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, patch, post, put, web};
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::AppError;
use crate::service::audit::{Event, Outcome};
use crate::service::{audit, auth, bank, otp_admin, tokens, transfers, users};

use super::dto::*;
use super::extract::{BankOperator, SignedIn, client_addr};
use super::json::Json;
use super::{AppState, blocking};

type State = web::Data<AppState>;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health)
        .service(ready)
        .service(openapi_json)
        .service(metrics)
        .service(
            scope("/api/v1")
                .service(login)
                .service(logout)
                .service(get_me)
                .service(list_users)
                .service(create_user)
                .service(update_user)
                .service(unlock_user)
                .service(bank_login)
                .service(bank_logout)
                .service(create_company)
                .service(list_companies)
                .service(get_company)
                .service(unlock_admin)
                .service(issue_soft_token)
                .service(get_otp_settings)
                .service(set_otp_mode)
                .service(register_admin_token)
                .service(register_user_token)
                .service(unregister_tokens)
                .service(unlock_user_token)
                .service(stop_otp)
                .service(exchange_token)
                .service(reset_admin_token)
                .service(unlock_admin_token)
                .service(unlock_approval)
                .service(create_transfer)
                .service(list_transfers)
                .service(get_transfer)
                .service(confirm_transfer)
                .service(cancel_transfer)
                .service(list_audit_events)
                .service(list_bank_audit_events)
                .service(import_tokens),
        );
}

// ---------------------------------------------------------------- operations

/// The process is up.
#[utoipa::path(operation_id = "health", tag = "operations", responses((status = 200, body = HealthView)))]
#[get("/health")]
async fn health() -> web::Json<HealthView> {
    web::Json(HealthView {
        status: "ok".into(),
    })
}

/// The database answers.
#[utoipa::path(
    operation_id = "ready",
    tag = "operations",
    responses((status = 200, body = HealthView))
)]
#[get("/ready")]
async fn ready(state: State) -> Result<web::Json<HealthView>, AppError> {
    use diesel::connection::SimpleConnection;
    blocking(&state, |conn, _| Ok(conn.batch_execute("SELECT 1")?)).await?;
    Ok(web::Json(HealthView {
        status: "ready".into(),
    }))
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    operation_id = "getOpenApi",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
async fn openapi_json() -> HttpResponse {
    let doc = serde_json::to_string(super::openapi::document()).unwrap_or_default();
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc)
}

// ---------------------------------------------------------------- sessions

/// Signs a company person in.
#[utoipa::path(
    operation_id = "login",
    tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse))
)]
#[post("/auth/login")]
async fn login(
    state: State,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<web::Json<LoginResponse>, AppError> {
    let (login_id, password) = body.into_inner()?.into_domain()?;
    let addr = client_addr(&req);
    let session = blocking(&state, move |conn, svc| {
        auth::login_person(conn, svc, &login_id, &password, addr)
    })
    .await?;
    Ok(web::Json(LoginResponse {
        access_token: session.access_token,
        token_type: "Bearer".into(),
        expires_in: session.expires_in,
        idle_timeout: session.idle_timeout,
        user: session.subject.try_into()?,
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
async fn logout(state: State, who: SignedIn) -> Result<HttpResponse, AppError> {
    let who = who.0;
    blocking(&state, move |conn, svc| {
        let event = Event::by_person("logout", Outcome::Success, &who);
        auth::logout(conn, svc, &who.session_id, event)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in person: role, company, token and how a transfer is confirmed.
#[utoipa::path(operation_id = "getMe", tag = "me", security(("bearer" = [])), responses((status = 200, body = MeView)))]
#[get("/me")]
async fn get_me(state: State, who: SignedIn) -> Result<web::Json<MeView>, AppError> {
    let profile = blocking(&state, move |conn, _| users::profile(conn, &who.0)).await?;
    Ok(web::Json(profile.try_into()?))
}

// ---------------------------------------------------------------- users

/// The company's people (administrator only).
#[utoipa::path(operation_id = "listUsers", tag = "users", security(("bearer" = [])), responses((status = 200, body = Vec<UserView>)))]
#[get("/users")]
async fn list_users(state: State, who: SignedIn) -> Result<web::Json<Vec<UserView>>, AppError> {
    let rows = blocking(&state, move |conn, _| users::list(conn, &who.0)).await?;
    Ok(web::Json(user_views(rows)?))
}

/// Adds a user to the company (administrator only).
#[utoipa::path(
    operation_id = "createUser",
    tag = "users",
    security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses((status = 201, body = UserView))
)]
#[post("/users")]
async fn create_user(
    state: State,
    who: SignedIn,
    body: Json<CreateUserRequest>,
) -> Result<HttpResponse, AppError> {
    let new = body.into_inner()?.into_domain()?;
    let row = blocking(&state, move |conn, svc| {
        users::create(conn, svc, &who.0, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(UserView::try_from(row)?))
}

/// Changes a user's name, transfer permission or disabled state (administrator only).
#[utoipa::path(
    operation_id = "updateUser",
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The user's id")),
    request_body = UpdateUserRequest,
    responses((status = 200, body = UserView))
)]
#[patch("/users/{user_id}")]
async fn update_user(
    state: State,
    who: SignedIn,
    path: web::Path<String>,
    body: Json<UpdateUserRequest>,
) -> Result<web::Json<UserView>, AppError> {
    let patch = body.into_inner()?.into_domain()?;
    let id = path.into_inner();
    let row = blocking(&state, move |conn, svc| {
        users::update(conn, svc, &who.0, &id, patch)
    })
    .await?;
    Ok(web::Json(row.try_into()?))
}

/// Frees a user's login and transfer password, locked by wrong entries (administrator only).
#[utoipa::path(
    operation_id = "unlockUser",
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, body = UserView))
)]
#[post("/users/{user_id}/unlock")]
async fn unlock_user(
    state: State,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<web::Json<UserView>, AppError> {
    let id = path.into_inner();
    let row = blocking(&state, move |conn, svc| {
        users::unlock(conn, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(row.try_into()?))
}

// ---------------------------------------------------------------- bank

/// Signs a bank operator in.
#[utoipa::path(
    operation_id = "bankLogin",
    tag = "bank",
    request_body = LoginRequest,
    responses((status = 200, body = OperatorLoginResponse))
)]
#[post("/bank/auth/login")]
async fn bank_login(
    state: State,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<web::Json<OperatorLoginResponse>, AppError> {
    let (login_id, password) = body.into_inner()?.into_domain()?;
    let addr = client_addr(&req);
    let session = blocking(&state, move |conn, svc| {
        auth::login_operator(conn, svc, &login_id, &password, addr)
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
async fn bank_logout(state: State, who: BankOperator) -> Result<HttpResponse, AppError> {
    let who = who.0;
    blocking(&state, move |conn, svc| {
        let event = Event::by_operator("operator_logout", Outcome::Success, &who);
        auth::logout(conn, svc, &who.session_id, event)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Opens a company contract with its administrator and debit accounts.
#[utoipa::path(
    operation_id = "createCompany",
    tag = "bank",
    security(("bearer" = [])),
    request_body = CreateCompanyRequest,
    responses((status = 201, body = CompanyDetail))
)]
#[post("/bank/companies")]
async fn create_company(
    state: State,
    who: BankOperator,
    body: Json<CreateCompanyRequest>,
) -> Result<HttpResponse, AppError> {
    let new = body.into_inner()?.into_domain()?;
    let view = blocking(&state, move |conn, svc| {
        bank::create_company(conn, svc, &who.0, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(CompanyDetail::try_from(view)?))
}

/// Every company of the bank.
#[utoipa::path(operation_id = "listCompanies", tag = "bank", security(("bearer" = [])), responses((status = 200, body = CompanyList)))]
#[get("/bank/companies")]
async fn list_companies(
    state: State,
    _who: BankOperator,
) -> Result<web::Json<CompanyList>, AppError> {
    let views = blocking(&state, |conn, _| bank::list_companies(conn)).await?;
    let items = views
        .into_iter()
        .map(CompanyDetail::try_from)
        .collect::<Result<_, _>>()?;
    Ok(web::Json(CompanyList { items }))
}

/// One company with its OTP state.
#[utoipa::path(
    operation_id = "getCompany",
    tag = "bank",
    security(("bearer" = [])),
    params(("company_id" = String, Path, description = "The company's id")),
    responses((status = 200, body = CompanyDetail))
)]
#[get("/bank/companies/{company_id}")]
async fn get_company(
    state: State,
    _who: BankOperator,
    path: web::Path<String>,
) -> Result<web::Json<CompanyDetail>, AppError> {
    let id = path.into_inner();
    let view = blocking(&state, move |conn, _| bank::get_company(conn, &id)).await?;
    Ok(web::Json(view.try_into()?))
}

/// Frees the administrator's login and transfer password, locked by wrong entries.
#[utoipa::path(
    operation_id = "unlockCompanyAdmin",
    tag = "bank",
    security(("bearer" = [])),
    params(("company_id" = String, Path, description = "The company's id")),
    responses((status = 200, body = CompanyDetail))
)]
#[post("/bank/companies/{company_id}/admin/unlock")]
async fn unlock_admin(
    state: State,
    who: BankOperator,
    path: web::Path<String>,
) -> Result<web::Json<CompanyDetail>, AppError> {
    let id = path.into_inner();
    let view = blocking(&state, move |conn, svc| {
        bank::unlock_admin(conn, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(view.try_into()?))
}

// ---------------------------------------------------------------- tokens and OTP management

/// Issues a new software token for any RFC 6238 authenticator app, bound to the
/// caller's company. Its secret is shown only in this answer.
#[utoipa::path(
    operation_id = "issueSoftToken",
    tag = "soft-tokens",
    security(("bearer" = [])),
    responses((status = 201, body = IssuedTokenView))
)]
#[post("/soft-tokens")]
async fn issue_soft_token(state: State, who: SignedIn) -> Result<HttpResponse, AppError> {
    let issued = blocking(&state, move |conn, svc| tokens::issue(conn, svc, &who.0)).await?;
    Ok(HttpResponse::Created().json(IssuedTokenView::from(issued)))
}

/// The OTP management screen: mode, status, tokens and who is ready (administrator only).
#[utoipa::path(operation_id = "getOtpSettings", tag = "otp", security(("bearer" = [])), responses((status = 200, body = OtpSettingsView)))]
#[get("/otp")]
async fn get_otp_settings(
    state: State,
    who: SignedIn,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let settings = blocking(&state, move |conn, _| otp_admin::settings_for(conn, &who.0)).await?;
    Ok(web::Json(settings.try_into()?))
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
async fn set_otp_mode(
    state: State,
    who: SignedIn,
    body: Json<SetModeRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let (mode, approval) = body.into_inner()?.into_domain()?;
    let settings = blocking(&state, move |conn, svc| {
        otp_admin::set_mode(conn, svc, &who.0, mode, &approval)
    })
    .await?;
    Ok(web::Json(settings.try_into()?))
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
async fn register_admin_token(
    state: State,
    who: SignedIn,
    body: Json<RegisterTokenRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let (token_id, code, approval) = body.into_inner()?.into_domain()?;
    let settings = blocking(&state, move |conn, svc| {
        otp_admin::register_admin_token(conn, svc, &who.0, &token_id, &code, &approval)
    })
    .await?;
    Ok(web::Json(settings.try_into()?))
}

/// Registers a user's own token (per_user mode, after the administrator's token).
#[utoipa::path(
    operation_id = "registerUserToken",
    tag = "otp",
    security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The user's id")),
    request_body = RegisterTokenRequest,
    responses((status = 200, body = OtpSettingsView))
)]
#[put("/otp/users/{user_id}/token")]
async fn register_user_token(
    state: State,
    who: SignedIn,
    path: web::Path<String>,
    body: Json<RegisterTokenRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let (token_id, code, approval) = body.into_inner()?.into_domain()?;
    let user_id = path.into_inner();
    let settings = blocking(&state, move |conn, svc| {
        otp_admin::register_user_token(conn, svc, &who.0, &user_id, &token_id, &code, &approval)
    })
    .await?;
    Ok(web::Json(settings.try_into()?))
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
async fn unregister_tokens(
    state: State,
    who: SignedIn,
    body: Json<UnregisterRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let (user_ids, approval) = body.into_inner()?.into_domain()?;
    let settings = blocking(&state, move |conn, svc| {
        otp_admin::unregister(conn, svc, &who.0, &user_ids, &approval)
    })
    .await?;
    Ok(web::Json(settings.try_into()?))
}

/// Frees a user's token locked by wrong codes.
#[utoipa::path(
    operation_id = "unlockUserToken",
    tag = "otp",
    security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The user's id")),
    request_body = ApprovalRequest,
    responses((status = 200, body = OtpSettingsView))
)]
#[post("/otp/users/{user_id}/token/unlock")]
async fn unlock_user_token(
    state: State,
    who: SignedIn,
    path: web::Path<String>,
    body: Json<ApprovalRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let approval = body.into_inner()?.into_domain()?;
    let user_id = path.into_inner();
    let settings = blocking(&state, move |conn, svc| {
        otp_admin::unlock_user_token(conn, svc, &who.0, &user_id, &approval)
    })
    .await?;
    Ok(web::Json(settings.try_into()?))
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
async fn stop_otp(
    state: State,
    who: SignedIn,
    body: Json<StopRequest>,
) -> Result<web::Json<OtpSettingsView>, AppError> {
    let (code, approval) = body.into_inner()?.into_domain()?;
    let settings = blocking(&state, move |conn, svc| {
        otp_admin::stop(conn, svc, &who.0, &code, &approval)
    })
    .await?;
    Ok(web::Json(settings.try_into()?))
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
async fn exchange_token(
    state: State,
    who: SignedIn,
    body: Json<ExchangeRequest>,
) -> Result<web::Json<ExchangedTokenView>, AppError> {
    let (current, new_id, new_code) = body.into_inner()?.into_domain()?;
    let token = blocking(&state, move |conn, svc| {
        otp_admin::exchange(conn, svc, &who.0, &current, &new_id, &new_code)
    })
    .await?;
    Ok(web::Json(ExchangedTokenView {
        token: TokenView::from(&token),
    }))
}

/// Bank procedure: removes the administrator's (or the shared) token. The company stays
/// active; the administrator registers a new token.
#[utoipa::path(
    operation_id = "resetAdminToken",
    tag = "bank",
    security(("bearer" = [])),
    params(("company_id" = String, Path, description = "The company's id")),
    request_body = BankResetRequest,
    responses((status = 200, body = CompanyDetail))
)]
#[post("/bank/companies/{company_id}/admin-token/reset")]
async fn reset_admin_token(
    state: State,
    who: BankOperator,
    path: web::Path<String>,
    body: Json<BankResetRequest>,
) -> Result<web::Json<CompanyDetail>, AppError> {
    let reason = body.into_inner()?.into_domain()?;
    let id = path.into_inner();
    let view = blocking(&state, move |conn, svc| {
        otp_admin::bank_reset_admin_token(conn, svc, &who.0, &id, &reason)
    })
    .await?;
    Ok(web::Json(view.try_into()?))
}

/// Bank procedure: frees the administrator's (or the shared) token locked by wrong codes.
#[utoipa::path(
    operation_id = "unlockAdminToken",
    tag = "bank",
    security(("bearer" = [])),
    params(("company_id" = String, Path, description = "The company's id")),
    responses((status = 200, body = CompanyDetail))
)]
#[post("/bank/companies/{company_id}/admin-token/unlock")]
async fn unlock_admin_token(
    state: State,
    who: BankOperator,
    path: web::Path<String>,
) -> Result<web::Json<CompanyDetail>, AppError> {
    let id = path.into_inner();
    let view = blocking(&state, move |conn, svc| {
        otp_admin::bank_unlock_admin_token(conn, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(view.try_into()?))
}

/// Bank procedure: frees the administrator's approval password locked by wrong entries.
#[utoipa::path(
    operation_id = "unlockApproval",
    tag = "bank",
    security(("bearer" = [])),
    params(("company_id" = String, Path, description = "The company's id")),
    responses((status = 200, body = CompanyDetail))
)]
#[post("/bank/companies/{company_id}/approval/unlock")]
async fn unlock_approval(
    state: State,
    who: BankOperator,
    path: web::Path<String>,
) -> Result<web::Json<CompanyDetail>, AppError> {
    let id = path.into_inner();
    let view = blocking(&state, move |conn, svc| {
        otp_admin::bank_unlock_approval(conn, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(view.try_into()?))
}

// ---------------------------------------------------------------- transfers

/// Creates a one-off transfer waiting for its creator's confirmation. A retry with the
/// same `Idempotency-Key` and body answers the first result.
#[utoipa::path(
    operation_id = "createTransfer",
    tag = "transfers",
    security(("bearer" = [])),
params((
        "Idempotency-Key" = String,
        Header,
        description = "1 to 64 visible ASCII characters, new for each new transfer; a retry repeats it",
        min_length = 1,
        max_length = 64,
        pattern = "^[!-~]{1,64}$"
    )),
    request_body = CreateTransferRequest,
    responses((status = 201, body = TransferView))
)]
#[post("/transfers")]
async fn create_transfer(
    state: State,
    who: SignedIn,
    req: HttpRequest,
    body: Json<CreateTransferRequest>,
) -> Result<HttpResponse, AppError> {
    let key = req
        .headers()
        .get("Idempotency-Key")
        .ok_or_else(|| {
            AppError::malformed(
                "Idempotency-Key",
                "required",
                "send an Idempotency-Key header",
            )
        })?
        .to_str()
        .map_err(|_| AppError::malformed("Idempotency-Key", "format", "must be visible ASCII"))?;
    let key = crate::domain::transfer::idempotency_key(key)
        .map_err(|e| AppError::malformed("Idempotency-Key", e.code, e.message))?;
    let body = body.into_inner()?;
    let hash = transfers::request_hash(
        &serde_json::to_string(&body).map_err(|e| AppError::Internal(e.to_string()))?,
    );
    let person = who.0.clone();
    let ctx = blocking(&state, move |conn, svc| {
        transfers::context(conn, svc, &person)
    })
    .await?;
    let draft = body.into_domain(&ctx)?;
    let (view, _) = blocking(&state, move |conn, svc| {
        transfers::create(conn, svc, &who.0, &key, &hash, draft)
    })
    .await?;
    Ok(HttpResponse::Created().json(TransferView::try_from(view)?))
}

/// Transfers: the caller's own, or the company's for the administrator; newest first.
#[utoipa::path(
    operation_id = "listTransfers",
    tag = "transfers",
    security(("bearer" = [])),
    params(TransferQuery),
    responses((status = 200, body = TransferList))
)]
#[get("/transfers")]
async fn list_transfers(
    state: State,
    who: SignedIn,
    query: web::Query<TransferQuery>,
) -> Result<web::Json<TransferList>, AppError> {
    let q = query.into_inner();
    let limit = q.page_size()?;
    let status = q.status.map(Into::into);
    let (items, next_cursor) = blocking(&state, move |conn, svc| {
        transfers::list(conn, svc, &who.0, status, limit, q.cursor.as_deref())
    })
    .await?;
    let items = items
        .into_iter()
        .map(TransferView::try_from)
        .collect::<Result<_, _>>()?;
    Ok(web::Json(TransferList { items, next_cursor }))
}

/// One transfer.
#[utoipa::path(
    operation_id = "getTransfer",
    tag = "transfers",
    security(("bearer" = [])),
    params(("transfer_id" = String, Path, description = "The transfer's id")),
    responses((status = 200, body = TransferView))
)]
#[get("/transfers/{transfer_id}")]
async fn get_transfer(
    state: State,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<web::Json<TransferView>, AppError> {
    let id = path.into_inner();
    let view = blocking(&state, move |conn, svc| {
        transfers::get(conn, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(view.try_into()?))
}

/// Confirms a transfer by its creator: with a current code (OTP active) or the transfer
/// password (OTP inactive). A transfer is confirmed at most once.
#[utoipa::path(
    operation_id = "confirmTransfer",
    tag = "transfers",
    security(("bearer" = [])),
    params(("transfer_id" = String, Path, description = "The transfer's id")),
    request_body = ConfirmTransferBody,
    responses((status = 200, body = TransferView))
)]
#[post("/transfers/{transfer_id}/confirm")]
async fn confirm_transfer(
    state: State,
    who: SignedIn,
    path: web::Path<String>,
    body: Json<ConfirmTransferRequest>,
) -> Result<web::Json<TransferView>, AppError> {
    let proof = body.into_inner()?.into_domain()?;
    let id = path.into_inner();
    let view = blocking(&state, move |conn, svc| {
        transfers::confirm(conn, svc, &who.0, &id, proof)
    })
    .await?;
    Ok(web::Json(view.try_into()?))
}

/// Cancels a pending transfer (its creator or the administrator).
#[utoipa::path(
    operation_id = "cancelTransfer",
    tag = "transfers",
    security(("bearer" = [])),
    params(("transfer_id" = String, Path, description = "The transfer's id")),
    responses((status = 200, body = TransferView))
)]
#[post("/transfers/{transfer_id}/cancel")]
async fn cancel_transfer(
    state: State,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<web::Json<TransferView>, AppError> {
    let id = path.into_inner();
    let view = blocking(&state, move |conn, svc| {
        transfers::cancel(conn, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(view.try_into()?))
}

// ---------------------------------------------------------------- audit, import, metrics

/// The company's audit log, oldest first (administrator only).
#[utoipa::path(
    operation_id = "listAuditEvents",
    tag = "me",
    security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditList))
)]
#[get("/audit-events")]
async fn list_audit_events(
    state: State,
    who: SignedIn,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditList>, AppError> {
    let (after, limit) = query.page()?;
    let company = query.company_id.clone();
    let (rows, next_cursor) = blocking(&state, move |conn, _| {
        audit::company_log(conn, &who.0, company.as_deref(), after, limit)
    })
    .await?;
    Ok(web::Json(AuditList {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// The bank's audit log, oldest first, optionally of one company.
#[utoipa::path(
    operation_id = "listBankAuditEvents",
    tag = "bank",
    security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditList))
)]
#[get("/bank/audit-events")]
async fn list_bank_audit_events(
    state: State,
    _who: BankOperator,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditList>, AppError> {
    let (after, limit) = query.page()?;
    let company = query.company_id.clone();
    let (rows, next_cursor) = blocking(&state, move |conn, _| {
        audit::list(conn, company.as_deref(), after, limit)
    })
    .await?;
    Ok(web::Json(AuditList {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Imports vendor software tokens from an RFC 6030 (PSKC) file with plain-value TOTP
/// seeds, all or none. They keep their serials and await registration: by the company
/// named in `company_id`, or else by the company that registers one first.
#[utoipa::path(
    operation_id = "importTokens",
    tag = "bank",
    security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "application/pskc+xml", description = "A PSKC KeyContainer"),
    responses((status = 201, body = ImportResult))
)]
#[post("/bank/tokens/import")]
async fn import_tokens(
    state: State,
    who: BankOperator,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let xml_type = matches!(req.mime_type(), Ok(Some(m)) if m.subtype() == "xml" || m.suffix().is_some_and(|s| s == "xml"));
    if !xml_type {
        return Err(AppError::malformed(
            "Content-Type",
            "unsupported_media_type",
            "send the file as application/pskc+xml",
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::malformed("body", "encoding", "the file must be UTF-8"))?;
    let keys = crate::otp::pskc::parse(text)
        .map_err(|e| AppError::malformed("body", "pskc", e.to_string()))?;
    let ids = blocking(&state, move |conn, svc| {
        tokens::import(conn, svc, &who.0, keys, query.company_id.as_deref())
    })
    .await?;
    Ok(HttpResponse::Created().json(ImportResult {
        imported: ids.len(),
        token_ids: ids.iter().map(|id| id.as_str().to_owned()).collect(),
    }))
}

/// Prometheus metrics of this instance.
#[utoipa::path(
    operation_id = "metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
async fn metrics(state: State, metrics: web::Data<crate::http::metrics::Metrics>) -> HttpResponse {
    let text = metrics.render(state.pool.state(), state.pool.max_size());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}
