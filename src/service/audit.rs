//! The audit log. Every security event is written in the same transaction as the action
//! it records, so the log never claims what did not happen, nor misses what did.
//!
//! Each event carries a MAC of its content; a sealer chains committed events in the order
//! it sees them commit (not id order, which PostgreSQL does not keep), each link a MAC of
//! the one before. The log is read by sealed position, so an event that commits late is
//! never skipped, and `verify` names the first event changed, removed or inserted behind
//! the application's back.

use crate::db::audit::{RowMac, StoredEvent};
use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{AuditEvent, Event};
use crate::domain::transfer::hex;
use crate::error::AppError;

use super::{Person, Services, hmac_sha256, new_id};

pub fn record(conn: &mut DbConn, svc: &Services, event: Event) -> Result<(), AppError> {
    let typed = event.told().then(|| event.clone());
    let (event, mac) = stamped(svc, event);
    if let Some(typed) = &typed {
        super::notify::enqueue(conn, svc, typed, &event)?;
    }
    Ok(db::audit::insert(conn, event, mac)?)
}

/// An event as it is stored, with its MAC, for a statement that writes it together with
/// the change it records. Only an event nobody is told of: `record` writes the outbox row
/// of the others.
pub fn untold(svc: &Services, event: Event) -> Result<(AuditEvent, RowMac), AppError> {
    if event.told() {
        return Err(AppError::Internal(format!(
            "{} is told to people: record it with audit::record",
            event.action.as_str()
        )));
    }
    Ok(stamped(svc, event))
}

fn stamped(svc: &Services, event: Event) -> (AuditEvent, RowMac) {
    let mut event = AuditEvent::written(event, svc.now());
    event.request_id = crate::request_context::request_id();
    let uid = new_id();
    let (key_id, key) = &svc.audit_keys.current;
    let mac = RowMac {
        mac: hex(&hmac_sha256(key, &[event.canonical(&uid).as_bytes()])),
        uid,
        key_id: key_id.clone(),
    };
    (event, mac)
}

/// Whether a stored event is as it was written: its MAC verifies, or it predates MACs.
fn authentic(svc: &Services, stored: &StoredEvent, legacy_until: i64) -> bool {
    let Some(row) = &stored.mac else {
        return stored.event.id <= legacy_until;
    };
    let Some(key) = svc.audit_keys.get(Some(&row.key_id)) else {
        return false;
    };
    let expected = hex(&hmac_sha256(
        key,
        &[stored.event.canonical(&row.uid).as_bytes()],
    ));
    subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), row.mac.as_bytes()).into()
}

/// The chain value of a seal: a MAC of the one before, the position and the event's own
/// MAC (for an event from before MACs, a hash of its content, so it cannot change either).
fn link(key: &[u8], previous: &str, position: i64, stored: &StoredEvent) -> String {
    let legacy;
    let mac = match &stored.mac {
        Some(m) => m.mac.as_str(),
        None => {
            use sha2::Digest;
            legacy = hex(&sha2::Sha256::digest(stored.event.canonical("").as_bytes()));
            legacy.as_str()
        }
    };
    let position = position.to_string();
    let id = stored.event.id.to_string();
    let parts: [&[u8]; 7] = [
        previous.as_bytes(),
        b"|",
        position.as_bytes(),
        b"|",
        id.as_bytes(),
        b"|",
        mac.as_bytes(),
    ];
    hex(&hmac_sha256(key, &parts))
}

/// How far below the highest sealed event id a round searches for unsealed events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealSearch {
    /// Only events numbered after it: cheap, every round.
    New,
    /// The last 10,000 ids too: events that committed late, every few seconds.
    Recent,
    /// The whole trail: at start-up, every few minutes and from the command line.
    Whole,
}

impl SealSearch {
    fn look_back(self) -> i64 {
        match self {
            SealSearch::New => 0,
            SealSearch::Recent => 10_000,
            SealSearch::Whole => i64::MAX,
        }
    }

