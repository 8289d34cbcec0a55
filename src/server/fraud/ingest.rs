//! Ingest: a transaction comes in, is decided, and is stored with its decision — exactly once.
//!
//! Exactly once: the first thing written, inside the database transaction that stores it, is the
//! idempotency record, unique per (merchant, external_id) and per (API key, Idempotency-Key). A
//! concurrent duplicate waits on that unique index (PostgreSQL) or the write lock (SQLite) until
//! the first commits, then finds the record and returns its response. Nothing is acknowledged
//! before the transaction, its decision, its case and the record are committed together (see
//! [`super::writer`] for how ingests that arrive together share that database transaction).
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::currency;
use super::engine::{FraudEngine, Loaded};
use super::rules::{Evaluation, Facts, MerchantFacts, RuleEffect, RuleMode, RuleOutcome, TransactionFacts};
use super::velocity::{Counts, Payment, Subject};
use super::writer::{Pending, Stored};
use crate::server::cache::Cache;
use crate::server::db::entities::{ingest_request, merchant, product};

pub const MAX_BATCH: usize = 1000;
/// Merchant facts (age, volume, dispute rate) change slowly; a minute is fresh enough.
const MERCHANT_FACTS_TTL: Duration = Duration::from_secs(60);

/// A transaction as the platform sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TransactionInput {
    /// The platform's id for the transaction: 1–64 of `A-Z a-z 0-9 _ - : .`; unique per merchant.
    #[schema(example = "ch_3PqX9a")]
    pub external_id: String,
    #[schema(example = 1)]
    pub merchant_id: i32,
    /// In minor units of the currency (cents for USD, yen for JPY): 1 to 10^12.
    #[schema(example = 1999)]
    pub amount: i64,
    /// ISO 4217, one of the supported currencies.
    #[schema(example = "USD")]
    pub currency: String,
    #[schema(example = "buyer@example.com")]
    pub buyer_email: String,
    /// IPv4 or IPv6.
    #[schema(example = "198.51.100.7")]
    pub buyer_ip: String,
    /// ISO 3166-1 alpha-2 country of the IP, when the platform knows it.
    #[schema(example = "US")]
    pub ip_country: Option<String>,
    /// The card's stable fingerprint from the processor: 1–64 visible ASCII characters.
    #[schema(example = "fp_1MqL2x")]
    pub card_fingerprint: String,
    /// The first 6 to 8 digits of the card number.
    #[schema(example = "424242")]
    pub card_bin: Option<String>,
    /// ISO 3166-1 alpha-2 country that issued the card.
    #[schema(example = "US")]
    pub card_country: String,
    pub product_id: Option<i32>,
}

/// The body of `POST /api/v1/transactions/batch`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchInput {
    /// 1 to 1,000 transactions.
    pub transactions: Vec<TransactionInput>,
}

/// A problem with one field of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// The field's path: `amount`, or `transactions[3].amount` in a batch.
    pub field: String,
    pub message: String,
}

const FIELDS: &[&str] = &[
    "external_id",
    "merchant_id",
    "amount",
    "currency",
    "buyer_email",
    "buyer_ip",
    "ip_country",
    "card_fingerprint",
    "card_bin",
    "card_country",
    "product_id",
];

/// Decodes and validates one transaction; every problem is reported, with its field.
pub fn decode(body: &[u8]) -> Result<TransactionInput, Vec<FieldError>> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| vec![FieldError { field: String::new(), message: format!("the body is not valid JSON: {e}") }])?;
    validate(&value, "")
}

