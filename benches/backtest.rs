//! `make bench-backtest`: a draft backtested on a million stored decisions made by a 50-rule
//! ruleset, SQLite and PostgreSQL, release build, the service calls the server functions make
//! (`fraud::backtest::prepare` + `run`, `fraud::rule_stats`):
//!
//! - the draft with none of the 50 rules changed, 3 changed, and all 50 changed: wall time from
//!   the start to the stored result, decisions a second, rule results evaluated and reused, and
//!   the process's peak memory during the run (`VmHWM`, reset before each run);
//! - the first roll-up of the rules page's daily hit counts over the million decisions, then the
//!   rules page's hit counts, sparklines and precision (`admin/rule_stats`) 200 times.
//!
//! The decisions are made by the engine's own evaluation (`Ruleset::evaluate`, the seeded lists)
//! on generated payments spread over the last year, stored as the ingest path stores them
//! (`decision_record`: every rule's result and the facts), a fifth of the reviews with a case
//! resolved as fraud or approved. Built once and kept: `~/.cache/vetted-bench/backtest-<n>.sqlite`
//! and the PostgreSQL database `vetted_bench_backtest_<n>`. `BENCH_BACKTEST_DECISIONS` sets a
//! smaller size for a quick try; `-- sqlite` or `-- postgres` runs one database.
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use common::{count, group, postgres_url, sqlite_url};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use vetted::app::dto::{RuleEffectSpec, RuleModeSpec, RuleSpec, RulesetDraft};
use vetted::server::config::Config;
use vetted::server::db::entities::{decision, transaction};
use vetted::server::fraud::rules::{MerchantFacts, Ruleset};
use vetted::server::fraud::{backtest, decision as decision_facts, default_rules, input::TransactionInput, rule_stats, velocity, versions};
use vetted::server::seed::{self, SeedOptions};
use vetted::server::AppState;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DECISIONS: u64 = 1_000_000;
const RULES: usize = 50;
const MERCHANTS: u32 = 200;
/// Decisions written per database transaction while seeding.
const SEED_CHUNK: usize = 2_000;
const PAGE_RUNS: usize = 200;

