//! PostgreSQL compresses a decision's record (what the engine saw and each rule's result) and
//! the stored ingest response with lz4 instead of pglz: both are written once per ingest and
//! are over the 2 kB at which PostgreSQL compresses, and pglz was 3 % of the ingest writer's
//! CPU (docs/benchmarks.md). Rows written before keep their pglz; both read the same. A server
//! built without lz4 keeps pglz. SQLite does not compress.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [(&str, &str); 2] = [("decisions", "results"), ("ingest_requests", "response")];

async fn set_compression(manager: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let alters: String = COLUMNS.iter().map(|(table, column)| format!("ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}; ")).collect();
    // 0A000: "compression method lz4 not supported" on a server built without it.
    let sql = format!("DO $$ BEGIN {alters}EXCEPTION WHEN feature_not_supported THEN NULL; END $$");
    manager.get_connection().execute_unprepared(&sql).await.map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "lz4").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "pglz").await
    }
}
