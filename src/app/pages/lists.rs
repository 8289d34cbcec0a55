//! The lists console, `/admin/lists` (admins): every list with its kind and size; one list's
//! entries searched and paged by value; add and remove entries; create a list; import a CSV with a
//! preview (each line in error with its number; merge or replace) and export one.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::app::api::admin::{add_list_entry, create_list, fraud_lists, import_list, list_entries, preview_list_import, remove_list_entry};
use crate::app::components::admin_ui::{DANGER, FIELD, PRIMARY, SECONDARY, SECTION, SMALL};
use crate::app::components::keys::use_shortcuts;
use crate::app::components::layout::RequireRole;
use crate::app::dto::{
    group_thousands, short_utc, FraudListSummary, ImportMode, ListEntryCursor, ListEntryDto, ListImportSummary, ListKind, Role, MAX_LIST_IMPORT_BYTES,
};
use crate::app::error::AppError;
use crate::app::url;

/// Every kind, with what its values look like (the add form's placeholder).
const KINDS: [(ListKind, &str, &str); 6] = [
    (ListKind::Email, "Email addresses", "buyer@example.com"),
    (ListKind::EmailDomain, "Email domains", "mailinator.com"),
    (ListKind::Ip, "IP addresses and ranges", "203.0.113.7 or 10.0.0.0/8"),
    (ListKind::CardFingerprint, "Card fingerprints", "fp_4f9a…"),
    (ListKind::CardBin, "Card BINs", "424242"),
    (ListKind::Country, "Countries", "US"),
];

fn kind_name(kind: ListKind) -> &'static str {
    KINDS.iter().find(|(k, _, _)| *k == kind).map_or("", |(_, name, _)| name)
}

fn kind_value(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Email => "email",
        ListKind::EmailDomain => "email_domain",
        ListKind::Ip => "ip",
        ListKind::CardFingerprint => "card_fingerprint",
        ListKind::CardBin => "card_bin",
        ListKind::Country => "country",
    }
}

#[component]
pub fn ListsPage() -> impl IntoView {
    view! {
        <Title text="Lists" />
        <RequireRole roles=&[Role::Admin]>
            <ListsConsole />
        </RequireRole>
    }
}

