//! The reviewer's queue (`src/server/review/cases.rs`): what a case needs to be sorted, filtered,
//! claimed and decided without reading its transaction and decision, and its timeline.
//!
//! - `priority`: the queue's sort key, `review::priority` (risk in cents, raised by age and
//!   escalation), written when the case is opened and when it is escalated. Older rows are filled
//!   from their decision and transaction here, at the reference rates of `fraud::currency`.
//! - `version`: bumped by every write; a write names the version it was read at.
//! - a claim is `status = 'claimed'` with `claimed_by` and `lease_until`; `escalated` marks a case
//!   sent to the admins; `disposition`, `resolved_by` and `resolved_at` a closed one.
//! - `case_events`: the timeline, append-only (triggers refuse UPDATE and DELETE) as the merchant
//!   risk history is. A case's opening is its row's `created_at`, not an event, so the ingest path
//!   writes nothing more than before.
//!
//! Indexes: the queue reads unresolved cases (`status <> 'closed'`, a partial index each) by
//! priority, by arrival (id) or by amount, and a merchant's cases by priority; "next case" reads
//! the open, unescalated ones by priority; the lease job the claimed ones by lease end; the case
//! page the transactions sharing a card, an email or an IP.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const DISPOSITIONS: [&str; 5] = ["approved", "refunded", "refunded_as_fraud", "confirmed_fraud", "false_positive"];
const EVENT_KINDS: [&str; 12] = [
    "claimed",
    "released",
    "lease_expired",
    "reassigned",
    "note",
    "escalated",
    "resolved",
    "list_entry_added",
    "merchant_transition",
    "lease_renewed",
    "bulk",
    "reopened",
];
const REFUSAL: &str = "case_events is append-only";

