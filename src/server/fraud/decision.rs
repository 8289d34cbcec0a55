//! What a decision is made from and what it answers: the rules and lists in force ([`Loaded`]),
//! an ingest that passed its checks ([`Pending`]), the facts the rules see, and the API's answer
//! ([`DecisionResponse`]). Plain types and functions, shared by the request path
//! ([`super::ingest`]), the group-commit writer ([`super::writer`]) and the engine
//! ([`super::engine`]), which depend on this module and never on each other's insides.
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::currency;
use super::input::TransactionInput;
use super::lists::Lists;
use super::rules::{Evaluation, Facts, MerchantFacts, RuleEffect, RuleMode, RuleOutcome, RuleResult, Ruleset, TransactionFacts};
use super::velocity::{Counts, Payment, Subject};
use crate::app::dto::RuleResultView;

/// One consistent view of the rules and lists.
pub struct Loaded {
    pub generation: i64,
    /// 0 when no ruleset was ever published (everything is allowed).
    pub ruleset_version: i32,
    pub ruleset: Arc<Ruleset>,
    pub lists: Arc<Lists>,
}

/// Who is sending: the API key's id scopes Idempotency-Keys.
#[derive(Debug, Clone)]
pub struct Caller {
    pub api_key_id: i32,
    pub idempotency_key: Option<String>,
}

/// An ingest that passed its checks, ready to be decided and stored.
pub struct Pending {
    pub input: TransactionInput,
    pub caller: Caller,
    /// SHA-256 of the input: a retry must be the same transaction.
    pub hash: String,
    pub merchant: MerchantFacts,
    /// The rules and lists in force when the request came in.
    pub loaded: Arc<Loaded>,
    pub started: Instant,
}

/// What the writer did with an ingest.
pub enum Stored {
    Decided {
        response: DecisionResponse,
    },
    /// An ingest with the same (merchant, external_id) or Idempotency-Key was stored first; its
    /// response is in the database.
    Duplicate,
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
        merchant_id: input.merchant_id,
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
#[derive(Debug, Clone, Copy)]
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
pub fn decision_record(results: &[RuleResult], facts: &Facts) -> String {
    // Written straight to the string: no JSON tree is built first.
    #[derive(serde::Serialize)]
    struct DecisionRecord<'a> {
        rules: &'a [RuleResult],
        facts: &'a Facts,
    }
    serde_json::to_string(&DecisionRecord { rules: results, facts }).expect("decision records serialise")
}

/// Each rule's outcome as one character, in ruleset order: `m` matched, `n` not matched, `e`
/// error (`decisions.outcomes`: what a backtest reads instead of the whole record).
pub fn outcome_codes(results: &[RuleResult]) -> String {
    results
        .iter()
        .map(|r| match r.outcome {
            RuleOutcome::Matched => 'm',
            RuleOutcome::NotMatched => 'n',
            RuleOutcome::Error(_) => 'e',
        })
        .collect()
}

/// The facts a stored decision record ([`decision_record`]) kept, to evaluate other rules on what
/// that decision saw (a test, a backtest). The merchant is not in the record: the caller's
/// transaction row has it. An unreadable record reads as empty facts.
pub fn read_facts(json: &str, merchant_id: i32) -> Facts {
    // Only the facts are read; the rules' old results are skipped.
    #[derive(Deserialize)]
    struct StoredFacts {
        #[serde(default)]
        facts: Facts,
    }
    let mut facts = serde_json::from_str::<StoredFacts>(json).map(|s| s.facts).unwrap_or_default();
    facts.merchant_id = merchant_id;
    facts
}

/// A stored decision record ([`decision_record`]) as people read it: each rule's result, matches
/// first, and the facts pretty-printed.
pub fn read_record(json: &str) -> (Vec<RuleResultView>, String) {
    let Ok(record) = serde_json::from_str::<serde_json::Value>(json) else { return (Vec::new(), String::new()) };
    let rules = record["rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    let (outcome, error) = match &r["outcome"] {
                        serde_json::Value::String(s) => (s.clone(), None),
                        other => ("error".to_string(), other.get("error").and_then(|e| e.as_str()).map(String::from)),
                    };
                    RuleResultView {
                        rule: r["rule"].as_str().unwrap_or_default().to_string(),
                        mode: r["mode"].as_str().unwrap_or("live").to_string(),
                        outcome,
                        explanation: r["explanation"].as_str().map(String::from),
                        error,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let facts = serde_json::to_string_pretty(&record["facts"]).unwrap_or_default();
    // What decided first: matches, then errors, then the rest (each in ruleset order).
    let mut rules: Vec<RuleResultView> = rules;
    rules.sort_by_key(|r| match r.outcome.as_str() {
        "matched" => 0,
        "error" => 1,
        _ => 2,
    });
    (rules, facts)
}
