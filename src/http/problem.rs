//! `AppError` on the wire: RFC 9457 `application/problem+json`, and the schemas that
//! describe it. Internal failures are logged with their cause and answered with a generic
//! 500 that reveals nothing.

use std::borrow::Cow;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::error::{AppError, ErrorCode, FieldError};

/// RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[schema(example = "urn:webfb:problem:validation_failed")]
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    /// The failing fields (`validation_failed` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Wrong attempts left before a lock (OTP and password failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_attempts: Option<i32>,
    /// The request's id, also in the `X-Request-Id` header: quote it to the bank's support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    pub fn of(error: &AppError) -> Problem {
        let (code, detail, errors, remaining_attempts) = match error {
            AppError::Client {
                code,
                detail,
                errors,
                remaining_attempts,
                ..
            } => (*code, detail.clone(), errors.clone(), *remaining_attempts),
            AppError::Internal(_) => (
                ErrorCode::InternalError,
                error.detail().into(),
                vec![],
                None,
            ),
        };
        Problem {
            type_: format!("urn:webfb:problem:{}", code.as_str()),
            title: code.title().to_owned(),
            status: error.status(),
            detail,
            code,
            errors,
            remaining_attempts,
            request_id: crate::request_context::request_id(),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(cause) = self {
            tracing::error!(%cause, "request failed");
        }
        let mut answer = HttpResponse::build(self.status_code());
        if let Some(seconds) = self.retry_after() {
            answer.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        // RFC 6750: a bearer token missing or no longer valid says which scheme is wanted.
        match self.code() {
            ErrorCode::Unauthenticated => {
                answer.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"webfb\""));
            }
            ErrorCode::SessionExpired => {
                answer.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"webfb\", error=\"invalid_token\"",
                ));
            }
            _ => {}
        }
        answer
            .content_type("application/problem+json")
            .json(Problem::of(self))
    }
}

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Every error code a client can receive. Stable: front-ends switch on these.",
            ))
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

impl PartialSchema for FieldError {
    fn schema() -> RefOr<Schema> {
        // `example` (not 3.1's `examples`) as utoipa writes it for every derived schema.
        #[allow(deprecated)]
        let text = |description: Option<&str>, example: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(description)
                .example(Some(example.into()))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("One failing field of a request."))
            .property(
                "field",
                text(
                    Some("JSON path of the field, e.g. `admin.login_id` or `accounts[1]`."),
                    "login_id",
                ),
            )
            .required("field")
            .property(
                "code",
                text(
                    Some("Machine-readable reason, e.g. `required`, `too_long`, `format`."),
                    "too_long",
                ),
            )
            .required("code")
            .property("message", text(None, "must be at most 32 characters"))
            .required("message")
            .into()
    }
}

impl ToSchema for FieldError {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FieldError")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_reveals_nothing() {
        let p = Problem::of(&AppError::Internal("connection refused at 10.0.0.5".into()));
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("10.0.0.5"));
    }

    #[test]
    fn the_problem_type_names_the_code() {
        let p = Problem::of(&AppError::new(ErrorCode::AccountLocked, "x"));
        assert_eq!(p.type_, "urn:webfb:problem:account_locked");
        assert_eq!(p.status, 423);
    }
}
