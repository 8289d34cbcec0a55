//! Refuses cross-site state-changing requests. Cookies are SameSite=Strict already; this is the
//! second lock, and it also covers same-site-but-cross-origin pages (another subdomain).
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn reject_cross_origin(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || !is_cross_origin(req.headers()) {
        return next.run(req).await;
    }
    tracing::warn!(path = req.uri().path(), "refused a cross-origin request");
    (StatusCode::FORBIDDEN, "Cross-origin requests are not allowed.").into_response()
}

/// Browsers always send `Sec-Fetch-Site` or `Origin` on a POST from a page; scripts and servers
/// (API clients, webhooks) send neither and are authenticated by other means.
pub fn is_cross_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, authority)| authority.trim_end_matches('/'));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        _ => true, // "Origin: null" (sandboxed frames, file://) or no Host to compare with
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn same_origin_browser_requests_pass() {
        assert!(!is_cross_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!is_cross_origin(&headers(&[("origin", "http://127.0.0.1:3000"), ("host", "127.0.0.1:3000")])));
    }

    #[test]
    fn cross_site_and_same_site_other_origin_are_refused() {
        assert!(is_cross_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(is_cross_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(is_cross_origin(&headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:3000")])));
        assert!(is_cross_origin(&headers(&[("origin", "null"), ("host", "127.0.0.1:3000")])));
    }

    #[test]
    fn clients_without_browser_headers_are_left_to_their_own_auth() {
        assert!(!is_cross_origin(&headers(&[("host", "127.0.0.1:3000")])));
    }
}
