//! Connections (primary, optional read replica) and entities.
pub mod batch;
pub mod entities;
pub mod pg_writer;
pub mod sqlite_writer;

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use migration::{Migrator, MigratorTrait};

/// The primary connection, the replica that request-path reads use when one is configured, and
/// the ingest writer's own connections.
#[derive(Clone, Debug)]
pub struct Db {
    primary: DatabaseConnection,
    replica: Option<DatabaseConnection>,
    writer: DatabaseConnection,
    /// The database file, when the database is a SQLite file: the ingest writer opens its own
    /// connection to it ([`sqlite_writer`]).
    sqlite_file: Option<String>,
}

/// How many connections the ingest writer keeps, one per writer task: SQLite has one writer at
/// a time anyway; on PostgreSQL two overlap one batch's round trips with another's work.
pub fn writer_connections(backend: DbBackend) -> u32 {
    match backend {
        DbBackend::Sqlite => 1,
        _ => 2,
    }
}

impl Db {
    pub async fn connect(url: &str, read_url: Option<&str>) -> Result<Db, DbErr> {
        let primary = connect_one(url, Pool::Shared).await?;
        let replica = match read_url {
            Some(url) => Some(connect_one(url, Pool::Shared).await?),
            None => None,
        };
        // SQLite's writer has a connection of its own outside sqlx (`sqlite_writer`); an
        // in-memory SQLite database is one per connection, so there the writer shares the primary.
        let sqlite_file = sqlite_file_path(url).map(str::to_owned);
        let writer = if url.starts_with("sqlite:") { primary.clone() } else { connect_one(url, Pool::Writer).await? };
        Ok(Db { primary, replica, writer, sqlite_file })
    }

    /// Writes, and reads that must see their own writes.
    pub fn primary(&self) -> &DatabaseConnection {
        &self.primary
    }

    /// Dashboard and review reads: the replica when there is one.
    pub fn read(&self) -> &DatabaseConnection {
        self.replica.as_ref().unwrap_or(&self.primary)
    }

    /// Whether reads go to a replica (which may lag behind the primary).
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// The ingest writer's connections to the primary on PostgreSQL, used by nothing else: a
    /// batch never waits for a connection behind request-path reads, and the writer's
    /// statements stay prepared. On SQLite, the primary (see [`Db::sqlite_file`]).
    pub fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// The SQLite database file, if the database is one.
    pub fn sqlite_file(&self) -> Option<&str> {
        self.sqlite_file.as_deref()
    }

    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.primary, None).await
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        self.primary.ping().await
    }
}

/// Which pool a connection belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Pool {
    /// Everything but the ingest writer.
    Shared,
    /// The ingest writer's: a fixed set of connections, kept open.
    Writer,
}

async fn connect_one(url: &str, pool: Pool) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_file_path(url) {
        if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.to_string());
    options.connect_timeout(Duration::from_secs(5)).sqlx_logging(false);
    // Pinging every connection taken from the pool is a round trip per checkout (a batch, a
    // page's query); only a connection that sat idle long enough to have been dropped is checked.
    options.test_before_acquire_if_idle_for(Duration::from_secs(30));
    match pool {
        Pool::Shared => options.max_connections(if sqlite { 8 } else { 20 }),
        // Only PostgreSQL's: SQLite's writer has a connection of its own (`sqlite_writer`).
        Pool::Writer => {
            let n = writer_connections(DbBackend::Postgres);
            options.max_connections(n).min_connections(n).idle_timeout(None).max_lifetime(None)
        }
    };
    // TLS to a PostgreSQL server on this machine protects nothing (loopback traffic never
    // leaves the kernel) and, negotiated by sqlx's default `prefer` with a server that has TLS
    // on, cost 7 % of PostgreSQL's CPU at 1,000 ingests/s (docs/benchmarks.md). A URL or
    // PGSSLMODE that names a mode is followed as it is.
    if !sqlite && !names_ssl_mode(url) && std::env::var_os("PGSSLMODE").is_none() {
        options.map_sqlx_postgres_opts(|opts| {
            let local = opts.get_socket().is_some() || is_loopback(opts.get_host());
            if local {
                opts.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable)
            } else {
                opts
            }
        });
    }
    // On every pooled SQLite connection (a PRAGMA run once reaches only one of them): WAL lets
    // readers proceed while a writer commits; synchronous=FULL syncs every commit, so an
    // acknowledged transaction survives a power cut (NORMAL could lose the last ones); the busy
    // timeout turns lock contention into a short wait instead of an error.
    //
    // Pages are read through a memory map rather than a read call each. (SQLite's ingest writer
    // sets the same on its own connection, with a larger page cache: `sqlite_writer`.)
    let cache_kib = 8_192;
    options.map_sqlx_sqlite_opts(move |opts| {
        use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
        opts.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            .pragma("cache_size", format!("-{cache_kib}"))
            .pragma("mmap_size", "268435456")
            // A batch's velocity read returns hundreds of rows: let the connection's thread hand
            // them over at once instead of 50 at a time, a thread switch each.
            .row_buffer_size(4096)
    });
    Database::connect(options).await
}

/// Copies SQLite's write-ahead log back into the database file as far as no reader still needs
/// it (a passive checkpoint: nobody waits for it). The ingest writer's checkpointer calls it
/// after each batch, beside the writer; see [`crate::server::fraud::writer`].
pub async fn sqlite_checkpoint(db: &DatabaseConnection) {
    if let Err(e) = db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await {
        tracing::warn!(kind = error_kind(&e), "SQLite checkpoint failed");
    }
}

