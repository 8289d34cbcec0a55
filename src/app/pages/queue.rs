//! The review queue: one line per case, filters and sort in the URL, keyset pages, counts per
//! status, a "N new cases" pill, bulk actions on a selection (`x`, shift-click, "select all N
//! matching"), and the keyboard (`j`/`k`, `Enter`/`o`, `n`, `x`, `/`, `?`).
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use leptos_router::NavigateOptions;

use crate::app::api::review::{assignees, bulk_cases, new_cases, next_case, queue_counts, queue_page, select_matching};
use crate::app::components::keys::{use_shortcuts, HelpOverlay, Kbd};
use crate::app::components::layout::RequireRole;
use crate::app::components::review::{age_text, assignee_options, risk_badge, sla_class, state_badge};
use crate::app::dto::{
    group_thousands, BulkAction, BulkOutcome, CaseRef, CaseStatusFilter, NextCase, QueueFilter, QueueRow, QueueSort, RiskState, Role, StatusCounts,
};
use crate::app::url::encode;

/// How often the queue asks whether new cases arrived.
#[cfg(feature = "hydrate")]
const NEW_CASES_POLL_SECS: u64 = 10;

/// The filter a URL's query carries; unknown or malformed values are ignored (the defaults stand).
pub fn filter_from_query(query: &ParamsMap) -> QueueFilter {
    let text = |name: &str| query.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    QueueFilter {
        status: text("status").and_then(|s| CaseStatusFilter::parse(&s)).unwrap_or_default(),
        sort: text("sort").and_then(|s| QueueSort::parse(&s)).unwrap_or_default(),
        rule: text("rule").map(|r| r.chars().take(100).collect()),
        merchant_id: text("merchant").and_then(|v| v.parse().ok()),
        risk_state: text("risk_state").and_then(|v| RiskState::parse(&v)),
        min_amount_usd: text("min_amount").and_then(|v| v.parse().ok()),
        max_amount_usd: text("max_amount").and_then(|v| v.parse().ok()),
        min_score: text("min_score").and_then(|v| v.parse().ok()),
        max_score: text("max_score").and_then(|v| v.parse().ok()),
        min_age_hours: text("min_age_hours").and_then(|v| v.parse().ok()),
        unclaimed: text("unclaimed").is_some_and(|v| v == "1"),
        mine: text("mine").is_some_and(|v| v == "1"),
        q: text("q").map(|q| q.chars().take(100).collect()),
    }
}

/// The query string for a filter (without the `?`); defaults are left out so URLs stay short.
pub fn filter_to_query(filter: &QueueFilter) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if filter.status != CaseStatusFilter::default() {
        pairs.push(("status", filter.status.as_str().into()));
    }
    if filter.sort != QueueSort::default() {
        pairs.push(("sort", filter.sort.as_str().into()));
    }
    if let Some(rule) = &filter.rule {
        pairs.push(("rule", rule.clone()));
    }
    let mut number = |name, value: Option<String>| {
        if let Some(value) = value {
            pairs.push((name, value));
        }
    };
    number("merchant", filter.merchant_id.map(|v| v.to_string()));
    number("risk_state", filter.risk_state.map(|v| v.as_str().to_string()));
    number("min_amount", filter.min_amount_usd.map(|v| v.to_string()));
    number("max_amount", filter.max_amount_usd.map(|v| v.to_string()));
    number("min_score", filter.min_score.map(|v| v.to_string()));
    number("max_score", filter.max_score.map(|v| v.to_string()));
    number("min_age_hours", filter.min_age_hours.map(|v| v.to_string()));
    if filter.unclaimed {
        pairs.push(("unclaimed", "1".into()));
    }
    if filter.mine {
        pairs.push(("mine", "1".into()));
    }
    if let Some(q) = &filter.q {
        pairs.push(("q", q.clone()));
    }
    pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

/// `/queue?…` for a filter.
pub fn queue_href(filter: &QueueFilter) -> String {
    let query = filter_to_query(filter);
    if query.is_empty() {
        "/queue".into()
    } else {
        format!("/queue?{query}")
    }
}

#[component]
pub fn QueuePage() -> impl IntoView {
    view! {
        <Title text="Review queue" />
        <RequireRole roles=&[Role::Reviewer, Role::Admin]>
            <Queue />
        </RequireRole>
    }
}

