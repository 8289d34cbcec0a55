//! Schema migrations for Vetted. One set of migrations serves SQLite and PostgreSQL; the server
//! applies them at start-up and `vetted migrate` applies them on demand.
pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_paypal;
mod m20261122_000003_fraud;
mod m20261201_000004_lz4_for_decision_records;
mod m20261201_000005_one_draft_and_one_published_ruleset;
mod m20261202_000006_each_payment_in_one_velocity_bucket;
mod m20261207_000007_resumable_reconciliation;
mod m20261207_000008_merchant_risk_history;
mod m20261207_000009_review_queue;
mod m20261207_000010_case_search;
mod m20261207_000011_list_entries_per_merchant;
mod m20261207_000012_audit_log_and_draft_revisions;
mod m20261207_000013_backtests;
mod m20261207_000014_list_removal_and_audit_filters;
mod m20261207_000015_users_disabled_and_key_scope;
mod m20261207_000016_rule_hit_days;
mod m20261208_000017_disputed_transactions;
mod m20261208_000018_outbound_webhooks;
mod m20261208_000019_decision_outcomes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_paypal::Migration),
            Box::new(m20261122_000003_fraud::Migration),
            Box::new(m20261201_000004_lz4_for_decision_records::Migration),
            Box::new(m20261201_000005_one_draft_and_one_published_ruleset::Migration),
            Box::new(m20261202_000006_each_payment_in_one_velocity_bucket::Migration),
            Box::new(m20261207_000007_resumable_reconciliation::Migration),
            Box::new(m20261207_000008_merchant_risk_history::Migration),
            Box::new(m20261207_000009_review_queue::Migration),
            Box::new(m20261207_000010_case_search::Migration),
            Box::new(m20261207_000011_list_entries_per_merchant::Migration),
            Box::new(m20261207_000012_audit_log_and_draft_revisions::Migration),
            Box::new(m20261207_000013_backtests::Migration),
            Box::new(m20261207_000014_list_removal_and_audit_filters::Migration),
            Box::new(m20261207_000015_users_disabled_and_key_scope::Migration),
            Box::new(m20261207_000016_rule_hit_days::Migration),
            Box::new(m20261208_000017_disputed_transactions::Migration),
            Box::new(m20261208_000018_outbound_webhooks::Migration),
            Box::new(m20261208_000019_decision_outcomes::Migration),
        ]
    }
}
