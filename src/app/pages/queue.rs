use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::components::layout::RequireRole;
use crate::app::dto::Role;

/// Reviewers' landing page. The queue itself arrives with the review issue.
#[component]
pub fn QueuePage() -> impl IntoView {
    view! {
        <Title text="Review queue" />
        <RequireRole roles=&[Role::Reviewer, Role::Admin]>
            <h1 class="text-2xl font-semibold">"Review queue"</h1>
            <p class="mt-2 max-w-prose text-slate-700">
                "Cases opened by the fraud rules will be listed here, oldest first, for you to claim and decide from the keyboard."
            </p>
        </RequireRole>
    }
}
