//! The admin audit log and the ruleset draft's revisions.
//!
//! `audit_events`: one row per action of a person or of the system on what the admin console
//! governs (ruleset drafts, publishes, rollbacks; later lists, keys, users): who, when, what, on
//! which object, and why. Append-only, kept by the database itself like `merchant_risk_events`:
//! a trigger refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL).
//!
//! `rulesets.revision`: a draft counts its saves, so a result computed on a draft (a test, a
//! backtest) can say which revision it saw and whether the draft changed since.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const REFUSAL: &str = "audit_events is append-only";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    // The person's e-mail, or the job's name.
                    .col(string_len(AuditEvents::Actor, 255))
                    // e.g. ruleset.draft_saved, ruleset.published, ruleset.rolled_back
                    .col(string_len(AuditEvents::Action, 64))
                    .col(string_len(AuditEvents::ObjectKind, 32))
                    .col(string_len(AuditEvents::ObjectId, 255))
                    // One line for people: "published version 7".
                    .col(string_len(AuditEvents::Summary, 1000))
                    // The person's note or reason, when the action takes one.
                    .col(string_len_null(AuditEvents::Reason, 1000))
                    .to_owned(),
            )
            .await?;
        // An object's history, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_object")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::ObjectKind)
                    .col(AuditEvents::ObjectId)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await?;
        manager.alter_table(Table::alter().table(Rulesets::Table).add_column(integer(Rulesets::Revision).default(1)).to_owned()).await?;

        let db = manager.get_connection();
        match manager.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'restrict_violation'; END $$"
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events \
                     FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events \
                     FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()",
                )
                .await?;
            }
            _ => {
                for (name, operation) in [("audit_events_no_update", "UPDATE"), ("audit_events_no_delete", "DELETE")] {
                    db.execute_unprepared(&format!("CREATE TRIGGER {name} BEFORE {operation} ON audit_events BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"))
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuditEvents::Table).to_owned()).await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            manager.get_connection().execute_unprepared("DROP FUNCTION audit_events_refuse_change()").await?;
        }
        manager.alter_table(Table::alter().table(Rulesets::Table).drop_column(Rulesets::Revision).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    At,
    Actor,
    Action,
    ObjectKind,
    ObjectId,
    Summary,
    Reason,
}

#[derive(DeriveIden)]
enum Rulesets {
    Table,
    Revision,
}
