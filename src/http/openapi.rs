//! The OpenAPI document: built from the same route registrations the server uses, then
//! given each operation's error responses from one table, so a front-end can switch on
//! exactly the `code`s an operation can return.

use std::collections::{BTreeMap, BTreeSet};

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{
    AllOfBuilder, Discriminator, ObjectBuilder, OneOfBuilder, Ref, Type,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, RefOr, Response};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorCode::{self, *};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "webfb",
        description = "WEB-FB corporate internet banking: software tokens (OTP) and the authorisation of one-off transfers.\n\nEvery error is RFC 9457 `application/problem+json` with a stable `code`; each operation lists the codes it can return. Validation errors add `errors: [{field, code, message}]`; wrong codes and passwords add `remaining_attempts`.",
        license(name = "Proprietary", identifier = "LicenseRef-webfb-proprietary"),
        contact(name = "The internet banking team of the bank that runs webfb")
    ),
    servers((url = "/", description = "The server that serves this document")),
    modifiers(&BearerAuth),
    components(schemas(super::problem::Problem, crate::error::FieldError, crate::error::ErrorCode)),
    tags(
        (name = "auth", description = "Sign-in (with its code step where the bank asks one) and sign-out"),
        (name = "self-service", description = "The login page's self-service for personal customers, before signing in: token registration (利用登録), stop (利用停止), device change (交換)"),
        (name = "me", description = "The signed-in person"),
        (name = "users", description = "User administration (administrator)"),
        (name = "soft-tokens", description = "Issuing software tokens"),
        (name = "otp", description = "OTP management (administrator): token mode, registrations, stop"),
        (name = "transfers", description = "One-off transfers (都度振込) and their confirmation"),
        (name = "approvals", description = "Four eyes (承認): the company's approval policy, and approvers' decisions on transfers"),
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

const APPROVAL: &[ErrorCode] = &[ApprovalPasswordInvalid, ApprovalLocked, TooManyRequests];
const CODE: &[ErrorCode] = &[
    OtpInvalid,
    OtpReplayed,
    TokenLocked,
    TokenSuspended,
    TooManyRequests,
];
/// Proving the contract ID and login password at the login page, as sign-in does.
const PROOF: &[ErrorCode] = &[
    InvalidCredentials,
    AccountDisabled,
    PersonalContractOnly,
    TooManyRequests,
];
const NEW_TOKEN: &[ErrorCode] = &[TokenIdMistyped, TokenUnknown, TokenExpired, TokenInUse];

/// The codes each operation can return beyond those every operation of its kind can
/// (see `common_codes`). A test fails when an operation is missing here.
pub fn operation_codes(operation_id: &str) -> Option<Vec<ErrorCode>> {
    let own: &[&[ErrorCode]] = match operation_id {
        "health" | "getOpenApi" | "ready" => &[],
        // Not here when `WEBFB_METRICS_BIND` serves it elsewhere.
        "metrics" => &[&[NotFound]],
        "listAuditEvents" => &[&[Forbidden, NotFound]],
        "listBankAuditEvents" => &[&[Forbidden]],
        "importTokens" => &[&[
            Forbidden,
            NotFound,
            TokenInUse,
            PskcKeyRequired,
            PskcKeyWrong,
            PskcNothingImportable,
        ]],
        "login" => &[&[
            InvalidCredentials,
            AccountDisabled,
            TokenNotRegistered,
            TooManyRequests,
        ]],
        "loginWithCode" => &[&[SignInChallengeInvalid, InternalError], CODE],
        "selfIssueSoftToken" => &[&[TooManyPendingTokens], PROOF],
        "selfRegisterToken" => &[
            &[TokenAlreadyRegistered, InternalError],
            PROOF,
            NEW_TOKEN,
            CODE,
        ],
        "selfStopOtp" => &[&[TokenNotRegistered, InternalError], PROOF, CODE],
        "selfExchangeToken" => &[
            &[
                TokenNotRegistered,
                TokenAlreadyRegistered,
                Forbidden,
                InternalError,
            ],
            PROOF,
            NEW_TOKEN,
            CODE,
        ],
        "openPersonalContract" => &[&[Forbidden, LoginIdTaken, AccountAlreadyRegistered]],
        "listPersonalContracts" | "getPersonalContract" | "getPerson" | "unlockPerson" => {
            &[&[Forbidden]]
        }
        "unlockPersonToken" => &[&[Forbidden, TokenNotRegistered]],
        "resyncMyToken" | "resyncPersonToken" => &[&[
            Forbidden,
            TokenNotRegistered,
            TokenOutOfSync,
            OtpReplayed,
            TokenLocked,
            TokenSuspended,
            InternalError,
        ]],
        "requestProcedure" => &[&[Forbidden, NotFound]],
        "listProcedures" | "getProcedure" => &[&[Forbidden]],
        "approveProcedure" => &[&[
            Forbidden,
            SecondOperatorRequired,
            ProcedureNotPending,
            ProcedureExpired,
            // What the procedure itself can meet, e.g. a token suspended meanwhile.
            ContractClosed,
            TokenNotRegistered,
            TokenSuspended,
        ]],
        "rejectProcedure" => &[&[
            Forbidden,
            SecondOperatorRequired,
            ProcedureNotPending,
            ProcedureExpired,
        ]],
        "getApprovalPolicy" => &[&[Forbidden]],
        "setApprovalPolicy" => &[&[Forbidden], APPROVAL],
        "approveTransfer" => &[
            &[
                TransferTampered,
                TooManyRequests,
                Forbidden,
                OwnTransfer,
                AlreadyDecided,
                NoApproverPermission,
                NotAwaitingApproval,
                TransferExpired,
                OtpRequired,
                TransferPasswordRequired,
                TokenNotRegistered,
                TransferPasswordInvalid,
                TransferPasswordLocked,
                InternalError,
            ],
            CODE,
        ],
        "rejectTransfer" => &[&[
            TransferTampered,
            Forbidden,
            OwnTransfer,
            AlreadyDecided,
            NoApproverPermission,
            NotAwaitingApproval,
            TransferExpired,
        ]],
        "registerCertificate" => &[&[
            Forbidden,
            CertificatesNotConfigured,
            CertificateAlreadyRegistered,
            CertificateInUse,
        ]],
        "listCertificates" | "revokeCertificate" => &[&[Forbidden]],
        "setLoginMethod" => &[&[Forbidden, CertificatesNotConfigured]],
        "setPersonEmail" | "subscribeWebhook" | "listWebhooks" | "removeWebhook"
        | "listNotifications" => &[&[Forbidden]],
        "redeliverNotification" => &[&[Forbidden, NotificationNotDead]],
        "bankLogin" => &[&[InvalidCredentials, AccountDisabled, TooManyRequests]],
        "issueSoftToken" => &[&[Forbidden, TooManyPendingTokens]],
        "logout" | "getMe" | "listUsers" | "bankLogout" | "listCompanies" | "getOtpSettings"
        | "listTransfers" => &[&[Forbidden]],
        "createUser" => &[&[Forbidden, LoginIdTaken, ContractClosed]],
        "updateUser" => &[&[Forbidden, BankProcedureRequired, ContractClosed]],
        "unlockUser" => &[&[Forbidden, BankProcedureRequired]],
        "createCompany" => &[&[Forbidden, LoginIdTaken, AccountAlreadyRegistered]],
        "getCompany" | "unlockCompanyAdmin" | "unlockApproval" | "listOperators" => &[&[Forbidden]],
        "unlockAdminToken" => &[&[Forbidden, TokenNotRegistered]],
        "setOtpMode" => &[&[Forbidden, OtpActive], APPROVAL],
        "registerAdminToken" => &[
            &[Forbidden, ModeNotSet, TokenAlreadyRegistered, InternalError],
            APPROVAL,
            NEW_TOKEN,
            CODE,
        ],
        "registerUserToken" => &[
            &[
                Forbidden,
                PerUserModeRequired,
                AdminTokenRequired,
                TokenAlreadyRegistered,
                InternalError,
            ],
            APPROVAL,
            NEW_TOKEN,
            CODE,
        ],
        "unregisterTokens" => &[
            &[
                Forbidden,
                NotFound,
                BankProcedureRequired,
                TokenNotRegistered,
            ],
            APPROVAL,
        ],
        "unlockUserToken" => &[
            &[Forbidden, BankProcedureRequired, TokenNotRegistered],
            APPROVAL,
        ],
        "stopOtp" => &[
            &[Forbidden, OtpInactive, TokenNotRegistered, InternalError],
            APPROVAL,
            CODE,
        ],
        "exchangeToken" => &[
            &[
                Forbidden,
                TokenNotRegistered,
                TokenAlreadyRegistered,
                InternalError,
            ],
            NEW_TOKEN,
            CODE,
        ],
        "createTransfer" => &[&[
            Forbidden,
            TokenNotRegistered,
            TokenLocked,
            TokenSuspended,
            TransferPasswordLocked,
            DebitAccountUnknown,
            IdempotencyKeyReused,
        ]],
        "getTransfer" => &[&[Forbidden]],
        "confirmTransfer" => &[
            &[
                TransferTampered,
                TooManyRequests,
                Forbidden,
                TransferExpired,
                TransferNotPending,
                OtpRequired,
                TransferPasswordRequired,
                TokenNotRegistered,
                TransferPasswordInvalid,
                TransferPasswordLocked,
                InternalError,
            ],
            CODE,
        ],
        "cancelTransfer" => &[&[Forbidden, TransferExpired, TransferNotPending]],
        _ => return None,
    };
    Some(own.iter().flat_map(|codes| codes.iter().copied()).collect())
}

/// What any operation of this shape can answer.
fn common_codes(op: &Operation) -> Vec<ErrorCode> {
    let mut codes = vec![InternalError, ServiceUnavailable];
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        codes.extend([Unauthenticated, SessionExpired]);
    }
    if op.request_body.is_some() {
        codes.extend([ValidationFailed, PayloadTooLarge]);
    }
    let params = op.parameters.iter().flatten();
    for p in params {
        match p.parameter_in {
            ParameterIn::Path => codes.push(NotFound),
            ParameterIn::Query | ParameterIn::Header => codes.push(ValidationFailed),
            _ => {}
        }
    }
    codes
}

