//! `make bench-fraud` (first part): rule evaluation throughput — how many transactions per
//! second one core can decide with a realistic 15-rule set and with 50 rules. Prints a table and
//! appends it to docs/benchmarks.md. (Ingest → decision over HTTP comes with the ingest API.)
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use vetted::server::fraud::lists::{ListEntry, ListKind, Lists};
use vetted::server::fraud::rules::{Action, Facts, Rule, RuleEffect, RuleMode, Ruleset};

const RULES: &[(&str, &str, RuleEffect)] = &[
    ("allow verified low value", "merchant.verified && transaction.amount_usd < 20.0", RuleEffect::Action(Action::Allow)),
    ("block listed email", "in_list('blocked_emails', transaction.buyer_email)", RuleEffect::Action(Action::Block)),
    ("block listed card", "in_list('blocked_cards', transaction.card_fingerprint)", RuleEffect::Action(Action::Block)),
    ("block listed ip", "in_list('blocked_ips', transaction.ip)", RuleEffect::Action(Action::Block)),
    ("review disposable email", "in_list('disposable_domains', transaction.email_domain)", RuleEffect::Action(Action::Review)),
    ("card testing burst", "velocity.card_count_1h >= 5 && transaction.amount_usd < 5.0", RuleEffect::Action(Action::Block)),
    ("email velocity", "velocity.email_count_24h > 10", RuleEffect::Score(30.0)),
    ("ip velocity", "velocity.ip_count_1h > 20", RuleEffect::Score(30.0)),
    ("country mismatch", "transaction.card_country != transaction.ip_country", RuleEffect::Score(25.0)),
    ("new merchant big ticket", "merchant.age_days < 14 && transaction.amount_usd > 500.0", RuleEffect::Action(Action::Review)),
    ("merchant disputes", "merchant.dispute_rate > 0.01", RuleEffect::Score(20.0)),
    ("high amount", "transaction.amount_usd > 2000.0", RuleEffect::Score(40.0)),
    ("merchant flagged", "merchant.risk_state == 'flagged_for_fraud'", RuleEffect::Action(Action::Review)),
    ("card spend 24h", "velocity.card_sum_usd_24h > 3000.0", RuleEffect::Score(35.0)),
    ("merchant spike", "velocity.merchant_count_1h > 200", RuleEffect::Score(15.0)),
];

fn ruleset(size: usize) -> Ruleset {
    let rules = (0..size)
        .map(|i| {
            let (name, expression, effect) = RULES[i % RULES.len()];
            let mode = if i < RULES.len() { RuleMode::Live } else { RuleMode::Shadow };
            Rule::new(&format!("{name} #{i}"), expression, effect, mode).expect("benchmark rules check")
        })
        .collect();
    Ruleset::new(rules, 50.0, 80.0)
}

fn lists() -> Arc<Lists> {
    let now = Utc::now();
    let mut lists = Lists::default();
    let entry = || ListEntry { value: String::new(), reason: "bench".into(), expires_at: None, added_by: "bench".into(), source: "import".into() };
    for (name, kind) in [
        ("blocked_emails", ListKind::Email),
        ("blocked_cards", ListKind::CardFingerprint),
        ("blocked_ips", ListKind::Ip),
        ("disposable_domains", ListKind::EmailDomain),
    ] {
        lists.create(name, kind).unwrap();
    }
    for i in 0..10_000 {
        lists.add("blocked_emails", &format!("bad{i}@example.com"), entry(), now).unwrap();
        lists.add("blocked_cards", &format!("fp_{i:08x}"), entry(), now).unwrap();
    }
    for i in 0..200 {
        lists.add("blocked_ips", &format!("10.{}.{}.0/24", i / 256, i % 256), entry(), now).unwrap();
    }
    lists.add("disposable_domains", "mailinator.com", entry(), now).unwrap();
    Arc::new(lists)
}

fn facts(i: u64) -> Facts {
    let mut facts = Facts::default();
    facts.transaction.amount_usd = (i % 3000) as f64 + 0.99;
    facts.transaction.buyer_email = format!("buyer{i}@example.com");
    facts.transaction.email_domain = if i % 7 == 0 { "mailinator.com".into() } else { "example.com".into() };
    facts.transaction.ip = format!("192.0.2.{}", i % 250);
    facts.transaction.card_fingerprint = format!("fp_live_{i}");
    facts.transaction.card_country = "US".into();
    facts.transaction.ip_country = if i % 5 == 0 { "RO".into() } else { "US".into() };
    facts.merchant.age_days = (i % 400) as i64;
    facts.merchant.risk_state = "compliant".into();
    facts.merchant.dispute_rate = 0.004;
    facts.velocity.insert("card_count_1h".into(), serde_json::json!((i % 9) as i64));
    facts.velocity.insert("email_count_24h".into(), serde_json::json!((i % 13) as i64));
    facts
}

fn measure(ruleset: &Ruleset, lists: &Arc<Lists>) -> (f64, Duration) {
    let inputs: Vec<Facts> = (0..1_000).map(facts).collect();
    // Warm up, then run for about two seconds.
    for f in inputs.iter().take(200) {
        ruleset.evaluate(f, lists.clone());
    }
    let started = Instant::now();
    let mut evaluations = 0u64;
    let mut per_call = Vec::new();
    while started.elapsed() < Duration::from_secs(2) {
        for f in &inputs {
            let t = Instant::now();
            std::hint::black_box(ruleset.evaluate(f, lists.clone()));
            per_call.push(t.elapsed());
            evaluations += 1;
        }
    }
    per_call.sort();
    (evaluations as f64 / started.elapsed().as_secs_f64(), per_call[per_call.len() * 99 / 100])
}

fn main() {
    let lists = lists();
    let mut table = String::from("| ruleset | transactions decided / s (one core) | rule evaluations / s | p99 per transaction |\n|---|---|---|---|\n");
    for size in [RULES.len(), 50] {
        let ruleset = ruleset(size);
        let (per_second, p99) = measure(&ruleset, &lists);
        table.push_str(&format!(
            "| {size} rules | {per_second:.0} | {:.0} | {:.1} µs |\n",
            per_second * size as f64,
            p99.as_secs_f64() * 1e6
        ));
    }
    println!("\n{table}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let entry = format!(
        "\n### bench-fraud (rule evaluation) — {}\n\nCommand: `make bench-fraud` (release build, one thread; lists of 10,000 emails, 10,000 card fingerprints and 200 CIDR ranges; the 50-rule set is the 15 realistic rules live plus 35 more in shadow mode, all evaluated).\n\n{table}",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
    );
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    text.push_str(&entry);
    std::fs::write(&path, text).unwrap();
    eprintln!("recorded in {}", path.display());
}
