//! One error type for the whole service, with a stable `code` per problem and its HTTP
//! status. `http::problem` turns it into RFC 9457 `application/problem+json`; internal
//! failures are logged there with their cause and answered with a generic 500.

use serde::Serialize;

use crate::domain::{Invalid, Refusals};

macro_rules! error_codes {
    ($($variant:ident = $text:literal, $status:literal, $title:literal;)+) => {
        /// Every error code a client can receive. Stable: front-ends switch on these.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $($variant),+ }

        impl ErrorCode {
            /// Every code, in the order they are declared.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text),+ }
            }

            /// The HTTP status this code is answered with.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status),+ }
            }

            pub fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title),+ }
            }
        }
    };
}

error_codes! {
    ValidationFailed = "validation_failed", 422, "The request is not valid";
    InvalidCredentials = "invalid_credentials", 401, "Login ID or password is incorrect";
    AccountLocked = "account_locked", 423, "The login is locked";
    AccountDisabled = "account_disabled", 403, "The login is disabled";
    Unauthenticated = "unauthenticated", 401, "Sign-in required";
    SessionExpired = "session_expired", 401, "The session has ended";
    Forbidden = "forbidden", 403, "Not allowed";
    NotFound = "not_found", 404, "Not found";
    MethodNotAllowed = "method_not_allowed", 405, "Method not allowed";
    PayloadTooLarge = "payload_too_large", 413, "The request body is too large";
    LoginIdTaken = "login_id_taken", 409, "The login ID is already in use";
    AccountAlreadyRegistered = "account_already_registered", 409, "The account is already registered";
    BankProcedureRequired = "bank_procedure_required", 403, "This change is a bank procedure";
    OtpInvalid = "otp_invalid", 422, "The one-time code is not correct";
    OtpReplayed = "otp_replayed", 409, "This code has already been used: wait for the next code";
    TokenLocked = "token_locked", 423, "The token is locked after too many wrong codes";
    TokenSuspended = "token_suspended", 423, "The bank suspended the token";
    TokenNotRegistered = "token_not_registered", 409, "No token is registered";
    TokenIdMistyped = "token_id_mistyped", 422, "The token ID looks mistyped";
    TokenUnknown = "token_unknown", 404, "No such token for this company";
    TokenExpired = "token_expired", 422, "The token was not registered in time";
    TokenInUse = "token_in_use", 409, "The token already serves a person";
    TokenAlreadyRegistered = "token_already_registered", 409, "This person already has a token";
    ApprovalPasswordInvalid = "approval_password_invalid", 422, "The approval password is not correct";
    ApprovalLocked = "approval_locked", 423, "Approval is locked after too many wrong approval passwords";
    ModeNotSet = "mode_not_set", 409, "Choose the token mode first";
    OtpActive = "otp_active", 409, "One-time passwords are active";
    OtpInactive = "otp_inactive", 409, "One-time passwords are not active";
    AdminTokenRequired = "admin_token_required", 409, "Register the administrator's token first";
    PerUserModeRequired = "per_user_mode_required", 409, "Only in per_user mode";
    OtpRequired = "otp_required", 422, "Confirm with a one-time code";
    TransferPasswordRequired = "transfer_password_required", 422, "Confirm with the transfer password";
    TransferPasswordInvalid = "transfer_password_invalid", 422, "The transfer password is not correct";
    TransferPasswordLocked = "transfer_password_locked", 423, "The transfer password is locked";
    TransferExpired = "transfer_expired", 409, "The transfer expired";
    TransferNotPending = "transfer_not_pending", 409, "The transfer is not waiting for confirmation";
    DebitAccountUnknown = "debit_account_unknown", 422, "Unknown debit account";
    IdempotencyKeyReused = "idempotency_key_reused", 422, "The Idempotency-Key was used for another request";
    TooManyRequests = "too_many_requests", 429, "Too many attempts: wait before trying again";
    TransferTampered = "transfer_tampered", 409, "The transfer does not match what was created";
    TooManyPendingTokens = "too_many_pending_tokens", 409, "Too many tokens wait for registration";
    SignInChallengeInvalid = "sign_in_challenge_invalid", 401, "The sign-in step expired or was used: sign in again";
    PersonalContractOnly = "personal_contract_only", 403, "Only for personal contracts";
    ContractClosed = "contract_closed", 409, "The contract is closed";
    NotAwaitingApproval = "not_awaiting_approval", 409, "The transfer is not waiting for approvals: it was decided already";
    OwnTransfer = "own_transfer", 403, "Nobody approves or rejects their own transfer";
    AlreadyDecided = "already_decided", 409, "You decided on this transfer already";
    NoApproverPermission = "no_approver_permission", 403, "You do not hold the approver permission";
    ProcedureNotPending = "procedure_not_pending", 409, "The procedure was decided already";
    ProcedureExpired = "procedure_expired", 409, "The procedure expired before a second operator approved it";
    SecondOperatorRequired = "second_operator_required", 403, "A second, different operator decides a procedure";
    CertificatesNotConfigured = "certificates_not_configured", 409, "Certificate sign-in is not configured (WEBFB_CLIENT_CA)";
    CertificateAlreadyRegistered = "certificate_already_registered", 409, "The person has an active certificate";
    CertificateInUse = "certificate_in_use", 409, "The certificate was registered before";
    NotificationNotDead = "notification_not_dead", 409, "Only a dead message is delivered again";
    PskcKeyRequired = "pskc_key_required", 422, "The file is encrypted: send its key or password";
    PskcKeyWrong = "pskc_key_wrong", 422, "The file does not open with that key, or it was changed";
    PskcNothingImportable = "pskc_nothing_importable", 422, "No key of the file can be imported";
    TokenOutOfSync = "token_out_of_sync", 422, "The two codes are not consecutive codes of the token";
    InternalError = "internal_error", 500, "Internal error";
    ServiceUnavailable = "service_unavailable", 503, "Service unavailable";
}

