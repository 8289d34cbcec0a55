//! The webhook-event reconciliation resumes a long list where its last run stopped, and runs on
//! one instance at a time (`src/server/paypal/webhooks.rs`). Its `job_cursors` row keeps, beside
//! the position: the pass under way (its end and the next page to read) and a lease (its
//! holder and expiry), taken with a conditional UPDATE. One column per statement: SQLite alters
//! a table one change at a time.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            timestamp_with_time_zone_null(JobCursors::PassEnd),
            // A next link of PayPal's list, relative to the API's base URL.
            text_null(JobCursors::PassNextPage),
            string_len_null(JobCursors::LeaseHolder, 64),
            timestamp_with_time_zone_null(JobCursors::LeaseUntil),
        ] {
            manager.alter_table(Table::alter().table(JobCursors::Table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [JobCursors::LeaseUntil, JobCursors::LeaseHolder, JobCursors::PassNextPage, JobCursors::PassEnd] {
            manager.alter_table(Table::alter().table(JobCursors::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum JobCursors {
    Table,
    PassEnd,
    PassNextPage,
    LeaseHolder,
    LeaseUntil,
}
