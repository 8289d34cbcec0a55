//! PayPal dispute webhooks against the simulator: verified deliveries stored once, replays and
//! forgeries changing nothing, forged floods costing PayPal a few calls and never the sync's
//! breaker, dropped deliveries filled in by the reconciliation (a long list across runs, one
//! instance at a time), disputes feeding the merchant's dispute rate; the simulator's messages
//! follow PayPal's schemas.
mod common;

use chrono::Utc;
use common::{assert_matches_schema, Backend, TestApp};
use futures::future::join_all;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use vetted::server::db::entities::dispute;
use vetted::server::paypal::simulator::{webhooks as sim_webhooks, Knobs, Simulator, SIM_WEBHOOK_ID};
use vetted::server::paypal::webhooks::{self, ReconcileReport, Reconciliation};

/// The demo merchant's PayPal id, as the seed assigns it.
const MERCHANT: &str = "V222222222223";

async fn open_dispute(app: &TestApp, amount: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/__sim/disputes", app.sim_url))
        .json(&json!({ "merchant_id": MERCHANT, "amount": amount, "currency": "USD" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn set_knobs(app: &TestApp, knobs: Value) {
    let response = reqwest::Client::new().post(format!("{}/__sim/knobs", app.sim_url)).json(&knobs).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

async fn disputes(app: &TestApp) -> u64 {
    dispute::Entity::find().count(app.state.db.primary()).await.unwrap()
}

async fn webhooks_are_verified_stored_once_and_reconciled(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let endpoint = app.url("/webhooks/paypal");
    set_knobs(&app, json!({ "webhook_url": endpoint })).await;

    // A delivered dispute is verified and stored, with its merchant and amount.
    let opened = open_dispute(&app, "49.99").await;
    assert_eq!(opened["delivery_status"], 200, "{opened}");
    let event = opened["event"].clone();
    assert_matches_schema("notifications_webhooks_v1.json", "event", &event);
    assert_matches_schema("customer_disputes_v1.json", "dispute", &event["resource"]);
    let stored = dispute::Entity::find().all(app.state.db.primary()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].merchant_id, stored[0].amount_minor, stored[0].currency.as_str()), (Some(1), 4999, "USD"));
    assert_eq!(stored[0].paypal_dispute_id, event["resource"]["dispute_id"].as_str().unwrap());
    assert_eq!(stored[0].transaction_id, None, "PayPal's transaction id names no ingested payment");

    // A replay (PayPal retries) is accepted and changes nothing.
    assert_eq!(sim_webhooks::deliver(&endpoint, &event).await, 200);
    assert_eq!(disputes(&app).await, 1);

    // A forged body under a real signature, and a delivery without signature headers, are refused.
    let mut forged = event.clone();
    forged["id"] = json!("WH-FORGED-1");
    forged["resource"]["dispute_id"] = json!("PP-D-FORGED");
    let transmission_time = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let signature = sim_webhooks::signature("txforged", &transmission_time, SIM_WEBHOOK_ID, &event.to_string());
    let refused = reqwest::Client::new()
        .post(&endpoint)
        .header("PAYPAL-TRANSMISSION-ID", "txforged")
        .header("PAYPAL-TRANSMISSION-TIME", &transmission_time)
        .header("PAYPAL-TRANSMISSION-SIG", signature)
        .header("PAYPAL-CERT-URL", "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT")
        .header("PAYPAL-AUTH-ALGO", "SHA256withRSA")
        .header("content-type", "application/json")
        .body(forged.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let unsigned = reqwest::Client::new().post(&endpoint).json(&event).send().await.unwrap();
    assert_eq!(unsigned.status(), 400);
    assert_eq!(disputes(&app).await, 1);

    // Our endpoint "down": three disputes are never delivered…
    set_knobs(&app, json!({ "drop_webhooks": true })).await;
    for amount in ["10.00", "20.00", "30.00"] {
        assert_eq!(open_dispute(&app, amount).await["delivery_status"], Value::Null);
    }
    assert_eq!(disputes(&app).await, 1);
    // …and the reconciliation fills them in, once.
    let report = reconcile(&app, webhooks::RECONCILE_MAX_EVENTS).await;
    assert_eq!(report, ReconcileReport { listed: 4, filled_in: 3, complete: true });
    assert_eq!(disputes(&app).await, 4);
    let again = reconcile(&app, webhooks::RECONCILE_MAX_EVENTS).await;
    assert_eq!(again.filled_in, 0);
    assert_eq!(disputes(&app).await, 4);

    // A dispute names the payment it contests when the platform sent PayPal's transaction id as
    // the ingest's external_id: a backtest counts it as a label.
    let key = vetted::server::fraud::api_keys::create(app.state.db.primary(), "tests", "tests", Utc::now()).await.unwrap().key;
    let body = json!({
        "external_id": "8MC585209K746392H", "merchant_id": 1, "amount": 2500, "currency": "USD", "buyer_email": "buyer@example.com",
        "buyer_ip": "198.51.100.7", "card_fingerprint": "fp_disputed", "card_country": "US"
    });
    let ingested: Value =
        reqwest::Client::new().post(app.url("/api/v1/transactions")).bearer_auth(&key).json(&body).send().await.unwrap().json().await.unwrap();
    set_knobs(&app, json!({ "drop_webhooks": false })).await;
    let response = reqwest::Client::new()
        .post(format!("{}/__sim/disputes", app.sim_url))
        .json(&json!({ "merchant_id": MERCHANT, "amount": "25.00", "currency": "USD", "reason": "UNAUTHORISED", "seller_transaction_id": "8MC585209K746392H" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let linked = dispute::Entity::find().all(app.state.db.primary()).await.unwrap().into_iter().filter(|d| d.reason == "UNAUTHORISED").collect::<Vec<_>>();
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].transaction_id, ingested["transaction_id"].as_i64(), "{ingested}");

    // The disputes now weigh in the merchant's dispute rate, as rules see it.
    let facts = vetted::server::fraud::ingest::merchant_facts(app.state.db.primary(), &app.state.cache, 1).await.unwrap().unwrap();
    assert!(facts.dispute_rate > 0.0, "{facts:?}");
}

/// The simulator's verify answer and event list follow PayPal's schemas, and so does the
/// verification request the app sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_messages_follow_paypal_schemas() {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await;
    set_knobs(&app, json!({ "drop_webhooks": true })).await;
    let event = open_dispute(&app, "12.34").await["event"].clone();
    let http = reqwest::Client::new();
    let token = common::sim_token(&http, &app.sim_url).await;
    let verify = |request: &vetted::server::paypal::wire::VerifyWebhookSignature| {
        let sent = http.post(format!("{}/v1/notifications/verify-webhook-signature", app.sim_url)).bearer_auth(&token).json(request).send();
        async move { sent.await.unwrap().json::<Value>().await.unwrap() }
    };
    let time = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let request = vetted::server::paypal::wire::VerifyWebhookSignature {
        auth_algo: "SHA256withRSA".into(),
        cert_url: "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-1".into(),
        transmission_id: "tx0a1b2c".into(),
        transmission_sig: sim_webhooks::signature("tx0a1b2c", &time, SIM_WEBHOOK_ID, &event.to_string()),
        transmission_time: time,
        webhook_id: SIM_WEBHOOK_ID.into(),
        webhook_event: serde_json::value::RawValue::from_string(event.to_string()).unwrap(),
    };
    assert_matches_schema("notifications_webhooks_v1.json", "verify_webhook_signature", &serde_json::to_value(&request).unwrap());
    let verified = verify(&request).await;
    assert_matches_schema("notifications_webhooks_v1.json", "verify_webhook_signature_response", &verified);
    assert_eq!(verified["verification_status"], "SUCCESS");
    // The same event with its bytes changed (pretty-printed) no longer verifies.
    let mut reencoded = request.clone();
    reencoded.webhook_event =
        serde_json::value::RawValue::from_string(serde_json::to_string_pretty(&serde_json::from_str::<Value>(request.webhook_event.get()).unwrap()).unwrap())
            .unwrap();
    let refused = verify(&reencoded).await;
    assert_eq!(refused["verification_status"], "FAILURE");
    let list: Value =
        http.get(format!("{}/v1/notifications/webhooks-events?page_size=10", app.sim_url)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_matches_schema("notifications_webhooks_v1.json", "EventList", &list);
    assert_eq!(list["count"], 1);
}

/// One reconciliation run that must find the lease free.
async fn reconcile(app: &TestApp, max_events: usize) -> ReconcileReport {
    match webhooks::reconcile(&app.state, Utc::now(), max_events).await.unwrap() {
        Reconciliation::Ran(report) => report,
        Reconciliation::Busy => panic!("the reconciliation's lease was taken"),
    }
}

/// 120 missed events, read 50 a run: each run goes on where the last one stopped (from the
/// database: the second run is another instance's), the position moves once the list is read to
/// its end, and two runs at once do not both work.
async fn a_long_event_list_is_read_across_runs_one_instance_at_a_time(backend: Backend) {
    const PER_RUN: usize = 50;
    let app = TestApp::spawn(backend, &[]).await;
    let other = app.another_instance().await;
    set_knobs(&app, json!({ "drop_webhooks": true })).await;
    for n in 1..=120 {
        open_dispute(&app, &format!("{n}.00")).await;
    }

    assert_eq!(reconcile(&app, PER_RUN).await, ReconcileReport { listed: 50, filled_in: 50, complete: false });
    assert_eq!(disputes(&app).await, 50);
    assert_eq!(reconcile(&other, PER_RUN).await, ReconcileReport { listed: 50, filled_in: 50, complete: false }, "the next 50, not the same");
    assert_eq!(disputes(&app).await, 100);
    assert_eq!(reconcile(&app, PER_RUN).await, ReconcileReport { listed: 20, filled_in: 20, complete: true });
    assert_eq!(disputes(&app).await, 120);
    assert_eq!(app.sim.requests_to("webhooks_events"), 3, "each page read once");

    // The next pass starts from the end of that one (less the overlap, which here is all 120):
    // it finds nothing new, and ends.
    let mut later = Vec::new();
    while later.last().is_none_or(|r: &ReconcileReport| !r.complete) && later.len() < 5 {
        later.push(reconcile(&other, PER_RUN).await);
    }
    assert_eq!(later.iter().map(|r| r.listed).collect::<Vec<_>>(), [50, 50, 20], "{later:?}");
    assert!(later.iter().all(|r| r.filled_in == 0), "{later:?}");

    // Two runs at once: while one is reading (held at the simulator), the other finds the lease
    // taken and asks PayPal nothing.
    let hold = app.sim.hold_event_lists().await;
    let before = app.sim.requests_to("webhooks_events");
    let state = app.state.clone();
    let first = tokio::spawn(async move { webhooks::reconcile(&state, Utc::now(), PER_RUN).await.unwrap() });
    app.sim.event_list_held().await;
    assert_eq!(webhooks::reconcile(&other.state, Utc::now(), PER_RUN).await.unwrap(), Reconciliation::Busy);
    assert_eq!(app.sim.requests_to("webhooks_events"), before + 1, "only the lease's holder reads");
    drop(hold);
    assert!(matches!(first.await.unwrap(), Reconciliation::Ran(ReconcileReport { listed: 50, .. })));

    // A run that died holding the lease: others are refused until it lapses, then one takes over.
    let db = app.state.db.primary();
    let now = Utc::now();
    let until = now + chrono::Duration::minutes(1);
    let sql = "UPDATE job_cursors SET lease_holder = 'crashed', lease_until = ? WHERE name = 'paypal_webhook_events'";
    db.execute_raw(vetted::server::db::statement(db.get_database_backend(), sql, vec![until.into()])).await.unwrap();
    let before = app.sim.requests_to("webhooks_events");
    assert_eq!(webhooks::reconcile(&app.state, now, PER_RUN).await.unwrap(), Reconciliation::Busy);
    assert_eq!(app.sim.requests_to("webhooks_events"), before);
    let after_lapse = webhooks::reconcile(&other.state, until + chrono::Duration::seconds(1), PER_RUN).await.unwrap();
    assert!(matches!(after_lapse, Reconciliation::Ran(_)), "{after_lapse:?}");
}

on_both_databases!(webhooks_are_verified_stored_once_and_reconciled, a_long_event_list_is_read_across_runs_one_instance_at_a_time);

/// PayPal calls the webhook path has made: token requests and verifications. (The background
/// sync is idle in these tests: the seeded accounts are not due for minutes.)
fn verification_calls(sim: &Simulator) -> u64 {
    sim.requests_to("oauth2_token") + sim.requests_to("verify_webhook_signature")
}

/// The most PayPal calls the webhook path may make in `elapsed`: its burst, and its rate since.
fn verification_allowance(elapsed: std::time::Duration) -> u64 {
    let budget = webhooks::VERIFY_POLICY.budget.expect("verification has a budget");
    budget.burst as u64 + (elapsed.as_secs_f64() * budget.per_minute as f64 / 60.0).ceil() as u64
}

/// A delivery with every header well-formed and current, a certificate URL on PayPal's
/// domain, an event body — and a signature nobody made.
fn forged_headers(n: usize) -> Vec<(&'static str, String)> {
    vec![
        ("paypal-transmission-id", format!("forged-{n:06}")),
        ("paypal-transmission-time", Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ("paypal-transmission-sig", format!("Zm9yZ2VkIHNpZ25hdHVyZQ{n}==")),
        ("paypal-cert-url", "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270".to_string()),
        ("paypal-auth-algo", "SHA256withRSA".to_string()),
    ]
}

fn forged_body(n: usize) -> String {
    json!({
        "id": format!("WH-FORGED-{n}"),
        "event_type": "CUSTOMER.DISPUTE.CREATED",
        "resource_type": "dispute",
        "create_time": Utc::now().to_rfc3339(),
        "resource": { "dispute_id": format!("PP-D-FORGED-{n}"), "status": "WAITING_FOR_SELLER_RESPONSE" },
    })
    .to_string()
}

async fn deliver(app: &TestApp, headers: &[(&'static str, String)], body: String) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(app.url("/webhooks/paypal")).header("content-type", "application/json").body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text)))
}

/// What any refusal may say: a code, nothing of our configuration or of PayPal's answer.
fn assert_generic(status: u16, body: &Value) {
    let expected = match status {
        400 => "invalid_delivery",
        401 => "unverified",
        413 => "too_large",
        503 => "unavailable",
        other => panic!("unexpected status {other}: {body}"),
    };
    assert_eq!(body, &json!({ "error": expected }), "status {status}");
}

const FLOOD: usize = 60;

/// Anyone can post to the webhook endpoint: sixty forged deliveries that pass every free check
/// cost PayPal no more calls than the verification budget, are all refused with a generic body,
/// and leave the sync's breaker closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_forged_webhooks_costs_paypal_a_few_calls() {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await;
    let before = verification_calls(&app.sim);
    let started = std::time::Instant::now();
    let refusals = join_all((0..FLOOD).map(|n| {
        let app = &app;
        async move { deliver(app, &forged_headers(n), forged_body(n)).await }
    }))
    .await;
    let allowance = verification_allowance(started.elapsed());
    let calls = verification_calls(&app.sim) - before;
    assert!(calls <= allowance, "{calls} PayPal calls for {FLOOD} forged deliveries (allowed {allowance}): {:?}", app.sim.requests());
    assert!(calls > 0, "some were verified");
    for (status, body) in &refusals {
        assert!(matches!(status, 401 | 503), "{status} {body}");
        assert_generic(*status, body);
    }
    assert!(!app.state.paypal.client.as_ref().unwrap().breaker_is_open());
    assert_eq!(disputes(&app).await, 0);
}

/// The same flood while PayPal is down: the verification's own breaker and budget absorb it; the
/// background sync's breaker never sees it, so merchants' refreshes carry on when PayPal does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_during_a_paypal_outage_leaves_the_sync_breaker_closed() {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await;
    app.sim.set_knobs(Knobs { outage: true, ..Knobs::instant() });
    let before = verification_calls(&app.sim);
    let started = std::time::Instant::now();
    let refusals = join_all((0..FLOOD).map(|n| {
        let app = &app;
        async move { deliver(app, &forged_headers(n), forged_body(n)).await }
    }))
    .await;
    let allowance = verification_allowance(started.elapsed());
    let calls = verification_calls(&app.sim) - before;
    assert!(calls <= allowance, "{calls} PayPal calls (allowed {allowance}): {:?}", app.sim.requests());
    for (status, body) in &refusals {
        assert_eq!(*status, 503, "{body}");
        assert_generic(*status, body);
    }
    let sync = app.state.paypal.client.as_ref().unwrap();
    assert!(!sync.breaker_is_open(), "forged webhooks opened the sync's breaker");
    app.sim.set_knobs(Knobs::instant());
    sync.balances("V222222222223", vetted::server::paypal::client::Cause::Sync).await.expect("the sync's client still calls PayPal");
}

/// Each free check refuses on its own, before any PayPal call, with a generic body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_free_check_refuses_without_asking_paypal() {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await;
    let with = |name: &'static str, value: &str| {
        let mut headers = forged_headers(1);
        headers.iter_mut().find(|(n, _)| *n == name).unwrap().1 = value.to_string();
        headers
    };
    let without = |name: &'static str| forged_headers(1).into_iter().filter(|(n, _)| *n != name).collect::<Vec<_>>();
    let minutes_ago = |m: i64| (Utc::now() - chrono::Duration::minutes(m)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = forged_body(1);
    let cases: Vec<(&str, Vec<(&'static str, String)>, String, u16)> = vec![
        ("no transmission id", without("paypal-transmission-id"), body.clone(), 400),
        ("no signature", without("paypal-transmission-sig"), body.clone(), 400),
        ("no certificate URL", without("paypal-cert-url"), body.clone(), 400),
        ("no algorithm", without("paypal-auth-algo"), body.clone(), 400),
        ("no transmission time", without("paypal-transmission-time"), body.clone(), 400),
        ("algorithm with a space", with("paypal-auth-algo", "SHA256 withRSA"), body.clone(), 400),
        ("transmission id too long", with("paypal-transmission-id", &"x".repeat(51)), body.clone(), 400),
        ("signature too long", with("paypal-transmission-sig", &"s".repeat(501)), body.clone(), 400),
        ("time not a date", with("paypal-transmission-time", "yesterday"), body.clone(), 400),
        ("time ten minutes old", with("paypal-transmission-time", &minutes_ago(10)), body.clone(), 400),
        ("time ten minutes ahead", with("paypal-transmission-time", &minutes_ago(-10)), body.clone(), 400),
        ("certificate over http", with("paypal-cert-url", "http://api.paypal.com/v1/notifications/certs/CERT-1"), body.clone(), 400),
        ("certificate elsewhere", with("paypal-cert-url", "https://paypal.com.attacker.example/certs/CERT-1"), body.clone(), 400),
        ("certificate on a look-alike", with("paypal-cert-url", "https://evilpaypal.com/certs/CERT-1"), body.clone(), 400),
        ("certificate with credentials", with("paypal-cert-url", "https://user@api.paypal.com/certs/CERT-1"), body.clone(), 400),
        ("certificate on loopback", with("paypal-cert-url", &format!("{}/certs/CERT-1", app.sim_url.replace("http:", "https:"))), body.clone(), 400),
        ("body not JSON", forged_headers(1), "not json".to_string(), 400),
        ("event without an id", forged_headers(1), json!({ "event_type": "CUSTOMER.DISPUTE.CREATED" }).to_string(), 400),
        ("body too large", forged_headers(1), format!("{{\"id\":\"WH-1\",\"pad\":\"{}\"}}", "x".repeat(webhooks::MAX_WEBHOOK_BODY)), 413),
    ];
    let before = verification_calls(&app.sim);
    for (case, headers, body, expected) in cases {
        let (status, answer) = deliver(&app, &headers, body).await;
        assert_eq!(status, expected, "{case}: {answer}");
        assert_generic(status, &answer);
        assert_eq!(verification_calls(&app.sim), before, "{case}: PayPal was asked");
    }
    // The same delivery with every check passed does reach PayPal (which says no).
    assert_eq!(deliver(&app, &forged_headers(1), forged_body(1)).await.0, 401);
    assert!(verification_calls(&app.sim) > before);
}

/// Without our webhook id, every delivery is refused at once, and the caller is not told why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_webhook_id_deliveries_are_refused_without_detail() {
    let app = TestApp::spawn(Backend::Sqlite, &[("PAYPAL_WEBHOOK_ID", "")]).await;
    let before = verification_calls(&app.sim);
    let (status, body) = deliver(&app, &forged_headers(1), forged_body(1)).await;
    assert_eq!(status, 503);
    assert_generic(status, &body);
    assert_eq!(verification_calls(&app.sim), before);
}