#[tokio::main]
async fn main() {
    let decisions: u64 = std::env::var("BENCH_BACKTEST_DECISIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(DECISIONS);
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    for (name, url) in
        [("sqlite", sqlite_url(&format!("backtest-{decisions}"))), ("postgres", postgres_url(&format!("vetted_bench_backtest_{decisions}")).await)]
    {
        if !wanted(name) {
            continue;
        }
        let state = prepare(name, &url, decisions).await;
        let stored = count(&state, "SELECT COUNT(*) FROM decisions").await;
        eprintln!("{name}: {stored} decisions; measuring…");
        let mut table = format!(
            "{name}, {} stored decisions (50-rule ruleset):\n\n| draft | wall | decisions/s | rule results evaluated / reused | peak memory | target | met? |\n|---|---|---|---|---|---|---|\n",
            group(stored as i64)
        );
        for (label, changed, target_s) in
            [("none of 50 rules changed", 0, None), ("3 of 50 rules changed", 3, Some(5.0)), ("all 50 rules changed", RULES, Some(20.0))]
        {
            table.push_str(&backtest_row(&state, label, changed, target_s).await);
        }
        table.push_str(&rules_page(&state).await);
        println!("\n{table}");
    }
}

/// The seeded rules, then rules an admin team adds over a year (thresholds on amount, velocity,
/// geography and lists, most as scores), up to 50.
fn fifty_rules() -> RulesetDraft {
    let mut draft = default_rules::ruleset();
    let mut k = 0usize;
    while draft.rules.len() < RULES {
        let (expression, effect) = match k % 5 {
            0 => (format!("transaction.amount_usd > {}.0 && merchant.age_days < {}", 150 + k * 40, 20 + k), RuleEffectSpec::Score(10.0)),
            1 => (format!("velocity.card_count_1h >= {} && transaction.ip_country != transaction.card_country", 3 + k % 6), RuleEffectSpec::Score(15.0)),
            2 => (format!("transaction.card_country in ['NG', 'RO', 'BR', 'VN'] && transaction.amount_usd > {}.0", 20 + k * 10), RuleEffectSpec::Score(20.0)),
            3 => (format!("velocity.email_count_24h > {} || in_list('blocked_emails', transaction.buyer_email)", 6 + k % 7), RuleEffectSpec::Score(25.0)),
            _ => (format!("merchant.dispute_rate > 0.0{} && transaction.amount_usd > {}.0", 1 + k % 8, 50 + k * 5), RuleEffectSpec::Review),
        };
        let mode = if k % 4 == 3 { RuleModeSpec::Shadow } else { RuleModeSpec::Live };
        draft.rules.push(RuleSpec { name: format!("Team rule {k}"), description: String::new(), expression, effect, enabled: true, mode });
        k += 1;
    }
    draft
}

/// The seeded database, built once: a database with fewer decisions than asked for is seeded
/// from scratch (delete the file or database after an interrupted seed).
async fn prepare(name: &str, url: &str, decisions: u64) -> AppState {
    let vars: HashMap<String, String> = [("DATABASE_URL".to_string(), url.to_string())].into_iter().collect();
    let state = AppState::connect(Config::from_vars(&vars).unwrap()).await.unwrap();
    let db = state.db.primary();
    if seed::is_empty(db).await.unwrap() {
        eprintln!("{name}: seeding {decisions} decisions of a 50-rule ruleset (once; kept for later runs)…");
        let started = Instant::now();
        seed::seed(db, &SeedOptions { seed: 42, merchants: MERCHANTS, transactions: 1_000, until: Utc::now(), show_progress: false }).await.unwrap();
        let draft = fifty_rules();
        let saved = versions::save_draft(db, &draft, "bench@vetted.test", None, Utc::now()).await.unwrap();
        versions::publish(db, saved.version, "Fifty rules for the backtest benchmark", "bench@vetted.test", versions::Approval::AnyAdmin, Utc::now())
            .await
            .unwrap();
        state.fraud.refresh().await.unwrap();
        let loaded = state.fraud.current().await.unwrap();
        write_decisions(&state, &loaded.ruleset, loaded.lists.clone(), loaded.ruleset_version, decisions).await;
        eprintln!("{name}: seeded in {:.0} s", started.elapsed().as_secs_f64());
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared("VACUUM ANALYZE").await.unwrap();
        } else {
            db.execute_unprepared("ANALYZE").await.unwrap();
        }
    }
    state.fraud.refresh().await.unwrap();
    state
}

/// One generated payment: most ordinary, some with the signals the rules look for.
fn payment(rng: &mut ChaCha8Rng, n: u64) -> TransactionInput {
    let buyer = rng.random_range(0..200_000u64);
    let home = ["US", "GB", "DE", "FR", "CA"][rng.random_range(0..5)];
    let risky = rng.random_bool(0.15);
    TransactionInput {
        external_id: format!("bt_{n}"),
        merchant_id: rng.random_range(1..=MERCHANTS as i32),
        amount: if risky { rng.random_range(5_000..400_000) } else { rng.random_range(300..12_000) },
        currency: "USD".into(),
        buyer_email: if risky && rng.random_bool(0.3) { format!("b{buyer}@mailinator.com") } else { format!("buyer{buyer}@example.com") },
        buyer_ip: format!("198.{}.{}.{}", 18 + buyer % 2, (buyer / 250) % 250, buyer % 250),
        ip_country: Some(home.into()),
        card_fingerprint: format!("fp_{buyer:08x}"),
        card_bin: Some("424242".into()),
        card_country: if risky { ["NG", "RO", "BR", "VN", home][rng.random_range(0..5)].into() } else { home.into() },
        product_id: None,
    }
}

