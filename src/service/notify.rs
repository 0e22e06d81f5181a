//! People and the bank's monitoring are told of security events through an outbox: the
//! action's transaction writes a message beside its audit event, so a message exists if
//! and only if the action committed. A dispatcher in every instance delivers them — by
//! e-mail (SMTP) and by webhooks signed as Standard Webhooks does — at least once, each
//! with a stable id, retrying with exponential backoff and jitter, dead after a number of
//! attempts. Never a code, seed or password in a message: audit events carry none.

use std::time::Duration;

use base64::Engine as _;
use rand::Rng;
use secrecy::ExposeSecret;

use crate::config::NotificationSettings;
use crate::db::outbox::{self, Message, PENDING};
use crate::db::webhooks::Subscription;
use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{ActorKind, AuditAction, AuditEvent, Event, Outcome};
use crate::error::{AppError, ErrorCode};
use crate::otp::seal::Sealed;

use super::{Operator, Services, audit, hmac_sha256, new_id};

pub const EMAIL: &str = "email";
pub const WEBHOOK: &str = "webhook";

/// In the action's transaction: the messages its audit event calls for.
pub(super) fn enqueue(
    conn: &mut DbConn,
    svc: &Services,
    event: &Event,
    written: &AuditEvent,
) -> Result<(), AppError> {
    let now = svc.now();
    let message = |channel: &str, destination: String, payload: String| Message {
        id: new_id(),
        channel: channel.to_owned(),
        destination,
        event_type: written.action.clone(),
        payload,
        status: PENDING.to_owned(),
        attempts: 0,
        next_attempt_at: now.naive_utc(),
        claimed_until: None,
        last_error: None,
        created_at: now.naive_utc(),
        delivered_at: None,
    };
    let payload = serde_json::json!({
        "type": written.action,
        "timestamp": written.occurred_at,
        "data": {
            "company_id": written.company_id,
            "actor_kind": written.actor_kind,
            "actor_id": written.actor_id,
            "target_kind": written.target_kind,
            "target_id": written.target_id,
            "outcome": written.outcome,
            "client_addr": written.client_addr,
        },
    })
    .to_string();
    if svc.notifications.smtp_url.is_some() && event.action != AuditAction::WebhookDeadLettered {
        for address in addresses(conn, event)? {
            outbox::insert(conn, &message(EMAIL, address, payload.clone()))?;
        }
    }
    for sub in db::webhooks::active(conn)? {
        // A dead-lettered webhook is not told of its own death.
        let about_itself = event.target.as_ref().is_some_and(|(_, id)| *id == sub.id);
        if sub.wants(&written.action) && !about_itself {
            outbox::insert(conn, &message(WEBHOOK, sub.id, payload.clone()))?;
        }
    }
    Ok(())
}

/// Who is told by e-mail: the person concerned (for a transfer waiting for approvals, its
/// approvers) and their contract's holder (the company's administrator, or the personal
/// customer), once each, where they have an address.
fn addresses(conn: &mut DbConn, event: &Event) -> Result<Vec<String>, AppError> {
    let mut people: Vec<String> = Vec::new();
    match &event.target {
        Some(("user", id)) => people.push(id.clone()),
        Some(("token", id)) => {
            people.extend(
                db::soft_tokens::get(conn, id)
                    .ok()
                    .and_then(|t| t.holder_id),
            );
        }
        // A transfer waiting for approvals: everyone who may approve it now.
        Some(("transfer", _)) if event.action == AuditAction::TransferAwaitingApproval => {
            if let Some(company) = &event.company_id {
                people.extend(
                    db::users::approvers_of(conn, company)?
                        .into_iter()
                        .map(|u| u.id),
                );
            }
        }
        _ => {}
    }
    if event.actor_kind == ActorKind::Person {
        people.extend(event.actor_id.clone());
    }
    if let Some(company) = &event.company_id
        && let Ok(holder) = db::users::holder_of(conn, company)
    {
        people.push(holder.id);
    }
    let mut addresses: Vec<String> = Vec::new();
    for id in people {
        if let Some(email) = db::users::find(conn, &id)?.and_then(|u| u.email)
            && !addresses.contains(&email)
        {
            addresses.push(email);
        }
    }
    Ok(addresses)
}

