//! The dashboard's PayPal panel end to end: real app, real simulator over HTTP, real Redis.
//! The request path must never call PayPal; the background sync must call it once per refresh.
mod common;

use std::time::Duration;

use common::{Backend, PrivateRedis, TestApp, Who, REDIS_TEST_URL};
use futures::future::join_all;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use vetted::app::dto::{PaypalPanel, PaypalSnapshot};
use vetted::server::db::entities::{paypal_account, paypal_snapshot};
use vetted::server::paypal::panel_key;
use vetted::server::paypal::simulator::Knobs;

const SYNC_WAIT: Duration = Duration::from_secs(20);
const DEMO_MERCHANT_ID: i32 = 1;

fn is_ready(panel: &PaypalPanel) -> bool {
    matches!(panel, PaypalPanel::Ready { .. })
}

fn is_fresh(panel: &PaypalPanel) -> bool {
    matches!(panel, PaypalPanel::Ready { stale: false, failure: None, .. })
}

/// Opens the dashboard until the first background sync has landed.
async fn synced(app: &TestApp, client: &reqwest::Client) -> PaypalSnapshot {
    match app.paypal_panel_until(client, SYNC_WAIT, is_ready).await {
        PaypalPanel::Ready { snapshot, .. } => snapshot,
        other => panic!("the first sync did not land: {other:?}"),
    }
}

async fn cold_loads_cause_exactly_one_upstream_refresh(backend: Backend) {
    let app = TestApp::spawn(backend, &[("REDIS_URL", REDIS_TEST_URL)]).await;
    let second = app.another_instance().await;
    let (client_a, client_b) = (app.client_as(Who::Merchant).await, second.client_as(Who::Merchant).await);

    // 200 concurrent first loads of one merchant, spread over two instances sharing Redis.
    let loads = (0..200).map(|i| {
        let (instance, client) = if i % 2 == 0 { (&app, &client_a) } else { (&second, &client_b) };
        instance.paypal_panel(client)
    });
    for panel in join_all(loads).await {
        assert!(matches!(panel, PaypalPanel::Syncing { failure: None } | PaypalPanel::Ready { .. }), "{panel:?}");
    }
    synced(&app, &client_a).await;
    assert!(is_ready(&second.paypal_panel(&client_b).await));
    assert_eq!(app.sim.requests_to("balances"), 1, "one refresh for 200 cold loads: {:?}", app.sim.requests());
    assert_eq!(app.sim.requests_to("merchant_integration"), 1);
}

async fn page_loads_never_call_paypal(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let client = app.client_as(Who::Merchant).await;
    synced(&app, &client).await;
    let before = app.sim.requests();

    for _ in 0..10 {
        let page = client.get(app.url("/")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("data-testid=\"paypal-balances\""), "the panel is rendered in the streamed page");
        assert!(is_fresh(&app.paypal_panel(&client).await));
    }
    assert_eq!(app.sim.requests(), before, "page loads reached PayPal");
    let metrics = client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        !metrics.lines().any(|l| l.starts_with("vetted_paypal_requests_total") && l.contains("cause=\"page_load\"")),
        "page-load PayPal calls were counted:\n{metrics}"
    );
}

/// Rewrites the stored snapshot as if it had been fetched `age` ago and drops the cache entry.
async fn age_snapshot(app: &TestApp, age: chrono::Duration) {
    let db = app.state.db.primary();
    let row = paypal_snapshot::Entity::find_by_id(DEMO_MERCHANT_ID).one(db).await.unwrap().unwrap();
    let mut snapshot: PaypalSnapshot = serde_json::from_str(&row.body).unwrap();
    let fetched_at = chrono::Utc::now() - age;
    snapshot.fetched_at = fetched_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut active: paypal_snapshot::ActiveModel = row.into();
    active.body = Set(serde_json::to_string(&snapshot).unwrap());
    active.fetched_at = Set(fetched_at);
    active.update(db).await.unwrap();
    app.state.cache.remove(&panel_key(DEMO_MERCHANT_ID)).await;
}

async fn fresh_data_is_served_stale_data_is_served_and_refreshed(backend: Backend) {
    let app = TestApp::spawn(backend, &[("REDIS_URL", REDIS_TEST_URL)]).await;
    let client = app.client_as(Who::Merchant).await;
    synced(&app, &client).await;
    assert_eq!(app.sim.requests_to("balances"), 1);

    // Fresh (younger than 15 min): served, nothing queued.
    age_snapshot(&app, chrono::Duration::minutes(14)).await;
    match app.paypal_panel(&client).await {
        PaypalPanel::Ready { stale, age_seconds, .. } => {
            assert!(!stale);
            assert!((14 * 60..15 * 60).contains(&age_seconds), "{age_seconds}");
        }
        other => panic!("{other:?}"),
    }
    let account = paypal_account::Entity::find_by_id(DEMO_MERCHANT_ID).one(app.state.db.primary()).await.unwrap().unwrap();
    assert_eq!(account.refresh_requested_at, None, "fresh data queues no refresh");

    // Stale (older than 15 min, within 24 h): served at once with its age, and refreshed behind.
    age_snapshot(&app, chrono::Duration::hours(3)).await;
    match app.paypal_panel(&client).await {
        PaypalPanel::Ready { stale, age_seconds, .. } => {
            assert!(stale);
            assert!(age_seconds >= 3 * 3600);
        }
        other => panic!("{other:?}"),
    }
    assert!(is_fresh(&app.paypal_panel_until(&client, SYNC_WAIT, is_fresh).await));
    assert_eq!(app.sim.requests_to("balances"), 2);

    // Older than the 24 h cache lifetime: still the last-known data from the database, marked stale.
    age_snapshot(&app, chrono::Duration::hours(30)).await;
    match app.paypal_panel(&client).await {
        PaypalPanel::Ready { stale, age_seconds, .. } => assert!(stale && age_seconds >= 30 * 3600),
        other => panic!("{other:?}"),
    }
}