#[component]
fn ListsConsole() -> impl IntoView {
    let query = use_query_map();
    let selected = Memo::new(move |_| query.with(|q| q.get("list")).filter(|name| !name.is_empty()));
    let lists = Resource::new(|| (), |_| fraud_lists());
    let creating = RwSignal::new(false);
    // Where the reader is in the selected list: kept here, so that the list's view, drawn again
    // when a change refreshes the sizes, keeps the search and the page.
    let place = ListPlace {
        search: RwSignal::new(String::new()),
        trail: RwSignal::new(Vec::new()),
        after: RwSignal::new(None),
        status_line: RwSignal::new(String::new()),
    };
    Effect::new(move |before: Option<Option<String>>| {
        let now = selected.get();
        if before.is_some_and(|b| b != now) {
            place.search.set(String::new());
            place.trail.set(Vec::new());
            place.after.set(None);
            place.status_line.set(String::new());
        }
        now
    });
    view! {
        <div class="mx-auto max-w-7xl px-4 py-6 sm:px-6">
            <div class="flex flex-wrap items-center justify-between gap-3">
                <h1 class="text-xl font-semibold text-slate-900">"Lists"</h1>
                <button type="button" class=SECONDARY on:click=move |_| creating.update(|c| *c = !*c) aria-expanded=move || creating.get().to_string() data-testid="new-list">
                    "New list"
                </button>
            </div>
            <p class="mt-1 text-sm text-slate-700">
                "Rules read lists with " <code class="rounded bg-slate-100 px-1">"in_list('name', value)"</code>
                ": a change matches on every instance within a second."
            </p>
            {move || creating.get().then(|| view! { <NewListForm creating=creating lists=lists /> })}
            <div class="mt-4 grid gap-4 lg:grid-cols-[18rem_minmax(0,1fr)]">
                <nav class=SECTION aria-label="Lists">
                    <Transition fallback=|| view! { <p class="text-sm text-slate-600">"Loading lists…"</p> }>
                        {move || lists.get().map(|result| match result {
                            Err(e) => view! { <p role="alert" class="text-sm text-rose-900">{e.to_string()}</p> }.into_any(),
                            Ok(all) if all.is_empty() => view! { <p class="text-sm text-slate-600">"No lists yet: create one with “New list”."</p> }.into_any(),
                            Ok(all) => view! {
                                <ul class="space-y-1" data-testid="lists">
                                    {all.into_iter().map(|l| {
                                        let name = StoredValue::new(l.name.clone());
                                        let current = move || name.with_value(|n| selected.get().as_deref() == Some(n.as_str()));
                                        view! {
                                            <li>
                                                <A href=format!("/admin/lists?list={}", url::encode(&l.name))
                                                    attr:class=move || format!("flex items-baseline justify-between gap-2 rounded-md px-2 py-1.5 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 {}", if current() { "bg-indigo-50 font-semibold text-indigo-900" } else { "text-slate-800 hover:bg-slate-50" })
                                                    attr:aria-current=move || current().then_some("page")>
                                                    <span class="truncate">{l.name.clone()}</span>
                                                    <span class="shrink-0 text-xs tabular-nums text-slate-600">{group_thousands(l.entries)}</span>
                                                </A>
                                                <p class="px-2 text-xs text-slate-600">{kind_name(l.kind)}</p>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                        })}
                    </Transition>
                </nav>
                <div class="min-w-0">
                    <Transition fallback=|| view! { <div class=SECTION><p class="text-sm text-slate-600">"Loading…"</p></div> }>
                        {move || {
                            let all = lists.get().and_then(Result::ok).unwrap_or_default();
                            match selected.get() {
                                None => view! {
                                    <div class=SECTION>
                                        <p class="text-sm text-slate-700">"Choose a list to see, search, add to, import into or export its entries."</p>
                                    </div>
                                }.into_any(),
                                Some(name) => match all.into_iter().find(|l| l.name == name) {
                                    Some(list) => view! { <ListView list=list lists=lists place=place /> }.into_any(),
                                    None => view! { <div class=SECTION><p role="alert" class="text-sm text-rose-900">{format!("No list named “{name}”.")}</p></div> }.into_any(),
                                },
                            }
                        }}
                    </Transition>
                </div>
            </div>
        </div>
    }
}

type Lists = Resource<Result<Vec<FraudListSummary>, AppError>>;

/// The search and page in the selected list; the trail holds the starts of the pages before.
#[derive(Clone, Copy)]
struct ListPlace {
    search: RwSignal<String>,
    trail: RwSignal<Vec<Option<ListEntryCursor>>>,
    after: RwSignal<Option<ListEntryCursor>>,
    /// What the last change did ("Imported: …"): it must outlive the redraw that change causes.
    status_line: RwSignal<String>,
}

#[component]
fn NewListForm(creating: RwSignal<bool>, lists: Lists) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(ListKind::Email);
    let description = RwSignal::new(String::new());
    let create = Action::new(move |(n, k, d): &(String, ListKind, String)| create_list(n.clone(), *k, d.clone()));
    let error = RwSignal::new(None::<String>);
    let first = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = first.get() {
            let _ = input.focus();
        }
    });
    Effect::new(move |_| match create.value().get() {
        Some(Ok(())) => {
            lists.refetch();
            creating.set(false);
            let navigate = leptos_router::hooks::use_navigate();
            navigate(&format!("/admin/lists?list={}", url::encode(&name.get_untracked())), Default::default());
        }
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        create.dispatch((name.get_untracked().trim().to_string(), kind.get_untracked(), description.get_untracked()));
    };
    view! {
        <form class=format!("{SECTION} mt-4 grid gap-3 sm:grid-cols-[1fr_1fr_2fr_auto] sm:items-end") on:submit=submit aria-label="New list">
            <label class="text-sm text-slate-700">"Name"
                <input node_ref=first class=FIELD required maxlength="64" pattern="[a-z0-9_]+" placeholder="blocked_bins" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) aria-describedby="new-list-hint" data-testid="new-list-name" />
            </label>
            <label class="text-sm text-slate-700">"Kind"
                <select class=FIELD on:change=move |ev| { let v = event_target_value(&ev); if let Some((k, _, _)) = KINDS.iter().find(|(k, _, _)| kind_value(*k) == v) { kind.set(*k) } } data-testid="new-list-kind">
                    {KINDS.iter().map(|(k, label, _)| view! { <option value=kind_value(*k)>{*label}</option> }).collect_view()}
                </select>
            </label>
            <label class="text-sm text-slate-700">"Description"
                <input class=FIELD maxlength="500" prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev)) />
            </label>
            <div class="flex gap-2">
                <button type="submit" class=PRIMARY disabled=move || create.pending().get()>"Create"</button>
                <button type="button" class=SECONDARY on:click=move |_| creating.set(false)>"Cancel"</button>
            </div>
            <p id="new-list-hint" class="text-xs text-slate-600 sm:col-span-4">"Lowercase letters, digits and underscores; rules name it in " <code>"in_list('name', …)"</code> "."</p>
            {move || error.get().map(|e| view! { <p role="alert" class="text-sm text-rose-900 sm:col-span-4" data-testid="new-list-error">{e}</p> })}
        </form>
    }
}

