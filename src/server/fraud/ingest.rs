//! Ingest: a transaction comes in, is decided, and is stored with its decision — exactly once.
//!
//! The request path: the body was validated ([`super::input`]); here the merchant and product
//! are checked and the merchant's facts read, then the engine's writer decides and stores it.
//!
//! Exactly once: the first thing written, inside the database transaction that stores it, is the
//! idempotency record, unique per (merchant, external_id) and per (API key, Idempotency-Key). A
//! concurrent duplicate waits on that unique index (PostgreSQL) or the write lock (SQLite) until
//! the first commits, then finds the record and returns its response. Nothing is acknowledged
//! before the transaction, its decision, its case and the record are committed together (see
//! [`super::writer`] for how ingests that arrive together share that database transaction).
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use super::currency;
use super::decision::{Caller, DecisionResponse, IngestError, Pending, Stored};
use super::engine::FraudEngine;
use super::input::TransactionInput;
use super::rules::MerchantFacts;
use crate::server::cache::Cache;
use crate::server::db::entities::{ingest_request, merchant, product};

/// Merchant facts (age, volume, dispute rate) change slowly; a minute is fresh enough.
const MERCHANT_FACTS_TTL: Duration = Duration::from_secs(60);

pub struct Ingested {
    pub response: DecisionResponse,
    /// True when this is the stored answer to an earlier identical request.
    pub replayed: bool,
}

/// SHA-256 of the canonical input: a retry must be the same transaction.
pub fn request_hash(input: &TransactionInput) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(input).expect("input serialises")))
}

/// Decides and stores one transaction, or returns the stored decision of an earlier identical
/// request. The checks run here, concurrently; deciding and storing go through the engine's
/// writer, which commits the ingests that arrive together in one transaction.
pub async fn ingest(db: &DatabaseConnection, cache: &Cache, engine: &FraudEngine, caller: &Caller, input: TransactionInput) -> Result<Ingested, IngestError> {
    let started = Instant::now();
    let hash = request_hash(&input);
    // A reused Idempotency-Key is answered before anything is counted. Retries by external_id
    // alone meet the claim's unique index in the writer and are answered from there.
    if caller.idempotency_key.is_some() {
        if let Some(done) = find_previous(db, caller, &input, &hash).await? {
            return Ok(done);
        }
    }
    let merchant = merchant_facts(db, cache, input.merchant_id).await?.ok_or(IngestError::UnknownMerchant(input.merchant_id))?;
    if let Some(product_id) = input.product_id {
        let owner = product::Entity::find_by_id(product_id).one(db).await?.map(|p| p.merchant_id);
        if owner != Some(input.merchant_id) {
            return Err(IngestError::UnknownProduct { product_id, merchant_id: input.merchant_id });
        }
    }
    let loaded = engine.current().await?;
    let pending = Pending { input: input.clone(), caller: caller.clone(), hash: hash.clone(), merchant, loaded, started };
    match engine.writer.store(pending).await? {
        Stored::Decided { response } => {
            metrics::counter!("vetted_fraud_decisions_total", "outcome" => response.outcome.clone()).increment(1);
            // Once per stored decision (a replay is not one). Rule names are the admins', up to
            // versions::MAX_RULE_NAME_CHARS each and MAX_RULES a ruleset: the series stay few.
            for failed in &response.rule_errors {
                metrics::counter!("vetted_fraud_rule_errors_total", "rule" => failed.name.clone()).increment(1);
            }
            metrics::histogram!("vetted_fraud_decision_seconds").record(started.elapsed().as_secs_f64());
            Ok(Ingested { response, replayed: false })
        }
        // A duplicate was stored first (its commit is what we waited for): answer with its response.
        Stored::Duplicate => find_previous(db, caller, &input, &hash).await?.ok_or(IngestError::Database(sea_orm::DbErr::RecordNotInserted)),
    }
}

