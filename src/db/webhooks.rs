//! The bank's webhook subscriptions; each secret is sealed like a token seed.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::DbConn;
use super::schema::webhook_subscriptions as subs;

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = subs)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    /// JSON array of audit actions, or `["*"]`.
    pub event_types: String,
    pub key_id: String,
    pub sealed_secret: Vec<u8>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub removed_at: Option<NaiveDateTime>,
}

impl Subscription {
    pub fn wants(&self, event_type: &str) -> bool {
        serde_json::from_str::<Vec<String>>(&self.event_types)
            .is_ok_and(|types| types.iter().any(|t| t == "*" || t == event_type))
    }
}

pub fn insert(conn: &mut DbConn, s: &Subscription) -> QueryResult<()> {
    diesel::insert_into(subs::table)
        .values(s.clone())
        .execute(conn)?;
    Ok(())
}

/// Subscriptions not removed, oldest first.
pub fn active(conn: &mut DbConn) -> QueryResult<Vec<Subscription>> {
    subs::table
        .filter(subs::removed_at.is_null())
        .order((subs::created_at.asc(), subs::id.asc()))
        .select(Subscription::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Subscription>> {
    subs::table
        .find(id)
        .select(Subscription::as_select())
        .first(conn)
        .optional()
}

pub fn remove(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let removed = diesel::update(subs::table.find(id).filter(subs::removed_at.is_null()))
        .set(subs::removed_at.eq(now.naive_utc()))
        .execute(conn)?;
    Ok(removed == 1)
}
