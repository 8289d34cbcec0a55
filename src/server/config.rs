//! Environment → typed configuration, read once at start-up. Every bad variable gets one error
//! line naming it; the process then exits non-zero.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// `Debug` is written out below: the database and Redis URLs can carry passwords.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub database_read_url: Option<String>,
    pub redis_url: Option<String>,
    /// Prefix of this deployment's cache keys in Redis.
    pub cache_namespace: String,
    /// Where sessions live: Redis by default when it is configured, else the database.
    pub sessions_in_redis: bool,
    pub bind_addr: SocketAddr,
    pub cookie_secure: bool,
    /// `RULES_PUBLISH_NEEDS_APPROVAL`: a draft is published by an admin who did not edit it.
    pub rules_publish_needs_approval: bool,
    /// `WEBHOOKS_ALLOW_HTTP_LOOPBACK`: outbound webhooks may go to `http://` on this machine
    /// (development and tests); otherwise only `https://` to public addresses.
    pub webhooks_allow_http_loopback: bool,
    pub session_idle: Duration,
    pub paypal: PaypalConfig,
    /// Bearer token for `GET /metrics`; without one, only admins and loopback peers may scrape.
    pub metrics_token: Option<Secret>,
    /// Reverse proxies in front of the server (`TRUSTED_PROXIES`, addresses or CIDR ranges): from
    /// these peers the client's address is read from `X-Forwarded-For`, and loopback is no proof
    /// of being on the machine.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The review queue's clock: claim lease (`REVIEW_LEASE_SECS`, default 600) and SLA
    /// (`REVIEW_SLA_HOURS`, default 24).
    pub review: crate::server::review::cases::ReviewTiming,
    /// Test-only: delays the sales panel so streaming can be observed. Never set in production.
    pub debug_panel_delay: Option<Duration>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("database_read_url", &self.database_read_url.as_deref().map(redact_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("cache_namespace", &self.cache_namespace)
            .field("sessions_in_redis", &self.sessions_in_redis)
            .field("bind_addr", &self.bind_addr)
            .field("cookie_secure", &self.cookie_secure)
            .field("session_idle", &self.session_idle)
            .field("paypal", &self.paypal)
            .field("metrics_token", &self.metrics_token)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("review", &self.review)
            .field("debug_panel_delay", &self.debug_panel_delay)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaypalConfig {
    pub base_url: Option<String>,
    pub client_id: Option<String>,
    /// Kept out of `Debug` output below.
    pub client_secret: Option<Secret>,
    /// The platform's PayPal partner id (merchant-integrations calls).
    pub partner_id: String,
    /// Data younger than this is fresh; older data is still shown but a refresh is queued.
    pub fresh_for: Duration,
    /// How long a cache entry lives; after that the dashboard reads the database snapshot.
    pub stale_for: Duration,
    /// How often each connected account is refreshed in the background.
    pub sync_interval: Duration,
    /// Refreshes in flight at once, per instance.
    pub sync_concurrency: usize,
    /// Merchant refreshes started per second across all instances (each is 4–10 PayPal calls).
    pub sync_per_second: u32,
    /// After a failed refresh, when to try that merchant again.
    pub retry_after_failure: Duration,
    pub breaker_cooldown: Duration,
    /// The id of our webhook at PayPal: incoming webhooks are verified against it. Without it
    /// `/webhooks/paypal` refuses everything (and the reconciliation still fills disputes in).
    pub webhook_id: Option<String>,
    /// How often PayPal's webhook-event list is read to fill in missed webhooks.
    pub reconcile_interval: Duration,
    /// Benchmark only: call PayPal inside the page request, as the old dashboard did.
    pub naive_request_path: bool,
}

pub const PAYPAL_LIVE_URL: &str = "https://api-m.paypal.com";

/// The PayPal simulator's fixed identity (`paypal::simulator` re-exports it). Configuration
/// recognises the simulator by its client id: only then may `PAYPAL_PARTNER_ID` be left out.
pub const SIM_CLIENT_ID: &str = "vetted-sim-client";
pub const SIM_CLIENT_SECRET: &str = "vetted-sim-secret";
pub const SIM_PARTNER_ID: &str = "VETTEDPARTNER";
/// The id of the one webhook the simulator delivers to.
pub const SIM_WEBHOOK_ID: &str = "SIMWEBHOOK0001";

/// What the PayPal client is built from (`paypal::client` re-exports it). It lives here so that
/// configuration imports nothing from `paypal`.
#[derive(Debug, Clone)]
pub struct PaypalSettings {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub partner_id: String,
    /// Consecutive failures that open the breaker.
    pub breaker_threshold: u32,
    /// How long the breaker stays open before one probe is let through.
    pub breaker_cooldown: Duration,
}

impl PaypalConfig {
    /// Client settings when PayPal (or the simulator) is configured.
    pub fn client_settings(&self) -> Option<PaypalSettings> {
        let (Some(client_id), Some(client_secret)) = (&self.client_id, &self.client_secret) else {
            return None;
        };
        Some(PaypalSettings {
            base_url: self.base_url.clone().unwrap_or_else(|| PAYPAL_LIVE_URL.to_string()),
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            partner_id: self.partner_id.clone(),
            breaker_threshold: 5,
            breaker_cooldown: self.breaker_cooldown,
        })
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One line per invalid variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, line) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "configuration error: {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/vetted.db?mode=rwc";

impl Config {
    /// Reads the process environment (after an optional `.env`).
    pub fn from_env() -> Result<Config, ConfigErrors> {
        let _ = dotenvy::dotenv();
        Config::from_vars(&std::env::vars().collect())
    }

    /// Parses configuration from a map of variables; the environment is not touched, so tests can
    /// call this directly.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        check_database_url("DATABASE_URL", &database_url, &mut errors);
        let database_read_url = get("DATABASE_READ_URL");
        if let Some(url) = &database_read_url {
            check_database_url("DATABASE_READ_URL", url, &mut errors);
        }

        let redis_url = get("REDIS_URL");
        if let Some(url) = &redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                errors.push(format!("REDIS_URL: expected a redis:// or rediss:// URL, got {:?}", redact_url(url)));
            }
        }

        let cache_namespace = get("CACHE_NAMESPACE").unwrap_or_else(|| "vetted".to_string());
        if !cache_namespace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            errors.push(format!("CACHE_NAMESPACE: use letters, digits, '-' and '_' only, got {cache_namespace:?}"));
        }
        let sessions_in_redis = match get("SESSION_STORE").as_deref() {
            None => redis_url.is_some(),
            Some("database") => false,
            Some("redis") if redis_url.is_some() => true,
            Some("redis") => {
                errors.push("SESSION_STORE: redis needs REDIS_URL".to_string());
                false
            }
            Some(other) => {
                errors.push(format!("SESSION_STORE: expected database or redis, got {other:?}"));
                false
            }
        };

        let bind_addr = match get("VETTED_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                errors.push(format!("VETTED_ADDR: expected host:port such as 127.0.0.1:3000, got {raw:?}"));
                SocketAddr::from(([127, 0, 0, 1], 3000))
            }),
        };

        let cookie_secure = parse_bool(&get, "COOKIE_SECURE", false, &mut errors);
        let rules_publish_needs_approval = parse_bool(&get, "RULES_PUBLISH_NEEDS_APPROVAL", false, &mut errors);
        let webhooks_allow_http_loopback = parse_bool(&get, "WEBHOOKS_ALLOW_HTTP_LOOPBACK", false, &mut errors);

        let session_idle_minutes = parse_u64(&get, "SESSION_IDLE_MINUTES", 12 * 60, &mut errors);
        if session_idle_minutes == 0 {
            errors.push("SESSION_IDLE_MINUTES: must be at least 1".to_string());
        }

        let paypal_base_url = get("PAYPAL_BASE_URL");
        if let Some(url) = &paypal_base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                errors.push(format!("PAYPAL_BASE_URL: expected an http:// or https:// URL, got {url:?}"));
            }
        }
        let client_id = get("PAYPAL_CLIENT_ID");
        let client_secret = get("PAYPAL_CLIENT_SECRET").map(Secret);
        if client_id.is_some() != client_secret.is_some() {
            errors.push("PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET: set both or neither".to_string());
        }

        let seconds = |name: &str, default: u64, errors: &mut Vec<String>| {
            let value = parse_u64(&get, name, default, errors);
            if value == 0 {
                errors.push(format!("{name}: must be at least 1"));
            }
            Duration::from_secs(value)
        };
        let fresh_for = seconds("PAYPAL_FRESH_SECS", 15 * 60, &mut errors);
        let stale_for = seconds("PAYPAL_STALE_SECS", 24 * 3600, &mut errors);
        if stale_for < fresh_for {
            errors.push("PAYPAL_STALE_SECS: must not be shorter than PAYPAL_FRESH_SECS".to_string());
        }
        let sync_interval = seconds("PAYPAL_SYNC_INTERVAL_SECS", 15 * 60, &mut errors);
        let retry_after_failure = seconds("PAYPAL_RETRY_AFTER_FAILURE_SECS", 60, &mut errors);
        let breaker_cooldown = seconds("PAYPAL_BREAKER_COOLDOWN_SECS", 30, &mut errors);
        let sync_concurrency = parse_u64(&get, "PAYPAL_SYNC_CONCURRENCY", 4, &mut errors).clamp(1, 64) as usize;
        let sync_per_second = parse_u64(&get, "PAYPAL_SYNC_PER_SECOND", 5, &mut errors).clamp(1, 1000) as u32;
        let naive_request_path = parse_bool(&get, "VETTED_BENCH_NAIVE_PAYPAL", false, &mut errors);
        let webhook_id = get("PAYPAL_WEBHOOK_ID");
        if webhook_id.as_deref().is_some_and(|id| id.is_empty() || id.len() > 50 || !id.chars().all(|c| c.is_ascii_alphanumeric())) {
            errors.push("PAYPAL_WEBHOOK_ID: must be PayPal's webhook id (1 to 50 letters and digits)".to_string());
        }
        let reconcile_interval = seconds("PAYPAL_RECONCILE_INTERVAL_SECS", 300, &mut errors);
        // Real credentials need the platform's own partner id; the simulator's (or none) use the
        // simulator's.
        let real_credentials = client_id.as_deref().is_some_and(|id| id != SIM_CLIENT_ID) && client_secret.is_some();
        let partner_id = match get("PAYPAL_PARTNER_ID") {
            Some(id) => id,
            None if real_credentials => {
                errors.push("PAYPAL_PARTNER_ID: required with real PayPal credentials (PAYPAL_CLIENT_ID); set the platform's PayPal partner id".to_string());
                String::new()
            }
            None => SIM_PARTNER_ID.to_string(),
        };

        let metrics_token = get("METRICS_TOKEN").map(Secret);
        let trusted_proxies = get("TRUSTED_PROXIES").map_or_else(Vec::new, |raw| parse_networks("TRUSTED_PROXIES", &raw, &mut errors));

        let lease_secs = parse_u64(&get, "REVIEW_LEASE_SECS", 600, &mut errors);
        if !(30..=86_400).contains(&lease_secs) {
            errors.push("REVIEW_LEASE_SECS: must be between 30 and 86400 (a day)".to_string());
        }
        let sla_hours = parse_u64(&get, "REVIEW_SLA_HOURS", 24, &mut errors);
        if !(1..=24 * 90).contains(&sla_hours) {
            errors.push("REVIEW_SLA_HOURS: must be between 1 and 2160 (90 days)".to_string());
        }
        let review = crate::server::review::cases::ReviewTiming {
            lease: chrono::Duration::seconds(lease_secs.clamp(30, 86_400) as i64),
            sla: chrono::Duration::hours(sla_hours.clamp(1, 24 * 90) as i64),
        };

        let debug_panel_delay = match parse_u64(&get, "VETTED_DEBUG_PANEL_DELAY_MS", 0, &mut errors) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        };

        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Config {
            database_url,
            database_read_url,
            redis_url,
            cache_namespace,
            sessions_in_redis,
            bind_addr,
            cookie_secure,
            rules_publish_needs_approval,
            webhooks_allow_http_loopback,
            session_idle: Duration::from_secs(session_idle_minutes * 60),
            paypal: PaypalConfig {
                base_url: paypal_base_url,
                client_id,
                client_secret,
                partner_id,
                fresh_for,
                stale_for,
                sync_interval,
                sync_concurrency,
                sync_per_second,
                retry_after_failure,
                breaker_cooldown,
                webhook_id,
                reconcile_interval,
                naive_request_path,
            },
            metrics_token,
            trusted_proxies,
            review,
            debug_panel_delay,
        })
    }
}

