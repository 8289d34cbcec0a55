//! PayPal dispute webhooks and their reconciliation.
//!
//! `POST /webhooks/paypal`: the delivery is verified by asking PayPal (verify-webhook-signature)
//! and then processed once per event id: the event id is recorded in the same database
//! transaction as its effect, so a replay changes nothing. Because deliveries can be lost (our
//! endpoint down, a network cut), a job lists PayPal's webhook events on a schedule and processes
//! whatever was missed through the same function.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait, TryInsertResult};
use serde_json::Value;

use super::client::PaypalError;
use super::wire;
use crate::server::db;
use crate::server::db::entities::{dispute, paypal_account, webhook_event};
use crate::server::AppState;

/// The reconciliation re-reads this much before its last position: events are listed by their
/// creation time, and a late-committed event must not fall between two runs.
const RECONCILE_OVERLAP: chrono::Duration = chrono::Duration::minutes(10);
/// First run: how far back to look.
const RECONCILE_FIRST_LOOKBACK: chrono::Duration = chrono::Duration::days(3);
const CURSOR: &str = "paypal_webhook_events";

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("PayPal webhooks are not configured (PAYPAL_WEBHOOK_ID)")]
    NotConfigured,
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the body is not a PayPal event")]
    NotAnEvent,
    #[error("the signature did not verify")]
    Unverified,
    #[error("PayPal could not be asked to verify the signature ({})", .0.kind())]
    Upstream(PaypalError),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

/// What processing an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processed {
    /// First time seen: its effect is stored.
    New,
    /// Seen before (a replay, or already reconciled): nothing changed.
    AlreadyProcessed,
}

pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match receive(&state, &headers, &body).await {
        Ok(processed) => (StatusCode::OK, Json(serde_json::json!({ "processed": processed == Processed::New }))).into_response(),
        Err(err) => {
            let status = match &err {
                WebhookError::NotConfigured | WebhookError::Upstream(_) => StatusCode::SERVICE_UNAVAILABLE,
                WebhookError::MissingHeader(_) | WebhookError::NotAnEvent => StatusCode::BAD_REQUEST,
                WebhookError::Unverified => StatusCode::UNAUTHORIZED,
                WebhookError::Database(e) => {
                    tracing::error!(kind = db::error_kind(e), "storing a PayPal webhook failed");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
            if status != StatusCode::INTERNAL_SERVER_ERROR {
                tracing::warn!(reason = %err, "PayPal webhook refused");
            }
            // PayPal retries non-2xx deliveries; the reconciliation catches what it gives up on.
            (status, Json(serde_json::json!({ "error": err.to_string() }))).into_response()
        }
    }
}

pub async fn receive(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Processed, WebhookError> {
    let (Some(client), Some(webhook_id)) = (&state.paypal.client, &state.paypal.config.webhook_id) else {
        return Err(WebhookError::NotConfigured);
    };
    let header = |name: &'static str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string).ok_or(WebhookError::MissingHeader(name));
    let request = wire::VerifyWebhookSignature {
        auth_algo: header("paypal-auth-algo")?,
        cert_url: header("paypal-cert-url")?,
        transmission_id: header("paypal-transmission-id")?,
        transmission_sig: header("paypal-transmission-sig")?,
        transmission_time: header("paypal-transmission-time")?,
        webhook_id: webhook_id.clone(),
        webhook_event: std::str::from_utf8(body)
            .ok()
            .and_then(|text| serde_json::value::RawValue::from_string(text.to_string()).ok())
            .ok_or(WebhookError::NotAnEvent)?,
    };
    let event: Value = serde_json::from_slice(body).ok().filter(|e| event_id(e).is_some()).ok_or(WebhookError::NotAnEvent)?;
    if !client.verify_webhook_signature(&request).await.map_err(WebhookError::Upstream)? {
        metrics::counter!("vetted_paypal_webhooks_total", "outcome" => "unverified").increment(1);
        return Err(WebhookError::Unverified);
    }
    let processed = process_event(state.db.primary(), &event, "webhook", Utc::now()).await?;
    after_processing(state, &event, processed, "webhook").await;
    Ok(processed)
}

fn event_id(event: &Value) -> Option<&str> {
    event.get("id").and_then(Value::as_str).filter(|id| !id.is_empty() && id.len() <= 255)
}

/// Applies one event exactly once: the event id and its effect commit together.
pub async fn process_event(db: &DatabaseConnection, event: &Value, source: &str, now: DateTime<Utc>) -> Result<Processed, sea_orm::DbErr> {
    let Some(id) = event_id(event) else { return Ok(Processed::AlreadyProcessed) };
    let event_type = event.get("event_type").and_then(Value::as_str).unwrap_or("").chars().take(128).collect::<String>();
    let txn = db.begin().await?;
    let recorded = webhook_event::Entity::insert(webhook_event::ActiveModel {
        event_id: Set(id.to_string()),
        event_type: Set(event_type.clone()),
        source: Set(source.to_string()),
        received_at: Set(now),
    })
    .on_conflict(OnConflict::new().do_nothing().to_owned())
    .try_insert()
    .exec_without_returning(&txn)
    .await?;
    if !matches!(recorded, TryInsertResult::Inserted(n) if n > 0) {
        txn.rollback().await?;
        return Ok(Processed::AlreadyProcessed);
    }
    if event_type.starts_with("CUSTOMER.DISPUTE.") {
        if let Some(resource) = event.get("resource") {
            store_dispute(&txn, resource, now).await?;
        }
    }
    txn.commit().await?;
    Ok(Processed::New)
}

/// Inserts or updates the dispute the event describes (newer update_time wins).
async fn store_dispute(db: &impl ConnectionTrait, resource: &Value, now: DateTime<Utc>) -> Result<(), sea_orm::DbErr> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let Some(dispute_id) = text(resource, "dispute_id").filter(|id| id.len() <= 255) else { return Ok(()) };
    let time = |key: &str| text(resource, key).and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc));
    let opened_at = time("create_time").unwrap_or(now);
    let updated_at = time("update_time").unwrap_or(opened_at);
    let amount = resource.get("dispute_amount").and_then(|m| serde_json::from_value::<wire::Money>(m.clone()).ok()).and_then(|m| super::snapshot::money(&m));
    let seller = resource
        .get("disputed_transactions")
        .and_then(Value::as_array)
        .and_then(|txs| txs.iter().find_map(|t| t.get("seller").and_then(|s| text(s, "merchant_id"))));
    let merchant_id = match seller {
        Some(paypal_id) => paypal_account::Entity::find().filter(paypal_account::Column::PaypalMerchantId.eq(paypal_id)).one(db).await?.map(|a| a.merchant_id),
        None => None,
    };
    let reason = text(resource, "reason").unwrap_or_else(|| "OTHER".into()).chars().take(64).collect::<String>();
    let status = text(resource, "status").unwrap_or_else(|| "OTHER".into()).chars().take(64).collect::<String>();
    let existing = dispute::Entity::find().filter(dispute::Column::PaypalDisputeId.eq(&dispute_id)).one(db).await?;
    match existing {
        Some(model) if model.updated_at > updated_at => {}
        Some(model) => {
            let mut active: dispute::ActiveModel = model.into();
            active.status = Set(status);
            active.reason = Set(reason);
            active.updated_at = Set(updated_at);
            if let Some(amount) = amount {
                active.amount_minor = Set(amount.minor);
                active.currency = Set(amount.currency);
            }
            if merchant_id.is_some() {
                active.merchant_id = Set(merchant_id);
            }
            active.update(db).await?;
        }
        None => {
            let (amount_minor, currency) = amount.map_or((0, "USD".to_string()), |m| (m.minor, m.currency));
            dispute::ActiveModel {
                paypal_dispute_id: Set(dispute_id),
                merchant_id: Set(merchant_id),
                reason: Set(reason),
                status: Set(status),
                amount_minor: Set(amount_minor),
                currency: Set(currency),
                opened_at: Set(opened_at),
                updated_at: Set(updated_at),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

/// Metrics, and the merchant's cached dispute rate is dropped so the next decision sees it.
async fn after_processing(state: &AppState, event: &Value, processed: Processed, source: &'static str) {
    let outcome = if processed == Processed::New { "new" } else { "duplicate" };
    metrics::counter!("vetted_paypal_webhooks_total", "outcome" => outcome, "source" => source).increment(1);
    if processed == Processed::New {
        if let Some(dispute_id) = event.pointer("/resource/dispute_id").and_then(Value::as_str) {
            if let Ok(Some(d)) = dispute::Entity::find().filter(dispute::Column::PaypalDisputeId.eq(dispute_id)).one(state.db.primary()).await {
                if let Some(merchant_id) = d.merchant_id {
                    crate::server::fraud::ingest::forget_merchant_facts(&state.cache, merchant_id).await;
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileReport {
    pub listed: usize,
    /// Events that had not arrived as webhooks.
    pub filled_in: usize,
}

/// Lists PayPal's webhook events since the last run (with an overlap) and processes the ones
/// not seen yet. The position only moves forward after every listed event was stored and the
/// list was complete.
pub async fn reconcile(state: &AppState, now: DateTime<Utc>) -> Result<ReconcileReport, WebhookError> {
    let Some(client) = &state.paypal.client else { return Err(WebhookError::NotConfigured) };
    let db = state.db.primary();
    let cursor = read_cursor(db).await?;
    let start = cursor.map_or(now - RECONCILE_FIRST_LOOKBACK, |at| at - RECONCILE_OVERLAP);
    // Times go to PayPal in whole seconds: end one second later so this second's events count.
    let (events, complete) = client.webhook_events(start, now + chrono::Duration::seconds(1)).await.map_err(WebhookError::Upstream)?;
    let mut filled_in = 0;
    for event in &events {
        let processed = process_event(db, event, "reconciliation", now).await?;
        if processed == Processed::New {
            filled_in += 1;
            after_processing(state, event, processed, "reconciliation").await;
        }
    }
    // Cut short (more events than one run reads): the next run starts from the same place;
    // what was stored now is skipped then by its event id.
    if complete {
        write_cursor(db, now).await?;
    } else {
        tracing::warn!(listed = events.len(), "PayPal's event list was longer than one reconciliation reads; resuming from the same position");
    }
    if filled_in > 0 {
        tracing::warn!(filled_in, "the reconciliation found PayPal events that never arrived as webhooks");
    }
    Ok(ReconcileReport { listed: events.len(), filled_in })
}

#[derive(sea_orm::FromQueryResult)]
struct CursorRow {
    position: DateTime<Utc>,
}

async fn read_cursor(db: &DatabaseConnection) -> Result<Option<DateTime<Utc>>, sea_orm::DbErr> {
    use sea_orm::FromQueryResult;
    let stmt = crate::server::db::statement(db.get_database_backend(), "SELECT position FROM job_cursors WHERE name = ?", vec![CURSOR.into()]);
    Ok(CursorRow::find_by_statement(stmt).one(db).await?.map(|r| r.position))
}

async fn write_cursor(db: &DatabaseConnection, at: DateTime<Utc>) -> Result<(), sea_orm::DbErr> {
    let sql = "INSERT INTO job_cursors (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position";
    db.execute_raw(crate::server::db::statement(db.get_database_backend(), sql, vec![CURSOR.into(), at.into()])).await?;
    Ok(())
}

/// Runs the reconciliation every `PAYPAL_RECONCILE_INTERVAL_SECS` (first run at start-up).
pub fn spawn_reconciliation(state: AppState) {
    if state.paypal.client.is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.paypal.config.reconcile_interval);
        loop {
            tick.tick().await;
            match reconcile(&state, Utc::now()).await {
                Ok(report) => metrics::counter!("vetted_paypal_reconciled_events_total").increment(report.filled_in as u64),
                Err(e) => tracing::warn!(reason = %e, "PayPal reconciliation failed; it runs again at the next interval"),
            }
        }
    });
}
