//! `make bench-fraud`, in one run:
//!
//! 1. Rule evaluation on one core: the seeded ruleset, and 50 rules (the seeded live rules plus
//!    shadow copies up to 50, all evaluated), with realistic list sizes.
//! 2. Ingest → decision over HTTP (`POST /api/v1/transactions`, the real server and router, on a
//!    runtime of its own; the load generator is one thread, as a client elsewhere would be):
//!    - sustained: 32 clients, each sending its next transaction when the previous is answered;
//!    - paced: an open loop at 1,000 transactions/s for 10 s; latency is measured from when each
//!      request was due, so a server falling behind shows up in the percentiles; the time each
//!      request spent inside the server is shown beside it;
//!    - bulk: 4 clients posting `/batch` calls of 100;
//!    on SQLite (velocity in the database), PostgreSQL (velocity in the database) and
//!    PostgreSQL with Redis (velocity in Redis), connected over PostgreSQL's Unix socket as a
//!    server on the database's machine would be; PostgreSQL over loopback TCP beside them, to
//!    show what TCP costs; and, as a diagnosis, PostgreSQL with commits
//!    that do not wait for the disk (`synchronous_commit = off`, which Vetted never runs with:
//!    a crash would lose acknowledged ingests), to show how much of the latency is the disk's.
//!    On PostgreSQL the sustained and paced phases each start after a `CHECKPOINT`, so that
//!    the write-ahead log has recycled segments ahead, as on a server that has been running
//!    (see [`recycle_wal`]);
//! 3. The disk: how long an 8 KiB write with `fdatasync` takes, 300 a second for 10 s, in the
//!    bench's temporary directory. Every durable commit waits for one, so its stalls are a
//!    floor under the ingest latency that no code can go below.
//!
//! Prints the tables and appends them to docs/benchmarks.md. With `-- --rules-only`
//! (`cargo bench --features ssr --bench fraud -- --rules-only`) it prints the rule table alone
//! and records nothing: the quick loop while working on the rule engine. With `-- --backend
//! postgres` (or `sqlite`, `postgres-tcp`, `postgres-redis`, `postgres-nowait`, `disk`; repeatable) it runs
//! only those and records nothing: for alternating two builds of the server. With
//! `-- --paced-rate 400` the paced phase runs at that rate instead, and records nothing: on a
//! machine slower than the one the targets are for, two builds compared at the same share of
//! the machine. With `-- --paced-timeline /tmp/t`
//! each backend's paced requests are also written to `/tmp/t-<backend>.tsv` (when each was due,
//! its latency), to see when the slow ones happen, and the machine beside them every 100 ms to
//! `/tmp/t-<backend>-host.tsv` (CPU busy, idle, waiting for the disk, stolen by the host; how
//! long tasks waited for a core, the bench's threads and PostgreSQL's processes apart; how many
//! requests due in it took over 5 ms). The PostgreSQL databases it creates are dropped.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Database};
use vetted::app::dto::RuleModeSpec;
use vetted::server::config::Config;
use vetted::server::fraud::lists::{ListEntry, Lists};
use vetted::server::fraud::rules::{Facts, Ruleset};
use vetted::server::fraud::{api_keys, default_rules, velocity, versions};
use vetted::server::seed::{self, SeedOptions};
use vetted::server::{http, AppState};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SUSTAINED_CLIENTS: usize = 32;
const SUSTAINED_FOR: Duration = Duration::from_secs(10);
/// The paced phase's rate, unless `--paced-rate` says otherwise.
const PACED_RATE: u64 = 1_000;
const PACED_FOR: Duration = Duration::from_secs(10);
/// Bulk ingest: clients posting `/batch` calls of this many transactions.
const BATCH_CLIENTS: usize = 4;
const BATCH_SIZE: u64 = 100;
const BATCH_FOR: Duration = Duration::from_secs(10);

fn ruleset(size: usize) -> Ruleset {
    let mut draft = default_rules::ruleset();
    let seeded = draft.rules.clone();
    let mut i = 0;
    while draft.rules.len() < size {
        let mut copy = seeded[i % seeded.len()].clone();
        copy.name = format!("{} (shadow copy {i})", copy.name);
        copy.mode = RuleModeSpec::Shadow;
        draft.rules.push(copy);
        i += 1;
    }
    versions::compile(&draft).expect("benchmark rules check")
}

