//! The case page, `/cases/:id`: opening it claims the case when it is free. Everything a reviewer
//! needs to decide without leaving: the transaction, every rule's result and the facts, the
//! merchant and its PayPal account, related activity across merchants, the timeline and notes.
//! Decisions by keyboard (`a`, `t`, `r`, `f`, `c`, `e`, `m`, `u`, `n`), each followed by the next
//! case at once: the decision's own request claims and reads it (submit & next).
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_router::NavigateOptions;

use crate::app::api::review::{add_note, assign_case, assignees, decide_case, merchant_action, next_case, open_case, release_case, renew_claim};
use crate::app::components::keys::{use_shortcuts, HelpOverlay, Kbd};
use crate::app::components::layout::RequireRole;
use crate::app::components::review::{assignee_options, risk_badge, sla_class, sla_label, state_badge, MERCHANT_ACTIONS};
use crate::app::dto::{
    describe_age, group_thousands, CaseAction, CaseDetail, CasePaypal, CaseRef, CaseState, DecideCase, Decided, Disposition, NextCase, Role,
};
use crate::app::error::AppError;
use crate::app::pages::queue::{filter_from_query, queue_href};
use crate::app::url::{decode, encode};

/// How often an open case page renews its claim (the lease is 10 minutes by default).
const RENEW_EVERY_SECS: u64 = 120;

#[component]
pub fn CasePage() -> impl IntoView {
    view! {
        <Title text="Case" />
        <RequireRole roles=&[Role::Reviewer, Role::Admin]>
            <Case />
        </RequireRole>
    }
}

/// Which dialog is open over the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialog {
    Fraud(Disposition),
    /// Approve, and trust the buyer at this merchant.
    Trust,
    Escalate,
    Merchant,
    /// Admins: give the case to someone.
    Assign,
}

