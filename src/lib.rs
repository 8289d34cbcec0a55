//! Vetted: fraud review and merchant dashboard. `app` compiles for the server and the browser;
//! `server` only for the server (feature `ssr`).
#![recursion_limit = "256"]

pub mod app;
#[cfg(feature = "ssr")]
pub mod server;

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
