//! Builds the server: pool and migrations, then an `HttpServer` on a bound listener
//! (port 0 in tests, so each test gets its own).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::clock::Clock;
use crate::config::Settings;
use crate::error::{AppError, ErrorCode};
use crate::http::json::BODY_LIMIT;
use crate::http::{ApiDoc, AppState, configure};
use crate::service::Services;

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Connects to the database (failing fast with the engine's own message), runs
    /// migrations and binds the listener. The server starts when `run` is awaited.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let database = settings.database.clone();
        let pool_size = settings.db_pool_size;
        let pool = web::block(move || database.open(pool_size)).await??;
        let services = Services::new(&settings, clock).map_err(|e| anyhow::anyhow!("{e}"))?;
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        tracing::info!(engine = settings.database.engine(), addr = %listener.local_addr()?, "webfb listening");
        let state = web::Data::new(AppState { pool, services });
        let server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::default())
                .app_data(state.clone())
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
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or ctrl-c, then finishes the requests in flight.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&AppError::new(
        ErrorCode::NotFound,
        "no such endpoint",
    ))
}
