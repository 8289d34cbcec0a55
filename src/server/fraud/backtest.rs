//! Backtest: the saved draft replayed on the stored decisions of a window, beside what was
//! decided then. The replay is exact: each decision is decided again on the facts it stored
//! (velocity as it was) with every list as it was at that moment (`ListHistory`), and a rule whose
//! expression is the same as in the version that made the decision is not evaluated at all — its
//! stored result is the answer — so a draft that changes 3 rules of 50 evaluates 3. The result
//! counts outcomes before × after (with volume and example transactions), each rule's matches,
//! reviews per day, and precision and recall against labels: reviewers' dispositions (refunded
//! as fraud / confirmed fraud = fraud, approved = not fraud) and PayPal disputes of the payment
//! for an unauthorised use (fraud, whatever a reviewer said).
//!
//! A run is a row in `backtests` and a task on the instance that started it: the decisions are
//! read in time order, 2,000 at a time (never the whole history in memory), each chunk evaluated
//! off the async workers while the next is read; a cancel is noticed after each chunk, and the
//! row's progress and heartbeat are written once a second. A run whose heartbeat stops (its
//! instance died) reads as interrupted.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Set};

use super::rules::{Facts, ListLookup, RuleOutcome, Ruleset};
use super::versions;
use crate::app::dto::{BacktestReport, BacktestResult, DayReviews, MatrixCell, MatrixExample, Quality, RuleBacktest, RuleProblem, RulesetStatus};
use crate::server::db::entities::{backtest, ruleset};

/// The longest window, in days.
pub const MAX_WINDOW_DAYS: u32 = 366;
/// Decisions read and evaluated at a time.
const CHUNK: i64 = 2_000;
/// Example transactions kept per cell of the outcome matrix.
const EXAMPLES_PER_CELL: usize = 5;
/// How often a run writes its progress (and heartbeat).
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// A running backtest whose heartbeat is older than this has lost its instance.
const HEARTBEAT_STALE_SECS: i64 = 30;
const OUTCOMES: [&str; 3] = ["allow", "review", "block"];

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("there is no saved draft to backtest: save the draft first")]
    NoDraft,
    #[error("the draft has problems")]
    Invalid(Vec<RuleProblem>),
    #[error("a window is 1 to {MAX_WINDOW_DAYS} days")]
    BadWindow,
    #[error("no decisions were made in the last {0} days: choose a longer window")]
    NothingInWindow(u32),
    #[error("backtest {0} does not exist")]
    Unknown(i64),
    #[error("a backtest started by {0} is running: wait for it or cancel it")]
    AlreadyRunning(String),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

#[derive(FromQueryResult)]
struct CountRow {
    n: i64,
}

/// A run recorded and ready: its row, the draft compiled, and which stored results it can reuse.
pub struct Prepared {
    pub run: backtest::Model,
    pub ruleset: Arc<Ruleset>,
    pub reuse: Arc<Reuse>,
}

/// Per ruleset version that made decisions: for each rule of the draft, the position of the same
/// rule (same name, same expression, enabled) among that version's results, if it has one.
#[derive(Default)]
pub struct Reuse {
    /// Version → (its rule count, each draft rule's position among its rules).
    by_version: HashMap<i32, (usize, Vec<Option<usize>>)>,
}

impl Reuse {
    /// `draft` is the draft's enabled rules as (name, expression), in the compiled order.
    fn plan(draft: &[(String, String)], versions: &[crate::app::dto::RulesetVersion]) -> Reuse {
        let by_version = versions
            .iter()
            .map(|version| {
                // What that version's engine evaluated, in order: its enabled rules.
                let evaluated: Vec<(&str, &str)> = version.draft.rules.iter().filter(|r| r.enabled).map(|r| (r.name.as_str(), r.expression.as_str())).collect();
                let positions = draft.iter().map(|(name, expression)| evaluated.iter().position(|(n, e)| n == name && e == expression)).collect();
                (version.version, (evaluated.len(), positions))
            })
            .collect();
        Reuse { by_version }
    }
}

