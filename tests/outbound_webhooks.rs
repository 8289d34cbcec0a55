//! Outbound webhooks against a real receiver on loopback: a receiver that fails three times and
//! then answers 200 accepts each event once, with the same event id on every try; events go in
//! order; changes committed while nothing delivered are delivered later by another instance
//! (nothing lost); two instances never send an event at the same time; the signature verifies
//! with the README's recipe (Python, run here) and fails with a changed byte or an old
//! timestamp; a rotated secret keeps the old one signing for 24 hours; addresses that are not
//! public are refused at registration and again at delivery; an endpoint failing for 3 days is
//! disabled; every change writes its event in its own transaction, and a refused change writes
//! none.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, Utc};
use common::{Backend, TestApp};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::Value;
use vetted::app::dto::{WebhookEndpointInput, WebhookEventKind};
use vetted::server::fraud::list_store;
use vetted::server::fraud::lists::ListEntry;
use vetted::server::outbound::address::UrlRefused;
use vetted::server::outbound::{delivery, endpoints, signing};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    event_id: String,
    signature: String,
    body: Vec<u8>,
    answered: u16,
}

#[derive(Default)]
struct Receiver {
    received: Mutex<Vec<Received>>,
    /// Requests still to fail with a 500.
    failures_left: AtomicUsize,
    /// Woken at each request.
    arrived: tokio::sync::Notify,
}

impl Receiver {
    fn accepted(&self) -> Vec<String> {
        self.received.lock().unwrap().iter().filter(|r| r.answered == 200).map(|r| r.event_id.clone()).collect()
    }

    /// Waits (at most 30 s) until `n` events were accepted.
    async fn until_accepted(&self, n: usize) {
        let wait = async {
            loop {
                let notified = self.arrived.notified();
                if self.accepted().len() >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), wait).await.unwrap_or_else(|_| panic!("{} of {n} accepted", self.accepted().len()));
    }
}

async fn receive(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: axum::body::Bytes) -> (StatusCode, &'static str) {
    let failing = receiver.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let answered = if failing { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    receiver.received.lock().unwrap().push(Received {
        event_id: header("vetted-event-id"),
        signature: header("vetted-signature"),
        body: body.to_vec(),
        answered: answered.as_u16(),
    });
    receiver.arrived.notify_waiters();
    (answered, if failing { "try again later" } else { "ok" })
}

/// A receiver on loopback, failing its first `failures` requests.
async fn start_receiver(failures: usize) -> (Arc<Receiver>, String) {
    let receiver = Arc::new(Receiver { failures_left: AtomicUsize::new(failures), ..Receiver::default() });
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (receiver, url)
}

fn input(url: &str, events: &[WebhookEventKind]) -> WebhookEndpointInput {
    WebhookEndpointInput { url: url.to_string(), description: "payouts service".into(), events: events.to_vec() }
}

async fn add_entries(db: &DatabaseConnection, n: usize, tag: &str) {
    for i in 0..n {
        let entry = ListEntry {
            value: String::new(),
            reason: "chargeback".into(),
            expires_at: None,
            added_by: "ada@vetted.test".into(),
            source: "admin".into(),
            merchant_id: None,
        };
        list_store::add_entry(db, "blocked_emails", &format!("{tag}{i}@example.com"), entry, Utc::now()).await.unwrap();
    }
}

async fn outbox(db: &DatabaseConnection) -> Vec<(i64, String, Value)> {
    let rows =
        db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT id, kind, payload FROM outbox_events ORDER BY id")).await.unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get::<i64>("", "id").unwrap(),
                r.try_get::<String>("", "kind").unwrap(),
                serde_json::from_str(&r.try_get::<String>("", "payload").unwrap()).unwrap(),
            )
        })
        .collect()
}

/// The ids receivers see of the `list.entry_added` events after event `after`.
async fn list_events_after(db: &DatabaseConnection, after: i64) -> Vec<String> {
    outbox(db).await.iter().filter(|(id, kind, _)| *id > after && kind == "list.entry_added").map(|(id, _, _)| delivery::event_id(*id)).collect()
}