fn lists() -> Arc<Lists> {
    let now = Utc::now();
    let mut lists = Lists::default();
    let entry =
        || ListEntry { value: String::new(), reason: "bench".into(), expires_at: None, added_by: "bench".into(), source: "import".into(), merchant_id: None };
    for (name, kind, _, entries) in default_rules::LISTS {
        lists.create(name, *kind).unwrap();
        for (value, _) in *entries {
            lists.add(name, value, entry(), now).unwrap();
        }
    }
    for i in 0..10_000 {
        lists.add("blocked_emails", &format!("bad{i}@example.com"), entry(), now).unwrap();
        lists.add("blocked_cards", &format!("fp_{i:08x}"), entry(), now).unwrap();
    }
    for i in 0..200 {
        lists.add("blocked_ips", &format!("10.{}.{}.0/24", i / 256, i % 256), entry(), now).unwrap();
    }
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

fn measure_rules(ruleset: &Ruleset, lists: &Arc<Lists>) -> (f64, Duration) {
    let inputs: Vec<Facts> = (0..1_000).map(facts).collect();
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
    (evaluations as f64 / started.elapsed().as_secs_f64(), pct(&per_call, 0.99))
}

fn rule_table() -> String {
    let lists = lists();
    let seeded = default_rules::ruleset().rules.len();
    let mut table = String::from("| ruleset | transactions decided / s (one core) | rule evaluations / s | p99 per transaction |\n|---|---|---|---|\n");
    for size in [seeded, 50] {
        let (per_second, p99) = measure_rules(&ruleset(size), &lists);
        let label = if size == seeded { format!("seeded ({size} rules)") } else { format!("{size} rules") };
        table.push_str(&format!("| {label} | {per_second:.0} | {:.0} | {:.1} µs |\n", per_second * size as f64, p99.as_secs_f64() * 1e6));
    }
    table
}

struct HttpResult {
    backend: &'static str,
    sustained_rate: f64,
    sustained: Vec<Duration>,
    sustained_errors: usize,
    paced_rate: f64,
    paced: Vec<Duration>,
    /// The same requests, from arrival in the server to their answer.
    paced_server: Vec<Duration>,
    paced_errors: usize,
    /// PostgreSQL only: write-ahead log segments it had to create during the paced phase.
    paced_new_wal_segments: Option<i64>,
    bulk_rate: f64,
    bulk_errors: usize,
}

fn body(rng: &mut impl Rng, n: u64) -> String {
    let merchant = rng.random_range(1..=200);
    let card = rng.random_range(0..5_000);
    let buyer = rng.random_range(0..20_000);
    let amount = rng.random_range(100..50_000);
    serde_json::json!({
        "external_id": format!("bench-{n}"), "merchant_id": merchant, "amount": amount, "currency": "USD",
        "buyer_email": format!("buyer{buyer}@example.com"), "buyer_ip": format!("198.51.{}.{}", buyer % 200, card % 250),
        "ip_country": "US", "card_fingerprint": format!("fp_bench_{card}"), "card_bin": "424242", "card_country": "US"
    })
    .to_string()
}

/// A week of payments in each merchant's velocity rows, compacted as a running server's are
/// (5-minute buckets for the last hours, then hours, then six hours: 74–88 rows a merchant),
/// so that each ingest reads what it would in production. 1,500 payments every 5 minutes: the
/// paced rate spread over the 200 merchants. (Redis velocity starts empty: its script reads a
/// window's fields whether they are there or not.)
async fn seed_merchant_velocity_history(db: &sea_orm::DatabaseConnection) {
    let now = Utc::now();
    let current = now.timestamp().div_euclid(300);
    let week = 7 * 24 * 12;
    let insert = format!(
        "WITH RECURSIVE buckets(bucket) AS (SELECT {} UNION ALL SELECT bucket + 1 FROM buckets WHERE bucket < {}) \
         INSERT INTO velocity_buckets (key, granularity, bucket, count, sum_usd_cents) \
         SELECT 'merchant:' || merchants.id, 0, buckets.bucket, 1500, 1500 * 25000 FROM merchants CROSS JOIN buckets",
        current - week,
        current - 1
    );
    db.execute_unprepared(&insert).await.unwrap();
    velocity::compact_database(db, now).await.unwrap();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        // The rows compaction merged away, cleared as autovacuum would have on a running server:
        // left, every read of a merchant's rows would step over its 2,000 dead ones.
        db.execute_unprepared("VACUUM ANALYZE velocity_buckets").await.unwrap();
    }
}

