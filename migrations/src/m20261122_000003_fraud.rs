//! The fraud engine's storage: API keys, the idempotency record of each ingest, rulesets by
//! version, decisions, review cases, lists, velocity buckets (when Redis is not configured),
//! PayPal disputes and the webhook events already processed.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const RULESET_STATUSES: [&str; 3] = ["draft", "published", "retired"];
const OUTCOMES: [&str; 3] = ["allow", "review", "block"];
const CASE_STATUSES: [&str; 3] = ["open", "claimed", "closed"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // What the ingest API adds to a transaction. SQLite alters one column per statement.
        for column in [string_len_null(Transactions::ExternalId, 64), string_len_null(Transactions::CardBin, 8), string_len_null(Transactions::IpCountry, 2)] {
            manager.alter_table(Table::alter().table(Transactions::Table).add_column(column).to_owned()).await?;
        }
        // (merchant, external_id) is how the platform names a transaction: at most one each.
        // Seeded rows have no external id; NULLs never collide.
        unique_index(manager, "idx_transactions_merchant_external", Transactions::Table, &[Transactions::MerchantId, Transactions::ExternalId]).await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(pk_auto(ApiKeys::Id))
                    .col(string_len(ApiKeys::Name, 100))
                    // The first characters of the key, to recognise it in a list; the key itself
                    // is shown once and stored only as its SHA-256.
                    .col(string_len(ApiKeys::Prefix, 16))
                    .col(string_len_uniq(ApiKeys::KeyHash, 64))
                    .col(string_len(ApiKeys::CreatedBy, 255))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IngestRequests::Table)
                    .col(big_pk_auto(IngestRequests::Id))
                    .col(integer(IngestRequests::MerchantId))
                    .col(string_len(IngestRequests::ExternalId, 64))
                    .col(integer(IngestRequests::ApiKeyId))
                    .col(string_len_null(IngestRequests::IdempotencyKey, 255))
                    // SHA-256 of the request body: a replay must be the same request.
                    .col(string_len(IngestRequests::RequestHash, 64))
                    .col(big_integer_null(IngestRequests::TransactionId))
                    // The response sent the first time, sent again on every replay.
                    .col(text_null(IngestRequests::Response))
                    .col(timestamp_with_time_zone(IngestRequests::CreatedAt))
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "idx_ingest_merchant_external", IngestRequests::Table, &[IngestRequests::MerchantId, IngestRequests::ExternalId]).await?;
        unique_index(manager, "idx_ingest_key_idempotency", IngestRequests::Table, &[IngestRequests::ApiKeyId, IngestRequests::IdempotencyKey]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Rulesets::Table)
                    .col(pk_auto(Rulesets::Id))
                    .col(integer_uniq(Rulesets::Version))
                    .col(string_len(Rulesets::Status, 16).check(Expr::col(Rulesets::Status).is_in(RULESET_STATUSES)))
                    .col(double(Rulesets::ReviewScore))
                    .col(double(Rulesets::BlockScore))
                    // The rules as JSON (name, description, expression, effect, enabled, mode).
                    .col(text(Rulesets::Rules))
                    .col(string_len(Rulesets::Note, 500))
                    .col(string_len(Rulesets::CreatedBy, 255))
                    .col(timestamp_with_time_zone(Rulesets::CreatedAt))
                    .col(timestamp_with_time_zone_null(Rulesets::PublishedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Decisions::Table)
                    .col(big_pk_auto(Decisions::Id))
                    .col(big_integer_uniq(Decisions::TransactionId))
                    .col(integer(Decisions::RulesetVersion))
                    .col(string_len(Decisions::Outcome, 8).check(Expr::col(Decisions::Outcome).is_in(OUTCOMES)))
                    .col(double(Decisions::Score))
                    // Each rule's result (matched / not matched / error, live or shadow) as JSON.
                    .col(text(Decisions::Results))
                    .col(big_integer(Decisions::LatencyMicros))
                    .col(timestamp_with_time_zone(Decisions::CreatedAt))
                    .foreign_key(ForeignKey::create().from(Decisions::Table, Decisions::TransactionId).to(Transactions::Table, Transactions::Id))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Cases::Table)
                    .col(big_pk_auto(Cases::Id))
                    .col(big_integer_uniq(Cases::TransactionId))
                    .col(integer(Cases::MerchantId))
                    .col(big_integer(Cases::DecisionId))
                    .col(string_len(Cases::Status, 16).check(Expr::col(Cases::Status).is_in(CASE_STATUSES)))
                    .col(timestamp_with_time_zone(Cases::CreatedAt))
                    .col(timestamp_with_time_zone(Cases::UpdatedAt))
                    .foreign_key(ForeignKey::create().from(Cases::Table, Cases::TransactionId).to(Transactions::Table, Transactions::Id))
                    .foreign_key(ForeignKey::create().from(Cases::Table, Cases::DecisionId).to(Decisions::Table, Decisions::Id))
                    .to_owned(),
            )
            .await?;
        // The queue reads open cases oldest first; a merchant's page reads its cases.
        index(manager, "idx_cases_status_created", Cases::Table, &[Cases::Status, Cases::CreatedAt]).await?;
        index(manager, "idx_cases_merchant", Cases::Table, &[Cases::MerchantId]).await?;

        manager
            .create_table(
                Table::create()
                    .table(FraudLists::Table)
                    .col(string_len(FraudLists::Name, 64).primary_key())
                    .col(string_len(FraudLists::Kind, 32))
                    .col(string_len(FraudLists::Description, 500))
                    .col(timestamp_with_time_zone(FraudLists::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FraudListEntries::Table)
                    .col(big_pk_auto(FraudListEntries::Id))
                    .col(string_len(FraudListEntries::ListName, 64))
                    .col(string_len(FraudListEntries::Value, 255))
                    .col(string_len(FraudListEntries::Reason, 500))
                    .col(string_len(FraudListEntries::AddedBy, 255))
                    .col(string_len(FraudListEntries::Source, 32))
                    .col(timestamp_with_time_zone_null(FraudListEntries::ExpiresAt))
                    .col(timestamp_with_time_zone(FraudListEntries::CreatedAt))
                    .foreign_key(ForeignKey::create().from(FraudListEntries::Table, FraudListEntries::ListName).to(FraudLists::Table, FraudLists::Name))
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "idx_list_entries_list_value", FraudListEntries::Table, &[FraudListEntries::ListName, FraudListEntries::Value]).await?;

        // Bumped with every change to rulesets or lists; each instance reloads when it moves.
        manager
            .create_table(
                Table::create().table(FraudConfig::Table).col(integer(FraudConfig::Id).primary_key()).col(big_integer(FraudConfig::Generation)).to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(FraudConfig::Table)
                    .columns([FraudConfig::Id, FraudConfig::Generation])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await?;

        // Velocity counters when Redis is not configured: one row per key, granularity and time
        // bucket; rows older than the longest window are deleted.
        manager
            .create_table(
                Table::create()
                    .table(VelocityBuckets::Table)
                    .col(string_len(VelocityBuckets::Key, 160))
                    .col(integer(VelocityBuckets::Granularity))
                    .col(big_integer(VelocityBuckets::Bucket))
                    .col(big_integer(VelocityBuckets::Count))
                    .col(big_integer(VelocityBuckets::SumUsdCents))
                    .primary_key(Index::create().col(VelocityBuckets::Key).col(VelocityBuckets::Granularity).col(VelocityBuckets::Bucket))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_velocity_buckets_bucket", VelocityBuckets::Table, &[VelocityBuckets::Granularity, VelocityBuckets::Bucket]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Disputes::Table)
                    .col(big_pk_auto(Disputes::Id))
                    .col(string_len_uniq(Disputes::PaypalDisputeId, 255))
                    // Null when the PayPal merchant id matches no merchant of ours.
                    .col(integer_null(Disputes::MerchantId))
                    .col(string_len(Disputes::Reason, 64))
                    .col(string_len(Disputes::Status, 64))
                    .col(big_integer(Disputes::AmountMinor))
                    .col(char_len(Disputes::Currency, 3))
                    .col(timestamp_with_time_zone(Disputes::OpenedAt))
                    .col(timestamp_with_time_zone(Disputes::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_disputes_merchant_opened", Disputes::Table, &[Disputes::MerchantId, Disputes::OpenedAt]).await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(string_len(WebhookEvents::EventId, 255).primary_key())
                    .col(string_len(WebhookEvents::EventType, 128))
                    // "webhook" or "reconciliation": how the event reached us first.
                    .col(string_len(WebhookEvents::Source, 16))
                    .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;

        // Where periodic jobs resume (the reconciliation's last listed time).
        manager
            .create_table(
                Table::create()
                    .table(JobCursors::Table)
                    .col(string_len(JobCursors::Name, 64).primary_key())
                    .col(timestamp_with_time_zone(JobCursors::Position))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            JobCursors::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            Disputes::Table.into_iden(),
            VelocityBuckets::Table.into_iden(),
            FraudConfig::Table.into_iden(),
            FraudListEntries::Table.into_iden(),
            FraudLists::Table.into_iden(),
            Cases::Table.into_iden(),
            Decisions::Table.into_iden(),
            Rulesets::Table.into_iden(),
            IngestRequests::Table.into_iden(),
            ApiKeys::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        manager.drop_index(Index::drop().name("idx_transactions_merchant_external").table(Transactions::Table).to_owned()).await?;
        for column in [Transactions::ExternalId, Transactions::CardBin, Transactions::IpCountry] {
            manager.alter_table(Table::alter().table(Transactions::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

async fn index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(manager: &SchemaManager<'_>, name: &str, table: T, cols: &[C]) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(*col);
    }
    manager.create_index(index.to_owned()).await
}

async fn unique_index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table).unique();
    for col in cols {
        index.col(*col);
    }
    manager.create_index(index.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Transactions {
    Table,
    Id,
    MerchantId,
    ExternalId,
    CardBin,
    IpCountry,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Prefix,
    KeyHash,
    CreatedBy,
    CreatedAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IngestRequests {
    Table,
    Id,
    MerchantId,
    ExternalId,
    ApiKeyId,
    IdempotencyKey,
    RequestHash,
    TransactionId,
    Response,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Rulesets {
    Table,
    Id,
    Version,
    Status,
    ReviewScore,
    BlockScore,
    Rules,
    Note,
    CreatedBy,
    CreatedAt,
    PublishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Decisions {
    Table,
    Id,
    TransactionId,
    RulesetVersion,
    Outcome,
    Score,
    Results,
    LatencyMicros,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Cases {
    Table,
    Id,
    TransactionId,
    MerchantId,
    DecisionId,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum FraudLists {
    Table,
    Name,
    Kind,
    Description,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum FraudListEntries {
    Table,
    Id,
    ListName,
    Value,
    Reason,
    AddedBy,
    Source,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum FraudConfig {
    Table,
    Id,
    Generation,
}

#[derive(DeriveIden, Clone, Copy)]
enum VelocityBuckets {
    Table,
    Key,
    Granularity,
    Bucket,
    Count,
    SumUsdCents,
}

#[derive(DeriveIden, Clone, Copy)]
enum Disputes {
    Table,
    Id,
    PaypalDisputeId,
    MerchantId,
    Reason,
    Status,
    AmountMinor,
    Currency,
    OpenedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEvents {
    Table,
    EventId,
    EventType,
    Source,
    ReceivedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum JobCursors {
    Table,
    Name,
    Position,
}
