//! Webhooks, `/admin/webhooks` (admins): the platform's endpoints that hear of Vetted's
//! decisions — each with the events it wants, whether deliveries succeed (failing since when,
//! disabled and why), what waits for it; register one (its signing secret shown once), rotate a
//! secret (the old one signs for 24 more hours), disable or enable, send a test event, and read
//! an endpoint's delivery log, where any event can be sent again.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::webhooks::{
    create_webhook, redeliver_webhook, rotate_webhook_secret, set_webhook_disabled, test_webhook, webhook_attempts, webhooks, SendResult,
};
use crate::app::components::admin_ui::{badge, SecretOnce, FIELD, PRIMARY, SECONDARY, SECTION, SMALL, TD, TH};
use crate::app::components::layout::RequireRole;
use crate::app::dto::{short_utc, Role, WebhookAttemptView, WebhookEndpointInput, WebhookEndpointView, WebhookEventKind, WebhookSecret};
use crate::app::error::AppError;

#[component]
pub fn WebhooksPage() -> impl IntoView {
    view! {
        <Title text="Webhooks" />
        <RequireRole roles=&[Role::Admin]>
            <WebhooksConsole />
        </RequireRole>
    }
}

#[component]
fn WebhooksConsole() -> impl IntoView {
    let list = Resource::new(|| (), |_| webhooks());
    let status_line = RwSignal::new(String::new());
    let secret = RwSignal::new(None::<WebhookSecret>);
    // The endpoint whose delivery log is open.
    let log_for = RwSignal::new(None::<i32>);
    let refresh = move || list.refetch();
    view! {
        <div class="flex flex-wrap items-baseline justify-between gap-2">
            <h1 class="text-2xl font-semibold">"Webhooks"</h1>
            <p class="text-sm text-slate-700">"The platform's services hear of every decision here: signed, in order, retried for 3 days."</p>
        </div>
        <p role="status" class="mt-2 min-h-5 text-sm text-slate-800" data-testid="webhooks-status">{move || status_line.get()}</p>
        <SecretPanel secret=secret />
        <section class=format!("{SECTION} mt-2") aria-labelledby="endpoints-heading">
            <h2 id="endpoints-heading" class="text-base font-semibold text-slate-900">"Endpoints"</h2>
            <Transition fallback=|| view! { <p class="mt-3 text-sm text-slate-600">"Loading the endpoints…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => view! { <p role="alert" class="mt-3 text-sm text-rose-900">{e.to_string()}</p> }.into_any(),
                        Ok(all) if all.is_empty() => view! {
                            <p class="mt-3 text-sm text-slate-700" data-testid="webhooks-empty">"No endpoints yet. Register one below for each service that acts on Vetted's decisions (payouts, checkout, e-mail)."</p>
                        }.into_any(),
                        Ok(all) => view! {
                            <ul class="mt-3 space-y-3" data-testid="webhooks-list">
                                {all.into_iter().map(|endpoint| view! { <EndpointCard endpoint=endpoint status_line=status_line secret=secret log_for=log_for on_change=refresh /> }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        {move || log_for.get().map(|id| view! { <DeliveryLog id=id status_line=status_line on_close=move || log_for.set(None) /> })}
        <CreateForm status_line=status_line secret=secret on_created=refresh />
    }
}

fn event_label(kind: WebhookEventKind) -> &'static str {
    kind.as_str()
}

#[component]
fn EndpointCard(
    endpoint: WebhookEndpointView,
    status_line: RwSignal<String>,
    secret: RwSignal<Option<WebhookSecret>>,
    log_for: RwSignal<Option<i32>>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = endpoint.id;
    let disabled = endpoint.disabled_at.is_some();
    let url = endpoint.url.clone();
    let test = Action::new(move |_: &()| test_webhook(id));
    let rotate = Action::new(move |_: &()| rotate_webhook_secret(id));
    let toggle = Action::new(move |_: &()| set_webhook_disabled(id, !disabled));
    let said = |result: Result<SendResult, AppError>, url: &str| match result {
        Ok(r) if r.succeeded => format!("Test event delivered to {url}: {}.", r.summary),
        Ok(r) => format!("The test event to {url} failed: {}.", r.summary),
        Err(e) => e.to_string(),
    };
    let test_url = url.clone();
    Effect::new(move |_| {
        if let Some(result) = test.value().get() {
            status_line.set(said(result, &test_url));
            if log_for.get_untracked() == Some(id) {
                log_for.set(None);
                log_for.set(Some(id));
            }
        }
    });
    Effect::new(move |_| match rotate.value().get() {
        Some(Ok(rotated)) => {
            status_line.set("A new secret: copy it now. The old one keeps signing for 24 hours.".into());
            secret.set(Some(rotated));
            on_change();
        }
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });
    Effect::new(move |_| match toggle.value().get() {
        Some(Ok(e)) => {
            status_line.set(if e.disabled_at.is_some() {
                format!("Disabled {}: events wait for it.", e.url)
            } else {
                format!("Enabled {}: its waiting events follow, in order.", e.url)
            });
            on_change();
        }
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });
    let state = match (&endpoint.disabled_at, &endpoint.failing_since) {
        (Some(at), _) => view! {
            <span title=short_utc(at, "")>{badge(format!("Disabled: {}", endpoint.disabled_reason.clone().unwrap_or_default()), "red")}</span>
        }
        .into_any(),
        (None, Some(since)) => badge(format!("Failing since {} — retrying", short_utc(since, "")), "amber").into_any(),
        (None, None) => badge("Delivering".into(), "green").into_any(),
    };
    view! {
        <li class="rounded-lg border border-slate-200 p-3" data-endpoint-id=id>
            <div class="flex flex-wrap items-start justify-between gap-2">
                <div class="min-w-0">
                    <p class="break-all font-mono text-sm text-slate-900">{url.clone()}</p>
                    {(!endpoint.description.is_empty()).then(|| view! { <p class="text-sm text-slate-700">{endpoint.description.clone()}</p> })}
                </div>
                {state}
            </div>
            <p class="mt-2 flex flex-wrap gap-1" aria-label="Events">
                {endpoint.events.iter().map(|k| view! { <span class="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-800">{event_label(*k)}</span> }).collect_view()}
            </p>
            <p class="mt-2 text-xs text-slate-600">
                {format!("{} event(s) waiting · registered by {} on {}", endpoint.pending, endpoint.created_by, short_utc(&endpoint.created_at, ""))}
                {endpoint.previous_secret_until.as_ref().map(|until| format!(" · the previous secret signs until {}", short_utc(until, "")))}
            </p>
            <div class="mt-2 flex flex-wrap gap-2">
                <button type="button" class=SMALL aria-expanded=move || (log_for.get() == Some(id)).to_string() on:click=move |_| log_for.update(|open| *open = if *open == Some(id) { None } else { Some(id) }) data-testid="open-log">
                    "Delivery log"
                </button>
                <button type="button" class=SMALL disabled=move || test.pending().get() on:click=move |_| { test.dispatch(()); } data-testid="send-test">"Send test event"</button>
                <button type="button" class=SMALL disabled=move || rotate.pending().get() on:click=move |_| { rotate.dispatch(()); } data-testid="rotate-secret">"Rotate secret"</button>
                <button type="button" class=SMALL disabled=move || toggle.pending().get() on:click=move |_| { toggle.dispatch(()); } data-testid="toggle-endpoint">
                    {if disabled { "Enable" } else { "Disable" }}
                </button>
            </div>
        </li>
    }
}

#[component]
fn DeliveryLog(id: i32, status_line: RwSignal<String>, on_close: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let attempts = Resource::new(move || id, move |id| webhook_attempts(id, None));
    let redeliver = Action::new(move |event: &i64| redeliver_webhook(id, *event));
    Effect::new(move |_| match redeliver.value().get() {
        Some(Ok(r)) => {
            status_line.set(if r.succeeded { format!("Sent again: {}.", r.summary) } else { format!("Sending again failed: {}.", r.summary) });
            attempts.refetch();
        }
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });
    view! {
        <section class=format!("{SECTION} mt-4") aria-labelledby="log-heading" data-testid="delivery-log">
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h2 id="log-heading" class="text-base font-semibold text-slate-900">{format!("Delivery log of endpoint {id}")}</h2>
                <button type="button" class=SECONDARY on:click=move |_| on_close()>"Close"</button>
            </div>
            <p class="text-xs text-slate-600">"Every request, newest first: the answer's status, its time and its first kilobyte."</p>
            <Transition fallback=|| view! { <p class="mt-3 text-sm text-slate-600">"Loading the log…"</p> }>
                {move || Suspend::new(async move {
                    match attempts.await {
                        Err(e) => view! { <p role="alert" class="mt-3 text-sm text-rose-900">{e.to_string()}</p> }.into_any(),
                        Ok(rows) if rows.is_empty() => view! { <p class="mt-3 text-sm text-slate-700">"Nothing sent yet."</p> }.into_any(),
                        Ok(rows) => view! { <AttemptsTable rows=rows redeliver=redeliver /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AttemptsTable(rows: Vec<WebhookAttemptView>, redeliver: Action<i64, Result<SendResult, AppError>>) -> impl IntoView {
    view! {
        <div class="mt-3 overflow-x-auto" tabindex="0" role="region" aria-label="Delivery attempts">
            <table class="min-w-[40rem] text-sm" data-testid="attempts-table">
                <thead>
                    <tr>
                        <th class=TH scope="col">"When"</th>
                        <th class=TH scope="col">"Event"</th>
                        <th class=TH scope="col">"Answer"</th>
                        <th class=TH scope="col">"Time"</th>
                        <th class=TH scope="col">"Response"</th>
                        <th class=TH scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {rows.into_iter().map(|a| {
                        let ok = a.status_code.is_some_and(|s| (200..300).contains(&s));
                        let answer = match (a.status_code, &a.error) {
                            (Some(code), _) => badge(code.to_string(), if ok { "green" } else { "red" }).into_any(),
                            (None, Some(error)) => view! { <span class="text-rose-800">{error.clone()}</span> }.into_any(),
                            (None, None) => view! { <span>"—"</span> }.into_any(),
                        };
                        let event = a.event_id;
                        view! {
                            <tr>
                                <td class=format!("{TD} whitespace-nowrap")><time datetime=a.at.clone()>{short_utc(&a.at, "")}</time></td>
                                <td class=TD>
                                    <span class="font-mono text-xs">{if event == 0 { "test".to_string() } else { format!("evt_{event}") }}</span>
                                    <span class="block text-xs text-slate-600">
                                        {match (event, a.manual) {
                                            (0, _) => "sent by hand".to_string(),
                                            (_, true) => format!("{} · sent again by hand", a.event_kind),
                                            _ => a.event_kind.clone(),
                                        }}
                                    </span>
                                </td>
                                <td class=TD>{answer}</td>
                                <td class=format!("{TD} whitespace-nowrap tabular-nums")>{format!("{} ms", a.latency_ms)}</td>
                                <td class=format!("{TD} max-w-64")><code class="block max-h-16 overflow-hidden break-all text-xs text-slate-700">{a.response_head.clone()}</code></td>
                                <td class=TD>
                                    {(event != 0).then(|| view! {
                                        <button type="button" class=SMALL aria-label=format!("Send evt_{event} again") disabled=move || redeliver.pending().get() on:click=move |_| { redeliver.dispatch(event); }>"Redeliver"</button>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn CreateForm(status_line: RwSignal<String>, secret: RwSignal<Option<WebhookSecret>>, on_created: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<WebhookEventKind>::new());
    let error = RwSignal::new(String::new());
    let create = Action::new(|input: &WebhookEndpointInput| create_webhook(input.clone()));
    Effect::new(move |_| match create.value().get() {
        Some(Ok(created)) => {
            error.set(String::new());
            url.set(String::new());
            description.set(String::new());
            chosen.set(Vec::new());
            status_line.set(format!("Registered {}. Copy its signing secret now: it is not shown again.", created.endpoint.url));
            secret.set(Some(created));
            on_created();
        }
        Some(Err(e)) => error.set(e.to_string()),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(WebhookEndpointInput { url: url.get_untracked(), description: description.get_untracked(), events: chosen.get_untracked() });
    };
    view! {
        <section class=format!("{SECTION} mt-4") aria-labelledby="create-webhook-heading">
            <h2 id="create-webhook-heading" class="text-base font-semibold text-slate-900">"Register an endpoint"</h2>
            <form class="mt-3 grid gap-3" on:submit=submit data-testid="create-webhook-form">
                <label class="block text-sm text-slate-700">
                    "URL (https://, a public address)"
                    <input type="url" required maxlength="2048" autocomplete="off" class=FIELD name="url" placeholder="https://payouts.example.com/hooks/vetted" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev)) aria-describedby="webhook-error" />
                </label>
                <label class="block text-sm text-slate-700">
                    "Description (optional)"
                    <input type="text" maxlength="500" autocomplete="off" class=FIELD name="description" placeholder="payouts service: pauses payouts of suspended merchants" prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev)) />
                </label>
                <fieldset>
                    <legend class="text-sm text-slate-700">"Events it wants"</legend>
                    <div class="mt-1 grid gap-1 sm:grid-cols-2">
                        {WebhookEventKind::ALL.into_iter().map(|kind| view! {
                            <label class="flex items-start gap-2 text-sm">
                                <input type="checkbox" class="mt-1" prop:checked=move || chosen.with(|c| c.contains(&kind)) on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    chosen.update(|c| { c.retain(|k| *k != kind); if on { c.push(kind); } });
                                } />
                                <span><span class="font-mono text-xs">{kind.as_str()}</span><span class="block text-xs text-slate-600">{kind.description()}</span></span>
                            </label>
                        }).collect_view()}
                    </div>
                </fieldset>
                <p id="webhook-error" role="alert" class="min-h-5 text-sm text-rose-800">{move || error.get()}</p>
                <div>
                    <button type="submit" class=PRIMARY disabled=move || create.pending().get() data-testid="create-webhook">"Register endpoint"</button>
                </div>
            </form>
        </section>
    }
}

/// A signing secret just made, shown this once.
#[component]
fn SecretPanel(secret: RwSignal<Option<WebhookSecret>>) -> impl IntoView {
    let shown = Signal::derive(move || secret.get().map(|s| (format!("Signing secret for {}", s.endpoint.url), s.secret)));
    let explanation = "Give it to the receiving service to verify each request's Vetted-Signature header (the README shows how). It will not be shown again.";
    view! { <SecretOnce shown=shown explanation=explanation label="Signing secret" on_done=Callback::new(move |()| secret.set(None)) /> }
}
