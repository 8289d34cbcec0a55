//! Group commit, driven directly: ingests stored together see each other's velocity in order, a
//! repeat within the batch is answered as a duplicate, a batch with one bad ingest stores the
//! others and fails only that one (taking its Redis velocity back), and batching the velocity
//! gives exactly what counting one payment at a time gives. On SQLite, the writer copies the
//! write-ahead log back into the database when it is idle, so the log starts over.
mod common;

use std::time::Instant;

use chrono::Utc;
use common::{Backend, TestApp, REDIS_TEST_URL};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::json;
use vetted::server::db::entities::{ingest_request, transaction};
use vetted::server::fraud::decision::{Caller, DecisionResponse, IngestError, Pending, Stored};
use vetted::server::fraud::ingest;
use vetted::server::fraud::input::TransactionInput;
use vetted::server::fraud::velocity::{Payment, Subject};
use vetted::server::fraud::writer::{store_together, WriterConnection};

fn input(external_id: &str, card: &str, amount: i64) -> TransactionInput {
    TransactionInput {
        external_id: external_id.into(),
        merchant_id: 1,
        amount,
        currency: "USD".into(),
        buyer_email: format!("{external_id}@example.com"),
        buyer_ip: "198.51.100.7".into(),
        ip_country: Some("US".into()),
        card_fingerprint: card.into(),
        card_bin: None,
        card_country: "US".into(),
        product_id: None,
    }
}

async fn pending(app: &TestApp, input: TransactionInput) -> Pending {
    let merchant = ingest::merchant_facts(app.state.db.primary(), &app.state.cache, input.merchant_id).await.unwrap().unwrap();
    Pending {
        hash: ingest::request_hash(&input),
        caller: Caller { api_key_id: 0, idempotency_key: None },
        merchant,
        loaded: app.state.fraud.current().await.unwrap(),
        started: Instant::now(),
        input,
    }
}

async fn a_batch_is_stored_together_and_a_bad_ingest_fails_alone(backend: Backend, redis: bool) {
    let env: &[(&str, &str)] = if redis { &[("REDIS_URL", REDIS_TEST_URL)] } else { &[] };
    let app = TestApp::spawn(backend, env).await;
    let db = app.state.db.primary();
    let api_key = vetted::server::fraud::api_keys::create(db, "tests", "tests", Utc::now()).await.unwrap();
    let tag = Utc::now().timestamp_micros();
    let card = format!("fp_group_{tag}");
    let with_key = |mut p: Pending| {
        p.caller.api_key_id = api_key.summary.id;
        p
    };

    // One batch: three payments on one card, a repeat of the first, and one naming a product
    // that does not exist (the database refuses it).
    let mut bad = input(&format!("g{tag}-bad"), &card, 400);
    bad.product_id = Some(i32::MAX);
    let batch = vec![
        with_key(pending(&app, input(&format!("g{tag}-0"), &card, 100)).await),
        with_key(pending(&app, input(&format!("g{tag}-1"), &card, 200)).await),
        with_key(pending(&app, input(&format!("g{tag}-0"), &card, 100)).await),
        with_key(pending(&app, bad).await),
        with_key(pending(&app, input(&format!("g{tag}-2"), &card, 300)).await),
    ];
    let refs: Vec<&Pending> = batch.iter().collect();
    // The writer's own connection: on SQLite, rusqlite on the writer's thread; here, inline.
    let writer = WriterConnection::open(&app.state.db).unwrap();
    let answers = store_together(&writer, &app.state.fraud.velocity, &refs).await;

    let decided: Vec<_> = answers
        .iter()
        .map(|a| match a {
            Ok(Stored::Decided { response, .. }) => Some(response.clone()),
            _ => None,
        })
        .collect();
    assert!(decided[0].is_some() && decided[1].is_some() && decided[4].is_some(), "the good ingests are stored");
    assert!(matches!(answers[2], Ok(Stored::Duplicate)), "the repeat is answered from the first");
    assert!(matches!(answers[3], Err(IngestError::Database(_))), "the bad ingest fails alone");

    // Each saw the payments on the card before it, in order, and nothing of the failed one.
    let seen = |i: usize, key: &'static str| {
        let id = decided[i].as_ref().unwrap().decision_id;
        async move {
            let record = vetted::server::db::entities::decision::Entity::find_by_id(id).one(db).await.unwrap().unwrap();
            let results: serde_json::Value = serde_json::from_str(&record.results).unwrap();
            results["facts"]["velocity"].get(key).cloned().unwrap_or(json!(0))
        }
    };
    assert_eq!(seen(0, "card_count_1h").await, json!(0));
    assert_eq!(seen(1, "card_count_1h").await, json!(1));
    assert_eq!(seen(4, "card_count_1h").await, json!(2));
    assert_eq!(seen(4, "card_sum_usd_24h").await, json!(3.0), "$1 + $2 before the third");

    // Stored exactly once: three transactions and three answered claims for this card's batch.
    let stored = transaction::Entity::find().filter(transaction::Column::CardFingerprint.eq(card.clone())).count(db).await.unwrap();
    assert_eq!(stored, 3);
    let claims = ingest_request::Entity::find().filter(ingest_request::Column::ExternalId.starts_with(format!("g{tag}-"))).all(db).await.unwrap();
    assert_eq!(claims.len(), 3, "no claim is left behind by the failed ingest");
    assert!(claims.iter().all(|c| c.response.is_some() && c.transaction_id.is_some()));

    // The next payment on the card sees exactly the three stored ones: the failed one's velocity
    // was rolled back (database) or taken back (Redis).
    let next = store_together(&writer, &app.state.fraud.velocity, &[&with_key(pending(&app, input(&format!("g{tag}-3"), &card, 100)).await)]).await;
    let Ok(Stored::Decided { response, .. }) = &next[0] else { panic!("the next payment is stored") };
    let record = vetted::server::db::entities::decision::Entity::find_by_id(response.decision_id).one(db).await.unwrap().unwrap();
    let results: serde_json::Value = serde_json::from_str(&record.results).unwrap();
    assert_eq!(results["facts"]["velocity"]["card_count_1h"], json!(3));
    assert_eq!(results["facts"]["velocity"]["card_sum_usd_1h"], json!(6.0));
}

