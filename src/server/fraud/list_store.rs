//! Lists in the database: every change is validated first (nothing changes on bad input), bumps
//! the engine generation, so every instance reloads its in-memory lists, and is an audit event
//! in the same transaction. Entries are removed softly (`removed_at`): a list's past stays
//! readable.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait};

use super::list_import::{self, ImportError, ImportLine};
use super::lists::{ListEntry, ListError, ListHistory, ListKind, Lists, Span};
use crate::app::dto::{
    FraudListSummary, ImportLineError, ImportMode, ListEntryCursor, ListEntryDto, ListEntryPage, ListImportSummary, WebhookEventKind,
    MAX_REPORTED_IMPORT_ERRORS,
};
use crate::server::audit;
use crate::server::db::entities::{fraud_list, fraud_list_entry, merchant};
use crate::server::outbound::outbox;

/// Entries on one page of the admin's list view.
pub const PAGE_SIZE: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_SEARCH_CHARS: usize = 255;
/// Rows written per statement by an import (well under either database's bound on parameters).
const WRITE_CHUNK: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ListStoreError {
    #[error(transparent)]
    Invalid(#[from] ListError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("a list name is 1 to 64 lowercase letters, digits or underscores")]
    BadName,
    #[error("a description is at most {MAX_DESCRIPTION_CHARS} characters")]
    DescriptionTooLong,
    #[error("a search is at most {MAX_SEARCH_CHARS} characters")]
    SearchTooLong,
    #[error("{0} line(s) are in error: fix them, or choose to import only the valid lines")]
    LinesInError(u64),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub async fn create_list(
    db: &DatabaseConnection,
    name: &str,
    kind: ListKind,
    description: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), ListStoreError> {
    if !valid_name(name) {
        return Err(ListStoreError::BadName);
    }
    if description.trim().chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ListStoreError::DescriptionTooLong);
    }
    let txn = db.begin().await?;
    // First, so concurrent changes take turns (the row lock; SQLite's write lock at once).
    super::generation::bump(&txn).await?;
    if fraud_list::Entity::find_by_id(name.to_string()).one(&txn).await?.is_some() {
        return Err(ListError::DuplicateList(name.to_string()).into());
    }
    fraud_list::Entity::insert(fraud_list::ActiveModel {
        name: Set(name.to_string()),
        kind: Set(kind.as_str().to_string()),
        description: Set(description.trim().to_string()),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    let summary = format!("created the list {name} ({})", kind.label());
    audit::record(&txn, audit::Entry { actor, action: "list.created", object_kind: "list", object_id: name.to_string(), summary, reason: None }, now).await?;
    txn.commit().await?;
    Ok(())
}

/// The kind of a list, or why there is none.
async fn kind_of(db: &impl ConnectionTrait, list: &str) -> Result<ListKind, ListStoreError> {
    let model = fraud_list::Entity::find_by_id(list.to_string()).one(db).await?.ok_or_else(|| ListError::UnknownList(list.to_string()))?;
    Ok(ListKind::parse(&model.kind).ok_or_else(|| ListError::UnknownList(list.to_string()))?)
}

/// Marks the live entries of one value and scope removed.
async fn soft_remove(
    db: &impl ConnectionTrait,
    list: &str,
    value: &str,
    merchant_id: Option<i32>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let result = fraud_list_entry::Entity::update_many()
        .col_expr(fraud_list_entry::Column::RemovedAt, Expr::value(now))
        .col_expr(fraud_list_entry::Column::RemovedBy, Expr::value(actor.to_string()))
        .filter(fraud_list_entry::Column::ListName.eq(list))
        .filter(fraud_list_entry::Column::Value.eq(value))
        .filter(same_scope(merchant_id))
        .filter(fraud_list_entry::Column::RemovedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

fn describe(value: &str, list: &str, merchant_id: Option<i32>) -> String {
    match merchant_id {
        Some(id) => format!("{value} in {list}, for merchant {id}"),
        None => format!("{value} in {list}"),
    }
}

/// Adds an entry, or replaces the one with the same normalised value. Returns that value.
pub async fn add_entry(db: &DatabaseConnection, list: &str, raw_value: &str, entry: ListEntry, now: DateTime<Utc>) -> Result<String, ListStoreError> {
    let txn = db.begin().await?;
    let value = add_entry_in(&txn, list, raw_value, entry, now).await?;
    txn.commit().await?;
    Ok(value)
}

/// [`add_entry`] inside the caller's transaction (a case's resolution adds its block-list entries
/// with it). The caller commits, then refreshes the engine.
pub async fn add_entry_in(txn: &impl ConnectionTrait, list: &str, raw_value: &str, entry: ListEntry, now: DateTime<Utc>) -> Result<String, ListStoreError> {
    // First, so concurrent changes take turns (the row lock; SQLite's write lock at once).
    super::generation::bump(txn).await?;
    let kind = kind_of(txn, list).await?;
    // The in-memory list's rules are the validation: one list of one, then store what it kept.
    let mut probe = Lists::default();
    probe.create(list, kind)?;
    let value = probe.add(list, raw_value, entry.clone(), now)?;
    // The entry it replaces stays, removed.
    soft_remove(txn, list, &value, entry.merchant_id, &entry.added_by, now).await?;
    fraud_list_entry::Entity::insert(fraud_list_entry::ActiveModel {
        merchant_id: Set(entry.merchant_id),
        list_name: Set(list.to_string()),
        value: Set(value.clone()),
        reason: Set(entry.reason.trim().to_string()),
        added_by: Set(entry.added_by.clone()),
        source: Set(entry.source.clone()),
        expires_at: Set(entry.expires_at),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    let mut summary = format!("added {}", describe(&value, list, entry.merchant_id));
    if let Some(at) = entry.expires_at {
        summary.push_str(&format!(", until {}", at.format("%Y-%m-%d %H:%M UTC")));
    }
    if entry.source != "admin" {
        summary.push_str(&format!(" (source: {})", entry.source));
    }
    let event = audit::Entry {
        actor: &entry.added_by,
        action: "list.entry_added",
        object_kind: "list",
        object_id: list.to_string(),
        summary,
        reason: Some(entry.reason.trim()),
    };
    audit::record(txn, event, now).await?;
    let data = serde_json::json!({
        "list": list, "value": value, "merchant_id": entry.merchant_id, "reason": entry.reason.trim(), "source": entry.source,
        "expires_at": entry.expires_at.map(|t| t.to_rfc3339()), "added_by": entry.added_by,
    });
    outbox::record(txn, WebhookEventKind::ListEntryAdded, &format!("list:{list}"), data, now).await?;
    Ok(value)
}

/// The entries of one scope: every merchant's (None), or one merchant's.
fn same_scope(merchant_id: Option<i32>) -> sea_orm::Condition {
    match merchant_id {
        Some(id) => sea_orm::Condition::all().add(fraud_list_entry::Column::MerchantId.eq(id)),
        None => sea_orm::Condition::all().add(fraud_list_entry::Column::MerchantId.is_null()),
    }
}

/// Removes the entry for every merchant (`merchant_id` None) or for one, softly; false when the
/// list did not hold it.
pub async fn remove_entry(
    db: &DatabaseConnection,
    list: &str,
    raw_value: &str,
    merchant_id: Option<i32>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool, ListStoreError> {
    let txn = db.begin().await?;
    // First, so concurrent changes take turns (the row lock; SQLite's write lock at once).
    super::generation::bump(&txn).await?;
    let value = kind_of(&txn, list).await?.normalise(raw_value)?;
    let removed = soft_remove(&txn, list, &value, merchant_id, actor, now).await? > 0;
    if removed {
        let summary = format!("removed {}", describe(&value, list, merchant_id));
        audit::record(&txn, audit::Entry { actor, action: "list.entry_removed", object_kind: "list", object_id: list.to_string(), summary, reason: None }, now)
            .await?;
    }
    txn.commit().await?;
    Ok(removed)
}

/// Every list with its live entries, as the engine holds them in memory.
pub async fn load(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Lists, sea_orm::DbErr> {
    let mut lists = Lists::default();
    for model in fraud_list::Entity::find().all(db).await? {
        if let Some(kind) = ListKind::parse(&model.kind) {
            let _ = lists.create(&model.name, kind);
        }
    }
    let live = fraud_list_entry::Entity::find()
        .filter(fraud_list_entry::Column::RemovedAt.is_null())
        .filter(fraud_list_entry::Column::ExpiresAt.is_null().or(fraud_list_entry::Column::ExpiresAt.gt(now)))
        .all(db)
        .await?;
    for row in live {
        let entry = ListEntry {
            value: row.value.clone(),
            reason: row.reason,
            expires_at: row.expires_at,
            added_by: row.added_by,
            source: row.source,
            merchant_id: row.merchant_id,
        };
        // Stored values were validated when added.
        let _ = lists.add(&row.list_name, &row.value, entry, now);
    }
    Ok(lists)
}

/// Every list as it was at any moment since entries began to be removed softly (m000014): for a
/// backtest's exact replay. Entries deleted outright before then are not in it.
pub async fn load_history(db: &impl ConnectionTrait) -> Result<ListHistory, sea_orm::DbErr> {
    let mut history = ListHistory::default();
    for model in fraud_list::Entity::find().all(db).await? {
        if let Some(kind) = ListKind::parse(&model.kind) {
            history.create(&model.name, kind);
        }
    }
    for row in fraud_list_entry::Entity::find().all(db).await? {
        let until = match (row.removed_at, row.expires_at) {
            (Some(removed), Some(expires)) => Some(std::cmp::Ord::min(removed, expires)),
            (removed, expires) => removed.or(expires),
        };
        history.add(&row.list_name, &row.value, row.merchant_id, Span { from: row.created_at, until });
    }
    Ok(history)
}

pub async fn summaries(db: &impl ConnectionTrait) -> Result<Vec<FraudListSummary>, sea_orm::DbErr> {
    let mut out = Vec::new();
    for model in fraud_list::Entity::find().order_by_asc(fraud_list::Column::Name).all(db).await? {
        let entries = live_entries_of(&model.name).count(db).await?;
        if let Some(kind) = ListKind::parse(&model.kind) {
            out.push(FraudListSummary { name: model.name, kind, description: model.description, entries });
        }
    }
    Ok(out)
}

/// A list's entries that are not removed (expired ones included).
fn live_entries_of(list: &str) -> sea_orm::Select<fraud_list_entry::Entity> {
    fraud_list_entry::Entity::find().filter(fraud_list_entry::Column::ListName.eq(list)).filter(fraud_list_entry::Column::RemovedAt.is_null())
}

fn entry_dto(row: fraud_list_entry::Model, now: DateTime<Utc>) -> ListEntryDto {
    ListEntryDto {
        expired: row.expires_at.is_some_and(|at| at <= now),
        value: row.value,
        reason: row.reason,
        added_by: row.added_by,
        source: row.source,
        expires_at: row.expires_at.map(|t| t.to_rfc3339()),
        created_at: row.created_at.to_rfc3339(),
        merchant_id: row.merchant_id,
    }
}

/// One page of a list's entries in value order, those containing `search` if it is not empty,
/// after `after`. Keyset on the unique index (list, value, scope): page 1,000 costs what page 1
/// does.
pub async fn entry_page(
    db: &impl ConnectionTrait,
    list: &str,
    search: &str,
    after: Option<&ListEntryCursor>,
    now: DateTime<Utc>,
) -> Result<ListEntryPage, ListStoreError> {
    if search.chars().count() > MAX_SEARCH_CHARS {
        return Err(ListStoreError::SearchTooLong);
    }
    let kind = kind_of(db, list).await?;
    // Stored values are normalised: so is the search (case, as the kind keeps it).
    let search = match kind {
        ListKind::Email | ListKind::EmailDomain => search.trim().to_lowercase(),
        ListKind::Country => search.trim().to_uppercase(),
        _ => search.trim().to_string(),
    };
    let mut sql = String::from("SELECT * FROM fraud_list_entries WHERE list_name = ? AND removed_at IS NULL");
    let mut values: Vec<sea_orm::Value> = vec![list.into()];
    if !search.is_empty() {
        sql.push_str(" AND value LIKE ? ESCAPE '\\'");
        let escaped = search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        values.push(format!("%{escaped}%").into());
    }
    if let Some(after) = after {
        sql.push_str(" AND (value > ? OR (value = ? AND COALESCE(merchant_id, 0) > ?))");
        values.extend([after.value.clone().into(), after.value.clone().into(), after.merchant_id.into()]);
    }
    sql.push_str(&format!(" ORDER BY value, COALESCE(merchant_id, 0) LIMIT {}", PAGE_SIZE + 1));
    let statement = crate::server::db::statement(db.get_database_backend(), &sql, values);
    let mut rows = fraud_list_entry::Entity::find().from_raw_sql(statement).all(db).await?;
    let next = if rows.len() > PAGE_SIZE {
        rows.truncate(PAGE_SIZE);
        rows.last().map(|r| ListEntryCursor { value: r.value.clone(), merchant_id: r.merchant_id.unwrap_or(0) })
    } else {
        None
    };
    let total = live_entries_of(list).count(db).await?;
    Ok(ListEntryPage { entries: rows.into_iter().map(|r| entry_dto(r, now)).collect(), next, total })
}

/// The CSV of a list's entries that match (not removed, not expired): what an import reads back.
pub async fn export(db: &impl ConnectionTrait, list: &str, now: DateTime<Utc>) -> Result<Vec<u8>, ListStoreError> {
    kind_of(db, list).await?;
    let rows = live_entries_of(list)
        .filter(fraud_list_entry::Column::ExpiresAt.is_null().or(fraud_list_entry::Column::ExpiresAt.gt(now)))
        .order_by_asc(fraud_list_entry::Column::Value)
        .order_by_asc(fraud_list_entry::Column::MerchantId)
        .all(db)
        .await?;
    Ok(list_import::write_export(rows.into_iter().map(|r| list_import::ExportRow {
        value: r.value,
        reason: r.reason,
        expires_at: r.expires_at,
        merchant_id: r.merchant_id,
        added_by: r.added_by,
        source: r.source,
        created_at: r.created_at,
    })))
}

/// What an import of `csv` into `list` would do, worked out against the list as it is.
struct ImportPlan {
    summary: ListImportSummary,
    /// New entries, and new versions of updated ones.
    inserts: Vec<ImportLine>,
    /// Entries updated (their old row) or, replacing, not named by the file.
    removals: Vec<i64>,
}

async fn plan_import(
    db: &impl ConnectionTrait,
    list: &str,
    csv: &str,
    mode: ImportMode,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<ImportPlan, ListStoreError> {
    let kind = kind_of(db, list).await?;
    let parsed = list_import::parse(kind, csv, reason, now)?;
    let mut errors = parsed.errors;

    // Merchant scopes must name merchants.
    let wanted: Vec<i32> = parsed.lines.iter().filter_map(|l| l.merchant_id).collect::<HashSet<_>>().into_iter().collect();
    let mut known = HashSet::new();
    for chunk in wanted.chunks(WRITE_CHUNK) {
        let ids: Vec<i32> =
            merchant::Entity::find().select_only().column(merchant::Column::Id).filter(merchant::Column::Id.is_in(chunk.to_vec())).into_tuple().all(db).await?;
        known.extend(ids);
    }
    let mut lines = Vec::with_capacity(parsed.lines.len());
    for line in parsed.lines {
        match line.merchant_id {
            Some(id) if !known.contains(&id) => errors.push(ImportLineError { line: line.line, value: line.value, message: format!("no merchant {id}") }),
            _ => lines.push(line),
        }
    }
    errors.sort_by_key(|e| e.line);

    let existing: Vec<(i64, String, Option<i32>, String, Option<DateTime<Utc>>)> = live_entries_of(list)
        .select_only()
        .columns([
            fraud_list_entry::Column::Id,
            fraud_list_entry::Column::Value,
            fraud_list_entry::Column::MerchantId,
            fraud_list_entry::Column::Reason,
            fraud_list_entry::Column::ExpiresAt,
        ])
        .into_tuple()
        .all(db)
        .await?;
    let mut existing: HashMap<(String, i32), (i64, String, Option<DateTime<Utc>>)> =
        existing.into_iter().map(|(id, value, merchant_id, reason, expires_at)| ((value, merchant_id.unwrap_or(0)), (id, reason, expires_at))).collect();

    let (mut added, mut updated, mut unchanged) = (0u64, 0u64, 0u64);
    let mut inserts = Vec::new();
    let mut removals = Vec::new();
    for line in lines.iter() {
        match existing.remove(&line.key()) {
            Some((_, old_reason, old_expiry)) if old_reason == line.reason && old_expiry == line.expires_at => unchanged += 1,
            Some((id, _, _)) => {
                updated += 1;
                removals.push(id);
                inserts.push(line.clone());
            }
            None => {
                added += 1;
                inserts.push(line.clone());
            }
        }
    }
    // What is left in `existing` was not named by the file.
    let removed = match mode {
        ImportMode::Merge => 0,
        ImportMode::Replace => {
            removals.extend(existing.values().map(|(id, _, _)| *id));
            existing.len() as u64
        }
    };
    let error_count = errors.len() as u64;
    errors.truncate(MAX_REPORTED_IMPORT_ERRORS);
    let summary = ListImportSummary {
        lines: lines.len() as u64 + error_count,
        valid: lines.len() as u64,
        added,
        updated,
        unchanged,
        removed,
        error_count,
        errors,
        applied: false,
    };
    Ok(ImportPlan { summary, inserts, removals })
}

/// What importing `csv` would do; nothing is written.
pub async fn preview_import(
    db: &impl ConnectionTrait,
    list: &str,
    csv: &str,
    mode: ImportMode,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<ListImportSummary, ListStoreError> {
    Ok(plan_import(db, list, csv, mode, reason, now).await?.summary)
}

/// Imports `csv` into `list` in one transaction. With any line in error nothing is written,
/// unless `valid_lines_only`: then the lines in error are skipped.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    db: &DatabaseConnection,
    list: &str,
    csv: &str,
    mode: ImportMode,
    reason: &str,
    valid_lines_only: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ListImportSummary, ListStoreError> {
    let txn = db.begin().await?;
    // First, so concurrent changes take turns; the plan is then made on the list as it stays.
    super::generation::bump(&txn).await?;
    let ImportPlan { mut summary, inserts, removals } = plan_import(&txn, list, csv, mode, reason, now).await?;
    if summary.error_count > 0 && !valid_lines_only {
        return Err(ListStoreError::LinesInError(summary.error_count));
    }
    for chunk in removals.chunks(WRITE_CHUNK) {
        fraud_list_entry::Entity::update_many()
            .col_expr(fraud_list_entry::Column::RemovedAt, Expr::value(now))
            .col_expr(fraud_list_entry::Column::RemovedBy, Expr::value(actor.to_string()))
            .filter(fraud_list_entry::Column::Id.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
    }
    for chunk in inserts.chunks(WRITE_CHUNK) {
        let rows = chunk.iter().map(|line| fraud_list_entry::ActiveModel {
            merchant_id: Set(line.merchant_id),
            list_name: Set(list.to_string()),
            value: Set(line.value.clone()),
            reason: Set(line.reason.clone()),
            added_by: Set(actor.to_string()),
            source: Set("import".into()),
            expires_at: Set(line.expires_at),
            created_at: Set(now),
            ..Default::default()
        });
        fraud_list_entry::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        let events = chunk
            .iter()
            .map(|line| {
                let data = serde_json::json!({
                    "list": list, "value": line.value, "merchant_id": line.merchant_id, "reason": line.reason, "source": "import",
                    "expires_at": line.expires_at.map(|t| t.to_rfc3339()), "added_by": actor,
                });
                (format!("list:{list}"), data)
            })
            .collect();
        outbox::record_many(&txn, WebhookEventKind::ListEntryAdded, events, now).await?;
    }
    let how = match mode {
        ImportMode::Merge => "merged",
        ImportMode::Replace => "replaced the list with",
    };
    let summary_line = format!(
        "{how} a CSV of {} entries: {} added, {} updated, {} unchanged, {} removed, {} line(s) in error skipped",
        summary.lines, summary.added, summary.updated, summary.unchanged, summary.removed, summary.error_count
    );
    let reason = Some(reason.trim()).filter(|r| !r.is_empty());
    audit::record(&txn, audit::Entry { actor, action: "list.imported", object_kind: "list", object_id: list.to_string(), summary: summary_line, reason }, now)
        .await?;
    txn.commit().await?;
    summary.applied = true;
    Ok(summary)
}

/// Creates the default lists and their entries where missing (seeding).
pub async fn seed_defaults(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<(), ListStoreError> {
    for (name, kind, description, entries) in super::default_rules::LISTS {
        if fraud_list::Entity::find_by_id(name.to_string()).one(db).await?.is_some() {
            continue;
        }
        create_list(db, name, *kind, description, "seed", now).await?;
        for (value, reason) in *entries {
            let entry = ListEntry {
                value: String::new(),
                reason: reason.to_string(),
                expires_at: None,
                added_by: "seed".into(),
                source: "import".into(),
                merchant_id: None,
            };
            add_entry(db, name, value, entry, now).await?;
        }
    }
    Ok(())
}
