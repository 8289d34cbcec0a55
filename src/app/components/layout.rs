//! The app shell: header with navigation by role, the signed-in person and sign-out.
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::app::api::auth::Logout;
use crate::app::dto::Role;
use crate::app::use_current_user;

/// Pages each role sees in the navigation, in order.
fn nav_links(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::Merchant => &[("/", "Dashboard")],
        Role::Reviewer => &[("/queue", "Review queue")],
        Role::Admin => &[
            ("/queue", "Review queue"),
            ("/admin/rules", "Rules"),
            ("/admin/lists", "Lists"),
            ("/admin/users", "Users"),
            ("/admin/keys", "API keys"),
            ("/admin/webhooks", "Webhooks"),
            ("/admin/audit", "Audit log"),
        ],
    }
}

#[component]
pub fn AppLayout(children: Children) -> impl IntoView {
    let user = use_current_user();
    let location = use_location();
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if matches!(logout.value().get(), Some(Ok(()))) {
            user.set(None);
        }
    });

    view! {
        <a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:shadow">
            "Skip to content"
        </a>
        <header class="border-b border-slate-200 bg-white">
            <div class="mx-auto flex max-w-7xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
                <a href="/" class="flex items-center gap-2 text-lg font-semibold tracking-tight text-slate-900">
                    <span aria-hidden="true" class="inline-block h-6 w-6 rounded-md bg-indigo-600"></span>
                    "Vetted"
                </a>
                {move || {
                    user.get()
                        .map(|u| {
                            let path = location.pathname;
                            view! {
                                <nav aria-label="Main" class="flex-1">
                                    <ul class="flex flex-wrap gap-1 whitespace-nowrap">
                                        {nav_links(u.role)
                                            .iter()
                                            .map(|(href, label)| {
                                                let href = *href;
                                                let current = move || if path.get() == href { Some("page") } else { None };
                                                view! {
                                                    <li>
                                                        <A
                                                            href=href
                                                            attr:class="rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-800"
                                                            attr:aria-current=current
                                                        >
                                                            {*label}
                                                        </A>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                </nav>
                                <div class="ml-auto flex items-center gap-3 whitespace-nowrap text-sm">
                                    <span class="text-slate-700" data-testid="signed-in-as">
                                        {u.display_name.clone()}
                                        <span class="ml-2 rounded-full bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-700">
                                            {u.role.label()}
                                        </span>
                                    </span>
                                    <ActionForm action=logout>
                                        <button
                                            type="submit"
                                            class="rounded-md border border-slate-300 px-3 py-1.5 font-medium text-slate-800 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600"
                                        >
                                            "Sign out"
                                        </button>
                                    </ActionForm>
                                </div>
                            }
                        })
                }}
            </div>
        </header>
        <main id="main" class="mx-auto max-w-7xl px-4 py-6">
            {children()}
        </main>
    }
}

/// Client-side counterpart of the server's page guard: a page for other roles says so instead of
/// rendering (the server already answered 403 on a full load; this covers in-app navigation).
#[component]
pub fn RequireRole(roles: &'static [Role], children: ChildrenFn) -> impl IntoView {
    let user = use_current_user();
    move || match user.get() {
        Some(u) if roles.contains(&u.role) => children().into_any(),
        Some(_) => view! {
            <section class="rounded-lg border border-amber-200 bg-amber-50 p-6">
                <h1 class="text-xl font-semibold">"You don't have access to this page"</h1>
                <p class="mt-2 text-slate-700">"This page is for another role."</p>
            </section>
        }
        .into_any(),
        None => view! {
            <p class="text-slate-700">
                "Please " <a class="text-indigo-700 underline" href="/login">"sign in"</a> " to continue."
            </p>
        }
        .into_any(),
    }
}
