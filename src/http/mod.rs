//! The HTTP edge, one file per business area: extract, call one use case on the blocking
//! pool, map the result. Wire types live beside their handlers.

pub mod access;
mod approvals;
mod audit;
mod bank;
mod certificates;
pub mod extract;
pub mod json;
pub mod metrics;
mod notifications;
pub mod openapi;
pub mod ops;
mod otp;
mod people;
mod personal;
pub mod problem;
mod procedures;
mod resync;
mod self_service;
mod sessions;
mod token_import;
mod transfers;
mod wire;

use actix_web::web;
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::db::{Db, DbPool};
use crate::error::AppError;
use crate::service::Services;

pub use openapi::{ApiDoc, openapi};

pub struct AppState {
    pub pool: DbPool,
    pub services: Services,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header in which a trusted proxy passes a verified client certificate.
    pub client_cert_header: Option<String>,
    /// `/metrics` is served on its own listener (`WEBFB_METRICS_BIND`), not on this one.
    pub metrics_elsewhere: bool,
}

impl AppState {
    /// Whether a connection from `peer` comes through one of the bank's own proxies.
    pub fn trusts_proxy(&self, peer: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }
}

type State = web::Data<AppState>;

/// Every endpoint, registered through utoipa-actix-web so the document and the router
/// are one list.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ops::health)
        .service(ops::ready)
        .service(ops::openapi_json)
        .service(ops::metrics)
        .service(
            scope("/api/v1")
                .service(sessions::login)
                .service(sessions::login_with_code)
                .service(sessions::logout)
                .service(self_service::self_issue_soft_token)
                .service(self_service::self_register_token)
                .service(self_service::self_stop_otp)
                .service(self_service::self_exchange_token)
                .service(people::get_me)
                .service(people::list_users)
                .service(people::create_user)
                .service(people::update_user)
                .service(people::unlock_user)
                .service(sessions::bank_login)
                .service(sessions::bank_logout)
                .service(bank::create_company)
                .service(bank::list_companies)
                .service(bank::get_company)
                .service(bank::unlock_admin)
                .service(otp::issue_soft_token)
                .service(otp::get_otp_settings)
                .service(otp::set_otp_mode)
                .service(otp::register_admin_token)
                .service(otp::register_user_token)
                .service(otp::unregister_tokens)
                .service(otp::unlock_user_token)
                .service(otp::stop_otp)
                .service(otp::exchange_token)
                .service(bank::unlock_admin_token)
                .service(bank::unlock_approval)
                .service(transfers::create_transfer)
                .service(transfers::list_transfers)
                .service(transfers::get_transfer)
                .service(transfers::confirm_transfer)
                .service(transfers::cancel_transfer)
                .service(approvals::get_approval_policy)
                .service(approvals::set_approval_policy)
                .service(approvals::approve_transfer)
                .service(approvals::reject_transfer)
                .service(procedures::request_procedure)
                .service(procedures::list_procedures)
                .service(procedures::get_procedure)
                .service(procedures::approve_procedure)
                .service(procedures::reject_procedure)
                .service(audit::list_audit_events)
                .service(audit::list_bank_audit_events)
                .service(token_import::import_tokens)
                .service(resync::resync_my_token)
                .service(resync::resync_person_token)
                .service(bank::list_operators)
                .service(personal::open_personal_contract)
                .service(personal::list_personal_contracts)
                .service(personal::get_personal_contract)
                .service(personal::get_person)
                .service(personal::unlock_person_token)
                .service(personal::unlock_person)
                .service(certificates::register_certificate)
                .service(certificates::list_certificates)
                .service(certificates::revoke_certificate)
                .service(certificates::set_login_method)
                .service(notifications::set_person_email)
                .service(notifications::subscribe_webhook)
                .service(notifications::list_webhooks)
                .service(notifications::remove_webhook)
                .service(notifications::list_notifications)
                .service(notifications::redeliver_notification),
        );
}

/// Runs a use case on actix's blocking pool, never on an async worker. It borrows pooled
/// connections as it needs them.
pub async fn blocking<T, F>(state: &web::Data<AppState>, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut Db, &Services) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let state = state.clone();
    let request = crate::request_context::request_id();
    web::block(move || {
        crate::request_context::carrying(request, || {
            let mut db = Db::pooled(&state.pool);
            let answer = f(&mut db, &state.services);
            if matches!(answer, Err(AppError::Internal(_))) {
                db.suspect();
            }
            answer
        })
    })
    .await
    .map_err(|e| AppError::Internal(format!("blocking task: {e}")))?
}
