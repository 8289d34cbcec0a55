//! The PayPal REST client: OAuth2 client-credentials token (cached, refreshed single-flight),
//! the four read endpoints the dashboard needs, bounded timeouts, retries with jittered backoff
//! on 5xx / 429 only (honouring Retry-After), and a circuit breaker. The background path (and
//! the benchmark's naive mode) uses one client; webhook verification, which anonymous requests
//! trigger, uses another with its own breaker, one attempt per call and a budget of calls
//! ([`CallPolicy`]), so that no stranger can spend the sync's breaker or PayPal's patience.
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use super::wire;
pub use crate::server::config::PaypalSettings;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(3);
/// Attempts per request, first one included.
const MAX_ATTEMPTS: u32 = 3;
/// A Retry-After longer than this is not waited for: the sync tries again on its next round.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);
/// Refresh the token this long before PayPal says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
const TRANSACTION_PAGES: u32 = 5;
const DISPUTE_PAGES: u32 = 4;
/// Webhook events per page of PayPal's list.
const EVENT_PAGE_SIZE: usize = 100;

/// Why a PayPal call failed. `kind()` is the short, stable name used in metrics, logs and the
/// database; no upstream text is ever kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PaypalError {
    #[error("PayPal did not answer in time")]
    Timeout,
    #[error("PayPal could not be reached")]
    Connect,
    #[error("PayPal answered with a server error")]
    ServerError,
    #[error("PayPal is rate-limiting our requests")]
    RateLimited,
    #[error("PayPal rejected our credentials")]
    Unauthorized,
    #[error("PayPal refused the request")]
    Rejected,
    #[error("PayPal sent a response we could not read")]
    BadResponse,
    #[error("PayPal calls are paused after repeated failures")]
    CircuitOpen,
    /// This client's budget of calls is spent for now (webhook verification); nothing was sent.
    #[error("too many PayPal calls for now")]
    Throttled,
}

impl PaypalError {
    pub fn kind(self) -> &'static str {
        match self {
            PaypalError::Timeout => "timeout",
            PaypalError::Connect => "connect",
            PaypalError::ServerError => "server_error",
            PaypalError::RateLimited => "rate_limited",
            PaypalError::Unauthorized => "unauthorized",
            PaypalError::Rejected => "rejected",
            PaypalError::BadResponse => "bad_response",
            PaypalError::CircuitOpen => "circuit_open",
            PaypalError::Throttled => "throttled",
        }
    }

    pub fn from_kind(kind: &str) -> Option<PaypalError> {
        [
            PaypalError::Timeout,
            PaypalError::Connect,
            PaypalError::ServerError,
            PaypalError::RateLimited,
            PaypalError::Unauthorized,
            PaypalError::Rejected,
            PaypalError::BadResponse,
            PaypalError::CircuitOpen,
            PaypalError::Throttled,
        ]
        .into_iter()
        .find(|e| e.kind() == kind)
    }

    /// Whether this says PayPal is unhealthy (and so should trip the breaker).
    fn is_upstream_failure(self) -> bool {
        !matches!(self, PaypalError::Rejected | PaypalError::Unauthorized | PaypalError::CircuitOpen | PaypalError::Throttled)
    }
}

/// Who caused a call: the metric of page-load calls must stay at zero outside the benchmark's
/// naive mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Sync,
    PageLoad,
    Webhook,
    Reconcile,
}

impl Cause {
    fn label(self) -> &'static str {
        match self {
            Cause::Sync => "sync",
            Cause::PageLoad => "page_load",
            Cause::Webhook => "webhook",
            Cause::Reconcile => "reconcile",
        }
    }
}

/// How a client spends PayPal calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallPolicy {
    /// Attempts per request on 5xx / 429, first one included.
    pub max_attempts: u32,
    /// HTTP requests (token requests included) this client may send: `burst` at once, then
    /// `per_minute`. `None`: unbounded (the sync paces itself).
    pub budget: Option<CallBudget>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    pub per_minute: u32,
    pub burst: u32,
}

impl CallPolicy {
    /// The background path: retries, no budget of its own (it has the sync's rate cap).
    pub const BACKGROUND: CallPolicy = CallPolicy { max_attempts: MAX_ATTEMPTS, budget: None };
}

#[derive(Debug)]
pub struct PaypalClient {
    http: reqwest::Client,
    settings: PaypalSettings,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    breaker: Breaker,
    max_attempts: u32,
    budget: Option<TokenBucket>,
}

#[derive(Debug, Clone)]
struct CachedToken {
    value: String,
    refresh_after: Instant,
}