async fn last_event(db: &DatabaseConnection) -> i64 {
    outbox(db).await.last().map_or(0, |(id, _, _)| *id)
}

/// Delivers with the clock at `at` until the endpoint's queue is empty or waits for a retry.
async fn deliver_at(db: &DatabaseConnection, id: i32, owner: &str, at: DateTime<Utc>) -> u64 {
    delivery::dispatch(db, at).await.unwrap();
    delivery::deliver_endpoint(db, id, owner, true, move || at).await.unwrap()
}

async fn a_failing_receiver_gets_each_event_once_in_order(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let (receiver, url) = start_receiver(3).await;
    let created = endpoints::register(db, &input(&url, &[WebhookEventKind::ListEntryAdded]), "ada@vetted.test", true, Utc::now()).await.unwrap();
    let id = created.endpoint.id;
    assert!(created.secret.starts_with("whsec_") && created.secret.len() > 40);
    let before = last_event(db).await;
    add_entries(db, 3, "fails").await;
    let events = list_events_after(db, before).await;
    assert_eq!(events.len(), 3);

    // Three failures, each followed by a wait; the queue holds behind the first event.
    let start = Utc::now();
    let mut clock = start;
    for attempt in 1..=3 {
        assert_eq!(deliver_at(db, id, "instance-a", clock).await, 0, "attempt {attempt} fails");
        assert!(delivery::due_endpoints(db, clock).await.unwrap().is_empty(), "backing off after attempt {attempt}");
        clock += delivery::MAX_BACKOFF;
        assert_eq!(delivery::due_endpoints(db, clock).await.unwrap(), vec![id]);
    }
    assert_eq!(deliver_at(db, id, "instance-a", clock).await, 3, "then everything, in one run");
    assert_eq!(receiver.accepted(), events, "each event accepted once, in order");
    let tries: Vec<String> = receiver.received.lock().unwrap().iter().map(|r| r.event_id.clone()).collect();
    assert_eq!(tries[..4], [events[0].clone(), events[0].clone(), events[0].clone(), events[0].clone()], "the same event id on every try");
    assert_eq!(deliver_at(db, id, "instance-a", clock).await, 0, "nothing delivered twice");

    // Every request is signed with the endpoint's secret: the README's recipe agrees.
    for request in receiver.received.lock().unwrap().iter() {
        assert_eq!(signing::verify(&created.secret, &request.signature, &request.body, Utc::now().timestamp()), Ok(()));
    }
    let last = receiver.received.lock().unwrap().last().cloned().unwrap();
    let envelope: Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!((envelope["id"].as_str().unwrap(), envelope["type"].as_str().unwrap()), (events[2].as_str(), "list.entry_added"));
    assert_eq!(envelope["data"]["value"], "fails2@example.com");
    let timestamp = last.signature.split(',').next().unwrap().trim_start_matches("t=").parse::<i64>().unwrap();
    assert!(python_recipe(&created.secret, &last.signature, &last.body, timestamp), "the recipe accepts it");
    let mut changed = last.body.clone();
    changed[10] ^= 1;
    assert!(!python_recipe(&created.secret, &last.signature, &changed, timestamp), "a changed byte");
    assert!(!python_recipe(&created.secret, &last.signature, &last.body, timestamp + 301), "an old timestamp");
    assert!(!python_recipe("whsec_someone_else", &last.signature, &last.body, timestamp), "another secret");

    // The delivery log: every try, newest first, with status and the answer's beginning.
    let log = endpoints::attempts(db, id, None).await.unwrap();
    assert_eq!(log.len(), 6);
    assert_eq!(log.iter().rev().map(|a| a.status_code).collect::<Vec<_>>(), [Some(500), Some(500), Some(500), Some(200), Some(200), Some(200)]);
    assert_eq!((log[5].response_head.as_str(), log[0].response_head.as_str(), log[0].event_kind.as_str()), ("try again later", "ok", "list.entry_added"));

    // A receiver down for good: after 3 days of tries the endpoint is disabled, and shown so.
    let (_, down_url) = start_receiver(usize::MAX).await;
    let down = endpoints::register(db, &input(&down_url, &[WebhookEventKind::ListEntryAdded]), "ada@vetted.test", true, Utc::now()).await.unwrap().endpoint.id;
    add_entries(db, 1, "down").await;
    let mut clock = Utc::now();
    let give_up = clock + delivery::GIVE_UP_AFTER;
    while clock <= give_up + delivery::MAX_BACKOFF {
        deliver_at(db, down, "instance-a", clock).await;
        clock += delivery::MAX_BACKOFF;
    }
    let listed = endpoints::list(db).await.unwrap().into_iter().find(|e| e.id == down).unwrap();
    assert_eq!(listed.disabled_reason.as_deref(), Some("deliveries failed for 3 days"));
    assert!(listed.failing_since.is_some() && listed.pending == 1, "{listed:?}");
    assert!(delivery::due_endpoints(db, clock).await.unwrap().iter().all(|e| *e != down), "a disabled endpoint is not delivered to");
    // Enabled again, it catches up in order.
    let enabled = endpoints::set_disabled(db, down, None, "ada@vetted.test", clock).await.unwrap();
    assert_eq!((enabled.disabled_at, enabled.failing_since), (None, None));
}

