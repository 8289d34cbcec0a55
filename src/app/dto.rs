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
    /// A draft's save count; what a test or backtest names to say which rules it saw.
    pub revision: i32,
    pub draft: RulesetDraft,
}

/// One action in the admin audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventView {
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub actor: String,
    /// `kind.verb`, e.g. `ruleset.published`.
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    pub summary: String,
    pub reason: Option<String>,
}

/// A rule's last 30 days: matches per day (oldest first) and the labels of what it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStat {
    pub rule: String,
    pub hits: u64,
    pub daily: Vec<u64>,
    /// Matched payments a reviewer labelled fraud (refunded as fraud, confirmed fraud).
    pub fraud: u64,
    /// … and labelled not fraud (approved).
    pub legit: u64,
}

impl RuleStat {
    /// Of the labelled payments it matched, the share that was fraud; None without labels.
    pub fn precision(&self) -> Option<f64> {
        let labelled = self.fraud + self.legit;
        (labelled > 0).then(|| self.fraud as f64 / labelled as f64)
    }
}

/// Every rule's last 30 days, by rule name; `days` are the dates (YYYY-MM-DD, UTC) of `daily`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RuleStats {
    pub days: Vec<String>,
    pub rules: Vec<RuleStat>,
    /// Decisions are counted up to this time (RFC 3339); None before the first roll-up.
    pub through: Option<String>,
}

/// The audit page's filters; empty fields do not filter. Dates are YYYY-MM-DD, UTC, inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AuditFilter {
    #[serde(default)]
    pub actor: String,
    /// ruleset, list, case, merchant, user, api_key.
    #[serde(default)]
    pub object_kind: String,
    #[serde(default)]
    pub object_id: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// The kinds of object the audit log names, in the order the filter offers them.
pub const AUDIT_OBJECT_KINDS: [&str; 6] = ["ruleset", "list", "case", "merchant", "user", "api_key"];

/// One page of the audit log, newest first; `next` is the id the next page starts below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEventView>,
    pub next: Option<i64>,
}

/// Where an audit event's object is shown, if anywhere.
pub fn audit_object_href(object_kind: &str, object_id: &str) -> Option<String> {
    let id = crate::app::url::encode(object_id);
    match object_kind {
        "ruleset" => Some("/admin/rules".into()),
        "list" => Some(format!("/admin/lists?list={id}")),
        "case" => Some(format!("/cases/{id}")),
        "merchant" => Some(format!("/merchants/{id}")),
        "user" => Some("/admin/users".into()),
        "api_key" => Some("/admin/keys".into()),
        "webhook" => Some("/admin/webhooks".into()),
        _ => None,
    }
}

/// What a rule may read and call, with types: for the editor's completion and help.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RuleSchema {
    /// `transaction.amount` → `double`, …
    pub fields: Vec<SchemaEntry>,
    /// `in_list(list, value)` → `bool`, …
    pub functions: Vec<SchemaEntry>,
    /// List names with their kind (`email`, `card_fingerprint`, …).
    pub lists: Vec<SchemaEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaEntry {
    /// What is inserted: `transaction.amount`, `in_list`, `blocked_emails`.
    pub name: String,
    /// Its type or kind, shown beside it.
    pub detail: String,
    /// One line of help.
    pub doc: String,
}

/// What a draft is tested on: a stored transaction (with the facts its decision saw) or a
/// transaction pasted as the ingest API's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialSubject {
    TransactionId(i64),
    Pasted(String),
}