/// The server under test, on a runtime and threads of its own, apart from the load generator,
/// as it would be in production. It records how long each request spent in the server.
struct ServerUnderTest {
    url: String,
    key: String,
    server_times: Arc<std::sync::Mutex<Vec<Duration>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerUnderTest {
    fn start(backend: &'static str, vars: HashMap<String, String>) -> ServerUnderTest {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server_times = Arc::new(std::sync::Mutex::new(Vec::new()));
        let times = server_times.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("server").build().unwrap();
            runtime.block_on(async move {
                let state = AppState::connect(Config::from_vars(&vars).unwrap()).await.unwrap();
                eprintln!("{backend}: seeding 200 merchants / 50,000 transactions…");
                seed::seed(state.db.primary(), &SeedOptions { show_progress: false, ..SeedOptions::demo(Utc::now()) }).await.unwrap();
                seed_merchant_velocity_history(state.db.primary()).await;
                state.fraud.refresh().await.unwrap();
                let key = api_keys::create(state.db.primary(), "bench", "bench", Utc::now()).await.unwrap().key;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr: SocketAddr = listener.local_addr().unwrap();
                let timed = axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
                    let times = times.clone();
                    async move {
                        let arrived = Instant::now();
                        let response = next.run(request).await;
                        times.lock().unwrap().push(arrived.elapsed());
                        response
                    }
                });
                let router = http::router(state.clone()).layer(timed);
                ready_tx.send((format!("http://{addr}/api/v1/transactions"), key)).unwrap();
                http::serve::serve_with_shutdown(listener, router, async move {
                    let _ = stopped.await;
                })
                .await;
            });
        });
        let (url, key) = ready_rx.recv().expect("the server under test started");
        ServerUnderTest { url, key, server_times, stop: Some(stop), thread: Some(thread) }
    }

    /// How long the requests since the last call spent in the server, sorted.
    fn take_server_times(&self) -> Vec<Duration> {
        let mut times = std::mem::take(&mut *self.server_times.lock().unwrap());
        times.sort();
        times
    }
}

impl Drop for ServerUnderTest {
    fn drop(&mut self) {
        let _ = self.stop.take().map(|stop| stop.send(()));
        let _ = self.thread.take().map(std::thread::JoinHandle::join);
    }
}