#[component]
fn Queue() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| filter_from_query(&query.get()));
    let navigate = use_navigate();

    // Pages loaded so far (the first from the resource, more appended by "Load more").
    let first = Resource::new(move || filter.get(), |filter| queue_page(filter, None));
    let counts = Resource::new(move || filter.get(), queue_counts);
    let more_rows = RwSignal::new(Vec::<QueueRow>::new());
    let next_cursor = RwSignal::new(None::<String>);
    let newest = RwSignal::new(0i64);
    let focused = RwSignal::new(0usize);
    let selected = RwSignal::new(Vec::<CaseRef>::new());
    let bulk_dialog = RwSignal::new(None::<BulkKind>);
    let status_line = RwSignal::new(String::new());
    let help = RwSignal::new(false);
    let new_count = RwSignal::new(0u64);

    // The cases listed, in order, for the keyboard (the table renders from the pages).
    let listed = RwSignal::new(Vec::<CaseRef>::new());
    Effect::new(move |_| {
        if let Some(Ok(page)) = first.get() {
            more_rows.set(Vec::new());
            listed.set(page.rows.iter().map(row_ref).collect());
            next_cursor.set(page.next_cursor.clone());
            newest.set(page.newest_case_id);
            new_count.set(0);
            focused.set(0);
        }
    });

    let load_more = Action::new(move |cursor: &String| {
        let (filter, cursor) = (filter.get_untracked(), cursor.clone());
        async move { queue_page(filter, Some(cursor)).await }
    });
    Effect::new(move |_| match load_more.value().get() {
        Some(Ok(page)) => {
            listed.update(|ids| ids.extend(page.rows.iter().map(row_ref)));
            more_rows.update(|rows| rows.extend(page.rows));
            next_cursor.set(page.next_cursor);
        }
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });

    // "N new cases": a poll while the page is open.
    #[cfg(feature = "hydrate")]
    {
        let poll = Action::new(move |_: &()| {
            let (filter, after) = (filter.get_untracked(), newest.get_untracked());
            async move { (after, new_cases(filter, after).await) }
        });
        Effect::new(move |_| {
            if let Some((after, Ok(n))) = poll.value().get() {
                if after == newest.get_untracked() {
                    new_count.set(n);
                }
            }
        });
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if newest.get_untracked() > 0 {
                    poll.dispatch(());
                }
            },
            std::time::Duration::from_secs(NEW_CASES_POLL_SECS),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = new_cases;

    let next = Action::new(move |_: &()| {
        let filter = filter.get_untracked();
        async move { next_case(filter).await }
    });
    let navigate_next = navigate.clone();
    Effect::new(move |_| match next.value().get() {
        Some(Ok(NextCase::Claimed { case_id })) => {
            navigate_next(&format!("/cases/{case_id}?from={}", encode(&filter_to_query(&filter.get_untracked()))), NavigateOptions::default())
        }
        Some(Ok(NextCase::Empty)) => status_line.set("No unclaimed case matches these filters.".into()),
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });

    let open_row = {
        let navigate = navigate.clone();
        move |index: usize| {
            if let Some(CaseRef { case_id, .. }) = listed.with_untracked(|ids| ids.get(index).copied()) {
                navigate(&format!("/cases/{case_id}?from={}", encode(&filter_to_query(&filter.get_untracked()))), NavigateOptions::default());
            }
        }
    };
    let search_input = NodeRef::<leptos::html::Input>::new();
    {
        let open_row = open_row.clone();
        use_shortcuts(move |key| {
            if help.get_untracked() {
                if key == "Escape" || key == "?" {
                    help.set(false);
                    return true;
                }
                return false;
            }
            if bulk_dialog.get_untracked().is_some() {
                if key == "Escape" {
                    bulk_dialog.set(None);
                    return true;
                }
                return false;
            }
            let count = listed.with_untracked(Vec::len);
            match key {
                "j" | "ArrowDown" if count > 0 => focused.update(|i| *i = (*i + 1).min(count - 1)),
                "k" | "ArrowUp" if count > 0 => focused.update(|i| *i = i.saturating_sub(1)),
                "Enter" | "o" => open_row(focused.get_untracked()),
                "n" => {
                    next.dispatch(());
                }
                "x" => {
                    if let Some(row) = listed.with_untracked(|ids| ids.get(focused.get_untracked()).copied()) {
                        toggle(selected, row);
                    }
                }
                "/" => {
                    if let Some(input) = search_input.get_untracked() {
                        if let Some(details) = input.closest("details").ok().flatten() {
                            let _ = details.set_attribute("open", "");
                        }
                        let _ = input.focus();
                    }
                }
                "?" => help.set(true),
                _ => return false,
            }
            true
        });
    }
    // The focused row stays in view and has the focus ring.
    Effect::new(move |_| {
        let index = focused.get();
        if let Some(element) = document().get_element_by_id(&format!("queue-row-{index}")) {
            use leptos::wasm_bindgen::JsCast;
            if let Ok(element) = element.dyn_into::<leptos::web_sys::HtmlElement>() {
                let _ = element.focus();
            }
        }
    });

    view! {
        <div class="flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold tracking-tight">"Review queue"</h1>
            <button
                type="button"
                class="ml-auto rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 focus-visible:ring-offset-2"
                on:click=move |_| {
                    next.dispatch(());
                }
                data-testid="next-case"
            >
                "Next case"
                <Kbd key="N" />
            </button>
            <button
                type="button"
                class="rounded-md border border-slate-300 px-3 py-2 text-sm font-medium text-slate-800 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600"
                on:click=move |_| help.set(true)
            >
                "Keys"
                <Kbd key="?" />
            </button>
        </div>
        <StatusTabs filter=filter counts=counts />
        <Filters filter=filter search_input=search_input />
        <BulkBar selected=selected filter=filter counts=counts dialog=bulk_dialog status_line=status_line on_done=move || {
            first.refetch();
            counts.refetch();
        } />
        <p role="status" class="mt-2 min-h-5 text-sm text-slate-700" data-testid="queue-status">
            {move || status_line.get()}
        </p>
        {move || {
            (new_count.get() > 0)
                .then(|| {
                    let n = new_count.get();
                    view! {
                        <button
                            type="button"
                            class="mb-2 rounded-full bg-indigo-50 px-3 py-1 text-sm font-medium text-indigo-800 ring-1 ring-indigo-200 hover:bg-indigo-100"
                            data-testid="new-cases"
                            on:click=move |_| first.refetch()
                        >
                            {if n == 1 { "1 new case — show".to_string() } else { format!("{} new cases — show", group_thousands(n)) }}
                        </button>
                    }
                })
        }}
        <section aria-labelledby="queue-table-heading" class="rounded-xl border border-slate-200 bg-white shadow-sm">
            <h2 id="queue-table-heading" class="sr-only">"Cases"</h2>
            <Suspense fallback=|| view! { <QueueSkeleton /> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Err(e) => view! { <p role="alert" class="p-4 text-sm text-rose-900">{e.to_string()}</p> }.into_any(),
                        Ok(page) => view! { <QueueTable first_rows=page.rows more_rows=more_rows focused=focused selected=selected listed=listed filter=filter /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        {move || {
            next_cursor
                .get()
                .map(|cursor| {
                    view! {
                        <button
                            type="button"
                            class="mt-3 rounded-md border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-800 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600"
                            on:click=move |_| {
                                load_more.dispatch(cursor.clone());
                            }
                            data-testid="load-more"
                        >
                            "Load 50 more"
                        </button>
                    }
                })
        }}
        <HelpOverlay open=help />
    }
}

#[component]
fn StatusTabs(filter: Memo<QueueFilter>, counts: Resource<Result<StatusCounts, crate::app::error::AppError>>) -> impl IntoView {
    let tab = move |status: CaseStatusFilter| {
        let count = move || {
            counts.get().and_then(Result::ok).map(|c| {
                let n = match status {
                    CaseStatusFilter::Open => c.open,
                    CaseStatusFilter::Claimed => c.claimed,
                    CaseStatusFilter::Escalated => c.escalated,
                    CaseStatusFilter::Resolved => c.resolved,
                    CaseStatusFilter::Unresolved => c.open + c.claimed + c.escalated,
                };
                if n > c.cap {
                    format!("{}+", group_thousands(c.cap))
                } else {
                    group_thousands(n)
                }
            })
        };
        let href = move || queue_href(&QueueFilter { status, ..filter.get() });
        let current = move || (filter.get().status == status).then_some("page");
        view! {
            <li>
                <a
                    href=href
                    aria-current=current
                    class="inline-flex items-center gap-2 rounded-md px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-100 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-800"
                    data-status=status.as_str()
                >
                    {status.label()}
                    <span class="min-w-8 rounded-full bg-slate-100 px-2 text-center text-xs tabular-nums text-slate-700" data-testid="status-count">
                        <Transition fallback=|| "…">{count}</Transition>
                    </span>
                </a>
            </li>
        }
    };
    view! {
        <nav aria-label="Case status" class="mt-4 overflow-x-auto">
            <ul class="flex gap-1 whitespace-nowrap">
                {CaseStatusFilter::ALL.into_iter().map(tab).collect_view()}
            </ul>
        </nav>
    }
}

/// The filter form: a plain GET form, so the filters land in the URL (shareable, back/forward).
#[component]
fn Filters(filter: Memo<QueueFilter>, search_input: NodeRef<leptos::html::Input>) -> impl IntoView {
    let field =
        "mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600";
    let label = "text-xs font-medium text-slate-700";
    view! {
        <details class="mt-3 rounded-xl border border-slate-200 bg-white px-4 py-3 shadow-sm" open=move || filter.get() != QueueFilter { status: filter.get().status, ..QueueFilter::default() }>
            <summary class="cursor-pointer text-sm font-semibold text-slate-900">"Filters and sort"</summary>
            {move || {
                let f = filter.get();
                let num = |v: Option<String>| v.unwrap_or_default();
                view! {
                    <form method="get" action="/queue" class="mt-3 grid grid-cols-2 gap-3 sm:grid-cols-4 lg:grid-cols-6" data-testid="queue-filters">
                        <input type="hidden" name="status" value=f.status.as_str() />
                        <label class=format!("{label} col-span-2")>
                            "Search (merchant, buyer email, external id, card)"
                            <input node_ref=search_input class=field type="search" name="q" minlength="3" maxlength="100" value=f.q.clone().unwrap_or_default() placeholder="e.g. mailinator or fp_3fa2" data-testid="queue-search" />
                        </label>
                        <label class=label>
                            "Rule matched"
                            <input class=field type="text" name="rule" maxlength="100" value=f.rule.clone().unwrap_or_default() placeholder="e.g. Disposable email" />
                        </label>
                        <label class=label>
                            "Sort"
                            <select class=field name="sort">
                                {QueueSort::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=f.sort == s>{s.label()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label class=label>
                            "Merchant state"
                            <select class=field name="risk_state">
                                <option value="" selected=f.risk_state.is_none()>"Any"</option>
                                {RiskState::ALL
                                    .into_iter()
                                    .map(|s| view! { <option value=s.as_str() selected=f.risk_state == Some(s)>{s.label()}</option> })
                                    .collect_view()}
                            </select>
                        </label>
                        <label class=label>
                            "Merchant id"
                            <input class=field type="number" name="merchant" min="1" value=num(f.merchant_id.map(|v| v.to_string())) />
                        </label>
                        <label class=label>
                            "Amount from (USD)"
                            <input class=field type="number" name="min_amount" min="0" value=num(f.min_amount_usd.map(|v| v.to_string())) />
                        </label>
                        <label class=label>
                            "Amount to (USD)"
                            <input class=field type="number" name="max_amount" min="0" value=num(f.max_amount_usd.map(|v| v.to_string())) />
                        </label>
                        <label class=label>
                            "Score from"
                            <input class=field type="number" name="min_score" min="0" max="1000" step="any" value=num(f.min_score.map(|v| v.to_string())) />
                        </label>
                        <label class=label>
                            "Score to"
                            <input class=field type="number" name="max_score" min="0" max="1000" step="any" value=num(f.max_score.map(|v| v.to_string())) />
                        </label>
                        <label class=label>
                            "Waiting at least (hours)"
                            <input class=field type="number" name="min_age_hours" min="0" max="8760" value=num(f.min_age_hours.map(|v| v.to_string())) />
                        </label>
                        <label class="flex items-center gap-2 self-end text-sm text-slate-800">
                            <input type="checkbox" name="unclaimed" value="1" checked=f.unclaimed />
                            "Unclaimed only"
                        </label>
                        <label class="flex items-center gap-2 self-end text-sm text-slate-800">
                            <input type="checkbox" name="mine" value="1" checked=f.mine />
                            "Mine only"
                        </label>
                        <div class="flex items-end gap-2">
                            <button type="submit" class="rounded-md bg-slate-800 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-900 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600">
                                "Apply"
                            </button>
                            <a href=queue_href(&QueueFilter { status: f.status, ..QueueFilter::default() }) class="rounded-md px-2 py-1.5 text-sm text-indigo-700 underline">
                                "Clear"
                            </a>
                        </div>
                    </form>
                }
            }}
        </details>
    }
}

fn row_ref(row: &QueueRow) -> CaseRef {
    CaseRef { case_id: row.case_id, version: row.version }
}

/// Adds the case to the selection, or takes it out.
fn toggle(selected: RwSignal<Vec<CaseRef>>, case: CaseRef) {
    selected.update(|s| match s.iter().position(|c| c.case_id == case.case_id) {
        Some(at) => {
            s.remove(at);
        }
        None => s.push(case),
    });
}

/// Which bulk action the confirmation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BulkKind {
    Approve,
    Escalate,
    Release,
    Assign,
}

impl BulkKind {
    fn verb(self) -> &'static str {
        match self {
            BulkKind::Approve => "Approve",
            BulkKind::Escalate => "Escalate",
            BulkKind::Release => "Release",
            BulkKind::Assign => "Assign",
        }
    }

    fn past(self) -> &'static str {
        match self {
            BulkKind::Approve => "Approved",
            BulkKind::Escalate => "Escalated",
            BulkKind::Release => "Released",
            BulkKind::Assign => "Assigned",
        }
    }
}

