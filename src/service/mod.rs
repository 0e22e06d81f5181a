//! Use cases, one file per business area. Each takes a [`Db`] lender, owns its
//! transaction, writes its audit events in that same transaction, and returns domain
//! entities. The HTTP layer runs them on the blocking pool.

pub mod approvals;
pub mod audit;
pub mod bank;
pub mod certificates;
mod cursor;
pub mod demo;
pub mod hotline;
pub mod lockout;
pub mod notify;
pub mod otp_management;
pub mod passwords;
pub mod people;
pub mod procedures;
pub mod resync;
pub mod self_service;
pub mod sessions;
pub mod throttle;
pub mod token_import;
pub mod tokens;
pub mod transfers;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use secrecy::ExposeSecret;

use crate::clock::Clock;
use crate::config::{Policy, Settings};
use crate::db::lockout::LockPolicy;
use crate::db::soft_tokens::WithSeed;
use crate::db::{self, DbConn, Insert};
use crate::domain::audit::{ActorKind, AuditAction, Event, Outcome};
use crate::domain::confirmation::transfer_confirmation;
use crate::domain::{
    Company, OtpStatus, Role, Secret, SoftToken, TokenMode, TransferConfirmation, User,
};
use crate::error::{AppError, ErrorCode};
use crate::otp::seal::Keyring;

pub use crate::db::Db;
pub use passwords::Passwords;

/// What every use case may need besides the database: the bank's policy, the clock,
/// password hashing and the session keys.
pub struct Services {
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
    pub passwords: Passwords,
    pub sessions: sessions::SessionKeys,
    pub keyring: Keyring,
    /// Keys the content hash of transfers, one derived from each master key, by key id;
    /// new transfers use the current one.
    pub content_keys: ContentKeys,
    /// Keys the audit trail's MACs and seals, derived from the master keys the same way.
    pub audit_keys: ContentKeys,
    pub throttle: throttle::Throttle,
    /// Transfers refused because their content no longer matched its hash.
    pub tampered_transfers: std::sync::atomic::AtomicU64,
    /// The bank's CA for people's certificates, when certificate sign-in is configured.
    pub client_pki: Option<crate::pki::ClientPki>,
    pub notifications: crate::config::NotificationSettings,
    pub deliveries: notify::Deliveries,
}

/// Reads the bank's client CA and revocation list, if configured.
fn client_pki(settings: &Settings) -> Result<Option<crate::pki::ClientPki>, AppError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path)
            .map_err(|e| AppError::Internal(format!("cannot read {}: {e}", path.display())))
    };
    let Some(ca) = &settings.tls.client_ca else {
        return Ok(None);
    };
    let crl = settings.tls.client_crl.as_deref().map(read).transpose()?;
    crate::pki::ClientPki::load(&read(ca)?, crl.as_deref())
        .map(Some)
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// The keys of transfers' content hashes: each derived from a master key, named by its id.
pub struct ContentKeys {
    pub current: (String, [u8; 32]),
    pub previous: Vec<(String, [u8; 32])>,
}

impl ContentKeys {
    /// One key for `purpose` from each configured master key.
    fn derived(settings: &Settings, purpose: &[u8]) -> ContentKeys {
        ContentKeys {
            current: (
                settings.master_key_id.clone(),
                derive_key(&settings.master_key_bytes(), purpose),
            ),
            previous: settings
                .previous_master_keys
                .iter()
                .map(|(id, key)| (id.clone(), derive_key(key.expose_secret(), purpose)))
                .collect(),
        }
    }

    /// The key with this id; `None` (a transfer from before key ids) is the current one.
    pub fn get(&self, id: Option<&str>) -> Option<&[u8; 32]> {
        let Some(id) = id else {
            return Some(&self.current.1);
        };
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|(key_id, _)| key_id == id)
            .map(|(_, key)| key)
    }
}

