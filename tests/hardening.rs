//! The doors of the web server: request bounds, security headers, the sign-in's limits, its
//! redirect, and the client address behind a trusted proxy.
mod common;

use std::time::Duration;

use common::{Backend, TestApp, Who};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vetted::app::error::AppError;
use vetted::server::auth::rate_limit::FAILURES_PER_ACCOUNT_AND_CLIENT;
use vetted::server::http::limits::{DEFAULT_BODY_LIMIT, LOGIN_BODY_LIMIT, MAX_HEADER_BYTES, MAX_URI_BYTES};
use vetted::server::seed::DEMO_ADMIN;

async fn error_of(response: reqwest::Response) -> AppError {
    serde_json::from_str(&response.text().await.unwrap()).expect("an AppError body")
}

fn login_form(email: &str, password: &str) -> String {
    serde_urlencoded_pair(&[("email", email), ("password", password)])
}

fn serde_urlencoded_pair(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>();
    pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

async fn bodies_over_the_limit_are_refused_before_they_are_read(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let client = app.client();
    let post = |path: &str, body: Vec<u8>| client.post(app.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body).send();

    // At the bound the login is read and answered on its merits; one byte more is 413.
    let padding = |total: usize| {
        let base = login_form(DEMO_ADMIN.0, "wrong password");
        let mut body = format!("{base}&pad=").into_bytes();
        body.resize(total, b'x');
        body
    };
    assert_eq!(post("/rpc/auth/login", padding(LOGIN_BODY_LIMIT)).await.unwrap().status(), 401);
    let over = post("/rpc/auth/login", padding(LOGIN_BODY_LIMIT + 1)).await.unwrap();
    assert_eq!(over.status(), 413);
    assert!(over.text().await.unwrap().contains(&LOGIN_BODY_LIMIT.to_string()), "the error names the limit");

    // A 64 MiB declared body is refused from its Content-Length alone: the server answers and
    // closes while the client has sent almost nothing.
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /rpc/auth/login HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n",
        app.addr,
        64 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer)).await.expect("answered without the body").unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 413"), "{}", String::from_utf8_lossy(&answer[..read]));

    // A chunked body (no Content-Length) is cut at the limit as it streams. Written on a raw
    // socket: the server may answer and close before the client is done writing, which an HTTP
    // client reports as a broken pipe instead of the answer.
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head =
        format!("POST /rpc/auth/login HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\n\r\n", app.addr);
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..100 {
        let chunk = format!("400\r\n{}\r\n", "a".repeat(1024));
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break; // the server stopped reading: its answer is waiting
        }
    }
    let mut answer = vec![0; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer)).await.expect("answered").unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 413"), "{}", String::from_utf8_lossy(&answer[..read]));

    // Other server functions have the default bound.
    let merchant = app.client_as(Who::Merchant).await;
    let ok = merchant.post(app.url("/rpc/dashboard/sales_summary")).body(vec![b'a'; DEFAULT_BODY_LIMIT]).send().await.unwrap();
    assert_ne!(ok.status(), 413);
    let big = merchant.post(app.url("/rpc/dashboard/sales_summary")).body(vec![b'a'; DEFAULT_BODY_LIMIT + 1]).send().await.unwrap();
    assert_eq!(big.status(), 413);
}

async fn urls_and_headers_are_bounded(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let client = app.client();
    let path_of = |len: usize| format!("/login?{}", "q".repeat(len - "/login?".len()));
    assert_eq!(client.get(app.url(&path_of(MAX_URI_BYTES))).send().await.unwrap().status(), 200);
    assert_eq!(client.get(app.url(&path_of(MAX_URI_BYTES + 1))).send().await.unwrap().status(), 414);
    let header = |n: usize| "h".repeat(n);
    let big = client.get(app.url("/login")).header("x-padding", header(MAX_HEADER_BYTES)).send().await.unwrap();
    assert_eq!(big.status(), 431);
    let fine = client.get(app.url("/login")).header("x-padding", header(MAX_HEADER_BYTES / 2)).send().await.unwrap();
    assert_eq!(fine.status(), 200);
}

/// A client that sends half a header block and then nothing is disconnected, without a sleep in
/// the test: the read returns when the server closes (or the test's own generous bound fails it).
async fn a_slow_client_cannot_hold_a_connection(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(b"GET /login HTTP/1.1\r\nhost: x\r\nx-slow: ").await.unwrap();
    let mut buf = vec![0; 256];
    let limit = vetted::server::http::serve::HEADER_READ_TIMEOUT * 3;
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue, // a 408 before closing is fine
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept a half-sent request open");
}