/// What a bulk action did, in one sentence a reviewer can act on.
fn bulk_summary(kind: BulkKind, outcome: &BulkOutcome) -> String {
    let done = outcome.applied.len();
    let mut text = format!("{} {} case{}.", kind.past(), group_thousands(done as u64), if done == 1 { "" } else { "s" });
    if !outcome.skipped.is_empty() {
        let shown: Vec<String> = outcome.skipped.iter().take(5).map(|s| s.reason.clone()).collect();
        let more = outcome.skipped.len().saturating_sub(5);
        text.push_str(&format!(" {} left alone: {}", outcome.skipped.len(), shown.join(" ")));
        if more > 0 {
            text.push_str(&format!(" …and {more} more."));
        }
    }
    text
}

/// The selection's actions: approve, escalate, release, assign (admins), after a confirmation that
/// names the count. Each case is applied at the version the reviewer saw; the answer lists the
/// cases left alone and why.
#[component]
fn BulkBar(
    selected: RwSignal<Vec<CaseRef>>,
    filter: Memo<QueueFilter>,
    counts: Resource<Result<StatusCounts, crate::app::error::AppError>>,
    dialog: RwSignal<Option<BulkKind>>,
    status_line: RwSignal<String>,
    on_done: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let admin = crate::app::use_current_user().get_untracked().is_some_and(|u| u.role == Role::Admin);
    let note = RwSignal::new(String::new());
    let assign_to = RwSignal::new(String::new());
    let confirm = NodeRef::<leptos::html::Button>::new();
    let load_assignees = Action::new(|_: &()| assignees());
    let apply = Action::new(move |(kind, action): &(BulkKind, BulkAction)| {
        let (kind, action, cases) = (*kind, action.clone(), selected.get_untracked());
        async move { (kind, bulk_cases(action, cases).await) }
    });
    Effect::new(move |_| match apply.value().get() {
        Some((kind, Ok(outcome))) => {
            dialog.set(None);
            selected.set(Vec::new());
            note.set(String::new());
            status_line.set(bulk_summary(kind, &outcome));
            on_done();
        }
        Some((_, Err(e))) => status_line.set(e.to_string()),
        None => {}
    });
    let select_all = Action::new(move |_: &()| select_matching(filter.get_untracked()));
    Effect::new(move |_| match select_all.value().get() {
        Some(Ok(refs)) => {
            let n = refs.len();
            selected.set(refs);
            status_line.set(if n as u64 >= MAX_BULK_SELECTION {
                format!("The first {} matching cases are selected (a bulk action takes at most that many).", group_thousands(n as u64))
            } else {
                format!("All {} matching cases are selected.", group_thousands(n as u64))
            });
        }
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });
    Effect::new(move |_| {
        if let Some(kind) = dialog.get() {
            if kind == BulkKind::Assign && load_assignees.value().get_untracked().is_none() {
                load_assignees.dispatch(());
            }
            if let Some(button) = confirm.get() {
                let _ = button.focus();
            }
        }
    });
    let matching = move || {
        counts.get().and_then(Result::ok).map(|c| {
            let f = filter.get();
            match f.status {
                CaseStatusFilter::Open => c.open,
                CaseStatusFilter::Claimed => c.claimed,
                CaseStatusFilter::Escalated => c.escalated,
                CaseStatusFilter::Resolved => c.resolved,
                CaseStatusFilter::Unresolved => c.open + c.claimed + c.escalated,
            }
        })
    };
    let send = move || {
        let Some(kind) = dialog.get_untracked() else { return };
        let action = match kind {
            BulkKind::Approve => BulkAction::Approve,
            BulkKind::Escalate => BulkAction::Escalate { note: note.get_untracked() },
            BulkKind::Release => BulkAction::Release,
            BulkKind::Assign => match assign_to.get_untracked().parse::<i32>() {
                Ok(user_id) => BulkAction::Assign { user_id },
                Err(_) => {
                    status_line.set("Choose whom to assign the cases to.".into());
                    return;
                }
            },
        };
        apply.dispatch((kind, action));
    };
    let button = "rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600";
    let field =
        "mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600";
    view! {
        <Show when=move || !selected.with(Vec::is_empty)>
            <div role="region" aria-label="Bulk actions" class="mt-3 flex flex-wrap items-center gap-2 rounded-xl border border-indigo-200 bg-indigo-50 px-4 py-2" data-testid="bulk-bar">
                <span class="text-sm font-semibold text-indigo-950" data-testid="selected-count">
                    {move || format!("{} selected", group_thousands(selected.with(Vec::len) as u64))}
                </span>
                {move || {
                    matching()
                        .filter(|n| *n > selected.with(Vec::len) as u64 && filter.get().q.is_none())
                        .map(|n| {
                            view! {
                                <button type="button" class="text-sm text-indigo-800 underline" on:click=move |_| {
                                    select_all.dispatch(());
                                } data-testid="select-all-matching">
                                    {format!("Select all {} matching", group_thousands(n.min(MAX_BULK_SELECTION)))}
                                </button>
                            }
                        })
                }}
                <span class="ml-auto flex flex-wrap gap-2">
                    <button type="button" class=button on:click=move |_| dialog.set(Some(BulkKind::Approve)) data-testid="bulk-approve">"Approve"</button>
                    <button type="button" class=button on:click=move |_| dialog.set(Some(BulkKind::Escalate)) data-testid="bulk-escalate">"Escalate"</button>
                    <button type="button" class=button on:click=move |_| dialog.set(Some(BulkKind::Release)) data-testid="bulk-release">"Release"</button>
                    {admin.then(|| view! { <button type="button" class=button on:click=move |_| dialog.set(Some(BulkKind::Assign)) data-testid="bulk-assign">"Assign…"</button> })}
                    <button type="button" class="rounded-md px-3 py-1.5 text-sm text-indigo-800 hover:bg-indigo-100" on:click=move |_| selected.set(Vec::new())>"Clear"</button>
                </span>
            </div>
        </Show>
        <Show when=move || dialog.get().is_some()>
            <div class="fixed inset-0 z-30 flex items-start justify-center bg-slate-900/40 p-4 pt-16">
                <form
                    role="dialog"
                    aria-modal="true"
                    aria-labelledby="bulk-title"
                    class="w-full max-w-md rounded-xl bg-white p-6 shadow-xl"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        send();
                    }
                    data-testid="bulk-dialog"
                >
                    <h2 id="bulk-title" class="text-lg font-semibold">
                        {move || {
                            let n = selected.with(Vec::len);
                            format!("{} {} case{}?", dialog.get().map_or("", BulkKind::verb), group_thousands(n as u64), if n == 1 { "" } else { "s" })
                        }}
                    </h2>
                    <p class="mt-2 text-sm text-slate-700">
                        {move || match dialog.get() {
                            Some(BulkKind::Approve) => "Each is resolved as a false positive and its payment goes through.",
                            Some(BulkKind::Escalate) => "Each goes to the admins with this note.",
                            Some(BulkKind::Release) => "Each claim ends; the cases go back to the queue.",
                            Some(BulkKind::Assign) => "Each is claimed for the person you choose.",
                            None => "",
                        }}
                        " A case that changed since you saw it is left alone and named."
                    </p>
                    <Show when=move || dialog.get() == Some(BulkKind::Escalate)>
                        <label class="mt-3 block text-sm font-medium text-slate-900">
                            "Note (required)"
                            <textarea class=field rows="3" maxlength="2000" prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev)) data-testid="bulk-note"></textarea>
                        </label>
                    </Show>
                    <Show when=move || dialog.get() == Some(BulkKind::Assign)>
                        <label class="mt-3 block text-sm font-medium text-slate-900">
                            "Assign to"
                            <select class=field on:change=move |ev| assign_to.set(event_target_value(&ev)) data-testid="bulk-assign-to">
                                <option value="">"Choose a person…"</option>
                                {move || assignee_options(load_assignees.value().get())}
                            </select>
                        </label>
                    </Show>
                    <div class="mt-4 flex justify-end gap-2">
                        <button type="button" class="rounded-md px-3 py-2 text-sm text-slate-800 hover:bg-slate-100" on:click=move |_| dialog.set(None)>"Cancel"</button>
                        <button
                            node_ref=confirm
                            type="submit"
                            disabled=move || apply.pending().get()
                            class="rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 focus-visible:ring-offset-2 disabled:opacity-50"
                            data-testid="bulk-confirm"
                        >
                            {move || format!("{} {}", dialog.get().map_or("", BulkKind::verb), group_thousands(selected.with(Vec::len) as u64))}
                        </button>
                    </div>
                </form>
            </div>
        </Show>
    }
}