/// How a dispatcher reaches the outside world.
pub struct Transports {
    mailer: Option<(lettre::SmtpTransport, lettre::message::Mailbox)>,
    http: reqwest::blocking::Client,
}

impl Transports {
    pub fn new(settings: &NotificationSettings) -> Result<Transports, AppError> {
        let mailer = match &settings.smtp_url {
            None => None,
            Some(url) => {
                let transport = lettre::SmtpTransport::from_url(url.expose_secret())
                    .map_err(|e| AppError::Internal(format!("WEBFB_SMTP_URL: {e}")))?
                    .timeout(Some(Duration::from_secs(10)))
                    .build();
                let from = settings
                    .mail_from
                    .parse()
                    .map_err(|e| AppError::Internal(format!("WEBFB_MAIL_FROM: {e}")))?;
                Some((transport, from))
            }
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(settings.webhook_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AppError::Internal(format!("webhook client: {e}")))?;
        Ok(Transports { mailer, http })
    }
}

/// Delivers what is due, a batch at a time; returns how many were delivered.
pub fn dispatch(db: &mut Db, svc: &Services, transports: &Transports) -> Result<usize, AppError> {
    let now = svc.now();
    // Long enough for the whole batch at the slowest: each message's own timeout.
    let slowest = svc
        .notifications
        .webhook_timeout
        .max(Duration::from_secs(10))
        + Duration::from_secs(5);
    let lease =
        now + chrono::Duration::from_std(slowest * BATCH).unwrap_or(chrono::Duration::hours(1));
    let claimed = write_tx(db.conn()?, |conn| {
        outbox::claim(conn, now, lease, i64::from(BATCH))
    })?;
    let lease = lease.naive_utc();
    let mut delivered = 0;
    for message in claimed {
        let outcome = deliver(db, svc, transports, &message);
        let conn = db.conn()?;
        match outcome {
            Ok(()) => {
                outbox::delivered(conn, &message.id, lease, svc.now())?;
                svc.deliveries.count("delivered");
                delivered += 1;
            }
            Err(error) if message.attempts >= svc.notifications.max_attempts => {
                write_tx(conn, |conn| {
                    outbox::failed(conn, &message.id, &error, None, lease)?;
                    dead_lettered(conn, svc, &message, &error)
                })?;
                svc.deliveries.count("dead");
            }
            Err(error) => {
                let retry = svc.now() + backoff(message.attempts);
                outbox::failed(conn, &message.id, &error, Some(retry), lease)?;
                svc.deliveries.count("retried");
            }
        }
    }
    Ok(delivered)
}

/// Messages claimed at once.
const BATCH: u32 = 5;

/// 5 s, 10 s, 20 s … up to an hour, each ±20 % so that retries of many do not align.
fn backoff(attempts: i32) -> chrono::Duration {
    let base = 5_f64 * 2_f64.powi(attempts.clamp(1, 20) - 1);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    chrono::Duration::milliseconds((base.min(3600.0) * jitter * 1000.0) as i64)
}

/// A webhook's message is dead: the bank's monitoring is told (by the other webhooks),
/// and the audit log says so.
fn dead_lettered(
    conn: &mut DbConn,
    svc: &Services,
    message: &Message,
    error: &str,
) -> Result<(), AppError> {
    if message.channel != WEBHOOK || message.event_type == AuditAction::WebhookDeadLettered.as_str()
    {
        return Ok(());
    }
    let event = Event::new(
        AuditAction::WebhookDeadLettered,
        Outcome::Failure,
        ActorKind::System,
    )
    .target("webhook", &message.destination)
    .detail(serde_json::json!({
        "message": message.id,
        "event_type": message.event_type,
        "attempts": message.attempts,
        "error": error,
    }));
    audit::record(conn, svc, event)
}

fn deliver(
    db: &mut Db,
    svc: &Services,
    transports: &Transports,
    message: &Message,
) -> Result<(), String> {
    match message.channel.as_str() {
        EMAIL => {
            let (mailer, from) = transports
                .mailer
                .as_ref()
                .ok_or("no SMTP server configured")?;
            let mail = email(message, from.clone())?;
            lettre::Transport::send(mailer, &mail).map_err(|e| format!("smtp: {e}"))?;
            Ok(())
        }
        WEBHOOK => {
            let sub =
                db::webhooks::find(db.conn().map_err(|e| e.to_string())?, &message.destination)
                    .map_err(|e| e.to_string())?
                    .filter(|s| s.removed_at.is_none())
                    .ok_or("the subscription was removed")?;
            let secret = webhook_secret(svc, &sub)?;
            let timestamp = svc.now().timestamp().to_string();
            let signed = format!("{}.{}.{}", message.id, timestamp, message.payload);
            let signature = base64::engine::general_purpose::STANDARD
                .encode(hmac_sha256(&secret, &[signed.as_bytes()]));
            let response = transports
                .http
                .post(&sub.url)
                .header("content-type", "application/json")
                .header("webhook-id", &message.id)
                .header("webhook-timestamp", &timestamp)
                .header("webhook-signature", format!("v1,{signature}"))
                .body(message.payload.clone())
                .send()
                // Without the URL: it may carry credentials, and this text is shown.
                .map_err(|e| format!("webhook: {}", e.without_url()))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("webhook answered {}", response.status()))
            }
        }
        other => Err(format!("unknown channel {other}")),
    }
}

