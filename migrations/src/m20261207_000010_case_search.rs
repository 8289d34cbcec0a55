//! Search over the queue (`review::search`): each case's merchant name and email, buyer email,
//! external id and card fingerprint, as one text per case, indexed for substrings and typos —
//! never `LIKE '%…%'` over a table.
//!
//! - SQLite: an FTS5 table with the trigram tokenizer (rowid = case id).
//! - PostgreSQL: `case_search(case_id, body)` with a `pg_trgm` GIN index.
//!
//! A trigger fills it as cases are opened (the ingest writer inserts the transaction first, in the
//! same statement batch), and this migration fills it for the cases that exist.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The text of one case: what a reviewer types to find it, lowercased.
const BODY: &str = "lower(m.name || ' ' || m.email || ' ' || t.buyer_email || ' ' || COALESCE(t.external_id, '') || ' ' || t.card_fingerprint)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let source = "FROM transactions t JOIN merchants m ON m.id = t.merchant_id";
        match manager.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm").await?;
                db.execute_unprepared("CREATE TABLE case_search (case_id BIGINT PRIMARY KEY REFERENCES cases (id), body TEXT NOT NULL)").await?;
                db.execute_unprepared(&format!("INSERT INTO case_search (case_id, body) SELECT c.id, {BODY} {source} JOIN cases c ON c.transaction_id = t.id"))
                    .await?;
                db.execute_unprepared("CREATE INDEX idx_case_search_trgm ON case_search USING GIN (body gin_trgm_ops)").await?;
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION case_search_add() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                     INSERT INTO case_search (case_id, body) SELECT NEW.id, {BODY} {source} WHERE t.id = NEW.transaction_id; \
                     RETURN NULL; END $$"
                ))
                .await?;
                db.execute_unprepared("CREATE TRIGGER case_search_on_insert AFTER INSERT ON cases FOR EACH ROW EXECUTE FUNCTION case_search_add()").await?;
            }
            _ => {
                db.execute_unprepared("CREATE VIRTUAL TABLE case_search USING fts5(body, tokenize = 'trigram')").await?;
                db.execute_unprepared(&format!("INSERT INTO case_search (rowid, body) SELECT c.id, {BODY} {source} JOIN cases c ON c.transaction_id = t.id"))
                    .await?;
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER case_search_on_insert AFTER INSERT ON cases BEGIN \
                     INSERT INTO case_search (rowid, body) SELECT NEW.id, {BODY} {source} WHERE t.id = NEW.transaction_id; END"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP TRIGGER IF EXISTS case_search_on_insert ON cases").await.ok();
        db.execute_unprepared("DROP TRIGGER IF EXISTS case_search_on_insert").await.ok();
        db.execute_unprepared("DROP TABLE case_search").await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared("DROP FUNCTION case_search_add()").await?;
        }
        Ok(())
    }
}