impl Services {
    pub fn new(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Services, AppError> {
        Ok(Services {
            policy: settings.policy.clone(),
            clock,
            passwords: Passwords::new(
                settings.argon2,
                settings.argon2_workers,
                settings.argon2_queue,
            )?,
            sessions: sessions::SessionKeys::new(&settings.jwt_secret),
            keyring: settings
                .keyring()
                .map_err(|e| AppError::Internal(e.to_string()))?,
            content_keys: ContentKeys::derived(settings, CONTENT),
            audit_keys: ContentKeys::derived(settings, AUDIT),
            throttle: throttle::Throttle::new(
                settings.policy.checks_per_addr_per_minute,
                settings.policy.checks_per_subject_per_minute,
            ),
            tampered_transfers: Default::default(),
            client_pki: client_pki(settings)?,
            notifications: settings.notifications.clone(),
            deliveries: Default::default(),
        })
    }

    /// Now, to the microsecond: what both engines store, so a stored time compares
    /// equal to the value it was written from (cursors depend on it).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// The OTP status that decides a contract's transactions: its own, unless the bank's
    /// policy asks no code for transactions of its kind.
    pub fn transaction_status(&self, company: &Company) -> OtpStatus {
        if self.codes_for_transactions(company) {
            company.otp_status
        } else {
            OtpStatus::Inactive
        }
    }

    /// Whether the bank asks this kind of contract for codes on transactions.
    pub fn codes_for_transactions(&self, company: &Company) -> bool {
        self.policy.codes_asked(company.kind).for_transactions
    }

    /// How wrong attempts lock `secret`: sign-ins for growing durations, the rest until
    /// someone lifts the lock.
    pub fn lock_policy(&self, secret: Secret) -> LockPolicy<'_> {
        let p = &self.policy;
        let (threshold, durations) = match secret {
            Secret::LoginPassword | Secret::OperatorPassword => {
                (p.login_lockout_threshold, p.login_lock_durations.as_slice())
            }
            Secret::ApprovalPassword => (p.approval_lockout_threshold, &[][..]),
            Secret::TransferPassword => (p.transfer_password_lockout_threshold, &[][..]),
            Secret::TokenCode => (p.otp_lockout_threshold, &[][..]),
        };
        LockPolicy {
            threshold,
            durations,
        }
    }
}

/// A signed-in company person, as established from a live session.
#[derive(Clone, Debug)]
pub struct Person {
    pub user_id: String,
    pub company_id: String,
    pub role: Role,
    /// `None` before sign-in: the self-service flows of the login page prove the password
    /// but open no session.
    pub session_id: Option<String>,
    pub client_addr: Option<String>,
    /// The person and their company as read when they proved who they are (with the
    /// session, in the same request): a use case reads them again only inside its
    /// transaction.
    pub user: User,
    pub company: Company,
    /// The token they hold themself, with its sealed seed, when it was read with them
    /// (`None`: not read).
    held: Option<Option<WithSeed>>,
}

impl Person {
    /// A person who proved who they are, acting now.
    pub fn acting(
        user: User,
        company: Company,
        session_id: Option<String>,
        client_addr: Option<String>,
    ) -> Person {
        Person {
            user_id: user.id.clone(),
            company_id: user.company_id.clone(),
            role: user.role,
            session_id,
            client_addr,
            user,
            company,
            held: None,
        }
    }

    /// `acting`, with the token they hold read in the same statement.
    fn holding(mut self, token: Option<WithSeed>) -> Person {
        self.held = Some(token);
        self
    }

    /// An event of this person's, in their company.
    pub fn event(&self, action: AuditAction, outcome: Outcome) -> Event {
        Event::new(action, outcome, ActorKind::Person)
            .actor(&self.user_id)
            .company(&self.company_id)
            .from_addr(self.client_addr.clone())
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::User | Role::Customer => Err(AppError::forbidden(
                "only the company administrator may do this",
            )),
        }
    }
}

/// A signed-in bank operator.
#[derive(Clone, Debug)]
pub struct Operator {
    pub operator_id: String,
    pub session_id: String,
    pub client_addr: Option<String>,
}

impl Operator {
    pub fn event(&self, action: AuditAction, outcome: Outcome) -> Event {
        Event::new(action, outcome, ActorKind::Operator)
            .actor(&self.operator_id)
            .from_addr(self.client_addr.clone())
    }
}

/// The system acting on its own (expiry, the command line).
fn system_event(action: AuditAction) -> Event {
    Event::new(action, Outcome::Success, ActorKind::System)
}