async fn pages_carry_security_headers_with_a_nonce_on_the_hydration_script(backend: Backend) {
    let app = TestApp::spawn(backend, &[("COOKIE_SECURE", "false")]).await;
    let page = app.client().get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |name: &str| page.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let csp = header("content-security-policy").expect("a CSP");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("referrer-policy").as_deref(), Some("strict-origin-when-cross-origin"));
    assert_eq!(header("strict-transport-security"), None, "no HSTS over plain HTTP");
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce").to_string();
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the header's nonce");
    for (start, _) in html.match_indices("<script") {
        let tag = &html[start..start + html[start..].find('>').unwrap()];
        assert!(tag.contains(&format!("nonce=\"{nonce}\"")) || tag.contains(" src="), "an inline script without the nonce: {tag}");
    }
    let again = app.client().get(app.url("/login")).send().await.unwrap();
    assert!(!again.headers()["content-security-policy"].to_str().unwrap().contains(&nonce), "a fresh nonce per response");

    let secure = TestApp::spawn(backend, &[("COOKIE_SECURE", "true")]).await;
    let page = secure.client().get(secure.url("/login")).send().await.unwrap();
    assert!(page.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
}

async fn sign_in_input_is_bounded_with_clear_errors(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let client = app.client();
    let at_limit = format!("{}@vetted.test", "a".repeat(254 - "@vetted.test".len()));
    assert_eq!(app.login_response(&client, &at_limit, "wrong password").await.status(), 401);
    let long_email = format!("a{at_limit}");
    let refused = app.login_response(&client, &long_email, "x").await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_of(refused).await, AppError::Invalid("That email address is longer than 254 characters.".into()));
    let max = vetted::server::auth::service::MAX_PASSWORD_LEN;
    assert_eq!(app.login_response(&client, DEMO_ADMIN.0, &"p".repeat(max)).await.status(), 401);
    let refused = app.login_response(&client, DEMO_ADMIN.0, &"p".repeat(max + 1)).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_of(refused).await, AppError::Invalid(format!("That password is longer than {max} characters.")));
}

/// Behind a trusted proxy each client is told apart by X-Forwarded-For: an attacker failing on
/// the admin's account locks out only themselves.
async fn failed_sign_ins_do_not_lock_the_account_for_other_clients(backend: Backend) {
    let app = TestApp::spawn(backend, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let from = |ip: &'static str, password: &'static str| {
        app.client().post(app.url("/rpc/auth/login")).header("x-forwarded-for", ip).form(&[("email", DEMO_ADMIN.0), ("password", password)]).send()
    };
    for _ in 0..FAILURES_PER_ACCOUNT_AND_CLIENT {
        assert_eq!(from("198.51.100.66", "guess").await.unwrap().status(), 401);
    }
    assert_eq!(from("198.51.100.66", "guess").await.unwrap().status(), 429, "the attacker is throttled");
    assert_eq!(from("198.51.100.66", DEMO_ADMIN.1).await.unwrap().status(), 429, "even with the right password, from that client");
    assert_eq!(from("203.0.113.5", DEMO_ADMIN.1).await.unwrap().status(), 200, "the admin signs in from their own address");

    // Without TRUSTED_PROXIES the header is ignored: forging it does not escape the budget.
    let direct = TestApp::spawn(backend, &[]).await;
    for n in 0..FAILURES_PER_ACCOUNT_AND_CLIENT {
        let forged = format!("192.0.2.{n}");
        let response = direct
            .client()
            .post(direct.url("/rpc/auth/login"))
            .header("x-forwarded-for", forged)
            .form(&[("email", DEMO_ADMIN.0), ("password", "guess")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let response = direct
        .client()
        .post(direct.url("/rpc/auth/login"))
        .header("x-forwarded-for", "192.0.2.200")
        .form(&[("email", DEMO_ADMIN.0), ("password", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);

    // /metrics no longer trusts loopback once a proxy is configured.
    assert_eq!(app.client().get(app.url("/metrics")).send().await.unwrap().status(), 403);
    assert_eq!(direct.client().get(direct.url("/metrics")).send().await.unwrap().status(), 200);
}

async fn the_post_login_redirect_stays_on_this_site(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    for (next, expected) in [
        ("/admin/rules?tab=lists", "/admin/rules?tab=lists"),
        ("/\t/evil.example", "/admin/rules"),
        ("//evil.example", "/admin/rules"),
        ("/\\evil.example", "/admin/rules"),
        ("https://evil.example/", "/admin/rules"),
        ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
    ] {
        let client = app.client();
        // As the sign-in form posts without JavaScript: the answer is a redirect.
        let response = client
            .post(app.url("/rpc/auth/login"))
            .header("accept", "text/html")
            .header("referer", app.url("/login"))
            .form(&[("email", DEMO_ADMIN.0), ("password", DEMO_ADMIN.1), ("next", next)])
            .send()
            .await
            .unwrap();
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(location.as_deref(), Some(expected), "next = {next:?} ({})", response.status());
    }
}

on_both_databases!(
    bodies_over_the_limit_are_refused_before_they_are_read,
    urls_and_headers_are_bounded,
    a_slow_client_cannot_hold_a_connection,
    pages_carry_security_headers_with_a_nonce_on_the_hydration_script,
    sign_in_input_is_bounded_with_clear_errors,
    failed_sign_ins_do_not_lock_the_account_for_other_clients,
    the_post_login_redirect_stays_on_this_site,
);
