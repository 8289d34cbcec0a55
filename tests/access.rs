//! Every server function and page × every role and anonymous; the origin check; sessions.
mod common;

use common::{Backend, TestApp, Who};
use vetted::app::error::AppError;

/// Server functions encode their errors as JSON `AppError`s; the message shown is its Display.
async fn error_of(response: reqwest::Response) -> AppError {
    serde_json::from_str(&response.text().await.unwrap()).expect("an AppError body")
}

/// Who may call each server function, the JSON arguments to call it with (None: an empty form)
/// and the status the allowed roles get (200, or 422 when the call is valid but refused on its
/// merits). Login is public; logout is harmless for anyone.
fn allowed(path: &str) -> Option<(&'static [Who], Option<serde_json::Value>, u16)> {
    use serde_json::json;
    let admin: &'static [Who] = &[Who::Admin];
    let review: &'static [Who] = &[Who::Reviewer, Who::Admin];
    let draft = || serde_json::to_value(vetted::server::fraud::default_rules::ruleset()).unwrap();
    match path {
        "/rpc/dashboard/sales_summary"
        | "/rpc/dashboard/revenue_chart"
        | "/rpc/dashboard/fraud_review_status"
        | "/rpc/dashboard/paypal_panel"
        | "/rpc/dashboard/request_paypal_refresh" => Some((&[Who::Merchant], None, 200)),
        "/rpc/admin/validate_ruleset" | "/rpc/admin/save_ruleset_draft" => Some((admin, Some(json!({ "draft": draft() })), 200)),
        // Version 999 does not exist; only version 1 was ever published.
        "/rpc/admin/publish_ruleset" => Some((admin, Some(json!({ "version": 999, "note": "access test" })), 422)),
        "/rpc/admin/rollback_ruleset" => Some((admin, Some(json!({ "reason": "access test" })), 422)),
        "/rpc/admin/check_expression" => Some((admin, Some(json!({ "expression": "transaction.amount > 1" })), 200)),
        "/rpc/admin/rule_schema" | "/rpc/admin/ruleset_history" => Some((admin, Some(json!({})), 200)),
        // The seeded app has no draft to backtest, and no backtest 999999.
        "/rpc/admin/start_backtest" => Some((admin, Some(json!({ "days": 30 })), 422)),
        "/rpc/admin/backtest" => Some((admin, Some(json!({ "id": null })), 200)),
        "/rpc/admin/cancel_backtest" => Some((admin, Some(json!({ "id": 999999 })), 404)),
        // Transaction 999999 does not exist.
        "/rpc/admin/test_rules" => Some((admin, Some(json!({ "draft": draft(), "subject": { "transaction_id": 999999 } })), 422)),
        "/rpc/admin/ruleset_versions" | "/rpc/admin/fraud_lists" | "/rpc/admin/api_keys" => Some((admin, Some(json!({})), 200)),
        "/rpc/admin/add_list_entry" => {
            Some((admin, Some(json!({ "list": "blocked_emails", "value": "x@example.com", "reason": "test", "expires_at": null })), 200))
        }
        "/rpc/admin/remove_list_entry" => Some((admin, Some(json!({ "list": "blocked_emails", "value": "nobody@example.com" })), 200)),
        "/rpc/admin/rule_stats" => Some((admin, Some(json!({})), 200)),
        "/rpc/admin/audit_log" => Some((admin, Some(json!({ "filter": { "object_kind": "ruleset" }, "before": null })), 200)),
        "/rpc/admin/create_list" => Some((admin, Some(json!({ "name": "access_test", "kind": "email", "description": "" })), 200)),
        "/rpc/admin/list_entries" => Some((admin, Some(json!({ "list": "blocked_emails", "search": "", "after": null })), 200)),
        "/rpc/admin/preview_list_import" => {
            Some((admin, Some(json!({ "list": "blocked_emails", "csv": "x@example.com,test", "mode": "merge", "reason": "" })), 200))
        }
        // A line in error: refused unless the valid lines only are asked for.
        "/rpc/admin/import_list" => {
            Some((admin, Some(json!({ "list": "blocked_emails", "csv": "not an email,test", "mode": "merge", "reason": "", "valid_lines_only": false })), 422))
        }
        "/rpc/admin/create_api_key" => Some((admin, Some(json!({ "name": "access test", "merchant_id": 1 })), 200)),
        // Users: user 999999 does not exist; the seeded users are left as they are.
        "/rpc/admin/users" => Some((admin, Some(json!({})), 200)),
        "/rpc/admin/create_user" => {
            Some((admin, Some(json!({ "email": "not an email", "display_name": "X", "role": "reviewer", "password": "long enough password" })), 422))
        }
        "/rpc/admin/set_user_role" => Some((admin, Some(json!({ "user_id": 999999, "role": "admin" })), 404)),
        "/rpc/admin/set_user_disabled" => Some((admin, Some(json!({ "user_id": 999999, "disabled": true })), 404)),
        "/rpc/admin/reset_user_password" => Some((admin, Some(json!({ "user_id": 999999, "password": "long enough password" })), 404)),
        "/rpc/admin/revoke_api_key" => Some((admin, Some(json!({ "id": 999 })), 422)),
        // Webhooks: a private address is refused; endpoint 999999 does not exist.
        "/rpc/admin/webhooks" => Some((admin, Some(json!({})), 200)),
        "/rpc/admin/create_webhook" => {
            Some((admin, Some(json!({ "input": { "url": "https://10.0.0.1/hook", "description": "", "events": ["case_resolved"] } })), 422))
        }
        "/rpc/admin/update_webhook" => {
            Some((admin, Some(json!({ "id": 999999, "input": { "url": "https://10.0.0.1/hook", "description": "", "events": ["case_resolved"] } })), 422))
        }
        "/rpc/admin/set_webhook_disabled" => Some((admin, Some(json!({ "id": 999999, "disabled": true })), 404)),
        "/rpc/admin/rotate_webhook_secret" | "/rpc/admin/test_webhook" => Some((admin, Some(json!({ "id": 999999 })), 404)),
        "/rpc/admin/webhook_attempts" => Some((admin, Some(json!({ "id": 999999, "before": null })), 404)),
        "/rpc/admin/redeliver_webhook" => Some((admin, Some(json!({ "id": 999999, "event_id": 1 })), 404)),
        // The review workbench: reviewers and admins. The seeded app has no case 999999.
        "/rpc/review/queue" => Some((review, Some(json!({ "filter": {}, "cursor": null })), 200)),
        "/rpc/review/counts" | "/rpc/review/next_case" => Some((review, Some(json!({ "filter": {} })), 200)),
        "/rpc/review/new_cases" => Some((review, Some(json!({ "filter": {}, "after_id": 0 })), 200)),
        "/rpc/review/renew_claim" => Some((review, Some(json!({ "case_id": 999999 })), 200)),
        "/rpc/review/merchant" => Some((review, Some(json!({ "merchant_id": 1 })), 200)),
        "/rpc/review/open_case" => Some((review, Some(json!({ "case_id": 999999 })), 404)),
        "/rpc/review/release_case" => Some((review, Some(json!({ "case_id": 999999, "version": 1 })), 404)),
        "/rpc/review/add_note" => Some((review, Some(json!({ "case_id": 999999, "note": "seen" })), 404)),
        "/rpc/review/decide_case" => Some((review, Some(json!({ "decision": { "case_id": 999999, "version": 1, "action": { "resolve": "approved" } } })), 404)),
        "/rpc/review/merchant_action" => Some((
            review,
            Some(json!({ "merchant_id": 999999, "event": "flag_for_fraud", "reason": "test", "seen_state": "not_reviewed", "case_id": null })),
            404,
        )),
        // Bulk: the case does not exist, so it is reported as left alone (200).
        "/rpc/review/bulk" => Some((review, Some(json!({ "action": "approve", "cases": [{ "case_id": 999999, "version": 1 }] })), 200)),
        "/rpc/review/select_matching" => Some((review, Some(json!({ "filter": {} })), 200)),
        "/rpc/review/assignees" => Some((admin, Some(json!({})), 200)),
        "/rpc/review/assign_case" => Some((admin, Some(json!({ "case": { "case_id": 999999, "version": 1 }, "user_id": 999999 })), 422)),
        "/rpc/auth/login" | "/rpc/auth/logout" => None,
        _ => panic!("server function {path} has no row in the role matrix: add one"),
    }
}