    /// The search of the sealer's round `round` (counted from 0 at start-up), one round
    /// every 250 ms by default: the whole trail every 2,400th, recent ids every 20th.
    pub fn of_round(round: u64) -> SealSearch {
        match (round % 2_400, round % 20) {
            (0, _) => SealSearch::Whole,
            (_, 0) => SealSearch::Recent,
            _ => SealSearch::New,
        }
    }
}

/// Seals the committed events no seal names yet, searching the whole trail, in one
/// transaction; one sealer at a time across instances. An event whose MAC does not
/// verify is left unsealed and reported. Returns how many it sealed.
pub fn seal(db: &mut Db, svc: &Services) -> Result<usize, AppError> {
    seal_searching(db, svc, SealSearch::Whole)
}

/// `seal`, searching as far back as `search` says.
pub fn seal_searching(db: &mut Db, svc: &Services, search: SealSearch) -> Result<usize, AppError> {
    write_tx(db.conn()?, |conn| {
        // Another instance is sealing: what it seals is what this one would.
        if !db::audit::lock_sealer(conn)? {
            return Ok(0);
        }
        let head = db::audit::head(conn)?;
        // Events from before MACs are sealed in the first round only; after it, a row
        // without a MAC was inserted behind the application's back.
        let legacy = match head {
            None => db::audit::legacy_until(conn)?,
            Some(_) => 0,
        };
        let (mut position, mut chain) = head.unwrap_or_default();
        let (key_id, key) = &svc.audit_keys.current;
        // PostgreSQL numbers an event before it commits, so one can commit after a later
        // one was sealed: a recent search covers the transactions still in flight, and a
        // whole one anything later, without searching the whole trail every round (25 ms
        // a round at 70,000 seals, growing with the trail).
        let newest = db::audit::newest_sealed(conn)?;
        let mut after = newest.saturating_sub(search.look_back()).max(0);
        let mut sealed = 0;
        loop {
            let batch = if after < newest {
                db::audit::unsealed(conn, after, newest, 1000)?
            } else {
                db::audit::events_after(conn, after, 1000)?
            };
            match batch.last() {
                Some(last) => after = last.event.id,
                None if after < newest => {
                    after = newest;
                    continue;
                }
                None => break,
            }
            let mut seals = Vec::with_capacity(batch.len());
            for stored in batch {
                if !authentic(svc, &stored, legacy) {
                    tracing::error!(
                        event = stored.event.id,
                        "an audit event does not verify: it was written behind the application's back; not sealed"
                    );
                    continue;
                }
                position += 1;
                chain = link(key, &chain, position, &stored);
                seals.push(db::audit::NewSeal {
                    position,
                    event_id: stored.event.id,
                    chain: chain.clone(),
                });
            }
            if !seals.is_empty() {
                db::audit::insert_seals(conn, &seals, key_id, svc.now())?;
            }
            sealed += seals.len();
        }
        if sealed > 0 {
            // The head, outside the database: a trail cut short shows against the logs.
            tracing::info!(position, chain = %chain, "audit trail sealed");
        }
        Ok(sealed)
    })
}

/// What `verify` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Intact {
        sealed: i64,
        waiting: usize,
    },
    /// The first finding, in words that name the event.
    Broken(String),
}