/// One failing field of a request (its schema is in `http::problem`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON path of the field, e.g. `admin.login_id` or `accounts[1]`.
    pub field: String,
    /// Machine-readable reason, e.g. `required`, `too_long`, `format`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{code:?}: {detail}")]
    Client {
        code: ErrorCode,
        status: u16,
        detail: String,
        errors: Vec<FieldError>,
        remaining_attempts: Option<i32>,
        /// Seconds after which trying again may succeed (429, 503).
        retry_after: Option<u32>,
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
            retry_after: None,
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are not valid", many.len()),
        };
        AppError::Client {
            code: ErrorCode::ValidationFailed,
            status: 422,
            detail,
            errors,
            remaining_attempts: None,
            retry_after: None,
        }
    }

    /// A body that cannot be read at all (not JSON, wrong content type): 400.
    pub fn malformed(field: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError::Client {
            code: ErrorCode::ValidationFailed,
            status: 400,
            detail: message.clone(),
            errors: vec![FieldError {
                field: field.into(),
                code: code.into(),
                message,
            }],
            remaining_attempts: None,
            retry_after: None,
        }
    }

    /// Every refused field of a request, judged in the domain.
    pub fn refusals(refusals: Refusals) -> Self {
        Self::validation(
            refusals
                .0
                .into_iter()
                .map(|(field, invalid)| FieldError {
                    field,
                    code: invalid.code.into(),
                    message: invalid.message,
                })
                .collect(),
        )
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

    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        if let AppError::Client { retry_after, .. } = &mut self {
            *retry_after = Some(seconds.max(1));
        }
        self
    }

    pub fn retry_after(&self) -> Option<u32> {
        match self {
            AppError::Client { retry_after, .. } => *retry_after,
            AppError::Internal(_) => None,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Client { code, .. } => *code,
            AppError::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// What a person is told: the detail of a client problem, or a generic sentence.
    pub fn detail(&self) -> &str {
        match self {
            AppError::Client { detail, .. } => detail,
            AppError::Internal(_) => "the request could not be completed",
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Client { status, .. } => *status,
            AppError::Internal(_) => 500,
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
    fn an_internal_error_is_a_500() {
        let e = AppError::Internal("connection refused at 10.0.0.5".into());
        assert_eq!(e.status(), 500);
        assert_eq!(e.code(), ErrorCode::InternalError);
    }

    #[test]
    fn codes_are_snake_case_on_the_wire() {
        assert_eq!(ErrorCode::LoginIdTaken.as_str(), "login_id_taken");
        assert_eq!(AppError::new(ErrorCode::AccountLocked, "x").status(), 423);
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
