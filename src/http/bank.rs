//! The bank's back office: companies, their administrators, bank procedures, token import.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    self, CompanyName, ContractKind, DebitAccount, LoginId, NewPassword, PersonName, TransferLimit,
};
use crate::error::{AppError, Fields};
use crate::service::bank::{self, ContractFile, NewAdmin, NewCompany};

use super::extract::BankOperator;
use super::json::Json;
use super::otp::TokenView;
use super::people::CompanySummary;
use super::sessions::OperatorView;
use super::wire::*;
use super::{State, blocking};

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
        let accounts = debit_accounts(&mut f, &self.accounts);
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

/// A contract's debit accounts: one at least, 50 at most, none twice.
pub(super) fn debit_accounts(f: &mut Fields, raw: &[String]) -> Vec<DebitAccount> {
    let mut accounts = Vec::with_capacity(raw.len());
    if raw.is_empty() {
        f.push(
            "accounts",
            domain::Invalid::new("required", "at least one debit account is required"),
        );
    }
    if raw.len() > 50 {
        f.push(
            "accounts",
            domain::Invalid::new("too_many", "at most 50 debit accounts"),
        );
    }
    for (i, raw) in raw.iter().enumerate() {
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
    accounts
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
    /// When the bank closed the contract.
    pub closed_at: Option<DateTime<Utc>>,
    pub login_method: LoginMethod,
}

impl From<ContractFile> for CompanyDetail {
    fn from(v: ContractFile) -> Self {
        let summary = CompanySummary::from(&v.company);
        CompanyDetail {
            id: summary.id,
            name: summary.name,
            transfer_limit: v.company.transfer_limit.yen(),
            accounts: v.accounts.iter().map(ToString::to_string).collect(),
            otp_mode: summary.otp_mode,
            otp_status: summary.otp_status,
            otp_activated_at: v.company.otp_activated_at,
            admin: AdminView {
                id: v.holder.id,
                login_id: v.holder.login_id,
                name: v.holder.name,
                login_locked: v.holder.login_lock.is_some(),
                approval_locked: v.holder.approval_locked,
                token: v.holder_token.as_ref().map(TokenView::from),
            },
            created_at: v.company.created_at,
            closed_at: v.company.closed_at,
            login_method: v.company.login_method.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyList {
    pub items: Vec<CompanyDetail>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BankResetRequest {
    /// Why the bank acts (e.g. the administrator's phone was lost), for the audit log.
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

/// Opens a company contract with its administrator and debit accounts.
#[utoipa::path(
    operation_id = "createCompany",
    tag = "bank",
    security(("bearer" = [])),
    request_body = CreateCompanyRequest,
    responses((status = 201, body = CompanyDetail))
)]
#[post("/bank/companies")]
pub(super) async fn create_company(
    state: State,
    who: BankOperator,
    body: Json<CreateCompanyRequest>,
) -> Result<HttpResponse, AppError> {
    let new = body.into_inner()?.into_domain()?;
    let view = blocking(&state, move |db, svc| {
        bank::create_company(db, svc, &who.0, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(CompanyDetail::from(view)))
}

/// Every company of the bank.
#[utoipa::path(operation_id = "listCompanies", tag = "bank", security(("bearer" = [])), responses((status = 200, body = CompanyList)))]
#[get("/bank/companies")]
pub(super) async fn list_companies(
    state: State,
    _who: BankOperator,
) -> Result<web::Json<CompanyList>, AppError> {
    let views = blocking(&state, |db, svc| {
        bank::list_contracts(db, svc, ContractKind::Corporate)
    })
    .await?;
    let items = views.into_iter().map(Into::into).collect();
    Ok(web::Json(CompanyList { items }))
}

/// One company with its OTP state.
#[utoipa::path(
    operation_id = "getCompany",
    tag = "bank",
    security(("bearer" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id")),
    responses((status = 200, body = CompanyDetail))
)]
#[get("/bank/companies/{company_id}")]
pub(super) async fn get_company(
    state: State,
    _who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<CompanyDetail>, AppError> {
    let id = path.into_inner().to_string();
    let view = blocking(&state, move |db, svc| {
        bank::get_contract(db, svc, ContractKind::Corporate, &id)
    })
    .await?;
    Ok(web::Json(view.into()))
}

/// Frees the administrator's login and transfer password, locked by wrong entries.
#[utoipa::path(
    operation_id = "unlockCompanyAdmin",
    tag = "bank",
    security(("bearer" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id")),
    responses((status = 200, body = CompanyDetail))
)]
#[post("/bank/companies/{company_id}/admin/unlock")]
pub(super) async fn unlock_admin(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<CompanyDetail>, AppError> {
    let id = path.into_inner().to_string();
    let view = blocking(&state, move |db, svc| {
        bank::unlock_admin(db, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(view.into()))
}

/// Bank procedure: frees the administrator's (or the shared) token locked by wrong codes.
#[utoipa::path(
    operation_id = "unlockAdminToken",
    tag = "bank",
    security(("bearer" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id")),
    responses((status = 200, body = CompanyDetail))
)]
#[post("/bank/companies/{company_id}/admin-token/unlock")]
pub(super) async fn unlock_admin_token(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<CompanyDetail>, AppError> {
    let id = path.into_inner().to_string();
    let view = blocking(&state, move |db, svc| {
        bank::unlock_admin_token(db, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(view.into()))
}

/// Bank procedure: frees the administrator's approval password locked by wrong entries.
#[utoipa::path(
    operation_id = "unlockApproval",
    tag = "bank",
    security(("bearer" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id")),
    responses((status = 200, body = CompanyDetail))
)]
#[post("/bank/companies/{company_id}/approval/unlock")]
pub(super) async fn unlock_approval(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<CompanyDetail>, AppError> {
    let id = path.into_inner().to_string();
    let view = blocking(&state, move |db, svc| {
        bank::unlock_approval(db, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(view.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorList {
    pub items: Vec<OperatorView>,
}

/// The bank's operators.
#[utoipa::path(operation_id = "listOperators", tag = "bank", security(("bearer" = [])), responses((status = 200, body = OperatorList)))]
#[get("/bank/operators")]
pub(super) async fn list_operators(
    state: State,
    _who: BankOperator,
) -> Result<web::Json<OperatorList>, AppError> {
    let operators = blocking(&state, bank::list_operators).await?;
    let items = operators.into_iter().map(Into::into).collect();
    Ok(web::Json(OperatorList { items }))
}
