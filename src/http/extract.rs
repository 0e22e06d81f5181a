//! Who is calling: the signed-in company person or bank operator behind a bearer token.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use ipnet::IpNet;
use rustls_pki_types::CertificateDer;
use std::future::{Ready, ready};

use crate::db::Db;
use crate::domain::transfer::Transfer;
use crate::error::{AppError, ErrorCode};
use crate::service::sessions::Bearer;
use crate::service::{self, Operator, Person, Services};
use crate::tls::PresentedChain;

use super::access::Actor;
use super::{AppState, blocking};

/// A signed-in company person (administrator or user). The token's signature is checked
/// here, on the worker; the session in the use case's own blocking hop (`run`): one hop
/// and one borrowed connection per request.
pub struct SignedIn {
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    addr: Option<String>,
}

impl SignedIn {
    /// Checks that the session is open, then runs `f` as its person on the blocking pool.
    /// Whatever the handler judged of the request before (a `Result` it moves into `f`)
    /// is answered after the session: a caller without one learns nothing more.
    pub async fn run<T, F>(self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut Db, &Services, &Person) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_on(None, move |db, svc, who, _| f(db, svc, who))
            .await
    }

    /// `run` for a request about one transfer, read with the session: `f` gets it if it is
    /// the person's company's.
    pub async fn run_on<T, F>(self, transfer_id: Option<String>, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut Db, &Services, &Person, Option<Transfer>) -> Result<T, AppError>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let SignedIn {
            req,
            state,
            bearer,
            addr,
        } = self;
        let person_id = bearer.person_id().map(str::to_owned);
        let checked = Arc::new(AtomicBool::new(false));
        let session_open = checked.clone();
        let answer = blocking(&state, move |db, svc| {
            let named = transfer_id.as_deref();
            let (who, transfer) =
                service::sessions::authenticate_person(db, svc, (bearer, addr), named)?;
            session_open.store(true, Ordering::Relaxed);
            f(db, svc, &who, transfer)
        })
        .await;
        // The access log names the person once their session was found open.
        if let Some(id) = person_id.filter(|_| checked.load(Ordering::Relaxed)) {
            req.extensions_mut().insert(Actor { kind: "person", id });
        }
        answer
    }
}

/// A signed-in bank operator.
pub struct BankOperator(pub Operator);

/// The client's address, as the audit log, the logs and throttling know it: the peer,
/// unless the peer is a trusted proxy (`WEBFB_TRUSTED_PROXIES`), whose `X-Forwarded-For`
/// then names it. Nobody else's header is believed: anyone can write one.
pub fn client_addr(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.trusted_proxies.as_slice())
        .unwrap_or_default();
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some(resolve(peer, &forwarded.join(","), trusted).to_string())
}

/// Walks the forwarded hops from the nearest: the first that is not a trusted proxy is
/// the client. A hop that cannot be read stops the walk at the proxy that wrote it.
fn resolve(peer: IpAddr, forwarded: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    if !is_trusted(&client) {
        return client;
    }
    for hop in forwarded
        .rsplit(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            return client;
        };
        client = ip;
        if !is_trusted(&client) {
            return client;
        }
    }
    client
}

/// The certificate chain the caller presented: on this TLS connection, or, behind a
/// trusted proxy that verified it, in the header it sets (`WEBFB_CLIENT_CERT_HEADER`,
/// URL-encoded PEM). Anyone else's header is ignored: anyone can write one.
pub fn presented_certificate(req: &HttpRequest) -> Option<Vec<CertificateDer<'static>>> {
    // A trusted proxy's word about its client comes first: its own connection may carry
    // the proxy's certificate.
    from_trusted_proxy(req).or_else(|| req.conn_data::<PresentedChain>().map(|c| c.0.clone()))
}

fn from_trusted_proxy(req: &HttpRequest) -> Option<Vec<CertificateDer<'static>>> {
    let state = req.app_data::<web::Data<AppState>>()?;
    let header = state.client_cert_header.as_deref()?;
    let peer = req.peer_addr()?.ip();
    if !state.trusts_proxy(peer) {
        return None;
    }
    let value = req.headers().get(header)?.to_str().ok()?;
    let pem = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .ok()?;
    crate::pki::certificates("certificate header", pem.as_bytes()).ok()
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

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let signed_in = || {
            let state = state(req)?;
            let bearer = service::sessions::verify(&state.services, &bearer(req)?)?;
            let addr = client_addr(req);
            Ok(SignedIn {
                req: req.clone(),
                state,
                bearer,
                addr,
            })
        };
        ready(signed_in())
    }
}

impl FromRequest for BankOperator {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = bearer(req).and_then(|token| Ok((token, state(req)?)));
        let addr = client_addr(req);
        let req = req.clone();
        Box::pin(async move {
            let (token, state) = found?;
            let operator = blocking(&state, move |db, svc| {
                service::sessions::authenticate_operator(db, svc, &token, addr)
            })
            .await?;
            let actor = Actor {
                kind: "operator",
                id: operator.operator_id.clone(),
            };
            req.extensions_mut().insert(actor);
            Ok(BankOperator(operator))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_claims() {
        assert_eq!(
            resolve(ip("198.51.100.7"), "203.0.113.9", &[]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client put a fake hop first; the proxy appended the real one.
        let hops = "1.2.3.4, 203.0.113.9";
        assert_eq!(resolve(ip("10.0.0.2"), hops, &trusted), ip("203.0.113.9"));
        let chain = "203.0.113.9, 10.0.0.5";
        assert_eq!(resolve(ip("10.0.0.2"), chain, &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_proxy_that_wrote_it() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), "203.0.113.9, junk", &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(resolve(ip("10.0.0.2"), "", &trusted), ip("10.0.0.2"));
    }
}
