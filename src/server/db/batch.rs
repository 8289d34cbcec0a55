//! Raw SQL for the ingest writer, on either of its connections: a sea-orm connection or
//! transaction (PostgreSQL, or SQLite through sqlx's pool), or SQLite's synchronous writer
//! connection ([`super::sqlite_writer`]). The writer's statements are written once, with `?`
//! placeholders ([`super::statement`]), and read back by column name.
use std::future::Future;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Value};

/// A row a batch statement returned.
pub enum Row {
    Orm(QueryResult),
    /// As SQLite returned it: the statement's column names (shared by its rows) and the values.
    Sqlite {
        columns: Arc<[String]>,
        values: Vec<rusqlite::types::Value>,
    },
}

impl Row {
    pub fn i64(&self, column: &str) -> Result<i64, DbErr> {
        match self {
            Row::Orm(row) => row.try_get("", column),
            Row::Sqlite { columns, values } => match sqlite_value(columns, values, column)? {
                rusqlite::types::Value::Integer(n) => Ok(*n),
                _ => Err(type_error(column, "an integer")),
            },
        }
    }

    pub fn i32(&self, column: &str) -> Result<i32, DbErr> {
        match self {
            Row::Orm(row) => row.try_get("", column),
            Row::Sqlite { .. } => i32::try_from(self.i64(column)?).map_err(|_| type_error(column, "a 32-bit integer")),
        }
    }

    pub fn string(&self, column: &str) -> Result<String, DbErr> {
        match self {
            Row::Orm(row) => row.try_get("", column),
            Row::Sqlite { columns, values } => match sqlite_value(columns, values, column)? {
                rusqlite::types::Value::Text(text) => Ok(text.clone()),
                _ => Err(type_error(column, "text")),
            },
        }
    }
}

fn sqlite_value<'r>(columns: &[String], values: &'r [rusqlite::types::Value], column: &str) -> Result<&'r rusqlite::types::Value, DbErr> {
    columns.iter().position(|name| name == column).and_then(|at| values.get(at)).ok_or_else(|| DbErr::Type(format!("no column {column} in the row")))
}

fn type_error(column: &str, expected: &str) -> DbErr {
    DbErr::Type(format!("column {column} is not {expected}"))
}

/// Where a batch's statements go. `sql` uses `?` placeholders; on SQLite it may hold several
/// statements separated by `;`, run in order in one call.
pub trait BatchConnection: Sync {
    fn backend(&self) -> DbBackend;
    /// The rows every statement of `sql` returned, in order.
    fn rows(&self, sql: &str, values: Vec<Value>) -> impl Future<Output = Result<Vec<Row>, DbErr>> + Send;
    fn run(&self, sql: &str, values: Vec<Value>) -> impl Future<Output = Result<(), DbErr>> + Send;
}

impl<C: ConnectionTrait + Sync> BatchConnection for C {
    fn backend(&self) -> DbBackend {
        self.get_database_backend()
    }

    async fn rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>, DbErr> {
        let rows = self.query_all_raw(super::statement(self.get_database_backend(), sql, values)).await?;
        Ok(rows.into_iter().map(Row::Orm).collect())
    }

    async fn run(&self, sql: &str, values: Vec<Value>) -> Result<(), DbErr> {
        self.execute_raw(super::statement(self.get_database_backend(), sql, values)).await.map(|_| ())
    }
}
