//! The merchant dashboard. The shell streams at once; each panel loads through its own resource
//! inside its own `<Suspense>` and `<ErrorBoundary>`.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::dashboard::{fraud_review_status, revenue_chart, sales_summary};
use crate::app::components::chart::{RevenueChartSkeleton, RevenueChartView};
use crate::app::components::layout::RequireRole;
use crate::app::components::panel::{panel_error, Panel, SkeletonFrame, SKELETON_TEXT};
use crate::app::components::paypal::PaypalPanelView;
use crate::app::dto::{group_thousands, CurrencySales, FraudReviewStatus, RiskState, Role, SalesSummary, Severity, TransactionStatus};
use crate::app::money::{format_rate, Money};

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <Title text="Dashboard" />
        <RequireRole roles=&[Role::Merchant]>
            <h1 class="text-2xl font-semibold tracking-tight">"Dashboard"</h1>
            <div class="mt-6 grid grid-cols-1 gap-6 lg:grid-cols-3">
                <SalesPanel />
                <RevenuePanel />
                <PaypalPanelView />
                <FraudReviewPanel />
            </div>
        </RequireRole>
    }
}

#[component]
fn SalesPanel() -> impl IntoView {
    let summary = Resource::new(|| (), |_| sales_summary());
    view! {
        <Panel title="Sales" id="sales" class="lg:col-span-3">
            <Suspense fallback=|| view! { <SalesSkeleton /> }>
                <ErrorBoundary fallback=panel_error>
                    {move || Suspend::new(async move { summary.await.map(|s| view! { <SalesKpis summary=s /> }) })}
                </ErrorBoundary>
            </Suspense>
        </Panel>
    }
}

/// One period's card; the skeleton draws the same boxes.
const SALES_CARD: &str = "rounded-lg bg-slate-50 p-4";

#[component]
fn SalesKpis(summary: SalesSummary) -> impl IntoView {
    let note = conversion_note(&summary);
    let currency = summary.currency;
    view! {
        <dl class="grid gap-4 sm:grid-cols-3">
            {summary
                .periods
                .into_iter()
                .map(|p| {
                    let amount = |m: &Money, converted: bool| if converted { m.display_approx() } else { m.display() };
                    let headline = amount(&p.net_revenue, p.converted);
                    // "≈" on the refunds only when some were in another currency.
                    let refunds_converted = p.by_currency.iter().any(|c| c.refunded.minor != 0 && c.refunded.currency != currency);
                    let refunded = amount(&p.refunded, refunds_converted);
                    let single = p.by_currency.iter().all(|c| c.net_revenue.currency == currency && c.refunded.currency == currency);
                    view! {
                        <div class=SALES_CARD data-period=p.label.clone()>
                            <dt class="text-sm font-medium text-slate-700">{p.label.clone()}</dt>
                            <dd class="mt-1 text-2xl font-semibold tabular-nums" data-testid="net-revenue">
                                {headline}
                            </dd>
                            <dd class="mt-1 text-sm text-slate-700 tabular-nums">
                                {format!("{} orders", group_thousands(p.orders))} " · "
                                {format!("{} refunds ({refunded})", group_thousands(p.refunds))}
                            </dd>
                            <dd class="mt-1 text-sm text-slate-600 tabular-nums" data-testid="by-currency">
                                {if single {
                                    format!("All in {currency}").into_any()
                                } else {
                                    by_currency(&p.by_currency).into_any()
                                }}
                            </dd>
                        </div>
                    }
                })
                .collect_view()}
        </dl>
        {note.map(|note| view! { <p class="mt-3 text-xs text-slate-600" data-testid="conversion-note">{note}</p> })}
    }
}

/// Each currency's exact net revenue, largest first: "¥10,000 · $12.34 · €5.00".
fn by_currency(sales: &[CurrencySales]) -> impl IntoView {
    let items = sales
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let orders = if c.orders == 1 { "1 order".to_string() } else { format!("{} orders", group_thousands(c.orders)) };
            view! {
                {(i > 0).then_some(" · ")}
                <span class="whitespace-nowrap" title=orders>{c.net_revenue.display()}</span>
            }
        })
        .collect_view();
    view! {
        <span class="sr-only">"By currency: "</span>
        {items}
    }
}