/// `n` decisions made by `ruleset`, a year of them, written in chunks: transactions, decisions,
/// and cases for a fifth of the reviews (resolved: a quarter as fraud, the rest approved).
async fn write_decisions(state: &AppState, ruleset: &Ruleset, lists: Arc<vetted::server::fraud::lists::Lists>, version: i32, n: u64) {
    let db = state.db.primary();
    let backend = db.get_database_backend();
    let first = count(state, "SELECT COALESCE(MAX(id), 0) FROM transactions").await + 1;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let now = Utc::now();
    let year_ms = 365 * 24 * 3600 * 1000i64;
    let mut written = 0u64;
    let started = Instant::now();
    while written < n {
        let size = (n - written).min(SEED_CHUNK as u64);
        let mut transactions = Vec::with_capacity(size as usize);
        let mut decisions = Vec::with_capacity(size as usize);
        for i in 0..size {
            let id = first + (written + i) as i64;
            let input = payment(&mut rng, id as u64);
            // Oldest first, so that ids follow time as they do in production.
            let at: DateTime<Utc> = now - chrono::Duration::milliseconds(year_ms - (year_ms / n as i64) * (written + i) as i64);
            let merchant = MerchantFacts {
                age_days: rng.random_range(1..2_000),
                country: "US".into(),
                risk_state: "compliant".into(),
                verified: true,
                lifetime_volume_usd: 10_000.0,
                dispute_rate: rng.random_range(0.0..0.05),
            };
            let counts: velocity::Counts = [("card_count_1h", rng.random_range(0..8)), ("email_count_24h", rng.random_range(0..15))]
                .into_iter()
                .map(|(key, value)| (key.to_string(), serde_json::json!(value)))
                .collect();
            let facts = decision_facts::facts(&input, merchant, Some(counts));
            let evaluation = ruleset.evaluate(&facts, lists.clone());
            let status = if evaluation.action.as_str() == "block" {
                "blocked"
            } else if rng.random_bool(0.02) {
                "refunded"
            } else {
                "succeeded"
            };
            transactions.push(transaction::ActiveModel {
                id: Set(id),
                merchant_id: Set(input.merchant_id),
                product_id: Set(None),
                amount_minor: Set(input.amount),
                currency: Set(input.currency.clone()),
                buyer_email: Set(input.buyer_email.clone()),
                buyer_ip: Set(input.buyer_ip.clone()),
                card_fingerprint: Set(input.card_fingerprint.clone()),
                card_country: Set(input.card_country.clone()),
                status: Set(status.into()),
                created_at: Set(at),
                external_id: Set(Some(input.external_id.clone())),
                card_bin: Set(input.card_bin.clone()),
                ip_country: Set(input.ip_country.clone()),
            });
            decisions.push(decision::ActiveModel {
                transaction_id: Set(id),
                ruleset_version: Set(version),
                outcome: Set(evaluation.action.as_str().into()),
                score: Set(evaluation.score),
                results: Set(decision_facts::decision_record(&evaluation.results, &facts)),
                latency_micros: Set(0),
                created_at: Set(at),
                outcomes: Set(Some(decision_facts::outcome_codes(&evaluation.results))),
                ..Default::default()
            });
        }
        let txn = sea_orm::TransactionTrait::begin(db).await.unwrap();
        transaction::Entity::insert_many(transactions).exec_without_returning(&txn).await.unwrap();
        decision::Entity::insert_many(decisions).exec_without_returning(&txn).await.unwrap();
        let cases = "INSERT INTO cases (transaction_id, merchant_id, decision_id, status, created_at, updated_at, priority, version, score, amount_usd_cents, \
                     matched_rules, escalated, disposition, resolved_at) \
                     SELECT t.id, t.merchant_id, d.id, 'closed', d.created_at, d.created_at, 0, 1, d.score, t.amount_minor, '', false, \
                     CASE WHEN t.id % 4 = 0 THEN 'confirmed_fraud' ELSE 'approved' END, d.created_at \
                     FROM decisions d JOIN transactions t ON t.id = d.transaction_id WHERE d.outcome = 'review' AND t.id % 5 = 0 AND t.id BETWEEN ? AND ?";
        let range = vec![(first + written as i64).into(), (first + (written + size) as i64 - 1).into()];
        txn.execute_raw(vetted::server::db::statement(backend, cases, range)).await.unwrap();
        txn.commit().await.unwrap();
        written += size;
        if written % 100_000 < SEED_CHUNK as u64 {
            eprintln!("  {written} decisions ({:.0}/s)", written as f64 / started.elapsed().as_secs_f64());
        }
    }
    if backend == sea_orm::DbBackend::Postgres {
        // Explicit ids: move the sequence past them.
        db.execute_unprepared("SELECT setval(pg_get_serial_sequence('transactions', 'id'), (SELECT MAX(id) FROM transactions))").await.unwrap();
    }
}

