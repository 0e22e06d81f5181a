//! The bank's back office for personal contracts (個人), and its hotline for any
//! person's lost device: suspend at once, reissue later.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{ContractKind, LoginId, NewPassword, PersonName, TransferLimit};
use crate::error::{AppError, Fields};
use crate::service::bank::{self, ContractFile, NewPersonalContract};
use crate::service::hotline::{self, PersonFile};

use super::bank::debit_accounts;
use super::extract::BankOperator;
use super::json::Json;
use super::otp::TokenView;
use super::people::CompanySummary;
use super::wire::*;
use super::{State, blocking};

#[derive(Deserialize, ToSchema)]
pub struct OpenPersonalContractRequest {
    /// The contract ID (契約者ID) the customer signs in with.
    #[schema(
        example = "k10000001",
        min_length = 4,
        max_length = 32,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._@-]{3,31}$"
    )]
    pub contract_id: String,
    #[schema(example = "佐藤 花子", min_length = 1, max_length = 64)]
    pub name: String,
    /// Most one transfer may move, in yen.
    #[schema(example = 1000000, minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub transfer_limit: i64,
    /// Debit accounts: branch code, hyphen, account number.
    #[schema(example = json!(["001-7654321"]), min_items = 1, max_items = 50)]
    pub accounts: Vec<String>,
    /// The login password.
    #[schema(min_length = 10, max_length = 128, format = Password)]
    pub password: String,
    /// The funds-transfer password (資金移動用パスワード), used while no code is.
    #[schema(min_length = 10, max_length = 128, format = Password)]
    pub transfer_password: String,
}

impl OpenPersonalContractRequest {
    pub fn into_domain(self) -> Result<NewPersonalContract, AppError> {
        let mut f = Fields::default();
        let contract_id = f.check("contract_id", LoginId::parse(&self.contract_id));
        let id = contract_id.as_ref().ok();
        let name = f.check("name", PersonName::parse(&self.name));
        let transfer_limit = f.check("transfer_limit", TransferLimit::new(self.transfer_limit));
        let accounts = debit_accounts(&mut f, &self.accounts);
        let password = f.check("password", NewPassword::parse(&self.password, id));
        let transfer_password = f.check(
            "transfer_password",
            NewPassword::parse(&self.transfer_password, id),
        );
        if transfer_password.is_ok() && self.transfer_password == self.password {
            f.push(
                "transfer_password",
                crate::domain::Invalid::new(
                    "same_as_password",
                    "must differ from the login password",
                ),
            );
        }
        f.finish()?;
        Ok(NewPersonalContract {
            contract_id: contract_id?,
            name: name?,
            transfer_limit: transfer_limit?,
            accounts,
            password: password?,
            transfer_password: transfer_password?,
        })
    }
}

/// The customer of a personal contract, as the bank sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    /// The person's id, for the hotline (`/api/v1/bank/people/{person_id}/…`).
    #[schema(format = Uuid)]
    pub id: String,
    pub login_locked: bool,
    pub token: Option<TokenView>,
}

