//! The HTTP edge: extract, call one use case on the blocking pool, map the result.

pub mod dto;
pub mod extract;
pub mod json;
pub mod metrics;
pub mod openapi;
mod routes;

use actix_web::web;

use crate::db::{DbConn, DbError, DbPool};
use crate::error::AppError;
use crate::service::Services;

pub use routes::configure;

pub struct AppState {
    pub pool: DbPool,
    pub services: Services,
}

/// Runs database and argon2 work on actix's blocking pool, never on an async worker.
pub async fn blocking<T, F>(state: &web::Data<AppState>, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn, &Services) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let state = state.clone();
    web::block(move || {
        let mut conn = state.pool.get().map_err(DbError::from)?;
        f(&mut conn, &state.services)
    })
    .await
    .map_err(|e| AppError::Internal(format!("blocking task: {e}")))?
}

pub use openapi::{ApiDoc, openapi};
