//! Who is calling: the signed-in company person or bank operator behind a bearer token.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::db::Db;
use crate::error::{AppError, ErrorCode};
use crate::service::{self, Operator, Person, Services};

use super::{AppState, blocking};

/// A signed-in company person (administrator or user).
pub struct SignedIn(pub Person);

/// A signed-in bank operator.
pub struct BankOperator(pub Operator);

/// The peer's address, as recorded in the audit log. A proxy's forwarded header is not
/// trusted: anyone can write one.
pub fn client_addr(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

fn bearer(req: &HttpRequest) -> Result<String, AppError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::Unauthenticated,
                "send Authorization: Bearer <access_token>",
            )
        })?;
    match header.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(AppError::new(
            ErrorCode::Unauthenticated,
            "send Authorization: Bearer <access_token>",
        )),
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("application state is not configured".into()))
}

/// Checks the bearer token on the blocking pool with `check`, which knows the session kind.
fn authenticate<T: Send + 'static>(
    req: &HttpRequest,
    check: fn(&mut Db, &Services, &str, Option<String>) -> Result<T, AppError>,
) -> LocalBoxFuture<'static, Result<T, AppError>> {
    let found = bearer(req).and_then(|token| Ok((token, state(req)?)));
    let addr = client_addr(req);
    Box::pin(async move {
        let (token, state) = found?;
        blocking(&state, move |db, svc| check(db, svc, &token, addr)).await
    })
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let person = authenticate(req, service::sessions::authenticate_person);
        Box::pin(async move { Ok(SignedIn(person.await?)) })
    }
}

impl FromRequest for BankOperator {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let operator = authenticate(req, service::sessions::authenticate_operator);
        Box::pin(async move { Ok(BankOperator(operator.await?)) })
    }
}
