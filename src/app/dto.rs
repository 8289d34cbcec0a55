//! Data shared by the server and the browser. Entities never leave the server; these do.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Merchant,
    Reviewer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Merchant, Role::Reviewer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Merchant => "merchant",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == value)
    }

    /// Where a person with this role lands after signing in.
    pub fn home_path(self) -> &'static str {
        match self {
            Role::Merchant => "/",
            Role::Reviewer => "/queue",
            Role::Admin => "/admin/rules",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Merchant => "Merchant",
            Role::Reviewer => "Reviewer",
            Role::Admin => "Admin",
        }
    }
}

/// The signed-in person, as the pages need to know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i32,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub merchant_id: Option<i32>,
}

/// Gumroad's merchant risk states (see docs/ and shared/DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskState {
    NotReviewed,
    Compliant,
    FlaggedForFraud,
    FlaggedForTosViolation,
    OnProbation,
    SuspendedForFraud,
    SuspendedForTosViolation,
}

impl RiskState {
    pub const ALL: [RiskState; 7] = [
        RiskState::NotReviewed,
        RiskState::Compliant,
        RiskState::FlaggedForFraud,
        RiskState::FlaggedForTosViolation,
        RiskState::OnProbation,
        RiskState::SuspendedForFraud,
        RiskState::SuspendedForTosViolation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskState::NotReviewed => "not_reviewed",
            RiskState::Compliant => "compliant",
            RiskState::FlaggedForFraud => "flagged_for_fraud",
            RiskState::FlaggedForTosViolation => "flagged_for_tos_violation",
            RiskState::OnProbation => "on_probation",
            RiskState::SuspendedForFraud => "suspended_for_fraud",
            RiskState::SuspendedForTosViolation => "suspended_for_tos_violation",
        }
    }

    pub fn parse(value: &str) -> Option<RiskState> {
        RiskState::ALL.into_iter().find(|state| state.as_str() == value)
    }

    pub fn label(self) -> &'static str {
        match self {
            RiskState::NotReviewed => "Not reviewed",
            RiskState::Compliant => "Compliant",
            RiskState::FlaggedForFraud => "Flagged for fraud",
            RiskState::FlaggedForTosViolation => "Flagged for terms violation",
            RiskState::OnProbation => "On probation (payouts paused)",
            RiskState::SuspendedForFraud => "Suspended for fraud",
            RiskState::SuspendedForTosViolation => "Suspended for terms violation",
        }
    }

    /// How worried the merchant should be; drives the badge colour.
    pub fn severity(self) -> Severity {
        match self {
            RiskState::NotReviewed | RiskState::Compliant => Severity::Ok,
            RiskState::FlaggedForFraud | RiskState::FlaggedForTosViolation | RiskState::OnProbation => Severity::Warning,
            RiskState::SuspendedForFraud | RiskState::SuspendedForTosViolation => Severity::Critical,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Ok,
    Warning,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    Succeeded,
    Refunded,
    Failed,
    InReview,
    Blocked,
}

impl TransactionStatus {
    pub const ALL: [TransactionStatus; 5] =
        [TransactionStatus::Succeeded, TransactionStatus::Refunded, TransactionStatus::Failed, TransactionStatus::InReview, TransactionStatus::Blocked];

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Succeeded => "succeeded",
            TransactionStatus::Refunded => "refunded",
            TransactionStatus::Failed => "failed",
            TransactionStatus::InReview => "in_review",
            TransactionStatus::Blocked => "blocked",
        }
    }

    pub fn parse(value: &str) -> Option<TransactionStatus> {
        TransactionStatus::ALL.into_iter().find(|status| status.as_str() == value)
    }
}

/// Money in minor units of its ISO 4217 currency, and how it is shown: see `app::money`.
pub use super::money::Money;

pub fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Revenue, orders and refunds over one period. The totals are in the summary's currency; sales
/// in other currencies are converted into it at reference rates (`converted`: approximate, shown
/// with "≈"), and `by_currency` keeps each currency's exact amounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodSales {
    pub label: String,
    /// Gross of settled sales minus refunds.
    pub net_revenue: Money,
    pub orders: u64,
    pub refunds: u64,
    pub refunded: Money,
    /// Whether the totals include amounts converted from other currencies.
    pub converted: bool,
    /// One entry per currency sold in, in that currency, largest (converted) first.
    pub by_currency: Vec<CurrencySales>,
}

