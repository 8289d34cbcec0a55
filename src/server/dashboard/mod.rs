//! The merchant dashboard's read models: sales KPIs, the 30-day revenue chart and the
//! fraud-review status. Reads only; callers pass the read connection and the clock.
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::app::dto::{DailyRevenue, FraudReviewStatus, HeldTransaction, Money, PeriodSales, RevenueChart, RiskState, SalesSummary, TransactionStatus};
use crate::server::db::entities::{merchant, transaction};
use crate::server::error::ServiceError;

pub const CHART_DAYS: i64 = 30;
/// The sales and revenue panels are read through the cache: a minute's delay on totals over 90
/// days is invisible, and it takes their aggregate queries off most page loads.
pub const PANEL_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// Held transactions change when reviewers act; keep them fresher.
pub const FRAUD_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(15);
const RECENT_HELD: u64 = 10;

/// One sale as the KPIs need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleRow {
    pub amount_minor: i64,
    pub status: TransactionStatus,
    pub created_at: DateTime<Utc>,
}

async fn find_merchant(db: &impl ConnectionTrait, merchant_id: i32) -> Result<merchant::Model, ServiceError> {
    merchant::Entity::find_by_id(merchant_id).one(db).await?.ok_or(ServiceError::NotFound("merchant"))
}

/// The merchant's sales since `since`, settled or refunded only.
async fn sales_since(db: &impl ConnectionTrait, merchant_id: i32, since: DateTime<Utc>) -> Result<Vec<SaleRow>, ServiceError> {
    let rows: Vec<(i64, String, DateTime<Utc>)> = transaction::Entity::find()
        .select_only()
        .columns([transaction::Column::AmountMinor, transaction::Column::Status, transaction::Column::CreatedAt])
        .filter(transaction::Column::MerchantId.eq(merchant_id))
        .filter(transaction::Column::CreatedAt.gte(since))
        .filter(transaction::Column::Status.is_in([TransactionStatus::Succeeded.as_str(), TransactionStatus::Refunded.as_str()]))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(amount_minor, status, created_at)| Some(SaleRow { amount_minor, status: TransactionStatus::parse(&status)?, created_at }))
        .collect())
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

pub async fn sales_summary(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<SalesSummary, ServiceError> {
    let merchant = find_merchant(db, merchant_id).await?;
    let rows = sales_since(db, merchant_id, now - Duration::days(30)).await?;
    Ok(SalesSummary { periods: summarize(&rows, now, &merchant.currency), merchant_name: merchant.name })
}

/// Today (since UTC midnight), the last 7 days and the last 30 days.
pub fn summarize(rows: &[SaleRow], now: DateTime<Utc>, currency: &str) -> Vec<PeriodSales> {
    [("Today", start_of_day(now)), ("Last 7 days", now - Duration::days(7)), ("Last 30 days", now - Duration::days(30))]
        .into_iter()
        .map(|(label, since)| {
            let (mut net, mut orders, mut refunds, mut refunded) = (0i64, 0u64, 0u64, 0i64);
            for row in rows.iter().filter(|r| r.created_at >= since && r.created_at <= now) {
                orders += 1;
                match row.status {
                    TransactionStatus::Refunded => {
                        refunds += 1;
                        refunded += row.amount_minor;
                    }
                    _ => net += row.amount_minor,
                }
            }
            PeriodSales {
                label: label.to_string(),
                net_revenue: Money { minor: net, currency: currency.to_string() },
                orders,
                refunds,
                refunded: Money { minor: refunded, currency: currency.to_string() },
            }
        })
        .collect()
}

pub async fn revenue_chart(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<RevenueChart, ServiceError> {
    let merchant = find_merchant(db, merchant_id).await?;
    let first_day = start_of_day(now) - Duration::days(CHART_DAYS - 1);
    let rows = sales_since(db, merchant_id, first_day).await?;
    Ok(RevenueChart { currency: merchant.currency, days: daily_series(&rows, now.date_naive()) })
}

/// Net revenue and orders for each of the `CHART_DAYS` UTC days ending `today`, zero-filled.
pub fn daily_series(rows: &[SaleRow], today: NaiveDate) -> Vec<DailyRevenue> {
    let first = today - Duration::days(CHART_DAYS - 1);
    let mut days: Vec<DailyRevenue> =
        (0..CHART_DAYS).map(|i| DailyRevenue { date: (first + Duration::days(i)).to_string(), net_revenue_minor: 0, orders: 0 }).collect();
    for row in rows {
        let index = (row.created_at.date_naive() - first).num_days();
        let Some(day) = usize::try_from(index).ok().and_then(|i| days.get_mut(i)) else { continue };
        day.orders += 1;
        if row.status == TransactionStatus::Succeeded {
            day.net_revenue_minor += row.amount_minor;
        }
    }
    days
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
    use chrono::TimeZone;

    fn sale(amount_minor: i64, status: TransactionStatus, at: DateTime<Utc>) -> SaleRow {
        SaleRow { amount_minor, status, created_at: at }
    }

    #[test]
    fn periods_count_orders_and_subtract_refunds() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        let rows = [
            sale(1_000, TransactionStatus::Succeeded, now - Duration::hours(1)),
            sale(500, TransactionStatus::Refunded, now - Duration::hours(2)),
            sale(2_000, TransactionStatus::Succeeded, now - Duration::hours(11)), // yesterday
            sale(4_000, TransactionStatus::Succeeded, now - Duration::days(8)),
        ];
        let periods = summarize(&rows, now, "USD");
        let today = &periods[0];
        assert_eq!((today.net_revenue.minor, today.orders, today.refunds, today.refunded.minor), (1_000, 2, 1, 500));
        let week = &periods[1];
        assert_eq!((week.net_revenue.minor, week.orders), (3_000, 3));
        let month = &periods[2];
        assert_eq!((month.net_revenue.minor, month.orders, month.refunds), (7_000, 4, 1));
    }

    #[test]
    fn daily_series_is_zero_filled_and_ignores_rows_outside_the_window() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let at = |d: NaiveDate| d.and_hms_opt(12, 0, 0).unwrap().and_utc();
        let rows = [
            sale(700, TransactionStatus::Succeeded, at(today)),
            sale(300, TransactionStatus::Refunded, at(today)),
            sale(100, TransactionStatus::Succeeded, at(today - Duration::days(29))),
            sale(999, TransactionStatus::Succeeded, at(today - Duration::days(30))),
        ];
        let days = daily_series(&rows, today);
        assert_eq!(days.len(), 30);
        assert_eq!(days[0].date, "2026-10-24");
        assert_eq!((days[0].net_revenue_minor, days[0].orders), (100, 1));
        assert_eq!((days[29].net_revenue_minor, days[29].orders), (700, 2));
        assert_eq!(days.iter().map(|d| d.net_revenue_minor).sum::<i64>(), 800);
    }
}