async fn run_http(backend: &'static str, vars: HashMap<String, String>, paced_at: u64, timeline: Option<&str>) -> HttpResult {
    // On PostgreSQL, the server's own view: checkpoints and its write-ahead log's files.
    let postgres = match vars["DATABASE_URL"].starts_with("postgres") {
        true => {
            let mut options = sea_orm::ConnectOptions::new(vars["DATABASE_URL"].clone());
            options.max_connections(1).sqlx_logging(false);
            Some(Database::connect(options).await.expect("the bench's PostgreSQL database"))
        }
        false => None,
    };
    let server = tokio::task::spawn_blocking(move || ServerUnderTest::start(backend, vars)).await.unwrap();
    let (url, key) = (server.url.clone(), server.key.clone());
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let send = |client: reqwest::Client, url: String, key: String, body: String| async move {
        matches!(client.post(&url).bearer_auth(&key).header("content-type", "application/json").body(body).send().await, Ok(r) if r.status() == 201)
    };

    eprintln!("{backend}: warm-up…");
    for n in 0..200u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(n);
        send(client.clone(), url.clone(), key.clone(), body(&mut rng, 1_000_000_000 + n)).await;
    }

    if let Some(postgres) = &postgres {
        recycle_wal(postgres).await;
    }
    eprintln!("{backend}: sustained, {SUSTAINED_CLIENTS} clients for {SUSTAINED_FOR:?}…");
    let started = Instant::now();
    let workers = (0..SUSTAINED_CLIENTS).map(|w| {
        let (client, url, key, counter) = (client.clone(), url.clone(), key.clone(), counter.clone());
        tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(w as u64);
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            while started.elapsed() < SUSTAINED_FOR {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let t = Instant::now();
                if send(client.clone(), url.clone(), key.clone(), body(&mut rng, n)).await {
                    latencies.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        })
    });
    let mut sustained = Vec::new();
    let mut sustained_errors = 0;
    for worker in futures::future::join_all(workers).await {
        let (latencies, errors) = worker.unwrap();
        sustained.extend(latencies);
        sustained_errors += errors;
    }
    let sustained_rate = sustained.len() as f64 / started.elapsed().as_secs_f64();
    sustained.sort();

    if let Some(postgres) = &postgres {
        recycle_wal(postgres).await;
    }
    let wal_segments_before = match &postgres {
        Some(postgres) => Some(wal_segments(postgres).await),
        None => None,
    };
    eprintln!("{backend}: paced at {paced_at}/s for {PACED_FOR:?}…");
    let total = paced_at * PACED_FOR.as_secs();
    let interval = Duration::from_secs(1) / paced_at as u32;
    server.take_server_times();
    // Requests leave on time from a thread of their own (the runtime's timer only has
    // millisecond steps); each is timed from when it was due.
    let runtime = tokio::runtime::Handle::current();
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = timeline.is_some().then(|| {
        let (stop, started) = (sampling.clone(), Instant::now());
        (started, std::thread::spawn(move || sample_host(started, stop)))
    });
    let pacer = {
        let (client, url, key, counter) = (client.clone(), url.clone(), key.clone(), counter.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
            let mut tasks = Vec::with_capacity(total as usize);
            for i in 0..total {
                let due = started + interval * i as u32;
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let request = send(client.clone(), url.clone(), key.clone(), body(&mut rng, n));
                tasks.push(runtime.spawn(async move {
                    let ok = request.await;
                    (ok, due - started, due.elapsed())
                }));
            }
            (started, tasks)
        })
    };
    let (started, tasks) = tokio::task::spawn_blocking(move || pacer.join().unwrap()).await.unwrap();
    let mut paced = Vec::new();
    let mut paced_errors = 0;
    // Only when asked for: 10,000 formatted lines are not free.
    let mut lines = timeline.map(|_| String::from("due_ms\tlatency_ms\tok\n"));
    let mut due_and_latency = Vec::new();
    for task in tasks {
        let (ok, due, latency) = task.await.unwrap();
        if let Some(lines) = lines.as_mut() {
            lines.push_str(&format!("{:.3}\t{:.3}\t{ok}\n", due.as_secs_f64() * 1e3, latency.as_secs_f64() * 1e3));
            due_and_latency.push((due, latency));
        }
        match ok {
            true => paced.push(latency),
            false => paced_errors += 1,
        }
    }
    // Before the timeline's files are written: their writing is not the server's.
    let paced_rate = paced.len() as f64 / started.elapsed().as_secs_f64();
    sampling.store(true, std::sync::atomic::Ordering::Relaxed);
    if let (Some(prefix), Some(lines), Some((sampled_from, sampler))) = (timeline, lines, sampler) {
        let slug: Vec<String> = backend.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
        let file = format!("{prefix}-{}.tsv", slug.join("-"));
        std::fs::write(&file, lines).unwrap();
        // The samples on the pacer's clock, so that each request falls in the interval it was due in.
        let offset = started.saturating_duration_since(sampled_from);
        let samples: Vec<(Duration, HostCounters)> = sampler.join().unwrap().into_iter().map(|(at, counters)| (at.saturating_sub(offset), counters)).collect();
        let host = format!("{prefix}-{}-host.tsv", slug.join("-"));
        std::fs::write(&host, host_timeline(&samples, &due_and_latency, Duration::from_millis(5))).unwrap();
        eprintln!("{backend}: paced timeline written to {file}, the machine beside it to {host}");
    }
    let paced_server = server.take_server_times();
    let paced_new_wal_segments = match (&postgres, wal_segments_before) {
        (Some(postgres), Some(before)) => Some(wal_segments(postgres).await - before),
        _ => None,
    };
    paced.sort();

    eprintln!("{backend}: bulk, {BATCH_CLIENTS} clients posting batches of {BATCH_SIZE} for {BATCH_FOR:?}…");
    let batch_url = format!("{url}/batch");
    let started = Instant::now();
    let workers = (0..BATCH_CLIENTS).map(|w| {
        let (client, url, key, counter) = (client.clone(), batch_url.clone(), key.clone(), counter.clone());
        tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1_000 + w as u64);
            let (mut decided, mut errors) = (0usize, 0usize);
            while started.elapsed() < BATCH_FOR {
                let first = counter.fetch_add(BATCH_SIZE, std::sync::atomic::Ordering::Relaxed);
                let items: Vec<serde_json::Value> = (first..first + BATCH_SIZE).map(|n| serde_json::from_str(&body(&mut rng, n)).unwrap()).collect();
                let answer = client.post(&url).bearer_auth(&key).json(&serde_json::json!({ "transactions": items })).send().await;
                let results = match answer {
                    Ok(r) if r.status() == 200 => r.json::<serde_json::Value>().await.ok(),
                    _ => None,
                };
                let created = results.as_ref().and_then(|r| r["results"].as_array()).map_or(0, |items| items.iter().filter(|i| i["status"] == 201).count());
                decided += created;
                errors += BATCH_SIZE as usize - created;
            }
            (decided, errors)
        })
    });
    let (mut bulk_decided, mut bulk_errors) = (0, 0);
    for worker in futures::future::join_all(workers).await {
        let (decided, errors) = worker.unwrap();
        bulk_decided += decided;
        bulk_errors += errors;
    }
    let bulk_rate = bulk_decided as f64 / started.elapsed().as_secs_f64();
    tokio::task::spawn_blocking(move || drop(server)).await.unwrap();
    HttpResult {
        backend,
        sustained_rate,
        sustained,
        sustained_errors,
        paced_rate,
        paced,
        paced_server,
        paced_errors,
        paced_new_wal_segments,
        bulk_rate,
        bulk_errors,
    }
}