/// Checks the saved draft and the window and records the run; nothing is recorded when the
/// draft does not check or the window holds no decision.
pub async fn prepare(db: &DatabaseConnection, days: u32, who: &str, now: DateTime<Utc>) -> Result<Prepared, BacktestError> {
    if !(1..=MAX_WINDOW_DAYS).contains(&days) {
        return Err(BacktestError::BadWindow);
    }
    let draft_row = ruleset::Entity::find().filter(ruleset::Column::Status.eq(RulesetStatus::Draft.as_str())).one(db).await?.ok_or(BacktestError::NoDraft)?;
    let all_versions = versions::list(db).await?;
    let version = all_versions.iter().find(|v| v.version == draft_row.version).cloned().ok_or(BacktestError::NoDraft)?;
    let compiled = versions::compile(&version.draft).map_err(BacktestError::Invalid)?;
    let enabled: Vec<(String, String)> = version.draft.rules.iter().filter(|r| r.enabled).map(|r| (r.name.clone(), r.expression.clone())).collect();
    let reuse = Reuse::plan(&enabled, &all_versions);
    // One at a time: a run takes a core for its length.
    let alive = now - Duration::seconds(HEARTBEAT_STALE_SECS);
    let running = backtest::Entity::find()
        .filter(backtest::Column::Status.is_in(["running", "cancelling"]))
        .filter(backtest::Column::HeartbeatAt.gt(alive))
        .one(db)
        .await?;
    if let Some(running) = running {
        return Err(BacktestError::AlreadyRunning(running.started_by));
    }
    let from = now - Duration::days(days.into());
    // Counted on the index over decisions' time (m000013), as the run reads them.
    let count = "SELECT COUNT(*) AS n FROM decisions WHERE created_at >= ? AND created_at < ?";
    let stmt = crate::server::db::statement(db.get_database_backend(), count, vec![from.into(), now.into()]);
    let total = CountRow::find_by_statement(stmt).one(db).await?.map_or(0, |r| r.n);
    if total == 0 {
        return Err(BacktestError::NothingInWindow(days));
    }
    let run = backtest::ActiveModel {
        ruleset_version: Set(version.version),
        revision: Set(version.revision),
        window_from: Set(from),
        window_to: Set(now),
        status: Set("running".into()),
        total: Set(total),
        processed: Set(0),
        started_by: Set(who.to_string()),
        started_at: Set(now),
        heartbeat_at: Set(now),
        finished_at: Set(None),
        result: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Prepared { run, ruleset: Arc::new(compiled), reuse: Arc::new(reuse) })
}

/// Starts a backtest of the saved draft over the last `days` days; the run goes on in the
/// background on this instance.
pub async fn start(db: &DatabaseConnection, days: u32, who: &str, now: DateTime<Utc>) -> Result<BacktestReport, BacktestError> {
    let prepared = prepare(db, days, who, now).await?;
    let report = to_report(prepared.run.clone(), now);
    let db = db.clone();
    tokio::spawn(async move {
        let id = prepared.run.id;
        if let Err(e) = run(&db, prepared).await {
            tracing::error!(backtest = id, kind = crate::server::db::error_kind(&e), "a backtest failed");
            let _ = backtest::Entity::update_many()
                .col_expr(backtest::Column::Status, Expr::value("failed"))
                .col_expr(backtest::Column::FinishedAt, Expr::value(Utc::now()))
                .filter(backtest::Column::Id.eq(id))
                .exec(&db)
                .await;
        }
    });
    Ok(report)
}

