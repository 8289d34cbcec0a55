//! `make bench-review`: the reviewer's queue on more than a million cases, SQLite and PostgreSQL,
//! release build, the service calls the server functions make (`review::cases`), one after
//! another except where said:
//!
//! - the queue's first page (Open cases by priority; and with two filters: merchant risk state and
//!   a minimum amount);
//! - page 200 through the cursor (the Resolved tab, newest first: the tab that has 200 pages);
//! - search (merchant names, buyer emails, card fingerprints, with and without typos);
//! - "next case" with 20 reviewers claiming at once, exactly-once checked in the same run (every
//!   claimed id distinct, and the database agrees), then each claim released;
//! - the case page complete (transaction, decision, merchant with its risk history, PayPal from
//!   the cache, disputes, related activity, timeline), over a mix of open and resolved cases.
//!
//! The databases are `vetted seed --merchants 100000 --transactions 10000000` (the seed's review
//! history gives about 1.1 million cases), built once and kept between runs:
//! `~/.cache/vetted-bench/review-<transactions>.sqlite` and the PostgreSQL database
//! `vetted_bench_review_<transactions>`. `BENCH_REVIEW_TRANSACTIONS` sets a smaller size for a
//! quick try; `-- sqlite` or `-- postgres` runs one database.
//!
//! Prints one table per database and appends them to docs/benchmarks.md.
mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{count, group, postgres_url, sqlite_url};
use sea_orm::{ConnectionTrait, Statement};
use vetted::app::dto::{CaseStatusFilter, NextCase, QueueFilter, RiskState, Role};
use vetted::server::auth::service::{create_user, NewUser};
use vetted::server::config::Config;
use vetted::server::review::cases::{self, ReviewTiming, Reviewer};
use vetted::server::seed::{self, SeedOptions};
use vetted::server::AppState;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MERCHANTS: u32 = 100_000;
const TRANSACTIONS: u64 = 10_000_000;
/// Timed calls per read measurement (p99 is the second-worst of 200).
const RUNS: usize = 200;
const CLAIMERS: usize = 20;
const CLAIMS_EACH: usize = 25;

struct Row {
    what: String,
    samples: Vec<Duration>,
    target_ms: f64,
    note: String,
}

#[tokio::main]
async fn main() {
    let transactions: u64 = std::env::var("BENCH_REVIEW_TRANSACTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(TRANSACTIONS);
    let merchants = if transactions == TRANSACTIONS { MERCHANTS } else { (transactions / 100).clamp(10, MERCHANTS as u64) as u32 };
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    let mut tables = Vec::new();
    for (name, url) in
        [("sqlite", sqlite_url(&format!("review-{transactions}"))), ("postgres", postgres_url(&format!("vetted_bench_review_{transactions}")).await)]
    {
        if !wanted(name) {
            continue;
        }
        let state = prepare(name, &url, merchants, transactions).await;
        let cases = count(&state, "SELECT COUNT(*) FROM cases").await;
        eprintln!("{name}: {cases} cases; measuring…");
        let rows = measure(&state).await;
        let table = table(name, cases, &rows);
        println!("\n{table}");
        tables.push(table);
    }
    if args.is_empty() {
        record(merchants, transactions, &tables.join("\n"));
    }
}

/// The seeded database, built once: a database without the expected cases is seeded (an
/// interrupted seed is refused by the seed itself; delete the file or database then).
async fn prepare(name: &str, url: &str, merchants: u32, transactions: u64) -> AppState {
    let vars: HashMap<String, String> = [("DATABASE_URL".to_string(), url.to_string())].into_iter().collect();
    let state = AppState::connect(Config::from_vars(&vars).unwrap()).await.unwrap();
    if seed::is_empty(state.db.primary()).await.unwrap() {
        eprintln!("{name}: seeding {merchants} merchants / {transactions} transactions and their review history (once; kept for later runs)…");
        let started = Instant::now();
        let options = SeedOptions { seed: 42, merchants, transactions, until: Utc::now(), show_progress: true };
        let report = seed::seed(state.db.primary(), &options).await.unwrap();
        let history = seed::record_history(state.db.primary(), &options, report.transactions).await.unwrap();
        eprintln!("{name}: {} transactions, {} cases in {:.0} s", report.transactions, history.cases, started.elapsed().as_secs_f64());
        if state.db.primary().get_database_backend() == sea_orm::DbBackend::Postgres {
            state.db.primary().execute_unprepared("VACUUM ANALYZE").await.unwrap();
        } else {
            state.db.primary().execute_unprepared("ANALYZE").await.unwrap();
        }
    }
    state.fraud.refresh().await.unwrap();
    state
}

async fn reviewers(state: &AppState) -> Vec<Reviewer> {
    let db = state.db.primary();
    let mut all = Vec::new();
    for i in 0..CLAIMERS {
        let email = format!("bench-reviewer-{i}@vetted.test");
        let name = format!("Bench reviewer {i}");
        let _ = create_user(db, NewUser { email: &email, display_name: &name, password: "bench-password", role: Role::Reviewer, merchant_id: None }).await;
        let row = db
            .query_one_raw(vetted::server::db::statement(db.get_database_backend(), "SELECT id FROM users WHERE email = ?", vec![email.clone().into()]))
            .await
            .unwrap()
            .unwrap();
        all.push(Reviewer { user_id: row.try_get("", "id").unwrap(), name, admin: false });
    }
    all
}

async fn timed<F, Fut, T>(runs: usize, mut call: F) -> Vec<Duration>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    // Two untimed calls first: caches and prepared statements as a running server has them.
    for i in 0..2 {
        call(i).await;
    }
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        let started = Instant::now();
        call(i).await;
        samples.push(started.elapsed());
    }
    samples
}