/// Decodes and validates a batch; every problem of every item is reported.
pub fn decode_batch(body: &[u8]) -> Result<Vec<TransactionInput>, Vec<FieldError>> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| vec![FieldError { field: String::new(), message: format!("the body is not valid JSON: {e}") }])?;
    let Value::Object(object) = value else {
        return Err(vec![FieldError { field: String::new(), message: "the body must be an object with a `transactions` array".into() }]);
    };
    let mut errors = Vec::new();
    for key in object.keys().filter(|k| *k != "transactions") {
        errors.push(FieldError { field: key.clone(), message: "unknown field".into() });
    }
    let items = match object.get("transactions") {
        Some(Value::Array(items)) if items.is_empty() => {
            errors.push(FieldError { field: "transactions".into(), message: "must hold at least one transaction".into() });
            return Err(errors);
        }
        Some(Value::Array(items)) if items.len() > MAX_BATCH => {
            errors.push(FieldError { field: "transactions".into(), message: format!("holds {} transactions; the limit is {MAX_BATCH}", items.len()) });
            return Err(errors);
        }
        Some(Value::Array(items)) => items,
        _ => {
            errors.push(FieldError { field: "transactions".into(), message: "is required and must be an array".into() });
            return Err(errors);
        }
    };
    let mut decoded = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match validate(item, &format!("transactions[{index}].")) {
            Ok(input) => decoded.push(input),
            Err(mut item_errors) => errors.append(&mut item_errors),
        }
    }
    if errors.is_empty() {
        Ok(decoded)
    } else {
        Err(errors)
    }
}

fn validate(value: &Value, prefix: &str) -> Result<TransactionInput, Vec<FieldError>> {
    let Value::Object(object) = value else {
        return Err(vec![FieldError { field: prefix.trim_end_matches('.').to_string(), message: "must be a JSON object".into() }]);
    };
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: &str| errors.push(FieldError { field: format!("{prefix}{field}"), message: message.to_string() });
    for key in object.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        fail(key, "unknown field");
    }
    let external_id = text(
        object,
        "external_id",
        &mut fail,
        |s| (1..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-:.".contains(c)),
        "must be 1 to 64 characters of A-Z, a-z, 0-9, _ - : .",
    );
    let merchant_id = match object.get("merchant_id") {
        None | Some(Value::Null) => {
            fail("merchant_id", "is required");
            None
        }
        Some(v) => match v.as_i64().filter(|n| (1..=i32::MAX as i64).contains(n)) {
            Some(n) => Some(n as i32),
            None => {
                fail("merchant_id", "must be a positive integer");
                None
            }
        },
    };
    let amount = match object.get("amount") {
        None | Some(Value::Null) => {
            fail("amount", "is required");
            None
        }
        Some(v) => match v.as_i64().filter(|n| (1..=1_000_000_000_000).contains(n)) {
            Some(n) => Some(n),
            None => {
                fail("amount", "must be an integer number of minor units (cents) from 1 to 10^12");
                None
            }
        },
    };
    let currency = text(object, "currency", &mut fail, |s| currency::find(s).is_some(), "must be a supported ISO 4217 code (USD, EUR, GBP, …)")
        .and_then(|s| currency::find(&s).map(str::to_string));
    let buyer_email = text(object, "buyer_email", &mut fail, is_email, "must be an email address").map(|s| s.trim().to_ascii_lowercase());
    let buyer_ip = text(object, "buyer_ip", &mut fail, |s| IpAddr::from_str(s).is_ok(), "must be an IPv4 or IPv6 address")
        .and_then(|s| IpAddr::from_str(&s).ok().map(|ip| ip.to_string()));
    let ip_country = optional_text(object, "ip_country", &mut fail, is_country, "must be a two-letter ISO 3166-1 country code").map(|s| s.to_ascii_uppercase());
    let card_fingerprint = text(
        object,
        "card_fingerprint",
        &mut fail,
        |s| (1..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_graphic()),
        "must be 1 to 64 visible ASCII characters",
    );
    let card_bin = optional_text(
        object,
        "card_bin",
        &mut fail,
        |s| (6..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit()),
        "must be the card's first 6 to 8 digits",
    );
    let card_country = text(object, "card_country", &mut fail, is_country, "must be a two-letter ISO 3166-1 country code").map(|s| s.to_ascii_uppercase());
    let product_id = match object.get("product_id") {
        None | Some(Value::Null) => Some(None),
        Some(v) => match v.as_i64().filter(|n| (1..=i32::MAX as i64).contains(n)) {
            Some(n) => Some(Some(n as i32)),
            None => {
                fail("product_id", "must be a positive integer");
                None
            }
        },
    };
    match (external_id, merchant_id, amount, currency, buyer_email, buyer_ip, card_fingerprint, card_country, product_id) {
        (
            Some(external_id),
            Some(merchant_id),
            Some(amount),
            Some(currency),
            Some(buyer_email),
            Some(buyer_ip),
            Some(card_fingerprint),
            Some(card_country),
            Some(product_id),
        ) if errors.is_empty() => Ok(TransactionInput {
            external_id,
            merchant_id,
            amount,
            currency,
            buyer_email,
            buyer_ip,
            ip_country,
            card_fingerprint,
            card_bin,
            card_country,
            product_id,
        }),
        _ => Err(errors),
    }
}

