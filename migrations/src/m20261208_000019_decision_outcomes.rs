//! Each decision's rule outcomes in a compact column (`decisions.outcomes`): one character per
//! rule of its ruleset version, in order — `m` matched, `n` not matched, `e` error. A backtest
//! takes unchanged rules' results from it without reading the whole decision record (about
//! 3.5 KB of JSON at 50 rules). NULL for decisions stored before it: those records are read whole.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Decisions::Table).add_column(text_null(Decisions::Outcomes)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Decisions::Table).drop_column(Decisions::Outcomes).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Decisions {
    Table,
    Outcomes,
}
