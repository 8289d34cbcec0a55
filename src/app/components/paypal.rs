//! The dashboard's PayPal panel: balances, latest transactions, open disputes, account status,
//! the data's age, and a banner when PayPal cannot be reached. It reads only what the background
//! sync left in the cache or the database; Refresh asks for a new sync and the panel re-reads
//! until the new data lands. While it waits (for a Refresh, or for the very first sync) it
//! re-reads less and less often, and after about five minutes it stops and says so.
use std::time::Duration;

use leptos::prelude::*;

use crate::app::api::dashboard::{paypal_panel, RequestPaypalRefresh};
use crate::app::components::panel::{panel_error, Panel, SkeletonFrame, SKELETON_TEXT};
use crate::app::dto::{describe_age, short_utc, PaypalPanel, PaypalSnapshot, PaypalSyncFailure};

/// Re-reads while waiting for PayPal, at most.
const MAX_POLLS: u32 = 13;
/// The longest pause between two re-reads.
const LONGEST_POLL_PAUSE: Duration = Duration::from_secs(30);
const GAVE_UP: &str = "PayPal has not answered yet, so this panel stopped checking. Press Refresh or reload the page to look again.";

/// The pause before re-read number `attempt` (from 0) while waiting for PayPal: 2, 4, 8 and
/// 16 s, then every 30 s, 13 re-reads and five minutes in all; `None`: stop waiting.
pub fn poll_delay(attempt: u32) -> Option<Duration> {
    (attempt < MAX_POLLS).then(|| Duration::from_secs(2u64 << attempt.min(4)).min(LONGEST_POLL_PAUSE))
}

#[component]
pub fn PaypalPanelView() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let panel = Resource::new(move || reload.get(), |_| paypal_panel());
    let refresh = ServerAction::<RequestPaypalRefresh>::new();
    // While waiting for PayPal: how many re-reads have been made (`None`: not waiting). The
    // data version seen when Refresh was pressed tells new data from old.
    let polling = RwSignal::new(None::<u32>);
    let gave_up = RwSignal::new(false);
    let fetched_at_when_pressed = RwSignal::new(None::<String>);

    // Runs when a Refresh press is accepted (not when the panel re-reads: that is untracked).
    Effect::new(move || {
        if let Some(Ok(())) = refresh.value().get() {
            let seen = match panel.get_untracked() {
                Some(Ok(PaypalPanel::Ready { snapshot, .. })) => Some(snapshot.fetched_at),
                _ => None,
            };
            fetched_at_when_pressed.set(seen);
            gave_up.set(false);
            polling.set(Some(0));
        }
    });
    Effect::new(move || match panel.get() {
        // No data yet: keep looking until the first sync lands, unless the schedule ran out.
        Some(Ok(PaypalPanel::Syncing { .. })) => {
            if polling.get_untracked().is_none() && !gave_up.get_untracked() {
                polling.set(Some(0));
            }
        }
        Some(Ok(PaypalPanel::Ready { snapshot, failure, .. })) => {
            let newer = fetched_at_when_pressed.get_untracked().as_deref() != Some(snapshot.fetched_at.as_str());
            // A failure seen on the first re-reads may be the one from before the press.
            if newer || failure.is_some() && polling.get_untracked().is_some_and(|n| n >= 2) {
                polling.set(None);
                gave_up.set(false);
            }
        }
        _ => {}
    });
    // One timer at a time: each re-read schedules the next, further off, until the schedule
    // ends.
    Effect::new(move || {
        let Some(attempt) = polling.get() else { return };
        match poll_delay(attempt) {
            Some(pause) => {
                let handle = set_timeout_with_handle(
                    move || {
                        polling.set(Some(attempt + 1));
                        reload.update(|n| *n += 1);
                    },
                    pause,
                )
                .ok();
                on_cleanup(move || {
                    if let Some(handle) = handle {
                        handle.clear();
                    }
                });
            }
            None => {
                polling.set(None);
                gave_up.set(true);
            }
        }
    });

    let refresh_message = move || match refresh.value().get() {
        _ if gave_up.get() => Some(GAVE_UP.to_string()),
        Some(Ok(())) if polling.get().is_some() => Some("Refresh requested — the panel updates when PayPal answers.".to_string()),
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };

    view! {
        <Panel title="PayPal" id="paypal" class="lg:col-span-1">
            <div class="mb-3 flex items-start justify-between gap-3">
                <p role="status" aria-live="polite" class="text-sm text-slate-700" data-testid="paypal-refresh-status">
                    {refresh_message}
                </p>
                <ActionForm action=refresh>
                    <button
                        type="submit"
                        data-testid="paypal-refresh"
                        class="shrink-0 rounded-md border border-slate-300 bg-white px-3 py-1 text-sm font-medium text-slate-800 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 disabled:opacity-60"
                        disabled=move || refresh.pending().get()
                    >
                        "Refresh"
                    </button>
                </ActionForm>
            </div>
            <Transition fallback=|| view! { <PaypalSkeleton /> }>
                <ErrorBoundary fallback=panel_error>
                    {move || Suspend::new(async move { panel.await.map(|p| view! { <PaypalContent panel=p /> }) })}
                </ErrorBoundary>
            </Transition>
        </Panel>
    }
}

