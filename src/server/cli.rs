//! `vetted serve | migrate | seed | create-user | create-api-key`: one binary for the server and its chores.
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use super::auth::service::{create_user, NewUser};
use super::config::{Config, Secret};
use super::paypal::simulator;
use super::seed::{self, SeedOptions, DEMO_ADMIN, DEMO_MERCHANT, DEMO_REVIEWER};
use super::{auth, db, http, jobs, AppState};
use crate::app::dto::Role;

#[derive(Parser, Debug)]
#[command(name = "vetted", about = "Fraud review and merchant dashboard", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the web server (the default). Applies pending migrations first.
    Serve {
        /// Fill an empty database with the demo data first (what `make run` does).
        #[arg(long)]
        seed_if_empty: bool,
        /// Unless PayPal credentials are configured, start the PayPal simulator in this process
        /// (on VETTED_PAYPAL_SIM_ADDR, default 127.0.0.1:3005) and sync from it.
        #[arg(long)]
        paypal_sim: bool,
    },
    /// Run the PayPal simulator alone (knobs at /__sim/knobs, request counts at /__sim/stats).
    PaypalSim {
        #[arg(long, default_value = "127.0.0.1:3005")]
        addr: SocketAddr,
        /// Mean latency of its answers (log-normal, long tail).
        #[arg(long, default_value_t = 500)]
        latency_ms: u64,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Fill an empty database with realistic demo data, the review desk's history (the held share
    /// of the payments as cases: over a million for 10,000,000 transactions) and the demo logins.
    Seed {
        /// Random seed: the same seed and --until give the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 200)]
        merchants: u32,
        #[arg(long, default_value_t = 50_000)]
        transactions: u64,
        /// End of the 90-day window (RFC 3339); defaults to now.
        #[arg(long)]
        until: Option<DateTime<Utc>>,
    },
    /// Create a user; the password is read from the first line of standard input.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["merchant", "reviewer", "admin"])]
        role: String,
        #[arg(long)]
        name: Option<String>,
        /// Required for (and only for) merchant users.
        #[arg(long)]
        merchant_id: Option<i32>,
    },
    /// Create an ingest API key and print it (only its hash is stored: this is the one chance
    /// to copy it).
    CreateApiKey {
        /// What the key is for, e.g. "checkout service".
        #[arg(long)]
        name: String,
        /// Bind the key to this merchant: it sends and reads back that merchant's transactions only.
        #[arg(long)]
        merchant_id: Option<i32>,
    },
}

pub async fn run() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve { seed_if_empty: false, paypal_sim: false }) {
        Command::Serve { seed_if_empty, paypal_sim } => serve(config, seed_if_empty, paypal_sim).await,
        Command::PaypalSim { addr, latency_ms } => run_paypal_sim(addr, latency_ms).await,
        Command::Migrate => migrate(config).await,
        Command::Seed { seed, merchants, transactions, until } => {
            let options = SeedOptions { seed, merchants, transactions, until: until.unwrap_or_else(Utc::now), show_progress: true };
            run_seed(config, options).await
        }
        Command::CreateUser { email, role, name, merchant_id } => add_user(config, email, role, name, merchant_id).await,
        Command::CreateApiKey { name, merchant_id } => create_api_key(config, name, merchant_id).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}

async fn connect(config: Config) -> Result<AppState, String> {
    AppState::connect(config).await.map_err(|e| e.to_string())
}

async fn create_api_key(config: Config, name: String, merchant_id: Option<i32>) -> Result<(), String> {
    let state = connect(config).await?;
    let created = crate::server::fraud::api_keys::create_scoped(state.db.primary(), &name, merchant_id, "cli", Utc::now()).await.map_err(|e| e.to_string())?;
    println!("API key {:?} (id {}): {}", created.summary.name, created.summary.id, created.key);
    println!("Copy it now: only its hash is stored.");
    Ok(())
}

async fn migrate(config: Config) -> Result<(), String> {
    connect(config).await?;
    println!("migrations applied");
    Ok(())
}

async fn run_seed(config: Config, options: SeedOptions) -> Result<(), String> {
    let state = connect(config).await?;
    let started = std::time::Instant::now();
    let report = seed::seed(state.db.primary(), &options).await.map_err(|e| e.to_string())?;
    println!(
        "seeded {} merchants, {} products, {} transactions in {:.1} s (seed {})",
        report.merchants,
        report.products,
        report.transactions,
        started.elapsed().as_secs_f64(),
        options.seed
    );
    let started = std::time::Instant::now();
    let history = seed::record_history(state.db.primary(), &options, report.transactions).await.map_err(|e| e.to_string())?;
    println!(
        "review history: {} cases from the held share of those transactions ({} still open) in {:.1} s",
        history.cases,
        history.open,
        started.elapsed().as_secs_f64()
    );
    print_review_seed(seed::review::seed_review_queue(&state, options.seed, options.merchants, options.until).await?);
    print_demo_logins();
    Ok(())
}

fn print_review_seed(report: seed::review::ReviewSeedReport) {
    println!(
        "review queue: {} demo payments through the fraud engine opened {} cases: {} resolved, {} escalated, {} claimed, {} open",
        report.ingested, report.cases, report.resolved, report.escalated, report.claimed, report.open
    );
}