fn check_database_url(name: &str, url: &str, errors: &mut Vec<String>) {
    if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        errors.push(format!("{name}: expected a sqlite: or postgres:// URL, got {:?}", redact_url(url)));
    }
}

fn parse_bool(get: &impl Fn(&str) -> Option<String>, name: &str, default: bool, errors: &mut Vec<String>) -> bool {
    match get(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => default,
        Some("1" | "true" | "yes" | "on") => true,
        Some("0" | "false" | "no" | "off") => false,
        Some(other) => {
            errors.push(format!("{name}: expected true or false, got {other:?}"));
            default
        }
    }
}

fn parse_u64(get: &impl Fn(&str) -> Option<String>, name: &str, default: u64, errors: &mut Vec<String>) -> u64 {
    match get(name) {
        None => default,
        Some(raw) => raw.parse().unwrap_or_else(|_| {
            errors.push(format!("{name}: expected a whole number, got {raw:?}"));
            default
        }),
    }
}

/// `10.0.0.0/8, 192.0.2.7`: addresses or CIDR ranges, comma-separated.
fn parse_networks(name: &str, raw: &str, errors: &mut Vec<String>) -> Vec<ipnet::IpNet> {
    let mut networks = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        match item.parse::<ipnet::IpNet>().or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)) {
            Ok(net) => networks.push(net),
            Err(_) => errors.push(format!("{name}: expected addresses or CIDR ranges separated by commas, got {item:?}")),
        }
    }
    networks
}