/// What the entry table asks the server for: the list, the search, the page's start, and a
/// counter that a change bumps so the same page is read again.
#[derive(Debug, Clone, PartialEq)]
struct PageKey {
    list: String,
    search: String,
    after: Option<ListEntryCursor>,
    changes: u32,
}

#[component]
fn ListView(list: FraudListSummary, lists: Lists, place: ListPlace) -> impl IntoView {
    let name = StoredValue::new(list.name.clone());
    let kind = list.kind;
    let ListPlace { search, trail, after, status_line } = place;
    let changes = RwSignal::new(0u32);
    let importing = RwSignal::new(false);
    let removing = RwSignal::new(None::<ListEntryDto>);
    let search_field = NodeRef::<leptos::html::Input>::new();
    use_shortcuts(move |key| match key {
        "/" => search_field.get().map(|f| f.focus().is_ok()).unwrap_or(false),
        _ => false,
    });
    let page = Resource::new(
        move || PageKey { list: name.get_value(), search: search.get(), after: after.get(), changes: changes.get() },
        |key| list_entries(key.list, key.search, key.after),
    );
    let changed = move |message: String| {
        status_line.set(message);
        changes.update(|c| *c += 1);
        lists.refetch();
    };
    let export_href = format!("/admin/lists/{}/export.csv", url::encode(&list.name));
    view! {
        <section class=SECTION aria-labelledby="list-heading">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <h2 id="list-heading" class="text-lg font-semibold text-slate-900 break-all" data-testid="list-name">{list.name.clone()}</h2>
                    <p class="text-sm text-slate-700">
                        {kind_name(kind)} " · " <span class="tabular-nums">{format!("{} entries", group_thousands(list.entries))}</span>
                        {(!list.description.is_empty()).then(|| format!(" · {}", list.description))}
                    </p>
                </div>
                <div class="flex flex-wrap gap-2">
                    <button type="button" class=SECONDARY on:click=move |_| importing.update(|i| *i = !*i) aria-expanded=move || importing.get().to_string() data-testid="import-open">"Import CSV"</button>
                    <a class=SECONDARY href=export_href rel="external" download data-testid="export">"Export CSV"</a>
                </div>
            </div>
            <p role="status" class="mt-2 min-h-5 text-sm text-emerald-800" data-testid="list-status">{move || status_line.get()}</p>
            {move || importing.get().then(|| view! { <ImportPanel list=name.get_value() importing=importing on_done=Callback::new(changed) /> })}
            <AddEntryForm list=name.get_value() kind=kind on_added=Callback::new(changed) />
            <div class="mt-4 flex flex-wrap items-end justify-between gap-2">
                <label class="w-full text-sm text-slate-700 sm:w-80">"Search values containing"
                    <input node_ref=search_field type="search" class=FIELD maxlength="255" placeholder="Press / to search"
                        prop:value=move || search.get()
                        on:input=move |ev| { trail.set(Vec::new()); after.set(None); search.set(event_target_value(&ev)); }
                        data-testid="list-search" />
                </label>
            </div>
            <Transition fallback=|| view! { <p class="mt-3 text-sm text-slate-600">"Loading entries…"</p> }>
                {move || page.get().map(|result| match result {
                    Err(e) => view! { <p role="alert" class="mt-3 text-sm text-rose-900">{e.to_string()}</p> }.into_any(),
                    Ok(page) if page.entries.is_empty() => view! {
                        <p class="mt-3 text-sm text-slate-600" data-testid="no-entries">
                            {if search.get_untracked().is_empty() { "This list is empty: add an entry above, or import a CSV.".to_string() } else { format!("No value contains “{}”.", search.get_untracked()) }}
                        </p>
                    }.into_any(),
                    Ok(page) => {
                        let next = page.next.clone();
                        let has_previous = after.get_untracked().is_some();
                        view! {
                            <EntryTable entries=page.entries removing=removing />
                            <div class="mt-3 flex items-center justify-between gap-2 text-sm">
                                <button type="button" class=SECONDARY disabled=!has_previous on:click=move |_| {
                                    let mut t = trail.get_untracked();
                                    after.set(t.pop().flatten());
                                    trail.set(t);
                                }>"← Previous"</button>
                                <span class="text-slate-600 tabular-nums">{format!("{} in the list", group_thousands(page.total))}</span>
                                <button type="button" class=SECONDARY disabled=next.is_none() data-testid="next-page" on:click=move |_| {
                                    if let Some(n) = next.clone() {
                                        trail.update(|t| t.push(after.get_untracked()));
                                        after.set(Some(n));
                                    }
                                }>"Next →"</button>
                            </div>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
        <RemoveDialog list=name.get_value() removing=removing on_removed=Callback::new(changed) />
    }
}

#[component]
fn EntryTable(entries: Vec<ListEntryDto>, removing: RwSignal<Option<ListEntryDto>>) -> impl IntoView {
    let today = String::new();
    view! {
        <div class="mt-3 overflow-x-auto focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600" tabindex="0" role="region" aria-label="Entries">
            <table class="w-full min-w-[46rem] text-left text-sm">
                <thead class="sticky top-0 bg-white text-xs uppercase tracking-wide text-slate-600">
                    <tr>
                        <th scope="col" class="py-1 pr-3">"Value"</th>
                        <th scope="col" class="py-1 pr-3">"Applies to"</th>
                        <th scope="col" class="py-1 pr-3">"Reason"</th>
                        <th scope="col" class="py-1 pr-3">"Source"</th>
                        <th scope="col" class="py-1 pr-3">"Added"</th>
                        <th scope="col" class="py-1 pr-3">"Expires"</th>
                        <th scope="col" class="py-1"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100" data-testid="entries">
                    {entries.into_iter().map(|entry| {
                        let row = entry.clone();
                        let source = match entry.source.strip_prefix("case:").and_then(|id| id.parse::<i64>().ok()) {
                            Some(id) => view! { <a class="text-indigo-800 underline" href=format!("/cases/{id}")>{format!("case {id}")}</a> }.into_any(),
                            None => view! { <span>{entry.source.clone()}</span> }.into_any(),
                        };
                        let scope = match entry.merchant_id {
                            Some(id) => view! { <a class="text-indigo-800 underline" href=format!("/merchants/{id}")>{format!("merchant {id}")}</a> }.into_any(),
                            None => view! { <span class="text-slate-600">"every merchant"</span> }.into_any(),
                        };
                        view! {
                            <tr>
                                <td class="py-1.5 pr-3 font-mono text-[0.8rem] break-all">{entry.value.clone()}</td>
                                <td class="py-1.5 pr-3 whitespace-nowrap">{scope}</td>
                                <td class="py-1.5 pr-3 text-slate-800">{entry.reason.clone()}</td>
                                <td class="py-1.5 pr-3 whitespace-nowrap">{source}</td>
                                <td class="py-1.5 pr-3 whitespace-nowrap" title=entry.created_at.clone()>{short_utc(&entry.created_at, &today)} <span class="text-slate-600">{format!(" by {}", entry.added_by)}</span></td>
                                <td class="py-1.5 pr-3 whitespace-nowrap">
                                    {match (&entry.expires_at, entry.expired) {
                                        (None, _) => view! { <span class="text-slate-600">"never"</span> }.into_any(),
                                        (Some(at), true) => view! { <span class="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-700" title=at.clone()>"expired"</span> }.into_any(),
                                        (Some(at), false) => view! { <span title=at.clone()>{short_utc(at, &today)}</span> }.into_any(),
                                    }}
                                </td>
                                <td class="py-1.5 text-right">
                                    <button type="button" class=SMALL on:click=move |_| removing.set(Some(row.clone())) aria-label=format!("Remove {}", entry.value)>"Remove"</button>
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
fn AddEntryForm(list: String, kind: ListKind, on_added: Callback<String>) -> impl IntoView {
    let value = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let expires = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let value_field = NodeRef::<leptos::html::Input>::new();
    let list_name = StoredValue::new(list);
    let add =
        Action::new(move |(v, r, e): &(String, String, Option<chrono::DateTime<chrono::Utc>>)| add_list_entry(list_name.get_value(), v.clone(), r.clone(), *e));
    Effect::new(move |_| match add.value().get() {
        Some(Ok(stored)) => {
            error.set(None);
            value.set(String::new());
            on_added.run(format!("Added {stored}: it matches from now on."));
            if let Some(f) = value_field.get() {
                let _ = f.focus();
            }
        }
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // A date means the end of that day, UTC (as in an import).
        let expires_at = match expires.get_untracked().as_str() {
            "" => None,
            day => match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0)) {
                Some(at) => Some(at.and_utc()),
                None => {
                    error.set(Some("The expiry is not a date.".into()));
                    return;
                }
            },
        };
        add.dispatch((value.get_untracked(), reason.get_untracked(), expires_at));
    };
    let placeholder = KINDS.iter().find(|(k, _, _)| *k == kind).map_or("", |(_, _, p)| p);
    view! {
        <form class="mt-3 grid gap-2 rounded-lg bg-slate-50 p-3 sm:grid-cols-[2fr_2fr_10rem_auto] sm:items-end" on:submit=submit aria-label="Add an entry">
            <label class="text-sm text-slate-700">"Value"
                <input node_ref=value_field class=FIELD required maxlength="255" placeholder=placeholder prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))
                    aria-invalid=move || error.get().is_some().to_string() aria-describedby="add-entry-error" data-testid="entry-value" />
            </label>
            <label class="text-sm text-slate-700">"Reason"
                <input class=FIELD required maxlength="500" placeholder="Why it is on the list" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev)) data-testid="entry-reason" />
            </label>
            <label class="text-sm text-slate-700">"Expires (optional)"
                <input type="date" class=FIELD prop:value=move || expires.get() on:input=move |ev| expires.set(event_target_value(&ev)) data-testid="entry-expires" />
            </label>
            <button type="submit" class=PRIMARY disabled=move || add.pending().get() data-testid="entry-add">"Add"</button>
            <p id="add-entry-error" role="alert" class="text-sm text-rose-900 sm:col-span-4 empty:hidden" data-testid="entry-error">{move || error.get()}</p>
        </form>
    }
}

#[component]
fn RemoveDialog(list: String, removing: RwSignal<Option<ListEntryDto>>, on_removed: Callback<String>) -> impl IntoView {
    let list_name = StoredValue::new(list);
    let remove = Action::new(move |entry: &ListEntryDto| remove_list_entry(list_name.get_value(), entry.value.clone(), entry.merchant_id));
    let error = RwSignal::new(None::<String>);
    let confirm = NodeRef::<leptos::html::Button>::new();
    // Focus moves into the dialog when it opens, and back to where it was when it closes.
    Effect::new(move |opener: Option<Option<leptos::web_sys::HtmlElement>>| {
        use leptos::wasm_bindgen::JsCast;
        let opener = opener.flatten();
        if removing.get().is_some() {
            let opener = opener.or_else(|| leptos::prelude::document().active_element().and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok()));
            if let Some(button) = confirm.get() {
                let _ = button.focus();
            }
            opener
        } else {
            if let Some(element) = opener.filter(|e| e.is_connected()) {
                let _ = element.focus();
            }
            None
        }
    });
    Effect::new(move |_| match remove.value().get() {
        Some(Ok(removed)) => {
            let value = removing.get_untracked().map(|e| e.value).unwrap_or_default();
            removing.set(None);
            error.set(None);
            on_removed.run(if removed {
                format!("Removed {value}: it no longer matches. The audit log keeps it.")
            } else {
                format!("{value} was no longer in the list.")
            });
        }
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });
    move || {
        removing.get().map(|entry| {
            let scope = entry.merchant_id.map_or_else(|| "every merchant".to_string(), |id| format!("merchant {id}"));
            let target = entry.clone();
            view! {
                <div class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/40 p-4" on:keydown=move |ev| if ev.key() == "Escape" { removing.set(None) }>
                    <div role="dialog" aria-modal="true" aria-labelledby="remove-title" class="w-full max-w-md rounded-xl bg-white p-5 shadow-xl">
                        <h2 id="remove-title" class="text-lg font-semibold text-slate-900 break-all">{format!("Remove {}?", entry.value)}</h2>
                        <p class="mt-1 text-sm text-slate-700">{format!("From {} ({scope}). Transactions stop matching it at once; the audit log keeps who removed it and when.", list_name.get_value())}</p>
                        {move || error.get().map(|e| view! { <p role="alert" class="mt-2 text-sm text-rose-900">{e}</p> })}
                        <div class="mt-4 flex justify-end gap-2">
                            <button type="button" class=SECONDARY on:click=move |_| removing.set(None)>"Cancel"</button>
                            <button node_ref=confirm type="button" class=DANGER
                                disabled=move || remove.pending().get() on:click=move |_| { remove.dispatch(target.clone()); } data-testid="remove-confirm">"Remove"</button>
                        </div>
                    </div>
                </div>
            }
        })
    }
}

#[component]
fn ImportPanel(list: String, importing: RwSignal<bool>, on_done: Callback<String>) -> impl IntoView {
    let list_name = StoredValue::new(list);
    let csv = RwSignal::new(String::new());
    let file_name = RwSignal::new(None::<String>);
    let mode = RwSignal::new(ImportMode::Merge);
    let reason = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    // The preview of exactly what is in the fields now; any edit drops it.
    let preview = RwSignal::new(None::<ListImportSummary>);
    Effect::new(move |_| {
        csv.track();
        mode.track();
        reason.track();
        preview.set(None);
    });
    let run_preview = Action::new(move |(c, m, r): &(String, ImportMode, String)| preview_list_import(list_name.get_value(), c.clone(), *m, r.clone()));
    Effect::new(move |_| match run_preview.value().get() {
        Some(Ok(summary)) => {
            problem.set(None);
            preview.set(Some(summary));
        }
        Some(Err(e)) => problem.set(Some(e.to_string())),
        None => {}
    });
    let run_import = Action::new(move |(c, m, r, valid_only): &(String, ImportMode, String, bool)| {
        import_list(list_name.get_value(), c.clone(), *m, r.clone(), *valid_only)
    });
    Effect::new(move |_| match run_import.value().get() {
        Some(Ok(done)) => {
            importing.set(false);
            on_done.run(format!(
                "Imported: {} added, {} updated, {} unchanged, {} removed{}.",
                group_thousands(done.added),
                group_thousands(done.updated),
                group_thousands(done.unchanged),
                group_thousands(done.removed),
                if done.error_count > 0 { format!(", {} line(s) in error skipped", group_thousands(done.error_count)) } else { String::new() }
            ));
        }
        Some(Err(e)) => problem.set(Some(e.to_string())),
        None => {}
    });
    let on_file = move |ev: leptos::ev::Event| {
        use leptos::wasm_bindgen::JsCast;
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(file) = input.files().and_then(|files| files.get(0)) else { return };
        if file.size() > MAX_LIST_IMPORT_BYTES as f64 {
            problem.set(Some(format!("{} is larger than {} MB: split it into smaller files.", file.name(), MAX_LIST_IMPORT_BYTES / (1024 * 1024))));
            return;
        }
        problem.set(None);
        file_name.set(Some(file.name()));
        let text = file.text();
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(text).await {
                Ok(content) => csv.set(content.as_string().unwrap_or_default()),
                Err(_) => problem.set(Some("The file could not be read as text.".into())),
            }
        });
    };
    let busy = move || run_preview.pending().get() || run_import.pending().get();
    view! {
        <div class="mt-3 rounded-lg border border-indigo-200 bg-indigo-50/40 p-3" role="group" aria-labelledby="import-heading" data-testid="import-panel">
            <h3 id="import-heading" class="text-sm font-semibold text-slate-900">"Import a CSV"</h3>
            <p class="mt-1 text-xs text-slate-700">
                "Columns: " <code>"value,reason,expires_at,merchant_id"</code> " with that header, or " <code>"value,reason,expires_at"</code>
                " without one. A line without a reason takes the import's; an expiry is a date (2027-01-31) or a time. An export imports back as it was. Up to 8 MB and 200,000 lines."
            </p>
            <div class="mt-2 grid gap-3 sm:grid-cols-2">
                <label class="text-sm text-slate-700">"File"
                    <input type="file" accept=".csv,text/csv,text/plain" class="mt-1 block w-full text-sm" on:change=on_file data-testid="import-file" />
                </label>
                <label class="text-sm text-slate-700">"Reason for lines without one"
                    <input class=FIELD maxlength="500" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev)) data-testid="import-reason" />
                </label>
            </div>
            <label class="mt-2 block text-sm text-slate-700">{move || file_name.get().map_or_else(|| "Or paste the lines".to_string(), |n| format!("{n} — edit here to fix a line"))}
                <textarea rows="6" class=format!("{FIELD} font-mono text-xs") spellcheck="false" prop:value=move || csv.get() on:input=move |ev| csv.set(event_target_value(&ev)) data-testid="import-text"></textarea>
            </label>
            <fieldset class="mt-2 flex flex-wrap gap-4 text-sm text-slate-800">
                <legend class="sr-only">"What happens to the entries already in the list"</legend>
                <label class="flex items-center gap-1.5"><input type="radio" name="import-mode" checked=move || mode.get() == ImportMode::Merge on:change=move |_| mode.set(ImportMode::Merge) />"Merge: add and update, keep the rest"</label>
                <label class="flex items-center gap-1.5"><input type="radio" name="import-mode" checked=move || mode.get() == ImportMode::Replace on:change=move |_| mode.set(ImportMode::Replace) data-testid="import-replace" />"Replace: entries not in the file are removed"</label>
            </fieldset>
            <div class="mt-3 flex flex-wrap gap-2">
                <button type="button" class=SECONDARY disabled=move || busy() || csv.with(String::is_empty) data-testid="import-preview"
                    on:click=move |_| { run_preview.dispatch((csv.get_untracked(), mode.get_untracked(), reason.get_untracked())); }>"Preview"</button>
                <button type="button" class=SECONDARY on:click=move |_| importing.set(false)>"Cancel"</button>
            </div>
            {move || problem.get().map(|p| view! { <p role="alert" class="mt-2 text-sm text-rose-900" data-testid="import-problem">{p}</p> })}
            {move || preview.get().map(|summary| view! { <ImportPreview summary=summary mode=mode.get_untracked() busy=Signal::derive(busy)
                on_import=Callback::new(move |valid_only: bool| { run_import.dispatch((csv.get_untracked(), mode.get_untracked(), reason.get_untracked(), valid_only)); }) /> })}
        </div>
    }
}

#[component]
fn ImportPreview(summary: ListImportSummary, mode: ImportMode, busy: Signal<bool>, on_import: Callback<bool>) -> impl IntoView {
    let n = group_thousands;
    let clean = summary.error_count == 0;
    let writes = summary.added + summary.updated + summary.removed;
    view! {
        <div class="mt-3 rounded-md border border-slate-200 bg-white p-3" data-testid="import-summary" role="status">
            <p class="text-sm text-slate-800">
                {format!("{} entries in the file, {} valid: {} to add, {} to update, {} unchanged", n(summary.lines), n(summary.valid), n(summary.added), n(summary.updated), n(summary.unchanged))}
                {(mode == ImportMode::Replace).then(|| view! { <strong class="text-rose-900">{format!(", {} to remove (not in the file)", n(summary.removed))}</strong> })}
                "."
            </p>
            {(!clean).then(|| {
                let hidden = summary.error_count.saturating_sub(summary.errors.len() as u64);
                view! {
                    <p class="mt-2 text-sm font-medium text-rose-900">{format!("{} line(s) in error: nothing is imported until they are fixed, unless you import the valid lines only.", n(summary.error_count))}</p>
                    <div class="mt-1 max-h-64 overflow-auto" tabindex="0" role="region" aria-label="Lines in error">
                        <table class="w-full text-left text-sm">
                            <thead class="text-xs uppercase tracking-wide text-slate-600"><tr><th scope="col" class="pr-3">"Line"</th><th scope="col" class="pr-3">"Value"</th><th scope="col">"Problem"</th></tr></thead>
                            <tbody data-testid="import-errors">
                                {summary.errors.iter().map(|e| view! {
                                    <tr><td class="pr-3 tabular-nums">{e.line}</td><td class="pr-3 font-mono text-xs break-all">{e.value.clone()}</td><td class="text-rose-900">{e.message.clone()}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        {(hidden > 0).then(|| view! { <p class="text-xs text-slate-600">{format!("… and {} more.", n(hidden))}</p> })}
                    </div>
                }
            })}
            <div class="mt-3 flex flex-wrap gap-2">
                {if clean {
                    view! { <button type="button" class=PRIMARY disabled=move || busy.get() || writes == 0 on:click=move |_| on_import.run(false) data-testid="import-confirm">{format!("Import {} change(s)", n(writes))}</button> }.into_any()
                } else {
                    view! { <button type="button" class=SECONDARY disabled=move || busy.get() || summary.valid == 0 on:click=move |_| on_import.run(true) data-testid="import-valid-only">{format!("Import the {} valid lines only", n(summary.valid))}</button> }.into_any()
                }}
            </div>
        </div>
    }
}
