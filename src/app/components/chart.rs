//! A server-rendered SVG bar chart of daily revenue or orders. Screen readers get a summary and
//! the full data as a table; the metric toggle is the page's first client-side interaction.
use leptos::prelude::*;

use crate::app::components::panel::{SkeletonFrame, SKELETON_TEXT};
use crate::app::dto::{group_thousands, RevenueChart};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Revenue,
    Orders,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 64.0;
/// Room above the plot for the top gridline's label.
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;
// The skeleton's plot box is `aspect-[16/5]`: the view box's proportions.
const _: () = assert!(WIDTH * 5.0 == HEIGHT * 16.0);

const REVENUE_CAPTION: &str = "Net revenue per day, last 30 days (UTC)";
const ORDERS_CAPTION: &str = "Orders per day, last 30 days (UTC)";
const TOGGLE_GROUP: &str = "flex gap-1 rounded-lg bg-slate-100 p-1";
const TOGGLE: &str = "rounded-md px-3 py-1 text-sm font-medium";

/// The chart's shape while it loads: the caption's words and the metric toggle as grey bars, and
/// the plot as a box of the SVG's proportions, so the panel does not move when the chart arrives.
#[component]
pub fn RevenueChartSkeleton() -> impl IntoView {
    view! {
        <SkeletonFrame>
            <div class="flex items-center justify-between">
                <p class="text-sm">
                    <span class=SKELETON_TEXT>{REVENUE_CAPTION}</span>
                </p>
                <div class=TOGGLE_GROUP>
                    <span class=format!("{TOGGLE} text-transparent")>"Revenue"</span>
                    <span class=format!("{TOGGLE} text-transparent")>"Orders"</span>
                </div>
            </div>
            <div class="mt-3 aspect-[16/5] w-full rounded bg-slate-100"></div>
        </SkeletonFrame>
    }
}

#[component]
pub fn RevenueChartView(chart: RevenueChart) -> impl IntoView {
    let metric = RwSignal::new(Metric::Revenue);
    // Other currencies' sales are converted at reference rates: the amounts are approximate.
    let converted = chart.converted.then(|| format!(" · ≈ {} at reference rates", chart.currency));
    let chart = StoredValue::new(chart);

    let toggle = move |m: Metric, label: &'static str| {
        view! {
            <button
                type="button"
                aria-pressed=move || (metric.get() == m).to_string()
                on:click=move |_| metric.set(m)
                class=format!(
                    "{TOGGLE} text-slate-700 aria-pressed:bg-indigo-600 aria-pressed:text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600"
                )
            >
                {label}
            </button>
        }
    };

    view! {
        <div class="flex items-center justify-between">
            <p class="text-sm text-slate-700" data-testid="chart-caption">
                {move || match metric.get() {
                    Metric::Revenue => REVENUE_CAPTION,
                    Metric::Orders => ORDERS_CAPTION,
                }}
                {move || (metric.get() == Metric::Revenue).then(|| converted.clone()).flatten()}
            </p>
            <div role="group" aria-label="Chart metric" class=TOGGLE_GROUP>
                {toggle(Metric::Revenue, "Revenue")}
                {toggle(Metric::Orders, "Orders")}
            </div>
        </div>
        {move || chart.with_value(|c| bars(c, metric.get()))}
    }
}

fn value_of(day: &crate::app::dto::DailyRevenue, metric: Metric) -> i64 {
    match metric {
        Metric::Revenue => day.net_revenue_minor,
        Metric::Orders => day.orders as i64,
    }
}

fn format_value(value: i64, metric: Metric, currency: &str) -> String {
    match metric {
        Metric::Revenue => crate::app::money::format_minor(value, currency),
        Metric::Orders => group_thousands(value.max(0) as u64),
    }
}

fn bars(chart: &RevenueChart, metric: Metric) -> impl IntoView {
    let max = chart.days.iter().map(|d| value_of(d, metric)).max().unwrap_or(0).max(1);
    let total: i64 = chart.days.iter().map(|d| value_of(d, metric)).sum();
    let plot_w = WIDTH - LEFT;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let slot = plot_w / chart.days.len().max(1) as f64;
    let currency = chart.currency.clone();
    let approximately = if chart.converted && metric == Metric::Revenue { "approximately " } else { "" };
    let summary = format!(
        "{approximately}{} in total over {} days; highest day {}.",
        format_value(total, metric, &currency),
        chart.days.len(),
        format_value(max, metric, &currency)
    );
    let title = match metric {
        Metric::Revenue => "Daily net revenue",
        Metric::Orders => "Daily orders",
    };
    let gridlines = [0.0, 0.5, 1.0].map(|f| {
        let y = TOP + plot_h - f * plot_h;
        let label = format_value((max as f64 * f).round() as i64, metric, &currency);
        view! {
            <line x1=LEFT x2=WIDTH y1=y y2=y stroke="#e2e8f0" stroke-width="1" />
            <text x=LEFT - 6.0 y=y + 4.0 text-anchor="end" font-size="10" fill="#475569">{label}</text>
        }
    });
    let columns = chart
        .days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let value = value_of(day, metric);
            let h = (value as f64 / max as f64) * plot_h;
            let x = LEFT + i as f64 * slot + slot * 0.15;
            // Weekly date labels, plus the last day unless it would overlap the previous label.
            let last = i + 1 == chart.days.len();
            let label = ((i % 7 == 0 && i + 4 < chart.days.len()) || last).then(|| {
                view! {
                    <text x=x + slot * 0.35 y=HEIGHT - 6.0 text-anchor="middle" font-size="10" fill="#475569">
                        {day.date[5..].to_string()}
                    </text>
                }
            });
            view! {
                <rect x=x y=TOP + plot_h - h width=slot * 0.7 height=h rx="2" fill="#4f46e5">
                    <title>{format!("{}: {}", day.date, format_value(value, metric, &currency))}</title>
                </rect>
                {label}
            }
        })
        .collect_view();
    let rows = chart
        .days
        .iter()
        .map(|day| {
            view! {
                <tr>
                    <th scope="row">{day.date.clone()}</th>
                    <td>{format_value(value_of(day, metric), metric, &currency)}</td>
                </tr>
            }
        })
        .collect_view();

    view! {
        <svg
            viewBox=format!("0 0 {WIDTH} {HEIGHT}")
            class="mt-3 h-auto w-full"
            role="img"
            aria-labelledby="revenue-chart-title revenue-chart-desc"
            data-metric=match metric { Metric::Revenue => "revenue", Metric::Orders => "orders" }
        >
            <title id="revenue-chart-title">{title}</title>
            <desc id="revenue-chart-desc">{summary}</desc>
            {gridlines}
            {columns}
        </svg>
        <table class="sr-only">
            <caption>{title}</caption>
            <thead>
                <tr>
                    <th scope="col">"Date"</th>
                    <th scope="col">"Value"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
