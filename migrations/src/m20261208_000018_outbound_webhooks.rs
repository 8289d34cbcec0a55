//! Outbound webhooks (`server::outbound`): the platform hears of every change that concerns it.
//!
//! - `outbox_events`: one row per change, written in the change's own transaction (a change never
//!   commits without its event, nor an event without its change). `dispatched_at` is set when the
//!   event has been handed to every endpoint that wants it; the partial index finds the rest.
//! - `webhook_endpoints`: where events go, the kinds each wants, its signing secret (and the
//!   previous one while a rotation's 24 hours run), whether it is disabled and why, and the lease
//!   of the instance delivering to it (one at a time).
//! - `webhook_deliveries`: one event for one endpoint, delivered in event order; a failure holds
//!   the endpoint's queue until its `retry_at` (exponential backoff).
//! - `webhook_attempts`: every request made, for the delivery log (status, latency, the answer's
//!   first kilobyte).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const DELIVERY_STATUSES: [&str; 2] = ["pending", "delivered"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutboxEvents::Table)
                    .col(big_pk_auto(OutboxEvents::Id))
                    .col(string_len(OutboxEvents::Kind, 64))
                    // What it is about, e.g. `case:42`: for the delivery log.
                    .col(string_len(OutboxEvents::Subject, 64))
                    // JSON: the event's `data`.
                    .col(text(OutboxEvents::Payload))
                    .col(timestamp_with_time_zone(OutboxEvents::CreatedAt))
                    .col(timestamp_with_time_zone_null(OutboxEvents::DispatchedAt))
                    .to_owned(),
            )
            .await?;
        manager.get_connection().execute_unprepared("CREATE INDEX idx_outbox_undispatched ON outbox_events (id) WHERE dispatched_at IS NULL").await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(pk_auto(WebhookEndpoints::Id))
                    .col(string_len(WebhookEndpoints::Url, 2048))
                    .col(string_len(WebhookEndpoints::Description, 500))
                    // JSON array of event kinds.
                    .col(text(WebhookEndpoints::Events))
                    .col(string_len(WebhookEndpoints::Secret, 128))
                    .col(string_len_null(WebhookEndpoints::PreviousSecret, 128))
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::PreviousSecretUntil))
                    .col(string_len(WebhookEndpoints::CreatedBy, 255))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::DisabledAt))
                    .col(string_len_null(WebhookEndpoints::DisabledReason, 255))
                    // When its oldest undelivered event first failed; cleared by a success.
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::FailingSince))
                    // After a failure, when to try its oldest undelivered event again (the
                    // others wait behind it: events go in order).
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::RetryAt))
                    .col(string_len_null(WebhookEndpoints::LeaseOwner, 64))
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::LeaseUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(integer(WebhookDeliveries::EndpointId))
                    .col(big_integer(WebhookDeliveries::EventId))
                    .col(string_len(WebhookDeliveries::Status, 16).check(Expr::col(WebhookDeliveries::Status).is_in(DELIVERY_STATUSES)))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::DeliveredAt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("CREATE UNIQUE INDEX idx_webhook_deliveries_once ON webhook_deliveries (endpoint_id, event_id)").await?;
        // An endpoint's next event: its oldest pending delivery.
        db.execute_unprepared("CREATE INDEX idx_webhook_deliveries_pending ON webhook_deliveries (endpoint_id, event_id) WHERE status = 'pending'").await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(big_pk_auto(WebhookAttempts::Id))
                    .col(integer(WebhookAttempts::EndpointId))
                    .col(big_integer(WebhookAttempts::EventId))
                    // A redelivery or a test event an admin asked for, outside the event order.
                    .col(boolean(WebhookAttempts::Manual).default(false))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    // Why there is no status: timed out, refused, an address not allowed…
                    .col(string_len_null(WebhookAttempts::Error, 255))
                    .col(integer(WebhookAttempts::LatencyMs))
                    .col(text(WebhookAttempts::ResponseHead))
                    .col(timestamp_with_time_zone(WebhookAttempts::CreatedAt))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared("CREATE INDEX idx_webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["webhook_attempts", "webhook_deliveries", "webhook_endpoints", "outbox_events"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum OutboxEvents {
    Table,
    Id,
    Kind,
    Subject,
    Payload,
    CreatedAt,
    DispatchedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEndpoints {
    Table,
    Id,
    Url,
    Description,
    Events,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    CreatedBy,
    CreatedAt,
    DisabledAt,
    DisabledReason,
    FailingSince,
    RetryAt,
    LeaseOwner,
    LeaseUntil,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    EventId,
    Status,
    Attempts,
    DeliveredAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookAttempts {
    Table,
    Id,
    EndpointId,
    EventId,
    Manual,
    StatusCode,
    Error,
    LatencyMs,
    ResponseHead,
    CreatedAt,
}
