//! A local PayPal for development, tests and benchmarks: the token endpoint and the four reads
//! the dashboard uses, with the official response shapes (checked against PayPal's OpenAPI
//! schemas by `tests/paypal_simulator.rs`), deterministic data per merchant, and knobs —
//! latency, errors, 429s, outage, garbage bodies — switchable at run time over HTTP:
//!
//! - `GET /__sim/knobs`, `POST /__sim/knobs` with any subset of the fields of [`Knobs`];
//! - `GET /__sim/stats` (requests received per endpoint), `POST /__sim/stats/reset`;
//! - `POST /__sim/tokens/revoke` (every issued token becomes invalid).
//!
//! Tests can also hold the webhook-event list ([`Simulator::hold_event_lists`]) to catch a
//! reconciliation in the middle of its run.
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, DurationRound, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::wire::payer_id_from_assertion;

/// The simulator's fixed identity; configuration recognises the simulator by it, so it is
/// defined there (configuration imports nothing from `paypal`).
pub use crate::server::config::{SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_PARTNER_ID, SIM_WEBHOOK_ID};

/// Run-time behaviour. Rates are probabilities per request, from 0 to 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// Mean response latency; the distribution is log-normal (a long tail).
    pub latency_mean_ms: u64,
    /// Spread of the log-normal latency (0 = constant).
    pub latency_sigma: f64,
    pub error_rate: f64,
    pub rate_limit_rate: f64,
    /// Every request gets a 503.
    pub outage: bool,
    /// A 200 whose body is not JSON.
    pub garbage_rate: f64,
    /// `expires_in` of issued tokens, and how long they are accepted.
    pub token_ttl_secs: u64,
    /// Where webhook events are delivered (`POST`), if anywhere.
    pub webhook_url: Option<String>,
    /// Record webhook events but do not deliver them: the reconciliation must find them.
    pub drop_webhooks: bool,
}

impl Default for Knobs {
    fn default() -> Knobs {
        Knobs {
            latency_mean_ms: 500,
            latency_sigma: 0.6,
            error_rate: 0.0,
            rate_limit_rate: 0.0,
            outage: false,
            garbage_rate: 0.0,
            token_ttl_secs: 32_400,
            webhook_url: None,
            drop_webhooks: false,
        }
    }
}

impl Knobs {
    /// No latency and no faults: what most tests start from.
    pub fn instant() -> Knobs {
        Knobs { latency_mean_ms: 0, ..Knobs::default() }
    }
}

#[derive(Debug, Default)]
pub struct Simulator {
    knobs: RwLock<Knobs>,
    requests: Mutex<BTreeMap<String, u64>>,
    tokens: Mutex<HashMap<String, Instant>>,
    /// Webhook events issued, oldest first (what `GET /v1/notifications/webhooks-events` lists).
    events: Mutex<Vec<Value>>,
    /// Event-list requests wait for a read guard: a test holding the write guard holds them.
    event_list_gate: tokio::sync::RwLock<()>,
    /// Told when an event-list request starts waiting at the gate.
    event_list_waiting: tokio::sync::Notify,
}

impl Simulator {
    pub fn new(knobs: Knobs) -> Arc<Simulator> {
        Arc::new(Simulator { knobs: RwLock::new(knobs), ..Simulator::default() })
    }

    pub fn knobs(&self) -> Knobs {
        self.knobs.read().unwrap().clone()
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        *self.knobs.write().unwrap() = knobs;
    }

    /// Requests received per endpoint (`oauth2_token`, `balances`, `transactions`, `disputes`,
    /// `merchant_integration`), whatever their outcome.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, endpoint: &str) -> u64 {
        self.requests.lock().unwrap().get(endpoint).copied().unwrap_or(0)
    }

    /// Until the guard is dropped, event-list requests are counted and then wait: a test can
    /// catch a reconciliation in the middle of its run.
    pub async fn hold_event_lists(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.event_list_gate.write().await
    }

    /// Returns once an event-list request is waiting behind [`Simulator::hold_event_lists`].
    pub async fn event_list_held(&self) {
        self.event_list_waiting.notified().await
    }

    fn count(&self, endpoint: &str) {
        *self.requests.lock().unwrap().entry(endpoint.to_string()).or_default() += 1;
    }

    fn token_is_valid(&self, token: &str) -> bool {
        self.tokens.lock().unwrap().get(token).is_some_and(|expires| Instant::now() < *expires)
    }
}