/// A backtest run: which draft revision, which window, how far, and its result when done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    pub id: i64,
    /// The draft version and revision it ran on.
    pub version: i32,
    pub revision: i32,
    /// RFC 3339, UTC.
    pub from: String,
    pub to: String,
    /// running, cancelling, cancelled, done, failed, interrupted (its instance stopped).
    pub status: String,
    pub total: u64,
    pub processed: u64,
    pub started_by: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Seconds left, while running.
    pub eta_seconds: Option<u64>,
    pub result: Option<BacktestResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestResult {
    pub decisions: u64,
    /// Outcome then (before) × outcome with the draft (after); only cells that occurred.
    pub matrix: Vec<MatrixCell>,
    /// Each rule of the draft, in order.
    pub rules: Vec<RuleBacktest>,
    pub reviews_per_day: Vec<DayReviews>,
    pub before: Quality,
    pub after: Quality,
    /// Rule results evaluated again, and taken as stored (the rule had not changed).
    #[serde(default)]
    pub evaluated: u64,
    #[serde(default)]
    pub reused: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixCell {
    pub before: String,
    pub after: String,
    pub count: u64,
    pub volume_usd: f64,
    pub examples: Vec<MatrixExample>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixExample {
    pub transaction_id: i64,
    pub case_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleBacktest {
    pub rule: String,
    pub matches: u64,
    pub amount_usd: f64,
    /// Evaluations that failed at run time.
    pub errors: u64,
    /// Of the matches: labelled fraud (by a reviewer, or a dispute for unauthorised use),
    /// labelled not fraud, refunded, disputed (any reason), blocked by the draft.
    pub fraud: u64,
    pub not_fraud: u64,
    pub refunded: u64,
    #[serde(default)]
    pub disputed: u64,
    pub blocked: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayReviews {
    /// YYYY-MM-DD (UTC).
    pub day: String,
    pub before: u64,
    pub after: u64,
}

/// How well "review or block" finds what reviewers labelled fraud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Decisions reviewed or blocked.
    pub flagged: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    /// Decisions labelled fraud in the window.
    pub fraud: u64,
    /// None without labelled flagged decisions.
    pub precision: Option<f64>,
    /// None without fraud labels.
    pub recall: Option<f64>,
}

/// The draft and the published rules side by side on one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleTrial {
    /// "Transaction 1234 (ext-991)" or "The pasted transaction".
    pub subject: String,
    /// The facts the rules saw, pretty-printed JSON.
    pub facts: String,
    /// What the reader should know about the facts (e.g. velocity not read for a pasted one).
    pub caveat: Option<String>,
    pub before: TrialSide,
    pub after: TrialSide,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialSide {
    /// "Published version 3, as decided" / "Draft version 4, revision 2".
    pub label: String,
    /// allow, review or block.
    pub outcome: String,
    pub score: f64,
    pub rules: Vec<RuleResultView>,
}

/// An ingest API key as listed (the key itself is shown once, at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySummary {
    pub id: i32,
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// Bound to this merchant (it sends and reads back that merchant's transactions only);
    /// None: every merchant.
    pub merchant_id: Option<i32>,
    pub merchant_name: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// How long ago it was last used, when listed (the browser has no clock of its own here).
    pub last_used_seconds_ago: Option<i64>,
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
    /// Only this merchant's transactions match it; None: every merchant's.
    pub merchant_id: Option<i32>,
    /// Past its expiry: kept, but no longer matching.
    pub expired: bool,
}

/// Where the next page of a list's entries starts: after this value and scope (0: every merchant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntryCursor {
    pub value: String,
    pub merchant_id: i32,
}

/// One page of a list's entries, in value order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntryPage {
    pub entries: Vec<ListEntryDto>,
    pub next: Option<ListEntryCursor>,
    /// Entries of the list (not removed), whatever the search.
    pub total: u64,
}

/// How an import treats what the list holds already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Add the file's entries; update those it names again; keep the rest.
    Merge,
    /// The list becomes the file: entries it does not name are removed.
    Replace,
}

/// A line of an import that cannot be taken, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportLineError {
    /// The line in the file, from 1 (the header counts).
    pub line: u64,
    pub value: String,
    pub message: String,
}

/// What an import does (preview) or did (applied): counts, and the lines in error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListImportSummary {
    /// Entries in the file (the header and blank lines not counted).
    pub lines: u64,
    pub valid: u64,
    pub added: u64,
    /// Named again with another reason, expiry: the old entry is replaced.
    pub updated: u64,
    pub unchanged: u64,
    /// Replace only: entries of the list the file does not name.
    pub removed: u64,
    pub error_count: u64,
    /// The first lines in error, in file order (at most `MAX_REPORTED_IMPORT_ERRORS`).
    pub errors: Vec<ImportLineError>,
    /// True once written; a preview is false.
    pub applied: bool,
}

