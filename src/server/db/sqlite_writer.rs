//! SQLite's ingest writer connection: SQLite called directly, on the writer's own thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement and its
//! rows over through channels: two thread switches per statement, five statements a batch, and
//! thread wake-ups are what these VMs are slowest at. The writer has a thread to itself anyway
//! ([`crate::server::fraud::writer`]), so it opens its own connection with rusqlite (the same
//! SQLite library sqlx links) and runs a batch there start to finish. Same file, same settings
//! as the pool's connections ([`super::connect_one`]); values are stored as sqlx stores them, so
//! either side reads what the other wrote.
use std::sync::{Arc, Mutex};

use chrono::SecondsFormat;
use rusqlite::types::Value as SqliteValue;
use sea_orm::{DbBackend, DbErr, RuntimeErr, Value};

use super::batch::{BatchConnection, Row};

pub struct SqliteWriterConnection {
    /// Only the writer's thread uses it; the mutex is what makes the connection `Sync`.
    connection: Mutex<rusqlite::Connection>,
}

impl SqliteWriterConnection {
    /// Opens the database file at `path` (created and migrated already) with the settings of
    /// the pool's connections and the writer's large page cache.
    pub fn open(path: &str) -> Result<SqliteWriterConnection, DbErr> {
        let connection = rusqlite::Connection::open(path).map_err(|e| sqlite_error(e, DbErr::Conn))?;
        // As on the pool's connections (see `connect_one` for why each is set); and temporary
        // b-trees (RETURNING's rows, say) in memory rather than behind a temporary file's pager.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                 PRAGMA cache_size = -65536; PRAGMA mmap_size = 268435456; PRAGMA temp_store = MEMORY;",
            )
            .map_err(|e| sqlite_error(e, DbErr::Conn))?;
        connection.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| sqlite_error(e, DbErr::Conn))?;
        // A batch's statements differ only by how many rows they carry: keep many shapes prepared.
        connection.set_prepared_statement_cache_capacity(128);
        Ok(SqliteWriterConnection { connection: Mutex::new(connection) })
    }

    /// Takes the write lock at once, so a batch never fails half-way for want of it.
    pub fn begin(&self) -> Result<SqliteTransaction<'_>, DbErr> {
        self.batch("BEGIN IMMEDIATE")?;
        Ok(SqliteTransaction { connection: self, open: true })
    }

    fn batch(&self, sql: &str) -> Result<(), DbErr> {
        self.lock().execute_batch(sql).map_err(|e| sqlite_error(e, DbErr::Exec))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs each statement of `sql` with its share of `values`, in order; the rows of those that
    /// return any.
    fn each_statement(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>, DbErr> {
        let connection = self.lock();
        let mut values = values.into_iter().map(to_sqlite).collect::<Result<Vec<_>, _>>()?.into_iter();
        let mut rows = Vec::new();
        for sql in statements(sql) {
            let mut statement = connection.prepare_cached(sql).map_err(|e| sqlite_error(e, DbErr::Query))?;
            for at in 1..=statement.parameter_count() {
                let value = values.next().ok_or_else(|| DbErr::Custom("fewer values than placeholders".into()))?;
                statement.raw_bind_parameter(at, value).map_err(|e| sqlite_error(e, DbErr::Query))?;
            }
            let columns: Arc<[String]> = statement.column_names().into_iter().map(str::to_owned).collect();
            let mut returned = statement.raw_query();
            while let Some(row) = returned.next().map_err(|e| sqlite_error(e, DbErr::Query))? {
                let values =
                    (0..columns.len()).map(|i| row.get::<_, SqliteValue>(i)).collect::<Result<Vec<_>, _>>().map_err(|e| sqlite_error(e, DbErr::Query))?;
                if !columns.is_empty() {
                    rows.push(Row::Sqlite { columns: columns.clone(), values });
                }
            }
        }
        if values.next().is_some() {
            return Err(DbErr::Custom("more values than placeholders".into()));
        }
        Ok(rows)
    }
}

/// A write transaction on the writer's connection; rolled back if dropped before its commit.
pub struct SqliteTransaction<'a> {
    connection: &'a SqliteWriterConnection,
    open: bool,
}

impl SqliteTransaction<'_> {
    pub fn commit(mut self) -> Result<(), DbErr> {
        self.open = false;
        let committed = self.connection.batch("COMMIT");
        if committed.is_err() {
            // SQLite may keep the transaction open after a failed commit (a full disk, say).
            let _ = self.connection.batch("ROLLBACK");
        }
        committed
    }

    pub fn rollback(mut self) -> Result<(), DbErr> {
        self.open = false;
        self.connection.batch("ROLLBACK")
    }
}

impl Drop for SqliteTransaction<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.connection.batch("ROLLBACK");
        }
    }
}

impl BatchConnection for SqliteTransaction<'_> {
    fn backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    // Synchronous inside: these futures are ready when first polled.
    async fn rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>, DbErr> {
        self.connection.each_statement(sql, values)
    }

    async fn run(&self, sql: &str, values: Vec<Value>) -> Result<(), DbErr> {
        self.connection.each_statement(sql, values).map(|_| ())
    }
}

