//! The admin audit log: every action of a person or of the system on what the admin console
//! governs, appended in the same database transaction as the change it records (so neither
//! exists without the other). The table refuses UPDATE and DELETE (migration m000012).
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::app::dto::AuditEventView;
use crate::server::db::entities::audit_event;

/// Longest summary and reason stored (the columns' sizes).
const MAX_TEXT_CHARS: usize = 1000;

/// What happened, to what, by whom.
pub struct Entry<'a> {
    pub actor: &'a str,
    /// `kind.verb`, e.g. `ruleset.published`.
    pub action: &'a str,
    pub object_kind: &'a str,
    pub object_id: String,
    pub summary: String,
    pub reason: Option<&'a str>,
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_TEXT_CHARS).collect()
}

pub async fn record(db: &impl ConnectionTrait, entry: Entry<'_>, now: DateTime<Utc>) -> Result<(), sea_orm::DbErr> {
    audit_event::ActiveModel {
        at: Set(now),
        actor: Set(entry.actor.chars().take(255).collect()),
        action: Set(entry.action.to_string()),
        object_kind: Set(entry.object_kind.to_string()),
        object_id: Set(entry.object_id),
        summary: Set(bounded(&entry.summary)),
        reason: Set(entry.reason.map(bounded)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The latest `limit` events of every object of a kind, newest first.
pub async fn of_kind(db: &impl ConnectionTrait, object_kind: &str, limit: u64) -> Result<Vec<AuditEventView>, sea_orm::DbErr> {
    let models =
        audit_event::Entity::find().filter(audit_event::Column::ObjectKind.eq(object_kind)).order_by_desc(audit_event::Column::Id).limit(limit).all(db).await?;
    Ok(models.into_iter().map(to_view).collect())
}

fn to_view(model: audit_event::Model) -> AuditEventView {
    AuditEventView {
        id: model.id,
        at: model.at.to_rfc3339(),
        actor: model.actor,
        action: model.action,
        object_kind: model.object_kind,
        object_id: model.object_id,
        summary: model.summary,
        reason: model.reason,
    }
}
