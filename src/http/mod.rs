//! The HTTP edge: extract, call one use case on the blocking pool, map the result.

pub mod dto;
pub mod extract;
pub mod json;
mod routes;

use actix_web::web;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "webfb",
        description = "WEB-FB corporate internet banking: software tokens (OTP) and the authorisation of one-off transfers.\n\nErrors are RFC 9457 `application/problem+json` with a stable `code`.",
        license(name = "Proprietary")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-in and sign-out"),
        (name = "me", description = "The signed-in person"),
        (name = "users", description = "User administration (administrator)"),
        (name = "soft-tokens", description = "Issuing software tokens"),
        (name = "otp", description = "OTP management (administrator): token mode, registrations, stop"),
        (name = "transfers", description = "One-off transfers (都度振込) and their confirmation"),
        (name = "bank", description = "Bank back office (bank operators)"),
        (name = "operations", description = "Health and the API description"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI document, built from the same registrations the server uses.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::AppExt;
    let (_, api) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(configure)
        .split_for_parts();
    api
}