/// Walks the chain from the first seal and every event's MAC; read-only. `head` is a
/// position and chain value the sealer logged earlier (an anchor outside the database):
/// the trail must still reach it, so a trail cut short is named too.
pub fn verify(db: &mut Db, svc: &Services, head: Option<(i64, &str)>) -> Result<Verdict, AppError> {
    let conn = db.conn()?;
    let legacy = db::audit::legacy_until(conn)?;
    let mut anchored = head.is_none();
    let (mut expected, mut chain) = (1, String::new());
    loop {
        let seals = db::audit::seals(conn, expected - 1, 1000)?;
        if seals.is_empty() {
            break;
        }
        for seal in seals {
            if seal.position != expected {
                return Ok(Verdict::Broken(format!(
                    "the event sealed at position {expected} was removed, with its seal"
                )));
            }
            let Some(stored) = &seal.event else {
                return Ok(Verdict::Broken(format!(
                    "event {} (position {expected}) was removed",
                    seal.event_id
                )));
            };
            if !authentic(svc, stored, legacy) {
                return Ok(Verdict::Broken(format!(
                    "event {} (position {expected}) was changed",
                    seal.event_id
                )));
            }
            let Some(key) = svc.audit_keys.get(Some(&seal.key_id)) else {
                return Ok(Verdict::Broken(format!(
                    "the seal at position {expected} names an unknown key {:?}",
                    seal.key_id
                )));
            };
            chain = link(key, &chain, expected, stored);
            if chain != seal.chain {
                return Ok(Verdict::Broken(format!(
                    "the seal of event {} (position {expected}) was changed",
                    seal.event_id
                )));
            }
            if let Some((position, value)) = head
                && position == expected
            {
                if value != chain {
                    return Ok(Verdict::Broken(format!(
                        "the trail differs from the anchor at position {position}"
                    )));
                }
                anchored = true;
            }
            expected += 1;
        }
    }
    if let (false, Some((position, _))) = (anchored, head) {
        return Ok(Verdict::Broken(format!(
            "the trail ends at position {} before the anchor at {position}: events were removed from its end",
            expected - 1
        )));
    }
    // Rows no seal names: each must verify (a new event waiting for the sealer), or it
    // was inserted behind the application's back; no two rows share a uid (a copy).
    let sealed_any = expected > 1;
    let mut uids = std::collections::HashSet::new();
    let (mut after, mut waiting) = (0, 0);
    loop {
        let batch = db::audit::events_after(conn, after, 1000)?;
        let Some(last) = batch.last() else {
            break;
        };
        after = last.event.id;
        for stored in &batch {
            let copied = stored
                .mac
                .as_ref()
                .is_some_and(|m| !uids.insert(m.uid.clone()));
            let unsealed_legacy =
                sealed_any && stored.mac.is_none() && !db::audit::is_sealed(conn, stored.event.id)?;
            if copied || unsealed_legacy || !authentic(svc, stored, legacy) {
                return Ok(Verdict::Broken(format!(
                    "event {} was inserted or changed behind the application's back",
                    stored.event.id
                )));
            }
        }
        waiting += batch.len();
    }
    let sealed = expected - 1;
    Ok(Verdict::Intact {
        sealed,
        waiting: waiting.saturating_sub(usize::try_from(sealed).unwrap_or_default()),
    })
}

/// A page of events and the cursor of the next one.
pub struct Page {
    pub events: Vec<AuditEvent>,
    pub next: Option<i64>,
}

/// The administrator's view: their own company's events only; another company's
/// does not exist for them.
pub fn company_log(
    db: &mut Db,
    svc: &Services,
    who: &Person,
    company_id: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<Page, AppError> {
    who.require_admin()?;
    if company_id.is_some_and(|c| c != who.company_id) {
        return Err(AppError::not_found("company"));
    }
    bank_log(db, svc, Some(&who.company_id), after, limit)
}

/// The bank's view: every event, or one company's, in sealed order; `after` is the last
/// position already seen. What has committed is sealed first (unless another instance is
/// sealing), so nothing is missed; a failure to seal still answers what is sealed.
pub fn bank_log(
    db: &mut Db,
    svc: &Services,
    company_id: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<Page, AppError> {
    if let Err(e) = seal(db, svc) {
        tracing::warn!(error = %e, "could not seal before reading the audit log");
    }
    let mut events = db::audit::page(db.conn()?, company_id, after, limit + 1)?;
    let next = if events.len() as i64 > limit {
        events.truncate(limit as usize);
        events.last().and_then(|e| e.position)
    } else {
        None
    };
    Ok(Page { events, next })
}

#[cfg(test)]
mod tests {
    use super::SealSearch;

    #[test]
    fn the_sealer_searches_the_whole_trail_at_start_up_and_every_2400th_round_recent_ids_every_20th()
     {
        assert_eq!(SealSearch::of_round(0), SealSearch::Whole);
        assert_eq!(SealSearch::of_round(1), SealSearch::New);
        assert_eq!(SealSearch::of_round(20), SealSearch::Recent);
        assert_eq!(SealSearch::of_round(2_400), SealSearch::Whole);
        assert_eq!(SealSearch::of_round(2_419), SealSearch::New);
    }
}