/// Serves the simulator on `addr` (port 0 for any); returns the bound address.
pub async fn spawn(addr: SocketAddr, simulator: Arc<Simulator>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(simulator)).await {
            tracing::error!(error = %e, "PayPal simulator stopped");
        }
    });
    Ok(bound)
}

pub fn router(simulator: Arc<Simulator>) -> Router {
    let api = Router::new()
        .route("/v1/oauth2/token", post(token))
        .route("/v1/reporting/balances", get(balances))
        .route("/v1/reporting/transactions", get(transactions))
        .route("/v1/customer/disputes", get(disputes))
        .route("/v1/customer/partners/{partner_id}/merchant-integrations/{merchant_id}", get(merchant_integration))
        .route("/v1/notifications/verify-webhook-signature", post(webhooks::verify_signature))
        .route("/v1/notifications/webhooks-events", get(webhooks::list_events))
        .layer(middleware::from_fn_with_state(simulator.clone(), faults));
    Router::new()
        .route("/__sim/knobs", get(get_knobs).post(patch_knobs))
        .route("/__sim/stats", get(stats))
        .route("/__sim/stats/reset", post(reset_stats))
        .route("/__sim/tokens/revoke", post(revoke_tokens))
        .route("/__sim/disputes", post(webhooks::open_dispute))
        .merge(api)
        .with_state(simulator)
}

fn endpoint_name(path: &str) -> &'static str {
    match path {
        "/v1/oauth2/token" => "oauth2_token",
        "/v1/reporting/balances" => "balances",
        "/v1/reporting/transactions" => "transactions",
        "/v1/customer/disputes" => "disputes",
        p if p.contains("/merchant-integrations/") => "merchant_integration",
        "/v1/notifications/verify-webhook-signature" => "verify_webhook_signature",
        "/v1/notifications/webhooks-events" => "webhooks_events",
        _ => "other",
    }
}

/// Counts the request, then applies the knobs in order: outage, latency, 429, 500, garbage.
async fn faults(State(sim): State<Arc<Simulator>>, request: Request, next: Next) -> Response {
    sim.count(endpoint_name(request.uri().path()));
    let knobs = sim.knobs();
    if knobs.outage {
        return paypal_error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "Service Unavailable.");
    }
    let (delay, roll_429, roll_500, roll_garbage) = {
        let mut rng = rand::rng();
        (latency(&knobs, &mut rng), rng.random::<f64>(), rng.random::<f64>(), rng.random::<f64>())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if roll_429 < knobs.rate_limit_rate {
        let mut response = paypal_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting.");
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return response;
    }
    if roll_500 < knobs.error_rate {
        return paypal_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR", "An internal server error occurred.");
    }
    if roll_garbage < knobs.garbage_rate {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "<html><body>upstream proxy error").into_response();
    }
    next.run(request).await
}

fn latency(knobs: &Knobs, rng: &mut impl Rng) -> Duration {
    if knobs.latency_mean_ms == 0 {
        return Duration::ZERO;
    }
    let sigma = knobs.latency_sigma.max(0.0);
    // Log-normal with the requested mean: mu = ln(mean) - sigma^2 / 2.
    let mu = (knobs.latency_mean_ms as f64).ln() - sigma * sigma / 2.0;
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    Duration::from_secs_f64((mu + sigma * z).exp().min(60_000.0) / 1000.0)
}

