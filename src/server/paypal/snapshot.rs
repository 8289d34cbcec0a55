//! PayPal's responses → the snapshot the panel shows (balances, ten latest transactions, open
//! disputes, account status).
use chrono::{DateTime, Utc};

use super::client::PaypalData;
use super::wire;
use crate::app::dto::Money;
use crate::app::dto::{PaypalAccountStatus, PaypalBalance, PaypalDispute, PaypalSnapshot, PaypalTransaction};

pub const RECENT_TRANSACTIONS: usize = 10;

pub fn build(data: PaypalData, fetched_at: DateTime<Utc>) -> PaypalSnapshot {
    let balances = data
        .balances
        .balances
        .iter()
        .filter_map(|b| {
            let total = money(&b.total_balance)?;
            let zero = Money { minor: 0, currency: total.currency.clone() };
            Some(PaypalBalance {
                currency: b.currency.clone(),
                primary: b.primary,
                available: b.available_balance.as_ref().and_then(money).unwrap_or_else(|| total.clone()),
                withheld: b.withheld_balance.as_ref().and_then(money).unwrap_or(zero),
                total,
            })
        })
        .collect();

    let mut transactions: Vec<PaypalTransaction> = data
        .transactions
        .iter()
        .filter_map(|d| {
            let info = d.transaction_info.as_ref()?;
            Some(PaypalTransaction {
                id: info.transaction_id.clone()?,
                date: normalise_time(info.transaction_initiation_date.as_deref()?)?,
                amount: money(info.transaction_amount.as_ref()?)?,
                fee: info.fee_amount.as_ref().and_then(money),
                status: transaction_status(info.transaction_status.as_deref()).to_string(),
                payer_email: d.payer_info.as_ref().and_then(|p| p.email_address.clone()),
                subject: info.transaction_subject.clone(),
            })
        })
        .collect();
    let transactions_30d = transactions.len() as u32;
    // RFC 3339 in UTC sorts as text.
    transactions.sort_by(|a, b| b.date.cmp(&a.date));
    transactions.truncate(RECENT_TRANSACTIONS);

    let mut open_disputes: Vec<PaypalDispute> = data
        .disputes
        .iter()
        .filter(|d| d.status.as_deref() != Some("RESOLVED"))
        .filter_map(|d| {
            Some(PaypalDispute {
                id: d.dispute_id.clone()?,
                reason: dispute_reason(d.reason.as_deref()).to_string(),
                status: d.status.clone().unwrap_or_else(|| "OPEN".to_string()),
                amount: money(d.dispute_amount.as_ref()?)?,
                seller_response_due: d.seller_response_due_date.as_deref().and_then(normalise_time),
            })
        })
        .collect();
    // Most urgent first; disputes without a due date last.
    open_disputes.sort_by(|a, b| match (&a.seller_response_due, &b.seller_response_due) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.id.cmp(&b.id),
    });

    let integration = &data.integration;
    PaypalSnapshot {
        fetched_at: fetched_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        balances,
        recent_transactions: transactions,
        transactions_30d,
        open_disputes,
        account: PaypalAccountStatus {
            payments_receivable: integration.payments_receivable.unwrap_or(false),
            primary_email_confirmed: integration.primary_email_confirmed.unwrap_or(false),
            primary_email: integration.primary_email.clone(),
        },
    }
}

/// PayPal's decimal string → minor units of the currency's ISO 4217 exponent, the one the
/// dashboard formats by. (PayPal sends HUF and TWD without decimals, but their ISO exponent is 2:
/// 1000 HUF is 100,000 minor units, not 1,000.)
pub fn money(m: &wire::Money) -> Option<Money> {
    let currency = m.currency_code.trim().to_ascii_uppercase();
    if currency.len() != 3 {
        return None;
    }
    let exponent = crate::app::money::exponent(&currency) as usize;
    let value = m.value.trim();
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > exponent
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let fraction: i64 = format!("{fraction:0<exponent$}").parse().unwrap_or(0);
    let minor = whole.checked_mul(10i64.pow(exponent as u32))?.checked_add(fraction)?;
    Some(Money { minor: if negative { -minor } else { minor }, currency })
}

fn normalise_time(value: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(value).ok().map(|t| t.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn transaction_status(code: Option<&str>) -> &'static str {
    match code {
        Some("S") => "Completed",
        Some("P") => "Pending",
        Some("D") => "Denied",
        Some("V") => "Reversed",
        _ => "Unknown",
    }
}

fn dispute_reason(code: Option<&str>) -> &'static str {
    match code {
        Some("MERCHANDISE_OR_SERVICE_NOT_RECEIVED") => "Item not received",
        Some("MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED") => "Not as described",
        Some("UNAUTHORISED") => "Unauthorised payment",
        Some("CREDIT_NOT_PROCESSED") => "Credit not processed",
        Some("DUPLICATE_TRANSACTION") => "Duplicate transaction",
        Some("INCORRECT_AMOUNT") => "Incorrect amount",
        Some("PAYMENT_BY_OTHER_MEANS") => "Paid by other means",
        Some("CANCELED_RECURRING_BILLING") => "Cancelled subscription",
        Some("PROBLEM_WITH_REMITTANCE") => "Problem with remittance",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(value: &str, currency: &str) -> wire::Money {
        wire::Money { currency_code: currency.into(), value: value.into() }
    }

    #[test]
    fn decimal_strings_become_minor_units() {
        assert_eq!(money(&m("1234.56", "USD")).unwrap().minor, 123_456);
        assert_eq!(money(&m("-0.5", "EUR")).unwrap().minor, -50);
        assert_eq!(money(&m(".05", "USD")).unwrap().minor, 5);
        assert_eq!(money(&m("12", "usd")).unwrap(), Money { minor: 1200, currency: "USD".into() });
        assert_eq!(money(&m("500", "JPY")).unwrap().minor, 500);
        // Whole forints and New Taiwan dollars, as PayPal sends them, in ISO minor units.
        assert_eq!(money(&m("1000", "HUF")).unwrap().minor, 100_000);
        assert_eq!(money(&m("35", "TWD")).unwrap().minor, 3_500);
    }

    #[test]
    fn malformed_amounts_are_rejected() {
        for bad in ["", "1.234", "12a", "1e5", "--1", "1.2.3", "."] {
            assert_eq!(money(&m(bad, "USD")), None, "{bad:?}");
        }
        assert_eq!(money(&m("1.5", "JPY")), None);
        assert_eq!(money(&m("1", "DOLLARS")), None);
        assert_eq!(money(&m("99999999999999999999", "USD")), None);
    }
}
