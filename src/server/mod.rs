//! Everything that only runs on the server: never compiled into the browser bundle.
pub mod audit;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod email;
pub mod error;
pub mod fraud;
pub mod http;
pub mod jobs;
pub mod monitoring;
pub mod outbound;
pub mod paypal;
pub mod review;
pub mod seed;

use std::sync::Arc;

use leptos::config::LeptosOptions;
use leptos::prelude::use_context;

use crate::app::error::AppError;
use auth::rate_limit::LoginLimiter;
use auth::session_store::SessionBackend;
use cache::Cache;
use config::Config;
use db::Db;
use paypal::PaypalService;

/// Entries of the in-process cache (one PayPal panel record per merchant, a few KB each).
const IN_PROCESS_CACHE_ENTRIES: u64 = 100_000;

/// What every request handler and server function can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub sessions: SessionBackend,
    /// Redis when `REDIS_URL` is set, in-process otherwise.
    pub cache: Cache,
    pub paypal: PaypalService,
    /// Published rules and lists in memory; velocity in Redis or the database.
    pub fraud: Arc<fraud::engine::FraudEngine>,
    pub login_limiter: LoginLimiter,
    pub leptos_options: LeptosOptions,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database ({0}); check DATABASE_URL / DATABASE_READ_URL")]
    Database(&'static str),
    #[error("cannot apply migrations ({0})")]
    Migrate(&'static str),
    #[error("cannot connect to Redis; check REDIS_URL")]
    Redis,
}

impl AppState {
    /// Connects to everything the configuration names and applies pending migrations.
    pub async fn connect(config: Config) -> Result<AppState, StartupError> {
        let db = Db::connect(&config.database_url, config.database_read_url.as_deref()).await.map_err(|e| StartupError::Database(db::error_kind(&e)))?;
        db.migrate().await.map_err(|e| StartupError::Migrate(db::error_kind(&e)))?;
        let cache = match &config.redis_url {
            Some(url) => Cache::redis(url, &config.cache_namespace).await.map_err(|_| StartupError::Redis)?,
            None => Cache::memory(IN_PROCESS_CACHE_ENTRIES),
        };
        let sessions = match cache.redis_backend() {
            Some(redis) if config.sessions_in_redis => SessionBackend::database_with_redis_in_front(db.primary().clone(), redis.clone()),
            _ => SessionBackend::database(db.primary().clone()),
        };
        Ok(AppState::new(config, db, sessions, cache))
    }

    pub fn new(config: Config, db: Db, sessions: SessionBackend, cache: Cache) -> AppState {
        let leptos_options = leptos_options(&config);
        monitoring::install();
        paypal::client::install_crypto_provider();
        AppState {
            paypal: PaypalService::new(config.paypal.clone()),
            fraud: Arc::new(fraud::engine::FraudEngine::new(db.clone(), &cache)),
            config: Arc::new(config),
            db,
            sessions,
            login_limiter: LoginLimiter::new(cache.clone()),
            cache,
            leptos_options,
        }
    }

    /// The state provided to the server function or page being run.
    pub fn from_context() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            AppError::Internal
        })
    }

    /// Test-only slow-down of the sales panel (VETTED_DEBUG_PANEL_DELAY_MS): lets a test watch the
    /// shell stream before the panel resolves.
    pub async fn debug_panel_delay(&self) {
        if let Some(delay) = self.config.debug_panel_delay {
            tokio::time::sleep(delay).await;
        }
    }
}

/// Leptos options from our configuration rather than Cargo.toml, so the binary runs from any
/// directory. `LEPTOS_SITE_ROOT` points at cargo-leptos's output (the `site` folder).
fn leptos_options(config: &Config) -> LeptosOptions {
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".to_string());
    LeptosOptions::builder()
        .output_name("vetted")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(config.bind_addr)
        .hash_files(http::assets::hash_file().is_some())
        .build()
}
