//! Ingest API keys: created by admins, shown once, stored as SHA-256 (the key is 256 random
//! bits, so a fast hash is enough), revocable, with when each was last used.
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};

use crate::app::dto::{ApiKeySummary, CreatedApiKey};
use crate::server::db::entities::api_key;

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

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("a key needs a name of 1 to 100 characters")]
    BadName,
    #[error("no API key with id {0}")]
    Unknown(i32),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

pub async fn create(db: &DatabaseConnection, name: &str, created_by: &str, now: DateTime<Utc>) -> Result<CreatedApiKey, ApiKeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiKeyError::BadName);
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key = format!("{PREFIX}{}", hex::encode(secret));
    let model = api_key::ActiveModel {
        name: Set(name.to_string()),
        prefix: Set(key[..12].to_string()),
        key_hash: Set(hash(&key)),
        created_by: Set(created_by.to_string()),
        created_at: Set(now),
        revoked_at: Set(None),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(CreatedApiKey { summary: summary(model), key })
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

pub async fn revoke(db: &DatabaseConnection, id: i32, now: DateTime<Utc>) -> Result<ApiKeySummary, ApiKeyError> {
    let model = api_key::Entity::find_by_id(id).one(db).await?.ok_or(ApiKeyError::Unknown(id))?;
    if model.revoked_at.is_some() {
        return Ok(summary(model));
    }
    let mut active: api_key::ActiveModel = model.into();
    active.revoked_at = Set(Some(now));
    let revoked = active.update(db).await?;
    recent().invalidate(&revoked.key_hash).await;
    Ok(summary(revoked))
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<ApiKeySummary>, sea_orm::DbErr> {
    let models = api_key::Entity::find().order_by_desc(api_key::Column::CreatedAt).all(db).await?;
    Ok(models.into_iter().map(summary).collect())
}

fn summary(model: api_key::Model) -> ApiKeySummary {
    ApiKeySummary {
        id: model.id,
        name: model.name,
        prefix: model.prefix,
        created_by: model.created_by,
        created_at: model.created_at.to_rfc3339(),
        last_used_at: model.last_used_at.map(|t| t.to_rfc3339()),
        revoked_at: model.revoked_at.map(|t| t.to_rfc3339()),
    }
}
