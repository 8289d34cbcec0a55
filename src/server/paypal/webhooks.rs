//! PayPal dispute webhooks and their reconciliation.
//!
//! `POST /webhooks/paypal` is open to anyone, so a delivery is first checked for free — its
//! headers well-formed, its transmission time within minutes of ours, its certificate URL on
//! PayPal's domain, its body a bounded event — and only then verified by asking PayPal
//! (verify-webhook-signature), through a client of its own: its own breaker, one attempt, and a
//! small budget of calls per minute, so a flood of forged deliveries costs PayPal a few calls a
//! minute and never touches the background sync's breaker. Refusals carry a generic body.
//! A verified event is processed once per event id: the event id is recorded in the same
//! database transaction as its effect, so a replay changes nothing.
//!
//! Because deliveries can be lost (our endpoint down, a network cut), a job lists PayPal's
//! webhook events and processes whatever was missed through the same function. It runs on one
//! instance at a time (a lease with an expiry on its `job_cursors` row, taken with a conditional
//! UPDATE) and reads at most a bounded number of events per run; a longer list is resumed by the
//! next run from the page where this one stopped, which is stored in the same row.
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait, TryInsertResult};
use serde_json::Value;

use super::client::{CallBudget, CallPolicy, EventsPage, PaypalClient, PaypalError};
use super::wire;
use crate::server::db;
use crate::server::db::entities::{dispute, paypal_account, transaction, webhook_event};
use crate::server::AppState;

/// Largest delivery body read (PayPal's dispute events are a few kB).
pub const MAX_WEBHOOK_BODY: usize = 256 * 1024;
/// A delivery's transmission time must be this close to ours (PayPal retries are new
/// transmissions, with their own time): an old delivery replayed is refused for free.
pub const TRANSMISSION_TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);
/// How the verifier spends PayPal calls: anonymous requests trigger them, so one attempt each
/// (PayPal retries a refused delivery itself) and at most 10 HTTP calls a minute per instance,
/// token requests included, after a burst of 10. A delivery refused for want of budget gets a
/// 503: PayPal delivers it again later, and the reconciliation finds it anyway.
pub const VERIFY_POLICY: CallPolicy = CallPolicy { max_attempts: 1, budget: Some(CallBudget { per_minute: 10, burst: 10 }) };

