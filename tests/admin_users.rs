//! The admin console's users and API keys (issue 28 §6), on SQLite and PostgreSQL: there is
//! always an enabled admin (also under two concurrent demotions); disabling an account or
//! resetting its password ends its sessions at their next request; a disabled account cannot
//! sign in; role changes; every change is in the audit log without a secret; a key bound to a
//! merchant sends and reads back that merchant only; every input at its bound.
mod common;

use chrono::Utc;
use common::{Backend, TestApp, Who};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use vetted::app::dto::{ApiKeySummary, CreatedApiKey, Role, UserSummary};
use vetted::app::error::AppError;
use vetted::server::audit;
use vetted::server::auth::users::{self, Actor, NewStaff, UserAdminError};
use vetted::server::db::entities::{transaction, user};
use vetted::server::fraud::api_keys::{self, ApiKeyError};
use vetted::server::seed::{DEMO_ADMIN, DEMO_MERCHANT, DEMO_REVIEWER};

const PASSWORD: &str = "a fine long password";

fn cli() -> Actor {
    Actor { user_id: None, email: "cli".into() }
}

async fn user_id(app: &TestApp, email: &str) -> i32 {
    user::Entity::find().filter(user::Column::Email.eq(email)).one(app.state.db.primary()).await.unwrap().unwrap().id
}

async fn admin_actor(app: &TestApp) -> Actor {
    Actor { user_id: Some(user_id(app, DEMO_ADMIN.0).await), email: DEMO_ADMIN.0.into() }
}

async fn new_staff(app: &TestApp, email: &str, role: Role) -> UserSummary {
    let new = NewStaff { email, display_name: email.split('@').next().unwrap(), role, password: PASSWORD };
    users::create(app.state.db.primary(), &cli(), new, Utc::now()).await.unwrap()
}

