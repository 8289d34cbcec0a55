//! Users, merchants, products, transactions and server-side sessions.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const ROLES: [&str; 3] = ["merchant", "reviewer", "admin"];
const RISK_STATES: [&str; 7] =
    ["not_reviewed", "compliant", "flagged_for_fraud", "flagged_for_tos_violation", "on_probation", "suspended_for_fraud", "suspended_for_tos_violation"];
const TRANSACTION_STATUSES: [&str; 5] = ["succeeded", "refunded", "failed", "in_review", "blocked"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Merchants::Table)
                    .col(pk_auto(Merchants::Id))
                    .col(string(Merchants::Name))
                    .col(string(Merchants::Email))
                    .col(char_len(Merchants::Country, 2))
                    .col(char_len(Merchants::Currency, 3))
                    .col(boolean(Merchants::Verified).default(false))
                    .col(string_len(Merchants::RiskState, 32).default("not_reviewed").check(Expr::col(Merchants::RiskState).is_in(RISK_STATES)))
                    .col(timestamp_with_time_zone(Merchants::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_auto(Users::Id))
                    .col(string_uniq(Users::Email))
                    .col(string(Users::DisplayName))
                    .col(string(Users::PasswordHash))
                    .col(string_len(Users::Role, 16).check(Expr::col(Users::Role).is_in(ROLES)))
                    .col(integer_null(Users::MerchantId))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .foreign_key(ForeignKey::create().from(Users::Table, Users::MerchantId).to(Merchants::Table, Merchants::Id))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .col(pk_auto(Products::Id))
                    .col(integer(Products::MerchantId))
                    .col(string(Products::Name))
                    .col(big_integer(Products::PriceMinor))
                    .col(char_len(Products::Currency, 3))
                    .col(timestamp_with_time_zone(Products::CreatedAt))
                    .foreign_key(ForeignKey::create().from(Products::Table, Products::MerchantId).to(Merchants::Table, Merchants::Id))
                    .to_owned(),
            )
            .await?;
        manager.create_index(Index::create().name("idx_products_merchant").table(Products::Table).col(Products::MerchantId).to_owned()).await?;

        manager
            .create_table(
                Table::create()
                    .table(Transactions::Table)
                    .col(big_pk_auto(Transactions::Id))
                    .col(integer(Transactions::MerchantId))
                    .col(integer_null(Transactions::ProductId))
                    .col(big_integer(Transactions::AmountMinor).check(Expr::col(Transactions::AmountMinor).gte(0)))
                    .col(char_len(Transactions::Currency, 3))
                    .col(string(Transactions::BuyerEmail))
                    .col(string_len(Transactions::BuyerIp, 45))
                    .col(string_len(Transactions::CardFingerprint, 64))
                    .col(char_len(Transactions::CardCountry, 2))
                    .col(string_len(Transactions::Status, 16).check(Expr::col(Transactions::Status).is_in(TRANSACTION_STATUSES)))
                    .col(timestamp_with_time_zone(Transactions::CreatedAt))
                    .foreign_key(ForeignKey::create().from(Transactions::Table, Transactions::MerchantId).to(Merchants::Table, Merchants::Id))
                    .foreign_key(ForeignKey::create().from(Transactions::Table, Transactions::ProductId).to(Products::Table, Products::Id))
                    .to_owned(),
            )
            .await?;
        // The dashboard reads one merchant's recent window (KPIs, chart) and its open items
        // (fraud panel); both are range scans on these.
        manager
            .create_index(
                Index::create()
                    .name("idx_transactions_merchant_created")
                    .table(Transactions::Table)
                    .col(Transactions::MerchantId)
                    .col(Transactions::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_transactions_merchant_status_created")
                    .table(Transactions::Table)
                    .col(Transactions::MerchantId)
                    .col(Transactions::Status)
                    .col(Transactions::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string_len(Sessions::Id, 64).primary_key())
                    .col(text(Sessions::Data))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager.create_index(Index::create().name("idx_sessions_expires_at").table(Sessions::Table).col(Sessions::ExpiresAt).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            [Sessions::Table.into_iden(), Transactions::Table.into_iden(), Products::Table.into_iden(), Users::Table.into_iden(), Merchants::Table.into_iden()]
        {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
    Name,
    Email,
    Country,
    Currency,
    Verified,
    RiskState,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    Role,
    MerchantId,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    MerchantId,
    Name,
    PriceMinor,
    Currency,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Transactions {
    Table,
    Id,
    MerchantId,
    ProductId,
    AmountMinor,
    Currency,
    BuyerEmail,
    BuyerIp,
    CardFingerprint,
    CardCountry,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    Data,
    ExpiresAt,
}