/// PayPal's `error` body: name, message, debug_id.
fn paypal_error(status: StatusCode, name: &str, message: &str) -> Response {
    let debug_id = format!("{:013x}", rand::random::<u64>() & 0xf_ffff_ffff_ffff);
    (status, Json(json!({ "name": name, "message": message, "debug_id": debug_id }))).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

struct TokenForm {
    grant_type: Option<String>,
}

async fn token(State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: String) -> Response {
    let form: TokenForm = read_token_form(&body);
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Grant Type is NULL or not supported");
    }
    let expected = format!("Basic {}", base64_std(&format!("{SIM_CLIENT_ID}:{SIM_CLIENT_SECRET}")));
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Client Authentication failed");
    }
    let ttl = sim.knobs().token_ttl_secs;
    let access_token = format!("A21AA{:032x}", rand::random::<u128>());
    sim.tokens.lock().unwrap().insert(access_token.clone(), Instant::now() + Duration::from_secs(ttl));
    Json(json!({
        "scope": "https://uri.paypal.com/services/reporting/search/read https://uri.paypal.com/services/disputes/read-seller",
        "access_token": access_token,
        "token_type": "Bearer",
        "app_id": "APP-80W284485P519543T",
        "expires_in": ttl,
        "nonce": format!("{}{:x}", Utc::now().format("%Y-%m-%dT%H:%M:%SZ"), rand::random::<u64>()),
    }))
    .into_response()
}

/// Minimal `application/x-www-form-urlencoded` reading for the one field the token call sends.
fn read_token_form(body: &str) -> TokenForm {
    let grant_type = body.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == "grant_type").map(|(_, v)| v.to_string());
    TokenForm { grant_type }
}

fn base64_std(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The bearer token must be one we issued and not expired.
fn authorize(sim: &Simulator, headers: &HeaderMap) -> Result<(), Response> {
    let token = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(token) if sim.token_is_valid(token) => Ok(()),
        _ => Err(oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "Token signature verification failed")),
    }
}

/// The merchant a partner call is made for (`PayPal-Auth-Assertion`).
fn acting_for(headers: &HeaderMap) -> Result<String, Response> {
    headers
        .get("PayPal-Auth-Assertion")
        .and_then(|v| v.to_str().ok())
        .and_then(payer_id_from_assertion)
        .filter(|id| !id.is_empty() && id.len() <= 24 && id.chars().all(|c| c.is_ascii_alphanumeric()))
        .ok_or_else(|| paypal_error(StatusCode::FORBIDDEN, "NOT_AUTHORIZED", "Authorization failed due to insufficient permissions."))
}

async fn balances(State(sim): State<Arc<Simulator>>, headers: HeaderMap) -> Response {
    let merchant = match authorize(&sim, &headers).and_then(|()| acting_for(&headers)) {
        Ok(m) => m,
        Err(response) => return response,
    };
    let data = MerchantData::generate(&merchant, Utc::now());
    let now = rfc3339(Utc::now());
    let balances: Vec<Value> = data
        .balances
        .iter()
        .map(|(currency, available, withheld)| {
            json!({
                "currency": currency,
                "primary": currency == "USD",
                "total_balance": money(currency, available + withheld),
                "available_balance": money(currency, *available),
                "withheld_balance": money(currency, *withheld),
            })
        })
        .collect();
    Json(json!({ "balances": balances, "account_id": merchant, "as_of_time": now, "last_refresh_time": now })).into_response()
}

#[derive(Deserialize)]
struct TransactionQuery {
    start_date: Option<String>,
    end_date: Option<String>,
    page_size: Option<u32>,
    page: Option<u32>,
}