fn webhook_secret(svc: &Services, sub: &Subscription) -> Result<Vec<u8>, String> {
    let sealed = Sealed {
        key_id: sub.key_id.clone(),
        ciphertext: sub.sealed_secret.clone(),
    };
    svc.keyring
        .open(&sub.id, &sealed)
        .map(|s| s.expose_secret().to_vec())
        .map_err(|e| format!("the subscription's secret does not open: {e}"))
}

/// The e-mail of a message: Japanese then English, the event and when, never a secret.
fn email(message: &Message, from: lettre::message::Mailbox) -> Result<lettre::Message, String> {
    let payload: serde_json::Value =
        serde_json::from_str(&message.payload).map_err(|e| e.to_string())?;
    let (ja, en) = titles(&message.event_type);
    let when = payload["timestamp"].as_str().unwrap_or_default();
    let body = format!(
        "{ja}\n日時 (UTC): {when}\n心当たりがない場合は、直ちにお取引店へご連絡ください。\n\n\
         {en}\nWhen (UTC): {when}\nIf this was not you, call your branch at once.\n\n\
         Event: {}\nMessage ID: {}\n",
        message.event_type, message.id
    );
    lettre::Message::builder()
        .from(from)
        .to(message
            .destination
            .parse()
            .map_err(|e| format!("address: {e}"))?)
        .subject(format!("[webfb] {ja} / {en}"))
        .message_id(Some(format!("<{}@webfb>", message.id)))
        .header(EventHeader(message.event_type.clone()))
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())
}

/// `X-Webfb-Event`: the event, for mail filters.
#[derive(Clone)]
struct EventHeader(String);

