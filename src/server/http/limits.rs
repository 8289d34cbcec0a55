//! Bounds on what a request may carry, checked before anything reads it: the URL, the header
//! block, and — for pages and server functions — the body, by endpoint. Server functions are
//! public POST endpoints, the login among them, so each has a limit sized to what it takes.
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Longest accepted path plus query; longer is answered 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Header names and values together; more is answered 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// The sign-in form: an email (≤ 254), a password (≤ 1,024) and a `next` path (≤ 2,048).
pub const LOGIN_BODY_LIMIT: usize = 8 * 1024;
/// A whole ruleset draft (validate / save): up to `MAX_RULES` rules with their expressions.
pub const RULESET_BODY_LIMIT: usize = 1024 * 1024;
/// A list import's CSV (at most `list_import::MAX_IMPORT_BYTES`) inside JSON, escaped.
pub const LIST_IMPORT_BODY_LIMIT: usize = 12 * 1024 * 1024;
/// Every other server function and page: their arguments are ids, short texts and filters.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// A client must send its whole body within this time, or the request is answered 408.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A handler that has not answered within this time is answered 503 (streamed page bodies are
/// not cut: the bound is on the time to the response's head).
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);

/// The body limit of a page or server-function path.
pub fn body_limit(path: &str) -> usize {
    match path {
        "/rpc/auth/login" | "/rpc/auth/logout" => LOGIN_BODY_LIMIT,
        "/rpc/admin/validate_ruleset" | "/rpc/admin/save_ruleset_draft" | "/rpc/admin/test_rules" => RULESET_BODY_LIMIT,
        "/rpc/admin/preview_list_import" | "/rpc/admin/import_list" => LIST_IMPORT_BODY_LIMIT,
        _ => DEFAULT_BODY_LIMIT,
    }
}

fn too_large(status: StatusCode, what: &str, limit: usize) -> Response {
    let message = format!("{what} is too large: the limit is {} bytes.", limit);
    (status, [(header::CACHE_CONTROL, "no-store")], message).into_response()
}

/// URL and header bounds, for every route (pages, server functions, the API, webhooks).
pub async fn bound_uri_and_headers(request: Request, next: Next) -> Response {
    let uri_len = request.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return too_large(StatusCode::URI_TOO_LONG, "The URL", MAX_URI_BYTES);
    }
    let header_bytes: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return too_large(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "The request's header block", MAX_HEADER_BYTES);
    }
    next.run(request).await
}

/// Body bound of pages and server functions: a declared length over the limit is refused before
/// a byte is read; otherwise the body is read up to the limit, within `BODY_READ_TIMEOUT`.
pub async fn bound_body(request: Request, next: Next) -> Response {
    let limit = body_limit(request.uri().path());
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large(StatusCode::PAYLOAD_TOO_LARGE, "The request body", limit);
    }
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, limit).collect()).await {
        Err(_) => return (StatusCode::REQUEST_TIMEOUT, "The request body did not arrive in time.").into_response(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => return too_large(StatusCode::PAYLOAD_TOO_LARGE, "The request body", limit),
        Ok(Err(_)) => return (StatusCode::BAD_REQUEST, "The request body could not be read.").into_response(),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_and_ruleset_endpoints_have_their_own_limits() {
        assert_eq!(body_limit("/rpc/auth/login"), LOGIN_BODY_LIMIT);
        assert_eq!(body_limit("/rpc/admin/save_ruleset_draft"), RULESET_BODY_LIMIT);
        assert_eq!(body_limit("/rpc/dashboard/sales_summary"), DEFAULT_BODY_LIMIT);
        assert_eq!(body_limit("/anything"), DEFAULT_BODY_LIMIT);
    }
}
