//! Reading the audit log: the administrator's company, or the whole bank.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain;
use crate::domain::audit::AuditEvent;
use crate::error::{AppError, Fields};
use crate::service::audit;

use super::extract::{BankOperator, SignedIn};
use super::{State, blocking};

/// One security event, as written in the same transaction as the action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// The database's id of the event.
    pub id: i64,
    /// Its place in the sealed trail: the order events were seen committed. Pass the
    /// last one seen as `after`.
    pub position: i64,
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
    /// The `X-Request-Id` of the request it was written in.
    pub request_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

impl From<audit::Page> for AuditList {
    fn from(page: audit::Page) -> Self {
        AuditList {
            items: page.events.into_iter().map(Into::into).collect(),
            next_cursor: page.next,
        }
    }
}

impl From<AuditEvent> for AuditEventView {
    fn from(r: AuditEvent) -> Self {
        AuditEventView {
            id: r.id,
            position: r.position.unwrap_or_default(),
            occurred_at: r.occurred_at,
            company_id: r.company_id,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            outcome: r.outcome,
            flagged: r.flagged,
            client_addr: r.client_addr,
            request_id: r.request_id,
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
    pub company_id: Option<uuid::Uuid>,
    /// Events after this position (`next_cursor`).
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

/// The company's audit log, oldest first (administrator only).
#[utoipa::path(
    operation_id = "listAuditEvents",
    tag = "me",
    security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditList))
)]
#[get("/audit-events")]
pub(super) async fn list_audit_events(
    who: SignedIn,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditList>, AppError> {
    let page = query.page();
    let company = query.company_id.map(|id| id.to_string());
    let page = who
        .run(move |db, svc, who| {
            let (after, limit) = page?;
            audit::company_log(db, svc, who, company.as_deref(), after, limit)
        })
        .await?;
    Ok(web::Json(page.into()))
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
pub(super) async fn list_bank_audit_events(
    state: State,
    _who: BankOperator,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditList>, AppError> {
    let (after, limit) = query.page()?;
    let company = query.company_id.map(|id| id.to_string());
    let page = blocking(&state, move |db, svc| {
        audit::bank_log(db, svc, company.as_deref(), after, limit)
    })
    .await?;
    Ok(web::Json(page.into()))
}