/// One stored decision as the backtest reads it.
#[derive(FromQueryResult)]
struct Row {
    id: i64,
    transaction_id: i64,
    merchant_id: i32,
    ruleset_version: i32,
    outcome: String,
    /// Each rule's outcome, one character per rule (`decisions.outcomes`), when stored.
    outcomes: Option<String>,
    /// With `outcomes`: only the record's facts (`"facts":{…}}`); without: the whole record.
    record: String,
    created_at: DateTime<Utc>,
    transaction_status: String,
    amount_minor: i64,
    currency: String,
    case_id: Option<i64>,
    disposition: Option<String>,
    /// PayPal disputes of the payment: any reason, and unauthorised use.
    disputes: i64,
    fraud_disputes: i64,
}

/// Reads the window chunk by chunk, evaluates, tallies, reports progress; stops on cancel.
pub async fn run(db: &DatabaseConnection, prepared: Prepared) -> Result<(), sea_orm::DbErr> {
    let Prepared { run, ruleset, reuse } = prepared;
    // Where the compact outcomes are stored, only the facts are read of the record (its tail).
    let record = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "CASE WHEN d.outcomes IS NULL THEN d.results ELSE substr(d.results, strpos(d.results, '\"facts\":')) END",
        _ => "CASE WHEN d.outcomes IS NULL THEN d.results ELSE substr(d.results, instr(d.results, '\"facts\":')) END",
    };
    let sql = &format!("SELECT d.id, d.transaction_id, t.merchant_id, d.ruleset_version, d.outcome, d.outcomes, {record} AS record, d.created_at, t.status AS transaction_status, \
               t.amount_minor, t.currency, c.id AS case_id, c.disposition, \
               (SELECT COUNT(*) FROM disputes x WHERE x.transaction_id = d.transaction_id) AS disputes, \
               (SELECT COUNT(*) FROM disputes x WHERE x.transaction_id = d.transaction_id AND x.reason = 'UNAUTHORISED') AS fraud_disputes \
               FROM decisions d JOIN transactions t ON t.id = d.transaction_id LEFT JOIN cases c ON c.transaction_id = d.transaction_id \
               WHERE d.created_at < ? AND (d.created_at, d.id) > (?, ?) \
               ORDER BY d.created_at, d.id LIMIT ?");
    // Every list as it was: each decision asks `in_list` as of its own time.
    let lists: Arc<dyn ListLookup> = Arc::new(super::list_store::load_history(db).await?);
    let mut tally = Some(Tally::new(&ruleset));
    // The chunk being evaluated (off the async workers: CPU work) while the next one is read.
    let mut evaluating: Option<(tokio::task::JoinHandle<Tally>, i64)> = None;
    // Keyset over (created_at, id), as a row value: both databases then read the index from the
    // cursor on (with `a > ? OR (a = ? AND b > ?)` SQLite sorted the rest of the window per chunk).
    // The first chunk starts just before the window.
    let mut cursor = (run.window_from - Duration::microseconds(1), i64::MAX);
    let mut processed = 0i64;
    let mut last_progress = std::time::Instant::now();
    loop {
        let values = vec![run.window_to.into(), cursor.0.into(), cursor.1.into(), CHUNK.into()];
        let rows = Row::find_by_statement(crate::server::db::statement(db.get_database_backend(), sql, values)).all(db).await?;
        if let Some((handle, read)) = evaluating.take() {
            tally = Some(handle.await.map_err(|e| sea_orm::DbErr::Custom(format!("backtest chunk: {e}")))?);
            processed += read;
            let status = backtest::Entity::find_by_id(run.id).one(db).await?.map(|m| m.status).unwrap_or_default();
            if status == "cancelling" {
                finish(db, run.id, "cancelled", processed, None).await?;
                return Ok(());
            }
            // A durable write a second, not a chunk: each commit waits for the disk.
            if last_progress.elapsed() >= PROGRESS_EVERY {
                progress(db, run.id, processed).await?;
                last_progress = std::time::Instant::now();
            }
        }
        let Some(last_row) = rows.last() else { break };
        cursor = (last_row.created_at, last_row.id);
        let read = rows.len() as i64;
        let mut chunk_tally = tally.take().expect("the tally is back from the previous chunk");
        let (ruleset, lists, reuse) = (ruleset.clone(), lists.clone(), reuse.clone());
        let handle = tokio::task::spawn_blocking(move || {
            for row in &rows {
                chunk_tally.add(row, &ruleset, &reuse, lists.clone());
            }
            chunk_tally
        });
        evaluating = Some((handle, read));
    }
    let tally = tally.expect("every chunk was tallied");
    let result = serde_json::to_string(&tally.result()).expect("results serialise");
    finish(db, run.id, "done", processed, Some(result)).await
}