async fn every_server_fn_checks_the_role(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let paths: Vec<&str> = leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path).collect();
    assert!(paths.len() >= 26, "registered server functions: {paths:?}");
    for who in Who::ALL {
        let client = app.client_as(who).await;
        for path in &paths {
            let Some((roles, arguments, allowed_status)) = allowed(path) else { continue };
            let request = client.post(app.url(path));
            let request = match &arguments {
                Some(json) => request.json(json),
                None => request.form::<[(&str, &str); 0]>(&[]),
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            let expected = if roles.contains(&who) {
                allowed_status
            } else if who == Who::Anonymous {
                401
            } else {
                403
            };
            assert_eq!(status, expected, "{who:?} → {path}: {body}");
            if expected == 401 || expected == 403 {
                assert!(
                    !body.contains("minor") && !body.contains("merchant_name") && !body.contains("vtd_") && !body.contains("expression"),
                    "{who:?} → {path} leaked data: {body}"
                );
            }
        }
    }
}

async fn every_page_is_guarded(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    // (path, who) → expected status and, for redirects, where to.
    let cases: &[(&str, Who, u16, Option<&str>)] = &[
        ("/", Who::Anonymous, 303, Some("/login")),
        ("/", Who::Merchant, 200, None),
        ("/", Who::Reviewer, 303, Some("/queue")),
        ("/", Who::Admin, 303, Some("/admin/rules")),
        ("/queue", Who::Anonymous, 303, Some("/login?next=/queue")),
        ("/queue", Who::Merchant, 403, None),
        ("/queue", Who::Reviewer, 200, None),
        ("/queue", Who::Admin, 200, None),
        ("/cases/1", Who::Anonymous, 303, Some("/login?next=/cases/1")),
        ("/cases/1", Who::Merchant, 403, None),
        ("/merchants/1", Who::Anonymous, 303, Some("/login?next=/merchants/1")),
        ("/merchants/1", Who::Merchant, 403, None),
        ("/merchants/1", Who::Reviewer, 200, None),
        ("/merchants/1", Who::Admin, 200, None),
        ("/admin/rules", Who::Anonymous, 303, Some("/login?next=/admin/rules")),
        ("/admin/rules", Who::Merchant, 403, None),
        ("/admin/rules", Who::Reviewer, 403, None),
        ("/admin/rules", Who::Admin, 200, None),
        ("/admin/audit", Who::Reviewer, 403, None),
        ("/admin/audit", Who::Admin, 200, None),
        ("/admin/audit/export.csv", Who::Merchant, 403, None),
        ("/admin/audit/export.csv", Who::Admin, 200, None),
        ("/admin/lists", Who::Anonymous, 303, Some("/login?next=/admin/lists")),
        ("/admin/lists", Who::Merchant, 403, None),
        ("/admin/lists", Who::Reviewer, 403, None),
        ("/admin/lists", Who::Admin, 200, None),
        ("/admin/lists/blocked_emails/export.csv", Who::Anonymous, 303, Some("/login?next=/admin/lists/blocked_emails/export.csv")),
        ("/admin/lists/blocked_emails/export.csv", Who::Merchant, 403, None),
        ("/admin/lists/blocked_emails/export.csv", Who::Reviewer, 403, None),
        ("/admin/lists/blocked_emails/export.csv", Who::Admin, 200, None),
        ("/admin/users", Who::Anonymous, 303, Some("/login?next=/admin/users")),
        ("/admin/users", Who::Merchant, 403, None),
        ("/admin/users", Who::Reviewer, 403, None),
        ("/admin/users", Who::Admin, 200, None),
        ("/admin/webhooks", Who::Anonymous, 303, Some("/login?next=/admin/webhooks")),
        ("/admin/webhooks", Who::Merchant, 403, None),
        ("/admin/webhooks", Who::Reviewer, 403, None),
        ("/admin/webhooks", Who::Admin, 200, None),
        ("/admin/keys", Who::Anonymous, 303, Some("/login?next=/admin/keys")),
        ("/admin/keys", Who::Merchant, 403, None),
        ("/admin/keys", Who::Reviewer, 403, None),
        ("/admin/keys", Who::Admin, 200, None),
        ("/login", Who::Anonymous, 200, None),
        ("/login", Who::Merchant, 303, Some("/")),
    ];
    for who in Who::ALL {
        let client = app.client_as(who).await;
        for (path, _, status, location) in cases.iter().filter(|c| c.1 == who) {
            let response = client.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status().as_u16(), *status, "{who:?} GET {path}");
            let actual_location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
            assert_eq!(actual_location.as_deref(), *location, "{who:?} GET {path}");
            let body = response.text().await.unwrap();
            if *status == 403 {
                assert!(body.contains("You don't have access to this page"));
                assert!(
                    !body.contains("Fraud rules") && !body.contains("data-panel") && !body.contains("users-table") && !body.contains("keys-table"),
                    "403 must carry no page content"
                );
            }
        }
    }
    // No case exists in the seeded test app: reviewers and admins get the case page's own answer
    // (streamed, so 200, or 404 when the lookup finished before the head was sent), never the guard's.
    for who in [Who::Reviewer, Who::Admin] {
        let response = app.client_as(who).await.get(app.url("/cases/1")).send().await.unwrap();
        assert!([200, 404].contains(&response.status().as_u16()), "{who:?} GET /cases/1: {}", response.status());
        assert!(response.text().await.unwrap().contains("There is no case 1."), "{who:?} is told the case does not exist");
    }
    let not_found = app.client().get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(not_found.status(), 404);
}

