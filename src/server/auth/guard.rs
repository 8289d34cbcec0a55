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

/// The client's address: the peer, or behind `TRUSTED_PROXIES` the address they forwarded.
pub fn client_ip() -> Option<IpAddr> {
    let parts = use_context::<Parts>()?;
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    let trusted = use_context::<crate::server::AppState>().map(|state| state.config.trusted_proxies.clone()).unwrap_or_default();
    Some(crate::server::http::client_addr::client_ip(peer, &parts.headers, &trusted))
}

/// Longest `next` target accepted after sign-in.
pub const MAX_REDIRECT_LEN: usize = 2048;

/// The post-login target as the browser would resolve it, if it stays on this site: the
/// target is parsed as a browser parses it (tabs and newlines dropped, `\` read as `/`), and
/// only a same-origin path is returned, normalised. `/\t/evil.example` resolves to
/// `//evil.example`, another origin, and is refused.
pub fn safe_local_redirect(target: &str) -> Option<String> {
    const BASE: &str = "http://vetted.invalid/";
    if target.len() > MAX_REDIRECT_LEN || !target.starts_with('/') {
        return None;
    }
    let base = url::Url::parse(BASE).ok()?;
    let resolved = base.join(target).ok()?;
    if resolved.origin() != base.origin() || resolved.username() != "" || resolved.password().is_some() {
        return None;
    }
    let mut path = resolved.path().to_string();
    if path.starts_with("//") {
        return None;
    }
    if let Some(query) = resolved.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::safe_local_redirect;

    #[test]
    fn local_paths_are_kept_and_normalised() {
        assert_eq!(safe_local_redirect("/").as_deref(), Some("/"));
        assert_eq!(safe_local_redirect("/admin/rules?x=1").as_deref(), Some("/admin/rules?x=1"));
        assert_eq!(safe_local_redirect("/queue/../admin/rules").as_deref(), Some("/admin/rules"));
        assert_eq!(safe_local_redirect("/cases/7#timeline").as_deref(), Some("/cases/7"));
    }

    #[test]
    fn open_redirect_payloads_are_refused() {
        let payloads = [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\\/evil.example",
            "///evil.example",
            "////evil.example",
            "https://evil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            " /x",
            "/%09/evil.example/..",
            "/\t\t/evil.example",
            "//evil.example@vetted.invalid",
            "/.//evil.example",
        ];
        for payload in payloads {
            if let Some(target) = safe_local_redirect(payload) {
                // Whatever is kept must itself be a plain local path a browser resolves locally.
                assert!(target.starts_with('/') && !target.starts_with("//") && !target.contains('\\'), "{payload:?} → {target:?}");
                let base = url::Url::parse("https://vetted.example/").unwrap();
                assert_eq!(base.join(&target).unwrap().host_str(), Some("vetted.example"), "{payload:?} → {target:?}");
            }
        }
        assert_eq!(safe_local_redirect("/\t/evil.example"), None);
        assert_eq!(safe_local_redirect("//evil.example"), None);
        assert_eq!(safe_local_redirect("/\\evil.example"), None);
        assert_eq!(safe_local_redirect(&format!("/{}", "a".repeat(super::MAX_REDIRECT_LEN))), None);
    }
}
