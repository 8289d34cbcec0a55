//! The dashboard's money: sales in several currencies are summed per currency in SQL, converted
//! into the merchant's settlement currency at the documented reference rates (marked "≈"), and
//! each currency is shown with its own minor units (¥10,000, not ¥100.00).
mod common;

use chrono::{DateTime, Duration, Utc};
use common::{fresh_db, Backend, TestApp, Who};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use vetted::app::dto::{CurrencySales, Money};
use vetted::server::dashboard;
use vetted::server::db::entities::{merchant, transaction};
use vetted::server::db::Db;

fn sale(merchant_id: i32, amount_minor: i64, currency: &str, status: &str, at: DateTime<Utc>) -> transaction::ActiveModel {
    transaction::ActiveModel {
        merchant_id: Set(merchant_id),
        product_id: Set(None),
        amount_minor: Set(amount_minor),
        currency: Set(currency.to_string()),
        buyer_email: Set("buyer@example.com".to_string()),
        buyer_ip: Set("198.51.100.7".to_string()),
        card_fingerprint: Set("fp_money_test".to_string()),
        card_country: Set("US".to_string()),
        status: Set(status.to_string()),
        created_at: Set(at),
        external_id: Set(None),
        card_bin: Set(None),
        ip_country: Set(None),
        ..Default::default()
    }
}

async fn insert_sale(db: &impl ConnectionTrait, merchant_id: i32, amount_minor: i64, currency: &str, status: &str, at: DateTime<Utc>) {
    sale(merchant_id, amount_minor, currency, status, at).insert(db).await.unwrap();
}

/// The page the demo merchant sees, as the server renders it (SSR), with a yen and a euro sale
/// beside its dollar sales.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendered_dashboard_shows_each_currency_in_its_own_minor_units() {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await;
    let now = Utc::now();
    insert_sale(app.state.db.primary(), 1, 10_000, "JPY", "succeeded", now - Duration::minutes(1)).await;
    insert_sale(app.state.db.primary(), 1, 500, "EUR", "succeeded", now - Duration::minutes(1)).await;

    let client = app.client_as(Who::Merchant).await;
    let response = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let sales = sales_cards(&html);
    assert!(sales.contains("¥10,000"), "ten thousand yen shown as ¥10,000 in the sales panel:\n{sales}");
    assert!(sales.contains("€5.00"), "five euros shown as €5.00 in the sales panel:\n{sales}");
    assert!(!sales.contains("100.00 JPY") && !sales.contains("¥100.00"), "yen have no minor units:\n{sales}");
    assert!(sales.contains("≈"), "a total converted from other currencies is marked approximate:\n{sales}");
    assert!(html.contains("1 EUR = 1.08 USD, 1 JPY = 0.0067 USD"), "the panel names the reference rates it converted at");
}

/// The sales panel's KPI cards as rendered: from the first period to the end of their list. (The
/// content streams out of order, after the shell, so it is not inside the panel's `<section>`.)
fn sales_cards(html: &str) -> &str {
    let start = html.find("data-period=\"Today\"").expect("the sales panel's content in the page");
    let end = html[start..].find("</dl>").map_or(html.len(), |i| start + i);
    &html[start..end]
}

// The service, on both databases: the sums come from the database, a few rows however many sales.

async fn migrated(backend: Backend) -> Db {
    let test_db = fresh_db(backend).await;
    let db = Db::connect(&test_db.url, None).await.unwrap();
    db.migrate().await.unwrap();
    db
}

