//! PayPal for the merchant dashboard. Two paths meet here:
//! - the request path ([`panel`], [`request_refresh`]) reads the cache, then the database
//!   snapshot, and never calls PayPal;
//! - the background path ([`sync_merchant`], driven by `jobs::paypal_sync`) calls PayPal and
//!   leaves the result in the database and the cache, with its age and any failure.
pub mod client;
pub mod simulator;
pub mod snapshot;
pub mod webhooks;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::app::dto::{PaypalPanel, PaypalSnapshot, PaypalSyncFailure};
use crate::server::cache::Cache;
use crate::server::config::PaypalConfig;
use crate::server::db::entities::{paypal_account, paypal_snapshot};
use crate::server::error::ServiceError;
use client::{Cause, PaypalClient, PaypalError};

/// A lock is held per merchant while it is refreshed; longer than the slowest possible refresh.
const SYNC_LOCK_TTL: Duration = Duration::from_secs(120);
/// Page loads that find stale or missing data queue at most one refresh per merchant per window.
const QUEUE_THROTTLE: Duration = Duration::from_secs(30);
/// The Refresh button: one accepted press per merchant per window.
pub const REFRESH_BUTTON_WINDOW: Duration = Duration::from_secs(30);
/// How long "no data yet" stays cached: the sync overwrites it as soon as data lands.
const EMPTY_RECORD_TTL: Duration = Duration::from_secs(30);

/// PayPal's part of the application state.
#[derive(Clone, Debug)]
pub struct PaypalService {
    pub config: PaypalConfig,
    /// `None` when no PayPal (or simulator) is configured: nothing is synced.
    pub client: Option<Arc<PaypalClient>>,
    /// Verifies incoming webhooks: the same account, but its own token, breaker and budget of
    /// calls (`webhooks::VERIFY_POLICY`), since anonymous requests drive it.
    pub verifier: Option<Arc<PaypalClient>>,
    /// Wakes this instance's sync loop when a page load or the Refresh button queues a refresh.
    pub wake: Arc<Notify>,
}

impl PaypalService {
    pub fn new(config: PaypalConfig) -> PaypalService {
        let client = config.client_settings().map(|settings| Arc::new(PaypalClient::new(settings)));
        let verifier = config.client_settings().map(|settings| Arc::new(PaypalClient::with_policy(settings, webhooks::VERIFY_POLICY)));
        PaypalService { config, client, verifier, wake: Arc::new(Notify::new()) }
    }
}

/// What the cache holds per merchant: the panel's inputs, without the age (computed on read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelRecord {
    pub connected: bool,
    pub snapshot: Option<PaypalSnapshot>,
    pub failure: Option<PaypalSyncFailure>,
}

pub fn panel_key(merchant_id: i32) -> String {
    format!("paypal:panel:{merchant_id}")
}

fn sync_lock_key(merchant_id: i32) -> String {
    format!("paypal:sync-lock:{merchant_id}")
}

/// The request path: cache → database snapshot. Never calls PayPal (except in the benchmark's
/// naive mode, which exists to measure what this design avoids).
pub async fn panel(
    db: &impl ConnectionTrait,
    primary: &impl ConnectionTrait,
    cache: &Cache,
    paypal: &PaypalService,
    merchant_id: i32,
    now: DateTime<Utc>,
) -> Result<PaypalPanel, ServiceError> {
    if paypal.config.naive_request_path {
        return naive_panel(db, paypal, merchant_id, now).await;
    }
    let key = panel_key(merchant_id);
    let record = match cache.get::<PanelRecord>(&key).await {
        Some(hit) => hit.value,
        None => {
            let record = load_record(db, merchant_id).await?;
            // If the sync stored a newer record meanwhile, keep it.
            cache.put_if_absent(&key, &record, record_ttl(&record, &paypal.config, now)).await;
            record
        }
    };
    if !record.connected {
        return Ok(PaypalPanel::NotConnected);
    }
    let Some(snapshot) = record.snapshot else {
        queue_refresh(primary, cache, paypal, merchant_id, "none", now).await?;
        return Ok(PaypalPanel::Syncing { failure: record.failure });
    };
    let age_seconds = age_of(&snapshot, now).num_seconds().max(0);
    let stale = age_seconds >= paypal.config.fresh_for.as_secs() as i64;
    if stale && record.failure.is_none() {
        // A failing account is already retried on its own schedule.
        queue_refresh(primary, cache, paypal, merchant_id, &snapshot.fetched_at, now).await?;
    }
    metrics::histogram!("vetted_paypal_snapshot_age_served_seconds").record(age_seconds as f64);
    if stale {
        metrics::counter!("vetted_cache_stale_serves_total").increment(1);
    }
    Ok(PaypalPanel::Ready { snapshot, age_seconds, stale, failure: record.failure })
}