/// How often `--paced-timeline` samples the machine beside the paced requests.
const HOST_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// What the machine did in one sample: CPU time by kind (from `/proc/stat`, all cores), the
/// time some task waited for a core (`/proc/pressure/cpu`), and how long the bench's own
/// threads and PostgreSQL's processes sat runnable without a core (their `schedstat`).
/// All are counters; the timeline shows their differences. Reading them costs a few small
/// files a sample, so the sampler itself does not load the cores it watches.
#[derive(Clone, Copy)]
struct HostCounters {
    busy_ms: f64,
    idle_ms: f64,
    iowait_ms: f64,
    steal_ms: f64,
    cpu_pressure_ms: Option<f64>,
    bench_waiting_ms: f64,
    postgres_waiting_ms: f64,
}

impl HostCounters {
    /// What happened between `earlier` and these counters.
    fn since(&self, earlier: &HostCounters) -> HostCounters {
        HostCounters {
            busy_ms: self.busy_ms - earlier.busy_ms,
            idle_ms: self.idle_ms - earlier.idle_ms,
            iowait_ms: self.iowait_ms - earlier.iowait_ms,
            steal_ms: self.steal_ms - earlier.steal_ms,
            cpu_pressure_ms: self.cpu_pressure_ms.zip(earlier.cpu_pressure_ms).map(|(now, then)| now - then),
            bench_waiting_ms: self.bench_waiting_ms - earlier.bench_waiting_ms,
            postgres_waiting_ms: self.postgres_waiting_ms - earlier.postgres_waiting_ms,
        }
    }
}

/// The kernel's USER_HZ, in which `/proc/stat` counts (100 on every Linux this runs on).
const TICK_MS: f64 = 10.0;

fn schedstat_wait_ms(path: &std::path::Path) -> f64 {
    // "<ns on a core> <ns runnable, waiting for one> <timeslices>"
    std::fs::read_to_string(path).ok().and_then(|s| s.split_whitespace().nth(1).and_then(|w| w.parse::<f64>().ok())).unwrap_or(0.0) / 1e6
}

fn postgres_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres"))
        .collect()
}

fn host_counters(postgres: &[u32]) -> HostCounters {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    // cpu user nice system idle iowait irq softirq steal …
    let f: Vec<f64> = stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0) * TICK_MS;
    let cpu_pressure_ms = std::fs::read_to_string("/proc/pressure/cpu").ok().and_then(|s| {
        let some = s.lines().find(|l| l.starts_with("some"))?;
        some.split_whitespace().find_map(|kv| kv.strip_prefix("total=")).and_then(|t| t.parse::<f64>().ok()).map(|us| us / 1e3)
    });
    let bench_waiting_ms = std::fs::read_dir("/proc/self/task")
        .map(|tasks| tasks.filter_map(|t| t.ok()).map(|t| schedstat_wait_ms(&t.path().join("schedstat"))).sum())
        .unwrap_or(0.0);
    let postgres_waiting_ms = postgres.iter().map(|pid| schedstat_wait_ms(std::path::Path::new(&format!("/proc/{pid}/schedstat")))).sum();
    HostCounters {
        busy_ms: at(0) + at(1) + at(2) + at(5) + at(6),
        idle_ms: at(3),
        iowait_ms: at(4),
        steal_ms: at(7),
        cpu_pressure_ms,
        bench_waiting_ms,
        postgres_waiting_ms,
    }
}

/// Samples the machine every `HOST_SAMPLE_EVERY` until `stop` is set; returns the samples,
/// each with its time since `started`.
fn sample_host(started: Instant, stop: Arc<std::sync::atomic::AtomicBool>) -> Vec<(Duration, HostCounters)> {
    // The server's connections are open by now, so their processes are all here.
    let postgres = postgres_pids();
    let mut samples = vec![(started.elapsed(), host_counters(&postgres))];
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep((started + HOST_SAMPLE_EVERY * samples.len() as u32).saturating_duration_since(Instant::now()));
        samples.push((started.elapsed(), host_counters(&postgres)));
    }
    samples
}

