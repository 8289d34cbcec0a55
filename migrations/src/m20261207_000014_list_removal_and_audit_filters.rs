//! List entries are removed softly, and the audit log is filtered by who and when.
//!
//! `fraud_list_entries.removed_at` / `removed_by`: removing an entry (by hand, or by an import
//! that replaces the list or updates the entry) keeps its row, so what a list held, and who took
//! it out, can always be read back. Only entries not removed are unique per (list, value,
//! merchant) and loaded by the engine: the unique index becomes partial.
//!
//! `audit_events`: the admin's audit page filters by actor and by date, newest first.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let entries = || Table::alter().table(Alias::new("fraud_list_entries")).to_owned();
        manager.alter_table(entries().add_column(timestamp_with_time_zone_null(Alias::new("removed_at"))).to_owned()).await?;
        manager.alter_table(entries().add_column(string_len_null(Alias::new("removed_by"), 255)).to_owned()).await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_list_entries_live ON fraud_list_entries (list_name, value, (COALESCE(merchant_id, 0))) WHERE removed_at IS NULL",
        )
        .await?;
        db.execute_unprepared("DROP INDEX idx_list_entries_scope").await?;
        db.execute_unprepared("CREATE INDEX idx_audit_events_actor ON audit_events (actor, id)").await?;
        db.execute_unprepared("CREATE INDEX idx_audit_events_at ON audit_events (at)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_audit_events_at").await?;
        db.execute_unprepared("DROP INDEX idx_audit_events_actor").await?;
        db.execute_unprepared("DELETE FROM fraud_list_entries WHERE removed_at IS NOT NULL").await?;
        db.execute_unprepared("CREATE UNIQUE INDEX idx_list_entries_scope ON fraud_list_entries (list_name, value, (COALESCE(merchant_id, 0)))").await?;
        db.execute_unprepared("DROP INDEX idx_list_entries_live").await?;
        db.execute_unprepared("ALTER TABLE fraud_list_entries DROP COLUMN removed_by").await?;
        db.execute_unprepared("ALTER TABLE fraud_list_entries DROP COLUMN removed_at").await?;
        Ok(())
    }
}