fn text(object: &Map<String, Value>, field: &str, fail: &mut impl FnMut(&str, &str), ok: impl Fn(&str) -> bool, message: &str) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => {
            fail(field, "is required");
            None
        }
        Some(Value::String(s)) if ok(s) => Some(s.clone()),
        Some(_) => {
            fail(field, message);
            None
        }
    }
}

fn optional_text(object: &Map<String, Value>, field: &str, fail: &mut impl FnMut(&str, &str), ok: impl Fn(&str) -> bool, message: &str) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if ok(s) => Some(s.clone()),
        Some(_) => {
            fail(field, message);
            None
        }
    }
}

fn is_email(s: &str) -> bool {
    let s = s.trim();
    let Some((local, domain)) = s.rsplit_once('@') else { return false };
    s.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

fn is_country(s: &str) -> bool {
    s.len() == 2 && s.chars().all(|c| c.is_ascii_alphabetic())
}

/// A rule that matched, as the API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MatchedRule {
    pub name: String,
    /// `allow`, `review`, `block`, or `score +30`.
    pub effect: String,
    /// The rule's description and the values it read.
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleErrorReport {
    pub name: String,
    pub error: String,
}

/// The decision on a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DecisionResponse {
    pub decision_id: i64,
    pub transaction_id: i64,
    pub merchant_id: i32,
    pub external_id: String,
    /// `allow`, `review` (a case is opened) or `block`.
    #[schema(example = "review")]
    pub outcome: String,
    /// Sum of the matching live score rules.
    pub score: f64,
    pub ruleset_version: i32,
    /// Live rules that matched, in ruleset order.
    pub matched_rules: Vec<MatchedRule>,
    /// Shadow rules that matched: recorded, never acted on.
    pub shadow_matches: Vec<MatchedRule>,
    /// Rules that failed at run time; they contributed nothing.
    pub rule_errors: Vec<RuleErrorReport>,
    /// The review case, when the outcome is `review`.
    pub case_id: Option<i64>,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("merchant {0} does not exist")]
    UnknownMerchant(i32),
    #[error("product {product_id} is not a product of merchant {merchant_id}")]
    UnknownProduct { product_id: i32, merchant_id: i32 },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("external_id {0:?} was already used for a different transaction of this merchant")]
    ExternalIdReused(String),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

pub struct Ingested {
    pub response: DecisionResponse,
    /// True when this is the stored answer to an earlier identical request.
    pub replayed: bool,
}

/// Who is sending: the API key's id scopes Idempotency-Keys.
#[derive(Debug, Clone)]
pub struct Caller {
    pub api_key_id: i32,
    pub idempotency_key: Option<String>,
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
            metrics::histogram!("vetted_fraud_decision_seconds").record(started.elapsed().as_secs_f64());
            Ok(Ingested { response, replayed: false })
        }
        // A duplicate was stored first (its commit is what we waited for): answer with its response.
        Stored::Duplicate => find_previous(db, caller, &input, &hash).await?.ok_or(IngestError::Database(sea_orm::DbErr::RecordNotInserted)),
    }
}

