//! The signed-in person and the administrator's user administration.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::EmailAddress;
use crate::domain::{self, Company, LoginId, NewPassword, PersonName, TransferConfirmation, User};
use crate::error::{AppError, Fields};
use crate::service::people::{self, NewUser, Profile, UserPatch};

use super::extract::SignedIn;
use super::json::Json;
use super::otp::TokenView;
use super::wire::*;

/// A person of the company.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[schema(format = Uuid)]
    pub id: String,
    pub login_id: String,
    pub name: String,
    pub role: Role,
    /// One-off transfer permission (都度振込権限); always true for the administrator.
    pub can_transfer: bool,
    /// Approver permission (承認権限): approves others' transfers under the company's
    /// approval policy; always true for the administrator.
    pub can_approve: bool,
    pub disabled: bool,
    /// The login is locked after too many wrong passwords.
    pub login_locked: bool,
    /// Where the person is told of security events.
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            role: u.role.into(),
            can_transfer: u.may_transfer(),
            can_approve: u.is_admin() || u.can_approve,
            id: u.id,
            login_id: u.login_id,
            name: u.name,
            disabled: u.disabled,
            email: u.email,
            login_locked: u.login_lock.is_some(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CreateUserRequest {
    #[schema(
        example = "sato.keiri",
        min_length = 4,
        max_length = 32,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._@-]{3,31}$"
    )]
    pub login_id: String,
    #[schema(example = "佐藤 花子", min_length = 1, max_length = 64)]
    pub name: String,
    /// Login password: 10–128 characters with letters and digits.
    #[schema(min_length = 10, max_length = 128, format = Password)]
    pub password: String,
    /// Transfer confirmation password (都度振込送信確認パスワード), used while OTP is inactive.
    #[schema(min_length = 10, max_length = 128, format = Password)]
    pub transfer_password: String,
    pub can_transfer: bool,
    /// The approver permission (default false).
    #[serde(default)]
    pub can_approve: bool,
}

impl CreateUserRequest {
    pub fn into_domain(self) -> Result<NewUser, AppError> {
        let mut f = Fields::default();
        let login_id = f.check("login_id", LoginId::parse(&self.login_id));
        let id = login_id.as_ref().ok();
        let name = f.check("name", PersonName::parse(&self.name));
        let password = f.check("password", NewPassword::parse(&self.password, id));
        let transfer_password = f.check(
            "transfer_password",
            NewPassword::parse(&self.transfer_password, id),
        );
        if transfer_password.is_ok() && self.password == self.transfer_password {
            f.push(
                "transfer_password",
                domain::Invalid::new("same_as_password", "must differ from the login password"),
            );
        }
        f.finish()?;
        Ok(NewUser {
            login_id: login_id?,
            name: name?,
            password: password?,
            transfer_password: transfer_password?,
            can_transfer: self.can_transfer,
            can_approve: self.can_approve,
        })
    }
}

/// Only the fields sent are changed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
    pub can_transfer: Option<bool>,
    pub can_approve: Option<bool>,
    /// A disabled user cannot sign in; their sessions end at once.
    pub disabled: Option<bool>,
    /// Where the user is told of security events on their login and token; an empty
    /// string removes it.
    #[schema(example = "suzuki@yamada-shoji.example.jp", max_length = 254)]
    pub email: Option<String>,
}