/// A refusal whose bookkeeping (counted failures, audit events) must commit with the
/// transaction: `Ok(Err(problem))` commits and then answers the problem; `Err` rolls back.
type Refusable<T> = Result<Result<T, AppError>, AppError>;

const CONTENT: &[u8] = b"webfb/transfer-content/v1";
const AUDIT: &[u8] = b"webfb/audit-trail/v1";

/// A key for one purpose, from the master key: HMAC-SHA256(master, purpose).
pub(crate) fn derive_key(master: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    hmac_sha256(master, &[purpose])
}

/// HMAC-SHA256 of the parts, one after the other.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The token that confirms `user`'s transfers: their own, or in shared mode the
/// company's token, which the administrator holds.
fn confirming_token(
    conn: &mut DbConn,
    company: &Company,
    user: &User,
) -> Result<Option<SoftToken>, AppError> {
    confirming(conn, (company, user), None, db::soft_tokens::held_by)
}

/// `confirming_token` of the person acting, as their company and they were read with their
/// session: the token they hold was read with them.
fn acting_token(conn: &mut DbConn, who: &Person) -> Result<Option<SoftToken>, AppError> {
    let own = who
        .held
        .as_ref()
        .map(|own| own.as_ref().map(|(token, _)| token.clone()));
    confirming(
        conn,
        (&who.company, &who.user),
        own,
        db::soft_tokens::held_by,
    )
}

/// The confirming token of `confirming_token`: `own`, the token `user` holds when it was
/// read already (`None`: not read), if it is theirs; else read by `read` from its holder.
fn confirming<T>(
    conn: &mut DbConn,
    (company, user): (&Company, &User),
    own: Option<Option<T>>,
    read: fn(&mut DbConn, &str) -> diesel::QueryResult<Option<T>>,
) -> Result<Option<T>, AppError> {
    let holder = confirming_holder(conn, company, user)?;
    match own {
        Some(own) if holder == user.id => Ok(own),
        _ => Ok(read(conn, &holder)?),
    }
}

/// Who holds the token that proves `user`'s transactions: `user`, or the contract's
/// holder, whose token a shared-mode company's users share.
fn confirming_holder(
    conn: &mut DbConn,
    company: &Company,
    user: &User,
) -> Result<String, AppError> {
    Ok(match (company.otp_mode, user.role) {
        (Some(TokenMode::Shared), Role::User) => db::users::holder_of(conn, &company.id)?.id,
        _ => user.id.clone(),
    })
}

/// How `user` confirms a one-off transfer now (SPEC §3, rule 3), given the token that
/// would confirm it.
fn confirmation(
    svc: &Services,
    company: &Company,
    user: &User,
    token: Option<&SoftToken>,
) -> TransferConfirmation {
    transfer_confirmation(
        svc.transaction_status(company),
        user.may_transfer(),
        user.transfer_password_locked,
        SoftToken::state(token),
    )
}

/// A person of the caller's company, or 404: another company's people do not exist.
fn in_company(conn: &mut DbConn, company_id: &str, user_id: &str) -> Result<User, AppError> {
    db::users::in_company(conn, company_id, user_id)?.ok_or_else(|| AppError::not_found("user"))
}

const LOGIN_ID_TAKEN: &str = "this login ID is already in use";

fn ensure_login_id_free(conn: &mut DbConn, login_id: &str) -> Result<(), AppError> {
    if db::users::login_id_taken(conn, login_id)? {
        return Err(AppError::new(ErrorCode::LoginIdTaken, LOGIN_ID_TAKEN));
    }
    Ok(())
}

/// Frees a person's login and transfer password (the administrator's is a bank
/// procedure, `bank::unlock_admin`).
fn unlock_login(conn: &mut DbConn, user_id: &str) -> Result<(), AppError> {
    db::lockout::unlock(conn, Secret::LoginPassword, user_id)?;
    db::lockout::unlock(conn, Secret::TransferPassword, user_id)?;
    Ok(())
}

/// A unique index refused the insert (a taken name, or two creates racing): the conflict
/// a client expects.
fn unless_duplicate(insert: Insert, code: ErrorCode, detail: &str) -> Result<(), AppError> {
    match insert {
        Insert::Done => Ok(()),
        Insert::Duplicate => Err(AppError::new(code, detail)),
    }
}
