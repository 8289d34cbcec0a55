//! Each rule's daily matches and labels (`rule_hit_days`), so the rules page shows 30-day hits,
//! a sparkline and precision per rule by reading at most 30 × rules small rows — never the
//! decisions themselves.
//!
//! Hits: a background roll-up reads stored decisions in id order from where it stopped (its row
//! in `job_cursors`: the id in `pass_next_page`, that decision's time in `position`) and adds
//! each matched rule to its day, in the same transaction as it moves its place, so a decision
//! is counted once whichever instance runs it. It reads only decisions older than `SETTLE`: ids
//! are handed out before commit, and a slow transaction's lower id must not be passed over.
//! Labels: added as a reviewer resolves a case, in the resolution's transaction, to the day and
//! the rules of the decision that opened it.
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, TransactionTrait};
use serde::Deserialize;

use crate::app::dto::{RuleStat, RuleStats};
use crate::server::db;

/// Decisions read per transaction of the roll-up.
pub const CHUNK: i64 = 5_000;
/// How old a decision must be before it is rolled up (see the module's note).
pub const SETTLE: Duration = Duration::seconds(60);
/// The days the rules page shows.
pub const DAYS: i64 = 30;
const CURSOR: &str = "rule_hits";

#[derive(Deserialize)]
struct StoredResults {
    #[serde(default)]
    rules: Vec<StoredRule>,
}

#[derive(Deserialize)]
struct StoredRule {
    rule: String,
    outcome: serde_json::Value,
}

/// The rules a stored decision record says matched.
fn matched(results: &str) -> Vec<String> {
    serde_json::from_str::<StoredResults>(results)
        .map(|r| r.rules.into_iter().filter(|r| r.outcome.as_str() == Some("matched")).map(|r| r.rule).collect())
        .unwrap_or_default()
}

fn day_of(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

#[derive(FromQueryResult)]
struct DecisionRow {
    id: i64,
    results: String,
    created_at: DateTime<Utc>,
}

/// Adds to a rule's day: hits, fraud labels, legitimate labels.
async fn add(txn: &impl ConnectionTrait, day: &str, rule: &str, hits: i64, fraud: i64, legit: i64) -> Result<(), sea_orm::DbErr> {
    let sql = "INSERT INTO rule_hit_days (day, rule, hits, fraud, legit) VALUES (?, ?, ?, ?, ?) \
               ON CONFLICT (day, rule) DO UPDATE SET hits = rule_hit_days.hits + excluded.hits, \
               fraud = rule_hit_days.fraud + excluded.fraud, legit = rule_hit_days.legit + excluded.legit";
    let rule: String = rule.chars().take(200).collect();
    let values = vec![day.into(), rule.into(), hits.into(), fraud.into(), legit.into()];
    txn.execute_raw(db::statement(txn.get_database_backend(), sql, values)).await?;
    Ok(())
}

/// Rolls up one chunk of decisions made before `until`; returns how many it counted (0: caught up).
pub async fn roll_up_chunk(db: &DatabaseConnection, until: DateTime<Utc>) -> Result<u64, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions { sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate), ..Default::default() })
        .await?;
    // The place, locked: another instance's roll-up waits here, then reads the moved place.
    let insert = "INSERT INTO job_cursors (name, position, pass_next_page) VALUES (?, ?, '0') ON CONFLICT (name) DO NOTHING";
    txn.execute_raw(db::statement(backend, insert, vec![CURSOR.into(), DateTime::<Utc>::UNIX_EPOCH.into()])).await?;
    let lock = if backend == DbBackend::Postgres { " FOR UPDATE" } else { "" };
    let row = txn.query_one_raw(db::statement(backend, &format!("SELECT pass_next_page FROM job_cursors WHERE name = ?{lock}"), vec![CURSOR.into()])).await?;
    let after: i64 = row.and_then(|r| r.try_get::<Option<String>>("", "pass_next_page").ok().flatten()).and_then(|s| s.parse().ok()).unwrap_or(0);
    let sql = "SELECT id, results, created_at FROM decisions WHERE id > ? AND created_at < ? ORDER BY id LIMIT ?";
    let rows = DecisionRow::find_by_statement(db::statement(backend, sql, vec![after.into(), until.into(), CHUNK.into()])).all(&txn).await?;
    let Some(last) = rows.last() else { return Ok(0) };
    let (last_id, last_at) = (last.id, last.created_at);
    let mut counts: std::collections::HashMap<(String, String), i64> = std::collections::HashMap::new();
    for row in &rows {
        let day = day_of(row.created_at);
        for rule in matched(&row.results) {
            *counts.entry((day.clone(), rule)).or_default() += 1;
        }
    }
    for ((day, rule), hits) in &counts {
        add(&txn, day, rule, *hits, 0, 0).await?;
    }
    let update = "UPDATE job_cursors SET pass_next_page = ?, position = ? WHERE name = ?";
    txn.execute_raw(db::statement(backend, update, vec![last_id.to_string().into(), last_at.into(), CURSOR.into()])).await?;
    txn.commit().await?;
    Ok(rows.len() as u64)
}

