//! PayPal dispute webhooks against the simulator: verified deliveries stored once, replays and
//! forgeries changing nothing, dropped deliveries filled in by the reconciliation, disputes
//! feeding the merchant's dispute rate; the simulator's messages follow PayPal's schemas.
mod common;

use chrono::Utc;
use common::{assert_matches_schema, Backend, TestApp};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use vetted::server::db::entities::dispute;
use vetted::server::paypal::simulator::{webhooks as sim_webhooks, SIM_WEBHOOK_ID};
use vetted::server::paypal::webhooks;

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
    let report = webhooks::reconcile(&app.state, Utc::now()).await.unwrap();
    assert_eq!((report.listed, report.filled_in), (4, 3));
    assert_eq!(disputes(&app).await, 4);
    let again = webhooks::reconcile(&app.state, Utc::now()).await.unwrap();
    assert_eq!(again.filled_in, 0);
    assert_eq!(disputes(&app).await, 4);

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

on_both_databases!(webhooks_are_verified_stored_once_and_reconciled);