/// Hides the password in `scheme://user:password@host` and in a `password=` query parameter, so
/// error lines and debug output never carry a secret.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (location, query) = rest.split_once('?').map_or((rest, None), |(l, q)| (l, Some(q)));
    // The credentials end at the last '@' before the path (a password may contain '@').
    let authority_end = location.find('/').unwrap_or(location.len());
    let location = match location[..authority_end].rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{user}:***@{host}{}", &location[authority_end..])
        }
        _ => location.to_string(),
    };
    let query = query.map(|q| {
        q.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    match query {
        Some(query) => format!("{scheme}://{location}?{query}"),
        None => format!("{scheme}://{location}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_to_embedded_sqlite_and_in_process_cache() {
        let config = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.redis_url, None);
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:3000");
        assert!(!config.cookie_secure);
    }

    #[test]
    fn each_bad_variable_gets_one_line_naming_it() {
        let err = Config::from_vars(&vars(&[
            ("DATABASE_URL", "mysql://x"),
            ("COOKIE_SECURE", "maybe"),
            ("VETTED_ADDR", "localhost"),
            ("REDIS_URL", "http://127.0.0.1:6379"),
            ("PAYPAL_CLIENT_ID", "abc"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        for name in ["DATABASE_URL", "COOKIE_SECURE", "VETTED_ADDR", "REDIS_URL", "PAYPAL_CLIENT_ID"] {
            assert_eq!(lines.iter().filter(|l| l.contains(name)).count(), 1, "{name} in {text}");
        }
    }

    #[test]
    fn error_lines_never_carry_a_password() {
        let err = Config::from_vars(&vars(&[("DATABASE_READ_URL", "mysql://app:hunter2@db:3306/x")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("DATABASE_READ_URL"));
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn urls_in_debug_output_carry_no_password() {
        let config = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://app:pg-secret@db.internal/vetted"),
            ("DATABASE_READ_URL", "postgres://app@replica.internal/vetted?password=replica-secret&sslmode=require"),
            ("REDIS_URL", "redis://:redis-secret@cache.internal:6379/0"),
        ]))
        .unwrap();
        let debug = format!("{config:?}");
        for secret in ["pg-secret", "replica-secret", "redis-secret"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("db.internal") && debug.contains("sslmode=require") && debug.contains("cache.internal"), "{debug}");
        assert_eq!(redact_url("postgres://u:p@ss@host/db"), "postgres://u:***@host/db");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let config = Config::from_vars(&vars(&[("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,::1")])).unwrap();
        let shown: Vec<String> = config.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]);
        assert!(Config::from_vars(&vars(&[])).unwrap().trusted_proxies.is_empty());
        let err = Config::from_vars(&vars(&[("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")])).unwrap_err();
        assert!(err.to_string().contains("TRUSTED_PROXIES") && err.to_string().contains("proxy.internal"), "{err}");
    }

    #[test]
    fn secrets_are_hidden_from_debug_output() {
        let config =
            Config::from_vars(&vars(&[("PAYPAL_CLIENT_ID", "client"), ("PAYPAL_CLIENT_SECRET", "very-secret"), ("PAYPAL_PARTNER_ID", "PARTNER1")])).unwrap();
        assert!(!format!("{config:?}").contains("very-secret"));
    }

    #[test]
    fn paypal_and_cache_settings_are_checked() {
        let err = Config::from_vars(&vars(&[
            ("PAYPAL_FRESH_SECS", "0"),
            ("PAYPAL_SYNC_INTERVAL_SECS", "soon"),
            ("SESSION_STORE", "redis"),
            ("CACHE_NAMESPACE", "a b"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        for name in ["PAYPAL_FRESH_SECS", "PAYPAL_SYNC_INTERVAL_SECS", "SESSION_STORE", "CACHE_NAMESPACE"] {
            assert!(text.contains(name), "{name} missing in {text}");
        }
        let err = Config::from_vars(&vars(&[("PAYPAL_FRESH_SECS", "600"), ("PAYPAL_STALE_SECS", "60")])).unwrap_err();
        assert!(err.to_string().contains("PAYPAL_STALE_SECS: must not be shorter"), "{err}");
    }

    #[test]
    fn paypal_defaults_and_simulator_credentials() {
        let config = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(config.paypal.fresh_for, Duration::from_secs(15 * 60));
        assert_eq!(config.paypal.stale_for, Duration::from_secs(24 * 3600));
        assert!(config.paypal.client_settings().is_none(), "no credentials: nothing to sync");
        assert!(!config.paypal.naive_request_path);
        let config = Config::from_vars(&vars(&[
            ("PAYPAL_CLIENT_ID", "id"),
            ("PAYPAL_CLIENT_SECRET", "secret"),
            ("PAYPAL_PARTNER_ID", "PARTNER1"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("SESSION_STORE", "database"),
        ]))
        .unwrap();
        assert_eq!(config.paypal.client_settings().unwrap().base_url, PAYPAL_LIVE_URL);
        assert!(!config.sessions_in_redis);
    }

    #[test]
    fn real_paypal_credentials_need_a_partner_id_the_simulator_does_not() {
        let real = [("PAYPAL_CLIENT_ID", "AbC-live-client"), ("PAYPAL_CLIENT_SECRET", "live-secret")];
        let err = Config::from_vars(&vars(&real)).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        assert!(err.0[0].starts_with("PAYPAL_PARTNER_ID: "), "{err}");
        let config = Config::from_vars(&vars(&[real[0], real[1], ("PAYPAL_PARTNER_ID", "PARTNER1")])).unwrap();
        assert_eq!(config.paypal.client_settings().unwrap().partner_id, "PARTNER1");
        // The simulator's credentials (as `--paypal-sim` and the tests configure them) and no
        // credentials at all need none.
        let simulator = Config::from_vars(&vars(&[
            ("PAYPAL_BASE_URL", "http://127.0.0.1:3005"),
            ("PAYPAL_CLIENT_ID", SIM_CLIENT_ID),
            ("PAYPAL_CLIENT_SECRET", SIM_CLIENT_SECRET),
        ]))
        .unwrap();
        assert_eq!(simulator.paypal.client_settings().unwrap().partner_id, SIM_PARTNER_ID);
        assert!(Config::from_vars(&vars(&[])).unwrap().paypal.client_settings().is_none());
    }

    #[test]
    fn accepts_postgres_and_read_replica() {
        let config = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
            ("DATABASE_READ_URL", "postgres://postgres@127.0.0.1:5433/test"),
            ("COOKIE_SECURE", "true"),
            ("VETTED_ADDR", "0.0.0.0:8080"),
        ]))
        .unwrap();
        assert!(config.cookie_secure);
        assert_eq!(config.database_read_url.as_deref(), Some("postgres://postgres@127.0.0.1:5433/test"));
        assert_eq!(config.bind_addr.port(), 8080);
    }
}