/// Runs the README's verification recipe (docs/webhooks/verify.py) on one request.
fn python_recipe(secret: &str, header: &str, body: &[u8], now: i64) -> bool {
    let path = std::env::temp_dir().join(format!("vetted-webhook-body-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::write(&path, body).unwrap();
    let status = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/webhooks/verify.py"))
        .args([secret, header, path.to_str().unwrap(), &now.to_string()])
        .status()
        .expect("python3 runs");
    std::fs::remove_file(&path).unwrap();
    status.success()
}

#[test]
fn the_readme_shows_the_recipe_that_is_tested() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let recipe = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/webhooks/verify.py")).unwrap();
    let function = recipe.split("\n\n\n").next().unwrap();
    assert!(readme.contains(function), "README.md carries the verify function of docs/webhooks/verify.py word for word");
}

async fn nothing_is_lost_and_two_instances_never_send_together(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let (receiver, url) = start_receiver(0).await;
    endpoints::register(db, &input(&url, &[WebhookEventKind::ListEntryAdded]), "ada@vetted.test", true, Utc::now()).await.unwrap();
    // The seed's list entries came before the endpoint: not for it.
    let before = last_event(db).await;
    // Changes committed while no instance delivers (as if the server died after them)…
    add_entries(db, 40, "restart").await;
    assert!(receiver.received.lock().unwrap().is_empty());
    // …are delivered by the instances that run next: two of them, at once, each with its
    // worker, on the same endpoint.
    let other = app.another_instance().await;
    let workers = [vetted::server::jobs::outbound::spawn(app.state.db.clone(), true), vetted::server::jobs::outbound::spawn(other.state.db.clone(), true)];
    receiver.until_accepted(40).await;
    // More while they run.
    add_entries(db, 40, "running").await;
    receiver.until_accepted(80).await;
    // The workers write what was accepted right after each batch.
    let recorded = async {
        while endpoints::list(db).await.unwrap()[0].pending > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), recorded).await.expect("the deliveries are recorded");
    for worker in workers {
        worker.abort();
    }
    let received: Vec<String> = receiver.received.lock().unwrap().iter().map(|r| r.event_id.clone()).collect();
    assert_eq!(received, list_events_after(db, before).await, "each event once, in order of creation");
}

