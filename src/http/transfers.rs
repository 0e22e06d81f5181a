//! One-off transfers (都度振込) and their confirmation.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::transfer::DraftInput;
use crate::domain::{self, PasswordAttempt, TransferConfirmation};
use crate::error::{AppError, Fields};
use crate::service::transfers::{self, TransferWithConfirmation};

use super::extract::SignedIn;
use super::json::Json;
use super::otp::otp;
use super::wire::*;

wire_enum!(
    /// The payee's account type (預金種目).
    AccountType from crate::domain::transfer::AccountType { Ordinary, Current, Savings }
);
wire_enum!(
    /// `pending_confirmation` → `confirmed` | `cancelled` | `expired`; under the company's
    /// approval policy, `pending_confirmation` → `pending_approval` → `confirmed` |
    /// `rejected` | `cancelled` | `expired`.
    TransferStatus from crate::domain::transfer::TransferStatus { PendingConfirmation, PendingApproval, Confirmed, Rejected, Cancelled, Expired }
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

impl From<CreateTransferRequest> for DraftInput {
    fn from(r: CreateTransferRequest) -> Self {
        DraftInput {
            debit_account: r.debit_account,
            bank_code: r.payee.bank_code,
            branch_code: r.payee.branch_code,
            account_type: r.payee.account_type.into(),
            account_number: r.payee.account_number,
            payee_name: r.payee.name,
            amount: r.amount,
            execution_date: r.execution_date,
            memo: r.memo,
        }
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

wire_enum!(
    TransferMethod from domain::transfer::ConfirmationMethod { Otp, TransferPassword }
);

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
    /// Set when it is (or was) confirmed: by its creator, or by its last approval.
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Present only on transfers the company's approval policy sent to approvers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalView>,
}

/// The approvals a transfer needs and those given, with every decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    /// Approvals needed in all (1 or 2).
    pub required: i32,
    pub given: i32,
    /// Every approver's decision, oldest first.
    pub decisions: Vec<DecisionView>,
}

/// One approver's decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// The approver.
    #[schema(format = Uuid)]
    pub person_id: String,
    pub decision: Decision,
    /// How an approval was proven; null for a rejection.
    pub method: Option<TransferMethod>,
    /// A rejection's reason.
    pub reason: Option<String>,
    pub decided_at: DateTime<Utc>,
}

wire_enum!(
    /// `approved` or `rejected`.
    Decision from domain::approval::Decision { Approved, Rejected }
);

