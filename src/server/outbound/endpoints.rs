//! Webhook endpoints as admins keep them: register (the secret shown once), change what one wants,
//! disable and enable, rotate the secret (the old one keeps signing for 24 hours), the delivery
//! log. Every change is an audit event in the same transaction.
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, PaginatorTrait, QueryOrder, Set, TransactionTrait};

use super::address::{self, UrlRefused};
use crate::app::dto::{WebhookAttemptView, WebhookEndpointInput, WebhookEndpointView, WebhookEventKind, WebhookSecret};
use crate::server::audit;
use crate::server::db::entities::webhook_endpoint;

pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_ENDPOINTS: usize = 50;
/// How long the secret before a rotation still signs.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);
/// Attempts on one page of the delivery log.
pub const LOG_PAGE: u64 = 50;
const SECRET_PREFIX: &str = "whsec_";

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error(transparent)]
    Url(#[from] UrlRefused),
    #[error("a description is at most {MAX_DESCRIPTION_CHARS} characters")]
    DescriptionTooLong,
    #[error("choose at least one event")]
    NoEvents,
    #[error("there are already {MAX_ENDPOINTS} endpoints: remove one first")]
    TooMany,
    #[error("webhook endpoint {0} does not exist")]
    Unknown(i32),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", hex::encode(bytes))
}

/// The input checked: the URL (form and addresses), the description, at least one event.
async fn checked(input: &WebhookEndpointInput, allow_http_loopback: bool) -> Result<(String, String, String), EndpointError> {
    let url = address::parse(&input.url, allow_http_loopback)?;
    address::resolve(&url, allow_http_loopback).await?;
    let description = input.description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(EndpointError::DescriptionTooLong);
    }
    let mut events: Vec<&str> = WebhookEventKind::ALL.iter().filter(|k| input.events.contains(k)).map(|k| k.as_str()).collect();
    events.dedup();
    if events.is_empty() {
        return Err(EndpointError::NoEvents);
    }
    Ok((url.to_string(), description.to_string(), serde_json::to_string(&events).expect("strings serialise")))
}

