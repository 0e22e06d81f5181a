//! The certificates bound to people.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::CertificateRow;
use super::schema::person_certificates as certs;
use super::{DbConn, Insert, inserted};
use crate::domain::PersonCertificate;

pub fn insert(
    conn: &mut DbConn,
    c: &PersonCertificate,
    registered_by: &str,
) -> QueryResult<Insert> {
    inserted(
        diesel::insert_into(certs::table)
            .values(CertificateRow {
                id: c.id.clone(),
                user_id: c.user_id.clone(),
                fingerprint: c.fingerprint.clone(),
                serial: c.serial.clone(),
                subject: c.subject.clone(),
                not_before: c.not_before.naive_utc(),
                not_after: c.not_after.naive_utc(),
                registered_at: c.registered_at.naive_utc(),
                registered_by: registered_by.to_owned(),
                revoked_at: None,
                revoked_by: None,
            })
            .execute(conn),
    )
}

/// A person's certificates, newest first.
pub fn of_person(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<PersonCertificate>> {
    Ok(certs::table
        .filter(certs::user_id.eq(user_id))
        .order((certs::registered_at.desc(), certs::id.desc()))
        .select(CertificateRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The person's active certificate, if any.
pub fn active_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<PersonCertificate>> {
    Ok(certs::table
        .filter(certs::user_id.eq(user_id))
        .filter(certs::revoked_at.is_null())
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()?
        .map(Into::into))
}

pub fn fingerprint_taken(conn: &mut DbConn, fingerprint: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        certs::table.filter(certs::fingerprint.eq(fingerprint)),
    ))
    .get_result(conn)
}

/// Revokes a person's certificate, once.
pub fn revoke(
    conn: &mut DbConn,
    user_id: &str,
    id: &str,
    by: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let revoked = diesel::update(
        certs::table
            .find(id)
            .filter(certs::user_id.eq(user_id))
            .filter(certs::revoked_at.is_null()),
    )
    .set((
        certs::revoked_at.eq(now.naive_utc()),
        certs::revoked_by.eq(by),
    ))
    .execute(conn)?;
    Ok(revoked == 1)
}
