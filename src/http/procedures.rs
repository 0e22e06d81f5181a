//! Dual control in the back office: one operator requests a destructive procedure, a
//! second, different operator approves (and so carries it out) or rejects it.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::approval::{self, BankProcedure};
use crate::domain::{self, Invalid};
use crate::error::{AppError, Fields};
use crate::service::procedures::{self, ProcedureRequest};

use super::extract::BankOperator;
use super::json::Json;
use super::wire::*;
use super::{State, blocking};

wire_enum!(
    /// `admin_token_reset` (target: a company; the administrator's or shared token is
    /// removed), `token_suspend` and `token_reissue` (target: a person), `contract_close`
    /// (target: a company or personal contract), `operator_unlock` (target: an operator).
    ProcedureKind from approval::ProcedureKind { AdminTokenReset, TokenSuspend, TokenReissue, ContractClose, OperatorUnlock }
);
wire_enum!(
    /// `pending` → `carried_out` | `rejected` | `expired`.
    ProcedureStatus from approval::ProcedureStatus { Pending, CarriedOut, Rejected, Expired }
);

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProcedureRequestBody {
    pub kind: ProcedureKind,
    /// The company, person or operator the procedure acts on (see `kind`).
    #[schema(format = Uuid)]
    pub target_id: String,
    /// Why the bank acts, for the audit log.
    #[schema(
        example = "administrator's phone lost",
        min_length = 1,
        max_length = 200
    )]
    pub reason: String,
    /// What the requesting operator checked, e.g. the registered seal (届出印) on the
    /// written request, or a call back to the registered number.
    #[schema(
        example = "written request with the registered seal checked at branch 001",
        min_length = 1,
        max_length = 200
    )]
    pub evidence: String,
}

impl ProcedureRequestBody {
    fn into_domain(self) -> Result<ProcedureRequest, AppError> {
        let mut f = Fields::default();
        let target = f.check(
            "target_id",
            uuid::Uuid::parse_str(&self.target_id)
                .map_err(|_| Invalid::new("format", "must be a UUID")),
        );
        let reason = f.check("reason", approval::reason(&self.reason));
        let evidence = f.check("evidence", approval::reason(&self.evidence));
        f.finish()?;
        Ok(ProcedureRequest {
            kind: self.kind.into(),
            target_id: target?.to_string(),
            reason: reason?,
            evidence: evidence?,
        })
    }
}

/// The second operator's note: optional on an approval, the reason of a rejection.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DecisionRequest {
    #[schema(
        example = "seal matches the registration card",
        min_length = 1,
        max_length = 200
    )]
    pub note: Option<String>,
}

