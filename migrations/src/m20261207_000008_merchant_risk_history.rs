//! The history of each merchant's risk state (`src/server/review/merchant_actions.rs`): one row
//! per move, who or what made it (a person, a rule, a system job), why and when; the merchant's
//! `risk_state` is the last row's `to_state`, written in the same transaction.
//!
//! Append-only, kept by the database itself: a trigger refuses UPDATE and DELETE (and TRUNCATE
//! on PostgreSQL), so neither a code path nor a manual fix can rewrite who decided what.
//!
//! One line per merchant: each row names the row it follows (`previous_event_id`, NULL for a
//! merchant's first), unique, so two moves decided from the same history cannot both be stored —
//! the second is refused even if the state came back to what it was in between.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const RISK_STATES: [&str; 7] =
    ["not_reviewed", "compliant", "flagged_for_fraud", "flagged_for_tos_violation", "on_probation", "suspended_for_fraud", "suspended_for_tos_violation"];
const EVENTS: [&str; 7] =
    ["mark_compliant", "flag_for_fraud", "flag_for_tos_violation", "put_on_probation", "suspend_for_fraud", "suspend_for_tos_violation", "lift_probation"];
const ACTOR_KINDS: [&str; 3] = ["person", "rule", "system"];

const REFUSAL: &str = "merchant_risk_events is append-only";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MerchantRiskEvents::Table)
                    .col(big_pk_auto(MerchantRiskEvents::Id))
                    .col(integer(MerchantRiskEvents::MerchantId))
                    .col(big_integer_null(MerchantRiskEvents::PreviousEventId))
                    .col(string_len(MerchantRiskEvents::FromState, 32).check(Expr::col(MerchantRiskEvents::FromState).is_in(RISK_STATES)))
                    .col(string_len(MerchantRiskEvents::ToState, 32).check(Expr::col(MerchantRiskEvents::ToState).is_in(RISK_STATES)))
                    .col(string_len(MerchantRiskEvents::Event, 32).check(Expr::col(MerchantRiskEvents::Event).is_in(EVENTS)))
                    .col(string_len(MerchantRiskEvents::ActorKind, 8).check(Expr::col(MerchantRiskEvents::ActorKind).is_in(ACTOR_KINDS)))
                    // The person, when a person made the move.
                    .col(integer_null(MerchantRiskEvents::ActorUserId))
                    // The person's display name at the time, the rule's name or the job's.
                    .col(string_len(MerchantRiskEvents::ActorLabel, 255))
                    // Required from a person (the service checks 1 to 1,000 characters).
                    .col(string_len_null(MerchantRiskEvents::Reason, 1000))
                    .col(timestamp_with_time_zone(MerchantRiskEvents::CreatedAt))
                    .check(Expr::cust("actor_kind <> 'person' OR (actor_user_id IS NOT NULL AND reason IS NOT NULL)"))
                    .foreign_key(ForeignKey::create().from(MerchantRiskEvents::Table, MerchantRiskEvents::MerchantId).to(Merchants::Table, Merchants::Id))
                    .foreign_key(ForeignKey::create().from(MerchantRiskEvents::Table, MerchantRiskEvents::ActorUserId).to(Users::Table, Users::Id))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MerchantRiskEvents::Table, MerchantRiskEvents::PreviousEventId)
                            .to(MerchantRiskEvents::Table, MerchantRiskEvents::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A merchant's history, newest first, and its latest row (who set the current state).
        manager
            .create_index(
                Index::create()
                    .name("idx_merchant_risk_events_merchant_id")
                    .table(MerchantRiskEvents::Table)
                    .col(MerchantRiskEvents::MerchantId)
                    .col(MerchantRiskEvents::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_merchant_risk_events_previous")
                    .table(MerchantRiskEvents::Table)
                    .col(MerchantRiskEvents::PreviousEventId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        match manager.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION merchant_risk_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'restrict_violation'; END $$"
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER merchant_risk_events_append_only BEFORE UPDATE OR DELETE ON merchant_risk_events \
                     FOR EACH ROW EXECUTE FUNCTION merchant_risk_events_refuse_change()",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER merchant_risk_events_no_truncate BEFORE TRUNCATE ON merchant_risk_events \
                     FOR EACH STATEMENT EXECUTE FUNCTION merchant_risk_events_refuse_change()",
                )
                .await?;
            }
            _ => {
                for (name, operation) in [("merchant_risk_events_no_update", "UPDATE"), ("merchant_risk_events_no_delete", "DELETE")] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {name} BEFORE {operation} ON merchant_risk_events BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping the table drops its triggers and indexes.
        manager.drop_table(Table::drop().table(MerchantRiskEvents::Table).to_owned()).await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            manager.get_connection().execute_unprepared("DROP FUNCTION merchant_risk_events_refuse_change()").await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum MerchantRiskEvents {
    Table,
    Id,
    MerchantId,
    PreviousEventId,
    FromState,
    ToState,
    Event,
    ActorKind,
    ActorUserId,
    ActorLabel,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
