//! PostgreSQL's ingest writer connection: kept inside an open transaction between batches, so
//! that a batch costs no `BEGIN` round trip.
//!
//! On loopback a round trip costs more than the work in it (the wake-ups on both sides), and a
//! batch's `BEGIN` was one of five. Here a batch ends with one simple query, `COMMIT; BEGIN`,
//! which commits it and opens the next batch's transaction in the same round trip. A
//! transaction that has run nothing holds no snapshot, no transaction id and no lock under READ
//! COMMITTED, so it keeps nothing waiting between batches (monitoring shows the connection as
//! "idle in transaction"). A batch that fails is rolled back at once (`ROLLBACK; BEGIN`). A
//! connection whose state is unknown (its commit or rollback failed, or its batch was dropped
//! half-way) is closed, which ends its transaction on the server; the next batch takes a fresh
//! one from the pool.
use std::sync::Arc;

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, PgPool, Postgres};
use sea_orm::{DbBackend, DbErr, QueryResult, RuntimeErr, Value};
use sea_query_sqlx::SqlxValues;

use super::batch::{BatchConnection, Row};

pub struct PgWriterConnection {
    pool: PgPool,
    /// Between batches: the connection, in its next transaction already.
    idle: std::sync::Mutex<Option<PoolConnection<Postgres>>>,
}

impl PgWriterConnection {
    /// Takes a connection from `pool` (the ingest writer's own, [`super::Db::writer`]) at the
    /// first batch, and keeps it.
    pub fn new(pool: PgPool) -> PgWriterConnection {
        PgWriterConnection { pool, idle: std::sync::Mutex::new(None) }
    }

    /// The kept connection, whose transaction is open already; or a fresh one, begun now.
    pub async fn begin(&self) -> Result<PgTransaction<'_>, DbErr> {
        let kept = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let connection = match kept {
            Some(connection) => connection,
            None => {
                let mut fresh = self.pool.acquire().await.map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?;
                // It is always inside a transaction: never hand it back to the pool like that.
                fresh.close_on_drop();
                sqlx::raw_sql("BEGIN").execute(&mut *fresh).await.map_err(exec_error)?;
                fresh
            }
        };
        Ok(PgTransaction { writer: self, connection: tokio::sync::Mutex::new(connection) })
    }
}

/// A batch's transaction. Dropped before its commit or rollback, its connection is closed and
/// the server rolls the transaction back.
pub struct PgTransaction<'a> {
    writer: &'a PgWriterConnection,
    /// Locked by one statement at a time; the batch's statements run one after the other.
    connection: tokio::sync::Mutex<PoolConnection<Postgres>>,
}

impl PgTransaction<'_> {
    /// Commits the batch and begins the next one's transaction, in one round trip.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.end("COMMIT; BEGIN").await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.end("ROLLBACK; BEGIN").await
    }

    async fn end(self, sql: &'static str) -> Result<(), DbErr> {
        let mut connection = self.connection.into_inner();
        sqlx::raw_sql(sql).execute(&mut *connection).await.map_err(exec_error)?;
        // Only when both went through is its state known: otherwise it is dropped, and closed.
        *self.writer.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(connection);
        Ok(())
    }
}

impl BatchConnection for PgTransaction<'_> {
    fn backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>, DbErr> {
        let statement = super::statement(DbBackend::Postgres, sql, values);
        let values = SqlxValues(statement.values.unwrap_or(sea_orm::sea_query::Values(Vec::new())));
        let mut connection = self.connection.lock().await;
        let rows = sqlx::query_with(sqlx::AssertSqlSafe(statement.sql), values).fetch_all(&mut **connection).await.map_err(query_error)?;
        Ok(rows.into_iter().map(|row| Row::Orm(QueryResult::from(row))).collect())
    }

    async fn run(&self, sql: &str, values: Vec<Value>) -> Result<(), DbErr> {
        let statement = super::statement(DbBackend::Postgres, sql, values);
        let values = SqlxValues(statement.values.unwrap_or(sea_orm::sea_query::Values(Vec::new())));
        let mut connection = self.connection.lock().await;
        sqlx::query_with(sqlx::AssertSqlSafe(statement.sql), values).execute(&mut **connection).await.map(|_| ()).map_err(exec_error)
    }
}

fn exec_error(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
}

fn query_error(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
}
