//! The merchant dashboard. The shell streams at once; each panel loads through its own resource
//! inside its own `<Suspense>` and `<ErrorBoundary>`.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::dashboard::{fraud_review_status, revenue_chart, sales_summary};
use crate::app::components::chart::RevenueChartView;
use crate::app::components::layout::RequireRole;
use crate::app::components::panel::{panel_error, Panel, Skeleton};
use crate::app::components::paypal::PaypalPanelView;
use crate::app::dto::{group_thousands, FraudReviewStatus, Role, SalesSummary, Severity, TransactionStatus};

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <Title text="Dashboard" />
        <RequireRole roles=&[Role::Merchant]>
            <h1 class="text-2xl font-semibold tracking-tight">"Dashboard"</h1>
            <div class="mt-6 grid gap-6 lg:grid-cols-3">
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
            <Suspense fallback=|| view! { <Skeleton rows=3 /> }>
                <ErrorBoundary fallback=panel_error>
                    {move || Suspend::new(async move { summary.await.map(|s| view! { <SalesKpis summary=s /> }) })}
                </ErrorBoundary>
            </Suspense>
        </Panel>
    }
}

#[component]
fn SalesKpis(summary: SalesSummary) -> impl IntoView {
    view! {
        <dl class="grid gap-4 sm:grid-cols-3">
            {summary
                .periods
                .into_iter()
                .map(|p| {
                    view! {
                        <div class="rounded-lg bg-slate-50 p-4" data-period=p.label.clone()>
                            <dt class="text-sm font-medium text-slate-700">{p.label.clone()}</dt>
                            <dd class="mt-1 text-2xl font-semibold tabular-nums" data-testid="net-revenue">
                                {p.net_revenue.display()}
                            </dd>
                            <dd class="mt-1 text-sm text-slate-700 tabular-nums">
                                {format!("{} orders", group_thousands(p.orders))} " · "
                                {format!("{} refunds ({})", group_thousands(p.refunds), p.refunded.display())}
                            </dd>
                        </div>
                    }
                })
                .collect_view()}
        </dl>
    }
}

#[component]
fn RevenuePanel() -> impl IntoView {
    let chart = Resource::new(|| (), |_| revenue_chart());
    view! {
        <Panel title="Revenue" id="revenue" class="lg:col-span-2">
            <Suspense fallback=|| view! { <Skeleton rows=4 /> }>
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
            <Suspense fallback=|| view! { <Skeleton rows=3 /> }>
                <ErrorBoundary fallback=panel_error>
                    {move || Suspend::new(async move { status.await.map(|s| view! { <FraudReview status=s /> }) })}
                </ErrorBoundary>
            </Suspense>
        </Panel>
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
    view! {
        <div class="flex flex-wrap items-center gap-x-8 gap-y-2">
            <p class="text-sm">
                "Account status: "
                <span class=format!("rounded-full px-2.5 py-0.5 text-sm font-medium ring-1 {badge}") data-testid="risk-state">
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
                <table class="mt-4 w-full text-left text-sm">
                    <caption class="sr-only">"Transactions held for review or blocked, newest first"</caption>
                    <thead class="border-b border-slate-200 text-slate-700">
                        <tr>
                            <th scope="col" class="py-2 font-medium">"Transaction"</th>
                            <th scope="col" class="py-2 font-medium">"Buyer"</th>
                            <th scope="col" class="py-2 font-medium">"Amount"</th>
                            <th scope="col" class="py-2 font-medium">"Status"</th>
                            <th scope="col" class="py-2 font-medium">"When (UTC)"</th>
                        </tr>
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
                                        <td class="py-2 tabular-nums">{format!("#{}", t.id)}</td>
                                        <td class="py-2">{t.buyer_email}</td>
                                        <td class="py-2 tabular-nums">{t.amount.display()}</td>
                                        <td class=format!("py-2 font-medium {class}")>{label}</td>
                                        <td class="py-2 tabular-nums">{t.created_at.get(..16).unwrap_or_default().replace('T', " ")}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        }}
    }
}
