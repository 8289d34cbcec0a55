//! Connected PayPal accounts (with their background-sync bookkeeping) and the durable last-known
//! PayPal snapshot per merchant, which the dashboard reads when the cache is cold or down.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PaypalAccounts::Table)
                    .col(integer(PaypalAccounts::MerchantId).primary_key())
                    .col(string_len_uniq(PaypalAccounts::PaypalMerchantId, 32))
                    .col(timestamp_with_time_zone(PaypalAccounts::ConnectedAt))
                    // Scheduling: due when next_sync_at has passed or a refresh was asked for.
                    .col(timestamp_with_time_zone(PaypalAccounts::NextSyncAt))
                    .col(timestamp_with_time_zone_null(PaypalAccounts::RefreshRequestedAt))
                    // Recently active merchants are refreshed first.
                    .col(timestamp_with_time_zone_null(PaypalAccounts::LastActiveAt))
                    // Outcome of the latest attempts; last_error is a short kind, never a message.
                    .col(timestamp_with_time_zone_null(PaypalAccounts::LastAttemptAt))
                    .col(timestamp_with_time_zone_null(PaypalAccounts::LastSuccessAt))
                    .col(timestamp_with_time_zone_null(PaypalAccounts::FailingSince))
                    .col(string_len_null(PaypalAccounts::LastError, 32))
                    .foreign_key(ForeignKey::create().from(PaypalAccounts::Table, PaypalAccounts::MerchantId).to(Merchants::Table, Merchants::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_paypal_accounts_next_sync").table(PaypalAccounts::Table).col(PaypalAccounts::NextSyncAt).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PaypalSnapshots::Table)
                    .col(integer(PaypalSnapshots::MerchantId).primary_key())
                    // The snapshot as JSON: balances, recent transactions, open disputes, status.
                    .col(text(PaypalSnapshots::Body))
                    .col(timestamp_with_time_zone(PaypalSnapshots::FetchedAt))
                    .foreign_key(ForeignKey::create().from(PaypalSnapshots::Table, PaypalSnapshots::MerchantId).to(Merchants::Table, Merchants::Id))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PaypalSnapshots::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(PaypalAccounts::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PaypalAccounts {
    Table,
    MerchantId,
    PaypalMerchantId,
    ConnectedAt,
    NextSyncAt,
    RefreshRequestedAt,
    LastActiveAt,
    LastAttemptAt,
    LastSuccessAt,
    FailingSince,
    LastError,
}

#[derive(DeriveIden)]
enum PaypalSnapshots {
    Table,
    MerchantId,
    Body,
    FetchedAt,
}