async fn cross_origin_posts_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let client = app.client();
    let (email, password) = Who::Merchant.credentials().unwrap();
    for (header, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let response = client.post(app.url("/rpc/auth/login")).header(header, value).form(&[("email", email), ("password", password)]).send().await.unwrap();
        assert_eq!(response.status(), 403, "{header}: {value}");
        assert!(response.headers().get("set-cookie").is_none(), "no session may be created");
    }
    // Still anonymous: the refused login did not sign anyone in.
    let page = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 303);

    let same_origin = client
        .post(app.url("/rpc/auth/login"))
        .header("origin", format!("http://{}", app.addr))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 200);
}

async fn login_rotates_the_session_and_logout_kills_it(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let (email, password) = Who::Merchant.credentials().unwrap();
    let client = app.client();
    let cookie_of = |response: &reqwest::Response| {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("vetted_session="))
            .expect("session cookie")
    };
    let first = app.login_response(&client, email, password).await;
    let first_cookie = cookie_of(&first);
    assert!(first_cookie.contains("HttpOnly"), "{first_cookie}");
    assert!(first_cookie.contains("SameSite=Strict"), "{first_cookie}");
    let second = app.login_response(&client, email, password).await;
    let second_cookie = cookie_of(&second);
    let id = |c: &str| c.split(';').next().unwrap().to_string();
    assert_ne!(id(&first_cookie), id(&second_cookie), "login must issue a new session id");

    // The pre-rotation id is dead.
    let stale = app.client().get(app.url("/")).header("cookie", id(&first_cookie)).send().await.unwrap();
    assert_eq!(stale.status(), 303);
    // The current one works until logout.
    let live = app.client().get(app.url("/")).header("cookie", id(&second_cookie)).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let logout = client.post(app.url("/rpc/auth/logout")).send().await.unwrap();
    assert!(logout.status().is_success(), "{}", logout.status());
    let after = app.client().get(app.url("/")).header("cookie", id(&second_cookie)).send().await.unwrap();
    assert_eq!(after.status(), 303, "a logged-out session id must not work again");
}