/// The path of PayPal's webhook-event list; its `next` links must stay on it.
const EVENTS_PATH: &str = "/v1/notifications/webhooks-events";

/// Where a page of the webhook-event list starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsPage {
    /// The first page of the events created in a window (both ends included).
    First { start: DateTime<Utc>, end: DateTime<Utc>, page_size: usize },
    /// A `next` link of an earlier page, relative to the base URL.
    Next(String),
}

#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<serde_json::Value>,
    pub next: Option<String>,
}

/// The four reads of one refresh.
#[derive(Debug, Clone)]
pub struct PaypalData {
    pub balances: wire::BalancesResponse,
    pub transactions: Vec<wire::TransactionDetail>,
    pub disputes: Vec<wire::DisputeInfo>,
    pub integration: wire::MerchantIntegration,
}

impl PaypalClient {
    pub fn new(settings: PaypalSettings) -> PaypalClient {
        PaypalClient::with_policy(settings, CallPolicy::BACKGROUND)
    }

    /// A client of its own: its own token, breaker, attempts and budget.
    pub fn with_policy(settings: PaypalSettings, policy: CallPolicy) -> PaypalClient {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(concat!("vetted/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's configuration is static");
        let breaker = Breaker::new(settings.breaker_threshold, settings.breaker_cooldown);
        PaypalClient {
            http,
            settings,
            token: tokio::sync::Mutex::new(None),
            breaker,
            max_attempts: policy.max_attempts.max(1),
            budget: policy.budget.map(TokenBucket::new),
        }
    }

    /// Takes one call from the budget, if there is one; false: do not send.
    fn spend_call(&self) -> bool {
        self.budget.as_ref().is_none_or(|budget| budget.try_take(Instant::now()))
    }

    pub fn breaker_is_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// Everything the panel needs for one merchant, fetched in parallel.
    pub async fn fetch_all(&self, paypal_merchant_id: &str, now: DateTime<Utc>, cause: Cause) -> Result<PaypalData, PaypalError> {
        let (balances, transactions, disputes, integration) = tokio::try_join!(
            self.balances(paypal_merchant_id, cause),
            self.transactions_last_30_days(paypal_merchant_id, now, cause),
            self.disputes(paypal_merchant_id, cause),
            self.merchant_integration(paypal_merchant_id, cause),
        )?;
        Ok(PaypalData { balances, transactions, disputes, integration })
    }

    pub async fn balances(&self, merchant: &str, cause: Cause) -> Result<wire::BalancesResponse, PaypalError> {
        let url = format!("{}/v1/reporting/balances", self.base());
        self.get_json("balances", cause, Some(merchant), |http| http.get(&url)).await
    }

    /// Transactions of the last 30 days, following pages up to a bound.
    pub async fn transactions_last_30_days(&self, merchant: &str, now: DateTime<Utc>, cause: Cause) -> Result<Vec<wire::TransactionDetail>, PaypalError> {
        let url = format!("{}/v1/reporting/transactions", self.base());
        let start = (now - chrono::Duration::days(30)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let end = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut details = Vec::new();
        let mut page = 1u32;
        loop {
            let query = [
                ("start_date", start.clone()),
                ("end_date", end.clone()),
                ("fields", "transaction_info,payer_info".to_string()),
                ("page_size", "100".to_string()),
                ("page", page.to_string()),
            ];
            let response: wire::SearchResponse = self.get_json("transactions", cause, Some(merchant), |http| http.get(&url).query(&query)).await?;
            details.extend(response.transaction_details);
            let total_pages = response.total_pages.unwrap_or(1);
            if page >= total_pages || page >= TRANSACTION_PAGES {
                return Ok(details);
            }
            page += 1;
        }
    }

    /// Disputes, following `next` links up to a bound; the caller keeps the open ones.
    pub async fn disputes(&self, merchant: &str, cause: Cause) -> Result<Vec<wire::DisputeInfo>, PaypalError> {
        let mut url = format!("{}/v1/customer/disputes?page_size=50", self.base());
        let mut items = Vec::new();
        for _ in 0..DISPUTE_PAGES {
            let response: wire::DisputeSearch = self.get_json("disputes", cause, Some(merchant), |http| http.get(&url)).await?;
            items.extend(response.items);
            // Only follow links back to the configured host.
            match response.links.into_iter().find(|l| l.rel == "next") {
                Some(next) if next.href.starts_with(self.base()) => url = next.href,
                Some(next) if next.href.starts_with('/') => url = format!("{}{}", self.base(), next.href),
                _ => break,
            }
        }
        Ok(items)
    }

    pub async fn merchant_integration(&self, merchant: &str, cause: Cause) -> Result<wire::MerchantIntegration, PaypalError> {
        let url = format!("{}/v1/customer/partners/{}/merchant-integrations/{}", self.base(), self.settings.partner_id, merchant);
        self.get_json("merchant_integration", cause, None, |http| http.get(&url)).await
    }

    /// Asks PayPal whether a webhook delivery really came from PayPal.
    pub async fn verify_webhook_signature(&self, request: &wire::VerifyWebhookSignature) -> Result<bool, PaypalError> {
        let url = format!("{}/v1/notifications/verify-webhook-signature", self.base());
        let response: wire::VerifyWebhookSignatureResponse =
            self.get_json("verify_webhook_signature", Cause::Webhook, None, |http| http.post(&url).json(request)).await?;
        Ok(response.verification_status == "SUCCESS")
    }

    /// One page of PayPal's webhook-event list: the first page of a time window, or the page a
    /// `next` link of an earlier page names. The next link comes back relative to the base URL
    /// (path and query), so it can be stored and followed later, even by another instance;
    /// `None` when this was the last page.
    pub async fn webhook_events_page(&self, page: &EventsPage) -> Result<EventPage, PaypalError> {
        let url = match page {
            EventsPage::First { start, end, page_size } => {
                let mut url = reqwest::Url::parse(&format!("{}{EVENTS_PATH}", self.base())).map_err(|_| PaypalError::Rejected)?;
                url.query_pairs_mut()
                    .append_pair("page_size", &page_size.clamp(&1, &EVENT_PAGE_SIZE).to_string())
                    .append_pair("start_time", &start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .append_pair("end_time", &end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                url.to_string()
            }
            EventsPage::Next(link) => format!("{}{link}", self.base()),
        };
        let list: wire::EventList = self.get_json("webhooks_events", Cause::Reconcile, None, |http| http.get(&url)).await?;
        let next = list.links.into_iter().find(|l| l.rel == "next").and_then(|next| {
            let relative = next.href.strip_prefix(self.base()).unwrap_or(&next.href);
            if relative.starts_with(EVENTS_PATH) {
                Some(relative.to_string())
            } else {
                // Never follow a link off PayPal's event list with our token.
                tracing::warn!("PayPal's event list sent a next link elsewhere; treating the list as complete");
                None
            }
        });
        Ok(EventPage { events: list.events, next })
    }

    fn base(&self) -> &str {
        self.settings.base_url.trim_end_matches('/')
    }

    /// One logical GET: breaker check, token, retries, JSON decoding, metrics.
    async fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        cause: Cause,
        on_behalf_of: Option<&str>,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<T, PaypalError> {
        if !self.breaker.allow() {
            metrics::counter!("vetted_paypal_requests_total", "endpoint" => endpoint, "outcome" => "circuit_open", "cause" => cause.label()).increment(1);
            return Err(PaypalError::CircuitOpen);
        }
        let result = self.get_json_with_retries(endpoint, cause, on_behalf_of, &build).await;
        match result {
            Ok(_) => self.breaker.on_success(),
            Err(e) if e.is_upstream_failure() => self.breaker.on_failure(),
            Err(_) => {}
        }
        metrics::gauge!("vetted_paypal_breaker_open").set(if self.breaker.is_open() { 1.0 } else { 0.0 });
        result
    }

    async fn get_json_with_retries<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        cause: Cause,
        on_behalf_of: Option<&str>,
        build: &impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<T, PaypalError> {
        let mut renewed_token = false;
        let mut attempt = 1;
        loop {
            let token = self.token().await?;
            let mut request = build(&self.http).bearer_auth(&token);
            if let Some(merchant) = on_behalf_of {
                request = request.header("PayPal-Auth-Assertion", wire::auth_assertion(&self.settings.client_id, merchant));
            }
            if !self.spend_call() {
                metrics::counter!("vetted_paypal_requests_total", "endpoint" => endpoint, "outcome" => "throttled", "cause" => cause.label()).increment(1);
                return Err(PaypalError::Throttled);
            }
            let started = Instant::now();
            let sent = request.send().await;
            let outcome = match &sent {
                Ok(response) => outcome_of_status(response.status()),
                Err(e) if e.is_timeout() => "timeout",
                Err(_) => "connect_error",
            };
            metrics::histogram!("vetted_paypal_request_duration_seconds", "endpoint" => endpoint, "outcome" => outcome).record(started.elapsed().as_secs_f64());
            metrics::counter!("vetted_paypal_requests_total", "endpoint" => endpoint, "outcome" => outcome, "cause" => cause.label()).increment(1);

            let response = match sent {
                Ok(response) => response,
                Err(e) => return Err(if e.is_timeout() { PaypalError::Timeout } else { PaypalError::Connect }),
            };
            let status = response.status();
            if status.is_success() {
                return match response.json::<T>().await {
                    Ok(body) => Ok(body),
                    Err(e) if e.is_timeout() => Err(PaypalError::Timeout),
                    Err(_) => {
                        metrics::counter!("vetted_paypal_errors_total", "endpoint" => endpoint, "kind" => "bad_response").increment(1);
                        Err(PaypalError::BadResponse)
                    }
                };
            }
            let error = match status {
                StatusCode::UNAUTHORIZED if !renewed_token => {
                    // The token may have been revoked or expired early: get a new one, once.
                    self.forget_token(&token).await;
                    renewed_token = true;
                    continue;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => PaypalError::Unauthorized,
                StatusCode::TOO_MANY_REQUESTS => PaypalError::RateLimited,
                s if s.is_server_error() => PaypalError::ServerError,
                _ => PaypalError::Rejected,
            };
            metrics::counter!("vetted_paypal_errors_total", "endpoint" => endpoint, "kind" => error.kind()).increment(1);
            let retryable = matches!(error, PaypalError::RateLimited | PaypalError::ServerError);
            if !retryable || attempt >= self.max_attempts {
                return Err(error);
            }
            let wait = match retry_after(response.headers().get(RETRY_AFTER)) {
                Some(wait) if wait > MAX_RETRY_AFTER => return Err(error),
                Some(wait) => wait,
                None => backoff(attempt),
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// A valid access token. The mutex makes the refresh single-flight: concurrent callers wait
    /// for the one request in progress instead of each asking PayPal.
    async fn token(&self) -> Result<String, PaypalError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_after) {
            return Ok(token.value.clone());
        }
        if !self.spend_call() {
            return Err(PaypalError::Throttled);
        }
        let started = Instant::now();
        let sent = self
            .http
            .post(format!("{}/v1/oauth2/token", self.base()))
            .basic_auth(&self.settings.client_id, Some(&self.settings.client_secret.0))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await;
        let outcome = match &sent {
            Ok(response) => outcome_of_status(response.status()),
            Err(e) if e.is_timeout() => "timeout",
            Err(_) => "connect_error",
        };
        metrics::histogram!("vetted_paypal_request_duration_seconds", "endpoint" => "oauth2_token", "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        let response = sent.map_err(|e| if e.is_timeout() { PaypalError::Timeout } else { PaypalError::Connect })?;
        let status = response.status();
        if !status.is_success() {
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST => PaypalError::Unauthorized,
                StatusCode::TOO_MANY_REQUESTS => PaypalError::RateLimited,
                s if s.is_server_error() => PaypalError::ServerError,
                _ => PaypalError::Rejected,
            });
        }
        let body: wire::TokenResponse = response.json().await.map_err(|_| PaypalError::BadResponse)?;
        if !body.token_type.eq_ignore_ascii_case("bearer") || body.access_token.is_empty() {
            return Err(PaypalError::BadResponse);
        }
        let lifetime = Duration::from_secs(body.expires_in);
        let refresh_after = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN.min(lifetime / 2));
        *cached = Some(CachedToken { value: body.access_token.clone(), refresh_after });
        metrics::counter!("vetted_paypal_token_refreshes_total").increment(1);
        Ok(body.access_token)
    }

    async fn forget_token(&self, rejected: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == rejected) {
            *cached = None;
        }
    }
}

/// rustls needs a process-wide crypto provider; ring is the one sqlx already builds. Every
/// reqwest client in the process (tests' included) relies on it.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn outcome_of_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "ok",
        401 | 403 => "unauthorized",
        429 => "rate_limited",
        400..=499 => "client_error",
        _ => "server_error",
    }
}

/// Retry-After in seconds (PayPal does not send HTTP dates).
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let seconds: f64 = value?.to_str().ok()?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// Exponential backoff with full jitter: 100 ms, 200 ms, … capped at 1 s, times a random factor.
fn backoff(attempt: u32) -> Duration {
    let ceiling = Duration::from_millis(100 * 2u64.pow(attempt.saturating_sub(1).min(4))).min(Duration::from_secs(1));
    ceiling.mul_f64(rand::random_range(0.5..=1.0))
}

/// A token bucket: `burst` calls at once, refilled at `per_minute`.
#[derive(Debug)]
struct TokenBucket {
    capacity: f64,
    per_second: f64,
    /// Tokens left, and when they were counted.
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    fn new(budget: CallBudget) -> TokenBucket {
        let capacity = budget.burst.max(1) as f64;
        TokenBucket { capacity, per_second: budget.per_minute.max(1) as f64 / 60.0, state: Mutex::new((capacity, Instant::now())) }
    }

