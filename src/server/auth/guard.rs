//! The one role guard. Pages are guarded by `http::page_guard` before Leptos renders; server
//! functions call `require_role` themselves, because they are public POST endpoints.
use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::request::Parts;
use leptos::prelude::use_context;

use crate::app::dto::{Role, SessionUser};
use crate::app::error::AppError;

/// Put on every request by `http::resolve_user`: who is signed in, if anyone.
#[derive(Clone, Debug, Default)]
pub struct CurrentUser(pub Option<SessionUser>);

/// The signed-in user of the request being handled (server functions and SSR alike).
pub fn current_user() -> Option<SessionUser> {
    use_context::<Parts>()?.extensions.get::<CurrentUser>()?.0.clone()
}

/// Anonymous → `Unauthenticated` (401), wrong role → `Forbidden` (403); either way no data.
pub fn require_role(allowed: &[Role]) -> Result<SessionUser, AppError> {
    match current_user() {
        None => Err(AppError::Unauthenticated),
        Some(user) if allowed.contains(&user.role) => Ok(user),
        Some(_) => Err(AppError::Forbidden),
    }
}

pub fn require_admin() -> Result<SessionUser, AppError> {
    require_role(&[Role::Admin])
}

/// A merchant user linked to a merchant: returns that merchant's id.
pub fn require_merchant() -> Result<i32, AppError> {
    require_role(&[Role::Merchant])?.merchant_id.ok_or(AppError::Forbidden)
}

/// The peer address of the request (the app is meant to sit directly behind its listener or a
/// proxy that preserves it; forwarded-for headers are not trusted).
pub fn client_ip() -> Option<IpAddr> {
    let parts = use_context::<Parts>()?;
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())
}

/// Only paths on this site may be redirect targets after login ("/x", never "//evil" or "http:").
pub fn is_safe_local_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && !path.contains("://")
}

#[cfg(test)]
mod tests {
    use super::is_safe_local_path;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert!(is_safe_local_path("/"));
        assert!(is_safe_local_path("/admin/rules?x=1"));
        assert!(!is_safe_local_path("//evil.example"));
        assert!(!is_safe_local_path("https://evil.example"));
        assert!(!is_safe_local_path("/\\evil.example"));
        assert!(!is_safe_local_path("evil"));
    }
}
