//! Sign-in challenges: the single-use, short-lived link between a proven password and the
//! code step. Only a hash of a challenge is stored.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::DbConn;
use super::schema::sign_in_challenges;

pub fn insert(
    conn: &mut DbConn,
    id: &str,
    user_id: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(sign_in_challenges::table)
        .values((
            sign_in_challenges::id.eq(id),
            sign_in_challenges::user_id.eq(user_id),
            sign_in_challenges::created_at.eq(now.naive_utc()),
            sign_in_challenges::expires_at.eq(expires_at.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The person an unused, unexpired challenge was issued to.
pub fn open_for(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<Option<String>> {
    sign_in_challenges::table
        .find(id)
        .filter(sign_in_challenges::used_at.is_null())
        .filter(sign_in_challenges::expires_at.gt(now.naive_utc()))
        .select(sign_in_challenges::user_id)
        .first(conn)
        .optional()
}

/// Uses a challenge up: one row changes for exactly one of any number of racing requests.
pub fn consume(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let used = diesel::update(
        sign_in_challenges::table
            .find(id)
            .filter(sign_in_challenges::used_at.is_null())
            .filter(sign_in_challenges::expires_at.gt(now.naive_utc())),
    )
    .set(sign_in_challenges::used_at.eq(now.naive_utc()))
    .execute(conn)?;
    Ok(used == 1)
}
