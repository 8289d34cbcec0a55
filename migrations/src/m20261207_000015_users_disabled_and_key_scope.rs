//! Admin console, users and API keys: a user can be disabled (`users.disabled_at`: they cannot
//! sign in and their sessions end), and an ingest API key can be bound to one merchant
//! (`api_keys.merchant_id`: it sends, and reads back, that merchant's transactions only).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Users::Table).add_column(timestamp_with_time_zone_null(Users::DisabledAt)).to_owned()).await?;
        manager.get_connection().execute_unprepared("ALTER TABLE api_keys ADD COLUMN merchant_id INTEGER NULL REFERENCES merchants (id)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE api_keys DROP COLUMN merchant_id").await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::DisabledAt).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    DisabledAt,
}