/// A period's sales in one currency, exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencySales {
    pub net_revenue: Money,
    pub orders: u64,
    pub refunds: u64,
    pub refunded: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesSummary {
    pub merchant_name: String,
    /// The currency of the totals: the merchant's settlement currency.
    pub currency: String,
    pub periods: Vec<PeriodSales>,
    /// The reference rates the totals were converted at, one per other currency sold in.
    pub rates: Vec<ReferenceRate>,
}

/// One unit of `currency` is worth `rate` units of the totals' currency (a fixed reference
/// rate); `None`: no rate, so these sales are left out of the totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceRate {
    pub currency: String,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyRevenue {
    /// ISO date (UTC), e.g. "2026-11-21".
    pub date: String,
    pub net_revenue_minor: i64,
    pub orders: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueChart {
    pub currency: String,
    /// Whether the daily revenue includes sales converted from other currencies (approximate).
    pub converted: bool,
    pub days: Vec<DailyRevenue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldTransaction {
    pub id: i64,
    pub amount: Money,
    pub buyer_email: String,
    pub status: TransactionStatus,
    /// RFC 3339, UTC.
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudReviewStatus {
    pub risk_state: RiskState,
    pub in_review: u64,
    pub blocked_30d: u64,
    /// The most recent held transactions (in review or blocked), newest first.
    pub recent: Vec<HeldTransaction>,
}

/// One currency of a merchant's PayPal balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaypalBalance {
    pub currency: String,
    pub primary: bool,
    pub total: Money,
    pub available: Money,
    /// Held by PayPal (pending, reserves, disputes).
    pub withheld: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaypalTransaction {
    pub id: String,
    /// RFC 3339, UTC.
    pub date: String,
    pub amount: Money,
    pub fee: Option<Money>,
    /// "Completed", "Pending", "Denied" or "Reversed".
    pub status: String,
    pub payer_email: Option<String>,
    pub subject: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaypalDispute {
    pub id: String,
    /// Readable reason, e.g. "Item not received".
    pub reason: String,
    /// PayPal's status, e.g. "WAITING_FOR_SELLER_RESPONSE".
    pub status: String,
    pub amount: Money,
    /// When the merchant must answer (RFC 3339), if PayPal gave a date.
    pub seller_response_due: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaypalAccountStatus {
    pub payments_receivable: bool,
    pub primary_email_confirmed: bool,
    pub primary_email: Option<String>,
}

/// Everything the panel shows, as last fetched from PayPal. Stored as JSON in the database
/// snapshot and in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaypalSnapshot {
    /// RFC 3339, UTC.
    pub fetched_at: String,
    pub balances: Vec<PaypalBalance>,
    /// Newest first, at most ten.
    pub recent_transactions: Vec<PaypalTransaction>,
    /// Transactions in the last 30 days.
    pub transactions_30d: u32,
    pub open_disputes: Vec<PaypalDispute>,
    pub account: PaypalAccountStatus,
}

/// Why the last background sync failed, for the degraded banner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaypalSyncFailure {
    /// RFC 3339, UTC: first failure of the current run of failures.
    pub since: String,
    /// A short readable cause, e.g. "PayPal did not answer in time".
    pub cause: String,
}

/// The PayPal panel's state. The dashboard never waits on PayPal: this comes from the cache or
/// the database snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaypalPanel {
    /// The merchant has not connected a PayPal account.
    NotConnected,
    /// Connected, but no data has arrived yet; a priority refresh is queued.
    Syncing { failure: Option<PaypalSyncFailure> },
    Ready {
        snapshot: PaypalSnapshot,
        /// Age of the data when it was read, in seconds.
        age_seconds: i64,
        /// Older than the freshness window; a refresh has been queued.
        stale: bool,
        failure: Option<PaypalSyncFailure>,
    },
}

/// "just now", "3 min ago", "2 h ago", "4 days ago".
pub fn describe_age(seconds: i64) -> String {
    match seconds.max(0) {
        0..=59 => "just now".to_string(),
        s @ 60..=3599 => format!("{} min ago", s / 60),
        s @ 3600..=86_399 => format!("{} h ago", s / 3600),
        s if s < 2 * 86_400 => "1 day ago".to_string(),
        s => format!("{} days ago", s / 86_400),
    }
}

/// "14:02 UTC" for today-ish times, "2026-11-21 14:02 UTC" otherwise; from RFC 3339.
pub fn short_utc(rfc3339: &str, today: &str) -> String {
    let date = rfc3339.get(..10).unwrap_or_default();
    let time = rfc3339.get(11..16).unwrap_or_default();
    if date == today {
        format!("{time} UTC")
    } else {
        format!("{date} {time} UTC")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_a_person_would_say_them() {
        assert_eq!(describe_age(-5), "just now");
        assert_eq!(describe_age(59), "just now");
        assert_eq!(describe_age(180), "3 min ago");
        assert_eq!(describe_age(3 * 3600 + 59), "3 h ago");
        assert_eq!(describe_age(86_400 + 10), "1 day ago");
        assert_eq!(describe_age(5 * 86_400), "5 days ago");
    }

    #[test]
    fn times_show_the_date_only_when_it_is_not_the_reference_day() {
        assert_eq!(short_utc("2026-11-22T14:02:09Z", "2026-11-22"), "14:02 UTC");
        assert_eq!(short_utc("2026-11-21T23:59:00Z", "2026-11-22"), "2026-11-21 23:59 UTC");
    }

    #[test]
    fn money_displays_with_symbol_and_grouping() {
        assert_eq!(Money { minor: 123_456_789, currency: "USD".into() }.display(), "$1,234,567.89");
        assert_eq!(Money { minor: -5, currency: "EUR".into() }.display(), "-€0.05");
        assert_eq!(Money { minor: 100, currency: "SEK".into() }.display(), "1.00 SEK");
    }
}

/// What a matching rule does: decide, or add points to the score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleEffectSpec {
    Allow,
    Review,
    Block,
    Score(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RuleModeSpec {
    #[default]
    Live,
    /// Evaluated and recorded, never acted on: to see what a rule would do before it does it.
    Shadow,
}

/// A rule as an admin writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub name: String,
    pub description: String,
    /// CEL over `transaction`, `merchant`, `velocity` and `in_list(name, value)`.
    pub expression: String,
    pub effect: RuleEffectSpec,
    pub enabled: bool,
    #[serde(default)]
    pub mode: RuleModeSpec,
}

/// The whole ruleset as saved: rules in order and the score thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesetDraft {
    pub review_score: f64,
    pub block_score: f64,
    pub rules: Vec<RuleSpec>,
    /// What changed and why, for the version history.
    pub note: String,
}

/// A save-time problem: which rule (by position and name), what, and where in its expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleProblem {
    /// 0-based position in the ruleset; None for the ruleset as a whole (thresholds).
    pub rule_index: Option<usize>,
    pub rule_name: String,
    pub message: String,
    /// 1-based line and column in the expression, when the problem is in it.
    pub line: Option<usize>,
    pub column: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RulesetStatus {
    Draft,
    Published,
    Retired,
}

impl RulesetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RulesetStatus::Draft => "draft",
            RulesetStatus::Published => "published",
            RulesetStatus::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<RulesetStatus> {
        [RulesetStatus::Draft, RulesetStatus::Published, RulesetStatus::Retired].into_iter().find(|v| v.as_str() == s)
    }
}

/// One version in the ruleset's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesetVersion {
    pub version: i32,
    pub status: RulesetStatus,
    pub note: String,
    pub created_by: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub published_at: Option<String>,
    pub draft: RulesetDraft,
}

/// An ingest API key as listed (the key itself is shown once, at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySummary {
    pub id: i32,
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub summary: ApiKeySummary,
    /// Shown once: only its SHA-256 is stored.
    pub key: String,
}

/// What a list holds; values are validated and normalised for their kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Email,
    EmailDomain,
    Ip,
    CardFingerprint,
    CardBin,
    Country,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudListSummary {
    pub name: String,
    pub kind: ListKind,
    pub description: String,
    pub entries: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntryDto {
    pub value: String,
    pub reason: String,
    pub added_by: String,
    pub source: String,
    pub expires_at: Option<String>,
    pub created_at: String,
}