/// A stored decision record as a replay reads it: each rule's result (by name, to check the
/// position) and the facts.
#[derive(serde::Deserialize)]
struct StoredRecord<'a> {
    #[serde(default, borrow)]
    rules: Vec<StoredResult<'a>>,
    #[serde(default)]
    facts: Facts,
}

#[derive(serde::Deserialize)]
struct StoredResult<'a> {
    #[serde(borrow)]
    rule: std::borrow::Cow<'a, str>,
    outcome: RuleOutcome,
}

async fn progress(db: &DatabaseConnection, id: i64, processed: i64) -> Result<(), sea_orm::DbErr> {
    backtest::Entity::update_many()
        .col_expr(backtest::Column::Processed, Expr::value(processed))
        .col_expr(backtest::Column::HeartbeatAt, Expr::value(Utc::now()))
        .filter(backtest::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

async fn finish(db: &DatabaseConnection, id: i64, status: &str, processed: i64, result: Option<String>) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    backtest::Entity::update_many()
        .col_expr(backtest::Column::Status, Expr::value(status))
        .col_expr(backtest::Column::Processed, Expr::value(processed))
        .col_expr(backtest::Column::HeartbeatAt, Expr::value(now))
        .col_expr(backtest::Column::FinishedAt, Expr::value(now))
        .col_expr(backtest::Column::Result, Expr::value(result))
        .filter(backtest::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Asks a running backtest to stop (it stops after its current chunk).
pub async fn cancel(db: &DatabaseConnection, id: i64, now: DateTime<Utc>) -> Result<BacktestReport, BacktestError> {
    backtest::Entity::update_many()
        .col_expr(backtest::Column::Status, Expr::value("cancelling"))
        .filter(backtest::Column::Id.eq(id))
        .filter(backtest::Column::Status.eq("running"))
        .exec(db)
        .await?;
    let model = backtest::Entity::find_by_id(id).one(db).await?.ok_or(BacktestError::Unknown(id))?;
    Ok(to_report(model, now))
}

/// The latest backtest (of any draft), if one ever ran.
pub async fn latest(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Option<BacktestReport>, sea_orm::DbErr> {
    let model = backtest::Entity::find().order_by_desc(backtest::Column::Id).one(db).await?;
    Ok(model.map(|m| to_report(m, now)))
}

pub async fn get(db: &impl ConnectionTrait, id: i64, now: DateTime<Utc>) -> Result<BacktestReport, BacktestError> {
    let model = backtest::Entity::find_by_id(id).one(db).await?.ok_or(BacktestError::Unknown(id))?;
    Ok(to_report(model, now))
}

fn to_report(model: backtest::Model, now: DateTime<Utc>) -> BacktestReport {
    let live = matches!(model.status.as_str(), "running" | "cancelling");
    let status = if live && (now - model.heartbeat_at).num_seconds() > HEARTBEAT_STALE_SECS { "interrupted".to_string() } else { model.status.clone() };
    let elapsed = (now - model.started_at).num_milliseconds().max(0) as f64 / 1000.0;
    let eta_seconds =
        (status == "running" && model.processed > 0).then(|| (elapsed / model.processed as f64 * (model.total - model.processed).max(0) as f64).round() as u64);
    BacktestReport {
        id: model.id,
        version: model.ruleset_version,
        revision: model.revision,
        from: model.window_from.to_rfc3339(),
        to: model.window_to.to_rfc3339(),
        status,
        total: model.total.max(0) as u64,
        processed: model.processed.max(0) as u64,
        started_by: model.started_by,
        started_at: model.started_at.to_rfc3339(),
        finished_at: model.finished_at.map(|t| t.to_rfc3339()),
        eta_seconds,
        result: model.result.and_then(|r| serde_json::from_str(&r).ok()),
    }
}

/// The facts from a record's tail (`"facts":{…}}`, as the run's query cuts it). `"facts":` is
/// found only as the record's own key: inside a JSON string its quotes are escaped.
fn facts_of_tail(tail: &str) -> Facts {
    tail.strip_prefix("\"facts\":").and_then(|t| t.strip_suffix('}')).and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default()
}

/// What a label says of a transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Fraud,
    NotFraud,
    Unknown,
}

/// A dispute for unauthorised use is fraud whatever a reviewer said; else the reviewer's label.
fn label(disposition: Option<&str>, fraud_disputes: i64) -> Label {
    if fraud_disputes > 0 {
        return Label::Fraud;
    }
    match disposition {
        Some("refunded_as_fraud" | "confirmed_fraud") => Label::Fraud,
        Some("approved") => Label::NotFraud,
        _ => Label::Unknown,
    }
}

#[derive(Default)]
struct QualityTally {
    flagged: u64,
    true_positives: u64,
    false_positives: u64,
}

/// Everything counted so far.
struct Tally {
    decisions: u64,
    cells: BTreeMap<(usize, usize), MatrixCell>,
    rules: Vec<RuleBacktest>,
    days: BTreeMap<String, (u64, u64)>,
    fraud: u64,
    before: QualityTally,
    after: QualityTally,
    /// Rule results evaluated, and taken from the stored decisions.
    evaluated: u64,
    reused: u64,
}

fn outcome_index(outcome: &str) -> usize {
    OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(0)
}

impl Tally {
    fn new(ruleset: &Ruleset) -> Tally {
        let rules = ruleset
            .rules
            .iter()
            .map(|r| RuleBacktest {
                rule: r.name.to_string(),
                matches: 0,
                amount_usd: 0.0,
                errors: 0,
                fraud: 0,
                not_fraud: 0,
                refunded: 0,
                disputed: 0,
                blocked: 0,
            })
            .collect();
        Tally {
            decisions: 0,
            cells: BTreeMap::new(),
            rules,
            days: BTreeMap::new(),
            fraud: 0,
            before: QualityTally::default(),
            after: QualityTally::default(),
            evaluated: 0,
            reused: 0,
        }
    }

    fn add(&mut self, row: &Row, ruleset: &Ruleset, reuse: &Reuse, lists: Arc<dyn ListLookup>) {
        let (rule_count, positions) = match reuse.by_version.get(&row.ruleset_version) {
            Some((count, positions)) => (*count, Some(positions)),
            None => (0, None),
        };
        let stored = |i: usize| positions.and_then(|p| p[i]);
        let (known, facts): (Vec<Option<RuleOutcome>>, Facts) = match row.outcomes.as_deref().filter(|codes| codes.len() == rule_count) {
            // The compact outcomes: the record is read only for the facts, and only when a rule
            // must run.
            Some(codes) => {
                let known: Vec<Option<RuleOutcome>> = (0..ruleset.rules.len())
                    .map(|i| {
                        stored(i).map(|at| match codes.as_bytes()[at] {
                            b'm' => RuleOutcome::Matched,
                            b'n' => RuleOutcome::NotMatched,
                            _ => RuleOutcome::Error("failed when decided".into()),
                        })
                    })
                    .collect();
                let facts = if known.iter().all(Option::is_some) { Facts::default() } else { facts_of_tail(&row.record) };
                (known, facts)
            }
            // A record stored before the column: read whole, results matched by name.
            None => {
                let record = serde_json::from_str::<StoredRecord>(&row.record).unwrap_or(StoredRecord { rules: Vec::new(), facts: Facts::default() });
                let known = ruleset
                    .rules
                    .iter()
                    .enumerate()
                    .map(|(i, rule)| record.rules.get(stored(i)?).filter(|r| *r.rule == *rule.name).map(|r| r.outcome.clone()))
                    .collect();
                (known, record.facts)
            }
        };
        let mut facts = facts;
        facts.merchant_id = row.merchant_id;
        let reused = known.iter().filter(|k| k.is_some()).count() as u64;
        self.reused += reused;
        self.evaluated += ruleset.rules.len() as u64 - reused;
        let evaluation = ruleset.replay(&facts, lists, row.created_at, known);
        let (before, after) = (outcome_index(&row.outcome), outcome_index(evaluation.action.as_str()));
        let amount = super::currency::to_usd(row.amount_minor, &row.currency);
        self.decisions += 1;
        let cell = self.cells.entry((before, after)).or_insert_with(|| MatrixCell {
            before: OUTCOMES[before].into(),
            after: OUTCOMES[after].into(),
            count: 0,
            volume_usd: 0.0,
            examples: Vec::new(),
        });
        cell.count += 1;
        cell.volume_usd += amount;
        if cell.examples.len() < EXAMPLES_PER_CELL {
            cell.examples.push(MatrixExample { transaction_id: row.transaction_id, case_id: row.case_id });
        }
        let label = label(row.disposition.as_deref(), row.fraud_disputes);
        let refunded = row.transaction_status == "refunded";
        let disputed = row.disputes > 0;
        for (tally, result) in self.rules.iter_mut().zip(&evaluation.results) {
            match result.outcome {
                RuleOutcome::Matched => {
                    tally.matches += 1;
                    tally.amount_usd += amount;
                    tally.fraud += u64::from(label == Label::Fraud);
                    tally.not_fraud += u64::from(label == Label::NotFraud);
                    tally.refunded += u64::from(refunded);
                    tally.disputed += u64::from(disputed);
                    tally.blocked += u64::from(after == 2);
                }
                RuleOutcome::Error(_) => tally.errors += 1,
                RuleOutcome::NotMatched => {}
            }
        }
        let day = row.created_at.format("%Y-%m-%d").to_string();
        let per_day = self.days.entry(day).or_default();
        per_day.0 += u64::from(before == 1);
        per_day.1 += u64::from(after == 1);
        self.fraud += u64::from(label == Label::Fraud);
        for (quality, outcome) in [(&mut self.before, before), (&mut self.after, after)] {
            if outcome != 0 {
                quality.flagged += 1;
                quality.true_positives += u64::from(label == Label::Fraud);
                quality.false_positives += u64::from(label == Label::NotFraud);
            }
        }
    }

    fn result(self) -> BacktestResult {
        let fraud = self.fraud;
        let quality = |q: QualityTally| Quality {
            flagged: q.flagged,
            true_positives: q.true_positives,
            false_positives: q.false_positives,
            fraud,
            precision: (q.true_positives + q.false_positives > 0).then(|| q.true_positives as f64 / (q.true_positives + q.false_positives) as f64),
            recall: (fraud > 0).then(|| q.true_positives as f64 / fraud as f64),
        };
        BacktestResult {
            decisions: self.decisions,
            matrix: self.cells.into_values().collect(),
            rules: self.rules,
            reviews_per_day: self.days.into_iter().map(|(day, (before, after))| DayReviews { day, before, after }).collect(),
            before: quality(self.before),
            after: quality(self.after),
            evaluated: self.evaluated,
            reused: self.reused,
        }
    }
}