async fn login_errors_are_clear_and_throttled(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let client = app.client();
    let (email, _) = Who::Admin.credentials().unwrap();
    let wrong = app.login_response(&client, email, "wrong password").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(error_of(wrong).await, AppError::BadCredentials);
    let unknown = app.login_response(&client, "nobody@vetted.test", "wrong password").await;
    assert_eq!(unknown.status(), 401, "unknown emails look exactly like wrong passwords");
    let empty = app.login_response(&client, "", "").await;
    assert_eq!(empty.status(), 422);
    assert_eq!(error_of(empty).await, AppError::Invalid("Enter your email and password.".into()));

    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.login_response(&client, email, "still wrong").await.status().as_u16());
    }
    assert!(statuses.contains(&429), "the account's failures from this client must be throttled: {statuses:?}");
    let throttled = app.login_response(&client, email, "still wrong").await;
    assert_eq!(throttled.status(), 429);
    let AppError::RateLimited(wait) = error_of(throttled).await else { panic!("expected RateLimited") };
    let window = vetted::server::auth::rate_limit::FAILURE_WINDOW.as_secs();
    assert!((1..=window).contains(&wait), "a useful wait time: {wait}");
}

on_both_databases!(
    every_server_fn_checks_the_role,
    every_page_is_guarded,
    cross_origin_posts_are_refused_and_change_nothing,
    login_rotates_the_session_and_logout_kills_it,
    login_errors_are_clear_and_throttled,
);