/// The reconciliation re-reads this much before its last position: events are listed by their
/// creation time, and a late-committed event must not fall between two runs.
const RECONCILE_OVERLAP: chrono::Duration = chrono::Duration::minutes(10);
/// First run: how far back to look.
const RECONCILE_FIRST_LOOKBACK: chrono::Duration = chrono::Duration::days(3);
/// Events one run reads at most (whole pages); the next run goes on from there.
pub const RECONCILE_MAX_EVENTS: usize = 5_000;
/// A run renews its lease with every page; a crashed run's lease lapses after this.
const RECONCILE_LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// When a run stopped at its bound, the next one starts after this pause, not a whole interval.
const RECONCILE_CONTINUE_AFTER: std::time::Duration = std::time::Duration::from_secs(5);
const CURSOR: &str = "paypal_webhook_events";

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("PayPal webhooks are not configured (PAYPAL_WEBHOOK_ID)")]
    NotConfigured,
    #[error("the body is larger than {MAX_WEBHOOK_BODY} bytes")]
    TooLarge,
    #[error("the {0} header is missing or malformed")]
    BadHeader(&'static str),
    #[error("the transmission time is not within five minutes of now")]
    Stale,
    #[error("the certificate URL is not https on PayPal's domain")]
    ForeignCertificate,
    #[error("the body is not a PayPal event")]
    NotAnEvent,
    #[error("the signature did not verify")]
    Unverified,
    #[error("PayPal could not be asked ({})", .0.kind())]
    Upstream(PaypalError),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

impl WebhookError {
    /// Short and stable: the metric's label and the log's reason.
    pub fn kind(&self) -> &'static str {
        match self {
            WebhookError::NotConfigured => "not_configured",
            WebhookError::TooLarge => "too_large",
            WebhookError::BadHeader(_) => "bad_header",
            WebhookError::Stale => "stale",
            WebhookError::ForeignCertificate => "foreign_certificate",
            WebhookError::NotAnEvent => "not_an_event",
            WebhookError::Unverified => "unverified",
            WebhookError::Upstream(_) => "upstream",
            WebhookError::Database(_) => "database",
        }
    }

    /// The status and the generic body a caller gets: nothing about our configuration or
    /// PayPal's answer (the log and the metric have the reason).
    fn response(&self) -> (StatusCode, &'static str) {
        match self {
            WebhookError::NotConfigured | WebhookError::Upstream(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            WebhookError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            WebhookError::BadHeader(_) | WebhookError::Stale | WebhookError::ForeignCertificate | WebhookError::NotAnEvent => {
                (StatusCode::BAD_REQUEST, "invalid_delivery")
            }
            WebhookError::Unverified => (StatusCode::UNAUTHORIZED, "unverified"),
            WebhookError::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

/// What processing an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processed {
    /// First time seen: its effect is stored.
    New,
    /// Seen before (a replay, or already reconciled): nothing changed.
    AlreadyProcessed,
}

pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let result = match body {
        Ok(body) => receive(&state, &headers, &body).await,
        Err(rejected) if rejected.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(WebhookError::TooLarge),
        Err(_) => Err(WebhookError::NotAnEvent),
    };
    match result {
        Ok(processed) => (StatusCode::OK, Json(serde_json::json!({ "processed": processed == Processed::New }))).into_response(),
        Err(err) => {
            metrics::counter!("vetted_paypal_webhooks_total", "outcome" => "refused", "reason" => err.kind()).increment(1);
            match &err {
                WebhookError::Database(e) => tracing::error!(kind = db::error_kind(e), "storing a PayPal webhook failed"),
                // These cost PayPal a call each, so there are few of them.
                WebhookError::Unverified | WebhookError::Upstream(PaypalError::Timeout | PaypalError::Connect | PaypalError::ServerError) => {
                    tracing::warn!(reason = %err, "PayPal webhook refused")
                }
                // Free to send by the thousand: not worth a line each.
                _ => tracing::debug!(reason = %err, "PayPal webhook refused"),
            }
            // PayPal retries non-2xx deliveries; the reconciliation catches what it gives up on.
            let (status, code) = err.response();
            (status, Json(serde_json::json!({ "error": code }))).into_response()
        }
    }
}

pub async fn receive(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Processed, WebhookError> {
    let (Some(verifier), Some(webhook_id)) = (&state.paypal.verifier, &state.paypal.config.webhook_id) else {
        return Err(WebhookError::NotConfigured);
    };
    let delivery = check_delivery(headers, body, webhook_id, Utc::now())?;
    if !verifier.verify_webhook_signature(&delivery.request).await.map_err(WebhookError::Upstream)? {
        return Err(WebhookError::Unverified);
    }
    let processed = process_event(state.db.primary(), &delivery.event, "webhook", Utc::now()).await?;
    after_processing(state, &delivery.event, processed, "webhook").await;
    Ok(processed)
}

/// A delivery that passed the free checks: the question for PayPal, and the event.
#[derive(Debug)]
pub struct Delivery {
    pub request: wire::VerifyWebhookSignature,
    pub event: Value,
}

/// Everything that can be checked without asking PayPal. The webhook id PayPal is asked about
/// is ours (from the configuration), never one the caller names.
pub fn check_delivery(headers: &HeaderMap, body: &[u8], webhook_id: &str, now: DateTime<Utc>) -> Result<Delivery, WebhookError> {
    if body.len() > MAX_WEBHOOK_BODY {
        return Err(WebhookError::TooLarge);
    }
    // Lengths and characters as PayPal's verify-webhook-signature schema has them.
    let header = |name: &'static str, max: usize, allowed: fn(char) -> bool| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= max && v.chars().all(allowed))
            .map(str::to_string)
            .ok_or(WebhookError::BadHeader(name))
    };
    let visible = |c: char| c.is_ascii_graphic();
    let auth_algo = header("paypal-auth-algo", 100, |c| c.is_ascii_alphanumeric())?;
    let transmission_id = header("paypal-transmission-id", 50, visible)?;
    if transmission_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(WebhookError::BadHeader("paypal-transmission-id"));
    }
    let transmission_sig = header("paypal-transmission-sig", 500, visible)?;
    let transmission_time = header("paypal-transmission-time", 100, visible)?;
    let cert_url = header("paypal-cert-url", 500, visible)?;
    let sent_at = DateTime::parse_from_rfc3339(&transmission_time).map_err(|_| WebhookError::BadHeader("paypal-transmission-time"))?;
    if (now - sent_at.with_timezone(&Utc)).abs() > TRANSMISSION_TOLERANCE {
        return Err(WebhookError::Stale);
    }
    if !is_paypal_certificate_url(&cert_url) {
        return Err(WebhookError::ForeignCertificate);
    }
    let text = std::str::from_utf8(body).map_err(|_| WebhookError::NotAnEvent)?;
    let event: Value = serde_json::from_str(text)
        .ok()
        .filter(|e| event_id(e).is_some() && e.get("event_type").is_some_and(Value::is_string))
        .ok_or(WebhookError::NotAnEvent)?;
    // PayPal checks the signature against the bytes it sent: pass them on unchanged.
    let webhook_event = serde_json::value::RawValue::from_string(text.to_string()).map_err(|_| WebhookError::NotAnEvent)?;
    let request = wire::VerifyWebhookSignature {
        auth_algo,
        cert_url,
        transmission_id,
        transmission_sig,
        transmission_time,
        webhook_id: webhook_id.to_string(),
        webhook_event,
    };
    Ok(Delivery { request, event })
}

/// PayPal's certificates are served over https from paypal.com or one of its subdomains
/// (`api.paypal.com`, `api-m.sandbox.paypal.com`). The simulator names a sandbox URL too, so no
/// exception is made for it: a loopback or plain-http URL is refused whatever the configuration.
/// Vetted never fetches the URL itself; PayPal's verification does.
pub fn is_paypal_certificate_url(raw: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(raw) else { return false };
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none()
        && url.domain().is_some_and(|host| host == "paypal.com" || host.ends_with(".paypal.com"))
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
    let disputed = resource.get("disputed_transactions").and_then(Value::as_array);
    let seller = disputed.and_then(|txs| txs.iter().find_map(|t| t.get("seller").and_then(|s| text(s, "merchant_id"))));
    let merchant_id = match seller {
        Some(paypal_id) => paypal_account::Entity::find().filter(paypal_account::Column::PaypalMerchantId.eq(paypal_id)).one(db).await?.map(|a| a.merchant_id),
        None => None,
    };
    // The contested payment: the platform sends PayPal's transaction id as the ingest's external_id.
    let seller_transaction = disputed.and_then(|txs| txs.iter().find_map(|t| text(t, "seller_transaction_id"))).filter(|id| id.len() <= 255);
    let transaction_id = match (merchant_id, seller_transaction) {
        (Some(merchant_id), Some(external_id)) => transaction::Entity::find()
            .filter(transaction::Column::MerchantId.eq(merchant_id))
            .filter(transaction::Column::ExternalId.eq(external_id))
            .one(db)
            .await?
            .map(|t| t.id),
        _ => None,
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
            if transaction_id.is_some() {
                active.transaction_id = Set(transaction_id);
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
                transaction_id: Set(transaction_id),
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
    /// Events read by this run.
    pub listed: usize,
    /// Events that had not arrived as webhooks.
    pub filled_in: usize,
    /// Whether this run reached the end of the list; if not, the next run goes on from where it
    /// stopped.
    pub complete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciliation {
    Ran(ReconcileReport),
    /// Another run (on this instance or another) holds the lease: nothing was done.
    Busy,
}

/// One reconciliation run, reading at most `max_events` events (rounded up to whole pages).
///
/// A pass lists the events created between the end of the last complete pass (less an overlap)
/// and the pass's start, page by page. After each page, the page's events are stored and the
/// pass's end and next page are written to the database; a run that reaches `max_events` stops
/// there, and the next run (on any instance) resumes from that page. When the list ends, the
/// position moves to the pass's end. The order PayPal lists events in does not matter.
pub async fn reconcile(state: &AppState, now: DateTime<Utc>, max_events: usize) -> Result<Reconciliation, WebhookError> {
    let Some(client) = &state.paypal.client else { return Err(WebhookError::NotConfigured) };
    let db = state.db.primary();
    let Some(lease) = Lease::take(db, now).await? else {
        return Ok(Reconciliation::Busy);
    };
    let result = reconcile_leased(state, client, &lease, now, max_events.max(1)).await;
    if let Err(e) = lease.release(db).await {
        // It lapses on its own.
        tracing::warn!(kind = db::error_kind(&e), "could not release the reconciliation's lease");
    }
    result.map(Reconciliation::Ran)
}

async fn reconcile_leased(
    state: &AppState,
    client: &PaypalClient,
    lease: &Lease,
    now: DateTime<Utc>,
    max_events: usize,
) -> Result<ReconcileReport, WebhookError> {
    let db = state.db.primary();
    let cursor = lease.cursor(db).await?;
    let (pass_end, mut page) = match (cursor.pass_end, cursor.pass_next_page) {
        (Some(end), Some(next)) => (end, EventsPage::Next(next)),
        // Times go to PayPal in whole seconds: end one second later so this second's events count.
        _ => {
            let end = (now + chrono::Duration::seconds(1)).trunc_subsecs(0);
            (end, EventsPage::First { start: cursor.position - RECONCILE_OVERLAP, end, page_size: max_events.min(100) })
        }
    };
    let mut report = ReconcileReport { listed: 0, filled_in: 0, complete: false };
    loop {
        let fetched = match client.webhook_events_page(&page).await {
            Ok(fetched) => fetched,
            Err(e) => {
                if matches!((&page, e), (EventsPage::Next(_), PaypalError::Rejected)) {
                    // PayPal no longer takes the stored link: the next run starts the pass again.
                    lease.forget_pass(db).await?;
                }
                return Err(WebhookError::Upstream(e));
            }
        };
        report.listed += fetched.events.len();
        for event in &fetched.events {
            let processed = process_event(db, event, "reconciliation", now).await?;
            if processed == Processed::New {
                report.filled_in += 1;
                after_processing(state, event, processed, "reconciliation").await;
            }
        }
        let Some(next) = fetched.next else {
            lease.complete_pass(db, pass_end).await?;
            report.complete = true;
            break;
        };
        if !lease.store_page(db, pass_end, &next).await? {
            tracing::warn!("the reconciliation's lease lapsed during its run; stopping");
            break;
        }
        if report.listed >= max_events {
            tracing::info!(listed = report.listed, "PayPal's event list is longer than one reconciliation reads; the next run goes on from here");
            break;
        }
        page = EventsPage::Next(next);
    }
    if report.filled_in > 0 {
        tracing::warn!(filled_in = report.filled_in, "the reconciliation found PayPal events that never arrived as webhooks");
    }
    Ok(report)
}

/// The reconciliation's row in `job_cursors`, held by one run: every write is conditional on
/// still holding it, and each renews it.
struct Lease {
    holder: String,
}

#[derive(sea_orm::FromQueryResult)]
struct CursorRow {
    /// Everything created before this (less the overlap) has been listed.
    position: DateTime<Utc>,
    /// The pass under way, if a run stopped in the middle of one: its end and its next page.
    pass_end: Option<DateTime<Utc>>,
    pass_next_page: Option<String>,
}

impl Lease {
    /// Takes the lease if nobody holds it or its holder's lapsed: one conditional UPDATE, which
    /// one run wins on SQLite and PostgreSQL alike.
    async fn take(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Option<Lease>, sea_orm::DbErr> {
        let now = now.trunc_subsecs(0);
        run(
            db,
            "INSERT INTO job_cursors (name, position) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            vec![CURSOR.into(), (now - RECONCILE_FIRST_LOOKBACK).into()],
        )
        .await?;
        let holder = format!("{:016x}", rand::random::<u64>());
        let taken = run(
            db,
            "UPDATE job_cursors SET lease_holder = ?, lease_until = ? WHERE name = ? AND (lease_until IS NULL OR lease_until <= ?)",
            vec![holder.clone().into(), (now + RECONCILE_LEASE).into(), CURSOR.into(), now.into()],
        )
        .await?;
        Ok((taken == 1).then_some(Lease { holder }))
    }

    async fn cursor(&self, db: &DatabaseConnection) -> Result<CursorRow, sea_orm::DbErr> {
        use sea_orm::FromQueryResult;
        let sql = "SELECT position, pass_end, pass_next_page FROM job_cursors WHERE name = ? AND lease_holder = ?";
        let stmt = db::statement(db.get_database_backend(), sql, vec![CURSOR.into(), self.holder.clone().into()]);
        CursorRow::find_by_statement(stmt).one(db).await?.ok_or_else(|| sea_orm::DbErr::RecordNotFound("the reconciliation's lease".into()))
    }

    fn renewed() -> DateTime<Utc> {
        Utc::now().trunc_subsecs(0) + RECONCILE_LEASE
    }

    /// The pass goes on from `next`; false if the lease is no longer ours.
    async fn store_page(&self, db: &DatabaseConnection, pass_end: DateTime<Utc>, next: &str) -> Result<bool, sea_orm::DbErr> {
        let sql = "UPDATE job_cursors SET pass_end = ?, pass_next_page = ?, lease_until = ? WHERE name = ? AND lease_holder = ?";
        let values = vec![pass_end.into(), next.into(), Lease::renewed().into(), CURSOR.into(), self.holder.clone().into()];
        Ok(run(db, sql, values).await? == 1)
    }

    /// The list was read to its end: the position moves to the pass's end.
    async fn complete_pass(&self, db: &DatabaseConnection, pass_end: DateTime<Utc>) -> Result<(), sea_orm::DbErr> {
        let sql = "UPDATE job_cursors SET position = ?, pass_end = NULL, pass_next_page = NULL WHERE name = ? AND lease_holder = ?";
        run(db, sql, vec![pass_end.into(), CURSOR.into(), self.holder.clone().into()]).await?;
        Ok(())
    }

    async fn forget_pass(&self, db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        let sql = "UPDATE job_cursors SET pass_end = NULL, pass_next_page = NULL WHERE name = ? AND lease_holder = ?";
        run(db, sql, vec![CURSOR.into(), self.holder.clone().into()]).await?;
        Ok(())
    }

    async fn release(&self, db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        let sql = "UPDATE job_cursors SET lease_holder = NULL, lease_until = NULL WHERE name = ? AND lease_holder = ?";
        run(db, sql, vec![CURSOR.into(), self.holder.clone().into()]).await?;
        Ok(())
    }
}

/// Runs one statement (`?` placeholders on both databases); returns the rows it changed.
async fn run(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> Result<u64, sea_orm::DbErr> {
    Ok(db.execute_raw(db::statement(db.get_database_backend(), sql, values)).await?.rows_affected())
}

/// Runs the reconciliation every `PAYPAL_RECONCILE_INTERVAL_SECS` (first run at start-up), and
/// again after a short pause while a long list is being worked through. Every instance runs
/// this loop; the lease lets one of them work at a time.
pub fn spawn_reconciliation(state: AppState) {
    if state.paypal.client.is_none() {
        return;
    }
    tokio::spawn(async move {
        loop {
            let pause = match reconcile(&state, Utc::now(), RECONCILE_MAX_EVENTS).await {
                Ok(Reconciliation::Ran(report)) => {
                    metrics::counter!("vetted_paypal_reconciled_events_total").increment(report.filled_in as u64);
                    if report.complete {
                        state.paypal.config.reconcile_interval
                    } else {
                        RECONCILE_CONTINUE_AFTER
                    }
                }
                Ok(Reconciliation::Busy) => state.paypal.config.reconcile_interval,
                Err(e) => {
                    tracing::warn!(reason = %e, "PayPal reconciliation failed; it runs again at the next interval");
                    state.paypal.config.reconcile_interval
                }
            };
            tokio::time::sleep(pause.mul_f64(rand::random_range(0.9..1.1))).await;
        }
    });
}