async fn measure(state: &AppState) -> Vec<Row> {
    let db = state.db.read();
    let timing = ReviewTiming::default();
    let who = &Reviewer { user_id: 0, name: "bench".into(), admin: true };
    let now = Utc::now();
    let mut rows = Vec::new();

    let open = QueueFilter::default();
    let samples = timed(RUNS, |_| async { cases::queue(db, &open, None, who, timing, now).await.unwrap() }).await;
    rows.push(Row { what: "queue, first page (Open, by priority)".into(), samples, target_ms: 30.0, note: String::new() });

    let filtered = QueueFilter { risk_state: Some(RiskState::Compliant), min_amount_usd: Some(20), ..QueueFilter::default() };
    let first = cases::queue(db, &filtered, None, who, timing, now).await.unwrap();
    let samples = timed(RUNS, |_| async { cases::queue(db, &filtered, None, who, timing, now).await.unwrap() }).await;
    rows.push(Row {
        what: "queue, first page, two filters (merchant compliant, ≥ $20)".into(),
        samples,
        target_ms: 30.0,
        note: format!("{} rows", first.rows.len()),
    });

    // Walk to page 200 once, then read it again and again.
    let resolved = &QueueFilter { status: CaseStatusFilter::Resolved, ..QueueFilter::default() };
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    while pages < 199 {
        let page = cases::queue(db, resolved, cursor.as_deref(), who, timing, now).await.unwrap();
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let at = cursor.clone();
    let samples = timed(RUNS, |_| {
        let at = at.clone();
        async move { cases::queue(db, resolved, at.as_deref(), who, timing, now).await.unwrap() }
    })
    .await;
    rows.push(Row { what: format!("queue, page {} through the cursor (Resolved, newest first)", pages + 1), samples, target_ms: 30.0, note: String::new() });

    // Searches: what reviewers type — names, emails, fingerprints, some with a typo.
    let queries = search_queries(state).await;
    let samples = timed(RUNS, |i| {
        let filter = QueueFilter { q: Some(queries[i % queries.len()].clone()), status: CaseStatusFilter::Unresolved, ..QueueFilter::default() };
        async move { cases::queue(db, &filter, None, who, timing, now).await.unwrap() }
    })
    .await;
    rows.push(Row { what: "search (unresolved cases)".into(), samples, target_ms: 50.0, note: format!("{} queries in turn", queries.len()) });

    rows.push(next_case(state, timing, Some(Duration::from_millis(100))).await);
    rows.push(next_case(state, timing, None).await);

    // The case page over a mix of open and resolved cases.
    let ids: Vec<i64> = {
        let sql = "SELECT id FROM cases WHERE id % 997 = 0 ORDER BY id LIMIT 200";
        let primary = state.db.primary();
        primary.query_all_raw(Statement::from_string(primary.get_database_backend(), sql)).await.unwrap().iter().map(|r| r.try_get("", "id").unwrap()).collect()
    };
    let samples = timed(RUNS, |i| {
        let id = ids[i % ids.len()];
        async move { cases::detail(db, &state.cache, id, who, timing, now).await.unwrap() }
    })
    .await;
    rows.push(Row { what: "case page, complete".into(), samples, target_ms: 50.0, note: format!("{} cases in turn", ids.len()) });
    rows
}

async fn search_queries(state: &AppState) -> Vec<String> {
    let db = state.db.primary();
    let sql = "SELECT m.name, t.buyer_email, t.card_fingerprint FROM cases c JOIN transactions t ON t.id = c.transaction_id \
               JOIN merchants m ON m.id = c.merchant_id WHERE c.status <> 'closed' AND c.id % 7 = 0 ORDER BY c.id LIMIT 10";
    let mut queries = Vec::new();
    for row in db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap() {
        let (name, email, card): (String, String, String) =
            (row.try_get("", "name").unwrap(), row.try_get("", "buyer_email").unwrap(), row.try_get("", "card_fingerprint").unwrap());
        let word = name.split_whitespace().max_by_key(|w| w.len()).unwrap_or("shop").to_lowercase();
        queries.push(word.clone());
        queries.push(email.split('@').next().unwrap_or("buyer").to_string());
        queries.push(card.chars().take(12).collect());
        // A typo: two letters swapped in the middle of the word.
        let mut typo: Vec<char> = word.chars().collect();
        if typo.len() > 4 {
            typo.swap(2, 3);
        }
        queries.push(typo.into_iter().collect());
    }
    queries.retain(|q| q.chars().count() >= cases::MIN_SEARCH_CHARS);
    queries
}

/// 20 reviewers press "next case" 25 times each, all at once, on the primary — as fast as each
/// can (`pace` None: the latency is mostly waiting for the others' claims), or each every `pace`;
/// every claim is checked distinct here and in the database, then released.
async fn next_case(state: &AppState, timing: ReviewTiming, pace: Option<Duration>) -> Row {
    let people = reviewers(state).await;
    let db = state.db.primary();
    let before = count(state, "SELECT COUNT(*) FROM cases WHERE status = 'claimed'").await;
    let started = Instant::now();
    let failures = &std::sync::atomic::AtomicUsize::new(0);
    let claims = futures::future::join_all(people.iter().map(|who| async move {
        let mut mine = Vec::new();
        let start = Instant::now();
        for n in 0..CLAIMS_EACH {
            if let Some(pace) = pace {
                // Spread the reviewers over the first interval, then one claim each per interval.
                let due = start + pace.mul_f64(n as f64 + who.user_id as f64 % CLAIMERS as f64 / CLAIMERS as f64);
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            }
            let at = Instant::now();
            let got = cases::claim_next(db, &QueueFilter::default(), who, timing, Utc::now()).await;
            let took = at.elapsed();
            match got {
                Ok(NextCase::Claimed { case_id }) => mine.push((case_id, took)),
                Ok(NextCase::Empty) => break,
                Err(e) => {
                    eprintln!("next case failed after {took:?}: {e:?}");
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        mine
    }))
    .await;
    let wall = started.elapsed();
    let all: Vec<(i64, Duration)> = claims.iter().flatten().copied().collect();
    let distinct: HashSet<i64> = all.iter().map(|(id, _)| *id).collect();
    assert_eq!(distinct.len(), all.len(), "a case was given to two reviewers");
    let held = count(state, "SELECT COUNT(*) FROM cases WHERE status = 'claimed'").await;
    assert_eq!(held - before, all.len() as i64, "the database holds a different number of claims");
    // Back to the queue, so that the next run starts from the same state.
    for (who, mine) in people.iter().zip(&claims) {
        for (case_id, _) in mine {
            let version = cases::version_of(db, *case_id).await.unwrap();
            cases::release(db, *case_id, version, who, Utc::now()).await.unwrap();
        }
    }
    Row {
        what: match pace {
            None => format!("next case, {CLAIMERS} reviewers at once, each claiming back to back"),
            Some(pace) => format!("next case, {CLAIMERS} reviewers at once, each claiming every {} ms", pace.as_millis()),
        },
        samples: all.iter().map(|(_, took)| *took).collect(),
        target_ms: 10.0,
        note: format!(
            "{} claims in {:.2} s, each case once (checked); {} failed",
            all.len(),
            wall.as_secs_f64(),
            failures.load(std::sync::atomic::Ordering::Relaxed)
        ),
    }
}

fn percentile(samples: &[Duration], p: f64) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * ms.len() as f64).ceil() as usize;
    ms[rank.clamp(1, ms.len()) - 1]
}

fn table(database: &str, cases: i64, rows: &[Row]) -> String {
    let mut out =
        format!("{database}, {} cases:\n\n| what | calls | p50 | p95 | p99 | target p99 | met? | |\n|---|---|---|---|---|---|---|---|\n", group(cases));
    for row in rows {
        let p99 = percentile(&row.samples, 99.0);
        out.push_str(&format!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | ≤ {:.0} ms | {} | {} |\n",
            row.what,
            row.samples.len(),
            percentile(&row.samples, 50.0),
            percentile(&row.samples, 95.0),
            p99,
            row.target_ms,
            if p99 <= row.target_ms { "met" } else { "**not met**" },
            row.note
        ));
    }
    out
}

fn record(merchants: u32, transactions: u64, tables: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let entry = format!(
        "\n### bench-review — {}\n\nCommand: `make bench-review` (release build; the service calls of the server functions; databases and bench share the machine's {} cores; `vetted seed --merchants {merchants} --transactions {transactions}` with its review history).\n\n{tables}",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    );
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    text.push_str(&entry);
    std::fs::write(&path, text).unwrap();
    eprintln!("recorded in {}", path.display());
}
