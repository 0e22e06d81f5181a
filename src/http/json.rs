//! The JSON body extractor. Every way a body can be wrong becomes a `validation_failed`
//! problem that names the field: never a 500, never serde's text with line numbers.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::{AppError, ErrorCode, FieldError};

/// Largest body any endpoint accepts.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body, parsed but not yet judged: actix extracts a handler's arguments
/// concurrently, so a body error is held until the handler asks for it, after the
/// session has been checked. A caller without a session learns nothing about bodies.
pub struct Json<T>(Result<T, AppError>);

impl<T> Json<T> {
    pub fn into_inner(self) -> Result<T, AppError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = matches!(
            req.mime_type(),
            Ok(Some(m)) if m.type_() == "application" && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
        );
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Ok(Json(Err(AppError::malformed(
                    "Content-Type",
                    "unsupported_media_type",
                    "send the body as application/json",
                ))));
            }
            let parsed = match body.await {
                Ok(bytes) => parse(&bytes),
                Err(e) => Err(match e.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => AppError::new(
                        ErrorCode::PayloadTooLarge,
                        format!("the body must be at most {BODY_LIMIT} bytes"),
                    ),
                    _ => AppError::malformed(
                        "body",
                        "unreadable",
                        "the request body could not be read",
                    ),
                }),
            };
            Ok(Json(parsed))
        })
    }
}

/// Parses JSON, turning serde's failure into a field error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // Syntax first: broken JSON is a 400 even where its start would already mismatch the type.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(AppError::malformed(
                "body",
                "required",
                "the request needs a JSON body",
            ));
        }
        let message = strip_position(&e.to_string());
        return Err(AppError::malformed(
            "body",
            "malformed_json",
            format!("the body is not valid JSON: {message}"),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = strip_position(&inner.to_string());
        match inner.classify() {
            Category::Data => AppError::validation(vec![field_error(&path, &message)]),
            _ => AppError::malformed(
                "body",
                "malformed_json",
                format!("the body is not valid JSON: {message}"),
            ),
        }
    })?;
    de.end().map_err(|_| {
        AppError::malformed(
            "body",
            "malformed_json",
            "the body has data after the JSON value",
        )
    })?;
    Ok(value)
}

/// serde says "missing field `x`" at the parent's path; name the field itself.
fn field_error(path: &str, message: &str) -> FieldError {
    let join = |name: &str| {
        if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_owned);
    let (field, code, message) =
        if let Some(name) = message.strip_prefix("missing field ").and_then(quoted) {
            (join(&name), "required", "is required".to_owned())
        } else if message.starts_with("unknown field") {
            let name = quoted(message).unwrap_or_default();
            (
                join(&name),
                "unknown_field",
                "is not a field of this request".to_owned(),
            )
        } else if message.starts_with("invalid type") {
            (path.to_owned(), "invalid_type", expected(message))
        } else {
            (path.to_owned(), "invalid_value", expected(message))
        };
    let field = if field == "." {
        "body".to_owned()
    } else {
        field
    };
    FieldError {
        field,
        code: code.to_owned(),
        message,
    }
}

/// "invalid type: string \"x\", expected i64" becomes "must be i64": the value sent is
/// never repeated, because it could be a secret typed into the wrong field, and logs
/// keep error texts.
fn expected(message: &str) -> String {
    match message.split_once("expected ") {
        Some((_, what)) => format!("must be {what}"),
        None => "has a value that is not allowed".to_owned(),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        login_id: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        admin: Inner,
        limit: i64,
    }

    fn errors(body: &str) -> Vec<FieldError> {
        match parse::<Outer>(body.as_bytes()).unwrap_err() {
            AppError::Client { errors, .. } => errors,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_nested_field_is_named_by_its_path() {
        let e = errors(r#"{"admin": {}, "limit": 1}"#);
        assert_eq!(
            (e[0].field.as_str(), e[0].code.as_str()),
            ("admin.login_id", "required")
        );
    }

    #[test]
    fn a_wrongly_typed_field_is_named() {
        let e = errors(r#"{"admin": {"login_id": "x"}, "limit": "ten"}"#);
        assert_eq!(
            (e[0].field.as_str(), e[0].code.as_str()),
            ("limit", "invalid_type")
        );
        assert!(!e[0].message.contains("line"));
        assert!(
            !e[0].message.contains("ten"),
            "the value sent is not repeated: {}",
            e[0].message
        );
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        let err = parse::<Outer>(b"{\"admin\": ").unwrap_err();
        assert_eq!(actix_web::ResponseError::status_code(&err), 400);
        let err = parse::<Outer>(b"{\"admin\": {\"login_id\": \"x\"}, \"limit\": 1} trailing")
            .unwrap_err();
        assert_eq!(actix_web::ResponseError::status_code(&err), 400);
    }
}