async fn batch_on_the_database(backend: Backend) {
    a_batch_is_stored_together_and_a_bad_ingest_fails_alone(backend, false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_with_redis_velocity() {
    a_batch_is_stored_together_and_a_bad_ingest_fails_alone(Backend::Postgres, true).await
}

/// Counting many payments at once gives each what counting them one at a time would have.
async fn counting_together_equals_counting_one_by_one(backend: Backend, redis: bool) {
    let env: &[(&str, &str)] = if redis { &[("REDIS_URL", REDIS_TEST_URL)] } else { &[] };
    let app = TestApp::spawn(backend, env).await;
    let velocity = &app.state.fraud.velocity;
    let db = app.state.db.primary();
    let tag = Utc::now().timestamp_micros();
    // Two cards, three emails, shared IP and merchant, in an interleaved order.
    let payments = |prefix: &str| -> Vec<Payment> {
        (0..12)
            .map(|i: i64| Payment {
                subject: Subject {
                    card: format!("{prefix}{tag}-card{}", i % 2),
                    email: format!("{prefix}{tag}-{}@example.com", i % 3),
                    ip: format!("203.0.113.{}", tag % 200),
                    merchant: 3,
                },
                amount_usd_cents: 100 * (i + 1),
            })
            .collect()
    };
    let now = Utc::now();
    let txn = db.begin().await.unwrap();
    let together = velocity.record_all(&txn, &payments("t"), now).await.unwrap();
    txn.commit().await.unwrap();
    let mut one_by_one = Vec::new();
    for payment in payments("s") {
        let txn = db.begin().await.unwrap();
        one_by_one.push(velocity.record(&txn, &payment.subject, payment.amount_usd_cents, now).await.unwrap());
        txn.commit().await.unwrap();
    }
    // The IP is shared by both runs: compare it as an offset from each run's first payment.
    for (t, s) in together.iter().zip(&one_by_one) {
        for key in t.keys().filter(|k| k.starts_with("card") || k.starts_with("email")) {
            assert_eq!(t[key], s[key], "{key}");
        }
    }
    assert_eq!(together[11]["card_count_1h"], json!(5), "six payments per card, the last sees five");
    assert_eq!(together[11]["email_sum_usd_24h"], json!((3 + 6 + 9) as f64), "email 2 paid $3, $6, $9 before");
    let ip_first = together[0]["ip_count_1h"].as_i64().unwrap();
    assert_eq!(together[11]["ip_count_1h"].as_i64().unwrap() - ip_first, 11);
    assert_eq!(one_by_one[0]["ip_count_1h"].as_i64().unwrap(), ip_first + 12, "the second run sees the first");
}

async fn counting_in_the_database(backend: Backend) {
    counting_together_equals_counting_one_by_one(backend, false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counting_in_redis() {
    counting_together_equals_counting_one_by_one(Backend::Sqlite, true).await
}

/// A payment whose claim is refused (stored before, in an earlier batch) is not counted again:
/// not in the batch that repeats it (on PostgreSQL the claims and the velocity are one
/// statement there), nor after.
async fn a_repeated_ingest_is_not_counted_again(backend: Backend, redis: bool) {
    let env: &[(&str, &str)] = if redis { &[("REDIS_URL", REDIS_TEST_URL)] } else { &[] };
    let app = TestApp::spawn(backend, env).await;
    let velocity = &app.state.fraud.velocity;
    let writer = WriterConnection::open(&app.state.db).unwrap();
    let tag = Utc::now().timestamp_micros();
    let card = format!("fp_repeat_{tag}");
    let card_velocity = |answer: &Result<Stored, IngestError>| {
        let Ok(Stored::Decided { response }) = answer else { panic!("stored") };
        let decision_id = response.decision_id;
        let db = app.state.db.primary().clone();
        async move {
            let record = vetted::server::db::entities::decision::Entity::find_by_id(decision_id).one(&db).await.unwrap().unwrap();
            let results: serde_json::Value = serde_json::from_str(&record.results).unwrap();
            // Zeros are left out of the record.
            let velocity = &results["facts"]["velocity"];
            (velocity["card_count_1h"].as_i64().unwrap_or(0), velocity["card_sum_usd_1h"].as_f64().unwrap_or(0.0))
        }
    };

    let first = store_together(&writer, velocity, &[&pending(&app, input(&format!("r{tag}-0"), &card, 100)).await]).await;
    assert_eq!(card_velocity(&first[0]).await, (0, 0.0));
    let repeat = pending(&app, input(&format!("r{tag}-0"), &card, 100)).await;
    let second = store_together(&writer, velocity, &[&repeat, &pending(&app, input(&format!("r{tag}-1"), &card, 200)).await]).await;
    assert!(matches!(second[0], Ok(Stored::Duplicate)), "the repeat is refused");
    assert_eq!(card_velocity(&second[1]).await, (1, 1.0), "only the first $1 before it");
    let third = store_together(&writer, velocity, &[&pending(&app, input(&format!("r{tag}-2"), &card, 400)).await]).await;
    assert_eq!(card_velocity(&third[0]).await, (2, 3.0), "$1 and $2: the repeat never counted");
}

async fn repeat_on_the_database(backend: Backend) {
    a_repeated_ingest_is_not_counted_again(backend, false).await
}

/// The writer counts a payment's older velocity rows, of every granularity, into each window
/// they lie in (on PostgreSQL its claims statement sums them), and the current bucket once.
/// A card paid $1 just now, $2 twenty minutes ago, $4 ninety minutes ago, $8 three hours ago,
/// $16 28 hours ago, $32 three days ago and $256 nine days ago, compacted as the job does
/// (which leaves 5-minute rows in the day, hours in the week and deletes what left it); then
/// two six-hour rows go in at the week's edge, $64 just inside and $128 just outside.
async fn the_writer_counts_older_rows_into_their_windows(backend: Backend) {
    use sea_orm::ConnectionTrait;
    use vetted::server::fraud::velocity::{self, Velocity};
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let tag = Utc::now().timestamp_micros();
    let card = format!("fp_older_{tag}");
    let now = Utc::now();
    let subject = Subject { card: card.clone(), email: format!("older{tag}@example.com"), ip: "192.0.2.9".into(), merchant: 1 };
    let (minutes, hours, days) = (chrono::Duration::minutes, chrono::Duration::hours, chrono::Duration::days);
    for (ago, dollars) in [(minutes(0), 1), (minutes(20), 2), (minutes(90), 4), (hours(3), 8), (hours(28), 16), (days(3), 32), (days(9), 256)] {
        let txn = db.begin().await.unwrap();
        Velocity::Database.record(&txn, &subject, dollars * 100, now - ago).await.unwrap();
        txn.commit().await.unwrap();
    }
    assert!(velocity::compact_database(db, now).await.unwrap() > 0, "some rows are merged into hours and six hours");
    let (_, card_key) = &subject.keys()[0];
    let (_, six_hours, buckets_in_week) = velocity::WINDOWS[2];
    let first_in_week = now.timestamp().div_euclid(six_hours) - (buckets_in_week - 1);
    db.execute_unprepared(&format!(
        "INSERT INTO velocity_buckets (key, granularity, bucket, count, sum_usd_cents) VALUES ('{card_key}', 2, {first_in_week}, 1, 6400), ('{card_key}', 2, {}, 1, 12800)",
        first_in_week - 1
    ))
    .await
    .unwrap();

    let writer = WriterConnection::open(&app.state.db).unwrap();
    let stored = store_together(&writer, &app.state.fraud.velocity, &[&pending(&app, input(&format!("o{tag}"), &card, 100)).await]).await;
    let Ok(Stored::Decided { response }) = &stored[0] else { panic!("stored") };
    let record = vetted::server::db::entities::decision::Entity::find_by_id(response.decision_id).one(db).await.unwrap().unwrap();
    let results: serde_json::Value = serde_json::from_str(&record.results).unwrap();
    let seen = &results["facts"]["velocity"];
    let window = |name: &str| (seen[format!("card_count_{name}")].as_i64().unwrap_or(0), seen[format!("card_sum_usd_{name}")].as_f64().unwrap_or(0.0));
    assert_eq!(window("1h"), (2, 3.0), "$1 and $2");
    assert_eq!(window("24h"), (4, 15.0), "and $4 and $8");
    assert_eq!(window("7d"), (7, 127.0), "and $16, $32 and $64; not $128 nor $256");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeat_with_redis_velocity() {
    a_repeated_ingest_is_not_counted_again(Backend::Postgres, true).await
}

on_both_databases!(batch_on_the_database, counting_in_the_database, repeat_on_the_database, the_writer_counts_older_rows_into_their_windows);

/// The server process of the connection `txn` runs on.
async fn backend_pid(txn: &vetted::server::db::pg_writer::PgTransaction<'_>) -> i64 {
    use vetted::server::db::batch::BatchConnection;
    txn.rows("SELECT pg_backend_pid()::bigint AS pid", vec![]).await.unwrap()[0].i64("pid").unwrap()
}

/// PostgreSQL's writer connection stays inside an open transaction between batches. A commit
/// is seen by other connections and the connection is kept; a batch dropped before its commit
/// is rolled back (its connection is closed), and the next batch runs on a fresh connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writer_commits_keeps_its_connection_and_drops_an_unfinished_batch() {
    use vetted::server::db::batch::BatchConnection;
    use vetted::server::db::pg_writer::PgWriterConnection;
    let test_db = common::fresh_db(Backend::Postgres).await;
    let db = vetted::server::db::Db::connect(&test_db.url, None).await.unwrap();
    db.migrate().await.unwrap();
    let writer = PgWriterConnection::new(db.writer().get_postgres_connection_pool().clone());
    let insert = |key: &str| (format!("INSERT INTO velocity_buckets (key, granularity, bucket, count, sum_usd_cents) VALUES ('{key}', 0, 1, 1, 100)"), vec![]);
    let stored = |key: &'static str| {
        let primary = db.primary().clone();
        async move {
            use sea_orm::ConnectionTrait;
            let sql = format!("SELECT count(*)::bigint AS n FROM velocity_buckets WHERE key = '{key}'");
            let row = primary.query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql)).await.unwrap().unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };

    let txn = writer.begin().await.unwrap();
    let first_pid = backend_pid(&txn).await;
    let (sql, values) = insert("committed");
    txn.run(&sql, values).await.unwrap();
    assert_eq!(stored("committed").await, 0, "not seen before its commit");
    txn.commit().await.unwrap();
    assert_eq!(stored("committed").await, 1, "seen once committed");

    let txn = writer.begin().await.unwrap();
    assert_eq!(backend_pid(&txn).await, first_pid, "the same connection, kept");
    // now() is when the transaction began: with the last commit, before this statement.
    let began_before = txn.rows("SELECT (now() < statement_timestamp())::text AS began_before", vec![]).await.unwrap()[0].string("began_before").unwrap();
    assert_eq!(began_before, "true", "inside the transaction begun with the last commit");
    let (sql, values) = insert("dropped");
    txn.run(&sql, values).await.unwrap();
    drop(txn);

    let txn = writer.begin().await.unwrap();
    assert_ne!(backend_pid(&txn).await, first_pid, "a fresh connection after the dropped batch");
    txn.rollback().await.unwrap();
    assert_eq!(stored("dropped").await, 0, "the dropped batch was rolled back");
}

/// The checkpoint sequence number in the header of SQLite's write-ahead log. SQLite moves it
/// when it starts the log over, which it does only once everything in it was copied back into
/// the database file and no reader needs it any more.
fn wal_checkpoint_sequence(wal: &std::path::Path) -> u32 {
    let header = std::fs::read(wal).expect("the database is in WAL mode");
    u32::from_be_bytes(header[12..16].try_into().unwrap())
}

/// Just a SQLite database and the fraud engine: no background task writes in between.
struct EngineOnly {
    url: String,
    db: vetted::server::db::Db,
    cache: vetted::server::cache::Cache,
    engine: vetted::server::fraud::engine::FraudEngine,
}

impl EngineOnly {
    async fn start() -> EngineOnly {
        let test_db = common::fresh_db(Backend::Sqlite).await;
        let db = vetted::server::db::Db::connect(&test_db.url, None).await.unwrap();
        db.migrate().await.unwrap();
        vetted::server::seed::seed(db.primary(), &common::small_seed()).await.unwrap();
        let cache = vetted::server::cache::Cache::memory(100);
        let engine = vetted::server::fraud::engine::FraudEngine::new(db.clone(), &cache);
        EngineOnly { url: test_db.url, db, cache, engine }
    }

    /// Stores a $1 payment through the engine's writer; its response.
    async fn store(&self, external_id: &str, card: &str) -> DecisionResponse {
        let input = input(external_id, card, 100);
        let pending = Pending {
            hash: ingest::request_hash(&input),
            caller: Caller { api_key_id: 0, idempotency_key: None },
            merchant: ingest::merchant_facts(self.db.primary(), &self.cache, input.merchant_id).await.unwrap().unwrap(),
            loaded: self.engine.current().await.unwrap(),
            started: Instant::now(),
            input,
        };
        match self.engine.writer.store(pending).await {
            Ok(Stored::Decided { response }) => response,
            _ => panic!("{external_id} was not stored"),
        }
    }
}

#[tokio::test]
async fn on_sqlite_the_checkpointer_copies_the_log_back_so_it_starts_over() {
    let app = EngineOnly::start().await;
    let engine = &app.engine;
    let path = app.url.trim_start_matches("sqlite://").split('?').next().unwrap().to_string();
    let wal = std::path::PathBuf::from(format!("{path}-wal"));
    let store = |external_id: &'static str| app.store(external_id, "fp_checkpoint");
    // Two small ingests, far below the 1,000 pages at which SQLite would checkpoint by itself.
    // After the first, the checkpointer copies the log back; the second's commit then finds it
    // all copied and starts the log over.
    let mut checkpoints = engine.writer.checkpoints();
    store("checkpoint-1").await;
    let after_first = wal_checkpoint_sequence(&wal);
    // Bounded, so that a checkpointer that never runs fails the test instead of hanging it.
    let checkpointed = tokio::time::timeout(std::time::Duration::from_secs(10), checkpoints.wait_for(|done| *done >= 1)).await;
    assert!(matches!(checkpointed, Ok(Ok(_))), "the checkpointer copied the log back after the first batch");
    store("checkpoint-2").await;
    assert_ne!(wal_checkpoint_sequence(&wal), after_first, "the log started over");
}

/// SQLite's writer is a thread that waits and works through the runtime that started it. When
/// that runtime is gone (a test's, say), ingests from the next runtime are still stored.
#[test]
fn sqlite_ingests_are_stored_after_the_writer_threads_runtime_is_gone() {
    let first = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let app = first.block_on(EngineOnly::start());
    let on_the_thread = first.block_on(app.store("runtime-1", "fp_runtimes"));
    drop(first);
    let second = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let after = second.block_on(app.store("runtime-2", "fp_runtimes"));
    assert!(after.transaction_id > on_the_thread.transaction_id);
    // Both stored, the second seeing the first's velocity.
    let seen = second.block_on(async {
        let record = vetted::server::db::entities::decision::Entity::find_by_id(after.decision_id).one(app.db.primary()).await.unwrap().unwrap();
        serde_json::from_str::<serde_json::Value>(&record.results).unwrap()["facts"]["velocity"]["card_count_1h"].clone()
    });
    assert_eq!(seen, json!(1));
}