/// A personal contract as the bank sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalContractView {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "k10000001")]
    pub contract_id: String,
    pub name: String,
    #[schema(example = 1000000)]
    pub transfer_limit: i64,
    #[schema(example = json!(["001-7654321"]))]
    pub accounts: Vec<String>,
    /// `active` while the customer has a registered token.
    pub otp_status: OtpStatus,
    pub customer: CustomerView,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<ContractFile> for PersonalContractView {
    fn from(v: ContractFile) -> Self {
        PersonalContractView {
            id: v.company.id,
            contract_id: v.holder.login_id,
            name: v.company.name,
            transfer_limit: v.company.transfer_limit.yen(),
            accounts: v.accounts.iter().map(ToString::to_string).collect(),
            otp_status: v.company.otp_status.into(),
            customer: CustomerView {
                id: v.holder.id,
                login_locked: v.holder.login_lock.is_some(),
                token: v.holder_token.as_ref().map(TokenView::from),
            },
            created_at: v.company.created_at,
            closed_at: v.company.closed_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalContractList {
    pub items: Vec<PersonalContractView>,
}

/// Opens a personal contract (個人) for one customer.
#[utoipa::path(
    operation_id = "openPersonalContract",
    tag = "bank",
    security(("bearer" = [])),
    request_body = OpenPersonalContractRequest,
    responses((status = 201, body = PersonalContractView))
)]
#[post("/bank/personal-contracts")]
pub(super) async fn open_personal_contract(
    state: State,
    who: BankOperator,
    body: Json<OpenPersonalContractRequest>,
) -> Result<HttpResponse, AppError> {
    let new = body.into_inner()?.into_domain()?;
    let file = blocking(&state, move |db, svc| {
        bank::open_personal_contract(db, svc, &who.0, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(PersonalContractView::from(file)))
}

/// Every personal contract of the bank.
#[utoipa::path(operation_id = "listPersonalContracts", tag = "bank", security(("bearer" = [])), responses((status = 200, body = PersonalContractList)))]
#[get("/bank/personal-contracts")]
pub(super) async fn list_personal_contracts(
    state: State,
    _who: BankOperator,
) -> Result<web::Json<PersonalContractList>, AppError> {
    let files = blocking(&state, |db, svc| {
        bank::list_contracts(db, svc, ContractKind::Personal)
    })
    .await?;
    let items = files.into_iter().map(Into::into).collect();
    Ok(web::Json(PersonalContractList { items }))
}

/// One personal contract.
#[utoipa::path(
    operation_id = "getPersonalContract",
    tag = "bank",
    security(("bearer" = [])),
    params(("contract_id" = uuid::Uuid, Path, description = "The personal contract's id")),
    responses((status = 200, body = PersonalContractView))
)]
#[get("/bank/personal-contracts/{contract_id}")]
pub(super) async fn get_personal_contract(
    state: State,
    _who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<PersonalContractView>, AppError> {
    let id = path.into_inner().to_string();
    let file = blocking(&state, move |db, svc| {
        bank::get_contract(db, svc, ContractKind::Personal, &id)
    })
    .await?;
    Ok(web::Json(file.into()))
}

/// A person as the bank's hotline sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonView {
    #[schema(format = Uuid)]
    pub id: String,
    pub login_id: String,
    pub name: String,
    pub role: Role,
    pub contract: CompanySummary,
    pub disabled: bool,
    pub login_locked: bool,
    /// Where the person is told of security events.
    pub email: Option<String>,
    /// The token the person holds (in shared mode a user holds none).
    pub token: Option<TokenView>,
}

impl From<PersonFile> for PersonView {
    fn from(f: PersonFile) -> Self {
        PersonView {
            contract: CompanySummary::from(&f.contract),
            token: f.token.as_ref().map(TokenView::from),
            login_locked: f.person.login_lock.is_some(),
            disabled: f.person.disabled,
            email: f.person.email,
            role: f.person.role.into(),
            id: f.person.id,
            login_id: f.person.login_id,
            name: f.person.name,
        }
    }
}

/// Any person of any contract, for the hotline.
#[utoipa::path(
    operation_id = "getPerson",
    tag = "bank",
    security(("bearer" = [])),
    params(("person_id" = uuid::Uuid, Path, description = "The person's id")),
    responses((status = 200, body = PersonView))
)]
#[get("/bank/people/{person_id}")]
pub(super) async fn get_person(
    state: State,
    _who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<PersonView>, AppError> {
    let id = path.into_inner().to_string();
    let file = blocking(&state, move |db, svc| hotline::get_person(db, svc, &id)).await?;
    Ok(web::Json(file.into()))
}

/// Frees a person's token locked by wrong codes (a suspension stays).
#[utoipa::path(
    operation_id = "unlockPersonToken",
    tag = "bank",
    security(("bearer" = [])),
    params(("person_id" = uuid::Uuid, Path, description = "The person's id")),
    responses((status = 200, body = PersonView))
)]
#[post("/bank/people/{person_id}/token/unlock")]
pub(super) async fn unlock_person_token(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<PersonView>, AppError> {
    let id = path.into_inner().to_string();
    let file = blocking(&state, move |db, svc| {
        hotline::unlock_token(db, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(file.into()))
}

/// Frees a person's login and transfer password, locked by wrong entries.
#[utoipa::path(
    operation_id = "unlockPerson",
    tag = "bank",
    security(("bearer" = [])),
    params(("person_id" = uuid::Uuid, Path, description = "The person's id")),
    responses((status = 200, body = PersonView))
)]
#[post("/bank/people/{person_id}/unlock")]
pub(super) async fn unlock_person(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<PersonView>, AppError> {
    let id = path.into_inner().to_string();
    let file = blocking(&state, move |db, svc| {
        hotline::unlock_login_of(db, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(file.into()))
}