/// The merchant's account as the cache or the last stored snapshot knows it, for the case page.
/// Never calls PayPal and queues nothing; a cache and database that cannot be read make this one
/// section "unavailable", not the page.
pub async fn last_known(db: &impl ConnectionTrait, cache: &Cache, merchant_id: i32, now: DateTime<Utc>) -> crate::app::dto::CasePaypal {
    use crate::app::dto::CasePaypal;
    let record = match cache.get::<PanelRecord>(&panel_key(merchant_id)).await {
        Some(hit) => hit.value,
        None => match load_record(db, merchant_id).await {
            Ok(record) => record,
            Err(e) => {
                tracing::warn!(error = %e, merchant_id, "reading the PayPal snapshot for a case failed");
                return CasePaypal::Unavailable;
            }
        },
    };
    match record {
        PanelRecord { connected: false, .. } => CasePaypal::NotConnected,
        PanelRecord { snapshot: None, .. } => CasePaypal::NoData,
        PanelRecord { snapshot: Some(snapshot), failure, .. } => CasePaypal::Ready {
            age_seconds: age_of(&snapshot, now).num_seconds().max(0),
            withheld: snapshot.balances.iter().filter(|b| b.withheld.minor > 0).map(|b| b.withheld.clone()).collect(),
            account: snapshot.account,
            open_disputes: snapshot.open_disputes,
            failing: failure.map(|f| f.cause),
        },
    }
}

fn age_of(snapshot: &PaypalSnapshot, now: DateTime<Utc>) -> chrono::Duration {
    DateTime::parse_from_rfc3339(&snapshot.fetched_at).map(|t| now - t.with_timezone(&Utc)).unwrap_or_default()
}

/// Cache lifetime of a record: until its data is `stale_for` old (at least a minute), short
/// when there is no data yet.
fn record_ttl(record: &PanelRecord, config: &PaypalConfig, now: DateTime<Utc>) -> Duration {
    match &record.snapshot {
        None => EMPTY_RECORD_TTL,
        Some(snapshot) => {
            let age = age_of(snapshot, now).to_std().unwrap_or_default();
            config.stale_for.saturating_sub(age).max(Duration::from_secs(60))
        }
    }
}

/// The panel's inputs from the database: account (connected? failing?) and last snapshot.
pub async fn load_record(db: &impl ConnectionTrait, merchant_id: i32) -> Result<PanelRecord, ServiceError> {
    let Some(account) = paypal_account::Entity::find_by_id(merchant_id).one(db).await? else {
        return Ok(PanelRecord { connected: false, snapshot: None, failure: None });
    };
    let snapshot = paypal_snapshot::Entity::find_by_id(merchant_id).one(db).await?.and_then(|row| serde_json::from_str::<PaypalSnapshot>(&row.body).ok());
    Ok(PanelRecord { connected: true, snapshot, failure: failure_of(&account) })
}

fn failure_of(account: &paypal_account::Model) -> Option<PaypalSyncFailure> {
    let since = account.failing_since?;
    let cause =
        account.last_error.as_deref().and_then(PaypalError::from_kind).map(|e| e.to_string()).unwrap_or_else(|| "PayPal could not be reached".to_string());
    Some(PaypalSyncFailure { since: since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), cause })
}

/// Marks the merchant for a priority refresh and wakes the local sync loop (other instances find
/// it on their next poll). A burst of page loads seeing the same data version (`seen`: its fetch
/// time) queues it once per throttle window; newer data can be queued again at once.
async fn queue_refresh(
    db: &impl ConnectionTrait,
    cache: &Cache,
    paypal: &PaypalService,
    merchant_id: i32,
    seen: &str,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    if paypal.client.is_none() {
        return Ok(());
    }
    if cache.try_lock(&format!("paypal:refresh-queued:{merchant_id}:{seen}"), QUEUE_THROTTLE).await.is_none() {
        return Ok(());
    }
    mark_refresh_requested(db, merchant_id, now).await?;
    paypal.wake.notify_one();
    Ok(())
}

