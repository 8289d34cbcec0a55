//! The Leptos application: shell, routes, pages, components, DTOs and server function
//! declarations. Compiles for the server and for the browser (wasm).
pub mod api;
pub mod components;
pub mod dto;
pub mod error;
pub mod money;
pub mod pages;
pub mod rule_text;
pub mod url;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use components::hydration::DeferredHydrationScripts;
use components::layout::AppLayout;
use dto::SessionUser;
use pages::{
    audit::AuditPage, case::CasePage, dashboard::DashboardPage, keys::KeysPage, lists::ListsPage, login::LoginPage, merchant::MerchantPage,
    not_found::NotFound, queue::QueuePage, rules::RulesPage, users::UsersPage, webhooks::WebhooksPage,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The Content-Security-Policy header names this response's nonce: the hydration script
    // carries it (see server::http::security_headers).
    #[cfg(feature = "ssr")]
    if let Some(nonce) = crate::server::http::security_headers::request_nonce() {
        provide_context(nonce);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <meta name="description" content="Vetted: payments, PayPal balances and fraud review for merchants, reviewers and admins." />
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                <DeferredHydrationScripts options />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

/// Who is signed in, shared by every page. Seeded from the server during hydration and updated
/// by the login and logout forms.
#[derive(Clone, Copy)]
pub struct CurrentUser(pub RwSignal<Option<SessionUser>>);

pub fn use_current_user() -> RwSignal<Option<SessionUser>> {
    expect_context::<CurrentUser>().0
}

fn signed_in_user() -> Option<SessionUser> {
    #[cfg(feature = "ssr")]
    {
        crate::server::auth::guard::current_user()
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let user = SharedValue::new(signed_in_user).into_inner();
    provide_context(CurrentUser(RwSignal::new(user)));

    // Marks the page once the browser has taken over; end-to-end tests wait for it.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Title formatter=|page: String| if page.is_empty() { "Vetted".to_string() } else { format!("{page} · Vetted") } />
        <Router>
            <AppLayout>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=DashboardPage />
                    <Route path=path!("/login") view=LoginPage />
                    <Route path=path!("/queue") view=QueuePage />
                    <Route path=path!("/cases/:id") view=CasePage />
                    <Route path=path!("/merchants/:id") view=MerchantPage />
                    <Route path=path!("/admin/rules") view=RulesPage />
                    <Route path=path!("/admin/lists") view=ListsPage />
                    <Route path=path!("/admin/audit") view=AuditPage />
                    <Route path=path!("/admin/users") view=UsersPage />
                    <Route path=path!("/admin/keys") view=KeysPage />
                    <Route path=path!("/admin/webhooks") view=WebhooksPage />
                </Routes>
            </AppLayout>
        </Router>
    }
}