async fn insert_merchant(db: &impl ConnectionTrait, id: i32, currency: &str) {
    merchant::ActiveModel {
        id: Set(id),
        name: Set(format!("Merchant {id}")),
        email: Set(format!("owner+{id}@example.com")),
        country: Set("US".to_string()),
        currency: Set(currency.to_string()),
        verified: Set(true),
        risk_state: Set("compliant".to_string()),
        created_at: Set(at("2025-01-01T00:00:00Z")),
    }
    .insert(db)
    .await
    .unwrap();
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

fn shown(sales: &[CurrencySales]) -> Vec<String> {
    sales.iter().map(|c| c.net_revenue.display()).collect()
}

async fn the_summary_sums_each_currency_and_converts_the_total(backend: Backend) {
    let db = migrated(backend).await;
    let db = db.primary();
    insert_merchant(db, 1, "USD").await;
    insert_merchant(db, 2, "EUR").await;
    let now = at("2026-11-22T12:00:00Z");
    let hours = |h: i64| now - Duration::hours(h);
    // Today: USD 12.34, EUR 5.00, JPY 10000 sold; JPY 1000 refunded.
    insert_sale(db, 1, 1_234, "USD", "succeeded", hours(1)).await;
    insert_sale(db, 1, 500, "EUR", "succeeded", hours(2)).await;
    insert_sale(db, 1, 10_000, "JPY", "succeeded", hours(3)).await;
    insert_sale(db, 1, 1_000, "JPY", "refunded", hours(4)).await;
    // Earlier this week, earlier this month, too old, not a sale, in the future, someone else's.
    insert_sale(db, 1, 100, "USD", "succeeded", hours(3 * 24)).await;
    insert_sale(db, 1, 1_000, "EUR", "succeeded", hours(20 * 24)).await;
    insert_sale(db, 1, 99_999, "USD", "succeeded", hours(31 * 24)).await;
    insert_sale(db, 1, 5_000, "USD", "in_review", hours(1)).await;
    insert_sale(db, 1, 7_777, "USD", "succeeded", now + Duration::hours(1)).await;
    insert_sale(db, 2, 1_080, "USD", "succeeded", hours(1)).await;

    let summary = dashboard::sales_summary(db, 1, now).await.unwrap();
    assert_eq!(summary.currency, "USD", "the merchant's settlement currency");
    let [today, week, month] = &summary.periods[..] else { panic!("three periods: {:?}", summary.periods) };

    // Each currency exactly, with its own minor units: yen have none.
    assert_eq!(shown(&today.by_currency), ["¥10,000", "$12.34", "€5.00"]);
    assert_eq!(shown(&week.by_currency), ["¥10,000", "$13.34", "€5.00"]);
    assert_eq!(shown(&month.by_currency), ["¥10,000", "€15.00", "$13.34"]);
    let jpy = &today.by_currency[0];
    assert_eq!((jpy.orders, jpy.refunds, jpy.refunded.display()), (2, 1, "¥1,000".to_string()));

    // The totals in dollars at the documented reference rates (fraud::currency, USD per unit):
    // 1 EUR = 1.08 USD, 1 JPY = 0.0067 USD. 12.34 + 5.00 × 1.08 + 10,000 × 0.0067 = 84.74.
    assert_eq!(today.net_revenue, Money { minor: 1_234 + 540 + 6_700, currency: "USD".into() });
    assert_eq!(today.net_revenue.display_approx(), "≈ $84.74");
    assert!(today.converted && week.converted && month.converted);
    assert_eq!(today.refunded.minor, 670, "1,000 yen refunded is 6.70 dollars");
    assert_eq!((today.orders, today.refunds), (4, 1));
    assert_eq!((week.net_revenue.minor, week.orders), (8_574, 5));
    assert_eq!((month.net_revenue.minor, month.orders), (8_574 + 1_080, 6));
    let rates: Vec<(&str, f64)> = summary.rates.iter().map(|r| (r.currency.as_str(), r.rate.unwrap())).collect();
    assert_eq!(rates.len(), 2);
    assert_eq!(rates[0].0, "EUR");
    assert!((rates[0].1 - 1.08).abs() < 1e-12);
    assert_eq!(rates[1].0, "JPY");
    assert!((rates[1].1 - 0.0067).abs() < 1e-12);

    // A euro merchant's dollars are converted into euros: 10.80 USD = 10.00 EUR.
    let euro = dashboard::sales_summary(db, 2, now).await.unwrap();
    assert_eq!(euro.currency, "EUR");
    assert_eq!(euro.periods[0].net_revenue.display_approx(), "≈ €10.00");
    assert_eq!(shown(&euro.periods[0].by_currency), ["$10.80"]);

    // The database sums: one row per currency, status and period, however many sales.
    assert_eq!(dashboard::sales_groups(db, 1, now).await.unwrap().len(), 6);
    let many: Vec<transaction::ActiveModel> = (0..500).map(|i| sale(1, 100, "USD", "succeeded", now - Duration::minutes(i + 1))).collect();
    transaction::Entity::insert_many(many).exec_without_returning(db).await.unwrap();
    assert_eq!(dashboard::sales_groups(db, 1, now).await.unwrap().len(), 6, "500 more dollar sales today are still one row");
    let summary = dashboard::sales_summary(db, 1, now).await.unwrap();
    assert_eq!(summary.periods[0].by_currency[0].net_revenue.display(), "$512.34");
    assert_eq!(summary.periods[0].net_revenue.minor, 8_474 + 50_000);
}

async fn the_chart_sums_each_utc_day_in_the_database(backend: Backend) {
    let db = migrated(backend).await;
    let db = db.primary();
    insert_merchant(db, 1, "USD").await;
    let now = at("2026-11-22T12:00:00Z");
    // Either side of midnight UTC, in two currencies.
    insert_sale(db, 1, 100, "USD", "succeeded", at("2026-11-20T23:59:59Z")).await;
    insert_sale(db, 1, 250, "USD", "refunded", at("2026-11-20T23:00:00Z")).await;
    insert_sale(db, 1, 10_000, "JPY", "succeeded", at("2026-11-21T00:00:00Z")).await;
    insert_sale(db, 1, 500, "EUR", "succeeded", at("2026-11-21T00:00:01.250Z")).await;
    // The first day of the chart, and the day before it.
    insert_sale(db, 1, 300, "USD", "succeeded", at("2026-10-24T00:00:00Z")).await;
    insert_sale(db, 1, 999, "USD", "succeeded", at("2026-10-23T23:59:59Z")).await;

    let groups = dashboard::day_groups(db, 1, now.date_naive()).await.unwrap();
    assert_eq!(groups.len(), 4, "one row per currency and day: {groups:?}");
    let chart = dashboard::revenue_chart(db, 1, now).await.unwrap();
    assert_eq!((chart.currency.as_str(), chart.converted), ("USD", true));
    assert_eq!(chart.days.len(), 30);
    let day = |date: &str| chart.days.iter().find(|d| d.date == date).map(|d| (d.net_revenue_minor, d.orders)).unwrap();
    assert_eq!(day("2026-10-24"), (300, 1));
    assert_eq!(day("2026-11-20"), (100, 2), "refunds are orders, not revenue");
    assert_eq!(day("2026-11-21"), (6_700 + 540, 2), "10,000 yen and 5 euros in dollars");
    assert_eq!(day("2026-11-22"), (0, 0));
    assert_eq!(chart.days.iter().map(|d| d.net_revenue_minor).sum::<i64>(), 300 + 100 + 7_240);
}

on_both_databases!(the_summary_sums_each_currency_and_converts_the_total, the_chart_sums_each_utc_day_in_the_database);