#[component]
fn Case() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    // None: the address does not hold a case number (`/cases/abc`).
    let case_id = Memo::new(move |_| params.get().get("id").and_then(|id| id.parse::<i64>().ok()).filter(|id| *id > 0));
    // The queue's filters the reviewer came from: "next" takes the next case under them.
    let from = Memo::new(move |_| {
        let raw = query.get().get("from").unwrap_or_default();
        let mut map = leptos_router::params::ParamsMap::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(k.to_string(), decode(v));
        }
        filter_from_query(&map)
    });
    // The next case as the last decision's answer brought it: shown without another request.
    let prefetched = StoredValue::new(None::<CaseDetail>);
    let case = Resource::new(
        move || case_id.get(),
        move |id: Option<i64>| {
            let ready = prefetched.try_update_value(Option::take).flatten().filter(|c| Some(c.case_id) == id);
            async move {
                match (ready, id) {
                    (Some(detail), _) => Ok(detail),
                    (None, Some(id)) => open_case(id).await,
                    (None, None) => Err(AppError::NotFound("That address does not name a case: case numbers are whole numbers, e.g. /cases/42.".into())),
                }
            }
        },
    );
    let status_line = RwSignal::new(String::new());
    let dialog = RwSignal::new(None::<Dialog>);
    let help = RwSignal::new(false);
    let navigate = use_navigate();

    let current = move || case.get().and_then(Result::ok);

    // Next case under the same filters, or back to the queue when there is none.
    let next = Action::new(move |_: &()| {
        let filter = from.get_untracked();
        async move { next_case(filter).await }
    });
    {
        let navigate = navigate.clone();
        Effect::new(move |_| match next.value().get() {
            Some(Ok(NextCase::Claimed { case_id })) => {
                let query = crate::app::pages::queue::filter_to_query(&from.get_untracked());
                navigate(&format!("/cases/{case_id}?from={}", encode(&query)), NavigateOptions::default());
            }
            Some(Ok(NextCase::Empty)) => status_line.set("That was the last case matching your filters. Back to the queue to choose others.".into()),
            Some(Err(e)) => status_line.set(e.to_string()),
            None => {}
        });
    }

    let decide = Action::new(move |decision: &DecideCase| {
        let (decision, filter) = (decision.clone(), from.get_untracked());
        async move { decide_case(decision, Some(filter)).await }
    });
    {
        let navigate = navigate.clone();
        Effect::new(move |_| match decide.value().get() {
            Some(Ok(Decided { next: Some(detail) })) => {
                dialog.set(None);
                status_line.set(String::new());
                let query = crate::app::pages::queue::filter_to_query(&from.get_untracked());
                let href = format!("/cases/{}?from={}", detail.case_id, encode(&query));
                prefetched.set_value(Some(detail));
                navigate(&href, NavigateOptions::default());
            }
            Some(Ok(Decided { next: None })) => {
                dialog.set(None);
                status_line.set("Saved. That was the last case matching your filters — back to the queue to choose others.".into());
                case.refetch();
            }
            Some(Err(e)) => status_line.set(e.to_string()),
            None => {}
        });
    }

    let release = Action::new(move |(case_id, version): &(i64, i32)| {
        let (case_id, version) = (*case_id, *version);
        async move { release_case(case_id, version).await }
    });
    {
        let navigate = navigate.clone();
        Effect::new(move |_| match release.value().get() {
            Some(Ok(())) => navigate(&queue_href(&from.get_untracked()), NavigateOptions::default()),
            Some(Err(e)) => status_line.set(e.to_string()),
            None => {}
        });
    }

    // Keep the claim while the page is open.
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(
            move || {
                let held = case.get_untracked().and_then(Result::ok).filter(|c| c.held_by_me).map(|c| c.case_id);
                if let Some(id) = held {
                    leptos::task::spawn_local(async move {
                        if let Ok(false) = renew_claim(id).await {
                            status_line.set("Your claim on this case lapsed; reload to see who holds it now.".into());
                        }
                    });
                }
            },
            std::time::Duration::from_secs(RENEW_EVERY_SECS),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (renew_claim, RENEW_EVERY_SECS);

    let quick = move |action: CaseAction| {
        if let Some(c) = current() {
            decide.dispatch(DecideCase::plain(c.case_id, c.version, action, String::new()));
        }
    };
    let heading = NodeRef::<leptos::html::H1>::new();
    use_shortcuts(move |key| {
        if help.get_untracked() {
            if key == "Escape" || key == "?" {
                help.set(false);
                return true;
            }
            return false;
        }
        if dialog.get_untracked().is_some() {
            if key == "Escape" {
                dialog.set(None);
                return true;
            }
            return false;
        }
        let held = current().is_some_and(|c| c.held_by_me);
        match key {
            "?" => help.set(true),
            "n" => {
                next.dispatch(());
            }
            "a" if held => quick(CaseAction::Resolve(Disposition::Approved)),
            "t" if held => dialog.set(Some(Dialog::Trust)),
            "r" if held => quick(CaseAction::Resolve(Disposition::Refunded)),
            "f" if held => dialog.set(Some(Dialog::Fraud(Disposition::RefundedAsFraud))),
            "c" if held => dialog.set(Some(Dialog::Fraud(Disposition::ConfirmedFraud))),
            "e" if held => dialog.set(Some(Dialog::Escalate)),
            "m" => dialog.set(Some(Dialog::Merchant)),
            "u" if held => {
                if let Some(c) = current() {
                    release.dispatch((c.case_id, c.version));
                }
            }
            "a" | "t" | "r" | "f" | "c" | "e" | "u" => status_line.set("You don't hold this case: only its holder decides it.".into()),
            _ => return false,
        }
        true
    });
    // A newly opened case puts the focus on its heading (screen readers announce it).
    Effect::new(move |_| {
        if case.get().is_some() {
            if let Some(h1) = heading.get() {
                let _ = h1.focus();
            }
        }
    });

    view! {
        <p class="text-sm">
            <a class="text-indigo-700 underline" href=move || queue_href(&from.get())>"← Queue"</a>
        </p>
        <Suspense fallback=|| view! { <CaseSkeleton /> }>
            {move || Suspend::new(async move {
                match case.await {
                    Err(e) => view! { <p role="alert" class="mt-4 rounded-md border border-rose-200 bg-rose-50 p-4 text-rose-900">{e.to_string()}</p> }.into_any(),
                    Ok(c) => {
                        let version = c.version;
                        view! {
                            <CaseHeader case=c.clone() heading=heading />
                            <ActionBar case=c.clone() dialog=dialog decide=decide release=release next=next version=version />
                            <p role="status" class="mt-2 min-h-5 text-sm text-slate-800" data-testid="case-status">{move || status_line.get()}</p>
                            <CaseBody case=c.clone() />
                            <DecisionDialog case=c dialog=dialog decide=decide status_line=status_line on_merchant_change=move || case.refetch() />
                        }
                        .into_any()
                    }
                }
            })}
        </Suspense>
        <HelpOverlay open=help />
    }
}

#[component]
fn CaseHeader(case: CaseDetail, heading: NodeRef<leptos::html::H1>) -> impl IntoView {
    let read_only = match &case.state {
        CaseState::Claimed { claim } if !case.held_by_me => Some(format!(
            "{} holds this case until {} UTC: you can read it and add notes; they decide it.",
            claim.name,
            claim.lease_until.get(11..16).unwrap_or("")
        )),
        CaseState::Open if case.escalated => Some("Escalated to the admins: an admin decides it.".into()),
        CaseState::Resolved { .. } => Some("This case is resolved; its record cannot change.".into()),
        _ => None,
    };
    view! {
        <div class="mt-2 flex flex-wrap items-center gap-3">
            <h1 node_ref=heading tabindex="-1" class="text-2xl font-semibold tracking-tight focus:outline-none" data-testid="case-heading">
                {format!("Case {}", case.case_id)}
            </h1>
            {state_badge(&case.state, case.escalated)}
            <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {}", sla_class(case.sla)) title=case.opened_at.clone()>
                {format!("Opened {}", case.opened_at.get(0..16).unwrap_or("").replace('T', " "))} " UTC · " {sla_label(case.sla)}
            </span>
            <span class="text-sm text-slate-700 tabular-nums">{format!("Priority {}", group_thousands((case.priority.max(0) / 100) as u64))}</span>
        </div>
        {read_only.map(|text| view! { <p class="mt-3 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-950" data-testid="read-only">{text}</p> })}
    }
}

