//! What the database benchmarks share: their kept databases (built once, reused by later runs),
//! a count, and numbers grouped by thousands for the tables.
use sea_orm::{ConnectionTrait, Statement};
use vetted::server::AppState;

/// A SQLite file kept in `~/.cache/vetted-bench/<stem>.sqlite`.
pub fn sqlite_url(stem: &str) -> String {
    let dir = std::env::var("HOME").map(std::path::PathBuf::from).unwrap_or_else(|_| std::env::temp_dir()).join(".cache/vetted-bench");
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}?mode=rwc", dir.join(format!("{stem}.sqlite")).display())
}

/// The PostgreSQL database `name` on `BENCH_POSTGRES_URL`'s server, created when missing.
pub async fn postgres_url(name: &str) -> String {
    let admin = std::env::var("BENCH_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let db = sea_orm::Database::connect(&admin).await.expect("PostgreSQL on BENCH_POSTGRES_URL");
    let exists = db
        .query_one_raw(Statement::from_string(sea_orm::DbBackend::Postgres, format!("SELECT 1 AS one FROM pg_database WHERE datname = '{name}'")))
        .await
        .unwrap()
        .is_some();
    if !exists {
        db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    }
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base).to_string();
    format!("{base}/{name}")
}

/// The first column of the first row of `sql`, a count.
pub async fn count(state: &AppState, sql: &str) -> i64 {
    let db = state.db.primary();
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// 1234567 → "1,234,567".
pub fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::from(if n < 0 { "-" } else { "" });
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