impl From<TransferWithConfirmation> for TransferView {
    fn from(v: TransferWithConfirmation) -> Self {
        let t = v.transfer;
        let pending = t.status == domain::transfer::TransferStatus::PendingConfirmation;
        let (method, blocked_reason) = match (t.confirmation_method, v.confirmation) {
            (Some(m), _) => (m.into(), None),
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
        let approval = (t.approvals_required > 0).then(|| ApprovalView {
            required: t.approvals_required,
            given: t.approvals_given,
            decisions: v
                .approvals
                .into_iter()
                .map(|a| DecisionView {
                    person_id: a.person_id,
                    decision: a.decision.into(),
                    method: a.method.map(Into::into),
                    reason: a.reason,
                    decided_at: a.decided_at,
                })
                .collect(),
        });
        TransferView {
            approval,
            id: t.id,
            status: t.status.into(),
            amount: t.amount,
            payee: Payee {
                bank_code: t.payee.bank_code,
                branch_code: t.payee.branch_code,
                account_type: t.payee.account_type.into(),
                account_number: t.payee.account_number,
                name: t.payee.name,
            },
            debit_account: t.debit_account,
            execution_date: t.execution_date.to_string(),
            memo: t.memo,
            created_by: t.created_by,
            created_at: t.created_at,
            expires_at: t.expires_at,
            confirmation: TransferConfirmationView {
                method,
                ready: pending && blocked_reason.is_none(),
                blocked_reason,
            },
            confirmed_at: t.confirmed_at,
            cancelled_at: t.cancelled_at,
        }
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
    /// Only transfers waiting for the caller's approval: someone else's, not yet decided
    /// by them (empty for someone without the approver permission).
    pub awaiting_my_approval: Option<bool>,
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
pub(super) async fn create_transfer(
    who: SignedIn,
    key: IdempotencyKey,
    body: Json<CreateTransferRequest>,
) -> Result<HttpResponse, AppError> {
    let input = key.0.and_then(|key| {
        let body = body.into_inner()?;
        let json = serde_json::to_string(&body).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok((key, transfers::request_hash(&json), body))
    });
    let (view, _) = who
        .run(move |db, svc, who| {
            let (key, hash, body) = input?;
            transfers::create(db, svc, who, &key, &hash, body.into())
        })
        .await?;
    Ok(HttpResponse::Created().json(TransferView::from(view)))
}

/// The `Idempotency-Key` header, judged when the handler asks (after the session).
pub(super) struct IdempotencyKey(Result<String, AppError>);

impl actix_web::FromRequest for IdempotencyKey {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let key = match req.headers().get("Idempotency-Key") {
            None => Err(AppError::malformed(
                "Idempotency-Key",
                "required",
                "send an Idempotency-Key header",
            )),
            Some(value) => value
                .to_str()
                .map_err(|_| {
                    AppError::malformed("Idempotency-Key", "format", "must be visible ASCII")
                })
                .and_then(|key| {
                    domain::transfer::idempotency_key(key)
                        .map_err(|e| AppError::malformed("Idempotency-Key", e.code, e.message))
                }),
        };
        std::future::ready(Ok(IdempotencyKey(key)))
    }
}

/// Transfers: the caller's own, or the company's for the administrator and approvers;
/// newest first.
#[utoipa::path(
    operation_id = "listTransfers",
    tag = "transfers",
    security(("bearer" = [])),
    params(TransferQuery),
    responses((status = 200, body = TransferList))
)]
#[get("/transfers")]
pub(super) async fn list_transfers(
    who: SignedIn,
    query: web::Query<TransferQuery>,
) -> Result<web::Json<TransferList>, AppError> {
    let q = query.into_inner();
    let listing = q.page_size().map(|limit| transfers::Listing {
        limit,
        status: q.status.map(Into::into),
        awaiting_my_approval: q.awaiting_my_approval.unwrap_or(false),
        cursor: q.cursor,
    });
    let (items, next_cursor) = who
        .run(move |db, svc, who| transfers::list(db, svc, who, listing?))
        .await?;
    let items = items.into_iter().map(Into::into).collect();
    Ok(web::Json(TransferList { items, next_cursor }))
}

/// One transfer.
#[utoipa::path(
    operation_id = "getTransfer",
    tag = "transfers",
    security(("bearer" = [])),
    params(("transfer_id" = uuid::Uuid, Path, description = "The transfer's id")),
    responses((status = 200, body = TransferView))
)]
#[get("/transfers/{transfer_id}")]
pub(super) async fn get_transfer(
    who: SignedIn,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<TransferView>, AppError> {
    let id = path.into_inner().to_string();
    let view = who
        .run_on(Some(id), move |db, svc, who, found| {
            transfers::get(db, svc, who, found)
        })
        .await?;
    Ok(web::Json(view.into()))
}

/// Confirms a transfer by its creator: with a current code (OTP active) or the transfer
/// password (OTP inactive). A transfer is confirmed at most once.
#[utoipa::path(
    operation_id = "confirmTransfer",
    tag = "transfers",
    security(("bearer" = [])),
    params(("transfer_id" = uuid::Uuid, Path, description = "The transfer's id")),
    request_body = ConfirmTransferBody,
    responses((status = 200, body = TransferView))
)]
#[post("/transfers/{transfer_id}/confirm")]
pub(super) async fn confirm_transfer(
    who: SignedIn,
    path: web::Path<uuid::Uuid>,
    body: Json<ConfirmTransferRequest>,
) -> Result<web::Json<TransferView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let id = path.into_inner().to_string();
    let view = who
        .run_on(Some(id), move |db, svc, who, found| {
            transfers::confirm(db, svc, who, found, input?)
        })
        .await?;
    Ok(web::Json(view.into()))
}

/// Cancels a transfer waiting for confirmation or approvals (its creator or the
/// administrator).
#[utoipa::path(
    operation_id = "cancelTransfer",
    tag = "transfers",
    security(("bearer" = [])),
    params(("transfer_id" = uuid::Uuid, Path, description = "The transfer's id")),
    responses((status = 200, body = TransferView))
)]
#[post("/transfers/{transfer_id}/cancel")]
pub(super) async fn cancel_transfer(
    who: SignedIn,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<TransferView>, AppError> {
    let id = path.into_inner().to_string();
    let view = who
        .run_on(Some(id), move |db, svc, who, found| {
            transfers::cancel(db, svc, who, found)
        })
        .await?;
    Ok(web::Json(view.into()))
}