#[component]
fn ActionBar(
    case: CaseDetail,
    dialog: RwSignal<Option<Dialog>>,
    decide: Action<DecideCase, Result<Decided, AppError>>,
    release: Action<(i64, i32), Result<(), AppError>>,
    next: Action<(), Result<NextCase, AppError>>,
    version: i32,
) -> impl IntoView {
    let button = "inline-flex items-center rounded-md px-3 py-2 text-sm font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 focus-visible:ring-offset-2 disabled:opacity-50";
    let primary = format!("{button} bg-indigo-600 text-white hover:bg-indigo-700");
    let secondary = format!("{button} border border-slate-300 bg-white text-slate-800 hover:bg-slate-50");
    let danger = format!("{button} bg-rose-700 text-white hover:bg-rose-800");
    let case_id = case.case_id;
    let quick = move |d: Disposition| {
        decide.dispatch(DecideCase::plain(case_id, version, CaseAction::Resolve(d), String::new()));
    };
    let pending = decide.pending();
    let admin = crate::app::use_current_user().get_untracked().is_some_and(|u| u.role == Role::Admin);
    let resolved = matches!(case.state, CaseState::Resolved { .. });
    view! {
        <div class="mt-4 flex flex-wrap gap-2" role="toolbar" aria-label="Decide this case">
            {case
                .held_by_me
                .then(|| {
                    view! {
                        <button type="button" class=primary.clone() disabled=pending on:click=move |_| quick(Disposition::Approved) data-testid="approve">
                            "Approve"
                            <Kbd key="A" />
                        </button>
                        <button type="button" class=secondary.clone() on:click=move |_| dialog.set(Some(Dialog::Trust)) data-testid="approve-trust">
                            "Approve & trust buyer"
                            <Kbd key="T" />
                        </button>
                        <button type="button" class=secondary.clone() disabled=pending on:click=move |_| quick(Disposition::Refunded)>
                            "Refund"
                            <Kbd key="R" />
                        </button>
                        <button type="button" class=danger.clone() on:click=move |_| dialog.set(Some(Dialog::Fraud(Disposition::RefundedAsFraud)))>
                            "Refund as fraud"
                            <Kbd key="F" />
                        </button>
                        <button type="button" class=danger.clone() on:click=move |_| dialog.set(Some(Dialog::Fraud(Disposition::ConfirmedFraud)))>
                            "Confirmed fraud"
                            <Kbd key="C" />
                        </button>
                        <button type="button" class=secondary.clone() on:click=move |_| dialog.set(Some(Dialog::Escalate))>
                            "Escalate"
                            <Kbd key="E" />
                        </button>
                        <button type="button" class=secondary.clone() on:click=move |_| {
                            release.dispatch((case_id, version));
                        }>
                            "Release"
                            <Kbd key="U" />
                        </button>
                    }
                })}
            <button type="button" class=secondary.clone() on:click=move |_| dialog.set(Some(Dialog::Merchant))>
                "Merchant action"
                <Kbd key="M" />
            </button>
            {(admin && !resolved)
                .then(|| {
                    view! {
                        <button type="button" class=secondary.clone() on:click=move |_| dialog.set(Some(Dialog::Assign)) data-testid="assign">
                            "Assign…"
                        </button>
                    }
                })}
            <button type="button" class=secondary on:click=move |_| {
                next.dispatch(());
            }>
                "Next case"
                <Kbd key="N" />
            </button>
        </div>
    }
}

