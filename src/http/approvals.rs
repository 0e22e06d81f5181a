//! Four eyes on transfers: the company's approval policy, and approvers' decisions.

use actix_web::{get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::approval::{self, ApprovalPolicy};
use crate::domain::{Invalid, PasswordAttempt};
use crate::error::{AppError, Fields};
use crate::service::approvals;

use super::extract::SignedIn;
use super::json::Json;
use super::otp::approval;
use super::transfers::{ConfirmTransferBody, ConfirmTransferRequest, TransferView};

/// Transfers at or above `min_amount` yen wait, once their creator confirmed them, for
/// `approvals_required` approvals by approvers other than the creator.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalPolicyView {
    /// `false`: the creator's confirmation is final (the default).
    pub enabled: bool,
    /// Yen; 0 asks approvals for every transfer. Null when not enabled.
    #[schema(example = 1000000, minimum = 0)]
    pub min_amount: Option<i64>,
    /// 1 or 2. Null when not enabled.
    #[schema(example = 1, minimum = 1, maximum = 2)]
    pub approvals_required: Option<i32>,
}

impl From<Option<ApprovalPolicy>> for ApprovalPolicyView {
    fn from(p: Option<ApprovalPolicy>) -> Self {
        ApprovalPolicyView {
            enabled: p.is_some(),
            min_amount: p.map(|p| p.min_amount),
            approvals_required: p.map(|p| p.approvals),
        }
    }
}

/// The policy to set, with the administrator's approval password.
#[derive(Deserialize, ToSchema)]
pub struct SetApprovalPolicyRequest {
    pub enabled: bool,
    /// Required when enabled: yen, 0 for every transfer.
    #[schema(example = 1000000, minimum = 0)]
    pub min_amount: Option<i64>,
    /// Required when enabled: 1 or 2.
    #[schema(example = 1, minimum = 1, maximum = 2)]
    pub approvals_required: Option<i32>,
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub approval_password: String,
}

impl SetApprovalPolicyRequest {
    pub fn into_domain(self) -> Result<(Option<ApprovalPolicy>, PasswordAttempt), AppError> {
        let mut f = Fields::default();
        let password = approval(&mut f, &self.approval_password);
        let policy = match (self.enabled, self.min_amount, self.approvals_required) {
            (false, _, _) => None,
            (true, Some(min), Some(n)) => match ApprovalPolicy::new(min, n) {
                Ok(p) => Some(p),
                Err(refused) => {
                    for (field, invalid) in refused.0 {
                        f.push(field, invalid);
                    }
                    None
                }
            },
            (true, min, n) => {
                let required = || Invalid::new("required", "required when enabled");
                if min.is_none() {
                    f.push("min_amount", required());
                }
                if n.is_none() {
                    f.push("approvals_required", required());
                }
                None
            }
        };
        f.finish()?;
        Ok((policy, password?))
    }
}

/// Why an approver rejects a transfer.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectTransferRequest {
    #[schema(
        example = "payee account differs from the invoice",
        min_length = 1,
        max_length = 200
    )]
    pub reason: String,
}

/// The company's approval policy (any person of the company reads it).
#[utoipa::path(
    operation_id = "getApprovalPolicy",
    tag = "approvals",
    security(("bearer" = [])),
    responses((status = 200, body = ApprovalPolicyView))
)]
#[get("/approval-policy")]
pub(super) async fn get_approval_policy(
    who: SignedIn,
) -> Result<web::Json<ApprovalPolicyView>, AppError> {
    let policy = who
        .run(move |db, _, who| approvals::policy(db, who))
        .await?;
    Ok(web::Json(policy.into()))
}

/// Sets or turns off the approval policy (administrator, with the approval password).
/// It applies to confirmations from now on and to approvals of transfers already
/// waiting; a waiting transfer always needs at least one approval.
#[utoipa::path(
    operation_id = "setApprovalPolicy",
    tag = "approvals",
    security(("bearer" = [])),
    request_body = SetApprovalPolicyRequest,
    responses((status = 200, body = ApprovalPolicyView))
)]
#[put("/approval-policy")]
pub(super) async fn set_approval_policy(
    who: SignedIn,
    body: Json<SetApprovalPolicyRequest>,
) -> Result<web::Json<ApprovalPolicyView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let set = who
        .run(move |db, svc, who| {
            let (policy, password) = input?;
            approvals::set_policy(db, svc, who, policy, &password)
        })
        .await?;
    Ok(web::Json(set.into()))
}

/// Approves a transfer waiting for approvals: with a current code of the approver's own
/// token (or the shared token; each use its own step), or the approver's transfer
/// password while OTP is inactive. Not the creator, once per person; the last approval
/// needed confirms it.
#[utoipa::path(
    operation_id = "approveTransfer",
    tag = "approvals",
    security(("bearer" = [])),
    params(("transfer_id" = uuid::Uuid, Path, description = "The transfer's id")),
    request_body = ConfirmTransferBody,
    responses((status = 200, body = TransferView))
)]
#[post("/transfers/{transfer_id}/approve")]
pub(super) async fn approve_transfer(
    who: SignedIn,
    path: web::Path<uuid::Uuid>,
    body: Json<ConfirmTransferRequest>,
) -> Result<web::Json<TransferView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let id = path.into_inner().to_string();
    let view = who
        .run(move |db, svc, who| {
            let proof = input?;
            approvals::approve(db, svc, who, &id, proof)
        })
        .await?;
    Ok(web::Json(view.into()))
}

/// Rejects a transfer waiting for approvals, with the reason; final.
#[utoipa::path(
    operation_id = "rejectTransfer",
    tag = "approvals",
    security(("bearer" = [])),
    params(("transfer_id" = uuid::Uuid, Path, description = "The transfer's id")),
    request_body = RejectTransferRequest,
    responses((status = 200, body = TransferView))
)]
#[post("/transfers/{transfer_id}/reject")]
pub(super) async fn reject_transfer(
    who: SignedIn,
    path: web::Path<uuid::Uuid>,
    body: Json<RejectTransferRequest>,
) -> Result<web::Json<TransferView>, AppError> {
    let body = body.into_inner();
    let id = path.into_inner().to_string();
    let view = who
        .run(move |db, svc, who| {
            let body = body?;
            let mut f = Fields::default();
            let reason = f.check("reason", approval::reason(&body.reason));
            f.finish()?;
            approvals::reject(db, svc, who, &id, reason?)
        })
        .await?;
    Ok(web::Json(view.into()))
}