async fn mark_refresh_requested(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<bool, ServiceError> {
    let updated = paypal_account::Entity::update_many()
        .col_expr(paypal_account::Column::RefreshRequestedAt, sea_orm::sea_query::Expr::value(now))
        .filter(paypal_account::Column::MerchantId.eq(merchant_id))
        .filter(paypal_account::Column::RefreshRequestedAt.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRequest {
    Queued,
    NotConnected,
    /// Asked too recently; try again after this many seconds.
    TooSoon(u64),
}

/// The Refresh button: an asynchronous refresh, rate-limited per merchant.
pub async fn request_refresh(
    db: &impl ConnectionTrait,
    cache: &Cache,
    paypal: &PaypalService,
    merchant_id: i32,
    now: DateTime<Utc>,
) -> Result<RefreshRequest, ServiceError> {
    if paypal.client.is_none() || paypal_account::Entity::find_by_id(merchant_id).one(db).await?.is_none() {
        return Ok(RefreshRequest::NotConnected);
    }
    if cache.try_lock(&format!("paypal:refresh-button:{merchant_id}"), REFRESH_BUTTON_WINDOW).await.is_none() {
        return Ok(RefreshRequest::TooSoon(REFRESH_BUTTON_WINDOW.as_secs()));
    }
    mark_refresh_requested(db, merchant_id, now).await?;
    paypal.wake.notify_one();
    Ok(RefreshRequest::Queued)
}

/// Benchmark only: what the old dashboard did — ask PayPal while the merchant waits.
async fn naive_panel(db: &impl ConnectionTrait, paypal: &PaypalService, merchant_id: i32, now: DateTime<Utc>) -> Result<PaypalPanel, ServiceError> {
    let (Some(client), Some(account)) = (&paypal.client, paypal_account::Entity::find_by_id(merchant_id).one(db).await?) else {
        return Ok(PaypalPanel::NotConnected);
    };
    match client.fetch_all(&account.paypal_merchant_id, now, Cause::PageLoad).await {
        Ok(data) => Ok(PaypalPanel::Ready { snapshot: snapshot::build(data, Utc::now()), age_seconds: 0, stale: false, failure: None }),
        Err(e) => Ok(PaypalPanel::Syncing {
            failure: Some(PaypalSyncFailure { since: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), cause: e.to_string() }),
        }),
    }
}

/// Result of one background refresh of one merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    Refreshed,
    Failed(PaypalError),
    /// Another worker (maybe on another instance) holds the merchant, or it is no longer due.
    Skipped,
}

/// Refreshes one merchant from PayPal: at most one refresh per merchant at a time across all
/// instances (a lock with an expiry in the cache), re-checked against the database after the
/// lock is taken so a refresh that just finished elsewhere is not repeated.
pub async fn sync_merchant(db: &impl ConnectionTrait, cache: &Cache, paypal: &PaypalService, merchant_id: i32) -> Result<SyncOutcome, ServiceError> {
    let Some(client) = &paypal.client else { return Ok(SyncOutcome::Skipped) };
    let Some(lock) = cache.try_lock(&sync_lock_key(merchant_id), SYNC_LOCK_TTL).await else {
        return Ok(SyncOutcome::Skipped);
    };
    let result = sync_locked(db, cache, paypal, client, merchant_id).await;
    cache.unlock(lock).await;
    result
}

async fn sync_locked(
    db: &impl ConnectionTrait,
    cache: &Cache,
    paypal: &PaypalService,
    client: &PaypalClient,
    merchant_id: i32,
) -> Result<SyncOutcome, ServiceError> {
    let started = Utc::now();
    let Some(account) = paypal_account::Entity::find_by_id(merchant_id).one(db).await? else {
        return Ok(SyncOutcome::Skipped);
    };
    if account.refresh_requested_at.is_none() && account.next_sync_at > started {
        return Ok(SyncOutcome::Skipped);
    }
    let fetched = client.fetch_all(&account.paypal_merchant_id, started, Cause::Sync).await;
    let finished = Utc::now();
    let jitter = |base: Duration| base.mul_f64(rand::random_range(0.9..1.1));
    let mut update = paypal_account::ActiveModel { merchant_id: Set(merchant_id), last_attempt_at: Set(Some(finished)), ..Default::default() };
    let outcome = match fetched {
        Ok(data) => {
            let snapshot = snapshot::build(data, finished);
            let body = serde_json::to_string(&snapshot).expect("snapshots serialise");
            paypal_snapshot::Entity::insert(paypal_snapshot::ActiveModel { merchant_id: Set(merchant_id), body: Set(body), fetched_at: Set(finished) })
                .on_conflict(
                    OnConflict::column(paypal_snapshot::Column::MerchantId)
                        .update_columns([paypal_snapshot::Column::Body, paypal_snapshot::Column::FetchedAt])
                        .to_owned(),
                )
                .exec(db)
                .await?;
            update.last_success_at = Set(Some(finished));
            update.failing_since = Set(None);
            update.last_error = Set(None);
            update.next_sync_at = Set(finished + jitter(paypal.config.sync_interval));
            SyncOutcome::Refreshed
        }
        Err(error) => {
            update.failing_since = Set(Some(account.failing_since.unwrap_or(finished)));
            update.last_error = Set(Some(error.kind().to_string()));
            update.next_sync_at = Set(finished + jitter(paypal.config.retry_after_failure));
            SyncOutcome::Failed(error)
        }
    };
    paypal_account::Entity::update(update).exec(db).await?;
    // A request that arrived while we were fetching stays queued.
    paypal_account::Entity::update_many()
        .col_expr(paypal_account::Column::RefreshRequestedAt, sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None))
        .filter(paypal_account::Column::MerchantId.eq(merchant_id))
        .filter(paypal_account::Column::RefreshRequestedAt.lte(started))
        .exec(db)
        .await?;
    let record = load_record(db, merchant_id).await?;
    cache.put(&panel_key(merchant_id), &record, record_ttl(&record, &paypal.config, Utc::now())).await;
    Ok(outcome)
}