/// One line per sample interval: what the machine did in it, and how many paced requests due
/// in it took longer than `slow`. Prints the whole phase's totals.
fn host_timeline(samples: &[(Duration, HostCounters)], paced: &[(Duration, Duration)], slow: Duration) -> String {
    let pressure = |c: &HostCounters| c.cpu_pressure_ms.map_or("-".to_string(), |ms| format!("{ms:.1}"));
    let mut out =
        String::from("from_ms\tto_ms\trequests\tover_5ms\tbusy_ms\tidle_ms\tiowait_ms\tsteal_ms\tcpu_pressure_ms\tbench_waiting_ms\tpostgres_waiting_ms\n");
    for pair in samples.windows(2) {
        let ((from, earlier), (to, later)) = (pair[0], pair[1]);
        let due = paced.iter().filter(|(due, _)| *due >= from && *due < to);
        let (requests, slow_ones) = due.fold((0, 0), |(n, slow_ones), (_, latency)| (n + 1, slow_ones + usize::from(*latency > slow)));
        let c = later.since(&earlier);
        out.push_str(&format!(
            "{:.0}\t{:.0}\t{}\t{}\t{:.0}\t{:.0}\t{:.0}\t{:.0}\t{}\t{:.1}\t{:.1}\n",
            from.as_secs_f64() * 1e3,
            to.as_secs_f64() * 1e3,
            requests,
            slow_ones,
            c.busy_ms,
            c.idle_ms,
            c.iowait_ms,
            c.steal_ms,
            pressure(&c),
            c.bench_waiting_ms,
            c.postgres_waiting_ms,
        ));
    }
    if let (Some((_, first)), Some((_, last))) = (samples.first(), samples.last()) {
        let t = last.since(first);
        eprintln!(
            "paced phase, whole machine: busy {:.0} ms, idle {:.0} ms, iowait {:.0} ms, stolen by the host {:.0} ms, some task waiting for a core {} ms; runnable without a core: bench threads {:.0} ms, PostgreSQL {:.0} ms",
            t.busy_ms,
            t.idle_ms,
            t.iowait_ms,
            t.steal_ms,
            pressure(&t),
            t.bench_waiting_ms,
            t.postgres_waiting_ms,
        );
    }
    out
}

/// Checkpoints PostgreSQL, which recycles the write-ahead log's segments written since the last
/// one into segments ahead, as on a server that has been running a while. A fresh server has
/// none ahead: it creates each 16 MB segment as the log reaches it, filling it with zeros and
/// flushing it while every commit waits (20–90 ms on these machines, a segment every 4 s at
/// 1,000 ingests/s). That is the server warming up, not the ingest path, so each measured phase starts
/// after a checkpoint, and the paced phase reports how many segments it still had to create.
async fn recycle_wal(postgres: &sea_orm::DatabaseConnection) {
    postgres.execute_unprepared("CHECKPOINT").await.expect("CHECKPOINT (the bench connects as a superuser)");
}

/// How many segment files the write-ahead log has. Recycling renames a segment, so only a
/// created one adds to this.
async fn wal_segments(postgres: &sea_orm::DatabaseConnection) -> i64 {
    let row = postgres
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS segments FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "segments").unwrap()
}

fn pct(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v[((v.len() as f64 * p).ceil() as usize).saturating_sub(1).min(v.len() - 1)]
}

fn http_table(results: &[HttpResult], paced_at: u64) -> String {
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    let rate = if paced_at == 1_000 { "1,000".to_string() } else { paced_at.to_string() };
    let mut out = format!(
        "| backend | sustained tx/s (32 in flight) | sustained p50 / p99 ms | at {rate}/s: achieved tx/s | at {rate}/s: p50 / p99 ms | of which in the server: p50 / p99 ms | WAL segments created while paced | bulk tx/s (/batch of 100, 4 in flight) | errors (sustained + paced + bulk) |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        out.push_str(&format!(
            "| {} | {:.0} | {} / {} | {:.0} | {} / {} | {} / {} | {} | {:.0} | {} |\n",
            r.backend,
            r.sustained_rate,
            ms(pct(&r.sustained, 0.5)),
            ms(pct(&r.sustained, 0.99)),
            r.paced_rate,
            ms(pct(&r.paced, 0.5)),
            ms(pct(&r.paced, 0.99)),
            ms(pct(&r.paced_server, 0.5)),
            ms(pct(&r.paced_server, 0.99)),
            r.paced_new_wal_segments.map_or("–".to_string(), |n| n.to_string()),
            r.bulk_rate,
            r.sustained_errors + r.paced_errors + r.bulk_errors,
        ));
    }
    out
}

/// How often the disk probe flushes, and for how long: about what the two ingest writers'
/// commits ask of the disk at 1,000 ingests/s.
const DISK_FLUSHES_PER_SECOND: u32 = 300;
const DISK_PROBE_FOR: Duration = Duration::from_secs(10);
/// A flush slower than this alone would put the ingests waiting on it past the 5 ms target.
const DISK_STALL: Duration = Duration::from_millis(5);

