//! `make bench-dashboard`: time to first byte and to the complete dashboard page for `/` with 50
//! concurrent signed-in merchants, against the real server on a seeded SQLite database.
//! Prints a table and appends it to docs/benchmarks.md.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use vetted::app::dto::Role;
use vetted::server::auth::service::{create_user, NewUser};
use vetted::server::config::Config;
use vetted::server::seed::{self, SeedOptions};
use vetted::server::{http, AppState};

const MERCHANTS: usize = 50;
const REQUESTS_PER_MERCHANT: usize = 40;
const WARMUP_PER_MERCHANT: usize = 2;

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("vetted-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let vars = [("DATABASE_URL".to_string(), url)].into_iter().collect();
    let state = AppState::connect(Config::from_vars(&vars).unwrap()).await.unwrap();

    eprintln!("seeding 200 merchants / 50,000 transactions…");
    let options = SeedOptions { show_progress: false, ..SeedOptions::demo(chrono::Utc::now()) };
    seed::seed(state.db.primary(), &options).await.unwrap();
    for m in 2..=MERCHANTS as i32 {
        let email = format!("bench{m}@vetted.test");
        create_user(
            state.db.primary(),
            NewUser { email: &email, display_name: "Bench", password: "bench-password", role: Role::Merchant, merchant_id: Some(m) },
        )
        .await
        .unwrap();
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = http::router(state.clone());
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });

    let mut clients = Vec::new();
    for m in 1..=MERCHANTS {
        let (email, password) =
            if m == 1 { (seed::DEMO_MERCHANT.0.to_string(), seed::DEMO_MERCHANT.1) } else { (format!("bench{m}@vetted.test"), "bench-password") };
        let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let login = client
            .post(format!("http://{addr}/rpc/auth/login"))
            .form(&[("email", email.as_str()), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200, "bench login");
        clients.push(client);
    }

    eprintln!("{MERCHANTS} concurrent merchants × {REQUESTS_PER_MERCHANT} page loads…");
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut errors = 0usize;
                for i in 0..WARMUP_PER_MERCHANT + REQUESTS_PER_MERCHANT {
                    match load_page(&client, addr).await {
                        Some(sample) if i >= WARMUP_PER_MERCHANT => samples.push(sample),
                        Some(_) => {}
                        None => errors += 1,
                    }
                }
                (samples, errors)
            })
        })
        .collect();
    let mut first_byte = Vec::new();
    let mut complete = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (samples, task_errors) = task.await.unwrap();
        errors += task_errors;
        for (ttfb, total) in samples {
            first_byte.push(ttfb);
            complete.push(total);
        }
    }
    let elapsed = started.elapsed();
    first_byte.sort();
    complete.sort();
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    let pct = |v: &[Duration], p: f64| v[((v.len() as f64 * p).ceil() as usize).saturating_sub(1).min(v.len() - 1)];
    let requests = first_byte.len();
    let table = format!(
        "| measure | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|\n| time to first byte | {} | {} | {} |\n| complete page | {} | {} | {} |\n\n{requests} page loads by {MERCHANTS} concurrent merchants in {:.1} s ({:.0} pages/s), {errors} errors.\n",
        ms(pct(&first_byte, 0.5)),
        ms(pct(&first_byte, 0.95)),
        ms(pct(&first_byte, 0.99)),
        ms(pct(&complete, 0.5)),
        ms(pct(&complete, 0.95)),
        ms(pct(&complete, 0.99)),
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
    );
    println!("\n{table}");
    record(&table);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One page load: (time to first body byte, time to the last byte); None on any error.
async fn load_page(client: &reqwest::Client, addr: SocketAddr) -> Option<(Duration, Duration)> {
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
    // A page whose panels did not all resolve is not a success.
    let text = String::from_utf8_lossy(&body);
    (text.contains("Last 30 days") && text.contains("Daily net revenue") && text.contains("risk-state")).then(|| (first.unwrap_or_default(), start.elapsed()))
}

fn record(table: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let entry = format!(
        "\n### bench-dashboard — {}\n\nCommand: `make bench-dashboard` (release build; server and load generator share the machine's {} cores; SQLite, 200 merchants / 50,000 transactions).\n\n{table}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    );
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    text.push_str(&entry);
    std::fs::write(&path, text).unwrap();
    eprintln!("recorded in {}", path.display());
}
