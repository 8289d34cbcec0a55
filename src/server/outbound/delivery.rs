//! Delivery, on the background path, in two steps that any instance may run:
//!
//! 1. [`dispatch`] hands each new outbox event to every endpoint that wants it (a
//!    `webhook_deliveries` row each) and marks it dispatched, in one transaction; events are
//!    taken by flag, not by a position in the id order, so an event whose transaction committed
//!    late is never passed over.
//! 2. [`deliver_endpoint`] delivers one endpoint's pending events, oldest first, under the
//!    endpoint's lease (one instance at a time; the lease is renewed before each request and
//!    checked when the results are written, so two instances never send the same event at
//!    once). A failure stops the queue there (events go in order) until the endpoint's
//!    `retry_at`: exponential backoff with jitter, for 3 days, after which the endpoint is
//!    disabled. Successes are written a batch at a time: an instance that dies between a 2xx and
//!    that write sends those events again (at least once; receivers deduplicate by event id).
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult, TransactionTrait, Value};

use super::{address, endpoints, signing};
use crate::app::dto::WebhookEventKind;
use crate::server::db::{self, entities::webhook_endpoint};

/// A 2xx within this time is a success.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// An endpoint whose deliveries fail for this long is disabled.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(3);
/// The longest wait between two tries.
pub const MAX_BACKOFF: chrono::Duration = chrono::Duration::hours(1);
const FIRST_BACKOFF_SECS: f64 = 5.0;
const LEASE: chrono::Duration = chrono::Duration::seconds(30);
/// The lease is renewed before a request when less than this is left.
const LEASE_MARGIN: chrono::Duration = chrono::Duration::seconds(15);
const DISPATCH_BATCH: usize = 500;
const DELIVERY_BATCH: i64 = 50;
/// How much of an answer the delivery log keeps.
pub const RESPONSE_HEAD_BYTES: usize = 1024;

/// The wait after the `attempts`-th failure in a row: 5 s doubling up to an hour, times a
/// random factor in [0.5, 1) so that endpoints that failed together do not retry together.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let exponential = FIRST_BACKOFF_SECS * 2f64.powi(attempts.saturating_sub(1).min(20) as i32);
    let capped = exponential.min(MAX_BACKOFF.num_seconds() as f64);
    let jittered = capped * rand::rng().random_range(0.5..1.0);
    chrono::Duration::milliseconds((jittered * 1000.0) as i64)
}

#[derive(FromQueryResult)]
struct NewEvent {
    id: i64,
    kind: String,
    created_at: DateTime<Utc>,
}

/// Hands up to a batch of undispatched events to the endpoints that want them and existed when
/// the event was made (disabled ones too: they catch up, in order, when enabled again). Returns
/// how many events it took.
pub async fn dispatch(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    // A plain read first: with nothing new (most ticks), no write transaction is begun — on
    // SQLite that would take the database's one write lock ten times a second.
    let waiting = "SELECT id FROM outbox_events WHERE dispatched_at IS NULL LIMIT 1";
    if db.query_one_raw(db::statement(backend, waiting, vec![])).await?.is_none() {
        return Ok(0);
    }
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions { sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate), ..Default::default() })
        .await?;
    // Another instance's dispatcher skips the events this one holds.
    let lock = if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!("SELECT id, kind, created_at FROM outbox_events WHERE dispatched_at IS NULL ORDER BY id LIMIT {DISPATCH_BATCH}{lock}");
    let events = NewEvent::find_by_statement(db::statement(backend, &sql, vec![])).all(&txn).await?;
    if events.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let wanted: Vec<(i32, DateTime<Utc>, Vec<WebhookEventKind>)> =
        webhook_endpoint::Entity::find().all(&txn).await?.iter().map(|e| (e.id, e.created_at, endpoints::events_of(e))).collect();
    let rows: Vec<[Value; 4]> = events
        .iter()
        .flat_map(|event| {
            let kind = WebhookEventKind::parse(&event.kind);
            wanted
                .iter()
                .filter(move |(_, since, kinds)| *since <= event.created_at && kind.is_some_and(|k| kinds.contains(&k)))
                .map(move |(endpoint, _, _)| [(*endpoint).into(), event.id.into(), "pending".into(), now.into()])
        })
        .collect();
    for chunk in rows.chunks(200) {
        let placeholders = vec!["(?, ?, ?, 0, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, created_at) VALUES {placeholders} ON CONFLICT (endpoint_id, event_id) DO NOTHING"
        );
        txn.execute_raw(db::statement(backend, &sql, chunk.iter().flat_map(|row| row.iter().cloned()).collect())).await?;
    }
    let ids: Vec<Value> = std::iter::once(now.into()).chain(events.iter().map(|e| e.id.into())).collect();
    let sql = format!("UPDATE outbox_events SET dispatched_at = ? WHERE id IN ({})", vec!["?"; events.len()].join(", "));
    txn.execute_raw(db::statement(backend, &sql, ids)).await?;
    txn.commit().await?;
    Ok(events.len() as u64)
}

