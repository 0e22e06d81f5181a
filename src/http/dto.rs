//! Wire shapes, with their OpenAPI schemas. Requests are plain strings and numbers that
//! `into_domain` parses into domain types, collecting every field error at once.
//! Requests that carry a password or a code have no `Debug`, so none can reach a log.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::models::{AccountRow, CompanyRow, OperatorRow, SoftTokenRow, UserRow};
use crate::domain::otp_code::OtpCode;
use crate::domain::token_id::{TokenId, TokenIdError};
use crate::domain::{
    self, BlockedReason, CompanyName, DebitAccount, LoginId, NewPassword, PasswordAttempt,
    PersonName, TransferConfirmation, TransferLimit,
};
use crate::error::{AppError, Fields};
use crate::service::bank::{CompanyView, NewAdmin, NewCompany};
use crate::service::users::{NewUser, Profile, UserPatch};

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident from $domain:ty { $($variant:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl From<$domain> for $name {
            fn from(value: $domain) -> Self {
                match value { $(<$domain>::$variant => $name::$variant),+ }
            }
        }

        impl From<$name> for $domain {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => <$domain>::$variant),+ }
            }
        }
    };
}

wire_enum!(
    /// `admin` (管理者) or `user` (利用者).
    Role from domain::Role { Admin, User }
);
wire_enum!(
    /// `per_user`: everyone has their own token; `shared`: the company shares one.
    TokenMode from domain::TokenMode { PerUser, Shared }
);
wire_enum!(
    /// `active` once the administrator's (or the shared) token is registered.
    OtpStatus from domain::OtpStatus { Inactive, Active }
);
wire_enum!(
    /// Why the person cannot confirm a one-off transfer now.
    Blocked from BlockedReason { NoTransferPermission, TokenNotRegistered, TokenLocked, TransferPasswordLocked }
);

/// How the person's next one-off transfer is confirmed.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationMethod {
    Otp,
    TransferPassword,
    Blocked,
}

fn parse_stored<T: std::str::FromStr<Err = String>>(value: &str) -> Result<T, AppError> {
    value.parse().map_err(AppError::Internal)
}

// ---------------------------------------------------------------- sessions

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

/// At sign-in any ID of sane length is looked up; the format rules are for new IDs.
fn bounded_login_id(value: &str) -> Result<String, domain::Invalid> {
    let v = value.trim();
    if v.is_empty() {
        return Err(domain::Invalid::new("required", "must not be empty"));
    }
    if v.chars().count() > 64 {
        return Err(domain::Invalid::new(
            "too_long",
            "must be at most 64 characters",
        ));
    }
    Ok(v.to_owned())
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

#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorView {
    pub id: String,
    pub login_id: String,
    pub name: String,
}

impl From<OperatorRow> for OperatorView {
    fn from(r: OperatorRow) -> Self {
        OperatorView {
            id: r.id,
            login_id: r.login_id,
            name: r.name,
        }
    }
}

// ---------------------------------------------------------------- people

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
    pub disabled: bool,
    /// The login is locked after too many wrong passwords.
    pub login_locked: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for UserView {
    type Error = AppError;
    fn try_from(r: UserRow) -> Result<Self, AppError> {
        Ok(UserView {
            role: r.role().into(),
            can_transfer: r.may_transfer(),
            id: r.id,
            login_id: r.login_id,
            name: r.name,
            disabled: r.disabled,
            login_locked: r.login_locked_at.is_some(),
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        })
    }
}

pub fn user_views(rows: Vec<UserRow>) -> Result<Vec<UserView>, AppError> {
    rows.into_iter().map(UserView::try_from).collect()
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
        })
    }
}

/// Only the fields sent are changed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
    pub can_transfer: Option<bool>,
    /// A disabled user cannot sign in; their sessions end at once.
    pub disabled: Option<bool>,
}

impl UpdateUserRequest {
    pub fn into_domain(self) -> Result<UserPatch, AppError> {
        let mut f = Fields::default();
        let name = self
            .name
            .as_deref()
            .map(|n| f.check("name", PersonName::parse(n)));
        f.finish()?;
        Ok(UserPatch {
            name: name.transpose()?,
            can_transfer: self.can_transfer,
            disabled: self.disabled,
        })
    }
}

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
    Locked,
}

