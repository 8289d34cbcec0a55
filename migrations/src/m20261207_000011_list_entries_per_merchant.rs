//! List entries for one merchant: a buyer a reviewer trusted after a false positive is trusted at
//! that merchant only (`fraud::lists`). A nullable `merchant_id`; the unique key becomes (list,
//! value, merchant), with "every merchant" as 0 so that it, too, is unique. And `trusted_cards`,
//! the card list that trust uses beside `trusted_emails`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE fraud_list_entries ADD COLUMN merchant_id INTEGER NULL REFERENCES merchants (id)").await?;
        manager.drop_index(Index::drop().name("idx_list_entries_list_value").table(Alias::new("fraud_list_entries")).to_owned()).await?;
        db.execute_unprepared("CREATE UNIQUE INDEX idx_list_entries_scope ON fraud_list_entries (list_name, value, (COALESCE(merchant_id, 0)))").await?;
        // Only where the lists exist already (a seeded database); a new one gets it from the seed.
        db.execute_unprepared(
            "INSERT INTO fraud_lists (name, kind, description, created_at) \
             SELECT 'trusted_cards', 'card_fingerprint', 'Cards vouched for by a reviewer, at one merchant or all', created_at \
             FROM fraud_lists WHERE name = 'trusted_emails' AND NOT EXISTS (SELECT 1 FROM fraud_lists WHERE name = 'trusted_cards')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DELETE FROM fraud_list_entries WHERE merchant_id IS NOT NULL").await?;
        db.execute_unprepared("DROP INDEX idx_list_entries_scope").await?;
        db.execute_unprepared("CREATE UNIQUE INDEX idx_list_entries_list_value ON fraud_list_entries (list_name, value)").await?;
        db.execute_unprepared("ALTER TABLE fraud_list_entries DROP COLUMN merchant_id").await?;
        Ok(())
    }
}