/// What velocity counts of a transaction.
pub fn payment(input: &TransactionInput) -> Payment {
    Payment {
        subject: Subject { card: input.card_fingerprint.clone(), email: input.buyer_email.clone(), ip: input.buyer_ip.clone(), merchant: input.merchant_id },
        amount_usd_cents: (currency::to_usd(input.amount, &input.currency) * 100.0).round() as i64,
    }
}

/// What the rules see; `velocity` is None when the velocity store did not answer.
pub fn facts(input: &TransactionInput, merchant: MerchantFacts, velocity: Option<Counts>) -> Facts {
    Facts {
        transaction: TransactionFacts {
            amount: currency::to_major(input.amount, &input.currency),
            currency: input.currency.clone(),
            amount_usd: currency::to_usd(input.amount, &input.currency),
            buyer_email: input.buyer_email.clone(),
            email_domain: input.buyer_email.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default(),
            ip: input.buyer_ip.clone(),
            ip_country: input.ip_country.clone().unwrap_or_default(),
            card_fingerprint: input.card_fingerprint.clone(),
            card_bin: input.card_bin.clone().unwrap_or_default(),
            card_country: input.card_country.clone(),
        },
        merchant,
        velocity_unavailable: velocity.is_none(),
        velocity: velocity.unwrap_or_default(),
    }
}

/// The rows a decided transaction was stored as.
pub struct StoredIds {
    pub transaction_id: i64,
    pub decision_id: i64,
    pub case_id: Option<i64>,
}

/// The API's answer: the outcome, and each rule that matched or failed with its explanation.
pub fn response(input: &TransactionInput, loaded: &Loaded, evaluation: &Evaluation, ids: StoredIds, now: DateTime<Utc>) -> DecisionResponse {
    let mut response = DecisionResponse {
        decision_id: ids.decision_id,
        transaction_id: ids.transaction_id,
        merchant_id: input.merchant_id,
        external_id: input.external_id.clone(),
        outcome: evaluation.action.as_str().to_string(),
        score: evaluation.score,
        ruleset_version: loaded.ruleset_version,
        matched_rules: Vec::new(),
        shadow_matches: Vec::new(),
        rule_errors: Vec::new(),
        case_id: ids.case_id,
        decided_at: now,
    };
    for (rule, result) in loaded.ruleset.rules.iter().zip(&evaluation.results) {
        match &result.outcome {
            RuleOutcome::Matched => {
                let effect = match rule.effect {
                    RuleEffect::Action(action) => action.as_str().to_string(),
                    RuleEffect::Score(points) => format!("score {points:+}"),
                };
                let matched = MatchedRule { name: rule.name.to_string(), effect, explanation: result.explanation.clone().unwrap_or_default() };
                match rule.mode {
                    RuleMode::Live => response.matched_rules.push(matched),
                    RuleMode::Shadow => response.shadow_matches.push(matched),
                }
            }
            RuleOutcome::Error(error) => response.rule_errors.push(RuleErrorReport { name: rule.name.to_string(), error: error.clone() }),
            RuleOutcome::NotMatched => {}
        }
    }
    response
}