impl From<&SoftTokenRow> for TokenView {
    fn from(t: &SoftTokenRow) -> Self {
        let masked = domain::token_id::TokenId::parse(&t.token_id)
            .map(|id| id.masked())
            .unwrap_or_else(|_| "****".to_owned());
        TokenView {
            token_id_masked: masked,
            status: if t.locked_at.is_some() {
                TokenStatus::Locked
            } else {
                TokenStatus::Active
            },
            registered_at: t.registered_at.map(utc),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanySummary {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// Not set until the administrator chooses a mode.
    pub otp_mode: Option<TokenMode>,
    pub otp_status: OtpStatus,
}

impl From<&CompanyRow> for CompanySummary {
    fn from(c: &CompanyRow) -> Self {
        CompanySummary {
            id: c.id.clone(),
            name: c.name.clone(),
            otp_mode: c.mode().map(Into::into),
            otp_status: c.status().into(),
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
    pub company: CompanySummary,
    /// The person's own registered token, if any.
    pub token: Option<TokenView>,
    pub transfer_confirmation: ConfirmationMethod,
    /// Set when `transfer_confirmation` is `blocked`.
    pub blocked_reason: Option<Blocked>,
}

impl TryFrom<Profile> for MeView {
    type Error = AppError;
    fn try_from(p: Profile) -> Result<Self, AppError> {
        let (transfer_confirmation, blocked_reason) = confirmation(p.confirmation);
        let user = UserView::try_from(p.user)?;
        Ok(MeView {
            id: user.id,
            login_id: user.login_id,
            name: user.name,
            can_transfer: user.can_transfer,
            role: user.role,
            company: CompanySummary::from(&p.company),
            token: p.token.as_ref().map(TokenView::from),
            transfer_confirmation,
            blocked_reason,
        })
    }
}

pub fn confirmation(c: TransferConfirmation) -> (ConfirmationMethod, Option<Blocked>) {
    match c {
        TransferConfirmation::Otp => (ConfirmationMethod::Otp, None),
        TransferConfirmation::TransferPassword => (ConfirmationMethod::TransferPassword, None),
        TransferConfirmation::Blocked(reason) => (ConfirmationMethod::Blocked, Some(reason.into())),
    }
}

// ---------------------------------------------------------------- bank

#[derive(Deserialize, ToSchema)]
pub struct NewAdminRequest {
    #[schema(
        example = "yamada.admin",
        min_length = 4,
        max_length = 32,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._@-]{3,31}$"
    )]
    pub login_id: String,
    #[schema(example = "山田 太郎", min_length = 1, max_length = 64)]
    pub name: String,
    #[schema(min_length = 10, max_length = 128, format = Password)]
    pub password: String,
    /// Approval password (承認用パスワード): approves token administration.
    #[schema(min_length = 10, max_length = 128, format = Password)]
    pub approval_password: String,
    #[schema(min_length = 10, max_length = 128, format = Password)]
    pub transfer_password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateCompanyRequest {
    #[schema(example = "山田商事株式会社", min_length = 1, max_length = 100)]
    pub name: String,
    /// Most one one-off transfer may move, in yen.
    #[schema(example = 5000000, minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub transfer_limit: i64,
    /// Debit accounts: branch code, hyphen, account number.
    #[schema(example = json!(["001-1234567"]), min_items = 1, max_items = 50)]
    pub accounts: Vec<String>,
    pub admin: NewAdminRequest,
}

impl CreateCompanyRequest {
    pub fn into_domain(self) -> Result<NewCompany, AppError> {
        let mut f = Fields::default();
        let name = f.check("name", CompanyName::parse(&self.name));
        let transfer_limit = f.check("transfer_limit", TransferLimit::new(self.transfer_limit));
        let mut accounts = Vec::with_capacity(self.accounts.len());
        if self.accounts.is_empty() {
            f.push(
                "accounts",
                domain::Invalid::new("required", "at least one debit account is required"),
            );
        }
        if self.accounts.len() > 50 {
            f.push(
                "accounts",
                domain::Invalid::new("too_many", "at most 50 debit accounts"),
            );
        }
        for (i, raw) in self.accounts.iter().enumerate() {
            if let Ok(account) = f.check(&format!("accounts[{i}]"), DebitAccount::parse(raw)) {
                if accounts.contains(&account) {
                    f.push(
                        format!("accounts[{i}]"),
                        domain::Invalid::new("duplicate", "this account is listed twice"),
                    );
                }
                accounts.push(account);
            }
        }
        let a = &self.admin;
        let login_id = f.check("admin.login_id", LoginId::parse(&a.login_id));
        let id = login_id.as_ref().ok();
        let admin_name = f.check("admin.name", PersonName::parse(&a.name));
        let password = f.check("admin.password", NewPassword::parse(&a.password, id));
        let approval_password = f.check(
            "admin.approval_password",
            NewPassword::parse(&a.approval_password, id),
        );
        let transfer_password = f.check(
            "admin.transfer_password",
            NewPassword::parse(&a.transfer_password, id),
        );
        if approval_password.is_ok() && a.approval_password == a.password {
            f.push(
                "admin.approval_password",
                domain::Invalid::new("same_as_password", "must differ from the login password"),
            );
        }
        if transfer_password.is_ok() && a.transfer_password == a.password {
            f.push(
                "admin.transfer_password",
                domain::Invalid::new("same_as_password", "must differ from the login password"),
            );
        }
        f.finish()?;
        Ok(NewCompany {
            name: name?,
            transfer_limit: transfer_limit?,
            accounts,
            admin: NewAdmin {
                login_id: login_id?,
                name: admin_name?,
                password: password?,
                approval_password: approval_password?,
                transfer_password: transfer_password?,
            },
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminView {
    #[schema(format = Uuid)]
    pub id: String,
    pub login_id: String,
    pub name: String,
    pub login_locked: bool,
    /// The approval function is locked after too many wrong approval passwords.
    pub approval_locked: bool,
    /// The administrator's token (per_user) or the shared token (shared).
    pub token: Option<TokenView>,
}

/// A company as the bank sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyDetail {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    #[schema(example = 5000000)]
    pub transfer_limit: i64,
    #[schema(example = json!(["001-1234567"]))]
    pub accounts: Vec<String>,
    pub otp_mode: Option<TokenMode>,
    pub otp_status: OtpStatus,
    pub otp_activated_at: Option<DateTime<Utc>>,
    pub admin: AdminView,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<CompanyView> for CompanyDetail {
    type Error = AppError;
    fn try_from(v: CompanyView) -> Result<Self, AppError> {
        let summary = CompanySummary::from(&v.company);
        Ok(CompanyDetail {
            id: summary.id,
            name: summary.name,
            transfer_limit: v.company.transfer_limit,
            accounts: v.accounts.iter().map(account_text).collect(),
            otp_mode: summary.otp_mode,
            otp_status: summary.otp_status,
            otp_activated_at: v.company.otp_activated_at.map(utc),
            admin: AdminView {
                id: v.admin.id,
                login_id: v.admin.login_id,
                name: v.admin.name,
                login_locked: v.admin.login_locked_at.is_some(),
                approval_locked: v.admin.approval_locked_at.is_some(),
                token: v.admin_token.as_ref().map(TokenView::from),
            },
            created_at: utc(v.company.created_at),
        })
    }
}

fn account_text(a: &AccountRow) -> String {
    format!("{}-{}", a.branch_code, a.account_number)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyList {
    pub items: Vec<CompanyDetail>,
}

// ---------------------------------------------------------------- operations

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    #[schema(example = "ok")]
    pub status: String,
}

// ---------------------------------------------------------------- tokens and OTP

/// A new software token. Add `otpauth_uri` (or scan the QR code) in any RFC 6238
/// authenticator app; the secret is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedTokenView {
    #[schema(example = "WFBS12345674", pattern = r"^[A-Z]{4}[0-9]{8}$")]
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

fn token_id(f: &mut Fields, field: &str, value: &str) -> Result<TokenId, AppError> {
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

fn otp(f: &mut Fields, field: &str, value: &str) -> Result<OtpCode, AppError> {
    f.check(
        field,
        OtpCode::parse(value).map_err(|e| domain::Invalid::new("format", e.to_string())),
    )
}

fn approval(f: &mut Fields, value: &str) -> Result<PasswordAttempt, AppError> {
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
    #[schema(example = "WFBS12345674", pattern = "^[A-Z]{4}[0-9]{8}$")]
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
    pub user_ids: Vec<String>,
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
        Ok((self.user_ids, approval?))
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
    #[schema(example = "WFBS12345674", pattern = "^[A-Z]{4}[0-9]{8}$")]
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

#[derive(Debug, Deserialize, ToSchema)]
pub struct BankResetRequest {
    /// Why the token is reset (e.g. the administrator's phone was lost), for the audit log.
    #[schema(
        example = "administrator's phone lost; identity checked at the branch",
        min_length = 1,
        max_length = 200
    )]
    pub reason: String,
}

impl BankResetRequest {
    pub fn into_domain(self) -> Result<String, AppError> {
        let mut f = Fields::default();
        let reason = f.check("reason", domain::text_field(&self.reason, 200));
        f.finish()?;
        reason
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

impl TryFrom<crate::service::otp_admin::OtpSettings> for OtpSettingsView {
    type Error = AppError;
    fn try_from(s: crate::service::otp_admin::OtpSettings) -> Result<Self, AppError> {
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
            let view = UserView::try_from(u.user)?;
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
        Ok(OtpSettingsView {
            mode: summary.otp_mode,
            status: summary.otp_status,
            admin_token: s.admin_token.as_ref().map(TokenView::from),
            users,
            users_without_token: without,
        })
    }
}

/// The caller's token after an exchange.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangedTokenView {
    pub token: TokenView,
}

// ---------------------------------------------------------------- transfers

wire_enum!(
    /// The payee's account type (預金種目).
    AccountType from crate::domain::transfer::AccountType { Ordinary, Current, Savings }
);
wire_enum!(
    /// `pending_confirmation` → `confirmed` | `cancelled` | `expired`.
    TransferStatus from crate::domain::transfer::TransferStatus { PendingConfirmation, Confirmed, Cancelled, Expired }
);

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PayeeRequest {
    /// Financial institution code (4 digits).
    #[schema(example = "0001", pattern = "^[0-9]{4}$")]
    pub bank_code: String,
    #[schema(example = "123", pattern = "^[0-9]{3}$")]
    pub branch_code: String,
    pub account_type: AccountType,
    #[schema(example = "7654321", pattern = "^[0-9]{7}$")]
    pub account_number: String,
    /// In the Zengin set: half-width katakana, capital letters, digits, space and
    /// `( ) . - /`, at most 30 characters. Full-width katakana and letters are accepted
    /// and normalised.
    #[schema(example = "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ", min_length = 1, max_length = 60)]
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateTransferRequest {
    /// One of the company's debit accounts (branch code - account number).
    #[schema(example = "001-1234567", pattern = "^[0-9]{3}-[0-9]{7}$")]
    pub debit_account: String,
    pub payee: PayeeRequest,
    /// Yen, at least 1 and at most the company's per-transfer limit.
    #[schema(example = 150000, minimum = 1)]
    pub amount: i64,
    /// From today (Japan) up to 60 days ahead.
    #[schema(example = "2026-12-01", format = Date)]
    pub execution_date: String,
    #[schema(example = "November invoice", max_length = 50)]
    pub memo: Option<String>,
}

impl CreateTransferRequest {
    /// Every field judged in one pass, the company's limit and today's date included.
    pub fn into_domain(
        self,
        ctx: &crate::service::transfers::TransferContext,
    ) -> Result<crate::service::transfers::Draft, AppError> {
        use crate::domain::transfer as t;
        let mut f = Fields::default();
        let debit_account = f.check("debit_account", DebitAccount::parse(&self.debit_account));
        let bank_code = f.check("payee.bank_code", t::BankCode::parse(&self.payee.bank_code));
        let branch_code = f.check(
            "payee.branch_code",
            t::BranchCode::parse(&self.payee.branch_code),
        );
        let account_number = f.check(
            "payee.account_number",
            t::AccountNumber::parse(&self.payee.account_number),
        );
        let payee_name = f.check("payee.name", t::PayeeName::parse(&self.payee.name));
        let amount = f.check("amount", t::Amount::new(self.amount, ctx.limit));
        let date = f.check(
            "execution_date",
            t::execution_date(&self.execution_date, ctx.today),
        );
        let memo = f.check("memo", t::memo(self.memo.as_deref().unwrap_or("")));
        f.finish()?;
        Ok(crate::service::transfers::Draft {
            debit_account: debit_account?,
            bank_code: bank_code?,
            branch_code: branch_code?,
            account_type: self.payee.account_type.into(),
            account_number: account_number?,
            payee_name: payee_name?,
            amount: amount?,
            execution_date: date?,
            memo: memo?,
        })
    }
}

/// Exactly one of `otp` (OTP active) or `transfer_password` (OTP inactive).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ConfirmTransferBody {
    WithOtp(ConfirmWithOtp),
    WithTransferPassword(ConfirmWithTransferPassword),
}

/// Confirmation while one-time passwords are active.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ConfirmWithOtp {
    /// A current code of the creator's token (per_user) or the shared token (shared).
    #[schema(example = "123456", pattern = "^[0-9]{6,8}$")]
    pub otp: String,
}

/// Confirmation while one-time passwords are not active.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ConfirmWithTransferPassword {
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub transfer_password: String,
}

/// The confirm body as read: both fields optional, so that any mix is answered with a
/// field error rather than serde's "no variant matched". Documented as
/// `ConfirmTransferBody`.
#[derive(Deserialize)]
pub struct ConfirmTransferRequest {
    pub otp: Option<String>,
    pub transfer_password: Option<String>,
}

impl ConfirmTransferRequest {
    pub fn into_domain(self) -> Result<crate::service::transfers::Proof, AppError> {
        use crate::service::transfers::Proof;
        let mut f = Fields::default();
        let proof = match (self.otp, self.transfer_password) {
            (Some(code), None) => otp(&mut f, "otp", &code).map(Proof::Otp),
            (None, Some(p)) => f
                .check("transfer_password", PasswordAttempt::parse(&p))
                .map(Proof::TransferPassword),
            _ => {
                let invalid = domain::Invalid::new(
                    "one_required",
                    "send exactly one of otp or transfer_password",
                );
                f.check("otp", Err(invalid))
            }
        };
        f.finish()?;
        proof
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Payee {
    pub bank_code: String,
    pub branch_code: String,
    pub account_type: AccountType,
    pub account_number: String,
    /// As normalised to the Zengin set.
    pub name: String,
}

/// What confirming the transfer needs now.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferConfirmationView {
    /// `otp` once one-time passwords are active, else `transfer_password`; for a confirmed
    /// transfer, the method that confirmed it.
    pub method: TransferMethod,
    /// The transfer can be confirmed now by its creator.
    pub ready: bool,
    pub blocked_reason: Option<Blocked>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferMethod {
    Otp,
    TransferPassword,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferView {
    #[schema(format = Uuid)]
    pub id: String,
    pub status: TransferStatus,
    #[schema(example = 150000)]
    pub amount: i64,
    pub payee: Payee,
    #[schema(example = "001-1234567")]
    pub debit_account: String,
    #[schema(format = Date, example = "2026-12-01")]
    pub execution_date: String,
    pub memo: Option<String>,
    /// The user who created it.
    #[schema(format = Uuid)]
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// A pending transfer not confirmed by then expires.
    pub expires_at: DateTime<Utc>,
    pub confirmation: TransferConfirmationView,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl TryFrom<crate::service::transfers::TransferView> for TransferView {
    type Error = AppError;
    fn try_from(v: crate::service::transfers::TransferView) -> Result<Self, AppError> {
        use crate::domain::transfer::TransferStatus as S;
        let r = v.row;
        let pending = v.status == S::PendingConfirmation;
        let (method, blocked_reason) = match (r.confirmation_method.as_deref(), v.confirmation) {
            (Some("otp"), _) => (TransferMethod::Otp, None),
            (Some(_), _) => (TransferMethod::TransferPassword, None),
            (None, TransferConfirmation::Otp) => (TransferMethod::Otp, None),
            (None, TransferConfirmation::TransferPassword) => {
                (TransferMethod::TransferPassword, None)
            }
            (None, TransferConfirmation::Blocked(reason)) => {
                let method = if v.otp_active {
                    TransferMethod::Otp
                } else {
                    TransferMethod::TransferPassword
                };
                (method, Some(Blocked::from(reason)))
            }
        };
        Ok(TransferView {
            id: r.id,
            status: v.status.into(),
            amount: r.amount,
            payee: Payee {
                bank_code: r.payee_bank_code,
                branch_code: r.payee_branch_code,
                account_type: parse_stored::<crate::domain::transfer::AccountType>(
                    &r.payee_account_type,
                )?
                .into(),
                account_number: r.payee_account_number,
                name: r.payee_name,
            },
            debit_account: r.debit_account,
            execution_date: r.execution_date.to_string(),
            memo: r.memo,
            created_by: r.created_by,
            created_at: utc(r.created_at),
            expires_at: utc(r.expires_at),
            confirmation: TransferConfirmationView {
                method,
                ready: pending && blocked_reason.is_none(),
                blocked_reason,
            },
            confirmed_at: r.confirmed_at.map(utc),
            cancelled_at: r.cancelled_at.map(utc),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferList {
    pub items: Vec<TransferView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// Only transfers in this state.
    pub status: Option<TransferStatus>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl TransferQuery {
    pub fn page_size(&self) -> Result<i64, AppError> {
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(AppError::field(
                "limit",
                domain::Invalid::new("out_of_range", "must be 1 to 100"),
            ));
        }
        Ok(limit)
    }
}

// ---------------------------------------------------------------- audit and import

/// One security event, as written in the same transaction as the action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Increasing: pass the last one seen as `after`.
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub company_id: Option<String>,
    /// `person`, `operator`, `anonymous` (a failed sign-in) or `system`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    /// What happened, e.g. `login`, `token_registered`, `otp_replayed`, `transfer_confirmed`.
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// Marked for a security officer's attention (a replayed code, a tampered seed).
    pub flagged: bool,
    pub client_addr: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

impl From<crate::db::models::AuditEventRow> for AuditEventView {
    fn from(r: crate::db::models::AuditEventRow) -> Self {
        AuditEventView {
            id: r.id,
            occurred_at: utc(r.occurred_at),
            company_id: r.company_id,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            outcome: r.outcome,
            flagged: r.flagged,
            client_addr: r.client_addr,
            detail: r.detail.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditEventView>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_cursor: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events of this company (bank operators only; the administrator always sees
    /// their own company's).
    pub company_id: Option<String>,
    /// Events after this id.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

impl AuditQuery {
    pub fn page(&self) -> Result<(Option<i64>, i64), AppError> {
        let limit = self.limit.unwrap_or(50);
        let mut f = Fields::default();
        if !(1..=200).contains(&limit) {
            f.push(
                "limit",
                domain::Invalid::new("out_of_range", "must be 1 to 200"),
            );
        }
        if self.after.is_some_and(|a| a < 0) {
            f.push(
                "after",
                domain::Invalid::new("out_of_range", "must not be negative"),
            );
        }
        f.finish()?;
        Ok((self.after, limit))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: usize,
    #[schema(example = json!(["VSST12345678"]))]
    pub token_ids: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Reserve the imported tokens for this company (recommended): no other company can
    /// register them, or spend their wrong-code tries.
    pub company_id: Option<String>,
}
