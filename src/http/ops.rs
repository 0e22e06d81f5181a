//! Health, readiness, the API description and metrics.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;

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
    blocking(&state, |db, _| Ok(crate::db::ping(db)?)).await?;
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

/// Prometheus metrics of this instance.
#[utoipa::path(
    operation_id = "metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
pub(super) async fn metrics(
    state: State,
    metrics: web::Data<crate::http::metrics::Metrics>,
) -> HttpResponse {
    let mut text = metrics.render(
        state.pool.state(),
        state.pool.max_size(),
        state
            .services
            .tampered_transfers
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    // The outbox is the database's: without it, the rest is still worth answering.
    if let Ok(backlog) = blocking(&state, |db, _| crate::service::notify::backlog(db)).await {
        let svc = &state.services;
        crate::http::metrics::outbox(&mut text, &backlog, &svc.deliveries, svc.now());
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}
