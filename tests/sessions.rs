//! Sessions in the documented scale-out configuration (`REDIS_URL` set, nothing else): the
//! database keeps them and Redis sits in front, so a Redis outage or restart signs nobody out.
mod common;

use common::{Backend, PrivateRedis, TestApp, Who};
use vetted::server::seed::DEMO_MERCHANT;

/// Loads a page the way a signed-in user does; 200 means the session held (an anonymous or
/// signed-out visitor is redirected to /login).
async fn load(app: &TestApp, client: &reqwest::Client, path: &str) -> reqwest::StatusCode {
    client.get(app.url(path)).send().await.unwrap().status()
}

async fn session_keys(redis: &PrivateRedis, namespace: &str) -> Vec<String> {
    let mut conn = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS").arg(format!("{namespace}:session:*")).query_async(&mut conn).await.unwrap()
}

async fn signed_in_users_keep_working_through_a_redis_outage(backend: Backend) {
    let redis = PrivateRedis::start(None).await;
    let url = redis.url();
    let app = TestApp::spawn(backend, &[("REDIS_URL", &url)]).await;
    assert_eq!(app.state.sessions.describe(), "database+redis", "REDIS_URL alone puts Redis in front of the database");
    let namespace = app.state.config.cache_namespace.clone();
    let merchants = [app.client_as(Who::Merchant).await, app.client_as(Who::Merchant).await];
    let reviewer = app.client_as(Who::Reviewer).await;
    assert_eq!(session_keys(&redis, &namespace).await.len(), 3, "each session has a copy in Redis, under CACHE_NAMESPACE");

    let port = redis.stop();
    for _ in 0..3 {
        for merchant in &merchants {
            assert_eq!(load(&app, merchant, "/").await, 200, "the dashboard loads while Redis is down");
        }
        assert_eq!(load(&app, &reviewer, "/queue").await, 200);
    }
    let signed_in_during_outage = app.client_as(Who::Merchant).await;
    assert_eq!(load(&app, &signed_in_during_outage, "/").await, 200, "signing in works during the outage");

    // Redis returns empty (no persistence): nobody is signed out, and Redis is used again
    // without a restart — the next loads copy the sessions back.
    let redis = PrivateRedis::start(Some(port)).await;
    let mut copied = Vec::new();
    for _ in 0..200 {
        for client in merchants.iter().chain([&reviewer, &signed_in_during_outage]) {
            let path = if std::ptr::eq(client, &reviewer) { "/queue" } else { "/" };
            assert_eq!(load(&app, client, path).await, 200, "still signed in after Redis came back");
        }
        copied = session_keys(&redis, &namespace).await;
        if copied.len() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(copied.len(), 4, "sessions are copied to Redis again once it answers: {copied:?}");
}

async fn signing_out_ends_the_session_in_redis_and_the_database(backend: Backend) {
    let redis = PrivateRedis::start(None).await;
    let url = redis.url();
    let app = TestApp::spawn(backend, &[("REDIS_URL", &url)]).await;
    let merchant = app.client_as(Who::Merchant).await;
    assert_eq!(load(&app, &merchant, "/").await, 200);
    // A second sign-in whose cookie is replayed by hand after it signs out.
    let cookie_jar_copy = app.client();
    let cookie = {
        let response = app.login_response(&cookie_jar_copy, DEMO_MERCHANT.0, DEMO_MERCHANT.1).await;
        assert_eq!(response.status(), 200);
        response.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string()
    };
    let replay = |path: &'static str| {
        let cookie = cookie.clone();
        let url = app.url(path);
        async move {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(replay("/").await, 200);
    let out = cookie_jar_copy.post(app.url("/rpc/auth/logout")).send().await.unwrap();
    assert!(out.status().is_success() || out.status().is_redirection(), "{}", out.status());
    assert_eq!(replay("/").await, 303, "the old cookie is worthless after sign-out");
    assert!(session_keys(&redis, &app.state.config.cache_namespace).await.len() <= 1, "only the other client's session remains");
}

on_both_databases!(signed_in_users_keep_working_through_a_redis_outage, signing_out_ends_the_session_in_redis_and_the_database,);