#[derive(FromQueryResult)]
struct DueEndpoint {
    endpoint_id: i32,
}

/// The enabled endpoints with pending events and no retry to wait for.
pub async fn due_endpoints(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Vec<i32>, DbErr> {
    let sql = "SELECT w.id AS endpoint_id FROM webhook_endpoints w WHERE w.disabled_at IS NULL AND (w.retry_at IS NULL OR w.retry_at <= ?) \
               AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 'pending')";
    let rows = DueEndpoint::find_by_statement(db::statement(db.get_database_backend(), sql, vec![now.into()])).all(db).await?;
    Ok(rows.into_iter().map(|r| r.endpoint_id).collect())
}

/// What one request got.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u32,
    pub response_head: String,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn refused(why: String) -> Outcome {
        Outcome { status: None, error: Some(why.chars().take(255).collect()), latency_ms: 0, response_head: String::new() }
    }
}

/// The body of an event as receivers read it.
pub fn envelope(event_id: &str, kind: &str, created: DateTime<Utc>, data: &str) -> Vec<u8> {
    let data: serde_json::Value = serde_json::from_str(data).unwrap_or(serde_json::Value::Null);
    serde_json::to_vec(&serde_json::json!({ "id": event_id, "type": kind, "created": created.to_rfc3339(), "data": data })).expect("JSON serialises")
}

/// The event id receivers see: stable across retries.
pub fn event_id(id: i64) -> String {
    format!("evt_{id}")
}

/// An HTTP client for one endpoint: no redirects (a redirect could lead anywhere), the 10 s
/// limit, and its host pinned to the address just checked.
fn client_for(url: &reqwest::Url, address: std::net::SocketAddr) -> Result<reqwest::Client, String> {
    crate::server::paypal::client::install_crypto_provider();
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(TIMEOUT).user_agent("Vetted-Webhooks/1");
    if let Some(host) = url.host_str().filter(|h| h.parse::<std::net::IpAddr>().is_err()) {
        builder = builder.resolve(host, address);
    }
    builder.build().map_err(|_| "the HTTP client could not be built".to_string())
}

/// The secrets that sign now: the current one, and the previous one during a rotation.
fn secrets(endpoint: &webhook_endpoint::Model, now: DateTime<Utc>) -> Vec<String> {
    let mut secrets = vec![endpoint.secret.clone()];
    if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_secret_until) {
        if until > now {
            secrets.push(previous.clone());
        }
    }
    secrets
}