async fn add_user(config: Config, email: String, role: String, name: Option<String>, merchant_id: Option<i32>) -> Result<(), String> {
    let role = Role::parse(&role).ok_or("--role must be merchant, reviewer or admin")?;
    eprintln!("password (first line of standard input):");
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password).map_err(|_| "could not read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let state = connect(config).await?;
    let display_name = name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string());
    let user = create_user(state.db.primary(), NewUser { email: &email, display_name: &display_name, password, role, merchant_id })
        .await
        .map_err(|e| e.to_string())?;
    println!("created {} user {} (id {})", role.as_str(), user.email, user.id);
    Ok(())
}

fn print_demo_logins() {
    println!("demo logins (password after the email):");
    for (role, (email, password)) in [("merchant", DEMO_MERCHANT), ("reviewer", DEMO_REVIEWER), ("admin", DEMO_ADMIN)] {
        println!("  {role:<9} {email:<22} {password}");
    }
}

async fn run_paypal_sim(addr: SocketAddr, latency_ms: u64) -> Result<(), String> {
    let knobs = simulator::Knobs { latency_mean_ms: latency_ms, ..simulator::Knobs::default() };
    let bound = simulator::spawn(addr, simulator::Simulator::new(knobs)).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("PayPal simulator on http://{bound} (client id {}, knobs at /__sim/knobs)", simulator::SIM_CLIENT_ID);
    shutdown_signal().await;
    Ok(())
}

/// Points the configuration at an in-process simulator unless real PayPal credentials are set.
async fn start_paypal_sim_unless_configured(config: &mut Config) -> Result<(), String> {
    if config.paypal.client_id.is_some() {
        println!("PayPal: using the configured credentials");
        return Ok(());
    }
    let addr: SocketAddr = std::env::var("VETTED_PAYPAL_SIM_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3005".to_string())
        .parse()
        .map_err(|_| "VETTED_PAYPAL_SIM_ADDR: expected host:port such as 127.0.0.1:3005".to_string())?;
    // The simulator delivers its webhooks (disputes) to this server.
    let knobs = simulator::Knobs { webhook_url: Some(format!("http://{}/webhooks/paypal", config.bind_addr)), ..simulator::Knobs::default() };
    let bound = simulator::spawn(addr, simulator::Simulator::new(knobs)).await.map_err(|e| format!("cannot start the PayPal simulator on {addr}: {e}"))?;
    config.paypal.base_url = Some(format!("http://{bound}"));
    config.paypal.client_id = Some(simulator::SIM_CLIENT_ID.to_string());
    config.paypal.client_secret = Some(Secret(simulator::SIM_CLIENT_SECRET.to_string()));
    config.paypal.partner_id = simulator::SIM_PARTNER_ID.to_string();
    config.paypal.webhook_id = Some(simulator::SIM_WEBHOOK_ID.to_string());
    println!("PayPal simulator on http://{bound} (knobs: POST /__sim/knobs, e.g. {{\"outage\": true}})");
    Ok(())
}

async fn serve(mut config: Config, seed_if_empty: bool, paypal_sim: bool) -> Result<(), String> {
    let addr = config.bind_addr;
    if paypal_sim {
        start_paypal_sim_unless_configured(&mut config).await?;
    }
    let state = connect(config).await?;
    let empty = seed::is_empty(state.db.primary()).await.map_err(|e| format!("database error ({})", db::error_kind(&e)))?;
    if seed_if_empty && empty {
        println!("empty database: seeding demo data (once)…");
        let report = seed::seed(state.db.primary(), &SeedOptions::demo(Utc::now())).await.map_err(|e| e.to_string())?;
        println!("seeded {} merchants and {} transactions", report.merchants, report.transactions);
        let options = SeedOptions::demo(Utc::now());
        print_review_seed(seed::review::seed_review_queue(&state, options.seed, options.merchants, options.until).await?);
        let key = crate::server::fraud::api_keys::create(state.db.primary(), "demo", "seed", Utc::now()).await.map_err(|e| e.to_string())?;
        println!("Demo ingest API key (shown once; `vetted create-api-key --name …` makes more): {}", key.key);
    }
    spawn_housekeeping(state.clone());
    jobs::paypal_sync::spawn(state.clone());
    jobs::case_leases::spawn(state.db.clone());
    jobs::rule_hits::spawn(state.db.clone());
    jobs::outbound::spawn(state.db.clone(), state.config.webhooks_allow_http_loopback);
    crate::server::fraud::engine::spawn_refresher(state.fraud.clone());
    crate::server::paypal::webhooks::spawn_reconciliation(state.clone());

    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("Vetted is listening on http://{addr}");
    if seed_if_empty {
        print_demo_logins();
    }
    http::serve::serve_with_shutdown(listener, http::router(state), shutdown_signal()).await;
    Ok(())
}

/// Expired sessions are pruned every ten minutes.
fn spawn_housekeeping(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = auth::session_store::delete_expired(state.sessions.db()).await {
                tracing::warn!(kind = db::error_kind(&e), "pruning expired sessions failed");
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
