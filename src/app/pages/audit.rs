//! The audit log, `/admin/audit` (admins): every action of a person or of the system — rules,
//! lists, keys, users, merchant transitions, case claims and decisions — newest first, filtered
//! by actor, kind of object, object and dates (kept in the address, so a filtered view is a link),
//! paged by keyset, exported as CSV. Read-only: nothing here edits or deletes an event.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::app::api::admin::audit_log;
use crate::app::components::admin_ui::{FIELD, PRIMARY, SECONDARY, SECTION};
use crate::app::components::layout::RequireRole;
use crate::app::dto::{audit_object_href, short_utc, AuditFilter, Role, AUDIT_OBJECT_KINDS};
use crate::app::url;

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <Title text="Audit log" />
        <RequireRole roles=&[Role::Admin]>
            <AuditLog />
        </RequireRole>
    }
}

/// The filter as an address query (the page's and the export's).
fn query_of(filter: &AuditFilter) -> String {
    [("actor", &filter.actor), ("object_kind", &filter.object_kind), ("object_id", &filter.object_id), ("from", &filter.from), ("to", &filter.to)]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", url::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[component]
fn AuditLog() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|q| AuditFilter {
            actor: q.get("actor").unwrap_or_default(),
            object_kind: q.get("object_kind").unwrap_or_default(),
            object_id: q.get("object_id").unwrap_or_default(),
            from: q.get("from").unwrap_or_default(),
            to: q.get("to").unwrap_or_default(),
        })
    });
    // The pages before this one (their `before`), for "newer".
    let trail = RwSignal::new(Vec::<Option<i64>>::new());
    let before = RwSignal::new(None::<i64>);
    Effect::new(move |_| {
        filter.track();
        trail.set(Vec::new());
        before.set(None);
    });
    let page = Resource::new(move || (filter.get(), before.get()), |(f, b)| audit_log(f, b));
    let navigate = StoredValue::new(use_navigate());
    let go = move |f: AuditFilter| {
        let q = query_of(&f);
        navigate.with_value(|nav| nav(&if q.is_empty() { "/admin/audit".to_string() } else { format!("/admin/audit?{q}") }, Default::default()));
    };
    // The form's fields, filled from the address.
    let draft = RwSignal::new(AuditFilter::default());
    Effect::new(move |_| draft.set(filter.get()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        go(draft.get_untracked());
    };
    let export_href = move || {
        let q = query_of(&filter.get());
        if q.is_empty() {
            "/admin/audit/export.csv".to_string()
        } else {
            format!("/admin/audit/export.csv?{q}")
        }
    };
    let text_field = move |label: &'static str, max: &'static str, get: fn(&AuditFilter) -> String, set: fn(&mut AuditFilter, String), testid: &'static str| {
        view! {
            <label class="text-sm text-slate-700">{label}
                <input class=FIELD maxlength=max prop:value=move || draft.with(get) on:input=move |ev| { let v = event_target_value(&ev); draft.update(|d| set(d, v)) } data-testid=testid />
            </label>
        }
    };
    view! {
        <div class="mx-auto max-w-7xl px-4 py-6 sm:px-6">
            <div class="flex flex-wrap items-center justify-between gap-3">
                <h1 class="text-xl font-semibold text-slate-900">"Audit log"</h1>
                <a class=SECONDARY href=export_href rel="external" download data-testid="audit-export">"Export CSV"</a>
            </div>
            <p class="mt-1 text-sm text-slate-700">"Every action of a person or of Vetted itself, kept forever: nothing here can be edited or deleted."</p>
            <form class=format!("{SECTION} mt-4 grid gap-3 sm:grid-cols-3 lg:grid-cols-[1fr_10rem_1fr_10rem_10rem_auto] lg:items-end") on:submit=submit aria-label="Filter the audit log">
                {text_field("Actor", "255", |d| d.actor.clone(), |d, v| d.actor = v, "audit-actor")}
                <label class="text-sm text-slate-700">"Kind"
                    <select class=FIELD on:change=move |ev| { let v = event_target_value(&ev); draft.update(|d| d.object_kind = v) } data-testid="audit-kind">
                        <option value="" selected=move || draft.with(|d| d.object_kind.is_empty())>"Any"</option>
                        {AUDIT_OBJECT_KINDS.iter().map(|k| view! { <option value=*k selected=move || draft.with(|d| d.object_kind == *k)>{k.replace('_', " ")}</option> }).collect_view()}
                    </select>
                </label>
                {text_field("Object (id or name)", "255", |d| d.object_id.clone(), |d, v| d.object_id = v, "audit-object")}
                <label class="text-sm text-slate-700">"From"
                    <input type="date" class=FIELD prop:value=move || draft.with(|d| d.from.clone()) on:input=move |ev| { let v = event_target_value(&ev); draft.update(|d| d.from = v) } data-testid="audit-from" />
                </label>
                <label class="text-sm text-slate-700">"To"
                    <input type="date" class=FIELD prop:value=move || draft.with(|d| d.to.clone()) on:input=move |ev| { let v = event_target_value(&ev); draft.update(|d| d.to = v) } data-testid="audit-to" />
                </label>
                <div class="flex gap-2">
                    <button type="submit" class=PRIMARY data-testid="audit-apply">"Filter"</button>
                    <button type="button" class=SECONDARY on:click=move |_| go(AuditFilter::default())>"Clear"</button>
                </div>
            </form>
            <section class=format!("{SECTION} mt-4") aria-label="Events">
                <Transition fallback=|| view! { <p class="text-sm text-slate-600">"Loading events…"</p> }>
                    {move || page.get().map(|result| match result {
                        Err(e) => view! { <p role="alert" class="text-sm text-rose-900" data-testid="audit-error">{e.to_string()}</p> }.into_any(),
                        Ok(page) if page.events.is_empty() => view! {
                            <p class="text-sm text-slate-600" data-testid="audit-empty">"No events match: rule changes, list changes, keys, users, case claims and decisions, and merchant transitions appear here as they happen."</p>
                        }.into_any(),
                        Ok(page) => {
                            let next = page.next;
                            let today = String::new();
                            view! {
                                <div class="overflow-x-auto focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600" tabindex="0" role="region" aria-label="Audit events">
                                    <table class="w-full min-w-[52rem] text-left text-sm">
                                        <thead class="text-xs uppercase tracking-wide text-slate-600">
                                            <tr>
                                                <th scope="col" class="py-1 pr-3">"When (UTC)"</th>
                                                <th scope="col" class="py-1 pr-3">"Who"</th>
                                                <th scope="col" class="py-1 pr-3">"Action"</th>
                                                <th scope="col" class="py-1 pr-3">"Object"</th>
                                                <th scope="col" class="py-1">"What"</th>
                                            </tr>
                                        </thead>
                                        <tbody class="divide-y divide-slate-100" data-testid="audit-events">
                                            {page.events.into_iter().map(|e| {
                                                let actor = e.actor.clone();
                                                let object = format!("{} {}", e.object_kind.replace('_', " "), e.object_id);
                                                let object_view = match audit_object_href(&e.object_kind, &e.object_id) {
                                                    Some(href) => view! { <a class="text-indigo-800 underline" href=href>{object}</a> }.into_any(),
                                                    None => view! { <span>{object}</span> }.into_any(),
                                                };
                                                view! {
                                                    <tr class="align-top">
                                                        <td class="py-1.5 pr-3 whitespace-nowrap tabular-nums" title=e.at.clone()>{short_utc(&e.at, &today)}</td>
                                                        <td class="py-1.5 pr-3">
                                                            <button type="button" class="text-left text-slate-900 underline decoration-dotted hover:text-indigo-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600" title="Only this actor's events"
                                                                on:click=move |_| go(AuditFilter { actor: actor.clone(), ..filter.get_untracked() })>{e.actor.clone()}</button>
                                                        </td>
                                                        <td class="py-1.5 pr-3 whitespace-nowrap font-mono text-xs">{e.action.clone()}</td>
                                                        <td class="py-1.5 pr-3 whitespace-nowrap">{object_view}</td>
                                                        <td class="py-1.5 text-slate-800">{e.summary.clone()}{e.reason.map(|r| view! { <span class="block text-slate-600">{format!("“{r}”")}</span> })}</td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <div class="mt-3 flex items-center justify-between gap-2 text-sm">
                                    <button type="button" class=SECONDARY disabled=move || trail.with(Vec::is_empty) on:click=move |_| {
                                        let mut t = trail.get_untracked();
                                        before.set(t.pop().flatten());
                                        trail.set(t);
                                    }>"← Newer"</button>
                                    <button type="button" class=SECONDARY disabled=next.is_none() data-testid="audit-older" on:click=move |_| {
                                        trail.update(|t| t.push(before.get_untracked()));
                                        before.set(next);
                                    }>"Older →"</button>
                                </div>
                            }.into_any()
                        }
                    })}
                </Transition>
            </section>
        </div>
    }
}