/// Writes 8 KiB and waits for `fdatasync`, at a steady rate in `dir`, and tabulates how long
/// each took: what a durable commit waits for, measured without the database.
fn disk_table(dir: &std::path::Path) -> String {
    use std::io::{Seek, SeekFrom, Write};
    let path = dir.join("disk-probe");
    let mut file = std::fs::File::options().create(true).truncate(true).read(true).write(true).open(&path).unwrap();
    // Blocks that exist already, as in PostgreSQL's recycled write-ahead log segments.
    let size = 16u64 << 20;
    file.set_len(size).unwrap();
    file.sync_all().unwrap();
    let block = [0x5a_u8; 8192];
    let interval = Duration::from_secs(1) / DISK_FLUSHES_PER_SECOND;
    let (started, mut flushes, mut offset) = (Instant::now(), Vec::new(), 0u64);
    while started.elapsed() < DISK_PROBE_FOR {
        std::thread::sleep((started + interval * flushes.len() as u32).saturating_duration_since(Instant::now()));
        let t = Instant::now();
        file.seek(SeekFrom::Start(offset)).unwrap();
        file.write_all(&block).unwrap();
        file.sync_data().unwrap();
        flushes.push(t.elapsed());
        offset = (offset + block.len() as u64) % size;
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    let stalls: Vec<Duration> = flushes.iter().copied().filter(|d| *d > DISK_STALL).collect();
    flushes.sort();
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
    format!(
        "| flushes | p50 ms | p99 ms | p99.9 ms | max ms | over {} ms: count, total ms |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {}, {:.0} |\n",
        DISK_STALL.as_millis(),
        flushes.len(),
        ms(pct(&flushes, 0.5)),
        ms(pct(&flushes, 0.99)),
        ms(pct(&flushes, 0.999)),
        ms(flushes.last().copied().unwrap_or_default()),
        stalls.len(),
        stalls.iter().sum::<Duration>().as_secs_f64() * 1000.0,
    )
}

const REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Where Debian's PostgreSQL keeps its Unix socket, besides listening on 127.0.0.1:5432.
const POSTGRES_SOCKET_DIR: &str = "/var/run/postgresql";

/// Deletes what a run left in Redis under `namespace` (about 66,000 velocity keys, which would
/// otherwise stay for their week), as the run's PostgreSQL databases are dropped.
async fn forget_redis_namespace(namespace: &str) {
    let Ok(mut redis) = redis::Client::open(REDIS_URL).unwrap().get_multiplexed_async_connection().await else { return };
    let mut cursor = 0u64;
    loop {
        let scanned: Result<(u64, Vec<String>), _> =
            redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(format!("{namespace}:*")).arg("COUNT").arg(1000).query_async(&mut redis).await;
        let Ok((next, keys)) = scanned else { return };
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("UNLINK").arg(&keys).query_async(&mut redis).await;
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// The load generator's runtime: one thread, as a client on another machine would be.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    eprintln!("rule evaluation…");
    let rules = rule_table();
    println!("\n{rules}");
    if std::env::args().any(|arg| arg == "--rules-only") {
        return;
    }

    let dir = std::env::temp_dir().join(format!("vetted-bench-fraud-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The server and PostgreSQL share this machine, so the server connects as a deployment on
    // one machine would: over PostgreSQL's Unix socket. The TCP row beside it shows what
    // loopback TCP costs.
    let postgres_tcp = std::env::var("VETTED_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let socket = std::path::Path::new(POSTGRES_SOCKET_DIR).join(".s.PGSQL.5432");
    let postgres_admin = match socket.exists() {
        true => format!("postgres://postgres@{}/test", POSTGRES_SOCKET_DIR.replace('/', "%2F")),
        false => {
            eprintln!("no PostgreSQL socket at {}: the PostgreSQL rows connect over TCP", socket.display());
            postgres_tcp.clone()
        }
    };
    let base_vars = |database_url: String, extra: &[(&str, &str)]| -> HashMap<String, String> {
        let mut vars: HashMap<String, String> = [("DATABASE_URL".to_string(), database_url)].into_iter().collect();
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        vars
    };
    let fresh_postgres_at = |admin_url: String, name: String| async move {
        let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| panic!("PostgreSQL (make services starts it): {e}"));
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0)
    };
    let fresh_postgres = |name: String| fresh_postgres_at(postgres_admin.clone(), name);
    let pid = std::process::id();
    let redis_namespace = format!("vetted_bench_{pid}");
    // `-- --backend postgres` (repeatable) runs only those backends, prints and records nothing:
    // for comparing two builds of the server side by side.
    let args: Vec<String> = std::env::args().collect();
    let chosen: Vec<&str> = args.windows(2).filter(|pair| pair[0] == "--backend").map(|pair| pair[1].as_str()).collect();
    let wanted = |name: &str| chosen.is_empty() || chosen.contains(&name);
    let paced_rate: Option<u64> =
        args.windows(2).find(|pair| pair[0] == "--paced-rate").map(|pair| pair[1].parse().expect("--paced-rate takes transactions per second"));
    let paced_at = paced_rate.unwrap_or(PACED_RATE);
    let timeline = args.windows(2).find(|pair| pair[0] == "--paced-timeline").map(|pair| pair[1].as_str());
    let mut results = Vec::new();
    let mut databases = Vec::new();
    if wanted("sqlite") {
        results.push(run_http("SQLite", base_vars(format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()), &[]), paced_at, timeline).await);
    }
    if wanted("postgres") {
        databases.push(format!("vetted_bench_fraud_{pid}"));
        results.push(run_http("PostgreSQL", base_vars(fresh_postgres(format!("vetted_bench_fraud_{pid}")).await, &[]), paced_at, timeline).await);
    }
    if wanted("postgres-tcp") {
        databases.push(format!("vetted_bench_fraud_t_{pid}"));
        let url = fresh_postgres_at(postgres_tcp.clone(), format!("vetted_bench_fraud_t_{pid}")).await;
        results.push(run_http("PostgreSQL over TCP on loopback", base_vars(url, &[]), paced_at, timeline).await);
    }
    if wanted("postgres-nowait") {
        databases.push(format!("vetted_bench_fraud_n_{pid}"));
        // The same server; only this database's sessions commit without waiting for the disk.
        let url = fresh_postgres(format!("vetted_bench_fraud_n_{pid}")).await;
        let admin = Database::connect(&postgres_admin).await.expect("PostgreSQL (make services starts it)");
        admin.execute_unprepared(&format!("ALTER DATABASE vetted_bench_fraud_n_{pid} SET synchronous_commit = off")).await.unwrap();
        results.push(run_http("PostgreSQL, commits not waiting for the disk (diagnosis)", base_vars(url, &[]), paced_at, timeline).await);
    }
    if wanted("postgres-redis") {
        databases.push(format!("vetted_bench_fraud_r_{pid}"));
        let vars = base_vars(fresh_postgres(format!("vetted_bench_fraud_r_{pid}")).await, &[("REDIS_URL", REDIS_URL), ("CACHE_NAMESPACE", &redis_namespace)]);
        results.push(run_http("PostgreSQL + Redis velocity", vars, paced_at, timeline).await);
    }
    let admin = Database::connect(&postgres_admin).await.expect("PostgreSQL (make services starts it)");
    for name in databases {
        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
    if wanted("postgres-redis") {
        forget_redis_namespace(&redis_namespace).await;
    }
    let disk = wanted("disk").then(|| {
        eprintln!("disk: {DISK_FLUSHES_PER_SECOND} flushes/s for {DISK_PROBE_FOR:?}…");
        disk_table(&dir)
    });
    let _ = std::fs::remove_dir_all(&dir);
    let http = http_table(&results, paced_at);
    println!("\n{http}");
    if let Some(disk) = &disk {
        println!("\n{disk}");
    }
    if !chosen.is_empty() || paced_rate.is_some() {
        return;
    }

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let entry = format!(
        "\n### bench-fraud — {}\n\nCommand: `make bench-fraud` (release build; server, databases and load generator share the machine's {} cores; the server has a runtime of its own, the load generator one thread).\n\nRule evaluation, one thread (lists of 10,000 emails, 10,000 card fingerprints and 200 CIDR ranges; the 50-rule set is the seeded rules live plus shadow copies, all evaluated):\n\n{rules}\nIngest → decision over HTTP (`POST /api/v1/transactions` with an API key; each transaction: idempotency record, velocity, rules, transaction, decision and — for reviews — a case, committed together with the others that arrive at the same moment (group commit); 200 merchants / 50,000 seeded transactions, 5,000 cards, 20,000 buyers; each merchant starts with a week of velocity rows, compacted as on a running server (74–88 rows; Redis velocity starts empty); paced latency measured from when each request was due; the server connects to PostgreSQL over its Unix socket, except in the row that says TCP; on PostgreSQL the sustained and paced phases each start after a `CHECKPOINT`, so that its write-ahead log has recycled segments ahead as on a server that has been running, and the table says how many it still had to create; bulk: each `/batch` call's items go to the writer together; the diagnosis row is PostgreSQL with `synchronous_commit = off`, never how Vetted runs):\n\n{http}\nThe disk under the databases: an 8 KiB write and `fdatasync`, {DISK_FLUSHES_PER_SECOND} a second for {DISK_PROBE_FOR:?}, what each durable commit waits for:\n\n{}",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        disk.unwrap_or_default(),
    );
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    text.push_str(&entry);
    std::fs::write(&path, text).unwrap();
    eprintln!("recorded in {}", path.display());
}
