//! One error type for the whole service, mapped to RFC 9457 `application/problem+json`
//! with a stable `code`. Internal failures are logged with their cause and answered with
//! a generic 500 that reveals nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Invalid;

macro_rules! error_codes {
    ($($variant:ident = $text:literal, $status:ident, $title:literal;)+) => {
        /// Every error code a client can receive. Stable: front-ends switch on these.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $($variant),+ }

        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text),+ }
            }

            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status),+ }
            }

            fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title),+ }
            }
        }
    };
}

error_codes! {
    ValidationFailed = "validation_failed", UNPROCESSABLE_ENTITY, "The request is not valid";
    InvalidCredentials = "invalid_credentials", UNAUTHORIZED, "Login ID or password is incorrect";
    AccountLocked = "account_locked", LOCKED, "The login is locked";
    AccountDisabled = "account_disabled", FORBIDDEN, "The login is disabled";
    Unauthenticated = "unauthenticated", UNAUTHORIZED, "Sign-in required";
    SessionExpired = "session_expired", UNAUTHORIZED, "The session has ended";
    Forbidden = "forbidden", FORBIDDEN, "Not allowed";
    NotFound = "not_found", NOT_FOUND, "Not found";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed";
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE, "The request body is too large";
    LoginIdTaken = "login_id_taken", CONFLICT, "The login ID is already in use";
    AccountAlreadyRegistered = "account_already_registered", CONFLICT, "The account is already registered";
    BankProcedureRequired = "bank_procedure_required", FORBIDDEN, "This change is a bank procedure";
    OtpInvalid = "otp_invalid", UNPROCESSABLE_ENTITY, "The one-time code is not correct";
    OtpReplayed = "otp_replayed", CONFLICT, "This code has already been used: wait for the next code";
    TokenLocked = "token_locked", LOCKED, "The token is locked after too many wrong codes";
    TokenNotRegistered = "token_not_registered", CONFLICT, "No token is registered";
    TokenIdMistyped = "token_id_mistyped", UNPROCESSABLE_ENTITY, "The token ID looks mistyped";
    TokenUnknown = "token_unknown", NOT_FOUND, "No such token for this company";
    TokenExpired = "token_expired", UNPROCESSABLE_ENTITY, "The token was not registered in time";
    TokenInUse = "token_in_use", CONFLICT, "The token already serves a person";
    TokenAlreadyRegistered = "token_already_registered", CONFLICT, "This person already has a token";
    ApprovalPasswordInvalid = "approval_password_invalid", UNPROCESSABLE_ENTITY, "The approval password is not correct";
    ApprovalLocked = "approval_locked", LOCKED, "Approval is locked after too many wrong approval passwords";
    ModeNotSet = "mode_not_set", CONFLICT, "Choose the token mode first";
    OtpActive = "otp_active", CONFLICT, "One-time passwords are active";
    OtpInactive = "otp_inactive", CONFLICT, "One-time passwords are not active";
    AdminTokenRequired = "admin_token_required", CONFLICT, "Register the administrator's token first";
    PerUserModeRequired = "per_user_mode_required", CONFLICT, "Only in per_user mode";
    OtpRequired = "otp_required", UNPROCESSABLE_ENTITY, "Confirm with a one-time code";
    TransferPasswordRequired = "transfer_password_required", UNPROCESSABLE_ENTITY, "Confirm with the transfer password";
    TransferPasswordInvalid = "transfer_password_invalid", UNPROCESSABLE_ENTITY, "The transfer password is not correct";
    TransferPasswordLocked = "transfer_password_locked", LOCKED, "The transfer password is locked";
    TransferExpired = "transfer_expired", CONFLICT, "The transfer expired";
    TransferNotPending = "transfer_not_pending", CONFLICT, "The transfer is not waiting for confirmation";
    DebitAccountUnknown = "debit_account_unknown", UNPROCESSABLE_ENTITY, "Unknown debit account";
    IdempotencyKeyReused = "idempotency_key_reused", UNPROCESSABLE_ENTITY, "The Idempotency-Key was used for another request";
    InternalError = "internal_error", INTERNAL_SERVER_ERROR, "Internal error";
    ServiceUnavailable = "service_unavailable", SERVICE_UNAVAILABLE, "Service unavailable";
}