impl lettre::message::header::Header for EventHeader {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("X-Webfb-Event")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(EventHeader(s.to_owned()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

fn titles(event_type: &str) -> (&'static str, &'static str) {
    match event_type {
        "token_registered" => ("トークンが登録されました", "A token was registered"),
        "token_unregistered" => ("トークンの登録が解除されました", "A token was unregistered"),
        "token_exchanged" => ("トークンが交換されました", "A token was exchanged"),
        "token_reset" => ("銀行がトークンを初期化しました", "The bank reset a token"),
        "token_suspended" => (
            "銀行がトークンを一時停止しました",
            "The bank suspended a token",
        ),
        "token_reissued" => (
            "銀行がトークンを再発行しました",
            "The bank reissued a token",
        ),
        "token_locked" => (
            "誤ったワンタイムパスワードによりトークンがロックされました",
            "A token was locked after wrong codes",
        ),
        "otp_replayed" => (
            "使用済みのワンタイムパスワードが再度入力されました",
            "A spent one-time code was presented again",
        ),
        "approval_locked" => ("承認用パスワードがロックされました", "Approval was locked"),
        "login_locked" => ("ログインがロックされました", "A login was locked"),
        "otp_stopped" => (
            "ワンタイムパスワードの利用が停止されました",
            "One-time passwords were stopped",
        ),
        _ => (
            "銀行による手続きが行われました",
            "The bank acted on your contract",
        ),
    }
}

/// A new webhook subscription; its secret (`whsec_…`) is shown once and sealed at rest.
pub fn subscribe(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    url: &str,
    event_types: &[String],
) -> Result<(Subscription, String), AppError> {
    let id = new_id();
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let sealed = svc
        .keyring
        .seal(&id, &secret)
        .map_err(|e| AppError::Internal(format!("seal: {e}")))?;
    let sub = Subscription {
        id: id.clone(),
        url: url.to_owned(),
        event_types: serde_json::to_string(event_types)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        key_id: sealed.key_id,
        sealed_secret: sealed.ciphertext,
        created_by: who.operator_id.clone(),
        created_at: svc.now().naive_utc(),
        removed_at: None,
    };
    write_tx(db.conn()?, |conn| {
        db::webhooks::insert(conn, &sub)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::WebhookSubscribed, Outcome::Success)
                .target("webhook", &sub.id)
                .detail(serde_json::json!({ "url": sub.url, "event_types": event_types })),
        )
    })?;
    let shown = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(secret)
    );
    Ok((sub, shown))
}

pub fn subscriptions(db: &mut Db) -> Result<Vec<Subscription>, AppError> {
    Ok(db::webhooks::active(db.conn()?)?)
}

pub fn unsubscribe(db: &mut Db, svc: &Services, who: &Operator, id: &str) -> Result<(), AppError> {
    write_tx(db.conn()?, |conn| {
        if !db::webhooks::remove(conn, id, svc.now())? {
            return Err(AppError::not_found("webhook subscription"));
        }
        outbox::cancel_for(conn, id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::WebhookRemoved, Outcome::Success)
                .target("webhook", id),
        )
    })
}

/// The outbox as the bank sees it, newest first.
pub fn messages(
    db: &mut Db,
    status: Option<&str>,
    channel: Option<&str>,
    event_type: Option<&str>,
    limit: i64,
) -> Result<Vec<Message>, AppError> {
    Ok(outbox::list(
        db.conn()?,
        status,
        channel,
        event_type,
        limit,
    )?)
}

/// A dead message goes out again.
pub fn redeliver(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    id: &str,
) -> Result<Message, AppError> {
    write_tx(db.conn()?, |conn| {
        if !outbox::redeliver(conn, id, svc.now())? {
            return match outbox::find(conn, id)? {
                None => Err(AppError::not_found("message")),
                Some(_) => Err(AppError::new(
                    ErrorCode::NotificationNotDead,
                    "only a dead message is delivered again",
                )),
            };
        }
        audit::record(
            conn,
            svc,
            who.event(AuditAction::NotificationRedelivered, Outcome::Success)
                .target("message", id),
        )?;
        outbox::find(conn, id)?.ok_or_else(|| AppError::not_found("message"))
    })
}

/// Counts of deliveries by outcome, for the metrics.
#[derive(Default)]
pub struct Deliveries {
    pub delivered: std::sync::atomic::AtomicU64,
    pub retried: std::sync::atomic::AtomicU64,
    pub dead: std::sync::atomic::AtomicU64,
}

impl Deliveries {
    fn count(&self, outcome: &str) {
        use std::sync::atomic::Ordering::Relaxed;
        match outcome {
            "delivered" => self.delivered.fetch_add(1, Relaxed),
            "retried" => self.retried.fetch_add(1, Relaxed),
            _ => self.dead.fetch_add(1, Relaxed),
        };
    }
}

/// When the oldest pending message was written, and the counts by status.
pub fn backlog(db: &mut Db) -> Result<outbox::Backlog, AppError> {
    Ok(outbox::backlog(db.conn()?)?)
}
