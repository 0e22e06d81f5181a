//! Builds the server: pool and migrations, then an `HttpServer` on a bound listener
//! (port 0 in tests, so each test gets its own).

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::dev::Service;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, HttpResponse, HttpServer, web};
use tracing::Instrument;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{AppError, ErrorCode};
use crate::http::access;
use crate::http::json::BODY_LIMIT;
use crate::http::metrics::Metrics;
use crate::http::{ApiDoc, AppState, configure};
use crate::request_context;
use crate::service::{Services, notify};

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on a listener of its own, and its port.
    metrics: Option<(u16, Server)>,
}

impl Application {
    /// Connects to the database (failing fast with the engine's own message), runs
    /// migrations and binds the listener. The server starts when `run` is awaited.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let database = settings.database.clone();
        let pool_size = settings.db_pool_size;
        let pool = web::block(move || database.open(pool_size)).await??;
        let services = Services::new(&settings, clock).map_err(|e| anyhow::anyhow!("{e}"))?;
        let checking = pool.clone();
        let services = web::block(move || {
            crate::service::tokens::check_keyring(&mut Db::pooled(&checking), &services)?;
            Ok::<_, AppError>(services)
        })
        .await?
        .map_err(|e| match e {
            AppError::Internal(cause) => anyhow::anyhow!(cause),
            other => anyhow::anyhow!("{other}"),
        })?;
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        tracing::info!(engine = settings.database.engine(), addr = %listener.local_addr()?, "webfb listening");
        let state = web::Data::new(AppState {
            pool,
            services,
            trusted_proxies: settings.trusted_proxies.clone(),
            client_cert_header: settings.tls.client_cert_header.clone(),
            metrics_elsewhere: settings.metrics_bind.is_some(),
        });
        let tls = match &settings.tls.server {
            None => None,
            Some((cert, key)) => {
                let read = |p: &std::path::PathBuf| {
                    std::fs::read(p)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
                };
                let pki = state.services.client_pki.as_ref();
                Some(crate::tls::server_config(&read(cert)?, &read(key)?, pki)?)
            }
        };
        let hsts = tls.is_some();
        if let Some(every) = settings.notifications.dispatch_every {
            let notifications = settings.notifications.clone();
            let mut transports = None;
            every_while_serving(&state, every, "outbox dispatcher", move |db, svc| {
                // Built on this thread: its blocking HTTP client must not live on an async
                // worker.
                let transports = match &mut transports {
                    Some(t) => t,
                    None => transports.insert(notify::Transports::new(&notifications)?),
                };
                notify::dispatch(db, svc, transports).map(drop)
            });
        }
        if settings.notifications.smtp_url.is_none() {
            tracing::warn!("no WEBFB_SMTP_URL: nobody is told of security events by e-mail");
        }
        if let Some(every) = settings.audit_seal_every {
            let mut round = 0u64;
            every_while_serving(&state, every, "audit sealer", move |db, svc| {
                use crate::service::audit::{SealSearch, seal_searching};
                let search = SealSearch::of_round(round);
                round += 1;
                seal_searching(db, svc, search).map(drop)
            });
        }
        let metrics = web::Data::new(Metrics::default());
        let origins = settings.cors_origins.clone();
        let (served_state, served_metrics) = (state.clone(), metrics.clone());
        let server = HttpServer::new(move || {
            let (state, metrics) = (&served_state, &served_metrics);
            App::new()
                .wrap(cors(&origins))
                .wrap_fn({
                    let metrics = metrics.clone();
                    move |mut req, srv| {
                        let docs = req.path().starts_with("/docs");
                        let started = access::start(&mut req);
                        let metrics = metrics.clone();
                        let id = started.request_id.clone();
                        let span = tracing::info_span!("request", request_id = %id);
                        let response = request_context::entering(id.clone(), || srv.call(req));
                        async move {
                            let mut res = request_context::serving(id, response)
                                .instrument(span)
                                .await?;
                            security_headers(res.headers_mut(), docs, hsts);
                            let elapsed = access::finish(&started, &mut res);
                            let (method, status) =
                                (access::method_label(&started.method), res.status());
                            metrics.observe(&started.route, method, status.as_u16(), elapsed);
                            Ok(res)
                        }
                    }
                })
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(web::PayloadConfig::new(BODY_LIMIT))
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|_, _| AppError::not_found("resource").into()),
                )
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    let message = match e {
                        actix_web::error::QueryPayloadError::Deserialize(d) => d.to_string(),
                        _ => "the query string cannot be read".into(),
                    };
                    AppError::malformed("query", "invalid_value", message).into()
                }))
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .configure(configure)
                .into_app()
                .service(
                    SwaggerUi::new("/docs/{_:.*}").config(SwaggerConfig::from("/openapi.json")),
                )
                .route(
                    "/docs",
                    web::get().to(|| async {
                        HttpResponse::PermanentRedirect()
                            .insert_header(("Location", "/docs/"))
                            .finish()
                    }),
                )
                .default_service(web::to(not_found))
        })
        .on_connect(crate::tls::keep_presented_chain);
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config)?,
            None => server.listen(listener)?,
        }
        .run();
        let metrics = match &settings.metrics_bind {
            Some(addr) => Some(metrics_server(addr, state.clone(), metrics.clone())?),
            None => None,
        };
        Ok(Application {
            port,
            server,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, when it has a listener of its own.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// Serves until SIGTERM or ctrl-c, then finishes the requests in flight.
    pub async fn run(self) -> std::io::Result<()> {
        match self.metrics {
            Some((_, metrics)) => futures_util::future::try_join(self.server, metrics)
                .await
                .map(drop),
            None => self.server.await,
        }
    }
}

/// `/metrics` alone on `addr` (`WEBFB_METRICS_BIND`), e.g. an address only the monitoring
/// network reaches.
fn metrics_server(
    addr: &str,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> anyhow::Result<(u16, Server)> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (WEBFB_METRICS_BIND): {e}"))?;
    let port = listener.local_addr()?.port();
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(crate::http::ops::metrics_text))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok((port, server))
}

