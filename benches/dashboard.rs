//! `make bench-dashboard`: the merchant dashboard (`/`) under 50 concurrent signed-in merchants,
//! with the PayPal simulator at 500 ms mean latency (log-normal, long tail), in one run:
//!
//! - naive: PayPal called inside the page request (the old design; benchmark-only setting);
//! - normal, warm cache: the panel reads what the background sync left;
//! - normal, PayPal down: every PayPal call fails; pages show last-known data and a banner.
//!
//! The normal modes run twice: saturated (each merchant reloads the moment its page is complete,
//! so latency is mostly queueing for the two cores: 50 / pages-per-second) and paced (each
//! merchant loads a page every 100 ms, 500 pages/s in all, so latency is the page's own time).
//!
//! Prints p50 / p95 / p99 to first byte and to the complete page, error rate and the PayPal
//! calls made during page loads, and appends the table to docs/benchmarks.md.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use vetted::app::dto::Role;
use vetted::server::auth::service::{create_user, NewUser};
use vetted::server::config::Config;
use vetted::server::db::entities::paypal_account;
use vetted::server::paypal::simulator::{self, Knobs, Simulator};
use vetted::server::seed::{self, SeedOptions};
use vetted::server::{http, jobs, AppState};

// The same allocator as the `vetted` binary, so the server measured here is the one that ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MERCHANTS: usize = 50;
const REQUESTS_PER_MERCHANT: usize = 20;
const WARMUP_PER_MERCHANT: usize = 2;
/// Paced modes: one page load per merchant per this interval.
const PACE: Duration = Duration::from_millis(100);

