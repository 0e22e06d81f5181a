//! How people and the bank's monitoring are told of security events: e-mail addresses,
//! webhook subscriptions, and the outbox as the bank sees it.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::outbox::Message;
use crate::db::webhooks::Subscription;
use crate::domain::{self, EmailAddress};
use crate::error::{AppError, Fields};
use crate::service::{hotline, notify};

use super::extract::BankOperator;
use super::json::Json;
use super::personal::PersonView;
use super::{State, blocking};

#[derive(Deserialize, ToSchema)]
pub struct EmailRequest {
    /// `null` removes it.
    #[schema(example = "yamada@yamada-shoji.example.jp", max_length = 254)]
    pub email: Option<String>,
}

/// Sets where a contract's holder (a company's administrator, a personal customer) is
/// told of security events; a company's users' addresses are set by the administrator.
#[utoipa::path(
    operation_id = "setPersonEmail",
    tag = "bank",
    security(("bearer" = [])),
    params(("person_id" = uuid::Uuid, Path, description = "The person's id")),
    request_body = EmailRequest,
    responses((status = 200, body = PersonView))
)]
#[put("/bank/people/{person_id}/email")]
pub(super) async fn set_person_email(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
    body: Json<EmailRequest>,
) -> Result<web::Json<PersonView>, AppError> {
    let id = path.into_inner().to_string();
    let body = body.into_inner()?;
    let mut f = Fields::default();
    let email = body
        .email
        .as_deref()
        .map(|e| f.check("email", EmailAddress::parse(e)));
    f.finish()?;
    let email = email.transpose()?;
    let file = blocking(&state, move |db, svc| {
        hotline::set_email(db, svc, &who.0, &id, email.as_ref())
    })
    .await?;
    Ok(web::Json(file.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct SubscribeRequest {
    /// Where deliveries are POSTed (https in production).
    #[schema(example = "https://siem.bank.example/webfb", max_length = 2000)]
    pub url: String,
    /// Audit actions to deliver (`token_locked`, `otp_replayed`, …), or `["*"]`.
    #[schema(example = json!(["*"]), min_items = 1, max_items = 100)]
    pub event_types: Vec<String>,
}

/// A webhook subscription; the secret is never shown again after creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(format = Uuid)]
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Subscription> for WebhookView {
    fn from(s: Subscription) -> Self {
        WebhookView {
            event_types: serde_json::from_str(&s.event_types).unwrap_or_default(),
            id: s.id,
            url: s.url,
            created_at: s.created_at.and_utc(),
        }
    }
}

/// A new subscription with its signing secret (Standard Webhooks `whsec_…`): verify each
/// delivery's `webhook-signature` over `webhook-id.webhook-timestamp.body`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewWebhookView {
    #[serde(flatten)]
    pub subscription: WebhookView,
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

/// Subscribes the bank's monitoring (SIEM, fraud desk) to security events.
#[utoipa::path(
    operation_id = "subscribeWebhook",
    tag = "bank",
    security(("bearer" = [])),
    request_body = SubscribeRequest,
    responses((status = 201, body = NewWebhookView))
)]
#[post("/bank/webhooks")]
pub(super) async fn subscribe_webhook(
    state: State,
    who: BankOperator,
    body: Json<SubscribeRequest>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner()?;
    let mut f = Fields::default();
    let url = f.check("url", webhook_url(&body.url));
    if body.event_types.is_empty() || body.event_types.len() > 100 {
        f.push(
            "event_types",
            domain::Invalid::new("count", "1 to 100 event types"),
        );
    }
    for (i, t) in body.event_types.iter().enumerate() {
        if t != "*" && t.parse::<domain::AuditAction>().is_err() {
            f.push(
                format!("event_types[{i}]"),
                domain::Invalid::new("unknown", "not an audit action"),
            );
        }
    }
    f.finish()?;
    let url = url?;
    let types = body.event_types;
    let (sub, secret) = blocking(&state, move |db, svc| {
        notify::subscribe(db, svc, &who.0, &url, &types)
    })
    .await?;
    Ok(HttpResponse::Created().json(NewWebhookView {
        subscription: sub.into(),
        secret,
    }))
}

fn webhook_url(raw: &str) -> Result<String, domain::Invalid> {
    let url = domain::text_field(raw, 2000)?;
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(' ') {
        return Err(domain::Invalid::new("format", "an http(s) URL"));
    }
    Ok(url)
}

/// The bank's webhook subscriptions.
#[utoipa::path(operation_id = "listWebhooks", tag = "bank", security(("bearer" = [])), responses((status = 200, body = WebhookList)))]
#[get("/bank/webhooks")]
pub(super) async fn list_webhooks(
    state: State,
    _who: BankOperator,
) -> Result<web::Json<WebhookList>, AppError> {
    let subs = blocking(&state, |db, _| notify::subscriptions(db)).await?;
    Ok(web::Json(WebhookList {
        items: subs.into_iter().map(Into::into).collect(),
    }))
}

/// Removes a subscription; its pending messages are not delivered.
#[utoipa::path(
    operation_id = "removeWebhook",
    tag = "bank",
    security(("bearer" = [])),
    params(("webhook_id" = uuid::Uuid, Path, description = "The subscription's id")),
    responses((status = 204, description = "Removed"))
)]
#[delete("/bank/webhooks/{webhook_id}")]
pub(super) async fn remove_webhook(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner().to_string();
    blocking(&state, move |db, svc| {
        notify::unsubscribe(db, svc, &who.0, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A message of the outbox; its id is the stable id receivers deduplicate by.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    #[schema(format = Uuid)]
    pub id: String,
    /// `email` or `webhook`.
    pub channel: String,
    /// The e-mail address, or the webhook subscription's id.
    pub destination: String,
    pub event_type: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<Message> for NotificationView {
    fn from(m: Message) -> Self {
        NotificationView {
            id: m.id,
            channel: m.channel,
            destination: m.destination,
            event_type: m.event_type,
            status: m.status,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at.and_utc(),
            last_error: m.last_error,
            created_at: m.created_at.and_utc(),
            delivered_at: m.delivered_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<NotificationView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// `pending`, `delivered` or `dead`.
    pub status: Option<String>,
    /// `email` or `webhook`.
    pub channel: Option<String>,
    pub event_type: Option<String>,
    /// 1 to 200 (50 by default).
    pub limit: Option<i64>,
}

/// The outbox, newest first: what is pending, delivered or dead.
#[utoipa::path(
    operation_id = "listNotifications",
    tag = "bank",
    security(("bearer" = [])),
    params(NotificationQuery),
    responses((status = 200, body = NotificationList))
)]
#[get("/bank/notifications")]
pub(super) async fn list_notifications(
    state: State,
    _who: BankOperator,
    query: web::Query<NotificationQuery>,
) -> Result<web::Json<NotificationList>, AppError> {
    let q = query.into_inner();
    let mut f = Fields::default();
    let one_of = |field: &str, value: &Option<String>, allowed: &[&str], f: &mut Fields| {
        if value.as_deref().is_some_and(|v| !allowed.contains(&v)) {
            f.push(
                field.to_owned(),
                domain::Invalid::new("unknown", format!("one of {allowed:?}")),
            );
        }
    };
    one_of(
        "status",
        &q.status,
        &["pending", "delivered", "dead"],
        &mut f,
    );
    one_of("channel", &q.channel, &["email", "webhook"], &mut f);
    if q.event_type
        .as_deref()
        .is_some_and(|t| t.parse::<domain::AuditAction>().is_err())
    {
        f.push(
            "event_type",
            domain::Invalid::new("unknown", "not an audit action"),
        );
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        f.push(
            "limit",
            domain::Invalid::new("out_of_range", "must be 1 to 200"),
        );
    }
    f.finish()?;
    let items = blocking(&state, move |db, _| {
        notify::messages(
            db,
            q.status.as_deref(),
            q.channel.as_deref(),
            q.event_type.as_deref(),
            limit,
        )
    })
    .await?;
    Ok(web::Json(NotificationList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Delivers a dead message again, its attempts counted afresh.
#[utoipa::path(
    operation_id = "redeliverNotification",
    tag = "bank",
    security(("bearer" = [])),
    params(("message_id" = uuid::Uuid, Path, description = "The message's id")),
    responses((status = 200, body = NotificationView))
)]
#[post("/bank/notifications/{message_id}/redeliver")]
pub(super) async fn redeliver_notification(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<NotificationView>, AppError> {
    let id = path.into_inner().to_string();
    let message = blocking(&state, move |db, svc| {
        notify::redeliver(db, svc, &who.0, &id)
    })
    .await?;
    Ok(web::Json(message.into()))
}