/// Statuses a code is answered with. `validation_failed` is 400 for an unreadable
/// request and 422 for a wrong field.
fn statuses(code: ErrorCode) -> Vec<u16> {
    match code {
        ValidationFailed => vec![400, 422],
        other => vec![other.status()],
    }
}

/// Adds the operation's error answers; returns the codes it can answer.
fn add_error_responses(op: &mut Operation) -> BTreeSet<&'static str> {
    let id = op.operation_id.clone().unwrap_or_default();
    let mut codes = common_codes(op);
    codes.extend(operation_codes(&id).unwrap_or_default());
    let mut by_status: BTreeMap<u16, BTreeSet<&'static str>> = BTreeMap::new();
    for code in codes {
        for status in statuses(code) {
            by_status.entry(status).or_default().insert(code.as_str());
        }
    }
    let answered = by_status.values().flatten().copied().collect();
    for (status, codes) in by_status {
        let listed: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
        let members: Vec<&'static str> = codes.into_iter().collect();
        let content = Content::new(Some(one_of_problems(&members)));
        let response = Response::builder()
            .description(format!("Problem: {}", listed.join(", ")))
            .content("application/problem+json", content)
            .build();
        op.responses
            .responses
            .insert(status.to_string(), RefOr::T(response));
    }
    answered
}

