//! What `webfb-bench` checks in the database after a run: every transfer it saw confirmed
//! is confirmed, once, by one spent code step and one audit event.

use diesel::dsl::{count, count_star};
use diesel::prelude::*;

use super::DbConn;
use super::schema::{audit_events, otp_step_uses, transfers, users};

/// Counts over the transfers made by people whose login IDs start with a prefix.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Confirmations {
    /// Transfers in state `confirmed`.
    pub confirmed: i64,
    /// Of the transfer IDs the caller saw confirmed, those the database has confirmed.
    pub seen_and_confirmed: i64,
    /// Code steps spent on confirming transfers, and the distinct transfers they name.
    pub code_uses: i64,
    pub transfers_with_code: i64,
    /// `transfer_confirmed` audit events, and the distinct transfers they name.
    pub confirm_events: i64,
    pub transfers_with_event: i64,
}

impl Confirmations {
    /// Every count equals the confirmations seen: each confirmed once, none unseen.
    pub fn each_once(&self, seen: i64) -> bool {
        [
            self.confirmed,
            self.seen_and_confirmed,
            self.code_uses,
            self.transfers_with_code,
            self.confirm_events,
            self.transfers_with_event,
        ]
        .iter()
        .all(|&count| count == seen)
    }
}

pub fn confirmations(
    conn: &mut DbConn,
    login_prefix: &str,
    seen_confirmed: &[String],
) -> QueryResult<Confirmations> {
    let pattern = format!("{}%", login_prefix.replace(['%', '_'], ""));
    let people = || {
        users::table
            .filter(users::login_id.like(pattern.clone()))
            .select(users::id)
    };
    let confirmed = transfers::table
        .filter(transfers::created_by.eq_any(people()))
        .filter(transfers::status.eq("confirmed"))
        .select(count_star())
        .first(conn)?;
    // In chunks: both engines bound the parameters of one statement.
    let mut seen_and_confirmed = 0;
    for chunk in seen_confirmed.chunks(500) {
        seen_and_confirmed += transfers::table
            .filter(transfers::id.eq_any(chunk))
            .filter(transfers::status.eq("confirmed"))
            .select(count_star())
            .first::<i64>(conn)?;
    }
    let (code_uses, transfers_with_code) = otp_step_uses::table
        .filter(otp_step_uses::used_by.eq_any(people()))
        .filter(otp_step_uses::purpose.eq("transfer_confirmation"))
        .select((
            count_star(),
            count(otp_step_uses::transfer_id).aggregate_distinct(),
        ))
        .first(conn)?;
    let (confirm_events, transfers_with_event) = audit_events::table
        .filter(audit_events::actor_id.eq_any(people().select(users::id.nullable())))
        .filter(audit_events::action.eq("transfer_confirmed"))
        .filter(audit_events::outcome.eq("success"))
        .select((
            count_star(),
            count(audit_events::target_id).aggregate_distinct(),
        ))
        .first(conn)?;
    Ok(Confirmations {
        confirmed,
        seen_and_confirmed,
        code_uses,
        transfers_with_code,
        confirm_events,
        transfers_with_event,
    })
}