/// One failing field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field, e.g. `admin.login_id` or `accounts[1]`.
    #[schema(example = "login_id")]
    pub field: String,
    /// Machine-readable reason, e.g. `required`, `too_long`, `format`.
    #[schema(example = "too_long")]
    pub code: String,
    #[schema(example = "must be at most 32 characters")]
    pub message: String,
}

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
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{code:?}: {detail}")]
    Client {
        code: ErrorCode,
        status: StatusCode,
        detail: String,
        errors: Vec<FieldError>,
        remaining_attempts: Option<i32>,
    },
    /// A failure of ours. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        AppError::Client {
            code,
            status: code.status(),
            detail: detail.into(),
            errors: Vec::new(),
            remaining_attempts: None,
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are not valid", many.len()),
        };
        AppError::Client {
            code: ErrorCode::ValidationFailed,
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail,
            errors,
            remaining_attempts: None,
        }
    }

    /// A body that cannot be read at all (not JSON, wrong content type): 400.
    pub fn malformed(field: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError::Client {
            code: ErrorCode::ValidationFailed,
            status: StatusCode::BAD_REQUEST,
            detail: message.clone(),
            errors: vec![FieldError {
                field: field.into(),
                code: code.into(),
                message,
            }],
            remaining_attempts: None,
        }
    }

    pub fn field(field: impl Into<String>, invalid: Invalid) -> Self {
        Self::validation(vec![FieldError {
            field: field.into(),
            code: invalid.code.into(),
            message: invalid.message,
        }])
    }

    /// Names the field a problem is about.
    pub fn with_field(mut self, field: &str, code: &str, message: impl Into<String>) -> Self {
        if let AppError::Client { errors, .. } = &mut self {
            errors.push(FieldError {
                field: field.into(),
                code: code.into(),
                message: message.into(),
            });
        }
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }

    pub fn with_remaining_attempts(mut self, remaining: i32) -> Self {
        if let AppError::Client {
            remaining_attempts, ..
        } = &mut self
        {
            *remaining_attempts = Some(remaining.max(0));
        }
        self
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Client { code, .. } => *code,
            AppError::Internal(_) => ErrorCode::InternalError,
        }
    }

    pub fn to_problem(&self) -> Problem {
        let (code, detail, errors, remaining_attempts) = match self {
            AppError::Client {
                code,
                detail,
                errors,
                remaining_attempts,
                ..
            } => (*code, detail.clone(), errors.clone(), *remaining_attempts),
            AppError::Internal(_) => (
                ErrorCode::InternalError,
                "the request could not be completed".into(),
                vec![],
                None,
            ),
        };
        let status = self.status_code();
        Problem {
            type_: format!("urn:webfb:problem:{}", code.as_str()),
            title: code.title().to_owned(),
            status: status.as_u16(),
            detail,
            code,
            errors,
            remaining_attempts,
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Internal(format!("database: {e}"))
    }
}

impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Pool(_) => AppError::new(
                ErrorCode::ServiceUnavailable,
                "the database is not reachable; try again shortly",
            ),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Client { status, .. } => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(cause) = self {
            tracing::error!(%cause, "request failed");
        }
        HttpResponse::build(self.status_code())
            .content_type("application/problem+json")
            .json(self.to_problem())
    }
}

/// Collects every field error of a request before refusing it, so a form can show them
/// all at once.
#[derive(Default)]
pub struct Fields(Vec<FieldError>, Option<ErrorCode>);

impl Fields {
    /// Records a refused field. The returned `Err` is never seen by a client: `finish`
    /// answers first with every error collected.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, Invalid>) -> Result<T, AppError> {
        parsed.map_err(|invalid| {
            let error = AppError::field(field, invalid.clone());
            self.0.push(FieldError {
                field: field.to_owned(),
                code: invalid.code.into(),
                message: invalid.message,
            });
            error
        })
    }

    /// Like `check`, but a refusal gives the whole problem its own code: a mistyped
    /// token ID is `token_id_mistyped`, not merely an invalid field.
    pub fn check_as<T>(
        &mut self,
        code: ErrorCode,
        field: &str,
        parsed: Result<T, Invalid>,
    ) -> Result<T, AppError> {
        if parsed.is_err() {
            self.1 = Some(code);
        }
        self.check(field, parsed)
    }

    pub fn push(&mut self, field: impl Into<String>, invalid: Invalid) {
        self.0.push(FieldError {
            field: field.into(),
            code: invalid.code.into(),
            message: invalid.message,
        });
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut problem = AppError::validation(self.0);
        if let (AppError::Client { code, .. }, Some(own)) = (&mut problem, self.1) {
            *code = own;
        }
        Err(problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_reveals_nothing() {
        let p = AppError::Internal("connection refused at 10.0.0.5".into()).to_problem();
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("10.0.0.5"));
    }

    #[test]
    fn codes_are_snake_case_on_the_wire() {
        assert_eq!(ErrorCode::LoginIdTaken.as_str(), "login_id_taken");
        let p = AppError::new(ErrorCode::AccountLocked, "x").to_problem();
        assert_eq!(p.type_, "urn:webfb:problem:account_locked");
        assert_eq!(p.status, 423);
    }

    #[test]
    fn fields_collects_every_error() {
        let mut f = Fields::default();
        let _ = f.check::<()>("a", Err(Invalid::new("required", "must not be empty")));
        let _ = f.check::<()>("b", Err(Invalid::new("too_long", "too long")));
        let AppError::Client { errors, .. } = f.finish().unwrap_err() else {
            panic!()
        };
        assert_eq!(errors.len(), 2);
    }
}