/// What "≈" means on this panel: the totals' currency and the reference rates used.
fn conversion_note(summary: &SalesSummary) -> Option<String> {
    if summary.rates.is_empty() {
        return None;
    }
    let currency = &summary.currency;
    let rates: Vec<String> = summary.rates.iter().filter_map(|r| r.rate.map(|rate| format!("1 {} = {} {currency}", r.currency, format_rate(rate)))).collect();
    let unrated: Vec<&str> = summary.rates.iter().filter(|r| r.rate.is_none()).map(|r| r.currency.as_str()).collect();
    let mut note = format!("Totals in {currency}, the settlement currency");
    if !rates.is_empty() {
        note = format!("≈ {note}, at fixed reference rates: {}", rates.join(", "));
    }
    note.push('.');
    if !unrated.is_empty() {
        note.push_str(&format!(" No reference rate for {}: left out of the totals.", unrated.join(", ")));
    }
    Some(note)
}

/// The sales cards' shape while they load: the same grid, boxes and line heights (text-sm lines
/// are 1.25 rem, the headline 2 rem), so nothing moves when the numbers arrive.
#[component]
fn SalesSkeleton() -> impl IntoView {
    let bar = |height: &'static str, bar: &'static str, margin: &'static str| {
        view! {
            <div class=format!("flex items-center {height} {margin}")>
                <div class=format!("rounded bg-slate-200 {bar}")></div>
            </div>
        }
    };
    view! {
        <div role="status" aria-live="polite" data-skeleton="">
            <span class="sr-only">"Loading…"</span>
            <div aria-hidden="true" class="grid animate-pulse gap-4 sm:grid-cols-3">
                {(0..3)
                    .map(|_| {
                        view! {
                            <div class=SALES_CARD>
                                {bar("h-5", "h-3 w-20", "")}
                                {bar("h-8", "h-6 w-32", "mt-1")}
                                {bar("h-5", "h-3 w-44 max-w-full", "mt-1")}
                                {bar("h-5", "h-3 w-16", "mt-1")}
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </div>
    }
}

#[component]
fn RevenuePanel() -> impl IntoView {
    let chart = Resource::new(|| (), |_| revenue_chart());
    view! {
        <Panel title="Revenue" id="revenue" class="lg:col-span-2">
            <Suspense fallback=|| view! { <RevenueChartSkeleton /> }>
                <ErrorBoundary fallback=panel_error>
                    {move || Suspend::new(async move { chart.await.map(|c| view! { <RevenueChartView chart=c /> }) })}
                </ErrorBoundary>
            </Suspense>
        </Panel>
    }
}

#[component]
fn FraudReviewPanel() -> impl IntoView {
    let status = Resource::new(|| (), |_| fraud_review_status());
    view! {
        <Panel title="Fraud review" id="fraud" class="lg:col-span-3">
            <Suspense fallback=|| view! { <FraudReviewSkeleton /> }>
                <ErrorBoundary fallback=panel_error>
                    {move || Suspend::new(async move { status.await.map(|s| view! { <FraudReview status=s /> }) })}
                </ErrorBoundary>
            </Suspense>
        </Panel>
    }
}

/// The status line and the held-transactions table share these with their skeleton.
const FRAUD_FACTS: &str = "flex flex-wrap items-center gap-x-8 gap-y-2";
const RISK_BADGE: &str = "rounded-full px-2.5 py-0.5 text-sm font-medium ring-1";
/// One line per transaction; on a narrow screen the table scrolls sideways inside the panel.
const HELD_TABLE: &str = "w-full whitespace-nowrap text-left text-sm";
const HELD_COLUMNS: [&str; 5] = ["Transaction", "Buyer", "Amount", "Status", "When (UTC)"];
/// As many rows as the server sends at most (`server::dashboard::RECENT_HELD`).
const HELD_ROWS: usize = 10;

/// The fraud panel's shape while it loads: the status line's words and a full table of held
/// transactions (the usual case for a merchant with any review traffic).
#[component]
fn FraudReviewSkeleton() -> impl IntoView {
    let cell = |text: &'static str| view! { <td class="py-2 pr-4"><span class=SKELETON_TEXT>{text}</span></td> };
    view! {
        <SkeletonFrame>
            <div class=FRAUD_FACTS>
                <p class="text-sm">
                    <span class=SKELETON_TEXT>"Account status: "</span>
                    <span class=format!("{RISK_BADGE} bg-slate-100 text-transparent ring-slate-200")>"Not reviewed"</span>
                </p>
                <p class="text-sm"><span class=SKELETON_TEXT>"00 transactions in review"</span></p>
                <p class="text-sm"><span class=SKELETON_TEXT>"00 blocked in the last 30 days"</span></p>
            </div>
            <div class="mt-4 overflow-x-auto">
                <table class=HELD_TABLE>
                    <thead class="border-b border-slate-200">
                        <tr>{HELD_COLUMNS.map(|c| view! { <th class="py-2 pr-4 font-medium"><span class=SKELETON_TEXT>{c}</span></th> })}</tr>
                    </thead>
                    <tbody>
                        {(0..HELD_ROWS)
                            .map(|_| {
                                view! {
                                    <tr class="border-b border-slate-100">
                                        {cell("#00000")}
                                        {cell("buyer.name000@example.com")}
                                        {cell("$00.00")}
                                        {cell("In review")}
                                        {cell("2026-01-01 00:00")}
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

#[component]
fn FraudReview(status: FraudReviewStatus) -> impl IntoView {
    let badge = match status.risk_state.severity() {
        Severity::Ok => "bg-emerald-50 text-emerald-800 ring-emerald-200",
        Severity::Warning => "bg-amber-50 text-amber-900 ring-amber-200",
        Severity::Critical => "bg-rose-50 text-rose-900 ring-rose-200",
    };
    let recent = status.recent;
    // Said plainly when money is held (Gumroad #4328: a merchant must hear of it).
    let banner = match status.risk_state {
        RiskState::OnProbation => {
            Some("Your account is on probation: payouts are paused and new sales are held for review while our team looks at recent activity.")
        }
        RiskState::SuspendedForFraud | RiskState::SuspendedForTosViolation => {
            Some("Your account is suspended: new sales are blocked and payouts are paused. Contact support to appeal.")
        }
        _ => None,
    };
    view! {
        {banner.map(|text| view! { <p role="alert" class="mb-4 rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-950" data-testid="risk-banner">{text}</p> })}
        <div class=FRAUD_FACTS>
            <p class="text-sm">
                "Account status: "
                <span class=format!("{RISK_BADGE} {badge}") data-testid="risk-state">
                    {status.risk_state.label()}
                </span>
            </p>
            <p class="text-sm text-slate-700">
                <span class="font-semibold tabular-nums text-slate-900" data-testid="in-review-count">{group_thousands(status.in_review)}</span>
                " transactions in review"
            </p>
            <p class="text-sm text-slate-700">
                <span class="font-semibold tabular-nums text-slate-900">{group_thousands(status.blocked_30d)}</span>
                " blocked in the last 30 days"
            </p>
        </div>
        {if recent.is_empty() {
            view! { <p class="mt-4 text-sm text-slate-700">"Nothing is held for review."</p> }.into_any()
        } else {
            view! {
                <div class="mt-4 overflow-x-auto">
                <table class=HELD_TABLE>
                    <caption class="sr-only">"Transactions held for review or blocked, newest first"</caption>
                    <thead class="border-b border-slate-200 text-slate-700">
                        <tr>{HELD_COLUMNS.map(|c| view! { <th scope="col" class="py-2 pr-4 font-medium">{c}</th> })}</tr>
                    </thead>
                    <tbody>
                        {recent
                            .into_iter()
                            .map(|t| {
                                let (label, class) = match t.status {
                                    TransactionStatus::Blocked => ("Blocked", "text-rose-800"),
                                    _ => ("In review", "text-amber-900"),
                                };
                                view! {
                                    <tr class="border-b border-slate-100">
                                        <td class="py-2 pr-4 tabular-nums">{format!("#{}", t.id)}</td>
                                        <td class="py-2 pr-4">{t.buyer_email}</td>
                                        <td class="py-2 pr-4 tabular-nums">{t.amount.display()}</td>
                                        <td class=format!("py-2 pr-4 font-medium {class}")>{label}</td>
                                        <td class="py-2 pr-4 tabular-nums">{t.created_at.get(..16).unwrap_or_default().replace('T', " ")}</td>
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
    }
}