/// "Select all N matching" takes at most this many (the server's bulk limit).
const MAX_BULK_SELECTION: u64 = 1_000;

#[component]
fn QueueTable(
    first_rows: Vec<QueueRow>,
    more_rows: RwSignal<Vec<QueueRow>>,
    focused: RwSignal<usize>,
    selected: RwSignal<Vec<CaseRef>>,
    listed: RwSignal<Vec<CaseRef>>,
    filter: Memo<QueueFilter>,
) -> impl IntoView {
    // Where the last click on a checkbox was: a shift-click selects from there.
    let anchor = RwSignal::new(None::<usize>);
    let th = "sticky top-0 bg-slate-50 px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-700";
    if first_rows.is_empty() {
        return view! {
            <p class="p-6 text-sm text-slate-700" data-testid="queue-empty">
                "No cases match. Rules open a case when a transaction is held for review — see "
                <a class="text-indigo-700 underline" href="/admin/rules">"Rules"</a>
                "."
            </p>
        }
        .into_any();
    }
    let offset = first_rows.len();
    view! {
        <div class="overflow-x-auto">
            <table class="min-w-full text-sm" data-testid="queue-table">
                <thead>
                    <tr>
                        <th class=th scope="col"><span class="sr-only">"Selected"</span></th>
                        <th class=th scope="col">"Age"</th>
                        <th class=format!("{th} hidden text-right md:table-cell") scope="col">"Priority"</th>
                        <th class=format!("{th} text-right") scope="col">"Amount"</th>
                        <th class=th scope="col">"Merchant"</th>
                        <th class=th scope="col">"Buyer"</th>
                        <th class=th scope="col">"Rules"</th>
                        <th class=format!("{th} text-right") scope="col">"Score"</th>
                        <th class=th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {first_rows
                        .into_iter()
                        .enumerate()
                        .map(|(index, row)| view! { <QueueLine index=index row=row focused=focused selected=selected listed=listed anchor=anchor filter=filter /> })
                        .collect_view()}
                    <For each=move || more_rows.get().into_iter().enumerate() key=|(i, row)| (*i, row.case_id) let:item>
                        <QueueLine index=offset + item.0 row=item.1 focused=focused selected=selected listed=listed anchor=anchor filter=filter />
                    </For>
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn QueueLine(
    index: usize,
    row: QueueRow,
    focused: RwSignal<usize>,
    selected: RwSignal<Vec<CaseRef>>,
    listed: RwSignal<Vec<CaseRef>>,
    anchor: RwSignal<Option<usize>>,
    filter: Memo<QueueFilter>,
) -> impl IntoView {
    let case_id = row.case_id;
    let this = row_ref(&row);
    let is_selected = move || selected.with(|s| s.iter().any(|c| c.case_id == case_id));
    // A shift-click sets every row between the last clicked one and this one as this one becomes.
    let click = move |ev: leptos::ev::MouseEvent| {
        let from = anchor.get_untracked();
        anchor.set(Some(index));
        match from.filter(|_| ev.shift_key()) {
            Some(from) => {
                let select = !is_selected();
                let range = listed.with_untracked(|ids| ids.get(from.min(index)..=from.max(index)).map(<[CaseRef]>::to_vec).unwrap_or_default());
                selected.update(|s| {
                    s.retain(|c| !range.iter().any(|r| r.case_id == c.case_id));
                    if select {
                        s.extend(range);
                    }
                });
            }
            None => toggle(selected, this),
        }
    };
    let href = move || format!("/cases/{case_id}?from={}", encode(&filter_to_query(&filter.get())));
    let td = "px-3 py-2 align-top";
    view! {
        <tr
            id=format!("queue-row-{index}")
            tabindex="-1"
            data-case-id=case_id
            data-focused=move || if focused.get() == index { "true" } else { "false" }
            class="hover:bg-slate-50 focus:outline-none data-[focused=true]:bg-indigo-50/60 data-[focused=true]:outline-2 data-[focused=true]:-outline-offset-2 data-[focused=true]:outline-indigo-600"
            on:click=move |_| focused.set(index)
        >
            <td class=td>
                <input
                    type="checkbox"
                    aria-label=format!("Select case {case_id}")
                    prop:checked=is_selected
                    on:click=click
                    data-testid="select-case"
                />
            </td>
            <td class=td>
                <span class=format!("whitespace-nowrap rounded px-1.5 py-0.5 text-xs font-medium tabular-nums {}", sla_class(row.sla)) title=row.opened_at.clone()>
                    {age_text(row.age_minutes)}
                </span>
            </td>
            <td class=format!("{td} hidden text-right tabular-nums md:table-cell")>{group_thousands((row.priority.max(0) / 100) as u64)}</td>
            <td class=format!("{td} whitespace-nowrap text-right tabular-nums")>{row.amount.display()}</td>
            <td class=format!("{td} min-w-40")>
                <a href=href class="font-medium text-indigo-700 underline-offset-2 hover:underline" data-testid="case-link">
                    {row.merchant_name.clone()}
                </a>
                <div class="mt-0.5">{risk_badge(row.merchant_state)}</div>
            </td>
            <td class=format!("{td} max-w-56 truncate") title=row.buyer_email.clone()>{row.buyer_email.clone()}</td>
            <td class=format!("{td} min-w-40 max-w-64 text-slate-700")>{row.matched_rules.join(", ")}</td>
            <td class=format!("{td} text-right tabular-nums")>{format!("{:.0}", row.score)}</td>
            <td class=td>{state_badge(&row.state, row.escalated)}</td>
        </tr>
    }
}

#[component]
fn QueueSkeleton() -> impl IntoView {
    view! {
        <div role="status" aria-live="polite" class="animate-pulse space-y-3 p-4" data-skeleton="">
            <span class="sr-only">"Loading cases…"</span>
            {(0..10).map(|_| view! { <div aria-hidden="true" class="h-6 rounded bg-slate-100"></div> }).collect_view()}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_survives_its_url() {
        let filter = QueueFilter {
            status: CaseStatusFilter::Escalated,
            sort: QueueSort::Amount,
            rule: Some("Disposable email & co".into()),
            merchant_id: Some(7),
            risk_state: Some(RiskState::OnProbation),
            min_amount_usd: Some(10),
            max_amount_usd: Some(500),
            min_score: Some(50.5),
            max_score: None,
            min_age_hours: Some(3),
            unclaimed: true,
            mine: false,
            q: Some("fp_3fa2 &x".into()),
        };
        let query = filter_to_query(&filter);
        let mut map = ParamsMap::new();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap();
            let v = crate::app::url::decode(v);
            map.insert(k.to_string(), v);
        }
        assert_eq!(filter_from_query(&map), filter);
        assert_eq!(queue_href(&QueueFilter::default()), "/queue");
    }

    #[test]
    fn malformed_values_fall_back_to_defaults() {
        let mut map = ParamsMap::new();
        map.insert("status".to_string(), "nope".to_string());
        map.insert("min_score".to_string(), "high".to_string());
        map.insert("merchant".to_string(), "-x".to_string());
        assert_eq!(filter_from_query(&map), QueueFilter::default());
    }
}