/// Sends one event: POST, signed, and reads at most the first kilobyte of the answer (with the
/// endpoint's secrets blanked out, should a receiver echo them).
async fn send(client: &reqwest::Client, url: &reqwest::Url, secrets: &[String], id: &str, kind: &str, body: Vec<u8>) -> Outcome {
    let started = Instant::now();
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = signing::header(&refs, Utc::now().timestamp(), &body);
    let sent = client
        .post(url.clone())
        .header("content-type", "application/json")
        .header(signing::HEADER, signature)
        .header("Vetted-Event-Id", id)
        .header("Vetted-Event-Type", kind)
        .body(body)
        .send()
        .await;
    let mut outcome = match sent {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let mut head = Vec::new();
            while head.len() < RESPONSE_HEAD_BYTES {
                match tokio::time::timeout(TIMEOUT.saturating_sub(started.elapsed()), response.chunk()).await {
                    Ok(Ok(Some(chunk))) => head.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_HEAD_BYTES - head.len())]),
                    _ => break,
                }
            }
            let mut text = String::from_utf8_lossy(&head).into_owned();
            for secret in secrets {
                text = text.replace(secret.as_str(), "[secret]");
            }
            Outcome { status: Some(status), error: None, latency_ms: 0, response_head: text }
        }
        Err(e) if e.is_timeout() => Outcome::refused(format!("no answer within {} s", TIMEOUT.as_secs())),
        Err(e) if e.is_connect() => Outcome::refused("could not connect".to_string()),
        Err(_) => Outcome::refused("the request failed".to_string()),
    };
    outcome.latency_ms = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
    outcome
}

#[derive(FromQueryResult)]
struct Pending {
    delivery_id: i64,
    event_id: i64,
    attempts: i32,
    kind: String,
    payload: String,
    created_at: DateTime<Utc>,
}

/// Takes (or renews) the endpoint's lease for `owner`; false when another instance holds it or
/// the endpoint is disabled.
async fn lease(db: &impl ConnectionTrait, id: i32, owner: &str, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let sql = "UPDATE webhook_endpoints SET lease_owner = ?, lease_until = ? WHERE id = ? AND disabled_at IS NULL \
               AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)";
    let values = vec![owner.into(), (now + LEASE).into(), id.into(), now.into(), owner.into()];
    Ok(db.execute_raw(db::statement(db.get_database_backend(), sql, values)).await?.rows_affected() == 1)
}

async fn release(db: &impl ConnectionTrait, id: i32, owner: &str) -> Result<(), DbErr> {
    let sql = "UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?";
    db.execute_raw(db::statement(db.get_database_backend(), sql, vec![id.into(), owner.into()])).await?;
    Ok(())
}

async fn record_attempt(txn: &impl ConnectionTrait, endpoint_id: i32, event_id: i64, manual: bool, outcome: &Outcome, now: DateTime<Utc>) -> Result<(), DbErr> {
    let sql = "INSERT INTO webhook_attempts (endpoint_id, event_id, manual, status_code, error, latency_ms, response_head, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    let values = vec![
        endpoint_id.into(),
        event_id.into(),
        manual.into(),
        outcome.status.map(i32::from).into(),
        outcome.error.clone().into(),
        (outcome.latency_ms.min(i32::MAX as u32) as i32).into(),
        outcome.response_head.clone().into(),
        now.into(),
    ];
    txn.execute_raw(db::statement(txn.get_database_backend(), sql, values)).await?;
    Ok(())
}

