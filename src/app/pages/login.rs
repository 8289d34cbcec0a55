use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::api::auth::Login;
use crate::app::use_current_user;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let user = use_current_user();
    let next = move || use_query_map().with(|q| q.get("next")).unwrap_or_default();
    Effect::new(move |_| {
        if let Some(Ok(signed_in)) = login.value().get() {
            user.set(Some(signed_in));
        }
    });
    let error = move || login.value().get().and_then(|r| r.err()).map(|e| e.to_string());

    view! {
        <Title text="Sign in" />
        <div class="mx-auto mt-10 max-w-sm">
            <h1 class="text-2xl font-semibold tracking-tight">"Sign in to Vetted"</h1>
            <ActionForm action=login attr:class="mt-6 space-y-4 rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
                <input type="hidden" name="next" value=next />
                <div>
                    <label for="email" class="block text-sm font-medium text-slate-800">"Email"</label>
                    <input
                        id="email"
                        name="email"
                        type="email"
                        autocomplete="username"
                        required
                        class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 focus:border-indigo-600 focus:outline-none focus:ring-2 focus:ring-indigo-600"
                    />
                </div>
                <div>
                    <label for="password" class="block text-sm font-medium text-slate-800">"Password"</label>
                    <input
                        id="password"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                        class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 focus:border-indigo-600 focus:outline-none focus:ring-2 focus:ring-indigo-600"
                    />
                </div>
                <p role="alert" class="min-h-5 text-sm text-rose-800" data-testid="login-error">{error}</p>
                <button
                    type="submit"
                    disabled=move || login.pending().get()
                    class="w-full rounded-md bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 focus-visible:ring-offset-2 disabled:opacity-60"
                >
                    {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
        </div>
    }
}