/// Runs `job` every `every` on a thread of its own (requests and argon2 never wait for
/// it), until the server's state is gone: the audit sealer, the outbox dispatcher.
fn every_while_serving(
    state: &web::Data<AppState>,
    every: std::time::Duration,
    name: &'static str,
    mut job: impl FnMut(&mut Db, &Services) -> Result<(), AppError> + Send + 'static,
) {
    let state = std::sync::Arc::downgrade(&state.clone().into_inner());
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(every);
            let Some(state) = state.upgrade() else {
                return;
            };
            let mut db = Db::pooled(&state.pool);
            if let Err(e) = job(&mut db, &state.services) {
                db.suspect();
                tracing::warn!(error = %e, job = name, "will try again");
            }
        }
    });
}

/// CORS for the bank's own front-ends: exact origins only, bearer tokens (no cookies), so
/// credentials are never allowed, and with no origin configured no browser may call.
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .allowed_header("idempotency-key")
        .max_age(600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Headers on every answer: nothing is cached, sniffed or referred; the API's answers may
/// run no content at all, while the docs page needs its own scripts and styles.
fn security_headers(headers: &mut header::HeaderMap, docs: bool, hsts: bool) {
    if hsts {
        // Only over HTTPS: a browser that reached us securely stays on HTTPS for a year.
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let csp = if docs {
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
    } else {
        "default-src 'none'; frame-ancestors 'none'"
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
}

/// An unknown path is 404; a known path with another method is 405 with `Allow`. The
/// routes are read from the OpenAPI document, which lists exactly what is registered.
async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    static ROUTES: std::sync::OnceLock<Vec<(actix_web::dev::ResourceDef, String)>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        crate::http::openapi::document()
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ];
                let allow: Vec<&str> = methods
                    .iter()
                    .filter(|(_, on)| *on)
                    .map(|(m, _)| *m)
                    .collect();
                (
                    actix_web::dev::ResourceDef::new(path.as_str()),
                    allow.join(", "),
                )
            })
            .collect()
    });
    match routes.iter().find(|(def, _)| def.is_match(req.path())) {
        Some((_, allow)) => {
            let mut res = actix_web::ResponseError::error_response(&AppError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed here; allowed: {allow}", req.method()),
            ));
            if let Ok(value) = HeaderValue::from_str(allow) {
                res.headers_mut().insert(header::ALLOW, value);
            }
            res
        }
        None => actix_web::ResponseError::error_response(&AppError::new(
            ErrorCode::NotFound,
            "no such endpoint",
        )),
    }
}