struct Phase {
    name: &'static str,
    first_byte: Vec<Duration>,
    complete: Vec<Duration>,
    errors: usize,
    upstream_calls: u64,
    elapsed: Duration,
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("vetted-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db_url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let sim = Simulator::new(Knobs::default());
    let sim_addr = simulator::spawn("127.0.0.1:0".parse().unwrap(), sim.clone()).await.unwrap();
    let vars = |naive: bool| -> HashMap<String, String> {
        [
            ("DATABASE_URL", db_url.clone()),
            ("PAYPAL_BASE_URL", format!("http://{sim_addr}")),
            ("PAYPAL_CLIENT_ID", simulator::SIM_CLIENT_ID.to_string()),
            ("PAYPAL_CLIENT_SECRET", simulator::SIM_CLIENT_SECRET.to_string()),
            ("PAYPAL_SYNC_PER_SECOND", "100".to_string()),
            ("PAYPAL_SYNC_CONCURRENCY", "32".to_string()),
            ("VETTED_BENCH_NAIVE_PAYPAL", naive.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    };
    let normal = AppState::connect(Config::from_vars(&vars(false)).unwrap()).await.unwrap();
    let naive = AppState::connect(Config::from_vars(&vars(true)).unwrap()).await.unwrap();

    eprintln!("seeding 200 merchants / 50,000 transactions…");
    let options = SeedOptions { show_progress: false, ..SeedOptions::demo(chrono::Utc::now()) };
    seed::seed(normal.db.primary(), &options).await.unwrap();
    // Fifty merchants with connected PayPal accounts, each with a login.
    let merchant_ids: Vec<i32> = paypal_account::Entity::find()
        .filter(paypal_account::Column::MerchantId.lte(100))
        .all(normal.db.primary())
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.merchant_id)
        .take(MERCHANTS)
        .collect();
    for &m in merchant_ids.iter().filter(|m| **m != 1) {
        let email = format!("bench{m}@vetted.test");
        create_user(
            normal.db.primary(),
            NewUser { email: &email, display_name: "Bench", password: "bench-password", role: Role::Merchant, merchant_id: Some(m) },
        )
        .await
        .unwrap();
    }

    let normal_addr = serve(normal.clone()).await;
    let naive_addr = serve(naive.clone()).await;
    jobs::paypal_sync::spawn(normal.clone());

    let mut clients = Vec::new();
    for &m in &merchant_ids {
        let (email, password) =
            if m == 1 { (seed::DEMO_MERCHANT.0.to_string(), seed::DEMO_MERCHANT.1) } else { (format!("bench{m}@vetted.test"), "bench-password") };
        // Sessions live in the shared database, so one sign-in serves both servers.
        let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let login =
            client.post(format!("http://{normal_addr}/rpc/auth/login")).form(&[("email", email.as_str()), ("password", password)]).send().await.unwrap();
        assert_eq!(login.status(), 200, "bench login");
        clients.push(client);
    }

    eprintln!("warming: first background sync of {} merchants at 500 ms PayPal latency…", merchant_ids.len());
    queue_refreshes(&normal, &merchant_ids).await;
    wait_for_accounts(&normal, &merchant_ids, paypal_account::Column::LastSuccessAt).await;

    let mut phases = Vec::new();
    phases.push(run_phase("naive (PayPal in the request)", naive_addr, &clients, &sim, &["paypal-balances"], None).await);
    phases.push(run_phase("normal, warm cache, saturated", normal_addr, &clients, &sim, &["paypal-balances"], None).await);
    phases.push(run_phase("normal, warm cache, paced", normal_addr, &clients, &sim, &["paypal-balances"], Some(PACE)).await);

    eprintln!("PayPal down: every call fails; waiting for the sync to record the failures…");
    sim.set_knobs(Knobs { outage: true, ..Knobs::default() });
    queue_refreshes(&normal, &merchant_ids).await;
    wait_for_accounts(&normal, &merchant_ids, paypal_account::Column::FailingSince).await;
    let down = &["paypal-balances", "PayPal unreachable since"];
    phases.push(run_phase("normal, PayPal down, saturated", normal_addr, &clients, &sim, down, None).await);
    phases.push(run_phase("normal, PayPal down, paced", normal_addr, &clients, &sim, down, Some(PACE)).await);

    let table = render(&phases);
    println!("\n{table}");
    record(&table);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn serve(state: AppState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = http::router(state);
    tokio::spawn(async move {
        http::serve::serve(listener, router).await;
    });
    addr
}

/// Priority refreshes for these merchants, as page loads or the Refresh button would queue them.
async fn queue_refreshes(state: &AppState, merchant_ids: &[i32]) {
    paypal_account::Entity::update_many()
        .col_expr(paypal_account::Column::RefreshRequestedAt, sea_orm::sea_query::Expr::value(chrono::Utc::now()))
        .filter(paypal_account::Column::MerchantId.is_in(merchant_ids.to_vec()))
        .exec(state.db.primary())
        .await
        .unwrap();
    state.paypal.wake.notify_one();
}

/// Waits until none of these merchants' accounts has `column` still empty.
async fn wait_for_accounts(state: &AppState, merchant_ids: &[i32], column: paypal_account::Column) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let pending = paypal_account::Entity::find()
            .filter(paypal_account::Column::MerchantId.is_in(merchant_ids.to_vec()))
            .filter(column.is_null())
            .count(state.db.primary())
            .await
            .unwrap();
        if pending == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for the background sync ({pending} left)");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn run_phase(
    name: &'static str,
    addr: SocketAddr,
    clients: &[reqwest::Client],
    sim: &Simulator,
    markers: &'static [&'static str],
    pace: Option<Duration>,
) -> Phase {
    eprintln!("{name}: {} merchants × {REQUESTS_PER_MERCHANT} page loads…", clients.len());
    let upstream_before: u64 = sim.requests().values().sum();
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .cloned()
        .map(|client| {
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut errors = 0usize;
                // Spread the paced merchants over the interval instead of starting them together.
                if let Some(pace) = pace {
                    tokio::time::sleep(pace.mul_f64(rand::random::<f64>())).await;
                }
                for i in 0..WARMUP_PER_MERCHANT + REQUESTS_PER_MERCHANT {
                    let started = Instant::now();
                    match load_page(&client, addr, markers).await {
                        Some(sample) if i >= WARMUP_PER_MERCHANT => samples.push(sample),
                        Some(_) => {}
                        None if i >= WARMUP_PER_MERCHANT => errors += 1,
                        None => {}
                    }
                    if let Some(pace) = pace {
                        tokio::time::sleep(pace.saturating_sub(started.elapsed())).await;
                    }
                }
                (samples, errors)
            })
        })
        .collect();
    let mut phase = Phase { name, first_byte: Vec::new(), complete: Vec::new(), errors: 0, upstream_calls: 0, elapsed: Duration::ZERO };
    for task in tasks {
        let (samples, errors) = task.await.unwrap();
        phase.errors += errors;
        for (ttfb, total) in samples {
            phase.first_byte.push(ttfb);
            phase.complete.push(total);
        }
    }
    phase.elapsed = started.elapsed();
    phase.upstream_calls = sim.requests().values().sum::<u64>() - upstream_before;
    phase.first_byte.sort();
    phase.complete.sort();
    phase
}