/// The dialogs: a fraud disposition with its block-list entries, an approval that trusts the
/// buyer at this merchant, an escalation's note, a merchant action with its reason, an admin's
/// assignment. The first field takes the focus; `Esc` closes. List entries are pre-filled and
/// editable: which values, the reason, how long they last.
#[component]
fn DecisionDialog(
    case: CaseDetail,
    dialog: RwSignal<Option<Dialog>>,
    decide: Action<DecideCase, Result<Decided, AppError>>,
    status_line: RwSignal<String>,
    on_merchant_change: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let note = RwSignal::new(String::new());
    let block_card = RwSignal::new(true);
    let block_email = RwSignal::new(true);
    let trust_email = RwSignal::new(true);
    let trust_card = RwSignal::new(false);
    let list_reason = RwSignal::new(String::new());
    // Days as typed; empty: no end (blocks) or the default 90 (trust).
    let list_days = RwSignal::new(String::new());
    let event = RwSignal::new(MERCHANT_ACTIONS[1].0.to_string());
    let assign_to = RwSignal::new(String::new());
    let first_field = NodeRef::<leptos::html::Textarea>::new();
    let first_select = NodeRef::<leptos::html::Select>::new();
    let (case_id, version, merchant_id, merchant_state) = (case.case_id, case.version, case.merchant.id, case.merchant.risk_state);
    let load_assignees = Action::new(|_: &()| assignees());
    Effect::new(move |_| match dialog.get() {
        Some(Dialog::Merchant | Dialog::Assign) => {
            if dialog.get_untracked() == Some(Dialog::Assign) && load_assignees.value().get_untracked().is_none() {
                load_assignees.dispatch(());
            }
            if let Some(select) = first_select.get() {
                let _ = select.focus();
            }
        }
        Some(_) => {
            if let Some(field) = first_field.get() {
                let _ = field.focus();
            }
        }
        None => {}
    });
    let (card, email) = (case.card_fingerprint.clone(), case.buyer_email.clone());
    let merchant_move = Action::new(move |(event, reason): &(String, String)| {
        let (event, reason) = (event.clone(), reason.clone());
        async move { merchant_action(merchant_id, event, reason, merchant_state, Some(case_id)).await }
    });
    let refresh = on_merchant_change.clone();
    Effect::new(move |_| match merchant_move.value().get() {
        Some(Ok(state)) => {
            dialog.set(None);
            status_line.set(format!("The merchant is now {}.", state.label().to_lowercase()));
            refresh();
        }
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });
    let assign = Action::new(move |user_id: &i32| {
        let user_id = *user_id;
        async move { assign_case(CaseRef { case_id, version }, user_id).await }
    });
    Effect::new(move |_| match assign.value().get() {
        Some(Ok(())) => {
            dialog.set(None);
            status_line.set("Assigned.".into());
            on_merchant_change();
        }
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });
    let send = move || {
        let days = match list_days.get_untracked().trim() {
            "" => None,
            typed => match typed.parse::<u32>() {
                Ok(days) => Some(days),
                Err(_) => {
                    status_line.set("Days is a whole number, e.g. 90 — or empty.".into());
                    return;
                }
            },
        };
        let with_lists = |action: CaseAction| DecideCase {
            list_reason: list_reason.get_untracked(),
            list_expiry_days: days,
            ..DecideCase::plain(case_id, version, action, note.get_untracked())
        };
        match dialog.get_untracked() {
            Some(Dialog::Fraud(disposition)) => {
                decide.dispatch(DecideCase {
                    block_card: block_card.get_untracked(),
                    block_email: block_email.get_untracked(),
                    ..with_lists(CaseAction::Resolve(disposition))
                });
            }
            Some(Dialog::Trust) => {
                decide.dispatch(DecideCase {
                    trust_buyer: trust_email.get_untracked(),
                    trust_card: trust_card.get_untracked(),
                    ..with_lists(CaseAction::Resolve(Disposition::Approved))
                });
            }
            Some(Dialog::Escalate) => {
                decide.dispatch(DecideCase::plain(case_id, version, CaseAction::Escalate, note.get_untracked()));
            }
            Some(Dialog::Merchant) => {
                merchant_move.dispatch((event.get_untracked(), note.get_untracked()));
            }
            Some(Dialog::Assign) => match assign_to.get_untracked().parse::<i32>() {
                Ok(user_id) => {
                    assign.dispatch(user_id);
                }
                Err(_) => status_line.set("Choose whom to assign the case to.".into()),
            },
            None => {}
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send();
    };
    // Ctrl+Enter (⌘+Enter) confirms from the note field, where Enter starts a new line.
    let confirm_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
            ev.prevent_default();
            send();
        }
    };
    let title = move || match dialog.get() {
        Some(Dialog::Fraud(d)) => d.label().to_string(),
        Some(Dialog::Trust) => "Approve and trust this buyer at this merchant".into(),
        Some(Dialog::Escalate) => "Escalate to the admins".into(),
        Some(Dialog::Merchant) => "Merchant action".into(),
        Some(Dialog::Assign) => "Assign the case".into(),
        None => String::new(),
    };
    let field =
        "mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600";
    let checkbox = move |signal: RwSignal<bool>, text: String, value: String, testid: &'static str| {
        view! {
            <label class="flex items-start gap-2">
                <input class="mt-1" type="checkbox" prop:checked=move || signal.get() on:change=move |_| signal.update(|v| *v = !*v) data-testid=testid />
                <span class="min-w-0 break-all">{text} " " <code class="rounded bg-slate-100 px-1">{value}</code></span>
            </label>
        }
    };
    // Reason and lifetime of the entries: pre-filled in the placeholder, editable.
    let entry_fields = move |default_reason: String, days_hint: &'static str| {
        view! {
            <div class="mt-3 grid grid-cols-3 gap-3">
                <label class="col-span-2 block text-sm font-medium text-slate-900">
                    "Entry reason"
                    <input class=field type="text" maxlength="500" placeholder=default_reason prop:value=move || list_reason.get() on:input=move |ev| list_reason.set(event_target_value(&ev)) data-testid="list-reason" />
                </label>
                <label class="block text-sm font-medium text-slate-900">
                    "Days"
                    <input class=field type="number" min="1" max="3650" placeholder=days_hint prop:value=move || list_days.get() on:input=move |ev| list_days.set(event_target_value(&ev)) data-testid="list-days" />
                </label>
            </div>
        }
    };
    let fields = move || {
        let (card, email) = (card.clone(), email.clone());
        match dialog.get() {
            Some(Dialog::Fraud(d)) => view! {
                <fieldset class="mt-3 space-y-2 text-sm">
                    <legend class="font-medium text-slate-900">"Add to the block lists, for every merchant (this case is the source)"</legend>
                    {checkbox(block_card, "Card → blocked_cards".into(), card, "block-card")}
                    {checkbox(block_email, "Email → blocked_emails".into(), email, "block-email")}
                </fieldset>
                {entry_fields(format!("{} on case {case_id}", d.label()), "no end")}
            }
            .into_any(),
            Some(Dialog::Trust) => view! {
                <fieldset class="mt-3 space-y-2 text-sm">
                    <legend class="font-medium text-slate-900">"Trust at this merchant only, so the same customer is not held again"</legend>
                    {checkbox(trust_email, "Email → trusted_emails".into(), email, "trust-email")}
                    {checkbox(trust_card, "Card → trusted_cards".into(), card, "trust-card")}
                </fieldset>
                {entry_fields(format!("Approved on case {case_id}"), "90")}
            }
            .into_any(),
            Some(Dialog::Merchant) => view! {
                <label class="mt-3 block text-sm font-medium text-slate-900">
                    "Action"
                    <select node_ref=first_select class=field on:change=move |ev| event.set(event_target_value(&ev)) data-testid="merchant-event">
                        {MERCHANT_ACTIONS
                            .iter()
                            .map(|(value, label)| view! { <option value=*value selected=move || event.get() == *value>{*label}</option> })
                            .collect_view()}
                    </select>
                </label>
            }
            .into_any(),
            Some(Dialog::Assign) => view! {
                <label class="mt-3 block text-sm font-medium text-slate-900">
                    "Assign to"
                    <select node_ref=first_select class=field on:change=move |ev| assign_to.set(event_target_value(&ev)) data-testid="assign-to">
                        <option value="">"Choose a person…"</option>
                        {move || assignee_options(load_assignees.value().get())}
                    </select>
                </label>
            }
            .into_any(),
            _ => ().into_any(),
        }
    };
    let note_label = move || match dialog.get() {
        Some(Dialog::Fraud(_) | Dialog::Trust) => "Note on the case (optional)",
        Some(Dialog::Assign) => "",
        _ => "Reason (required)",
    };
    view! {
        <Show when=move || dialog.get().is_some()>
            <div class="fixed inset-0 z-30 flex items-start justify-center overflow-y-auto bg-slate-900/40 p-4 pt-16">
                <form role="dialog" aria-modal="true" aria-labelledby="decision-title" class="w-full max-w-lg rounded-xl bg-white p-6 shadow-xl" on:submit=submit on:keydown=confirm_key data-testid="decision-dialog">
                    <h2 id="decision-title" class="text-lg font-semibold">{title}</h2>
                    {fields.clone()}
                    <Show when=move || dialog.get() != Some(Dialog::Assign)>
                        <label class="mt-3 block text-sm font-medium text-slate-900">
                            {note_label}
                            <textarea
                                node_ref=first_field
                                class=field
                                rows="3"
                                maxlength="2000"
                                prop:value=move || note.get()
                                on:input=move |ev| note.set(event_target_value(&ev))
                                data-testid="decision-note"
                            ></textarea>
                        </label>
                    </Show>
                    <div class="mt-4 flex justify-end gap-2">
                        <button type="button" class="rounded-md px-3 py-2 text-sm text-slate-800 hover:bg-slate-100" on:click=move |_| dialog.set(None)>
                            "Cancel"
                        </button>
                        <button type="submit" class="rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 focus-visible:ring-offset-2" data-testid="decision-submit">
                            "Confirm"
                            <Kbd key="Ctrl ↵" />
                        </button>
                    </div>
                </form>
            </div>
        </Show>
    }
}