/// Calls a server function; the status and the JSON body.
async fn rpc(app: &TestApp, client: &reqwest::Client, path: &str, body: Value) -> (u16, Value) {
    let response = client.post(app.url(&format!("/rpc/{path}"))).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn app_error(body: Value) -> AppError {
    serde_json::from_value(body).expect("an AppError")
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, Option<String>) {
    let response = client.get(app.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.headers().get("location").map(|l| l.to_str().unwrap().to_string()))
}

async fn signed_in(app: &TestApp, email: &str, password: &str) -> reqwest::Client {
    let client = app.client();
    let response = app.login_response(&client, email, password).await;
    assert_eq!(response.status(), 200, "sign in as {email}");
    client
}

/// The only enabled admin can be neither demoted nor disabled; disabled admins do not count;
/// once there is another admin, either can go.
async fn the_last_enabled_admin_stays(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let admin = admin_actor(&app).await;
    let admin_id = admin.user_id.unwrap();
    let last = users::set_role(db, &admin, admin_id, Role::Reviewer, Utc::now()).await;
    assert!(matches!(&last, Err(UserAdminError::LastAdmin(email)) if email == DEMO_ADMIN.0), "{last:?}");
    assert!(matches!(users::set_disabled(db, &cli(), admin_id, true, Utc::now()).await, Err(UserAdminError::LastAdmin(_))));
    assert!(matches!(users::set_disabled(db, &admin, admin_id, true, Utc::now()).await, Err(UserAdminError::DisableSelf)));

    // A disabled admin is no spare.
    let spare = new_staff(&app, "spare@vetted.test", Role::Admin).await;
    users::set_disabled(db, &admin, spare.id, true, Utc::now()).await.unwrap();
    assert!(matches!(users::set_role(db, &admin, admin_id, Role::Reviewer, Utc::now()).await, Err(UserAdminError::LastAdmin(_))));
    // Enabled again, it is: the demo admin steps down, and now the spare is the last one.
    users::set_disabled(db, &admin, spare.id, false, Utc::now()).await.unwrap();
    let stepped_down = users::set_role(db, &admin, admin_id, Role::Reviewer, Utc::now()).await.unwrap();
    assert_eq!(stepped_down.role, Role::Reviewer);
    assert!(matches!(users::set_role(db, &cli(), spare.id, Role::Reviewer, Utc::now()).await, Err(UserAdminError::LastAdmin(_))));
    assert!(matches!(users::set_disabled(db, &cli(), spare.id, true, Utc::now()).await, Err(UserAdminError::LastAdmin(_))));
    assert_eq!(users::enabled_admins(db).await.unwrap(), 1);

    // Over HTTP: the refusal is a 422 whose message says what to do.
    let app_admin = signed_in(&app, "spare@vetted.test", PASSWORD).await;
    let (status, body) = rpc(&app, &app_admin, "admin/set_user_role", json!({ "user_id": spare.id, "role": "reviewer" })).await;
    assert_eq!(status, 422);
    let AppError::Invalid(message) = app_error(body) else { panic!("Invalid") };
    assert!(message.contains("last enabled admin") && message.contains("make another admin first"), "{message}");
}

/// Two admins demote each other at the same moment: one wins, one is refused, one admin is left.
async fn concurrent_demotions_leave_one_admin(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary().clone();
    let first = admin_actor(&app).await;
    let second_summary = new_staff(&app, "second@vetted.test", Role::Admin).await;
    let second = Actor { user_id: Some(second_summary.id), email: second_summary.email.clone() };
    for round in 0..3 {
        let (a, b) = tokio::join!(
            users::set_role(&db, &first, second.user_id.unwrap(), Role::Reviewer, Utc::now()),
            users::set_role(&db, &second, first.user_id.unwrap(), Role::Reviewer, Utc::now()),
        );
        let refused = [&a, &b].iter().filter(|r| matches!(r, Err(UserAdminError::LastAdmin(_)))).count();
        assert_eq!((a.is_ok() as u8 + b.is_ok() as u8, refused), (1, 1), "round {round}: {a:?} / {b:?}");
        assert_eq!(users::enabled_admins(&db).await.unwrap(), 1, "round {round}");
        // Both admins again for the next round.
        for id in [first.user_id.unwrap(), second.user_id.unwrap()] {
            users::set_role(&db, &cli(), id, Role::Admin, Utc::now()).await.unwrap();
        }
    }
    // The same with disabling.
    let (a, b) = tokio::join!(
        users::set_disabled(&db, &first, second.user_id.unwrap(), true, Utc::now()),
        users::set_disabled(&db, &second, first.user_id.unwrap(), true, Utc::now()),
    );
    assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "{a:?} / {b:?}");
    assert_eq!(users::enabled_admins(&db).await.unwrap(), 1);
}