async fn every_change_writes_its_event_with_it(backend: Backend) {
    use vetted::server::review::merchant_actions::{transition, MerchantAction, MerchantActionError};
    use vetted::server::review::merchant_state::{Actor, MerchantEvent};
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let before = outbox(db).await.len();
    let system = Actor::System { what: "tests".into() };
    let action = |event| MerchantAction { merchant_id: 2, event, actor: system.clone(), reason: None, seen_state: None };
    transition(db, &app.state.cache, &action(MerchantEvent::PutOnProbation), Utc::now()).await.unwrap();
    let events = outbox(db).await;
    assert_eq!(events.len(), before + 1);
    let (_, kind, data) = events.last().unwrap();
    assert_eq!((kind.as_str(), data["merchant_id"].as_i64(), data["to"].as_str()), ("merchant.risk_state_changed", Some(2), Some("on_probation")));
    // A refused move changes nothing, and tells nobody.
    let refused = transition(db, &app.state.cache, &action(MerchantEvent::FlagForTosViolation), Utc::now()).await;
    assert!(matches!(refused, Err(MerchantActionError::Refused(_))), "{refused:?}");
    assert_eq!(outbox(db).await.len(), before + 1);

    // An ingest that is blocked is an event; one that is allowed is not.
    let key = vetted::server::fraud::api_keys::create(db, "tests", "tests", Utc::now()).await.unwrap().key;
    let entry = ListEntry {
        value: String::new(),
        reason: "stolen".into(),
        expires_at: None,
        added_by: "ada@vetted.test".into(),
        source: "admin".into(),
        merchant_id: None,
    };
    list_store::add_entry(db, "blocked_cards", "fp_stolen", entry, Utc::now()).await.unwrap();
    app.state.fraud.refresh().await.unwrap();
    let http = reqwest::Client::new();
    for (external_id, card) in [("ok-1", "fp_fine"), ("stolen-1", "fp_stolen")] {
        let body = serde_json::json!({
            "external_id": external_id, "merchant_id": 1, "amount": 1500, "currency": "USD", "buyer_email": "buyer@example.com",
            "buyer_ip": "198.51.100.7", "ip_country": "US", "card_fingerprint": card, "card_country": "US"
        });
        let response = http.post(app.url("/api/v1/transactions")).bearer_auth(&key).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201);
    }
    let decisions: Vec<Value> = outbox(db).await.into_iter().filter(|(_, kind, _)| kind == "decision.created").map(|(_, _, data)| data).collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!((decisions[0]["external_id"].as_str(), decisions[0]["outcome"].as_str()), (Some("stolen-1"), Some("block")));
}

async fn addresses_that_are_not_public_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let register = |url: &'static str, allow: bool| async move {
        let input = input(url, &[WebhookEventKind::CaseResolved]);
        endpoints::register(db, &input, "ada@vetted.test", allow, Utc::now()).await
    };
    for (url, allow) in [("https://169.254.169.254/latest/meta-data", false), ("https://10.0.0.8/hook", true), ("https://[fd00:ec2::254]/", false)] {
        assert!(matches!(register(url, allow).await, Err(endpoints::EndpointError::Url(UrlRefused::NotPublic { .. }))), "{url}");
    }
    assert!(matches!(register("http://127.0.0.1:9/hook", false).await, Err(endpoints::EndpointError::Url(UrlRefused::NotHttps))));
    assert!(matches!(register("https://localhost/hook", false).await, Err(endpoints::EndpointError::Url(UrlRefused::NotPublic { .. }))));
    assert!(matches!(
        endpoints::register(db, &input("http://127.0.0.1:9/hook", &[]), "ada@vetted.test", true, Utc::now()).await,
        Err(endpoints::EndpointError::NoEvents)
    ));
    // The description's bound: 500 characters pass, 501 are refused.
    let mut described = input("http://127.0.0.1:9/hook", &[WebhookEventKind::CaseResolved]);
    described.description = "é".repeat(endpoints::MAX_DESCRIPTION_CHARS + 1);
    assert!(matches!(endpoints::register(db, &described, "ada@vetted.test", true, Utc::now()).await, Err(endpoints::EndpointError::DescriptionTooLong)));
    assert!(endpoints::list(db).await.unwrap().is_empty(), "nothing registered");
    described.description = "é".repeat(endpoints::MAX_DESCRIPTION_CHARS);
    let at_bound = endpoints::register(db, &described, "ada@vetted.test", true, Utc::now()).await.unwrap().endpoint;
    assert_eq!(at_bound.description.chars().count(), endpoints::MAX_DESCRIPTION_CHARS);
    endpoints::set_disabled(db, at_bound.id, Some("test done"), "ada@vetted.test", Utc::now()).await.unwrap();

    // Checked again at delivery: an endpoint whose address is no longer public gets no request.
    let (receiver, url) = start_receiver(0).await;
    let id = endpoints::register(db, &input(&url, &[WebhookEventKind::ListEntryAdded]), "ada@vetted.test", true, Utc::now()).await.unwrap().endpoint.id;
    add_entries(db, 1, "moved").await;
    db.execute_raw(vetted::server::db::statement(
        db.get_database_backend(),
        "UPDATE webhook_endpoints SET url = ? WHERE id = ?",
        vec!["https://10.1.2.3/hook".into(), id.into()],
    ))
    .await
    .unwrap();
    assert_eq!(deliver_at(db, id, "instance-a", Utc::now()).await, 0);
    assert!(receiver.received.lock().unwrap().is_empty());
    let log = endpoints::attempts(db, id, None).await.unwrap();
    assert_eq!((log[0].status_code, log[0].error.as_deref()), (None, Some("10.1.2.3 is a private address: webhooks go to public addresses only")));
}