/// One page load: (time to first body byte, time to the last byte); None on any error or a page
/// whose panels did not all resolve.
async fn load_page(client: &reqwest::Client, addr: SocketAddr, markers: &[&str]) -> Option<(Duration, Duration)> {
    let start = Instant::now();
    let response = client.get(format!("http://{addr}/")).send().await.ok()?;
    if response.status() != 200 {
        return None;
    }
    let mut stream = response.bytes_stream();
    let mut first = None;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.ok()?);
        first.get_or_insert_with(|| start.elapsed());
    }
    let text = String::from_utf8_lossy(&body);
    let complete = text.contains("Last 30 days") && text.contains("Daily net revenue") && text.contains("risk-state");
    (complete && markers.iter().all(|m| text.contains(m))).then(|| (first.unwrap_or_default(), start.elapsed()))
}

fn pct(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v[((v.len() as f64 * p).ceil() as usize).saturating_sub(1).min(v.len() - 1)]
}

fn render(phases: &[Phase]) -> String {
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    let mut out = String::from(
        "| mode | first byte p50 / p95 / p99 ms | complete page p50 / p95 / p99 ms | pages/s | errors | PayPal calls from page loads |\n|---|---|---|---|---|---|\n",
    );
    for p in phases {
        let total = p.complete.len() + p.errors;
        out.push_str(&format!(
            "| {} | {} / {} / {} | {} / {} / {} | {:.0} | {} of {} ({:.1} %) | {} |\n",
            p.name,
            ms(pct(&p.first_byte, 0.5)),
            ms(pct(&p.first_byte, 0.95)),
            ms(pct(&p.first_byte, 0.99)),
            ms(pct(&p.complete, 0.5)),
            ms(pct(&p.complete, 0.95)),
            ms(pct(&p.complete, 0.99)),
            p.complete.len() as f64 / p.elapsed.as_secs_f64(),
            p.errors,
            total,
            100.0 * p.errors as f64 / total.max(1) as f64,
            p.upstream_calls,
        ));
    }
    if let [naive, saturated, paced, ..] = phases {
        let ratio = |a: &Phase, b: &Phase| pct(&a.complete, 0.99).as_secs_f64() / pct(&b.complete, 0.99).as_secs_f64().max(1e-9);
        out.push_str(&format!(
            "\nComplete page at p99, normal (warm) vs naive: {:.0}× faster saturated, {:.0}× faster paced.\n",
            ratio(naive, saturated),
            ratio(naive, paced),
        ));
    }
    out
}

fn record(table: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let entry = format!(
        "\n### bench-dashboard — {}\n\nCommand: `make bench-dashboard` (release build; server, simulator and load generator share the machine's {} cores; SQLite, 200 merchants / 50,000 transactions; {MERCHANTS} concurrent signed-in merchants × {REQUESTS_PER_MERCHANT} loads each per mode, saturated or paced at one load per merchant per 100 ms; PayPal simulator at 500 ms mean latency, log-normal σ 0.6).\n\n{table}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    );
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    text.push_str(&entry);
    std::fs::write(&path, text).unwrap();
    eprintln!("recorded in {}", path.display());
}
