//! The queue's priority: which case a reviewer should look at first.
//!
//! `priority = risk + 10 × minutes waited (+ 10^12 when escalated)`, in cents, where
//! `risk = clamp(score, 50, 100) / 100 × amount in USD cents` — the money at stake, weighted by
//! how sure the rules are (a case held by a review rule, which adds no score, counts as 50). Ten cents a minute is $6 an hour: a day-old $20 case outranks a fresh $100 case
//! at score 50. Since every case ages at the same rate, the order does not change with time, so the
//! database stores `risk − 10 × minutes since the epoch at opening` and sorts on an index; the
//! priority shown is that key plus `10 × minutes now`. The age's SLA colour is separate
//! (`REVIEW_SLA_HOURS`).
use chrono::{DateTime, Utc};

/// Cents of priority a case gains for every minute it waits.
pub const CENTS_PER_MINUTE_WAITED: i64 = 10;
/// Escalated cases come before every other: no amount reaches 10^12 cents.
pub const ESCALATION_BOOST: i64 = 1_000_000_000_000;

/// Every case was held for review, so it counts as at least the default review threshold even
/// when a review rule (which adds no score) held it.
pub const SCORE_FLOOR: f64 = 50.0;

/// The money at stake in cents, weighted by the score (floored at [`SCORE_FLOOR`], capped at 100).
pub fn risk_cents(score: f64, amount_usd_cents: i64) -> i64 {
    (score.clamp(SCORE_FLOOR, 100.0) / 100.0 * amount_usd_cents as f64).round() as i64
}

/// The stored sort key of a case opened at `opened_at`.
pub fn sort_key(score: f64, amount_usd_cents: i64, opened_at: DateTime<Utc>, escalated: bool) -> i64 {
    risk_cents(score, amount_usd_cents) - CENTS_PER_MINUTE_WAITED * (opened_at.timestamp() / 60) + if escalated { ESCALATION_BOOST } else { 0 }
}

/// The priority a stored key stands for at `now`, in cents, without the escalation boost (the
/// badge says a case is escalated; the number stays comparable).
pub fn at(sort_key: i64, now: DateTime<Utc>) -> i64 {
    let priority = sort_key + CENTS_PER_MINUTE_WAITED * (now.timestamp() / 60);
    if priority >= ESCALATION_BOOST / 2 {
        priority - ESCALATION_BOOST
    } else {
        priority
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn risk_and_waiting_add_up_and_the_order_holds_over_time() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z").unwrap().with_timezone(&Utc);
        // $100 at score 50 opened now: 5,000 cents of risk, no wait.
        assert_eq!(at(sort_key(50.0, 10_000, t0, false), t0), 5_000);
        // $20 at score 50 opened a day ago: 1,000 + 14,400 cents.
        let day_old = sort_key(50.0, 2_000, t0 - Duration::days(1), false);
        assert_eq!(at(day_old, t0), 15_400);
        assert!(day_old > sort_key(50.0, 10_000, t0, false));
        // An hour later both gained the same.
        assert_eq!(at(day_old, t0 + Duration::hours(1)) - at(day_old, t0), 600);
        assert!(sort_key(1.0, 1, t0, true) > sort_key(100.0, 100_000_000_00, t0 - Duration::days(365), false));
        assert_eq!(risk_cents(250.0, 1_000), 1_000, "scores above 100 count as 100");
        assert_eq!(risk_cents(0.0, 1_000), 500, "a case held by a review rule counts as the threshold");
        assert_eq!(at(sort_key(50.0, 10_000, t0, true), t0), 5_000, "the boost orders, it is not shown");
    }
}
