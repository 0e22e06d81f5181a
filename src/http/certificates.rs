//! The bank binds electronic certificates (電子証明書) to people, revokes them, and
//! requires certificate sign-in per company (seed 002, Q4).

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{self, ContractKind, PersonCertificate};
use crate::error::{AppError, Fields};
use crate::service::{bank, certificates};

use super::bank::{BankResetRequest, CompanyDetail};
use super::extract::BankOperator;
use super::json::Json;
use super::wire::*;
use super::{State, blocking};

/// A certificate as the bank registered it; never a private key.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateView {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub person_id: String,
    /// SHA-256 of the DER certificate, lower-case hex.
    #[schema(
        example = "3f7a9c1e5b2d4f6a8c0e2b4d6f8a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a",
        min_length = 64,
        max_length = 64
    )]
    pub fingerprint: String,
    /// The serial number, lower-case hex.
    pub serial: String,
    #[schema(example = "CN=山田 太郎, O=山田商事株式会社")]
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub registered_at: DateTime<Utc>,
    /// Set once revoked; a person has at most one certificate without it.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<PersonCertificate> for CertificateView {
    fn from(c: PersonCertificate) -> Self {
        CertificateView {
            id: c.id,
            person_id: c.user_id,
            fingerprint: c.fingerprint,
            serial: c.serial,
            subject: c.subject,
            not_before: c.not_before,
            not_after: c.not_after,
            registered_at: c.registered_at,
            revoked_at: c.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateList {
    pub items: Vec<CertificateView>,
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterCertificateRequest {
    /// The person's certificate, PEM (`-----BEGIN CERTIFICATE-----…`), issued by the
    /// bank's CA (`WEBFB_CLIENT_CA`).
    #[schema(min_length = 1, max_length = 16384)]
    pub pem: String,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginMethodRequest {
    pub login_method: LoginMethod,
}

/// Registers a person's certificate (by upload of its PEM): it must be the bank's CA's
/// and valid now; a person has at most one active certificate.
#[utoipa::path(
    operation_id = "registerCertificate",
    tag = "bank",
    security(("bearer" = [])),
    params(("person_id" = uuid::Uuid, Path, description = "The person's id")),
    request_body = RegisterCertificateRequest,
    responses((status = 201, body = CertificateView))
)]
#[post("/bank/people/{person_id}/certificates")]
pub(super) async fn register_certificate(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
    body: Json<RegisterCertificateRequest>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner().to_string();
    let body = body.into_inner()?;
    let mut f = Fields::default();
    let pem = f.check("pem", bounded(&body.pem));
    f.finish()?;
    let pem = pem?;
    let registered = blocking(&state, move |db, svc| {
        certificates::register(db, svc, &who.0, &id, &pem)
    })
    .await?;
    Ok(HttpResponse::Created().json(CertificateView::from(registered)))
}

fn bounded(pem: &str) -> Result<String, domain::Invalid> {
    if pem.trim().is_empty() {
        return Err(domain::Invalid::new(
            "required",
            "the certificate's PEM is required",
        ));
    }
    if pem.len() > 16 * 1024 {
        return Err(domain::Invalid::new("too_long", "at most 16 KiB"));
    }
    Ok(pem.to_owned())
}

/// A person's certificates, newest first.
#[utoipa::path(
    operation_id = "listCertificates",
    tag = "bank",
    security(("bearer" = [])),
    params(("person_id" = uuid::Uuid, Path, description = "The person's id")),
    responses((status = 200, body = CertificateList))
)]
#[get("/bank/people/{person_id}/certificates")]
pub(super) async fn list_certificates(
    state: State,
    _who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<CertificateList>, AppError> {
    let id = path.into_inner().to_string();
    let items = blocking(&state, move |db, _| certificates::list(db, &id)).await?;
    Ok(web::Json(CertificateList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Revokes a person's active certificate at once: it signs in no more.
#[utoipa::path(
    operation_id = "revokeCertificate",
    tag = "bank",
    security(("bearer" = [])),
    params(
        ("person_id" = uuid::Uuid, Path, description = "The person's id"),
        ("certificate_id" = uuid::Uuid, Path, description = "The certificate's id"),
    ),
    request_body = BankResetRequest,
    responses((status = 200, body = CertificateView))
)]
#[post("/bank/people/{person_id}/certificates/{certificate_id}/revoke")]
pub(super) async fn revoke_certificate(
    state: State,
    who: BankOperator,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: Json<BankResetRequest>,
) -> Result<web::Json<CertificateView>, AppError> {
    let (person, certificate) = path.into_inner();
    let (person, certificate) = (person.to_string(), certificate.to_string());
    let reason = body.into_inner()?.into_domain()?;
    let revoked = blocking(&state, move |db, svc| {
        certificates::revoke(db, svc, &who.0, &person, &certificate, &reason)
    })
    .await?;
    Ok(web::Json(revoked.into()))
}

/// How the company's people sign in: `password`, or `certificate` (the person's
/// registered certificate **and** the password; codes work as before).
#[utoipa::path(
    operation_id = "setLoginMethod",
    tag = "bank",
    security(("bearer" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id")),
    request_body = LoginMethodRequest,
    responses((status = 200, body = CompanyDetail))
)]
#[put("/bank/companies/{company_id}/login-method")]
pub(super) async fn set_login_method(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
    body: Json<LoginMethodRequest>,
) -> Result<web::Json<CompanyDetail>, AppError> {
    let id = path.into_inner().to_string();
    let method = body.into_inner()?.login_method.into();
    let file = blocking(&state, move |db, svc| {
        certificates::set_login_method(db, svc, &who.0, &id, method)?;
        bank::get_contract(db, svc, ContractKind::Corporate, &id)
    })
    .await?;
    Ok(web::Json(file.into()))
}