pub const MAX_REPORTED_IMPORT_ERRORS: usize = 500;
/// The largest CSV one import takes (the page says so before sending a larger file).
pub const MAX_LIST_IMPORT_BYTES: usize = 8 * 1024 * 1024;

// ---- Review: the queue, claims, the case page -------------------------------------------------

/// Which cases the queue shows. `Open` (the default) is what a reviewer can take: unclaimed and
/// not escalated; `Unresolved` is open, claimed and escalated together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatusFilter {
    Unresolved,
    #[default]
    Open,
    Claimed,
    Escalated,
    Resolved,
}

impl CaseStatusFilter {
    pub const ALL: [CaseStatusFilter; 5] =
        [CaseStatusFilter::Open, CaseStatusFilter::Claimed, CaseStatusFilter::Escalated, CaseStatusFilter::Resolved, CaseStatusFilter::Unresolved];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatusFilter::Unresolved => "unresolved",
            CaseStatusFilter::Open => "open",
            CaseStatusFilter::Claimed => "claimed",
            CaseStatusFilter::Escalated => "escalated",
            CaseStatusFilter::Resolved => "resolved",
        }
    }

    pub fn parse(value: &str) -> Option<CaseStatusFilter> {
        CaseStatusFilter::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn label(self) -> &'static str {
        match self {
            CaseStatusFilter::Unresolved => "All unresolved",
            CaseStatusFilter::Open => "Open",
            CaseStatusFilter::Claimed => "Claimed",
            CaseStatusFilter::Escalated => "Escalated",
            CaseStatusFilter::Resolved => "Resolved",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueSort {
    /// Highest priority first (`review::priority`).
    #[default]
    Priority,
    Oldest,
    Newest,
    /// Largest amount in USD first.
    Amount,
}

impl QueueSort {
    pub const ALL: [QueueSort; 4] = [QueueSort::Priority, QueueSort::Oldest, QueueSort::Newest, QueueSort::Amount];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueSort::Priority => "priority",
            QueueSort::Oldest => "oldest",
            QueueSort::Newest => "newest",
            QueueSort::Amount => "amount",
        }
    }

    pub fn parse(value: &str) -> Option<QueueSort> {
        QueueSort::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn label(self) -> &'static str {
        match self {
            QueueSort::Priority => "Priority",
            QueueSort::Oldest => "Oldest first",
            QueueSort::Newest => "Newest first",
            QueueSort::Amount => "Largest amount",
        }
    }
}

/// The queue's filters and sort, as the URL carries them (`/queue?status=open&min_score=50`).
/// Amounts are whole US dollars at the reference rates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QueueFilter {
    #[serde(default)]
    pub status: CaseStatusFilter,
    #[serde(default)]
    pub sort: QueueSort,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub merchant_id: Option<i32>,
    #[serde(default)]
    pub risk_state: Option<RiskState>,
    #[serde(default)]
    pub min_amount_usd: Option<i64>,
    #[serde(default)]
    pub max_amount_usd: Option<i64>,
    #[serde(default)]
    pub min_score: Option<f64>,
    #[serde(default)]
    pub max_score: Option<f64>,
    /// Only cases waiting at least this many hours.
    #[serde(default)]
    pub min_age_hours: Option<u32>,
    /// Only cases nobody holds.
    #[serde(default)]
    pub unclaimed: bool,
    /// Only cases the caller holds.
    #[serde(default)]
    pub mine: bool,
    /// Search: merchant name or email, buyer email, external id, card fingerprint; typos
    /// tolerated. Shows the 50 best matches under the other filters.
    #[serde(default)]
    pub q: Option<String>,
}

/// How a case's age stands against `REVIEW_SLA_HOURS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    OnTime,
    DueSoon,
    Late,
}

/// Who holds a case, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseClaim {
    pub user_id: i32,
    pub name: String,
    /// RFC 3339, UTC.
    pub lease_until: String,
}

/// What people decide on a case (shared/DESIGN.md, "Decisions and cases").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Not fraud: the transaction goes through.
    Approved,
    Refunded,
    RefundedAsFraud,
    ConfirmedFraud,
}