async fn transactions(State(sim): State<Arc<Simulator>>, headers: HeaderMap, Query(query): Query<TransactionQuery>) -> Response {
    let merchant = match authorize(&sim, &headers).and_then(|()| acting_for(&headers)) {
        Ok(m) => m,
        Err(response) => return response,
    };
    let parse = |v: &Option<String>| v.as_deref().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc));
    let (Some(start), Some(end)) = (parse(&query.start_date), parse(&query.end_date)) else {
        return paypal_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "start_date and end_date are required RFC 3339 date-times.");
    };
    if end < start || end - start > chrono::Duration::days(31) {
        return paypal_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "The date range must be at most 31 days.");
    }
    let page_size = query.page_size.unwrap_or(100).clamp(1, 500) as usize;
    let page = query.page.unwrap_or(1).max(1) as usize;
    let data = MerchantData::generate(&merchant, Utc::now());
    let matching: Vec<&SimTransaction> = data.transactions.iter().filter(|t| t.at >= start && t.at <= end).collect();
    let total_pages = matching.len().div_ceil(page_size).max(1);
    let details: Vec<Value> = matching
        .iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .map(|t| {
            json!({
                "transaction_info": {
                    "paypal_account_id": merchant,
                    "transaction_id": t.id,
                    "transaction_event_code": if t.amount_minor < 0 { "T1107" } else { "T0006" },
                    "transaction_initiation_date": rfc3339(t.at),
                    "transaction_updated_date": rfc3339(t.at),
                    "transaction_amount": money(&t.currency, t.amount_minor),
                    "fee_amount": money(&t.currency, -t.fee_minor),
                    "transaction_status": t.status,
                    "transaction_subject": t.subject,
                    "protection_eligibility": "01",
                },
                "payer_info": {
                    "account_id": t.payer_id,
                    "email_address": t.payer_email,
                    "address_status": "Y",
                    "payer_status": "Y",
                    "country_code": "US",
                },
            })
        })
        .collect();
    Json(json!({
        "transaction_details": details,
        "account_number": merchant,
        "start_date": rfc3339(start),
        "end_date": rfc3339(end),
        "last_refreshed_datetime": rfc3339(Utc::now()),
        "page": page,
        "total_items": matching.len(),
        "total_pages": total_pages,
        "links": [{ "href": format!("/v1/reporting/transactions?page={page}"), "rel": "self", "method": "GET" }],
    }))
    .into_response()
}

#[derive(Deserialize)]
struct DisputeQuery {
    page_size: Option<usize>,
    next_page_token: Option<String>,
}

async fn disputes(State(sim): State<Arc<Simulator>>, headers: HeaderMap, Query(query): Query<DisputeQuery>) -> Response {
    let merchant = match authorize(&sim, &headers).and_then(|()| acting_for(&headers)) {
        Ok(m) => m,
        Err(response) => return response,
    };
    let data = MerchantData::generate(&merchant, Utc::now());
    let page_size = query.page_size.unwrap_or(10).clamp(1, 50);
    let offset: usize = query.next_page_token.as_deref().and_then(|t| t.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = data
        .disputes
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|d| {
            let mut item = json!({
                "dispute_id": d.id,
                "create_time": rfc3339(d.created),
                "update_time": rfc3339(d.created),
                "reason": d.reason,
                "status": d.status,
                "dispute_state": d.state,
                "dispute_amount": money("USD", d.amount_minor),
                "dispute_life_cycle_stage": d.stage,
                "dispute_channel": "INTERNAL",
                "links": [{ "href": format!("/v1/customer/disputes/{}", d.id), "rel": "self", "method": "GET" }],
            });
            if let Some(due) = d.seller_due {
                item["seller_response_due_date"] = json!(rfc3339(due));
            }
            item
        })
        .collect();
    let mut links = vec![json!({ "href": "/v1/customer/disputes", "rel": "self", "method": "GET" })];
    if offset + page_size < data.disputes.len() {
        links.push(json!({
            "href": format!("/v1/customer/disputes?page_size={page_size}&next_page_token={}", offset + page_size),
            "rel": "next",
            "method": "GET",
        }));
    }
    Json(json!({ "items": items, "links": links })).into_response()
}