    fn try_take(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap();
        let (tokens, counted) = *state;
        let tokens = (tokens + now.saturating_duration_since(counted).as_secs_f64() * self.per_second).min(self.capacity);
        let allowed = tokens >= 1.0;
        *state = (if allowed { tokens - 1.0 } else { tokens }, now.max(counted));
        allowed
    }
}

/// Closed → (threshold consecutive failures) → open → (cooldown) → half-open: one probe call;
/// its success closes the breaker, its failure opens it again.
#[derive(Debug)]
struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Clone, Copy)]
enum BreakerState {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

impl Breaker {
    fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker { threshold: threshold.max(1), cooldown, state: Mutex::new(BreakerState::Closed { failures: 0 }) }
    }

    fn allow(&self) -> bool {
        let mut state = self.state.lock().unwrap();
        match *state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if Instant::now() >= until => {
                *state = BreakerState::HalfOpen { probing: true };
                true
            }
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { probing: true } => false,
            BreakerState::HalfOpen { probing: false } => {
                *state = BreakerState::HalfOpen { probing: true };
                true
            }
        }
    }

    fn on_success(&self) {
        *self.state.lock().unwrap() = BreakerState::Closed { failures: 0 };
    }

    fn on_failure(&self) {
        let mut state = self.state.lock().unwrap();
        *state = match *state {
            BreakerState::Closed { failures } if failures + 1 < self.threshold => BreakerState::Closed { failures: failures + 1 },
            _ => {
                tracing::warn!(cooldown_secs = self.cooldown.as_secs(), "PayPal circuit breaker opened");
                BreakerState::Open { until: Instant::now() + self.cooldown }
            }
        };
    }

    fn is_open(&self) -> bool {
        matches!(*self.state.lock().unwrap(), BreakerState::Open { .. } | BreakerState::HalfOpen { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_threshold_and_lets_one_probe_through_after_cooldown() {
        let breaker = Breaker::new(3, Duration::ZERO);
        for _ in 0..2 {
            assert!(breaker.allow());
            breaker.on_failure();
        }
        assert!(!breaker.is_open(), "two failures are below the threshold");
        breaker.on_failure();
        assert!(breaker.is_open());
        // Cooldown of zero: the next call is the probe, a concurrent one is refused.
        assert!(breaker.allow());
        assert!(!breaker.allow());
        breaker.on_success();
        assert!(!breaker.is_open());
        assert!(breaker.allow());
    }

    #[test]
    fn breaker_stays_open_during_cooldown() {
        let breaker = Breaker::new(1, Duration::from_secs(3600));
        breaker.on_failure();
        assert!(!breaker.allow());
    }

    #[test]
    fn success_resets_the_failure_count() {
        let breaker = Breaker::new(2, Duration::from_secs(3600));
        breaker.on_failure();
        breaker.on_success();
        breaker.on_failure();
        assert!(!breaker.is_open());
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(retry_after(Some(&HeaderValue::from_static("2"))), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some(&HeaderValue::from_static("0.5"))), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(Some(&HeaderValue::from_static("soon"))), None);
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..10 {
            let wait = backoff(attempt);
            assert!(wait <= Duration::from_secs(1));
            assert!(wait >= Duration::from_millis(50));
        }
    }

    #[test]
    fn the_call_budget_allows_a_burst_then_its_rate() {
        let bucket = TokenBucket::new(CallBudget { per_minute: 6, burst: 3 });
        let start = Instant::now();
        assert!((0..3).all(|_| bucket.try_take(start)));
        assert!(!bucket.try_take(start), "the burst is spent");
        assert!(!bucket.try_take(start + Duration::from_secs(9)), "6 a minute: one every 10 s");
        assert!(bucket.try_take(start + Duration::from_secs(10)));
        assert!(!bucket.try_take(start + Duration::from_secs(10)));
        // A long pause refills up to the burst, not beyond.
        let later = start + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| bucket.try_take(later)).count(), 3);
    }

    #[test]
    fn error_kinds_round_trip() {
        for e in [PaypalError::Timeout, PaypalError::BadResponse, PaypalError::CircuitOpen, PaypalError::Throttled] {
            assert_eq!(PaypalError::from_kind(e.kind()), Some(e));
        }
    }
}
