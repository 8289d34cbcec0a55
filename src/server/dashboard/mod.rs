//! The merchant dashboard's read models: sales KPIs, the 30-day revenue chart and the
//! fraud-review status. Reads only; callers pass the read connection and the clock.
//!
//! Money: a merchant can sell in any currency the ingest API accepts, so sales are summed per
//! currency by the database (`GROUP BY currency`, a few rows however many sales) and the totals
//! are converted into the merchant's settlement currency (`merchants.currency`) at the fraud
//! engine's fixed reference rates (`fraud::currency`). Converted totals are approximate and say so
//! (`converted`, shown with "≈"); each currency's exact amounts are kept beside them.
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Value};

use crate::app::dto::{
    CurrencySales, DailyRevenue, FraudReviewStatus, HeldTransaction, Money, PeriodSales, ReferenceRate, RevenueChart, RiskState, SalesSummary,
    TransactionStatus,
};
use crate::server::db::entities::{merchant, transaction};
use crate::server::error::ServiceError;
use crate::server::fraud::currency;

pub const CHART_DAYS: i64 = 30;
/// The sales and revenue panels are read through the cache: a minute's delay on totals over 90
/// days is invisible, and it takes their aggregate queries off most page loads.
pub const PANEL_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// Held transactions change when reviewers act; keep them fresher.
pub const FRAUD_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(15);
const RECENT_HELD: u64 = 10;
/// The KPI periods, newest first; each contains the ones before it.
const PERIODS: [&str; 3] = ["Today", "Last 7 days", "Last 30 days"];

async fn find_merchant(db: &impl ConnectionTrait, merchant_id: i32) -> Result<merchant::Model, ServiceError> {
    merchant::Entity::find_by_id(merchant_id).one(db).await?.ok_or(ServiceError::NotFound("merchant"))
}

/// The currency the dashboard's totals are in: the merchant's settlement currency, or US dollars
/// if that has no reference rate (not a currency the ingest API accepts).
pub fn totals_currency(merchant: &merchant::Model) -> String {
    match currency::find(merchant.currency.trim()) {
        Some(code) => code.to_string(),
        None => {
            tracing::warn!(merchant_id = merchant.id, "the merchant's settlement currency has no reference rate; dashboard totals are in USD");
            "USD".to_string()
        }
    }
}

/// What one unit of `from` is worth in units of `to` at the reference rates (USD per unit, in
/// `fraud::currency`); `None` when either has no rate.
pub fn reference_rate(from: &str, to: &str) -> Option<f64> {
    let usd_per_unit = |code: &str| currency::find(code).map(|code| currency::to_usd(1, code) / currency::to_major(1, code));
    Some(usd_per_unit(from)? / usd_per_unit(to)?)
}