impl Disposition {
    pub const ALL: [Disposition; 4] = [Disposition::Approved, Disposition::Refunded, Disposition::RefundedAsFraud, Disposition::ConfirmedFraud];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Approved => "approved",
            Disposition::Refunded => "refunded",
            Disposition::RefundedAsFraud => "refunded_as_fraud",
            Disposition::ConfirmedFraud => "confirmed_fraud",
        }
    }

    pub fn parse(value: &str) -> Option<Disposition> {
        Disposition::ALL.into_iter().find(|d| d.as_str() == value)
    }

    pub fn label(self) -> &'static str {
        match self {
            Disposition::Approved => "Approved (false positive)",
            Disposition::Refunded => "Refunded",
            Disposition::RefundedAsFraud => "Refunded as fraud",
            Disposition::ConfirmedFraud => "Confirmed fraud",
        }
    }

    /// Whether the buyer's card and email are offered for the block lists.
    pub fn is_fraud(self) -> bool {
        matches!(self, Disposition::RefundedAsFraud | Disposition::ConfirmedFraud)
    }
}

/// A case's place in its life: open, held by someone, escalated, or resolved with a disposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum CaseState {
    Open,
    Claimed { claim: CaseClaim },
    Resolved { disposition: Disposition },
}

/// One line of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueRow {
    pub case_id: i64,
    /// The case's version, for bulk actions on what the reviewer saw.
    pub version: i32,
    /// RFC 3339, UTC.
    pub opened_at: String,
    pub age_minutes: i64,
    pub sla: SlaState,
    /// Priority now, in US cents (`review::priority`).
    pub priority: i64,
    pub amount: Money,
    pub amount_usd_cents: i64,
    pub merchant_id: i32,
    pub merchant_name: String,
    pub merchant_state: RiskState,
    pub buyer_email: String,
    pub matched_rules: Vec<String>,
    pub score: f64,
    pub escalated: bool,
    pub state: CaseState,
}

/// How many cases each status holds under the current filters. A count stops at `cap`
/// (`capped` then says "more than"): counting never becomes the slow part of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatusCounts {
    pub open: u64,
    pub claimed: u64,
    pub escalated: u64,
    pub resolved: u64,
    pub cap: u64,
}

/// One page of the queue: 50 rows and the cursor to the next page, if any.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QueuePage {
    pub rows: Vec<QueueRow>,
    pub next_cursor: Option<String>,
    /// The newest case id the page knows of: the "N new cases" pill counts cases after it.
    pub newest_case_id: i64,
}

/// Where "next case" sent the reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NextCase {
    Claimed {
        case_id: i64,
    },
    /// Nothing unclaimed matches the filters.
    Empty,
}

/// One rule's result on the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleResultView {
    pub rule: String,
    /// "live" or "shadow".
    pub mode: String,
    /// "matched", "not_matched" or "error".
    pub outcome: String,
    pub explanation: Option<String>,
    pub error: Option<String>,
}

/// One event of a case's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEventView {
    pub id: i64,
    /// opened, claimed, released, lease_expired, reassigned, note, escalated, resolved, …
    pub kind: String,
    pub actor: String,
    pub detail: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
}

/// A transaction related to this case by card, email, IP or device, in the last 90 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedTransaction {
    pub transaction_id: i64,
    /// What it shares: "card", "email", "ip".
    pub shared: Vec<String>,
    pub merchant_name: String,
    pub amount: Money,
    pub status: TransactionStatus,
    pub case_id: Option<i64>,
    pub disposition: Option<Disposition>,
    /// RFC 3339, UTC.
    pub at: String,
}

/// The merchant as the case page shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseMerchant {
    pub id: i32,
    pub name: String,
    pub email: String,
    pub country: String,
    pub verified: bool,
    pub risk_state: RiskState,
    pub account_age_days: i64,
    pub volume_90d_usd_cents: i64,
    pub sales_90d: u64,
    pub refund_rate_90d: f64,
    pub dispute_rate_90d: f64,
}

