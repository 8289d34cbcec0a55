//! Single-letter keyboard shortcuts and the `?` help overlay. Keys never fire while the person is
//! typing in a field, nor with Ctrl, Alt or Meta held (the browser's own shortcuts stay theirs).
use leptos::ev;
use leptos::prelude::*;
use leptos::web_sys;

/// Whether the key press belongs to the focused element: a field being typed in, or Enter (and
/// Space) on a button or link, which activate it.
fn belongs_to_target(event: &web_sys::KeyboardEvent, key: &str) -> bool {
    use leptos::wasm_bindgen::JsCast;
    let Some(target) = event.target() else { return false };
    let Ok(element) = target.dyn_into::<web_sys::HtmlElement>() else { return false };
    let tag = element.tag_name();
    matches!(tag.as_str(), "INPUT" | "TEXTAREA" | "SELECT")
        || element.is_content_editable()
        || (matches!(key, "Enter" | " ") && matches!(tag.as_str(), "BUTTON" | "A" | "SUMMARY"))
}

/// Calls `handler` with each shortcut key pressed on the page (`"j"`, `"?"`, `"Escape"`, …) while
/// the component lives. The handler returns whether it used the key (then the browser's default
/// is prevented). `Escape` reaches the handler even from a field, so a dialog can close.
pub fn use_shortcuts(handler: impl Fn(&str) -> bool + 'static) {
    let handle = window_event_listener(ev::keydown, move |event: web_sys::KeyboardEvent| {
        if event.ctrl_key() || event.alt_key() || event.meta_key() || event.is_composing() {
            return;
        }
        let key = event.key();
        if key != "Escape" && belongs_to_target(&event, &key) {
            return;
        }
        if handler(&key) {
            event.prevent_default();
        }
    });
    on_cleanup(move || handle.remove());
}

/// A `<kbd>` key cap, as shown beside the action it triggers.
#[component]
pub fn Kbd(key: &'static str) -> impl IntoView {
    view! {
        <kbd class="ml-1.5 rounded border border-current/30 px-1 font-mono text-[0.7rem] leading-4 opacity-80" aria-hidden="true">
            {key}
        </kbd>
    }
}

/// The `?` overlay: every key, grouped by page. A modal dialog that takes focus and gives it back.
#[component]
pub fn HelpOverlay(open: RwSignal<bool>) -> impl IntoView {
    let close_button = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if open.get() {
            if let Some(button) = close_button.get() {
                let _ = button.focus();
            }
        }
    });
    let groups: &[(&str, &[(&str, &str)])] = &[
        ("Everywhere", &[("?", "Show or hide this help"), ("Esc", "Close a dialog or this help"), ("/", "Search and filters")]),
        (
            "Queue",
            &[
                ("j / k", "Move down / up the list"),
                ("Enter or o", "Open the case"),
                ("n", "Claim and open the next case"),
                ("x", "Select the case (then the bulk bar)"),
                ("Shift+click", "Select a range"),
            ],
        ),
        (
            "Case",
            &[
                ("a", "Approve (false positive)"),
                ("t", "Approve and trust the buyer at this merchant"),
                ("r", "Refund"),
                ("f", "Refund as fraud (offers the block lists)"),
                ("c", "Confirmed fraud (offers the block lists)"),
                ("e", "Escalate to the admins (note required)"),
                ("m", "Merchant action"),
                ("u", "Release the case"),
                ("n", "Next case"),
            ],
        ),
    ];
    view! {
        <Show when=move || open.get()>
            <div class="fixed inset-0 z-40 flex items-start justify-center bg-slate-900/40 p-4 pt-16" on:click=move |_| open.set(false)>
                <div
                    role="dialog"
                    aria-modal="true"
                    aria-labelledby="help-title"
                    class="w-full max-w-lg rounded-xl bg-white p-6 shadow-xl"
                    on:click=|e| e.stop_propagation()
                >
                    <div class="flex items-center justify-between">
                        <h2 id="help-title" class="text-lg font-semibold">"Keyboard shortcuts"</h2>
                        <button
                            node_ref=close_button
                            type="button"
                            class="rounded-md px-2 py-1 text-sm text-slate-700 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600"
                            on:click=move |_| open.set(false)
                        >
                            "Close"
                        </button>
                    </div>
                    {groups
                        .iter()
                        .map(|(title, keys)| {
                            view! {
                                <h3 class="mt-4 text-sm font-semibold text-slate-900">{*title}</h3>
                                <dl class="mt-1 grid grid-cols-[8rem_1fr] gap-x-3 gap-y-1 text-sm">
                                    {keys
                                        .iter()
                                        .map(|(key, what)| {
                                            view! {
                                                <dt><kbd class="rounded border border-slate-300 bg-slate-50 px-1.5 font-mono text-xs">{*key}</kbd></dt>
                                                <dd class="text-slate-700">{*what}</dd>
                                            }
                                        })
                                        .collect_view()}
                                </dl>
                            }
                        })
                        .collect_view()}
                </div>
            </div>
        </Show>
    }
}