#[component]
fn CaseBody(case: CaseDetail) -> impl IntoView {
    let card = "rounded-xl border border-slate-200 bg-white p-5 shadow-sm";
    let dt = "text-xs font-medium uppercase tracking-wide text-slate-600";
    let dd = "mt-0.5 text-sm text-slate-900 break-all";
    let m = case.merchant.clone();
    let pct = |rate: f64| format!("{:.1} %", rate * 100.0);
    view! {
        <div class="mt-4 grid grid-cols-1 gap-4 lg:grid-cols-3">
            <section aria-labelledby="tx-heading" class=format!("{card} lg:col-span-1")>
                <h2 id="tx-heading" class="text-base font-semibold">"Transaction"</h2>
                <dl class="mt-3 grid grid-cols-2 gap-3">
                    <div><dt class=dt>"Amount"</dt><dd class=format!("{dd} text-lg font-semibold tabular-nums")>{case.amount.display()}</dd></div>
                    <div><dt class=dt>"In USD"</dt><dd class=format!("{dd} tabular-nums")>{format!("≈ ${}", group_thousands((case.amount_usd_cents / 100).max(0) as u64))}</dd></div>
                    <div class="col-span-2"><dt class=dt>"Buyer email"</dt><dd class=dd data-testid="buyer-email">{case.buyer_email.clone()}</dd></div>
                    <div><dt class=dt>"IP"</dt><dd class=dd>{case.buyer_ip.clone()} {case.ip_country.clone().map(|c| format!(" ({c})"))}</dd></div>
                    <div><dt class=dt>"Card country"</dt><dd class=dd>{case.card_country.clone()}</dd></div>
                    <div class="col-span-2"><dt class=dt>"Card fingerprint"</dt><dd class=dd>{case.card_fingerprint.clone()}</dd></div>
                    <div><dt class=dt>"Card BIN"</dt><dd class=dd>{case.card_bin.clone().unwrap_or_else(|| "—".into())}</dd></div>
                    <div><dt class=dt>"External id"</dt><dd class=dd>{case.external_id.clone().unwrap_or_else(|| "—".into())}</dd></div>
                </dl>
            </section>
            <section aria-labelledby="decision-heading" class=format!("{card} lg:col-span-2")>
                <h2 id="decision-heading" class="text-base font-semibold">
                    {format!("Decision: {} · score {:.0} · ruleset v{}", case.outcome, case.score, case.ruleset_version)}
                </h2>
                <div class="mt-3 overflow-x-auto">
                    <table class="min-w-full text-sm" data-testid="rule-results">
                        <thead>
                            <tr class="text-left text-xs uppercase tracking-wide text-slate-600">
                                <th scope="col" class="py-1 pr-3">"Rule"</th>
                                <th scope="col" class="py-1 pr-3">"Result"</th>
                                <th scope="col" class="py-1">"Why"</th>
                            </tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100">
                            {case
                                .rules
                                .iter()
                                .map(|r| {
                                    let (text, class) = match r.outcome.as_str() {
                                        "matched" => ("Matched", "text-rose-800 font-semibold"),
                                        "error" => ("Error", "text-amber-800 font-semibold"),
                                        _ => ("Not matched", "text-slate-600"),
                                    };
                                    let shadow = (r.mode == "shadow").then_some(" (shadow)");
                                    view! {
                                        <tr>
                                            <td class="py-1 pr-3">{r.rule.clone()} {shadow}</td>
                                            <td class=format!("py-1 pr-3 whitespace-nowrap {class}")>{text}</td>
                                            <td class="py-1 text-slate-700">{r.error.clone().or_else(|| r.explanation.clone()).unwrap_or_default()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
                <details class="mt-3 text-sm">
                    <summary class="cursor-pointer font-medium text-slate-900">"Facts the rules saw"</summary>
                    <pre class="mt-2 max-h-80 overflow-auto rounded bg-slate-50 p-3 text-xs">{case.facts.clone()}</pre>
                </details>
            </section>
            <section aria-labelledby="merchant-heading" class=card>
                <h2 id="merchant-heading" class="text-base font-semibold">"Merchant"</h2>
                <p class="mt-2 font-medium">
                    <a class="text-indigo-700 underline" href=format!("/merchants/{}", m.id)>{m.name.clone()}</a>
                    <span class="text-slate-600">{format!(" #{}", m.id)}</span>
                </p>
                <p class="mt-1">{risk_badge(m.risk_state)} {m.verified.then(|| view! { <span class="ml-1 text-xs text-emerald-800">"✓ verified"</span> })}</p>
                <dl class="mt-3 grid grid-cols-2 gap-3">
                    <div><dt class=dt>"Account age"</dt><dd class=dd>{format!("{} days", m.account_age_days)}</dd></div>
                    <div><dt class=dt>"Country"</dt><dd class=dd>{m.country.clone()}</dd></div>
                    <div><dt class=dt>"Sales, 90 days"</dt><dd class=format!("{dd} tabular-nums")>{group_thousands(m.sales_90d)}</dd></div>
                    <div><dt class=dt>"Volume, 90 days"</dt><dd class=format!("{dd} tabular-nums")>{format!("≈ ${}", group_thousands((m.volume_90d_usd_cents / 100).max(0) as u64))}</dd></div>
                    <div><dt class=dt>"Refund rate"</dt><dd class=format!("{dd} tabular-nums")>{pct(m.refund_rate_90d)}</dd></div>
                    <div><dt class=dt>"Dispute rate"</dt><dd class=format!("{dd} tabular-nums")>{pct(m.dispute_rate_90d)}</dd></div>
                </dl>
                <h3 class="mt-4 text-sm font-semibold text-slate-900">"Risk history"</h3>
                {if case.merchant_history.is_empty() {
                    view! { <p class="mt-1 text-sm text-slate-700">{format!("No move yet: {} since sign-up.", m.risk_state.label().to_lowercase())}</p> }.into_any()
                } else {
                    view! {
                        <ol class="mt-1 space-y-1 text-sm" data-testid="risk-history">
                            {case
                                .merchant_history
                                .iter()
                                .map(|e| {
                                    view! {
                                        <li>
                                            <time class="tabular-nums text-slate-600" datetime=e.at.clone()>{e.at.get(0..10).unwrap_or("").to_string()}</time>
                                            " " {e.from.label()} " → " <span class="font-medium">{e.to.label()}</span>
                                            <span class="text-slate-700">{format!(" by {}", e.actor)}</span>
                                            {e.reason.clone().map(|r| view! { <span class="block break-words text-slate-700">{r}</span> })}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ol>
                        <a class="mt-1 inline-block text-sm text-indigo-700 underline" href=format!("/merchants/{}", m.id)>"All of it on the merchant page"</a>
                    }
                    .into_any()
                }}
            </section>
            <section aria-labelledby="related-heading" class=format!("{card} lg:col-span-2")>
                <h2 id="related-heading" class="text-base font-semibold">"Same card, email or IP — last 90 days, all merchants"</h2>
                {if case.related.is_empty() {
                    view! { <p class="mt-2 text-sm text-slate-700">"Nothing else used this card, email or IP in 90 days."</p> }.into_any()
                } else {
                    view! {
                        <div class="mt-2 overflow-x-auto">
                            <table class="min-w-full text-sm" data-testid="related">
                                <thead>
                                    <tr class="text-left text-xs uppercase tracking-wide text-slate-600">
                                        <th scope="col" class="py-1 pr-3">"When"</th>
                                        <th scope="col" class="py-1 pr-3">"Shares"</th>
                                        <th scope="col" class="py-1 pr-3">"Merchant"</th>
                                        <th scope="col" class="py-1 pr-3 text-right">"Amount"</th>
                                        <th scope="col" class="py-1">"Outcome"</th>
                                    </tr>
                                </thead>
                                <tbody class="divide-y divide-slate-100">
                                    {case
                                        .related
                                        .iter()
                                        .map(|r| {
                                            let outcome = match (&r.case_id, &r.disposition) {
                                                (Some(id), Some(d)) => view! { <a class="text-indigo-700 underline" href=format!("/cases/{id}")>{format!("Case {id}: {}", d.label())}</a> }.into_any(),
                                                (Some(id), None) => view! { <a class="text-indigo-700 underline" href=format!("/cases/{id}")>{format!("Case {id}: {}", r.status.as_str().replace('_', " "))}</a> }.into_any(),
                                                _ => r.status.as_str().replace('_', " ").into_any(),
                                            };
                                            view! {
                                                <tr>
                                                    <td class="py-1 pr-3 whitespace-nowrap">{r.at.get(0..10).unwrap_or("").to_string()}</td>
                                                    <td class="py-1 pr-3">{r.shared.join(", ")}</td>
                                                    <td class="py-1 pr-3">{r.merchant_name.clone()}</td>
                                                    <td class="py-1 pr-3 text-right tabular-nums">{r.amount.display()}</td>
                                                    <td class="py-1">{outcome}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                    .into_any()
                }}
            </section>
            <PaypalSection case=case.clone() />
            <Timeline case=case.clone() />
        </div>
    }
}

/// The merchant's PayPal account as last synced, and its disputes (stored from PayPal's webhooks
/// and the reconciliation). Read from the cache layer: the page never waits on PayPal.
#[component]
fn PaypalSection(case: CaseDetail) -> impl IntoView {
    let yes_no = |ok: bool, yes: &'static str, no: &'static str| {
        if ok {
            view! { <span class="text-emerald-800">{yes}</span> }
        } else {
            view! { <span class="font-medium text-rose-800">{no}</span> }
        }
    };
    let account = match case.paypal.clone() {
        CasePaypal::NotConnected => view! { <p class="mt-2 text-sm text-slate-700">"No PayPal account connected."</p> }.into_any(),
        CasePaypal::NoData => view! { <p class="mt-2 text-sm text-slate-700">"Connected; the first sync has not stored data yet."</p> }.into_any(),
        CasePaypal::Unavailable => view! { <p class="mt-2 text-sm text-amber-900">"The account's last-known state cannot be read right now."</p> }.into_any(),
        CasePaypal::Ready { account, age_seconds, withheld, open_disputes, failing } => view! {
            <p class="mt-1 text-xs text-slate-600">{format!("As of {}", describe_age(age_seconds))} {failing.map(|f| format!(" · latest sync failed: {f}"))}</p>
            <ul class="mt-2 space-y-1 text-sm" data-testid="paypal-account">
                <li>"Payments " {yes_no(account.payments_receivable, "receivable", "NOT receivable")}</li>
                <li>"Primary email " {yes_no(account.primary_email_confirmed, "confirmed", "NOT confirmed")}</li>
                <li>
                    "Withheld by PayPal: "
                    {if withheld.is_empty() { "nothing".to_string() } else { withheld.iter().map(|m| m.display()).collect::<Vec<_>>().join(", ") }}
                </li>
                <li>{format!("Open disputes at PayPal: {}", open_disputes.len())}</li>
            </ul>
        }
        .into_any(),
    };
    view! {
        <section aria-labelledby="paypal-heading" class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
            <h2 id="paypal-heading" class="text-base font-semibold">"PayPal"</h2>
            {account}
            <h3 class="mt-4 text-sm font-semibold text-slate-900">"Disputes, last 90 days"</h3>
            {if case.disputes.is_empty() {
                view! { <p class="mt-1 text-sm text-slate-700">"None."</p> }.into_any()
            } else {
                view! {
                    <ul class="mt-1 space-y-1 text-sm" data-testid="disputes">
                        {case
                            .disputes
                            .iter()
                            .map(|d| {
                                view! {
                                    <li>
                                        <time class="tabular-nums text-slate-600" datetime=d.opened_at.clone()>{d.opened_at.get(0..10).unwrap_or("").to_string()}</time>
                                        " " <span class="font-medium">{d.amount.display()}</span> " · " {d.reason.replace('_', " ").to_lowercase()}
                                        <span class="block text-xs text-slate-600">{format!("{} · {}", d.status.replace('_', " ").to_lowercase(), d.paypal_id)}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                .into_any()
            }}
        </section>
    }
}

#[component]
fn Timeline(case: CaseDetail) -> impl IntoView {
    let note = RwSignal::new(String::new());
    let saved = RwSignal::new(Vec::<String>::new());
    let case_id = case.case_id;
    let save = Action::new(move |text: &String| {
        let text = text.clone();
        async move { add_note(case_id, text.clone()).await.map(|()| text) }
    });
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| match save.value().get() {
        Some(Ok(text)) => {
            saved.update(|s| s.push(text));
            note.set(String::new());
            error.set(None);
        }
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });
    view! {
        <section aria-labelledby="timeline-heading" class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm lg:col-span-2">
            <h2 id="timeline-heading" class="text-base font-semibold">"Timeline"</h2>
            <ol class="mt-3 space-y-2 text-sm" data-testid="timeline">
                {case
                    .timeline
                    .iter()
                    .map(|e| {
                        view! {
                            <li class="flex flex-wrap gap-x-2" data-kind=e.kind.clone()>
                                <time class="whitespace-nowrap tabular-nums text-slate-600" datetime=e.at.clone()>{e.at.get(0..16).unwrap_or("").replace('T', " ")}</time>
                                <span class="font-medium">{e.kind.replace('_', " ")}</span>
                                <span class="text-slate-700">{format!("by {}", e.actor)}</span>
                                {e.detail.clone().map(|d| view! { <span class="w-full whitespace-pre-wrap text-slate-900">{d}</span> })}
                            </li>
                        }
                    })
                    .collect_view()}
                {move || saved.get().into_iter().map(|text| view! { <li class="flex flex-wrap gap-x-2" data-kind="note"><span class="font-medium">"note"</span><span class="text-slate-700">"by you, just now"</span><span class="w-full whitespace-pre-wrap">{text}</span></li> }).collect_view()}
            </ol>
            <form
                class="mt-4"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save.dispatch(note.get_untracked());
                }
            >
                <label class="block text-sm font-medium text-slate-900" for="case-note">"Add a note"</label>
                <textarea
                    id="case-note"
                    class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600"
                    rows="2"
                    maxlength="2000"
                    prop:value=move || note.get()
                    on:input=move |ev| note.set(event_target_value(&ev))
                ></textarea>
                {move || error.get().map(|e| view! { <p role="alert" class="mt-1 text-sm text-rose-800">{e}</p> })}
                <button type="submit" class="mt-2 rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600">
                    "Add note"
                </button>
            </form>
        </section>
    }
}

#[component]
fn CaseSkeleton() -> impl IntoView {
    view! {
        <div role="status" aria-live="polite" class="mt-4 animate-pulse space-y-4" data-skeleton="">
            <span class="sr-only">"Loading the case…"</span>
            <div aria-hidden="true" class="h-8 w-48 rounded bg-slate-200"></div>
            <div aria-hidden="true" class="h-10 w-full rounded bg-slate-100"></div>
            <div aria-hidden="true" class="grid grid-cols-1 gap-4 lg:grid-cols-3">
                <div class="h-64 rounded-xl bg-slate-100"></div>
                <div class="h-64 rounded-xl bg-slate-100 lg:col-span-2"></div>
            </div>
        </div>
    }
}
