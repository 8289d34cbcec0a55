//! Pieces the admin console's user and key pages share: button and field styles, a modal
//! dialog frame that takes the focus and gives it back, badges, "3 h ago" with the exact time.
use leptos::prelude::*;

use crate::app::dto::{describe_age, short_utc};

pub const PRIMARY: &str = "rounded-md bg-indigo-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 focus-visible:ring-offset-2 disabled:opacity-50";
pub const SECONDARY: &str = "rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 disabled:opacity-50";
pub const DANGER: &str = "rounded-md bg-rose-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-rose-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-rose-600 focus-visible:ring-offset-2 disabled:opacity-50";
pub const SMALL: &str = "whitespace-nowrap rounded border border-slate-300 bg-white px-2 py-1 text-xs font-medium text-slate-800 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 disabled:opacity-40";
pub const FIELD: &str =
    "mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600";
pub const SECTION: &str = "rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-5";
pub const TH: &str = "sticky top-0 whitespace-nowrap bg-slate-50 px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-700";
pub const TD: &str = "px-3 py-2 align-top";

/// Moves the focus into the dialog with id `dialog_id` when `open` turns true (to its element
/// marked `data-autofocus`), and back to the element that had it when the dialog closes.
pub fn dialog_focus(open: Signal<bool>, dialog_id: &'static str) {
    // Where focus was when the dialog opened: the effect's own state, kept in the browser.
    Effect::new(move |opener: Option<Option<leptos::web_sys::HtmlElement>>| {
        use leptos::wasm_bindgen::JsCast;
        let opener = opener.flatten();
        if open.get() {
            let opener = opener.or_else(|| document().active_element().and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok()));
            request_animation_frame(move || {
                let target = document().get_element_by_id(dialog_id).and_then(|d| d.query_selector("[data-autofocus]").ok().flatten());
                if let Some(element) = target.and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
                    let _ = element.focus();
                }
            });
            opener
        } else {
            if let Some(element) = opener.filter(|e| e.is_connected()) {
                let _ = element.focus();
            }
            None
        }
    });
}

/// A modal frame: a dimmed backdrop, `Esc` closes it.
#[component]
pub fn Modal(id: &'static str, title_id: &'static str, on_close: Callback<()>, children: Children) -> impl IntoView {
    view! {
        <div
            class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/40 p-4"
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    on_close.run(());
                }
            }
        >
            <div id=id role="dialog" aria-modal="true" aria-labelledby=title_id class="w-full max-w-md rounded-xl bg-white p-5 shadow-xl">
                {children()}
            </div>
        </div>
    }
}

/// "3 h ago", with the exact time as its title; "never" when there is none.
pub fn age_cell(at: Option<String>, seconds_ago: Option<i64>) -> AnyView {
    match (at, seconds_ago) {
        (Some(at), Some(seconds)) => {
            let exact = short_utc(&at, "");
            view! { <time datetime=at title=exact class="whitespace-nowrap">{describe_age(seconds)}</time> }.into_any()
        }
        (Some(at), None) => {
            let exact = short_utc(&at, "");
            view! { <time datetime=at class="whitespace-nowrap">{exact}</time> }.into_any()
        }
        _ => view! { <span class="text-slate-600">"never"</span> }.into_any(),
    }
}

/// A small badge with its text (never colour alone).
pub fn badge(text: String, tone: &'static str) -> impl IntoView {
    let colours = match tone {
        "green" => "bg-emerald-50 text-emerald-800 ring-emerald-200",
        "red" => "bg-rose-50 text-rose-800 ring-rose-200",
        "indigo" => "bg-indigo-50 text-indigo-800 ring-indigo-200",
        "amber" => "bg-amber-50 text-amber-900 ring-amber-200",
        _ => "bg-slate-100 text-slate-800 ring-slate-200",
    };
    view! { <span class=format!("inline-flex whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {colours}")>{text}</span> }
}

/// A secret shown this once (an API key, a webhook's signing secret): the heading takes the focus
/// (announced), then a read-only field, a copy button and "Done", which hides it for good.
/// `shown` is (heading, secret) while there is one to show.
#[component]
pub fn SecretOnce(shown: Signal<Option<(String, String)>>, explanation: &'static str, label: &'static str, on_done: Callback<()>) -> impl IntoView {
    let copied = RwSignal::new(String::new());
    let heading = NodeRef::<leptos::html::H2>::new();
    Effect::new(move |_| {
        if shown.with(Option::is_some) {
            copied.set(String::new());
            if let Some(h) = heading.get() {
                let _ = h.focus();
            }
        }
    });
    move || {
        shown.get().map(|(title, secret)| {
            let for_copy = secret.clone();
            let copy = move |_| {
                #[cfg(feature = "hydrate")]
                {
                    let secret = for_copy.clone();
                    leptos::task::spawn_local(async move {
                        copied.set(if clipboard::copy(&secret).await { "Copied.".into() } else { "Could not copy: select it and copy it.".into() });
                    });
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = &for_copy;
            };
            view! {
                <section class="mt-2 rounded-xl border border-amber-300 bg-amber-50 p-4" aria-labelledby="secret-heading" data-testid="secret-panel">
                    <h2 id="secret-heading" node_ref=heading tabindex="-1" class="text-base font-semibold text-amber-950 focus:outline-none">{title}</h2>
                    <p class="mt-1 text-sm text-amber-950">{explanation}</p>
                    <div class="mt-3 flex flex-wrap items-center gap-2">
                        <label for="secret-value" class="sr-only">{label}</label>
                        <input id="secret-value" type="text" readonly class="min-w-0 flex-1 rounded-md border border-amber-300 bg-white px-2 py-1.5 font-mono text-xs text-slate-900" prop:value=secret on:focus=move |ev| { let _ = event_target::<leptos::web_sys::HtmlInputElement>(&ev).select(); } data-testid="secret-value" />
                        <button type="button" class=PRIMARY on:click=copy data-testid="copy-secret">"Copy"</button>
                        <button type="button" class=SECONDARY on:click=move |_| on_done.run(()) data-testid="dismiss-secret">"Done"</button>
                    </div>
                    <p role="status" class="mt-1 min-h-5 text-xs text-amber-950">{move || copied.get()}</p>
                </section>
            }
        })
    }
}

/// Copies `text` to the clipboard (the browser's own; only in the browser).
#[cfg(feature = "hydrate")]
pub mod clipboard {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(catch, js_namespace = ["navigator", "clipboard"], js_name = writeText)]
        fn write_text(text: &str) -> Result<JsValue, JsValue>;
    }

    /// True when the copy was made.
    pub async fn copy(text: &str) -> bool {
        use leptos::__reexports::wasm_bindgen_futures::{js_sys::Promise, JsFuture};
        match write_text(text) {
            Ok(promise) => JsFuture::from(Promise::from(promise)).await.is_ok(),
            Err(_) => false,
        }
    }
}