/// An admin creates a reviewer who signs in; disabling them ends their session at its next
/// request (pages and server functions), and they cannot sign in until enabled again.
async fn disabling_ends_sessions_and_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let admin = app.client_as(Who::Admin).await;
    let (status, body) = rpc(
        &app,
        &admin,
        "admin/create_user",
        json!({ "email": " Rita@Vetted.test ", "display_name": "Rita Reviewer", "role": "reviewer", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rita: UserSummary = serde_json::from_value(body).unwrap();
    assert_eq!((rita.email.as_str(), rita.role, rita.disabled_at.as_deref()), ("rita@vetted.test", Role::Reviewer, None));

    let sessions = [signed_in(&app, "rita@vetted.test", PASSWORD).await, signed_in(&app, "rita@vetted.test", PASSWORD).await];
    for session in &sessions {
        assert_eq!(page(&app, session, "/queue").await.0, 200);
    }
    let (status, body) = rpc(&app, &admin, "admin/set_user_disabled", json!({ "user_id": rita.id, "disabled": true })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["disabled_at"].is_string());
    for session in &sessions {
        assert_eq!(page(&app, session, "/queue").await, (303, Some("/login?next=/queue".into())), "the session ended");
        let (status, _) = rpc(&app, session, "review/counts", json!({ "filter": {} })).await;
        assert_eq!(status, 401, "server functions refuse it too");
    }
    // The right password is told the account is disabled; a wrong one gets the usual answer.
    let right = app.login_response(&app.client(), "rita@vetted.test", PASSWORD).await;
    assert_eq!(right.status(), 422);
    assert_eq!(app_error(right.json().await.unwrap()), AppError::Invalid("This account is disabled. Ask an admin to enable it.".into()));
    let wrong = app.login_response(&app.client(), "rita@vetted.test", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(app_error(wrong.json().await.unwrap()), AppError::BadCredentials);
    // Disabled users cannot be given cases.
    let (_, assignees) = rpc(&app, &admin, "review/assignees", json!({})).await;
    assert!(!assignees.to_string().contains("Rita Reviewer"), "{assignees}");

    let (status, _) = rpc(&app, &admin, "admin/set_user_disabled", json!({ "user_id": rita.id, "disabled": false })).await;
    assert_eq!(status, 200);
    let again = signed_in(&app, "rita@vetted.test", PASSWORD).await;
    assert_eq!(page(&app, &again, "/queue").await.0, 200);
    // The old sessions stay ended.
    assert_eq!(page(&app, &sessions[0], "/queue").await.0, 303);
}

/// A new password ends every session signed in with the old one, except the resetting admin's own.
async fn a_password_reset_ends_the_sessions(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let admin = app.client_as(Who::Admin).await;
    let reviewer_id = user_id(&app, DEMO_REVIEWER.0).await;
    let reviewer = app.client_as(Who::Reviewer).await;
    assert_eq!(page(&app, &reviewer, "/queue").await.0, 200);
    let (status, body) = rpc(&app, &admin, "admin/reset_user_password", json!({ "user_id": reviewer_id, "password": "short" })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(page(&app, &reviewer, "/queue").await.0, 200, "a refused reset changes nothing");

    let (status, body) = rpc(&app, &admin, "admin/reset_user_password", json!({ "user_id": reviewer_id, "password": "a brand new password" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(page(&app, &reviewer, "/queue").await.0, 303, "signed out");
    assert_eq!(app.login_response(&app.client(), DEMO_REVIEWER.0, DEMO_REVIEWER.1).await.status(), 401, "the old password is gone");
    signed_in(&app, DEMO_REVIEWER.0, "a brand new password").await;

    // The admin resets their own: this session stays, the admin's other session ends.
    let admin_id = user_id(&app, DEMO_ADMIN.0).await;
    let elsewhere = app.client_as(Who::Admin).await;
    let (status, _) = rpc(&app, &admin, "admin/reset_user_password", json!({ "user_id": admin_id, "password": "the admin's new password" })).await;
    assert_eq!(status, 200);
    assert_eq!(page(&app, &admin, "/admin/users").await.0, 200, "the resetting session stays signed in");
    assert_eq!(page(&app, &elsewhere, "/admin/users").await.0, 303);
    let (status, _) = rpc(&app, &admin, "admin/reset_user_password", json!({ "user_id": 999_999, "password": "whatever password" })).await;
    assert_eq!(status, 404);
}

/// Reviewer ⇄ admin takes effect at the next request; merchant accounts keep their role.
async fn roles_change_between_reviewer_and_admin(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let admin = app.client_as(Who::Admin).await;
    let reviewer = app.client_as(Who::Reviewer).await;
    let reviewer_id = user_id(&app, DEMO_REVIEWER.0).await;
    assert_eq!(page(&app, &reviewer, "/admin/users").await.0, 403);
    let (status, body) = rpc(&app, &admin, "admin/set_user_role", json!({ "user_id": reviewer_id, "role": "admin" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(page(&app, &reviewer, "/admin/users").await.0, 200, "an admin at the next request");
    let (status, _) = rpc(&app, &admin, "admin/set_user_role", json!({ "user_id": reviewer_id, "role": "reviewer" })).await;
    assert_eq!(status, 200);
    assert_eq!(page(&app, &reviewer, "/admin/users").await.0, 403);

    let merchant_id = user_id(&app, DEMO_MERCHANT.0).await;
    let (status, body) = rpc(&app, &admin, "admin/set_user_role", json!({ "user_id": merchant_id, "role": "reviewer" })).await;
    assert_eq!(status, 422);
    assert!(app_error(body).to_string().contains("keeps the merchant role"));
    let (status, _) = rpc(&app, &admin, "admin/set_user_role", json!({ "user_id": reviewer_id, "role": "merchant" })).await;
    assert_eq!(status, 422);
    let (status, _) =
        rpc(&app, &admin, "admin/create_user", json!({ "email": "m@vetted.test", "display_name": "M", "role": "merchant", "password": PASSWORD })).await;
    assert_eq!(status, 422, "merchant users are made with their merchant, from the command line");
    let (status, body) =
        rpc(&app, &admin, "admin/create_user", json!({ "email": DEMO_REVIEWER.0, "display_name": "Again", "role": "reviewer", "password": PASSWORD })).await;
    assert_eq!(status, 422);
    assert!(app_error(body).to_string().contains("already exists"));

    let (status, body) = rpc(&app, &admin, "admin/users", json!({})).await;
    assert_eq!(status, 200);
    let all: Vec<UserSummary> = serde_json::from_value(body).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].role, Role::Admin, "admins first");
    assert!(all.iter().find(|u| u.email == DEMO_ADMIN.0).unwrap().last_login_at.is_some());
}

/// Every change to users and keys is in the audit log, in words, without a password or key.
async fn every_change_is_audited_without_secrets(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let admin = app.client_as(Who::Admin).await;
    let (_, body) =
        rpc(&app, &admin, "admin/create_user", json!({ "email": "aud@vetted.test", "display_name": "Aud", "role": "reviewer", "password": PASSWORD })).await;
    let id = body["id"].as_i64().unwrap();
    rpc(&app, &admin, "admin/set_user_role", json!({ "user_id": id, "role": "admin" })).await;
    rpc(&app, &admin, "admin/set_user_disabled", json!({ "user_id": id, "disabled": true })).await;
    rpc(&app, &admin, "admin/set_user_disabled", json!({ "user_id": id, "disabled": false })).await;
    rpc(&app, &admin, "admin/reset_user_password", json!({ "user_id": id, "password": "another long password" })).await;
    let (_, created) = rpc(&app, &admin, "admin/create_api_key", json!({ "name": "audited", "merchant_id": 2 })).await;
    let created: CreatedApiKey = serde_json::from_value(created).unwrap();
    rpc(&app, &admin, "admin/revoke_api_key", json!({ "id": created.summary.id })).await;

    let db = app.state.db.primary();
    let events = audit::of_kind(db, "user", 50).await.unwrap();
    let actions: Vec<&str> = events.iter().rev().filter(|e| e.object_id == id.to_string()).map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["user.created", "user.role_changed", "user.disabled", "user.enabled", "user.password_reset"]);
    assert!(events.iter().all(|e| e.actor == DEMO_ADMIN.0));
    assert!(events.iter().any(|e| e.summary == "Changed aud@vetted.test from reviewer to admin"), "{events:?}");
    let keys = audit::of_kind(db, "api_key", 50).await.unwrap();
    let ours: Vec<_> = keys.iter().filter(|e| e.object_id == created.summary.id.to_string()).collect();
    assert_eq!(ours.iter().rev().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["api_key.created", "api_key.revoked"]);
    assert!(ours[1].summary.contains("merchant 2"), "{}", ours[1].summary);
    for event in events.iter().chain(&keys) {
        for secret in [PASSWORD, "another long password", created.key.as_str(), &created.key[12..]] {
            assert!(!event.summary.contains(secret), "a secret in the audit log: {event:?}");
        }
    }
}

fn sale(external_id: &str, merchant_id: i32) -> Value {
    json!({
        "external_id": external_id, "merchant_id": merchant_id, "amount": 1999, "currency": "USD",
        "buyer_email": format!("{external_id}@example.com"), "buyer_ip": "198.51.100.7", "ip_country": "US",
        "card_fingerprint": format!("fp_{external_id}"), "card_bin": "424242", "card_country": "US"
    })
}

async fn ingest(app: &TestApp, key: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new().post(app.url(path)).bearer_auth(key).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn stored(app: &TestApp, external_id: &str) -> u64 {
    transaction::Entity::find().filter(transaction::Column::ExternalId.eq(external_id)).count(app.state.db.primary()).await.unwrap()
}

/// A key bound to merchant 1 sends merchant 1's transactions; merchant 2's are a 403 with nothing
/// stored, and it cannot read back merchant 2's decision by replaying its request.
async fn a_merchant_bound_key_sends_and_reads_only_its_merchant(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let admin = app.client_as(Who::Admin).await;
    let (status, body) = rpc(&app, &admin, "admin/create_api_key", json!({ "name": "shop one", "merchant_id": 1 })).await;
    assert_eq!(status, 200, "{body}");
    let scoped: CreatedApiKey = serde_json::from_value(body).unwrap();
    assert_eq!(scoped.summary.merchant_id, Some(1));
    assert!(scoped.summary.merchant_name.is_some());
    let (status, body) = rpc(&app, &admin, "admin/create_api_key", json!({ "name": "nowhere", "merchant_id": 999_999 })).await;
    assert_eq!(status, 422);
    assert!(app_error(body).to_string().contains("no merchant 999999"));
    let every = api_keys::create(app.state.db.primary(), "every merchant", "tests", Utc::now()).await.unwrap();

    let (status, mine) = ingest(&app, &scoped.key, "/api/v1/transactions", &sale("own-1", 1)).await;
    assert_eq!(status, 201, "{mine}");
    let (status, replay) = ingest(&app, &scoped.key, "/api/v1/transactions", &sale("own-1", 1)).await;
    assert_eq!((status, &replay["decision_id"]), (200, &mine["decision_id"]), "its own merchant's decision reads back");

    let (status, body) = ingest(&app, &scoped.key, "/api/v1/transactions", &sale("other-1", 2)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("merchant_not_allowed")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("bound to merchant 1"));
    assert_eq!(stored(&app, "other-1").await, 0, "nothing stored");

    // Merchant 2's transaction sent with the unbound key is not readable with the bound one.
    let (status, theirs) = ingest(&app, &every.key, "/api/v1/transactions", &sale("theirs-1", 2)).await;
    assert_eq!(status, 201);
    let (status, body) = ingest(&app, &scoped.key, "/api/v1/transactions", &sale("theirs-1", 2)).await;
    assert_eq!(status, 403);
    assert!(theirs["decision_id"].is_number());
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["error"], "only the error, none of the decision: {body}");

    // A batch with one item of another merchant stores nothing.
    let batch = json!({ "transactions": [sale("batch-1", 1), sale("batch-2", 2)] });
    let (status, body) = ingest(&app, &scoped.key, "/api/v1/transactions/batch", &batch).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("merchant_not_allowed")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("transactions[1]"));
    assert_eq!(stored(&app, "batch-1").await, 0);
    let (status, _) = ingest(&app, &scoped.key, "/api/v1/transactions/batch", &json!({ "transactions": [sale("batch-1", 1)] })).await;
    assert_eq!(status, 200);
    assert_eq!(stored(&app, "batch-1").await, 1);

    // The list shows the scope and the last use; revoked, it is refused at once.
    let (_, body) = rpc(&app, &admin, "admin/api_keys", json!({})).await;
    let listed: Vec<ApiKeySummary> = serde_json::from_value(body).unwrap();
    let row = listed.iter().find(|k| k.id == scoped.summary.id).unwrap();
    assert_eq!((row.merchant_id, row.created_by.as_str()), (Some(1), DEMO_ADMIN.0));
    assert!(row.last_used_at.is_some() && row.last_used_seconds_ago.is_some_and(|s| s < 60), "{row:?}");
    assert!(listed.iter().find(|k| k.id == every.summary.id).unwrap().merchant_id.is_none());
    let (status, body) = rpc(&app, &admin, "admin/revoke_api_key", json!({ "id": scoped.summary.id })).await;
    assert_eq!(status, 200);
    assert!(body["revoked_at"].is_string());
    let (status, _) = ingest(&app, &scoped.key, "/api/v1/transactions", &sale("own-2", 1)).await;
    assert_eq!(status, 401);

    // The document says so.
    let document: Value = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    let forbidden = &document["paths"]["/api/v1/transactions"]["post"]["responses"]["403"]["description"];
    assert!(forbidden.as_str().unwrap().contains("merchant_not_allowed"), "{forbidden}");
}

/// Each input at its bound is accepted, one past it refused with a message.
async fn inputs_are_bounded(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let now = Utc::now();
    // API key names: 1 to 100 characters.
    assert_eq!(api_keys::create_scoped(db, &"k".repeat(100), None, "tests", now).await.unwrap().summary.name.len(), 100);
    assert!(matches!(api_keys::create_scoped(db, &"k".repeat(101), None, "tests", now).await, Err(ApiKeyError::BadName)));
    assert!(matches!(api_keys::create_scoped(db, "   ", None, "tests", now).await, Err(ApiKeyError::BadName)));

    let create = |email: String, name: String, password: String| async move {
        users::create(db, &cli(), NewStaff { email: &email, display_name: &name, role: Role::Reviewer, password: &password }, now).await
    };
    // Email: at most 254 characters.
    let long_email = |len: usize| {
        let local = "a".repeat(64);
        let mut domain = String::from("example");
        while local.len() + 1 + domain.len() < len {
            let room = len - (local.len() + 1 + domain.len());
            if room == 1 {
                domain.push('s');
                continue;
            }
            let mut label = (room - 1).min(60);
            if room - 1 - label == 1 {
                label -= 1;
            }
            domain = format!("{}.{domain}", "d".repeat(label));
        }
        format!("{local}@{domain}")
    };
    assert_eq!(long_email(254).len(), 254);
    assert!(create(long_email(254), "Long Email".into(), PASSWORD.into()).await.is_ok());
    assert!(matches!(create(long_email(255), "Longer Email".into(), PASSWORD.into()).await, Err(UserAdminError::InvalidEmail)));
    assert!(matches!(create("not-an-address".into(), "X".into(), PASSWORD.into()).await, Err(UserAdminError::InvalidEmail)));
    // Display name: 1 to 100 characters.
    assert!(create("name100@vetted.test".into(), "n".repeat(100), PASSWORD.into()).await.is_ok());
    assert!(matches!(create("name101@vetted.test".into(), "n".repeat(101), PASSWORD.into()).await, Err(UserAdminError::BadDisplayName)));
    assert!(matches!(create("name0@vetted.test".into(), "  ".into(), PASSWORD.into()).await, Err(UserAdminError::BadDisplayName)));
    // Password: 10 to 1024.
    let min = vetted::server::auth::password::MIN_PASSWORD_LEN;
    assert!(matches!(create("pw9@vetted.test".into(), "P".into(), "p".repeat(min - 1)).await, Err(UserAdminError::PasswordTooShort)));
    assert!(create("pw10@vetted.test".into(), "P".into(), "p".repeat(min)).await.is_ok());
    assert!(create("pw1024@vetted.test".into(), "P".into(), "p".repeat(1024)).await.is_ok());
    assert!(matches!(create("pw1025@vetted.test".into(), "P".into(), "p".repeat(1025)).await, Err(UserAdminError::PasswordTooLong)));
    let reviewer = user_id(&app, DEMO_REVIEWER.0).await;
    assert!(matches!(users::reset_password(db, &cli(), reviewer, &"p".repeat(1025), now).await, Err(UserAdminError::PasswordTooLong)));
    assert!(users::reset_password(db, &cli(), reviewer, &"p".repeat(1024), now).await.is_ok());
    // The 1,024-character password signs in (the sign-in bound is the same).
    let client = signed_in(&app, "pw1024@vetted.test", &"p".repeat(1024)).await;
    assert_eq!(page(&app, &client, "/queue").await.0, 200);
}

on_both_databases!(
    the_last_enabled_admin_stays,
    concurrent_demotions_leave_one_admin,
    disabling_ends_sessions_and_sign_in,
    a_password_reset_ends_the_sessions,
    roles_change_between_reviewer_and_admin,
    every_change_is_audited_without_secrets,
    a_merchant_bound_key_sends_and_reads_only_its_merchant,
    inputs_are_bounded,
);