#[component]
fn PaypalContent(panel: PaypalPanel) -> impl IntoView {
    match panel {
        PaypalPanel::NotConnected => view! {
            <p class="text-sm text-slate-700" data-testid="paypal-not-connected">
                "No PayPal account is connected. Connect one to see your balances, transactions and disputes here."
            </p>
        }
        .into_any(),
        PaypalPanel::Syncing { failure } => view! {
            {failure.map(|f| view! { <DegradedBanner failure=f showing=None /> })}
            <div role="status" aria-live="polite" class="flex items-center gap-2 text-sm text-slate-700" data-testid="paypal-syncing">
                <span aria-hidden="true" class="h-2 w-2 animate-pulse rounded-full bg-indigo-500"></span>
                "Syncing with PayPal…"
            </div>
        }
        .into_any(),
        PaypalPanel::Ready { snapshot, age_seconds, stale, failure } => {
            let fetched_at = snapshot.fetched_at.clone();
            view! {
                <p class=AGE_LINE data-testid="paypal-age" data-age-seconds=age_seconds>
                    <time datetime=fetched_at.clone()>{format!("Updated {}", describe_age(age_seconds))}</time>
                    {(stale && failure.is_none()).then(|| " · refreshing in the background")}
                </p>
                {failure.map(|f| view! { <DegradedBanner failure=f showing=Some(fetched_at.clone()) /> })}
                <PaypalDetails snapshot=snapshot />
            }
            .into_any()
        }
    }
}

/// Classes the details share with their skeleton.
const AGE_LINE: &str = "text-sm text-slate-700";
const SUBHEADING: &str = "text-sm font-semibold text-slate-900";
const BALANCE_CARD: &str = "rounded-lg bg-slate-50 p-3";
const DISPUTE_ROW: &str = "flex items-baseline justify-between gap-2 py-1.5";
/// One line per transaction; scrolls sideways inside the panel if it must.
const TRANSACTIONS_TABLE: &str = "w-full whitespace-nowrap text-left text-sm";
const TRANSACTION_COLUMNS: [&str; 3] = ["When (UTC)", "Amount", "Status"];

