//! Keeps every connected merchant's PayPal snapshot fresh.
//!
//! The schedule lives in the database (`paypal_accounts.next_sync_at`, plus
//! `refresh_requested_at` for priority refreshes), so any number of instances can run this loop
//! against the same database: each picks due accounts (priority requests first, then recently
//! active merchants), a per-merchant lock in the cache keeps one refresh per merchant at a time,
//! and a per-second counter in the cache caps the refresh rate towards PayPal across instances.
//! No queue to lose: a crashed worker's merchant is simply still due when its lock expires.
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::NullOrdering;
use sea_orm::{ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::server::db::entities::{paypal_account, paypal_snapshot};
use crate::server::db::{self};
use crate::server::paypal::{self, SyncOutcome};
use crate::server::AppState;

/// Poll interval when nothing wakes the loop (other instances' requests, due schedules).
const POLL: Duration = Duration::from_secs(2);
/// Health is checked (and logged when poor) this often.
const HEALTH_EVERY: Duration = Duration::from_secs(60);
const ERROR_RATE_WARNING: f64 = 0.25;
const OLDEST_SNAPSHOT_WARNING: Duration = Duration::from_secs(2 * 3600);

/// Starts the loop when PayPal is configured; returns whether it started.
pub fn spawn(state: AppState) -> bool {
    if state.paypal.client.is_none() {
        tracing::info!("PayPal is not configured: background sync is off");
        return false;
    }
    tokio::spawn(run(state));
    true
}

#[derive(Default)]
struct Tally {
    attempts: AtomicU64,
    failures: AtomicU64,
}

async fn run(state: AppState) {
    let config = state.paypal.config.clone();
    let permits = Arc::new(Semaphore::new(config.sync_concurrency));
    let tally = Arc::new(Tally::default());
    let mut running: JoinSet<()> = JoinSet::new();
    // Merchants this instance is refreshing now: still "due" in the database until done, so
    // later polls must not spend rate slots on them again.
    let in_flight: Arc<Mutex<HashSet<i32>>> = Arc::default();
    let mut last_health = tokio::time::Instant::now();
    loop {
        let pause = POLL.mul_f64(rand::random_range(0.75..1.25));
        tokio::select! {
            _ = state.paypal.wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
        while running.try_join_next().is_some() {}

        let due = match due_accounts(&state, (config.sync_concurrency * 4) as u64).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(kind = db::error_kind(&e), "could not read the PayPal sync schedule");
                continue;
            }
        };
        metrics::gauge!("vetted_paypal_sync_due").set(due.len() as f64);
        for merchant_id in due {
            if !in_flight.lock().unwrap().insert(merchant_id) {
                continue;
            }
            // Bounded concurrency: wait for a free slot rather than piling up tasks.
            let Ok(permit) = permits.clone().acquire_owned().await else { return };
            wait_for_rate_slot(&state).await;
            let (state, tally, in_flight) = (state.clone(), tally.clone(), in_flight.clone());
            running.spawn(async move {
                let _permit = permit;
                refresh_one(&state, &tally, merchant_id).await;
                in_flight.lock().unwrap().remove(&merchant_id);
            });
        }

        if last_health.elapsed() >= HEALTH_EVERY {
            last_health = tokio::time::Instant::now();
            check_health(&state, &tally).await;
        }
    }
}

