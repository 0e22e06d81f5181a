//! The bank imports vendor tokens from a PSKC file: plain or encrypted, with one report of
//! every key's outcome, and a dry run that imports nothing.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, ErrorCode};
use crate::otp::pskc::{OtpKind, Protection};
use crate::service::token_import::{self, ImportReport, ImportRequest, KeyOutcome};

use super::extract::BankOperator;
use super::{State, blocking};

/// A PSKC (RFC 6030) `KeyContainer` document, as the vendor shipped it: sent as the body's
/// bytes, so generated clients upload a file.
pub struct PskcDocument;

impl utoipa::PartialSchema for PskcDocument {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for PskcDocument {}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Reserve the imported tokens for this company (recommended): no other company can
    /// register them, or spend their wrong-code tries.
    pub company_id: Option<uuid::Uuid>,
    /// Judge every key and answer the report, importing nothing.
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportOutcome {
    /// Imported (in a dry run: would be).
    Imported,
    /// Not for webfb: expired, not an OTP key, an algorithm it does not verify (OCRA, a
    /// vendor's own), or a serial that exists already.
    Skipped,
    /// The key package is not right.
    Refused,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportedKind {
    Totp,
    Hotp,
}

/// One key of the file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedKeyView {
    /// 1-based, in the file's order (a package with several keys counts each).
    pub index: usize,
    /// The key's `Id` in the file.
    pub key_id: Option<String>,
    /// The token ID it is registered with: the vendor's serial (`DeviceInfo/SerialNo`, or
    /// the key's `Id` when the file names no serial).
    #[schema(example = "FTCN00012345")]
    pub token_id: Option<String>,
    pub kind: Option<ImportedKind>,
    pub outcome: ImportOutcome,
    /// Why it was skipped or refused.
    pub reason: Option<String>,
}

/// What became of every key of the file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReportView {
    pub dry_run: bool,
    pub imported: usize,
    pub skipped: usize,
    pub refused: usize,
    pub keys: Vec<ImportedKeyView>,
}

impl From<ImportReport> for ImportReportView {
    fn from(r: ImportReport) -> Self {
        ImportReportView {
            dry_run: r.dry_run,
            imported: r.count(KeyOutcome::Imported),
            skipped: r.count(KeyOutcome::Skipped),
            refused: r.count(KeyOutcome::Refused),
            keys: r
                .keys
                .into_iter()
                .map(|k| ImportedKeyView {
                    index: k.index,
                    key_id: k.key_id,
                    token_id: k.serial,
                    kind: k.kind.map(|kind| match kind {
                        OtpKind::Totp => ImportedKind::Totp,
                        OtpKind::Hotp => ImportedKind::Hotp,
                    }),
                    outcome: match k.outcome {
                        KeyOutcome::Imported => ImportOutcome::Imported,
                        KeyOutcome::Skipped => ImportOutcome::Skipped,
                        KeyOutcome::Refused => ImportOutcome::Refused,
                    },
                    reason: k.reason,
                })
                .collect(),
        }
    }
}

/// Imports vendor tokens from an RFC 6030 (PSKC) file, as vendors ship them: plain values,
/// or encrypted with AES-CBC under a pre-shared key (`X-PSKC-Key`, hex) or a PBKDF2
/// password (`X-PSKC-Password`), every value's MAC checked; TOTP and HOTP keys with their
/// digits, interval, drift and counter. A key or MAC that does not fit refuses the whole
/// file; otherwise every key is imported, skipped or refused, in one report. The tokens keep
/// their serials and await registration: by the company in `company_id`, or else by the
/// company that registers one first.
#[utoipa::path(
    operation_id = "importTokens",
    tag = "bank",
    security(("bearer" = [])),
    params(
        ImportQuery,
        ("X-PSKC-Key" = Option<String>, Header, format = Password, description = "The file's pre-shared key, in hex (RFC 6030 §6.1). Never in a URL; never logged or stored."),
        ("X-PSKC-Password" = Option<String>, Header, format = Password, description = "The password the file's key is derived from with PBKDF2 (RFC 6030 §6.2). Never in a URL; never logged or stored."),
    ),
    request_body(content = PskcDocument, content_type = "application/pskc+xml", description = "A PSKC KeyContainer"),
    responses(
        (status = 201, description = "Imported", body = ImportReportView),
        (status = 200, description = "A dry run: nothing imported", body = ImportReportView),
    )
)]
#[post("/bank/tokens/import")]
pub(super) async fn import_tokens(
    state: State,
    who: BankOperator,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    body: web::Payload,
) -> Result<HttpResponse, AppError> {
    let protection = protection(&req)?;
    let file = pskc_text(&req, body).await?;
    let dry_run = query.dry_run.unwrap_or(false);
    let asked = ImportRequest {
        file,
        protection,
        company_id: query.company_id.map(|id| id.to_string()),
        dry_run,
    };
    let report = blocking(&state, move |db, svc| {
        token_import::import(db, svc, &who.0, asked)
    })
    .await?;
    let view = ImportReportView::from(report);
    Ok(if dry_run {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::Created().json(view)
    })
}

/// What opens the file, from its headers.
fn protection(req: &HttpRequest) -> Result<Protection, AppError> {
    let header = |name: &str| -> Result<Option<String>, AppError> {
        req.headers()
            .get(name)
            .map(|v| {
                v.to_str()
                    .map(str::to_owned)
                    .map_err(|_| AppError::malformed(name, "format", "must be visible ASCII"))
            })
            .transpose()
    };
    let preshared_key = header("X-PSKC-Key")?
        .map(|hex| {
            let hex = hex.trim();
            // Its length is the file's cipher's to judge (pskc_key_wrong when it does not fit).
            let valid = !hex.is_empty() && hex.len() <= 128 && hex.len() % 2 == 0;
            if !valid || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(AppError::malformed(
                    "X-PSKC-Key",
                    "format",
                    "the pre-shared key in hex: 16, 24 or 32 bytes, as the file's cipher needs",
                ));
            }
            Ok((0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_default())
                .collect())
        })
        .transpose()?;
    let password = header("X-PSKC-Password")?.map(secrecy::SecretString::from);
    Ok(Protection {
        preshared_key,
        password,
    })
}

/// Largest PSKC file: a vendor's delivery of tens of thousands of keys.
const PSKC_LIMIT: usize = 32 * 1024 * 1024;

/// The body of an import: XML, in UTF-8, read up to [`PSKC_LIMIT`].
async fn pskc_text(req: &HttpRequest, mut body: web::Payload) -> Result<String, AppError> {
    use futures_util::StreamExt;
    let xml = matches!(req.mime_type(), Ok(Some(m)) if m.subtype() == "xml" || m.suffix().is_some_and(|s| s == "xml"));
    if !xml {
        return Err(AppError::malformed(
            "Content-Type",
            "unsupported_media_type",
            "send the file as application/pskc+xml",
        ));
    }
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|_| AppError::malformed("body", "unreadable", "the file could not be read"))?;
        if bytes.len() + chunk.len() > PSKC_LIMIT {
            return Err(AppError::new(
                ErrorCode::PayloadTooLarge,
                format!("a PSKC file must be at most {PSKC_LIMIT} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| AppError::malformed("body", "encoding", "the file must be UTF-8"))
}
