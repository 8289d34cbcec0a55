//! Lists in the database: every change is validated first (nothing changes on bad input) and
//! bumps the engine generation, so every instance reloads its in-memory lists.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use super::lists::{ListEntry, ListError, ListKind, Lists};
use crate::app::dto::{FraudListSummary, ListEntryDto};
use crate::server::db::entities::{fraud_list, fraud_list_entry};

#[derive(Debug, thiserror::Error)]
pub enum ListStoreError {
    #[error(transparent)]
    Invalid(#[from] ListError),
    #[error("a list name is 1 to 64 lowercase letters, digits or underscores")]
    BadName,
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub async fn create_list(db: &DatabaseConnection, name: &str, kind: ListKind, description: &str, now: DateTime<Utc>) -> Result<(), ListStoreError> {
    if !valid_name(name) {
        return Err(ListStoreError::BadName);
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
    txn.commit().await?;
    Ok(())
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
    let model = fraud_list::Entity::find_by_id(list.to_string()).one(txn).await?.ok_or_else(|| ListError::UnknownList(list.to_string()))?;
    let kind = ListKind::parse(&model.kind).ok_or_else(|| ListError::UnknownList(list.to_string()))?;
    // The in-memory list's rules are the validation: one list of one, then store what it kept.
    let mut probe = Lists::default();
    probe.create(list, kind)?;
    let value = probe.add(list, raw_value, entry.clone(), now)?;
    fraud_list_entry::Entity::delete_many()
        .filter(fraud_list_entry::Column::ListName.eq(list))
        .filter(fraud_list_entry::Column::Value.eq(&value))
        .filter(same_scope(entry.merchant_id))
        .exec(txn)
        .await?;
    fraud_list_entry::Entity::insert(fraud_list_entry::ActiveModel {
        merchant_id: Set(entry.merchant_id),
        list_name: Set(list.to_string()),
        value: Set(value.clone()),
        reason: Set(entry.reason.trim().to_string()),
        added_by: Set(entry.added_by),
        source: Set(entry.source),
        expires_at: Set(entry.expires_at),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(value)
}

/// The entries of one scope: every merchant's (None), or one merchant's.
fn same_scope(merchant_id: Option<i32>) -> sea_orm::Condition {
    match merchant_id {
        Some(id) => sea_orm::Condition::all().add(fraud_list_entry::Column::MerchantId.eq(id)),
        None => sea_orm::Condition::all().add(fraud_list_entry::Column::MerchantId.is_null()),
    }
}

/// Removes the entry for every merchant (`merchant_id` None) or for one; false when the list did
/// not hold it.
pub async fn remove_entry(db: &DatabaseConnection, list: &str, raw_value: &str, merchant_id: Option<i32>) -> Result<bool, ListStoreError> {
    let txn = db.begin().await?;
    // First, so concurrent changes take turns (the row lock; SQLite's write lock at once).
    super::generation::bump(&txn).await?;
    let model = fraud_list::Entity::find_by_id(list.to_string()).one(&txn).await?.ok_or_else(|| ListError::UnknownList(list.to_string()))?;
    let kind = ListKind::parse(&model.kind).ok_or_else(|| ListError::UnknownList(list.to_string()))?;
    let value = kind.normalise(raw_value)?;
    let removed = fraud_list_entry::Entity::delete_many()
        .filter(fraud_list_entry::Column::ListName.eq(list))
        .filter(fraud_list_entry::Column::Value.eq(&value))
        .filter(same_scope(merchant_id))
        .exec(&txn)
        .await?
        .rows_affected;
    if removed > 0 {}
    txn.commit().await?;
    Ok(removed > 0)
}

/// Every list with its live entries, as the engine holds them in memory.
pub async fn load(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Lists, sea_orm::DbErr> {
    let mut lists = Lists::default();
    for model in fraud_list::Entity::find().all(db).await? {
        if let Some(kind) = ListKind::parse(&model.kind) {
            let _ = lists.create(&model.name, kind);
        }
    }
    let live =
        fraud_list_entry::Entity::find().filter(fraud_list_entry::Column::ExpiresAt.is_null().or(fraud_list_entry::Column::ExpiresAt.gt(now))).all(db).await?;
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

pub async fn summaries(db: &impl ConnectionTrait) -> Result<Vec<FraudListSummary>, sea_orm::DbErr> {
    let mut out = Vec::new();
    for model in fraud_list::Entity::find().order_by_asc(fraud_list::Column::Name).all(db).await? {
        let entries = fraud_list_entry::Entity::find().filter(fraud_list_entry::Column::ListName.eq(&model.name)).count(db).await?;
        if let Some(kind) = ListKind::parse(&model.kind) {
            out.push(FraudListSummary { name: model.name, kind, description: model.description, entries });
        }
    }
    Ok(out)
}

pub async fn entries(db: &impl ConnectionTrait, list: &str) -> Result<Vec<ListEntryDto>, sea_orm::DbErr> {
    let rows =
        fraud_list_entry::Entity::find().filter(fraud_list_entry::Column::ListName.eq(list)).order_by_desc(fraud_list_entry::Column::CreatedAt).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| ListEntryDto {
            value: r.value,
            reason: r.reason,
            added_by: r.added_by,
            source: r.source,
            expires_at: r.expires_at.map(|t| t.to_rfc3339()),
            created_at: r.created_at.to_rfc3339(),
            merchant_id: r.merchant_id,
        })
        .collect())
}

/// Creates the default lists and their entries where missing (seeding).
pub async fn seed_defaults(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<(), ListStoreError> {
    for (name, kind, description, entries) in super::default_rules::LISTS {
        if fraud_list::Entity::find_by_id(name.to_string()).one(db).await?.is_some() {
            continue;
        }
        create_list(db, name, *kind, description, now).await?;
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
