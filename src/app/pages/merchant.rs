//! The merchant page, `/merchants/:id` (reviewers and admins): the merchant's facts, every move of
//! their risk state with who made it and why, their unresolved cases, and the actions of the risk
//! state machine with a required reason.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::app::api::review::{merchant_action, merchant_page};
use crate::app::components::layout::RequireRole;
use crate::app::components::review::{risk_badge, MERCHANT_ACTIONS};
use crate::app::dto::{group_thousands, CaseStatusFilter, MerchantPage as MerchantData, QueueFilter, Role};
use crate::app::pages::queue::queue_href;

#[component]
pub fn MerchantPage() -> impl IntoView {
    view! {
        <Title text="Merchant" />
        <RequireRole roles=&[Role::Reviewer, Role::Admin]>
            <Merchant />
        </RequireRole>
    }
}

#[component]
fn Merchant() -> impl IntoView {
    let params = use_params_map();
    // None: the address does not hold a merchant number (`/merchants/abc`).
    let merchant_id = Memo::new(move |_| params.get().get("id").and_then(|id| id.parse::<i32>().ok()).filter(|id| *id > 0));
    let data = Resource::new(
        move || merchant_id.get(),
        |id| async move {
            match id {
                Some(id) => merchant_page(id).await,
                None => Err(crate::app::error::AppError::NotFound(
                    "That address does not name a merchant: merchant numbers are whole numbers, e.g. /merchants/7.".into(),
                )),
            }
        },
    );
    // Outlives the view it is shown in: a successful action reloads the page's data.
    let message = RwSignal::new(None::<Result<String, String>>);
    view! {
        <Suspense fallback=|| view! { <p role="status" class="text-sm text-slate-700">"Loading the merchant…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <p role="alert" class="rounded-md border border-rose-200 bg-rose-50 p-4 text-rose-900">{e.to_string()}</p> }.into_any(),
                    Ok(page) => view! { <MerchantView page=page message=message on_change=move || data.refetch() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn MerchantView(page: MerchantData, message: RwSignal<Option<Result<String, String>>>, on_change: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let m = page.merchant.clone();
    let (merchant_id, state) = (m.id, m.risk_state);
    let event = RwSignal::new(MERCHANT_ACTIONS[1].0.to_string());
    let reason = RwSignal::new(String::new());
    let act = Action::new(move |(event, reason): &(String, String)| {
        let (event, reason) = (event.clone(), reason.clone());
        async move { merchant_action(merchant_id, event, reason, state, None).await }
    });
    Effect::new(move |_| match act.value().get() {
        Some(Ok(to)) => {
            message.set(Some(Ok(format!("Done: the merchant is now {}.", to.label().to_lowercase()))));
            reason.set(String::new());
            on_change();
        }
        Some(Err(e)) => message.set(Some(Err(e.to_string()))),
        None => {}
    });
    let cases_href = queue_href(&QueueFilter { merchant_id: Some(merchant_id), status: CaseStatusFilter::Unresolved, ..QueueFilter::default() });
    let dt = "text-xs font-medium uppercase tracking-wide text-slate-600";
    let dd = "mt-0.5 text-sm text-slate-900";
    let field =
        "mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600";
    view! {
        <div class="flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold tracking-tight" data-testid="merchant-heading">{m.name.clone()}</h1>
            {risk_badge(m.risk_state)}
            {m.verified.then(|| view! { <span class="text-xs text-emerald-800">"✓ verified"</span> })}
        </div>
        <p class="mt-1 text-sm text-slate-700">{format!("Merchant #{} · {} · {}", m.id, m.email, m.country)}</p>
        <div class="mt-4 grid grid-cols-1 gap-4 lg:grid-cols-3">
            <section aria-labelledby="facts-heading" class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
                <h2 id="facts-heading" class="text-base font-semibold">"Last 90 days"</h2>
                <dl class="mt-3 grid grid-cols-2 gap-3">
                    <div><dt class=dt>"Account age"</dt><dd class=dd>{format!("{} days", m.account_age_days)}</dd></div>
                    <div><dt class=dt>"Sales"</dt><dd class=format!("{dd} tabular-nums")>{group_thousands(m.sales_90d)}</dd></div>
                    <div><dt class=dt>"Volume"</dt><dd class=format!("{dd} tabular-nums")>{format!("≈ ${}", group_thousands((m.volume_90d_usd_cents / 100).max(0) as u64))}</dd></div>
                    <div><dt class=dt>"Refund rate"</dt><dd class=format!("{dd} tabular-nums")>{format!("{:.1} %", m.refund_rate_90d * 100.0)}</dd></div>
                    <div><dt class=dt>"Dispute rate"</dt><dd class=format!("{dd} tabular-nums")>{format!("{:.1} %", m.dispute_rate_90d * 100.0)}</dd></div>
                    <div>
                        <dt class=dt>"Unresolved cases"</dt>
                        <dd class=dd><a class="text-indigo-700 underline" href=cases_href>{group_thousands(page.unresolved_cases)}</a></dd>
                    </div>
                </dl>
            </section>
            <section aria-labelledby="action-heading" class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm lg:col-span-2">
                <h2 id="action-heading" class="text-base font-semibold">"Change the risk state"</h2>
                <form
                    class="mt-3 grid gap-3 sm:grid-cols-[16rem_1fr_auto] sm:items-end"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        act.dispatch((event.get_untracked(), reason.get_untracked()));
                    }
                >
                    <label class="text-sm font-medium text-slate-900">
                        "Action"
                        <select class=field on:change=move |ev| event.set(event_target_value(&ev)) data-testid="merchant-action">
                            {MERCHANT_ACTIONS.iter().map(|(value, label)| view! { <option value=*value selected=move || event.get() == *value>{*label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class="text-sm font-medium text-slate-900">
                        "Reason (required)"
                        <input class=field type="text" maxlength="1000" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev)) data-testid="merchant-reason" />
                    </label>
                    <button type="submit" class="rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 focus-visible:ring-offset-2">
                        "Apply"
                    </button>
                </form>
                <p role="status" class="mt-2 min-h-5 text-sm" data-testid="merchant-status">
                    {move || match message.get() {
                        Some(Ok(text)) => view! { <span class="text-emerald-900">{text}</span> }.into_any(),
                        Some(Err(text)) => view! { <span class="text-rose-900">{text}</span> }.into_any(),
                        None => ().into_any(),
                    }}
                </p>
            </section>
            <section aria-labelledby="history-heading" class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm lg:col-span-3">
                <h2 id="history-heading" class="text-base font-semibold">"Risk history"</h2>
                {if page.history.is_empty() {
                    view! { <p class="mt-2 text-sm text-slate-700">"No move recorded: the state was set when the account was created."</p> }.into_any()
                } else {
                    view! {
                        <ol class="mt-3 space-y-2 text-sm" data-testid="risk-history">
                            {page
                                .history
                                .iter()
                                .map(|e| {
                                    view! {
                                        <li class="flex flex-wrap gap-x-2">
                                            <time class="tabular-nums text-slate-600" datetime=e.at.clone()>{e.at.get(0..16).unwrap_or("").replace('T', " ")}</time>
                                            <span class="font-medium">{e.action.clone()}</span>
                                            <span>{format!("{} → {}", e.from.label(), e.to.label())}</span>
                                            <span class="text-slate-700">{format!("by {}", e.actor)}</span>
                                            {e.reason.clone().map(|r| view! { <span class="w-full text-slate-900">{r}</span> })}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ol>
                    }
                    .into_any()
                }}
            </section>
        </div>
    }
}