pub async fn register(
    db: &DatabaseConnection,
    input: &WebhookEndpointInput,
    actor: &str,
    allow_http_loopback: bool,
    now: DateTime<Utc>,
) -> Result<WebhookSecret, EndpointError> {
    let (url, description, events) = checked(input, allow_http_loopback).await?;
    let txn = db.begin().await?;
    if webhook_endpoint::Entity::find().count(&txn).await? >= MAX_ENDPOINTS as u64 {
        return Err(EndpointError::TooMany);
    }
    let secret = new_secret();
    let model = webhook_endpoint::ActiveModel {
        url: Set(url.clone()),
        description: Set(description),
        events: Set(events),
        secret: Set(secret.clone()),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        created_by: Set(actor.to_string()),
        created_at: Set(now),
        disabled_at: Set(None),
        disabled_reason: Set(None),
        failing_since: Set(None),
        retry_at: Set(None),
        lease_owner: Set(None),
        lease_until: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let entry = audit::Entry {
        actor,
        action: "webhook.created",
        object_kind: "webhook",
        object_id: model.id.to_string(),
        summary: format!("registered {url}"),
        reason: None,
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(WebhookSecret { endpoint: view(model, 0), secret })
}

/// Changes the URL, description and events of an endpoint.
pub async fn update(
    db: &DatabaseConnection,
    id: i32,
    input: &WebhookEndpointInput,
    actor: &str,
    allow_http_loopback: bool,
    now: DateTime<Utc>,
) -> Result<WebhookEndpointView, EndpointError> {
    let (url, description, events) = checked(input, allow_http_loopback).await?;
    let txn = db.begin().await?;
    let model = webhook_endpoint::Entity::find_by_id(id).one(&txn).await?.ok_or(EndpointError::Unknown(id))?;
    let mut active: webhook_endpoint::ActiveModel = model.into();
    active.url = Set(url.clone());
    active.description = Set(description);
    active.events = Set(events);
    let model = active.update(&txn).await?;
    let entry =
        audit::Entry { actor, action: "webhook.updated", object_kind: "webhook", object_id: id.to_string(), summary: format!("changed {url}"), reason: None };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    let pending = pending_counts(db).await?;
    Ok(view(model, pending.get(&id).copied().unwrap_or(0)))
}

/// Disables (`reason` given) or enables an endpoint. Enabling clears its failure streak: its
/// pending events are tried again at once, in order.
pub async fn set_disabled(
    db: &DatabaseConnection,
    id: i32,
    reason: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<WebhookEndpointView, EndpointError> {
    let txn = db.begin().await?;
    let model = webhook_endpoint::Entity::find_by_id(id).one(&txn).await?.ok_or(EndpointError::Unknown(id))?;
    let url = model.url.clone();
    let mut active: webhook_endpoint::ActiveModel = model.into();
    let (action, summary) = match reason {
        Some(reason) => {
            active.disabled_at = Set(Some(now));
            active.disabled_reason = Set(Some(reason.chars().take(255).collect()));
            ("webhook.disabled", format!("disabled {url}"))
        }
        None => {
            active.disabled_at = Set(None);
            active.disabled_reason = Set(None);
            active.failing_since = Set(None);
            active.retry_at = Set(None);
            ("webhook.enabled", format!("enabled {url}"))
        }
    };
    let model = active.update(&txn).await?;
    audit::record(&txn, audit::Entry { actor, action, object_kind: "webhook", object_id: id.to_string(), summary, reason }, now).await?;
    txn.commit().await?;
    let pending = pending_counts(db).await?;
    Ok(view(model, pending.get(&id).copied().unwrap_or(0)))
}

/// A new secret, shown once; the old one signs beside it for [`ROTATION_OVERLAP`].
pub async fn rotate_secret(db: &DatabaseConnection, id: i32, actor: &str, now: DateTime<Utc>) -> Result<WebhookSecret, EndpointError> {
    let txn = db.begin().await?;
    let model = webhook_endpoint::Entity::find_by_id(id).one(&txn).await?.ok_or(EndpointError::Unknown(id))?;
    let secret = new_secret();
    let url = model.url.clone();
    let old = model.secret.clone();
    let mut active: webhook_endpoint::ActiveModel = model.into();
    active.secret = Set(secret.clone());
    active.previous_secret = Set(Some(old));
    active.previous_secret_until = Set(Some(now + ROTATION_OVERLAP));
    let model = active.update(&txn).await?;
    let summary = format!("rotated the secret of {url}; the previous one signs until {}", (now + ROTATION_OVERLAP).format("%Y-%m-%d %H:%M UTC"));
    audit::record(
        &txn,
        audit::Entry { actor, action: "webhook.secret_rotated", object_kind: "webhook", object_id: id.to_string(), summary, reason: None },
        now,
    )
    .await?;
    txn.commit().await?;
    let pending = pending_counts(db).await?;
    Ok(WebhookSecret { endpoint: view(model, pending.get(&id).copied().unwrap_or(0)), secret })
}

#[derive(FromQueryResult)]
struct PendingCount {
    endpoint_id: i32,
    n: i64,
}

async fn pending_counts(db: &impl ConnectionTrait) -> Result<std::collections::HashMap<i32, u64>, sea_orm::DbErr> {
    let sql = "SELECT endpoint_id, COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending' GROUP BY endpoint_id";
    let rows = PendingCount::find_by_statement(crate::server::db::statement(db.get_database_backend(), sql, vec![])).all(db).await?;
    Ok(rows.into_iter().map(|r| (r.endpoint_id, r.n.max(0) as u64)).collect())
}

/// Every endpoint, oldest first, with its pending count.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<WebhookEndpointView>, sea_orm::DbErr> {
    let pending = pending_counts(db).await?;
    let models = webhook_endpoint::Entity::find().order_by_asc(webhook_endpoint::Column::Id).all(db).await?;
    Ok(models
        .into_iter()
        .map(|m| {
            let n = pending.get(&m.id).copied().unwrap_or(0);
            view(m, n)
        })
        .collect())
}

pub fn events_of(model: &webhook_endpoint::Model) -> Vec<WebhookEventKind> {
    serde_json::from_str::<Vec<String>>(&model.events).unwrap_or_default().iter().filter_map(|k| WebhookEventKind::parse(k)).collect()
}

fn view(model: webhook_endpoint::Model, pending: u64) -> WebhookEndpointView {
    WebhookEndpointView {
        id: model.id,
        events: events_of(&model),
        url: model.url,
        description: model.description,
        created_by: model.created_by,
        created_at: model.created_at.to_rfc3339(),
        disabled_at: model.disabled_at.map(|t| t.to_rfc3339()),
        disabled_reason: model.disabled_reason,
        failing_since: model.failing_since.map(|t| t.to_rfc3339()),
        pending,
        previous_secret_until: model.previous_secret_until.map(|t| t.to_rfc3339()),
    }
}

#[derive(FromQueryResult)]
struct AttemptRow {
    id: i64,
    created_at: DateTime<Utc>,
    event_id: i64,
    kind: Option<String>,
    manual: bool,
    status_code: Option<i32>,
    error: Option<String>,
    latency_ms: i32,
    response_head: String,
}

/// An endpoint's delivery log, newest first: a page of attempts below the attempt `before`.
pub async fn attempts(db: &impl ConnectionTrait, id: i32, before: Option<i64>) -> Result<Vec<WebhookAttemptView>, EndpointError> {
    webhook_endpoint::Entity::find_by_id(id).one(db).await?.ok_or(EndpointError::Unknown(id))?;
    let sql = "SELECT a.id, a.created_at, a.event_id, e.kind, a.manual, a.status_code, a.error, a.latency_ms, a.response_head \
               FROM webhook_attempts a LEFT JOIN outbox_events e ON e.id = a.event_id \
               WHERE a.endpoint_id = ? AND a.id < ? ORDER BY a.id DESC LIMIT ?";
    let values = vec![id.into(), before.unwrap_or(i64::MAX).into(), (LOG_PAGE as i64).into()];
    let rows = AttemptRow::find_by_statement(crate::server::db::statement(db.get_database_backend(), sql, values)).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| WebhookAttemptView {
            id: r.id,
            at: r.created_at.to_rfc3339(),
            event_id: r.event_id,
            // Event 0 is the test event, which is not in the outbox.
            event_kind: r.kind.unwrap_or_else(|| "test".to_string()),
            manual: r.manual,
            status_code: r.status_code.and_then(|s| u16::try_from(s).ok()),
            error: r.error,
            latency_ms: r.latency_ms.max(0) as u32,
            response_head: r.response_head,
        })
        .collect())
}