/// `sqlite://data/vetted.db?mode=rwc` → `data/vetted.db`; None for in-memory or other databases.
fn sqlite_file_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Whether a PostgreSQL URL says which TLS mode to use (`sslmode` or sqlx's `ssl-mode`).
fn names_ssl_mode(url: &str) -> bool {
    url.split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|pair| matches!(pair.split_once('=').map_or(pair, |(key, _)| key), "sslmode" | "ssl-mode")))
}

/// `localhost`, or a loopback address (`127.0.0.1`, `::1`, written with or without brackets).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A short name for a database error, safe to log: the error's text can carry row values.
pub fn error_kind(err: &DbErr) -> &'static str {
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => "connection",
        DbErr::Exec(_) => "exec",
        DbErr::Query(_) => "query",
        DbErr::RecordNotFound(_) => "not_found",
        DbErr::Type(_) | DbErr::Json(_) => "decode",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::{is_loopback, names_ssl_mode, sqlite_file_path};

    #[test]
    fn only_code_question_marks_become_postgres_placeholders() {
        let sql = "SELECT '?', 'it''s ?', \"odd?name\" FROM t -- why?\nWHERE a = ? /* or ? */ AND b = ?";
        let statement = super::statement(sea_orm::DbBackend::Postgres, sql, vec![1.into(), 2.into()]);
        assert_eq!(statement.sql, "SELECT '?', 'it''s ?', \"odd?name\" FROM t -- why?\nWHERE a = $1 /* or ? */ AND b = $2");
        let sqlite = super::statement(sea_orm::DbBackend::Sqlite, sql, vec![]);
        assert_eq!(sqlite.sql, sql, "SQLite takes ? as it is");
        let code: String = super::sql_chars("a'b;c'd/*e*/f--g\nh").filter(|(_, code)| *code).map(|(c, _)| c).collect();
        assert_eq!(code, "adf\nh");
    }

    #[test]
    fn finds_the_sqlite_file_to_create() {
        assert_eq!(sqlite_file_path("sqlite://data/vetted.db?mode=rwc"), Some("data/vetted.db"));
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
        assert_eq!(sqlite_file_path("postgres://x/y"), None);
    }

    #[test]
    fn tls_is_left_to_the_url_when_it_names_a_mode() {
        assert!(names_ssl_mode("postgres://u@db.internal/vetted?sslmode=require"));
        assert!(names_ssl_mode("postgres://u@127.0.0.1/vetted?application_name=x&ssl-mode=verify-full"));
        assert!(!names_ssl_mode("postgres://u@127.0.0.1/vetted"));
        assert!(!names_ssl_mode("postgres://u@127.0.0.1/vetted?application_name=sslmode"));
    }

    #[test]
    fn loopback_hosts_are_told_apart_from_remote_ones() {
        for local in ["localhost", "LOCALHOST", "127.0.0.1", "127.8.9.10", "::1", "[::1]"] {
            assert!(is_loopback(local), "{local}");
        }
        for remote in ["db.internal", "10.0.0.5", "::ffff:10.0.0.5", "localhost.example.com", ""] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }
}

/// `INSERT INTO table (columns) VALUES (…), (…) tail`, with `?` placeholders for `rows` rows:
/// many rows in one statement, with `tail` for `ON CONFLICT …` and `RETURNING …`.
pub fn insert_sql(table: &str, columns: &[&str], rows: usize, tail: &str) -> String {
    let row = format!("({})", vec!["?"; columns.len()].join(", "));
    format!("INSERT INTO {table} ({}) VALUES {} {tail}", columns.join(", "), vec![row.as_str(); rows].join(", "))
}

/// A raw statement written with `?` placeholders, as SQLite takes them; rewritten to `$1, $2, …`
/// for PostgreSQL. For the few queries the entity API cannot say (upserts with RETURNING,
/// aggregates over raw columns). A `?` inside a string, a quoted name or a comment is text,
/// not a placeholder, and is left alone.
pub fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => {
            let mut out = String::with_capacity(sql.len() + 16);
            let mut n = 0;
            for (c, is_code) in sql_chars(sql) {
                if c == '?' && is_code {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => sql.to_string(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Each character of `sql` with whether it is code: false inside a `'…'` string, a `"…"` quoted
/// name, a `-- …` line comment or a `/* … */` block comment. A doubled quote (`'it''s'`) reads
/// as a string that ends and starts again, which classifies every character the same way.
pub fn sql_chars(sql: &str) -> impl Iterator<Item = (char, bool)> + '_ {
    #[derive(Clone, Copy, PartialEq)]
    enum In {
        Code,
        String,
        Name,
        LineComment,
        /// Just read the `/` of `/*`.
        BlockOpening,
        BlockComment,
        /// Just read the `*` of `*/`.
        BlockClosing,
    }
    let mut state = In::Code;
    let mut chars = sql.chars().peekable();
    std::iter::from_fn(move || {
        let c = chars.next()?;
        let next = chars.peek().copied();
        let (is_code, after) = match (state, c) {
            (In::Code, '\'') => (false, In::String),
            (In::Code, '"') => (false, In::Name),
            (In::Code, '-') if next == Some('-') => (false, In::LineComment),
            (In::Code, '/') if next == Some('*') => (false, In::BlockOpening),
            (In::Code, _) => (true, In::Code),
            (In::String, '\'') | (In::Name, '"') => (false, In::Code),
            (In::LineComment, '\n') => (true, In::Code),
            (In::BlockOpening, _) => (false, In::BlockComment),
            (In::BlockComment, '*') if next == Some('/') => (false, In::BlockClosing),
            (In::BlockClosing, _) => (false, In::Code),
            (other, _) => (false, other),
        };
        state = after;
        Some((c, is_code))
    })
}
