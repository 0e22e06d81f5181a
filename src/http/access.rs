//! Around every request: its id (a trusted proxy's `X-Request-Id`, or a new one), echoed
//! on the answer; HEAD answered as GET without a body; one access-log line with the
//! route template, status, latency, client address (resolved from trusted proxies only)
//! and the person or operator signed in — never a body, header value or secret.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};

use crate::error::AppError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Who a request was served for, once its session was checked.
#[derive(Clone, Debug)]
pub struct Actor {
    pub kind: &'static str,
    pub id: String,
}

/// A request as it came in, for its log line and metrics.
pub struct Started {
    pub request_id: String,
    pub method: Method,
    pub route: String,
    client_addr: String,
    at: Instant,
}

/// A proxy's request id is kept only when the proxy is trusted and the id is short and
/// plain; otherwise a new one is made.
fn request_id(req: &ServiceRequest) -> String {
    let trusted = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .zip(req.peer_addr())
        .is_some_and(|(state, peer)| state.trusts_proxy(peer.ip()));
    let given = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        });
    match given {
        Some(id) if trusted => id.to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// The method as a metrics label: the standard ones, else `other` (anyone may send any
/// method name, and each would be a new series).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Before routing: the request's id, and HEAD routed as GET (the server sends no body for
/// a HEAD, with the headers GET would have).
pub fn start(req: &mut ServiceRequest) -> Started {
    let method = req.method().clone();
    if method == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    Started {
        request_id: request_id(req),
        client_addr: super::extract::client_addr(req.request()).unwrap_or_default(),
        method,
        route,
        at: Instant::now(),
    }
}

/// After the answer: the id echoed, and the access-log line. The latency in seconds.
pub fn finish<B>(started: &Started, res: &mut ServiceResponse<B>) -> f64 {
    if let Ok(value) = HeaderValue::from_str(&started.request_id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let elapsed = started.at.elapsed().as_secs_f64();
    let actor = res.request().extensions().get::<Actor>().cloned();
    let problem = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .map(|e| e.code().as_str());
    tracing::info!(
        target: "webfb::access",
        request_id = %started.request_id,
        method = %started.method,
        route = %started.route,
        status = res.status().as_u16(),
        latency_ms = (elapsed * 1e6).round() / 1e3,
        client_addr = %started.client_addr,
        actor_kind = actor.as_ref().map(|a| a.kind),
        actor_id = actor.as_ref().map(|a| a.id.as_str()),
        problem,
        "request"
    );
    elapsed
}
