//! Where tower-sessions keeps sessions: the database by default, Redis when `REDIS_URL` is set.
//! Written here because the published sqlx store is built on another sqlx than sea-orm's.
use async_trait::async_trait;
use redis::AsyncCommands;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::server::db::entities::session;

#[derive(Clone, Debug)]
pub enum SessionBackend {
    Database(DatabaseConnection),
    Redis(redis::aio::ConnectionManager),
}

fn backend_error(what: &'static str) -> session_store::Error {
    // The underlying error text is not passed on: it can carry connection strings or row data.
    session_store::Error::Backend(format!("session store: {what} failed"))
}

fn to_chrono(t: OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or_default()
}

fn redis_key(id: &Id) -> String {
    format!("vetted:session:{id}")
}

impl SessionBackend {
    async fn insert(&self, record: &Record, overwrite: bool) -> session_store::Result<bool> {
        let data = serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        match self {
            SessionBackend::Database(db) => {
                let row = session::ActiveModel { id: Set(record.id.to_string()), data: Set(data), expires_at: Set(to_chrono(record.expiry_date)) };
                let mut conflict = OnConflict::column(session::Column::Id);
                if overwrite {
                    conflict.update_columns([session::Column::Data, session::Column::ExpiresAt]);
                } else {
                    conflict.do_nothing();
                }
                let inserted = session::Entity::insert(row).on_conflict(conflict).exec_without_returning(db).await.map_err(|_| backend_error("insert"))?;
                Ok(overwrite || inserted > 0)
            }
            SessionBackend::Redis(conn) => {
                let ttl = (record.expiry_date - OffsetDateTime::now_utc()).whole_seconds().max(1) as u64;
                let mut conn = conn.clone();
                let key = redis_key(&record.id);
                let options = redis::SetOptions::default().with_expiration(redis::SetExpiry::EX(ttl));
                let options = if overwrite { options } else { options.conditional_set(redis::ExistenceCheck::NX) };
                let reply: Option<String> = conn.set_options(key, data, options).await.map_err(|_| backend_error("write"))?;
                Ok(reply.is_some())
            }
        }
    }
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
        let data = match self {
            SessionBackend::Database(db) => session::Entity::find_by_id(session_id.to_string())
                .filter(session::Column::ExpiresAt.gt(chrono::Utc::now()))
                .one(db)
                .await
                .map_err(|_| backend_error("load"))?
                .map(|row| row.data),
            SessionBackend::Redis(conn) => {
                let mut conn = conn.clone();
                conn.get(redis_key(session_id)).await.map_err(|_| backend_error("load"))?
            }
        };
        data.map(|d| serde_json::from_str(&d).map_err(|e| session_store::Error::Decode(e.to_string()))).transpose()
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        match self {
            SessionBackend::Database(db) => {
                session::Entity::delete_by_id(session_id.to_string()).exec(db).await.map_err(|_| backend_error("delete"))?;
            }
            SessionBackend::Redis(conn) => {
                let mut conn = conn.clone();
                let _: () = conn.del(redis_key(session_id)).await.map_err(|_| backend_error("delete"))?;
            }
        }
        Ok(())
    }
}

/// Removes expired database sessions (Redis expires its own keys). Returns how many were removed.
pub async fn delete_expired(db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    let result = session::Entity::delete_many().filter(session::Column::ExpiresAt.lte(chrono::Utc::now())).exec(db).await?;
    Ok(result.rows_affected)
}
