//! The fraud engine across instances: velocity correct under concurrency (Redis shared by two
//! instances, and the database), old velocity expiring with bounded memory, compaction and the
//! conversion of the old bucket layout changing no count, rulesets published
//! and rolled back reaching every instance, lists changed on one instance matching on another,
//! list expiry, save-time checks refusing bad rules.
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Backend, TestApp, Who, REDIS_TEST_URL};
use sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait};
use serde_json::{json, Value};
use vetted::app::dto::{RuleEffectSpec, RuleModeSpec, RuleSpec};
use vetted::server::db::entities::decision;
use vetted::server::fraud::engine::RulesHealth;
use vetted::server::fraud::lists::ListEntry;
use vetted::server::fraud::velocity::{Subject, Velocity};
use vetted::server::fraud::{api_keys, list_store, velocity, versions};

async fn api_key(app: &TestApp) -> String {
    api_keys::create(app.state.db.primary(), "tests", "tests", Utc::now()).await.unwrap().key
}

fn sale(external_id: &str, card: &str, amount: i64) -> Value {
    json!({
        "external_id": external_id, "merchant_id": 1, "amount": amount, "currency": "USD",
        "buyer_email": format!("{external_id}@example.com"), "buyer_ip": "198.51.100.7", "ip_country": "US",
        "card_fingerprint": card, "card_country": "US"
    })
}