/// Everything the case page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseDetail {
    pub case_id: i64,
    pub version: i32,
    pub state: CaseState,
    pub escalated: bool,
    /// Whether the caller holds the claim (and may decide).
    pub held_by_me: bool,
    pub opened_at: String,
    pub sla: SlaState,
    pub priority: i64,
    pub transaction_id: i64,
    pub external_id: Option<String>,
    pub amount: Money,
    pub amount_usd_cents: i64,
    pub buyer_email: String,
    pub buyer_ip: String,
    pub ip_country: Option<String>,
    pub card_fingerprint: String,
    pub card_bin: Option<String>,
    pub card_country: String,
    pub outcome: String,
    pub score: f64,
    pub ruleset_version: i32,
    pub rules: Vec<RuleResultView>,
    /// The facts the rules saw (velocity counts, merchant facts), pretty JSON.
    pub facts: String,
    pub merchant: CaseMerchant,
    /// The merchant's risk-state moves, newest first (the latest 10; the merchant page has all).
    pub merchant_history: Vec<RiskEventView>,
    /// The merchant's PayPal account as last synced (never fetched on the request path).
    pub paypal: CasePaypal,
    /// The merchant's PayPal disputes of the last 90 days, newest first (at most 10).
    pub disputes: Vec<DisputeView>,
    pub related: Vec<RelatedTransaction>,
    pub timeline: Vec<CaseEventView>,
}

/// The merchant's PayPal account on the case page: the cache or the last stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CasePaypal {
    NotConnected,
    /// Connected; no sync has stored data yet.
    NoData,
    /// Neither the cache nor the database could be read just now.
    Unavailable,
    Ready {
        account: PaypalAccountStatus,
        /// Age of the data, in seconds.
        age_seconds: i64,
        /// Money PayPal holds back, per currency (only currencies with some).
        withheld: Vec<Money>,
        open_disputes: Vec<PaypalDispute>,
        /// Why the latest sync failed, when it did: the data above is older.
        failing: Option<String>,
    },
}

/// A PayPal dispute of the merchant, as stored from webhooks and reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeView {
    pub paypal_id: String,
    pub reason: String,
    pub status: String,
    pub amount: Money,
    /// RFC 3339, UTC.
    pub opened_at: String,
}

/// A reviewer's decision on a case they hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecideCase {
    pub case_id: i64,
    /// The version the page showed: a case changed since is refused, not overwritten.
    pub version: i32,
    pub action: CaseAction,
    #[serde(default)]
    pub note: String,
    /// For fraud dispositions: add the buyer's card fingerprint and email to the block lists.
    #[serde(default)]
    pub block_card: bool,
    #[serde(default)]
    pub block_email: bool,
    /// For an approval: trust the buyer's email (and card, with `trust_card`) at this merchant.
    #[serde(default)]
    pub trust_buyer: bool,
    #[serde(default)]
    pub trust_card: bool,
    /// The list entries' reason; empty: "<disposition> on case N".
    #[serde(default)]
    pub list_reason: String,
    /// Days the list entries last; None: block entries never expire, trust lasts 90 days.
    #[serde(default)]
    pub list_expiry_days: Option<u32>,
}

impl DecideCase {
    /// A decision with nothing added to the lists.
    pub fn plain(case_id: i64, version: i32, action: CaseAction, note: String) -> DecideCase {
        DecideCase {
            case_id,
            version,
            action,
            note,
            block_card: false,
            block_email: false,
            trust_buyer: false,
            trust_card: false,
            list_reason: String::new(),
            list_expiry_days: None,
        }
    }
}

/// A case as the reviewer saw it: a bulk action applies to that version or leaves the case alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRef {
    pub case_id: i64,
    pub version: i32,
}

/// What a bulk action does to each selected case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// Resolve as a false positive (the payment goes through).
    Approve,
    /// To the admins, with one note for all.
    Escalate { note: String },
    /// Back to the queue: the caller's claims (an admin's: anyone's).
    Release,
    /// Admins only: the case is claimed for this reviewer.
    Assign { user_id: i32 },
}

impl BulkAction {
    pub fn label(&self) -> &'static str {
        match self {
            BulkAction::Approve => "Approve",
            BulkAction::Escalate { .. } => "Escalate",
            BulkAction::Release => "Release",
            BulkAction::Assign { .. } => "Assign",
        }
    }
}

/// What a bulk action did: each case applied, or left alone with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BulkOutcome {
    pub applied: Vec<i64>,
    pub skipped: Vec<BulkSkip>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkSkip {
    pub case_id: i64,
    pub reason: String,
}