/// Rolls up every decision made before `until`.
pub async fn roll_up(db: &DatabaseConnection, until: DateTime<Utc>) -> Result<u64, sea_orm::DbErr> {
    let mut total = 0;
    loop {
        match roll_up_chunk(db, until).await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

/// A reviewer's label for the payment a case was opened on: added to the rules that matched it,
/// on its decision's day (inside the resolution's transaction). Only fraud and not-fraud count;
/// a plain refund says nothing of fraud.
pub async fn record_label(txn: &impl ConnectionTrait, decided_at: DateTime<Utc>, matched_rules: &str, disposition: &str) -> Result<(), sea_orm::DbErr> {
    let (fraud, legit) = match disposition {
        "refunded_as_fraud" | "confirmed_fraud" => (1, 0),
        "approved" => (0, 1),
        _ => return Ok(()),
    };
    let day = day_of(decided_at);
    for rule in matched_rules.lines().map(str::trim).filter(|r| !r.is_empty()) {
        add(txn, &day, rule, 0, fraud, legit).await?;
    }
    Ok(())
}

#[derive(FromQueryResult)]
struct DayRow {
    day: String,
    rule: String,
    hits: i64,
    fraud: i64,
    legit: i64,
}

/// The last `DAYS` days (today included) for every rule that has any, and how far hits are
/// rolled up.
pub async fn last_30_days(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<RuleStats, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let days: Vec<String> = (0..DAYS).rev().map(|back| day_of(now - Duration::days(back))).collect();
    let sql = "SELECT day, rule, hits, fraud, legit FROM rule_hit_days WHERE day >= ? ORDER BY rule, day";
    let rows = DayRow::find_by_statement(db::statement(backend, sql, vec![days[0].clone().into()])).all(db).await?;
    let mut rules: Vec<RuleStat> = Vec::new();
    for row in rows {
        let Some(index) = days.iter().position(|d| *d == row.day) else { continue };
        if rules.last().is_none_or(|r| r.rule != row.rule) {
            rules.push(RuleStat { rule: row.rule.clone(), hits: 0, daily: vec![0; days.len()], fraud: 0, legit: 0 });
        }
        let stat = rules.last_mut().expect("pushed above");
        stat.hits += row.hits.max(0) as u64;
        stat.daily[index] += row.hits.max(0) as u64;
        stat.fraud += row.fraud.max(0) as u64;
        stat.legit += row.legit.max(0) as u64;
    }
    let through = rolled_up_through(db).await?;
    Ok(RuleStats { days, rules, through })
}

async fn rolled_up_through(db: &impl ConnectionTrait) -> Result<Option<String>, sea_orm::DbErr> {
    let row = db.query_one_raw(db::statement(db.get_database_backend(), "SELECT position FROM job_cursors WHERE name = ?", vec![CURSOR.into()])).await?;
    Ok(row.and_then(|r| r.try_get::<DateTime<Utc>>("", "position").ok()).filter(|at| *at > DateTime::<Utc>::UNIX_EPOCH).map(|at| at.to_rfc3339()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_matched_rules_count() {
        let record = r#"{"rules":[{"rule":"A","outcome":"matched"},{"rule":"B","outcome":"not_matched"},{"rule":"C","outcome":{"error":"x"}}],"facts":{}}"#;
        assert_eq!(matched(record), vec!["A".to_string()]);
        assert!(matched("not json").is_empty());
    }
}
