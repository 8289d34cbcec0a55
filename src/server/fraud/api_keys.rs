//! Ingest API keys: created by admins, shown once, stored as SHA-256 (the key is 256 random
//! bits, so a fast hash is enough), revocable, with when each was last used. A key may be bound
//! to one merchant: the scope travels in the cached model, so checking it costs the ingest nothing.
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};
use sha2::{Digest, Sha256};

use crate::app::dto::{ApiKeySummary, CreatedApiKey};
use crate::server::audit;
use crate::server::db::entities::{api_key, merchant};

const PREFIX: &str = "vtd_";
/// Keys seen in the last second are not looked up again: one database read less per ingest.
/// So a revocation reaches other instances within a second (this one at once).
const RECENT_FOR: std::time::Duration = std::time::Duration::from_secs(1);

fn recent() -> &'static moka::future::Cache<String, api_key::Model> {
    static RECENT: std::sync::OnceLock<moka::future::Cache<String, api_key::Model>> = std::sync::OnceLock::new();
    RECENT.get_or_init(|| moka::future::Cache::builder().max_capacity(10_000).time_to_live(RECENT_FOR).build())
}
/// last_used_at is written at most this often per key, not on every request.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Longest key name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("a key needs a name of 1 to 100 characters")]
    BadName,
    #[error("no API key with id {0}")]
    Unknown(i32),
    #[error("there is no merchant {0} to bind the key to")]
    UnknownMerchant(i32),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

/// A key for every merchant, made by `created_by` (the command line, the seed, tests).
pub async fn create(db: &DatabaseConnection, name: &str, created_by: &str, now: DateTime<Utc>) -> Result<CreatedApiKey, ApiKeyError> {
    create_scoped(db, name, None, created_by, now).await
}

/// A key, bound to `merchant_id` when given (it can then send and read back that merchant's
/// transactions only); recorded in the audit log in the same transaction.
pub async fn create_scoped(
    db: &DatabaseConnection,
    name: &str,
    merchant_id: Option<i32>,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<CreatedApiKey, ApiKeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiKeyError::BadName);
    }
    let merchant_name = match merchant_id {
        Some(id) => Some(merchant::Entity::find_by_id(id).one(db).await?.ok_or(ApiKeyError::UnknownMerchant(id))?.name),
        None => None,
    };
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key = format!("{PREFIX}{}", hex::encode(secret));
    let txn = db.begin().await?;
    let model = api_key::ActiveModel {
        name: Set(name.to_string()),
        prefix: Set(key[..12].to_string()),
        key_hash: Set(hash(&key)),
        created_by: Set(created_by.to_string()),
        created_at: Set(now),
        revoked_at: Set(None),
        last_used_at: Set(None),
        merchant_id: Set(merchant_id),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let scope = match (merchant_id, &merchant_name) {
        (Some(id), Some(m)) => format!("merchant {id} ({m}) only"),
        _ => "every merchant".to_string(),
    };
    let entry = audit::Entry {
        actor: created_by,
        action: "api_key.created",
        object_kind: "api_key",
        object_id: model.id.to_string(),
        summary: format!("Created API key \"{}\" ({}…) for {scope}", model.name, model.prefix),
        reason: None,
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(CreatedApiKey { summary: summary(model, merchant_name, now), key })
}

/// The live key a bearer token names, noting its use; None for unknown or revoked keys.
pub async fn authenticate(db: &DatabaseConnection, token: &str, now: DateTime<Utc>) -> Result<Option<api_key::Model>, sea_orm::DbErr> {
    if !token.starts_with(PREFIX) || token.len() > 100 {
        return Ok(None);
    }
    let key_hash = hash(token);
    if let Some(key) = recent().get(&key_hash).await {
        return Ok(Some(key));
    }
    let found = api_key::Entity::find().filter(api_key::Column::KeyHash.eq(&key_hash)).filter(api_key::Column::RevokedAt.is_null()).one(db).await?;
    if let Some(key) = &found {
        if key.last_used_at.is_none_or(|at| (now - at).num_seconds() >= LAST_USED_RESOLUTION_SECS) {
            api_key::Entity::update_many()
                .col_expr(api_key::Column::LastUsedAt, sea_orm::sea_query::Expr::value(now))
                .filter(api_key::Column::Id.eq(key.id))
                .exec(db)
                .await?;
        }
        recent().insert(key_hash, key.clone()).await;
    }
    Ok(found)
}

/// Revokes a key: refused at once on this instance, within a second on the others.
pub async fn revoke(db: &DatabaseConnection, id: i32, actor: &str, now: DateTime<Utc>) -> Result<ApiKeySummary, ApiKeyError> {
    let txn = db.begin().await?;
    let model = api_key::Entity::find_by_id(id).one(&txn).await?.ok_or(ApiKeyError::Unknown(id))?;
    let merchant_name = merchant_name(&txn, model.merchant_id).await?;
    if model.revoked_at.is_some() {
        return Ok(summary(model, merchant_name, now));
    }
    let mut active: api_key::ActiveModel = model.into();
    active.revoked_at = Set(Some(now));
    let revoked = active.update(&txn).await?;
    let entry = audit::Entry {
        actor,
        action: "api_key.revoked",
        object_kind: "api_key",
        object_id: revoked.id.to_string(),
        summary: format!("Revoked API key \"{}\" ({}…)", revoked.name, revoked.prefix),
        reason: None,
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    recent().invalidate(&revoked.key_hash).await;
    Ok(summary(revoked, merchant_name, now))
}

async fn merchant_name(db: &impl ConnectionTrait, merchant_id: Option<i32>) -> Result<Option<String>, sea_orm::DbErr> {
    let Some(id) = merchant_id else { return Ok(None) };
    Ok(merchant::Entity::find_by_id(id).one(db).await?.map(|m| m.name))
}

/// Every key, newest first, with its merchant's name when it is bound to one.
pub async fn list(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Vec<ApiKeySummary>, sea_orm::DbErr> {
    let models = api_key::Entity::find().order_by_desc(api_key::Column::CreatedAt).order_by_desc(api_key::Column::Id).all(db).await?;
    let ids: Vec<i32> = models.iter().filter_map(|m| m.merchant_id).collect();
    let names: std::collections::HashMap<i32, String> = if ids.is_empty() {
        Default::default()
    } else {
        merchant::Entity::find().filter(merchant::Column::Id.is_in(ids)).all(db).await?.into_iter().map(|m| (m.id, m.name)).collect()
    };
    Ok(models
        .into_iter()
        .map(|m| {
            let name = m.merchant_id.and_then(|id| names.get(&id).cloned());
            summary(m, name, now)
        })
        .collect())
}

fn summary(model: api_key::Model, merchant_name: Option<String>, now: DateTime<Utc>) -> ApiKeySummary {
    ApiKeySummary {
        id: model.id,
        name: model.name,
        prefix: model.prefix,
        merchant_id: model.merchant_id,
        merchant_name,
        created_by: model.created_by,
        created_at: model.created_at.to_rfc3339(),
        last_used_at: model.last_used_at.map(|t| t.to_rfc3339()),
        last_used_seconds_ago: model.last_used_at.map(|t| (now - t).num_seconds().max(0)),
        revoked_at: model.revoked_at.map(|t| t.to_rfc3339()),
    }
}