/// `amount_minor` of `from` in minor units of `to`, unrounded: exact for the same currency, else
/// at the reference rates. `None` when there is no rate.
pub fn convert_minor(amount_minor: i64, from: &str, to: &str) -> Option<f64> {
    if from == to {
        return Some(amount_minor as f64);
    }
    let (from, to) = (currency::find(from)?, currency::find(to)?);
    Some(currency::to_usd(amount_minor, from) / currency::to_usd(1, to))
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// One group of a merchant's sales of the last 30 days as the database sums them: a currency, a
/// status (succeeded or refunded) and the newest period it falls in (`bucket`: 0 today, 1 the rest
/// of the last 7 days, 2 the rest of the last 30 days).
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct SalesGroup {
    pub currency: String,
    pub status: String,
    pub bucket: i64,
    pub orders: i64,
    pub amount_minor: i64,
}

/// The merchant's settled and refunded sales of the last 30 days (up to `now`), summed per
/// currency, status and period by the database: at most 19 × 2 × 3 rows.
pub async fn sales_groups(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<Vec<SalesGroup>, ServiceError> {
    const SQL: &str = "SELECT currency, status, \
         CAST(CASE WHEN created_at >= ? THEN 0 WHEN created_at >= ? THEN 1 ELSE 2 END AS BIGINT) AS bucket, \
         COUNT(*) AS orders, CAST(SUM(amount_minor) AS BIGINT) AS amount_minor \
         FROM transactions \
         WHERE merchant_id = ? AND status IN (?, ?) AND created_at >= ? AND created_at <= ? \
         GROUP BY currency, status, bucket";
    let values: Vec<Value> = vec![
        start_of_day(now).into(),
        (now - Duration::days(7)).into(),
        merchant_id.into(),
        TransactionStatus::Succeeded.as_str().into(),
        TransactionStatus::Refunded.as_str().into(),
        (now - Duration::days(30)).into(),
        now.into(),
    ];
    let statement = crate::server::db::statement(db.get_database_backend(), SQL, values);
    Ok(SalesGroup::find_by_statement(statement).all(db).await?)
}

pub async fn sales_summary(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<SalesSummary, ServiceError> {
    let merchant = find_merchant(db, merchant_id).await?;
    let groups = sales_groups(db, merchant_id, now).await?;
    let currency = totals_currency(&merchant);
    let (periods, rates) = summarize(&groups, &currency);
    Ok(SalesSummary { merchant_name: merchant.name, currency, periods, rates })
}

#[derive(Default)]
struct Tally {
    net: i64,
    orders: u64,
    refunds: u64,
    refunded: i64,
}

/// Today, the last 7 days and the last 30 days from the database's groups: per currency exactly,
/// and in total in `currency`, converting other currencies at the reference rates. Also the rates
/// used, one per other currency sold in (`None`: no rate, left out of the totals).
pub fn summarize(groups: &[SalesGroup], currency: &str) -> (Vec<PeriodSales>, Vec<ReferenceRate>) {
    let periods = PERIODS
        .iter()
        .enumerate()
        .map(|(index, label)| {
            // Per currency, in the order first seen (sorted below).
            let mut tallies: Vec<(String, Tally)> = Vec::new();
            for group in groups.iter().filter(|g| g.bucket <= index as i64) {
                let code = group.currency.trim();
                let position = match tallies.iter().position(|(c, _)| c == code) {
                    Some(position) => position,
                    None => {
                        tallies.push((code.to_string(), Tally::default()));
                        tallies.len() - 1
                    }
                };
                let tally = &mut tallies[position].1;
                let orders = group.orders.max(0) as u64;
                tally.orders += orders;
                if group.status == TransactionStatus::Refunded.as_str() {
                    tally.refunds += orders;
                    tally.refunded += group.amount_minor;
                } else {
                    tally.net += group.amount_minor;
                }
            }
            let (mut net, mut refunded, mut orders, mut refunds, mut converted) = (0f64, 0f64, 0u64, 0u64, false);
            for (code, tally) in &tallies {
                orders += tally.orders;
                refunds += tally.refunds;
                if let (Some(n), Some(r)) = (convert_minor(tally.net, code, currency), convert_minor(tally.refunded, code, currency)) {
                    net += n;
                    refunded += r;
                    converted |= code != currency;
                }
            }
            // Largest first (in the totals' currency), the totals' own currency ahead of equals.
            let value = |(code, tally): &(String, Tally)| convert_minor(tally.net, code, currency).unwrap_or(0.0);
            tallies.sort_by(|a, b| value(b).total_cmp(&value(a)).then_with(|| (b.0 == currency).cmp(&(a.0 == currency))).then_with(|| a.0.cmp(&b.0)));
            let money = |minor: i64, code: &str| Money { minor, currency: code.to_string() };
            PeriodSales {
                label: label.to_string(),
                net_revenue: money(net.round() as i64, currency),
                orders,
                refunds,
                refunded: money(refunded.round() as i64, currency),
                converted,
                by_currency: tallies
                    .iter()
                    .map(|(code, t)| CurrencySales { net_revenue: money(t.net, code), orders: t.orders, refunds: t.refunds, refunded: money(t.refunded, code) })
                    .collect(),
            }
        })
        .collect();
    let mut others: Vec<String> = groups.iter().map(|g| g.currency.trim().to_string()).filter(|c| c != currency).collect();
    others.sort();
    others.dedup();
    let rates = others.into_iter().map(|code| ReferenceRate { rate: reference_rate(&code, currency), currency: code }).collect();
    (periods, rates)
}

/// One currency's sales on one UTC day, summed by the database.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct DayGroup {
    pub currency: String,
    /// "2026-11-21"
    pub sale_day: String,
    pub orders: i64,
    /// Settled sales; refunded ones are counted as orders only.
    pub net_minor: i64,
}

/// The UTC calendar day of `created_at` as "YYYY-MM-DD". SQLite stores times as RFC 3339 text.
fn day_expression(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        _ => "date(created_at)",
    }
}

/// The merchant's settled and refunded sales on each of the `CHART_DAYS` UTC days ending `today`,
/// summed per currency and day by the database.
pub async fn day_groups(db: &impl ConnectionTrait, merchant_id: i32, today: NaiveDate) -> Result<Vec<DayGroup>, ServiceError> {
    let backend = db.get_database_backend();
    let day = day_expression(backend);
    let sql = format!(
        "SELECT currency, {day} AS sale_day, COUNT(*) AS orders, \
         CAST(SUM(CASE WHEN status = ? THEN amount_minor ELSE 0 END) AS BIGINT) AS net_minor \
         FROM transactions \
         WHERE merchant_id = ? AND status IN (?, ?) AND created_at >= ? AND created_at < ? \
         GROUP BY currency, sale_day"
    );
    let first = (today - Duration::days(CHART_DAYS - 1)).and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let end = (today + Duration::days(1)).and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let values: Vec<Value> = vec![
        TransactionStatus::Succeeded.as_str().into(),
        merchant_id.into(),
        TransactionStatus::Succeeded.as_str().into(),
        TransactionStatus::Refunded.as_str().into(),
        first.into(),
        end.into(),
    ];
    let statement = crate::server::db::statement(backend, &sql, values);
    Ok(DayGroup::find_by_statement(statement).all(db).await?)
}

pub async fn revenue_chart(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<RevenueChart, ServiceError> {
    let merchant = find_merchant(db, merchant_id).await?;
    let groups = day_groups(db, merchant_id, now.date_naive()).await?;
    let currency = totals_currency(&merchant);
    let (days, converted) = daily_series(&groups, now.date_naive(), &currency);
    Ok(RevenueChart { currency, converted, days })
}

/// Net revenue (in `currency`, other currencies converted at the reference rates) and orders for
/// each of the `CHART_DAYS` UTC days ending `today`, zero-filled; and whether anything was
/// converted.
pub fn daily_series(groups: &[DayGroup], today: NaiveDate, currency: &str) -> (Vec<DailyRevenue>, bool) {
    let first = today - Duration::days(CHART_DAYS - 1);
    let mut net = vec![0f64; CHART_DAYS as usize];
    let mut days: Vec<DailyRevenue> =
        (0..CHART_DAYS).map(|i| DailyRevenue { date: (first + Duration::days(i)).to_string(), net_revenue_minor: 0, orders: 0 }).collect();
    let mut converted = false;
    for group in groups {
        let Some(index) = days.iter().position(|d| d.date == group.sale_day) else { continue };
        days[index].orders += group.orders.max(0) as u64;
        let code = group.currency.trim();
        if let Some(minor) = convert_minor(group.net_minor, code, currency) {
            net[index] += minor;
            converted |= code != currency;
        }
    }
    for (day, net) in days.iter_mut().zip(net) {
        day.net_revenue_minor = net.round() as i64;
    }
    (days, converted)
}

pub async fn fraud_review_status(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<FraudReviewStatus, ServiceError> {
    use transaction::Column;
    let merchant = find_merchant(db, merchant_id).await?;
    let mine = || transaction::Entity::find().filter(Column::MerchantId.eq(merchant_id));
    let in_review = mine().filter(Column::Status.eq(TransactionStatus::InReview.as_str())).count(db).await?;
    let blocked_30d =
        mine().filter(Column::Status.eq(TransactionStatus::Blocked.as_str())).filter(Column::CreatedAt.gte(now - Duration::days(30))).count(db).await?;
    let recent = mine()
        .filter(Column::Status.is_in([TransactionStatus::InReview.as_str(), TransactionStatus::Blocked.as_str()]))
        .order_by_desc(Column::CreatedAt)
        .limit(RECENT_HELD)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|row| {
            Some(HeldTransaction {
                id: row.id,
                status: TransactionStatus::parse(&row.status)?,
                amount: Money { minor: row.amount_minor, currency: row.currency },
                buyer_email: row.buyer_email,
                created_at: row.created_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(FraudReviewStatus { risk_state: RiskState::parse(&merchant.risk_state).unwrap_or(RiskState::NotReviewed), in_review, blocked_30d, recent })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(currency: &str, status: TransactionStatus, bucket: i64, orders: i64, amount_minor: i64) -> SalesGroup {
        SalesGroup { currency: currency.into(), status: status.as_str().into(), bucket, orders, amount_minor }
    }

    #[test]
    fn periods_count_orders_and_subtract_refunds() {
        let groups = [
            group("USD", TransactionStatus::Succeeded, 0, 1, 1_000),
            group("USD", TransactionStatus::Refunded, 0, 1, 500),
            group("USD", TransactionStatus::Succeeded, 1, 1, 2_000), // yesterday
            group("USD", TransactionStatus::Succeeded, 2, 1, 4_000),
        ];
        let (periods, rates) = summarize(&groups, "USD");
        let today = &periods[0];
        assert_eq!((today.net_revenue.minor, today.orders, today.refunds, today.refunded.minor), (1_000, 2, 1, 500));
        let week = &periods[1];
        assert_eq!((week.net_revenue.minor, week.orders), (3_000, 3));
        let month = &periods[2];
        assert_eq!((month.net_revenue.minor, month.orders, month.refunds), (7_000, 4, 1));
        assert!(periods.iter().all(|p| !p.converted), "one currency: exact totals");
        assert!(rates.is_empty());
    }

    #[test]
    fn totals_convert_other_currencies_at_the_reference_rates() {
        let groups = [
            group("USD", TransactionStatus::Succeeded, 0, 1, 1_234),
            group("EUR", TransactionStatus::Succeeded, 0, 1, 500),
            group("JPY", TransactionStatus::Succeeded, 0, 1, 10_000),
            group("JPY", TransactionStatus::Refunded, 0, 1, 1_000),
        ];
        let (periods, rates) = summarize(&groups, "USD");
        let today = &periods[0];
        // fraud::currency: 1 EUR = 1.08 USD, 1 JPY = 0.0067 USD.
        assert_eq!(today.net_revenue, Money { minor: 1_234 + 540 + 6_700, currency: "USD".into() });
        assert_eq!(today.refunded.minor, 670);
        assert_eq!((today.orders, today.refunds), (4, 1));
        assert!(today.converted);
        let breakdown: Vec<(String, i64)> = today.by_currency.iter().map(|c| (c.net_revenue.currency.clone(), c.net_revenue.minor)).collect();
        assert_eq!(breakdown, [("JPY".into(), 10_000), ("USD".into(), 1_234), ("EUR".into(), 500)], "largest (converted) first, exact amounts");
        let rates: Vec<(String, Option<f64>)> = rates.into_iter().map(|r| (r.currency, r.rate)).collect();
        assert_eq!(rates.len(), 2);
        assert_eq!(rates[0].0, "EUR");
        assert!((rates[0].1.unwrap() - 1.08).abs() < 1e-12);
        assert_eq!(rates[1].0, "JPY");
        assert!((rates[1].1.unwrap() - 0.0067).abs() < 1e-12);
    }

    #[test]
    fn a_currency_without_a_rate_is_listed_but_left_out_of_the_totals() {
        let groups = [group("EUR", TransactionStatus::Succeeded, 2, 2, 1_000), group("XTS", TransactionStatus::Succeeded, 2, 1, 999)];
        let (periods, rates) = summarize(&groups, "EUR");
        let month = &periods[2];
        assert_eq!(month.net_revenue, Money { minor: 1_000, currency: "EUR".into() });
        assert_eq!(month.orders, 3);
        assert!(!month.converted);
        assert_eq!(month.by_currency.len(), 2);
        assert_eq!(rates, [ReferenceRate { currency: "XTS".into(), rate: None }]);
        assert!(periods[0].by_currency.is_empty(), "nothing today");
    }

    #[test]
    fn conversion_goes_through_usd_between_any_two_accepted_currencies() {
        // 10.80 USD is 10.00 EUR at 1 EUR = 1.08 USD; 10,000 JPY is 67 USD = 62.04 EUR.
        assert!((convert_minor(1_080, "USD", "EUR").unwrap() - 1_000.0).abs() < 1e-9);
        assert!((convert_minor(10_000, "JPY", "EUR").unwrap() - 6_700.0 / 1.08).abs() < 1e-9);
        assert!((convert_minor(100, "USD", "JPY").unwrap() - 1.0 / 0.0067).abs() < 1e-9);
        assert_eq!(convert_minor(123, "XTS", "XTS"), Some(123.0), "the same currency needs no rate");
        assert_eq!(convert_minor(123, "XTS", "USD"), None);
    }

    #[test]
    fn the_formatter_knows_the_exponent_of_every_currency_the_ingest_accepts() {
        // app::money formats, fraud::currency converts: they must agree on the minor units.
        for code in currency::supported() {
            let exponent = crate::app::money::exponent(code);
            assert_eq!(currency::to_major(10i64.pow(exponent), code), 1.0, "{code}: one unit is 10^{exponent} minor units");
        }
        assert_eq!(currency::supported().count(), 19);
    }

    #[test]
    fn daily_series_is_zero_filled_converted_and_ignores_days_outside_the_window() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let day =
            |d: NaiveDate, currency: &str, orders: i64, net_minor: i64| DayGroup { currency: currency.into(), sale_day: d.to_string(), orders, net_minor };
        let groups = [
            day(today, "USD", 2, 700),
            day(today, "JPY", 1, 10_000),
            day(today - Duration::days(29), "USD", 1, 100),
            day(today - Duration::days(30), "USD", 1, 999),
        ];
        let (days, converted) = daily_series(&groups, today, "USD");
        assert_eq!(days.len(), 30);
        assert_eq!(days[0].date, "2026-10-24");
        assert_eq!((days[0].net_revenue_minor, days[0].orders), (100, 1));
        assert_eq!((days[29].net_revenue_minor, days[29].orders), (700 + 6_700, 3));
        assert_eq!(days.iter().map(|d| d.net_revenue_minor).sum::<i64>(), 7_500);
        assert!(converted);
        assert!(!daily_series(&groups[2..], today, "USD").1);
    }
}
