//! Test harness: a fresh database per test on SQLite or PostgreSQL (127.0.0.1:5432), and the real
//! app served on a random local port.
#![allow(dead_code)]
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ConnectionTrait, Database};
use vetted::server::config::Config;
use vetted::server::paypal::simulator::{self, Knobs, Simulator};
use vetted::server::seed::{self, SeedOptions, DEMO_ADMIN, DEMO_MERCHANT, DEMO_REVIEWER};
use vetted::server::{http, AppState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend from `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::common::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::common::Backend::Postgres).await }
        })*
    };
}

pub fn postgres_admin_url() -> String {
    std::env::var("VETTED_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub const REDIS_TEST_URL: &str = "redis://127.0.0.1:6379";

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);
static DROPPED_LEFTOVERS: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// Test databases of earlier runs (other process ids) are dropped once per test binary, so they
/// do not pile up; cargo runs test binaries one after another.
async fn drop_leftover_databases(admin: &sea_orm::DatabaseConnection) {
    use sea_orm::{FromQueryResult, Statement};
    #[derive(FromQueryResult)]
    struct Name {
        datname: String,
    }
    let ours = format!("vetted_t_{}_", std::process::id());
    let names =
        Name::find_by_statement(Statement::from_string(admin.get_database_backend(), "SELECT datname FROM pg_database WHERE datname LIKE 'vetted\\_t\\_%'"))
            .all(admin)
            .await
            .unwrap_or_default();
    for name in names.into_iter().map(|n| n.datname).filter(|n| !n.starts_with(&ours)) {
        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
}

pub async fn fresh_db(backend: Backend) -> TestDb {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("vetted_t_{}_{}_{}", std::process::id(), n, Utc::now().timestamp_micros());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("vetted-tests");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{name}.db"));
            TestDb { url: format!("sqlite://{}?mode=rwc", path.display()), backend }
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url();
            let admin = Database::connect(&admin_url).await.expect("PostgreSQL must be running on 127.0.0.1:5432 (make test starts it)");
            DROPPED_LEFTOVERS.get_or_init(|| drop_leftover_databases(&admin)).await;
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
            admin.close().await.ok();
            let base = admin_url.rsplit_once('/').unwrap().0;
            TestDb { url: format!("{base}/{name}"), backend }
        }
    }
}

/// Connects to what `vars` configures, serves the router on a random port and starts the PayPal
/// sync, like `vetted serve`.
async fn start_instance(vars: &HashMap<String, String>) -> (SocketAddr, AppState) {
    let config = Config::from_vars(vars).expect("valid test configuration");
    let state = AppState::connect(config).await.expect("app state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = http::router(state.clone());
    tokio::spawn(async move {
        http::serve::serve(listener, router).await;
    });
    vetted::server::jobs::paypal_sync::spawn(state.clone());
    vetted::server::fraud::engine::spawn_refresher(state.fraud.clone());
    (addr, state)
}

pub fn small_seed() -> SeedOptions {
    SeedOptions { seed: 11, merchants: 4, transactions: 400, until: Utc::now(), show_progress: false }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub db: TestDb,
    /// The PayPal simulator this app syncs from (no latency, no faults unless a test sets some).
    pub sim: Arc<Simulator>,
    pub sim_url: String,
    vars: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Anonymous,
    Merchant,
    Reviewer,
    Admin,
}

impl Who {
    pub const ALL: [Who; 4] = [Who::Anonymous, Who::Merchant, Who::Reviewer, Who::Admin];

    pub fn credentials(self) -> Option<(&'static str, &'static str)> {
        match self {
            Who::Anonymous => None,
            Who::Merchant => Some(DEMO_MERCHANT),
            Who::Reviewer => Some(DEMO_REVIEWER),
            Who::Admin => Some(DEMO_ADMIN),
        }
    }
}

impl TestApp {
    /// A seeded app on a random port, with its own PayPal simulator and background sync, and its
    /// own cache namespace when Redis is used. `env` adds configuration variables.
    pub async fn spawn(backend: Backend, env: &[(&str, &str)]) -> TestApp {
        let db = fresh_db(backend).await;
        let sim = Simulator::new(Knobs::instant());
        let sim_addr = simulator::spawn("127.0.0.1:0".parse().unwrap(), sim.clone()).await.unwrap();
        let sim_url = format!("http://{sim_addr}");
        let mut vars: HashMap<String, String> = [
            ("PAYPAL_BASE_URL", sim_url.as_str()),
            ("PAYPAL_CLIENT_ID", simulator::SIM_CLIENT_ID),
            ("PAYPAL_CLIENT_SECRET", simulator::SIM_CLIENT_SECRET),
            ("PAYPAL_WEBHOOK_ID", simulator::SIM_WEBHOOK_ID),
            ("CACHE_NAMESPACE", db.url.rsplit(['/', '?']).find(|s| s.starts_with("vetted_t_")).unwrap_or("vetted_test")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.trim_end_matches(".db").to_string()))
        .collect();
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        vars.insert("DATABASE_URL".into(), db.url.clone());
        let (addr, state) = start_instance(&vars).await;
        seed::seed(state.db.primary(), &small_seed()).await.expect("seed");
        // As `vetted serve` seeds before it starts deciding: load the seeded rules now rather
        // than at the next refresh tick.
        state.fraud.refresh().await.expect("load the seeded rules");
        TestApp { addr, state, db, sim, sim_url, vars }
    }

    /// A second app instance on the same database, cache namespace and simulator, as a second
    /// server behind a load balancer would be.
    pub async fn another_instance(&self) -> TestApp {
        let (addr, state) = start_instance(&self.vars).await;
        let db = TestDb { url: self.db.url.clone(), backend: self.db.backend };
        TestApp { addr, state, db, sim: self.sim.clone(), sim_url: self.sim_url.clone(), vars: self.vars.clone() }
    }

    /// [`TestApp::another_instance`] with more configuration, e.g. a read replica.
    pub async fn another_instance_with(&self, env: &[(&str, &str)]) -> TestApp {
        let mut vars = self.vars.clone();
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let (addr, state) = start_instance(&vars).await;
        let db = TestDb { url: self.db.url.clone(), backend: self.db.backend };
        TestApp { addr, state, db, sim: self.sim.clone(), sim_url: self.sim_url.clone(), vars }
    }

    /// The merchant's PayPal panel, as the dashboard's server function returns it.
    pub async fn paypal_panel(&self, client: &reqwest::Client) -> vetted::app::dto::PaypalPanel {
        let response = client.post(self.url("/rpc/dashboard/paypal_panel")).send().await.unwrap();
        assert_eq!(response.status(), 200, "paypal panel");
        response.json().await.unwrap()
    }

    /// Polls the panel until `done` holds (the background sync is asynchronous), for at most
    /// `limit`; returns the last panel seen.
    pub async fn paypal_panel_until(
        &self,
        client: &reqwest::Client,
        limit: std::time::Duration,
        done: impl Fn(&vetted::app::dto::PaypalPanel) -> bool,
    ) -> vetted::app::dto::PaypalPanel {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let panel = self.paypal_panel(client).await;
            if done(&panel) || std::time::Instant::now() > deadline {
                return panel;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A client with its own cookie jar that does not follow redirects.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    pub async fn login_response(&self, client: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
        client.post(self.url("/rpc/auth/login")).form(&[("email", email), ("password", password)]).send().await.unwrap()
    }

    /// A client signed in as `who` (or anonymous).
    pub async fn client_as(&self, who: Who) -> reqwest::Client {
        let client = self.client();
        if let Some((email, password)) = who.credentials() {
            let response = self.login_response(&client, email, password).await;
            assert_eq!(response.status(), 200, "login as {who:?}");
        }
        client
    }
}

/// Validates `instance` against `#/components/schemas/<schema>` of one of PayPal's documents.
pub fn assert_matches_schema(document: &str, schema: &str, instance: &serde_json::Value) {
    let path = format!("{}/tests/paypal-contract/{document}", env!("CARGO_MANIFEST_DIR"));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let uri = format!("urn:paypal:{document}");
    let registry = jsonschema::Registry::new().add(uri.as_str(), doc).unwrap().prepare().unwrap();
    let validator =
        jsonschema::options().with_registry(&registry).build(&serde_json::json!({ "$ref": format!("{uri}#/components/schemas/{schema}") })).unwrap();
    let errors: Vec<String> = validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{schema} violations: {errors:#?}\n{instance:#}");
}

/// An access token from a PayPal simulator at `base`.
pub async fn sim_token(http: &reqwest::Client, base: &str) -> String {
    let body: serde_json::Value = http
        .post(format!("{base}/v1/oauth2/token"))
        .basic_auth(simulator::SIM_CLIENT_ID, Some(simulator::SIM_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// A Redis of our own, so stopping it does not disturb other tests.
pub struct PrivateRedis {
    port: u16,
    child: std::process::Child,
}

impl PrivateRedis {
    pub async fn start(port: Option<u16>) -> PrivateRedis {
        let port = port.unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make test installs it)");
        let url = format!("redis://127.0.0.1:{port}");
        for _ in 0..200 {
            if let Ok(client) = redis::Client::open(url.as_str()) {
                if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                    if redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok() {
                        return PrivateRedis { port, child };
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("private redis-server did not start on {port}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(mut self) -> u16 {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.port
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
