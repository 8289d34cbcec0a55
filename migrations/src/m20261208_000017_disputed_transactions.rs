//! A dispute names the payment it contests (`disputes.transaction_id`: PayPal's
//! `seller_transaction_id`, which the platform sends as the ingest's `external_id`): a backtest
//! counts a payment disputed as unauthorised as fraud, beside the reviewers' labels.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Disputes::Table).add_column(big_integer_null(Disputes::TransactionId)).to_owned()).await?;
        manager.create_index(Index::create().name("idx_disputes_transaction").table(Disputes::Table).col(Disputes::TransactionId).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_disputes_transaction").table(Disputes::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Disputes::Table).drop_column(Disputes::TransactionId).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Disputes {
    Table,
    TransactionId,
}