/// The published rules with `changed` of them edited (a threshold moved: the expression differs).
fn draft_with_changes(published: &RulesetDraft, changed: usize) -> RulesetDraft {
    let mut draft = published.clone();
    // Spread over the ruleset: the first, the middle, the last…
    let step = (draft.rules.len() / changed.max(1)).max(1);
    for rule in draft.rules.iter_mut().step_by(step).take(changed) {
        rule.expression = format!("({}) && transaction.amount_usd >= 0.0", rule.expression);
    }
    draft
}

/// The peak resident memory of this process since the last reset, in MB; resets it.
fn peak_memory_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()).unwrap_or(0.0);
    // 5: reset the peak (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    kb / 1024.0
}

async fn backtest_row(state: &AppState, label: &str, changed: usize, target_s: Option<f64>) -> String {
    let db = state.db.primary();
    let (_, published) = versions::published(db).await.unwrap().unwrap();
    let published = published.unwrap();
    let draft = draft_with_changes(&published, changed);
    let expected = versions::list(db).await.unwrap().into_iter().find(|v| v.status == vetted::app::dto::RulesetStatus::Draft).map(|v| v.revision);
    versions::save_draft(db, &draft, "bench@vetted.test", expected, Utc::now()).await.unwrap();
    peak_memory_mb();
    let baseline = current_memory_mb();
    let started = Instant::now();
    let prepared = backtest::prepare(db, backtest::MAX_WINDOW_DAYS, "bench@vetted.test", Utc::now()).await.unwrap();
    let id = prepared.run.id;
    backtest::run(db, prepared).await.unwrap();
    let wall = started.elapsed();
    let peak = peak_memory_mb();
    let report = backtest::get(db, id, Utc::now()).await.unwrap();
    let result = report.result.expect("a finished backtest has a result");
    let rate = result.decisions as f64 / wall.as_secs_f64();
    eprintln!("  {label}: {:.1} s", wall.as_secs_f64());
    let (target, met) = match target_s {
        Some(t) => (format!("≤ {t:.0} s, ≤ 500 MB"), if wall.as_secs_f64() <= t && peak <= 500.0 { "met" } else { "**not met**" }),
        None => ("(baseline)".to_string(), ""),
    };
    format!(
        "| {label} | {:.1} s | {} | {} / {} | {:.0} MB (run adds {:.0} MB) | {target} | {met} |\n",
        wall.as_secs_f64(),
        group(rate as i64),
        group(result.evaluated as i64),
        group(result.reused as i64),
        peak,
        (peak - baseline).max(0.0)
    )
}

fn current_memory_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

/// The first roll-up of daily hits over every decision, then the rules page's read.
async fn rules_page(state: &AppState) -> String {
    let db = state.db.primary();
    let started = Instant::now();
    let rolled = rule_stats::roll_up(db, Utc::now()).await.unwrap();
    let roll_up = started.elapsed();
    let mut samples = Vec::with_capacity(PAGE_RUNS);
    let mut rules = 0;
    for _ in 0..PAGE_RUNS {
        let t = Instant::now();
        let stats = rule_stats::last_30_days(state.db.read(), Utc::now()).await.unwrap();
        samples.push(t.elapsed());
        rules = stats.rules.len();
    }
    samples.sort();
    let p = |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1].as_secs_f64() * 1000.0;
    let p99 = p(0.99);
    format!(
        "\nRules page hit counts (`admin/rule_stats`: {rules} rules, 30 days of daily hits, sparklines and precision), {PAGE_RUNS} calls: p50 {:.2} ms, p99 {:.2} ms (target ≤ 50 ms: {}). First roll-up of {} decisions into daily counts: {:.1} s (background job, {:.0} decisions/s).\n",
        p(0.5),
        p99,
        if p99 <= 50.0 { "met" } else { "**not met**" },
        group(rolled as i64),
        roll_up.as_secs_f64(),
        rolled as f64 / roll_up.as_secs_f64().max(1e-9)
    )
}