async fn merchant_integration(State(sim): State<Arc<Simulator>>, headers: HeaderMap, Path((partner_id, merchant_id)): Path<(String, String)>) -> Response {
    if let Err(response) = authorize(&sim, &headers) {
        return response;
    }
    if partner_id != SIM_PARTNER_ID {
        return paypal_error(StatusCode::FORBIDDEN, "NOT_AUTHORIZED", "Authorization failed due to insufficient permissions.");
    }
    if merchant_id.is_empty() || !merchant_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return paypal_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", "The specified resource does not exist.");
    }
    let data = MerchantData::generate(&merchant_id, Utc::now());
    Json(json!({
        "merchant_id": merchant_id,
        "tracking_id": format!("vetted-{merchant_id}"),
        "payments_receivable": data.payments_receivable,
        "primary_email_confirmed": data.email_confirmed,
        "primary_email": format!("paypal-{}@merchants.example", merchant_id.to_ascii_lowercase()),
        "granted_permissions": ["ACCOUNT_BALANCE", "TRANSACTION_SEARCH", "TRANSACTION_DETAILS"],
    }))
    .into_response()
}

async fn get_knobs(State(sim): State<Arc<Simulator>>) -> Json<Knobs> {
    Json(sim.knobs())
}

/// Merges the given fields into the current knobs; unknown fields or bad values → 422.
async fn patch_knobs(State(sim): State<Arc<Simulator>>, Json(patch): Json<Value>) -> Response {
    let mut current = serde_json::to_value(sim.knobs()).expect("knobs serialise");
    let Value::Object(fields) = patch else {
        return (StatusCode::UNPROCESSABLE_ENTITY, "expected a JSON object of knob fields").into_response();
    };
    for (key, value) in fields {
        current[key] = value;
    }
    match serde_json::from_value::<Knobs>(current) {
        Ok(knobs) => {
            sim.set_knobs(knobs.clone());
            Json(knobs).into_response()
        }
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, format!("invalid knobs: {e}")).into_response(),
    }
}

async fn stats(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(json!({ "requests": sim.requests() }))
}

async fn reset_stats(State(sim): State<Arc<Simulator>>) -> StatusCode {
    sim.requests.lock().unwrap().clear();
    StatusCode::NO_CONTENT
}

async fn revoke_tokens(State(sim): State<Arc<Simulator>>) -> StatusCode {
    sim.tokens.lock().unwrap().clear();
    StatusCode::NO_CONTENT
}

