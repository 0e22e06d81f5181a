//! Certificate sign-in (電子証明書方式, seed 002 Q4): the bank binds a certificate to a
//! person and revokes it, and requires certificate sign-in per contract. At sign-in the
//! presented certificate must be the person's active one, issued by the bank's CA, valid
//! now and not revoked — on top of the right password.

use rustls_pki_types::CertificateDer;

use crate::db::{self, Db, DbConn, Insert, write_tx};
use crate::domain::audit::{AuditAction, Outcome};
use crate::domain::{Company, ContractKind, Invalid, LoginMethod, PersonCertificate};
use crate::error::{AppError, ErrorCode};
use crate::pki;

use super::{Operator, Services, audit, new_id};

fn configured(svc: &Services) -> Result<&pki::ClientPki, AppError> {
    svc.client_pki.as_ref().ok_or_else(|| {
        AppError::new(
            ErrorCode::CertificatesNotConfigured,
            "certificate sign-in needs the bank's client CA (WEBFB_CLIENT_CA)",
        )
    })
}

/// Binds a certificate (PEM) to a person: it must be the bank's CA's, valid now; a
/// person has at most one active certificate, and a certificate serves one person, once.
pub fn register(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    person_id: &str,
    pem: &str,
) -> Result<PersonCertificate, AppError> {
    let ca = configured(svc)?;
    let refused = |reason: String| AppError::field("pem", Invalid::new("certificate", reason));
    let chain = pki::certificates("pem", pem.as_bytes()).map_err(|e| refused(e.to_string()))?;
    if chain.len() != 1 {
        return Err(refused("send exactly one certificate: the person's".into()));
    }
    ca.verify(&chain, svc.now()).map_err(|why| {
        refused(format!(
            "not a valid certificate of the bank's CA now: {why}"
        ))
    })?;
    let facts = pki::facts(&chain[0]).map_err(refused)?;
    write_tx(db.conn()?, |conn| {
        let person =
            db::users::find(conn, person_id)?.ok_or_else(|| AppError::not_found("person"))?;
        if db::certificates::active_of(conn, &person.id)?.is_some() {
            return Err(AppError::new(
                ErrorCode::CertificateAlreadyRegistered,
                "this person has an active certificate: revoke it first",
            ));
        }
        let in_use = || {
            AppError::new(
                ErrorCode::CertificateInUse,
                "this certificate was registered before; a certificate serves one person, once",
            )
        };
        if db::certificates::fingerprint_taken(conn, &facts.fingerprint)? {
            return Err(in_use());
        }
        let certificate = PersonCertificate {
            id: new_id(),
            user_id: person.id.clone(),
            fingerprint: facts.fingerprint,
            serial: facts.serial,
            subject: facts.subject,
            not_before: facts.not_before,
            not_after: facts.not_after,
            registered_at: svc.now(),
            revoked_at: None,
        };
        match db::certificates::insert(conn, &certificate, &who.operator_id)? {
            Insert::Done => {}
            // A racing registration for the same person or certificate won.
            Insert::Duplicate => return Err(in_use()),
        }
        audit::record(
            conn,
            svc,
            who.event(AuditAction::CertificateRegistered, Outcome::Success)
                .company(&person.company_id)
                .target("user", &person.id)
                .detail(serde_json::json!({
                    "certificate": certificate.id,
                    "fingerprint": certificate.fingerprint,
                    "serial": certificate.serial,
                })),
        )?;
        Ok(certificate)
    })
}

/// Revokes a person's active certificate at once; audited with the reason.
pub fn revoke(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    person_id: &str,
    certificate_id: &str,
    reason: &str,
) -> Result<PersonCertificate, AppError> {
    write_tx(db.conn()?, |conn| {
        let person =
            db::users::find(conn, person_id)?.ok_or_else(|| AppError::not_found("person"))?;
        if !db::certificates::revoke(
            conn,
            &person.id,
            certificate_id,
            &who.operator_id,
            svc.now(),
        )? {
            return Err(AppError::not_found("active certificate"));
        }
        audit::record(
            conn,
            svc,
            who.event(AuditAction::CertificateRevoked, Outcome::Success)
                .company(&person.company_id)
                .target("user", &person.id)
                .detail(serde_json::json!({ "certificate": certificate_id, "reason": reason })),
        )?;
        db::certificates::of_person(conn, &person.id)?
            .into_iter()
            .find(|c| c.id == certificate_id)
            .ok_or_else(|| AppError::Internal("a revoked certificate vanished".into()))
    })
}

pub fn list(db: &mut Db, person_id: &str) -> Result<Vec<PersonCertificate>, AppError> {
    let conn = db.conn()?;
    db::users::find(conn, person_id)?.ok_or_else(|| AppError::not_found("person"))?;
    Ok(db::certificates::of_person(conn, person_id)?)
}

/// The bank requires (or no longer requires) certificate sign-in for a company.
pub fn set_login_method(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    company_id: &str,
    method: LoginMethod,
) -> Result<(), AppError> {
    if method == LoginMethod::Certificate {
        configured(svc)?;
    }
    write_tx(db.conn()?, |conn| {
        let company = db::companies::find(conn, company_id)?
            .filter(|c| c.kind == ContractKind::Corporate)
            .ok_or_else(|| AppError::not_found("company"))?;
        db::companies::set_login_method(conn, &company.id, method, svc.now())?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::LoginMethodSet, Outcome::Success)
                .company(&company.id)
                .target("company", &company.id)
                .detail(serde_json::json!({ "login_method": method.as_str() })),
        )
    })
}

/// At sign-in, after the right password: whether the contract asks for a certificate
/// and the presented one is the person's active certificate, issued by the bank's CA,
/// valid now and not revoked. `Ok(Err(reason))` is a refusal, for the audit log only.
pub(super) fn check_at_sign_in(
    conn: &mut DbConn,
    svc: &Services,
    company: &Company,
    user_id: &str,
    presented: Option<&[CertificateDer<'static>]>,
) -> Result<Result<(), String>, AppError> {
    if company.login_method == LoginMethod::Password {
        return Ok(Ok(()));
    }
    let Some(ca) = svc.client_pki.as_ref() else {
        return Ok(Err("certificate sign-in is not configured".into()));
    };
    let Some(chain) = presented.filter(|c| !c.is_empty()) else {
        return Ok(Err("no certificate".into()));
    };
    if let Err(why) = ca.verify(chain, svc.now()) {
        return Ok(Err(format!("certificate refused: {why}")));
    }
    let presented = pki::fingerprint(chain[0].as_ref());
    let bound = db::certificates::active_of(conn, user_id)?;
    let matches = bound.is_some_and(|c| {
        subtle::ConstantTimeEq::ct_eq(c.fingerprint.as_bytes(), presented.as_bytes()).into()
    });
    Ok(if matches {
        Ok(())
    } else {
        Err(format!(
            "certificate {presented} is not this person's active certificate"
        ))
    })
}