async fn refresh_one(state: &AppState, tally: &Tally, merchant_id: i32) {
    let started = std::time::Instant::now();
    let outcome = paypal::sync_merchant(state.db.primary(), &state.cache, &state.paypal, merchant_id).await;
    let label = match &outcome {
        Ok(SyncOutcome::Refreshed) => "refreshed",
        Ok(SyncOutcome::Failed(_)) => "failed",
        Ok(SyncOutcome::Skipped) => "skipped",
        Err(_) => "error",
    };
    metrics::counter!("vetted_paypal_sync_total", "outcome" => label).increment(1);
    match outcome {
        Ok(SyncOutcome::Refreshed) => {
            tally.attempts.fetch_add(1, Ordering::Relaxed);
            metrics::histogram!("vetted_paypal_sync_duration_seconds").record(started.elapsed().as_secs_f64());
            tracing::debug!(merchant_id, "PayPal snapshot refreshed");
        }
        Ok(SyncOutcome::Failed(error)) => {
            tally.attempts.fetch_add(1, Ordering::Relaxed);
            tally.failures.fetch_add(1, Ordering::Relaxed);
            tracing::info!(merchant_id, error = error.kind(), "PayPal refresh failed; showing last-known data");
        }
        Ok(SyncOutcome::Skipped) => {}
        Err(crate::server::error::ServiceError::Database(e)) => {
            tracing::warn!(merchant_id, kind = db::error_kind(&e), "PayPal refresh could not be saved");
        }
        Err(e) => tracing::warn!(merchant_id, error = %e, "PayPal refresh could not be saved"),
    }
}

/// Accounts to refresh now: priority requests first (oldest request first), then scheduled ones
/// of recently active merchants first.
async fn due_accounts(state: &AppState, limit: u64) -> Result<Vec<i32>, sea_orm::DbErr> {
    let now = Utc::now();
    let rows = paypal_account::Entity::find()
        .select_only()
        .column(paypal_account::Column::MerchantId)
        .filter(Condition::any().add(paypal_account::Column::RefreshRequestedAt.is_not_null()).add(paypal_account::Column::NextSyncAt.lte(now)))
        .order_by_with_nulls(paypal_account::Column::RefreshRequestedAt, Order::Asc, NullOrdering::Last)
        .order_by_with_nulls(paypal_account::Column::LastActiveAt, Order::Desc, NullOrdering::Last)
        .order_by_asc(paypal_account::Column::NextSyncAt)
        .limit(limit)
        .into_tuple::<i32>()
        .all(state.db.primary())
        .await?;
    Ok(rows)
}

/// Global cap on refreshes started per second: a counter per second in the cache (shared by all
/// instances with Redis). If the cache cannot be reached, fall back to local pacing.
async fn wait_for_rate_slot(state: &AppState) {
    let cap = state.paypal.config.sync_per_second as u64;
    loop {
        let now = Utc::now();
        let key = format!("paypal:sync-rate:{}", now.timestamp());
        match state.cache.increment_window(&key, Duration::from_secs(2)).await {
            Some(count) if count <= cap => return,
            Some(_) => {
                let into_second = now.timestamp_subsec_millis() as u64;
                tokio::time::sleep(Duration::from_millis(1000u64.saturating_sub(into_second).max(1))).await;
            }
            None => {
                tokio::time::sleep(Duration::from_secs_f64(1.0 / cap as f64)).await;
                return;
            }
        }
    }
}

/// Metrics for dashboards and a warning line when PayPal errors or snapshot ages cross a line.
async fn check_health(state: &AppState, tally: &Tally) {
    let attempts = tally.attempts.swap(0, Ordering::Relaxed);
    let failures = tally.failures.swap(0, Ordering::Relaxed);
    let error_rate = if attempts == 0 { 0.0 } else { failures as f64 / attempts as f64 };
    metrics::gauge!("vetted_paypal_sync_error_rate").set(error_rate);
    if attempts >= 5 && error_rate >= ERROR_RATE_WARNING {
        tracing::warn!(attempts, failures, error_rate, "PayPal error rate is high; dashboards show last-known data");
    }
    let oldest = paypal_snapshot::Entity::find().order_by_asc(paypal_snapshot::Column::FetchedAt).one(state.db.read()).await;
    if let Ok(Some(oldest)) = oldest {
        let age = (Utc::now() - oldest.fetched_at).to_std().unwrap_or_default();
        metrics::gauge!("vetted_paypal_oldest_snapshot_age_seconds").set(age.as_secs_f64());
        if age >= OLDEST_SNAPSHOT_WARNING {
            tracing::warn!(age_secs = age.as_secs(), "the oldest PayPal snapshot is old; is the sync keeping up?");
        }
    }
}
