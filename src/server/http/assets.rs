//! Static assets: cargo-leptos names the wasm, js and css files by their content's hash
//! (`hash-files`, listed in `hash.txt` beside the binary) and, in release builds, writes `.br`
//! and `.gz` copies that leptos_axum serves to browsers that accept them. A hashed file never
//! changes, so browsers keep it for a year; everything else — pages and server-function
//! answers, which are private — is never stored.
use std::path::PathBuf;
use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The name cargo-leptos gives the hash list, beside the server binary.
const HASH_FILE: &str = "hash.txt";

/// `hash.txt` beside the running binary, when the build wrote one.
pub fn hash_file() -> Option<PathBuf> {
    let path = std::env::current_exe().ok()?.parent()?.join(HASH_FILE);
    path.exists().then_some(path)
}

/// Whether this build's assets have hashed names (looked up once).
pub fn hashed_build() -> bool {
    static HASHED: OnceLock<bool> = OnceLock::new();
    *HASHED.get_or_init(|| hash_file().is_some())
}

/// The stylesheet's path (`/pkg/vetted.<hash>.css` in a hashed build), read once.
pub fn stylesheet_href() -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| {
        let hash = hash_file()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|list| list.lines().find_map(|line| line.trim().strip_prefix("css:").map(|h| h.trim().to_string())));
        match hash {
            Some(hash) => format!("/pkg/vetted.{hash}.css"),
            None => "/pkg/vetted.css".to_string(),
        }
    })
}

/// A year, for files whose name changes with their content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn cache_control(path: &str, hashed_build: bool) -> &'static str {
    match path {
        p if p.starts_with("/pkg/") && hashed_build => IMMUTABLE,
        // Unhashed development builds: revalidate each time.
        p if p.starts_with("/pkg/") => "no-cache",
        "/favicon.svg" | "/robots.txt" => "public, max-age=86400",
        _ => "no-store",
    }
}

/// Sets `Cache-Control` on every response that has none.
pub async fn set_cache_control(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let mut response = next.run(request).await;
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control(&path, hashed_build())));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::cache_control;

    #[test]
    fn hashed_assets_are_kept_for_a_year_and_pages_never() {
        assert_eq!(cache_control("/pkg/vetted.3f9a.wasm", true), "public, max-age=31536000, immutable");
        assert_eq!(cache_control("/pkg/vetted.wasm", false), "no-cache");
        assert_eq!(cache_control("/", true), "no-store");
        assert_eq!(cache_control("/rpc/dashboard/sales_summary", true), "no-store");
        assert_eq!(cache_control("/favicon.svg", true), "public, max-age=86400");
    }
}
