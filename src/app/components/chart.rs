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
        <div inner_html=move || chart.with_value(|c| chart_html(c, metric.get()))></div>
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

/// The chart's SVG and its data table, as markup set with `inner_html`: hydrating it is then one
/// element instead of some 250 nodes walked one by one (the dashboard's hydration, a long task on
/// a phone, was 40 % this chart). Every text is escaped.
fn chart_html(chart: &RevenueChart, metric: Metric) -> String {
    use std::fmt::Write;

    let max = chart.days.iter().map(|d| value_of(d, metric)).max().unwrap_or(0).max(1);
    let total: i64 = chart.days.iter().map(|d| value_of(d, metric)).sum();
    let plot_w = WIDTH - LEFT;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let slot = plot_w / chart.days.len().max(1) as f64;
    let currency = chart.currency.as_str();
    let approximately = if chart.converted && metric == Metric::Revenue { "approximately " } else { "" };
    let summary = format!(
        "{approximately}{} in total over {} days; highest day {}.",
        format_value(total, metric, currency),
        chart.days.len(),
        format_value(max, metric, currency)
    );
    let (title, name) = match metric {
        Metric::Revenue => ("Daily net revenue", "revenue"),
        Metric::Orders => ("Daily orders", "orders"),
    };

    let mut html = String::with_capacity(12 * 1024);
    // `write!` to a String cannot fail.
    let _ = write!(
        html,
        r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" class="mt-3 h-auto w-full" role="img" aria-labelledby="revenue-chart-title revenue-chart-desc" data-metric="{name}"><title id="revenue-chart-title">{title}</title><desc id="revenue-chart-desc">{}</desc>"#,
        escape(&summary)
    );
    for f in [0.0, 0.5, 1.0] {
        let y = TOP + plot_h - f * plot_h;
        let label = format_value((max as f64 * f).round() as i64, metric, currency);
        let _ = write!(
            html,
            r##"<line x1="{LEFT}" x2="{WIDTH}" y1="{y:.2}" y2="{y:.2}" stroke="#e2e8f0" stroke-width="1"></line><text x="{}" y="{:.2}" text-anchor="end" font-size="10" fill="#475569">{}</text>"##,
            LEFT - 6.0,
            y + 4.0,
            escape(&label)
        );
    }
    for (i, day) in chart.days.iter().enumerate() {
        let value = value_of(day, metric);
        let h = (value as f64 / max as f64) * plot_h;
        let x = LEFT + i as f64 * slot + slot * 0.15;
        let _ = write!(
            html,
            r##"<rect x="{x:.2}" y="{:.2}" width="{:.2}" height="{h:.2}" rx="2" fill="#4f46e5"><title>{}: {}</title></rect>"##,
            TOP + plot_h - h,
            slot * 0.7,
            escape(&day.date),
            escape(&format_value(value, metric, currency))
        );
        // Weekly date labels, plus the last day unless it would overlap the previous label.
        let last = i + 1 == chart.days.len();
        if (i % 7 == 0 && i + 4 < chart.days.len()) || last {
            let _ = write!(
                html,
                r##"<text x="{:.2}" y="{}" text-anchor="middle" font-size="10" fill="#475569">{}</text>"##,
                x + slot * 0.35,
                HEIGHT - 6.0,
                escape(day.date.get(5..).unwrap_or_default())
            );
        }
    }
    let _ = write!(
        html,
        r#"</svg><table class="sr-only"><caption>{title}</caption><thead><tr><th scope="col">Date</th><th scope="col">Value</th></tr></thead><tbody>"#
    );
    for day in &chart.days {
        let _ =
            write!(html, r#"<tr><th scope="row">{}</th><td>{}</td></tr>"#, escape(&day.date), escape(&format_value(value_of(day, metric), metric, currency)));
    }
    html.push_str("</tbody></table>");
    html
}

/// Text made safe inside an element or a quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dto::DailyRevenue;

    fn chart() -> RevenueChart {
        RevenueChart {
            currency: "USD".into(),
            converted: false,
            days: (1..=30).map(|d| DailyRevenue { date: format!("2026-11-{d:02}"), net_revenue_minor: d * 1000, orders: d as u64 }).collect(),
        }
    }

    #[test]
    fn the_chart_has_a_bar_and_a_table_row_per_day_and_escapes_text() {
        let html = chart_html(&chart(), Metric::Revenue);
        assert_eq!(html.matches("<rect ").count(), 30);
        assert_eq!(html.matches(r#"<th scope="row">"#).count(), 30);
        assert!(html.contains(r#"data-metric="revenue""#));
        assert!(html.contains("highest day $300.00."), "{html}");
        assert_eq!(escape(r#"<b a="1">&'"#), "&lt;b a=&quot;1&quot;&gt;&amp;&#39;");
        assert!(chart_html(&chart(), Metric::Orders).contains(r#"data-metric="orders""#));
    }
}
