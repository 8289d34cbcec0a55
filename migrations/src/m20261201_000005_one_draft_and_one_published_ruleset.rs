//! At most one draft and one published ruleset version, kept by the database itself. Publishing
//! and rolling back take turns on the engine generation's row lock and retire the live version
//! first, so they never need two; these indexes make sure nothing else (a manual fix, a future
//! code path) can leave two versions live, which would make "the published ruleset" ambiguous.
//! Partial unique indexes, the same statement on SQLite and PostgreSQL.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str); 2] = [("rulesets_one_draft", "draft"), ("rulesets_one_published", "published")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, status) in INDEXES {
            let sql = format!("CREATE UNIQUE INDEX {name} ON rulesets (status) WHERE status = '{status}'");
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager.get_connection().execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }
}