impl DecisionRequest {
    fn into_domain(self, required: bool) -> Result<Option<String>, AppError> {
        let mut f = Fields::default();
        let note = match self.note {
            Some(note) => Some(f.check("note", approval::reason(&note))),
            None if required => Some(f.check(
                "note",
                Err(Invalid::new("required", "say why the procedure is refused")),
            )),
            None => None,
        };
        f.finish()?;
        note.transpose()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureView {
    #[schema(format = Uuid)]
    pub id: String,
    pub kind: ProcedureKind,
    #[schema(format = Uuid)]
    pub target_id: String,
    /// The contract concerned; null for an operator's unlock.
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    pub reason: String,
    pub evidence: String,
    pub status: ProcedureStatus,
    #[schema(format = Uuid)]
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// Not approved by then, it expires.
    pub expires_at: DateTime<Utc>,
    /// The second operator.
    #[schema(format = Uuid)]
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

impl From<BankProcedure> for ProcedureView {
    fn from(p: BankProcedure) -> Self {
        ProcedureView {
            kind: p.kind.into(),
            status: p.status.into(),
            id: p.id,
            target_id: p.target_id,
            company_id: p.company_id,
            reason: p.reason,
            evidence: p.evidence,
            requested_by: p.requested_by,
            requested_at: p.requested_at,
            expires_at: p.expires_at,
            decided_by: p.decided_by,
            decided_at: p.decided_at,
            decision_note: p.decision_note,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureList {
    pub items: Vec<ProcedureView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProcedureQuery {
    /// Only procedures in this state (`pending`: those waiting for a second operator).
    pub status: Option<ProcedureStatus>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Requests a procedure; nothing changes until a second, different operator approves it.
#[utoipa::path(
    operation_id = "requestProcedure",
    tag = "bank",
    security(("bearer" = [])),
    request_body = ProcedureRequestBody,
    responses((status = 201, body = ProcedureView))
)]
#[post("/bank/procedures")]
pub(super) async fn request_procedure(
    state: State,
    who: BankOperator,
    body: Json<ProcedureRequestBody>,
) -> Result<HttpResponse, AppError> {
    let asked = body.into_inner()?.into_domain()?;
    let procedure = blocking(&state, move |db, svc| {
        procedures::request(db, svc, &who.0, asked)
    })
    .await?;
    Ok(HttpResponse::Created().json(ProcedureView::from(procedure)))
}

/// The bank's procedures, newest first.
#[utoipa::path(
    operation_id = "listProcedures",
    tag = "bank",
    security(("bearer" = [])),
    params(ProcedureQuery),
    responses((status = 200, body = ProcedureList))
)]
#[get("/bank/procedures")]
pub(super) async fn list_procedures(
    state: State,
    _who: BankOperator,
    query: web::Query<ProcedureQuery>,
) -> Result<web::Json<ProcedureList>, AppError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        let invalid = domain::Invalid::new("out_of_range", "must be 1 to 100");
        return Err(AppError::field("limit", invalid));
    }
    let status = q.status.map(Into::into);
    let (items, next_cursor) = blocking(&state, move |db, svc| {
        procedures::list(db, svc, status, limit, q.cursor.as_deref())
    })
    .await?;
    let items = items.into_iter().map(Into::into).collect();
    Ok(web::Json(ProcedureList { items, next_cursor }))
}

/// One procedure.
#[utoipa::path(
    operation_id = "getProcedure",
    tag = "bank",
    security(("bearer" = [])),
    params(("procedure_id" = uuid::Uuid, Path, description = "The procedure's id")),
    responses((status = 200, body = ProcedureView))
)]
#[get("/bank/procedures/{procedure_id}")]
pub(super) async fn get_procedure(
    state: State,
    _who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<ProcedureView>, AppError> {
    let id = path.into_inner().to_string();
    let p = blocking(&state, move |db, svc| procedures::get(db, svc, &id)).await?;
    Ok(web::Json(p.into()))
}

/// Approves a procedure another operator requested, and so carries it out, in one
/// transaction. The requester cannot approve their own request.
#[utoipa::path(
    operation_id = "approveProcedure",
    tag = "bank",
    security(("bearer" = [])),
    params(("procedure_id" = uuid::Uuid, Path, description = "The procedure's id")),
    request_body = DecisionRequest,
    responses((status = 200, body = ProcedureView))
)]
#[post("/bank/procedures/{procedure_id}/approve")]
pub(super) async fn approve_procedure(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
    body: Json<DecisionRequest>,
) -> Result<web::Json<ProcedureView>, AppError> {
    let note = body.into_inner()?.into_domain(false)?;
    let id = path.into_inner().to_string();
    let p = blocking(&state, move |db, svc| {
        procedures::approve(db, svc, &who.0, &id, note.as_deref())
    })
    .await?;
    Ok(web::Json(p.into()))
}

/// Refuses a procedure another operator requested, with the reason; nothing changes.
#[utoipa::path(
    operation_id = "rejectProcedure",
    tag = "bank",
    security(("bearer" = [])),
    params(("procedure_id" = uuid::Uuid, Path, description = "The procedure's id")),
    request_body = DecisionRequest,
    responses((status = 200, body = ProcedureView))
)]
#[post("/bank/procedures/{procedure_id}/reject")]
pub(super) async fn reject_procedure(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
    body: Json<DecisionRequest>,
) -> Result<web::Json<ProcedureView>, AppError> {
    let note = body.into_inner()?.into_domain(true)?.unwrap_or_default();
    let id = path.into_inner().to_string();
    let p = blocking(&state, move |db, svc| {
        procedures::reject(db, svc, &who.0, &id, &note)
    })
    .await?;
    Ok(web::Json(p.into()))
}
