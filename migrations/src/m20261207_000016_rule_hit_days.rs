//! Each rule's matches per day, and the labels of the payments it matched: what the rules page
//! shows beside each rule (30-day hits, a sparkline, precision) without reading a decision.
//! `fraud::rule_stats` fills it: hits from a background roll-up of stored decisions (its place
//! in `job_cursors`), labels as reviewers resolve cases.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RuleHitDays::Table)
                    // YYYY-MM-DD, UTC: the day of the decision.
                    .col(string_len(RuleHitDays::Day, 10))
                    .col(string_len(RuleHitDays::Rule, 200))
                    .col(big_integer(RuleHitDays::Hits).default(0))
                    // Of the matched payments that a reviewer labelled: fraud, and not fraud.
                    .col(big_integer(RuleHitDays::Fraud).default(0))
                    .col(big_integer(RuleHitDays::Legit).default(0))
                    .primary_key(Index::create().col(RuleHitDays::Day).col(RuleHitDays::Rule))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RuleHitDays::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum RuleHitDays {
    Table,
    Day,
    Rule,
    Hits,
    Fraud,
    Legit,
}
