//! The admin audit log: every action of a person or of the system on what the admin console
//! governs, appended in the same database transaction as the change it records (so neither
//! exists without the other). The table refuses UPDATE and DELETE (migration m000012).
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set};

use crate::app::dto::{AuditEventView, AuditFilter, AuditPage};
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

/// Events on one page of the audit log.
pub const PAGE_SIZE: u64 = 100;
/// Rows in one CSV export (newest first); narrower filters reach further back.
pub const MAX_EXPORT_ROWS: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum AuditQueryError {
    #[error("{0} is longer than {1} characters")]
    TooLong(&'static str, usize),
    #[error("{0:?} is not a date such as 2026-12-31")]
    BadDate(String),
    #[error("the date range ends before it starts")]
    BackwardsRange,
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

fn day(text: &str) -> Result<Option<NaiveDate>, AuditQueryError> {
    match text.trim() {
        "" => Ok(None),
        t => NaiveDate::parse_from_str(t, "%Y-%m-%d").map(Some).map_err(|_| AuditQueryError::BadDate(t.chars().take(40).collect())),
    }
}

/// The events the filter selects, as a query (checked first: a bad filter is an error, never an
/// unfiltered answer).
fn filtered(filter: &AuditFilter) -> Result<Select<audit_event::Entity>, AuditQueryError> {
    for (name, value, max) in [("The actor", &filter.actor, 255), ("The kind", &filter.object_kind, 32), ("The object", &filter.object_id, 255)] {
        if value.chars().count() > max {
            return Err(AuditQueryError::TooLong(name, max));
        }
    }
    let mut query = audit_event::Entity::find();
    if !filter.actor.trim().is_empty() {
        query = query.filter(audit_event::Column::Actor.eq(filter.actor.trim()));
    }
    if !filter.object_kind.trim().is_empty() {
        query = query.filter(audit_event::Column::ObjectKind.eq(filter.object_kind.trim()));
    }
    if !filter.object_id.trim().is_empty() {
        query = query.filter(audit_event::Column::ObjectId.eq(filter.object_id.trim()));
    }
    let (from, to) = (day(&filter.from)?, day(&filter.to)?);
    if from.zip(to).is_some_and(|(f, t)| t < f) {
        return Err(AuditQueryError::BackwardsRange);
    }
    if let Some(from) = from.and_then(|d| d.and_hms_opt(0, 0, 0)) {
        query = query.filter(audit_event::Column::At.gte(from.and_utc()));
    }
    if let Some(end) = to.and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0)) {
        query = query.filter(audit_event::Column::At.lt(end.and_utc()));
    }
    Ok(query)
}

/// One page of the log, newest first, below the event `before` (keyset on the id).
pub async fn search(db: &impl ConnectionTrait, filter: &AuditFilter, before: Option<i64>) -> Result<AuditPage, AuditQueryError> {
    let mut query = filtered(filter)?;
    if let Some(before) = before {
        query = query.filter(audit_event::Column::Id.lt(before));
    }
    let mut models = query.order_by_desc(audit_event::Column::Id).limit(PAGE_SIZE + 1).all(db).await?;
    let next = if models.len() as u64 > PAGE_SIZE {
        models.truncate(PAGE_SIZE as usize);
        models.last().map(|m| m.id)
    } else {
        None
    };
    Ok(AuditPage { events: models.into_iter().map(to_view).collect(), next })
}

/// The events the filter selects as CSV, newest first, at most `MAX_EXPORT_ROWS`.
pub async fn export(db: &impl ConnectionTrait, filter: &AuditFilter) -> Result<Vec<u8>, AuditQueryError> {
    let models = filtered(filter)?.order_by_desc(audit_event::Column::Id).limit(MAX_EXPORT_ROWS).all(db).await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(["id", "at", "actor", "action", "object_kind", "object_id", "summary", "reason"]);
    for m in models {
        let cells = [m.id.to_string(), m.at.to_rfc3339(), m.actor, m.action, m.object_kind, m.object_id, m.summary, m.reason.unwrap_or_default()];
        // A cell a spreadsheet would run as a formula is written as text.
        let _ = writer.write_record(cells.iter().map(|c| crate::server::fraud::list_import::escape_formula(c)));
    }
    Ok(writer.into_inner().unwrap_or_default())
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