/// The connected account's details while they load, in their usual shape: one balance, one open
/// dispute and a full page of latest transactions (`server::paypal::snapshot::RECENT_TRANSACTIONS`).
#[component]
fn PaypalSkeleton() -> impl IntoView {
    let bar = |text: &'static str| view! { <span class=SKELETON_TEXT>{text}</span> };
    view! {
        <SkeletonFrame>
            <p class=AGE_LINE>{bar("Updated 0 min ago")}</p>
            <h3 class=format!("mt-3 {SUBHEADING}")>{bar("Balances")}</h3>
            <div class="mt-2">
                <div class=BALANCE_CARD>
                    <p class="text-xs">{bar("USD AVAILABLE")}</p>
                    <p class="text-xl">{bar("$0,000.00")}</p>
                    <p class="text-xs">{bar("$0,000.00 withheld · $0,000.00 total")}</p>
                </div>
            </div>
            <h3 class=format!("mt-4 {SUBHEADING}")>{bar("Open disputes (1)")}</h3>
            <div class="mt-2 text-sm">
                <div class=DISPUTE_ROW>
                    <span>{bar("Item not received")} <span class="block text-xs">{bar("Respond by 2026-01-01 00:00 UTC")}</span></span>
                    {bar("$000.00")}
                </div>
            </div>
            <h3 class=format!("mt-4 {SUBHEADING}")>{bar("Latest transactions (10 in 30 days)")}</h3>
            <div class="mt-2 overflow-x-auto">
                <table class=TRANSACTIONS_TABLE>
                    <thead class="border-b border-slate-200">
                        <tr>{TRANSACTION_COLUMNS.map(|c| view! { <th class="py-1 pr-3 font-medium">{bar(c)}</th> })}</tr>
                    </thead>
                    <tbody>
                        {(0..10)
                            .map(|_| {
                                view! {
                                    <tr class="border-b border-slate-100">
                                        <td class="py-1 pr-3">{bar("2026-01-01 00:00 UTC")}</td>
                                        <td class="py-1 pr-3">{bar("$000.00")}</td>
                                        <td class="py-1 pr-3">{bar("Completed")}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </SkeletonFrame>
    }
}

/// "PayPal unreachable since 14:02 UTC — showing data from 13:47 UTC."
#[component]
fn DegradedBanner(failure: PaypalSyncFailure, showing: Option<String>) -> impl IntoView {
    let today = showing.as_deref().unwrap_or(&failure.since).get(..10).unwrap_or_default().to_string();
    let since = short_utc(&failure.since, &today);
    let headline = match &showing {
        Some(fetched_at) => format!("PayPal unreachable since {since} — showing data from {}.", short_utc(fetched_at, &today)),
        None => format!("PayPal unreachable since {since} — no data has arrived yet."),
    };
    view! {
        <div role="alert" class="my-3 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-950" data-testid="paypal-degraded">
            <p class="font-medium">{headline}</p>
            <p class="mt-1">{format!("{}. We keep retrying in the background.", failure.cause)}</p>
        </div>
    }
}

#[component]
fn PaypalDetails(snapshot: PaypalSnapshot) -> impl IntoView {
    let account = snapshot.account.clone();
    let disputes = snapshot.open_disputes.clone();
    let transactions = snapshot.recent_transactions.clone();
    let today = snapshot.fetched_at.get(..10).unwrap_or_default().to_string();
    let today_for_disputes = today.clone();
    view! {
        {(!account.payments_receivable).then(|| view! {
            <div role="alert" class="my-3 rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-900" data-testid="paypal-not-receivable">
                <p class="font-medium">"This PayPal account cannot receive payments."</p>
                <p class="mt-1">"PayPal has limited the account. Sign in to PayPal to see what it needs from you."</p>
            </div>
        })}
        {(!account.primary_email_confirmed).then(|| view! {
            <p class="my-2 text-sm text-amber-900">"The PayPal account's primary email address is not confirmed yet."</p>
        })}

        <h3 class=format!("mt-3 {SUBHEADING}")>"Balances"</h3>
        <dl class="mt-2 space-y-2" data-testid="paypal-balances">
            {snapshot
                .balances
                .into_iter()
                .map(|b| {
                    view! {
                        <div class=BALANCE_CARD data-currency=b.currency.clone()>
                            <dt class="text-xs font-medium uppercase tracking-wide text-slate-700">
                                {format!("{} available", b.currency)}
                            </dt>
                            <dd class="text-xl font-semibold tabular-nums">{b.available.display()}</dd>
                            <dd class="text-xs text-slate-700 tabular-nums">
                                {format!("{} withheld · {} total", b.withheld.display(), b.total.display())}
                            </dd>
                        </div>
                    }
                })
                .collect_view()}
        </dl>

        <h3 class=format!("mt-4 {SUBHEADING}")>
            {format!("Open disputes ({})", disputes.len())}
        </h3>
        {if disputes.is_empty() {
            view! { <p class="mt-1 text-sm text-slate-700">"No open disputes."</p> }.into_any()
        } else {
            view! {
                <ul class="mt-2 divide-y divide-slate-100 text-sm" data-testid="paypal-disputes">
                    {disputes
                        .into_iter()
                        .map(|d| {
                            let due = d
                                .seller_response_due
                                .as_deref()
                                .map(|due| format!("Respond by {}", short_utc(due, &today_for_disputes)))
                                .unwrap_or_else(|| "Waiting on PayPal".to_string());
                            view! {
                                <li class=DISPUTE_ROW>
                                    <span>
                                        <span class="font-medium">{d.reason}</span>
                                        <span class="block text-xs text-slate-700">{due}</span>
                                    </span>
                                    <span class="tabular-nums">{d.amount.display()}</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any()
        }}

        <h3 class=format!("mt-4 {SUBHEADING}")>
            {format!("Latest transactions ({} in 30 days)", snapshot.transactions_30d)}
        </h3>
        <div class="mt-2 overflow-x-auto">
        <table class=TRANSACTIONS_TABLE data-testid="paypal-transactions">
            <caption class="sr-only">"Latest PayPal transactions, newest first"</caption>
            <thead class="border-b border-slate-200 text-slate-700">
                <tr>{TRANSACTION_COLUMNS.map(|c| view! { <th scope="col" class="py-1 pr-3 font-medium">{c}</th> })}</tr>
            </thead>
            <tbody>
                {transactions
                    .into_iter()
                    .map(|t| {
                        view! {
                            <tr class="border-b border-slate-100">
                                <td class="py-1 pr-3 tabular-nums">{short_utc(&t.date, &today)}</td>
                                <td class="py-1 pr-3 tabular-nums">{t.amount.display()}</td>
                                <td class="py-1 pr-3">{t.status}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_for_paypal_backs_off_and_stops() {
        let pauses: Vec<u64> = (0..).map_while(poll_delay).map(|d| d.as_secs()).collect();
        assert_eq!(pauses[..6], [2, 4, 8, 16, 30, 30]);
        assert!(pauses.iter().all(|&s| s <= 30));
        assert_eq!(pauses.len(), MAX_POLLS as usize);
        assert_eq!(pauses.iter().sum::<u64>(), 300, "five minutes in all");
        assert_eq!(poll_delay(MAX_POLLS), None);
        assert_eq!(poll_delay(u32::MAX), None);
    }
}
