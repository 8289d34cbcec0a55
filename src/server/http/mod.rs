//! The router and its middleware: request bounds, security headers, origin check, sessions, who
//! is signed in, page guard.
pub mod api;
pub mod assets;
pub mod client_addr;
pub mod compression;
pub mod exports;
pub mod limits;
pub mod origin;
pub mod page_guard;
pub mod security_headers;
pub mod serve;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use axum::{middleware, Router};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use subtle::ConstantTimeEq;
use tower_http::timeout::TimeoutLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::app::dto::Role;
use crate::app::{shell, App};
use crate::server::auth::guard::CurrentUser;
use crate::server::AppState;

pub const SESSION_COOKIE: &str = "vetted_session";

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let app_shell = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    let idle = time::Duration::seconds(state.config.session_idle.as_secs() as i64);
    let sessions = SessionManagerLayer::new(state.sessions.clone())
        .with_name(SESSION_COOKIE)
        .with_secure(state.config.cookie_secure)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_expiry(Expiry::OnInactivity(idle));

    let pages = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/lists/{name}/export.csv", get(exports::list_csv))
        .route("/admin/audit/export.csv", get(exports::audit_csv))
        .leptos_routes_with_context(&state, routes, context.clone(), app_shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(middleware::from_fn_with_state(state.clone(), page_guard::resolve_user_and_guard))
        .layer(sessions)
        .layer(middleware::from_fn(origin::reject_cross_origin))
        .layer(middleware::from_fn(limits::bound_body))
        // `bound_body` bounds each path; axum's own 2 MB default would cut the list import's.
        .layer(axum::extract::DefaultBodyLimit::max(limits::LIST_IMPORT_BODY_LIMIT));
    // Machine-to-machine routes authenticate each call themselves (API key, webhook signature):
    // no session, no page guard, no browser origin check; their bodies are bounded per route.
    Router::new()
        .merge(api::router())
        .merge(pages)
        .layer(middleware::from_fn_with_state(state.clone(), security_headers::set_security_headers))
        .layer(middleware::from_fn(assets::set_cache_control))
        .layer(middleware::from_fn(compression::compress_pages))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limits::HANDLER_TIMEOUT))
        .layer(middleware::from_fn(limits::bound_uri_and_headers))
        .layer(middleware::from_fn(crate::server::monitoring::record_request_duration))
        .with_state(state)
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// Ready to serve: the database answers. PayPal, Redis and the fraud rules are reported but never
/// fail readiness: without them the dashboard still serves last-known data, and ingests are
/// still decided.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = state.db.ping().await.is_ok();
    let status = if database { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let sessions = state.sessions.describe();
    let cache = match state.cache.backend_name() {
        "redis" if state.cache.ping().await => "redis",
        "redis" => "redis_unreachable",
        other => other,
    };
    let paypal = match &state.paypal.client {
        None => "not_configured",
        Some(client) if client.breaker_is_open() => "degraded",
        Some(_) => "ok",
    };
    // A published ruleset that does not compile leaves the instance deciding with the last one
    // that did: reported, never failing readiness.
    let fraud_rules = match state.fraud.rules_health() {
        crate::server::fraud::engine::RulesHealth::Ok => "ok",
        crate::server::fraud::engine::RulesHealth::Degraded { .. } => "degraded",
    };
    let body = serde_json::json!({
        "database": if database { "ok" } else { "unreachable" },
        "sessions": sessions,
        "cache": cache,
        "paypal": paypal,
        "fraud_rules": fraud_rules,
    });
    (status, Json(body))
}

/// Prometheus exposition. Allowed with `Authorization: Bearer $METRICS_TOKEN`, for a signed-in
/// admin, or — when no token and no proxy is configured — from the machine itself.
async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    user: Option<axum::Extension<CurrentUser>>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let is_admin = user.is_some_and(|u| u.0 .0.as_ref().is_some_and(|u| u.role == Role::Admin));
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let allowed = is_admin
        || match (&state.config.metrics_token, bearer) {
            (Some(token), Some(given)) => bool::from(token.0.as_bytes().ct_eq(given.as_bytes())),
            (Some(_), None) => false,
            // Behind a proxy on this machine every request comes from loopback: no proof then.
            (None, _) => state.config.trusted_proxies.is_empty() && peer.ip().is_loopback(),
        };
    if !allowed {
        return (StatusCode::FORBIDDEN, "metrics require the metrics token or an admin session").into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::server::monitoring::install().render()).into_response()
}