/// The stored answer to an earlier request with the same (merchant, external_id) or the same
/// Idempotency-Key; an error when that earlier request was a different one.
async fn find_previous(db: &impl ConnectionTrait, caller: &Caller, input: &TransactionInput, hash: &str) -> Result<Option<Ingested>, IngestError> {
    let mut condition = Condition::any()
        .add(Condition::all().add(ingest_request::Column::MerchantId.eq(input.merchant_id)).add(ingest_request::Column::ExternalId.eq(&input.external_id)));
    if let Some(key) = &caller.idempotency_key {
        condition =
            condition.add(Condition::all().add(ingest_request::Column::ApiKeyId.eq(caller.api_key_id)).add(ingest_request::Column::IdempotencyKey.eq(key)));
    }
    let found = ingest_request::Entity::find().filter(condition).all(db).await?;
    for previous in &found {
        let same_key = caller.idempotency_key.is_some() && previous.idempotency_key == caller.idempotency_key && previous.api_key_id == caller.api_key_id;
        if previous.request_hash != hash {
            return Err(if same_key { IngestError::IdempotencyKeyReused } else { IngestError::ExternalIdReused(input.external_id.clone()) });
        }
    }
    let Some(previous) = found.into_iter().find_map(|p| p.response) else { return Ok(None) };
    let response: DecisionResponse =
        serde_json::from_str(&previous).map_err(|_| IngestError::Database(sea_orm::DbErr::Custom("stored response unreadable".into())))?;
    Ok(Some(Ingested { response, replayed: true }))
}

/// What rules see of the merchant, cached for a minute; None when there is no such merchant.
pub async fn merchant_facts(db: &impl ConnectionTrait, cache: &Cache, merchant_id: i32) -> Result<Option<MerchantFacts>, sea_orm::DbErr> {
    let key = format!("fraud:merchant:{merchant_id}");
    if let Some(hit) = cache.get::<MerchantFacts>(&key).await {
        return Ok(Some(hit.value));
    }
    let Some(model) = merchant::Entity::find_by_id(merchant_id).one(db).await? else { return Ok(None) };
    let now = Utc::now();
    let facts = MerchantFacts {
        age_days: (now - model.created_at).num_days(),
        country: model.country.clone(),
        risk_state: model.risk_state.clone(),
        verified: model.verified,
        lifetime_volume_usd: lifetime_volume_usd(db, merchant_id).await?,
        dispute_rate: dispute_rate(db, merchant_id, now).await?,
    };
    cache.put(&key, &facts, MERCHANT_FACTS_TTL).await;
    Ok(Some(facts))
}

#[derive(sea_orm::FromQueryResult)]
struct VolumeRow {
    currency: String,
    total: i64,
}

async fn lifetime_volume_usd(db: &impl ConnectionTrait, merchant_id: i32) -> Result<f64, sea_orm::DbErr> {
    use sea_orm::FromQueryResult;
    let sql = "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) AS total FROM transactions WHERE merchant_id = ? AND status IN ('succeeded', 'refunded') GROUP BY currency";
    let stmt = crate::server::db::statement(db.get_database_backend(), sql, vec![merchant_id.into()]);
    let rows = VolumeRow::find_by_statement(stmt).all(db).await?;
    Ok(rows.iter().map(|r| currency::to_usd(r.total, &r.currency)).sum())
}

#[derive(sea_orm::FromQueryResult)]
struct CountRow {
    n: i64,
}

/// Disputes opened in the last 90 days over payments taken in them.
async fn dispute_rate(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<f64, sea_orm::DbErr> {
    use sea_orm::FromQueryResult;
    let since = now - chrono::Duration::days(90);
    let backend = db.get_database_backend();
    let count = |sql: &str| crate::server::db::statement(backend, sql, vec![merchant_id.into(), since.into()]);
    let disputes =
        CountRow::find_by_statement(count("SELECT COUNT(*) AS n FROM disputes WHERE merchant_id = ? AND opened_at >= ?")).one(db).await?.map_or(0, |r| r.n);
    let payments = CountRow::find_by_statement(count("SELECT COUNT(*) AS n FROM transactions WHERE merchant_id = ? AND created_at >= ?"))
        .one(db)
        .await?
        .map_or(0, |r| r.n);
    Ok(if payments == 0 { 0.0 } else { disputes as f64 / payments as f64 })
}

/// Forgets the cached merchant facts (after a dispute or a state change).
pub async fn forget_merchant_facts(cache: &Cache, merchant_id: i32) {
    cache.remove(&format!("fraud:merchant:{merchant_id}")).await;
}