/// The name of the problem schema of one code: `otp_replayed` → `OtpReplayedProblem`.
fn problem_schema_name(code: &str) -> String {
    let mut name: String = code
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    name.push_str("Problem");
    name
}

/// The family every error answer shares: `Problem`, and one member per code that fixes
/// its `code` and `status`. A generated client gets one model per code, not one per
/// operation and status, and TypeScript still narrows `code` by `status`.
fn problem_family(
    answered: &BTreeSet<&'static str>,
) -> Vec<(String, RefOr<utoipa::openapi::Schema>)> {
    ErrorCode::ALL
        .iter()
        .filter(|code| answered.contains(code.as_str()))
        .map(|code| {
            let schema = AllOfBuilder::new()
                .description(Some(format!("`{}`: {}.", code.as_str(), code.title())))
                .item(Ref::from_schema_name("Problem"))
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .property(
                            "status",
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .enum_values(Some(statuses(*code))),
                        )
                        .property(
                            "code",
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .enum_values(Some([code.as_str()])),
                        )
                        .required("status")
                        .required("code"),
                );
            (problem_schema_name(code.as_str()), schema.into())
        })
        .collect()
}

/// One answer's problems: the member of the one code, or any member of several, told
/// apart by `code`.
fn one_of_problems(codes: &[&str]) -> RefOr<utoipa::openapi::Schema> {
    let reference = |code: &str| format!("#/components/schemas/{}", problem_schema_name(code));
    if let [only] = codes {
        return Ref::new(reference(only)).into();
    }
    let mut discriminator = Discriminator::new("code");
    discriminator.mapping = codes
        .iter()
        .map(|code| (code.to_string(), reference(code)))
        .collect();
    codes
        .iter()
        .fold(OneOfBuilder::new(), |one_of, code| {
            one_of.item(Ref::new(reference(code)))
        })
        .discriminator(Some(discriminator))
        .into()
}

/// The doc comment is the operation's description; its first sentence, on one line, its
/// summary (utoipa puts a one-paragraph comment wholly in the summary).
fn summarise(op: &mut Operation) {
    let Some(text) = op.summary.take() else {
        return;
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let first = match text.find(". ") {
        Some(end) => &text[..=end],
        None => text.as_str(),
    };
    op.summary = Some(first.trim_end_matches('.').to_owned());
    let description = op.description.take().unwrap_or_default();
    op.description = Some(if description.is_empty() {
        text.clone()
    } else {
        format!("{text}\n\n{description}")
    });
}

/// The document, built once per process for the server's own use (`/openapi.json`, the
/// 405 answers).
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(openapi)
}

/// The OpenAPI document, built from the same registrations the server uses.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::AppExt;
    let (_, mut api) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(super::configure)
        .split_for_parts();
    let mut answered = BTreeSet::new();
    for item in api.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            // Public operations say so: no security requirement at all.
            op.security.get_or_insert_with(Vec::new);
            answered.extend(add_error_responses(op));
            summarise(op);
            for (status, response) in op.responses.responses.iter_mut() {
                if let RefOr::T(r) = response
                    && r.description.is_empty()
                {
                    r.description = match status.as_str() {
                        "201" => "Created".into(),
                        _ => "OK".into(),
                    };
                }
            }
        }
    }
    let components = api.components.get_or_insert_with(Default::default);
    for (name, schema) in problem_family(&answered) {
        components.schemas.insert(name, schema);
    }
    api
}