fn money(currency: &str, minor: i64) -> Value {
    let sign = if minor < 0 { "-" } else { "" };
    json!({ "currency_code": currency, "value": format!("{sign}{}.{:02}", minor.unsigned_abs() / 100, minor.unsigned_abs() % 100) })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

struct SimTransaction {
    id: String,
    at: DateTime<Utc>,
    amount_minor: i64,
    fee_minor: i64,
    currency: String,
    status: &'static str,
    subject: String,
    payer_id: String,
    payer_email: String,
}

struct SimDispute {
    id: String,
    created: DateTime<Utc>,
    reason: &'static str,
    status: &'static str,
    state: &'static str,
    stage: &'static str,
    amount_minor: i64,
    seller_due: Option<DateTime<Utc>>,
}

/// One merchant's PayPal account, the same for the same id within an hour (times are anchored
/// to the current hour so the 30-day window moves on).
struct MerchantData {
    balances: Vec<(String, i64, i64)>,
    transactions: Vec<SimTransaction>,
    disputes: Vec<SimDispute>,
    payments_receivable: bool,
    email_confirmed: bool,
}

impl MerchantData {
    fn generate(merchant: &str, now: DateTime<Utc>) -> MerchantData {
        let seed = merchant.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let anchor = now.duration_trunc(chrono::Duration::hours(1)).unwrap_or(now);

        let mut balances = vec![("USD".to_string(), rng.random_range(50_000..5_000_000i64), rng.random_range(0..400_000i64))];
        if rng.random_bool(0.3) {
            balances.push(("EUR".to_string(), rng.random_range(10_000..1_000_000i64), rng.random_range(0..50_000i64)));
        }

        let count = rng.random_range(5..80usize);
        let mut transactions: Vec<SimTransaction> = (0..count)
            .map(|i| {
                let at = anchor - chrono::Duration::minutes(rng.random_range(0..30 * 24 * 60));
                let roll: f64 = rng.random();
                let status = if roll < 0.90 {
                    "S"
                } else if roll < 0.95 {
                    "P"
                } else if roll < 0.98 {
                    "V"
                } else {
                    "D"
                };
                let gross = rng.random_range(500..30_000i64);
                let amount_minor = if status == "V" { -gross } else { gross };
                SimTransaction {
                    id: format!("{:017X}", (seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) & 0xFFFF_FFFF_FFFF_FFFF).chars().take(17).collect(),
                    at,
                    amount_minor,
                    fee_minor: gross * 29 / 1000 + 30,
                    currency: "USD".to_string(),
                    status,
                    subject: format!("Order {}", 10_000 + i),
                    payer_id: format!("{:013X}", rng.random::<u64>() & 0xF_FFFF_FFFF_FFFF),
                    payer_email: format!("buyer{}@example.com", rng.random_range(1..100_000u32)),
                }
            })
            .collect();
        transactions.sort_by(|a, b| b.at.cmp(&a.at));

        const REASONS: [&str; 4] = ["MERCHANDISE_OR_SERVICE_NOT_RECEIVED", "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED", "UNAUTHORISED", "DUPLICATE_TRANSACTION"];
        let open = rng.random_range(0..=3usize);
        let resolved = rng.random_range(0..=2usize);
        let disputes = (0..open + resolved)
            .map(|i| {
                let created = anchor - chrono::Duration::hours(rng.random_range(1..24 * 20));
                let is_open = i < open;
                let waiting_on_seller = is_open && i % 2 == 0;
                SimDispute {
                    id: format!("PP-D-{}{:04}", seed % 100_000, i),
                    created,
                    reason: REASONS[rng.random_range(0..REASONS.len())],
                    status: if !is_open {
                        "RESOLVED"
                    } else if waiting_on_seller {
                        "WAITING_FOR_SELLER_RESPONSE"
                    } else {
                        "UNDER_REVIEW"
                    },
                    state: if !is_open {
                        "RESOLVED"
                    } else if waiting_on_seller {
                        "REQUIRED_ACTION"
                    } else {
                        "UNDER_PAYPAL_REVIEW"
                    },
                    stage: if rng.random_bool(0.7) { "INQUIRY" } else { "CHARGEBACK" },
                    amount_minor: rng.random_range(500..30_000i64),
                    seller_due: waiting_on_seller.then(|| anchor + chrono::Duration::days(rng.random_range(2..10))),
                }
            })
            .collect();

        MerchantData { balances, transactions, disputes, payments_receivable: seed % 10 != 7, email_confirmed: seed % 10 != 3 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_deterministic_per_merchant() {
        let now = Utc::now();
        let a = MerchantData::generate("V000000000001", now);
        let b = MerchantData::generate("V000000000001", now);
        let c = MerchantData::generate("V000000000002", now);
        assert_eq!(a.balances, b.balances);
        assert_eq!(a.transactions.len(), b.transactions.len());
        assert_ne!((a.balances.clone(), a.transactions.len()), (c.balances.clone(), c.transactions.len()));
    }

    #[test]
    fn latency_has_the_requested_mean_and_a_tail() {
        let knobs = Knobs::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut samples: Vec<f64> = (0..20_000).map(|_| latency(&knobs, &mut rng).as_secs_f64() * 1000.0).collect();
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        samples.sort_by(f64::total_cmp);
        let p50 = samples[samples.len() / 2];
        let p99 = samples[samples.len() * 99 / 100];
        assert!((450.0..550.0).contains(&mean), "mean {mean}");
        assert!(p99 > 2.0 * p50, "p50 {p50}, p99 {p99}: expected a long tail");
    }

    #[test]
    fn money_is_formatted_as_paypal_decimal_strings() {
        assert_eq!(money("USD", 123_456)["value"], "1234.56");
        assert_eq!(money("USD", -5)["value"], "-0.05");
    }
}

/// Webhooks: the simulator opens disputes on request (`POST /__sim/disputes`), records a
/// `CUSTOMER.DISPUTE.CREATED` event for each, delivers it signed to the configured URL (unless
/// `drop_webhooks`), verifies signatures like PayPal's verify-webhook-signature, and lists its
/// events like `GET /v1/notifications/webhooks-events`.
///
/// The signature: SHA-256 over transmission id, time, webhook id and the SHA-256 of the exact
/// body delivered, keyed by the simulator's client secret — like PayPal's, it breaks if the
/// receiver re-encodes the body before asking for verification. PayPal's own scheme
/// (an RSA signature over a CRC32 of the body) is opaque to its callers in the same way: the app
/// only ever asks the verify endpoint.
pub mod webhooks {
    use super::*;
    use sha2::{Digest, Sha256};

    pub fn signature(transmission_id: &str, transmission_time: &str, webhook_id: &str, body: &str) -> String {
        let event_digest = hex::encode(Sha256::digest(body.as_bytes()));
        let material = format!("{SIM_CLIENT_SECRET}|{transmission_id}|{transmission_time}|{webhook_id}|{event_digest}");
        format!("sig{}", hex::encode(Sha256::digest(material.as_bytes())))
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct OpenDispute {
        /// The seller's PayPal merchant id.
        pub merchant_id: String,
        /// Decimal string, as PayPal writes amounts.
        pub amount: String,
        pub currency: String,
        #[serde(default)]
        pub reason: Option<String>,
        /// The contested payment's id at PayPal; a made-up one when absent.
        #[serde(default)]
        pub seller_transaction_id: Option<String>,
    }

    /// Opens a dispute: records its event and delivers it. Answers with the event and what the
    /// delivery got back.
    pub async fn open_dispute(State(sim): State<Arc<Simulator>>, Json(request): Json<OpenDispute>) -> Response {
        let now = Utc::now();
        let n = sim.events.lock().unwrap().len() + 1;
        let dispute_id = format!("PP-D-{}{:04}", now.timestamp(), n);
        let event_id = format!("WH-{:016X}-{:08}", rand::random::<u64>(), n);
        let time = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let event = json!({
            "id": event_id,
            "create_time": time,
            "resource_type": "dispute",
            "event_type": "CUSTOMER.DISPUTE.CREATED",
            "summary": format!("A new dispute opened with Case # {dispute_id}"),
            "resource_version": "1.0",
            "event_version": "1.0",
            "resource": {
                "dispute_id": dispute_id,
                "create_time": time,
                "update_time": time,
                "disputed_transactions": [{ "seller_transaction_id": request.seller_transaction_id.unwrap_or_else(|| format!("SIMTX{n:08}")), "seller": { "merchant_id": request.merchant_id } }],
                "reason": request.reason.unwrap_or_else(|| "MERCHANDISE_OR_SERVICE_NOT_RECEIVED".to_string()),
                "status": "WAITING_FOR_SELLER_RESPONSE",
                "dispute_amount": { "currency_code": request.currency, "value": request.amount },
                "dispute_life_cycle_stage": "INQUIRY",
                "dispute_channel": "INTERNAL",
                "seller_response_due_date": (now + chrono::Duration::days(20)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            },
            "links": [],
        });
        sim.events.lock().unwrap().push(event.clone());
        let knobs = sim.knobs();
        let delivery = match (&knobs.webhook_url, knobs.drop_webhooks) {
            (Some(url), false) => Some(deliver(url, &event).await),
            _ => None,
        };
        Json(json!({ "event": event, "delivery_status": delivery })).into_response()
    }

    /// POSTs one event, signed, as PayPal does; returns the status (0 if unreachable).
    pub async fn deliver(url: &str, event: &Value) -> u16 {
        let transmission_id = format!("tx{:032x}", rand::random::<u128>());
        let transmission_time = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        // Indented, as PayPal's bodies are: a receiver that re-encodes them cannot verify.
        let body = serde_json::to_string_pretty(event).expect("events serialise");
        let sig = signature(&transmission_id, &transmission_time, SIM_WEBHOOK_ID, &body);
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("static client configuration");
        let sent = client
            .post(url)
            .header("PAYPAL-TRANSMISSION-ID", transmission_id)
            .header("PAYPAL-TRANSMISSION-TIME", transmission_time)
            .header("PAYPAL-TRANSMISSION-SIG", sig)
            .header("PAYPAL-CERT-URL", "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-SIMULATOR")
            .header("PAYPAL-AUTH-ALGO", "SHA256withRSA")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        sent.map_or(0, |r| r.status().as_u16())
    }

    pub async fn verify_signature(State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: String) -> Response {
        if let Err(denied) = authorize(&sim, &headers) {
            return denied;
        }
        let Ok(request) = serde_json::from_str::<super::super::wire::VerifyWebhookSignature>(&body) else {
            return paypal_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "Request is not well-formed, syntactically incorrect, or violates schema.");
        };
        let expected = signature(&request.transmission_id, &request.transmission_time, &request.webhook_id, request.webhook_event.get());
        let valid =
            request.webhook_id == SIM_WEBHOOK_ID && request.transmission_sig == expected && !request.auth_algo.is_empty() && !request.cert_url.is_empty();
        Json(json!({ "verification_status": if valid { "SUCCESS" } else { "FAILURE" } })).into_response()
    }

    #[derive(Debug, Deserialize)]
    pub struct EventsQuery {
        pub start_time: Option<String>,
        pub end_time: Option<String>,
        pub page_size: Option<usize>,
        /// Our paging cursor, carried in the `next` link.
        pub page: Option<usize>,
    }

    pub async fn list_events(State(sim): State<Arc<Simulator>>, headers: HeaderMap, Query(query): Query<EventsQuery>) -> Response {
        if let Err(denied) = authorize(&sim, &headers) {
            return denied;
        }
        let _pass = match sim.event_list_gate.try_read() {
            Ok(pass) => pass,
            Err(_) => {
                sim.event_list_waiting.notify_one();
                sim.event_list_gate.read().await
            }
        };
        let parse = |t: &Option<String>| t.as_deref().map(DateTime::parse_from_rfc3339);
        let (start, end) = match (parse(&query.start_time), parse(&query.end_time)) {
            (Some(Err(_)), _) | (_, Some(Err(_))) => {
                return paypal_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "start_time and end_time must be RFC 3339 date-times.")
            }
            (start, end) => (start.and_then(Result::ok), end.and_then(Result::ok)),
        };
        let page_size = query.page_size.unwrap_or(10).clamp(1, 300);
        let page = query.page.unwrap_or(0);
        let events: Vec<Value> = sim
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|event| {
                let created = event["create_time"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                created.is_some_and(|c| start.is_none_or(|s| c >= s) && end.is_none_or(|e| c <= e))
            })
            .cloned()
            .collect();
        let slice: Vec<Value> = events.iter().skip(page * page_size).take(page_size).cloned().collect();
        let mut links = Vec::new();
        if (page + 1) * page_size < events.len() {
            let mut next = format!("/v1/notifications/webhooks-events?page_size={page_size}&page={}", page + 1);
            for (name, value) in [("start_time", &query.start_time), ("end_time", &query.end_time)] {
                if let Some(value) = value {
                    next.push_str(&format!("&{name}={}", value.replace('+', "%2B").replace(':', "%3A")));
                }
            }
            links.push(json!({ "href": next, "rel": "next", "method": "GET" }));
        }
        Json(json!({ "events": slice, "count": slice.len(), "links": links })).into_response()
    }
}
