//! The PayPal client against the simulator over HTTP, and the simulator against PayPal's own
//! OpenAPI schemas (tests/paypal-contract, copied unchanged from PayPal).
mod common;

use common::{assert_matches_schema, sim_token as token};

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use vetted::server::config::Secret;
use vetted::server::paypal::client::{Cause, PaypalClient, PaypalError, PaypalSettings};
use vetted::server::paypal::simulator::{self, Knobs, Simulator};
use vetted::server::paypal::snapshot;

/// The demo merchant's PayPal id, as the seed assigns it.
const MERCHANT: &str = "V222222222223";

async fn sim(knobs: Knobs) -> (std::sync::Arc<Simulator>, String) {
    vetted::server::paypal::client::install_crypto_provider();
    let sim = Simulator::new(knobs);
    let addr = simulator::spawn("127.0.0.1:0".parse().unwrap(), sim.clone()).await.unwrap();
    (sim, format!("http://{addr}"))
}

fn client(base_url: &str) -> PaypalClient {
    PaypalClient::new(PaypalSettings {
        base_url: base_url.to_string(),
        client_id: simulator::SIM_CLIENT_ID.to_string(),
        client_secret: Secret(simulator::SIM_CLIENT_SECRET.to_string()),
        partner_id: simulator::SIM_PARTNER_ID.to_string(),
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_secs(3600),
    })
}

fn assertion(merchant: &str) -> String {
    use base64::Engine;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}.", e.encode(br#"{"alg":"none"}"#), e.encode(format!(r#"{{"iss":"x","payer_id":"{merchant}"}}"#)))
}

#[tokio::test]
async fn simulator_responses_follow_paypal_schemas() {
    let (_sim, base) = sim(Knobs::instant()).await;
    let http = reqwest::Client::new();
    let token = token(&http, &base).await;
    let get = |path: String| http.get(format!("{base}{path}")).bearer_auth(&token).header("PayPal-Auth-Assertion", assertion(MERCHANT)).send();
    let now = Utc::now();
    let start = (now - chrono::Duration::days(30)).format("%Y-%m-%dT%H:%M:%SZ");
    let end = now.format("%Y-%m-%dT%H:%M:%SZ");

    let balances: Value = get("/v1/reporting/balances".into()).await.unwrap().json().await.unwrap();
    assert_matches_schema("reporting_transactions_v1.json", "balances_response", &balances);

    let search: Value = get(format!("/v1/reporting/transactions?start_date={start}&end_date={end}&page_size=5&page=1")).await.unwrap().json().await.unwrap();
    assert_matches_schema("reporting_transactions_v1.json", "search_response", &search);
    assert!(!search["transaction_details"].as_array().unwrap().is_empty());

    let disputes: Value = get("/v1/customer/disputes?page_size=1".into()).await.unwrap().json().await.unwrap();
    assert_matches_schema("customer_disputes_v1.json", "dispute_search", &disputes);

    let integration: Value =
        get(format!("/v1/customer/partners/{}/merchant-integrations/{MERCHANT}", simulator::SIM_PARTNER_ID)).await.unwrap().json().await.unwrap();
    assert_matches_schema("customer_partner_referrals_v1.json", "merchant-integration", &integration);

    // Errors have PayPal's error shape too.
    let bad_range: reqwest::Response = get("/v1/reporting/transactions?start_date=2020-01-01T00:00:00Z&end_date=2021-01-01T00:00:00Z".into()).await.unwrap();
    assert_eq!(bad_range.status(), 400);
    assert_matches_schema("customer_disputes_v1.json", "error", &bad_range.json::<Value>().await.unwrap());
}

#[tokio::test]
async fn simulator_rejects_unknown_knobs_and_bad_credentials() {
    let (sim, base) = sim(Knobs::instant()).await;
    let http = reqwest::Client::new();
    let bad = http.post(format!("{base}/__sim/knobs")).json(&serde_json::json!({ "latency": 5 })).send().await.unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(sim.knobs(), Knobs::instant(), "a rejected patch changes nothing");
    let ok = http.post(format!("{base}/__sim/knobs")).json(&serde_json::json!({ "outage": true })).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(sim.knobs().outage);

    sim.set_knobs(Knobs::instant());
    let denied =
        http.post(format!("{base}/v1/oauth2/token")).basic_auth("someone", Some("else")).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let no_token = http.get(format!("{base}/v1/reporting/balances")).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
}

#[tokio::test]
async fn client_reads_all_four_endpoints_into_a_snapshot() {
    let (sim, base) = sim(Knobs::instant()).await;
    let client = client(&base);
    let data = client.fetch_all(MERCHANT, Utc::now(), Cause::Sync).await.unwrap();
    let snap = snapshot::build(data, Utc::now());
    assert!(!snap.balances.is_empty());
    assert!(snap.balances.iter().all(|b| b.total.minor == b.available.minor + b.withheld.minor));
    assert!(snap.recent_transactions.len() <= 10);
    assert!(snap.recent_transactions.windows(2).all(|w| w[0].date >= w[1].date), "newest first");
    assert!(snap.transactions_30d as usize >= snap.recent_transactions.len());
    assert_eq!(snap.account.primary_email.as_deref(), Some("paypal-v222222222223@merchants.example"));
    assert_eq!(vetted::server::seed::paypal_merchant_id(1), MERCHANT);
    // Disputes are paged by the simulator 50 at a time; all open ones arrive.
    assert!(snap.open_disputes.iter().all(|d| d.status != "RESOLVED"));
    for endpoint in ["balances", "transactions", "disputes", "merchant_integration", "oauth2_token"] {
        assert_eq!(sim.requests_to(endpoint), 1, "{endpoint}: {:?}", sim.requests());
    }
}