/// The statements of `sql`, split at each `;` that is code (not in a string, name or comment).
fn statements(sql: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut pieces = Vec::new();
    let mut at = 0;
    for (c, is_code) in super::sql_chars(sql) {
        if c == ';' && is_code {
            pieces.push(&sql[start..at]);
            start = at + 1;
        }
        at += c.len_utf8();
    }
    pieces.push(&sql[start..]);
    pieces.into_iter().map(str::trim).filter(|piece| !piece.is_empty())
}

/// A value as sqlx binds it for SQLite (`sea-query-sqlx`), so that both connections store the
/// same: booleans as 0 / 1, instants as RFC 3339 text with `+00:00`.
fn to_sqlite(value: Value) -> Result<SqliteValue, DbErr> {
    let integer = |n: Option<i64>| n.map_or(SqliteValue::Null, SqliteValue::Integer);
    Ok(match value {
        Value::Bool(b) => integer(b.map(i64::from)),
        Value::TinyInt(n) => integer(n.map(i64::from)),
        Value::SmallInt(n) => integer(n.map(i64::from)),
        Value::Int(n) => integer(n.map(i64::from)),
        Value::BigInt(n) => integer(n),
        Value::TinyUnsigned(n) => integer(n.map(i64::from)),
        Value::SmallUnsigned(n) => integer(n.map(i64::from)),
        Value::Unsigned(n) => integer(n.map(i64::from)),
        Value::BigUnsigned(n) => match n.map(i64::try_from) {
            Some(Err(_)) => return Err(DbErr::Custom("an unsigned value beyond SQLite's integers".into())),
            n => integer(n.map(Result::unwrap)),
        },
        Value::Float(x) => x.map_or(SqliteValue::Null, |x| SqliteValue::Real(f64::from(x))),
        Value::Double(x) => x.map_or(SqliteValue::Null, SqliteValue::Real),
        Value::String(s) => s.map_or(SqliteValue::Null, SqliteValue::Text),
        Value::Char(c) => c.map_or(SqliteValue::Null, |c| SqliteValue::Text(c.to_string())),
        Value::Bytes(b) => b.map_or(SqliteValue::Null, SqliteValue::Blob),
        Value::ChronoDateTimeUtc(t) => t.map_or(SqliteValue::Null, |t| SqliteValue::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))),
        // Nothing the writer stores; say so rather than store it differently from sqlx.
        _ => return Err(DbErr::Custom("a value type the SQLite writer does not store".into())),
    })
}

/// SQLite's message names the constraint or the syntax at fault, never a row's values.
fn sqlite_error(err: rusqlite::Error, kind: fn(RuntimeErr) -> DbErr) -> DbErr {
    kind(RuntimeErr::Internal(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_outside_quotes() {
        let sql = "INSERT INTO t VALUES ('a;b'); SELECT 'x' AS part FROM t;  ";
        assert_eq!(statements(sql).collect::<Vec<_>>(), vec!["INSERT INTO t VALUES ('a;b')", "SELECT 'x' AS part FROM t"]);
    }

    #[test]
    fn binds_instants_as_sqlx_does() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:30:00.123456Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(to_sqlite(at.into()).unwrap(), SqliteValue::Text("2026-12-01T09:30:00.123456+00:00".into()));
        assert_eq!(to_sqlite(Value::String(None)).unwrap(), SqliteValue::Null);
        assert_eq!(to_sqlite(true.into()).unwrap(), SqliteValue::Integer(1));
    }

    #[test]
    fn runs_several_statements_with_their_values_and_returns_their_rows() {
        let dir = std::env::temp_dir().join(format!("vetted-sqlite-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let writer = SqliteWriterConnection::open(path.to_str().unwrap()).unwrap();
        writer.batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").unwrap();
        let txn = writer.begin().unwrap();
        let rows = writer
            .each_statement(
                "INSERT INTO t (name) VALUES (?), (?) RETURNING id, name; SELECT COUNT(*) AS n FROM t WHERE name <> ?",
                vec!["a".into(), "b".into(), "a".into()],
            )
            .unwrap();
        txn.commit().unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].i64("id").unwrap(), rows[0].string("name").unwrap()), (1, "a".to_string()));
        assert_eq!(rows[2].i64("n").unwrap(), 1);
        assert!(rows[2].string("n").is_err(), "an integer is not read as text");
        assert!(writer.each_statement("SELECT ? AS x", vec![]).is_err(), "a missing value is an error");
        assert!(writer.each_statement("SELECT 1 AS x", vec![1.into()]).is_err(), "a value too many is an error");
        // A batch rolled back, or dropped before its commit, leaves nothing behind.
        let txn = writer.begin().unwrap();
        writer.each_statement("INSERT INTO t (name) VALUES (?)", vec!["c".into()]).unwrap();
        txn.rollback().unwrap();
        let txn = writer.begin().unwrap();
        writer.each_statement("INSERT INTO t (name) VALUES (?)", vec!["d".into()]).unwrap();
        drop(txn);
        assert_eq!(writer.each_statement("SELECT COUNT(*) AS n FROM t", vec![]).unwrap()[0].i64("n").unwrap(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