/// (currency, decimal places, USD per unit): `fraud::currency`'s reference table when this was
/// written, for cases opened before the column existed.
const RATES: &[(&str, u32, f64)] = &[
    ("USD", 2, 1.0),
    ("EUR", 2, 1.08),
    ("GBP", 2, 1.27),
    ("CAD", 2, 0.73),
    ("AUD", 2, 0.66),
    ("NZD", 2, 0.60),
    ("CHF", 2, 1.12),
    ("SEK", 2, 0.095),
    ("NOK", 2, 0.093),
    ("DKK", 2, 0.145),
    ("PLN", 2, 0.25),
    ("CZK", 2, 0.043),
    ("BRL", 2, 0.20),
    ("MXN", 2, 0.058),
    ("INR", 2, 0.012),
    ("SGD", 2, 0.74),
    ("HKD", 2, 0.128),
    ("JPY", 0, 0.0067),
    ("KRW", 0, 0.00073),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column a statement.
        let columns = [
            big_integer(Cases::Priority).default(0).to_owned(),
            integer(Cases::Version).default(1).to_owned(),
            double(Cases::Score).default(0.0).to_owned(),
            big_integer(Cases::AmountUsdCents).default(0).to_owned(),
            string_len(Cases::MatchedRules, 2000).default("").to_owned(),
            boolean(Cases::Escalated).default(false).to_owned(),
            integer_null(Cases::ClaimedBy).to_owned(),
            timestamp_with_time_zone_null(Cases::LeaseUntil).to_owned(),
            string_len_null(Cases::Disposition, 24).check(Expr::col(Cases::Disposition).is_in(DISPOSITIONS)).to_owned(),
            integer_null(Cases::ResolvedBy).to_owned(),
            timestamp_with_time_zone_null(Cases::ResolvedAt).to_owned(),
        ];
        for mut column in columns {
            manager.alter_table(Table::alter().table(Cases::Table).add_column(&mut column).to_owned()).await?;
        }

        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let rate = RATES.iter().map(|(code, places, usd)| format!("WHEN '{code}' THEN {} ", usd * 100.0 / 10f64.powi(*places as i32))).collect::<String>();
        let minutes = match backend {
            sea_orm::DbBackend::Postgres => "FLOOR(EXTRACT(EPOCH FROM cases.created_at) / 60)",
            _ => "(CAST(strftime('%s', cases.created_at) AS INTEGER) / 60)",
        };
        db.execute_unprepared(&format!(
            "UPDATE cases SET \
               score = (SELECT COALESCE(d.score, 0)  FROM decisions d WHERE d.id = cases.decision_id), \
               amount_usd_cents = (SELECT CAST(ROUND(t.amount_minor * (CASE t.currency {rate}ELSE 1.0 END)) AS BIGINT) \
                                   FROM transactions t WHERE t.id = cases.transaction_id)"
        ))
        .await?;
        // review::priority, in SQL: risk in cents (score, floored at 50, / 100 × amount) minus 10 a minute of
        // the opening time (so older cases rank higher by 10 cents a minute waited).
        let score = "(CASE WHEN score > 100 THEN 100 WHEN score < 50 THEN 50 ELSE score END)";
        db.execute_unprepared(&format!(
            "UPDATE cases SET priority = CAST(ROUND({score} * amount_usd_cents / 100.0) AS BIGINT) - 10 * COALESCE(CAST({minutes} AS BIGINT), 0)"
        ))
        .await?;

        for (name, columns) in [
            ("idx_cases_queue_priority", "priority DESC, id DESC"),
            ("idx_cases_queue_id", "id"),
            ("idx_cases_queue_amount", "amount_usd_cents DESC, id DESC"),
            ("idx_cases_queue_merchant", "merchant_id, priority DESC, id DESC"),
        ] {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON cases ({columns}) WHERE status <> 'closed'")).await?;
        }
        db.execute_unprepared("CREATE INDEX idx_cases_next ON cases (priority DESC, id DESC) WHERE status = 'open' AND NOT escalated").await?;
        db.execute_unprepared("CREATE INDEX idx_cases_leases ON cases (lease_until) WHERE status = 'claimed'").await?;
        // The case page's related activity: the same card, email or IP on any merchant, newest first.
        for (name, column) in [("idx_transactions_card", "card_fingerprint"), ("idx_transactions_email", "buyer_email"), ("idx_transactions_ip", "buyer_ip")] {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON transactions ({column}, id)")).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(CaseEvents::Table)
                    .col(big_pk_auto(CaseEvents::Id))
                    .col(big_integer(CaseEvents::CaseId))
                    .col(string_len(CaseEvents::Kind, 24).check(Expr::col(CaseEvents::Kind).is_in(EVENT_KINDS)))
                    // The person, when a person acted; the label names them (or the job) as they were then.
                    .col(integer_null(CaseEvents::ActorUserId))
                    .col(string_len(CaseEvents::ActorLabel, 255))
                    // A note's text, a disposition's note, what was added to a list, and so on.
                    .col(string_len_null(CaseEvents::Detail, 4000))
                    .col(timestamp_with_time_zone(CaseEvents::CreatedAt))
                    .foreign_key(ForeignKey::create().from(CaseEvents::Table, CaseEvents::CaseId).to(Cases::Table, Cases::Id))
                    .foreign_key(ForeignKey::create().from(CaseEvents::Table, CaseEvents::ActorUserId).to(Users::Table, Users::Id))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared("CREATE INDEX idx_case_events_case ON case_events (case_id, id)").await?;

        match backend {
            sea_orm::DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION case_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'restrict_violation'; END $$"
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events FOR EACH ROW EXECUTE FUNCTION case_events_refuse_change()",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events FOR EACH STATEMENT EXECUTE FUNCTION case_events_refuse_change()",
                )
                .await?;
            }
            _ => {
                for (name, operation) in [("case_events_no_update", "UPDATE"), ("case_events_no_delete", "DELETE")] {
                    db.execute_unprepared(&format!("CREATE TRIGGER {name} BEFORE {operation} ON case_events BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"))
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CaseEvents::Table).to_owned()).await?;
        let db = manager.get_connection();
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared("DROP FUNCTION case_events_refuse_change()").await?;
        }
        for index in [
            "idx_cases_queue_priority",
            "idx_cases_queue_id",
            "idx_cases_queue_amount",
            "idx_cases_queue_merchant",
            "idx_cases_next",
            "idx_cases_leases",
            "idx_transactions_card",
            "idx_transactions_email",
            "idx_transactions_ip",
        ] {
            db.execute_unprepared(&format!("DROP INDEX {index}")).await?;
        }
        for column in [
            Cases::Priority,
            Cases::Version,
            Cases::Score,
            Cases::AmountUsdCents,
            Cases::MatchedRules,
            Cases::Escalated,
            Cases::ClaimedBy,
            Cases::LeaseUntil,
            Cases::Disposition,
            Cases::ResolvedBy,
            Cases::ResolvedAt,
        ] {
            manager.alter_table(Table::alter().table(Cases::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Cases {
    Table,
    Id,
    Priority,
    Version,
    Score,
    AmountUsdCents,
    MatchedRules,
    Escalated,
    ClaimedBy,
    LeaseUntil,
    Disposition,
    ResolvedBy,
    ResolvedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CaseEvents {
    Table,
    Id,
    CaseId,
    Kind,
    ActorUserId,
    ActorLabel,
    Detail,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