/// The decision as stored: each rule's result, and the facts the rules saw with velocity keys
/// that were 0 left out — small enough to stay inline in the row (PostgreSQL moves values over
/// ~2 KB out of line, at the cost of two more writes).
pub fn decision_record(results: &[super::rules::RuleResult], facts: &Facts) -> String {
    // Written straight to the string: no JSON tree is built first.
    #[derive(serde::Serialize)]
    struct DecisionRecord<'a> {
        rules: &'a [super::rules::RuleResult],
        facts: &'a Facts,
    }
    serde_json::to_string(&DecisionRecord { rules: results, facts }).expect("decision records serialise")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Value {
        serde_json::json!({
            "external_id": "ch_1", "merchant_id": 1, "amount": 1999, "currency": "usd",
            "buyer_email": "Buyer@Example.com", "buyer_ip": "198.51.100.7", "ip_country": "us",
            "card_fingerprint": "fp_1", "card_bin": "424242", "card_country": "US"
        })
    }

    #[test]
    fn a_valid_transaction_is_decoded_and_normalised() {
        let input = decode(valid().to_string().as_bytes()).unwrap();
        assert_eq!(input.currency, "USD");
        assert_eq!(input.buyer_email, "buyer@example.com");
        assert_eq!(input.ip_country.as_deref(), Some("US"));
        assert_eq!(input.product_id, None);
    }

    #[test]
    fn every_bad_field_is_reported_with_its_name() {
        let mut body = valid();
        body["amount"] = serde_json::json!(-5);
        body["currency"] = serde_json::json!("XXX");
        body["buyer_email"] = serde_json::json!("not-an-email");
        body["surprise"] = serde_json::json!(true);
        body.as_object_mut().unwrap().remove("card_country");
        let errors = decode(body.to_string().as_bytes()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for expected in ["amount", "currency", "buyer_email", "surprise", "card_country"] {
            assert!(fields.contains(&expected), "{expected} missing from {errors:?}");
        }
        assert_eq!(errors.len(), 5, "{errors:?}");
    }

    #[test]
    fn batch_errors_name_the_item() {
        let mut bad = valid();
        bad["buyer_ip"] = serde_json::json!("999.1.1.1");
        let body = serde_json::json!({ "transactions": [valid(), bad] });
        let errors = decode_batch(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(errors, vec![FieldError { field: "transactions[1].buyer_ip".into(), message: "must be an IPv4 or IPv6 address".into() }]);
        let too_many = serde_json::json!({ "transactions": vec![valid(); MAX_BATCH + 1] });
        assert_eq!(decode_batch(too_many.to_string().as_bytes()).unwrap_err()[0].field, "transactions");
    }

    /// Property: whatever the bytes, the decoder answers (a transaction or field errors) without
    /// panicking; a decoded transaction re-encodes to something that decodes to itself.
    #[test]
    fn the_decoder_never_panics_and_round_trips() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let pieces: Vec<Value> = vec![
            serde_json::json!(null),
            serde_json::json!(0),
            serde_json::json!(-1),
            serde_json::json!(1e300),
            serde_json::json!(i64::MAX),
            serde_json::json!(""),
            serde_json::json!("x"),
            serde_json::json!("é@ü.de"),
            serde_json::json!("::1"),
            serde_json::json!("USD"),
            serde_json::json!([1, 2]),
            serde_json::json!({"a": 1}),
            serde_json::json!(true),
            serde_json::json!("1.2.3.4"),
            serde_json::json!("a".repeat(300)),
        ];
        let base = valid();
        let keys: Vec<String> = base.as_object().unwrap().keys().cloned().chain(["extra".to_string()]).collect();
        let mut accepted = 0;
        for _ in 0..5_000 {
            let mut body = base.clone();
            for _ in 0..rng.random_range(0..4) {
                let key = &keys[rng.random_range(0..keys.len())];
                if rng.random_bool(0.2) {
                    body.as_object_mut().unwrap().remove(key);
                } else {
                    body[key] = pieces[rng.random_range(0..pieces.len())].clone();
                }
            }
            let mut bytes = body.to_string().into_bytes();
            if rng.random_bool(0.2) && !bytes.is_empty() {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
            if let Ok(input) = decode(&bytes) {
                accepted += 1;
                let again = decode(&serde_json::to_vec(&input).unwrap()).expect("a decoded transaction re-decodes");
                assert_eq!(again, input);
            }
        }
        assert!(accepted > 100, "the generator should also produce valid input ({accepted})");
    }
}