async fn paypal_down_shows_last_known_data_with_a_banner_then_recovers(backend: Backend) {
    let app = TestApp::spawn(backend, &[("PAYPAL_RETRY_AFTER_FAILURE_SECS", "1"), ("PAYPAL_BREAKER_COOLDOWN_SECS", "1")]).await;
    let client = app.client_as(Who::Merchant).await;
    let before = synced(&app, &client).await;

    app.sim.set_knobs(Knobs { outage: true, ..Knobs::instant() });
    let refresh = client.post(app.url("/rpc/dashboard/request_paypal_refresh")).send().await.unwrap();
    assert_eq!(refresh.status(), 200);
    let degraded = app.paypal_panel_until(&client, SYNC_WAIT, |p| matches!(p, PaypalPanel::Ready { failure: Some(_), .. })).await;
    let PaypalPanel::Ready { snapshot, failure: Some(failure), .. } = degraded else { panic!("{degraded:?}") };
    assert_eq!(snapshot, before, "last-known data is kept");
    assert_eq!(failure.cause, "PayPal answered with a server error");

    let page = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("PayPal unreachable since"), "degraded banner in the page");
    assert!(html.contains("showing data from"));

    // A second press within the window is refused with a wait time, and changes nothing.
    let again = client.post(app.url("/rpc/dashboard/request_paypal_refresh")).send().await.unwrap();
    assert_eq!(again.status(), 429);
    assert!(again.text().await.unwrap().contains("RateLimited"));

    // PayPal comes back: the scheduled retry recovers on its own.
    app.sim.set_knobs(Knobs::instant());
    assert!(is_fresh(&app.paypal_panel_until(&client, SYNC_WAIT, is_fresh).await), "recovered");
}

async fn redis_outage_falls_back_to_the_database_snapshot(backend: Backend) {
    let redis = PrivateRedis::start(None).await;
    let url = redis.url();
    let app = TestApp::spawn(backend, &[("REDIS_URL", &url), ("SESSION_STORE", "database")]).await;
    let client = app.client_as(Who::Merchant).await;
    let snapshot = synced(&app, &client).await;

    let port = redis.stop();
    assert!(!app.state.cache.ping().await);
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "a Redis outage is reported, not fatal");
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["cache"], "redis_unreachable");
    for _ in 0..5 {
        let page = client.get(app.url("/")).send().await.unwrap();
        assert_eq!(page.status(), 200, "Redis down must not break the dashboard");
        match app.paypal_panel(&client).await {
            PaypalPanel::Ready { snapshot: served, .. } => assert_eq!(served, snapshot),
            other => panic!("{other:?}"),
        }
    }

    // Redis returns (empty): the cache is filled again by the next loads.
    let redis = PrivateRedis::start(Some(port)).await;
    let mut conn = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}:{}", app.state.config.cache_namespace, panel_key(DEMO_MERCHANT_ID));
    // However long the app's connection takes to come back (its reconnects back off), the
    // loads find it and fill the cache again: wait for that, with the sync's generous limit
    // rather than a count of tries.
    let deadline = std::time::Instant::now() + SYNC_WAIT;
    loop {
        assert!(is_ready(&app.paypal_panel(&client).await));
        let exists: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await.unwrap();
        if exists {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the cache was not refilled after Redis came back");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn metrics_and_readiness_report_paypal_and_the_cache(backend: Backend) {
    let app = TestApp::spawn(backend, &[("METRICS_TOKEN", "scrape-me")]).await;
    let merchant = app.client_as(Who::Merchant).await;
    synced(&app, &merchant).await;

    let anonymous = app.client();
    assert_eq!(anonymous.get(app.url("/metrics")).send().await.unwrap().status(), 403, "token configured: loopback is not enough");
    assert_eq!(merchant.get(app.url("/metrics")).send().await.unwrap().status(), 403);
    let scraped = anonymous.get(app.url("/metrics")).bearer_auth("scrape-me").send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    for series in [
        "vetted_paypal_request_duration_seconds_bucket{endpoint=\"balances\",outcome=\"ok\"",
        "vetted_paypal_breaker_open",
        "vetted_cache_requests_total{result=\"miss\"}",
        "vetted_paypal_sync_total{outcome=\"refreshed\"}",
        "vetted_http_request_duration_seconds_bucket{route=\"rpc_paypal_panel\"",
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
    let admin = app.client_as(Who::Admin).await;
    assert_eq!(admin.get(app.url("/metrics")).send().await.unwrap().status(), 200);

    let ready: serde_json::Value = anonymous.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["cache"], "memory");
    assert_eq!(ready["paypal"], "ok");
}

on_both_databases!(
    cold_loads_cause_exactly_one_upstream_refresh,
    page_loads_never_call_paypal,
    fresh_data_is_served_stale_data_is_served_and_refreshed,
    paypal_down_shows_last_known_data_with_a_banner_then_recovers,
    redis_outage_falls_back_to_the_database_snapshot,
    metrics_and_readiness_report_paypal_and_the_cache,
);
