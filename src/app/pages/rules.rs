use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::components::layout::RequireRole;
use crate::app::dto::Role;

/// Admins' landing page. The rule editor arrives with the fraud-engine and admin issues.
#[component]
pub fn RulesPage() -> impl IntoView {
    view! {
        <Title text="Rules" />
        <RequireRole roles=&[Role::Admin]>
            <h1 class="text-2xl font-semibold">"Fraud rules"</h1>
            <p class="mt-2 max-w-prose text-slate-700">
                "Write, test and publish the rules that decide which transactions are allowed, reviewed or blocked."
            </p>
        </RequireRole>
    }
}
