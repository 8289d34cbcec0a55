//! The review desk's past for a large seed (`vetted seed`): the share of the seeded payments the
//! rules would have held, as decisions and cases — resolved ones with the disposition their
//! payment's fate implies and a `resolved` event, and the payments still in review as open cases.
//! Written in the database, a range of transactions at a time, so ten million payments give over
//! a million cases in minutes rather than the hours the engine would take one by one.
//!
//! These decision records are marked `"seeded": true` and carry the rule that held the payment,
//! not the facts the engine would have seen: the live engine's cases (`seed::review`) are the
//! ones to study a decision on.
use indicatif::ProgressBar;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait};

use crate::app::dto::Disposition;
use crate::server::db;
use crate::server::fraud::currency;

/// Transactions per database transaction.
const RANGE: i64 = 250_000;
/// One in this many settled payments was held for review and decided by a person.
pub const HELD_ONE_IN: i64 = 9;
/// The rules a held payment is shown as matched by, chosen by id.
const RULES: [&str; 6] =
    ["Disposable email", "Card and IP countries differ", "High-risk card country", "Merchant under fraud review", "New merchant, big ticket", "Card spend"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryReport {
    pub cases: u64,
    pub open: u64,
}

/// Cases for the held share of transactions `1..=last_id`, resolved by `reviewer` (a user id and
/// the name the timeline shows) unless the payment is still in review.
pub async fn record(db: &DatabaseConnection, last_id: i64, reviewer: (i32, &str), progress: &ProgressBar) -> Result<HistoryReport, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let statements = statements(backend, reviewer);
    progress.set_length(last_id.max(0) as u64);
    progress.set_position(0);
    let mut from = 1;
    while from <= last_id {
        let to = (from + RANGE - 1).min(last_id);
        let txn = db.begin().await?;
        for sql in &statements {
            txn.execute_raw(db::statement(backend, sql, vec![from.into(), to.into()])).await?;
        }
        txn.commit().await?;
        progress.inc((to - from + 1) as u64);
        from = to + 1;
    }
    let count = |sql: &'static str| async move {
        let row = db.query_one_raw(db::statement(backend, sql, vec![])).await?;
        Ok::<u64, sea_orm::DbErr>(row.map(|r| r.try_get_by_index::<i64>(0)).transpose()?.unwrap_or(0) as u64)
    };
    Ok(HistoryReport { cases: count("SELECT COUNT(*) FROM cases").await?, open: count("SELECT COUNT(*) FROM cases WHERE status = 'open'").await? })
}

/// The three statements a range runs, each with the range's first and last transaction id:
/// decisions, cases, and the resolved cases' events.
fn statements(backend: DbBackend, (reviewer_id, reviewer_name): (i32, &str)) -> [String; 3] {
    let held = format!("(t.status = 'in_review' OR (t.status <> 'blocked' AND t.id % {HELD_ONE_IN} = 0))");
    let rule = format!("(CASE t.id % {} {} END)", RULES.len(), RULES.iter().enumerate().map(|(i, r)| format!("WHEN {i} THEN '{r}' ")).collect::<String>());
    let score = "(40 + (t.id * 7919) % 61)";
    let record = format!(
        "'{{\"seeded\":true,\"rules\":[{{\"rule\":\"' || {rule} || '\",\"mode\":\"live\",\"outcome\":\"matched\",\"explanation\":\"held when the history was seeded\"}}],\"facts\":{{}}}}'"
    );
    let decisions = format!(
        "INSERT INTO decisions (transaction_id, ruleset_version, outcome, score, results, latency_micros, created_at) \
         SELECT t.id, 1, 'review', {score}, {record}, 0, t.created_at FROM transactions t WHERE t.id BETWEEN ? AND ? AND {held}"
    );
    let (minutes, resolved_at) = match backend {
        DbBackend::Postgres => ("FLOOR(EXTRACT(EPOCH FROM t.created_at) / 60)", "t.created_at + ((t.id % 600) + 5) * INTERVAL '1 minute'".to_string()),
        _ => (
            "(CAST(strftime('%s', t.created_at) AS INTEGER) / 60)",
            "strftime('%Y-%m-%dT%H:%M:%S+00:00', t.created_at, '+' || ((t.id % 600) + 5) || ' minutes')".to_string(),
        ),
    };
    let usd = currency::usd_cents_sql("t.amount_minor", "t.currency");
    let clamped = "(CASE WHEN d.score > 100 THEN 100 WHEN d.score < 50 THEN 50 ELSE d.score END)";
    // The disposition the payment's fate implies: it went through (a false positive), was refunded
    // (a third of those as fraud), or failed (confirmed fraud).
    let disposition = "(CASE t.status WHEN 'in_review' THEN NULL WHEN 'refunded' THEN (CASE WHEN t.id % 3 = 0 THEN 'refunded_as_fraud' ELSE 'refunded' END) \
                       WHEN 'failed' THEN 'confirmed_fraud' ELSE 'approved' END)";
    let open = "t.status = 'in_review'";
    let cases = format!(
        "INSERT INTO cases (transaction_id, merchant_id, decision_id, status, created_at, updated_at, priority, version, score, amount_usd_cents, \
         matched_rules, escalated, claimed_by, lease_until, disposition, resolved_by, resolved_at) \
         SELECT t.id, t.merchant_id, d.id, CASE WHEN {open} THEN 'open' ELSE 'closed' END, t.created_at, t.created_at, \
         CAST(ROUND({clamped} * {usd} / 100.0) AS BIGINT) - 10 * CAST({minutes} AS BIGINT), 1, d.score, {usd}, {rule}, false, NULL, NULL, \
         {disposition}, CASE WHEN {open} THEN NULL ELSE {reviewer_id} END, CASE WHEN {open} THEN NULL ELSE {resolved_at} END \
         FROM decisions d JOIN transactions t ON t.id = d.transaction_id WHERE t.id BETWEEN ? AND ?"
    );
    let name = reviewer_name.replace('\'', "''");
    let labels =
        format!("(CASE c.disposition {} END)", Disposition::ALL.iter().map(|d| format!("WHEN '{}' THEN '{}' ", d.as_str(), d.label())).collect::<String>());
    let events = format!(
        "INSERT INTO case_events (case_id, kind, actor_user_id, actor_label, detail, created_at) \
         SELECT c.id, 'resolved', c.resolved_by, '{name}', {labels}, c.resolved_at FROM cases c \
         WHERE c.transaction_id BETWEEN ? AND ? AND c.status = 'closed'"
    );
    [decisions, cases, events]
}
