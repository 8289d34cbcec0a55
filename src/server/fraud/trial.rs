//! "Test" in the rule editor: a draft evaluated on one transaction, beside what the published
//! rules decided. On a stored transaction the draft sees the facts its decision saw (velocity as
//! it was; lists as they are now); a pasted transaction is validated like the ingest API and
//! decided by both rulesets on the merchant's current facts. Nothing is written.
use std::sync::Arc;

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::decision::{self, read_record};
use super::engine::FraudEngine;
use super::rules::{Evaluation, Facts};
use super::{input, versions};
use crate::app::dto::{RuleProblem, RuleTrial, RulesetDraft, TrialSide, TrialSubject};
use crate::server::cache::Cache;

/// The largest pasted transaction, in bytes (the ingest API's single-transaction bound is larger,
/// but nothing valid comes close to this).
pub const MAX_PASTED_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    #[error("the draft has problems")]
    Invalid(Vec<RuleProblem>),
    #[error("the pasted transaction is not valid: {0}")]
    BadTransaction(String),
    #[error("transaction {0} does not exist or has no decision")]
    UnknownTransaction(i64),
    #[error("merchant {0} does not exist")]
    UnknownMerchant(i32),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

/// How the draft's side is named: it is the draft as on screen, saved or not.
const DRAFT_LABEL: &str = "Draft, as edited";

#[derive(FromQueryResult)]
struct StoredDecision {
    merchant_id: i32,
    external_id: String,
    ruleset_version: i32,
    outcome: String,
    score: f64,
    results: String,
}

pub async fn run(
    db: &impl ConnectionTrait,
    cache: &Cache,
    engine: &FraudEngine,
    draft: &RulesetDraft,
    subject: &TrialSubject,
) -> Result<RuleTrial, TrialError> {
    let compiled = versions::compile(draft).map_err(TrialError::Invalid)?;
    let loaded = engine.current().await?;
    let lists: Arc<dyn super::rules::ListLookup> = loaded.lists.clone();
    match subject {
        TrialSubject::TransactionId(id) => {
            let sql = "SELECT t.merchant_id, t.external_id, d.ruleset_version, d.outcome, d.score, d.results \
                       FROM transactions t JOIN decisions d ON d.transaction_id = t.id WHERE t.id = ?";
            let stmt = crate::server::db::statement(db.get_database_backend(), sql, vec![(*id).into()]);
            let stored = StoredDecision::find_by_statement(stmt).one(db).await?.ok_or(TrialError::UnknownTransaction(*id))?;
            let facts = decision::read_facts(&stored.results, stored.merchant_id);
            let (rules, facts_text) = read_record(&stored.results);
            let before = TrialSide {
                label: format!("Published version {}, as decided then", stored.ruleset_version),
                outcome: stored.outcome,
                score: stored.score,
                rules,
            };
            let after = side(DRAFT_LABEL.into(), &compiled.evaluate(&facts, lists));
            Ok(RuleTrial {
                subject: format!("Transaction {id} ({})", stored.external_id),
                facts: facts_text,
                caveat: Some("The draft sees the facts this decision saw (velocity as it was then) and the lists as they are now.".into()),
                before,
                after,
            })
        }
        TrialSubject::Pasted(json) => {
            if json.len() > MAX_PASTED_BYTES {
                return Err(TrialError::BadTransaction(format!("it is longer than {} KB", MAX_PASTED_BYTES / 1024)));
            }
            let input = input::decode(json.as_bytes()).map_err(|errors| {
                TrialError::BadTransaction(errors.iter().take(5).map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))
            })?;
            let merchant = super::ingest::merchant_facts(db, cache, input.merchant_id).await?.ok_or(TrialError::UnknownMerchant(input.merchant_id))?;
            // Reading velocity would count this payment; it is not one. Zero, and said so.
            let facts = decision::facts(&input, merchant, Some(Default::default()));
            let before = side(format!("Published version {}", loaded.ruleset_version), &loaded.ruleset.evaluate(&facts, lists.clone()));
            let after = side(DRAFT_LABEL.into(), &compiled.evaluate(&facts, lists));
            Ok(RuleTrial {
                subject: "The pasted transaction".into(),
                facts: serde_json::to_string_pretty(&facts).unwrap_or_default(),
                caveat: Some("Velocity counts read as 0 for a pasted transaction (it was never counted); test on a stored transaction to see them.".into()),
                before,
                after,
            })
        }
    }
}

fn side(label: String, evaluation: &Evaluation) -> TrialSide {
    let record = decision::decision_record(&evaluation.results, &Facts::default());
    let (rules, _) = read_record(&record);
    TrialSide { label, outcome: evaluation.action.as_str().to_string(), score: evaluation.score, rules }
}