/// Delivers the endpoint's pending events in order, as `owner`, until none is left or one
/// fails. Returns how many were delivered. `clock` is the time (tests move it to skip backoff).
pub async fn deliver_endpoint(
    db: &DatabaseConnection,
    id: i32,
    owner: &str,
    allow_http_loopback: bool,
    clock: impl Fn() -> DateTime<Utc>,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    if !lease(db, id, owner, clock()).await? {
        return Ok(0);
    }
    let Some(endpoint) = webhook_endpoint::Entity::find_by_id(id).one(db).await? else { return Ok(0) };
    let mut delivered_total = 0u64;
    // Checked again before delivering: the host's addresses may have changed since registration.
    let target = match address::parse(&endpoint.url, allow_http_loopback) {
        Ok(url) => match address::resolve(&url, allow_http_loopback).await {
            Ok(address) => client_for(&url, address).map(|client| (url, client)),
            Err(refused) => Err(refused.to_string()),
        },
        Err(refused) => Err(refused.to_string()),
    };
    let mut lease_until = clock() + LEASE;
    // Held under the lease: no other instance changes it meanwhile.
    let mut failing_since = endpoint.failing_since;
    loop {
        let sql = "SELECT d.id AS delivery_id, d.event_id, d.attempts, e.kind, e.payload, e.created_at FROM webhook_deliveries d \
                   JOIN outbox_events e ON e.id = d.event_id WHERE d.endpoint_id = ? AND d.status = 'pending' ORDER BY d.event_id LIMIT ?";
        let batch = Pending::find_by_statement(db::statement(backend, sql, vec![id.into(), DELIVERY_BATCH.into()])).all(db).await?;
        if batch.is_empty() {
            break;
        }
        let mut results: Vec<(&Pending, Outcome, DateTime<Utc>)> = Vec::new();
        for pending in &batch {
            let now = clock();
            if lease_until - now < LEASE_MARGIN {
                if !lease(db, id, owner, now).await? {
                    return Ok(delivered_total);
                }
                lease_until = now + LEASE;
            }
            let outcome = match &target {
                Ok((url, client)) => {
                    let body = envelope(&event_id(pending.event_id), &pending.kind, pending.created_at, &pending.payload);
                    send(client, url, &secrets(&endpoint, now), &event_id(pending.event_id), &pending.kind, body).await
                }
                Err(why) => Outcome::refused(why.clone()),
            };
            let failed = !outcome.succeeded();
            results.push((pending, outcome, now));
            if failed {
                break;
            }
        }
        let now = clock();
        let txn = db.begin().await?;
        // Ours still? Then these results are the only ones for these events.
        if !lease(&txn, id, owner, now).await? {
            txn.rollback().await?;
            return Ok(delivered_total);
        }
        lease_until = now + LEASE;
        for (pending, outcome, at) in &results {
            record_attempt(&txn, id, pending.event_id, false, outcome, *at).await?;
        }
        let delivered: Vec<i64> = results.iter().filter(|(_, o, _)| o.succeeded()).map(|(p, _, _)| p.delivery_id).collect();
        if !delivered.is_empty() {
            let sql = format!(
                "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ?, attempts = attempts + 1 WHERE id IN ({})",
                vec!["?"; delivered.len()].join(", ")
            );
            let values = std::iter::once(now.into()).chain(delivered.iter().map(|d| (*d).into())).collect();
            txn.execute_raw(db::statement(backend, &sql, values)).await?;
        }
        delivered_total += delivered.len() as u64;
        let failure = results.iter().find(|(_, o, _)| !o.succeeded());
        match failure {
            Some((pending, _, _)) => {
                let attempts = pending.attempts.max(0) as u32 + 1;
                let sql = "UPDATE webhook_deliveries SET attempts = ? WHERE id = ?";
                txn.execute_raw(db::statement(backend, sql, vec![(attempts as i32).into(), pending.delivery_id.into()])).await?;
                let failing_since = failing_since.unwrap_or(now);
                let (disabled_at, reason): (Option<DateTime<Utc>>, Option<&str>) =
                    if now - failing_since >= GIVE_UP_AFTER { (Some(now), Some("deliveries failed for 3 days")) } else { (None, None) };
                let sql = "UPDATE webhook_endpoints SET failing_since = ?, retry_at = ?, disabled_at = COALESCE(?, disabled_at), \
                           disabled_reason = COALESCE(?, disabled_reason), lease_owner = NULL, lease_until = NULL WHERE id = ?";
                let values = vec![failing_since.into(), (now + backoff(attempts)).into(), disabled_at.into(), reason.map(str::to_string).into(), id.into()];
                txn.execute_raw(db::statement(backend, sql, values)).await?;
                txn.commit().await?;
                if disabled_at.is_some() {
                    tracing::warn!(endpoint = id, "a webhook endpoint was disabled after failing for 3 days");
                }
                return Ok(delivered_total);
            }
            None => {
                let sql = "UPDATE webhook_endpoints SET failing_since = NULL, retry_at = NULL WHERE id = ?";
                txn.execute_raw(db::statement(backend, sql, vec![id.into()])).await?;
                txn.commit().await?;
                failing_since = None;
            }
        }
    }
    release(db, id, owner).await?;
    Ok(delivered_total)
}

