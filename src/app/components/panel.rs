//! A dashboard panel: a titled card whose content loads on its own, with a skeleton while it
//! does and a readable message if it fails.
use leptos::prelude::*;

#[component]
pub fn Panel(
    /// Heading, also the panel's accessible name.
    title: &'static str,
    /// Stable id used for the heading and by tests (`data-panel`).
    id: &'static str,
    #[prop(optional)] class: &'static str,
    children: Children,
) -> impl IntoView {
    let heading_id = format!("{id}-heading");
    let labelled_by = heading_id.clone();
    view! {
        <section
            aria-labelledby=labelled_by
            data-panel=id
            class=format!("rounded-xl border border-slate-200 bg-white p-5 shadow-sm {class}")
        >
            <h2 id=heading_id class="text-base font-semibold text-slate-900">{title}</h2>
            <div class="mt-4">{children()}</div>
        </section>
    }
}

/// Grey bars in the shape of the content to come; announced as loading.
#[component]
pub fn Skeleton(#[prop(default = 3)] rows: usize) -> impl IntoView {
    view! {
        <div role="status" aria-live="polite" class="animate-pulse space-y-3" data-skeleton="">
            <span class="sr-only">"Loading…"</span>
            {(0..rows)
                .map(|i| {
                    let width = ["w-3/4", "w-1/2", "w-5/6", "w-2/3"][i % 4];
                    view! { <div aria-hidden="true" class=format!("h-4 rounded bg-slate-200 {width}")></div> }
                })
                .collect_view()}
        </div>
    }
}

/// A skeleton shaped like its content: `children` repeat the content's elements, classes and
/// (for text whose length is known) words, drawn as grey bars with [`SKELETON_TEXT`], so the
/// panel keeps its size when the data replaces them. Announced as loading; the bars themselves
/// are hidden from assistive technology.
#[component]
pub fn SkeletonFrame(children: Children) -> impl IntoView {
    view! {
        <div role="status" aria-live="polite" data-skeleton="">
            <span class="sr-only">"Loading…"</span>
            <div aria-hidden="true" class="animate-pulse">{children()}</div>
        </div>
    }
}

/// For an inline element of a skeleton: its text takes the same room as the real text, drawn as
/// a grey bar on each line.
pub const SKELETON_TEXT: &str = "rounded bg-slate-200 text-transparent box-decoration-clone";

/// What a panel shows when its data could not be loaded. The messages come from `AppError`,
/// which never carries internal detail.
pub fn panel_error(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <div role="alert" class="rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-900">
            <p class="font-medium">"This panel could not be loaded."</p>
            <ul class="mt-1 list-disc pl-5">
                {move || errors.get().into_iter().map(|(_, e)| view! { <li>{e.to_string()}</li> }).collect_view()}
            </ul>
        </div>
    }
}
