//! Where tower-sessions keeps sessions: always in the database, with Redis in front when it is
//! configured. The database is the record, so a Redis outage or a Redis restart without
//! persistence signs nobody out; Redis saves the database a read per request while it answers.
//! Every Redis call is bounded like the cache's (250 ms), then the database answers instead.
//! Written here because the published sqlx store is built on another sqlx than sea-orm's.
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::server::cache::RedisCache;
use crate::server::db::entities::session;

/// How long Redis keeps a copy. Short, because a copy whose deletion failed (Redis unreachable
/// at sign-out) stays readable until then.
pub const REDIS_COPY_TTL: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct SessionBackend {
    db: DatabaseConnection,
    /// Redis in front of the database (keys under the cache's `CACHE_NAMESPACE`).
    redis: Option<RedisCache>,
}

impl std::fmt::Debug for SessionBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

fn backend_error(what: &'static str) -> session_store::Error {
    // The underlying error text is not passed on: it can carry connection strings or row data.
    session_store::Error::Backend(format!("session store: {what} failed"))
}

fn to_chrono(t: OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or_default()
}

/// The Redis key of a session, below the cache's namespace.
pub fn redis_key(id: &Id) -> String {
    format!("session:{id}")
}

impl SessionBackend {
    pub fn database(db: DatabaseConnection) -> SessionBackend {
        SessionBackend { db, redis: None }
    }

    pub fn database_with_redis_in_front(db: DatabaseConnection, redis: RedisCache) -> SessionBackend {
        SessionBackend { db, redis: Some(redis) }
    }

    /// For `/readyz`.
    pub fn describe(&self) -> &'static str {
        if self.redis.is_some() {
            "database+redis"
        } else {
            "database"
        }
    }

    /// The database, where sessions are kept (and expired ones pruned).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    async fn insert(&self, record: &Record, overwrite: bool) -> session_store::Result<bool> {
        let data = serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let row = session::ActiveModel { id: Set(record.id.to_string()), data: Set(data.clone()), expires_at: Set(to_chrono(record.expiry_date)) };
        let mut conflict = OnConflict::column(session::Column::Id);
        if overwrite {
            conflict.update_columns([session::Column::Data, session::Column::ExpiresAt]);
        } else {
            conflict.do_nothing();
        }
        let inserted = session::Entity::insert(row).on_conflict(conflict).exec_without_returning(&self.db).await.map_err(|_| backend_error("insert"))?;
        let stored = overwrite || inserted > 0;
        if stored {
            self.copy_to_redis(&record.id, data, record.expiry_date).await;
        }
        Ok(stored)
    }

    /// Best effort: a copy that cannot be written is removed, so Redis never serves an old one.
    async fn copy_to_redis(&self, id: &Id, data: String, expiry: OffsetDateTime) {
        let Some(redis) = &self.redis else { return };
        let left = Duration::try_from(expiry - OffsetDateTime::now_utc()).unwrap_or(Duration::ZERO);
        let ttl = left.min(REDIS_COPY_TTL);
        if ttl.is_zero() || redis.set(&redis_key(id), data, ttl).await.is_err() {
            let _ = redis.delete(&redis_key(id)).await;
        }
    }

    async fn load_from_database(&self, session_id: &Id) -> session_store::Result<Option<String>> {
        Ok(session::Entity::find_by_id(session_id.to_string())
            .filter(session::Column::ExpiresAt.gt(chrono::Utc::now()))
            .one(&self.db)
            .await
            .map_err(|_| backend_error("load"))?
            .map(|row| row.data))
    }
}

fn decode(data: &str) -> session_store::Result<Record> {
    serde_json::from_str(data).map_err(|e| session_store::Error::Decode(e.to_string()))
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id colliding is astronomically unlikely, but never overwrite someone else's.
        while !self.insert(record, false).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.insert(record, true).await.map(|_| ())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(redis) = &self.redis {
            if let Ok(Some(data)) = redis.get(&redis_key(session_id)).await {
                let record = decode(&data)?;
                if record.expiry_date > OffsetDateTime::now_utc() {
                    return Ok(Some(record));
                }
            }
        }
        // Not in Redis (expired copy, a Redis restart) or Redis unreachable: the database.
        let Some(data) = self.load_from_database(session_id).await? else { return Ok(None) };
        let record = decode(&data)?;
        self.copy_to_redis(session_id, data, record.expiry_date).await;
        Ok(Some(record))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        if let Some(redis) = &self.redis {
            // If Redis does not answer, its copy expires within REDIS_COPY_TTL.
            let _ = redis.delete(&redis_key(session_id)).await;
        }
        session::Entity::delete_by_id(session_id.to_string()).exec(&self.db).await.map_err(|_| backend_error("delete"))?;
        Ok(())
    }
}

/// Removes expired database sessions. Returns how many were removed.
pub async fn delete_expired(db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    let result = session::Entity::delete_many().filter(session::Column::ExpiresAt.lte(chrono::Utc::now())).exec(db).await?;
    Ok(result.rows_affected)
}