/// Someone cases can be assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignee {
    pub user_id: i32,
    pub name: String,
    pub admin: bool,
}

/// A decision's answer: the next case under the reviewer's filters, claimed and read in the same
/// request (submit & next), or none left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    pub next: Option<CaseDetail>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseAction {
    Resolve(Disposition),
    /// To the admins; a note is required.
    Escalate,
}

/// One move of a merchant's risk state, as the merchant page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskEventView {
    pub from: RiskState,
    pub to: RiskState,
    /// The action's name, e.g. "Suspend for fraud".
    pub action: String,
    /// Who or what: a person's name, "rule: …" or "system: …".
    pub actor: String,
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
}

/// The merchant page: facts, the risk history, unresolved cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MerchantPage {
    pub merchant: CaseMerchant,
    pub history: Vec<RiskEventView>,
    pub unresolved_cases: u64,
}

/// A person's account as the admin console lists it (`/admin/users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i32,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub merchant_id: Option<i32>,
    pub created_at: String,
    pub last_login_at: Option<String>,
    /// How long ago they last signed in, when listed.
    pub last_login_seconds_ago: Option<i64>,
    /// Set while the account is disabled.
    pub disabled_at: Option<String>,
}

/// What the platform hears of, as outbound webhook events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEventKind {
    /// A payment held for review or blocked.
    DecisionCreated,
    CaseResolved,
    CaseEscalated,
    MerchantRiskStateChanged,
    AppealOpened,
    AppealDecided,
    ListEntryAdded,
}

impl WebhookEventKind {
    pub const ALL: [WebhookEventKind; 7] = [
        WebhookEventKind::DecisionCreated,
        WebhookEventKind::CaseResolved,
        WebhookEventKind::CaseEscalated,
        WebhookEventKind::MerchantRiskStateChanged,
        WebhookEventKind::AppealOpened,
        WebhookEventKind::AppealDecided,
        WebhookEventKind::ListEntryAdded,
    ];

    /// As the event's `type` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventKind::DecisionCreated => "decision.created",
            WebhookEventKind::CaseResolved => "case.resolved",
            WebhookEventKind::CaseEscalated => "case.escalated",
            WebhookEventKind::MerchantRiskStateChanged => "merchant.risk_state_changed",
            WebhookEventKind::AppealOpened => "appeal.opened",
            WebhookEventKind::AppealDecided => "appeal.decided",
            WebhookEventKind::ListEntryAdded => "list.entry_added",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookEventKind> {
        WebhookEventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What an admin choosing events reads.
    pub fn description(self) -> &'static str {
        match self {
            WebhookEventKind::DecisionCreated => "A payment was held for review or blocked",
            WebhookEventKind::CaseResolved => "A reviewer resolved a case",
            WebhookEventKind::CaseEscalated => "A reviewer escalated a case",
            WebhookEventKind::MerchantRiskStateChanged => "A merchant was flagged, put on probation, suspended or cleared",
            WebhookEventKind::AppealOpened => "A merchant appealed (sent once appeals are open to merchants)",
            WebhookEventKind::AppealDecided => "An appeal was approved or rejected (sent once appeals are open to merchants)",
            WebhookEventKind::ListEntryAdded => "A value was added to a fraud list",
        }
    }
}

/// A webhook endpoint as an admin registers or edits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpointInput {
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEventKind>,
}

/// A webhook endpoint as listed (its secret is shown once, when made or rotated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpointView {
    pub id: i32,
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEventKind>,
    pub created_by: String,
    pub created_at: String,
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
    /// Deliveries have been failing since then (retried with backoff; disabled after 3 days).
    pub failing_since: Option<String>,
    /// Events waiting for it.
    pub pending: u64,
    /// Until when the secret before the last rotation still signs.
    pub previous_secret_until: Option<String>,
}

/// A new endpoint or a rotated secret: the secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSecret {
    pub endpoint: WebhookEndpointView,
    pub secret: String,
}

/// One request made to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttemptView {
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub event_id: i64,
    pub event_kind: String,
    /// A redelivery or test event an admin asked for.
    pub manual: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u32,
    /// The answer's first kilobyte.
    pub response_head: String,
}