#[tokio::test]
async fn the_token_is_fetched_once_for_concurrent_calls_and_renewed_when_revoked() {
    let (sim, base) = sim(Knobs::instant()).await;
    let client = client(&base);
    let calls = (0..20).map(|_| client.balances(MERCHANT, Cause::Sync));
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(sim.requests_to("oauth2_token"), 1, "single-flight token refresh");

    // PayPal revokes the token (or it expired early): one 401, one new token, then success.
    reqwest::Client::new().post(format!("{base}/__sim/tokens/revoke")).send().await.unwrap();
    client.balances(MERCHANT, Cause::Sync).await.unwrap();
    assert_eq!(sim.requests_to("oauth2_token"), 2);
    assert_eq!(sim.requests_to("balances"), 22);
}

#[tokio::test]
async fn expired_tokens_are_not_reused() {
    // PayPal says the token lives 0 s: every call needs a fresh one.
    let (sim, base) = sim(Knobs { token_ttl_secs: 0, ..Knobs::instant() }).await;
    let client = client(&base);
    let result = client.balances(MERCHANT, Cause::Sync).await;
    // The simulator refuses an expired token; the client renews once, then reports the rejection.
    assert_eq!(result.unwrap_err(), PaypalError::Unauthorized);
    assert_eq!(sim.requests_to("oauth2_token"), 2);
    assert_eq!(sim.requests_to("balances"), 2);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_reported() {
    let (sim, base) = sim(Knobs { error_rate: 1.0, ..Knobs::instant() }).await;
    let client = client(&base);
    assert_eq!(client.balances(MERCHANT, Cause::Sync).await.unwrap_err(), PaypalError::ServerError);
    // The token call failed first (it is not retried: the sync tries again on its next round).
    assert_eq!(sim.requests_to("oauth2_token"), 1);

    // With a token in hand, 5xx on the API is retried: 3 attempts in all.
    sim.set_knobs(Knobs::instant());
    client.balances(MERCHANT, Cause::Sync).await.unwrap();
    sim.set_knobs(Knobs { error_rate: 1.0, ..Knobs::instant() });
    let before = sim.requests_to("balances");
    assert_eq!(client.balances(MERCHANT, Cause::Sync).await.unwrap_err(), PaypalError::ServerError);
    assert_eq!(sim.requests_to("balances") - before, 3);
}

#[tokio::test]
async fn rate_limits_honour_retry_after_and_client_errors_are_not_retried() {
    let (sim, base) = sim(Knobs::instant()).await;
    let client = client(&base);
    client.balances(MERCHANT, Cause::Sync).await.unwrap();
    sim.set_knobs(Knobs { rate_limit_rate: 1.0, ..Knobs::instant() });
    let started = std::time::Instant::now();
    assert_eq!(client.balances(MERCHANT, Cause::Sync).await.unwrap_err(), PaypalError::RateLimited);
    assert_eq!(sim.requests_to("balances"), 4, "1 earlier + 3 attempts");
    // Two waits of Retry-After: 1 s each.
    assert!(started.elapsed() >= Duration::from_secs(2), "waited {:?}", started.elapsed());

    // A refusal (403: not our partner) is not retried.
    sim.set_knobs(Knobs::instant());
    let partnerless = PaypalClient::new(PaypalSettings {
        base_url: base.clone(),
        client_id: simulator::SIM_CLIENT_ID.into(),
        client_secret: Secret(simulator::SIM_CLIENT_SECRET.into()),
        partner_id: "SOMEONEELSE".into(),
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_secs(3600),
    });
    assert_eq!(partnerless.merchant_integration(MERCHANT, Cause::Sync).await.unwrap_err(), PaypalError::Unauthorized);
    assert_eq!(sim.requests_to("merchant_integration"), 1);
}

#[tokio::test]
async fn garbage_bodies_and_timeouts_are_failures_not_panics() {
    let (sim, base) = sim(Knobs::instant()).await;
    let client = client(&base);
    client.balances(MERCHANT, Cause::Sync).await.unwrap();
    sim.set_knobs(Knobs { garbage_rate: 1.0, ..Knobs::instant() });
    assert_eq!(client.balances(MERCHANT, Cause::Sync).await.unwrap_err(), PaypalError::BadResponse);

    // Far slower than the 3 s total timeout: the outcome is a timeout, not the answer that
    // would come after 10 s, and it is not retried. (No clock is read: a busy machine can make
    // the call slower, never turn it into an answer.)
    sim.set_knobs(Knobs { latency_mean_ms: 10_000, latency_sigma: 0.0, ..Knobs::instant() });
    let before = sim.requests_to("balances");
    assert_eq!(client.balances(MERCHANT, Cause::Sync).await.unwrap_err(), PaypalError::Timeout);
    assert_eq!(sim.requests_to("balances") - before, 1, "a timeout is not retried");
}

#[tokio::test]
async fn the_breaker_stops_calls_after_repeated_failures() {
    let (sim, base) = sim(Knobs::instant()).await;
    let client = client(&base);
    client.balances(MERCHANT, Cause::Sync).await.unwrap();
    sim.set_knobs(Knobs { outage: true, ..Knobs::instant() });
    for _ in 0..3 {
        assert_eq!(client.balances(MERCHANT, Cause::Sync).await.unwrap_err(), PaypalError::ServerError);
    }
    assert!(client.breaker_is_open());
    let seen = sim.requests_to("balances");
    assert_eq!(client.balances(MERCHANT, Cause::Sync).await.unwrap_err(), PaypalError::CircuitOpen);
    assert_eq!(sim.requests_to("balances"), seen, "an open breaker sends nothing");
}
