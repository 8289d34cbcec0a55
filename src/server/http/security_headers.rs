//! Security headers on every response. Pages get a Content-Security-Policy that runs only this
//! site's own scripts and the one inline hydration script Leptos writes, which carries a fresh
//! nonce per response: an injected `<script>` has no nonce and does not run.
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;

use crate::server::AppState;

/// The policy for a response whose inline scripts carry `nonce`. `'wasm-unsafe-eval'` lets the
/// page compile its WebAssembly (and nothing else: `eval` stays refused).
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// HSTS for a year once the site is served over TLS (`COOKIE_SECURE`).
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Makes a nonce for the request (the page shell reads it from the request's extensions, see
/// `app::shell`) and sets the headers on the response.
pub async fn set_security_headers(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if state.config.cookie_secure {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

/// The request's nonce, for the shell's hydration script.
pub fn request_nonce() -> Option<Nonce> {
    leptos::prelude::use_context::<http::request::Parts>()?.extensions.get::<Nonce>().cloned()
}
