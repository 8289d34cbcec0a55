//! The outbox: each event a change causes, written inside the change's transaction.
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::app::dto::WebhookEventKind;
use crate::server::db;

/// Writes an event in the caller's transaction; it is delivered after the commit (never if the
/// transaction rolls back). `subject` names what it is about (`case:42`, `merchant:7`).
pub async fn record(txn: &impl ConnectionTrait, kind: WebhookEventKind, subject: &str, data: serde_json::Value, now: DateTime<Utc>) -> Result<(), DbErr> {
    let sql = "INSERT INTO outbox_events (kind, subject, payload, created_at) VALUES (?, ?, ?, ?)";
    let subject: String = subject.chars().take(64).collect();
    let values = vec![kind.as_str().into(), subject.into(), data.to_string().into(), now.into()];
    txn.execute_raw(db::statement(txn.get_database_backend(), sql, values)).await?;
    Ok(())
}

/// [`record`] for many events of one kind at once (an import's entries), a few hundred rows a
/// statement.
pub async fn record_many(
    txn: &impl ConnectionTrait,
    kind: WebhookEventKind,
    events: Vec<(String, serde_json::Value)>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in events.chunks(250) {
        let sql = format!("INSERT INTO outbox_events (kind, subject, payload, created_at) VALUES {}", vec!["(?, ?, ?, ?)"; chunk.len()].join(", "));
        let values = chunk
            .iter()
            .flat_map(|(subject, data)| {
                let subject: String = subject.chars().take(64).collect();
                [kind.as_str().into(), subject.into(), data.to_string().into(), now.into()]
            })
            .collect();
        txn.execute_raw(db::statement(txn.get_database_backend(), &sql, values)).await?;
    }
    Ok(())
}
