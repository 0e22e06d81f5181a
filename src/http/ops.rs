//! Health, readiness, the API description and metrics.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, ErrorCode};

use super::{State, blocking};

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    #[schema(example = "ok")]
    pub status: String,
}

/// The process is up.
#[utoipa::path(operation_id = "health", tag = "operations", responses((status = 200, body = HealthView)))]
#[get("/health")]
pub(super) async fn health() -> web::Json<HealthView> {
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
pub(super) async fn ready(state: State) -> Result<web::Json<HealthView>, AppError> {
    let pool = state.pool.clone();
    let limit = std::time::Duration::from_millis(800);
    web::block(move || crate::db::ping(&pool, limit))
        .await
        .map_err(|e| AppError::Internal(format!("blocking task: {e}")))?
        .map_err(|e| {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            AppError::new(
                ErrorCode::ServiceUnavailable,
                "the database does not answer",
            )
        })?;
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
pub(super) async fn openapi_json() -> HttpResponse {
    let doc = serde_json::to_string(super::openapi::document()).unwrap_or_default();
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc)
}

/// Prometheus metrics of this instance (404 here when `WEBFB_METRICS_BIND` serves them on
/// a listener of their own).
#[utoipa::path(
    operation_id = "metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
pub(super) async fn metrics(
    state: State,
    metrics: web::Data<crate::http::metrics::Metrics>,
) -> Result<HttpResponse, AppError> {
    if state.metrics_elsewhere {
        return Err(AppError::not_found("resource"));
    }
    Ok(metrics_text(state, metrics).await)
}

/// The metrics as Prometheus scrapes them, wherever they are served.
pub async fn metrics_text(
    state: State,
    registry: web::Data<crate::http::metrics::Metrics>,
) -> HttpResponse {
    // The outbox is the database's: without it, the rest is still worth answering.
    let backlog = blocking(&state, |db, _| crate::service::notify::backlog(db))
        .await
        .ok();
    let pool = (state.pool.state(), state.pool.max_size());
    let text = registry.render(pool, &state.services, backlog);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}
