//! Resolves who is signed in (once per request) and guards pages before Leptos renders them:
//! anonymous → the login page, wrong role → 403. Server functions guard themselves.
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::app::dto::{Role, SessionUser};
use crate::server::auth::guard::CurrentUser;
use crate::server::auth::service::find_session_user;
use crate::server::auth::session::{STAMP_KEY, USER_ID_KEY};
use crate::server::{db, AppState};

/// Who may open a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAccess {
    /// Static files, health checks, the 404 page.
    Public,
    /// The login page: a signed-in visitor is sent home instead.
    LoginPage,
    /// Server functions: they check the role themselves.
    SelfGuarded,
    Roles(&'static [Role]),
}

pub fn page_access(path: &str) -> PageAccess {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if path == "/login" {
        PageAccess::LoginPage
    } else if under("/rpc") {
        PageAccess::SelfGuarded
    } else if path == "/" {
        PageAccess::Roles(&[Role::Merchant])
    } else if under("/queue") || under("/cases") || under("/merchants") {
        PageAccess::Roles(&[Role::Reviewer, Role::Admin])
    } else if under("/admin") {
        PageAccess::Roles(&[Role::Admin])
    } else {
        PageAccess::Public
    }
}

fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || matches!(path, "/favicon.svg" | "/robots.txt" | "/healthz" | "/readyz")
}

pub async fn resolve_user_and_guard(State(state): State<AppState>, session: Session, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if is_static_asset(&path) {
        return next.run(req).await;
    }
    let user = match load_user(&state, &session).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    req.extensions_mut().insert(CurrentUser(user.clone()));

    match (page_access(&path), &user) {
        (PageAccess::LoginPage, Some(user)) => Redirect::to(user.role.home_path()).into_response(),
        (PageAccess::Roles(_), None) => {
            let target = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
            let login = if target == "/" { "/login".to_string() } else { format!("/login?next={}", urlencode(target)) };
            Redirect::to(&login).into_response()
        }
        // The merchant dashboard is everyone's "/": send other roles to their own home.
        (PageAccess::Roles(_), Some(user)) if path == "/" && user.role != Role::Merchant => Redirect::to(user.role.home_path()).into_response(),
        (PageAccess::Roles(allowed), Some(user)) if !allowed.contains(&user.role) => forbidden_page(user),
        _ => next.run(req).await,
    }
}

async fn load_user(state: &AppState, session: &Session) -> Result<Option<SessionUser>, Response> {
    let unavailable = || (StatusCode::SERVICE_UNAVAILABLE, "The service is temporarily unavailable.").into_response();
    let user_id: Option<i32> = session.get(USER_ID_KEY).await.map_err(|_| {
        tracing::error!("session store unavailable");
        unavailable()
    })?;
    let Some(user_id) = user_id else { return Ok(None) };
    let stamp: Option<String> = session.get(STAMP_KEY).await.map_err(|_| {
        tracing::error!("session store unavailable");
        unavailable()
    })?;
    let user = find_session_user(state.db.read(), user_id, stamp.as_deref()).await.map_err(|e| {
        tracing::error!(kind = db::error_kind(&e), "loading the session user failed");
        unavailable()
    })?;
    if user.is_none() {
        // The account is gone or disabled, or its password was reset: the session ends.
        let _ = session.flush().await;
    }
    Ok(user)
}

/// Everything but unreserved characters and `/` is encoded in the `next` parameter.
const NEXT_PARAMETER: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

fn urlencode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, NEXT_PARAMETER).to_string()
}

fn forbidden_page(user: &SessionUser) -> Response {
    let home = user.role.home_path();
    let body = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not allowed · Vetted</title><link rel="stylesheet" href="{stylesheet}"></head>
<body class="bg-slate-50 text-slate-900"><main class="mx-auto max-w-lg p-10">
<h1 class="text-2xl font-semibold">You don't have access to this page</h1>
<p class="mt-3 text-slate-700">You are signed in as {email} ({role}). This page is for another role.</p>
<p class="mt-6"><a class="text-indigo-700 underline" href="{home}">Go to your home page</a></p>
</main></body></html>"#,
        email = html_escape(&user.email),
        role = user.role.label(),
        stylesheet = crate::server::http::assets::stylesheet_href(),
    );
    (StatusCode::FORBIDDEN, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

fn html_escape(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_page_has_the_access_it_should() {
        assert_eq!(page_access("/"), PageAccess::Roles(&[Role::Merchant]));
        assert_eq!(page_access("/queue"), PageAccess::Roles(&[Role::Reviewer, Role::Admin]));
        assert_eq!(page_access("/admin/rules"), PageAccess::Roles(&[Role::Admin]));
        assert_eq!(page_access("/admin/users"), PageAccess::Roles(&[Role::Admin]));
        assert_eq!(page_access("/admin/keys"), PageAccess::Roles(&[Role::Admin]));
        assert_eq!(page_access("/administrator"), PageAccess::Public);
        assert_eq!(page_access("/rpc/dashboard/sales_summary"), PageAccess::SelfGuarded);
        assert_eq!(page_access("/login"), PageAccess::LoginPage);
    }

    #[test]
    fn next_parameter_is_encoded() {
        assert_eq!(urlencode("/admin/rules?x=1&y=2"), "/admin/rules%3Fx%3D1%26y%3D2");
        assert_eq!(urlencode("/q?s=café"), "/q%3Fs%3Dcaf%C3%A9");
    }
}