impl UpdateUserRequest {
    pub fn into_domain(self) -> Result<UserPatch, AppError> {
        let mut f = Fields::default();
        let name = self
            .name
            .as_deref()
            .map(|n| f.check("name", PersonName::parse(n)));
        let email = self.email.as_deref().map(|e| match e.trim() {
            "" => Ok(None),
            e => f.check("email", EmailAddress::parse(e)).map(Some),
        });
        f.finish()?;
        Ok(UserPatch {
            name: name.transpose()?,
            can_transfer: self.can_transfer,
            can_approve: self.can_approve,
            disabled: self.disabled,
            email: email.transpose()?,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanySummary {
    #[schema(format = Uuid)]
    pub id: String,
    /// A company, or a personal contract (whose name is the customer's).
    pub kind: ContractKind,
    pub name: String,
    /// Not set until the administrator chooses a mode.
    pub otp_mode: Option<TokenMode>,
    pub otp_status: OtpStatus,
}

impl From<&Company> for CompanySummary {
    fn from(c: &Company) -> Self {
        CompanySummary {
            id: c.id.clone(),
            kind: c.kind.into(),
            name: c.name.clone(),
            otp_mode: c.otp_mode.map(Into::into),
            otp_status: c.otp_status.into(),
        }
    }
}

/// The signed-in person, and what their next one-off transfer needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    #[schema(format = Uuid)]
    pub id: String,
    pub login_id: String,
    pub name: String,
    pub role: Role,
    pub can_transfer: bool,
    pub can_approve: bool,
    pub company: CompanySummary,
    /// The person's own registered token, if any.
    pub token: Option<TokenView>,
    pub transfer_confirmation: ConfirmationMethod,
    /// Set when `transfer_confirmation` is `blocked`.
    pub blocked_reason: Option<Blocked>,
    /// Where the bank asks this contract for codes: at sign-in, for transactions.
    pub codes: CodesAsked,
}

impl From<Profile> for MeView {
    fn from(p: Profile) -> Self {
        let (transfer_confirmation, blocked_reason) = confirmation(p.confirmation);
        let user = UserView::from(p.user);
        MeView {
            id: user.id,
            login_id: user.login_id,
            name: user.name,
            can_transfer: user.can_transfer,
            can_approve: user.can_approve,
            role: user.role,
            company: CompanySummary::from(&p.company),
            token: p.token.as_ref().map(TokenView::from),
            transfer_confirmation,
            blocked_reason,
            codes: p.codes.into(),
        }
    }
}

pub(super) fn confirmation(c: TransferConfirmation) -> (ConfirmationMethod, Option<Blocked>) {
    match c {
        TransferConfirmation::Otp => (ConfirmationMethod::Otp, None),
        TransferConfirmation::TransferPassword => (ConfirmationMethod::TransferPassword, None),
        TransferConfirmation::Blocked(reason) => (ConfirmationMethod::Blocked, Some(reason.into())),
    }
}

/// The signed-in person: role, company, token and how a transfer is confirmed.
#[utoipa::path(operation_id = "getMe", tag = "me", security(("bearer" = [])), responses((status = 200, body = MeView)))]
#[get("/me")]
pub(super) async fn get_me(who: SignedIn) -> Result<web::Json<MeView>, AppError> {
    let profile = who.run(people::profile).await?;
    Ok(web::Json(profile.into()))
}

/// The company's people (administrator only).
#[utoipa::path(operation_id = "listUsers", tag = "users", security(("bearer" = [])), responses((status = 200, body = Vec<UserView>)))]
#[get("/users")]
pub(super) async fn list_users(who: SignedIn) -> Result<web::Json<Vec<UserView>>, AppError> {
    let rows = who.run(people::list).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
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
pub(super) async fn create_user(
    who: SignedIn,
    body: Json<CreateUserRequest>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let row = who
        .run(move |db, svc, who| {
            let new = input?;
            people::create(db, svc, who, new)
        })
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(row)))
}

/// Changes a user's name, transfer permission or disabled state (administrator only).
#[utoipa::path(
    operation_id = "updateUser",
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    request_body = UpdateUserRequest,
    responses((status = 200, body = UserView))
)]
#[patch("/users/{user_id}")]
pub(super) async fn update_user(
    who: SignedIn,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateUserRequest>,
) -> Result<web::Json<UserView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let id = path.into_inner().to_string();
    let row = who
        .run(move |db, svc, who| {
            let patch = input?;
            people::update(db, svc, who, &id, patch)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Frees a user's login and transfer password, locked by wrong entries (administrator only).
#[utoipa::path(
    operation_id = "unlockUser",
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses((status = 200, body = UserView))
)]
#[post("/users/{user_id}/unlock")]
pub(super) async fn unlock_user(
    who: SignedIn,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<UserView>, AppError> {
    let id = path.into_inner().to_string();
    let row = who
        .run(move |db, svc, who| people::unlock(db, svc, who, &id))
        .await?;
    Ok(web::Json(row.into()))
}