async fn ingest(app: &TestApp, key: &str, body: &Value) -> Value {
    let response = reqwest::Client::new().post(app.url("/api/v1/transactions")).bearer_auth(key).json(body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// The velocity a decision saw (kept with the decision).
async fn seen_velocity(app: &TestApp, decision_id: i64, key: &str) -> Value {
    let record = decision::Entity::find_by_id(decision_id).one(app.state.db.primary()).await.unwrap().unwrap();
    let results: Value = serde_json::from_str(&record.results).unwrap();
    // Keys left out of the record were 0.
    match &results["facts"]["velocity"][key] {
        Value::Null => json!(0),
        value => value.clone(),
    }
}

/// 40 concurrent payments on one card, spread over the given instances: each must have seen a
/// different number of earlier payments, 0 to 39, and the sums must match.
async fn concurrent_payments_each_see_a_distinct_count(instances: &[&TestApp]) {
    let key = api_key(instances[0]).await;
    let card = format!("fp_vel_{}", Utc::now().timestamp_micros());
    let requests = (0..40).map(|i| {
        let app = instances[i % instances.len()];
        let body = sale(&format!("v{i}"), &card, 100);
        let key = key.clone();
        async move { ingest(app, &key, &body).await }
    });
    let decisions = futures::future::join_all(requests).await;
    let mut counts = BTreeSet::new();
    let mut sums = BTreeSet::new();
    for d in &decisions {
        counts.insert(seen_velocity(instances[0], d["decision_id"].as_i64().unwrap(), "card_count_1h").await.as_i64().unwrap());
        sums.insert((seen_velocity(instances[0], d["decision_id"].as_i64().unwrap(), "card_sum_usd_24h").await.as_f64().unwrap() * 100.0).round() as i64);
    }
    assert_eq!(counts, (0..40).collect::<BTreeSet<i64>>(), "every payment saw a distinct count of earlier ones");
    assert_eq!(sums, (0..40).map(|n| n * 100).collect::<BTreeSet<i64>>(), "and the matching dollar sums");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn velocity_is_exact_across_two_instances_sharing_redis() {
    let first = TestApp::spawn(Backend::Postgres, &[("REDIS_URL", REDIS_TEST_URL)]).await;
    assert!(matches!(first.state.fraud.velocity, Velocity::Redis(_)));
    let second = first.another_instance().await;
    concurrent_payments_each_see_a_distinct_count(&[&first, &second]).await;
}

async fn velocity_is_exact_under_concurrency_in_the_database(backend: Backend) {
    let first = TestApp::spawn(backend, &[]).await;
    assert!(matches!(first.state.fraud.velocity, Velocity::Database));
    let second = first.another_instance().await;
    concurrent_payments_each_see_a_distinct_count(&[&first, &second]).await;
}

/// Old payments leave the windows; stored buckets are bounded and pruned.
async fn old_velocity_expires(backend: Backend, redis: bool) {
    let env: &[(&str, &str)] = if redis { &[("REDIS_URL", REDIS_TEST_URL)] } else { &[] };
    let app = TestApp::spawn(backend, env).await;
    let engine = &app.state.fraud;
    let subject = Subject { card: format!("fp_old_{}", Utc::now().timestamp_micros()), email: "old@example.com".into(), ip: "192.0.2.1".into(), merchant: 1 };
    let start = Utc::now() - chrono::Duration::days(30);
    let db = app.state.db.primary();
    let record = |at: chrono::DateTime<Utc>| {
        let subject = subject.clone();
        async move {
            let txn = db.begin().await.unwrap();
            let seen = engine.velocity.record(&txn, &subject, 500, at).await.unwrap();
            txn.commit().await.unwrap();
            seen
        }
    };
    record(start).await;
    let two_hours_later = record(start + chrono::Duration::hours(2)).await;
    assert_eq!((two_hours_later["card_count_1h"].clone(), two_hours_later["card_count_24h"].clone()), (json!(0), json!(1)));
    let two_days_later = record(start + chrono::Duration::days(2)).await;
    assert_eq!((two_days_later["card_count_24h"].clone(), two_days_later["card_count_7d"].clone()), (json!(0), json!(2)));
    assert_eq!(two_days_later["card_sum_usd_7d"], json!(10.0));
    let ten_days_later = record(start + chrono::Duration::days(10)).await;
    assert_eq!(ten_days_later["card_count_7d"], json!(0), "a week later nothing is left in the window");

    // A busy card over 12 days: what is stored stays bounded.
    for hour in 0..(12 * 24) {
        record(start + chrono::Duration::days(11) + chrono::Duration::hours(hour)).await;
    }
    let now = start + chrono::Duration::days(23);
    if let Velocity::Redis(_) = &engine.velocity {
        let client = redis::Client::open(REDIS_TEST_URL).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let pattern = format!("{}:velocity:card:*", app.state.config.cache_namespace);
        let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query_async(&mut conn).await.unwrap();
        assert_eq!(keys.len(), 1, "one hash for the one card");
        for key in &keys {
            let fields: i64 = redis::cmd("HLEN").arg(key).query_async(&mut conn).await.unwrap();
            let ttl: i64 = redis::cmd("TTL").arg(key).query_async(&mut conn).await.unwrap();
            assert!(fields <= 130, "{key} holds {fields} fields");
            assert!(ttl > 0 && ttl <= 7 * 86400 + 21600, "{key} expires ({ttl} s)");
        }
    } else {
        let changed = velocity::compact_database(app.state.db.primary(), now).await.unwrap();
        assert!(changed > 0);
        let after = velocity::compact_database(app.state.db.primary(), now).await.unwrap();
        assert_eq!(after, 0, "compacting is complete in one pass");
        let rows =
            db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT count(*) AS n FROM velocity_buckets")).await.unwrap().unwrap();
        // One card's, email's, IP's and merchant's rows (1,152 five-minute buckets before): at
        // most 35 five-minute buckets, 35 hours and 29 six-hour buckets (the week's and one
        // more) each.
        assert!(rows.try_get::<i64>("", "n").unwrap() <= 4 * 99, "what is stored stays bounded");
    }
}

/// What a payment at `at` sees of `payments` (time, amount), as the velocity windows define it:
/// a window is its bucket at `at` and the ones before it, a payment is in the bucket of its time.
fn expected_counts(payments: &[(chrono::DateTime<Utc>, i64)], at: chrono::DateTime<Utc>) -> velocity::Counts {
    let mut out = velocity::Counts::new();
    for dimension in velocity::DIMENSIONS {
        for (window, size, buckets) in velocity::WINDOWS {
            let current = at.timestamp().div_euclid(size);
            let inside: Vec<i64> = payments
                .iter()
                .filter(|(time, _)| (current - buckets + 1..=current).contains(&time.timestamp().div_euclid(size)))
                .map(|(_, amount)| *amount)
                .collect();
            out.insert(format!("{dimension}_count_{window}"), json!(inside.len() as i64));
            out.insert(format!("{dimension}_sum_usd_{window}"), json!(inside.iter().sum::<i64>() as f64 / 100.0));
        }
    }
    out
}

/// What a payment at `at` would see, without counting it (its transaction is rolled back).
async fn velocity_at(db: &sea_orm::DatabaseConnection, subject: &Subject, at: chrono::DateTime<Utc>) -> velocity::Counts {
    let txn = db.begin().await.unwrap();
    let seen = Velocity::Database.record(&txn, subject, 1, at).await.unwrap();
    txn.rollback().await.unwrap();
    seen
}

/// Compacting (merging buckets that left their window into coarser ones, deleting what left
/// the week) changes no count, at the moment it runs, a little before and any time after.
async fn compacting_velocity_changes_no_count(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let subject = Subject { card: "fp_compact".into(), email: "compact@example.com".into(), ip: "192.0.2.3".into(), merchant: 3 };
    // A payment every 37 minutes for nine days: across every bucket boundary.
    let start = Utc::now() - chrono::Duration::days(40);
    let payments: Vec<_> = (0..350).map(|n| (start + chrono::Duration::minutes(37 * n), 100 + n)).collect();
    for (at, amount) in &payments {
        let txn = db.begin().await.unwrap();
        Velocity::Database.record(&txn, &subject, *amount, *at).await.unwrap();
        txn.commit().await.unwrap();
    }
    let compacted_at = start + chrono::Duration::minutes(37 * 350);
    let moments: Vec<_> = [-30, -5, 0, 1, 20, 60, 61, 6 * 60, 25 * 60, 3 * 24 * 60, 8 * 24 * 60].map(|m| compacted_at + chrono::Duration::minutes(m)).to_vec();
    let mut before = Vec::new();
    for at in &moments {
        let seen = velocity_at(db, &subject, *at).await;
        assert_eq!(seen, expected_counts(&payments, *at), "at {at}, before compacting");
        before.push(seen);
    }
    assert!(before[2]["card_count_1h"].as_i64() > Some(0) && before[2]["card_count_7d"].as_i64() > before[2]["card_count_24h"].as_i64());

    let changed = velocity::compact_database(db, compacted_at).await.unwrap();
    assert!(changed > 100, "most 5-minute buckets are merged ({changed} rows)");
    for (at, seen) in moments.iter().zip(&before) {
        assert_eq!(&velocity_at(db, &subject, *at).await, seen, "at {at}, after compacting");
    }
    assert_eq!(velocity::compact_database(db, compacted_at).await.unwrap(), 0, "compacting is complete in one pass");
}

/// Rows of the old layout (each payment in its 5-minute, hour and six-hour bucket, each kept
/// while in its window) are converted so that every window counts what it did; down restores them.
async fn old_velocity_rows_are_converted(backend: Backend) {
    use migration::MigratorTrait;
    use std::collections::BTreeMap;
    let test_db = common::fresh_db(backend).await;
    let db = sea_orm::Database::connect(&test_db.url).await.unwrap();
    // By name: later migrations come after it.
    let before_conversion =
        migration::Migrator::migrations().iter().position(|m| m.name().ends_with("each_payment_in_one_velocity_bucket")).expect("the conversion's migration")
            as u32;
    migration::Migrator::up(&db, Some(before_conversion)).await.unwrap();
    let subject = Subject { card: "fp_convert".into(), email: "convert@example.com".into(), ip: "192.0.2.4".into(), merchant: 4 };
    let now = Utc::now();
    let payments: Vec<_> = (0..300).map(|n| (now - chrono::Duration::minutes(23 * n + 1), 50 + n)).collect();
    let mut old_rows: BTreeMap<(String, i32, i64), (i64, i64)> = BTreeMap::new();
    for (at, amount) in &payments {
        for (_, key) in subject.keys() {
            for (granularity, (_, size, buckets)) in velocity::WINDOWS.into_iter().enumerate() {
                let bucket = at.timestamp().div_euclid(size);
                if bucket > now.timestamp().div_euclid(size) - buckets {
                    let row = old_rows.entry((key.clone(), granularity as i32, bucket)).or_default();
                    row.0 += 1;
                    row.1 += amount;
                }
            }
        }
    }
    let values: Vec<String> = old_rows.iter().map(|((key, g, b), (count, sum))| format!("('{key}', {g}, {b}, {count}, {sum})")).collect();
    db.execute_unprepared(&format!("INSERT INTO velocity_buckets (key, granularity, bucket, count, sum_usd_cents) VALUES {}", values.join(", ")))
        .await
        .unwrap();

    migration::Migrator::up(&db, Some(1)).await.unwrap();
    for at in [now, now + chrono::Duration::minutes(30), now + chrono::Duration::hours(20), now + chrono::Duration::days(3)] {
        assert_eq!(velocity_at(&db, &subject, at).await, expected_counts(&payments, at), "at {at}, after converting");
    }

    migration::Migrator::down(&db, Some(1)).await.unwrap();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT key, granularity, bucket, count, sum_usd_cents FROM velocity_buckets",
        ))
        .await
        .unwrap();
    let restored: BTreeMap<(String, i32, i64), (i64, i64)> = rows
        .iter()
        .map(|row| {
            let column = |name: &str| row.try_get::<i64>("", name).unwrap();
            (
                (row.try_get::<String>("", "key").unwrap(), row.try_get::<i32>("", "granularity").unwrap(), column("bucket")),
                (column("count"), column("sum_usd_cents")),
            )
        })
        .collect();
    assert_eq!(restored, old_rows, "down restores the old layout");
}

async fn old_velocity_expires_in_the_database(backend: Backend) {
    old_velocity_expires(backend, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_velocity_expires_in_redis() {
    old_velocity_expires(Backend::Sqlite, true).await;
}

/// Waits (bounded) until `instance` has loaded ruleset `version`.
async fn until_version(instance: &TestApp, version: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let loaded = instance.state.fraud.current().await.unwrap().ruleset_version;
        if loaded == version {
            return;
        }
        assert!(Instant::now() < deadline, "instance still on version {loaded}, expected {version}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn rulesets_publish_and_roll_back_on_every_instance(backend: Backend) {
    let first = TestApp::spawn(backend, &[]).await;
    let second = first.another_instance().await;
    let key = api_key(&first).await;
    let admin = first.client_as(Who::Admin).await;
    let rpc = |path: &'static str, body: Value| {
        let request = admin.post(first.url(path)).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };

    // Save-time checks: bad syntax, an unknown field, a type mismatch — each with its position,
    // and nothing saved.
    let mut draft = vetted::server::fraud::default_rules::ruleset();
    let bad = |name: &str, expression: &str| RuleSpec {
        name: name.into(),
        description: String::new(),
        expression: expression.into(),
        effect: RuleEffectSpec::Block,
        enabled: true,
        mode: RuleModeSpec::Live,
    };
    let mut broken = draft.clone();
    broken.rules.extend([bad("syntax", "transaction.amount_usd >"), bad("unknown", "transaction.amout > 1.0"), bad("types", "transaction.buyer_email > 10")]);
    let (status, problems) = rpc("/rpc/admin/validate_ruleset", json!({ "draft": broken })).await;
    assert_eq!(status, 200);
    let problems = problems.as_array().unwrap();
    let named: BTreeSet<&str> = problems.iter().map(|p| p["rule_name"].as_str().unwrap()).collect();
    assert_eq!(named, BTreeSet::from(["syntax", "types", "unknown"]), "{problems:?}");
    assert!(problems.iter().all(|p| p["line"] == 1 && p["column"].as_u64().unwrap() >= 1), "{problems:?}");
    assert!(problems.iter().any(|p| p["message"].as_str().unwrap().contains("amout")), "{problems:?}");
    let (status, body) = rpc("/rpc/admin/save_ruleset_draft", json!({ "draft": broken })).await;
    assert_eq!(status, 422, "{body}");
    let (_, versions) = rpc("/rpc/admin/ruleset_versions", json!({})).await;
    assert_eq!(versions.as_array().unwrap().len(), 1, "nothing saved");

    // A new version that blocks anything above $100, published on the first instance…
    draft.rules.push(RuleSpec {
        name: "Over $100".into(),
        description: "Blocks large payments".into(),
        expression: "transaction.amount_usd > 100.0".into(),
        effect: RuleEffectSpec::Block,
        enabled: true,
        mode: RuleModeSpec::Live,
    });
    draft.note = "block over $100".into();
    let (status, saved) = rpc("/rpc/admin/save_ruleset_draft", json!({ "draft": draft })).await;
    assert_eq!((status, saved["version"].as_i64(), saved["status"].as_str()), (200, Some(2), Some("draft")), "{saved}");
    let before = ingest(&second, &key, &sale("r1", "fp_r1", 20_000)).await;
    assert_eq!(before["outcome"], "allow", "a draft decides nothing");
    let (status, _) = rpc("/rpc/admin/publish_ruleset", json!({ "version": 2, "note": "block over $100" })).await;
    assert_eq!(status, 200);

    // …decides on the second instance, which reloads on its own.
    until_version(&second, 2).await;
    let after = ingest(&second, &key, &sale("r2", "fp_r2", 20_000)).await;
    assert_eq!((after["outcome"].as_str(), after["ruleset_version"].as_i64()), (Some("block"), Some(2)), "{after}");

    // Rolling back brings version 1 back everywhere; version 2 is kept.
    let (status, rolled) = rpc("/rpc/admin/rollback_ruleset", json!({ "reason": "too many blocks" })).await;
    assert_eq!((status, rolled["version"].as_i64()), (200, Some(1)));
    until_version(&second, 1).await;
    let again = ingest(&second, &key, &sale("r3", "fp_r3", 20_000)).await;
    assert_eq!((again["outcome"].as_str(), again["ruleset_version"].as_i64()), (Some("allow"), Some(1)));
    let (_, versions) = rpc("/rpc/admin/ruleset_versions", json!({})).await;
    let statuses: Vec<(i64, &str)> = versions.as_array().unwrap().iter().map(|v| (v["version"].as_i64().unwrap(), v["status"].as_str().unwrap())).collect();
    assert_eq!(statuses, [(2, "retired"), (1, "published")]);
}

async fn list_changes_reach_every_instance_and_entries_expire(backend: Backend) {
    let first = TestApp::spawn(backend, &[]).await;
    let second = first.another_instance().await;
    let key = api_key(&first).await;
    let admin = first.client_as(Who::Admin).await;

    // Bad input is refused with a specific message and changes nothing.
    let response = admin
        .post(first.url("/rpc/admin/add_list_entry"))
        .json(&json!({ "list": "blocked_ips", "value": "10.0.0.300", "reason": "x", "expires_at": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("not a valid IP address or CIDR range"));

    let response = admin
        .post(first.url("/rpc/admin/add_list_entry"))
        .json(&json!({ "list": "blocked_cards", "value": "fp_stolen_77", "reason": "issuer report", "expires_at": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let decided = ingest(&second, &key, &sale(&format!("l{}", Utc::now().timestamp_micros()), "fp_stolen_77", 1000)).await;
        if decided["outcome"] == "block" {
            assert_eq!(decided["matched_rules"][0]["name"], "Blocked card");
            break;
        }
        assert!(Instant::now() < deadline, "the second instance never saw the new list entry");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // An entry with an expiry stops matching once it has passed, also after a reload.
    let now = Utc::now();
    let entry = ListEntry {
        value: String::new(),
        reason: "for a day".into(),
        expires_at: Some(now + chrono::Duration::days(1)),
        added_by: "tests".into(),
        source: "admin".into(),
        merchant_id: None,
    };
    list_store::add_entry(first.state.db.primary(), "blocked_emails", "temp@example.com", entry, now).await.unwrap();
    let today = list_store::load(first.state.db.primary(), now).await.unwrap();
    assert!(today.find("blocked_emails", "temp@example.com", None, now).is_some());
    assert!(today.find("blocked_emails", "temp@example.com", None, now + chrono::Duration::days(2)).is_none());
    let in_two_days = list_store::load(first.state.db.primary(), now + chrono::Duration::days(2)).await.unwrap();
    assert!(in_two_days.find("blocked_emails", "temp@example.com", None, now).is_none());
}

/// The text of `/metrics` (from the machine itself: no token needed).
async fn metrics_text(app: &TestApp) -> String {
    reqwest::Client::new().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap()
}

/// The value of the series `name{labels}` on `/metrics`, if it is there.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = reqwest::Client::new().get(app.url("/readyz")).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Saves and publishes `draft` as the next version, and reloads `app` at once.
async fn publish(app: &TestApp, draft: &vetted::app::dto::RulesetDraft) -> i32 {
    let db = app.state.db.primary();
    let saved = versions::save_draft(db, draft, "tests", None, Utc::now()).await.unwrap();
    versions::publish(db, saved.version, "test", "tests", versions::Approval::AnyAdmin, Utc::now()).await.unwrap();
    app.state.fraud.refresh().await.unwrap();
    saved.version
}

fn block_over_100(name: &str) -> RuleSpec {
    RuleSpec {
        name: name.into(),
        description: "Blocks large payments".into(),
        expression: "transaction.amount_usd > 100.0".into(),
        effect: RuleEffectSpec::Block,
        enabled: true,
        mode: RuleModeSpec::Live,
    }
}

/// A published ruleset that stops compiling (its row changed under it, as a schema change
/// would): the instance keeps deciding with the last ruleset that compiled, and says so on
/// `/readyz` (still 200) and `/metrics`; an instance that never compiled one decides with none,
/// and says so too. Publishing a good version ends it.
async fn a_published_ruleset_that_stops_compiling_leaves_the_last_good_one_deciding(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let key = api_key(&app).await;
    let db = app.state.db.primary();
    // The gauge is the process's, shared by the tests running beside this one: a version
    // number of its own for each database.
    let mut draft = vetted::server::fraud::default_rules::ruleset();
    if backend == Backend::Postgres {
        publish(&app, &draft).await;
    }
    draft.rules.push(block_over_100("Over $100"));
    let good = publish(&app, &draft).await;
    let blocked = ingest(&app, &key, &sale("c1", "fp_c1", 20_000)).await;
    assert_eq!((blocked["outcome"].as_str(), blocked["ruleset_version"].as_i64()), (Some("block"), Some(good as i64)), "{blocked}");
    let (status, ready) = readyz(&app).await;
    assert_eq!((status, ready["fraud_rules"].as_str()), (200, Some("ok")), "{ready}");

    // The stored rule now reads a field the rules no longer know.
    db.execute_unprepared(
        "UPDATE rulesets SET rules = REPLACE(rules, 'transaction.amount_usd > 100.0', 'transaction.amount_cents > 10000') WHERE status = 'published'",
    )
    .await
    .unwrap();
    vetted::server::fraud::generation::bump(db).await.unwrap();
    assert!(app.state.fraud.refresh().await.unwrap(), "the moved generation is reloaded");

    let still = ingest(&app, &key, &sale("c2", "fp_c2", 20_000)).await;
    assert_eq!((still["outcome"].as_str(), still["ruleset_version"].as_i64()), (Some("block"), Some(good as i64)), "the last good rules decide: {still}");
    assert_eq!(still["matched_rules"][0]["name"], "Over $100");
    let (status, ready) = readyz(&app).await;
    assert_eq!((status, ready["fraud_rules"].as_str(), ready["database"].as_str()), (200, Some("degraded"), Some("ok")), "{ready}");
    let failing = format!("vetted_fraud_ruleset_compile_failed{{version=\"{good}\"}}");
    assert_eq!(metric(&metrics_text(&app).await, &failing), Some(1.0), "{failing} on /metrics");

    // A row that cannot be read as rules at all (its JSON changed shape): the same.
    db.execute_unprepared("UPDATE rulesets SET rules = '{\"rules\": \"elsewhere\"}' WHERE status = 'published'").await.unwrap();
    vetted::server::fraud::generation::bump(db).await.unwrap();
    app.state.fraud.refresh().await.unwrap();
    let again = ingest(&app, &key, &sale("c3", "fp_c3", 20_000)).await;
    assert_eq!((again["outcome"].as_str(), again["ruleset_version"].as_i64()), (Some("block"), Some(good as i64)), "{again}");
    assert!(
        matches!(app.state.fraud.rules_health(), RulesHealth::Degraded { failing_version, deciding_with, .. } if failing_version == good && deciding_with == good)
    );

    // An instance that starts now never compiled a ruleset: no rules, and degraded too.
    let fresh = app.another_instance().await;
    let unruled = ingest(&fresh, &key, &sale("c4", "fp_c4", 20_000)).await;
    assert_eq!((unruled["outcome"].as_str(), unruled["ruleset_version"].as_i64()), (Some("allow"), Some(0)), "{unruled}");
    assert_eq!(readyz(&fresh).await.1["fraud_rules"], "degraded");

    // Rolling back publishes a version that compiles: the failure is over everywhere.
    versions::rollback(db, "test", "tests", Utc::now()).await.unwrap();
    app.state.fraud.refresh().await.unwrap();
    assert_eq!(readyz(&app).await.1["fraud_rules"], "ok");
    assert_eq!(metric(&metrics_text(&app).await, &failing), Some(0.0));
}

/// A rule that fails at run time is counted on `/metrics` under its name, once per stored
/// decision (a replayed answer is not counted again).
async fn rule_errors_are_counted_per_rule(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let key = api_key(&app).await;
    let name = format!("Divides by zero on {backend:?}");
    let mut draft = vetted::server::fraud::default_rules::ruleset();
    draft.rules.push(RuleSpec {
        name: name.clone(),
        description: String::new(),
        expression: "merchant.age_days / (merchant.age_days - merchant.age_days) > 1".into(),
        effect: RuleEffectSpec::Score(10.0),
        enabled: true,
        mode: RuleModeSpec::Live,
    });
    publish(&app, &draft).await;
    let series = format!("vetted_fraud_rule_errors_total{{rule=\"{name}\"}}");
    assert_eq!(metric(&metrics_text(&app).await, &series), None);
    for n in 0..3 {
        let decided = ingest(&app, &key, &sale(&format!("e{n}"), "fp_errors", 1_000)).await;
        assert_eq!(decided["rule_errors"][0]["name"].as_str(), Some(name.as_str()), "{decided}");
    }
    let replay = reqwest::Client::new().post(app.url("/api/v1/transactions")).bearer_auth(&key).json(&sale("e0", "fp_errors", 1_000)).send().await.unwrap();
    assert_eq!(replay.status(), 200, "a replay");
    assert_eq!(metric(&metrics_text(&app).await, &series), Some(3.0), "{series}");
}

/// Rules as deep as the bounds allow are published, loaded and decide in the server, whose
/// threads have the usual 2 MiB stacks (parsing runs on a stack of its own; evaluating
/// does not).
async fn rules_at_the_nesting_bound_decide_in_the_server(backend: Backend) {
    use vetted::server::fraud::rule_limits::{measure, MAX_NESTING};
    let app = TestApp::spawn(backend, &[]).await;
    let key = api_key(&app).await;
    let deepest = |shape: &dyn Fn(usize) -> String| {
        let n = (1..1_000).take_while(|n| measure(&shape(*n)).nesting.levels <= MAX_NESTING).last().unwrap();
        shape(n)
    };
    let shapes: [&dyn Fn(usize) -> String; 3] = [
        &|n| format!("{}transaction.amount_usd{} != []", "[".repeat(n), "]".repeat(n)),
        &|n| format!("{}transaction.amount_usd > 0.0{}", "(".repeat(n), ")".repeat(n)),
        &|n| format!("transaction.amount_usd{} > 0.0", " + transaction.amount_usd".repeat(n)),
    ];
    let mut draft = vetted::server::fraud::default_rules::ruleset();
    for (i, shape) in shapes.iter().enumerate() {
        let expression = deepest(shape);
        assert!(measure(&expression).nesting.levels >= MAX_NESTING - 1, "{expression}");
        draft.rules.push(RuleSpec { expression, effect: RuleEffectSpec::Score(1.0), ..block_over_100(&format!("deep {i}")) });
    }
    publish(&app, &draft).await;
    let decided = ingest(&app, &key, &sale("deep1", "fp_deep", 5_000)).await;
    let matched: BTreeSet<&str> = decided["matched_rules"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(["deep 0", "deep 1", "deep 2"].iter().all(|name| matched.contains(name)), "the deep rules matched: {decided}");
}

/// Rule names label metrics: bounded in length, and no control characters.
#[test]
fn rule_names_are_bounded() {
    let mut draft = vetted::server::fraud::default_rules::ruleset();
    draft.rules.push(block_over_100(&"n".repeat(versions::MAX_RULE_NAME_CHARS + 1)));
    draft.rules.push(block_over_100("two\nlines"));
    let problems = versions::validate(&draft);
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages, ["a rule needs a name of 1 to 100 characters", "a rule's name must not hold control characters (line breaks, tabs, …)"]);
}

/// A ruleset holds at most `MAX_RULES` rules; one over is refused at once, with the numbers, and
/// its rules are not checked one by one.
#[test]
fn a_ruleset_is_bounded_in_rules() {
    let mut draft = vetted::server::fraud::default_rules::ruleset();
    let filler = draft.rules.len();
    draft.rules.extend((filler..versions::MAX_RULES).map(|n| block_over_100(&format!("rule {n}"))));
    assert_eq!(versions::validate(&draft), vec![], "{} rules are fine", versions::MAX_RULES);
    draft.rules.push(block_over_100("one too many"));
    draft.rules.push(RuleSpec { expression: "(".repeat(10_000), ..block_over_100("never checked") });
    let problems = versions::validate(&draft);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].message, format!("the ruleset has {} rules; the limit is {}", versions::MAX_RULES + 2, versions::MAX_RULES));
}

on_both_databases!(
    a_published_ruleset_that_stops_compiling_leaves_the_last_good_one_deciding,
    rule_errors_are_counted_per_rule,
    rules_at_the_nesting_bound_decide_in_the_server,
    velocity_is_exact_under_concurrency_in_the_database,
    old_velocity_expires_in_the_database,
    compacting_velocity_changes_no_count,
    old_velocity_rows_are_converted,
    rulesets_publish_and_roll_back_on_every_instance,
    list_changes_reach_every_instance_and_entries_expire,
);

/// A payment counted in Redis whose ingest then failed is taken back, so the retry counts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_ingest_takes_its_redis_velocity_back() {
    let app = TestApp::spawn(Backend::Sqlite, &[("REDIS_URL", REDIS_TEST_URL)]).await;
    let engine = &app.state.fraud;
    let subject = Subject { card: format!("fp_undo_{}", Utc::now().timestamp_micros()), email: "undo@example.com".into(), ip: "192.0.2.9".into(), merchant: 2 };
    let now = Utc::now();
    let db = app.state.db.primary();
    let first = engine.velocity.record(db, &subject, 700, now).await.unwrap();
    assert_eq!(first["card_count_1h"], json!(0));
    engine.velocity.undo(&subject, 700, now).await;
    let retry = engine.velocity.record(db, &subject, 700, now).await.unwrap();
    assert_eq!((retry["card_count_1h"].clone(), retry["card_sum_usd_1h"].clone()), (json!(0), json!(0.0)), "the failed attempt no longer counts");
    let next = engine.velocity.record(db, &subject, 700, now).await.unwrap();
    assert_eq!((next["card_count_1h"].clone(), next["card_sum_usd_1h"].clone()), (json!(1), json!(7.0)));
}