async fn a_rotated_secret_keeps_the_old_one_signing_for_a_day(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let (receiver, url) = start_receiver(0).await;
    let created = endpoints::register(db, &input(&url, &[WebhookEventKind::ListEntryAdded]), "ada@vetted.test", true, Utc::now()).await.unwrap();
    let id = created.endpoint.id;
    let now = Utc::now();
    let rotated = endpoints::rotate_secret(db, id, "ada@vetted.test", now).await.unwrap();
    assert_ne!(rotated.secret, created.secret);
    add_entries(db, 2, "rotation").await;
    delivery::dispatch(db, now).await.unwrap();
    // Within the day: both secrets verify. The test event goes out of order, marked manual.
    let test = delivery::send_test(db, id, "ada@vetted.test", true, now).await.unwrap();
    assert!(test.succeeded());
    let first = receiver.received.lock().unwrap()[0].clone();
    for secret in [&created.secret, &rotated.secret] {
        assert_eq!(signing::verify(secret, &first.signature, &first.body, Utc::now().timestamp()), Ok(()));
    }
    // After it: only the new one (the clock of the deliveries moves a day on).
    let later = now + endpoints::ROTATION_OVERLAP + Duration::seconds(1);
    assert_eq!(deliver_at(db, id, "instance-a", later).await, 2);
    let last = receiver.received.lock().unwrap().last().cloned().unwrap();
    assert_eq!(signing::verify(&rotated.secret, &last.signature, &last.body, Utc::now().timestamp()), Ok(()));
    assert_eq!(signing::verify(&created.secret, &last.signature, &last.body, Utc::now().timestamp()), Err(signing::SignatureError::Mismatch));
    // Redeliver: sent again on request, logged as manual.
    let event = endpoints::attempts(db, id, None).await.unwrap()[0].event_id;
    assert!(delivery::redeliver(db, id, event, true, Utc::now()).await.unwrap().succeeded());
    let log = endpoints::attempts(db, id, None).await.unwrap();
    assert!(log[0].manual && log[0].event_id == event && log.iter().any(|a| a.manual && a.event_kind == "test"));
}

on_both_databases!(
    a_failing_receiver_gets_each_event_once_in_order,
    nothing_is_lost_and_two_instances_never_send_together,
    every_change_writes_its_event_with_it,
    addresses_that_are_not_public_are_refused,
    a_rotated_secret_keeps_the_old_one_signing_for_a_day,
);