#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    #[error("webhook endpoint {0} does not exist")]
    UnknownEndpoint(i32),
    #[error("event {0} was never sent to this endpoint")]
    UnknownEvent(i64),
    #[error("database error")]
    Database(#[from] DbErr),
}

#[derive(FromQueryResult)]
struct StoredEvent {
    kind: String,
    payload: String,
    created_at: DateTime<Utc>,
    delivery_id: i64,
    status: String,
}

/// Sends an event again now, outside the order (an admin's "redeliver"); a 2xx also counts as
/// its delivery when it was still pending.
pub async fn redeliver(db: &DatabaseConnection, endpoint_id: i32, event: i64, allow_http_loopback: bool, now: DateTime<Utc>) -> Result<Outcome, ManualError> {
    let endpoint = webhook_endpoint::Entity::find_by_id(endpoint_id).one(db).await?.ok_or(ManualError::UnknownEndpoint(endpoint_id))?;
    let sql = "SELECT e.kind, e.payload, e.created_at, d.id AS delivery_id, d.status FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id \
               WHERE d.endpoint_id = ? AND d.event_id = ?";
    let stored = StoredEvent::find_by_statement(db::statement(db.get_database_backend(), sql, vec![endpoint_id.into(), event.into()]))
        .one(db)
        .await?
        .ok_or(ManualError::UnknownEvent(event))?;
    let body = envelope(&event_id(event), &stored.kind, stored.created_at, &stored.payload);
    let outcome = send_checked(&endpoint, &event_id(event), &stored.kind, body, allow_http_loopback, now).await;
    let txn = db.begin().await?;
    record_attempt(&txn, endpoint_id, event, true, &outcome, now).await?;
    if outcome.succeeded() && stored.status == "pending" {
        let sql = "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ?, attempts = attempts + 1 WHERE id = ? AND status = 'pending'";
        txn.execute_raw(db::statement(db.get_database_backend(), sql, vec![now.into(), stored.delivery_id.into()])).await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

/// Sends a `test` event (not in the outbox; event id `evt_test_…`), recorded in the log as event 0.
pub async fn send_test(db: &DatabaseConnection, endpoint_id: i32, actor: &str, allow_http_loopback: bool, now: DateTime<Utc>) -> Result<Outcome, ManualError> {
    let endpoint = webhook_endpoint::Entity::find_by_id(endpoint_id).one(db).await?.ok_or(ManualError::UnknownEndpoint(endpoint_id))?;
    let id = format!("evt_test_{}", hex::encode(rand::rng().random::<[u8; 8]>()));
    let data = serde_json::json!({ "message": "A test event from Vetted", "sent_by": actor }).to_string();
    let body = envelope(&id, "test", now, &data);
    let outcome = send_checked(&endpoint, &id, "test", body, allow_http_loopback, now).await;
    record_attempt(db, endpoint_id, 0, true, &outcome, now).await?;
    Ok(outcome)
}

async fn send_checked(endpoint: &webhook_endpoint::Model, id: &str, kind: &str, body: Vec<u8>, allow_http_loopback: bool, now: DateTime<Utc>) -> Outcome {
    let url = match address::parse(&endpoint.url, allow_http_loopback) {
        Ok(url) => url,
        Err(refused) => return Outcome::refused(refused.to_string()),
    };
    let client = match address::resolve(&url, allow_http_loopback).await {
        Ok(address) => client_for(&url, address),
        Err(refused) => Err(refused.to_string()),
    };
    match client {
        Ok(client) => send(&client, &url, &secrets(endpoint, now), id, kind, body).await,
        Err(why) => Outcome::refused(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_an_hour() {
        for attempts in 1..30 {
            let wait = backoff(attempts).num_milliseconds() as f64 / 1000.0;
            let full = (FIRST_BACKOFF_SECS * 2f64.powi(attempts as i32 - 1)).min(3600.0);
            assert!(wait >= full * 0.5 && wait < full, "attempt {attempts}: {wait} s of {full} s");
        }
        let first: Vec<i64> = (0..20).map(|_| backoff(1).num_milliseconds()).collect();
        assert!(first.iter().any(|w| *w != first[0]), "jittered");
    }
}
