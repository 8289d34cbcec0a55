//! Backtests: a draft replayed on the stored decisions of a window (`fraud::backtest`). One row
//! per run, with the draft version and revision it ran on, its progress (so the page can be left
//! and re-opened), a heartbeat (a run whose instance died shows as interrupted) and its result.
//! And an index over decisions' time, so a window is read without scanning the table.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const STATUSES: [&str; 5] = ["running", "cancelling", "cancelled", "done", "failed"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Backtests::Table)
                    .col(big_pk_auto(Backtests::Id))
                    .col(integer(Backtests::RulesetVersion))
                    .col(integer(Backtests::Revision))
                    .col(timestamp_with_time_zone(Backtests::WindowFrom))
                    .col(timestamp_with_time_zone(Backtests::WindowTo))
                    .col(string_len(Backtests::Status, 16).check(Expr::col(Backtests::Status).is_in(STATUSES)))
                    .col(big_integer(Backtests::Total))
                    .col(big_integer(Backtests::Processed))
                    .col(string_len(Backtests::StartedBy, 255))
                    .col(timestamp_with_time_zone(Backtests::StartedAt))
                    .col(timestamp_with_time_zone(Backtests::HeartbeatAt))
                    .col(timestamp_with_time_zone_null(Backtests::FinishedAt))
                    // JSON: the report (`BacktestResult`), when done.
                    .col(text_null(Backtests::Result))
                    .to_owned(),
            )
            .await?;
        // The latest run of a draft version.
        manager
            .create_index(Index::create().name("idx_backtests_version").table(Backtests::Table).col(Backtests::RulesetVersion).col(Backtests::Id).to_owned())
            .await?;
        // A window of decisions by time, read in (time, id) order.
        manager.get_connection().execute_unprepared("CREATE INDEX idx_decisions_created ON decisions (created_at, id)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Backtests::Table).to_owned()).await?;
        manager.get_connection().execute_unprepared("DROP INDEX idx_decisions_created").await?;
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Backtests {
    Table,
    Id,
    RulesetVersion,
    Revision,
    WindowFrom,
    WindowTo,
    Status,
    Total,
    Processed,
    StartedBy,
    StartedAt,
    HeartbeatAt,
    FinishedAt,
    Result,
}
