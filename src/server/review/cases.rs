//! Cases: the queue, claims, decisions by people and the timeline (shared/DESIGN.md, "Decisions
//! and cases"). Pure database work, testable without HTTP; the server functions in
//! `app::api::review` only check the caller's role and call these.
//!
//! **States.** `open` → `claimed` (a lease: `claimed_by`, `lease_until`) → `closed` with a
//! disposition; escalating sends a case back to `open` with `escalated` set (and the priority
//! raised), for the admins. Cases and their events are never deleted or edited.
//!
//! **Exactly one reviewer a case.** "Next case" is one statement that picks the highest-priority
//! open case matching the reviewer's filters and claims it: on PostgreSQL the pick is
//! `FOR UPDATE SKIP LOCKED` (claimers at the same moment take different cases, nobody waits on a
//! global lock); on SQLite the transaction holds the write lock from its start (`BEGIN
//! IMMEDIATE`), so the pick and the claim cannot interleave with another's. Every other write is
//! conditional on the version the caller read (`WHERE version = ?`); a write that finds another
//! version changes nothing and says who changed the case and when ([`CaseError::Stale`]).
//!
//! **Leases.** A claim lasts `REVIEW_LEASE_SECS` (default 10 min) and is renewed while the case
//! page is open; `expire_leases` (a job every 15 s) returns lapsed claims to the queue with a
//! `lease_expired` event. Until it runs, a lapsed claim can be taken by anyone who opens the case.
//!
//! **Reads.** The queue is keyset-paginated (50 a page, never OFFSET) on the sort key and the id,
//! over partial indexes of the unresolved cases (the migration's); counts stop at
//! [`COUNT_CAP`]. Timestamps compare as text on SQLite, in the one RFC 3339 form every writer
//! uses (`…T…+00:00`).
use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, TransactionSession, TransactionTrait, Value};

use super::priority;
use crate::app::dto::{
    Assignee, BulkAction, BulkOutcome, BulkSkip, CaseAction, CaseClaim, CaseDetail, CaseEventView, CaseMerchant, CaseRef, CaseState, CaseStatusFilter,
    DecideCase, Disposition, DisputeView, Money, NextCase, QueueFilter, QueuePage, QueueRow, QueueSort, RelatedTransaction, RiskState, SlaState, StatusCounts,
    TransactionStatus, WebhookEventKind,
};
use crate::server::db;
use crate::server::outbound::outbox;

/// Rows a queue page holds.
pub const PAGE_SIZE: usize = 50;
/// A status count stops here ("10,000+"): counting is never the slow part of the queue.
pub const COUNT_CAP: u64 = 10_000;
/// A note, or an escalation's reason, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// The rule-name filter, in characters (a rule's name is at most 100).
pub const MAX_RULE_FILTER_CHARS: usize = 100;
/// A cursor as the queue hands it out is two integers: anything longer is not one of ours.
pub const MAX_CURSOR_CHARS: usize = 48;
/// A search, in characters: trigrams need three.
pub const MIN_SEARCH_CHARS: usize = 3;
pub const MAX_SEARCH_CHARS: usize = 100;
/// Matches a search considers, and the share of the query's trigrams a match must contain.
const SEARCH_CANDIDATES: usize = 1_000;
const SEARCH_MIN_SIMILARITY: f64 = 0.5;
/// How far back the case page looks for the same card, email or IP.
pub const RELATED_DAYS: i64 = 90;
/// Related transactions shown on the case page, newest first.
pub const RELATED_LIMIT: u64 = 25;
/// The merchant's latest risk-state moves on the case page (the merchant page has them all).
pub const CASE_HISTORY_LIMIT: u64 = 10;
/// The merchant's disputes on the case page, newest first.
pub const CASE_DISPUTES_LIMIT: u64 = 10;
/// How long a trusted buyer stays trusted, unless the reviewer says otherwise.
pub const TRUST_DAYS: i64 = 90;
/// A list entry added from a case lasts at most this many days (a block may also have no end).
pub const MAX_LIST_DAYS: u32 = 3_650;
/// A list entry's reason, in characters (the column's size).
pub const MAX_LIST_REASON_CHARS: usize = 500;
/// Cases one bulk action takes.
pub const MAX_BULK: usize = 1_000;

/// The person acting, as the service needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewer {
    pub user_id: i32,
    pub name: String,
    /// Admins may also take escalated cases and reassign.
    pub admin: bool,
}

/// The review clock: how long a claim lasts, and the SLA a case's age is coloured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewTiming {
    pub lease: Duration,
    pub sla: Duration,
}

impl Default for ReviewTiming {
    fn default() -> Self {
        ReviewTiming { lease: Duration::minutes(10), sla: Duration::hours(24) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("There is no case {0}.")]
    NotFound(i64),
    #[error("There is no merchant {0}.")]
    UnknownMerchant(i32),
    #[error("Case {case_id} is held by {holder} until {until}. You can read it; they decide it.")]
    HeldByOther { case_id: i64, holder: String, until: String },
    #[error("Case {case_id} was changed by {by} at {at} — reload it to see what changed.")]
    Stale { case_id: i64, by: String, at: String },
    #[error("{0}")]
    Invalid(String),
    #[error("database error")]
    Database(#[from] DbErr),
}

/// The timeline's event kinds (the database checks the same set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Claimed,
    Released,
    LeaseExpired,
    Reassigned,
    Note,
    Escalated,
    Resolved,
    ListEntryAdded,
    MerchantTransition,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Claimed => "claimed",
            EventKind::Released => "released",
            EventKind::LeaseExpired => "lease_expired",
            EventKind::Reassigned => "reassigned",
            EventKind::Note => "note",
            EventKind::Escalated => "escalated",
            EventKind::Resolved => "resolved",
            EventKind::ListEntryAdded => "list_entry_added",
            EventKind::MerchantTransition => "merchant_transition",
        }
    }
}

/// The matched rules as the case row keeps them: names one a line, cut to the column's 2,000
/// characters at a line's end.
pub fn matched_rules_column(names: &str) -> String {
    if names.chars().count() <= 2_000 {
        return names.to_string();
    }
    let mut kept = String::new();
    for line in names.lines() {
        if kept.chars().count() + line.chars().count() + 1 > 2_000 {
            break;
        }
        if !kept.is_empty() {
            kept.push('\n');
        }
        kept.push_str(line);
    }
    kept
}

/// How `age` stands against the SLA: late past it, due soon within its last hour.
pub fn sla_state(opened_at: DateTime<Utc>, now: DateTime<Utc>, sla: Duration) -> SlaState {
    let age = now - opened_at;
    if age >= sla {
        SlaState::Late
    } else if age >= sla - Duration::hours(1) {
        SlaState::DueSoon
    } else {
        SlaState::OnTime
    }
}

/// Checks a filter's free values before any query: bounded, in range.
pub fn check_filter(filter: &QueueFilter) -> Result<(), CaseError> {
    if let Some(rule) = &filter.rule {
        if rule.chars().count() > MAX_RULE_FILTER_CHARS {
            return Err(CaseError::Invalid(format!("A rule name is at most {MAX_RULE_FILTER_CHARS} characters.")));
        }
    }
    for (name, value) in [("minimum score", filter.min_score), ("maximum score", filter.max_score)] {
        if value.is_some_and(|v| !(0.0..=1_000.0).contains(&v)) {
            return Err(CaseError::Invalid(format!("The {name} must be between 0 and 1,000.")));
        }
    }
    for (name, value) in [("minimum amount", filter.min_amount_usd), ("maximum amount", filter.max_amount_usd)] {
        if value.is_some_and(|v| !(0..=10_000_000_000).contains(&v)) {
            return Err(CaseError::Invalid(format!("The {name} must be between $0 and $10,000,000,000.")));
        }
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let n = q.chars().count();
        if !(MIN_SEARCH_CHARS..=MAX_SEARCH_CHARS).contains(&n) {
            return Err(CaseError::Invalid(format!("Search for {MIN_SEARCH_CHARS} to {MAX_SEARCH_CHARS} characters; this has {n}.")));
        }
    }
    if filter.min_age_hours.is_some_and(|h| h > 24 * 365) {
        return Err(CaseError::Invalid("The age filter is at most a year (8,760 hours).".into()));
    }
    Ok(())
}

/// The WHERE terms of the filters other than status, and their values.
fn filter_terms(backend: DbBackend, filter: &QueueFilter, who: &Reviewer, now: DateTime<Utc>) -> (Vec<String>, Vec<Value>) {
    let (mut terms, mut values): (Vec<String>, Vec<Value>) = (Vec::new(), Vec::new());
    if let Some(rule) = filter.rule.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        // The column holds names one a line: look for the whole line.
        terms.push(match backend {
            DbBackend::Postgres => "strpos(chr(10) || c.matched_rules || chr(10), ?) > 0".into(),
            _ => "instr(char(10) || c.matched_rules || char(10), ?) > 0".into(),
        });
        values.push(format!("\n{rule}\n").into());
    }
    if let Some(merchant_id) = filter.merchant_id {
        terms.push("c.merchant_id = ?".into());
        values.push(merchant_id.into());
    }
    if let Some(state) = filter.risk_state {
        terms.push("c.merchant_id IN (SELECT id FROM merchants WHERE risk_state = ?)".into());
        values.push(state.as_str().into());
    }
    if let Some(min) = filter.min_amount_usd {
        terms.push("c.amount_usd_cents >= ?".into());
        values.push((min * 100).into());
    }
    if let Some(max) = filter.max_amount_usd {
        terms.push("c.amount_usd_cents <= ?".into());
        values.push((max * 100).into());
    }
    if let Some(min) = filter.min_score {
        terms.push("c.score >= ?".into());
        values.push(min.into());
    }
    if let Some(max) = filter.max_score {
        terms.push("c.score <= ?".into());
        values.push(max.into());
    }
    if let Some(hours) = filter.min_age_hours {
        terms.push("c.created_at <= ?".into());
        values.push((now - Duration::hours(hours.into())).into());
    }
    if filter.unclaimed {
        terms.push("c.status = 'open'".into());
    }
    if filter.mine {
        terms.push("c.status = 'claimed' AND c.claimed_by = ?".into());
        values.push(who.user_id.into());
    }
    (terms, values)
}

/// The WHERE term of a status. Unresolved ones always say `c.status <> 'closed'` in those words:
/// SQLite uses a partial index only when the query repeats its condition.
fn status_term(status: CaseStatusFilter) -> &'static str {
    match status {
        CaseStatusFilter::Unresolved => "c.status <> 'closed'",
        CaseStatusFilter::Open => "c.status <> 'closed' AND c.status = 'open' AND NOT c.escalated",
        CaseStatusFilter::Claimed => "c.status <> 'closed' AND c.status = 'claimed'",
        CaseStatusFilter::Escalated => "c.status <> 'closed' AND c.escalated",
        CaseStatusFilter::Resolved => "c.status = 'closed'",
    }
}

/// The sort a status is read in: resolved cases have no priority left, so they read newest or
/// oldest first.
fn effective_sort(filter: &QueueFilter) -> QueueSort {
    match (filter.status, filter.sort) {
        (CaseStatusFilter::Resolved, QueueSort::Priority | QueueSort::Amount) => QueueSort::Newest,
        (_, sort) => sort,
    }
}

/// `ORDER BY`, the keyset condition after a cursor, and the cursor of a row.
fn order_by(sort: QueueSort) -> &'static str {
    match sort {
        QueueSort::Priority => "c.priority DESC, c.id DESC",
        QueueSort::Amount => "c.amount_usd_cents DESC, c.id DESC",
        QueueSort::Oldest => "c.id ASC",
        QueueSort::Newest => "c.id DESC",
    }
}

/// The index a SQLite queue read walks. SQLite 3.46's planner reads the unresolved cases through
/// `idx_cases_status_created` and sorts them (10,735 rows at 1.1 million cases: 70–150 ms), where
/// walking the partial index in the queue's order stops after 51 rows (1–3 ms); so the read names
/// its index. With a merchant filter, the merchant's index is the better walk and is left to the
/// planner; PostgreSQL chooses well by itself.
fn sqlite_index(backend: DbBackend, filter: &QueueFilter, sort: QueueSort) -> &'static str {
    if backend != DbBackend::Sqlite || filter.merchant_id.is_some() {
        return "";
    }
    match (filter.status, sort) {
        (CaseStatusFilter::Resolved, _) => "",
        (CaseStatusFilter::Open, QueueSort::Priority) => " INDEXED BY idx_cases_next",
        (_, QueueSort::Priority) => " INDEXED BY idx_cases_queue_priority",
        (_, QueueSort::Amount) => " INDEXED BY idx_cases_queue_amount",
        (_, QueueSort::Oldest | QueueSort::Newest) => " INDEXED BY idx_cases_queue_id",
    }
}

fn after_cursor(sort: QueueSort, cursor: &str) -> Result<(String, Vec<Value>), CaseError> {
    let bad = || CaseError::Invalid("That page link is not valid any more: go back to the first page.".into());
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(bad());
    }
    let parts: Vec<i64> = cursor.split(':').map(|p| p.parse::<i64>().map_err(|_| bad())).collect::<Result<_, _>>()?;
    Ok(match (sort, parts.as_slice()) {
        (QueueSort::Priority, [key, id]) => ("(c.priority < ? OR (c.priority = ? AND c.id < ?))".into(), vec![(*key).into(), (*key).into(), (*id).into()]),
        (QueueSort::Amount, [key, id]) => {
            ("(c.amount_usd_cents < ? OR (c.amount_usd_cents = ? AND c.id < ?))".into(), vec![(*key).into(), (*key).into(), (*id).into()])
        }
        (QueueSort::Oldest, [id]) => ("c.id > ?".into(), vec![(*id).into()]),
        (QueueSort::Newest, [id]) => ("c.id < ?".into(), vec![(*id).into()]),
        _ => return Err(bad()),
    })
}

fn cursor_of(sort: QueueSort, row: &RawRow) -> String {
    match sort {
        QueueSort::Priority => format!("{}:{}", row.priority, row.id),
        QueueSort::Amount => format!("{}:{}", row.amount_usd_cents, row.id),
        QueueSort::Oldest | QueueSort::Newest => row.id.to_string(),
    }
}

const ROW_COLUMNS: &str = "c.id, c.version, c.created_at, c.priority, c.score, c.amount_usd_cents, c.matched_rules, c.escalated, c.status, \
     c.claimed_by, c.lease_until, c.disposition, c.merchant_id, t.amount_minor, t.currency, t.buyer_email, m.name AS merchant_name, \
     m.risk_state, u.display_name AS holder";

struct RawRow {
    id: i64,
    version: i32,
    created_at: DateTime<Utc>,
    priority: i64,
    score: f64,
    amount_usd_cents: i64,
    matched_rules: String,
    escalated: bool,
    status: String,
    claimed_by: Option<i32>,
    lease_until: Option<DateTime<Utc>>,
    disposition: Option<String>,
    merchant_id: i32,
    amount_minor: i64,
    currency: String,
    buyer_email: String,
    merchant_name: String,
    risk_state: String,
    holder: Option<String>,
}

impl RawRow {
    fn read(row: &QueryResult) -> Result<RawRow, DbErr> {
        Ok(RawRow {
            id: row.try_get("", "id")?,
            version: row.try_get("", "version")?,
            created_at: row.try_get("", "created_at")?,
            priority: row.try_get("", "priority")?,
            score: row.try_get("", "score")?,
            amount_usd_cents: row.try_get("", "amount_usd_cents")?,
            matched_rules: row.try_get("", "matched_rules")?,
            escalated: row.try_get("", "escalated")?,
            status: row.try_get("", "status")?,
            claimed_by: row.try_get("", "claimed_by")?,
            lease_until: row.try_get("", "lease_until")?,
            disposition: row.try_get("", "disposition")?,
            merchant_id: row.try_get("", "merchant_id")?,
            amount_minor: row.try_get("", "amount_minor")?,
            currency: row.try_get("", "currency")?,
            buyer_email: row.try_get("", "buyer_email")?,
            merchant_name: row.try_get("", "merchant_name")?,
            risk_state: row.try_get("", "risk_state")?,
            holder: row.try_get("", "holder")?,
        })
    }

    fn state(&self) -> Result<CaseState, DbErr> {
        state_of(&self.status, self.claimed_by, self.holder.as_deref(), self.lease_until, self.disposition.as_deref())
    }
}

fn state_of(
    status: &str,
    claimed_by: Option<i32>,
    holder: Option<&str>,
    lease_until: Option<DateTime<Utc>>,
    disposition: Option<&str>,
) -> Result<CaseState, DbErr> {
    Ok(match status {
        "open" => CaseState::Open,
        "claimed" => CaseState::Claimed {
            claim: CaseClaim {
                user_id: claimed_by.ok_or_else(|| unreadable("claimed_by"))?,
                name: holder.unwrap_or("a former user").to_string(),
                lease_until: lease_until.ok_or_else(|| unreadable("lease_until"))?.to_rfc3339(),
            },
        },
        "closed" => CaseState::Resolved { disposition: disposition.and_then(parse_disposition).ok_or_else(|| unreadable("disposition"))? },
        _ => return Err(unreadable("status")),
    })
}

/// Stored dispositions: the four people choose, and "false_positive" (an approval) that
/// DESIGN.md names and the database allows.
fn parse_disposition(value: &str) -> Option<Disposition> {
    match value {
        "false_positive" => Some(Disposition::Approved),
        other => Disposition::parse(other),
    }
}

/// One page of the queue under `filter`, after `cursor` (from the previous page).
pub async fn queue<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    filter: &QueueFilter,
    cursor: Option<&str>,
    who: &Reviewer,
    timing: ReviewTiming,
    now: DateTime<Utc>,
) -> Result<QueuePage, CaseError> {
    check_filter(filter)?;
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        return search(db, q, filter, who, timing, now).await;
    }
    let backend = db.get_database_backend();
    let sort = effective_sort(filter);
    let (mut terms, mut values) = filter_terms(backend, filter, who, now);
    terms.insert(0, status_term(filter.status).to_string());
    if let Some(cursor) = cursor.filter(|c| !c.is_empty()) {
        let (term, cursor_values) = after_cursor(sort, cursor)?;
        terms.push(term);
        values.extend(cursor_values);
    }
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM cases c{} JOIN transactions t ON t.id = c.transaction_id JOIN merchants m ON m.id = c.merchant_id \
         LEFT JOIN users u ON u.id = c.claimed_by WHERE {} ORDER BY {} LIMIT {}",
        sqlite_index(backend, filter, sort),
        terms.join(" AND "),
        order_by(sort),
        PAGE_SIZE + 1
    );
    let rows = db.query_all_raw(db::statement(backend, &sql, values)).await?;
    let mut raw = rows.iter().map(RawRow::read).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if raw.len() > PAGE_SIZE {
        raw.truncate(PAGE_SIZE);
        raw.last().map(|row| cursor_of(sort, row))
    } else {
        None
    };
    let newest_case_id = newest_case_id(db).await?;
    let rows = raw.iter().map(|row| queue_row(row, timing, now)).collect::<Result<Vec<_>, DbErr>>()?;
    Ok(QueuePage { rows, next_cursor, newest_case_id })
}

/// The 50 cases that best match `q` under the other filters: substring matches (newest first),
/// or, when there are none, near matches (typos) by the share of the query's trigrams they
/// contain. Both lookups go through the search index (an FTS5 trigram table on
/// SQLite, a `pg_trgm` GIN index on PostgreSQL) and weigh at most 1,000 candidates.
async fn search<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    q: &str,
    filter: &QueueFilter,
    who: &Reviewer,
    timing: ReviewTiming,
    now: DateTime<Utc>,
) -> Result<QueuePage, CaseError> {
    let backend = db.get_database_backend();
    let q = q.to_lowercase();
    let mut ranked: Vec<i64> = Vec::new();
    let (exact_sql, fuzzy_sql) = search_sql(backend);
    let exact = match backend {
        DbBackend::Postgres => Value::from(format!("%{}%", like_escaped(&q))),
        _ => Value::from(format!("\"{}\"", q.replace('"', "\"\""))),
    };
    for row in db.query_all_raw(db::statement(backend, &exact_sql, vec![exact])).await? {
        ranked.push(row.try_get("", "id")?);
    }
    // Newest first.
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    let mut found = fetch_rows(db, &ranked, filter, who, now).await?;
    // Near matches only when nothing matches as typed: a typo finds its case, and a search that
    // already found its cases does not pay for a second, wider lookup.
    if found.is_empty() {
        let fuzzy = match backend {
            DbBackend::Postgres => Value::from(q.clone()),
            // Any of the query's trigrams; the similarity below keeps the near ones.
            _ => Value::from(trigrams(&q).into_iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" OR ")),
        };
        let mut near: Vec<(f64, i64)> = Vec::new();
        let candidates = if backend == DbBackend::Postgres {
            // pg_trgm's default word-similarity threshold (0.6) drops a swapped pair of letters
            // in a short word; the share computed below is the judge, the index only prunes.
            let txn = db.begin().await?;
            txn.execute_unprepared("SET LOCAL pg_trgm.word_similarity_threshold = 0.3").await?;
            let rows = txn.query_all_raw(db::statement(backend, &fuzzy_sql, vec![fuzzy])).await?;
            txn.commit().await?;
            rows
        } else {
            db.query_all_raw(db::statement(backend, &fuzzy_sql, vec![fuzzy])).await?
        };
        for row in candidates {
            let (id, body): (i64, String) = (row.try_get("", "id")?, row.try_get("", "body")?);
            let similarity = trigram_similarity(&q, &body);
            if similarity >= SEARCH_MIN_SIMILARITY && !ranked.contains(&id) {
                near.push((similarity, id));
            }
        }
        near.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        let near_ids: Vec<i64> = near.into_iter().map(|(_, id)| id).collect();
        found.extend(fetch_rows(db, &near_ids, filter, who, now).await?);
    }
    found.truncate(PAGE_SIZE);
    let rows = found.iter().map(|row| queue_row(row, timing, now)).collect::<Result<Vec<_>, DbErr>>()?;
    Ok(QueuePage { rows, next_cursor: None, newest_case_id: newest_case_id(db).await? })
}

/// The search's two lookups: substrings, then near matches. Both must use the search index
/// (`tests/review_queue.rs` reads their plans).
pub fn search_sql(backend: DbBackend) -> (String, String) {
    match backend {
        DbBackend::Postgres => (
            // No ORDER BY: the planner would walk the primary key instead of the trigram index.
            format!("SELECT case_id AS id FROM case_search WHERE body LIKE ? LIMIT {SEARCH_CANDIDATES}"),
            format!("SELECT case_id AS id, body FROM case_search WHERE ? <% body LIMIT {SEARCH_CANDIDATES}"),
        ),
        _ => (
            format!("SELECT rowid AS id FROM case_search WHERE case_search MATCH ? ORDER BY rowid DESC LIMIT {SEARCH_CANDIDATES}"),
            format!("SELECT rowid AS id, body FROM case_search WHERE case_search MATCH ? LIMIT {SEARCH_CANDIDATES}"),
        ),
    }
}

/// The rows of `ids` that pass the filters, in the order of `ids`, at most a page.
async fn fetch_rows(db: &impl ConnectionTrait, ids: &[i64], filter: &QueueFilter, who: &Reviewer, now: DateTime<Utc>) -> Result<Vec<RawRow>, CaseError> {
    let mut kept = Vec::new();
    let backend = db.get_database_backend();
    for chunk in ids.chunks(200) {
        let (mut terms, mut values) = filter_terms(backend, filter, who, now);
        terms.insert(0, status_term(filter.status).to_string());
        terms.push(format!("c.id IN ({})", vec!["?"; chunk.len()].join(", ")));
        values.extend(chunk.iter().map(|id| Value::from(*id)));
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM cases c JOIN transactions t ON t.id = c.transaction_id JOIN merchants m ON m.id = c.merchant_id \
             LEFT JOIN users u ON u.id = c.claimed_by WHERE {}",
            terms.join(" AND ")
        );
        let mut rows = db.query_all_raw(db::statement(backend, &sql, values)).await?.iter().map(RawRow::read).collect::<Result<Vec<_>, _>>()?;
        rows.sort_by_key(|row| chunk.iter().position(|id| *id == row.id));
        kept.extend(rows);
        if kept.len() >= PAGE_SIZE {
            break;
        }
    }
    Ok(kept)
}

/// `%`, `_` and `\` as LIKE reads them literally.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The three-character windows of a text.
fn trigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut all: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    all.sort();
    all.dedup();
    all
}

/// The share of the query's trigrams found in the text: 1.0 for a substring, less per typo.
pub fn trigram_similarity(query: &str, text: &str) -> f64 {
    let wanted = trigrams(query);
    if wanted.is_empty() {
        return 0.0;
    }
    let have: std::collections::HashSet<String> = trigrams(text).into_iter().collect();
    wanted.iter().filter(|t| have.contains(*t)).count() as f64 / wanted.len() as f64
}

fn queue_row(row: &RawRow, timing: ReviewTiming, now: DateTime<Utc>) -> Result<QueueRow, DbErr> {
    Ok(QueueRow {
        case_id: row.id,
        version: row.version,
        opened_at: row.created_at.to_rfc3339(),
        age_minutes: (now - row.created_at).num_minutes().max(0),
        sla: sla_state(row.created_at, now, timing.sla),
        priority: priority::at(row.priority, now),
        amount: Money { minor: row.amount_minor, currency: row.currency.clone() },
        amount_usd_cents: row.amount_usd_cents,
        merchant_id: row.merchant_id,
        merchant_name: row.merchant_name.clone(),
        merchant_state: RiskState::parse(&row.risk_state).ok_or_else(|| unreadable("risk_state"))?,
        buyer_email: row.buyer_email.clone(),
        matched_rules: row.matched_rules.lines().filter(|l| !l.is_empty()).map(String::from).collect(),
        score: row.score,
        escalated: row.escalated,
        state: row.state()?,
    })
}

/// The highest case id: the queue's "N new cases" counts cases above the one it was loaded at.
pub async fn newest_case_id(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = db.query_one_raw(db::statement(db.get_database_backend(), "SELECT COALESCE(MAX(id), 0) AS n FROM cases", vec![])).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}

/// Open, unescalated cases opened after `after_id` that match `filter` (up to [`COUNT_CAP`]).
pub async fn new_since(db: &impl ConnectionTrait, filter: &QueueFilter, after_id: i64, who: &Reviewer, now: DateTime<Utc>) -> Result<u64, CaseError> {
    check_filter(filter)?;
    let backend = db.get_database_backend();
    let (mut terms, mut values) = filter_terms(backend, filter, who, now);
    terms.insert(0, status_term(filter.status).to_string());
    terms.push("c.id > ?".into());
    values.push(after_id.into());
    capped_count(db, &terms, values).await
}

async fn capped_count(db: &impl ConnectionTrait, terms: &[String], values: Vec<Value>) -> Result<u64, CaseError> {
    let sql = format!("SELECT COUNT(*) AS n FROM (SELECT 1 FROM cases c WHERE {} LIMIT {}) capped", terms.join(" AND "), COUNT_CAP + 1);
    let row = db.query_one_raw(db::statement(db.get_database_backend(), &sql, values)).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0).max(0) as u64)
}

/// How many cases each status holds under the filter's other terms, each up to [`COUNT_CAP`].
pub async fn status_counts(db: &impl ConnectionTrait, filter: &QueueFilter, who: &Reviewer, now: DateTime<Utc>) -> Result<StatusCounts, CaseError> {
    check_filter(filter)?;
    let (terms, values) = filter_terms(db.get_database_backend(), filter, who, now);
    let mut counts = StatusCounts { cap: COUNT_CAP, ..StatusCounts::default() };
    for status in [CaseStatusFilter::Open, CaseStatusFilter::Claimed, CaseStatusFilter::Escalated, CaseStatusFilter::Resolved] {
        let mut all = vec![status_term(status).to_string()];
        all.extend(terms.iter().cloned());
        let n = capped_count(db, &all, values.clone()).await?;
        match status {
            CaseStatusFilter::Open => counts.open = n,
            CaseStatusFilter::Claimed => counts.claimed = n,
            CaseStatusFilter::Escalated => counts.escalated = n,
            _ => counts.resolved = n,
        }
    }
    Ok(counts)
}

/// A transaction that holds SQLite's write lock from its start (writes take turns from their
/// first read); an ordinary one on PostgreSQL, where the rows are locked instead.
async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..sea_orm::TransactionOptions::default()
    })
    .await
}

async fn add_event(
    txn: &impl ConnectionTrait,
    case_id: i64,
    kind: EventKind,
    actor: Option<&Reviewer>,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let sql = "INSERT INTO case_events (case_id, kind, actor_user_id, actor_label, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)";
    let label = actor.map_or("Vetted (automatic)", |a| a.name.as_str());
    let values = vec![case_id.into(), kind.as_str().into(), actor.map(|a| a.user_id).into(), label.into(), detail.map(str::to_string).into(), now.into()];
    txn.execute_raw(db::statement(txn.get_database_backend(), sql, values)).await?;
    // The admin's audit log has every action in one place; the case keeps its own timeline.
    let verb = kind.as_str().replace('_', " ");
    let summary = match detail {
        Some(detail) => format!("case {case_id}: {verb} — {detail}"),
        None => format!("case {case_id}: {verb}"),
    };
    let action = format!("case.{}", kind.as_str());
    let entry = crate::server::audit::Entry { actor: label, action: &action, object_kind: "case", object_id: case_id.to_string(), summary, reason: None };
    crate::server::audit::record(txn, entry, now).await
}

/// "Next case": claims the highest-priority open case that matches the reviewer's filters.
/// Escalated cases go to admins, and only when they ask for them (status "escalated").
pub async fn claim_next(
    db: &DatabaseConnection,
    filter: &QueueFilter,
    who: &Reviewer,
    timing: ReviewTiming,
    now: DateTime<Utc>,
) -> Result<NextCase, CaseError> {
    check_filter(filter)?;
    let now = now.trunc_subsecs(6);
    let backend = db.get_database_backend();
    let escalated = who.admin && filter.status == CaseStatusFilter::Escalated;
    let (mut terms, mut values) = filter_terms(backend, &QueueFilter { unclaimed: false, mine: false, ..filter.clone() }, who, now);
    // The words of the partial index `idx_cases_next` (or, for escalated cases, a plain filter).
    terms.insert(0, if escalated { "c.status = 'open' AND c.escalated".into() } else { "c.status = 'open' AND NOT c.escalated".into() });
    let lock = if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    // The open cases' own index, in priority order (see `sqlite_index`).
    let index = if escalated { "" } else { sqlite_index(backend, &QueueFilter { status: CaseStatusFilter::Open, ..filter.clone() }, QueueSort::Priority) };
    let sql = format!(
        "UPDATE cases SET status = 'claimed', claimed_by = ?, lease_until = ?, version = version + 1, updated_at = ? \
         WHERE status = 'open' AND id = (SELECT c.id FROM cases c{index} WHERE {} ORDER BY c.priority DESC, c.id DESC LIMIT 1{lock}) RETURNING id",
        terms.join(" AND ")
    );
    let mut all = vec![who.user_id.into(), (now + timing.lease).into(), now.into()];
    all.append(&mut values);
    let txn = begin_write(db).await?;
    let claimed = txn.query_one_raw(db::statement(backend, &sql, all)).await?;
    let Some(row) = claimed else {
        txn.rollback().await?;
        return Ok(NextCase::Empty);
    };
    let case_id: i64 = row.try_get("", "id")?;
    add_event(&txn, case_id, EventKind::Claimed, Some(who), Some("next case"), now).await?;
    txn.commit().await?;
    Ok(NextCase::Claimed { case_id })
}

/// The case row as the writes need it.
struct CaseRow {
    version: i32,
    status: String,
    escalated: bool,
    claimed_by: Option<i32>,
    lease_until: Option<DateTime<Utc>>,
    holder: Option<String>,
    transaction_id: i64,
    merchant_id: i32,
}

/// The case's current version, for a write that follows a claim without showing the case.
pub async fn version_of(db: &impl ConnectionTrait, case_id: i64) -> Result<i32, CaseError> {
    Ok(load_case(db, case_id, false).await?.version)
}

async fn load_case(txn: &impl ConnectionTrait, case_id: i64, lock: bool) -> Result<CaseRow, CaseError> {
    let backend = txn.get_database_backend();
    let lock = if lock && backend == DbBackend::Postgres { " FOR UPDATE OF c" } else { "" };
    let sql = format!(
        "SELECT c.version, c.status, c.escalated, c.claimed_by, c.lease_until, c.transaction_id, c.merchant_id, u.display_name AS holder \
         FROM cases c LEFT JOIN users u ON u.id = c.claimed_by WHERE c.id = ?{lock}"
    );
    let row = txn.query_one_raw(db::statement(backend, &sql, vec![case_id.into()])).await?.ok_or(CaseError::NotFound(case_id))?;
    Ok(CaseRow {
        version: row.try_get("", "version")?,
        status: row.try_get("", "status")?,
        escalated: row.try_get("", "escalated")?,
        claimed_by: row.try_get("", "claimed_by")?,
        lease_until: row.try_get("", "lease_until")?,
        holder: row.try_get("", "holder")?,
        transaction_id: row.try_get("", "transaction_id")?,
        merchant_id: row.try_get("", "merchant_id")?,
    })
}

/// Who last changed the case and when, for a stale write's message.
async fn last_change(txn: &impl ConnectionTrait, case_id: i64) -> Result<(String, String), DbErr> {
    let sql = "SELECT actor_label, created_at FROM case_events WHERE case_id = ? ORDER BY id DESC LIMIT 1";
    let row = txn.query_one_raw(db::statement(txn.get_database_backend(), sql, vec![case_id.into()])).await?;
    Ok(match row {
        Some(row) => (row.try_get("", "actor_label")?, row.try_get::<DateTime<Utc>>("", "created_at")?.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        None => ("someone".into(), "an unknown time".into()),
    })
}

impl CaseRow {
    fn held_by_other(&self, who: &Reviewer, now: DateTime<Utc>) -> bool {
        self.status == "claimed" && self.claimed_by != Some(who.user_id) && self.lease_until.is_some_and(|until| until > now)
    }

    fn held_error(&self, case_id: i64) -> CaseError {
        CaseError::HeldByOther {
            case_id,
            holder: self.holder.clone().unwrap_or_else(|| "a former user".into()),
            until: self.lease_until.map_or_else(String::new, |t| t.format("%H:%M UTC").to_string()),
        }
    }
}

/// Claims one case (opening its page): an open case, or one whose lease lapsed (its holder's
/// claim ends with a `lease_expired` event first). A case the caller holds has its lease renewed.
/// Returns the case's version after the claim.
pub async fn claim(db: &DatabaseConnection, case_id: i64, who: &Reviewer, timing: ReviewTiming, now: DateTime<Utc>) -> Result<i32, CaseError> {
    let now = now.trunc_subsecs(6);
    let txn = begin_write(db).await?;
    let case = load_case(&txn, case_id, true).await?;
    if case.status == "closed" {
        return Err(CaseError::Invalid(format!("Case {case_id} is resolved; nothing is left to claim.")));
    }
    if case.escalated && !who.admin {
        return Err(CaseError::Invalid(format!("Case {case_id} is escalated to the admins.")));
    }
    if case.held_by_other(who, now) {
        return Err(case.held_error(case_id));
    }
    let backend = txn.get_database_backend();
    if case.status == "claimed" && case.claimed_by == Some(who.user_id) {
        let sql = "UPDATE cases SET lease_until = ? WHERE id = ?";
        txn.execute_raw(db::statement(backend, sql, vec![(now + timing.lease).into(), case_id.into()])).await?;
        txn.commit().await?;
        return Ok(case.version);
    }
    if case.status == "claimed" {
        let detail = format!("{}'s claim lapsed", case.holder.as_deref().unwrap_or("a former user"));
        add_event(&txn, case_id, EventKind::LeaseExpired, None, Some(&detail), now).await?;
    }
    let sql = "UPDATE cases SET status = 'claimed', claimed_by = ?, lease_until = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ?";
    let values = vec![who.user_id.into(), (now + timing.lease).into(), now.into(), case_id.into(), case.version.into()];
    txn.execute_raw(db::statement(backend, sql, values)).await?;
    add_event(&txn, case_id, EventKind::Claimed, Some(who), None, now).await?;
    txn.commit().await?;
    Ok(case.version + 1)
}

/// Keeps the caller's claim alive while the case page is open. False when they no longer hold it.
pub async fn renew(db: &DatabaseConnection, case_id: i64, who: &Reviewer, timing: ReviewTiming, now: DateTime<Utc>) -> Result<bool, CaseError> {
    let sql = "UPDATE cases SET lease_until = ? WHERE id = ? AND status = 'claimed' AND claimed_by = ? AND lease_until > ?";
    let values = vec![(now + timing.lease).into(), case_id.into(), who.user_id.into(), now.into()];
    Ok(db.execute_raw(db::statement(db.get_database_backend(), sql, values)).await?.rows_affected() == 1)
}

/// The checks every decision on a held case makes, inside its transaction.
async fn check_holder(txn: &impl ConnectionTrait, case_id: i64, version: i32, who: &Reviewer, now: DateTime<Utc>) -> Result<CaseRow, CaseError> {
    let case = load_case(txn, case_id, true).await?;
    if case.version != version {
        let (by, at) = last_change(txn, case_id).await?;
        return Err(CaseError::Stale { case_id, by, at });
    }
    if case.status == "closed" {
        return Err(CaseError::Invalid(format!("Case {case_id} is already resolved.")));
    }
    if case.held_by_other(who, now) {
        return Err(case.held_error(case_id));
    }
    if case.status != "claimed" || case.claimed_by != Some(who.user_id) {
        return Err(CaseError::Invalid(format!("Claim case {case_id} first: open it, or press n for the next case.")));
    }
    Ok(case)
}

/// Versioned update of a case the caller holds: exactly one row, or the case changed meanwhile.
async fn update_held(txn: &impl ConnectionTrait, case_id: i64, version: i32, set: &str, mut values: Vec<Value>) -> Result<(), CaseError> {
    let sql = format!("UPDATE cases SET {set}, version = version + 1 WHERE id = ? AND version = ?");
    values.extend([case_id.into(), version.into()]);
    let done = txn.execute_raw(db::statement(txn.get_database_backend(), &sql, values)).await?;
    if done.rows_affected() != 1 {
        let (by, at) = last_change(txn, case_id).await?;
        return Err(CaseError::Stale { case_id, by, at });
    }
    Ok(())
}

/// Gives a held case back to the queue.
pub async fn release(db: &DatabaseConnection, case_id: i64, version: i32, who: &Reviewer, now: DateTime<Utc>) -> Result<(), CaseError> {
    let now = now.trunc_subsecs(6);
    let txn = begin_write(db).await?;
    check_holder(&txn, case_id, version, who, now).await?;
    update_held(&txn, case_id, version, "status = 'open', claimed_by = NULL, lease_until = NULL, updated_at = ?", vec![now.into()]).await?;
    add_event(&txn, case_id, EventKind::Released, Some(who), None, now).await?;
    txn.commit().await?;
    Ok(())
}

fn checked_note(note: &str, required: bool) -> Result<Option<String>, CaseError> {
    let note = note.trim();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(CaseError::Invalid(format!("A note is at most {MAX_NOTE_CHARS} characters; this one has {}.", note.chars().count())));
    }
    if note.is_empty() {
        return if required { Err(CaseError::Invalid("Say why you escalate: the admins read the note first.".into())) } else { Ok(None) };
    }
    Ok(Some(note.to_string()))
}

/// A note on the timeline. Anyone who can see the case can add one; notes change no version.
pub async fn add_note(db: &DatabaseConnection, case_id: i64, who: &Reviewer, note: &str, now: DateTime<Utc>) -> Result<(), CaseError> {
    let note = checked_note(note, false)?.ok_or_else(|| CaseError::Invalid("Write something first: the note is empty.".into()))?;
    let txn = db.begin().await?;
    load_case(&txn, case_id, false).await?;
    add_event(&txn, case_id, EventKind::Note, Some(who), Some(&note), now.trunc_subsecs(6)).await?;
    txn.commit().await?;
    Ok(())
}

/// What a decision did besides the case: list entries added (the engine must reload its lists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decided {
    pub list_entries: Vec<(String, String)>,
}

/// A decision on a case the caller holds, with its events and list entries, in one transaction.
pub async fn decide(db: &DatabaseConnection, decision: &DecideCase, who: &Reviewer, now: DateTime<Utc>) -> Result<Decided, CaseError> {
    let now = now.trunc_subsecs(6);
    let case_id = decision.case_id;
    let note = checked_note(&decision.note, decision.action == CaseAction::Escalate)?;
    let list_options = checked_list_options(decision)?;
    let txn = begin_write(db).await?;
    let case = check_holder(&txn, case_id, decision.version, who, now).await?;
    let mut decided = Decided::default();
    match decision.action {
        CaseAction::Escalate => escalate_in(&txn, case_id, decision.version, &case, note.as_deref(), who, now).await?,
        CaseAction::Resolve(disposition) => {
            resolve_in(&txn, case_id, decision.version, &case, disposition, note.as_deref(), who, now).await?;
            decided.list_entries = add_list_entries(&txn, case_id, &case, decision, &list_options, disposition, who, now).await?;
        }
    }
    txn.commit().await?;
    Ok(decided)
}

/// Sends a case to the admins: open again, escalated, its priority raised above every other.
async fn escalate_in(
    txn: &impl ConnectionTrait,
    case_id: i64,
    version: i32,
    case: &CaseRow,
    note: Option<&str>,
    who: &Reviewer,
    now: DateTime<Utc>,
) -> Result<(), CaseError> {
    if case.escalated {
        return Err(CaseError::Invalid(format!("Case {case_id} is already escalated.")));
    }
    let set = "status = 'open', escalated = ?, priority = priority + ?, claimed_by = NULL, lease_until = NULL, updated_at = ?";
    update_held(txn, case_id, version, set, vec![true.into(), priority::ESCALATION_BOOST.into(), now.into()]).await?;
    add_event(txn, case_id, EventKind::Escalated, Some(who), note, now).await?;
    let data =
        serde_json::json!({ "case_id": case_id, "transaction_id": case.transaction_id, "merchant_id": case.merchant_id, "escalated_at": now.to_rfc3339() });
    outbox::record(txn, WebhookEventKind::CaseEscalated, &format!("case:{case_id}"), data, now).await?;
    Ok(())
}

/// Closes a case with a disposition; the payment follows it.
#[allow(clippy::too_many_arguments)]
async fn resolve_in(
    txn: &impl ConnectionTrait,
    case_id: i64,
    version: i32,
    case: &CaseRow,
    disposition: Disposition,
    note: Option<&str>,
    who: &Reviewer,
    now: DateTime<Utc>,
) -> Result<(), CaseError> {
    let set = "status = 'closed', disposition = ?, resolved_by = ?, resolved_at = ?, claimed_by = NULL, lease_until = NULL, updated_at = ?";
    update_held(txn, case_id, version, set, vec![disposition.as_str().into(), who.user_id.into(), now.into(), now.into()]).await?;
    let detail = match note {
        Some(note) => format!("{}: {note}", disposition.label()),
        None => disposition.label().to_string(),
    };
    add_event(txn, case_id, EventKind::Resolved, Some(who), Some(&detail), now).await?;
    // The label counts toward the precision of the rules that opened the case (rules page).
    let opened = "SELECT created_at, matched_rules FROM cases WHERE id = ?";
    if let Some(row) = txn.query_one_raw(db::statement(txn.get_database_backend(), opened, vec![case_id.into()])).await? {
        let (decided_at, rules): (DateTime<Utc>, String) = (row.try_get("", "created_at")?, row.try_get("", "matched_rules")?);
        crate::server::fraud::rule_stats::record_label(txn, decided_at, &rules, disposition.as_str()).await?;
    }
    // The payment follows the decision: it goes through, is refunded, or stays stopped.
    let status = match disposition {
        Disposition::Approved => TransactionStatus::Succeeded,
        Disposition::Refunded | Disposition::RefundedAsFraud => TransactionStatus::Refunded,
        Disposition::ConfirmedFraud => TransactionStatus::Blocked,
    };
    let sql = "UPDATE transactions SET status = ? WHERE id = ?";
    txn.execute_raw(db::statement(txn.get_database_backend(), sql, vec![status.as_str().into(), case.transaction_id.into()])).await?;
    let data = serde_json::json!({
        "case_id": case_id, "transaction_id": case.transaction_id, "merchant_id": case.merchant_id,
        "disposition": disposition.as_str(), "transaction_status": status.as_str(), "resolved_at": now.to_rfc3339(),
    });
    outbox::record(txn, WebhookEventKind::CaseResolved, &format!("case:{case_id}"), data, now).await?;
    Ok(())
}

/// The reason and lifetime a decision gives the list entries it adds, checked before any write.
struct ListOptions {
    reason: Option<String>,
    expiry_days: Option<u32>,
}

fn checked_list_options(decision: &DecideCase) -> Result<ListOptions, CaseError> {
    let reason = decision.list_reason.trim();
    let n = reason.chars().count();
    if n > MAX_LIST_REASON_CHARS {
        return Err(CaseError::Invalid(format!("A list entry's reason is at most {MAX_LIST_REASON_CHARS} characters; this one has {n}.")));
    }
    if let Some(days) = decision.list_expiry_days {
        if !(1..=MAX_LIST_DAYS).contains(&days) {
            return Err(CaseError::Invalid(format!("List entries last 1 to {MAX_LIST_DAYS} days (or, for blocks, no end); {days} is outside.")));
        }
    }
    Ok(ListOptions { reason: (!reason.is_empty()).then(|| reason.to_string()), expiry_days: decision.list_expiry_days })
}

/// The block-list entries a fraud disposition asked for, or the trusted-buyer entries of an
/// approval (for this merchant only), each with this case as its source and a `list_entry_added`
/// event.
#[allow(clippy::too_many_arguments)]
async fn add_list_entries(
    txn: &impl ConnectionTrait,
    case_id: i64,
    case: &CaseRow,
    decision: &DecideCase,
    options: &ListOptions,
    disposition: Disposition,
    who: &Reviewer,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, CaseError> {
    use crate::server::fraud::{list_store, lists::ListEntry};
    let sql = "SELECT buyer_email, card_fingerprint FROM transactions WHERE id = ?";
    let row = txn.query_one_raw(db::statement(txn.get_database_backend(), sql, vec![case.transaction_id.into()])).await?.ok_or(CaseError::NotFound(case_id))?;
    let (email, card): (String, String) = (row.try_get("", "buyer_email")?, row.try_get("", "card_fingerprint")?);
    let days = |default: Option<i64>| options.expiry_days.map(i64::from).or(default).map(|d| now + Duration::days(d));
    // (list, value, expiry, merchant scope)
    let mut wanted = Vec::new();
    if disposition.is_fraud() {
        if decision.block_card {
            wanted.push(("blocked_cards", card, days(None), None));
        }
        if decision.block_email {
            wanted.push(("blocked_emails", email, days(None), None));
        }
    } else if disposition == Disposition::Approved {
        if decision.trust_buyer {
            wanted.push(("trusted_emails", email, days(Some(TRUST_DAYS)), Some(case.merchant_id)));
        }
        if decision.trust_card {
            wanted.push(("trusted_cards", card, days(Some(TRUST_DAYS)), Some(case.merchant_id)));
        }
    }
    let mut added = Vec::new();
    for (list, value, expires_at, merchant_id) in wanted {
        let entry = ListEntry {
            value: value.clone(),
            reason: options.reason.clone().unwrap_or_else(|| format!("{} on case {case_id}", disposition.label())),
            expires_at,
            added_by: who.name.clone(),
            source: format!("case:{case_id}"),
            merchant_id,
        };
        let stored = list_store::add_entry_in(txn, list, &value, entry, now).await.map_err(|e| match e {
            list_store::ListStoreError::Database(e) => CaseError::Database(e),
            other => CaseError::Invalid(format!("Could not add {value} to {list}: {other}.")),
        })?;
        let scope = if merchant_id.is_some() { " (this merchant only)" } else { "" };
        let until = expires_at.map_or_else(|| ", no end".to_string(), |t| format!(", until {}", t.format("%Y-%m-%d")));
        add_event(txn, case_id, EventKind::ListEntryAdded, Some(who), Some(&format!("{list}: {stored}{scope}{until}")), now).await?;
        added.push((list.to_string(), stored));
    }
    Ok(added)
}

/// Applies a bulk action to each case on its own, at the version the reviewer saw: a case that
/// changed meanwhile, or that the action does not fit, is reported by id and left alone; no case
/// is ever half-done (each is one transaction with its event).
pub async fn bulk(
    db: &DatabaseConnection,
    action: &BulkAction,
    cases: &[CaseRef],
    who: &Reviewer,
    timing: ReviewTiming,
    now: DateTime<Utc>,
) -> Result<BulkOutcome, CaseError> {
    let now = now.trunc_subsecs(6);
    if cases.is_empty() {
        return Err(CaseError::Invalid("Select at least one case first (x, or the row's checkbox).".into()));
    }
    if cases.len() > MAX_BULK {
        return Err(CaseError::Invalid(format!("A bulk action takes at most {MAX_BULK} cases; {} are selected. Narrow the filters.", cases.len())));
    }
    let note = match action {
        BulkAction::Escalate { note } => checked_note(note, true)?,
        _ => None,
    };
    let assignee = match action {
        BulkAction::Assign { user_id } => Some(assignee(db, *user_id, who).await?),
        _ => None,
    };
    let mut outcome = BulkOutcome::default();
    let mut seen = std::collections::HashSet::new();
    for case in cases.iter().filter(|c| seen.insert(c.case_id)) {
        match bulk_one(db, case, action, note.as_deref(), assignee.as_ref(), who, timing, now).await {
            Ok(()) => outcome.applied.push(case.case_id),
            Err(CaseError::Database(e)) => {
                tracing::warn!(kind = db::error_kind(&e), case_id = case.case_id, "a bulk action's case failed");
                outcome.skipped.push(BulkSkip { case_id: case.case_id, reason: "The database did not save it; nothing changed. Try again.".into() });
            }
            Err(e) => outcome.skipped.push(BulkSkip { case_id: case.case_id, reason: e.to_string() }),
        }
    }
    Ok(outcome)
}

/// An admin gives one case to a reviewer (or another admin).
pub async fn assign(db: &DatabaseConnection, case: CaseRef, user_id: i32, who: &Reviewer, timing: ReviewTiming, now: DateTime<Utc>) -> Result<(), CaseError> {
    let to = assignee(db, user_id, who).await?;
    bulk_one(db, &case, &BulkAction::Assign { user_id }, None, Some(&to), who, timing, now.trunc_subsecs(6)).await
}

/// Reviewers and admins cases can be given to, by name.
pub async fn assignees(db: &impl ConnectionTrait) -> Result<Vec<Assignee>, CaseError> {
    let sql = "SELECT id, display_name, role FROM users WHERE role IN ('reviewer', 'admin') AND disabled_at IS NULL ORDER BY display_name, id";
    let rows = db.query_all_raw(db::statement(db.get_database_backend(), sql, vec![])).await?;
    rows.iter()
        .map(|row| {
            Ok(Assignee { user_id: row.try_get("", "id")?, name: row.try_get("", "display_name")?, admin: row.try_get::<String>("", "role")? == "admin" })
        })
        .collect()
}

async fn assignee(db: &impl ConnectionTrait, user_id: i32, who: &Reviewer) -> Result<Assignee, CaseError> {
    if !who.admin {
        return Err(CaseError::Invalid("Only admins assign cases to others.".into()));
    }
    let sql = "SELECT id, display_name, role FROM users WHERE id = ? AND role IN ('reviewer', 'admin') AND disabled_at IS NULL";
    let row = db.query_one_raw(db::statement(db.get_database_backend(), sql, vec![user_id.into()])).await?;
    let row = row.ok_or_else(|| CaseError::Invalid(format!("There is no reviewer or admin with id {user_id}.")))?;
    Ok(Assignee { user_id, name: row.try_get("", "display_name")?, admin: row.try_get::<String>("", "role")? == "admin" })
}

/// One case of a bulk action, in its own transaction.
#[allow(clippy::too_many_arguments)]
async fn bulk_one(
    db: &DatabaseConnection,
    seen: &CaseRef,
    action: &BulkAction,
    note: Option<&str>,
    assignee: Option<&Assignee>,
    who: &Reviewer,
    timing: ReviewTiming,
    now: DateTime<Utc>,
) -> Result<(), CaseError> {
    let case_id = seen.case_id;
    let txn = begin_write(db).await?;
    let case = load_case(&txn, case_id, true).await?;
    if case.version != seen.version {
        let (by, at) = last_change(&txn, case_id).await?;
        return Err(CaseError::Stale { case_id, by, at });
    }
    if case.status == "closed" {
        return Err(CaseError::Invalid(format!("Case {case_id} is already resolved.")));
    }
    let lease_live = case.lease_until.is_some_and(|until| until > now);
    match action {
        BulkAction::Approve | BulkAction::Escalate { .. } => {
            if case.held_by_other(who, now) {
                return Err(case.held_error(case_id));
            }
            if case.escalated && !who.admin {
                return Err(CaseError::Invalid(format!("Case {case_id} is escalated to the admins.")));
            }
            if matches!(action, BulkAction::Approve) {
                resolve_in(&txn, case_id, seen.version, &case, Disposition::Approved, Some("bulk approval"), who, now).await?;
            } else {
                escalate_in(&txn, case_id, seen.version, &case, note, who, now).await?;
            }
        }
        BulkAction::Release => {
            if case.status != "claimed" {
                return Err(CaseError::Invalid(format!("Case {case_id} is not claimed; there is nothing to release.")));
            }
            if case.claimed_by != Some(who.user_id) && !who.admin && lease_live {
                return Err(case.held_error(case_id));
            }
            let set = "status = 'open', claimed_by = NULL, lease_until = NULL, updated_at = ?";
            update_held(&txn, case_id, seen.version, set, vec![now.into()]).await?;
            let detail = (case.claimed_by != Some(who.user_id)).then(|| format!("{}'s claim", case.holder.as_deref().unwrap_or("a former user")));
            add_event(&txn, case_id, EventKind::Released, Some(who), detail.as_deref(), now).await?;
        }
        BulkAction::Assign { .. } => {
            let to = assignee.ok_or_else(|| CaseError::Invalid("Choose whom to assign the cases to.".into()))?;
            if case.escalated && !to.admin {
                return Err(CaseError::Invalid(format!("Case {case_id} is escalated: assign it to an admin.")));
            }
            if case.status == "claimed" && case.claimed_by == Some(to.user_id) && lease_live {
                return Err(CaseError::Invalid(format!("{} already holds case {case_id}.", to.name)));
            }
            let set = "status = 'claimed', claimed_by = ?, lease_until = ?, updated_at = ?";
            update_held(&txn, case_id, seen.version, set, vec![to.user_id.into(), (now + timing.lease).into(), now.into()]).await?;
            let detail = match (&case.holder, case.status.as_str()) {
                (Some(from), "claimed") => format!("from {from} to {}", to.name),
                _ => format!("to {}", to.name),
            };
            add_event(&txn, case_id, EventKind::Reassigned, Some(who), Some(&detail), now).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// The `(id, version)` of every case matching the filters, up to [`MAX_BULK`]: "select all N
/// matching" on the queue. The bulk action then applies to exactly these versions.
pub async fn matching_refs(db: &impl ConnectionTrait, filter: &QueueFilter, who: &Reviewer, now: DateTime<Utc>) -> Result<Vec<CaseRef>, CaseError> {
    check_filter(filter)?;
    if filter.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
        return Err(CaseError::Invalid("Select the search's results one by one (x): \"all matching\" works on filters, not on a search.".into()));
    }
    let backend = db.get_database_backend();
    let sort = effective_sort(filter);
    let (mut terms, values) = filter_terms(backend, filter, who, now);
    terms.insert(0, status_term(filter.status).to_string());
    let sql = format!(
        "SELECT c.id, c.version FROM cases c{} WHERE {} ORDER BY {} LIMIT {}",
        sqlite_index(backend, filter, sort),
        terms.join(" AND "),
        order_by(sort),
        MAX_BULK
    );
    let rows = db.query_all_raw(db::statement(backend, &sql, values)).await?;
    rows.iter().map(|row| Ok(CaseRef { case_id: row.try_get("", "id")?, version: row.try_get("", "version")? })).collect()
}

/// A merchant move made from a case: the move ([`super::merchant_actions::apply`]) and the case's
/// `merchant_transition` event in one transaction; then the rules' cached merchant facts are
/// dropped. Without a case it is the plain [`super::merchant_actions::transition`].
pub async fn merchant_transition(
    db: &DatabaseConnection,
    cache: &crate::server::cache::Cache,
    action: &super::merchant_actions::MerchantAction,
    case_id: Option<i64>,
    who: &Reviewer,
    now: DateTime<Utc>,
) -> Result<super::merchant_actions::Transition, super::merchant_actions::MerchantActionError> {
    use super::merchant_actions::{self, MerchantActionError};
    let Some(case_id) = case_id else { return merchant_actions::transition(db, cache, action, now).await };
    let txn = merchant_actions::begin(db).await?;
    let exists = txn.query_one_raw(db::statement(txn.get_database_backend(), "SELECT merchant_id FROM cases WHERE id = ?", vec![case_id.into()])).await?;
    if exists.map(|row| row.try_get::<i32>("", "merchant_id")).transpose()? != Some(action.merchant_id) {
        return Err(MerchantActionError::UnknownMerchant(action.merchant_id));
    }
    let done = merchant_actions::apply(&txn, action, now).await?;
    let detail = format!("{}: {} → {}", action.event.label(), done.from.label(), done.to.label());
    add_event(&txn, case_id, EventKind::MerchantTransition, Some(who), Some(&detail), done.at).await?;
    txn.commit().await?;
    crate::server::fraud::ingest::forget_merchant_facts(cache, action.merchant_id).await;
    Ok(done)
}

/// Returns every lapsed claim to the queue, each with a `lease_expired` event. Returns how many.
pub async fn expire_leases(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let now = now.trunc_subsecs(6);
    let txn = begin_write(db).await?;
    let backend = txn.get_database_backend();
    let sql = "UPDATE cases SET status = 'open', claimed_by = NULL, lease_until = NULL, version = version + 1, updated_at = ? \
               WHERE status = 'claimed' AND lease_until < ? RETURNING id";
    let rows = txn.query_all_raw(db::statement(backend, sql, vec![now.into(), now.into()])).await?;
    for row in &rows {
        add_event(&txn, row.try_get("", "id")?, EventKind::LeaseExpired, None, Some("the claim lapsed"), now).await?;
    }
    txn.commit().await?;
    Ok(rows.len() as u64)
}

/// Everything the case page shows.
pub async fn detail(
    db: &impl ConnectionTrait,
    cache: &crate::server::cache::Cache,
    case_id: i64,
    who: &Reviewer,
    timing: ReviewTiming,
    now: DateTime<Utc>,
) -> Result<CaseDetail, CaseError> {
    let backend = db.get_database_backend();
    let sql = "SELECT c.id, c.version, c.created_at, c.priority, c.score, c.amount_usd_cents, c.escalated, c.status, c.claimed_by, c.lease_until, \
               c.disposition, c.merchant_id, c.transaction_id, u.display_name AS holder, t.external_id, t.amount_minor, t.currency, t.buyer_email, \
               t.buyer_ip, t.ip_country, t.card_fingerprint, t.card_bin, t.card_country, d.outcome, d.ruleset_version, d.results \
               FROM cases c JOIN transactions t ON t.id = c.transaction_id JOIN decisions d ON d.id = c.decision_id \
               LEFT JOIN users u ON u.id = c.claimed_by WHERE c.id = ?";
    let row = db.query_one_raw(db::statement(backend, sql, vec![case_id.into()])).await?.ok_or(CaseError::NotFound(case_id))?;
    let created_at: DateTime<Utc> = row.try_get("", "created_at")?;
    let status: String = row.try_get("", "status")?;
    let claimed_by: Option<i32> = row.try_get("", "claimed_by")?;
    let lease_until: Option<DateTime<Utc>> = row.try_get("", "lease_until")?;
    let holder: Option<String> = row.try_get("", "holder")?;
    let disposition: Option<String> = row.try_get("", "disposition")?;
    let state = state_of(&status, claimed_by, holder.as_deref(), lease_until, disposition.as_deref())?;
    let held_by_me = status == "claimed" && claimed_by == Some(who.user_id) && lease_until.is_some_and(|t| t > now);
    let transaction_id: i64 = row.try_get("", "transaction_id")?;
    let merchant_id: i32 = row.try_get("", "merchant_id")?;
    let (rules, facts) = crate::server::fraud::decision::read_record(&row.try_get::<String>("", "results")?);
    let (email, ip, card): (String, String, String) = (row.try_get("", "buyer_email")?, row.try_get("", "buyer_ip")?, row.try_get("", "card_fingerprint")?);
    let ruleset_version: i32 = row.try_get("", "ruleset_version")?;
    Ok(CaseDetail {
        case_id,
        version: row.try_get("", "version")?,
        state,
        escalated: row.try_get("", "escalated")?,
        held_by_me,
        opened_at: created_at.to_rfc3339(),
        sla: sla_state(created_at, now, timing.sla),
        priority: priority::at(row.try_get("", "priority")?, now),
        transaction_id,
        external_id: row.try_get("", "external_id")?,
        amount: Money { minor: row.try_get("", "amount_minor")?, currency: row.try_get("", "currency")? },
        amount_usd_cents: row.try_get("", "amount_usd_cents")?,
        buyer_ip: ip.clone(),
        ip_country: row.try_get("", "ip_country")?,
        card_fingerprint: card.clone(),
        card_bin: row.try_get("", "card_bin")?,
        card_country: row.try_get("", "card_country")?,
        outcome: row.try_get("", "outcome")?,
        score: row.try_get("", "score")?,
        ruleset_version,
        rules,
        facts,
        merchant: merchant(db, merchant_id, now).await?,
        merchant_history: risk_history(db, merchant_id, Some(CASE_HISTORY_LIMIT)).await?,
        paypal: crate::server::paypal::last_known(db, cache, merchant_id, now).await,
        disputes: disputes(db, merchant_id, now).await?,
        related: related(db, transaction_id, &email, &ip, &card, now).await?,
        timeline: timeline(db, case_id, created_at, ruleset_version).await?,
        buyer_email: email,
    })
}

/// The merchant page: facts, every move of the risk state (newest first), unresolved cases.
pub async fn merchant_page(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<crate::app::dto::MerchantPage, CaseError> {
    let exists = db.query_one_raw(db::statement(db.get_database_backend(), "SELECT id FROM merchants WHERE id = ?", vec![merchant_id.into()])).await?;
    if exists.is_none() {
        return Err(CaseError::UnknownMerchant(merchant_id));
    }
    let history = risk_history(db, merchant_id, None).await?;
    let terms = vec!["c.status <> 'closed'".to_string(), "c.merchant_id = ?".to_string()];
    let unresolved_cases = capped_count(db, &terms, vec![merchant_id.into()]).await?;
    Ok(crate::app::dto::MerchantPage { merchant: merchant(db, merchant_id, now).await?, history, unresolved_cases })
}

/// The merchant's risk-state moves, newest first; `limit` of them, or all.
async fn risk_history(db: &impl ConnectionTrait, merchant_id: i32, limit: Option<u64>) -> Result<Vec<crate::app::dto::RiskEventView>, CaseError> {
    use super::merchant_state::Actor;
    let history = super::merchant_actions::history(db, merchant_id, limit).await?;
    Ok(history
        .into_iter()
        .map(|t| crate::app::dto::RiskEventView {
            from: t.from,
            to: t.to,
            action: t.event.label().to_string(),
            actor: match t.actor {
                Actor::Person { name, .. } => name,
                Actor::Rule { name } => format!("rule: {name}"),
                Actor::System { what } => format!("system: {what}"),
            },
            reason: t.reason,
            at: t.at.to_rfc3339(),
        })
        .collect())
}

/// The merchant's PayPal disputes of the last 90 days, newest first.
async fn disputes(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<Vec<DisputeView>, CaseError> {
    let sql = format!(
        "SELECT paypal_dispute_id, reason, status, amount_minor, currency, opened_at FROM disputes WHERE merchant_id = ? AND opened_at >= ? \
         ORDER BY opened_at DESC LIMIT {CASE_DISPUTES_LIMIT}"
    );
    let since = now - Duration::days(RELATED_DAYS);
    let rows = db.query_all_raw(db::statement(db.get_database_backend(), &sql, vec![merchant_id.into(), since.into()])).await?;
    rows.iter()
        .map(|row| {
            Ok(DisputeView {
                paypal_id: row.try_get("", "paypal_dispute_id")?,
                reason: row.try_get("", "reason")?,
                status: row.try_get("", "status")?,
                amount: Money { minor: row.try_get("", "amount_minor")?, currency: row.try_get("", "currency")? },
                opened_at: row.try_get::<DateTime<Utc>>("", "opened_at")?.to_rfc3339(),
            })
        })
        .collect()
}

async fn merchant(db: &impl ConnectionTrait, merchant_id: i32, now: DateTime<Utc>) -> Result<CaseMerchant, CaseError> {
    use crate::server::fraud::currency;
    let backend = db.get_database_backend();
    let sql = "SELECT id, name, email, country, verified, risk_state, created_at FROM merchants WHERE id = ?";
    let m = db.query_one_raw(db::statement(backend, sql, vec![merchant_id.into()])).await?.ok_or_else(|| CaseError::Database(unreadable("merchant")))?;
    let since = now - Duration::days(90);
    let sql = "SELECT currency, status, COUNT(*) AS n, CAST(SUM(amount_minor) AS BIGINT) AS total FROM transactions WHERE merchant_id = ? AND created_at >= ? \
               GROUP BY currency, status";
    let rows = db.query_all_raw(db::statement(backend, sql, vec![merchant_id.into(), since.into()])).await?;
    let (mut sales, mut refunded, mut volume) = (0u64, 0u64, 0.0f64);
    for row in rows {
        let (code, status, n, total): (String, String, i64, i64) =
            (row.try_get("", "currency")?, row.try_get("", "status")?, row.try_get("", "n")?, row.try_get("", "total")?);
        if status == "succeeded" || status == "refunded" {
            sales += n as u64;
            volume += currency::to_usd(total, &code);
        }
        if status == "refunded" {
            refunded += n as u64;
        }
    }
    let sql = "SELECT COUNT(*) AS n FROM disputes WHERE merchant_id = ? AND opened_at >= ?";
    let disputes: i64 =
        db.query_one_raw(db::statement(backend, sql, vec![merchant_id.into(), since.into()])).await?.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
    let created_at: DateTime<Utc> = m.try_get("", "created_at")?;
    let rate = |n: u64| if sales == 0 { 0.0 } else { n as f64 / sales as f64 };
    Ok(CaseMerchant {
        id: merchant_id,
        name: m.try_get("", "name")?,
        email: m.try_get("", "email")?,
        country: m.try_get("", "country")?,
        verified: m.try_get("", "verified")?,
        risk_state: RiskState::parse(&m.try_get::<String>("", "risk_state")?).ok_or_else(|| unreadable("risk_state"))?,
        account_age_days: (now - created_at).num_days(),
        volume_90d_usd_cents: (volume * 100.0).round() as i64,
        sales_90d: sales,
        refund_rate_90d: rate(refunded),
        dispute_rate_90d: rate(disputes.max(0) as u64),
    })
}

/// Transactions of the last 90 days, on any merchant, sharing the card, the email or the IP.
async fn related(
    db: &impl ConnectionTrait,
    transaction_id: i64,
    email: &str,
    ip: &str,
    card: &str,
    now: DateTime<Utc>,
) -> Result<Vec<RelatedTransaction>, CaseError> {
    let backend = db.get_database_backend();
    let since = now - Duration::days(RELATED_DAYS);
    // One indexed lookup per identifier (each newest first, bounded), merged here.
    let mut found: Vec<RelatedTransaction> = Vec::new();
    for (column, value, label) in [("card_fingerprint", card, "card"), ("buyer_email", email, "email"), ("buyer_ip", ip, "ip")] {
        let sql = format!(
            "SELECT t.id, t.amount_minor, t.currency, t.status, t.created_at, m.name AS merchant_name, c.id AS case_id, c.disposition \
             FROM transactions t JOIN merchants m ON m.id = t.merchant_id LEFT JOIN cases c ON c.transaction_id = t.id \
             WHERE t.{column} = ? AND t.id <> ? AND t.created_at >= ? ORDER BY t.id DESC LIMIT {RELATED_LIMIT}"
        );
        for row in db.query_all_raw(db::statement(backend, &sql, vec![value.into(), transaction_id.into(), since.into()])).await? {
            let id: i64 = row.try_get("", "id")?;
            if let Some(seen) = found.iter_mut().find(|r| r.transaction_id == id) {
                seen.shared.push(label.to_string());
                continue;
            }
            found.push(RelatedTransaction {
                transaction_id: id,
                shared: vec![label.to_string()],
                merchant_name: row.try_get("", "merchant_name")?,
                amount: Money { minor: row.try_get("", "amount_minor")?, currency: row.try_get("", "currency")? },
                status: TransactionStatus::parse(&row.try_get::<String>("", "status")?).ok_or_else(|| unreadable("transactions.status"))?,
                case_id: row.try_get("", "case_id")?,
                disposition: row.try_get::<Option<String>>("", "disposition")?.as_deref().and_then(parse_disposition),
                at: row.try_get::<DateTime<Utc>>("", "created_at")?.to_rfc3339(),
            });
        }
    }
    found.sort_by(|a, b| b.transaction_id.cmp(&a.transaction_id));
    found.truncate(RELATED_LIMIT as usize);
    Ok(found)
}

/// The case's events, oldest first, after its opening.
async fn timeline(db: &impl ConnectionTrait, case_id: i64, opened_at: DateTime<Utc>, ruleset_version: i32) -> Result<Vec<CaseEventView>, DbErr> {
    let sql = "SELECT id, kind, actor_label, detail, created_at FROM case_events WHERE case_id = ? ORDER BY id";
    let rows = db.query_all_raw(db::statement(db.get_database_backend(), sql, vec![case_id.into()])).await?;
    let mut events = vec![CaseEventView {
        id: 0,
        kind: "opened".into(),
        actor: format!("Fraud rules (ruleset v{ruleset_version})"),
        detail: None,
        at: opened_at.to_rfc3339(),
    }];
    for row in rows {
        events.push(CaseEventView {
            id: row.try_get("", "id")?,
            kind: row.try_get("", "kind")?,
            actor: row.try_get("", "actor_label")?,
            detail: row.try_get("", "detail")?,
            at: row.try_get::<DateTime<Utc>>("", "created_at")?.to_rfc3339(),
        });
    }
    Ok(events)
}

/// A stored value outside its set; names the column, never the value.
fn unreadable(column: &str) -> DbErr {
    DbErr::Custom(format!("unreadable case value in {column}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sla_colours_by_age() {
        let now = Utc::now();
        let sla = Duration::hours(24);
        assert_eq!(sla_state(now - Duration::hours(2), now, sla), SlaState::OnTime);
        assert_eq!(sla_state(now - Duration::minutes(23 * 60 + 1), now, sla), SlaState::DueSoon);
        assert_eq!(sla_state(now - Duration::hours(24), now, sla), SlaState::Late);
    }

    #[test]
    fn cursors_are_checked() {
        assert!(after_cursor(QueueSort::Priority, "12:7").is_ok());
        assert!(after_cursor(QueueSort::Oldest, "7").is_ok());
        for bad in ["", "x", "1:2:3", "7", &"9".repeat(60)] {
            assert!(after_cursor(QueueSort::Priority, bad).is_err(), "{bad}");
        }
        assert!(after_cursor(QueueSort::Newest, "1:2").is_err());
    }

    #[test]
    fn near_matches_score_by_shared_trigrams() {
        assert_eq!(trigram_similarity("mailinator", "x@mailinator.com"), 1.0);
        assert!(trigram_similarity("mailinatr", "x@mailinator.com") >= SEARCH_MIN_SIMILARITY, "one letter missing");
        assert!(trigram_similarity("maiiinator", "x@mailinator.com") >= SEARCH_MIN_SIMILARITY, "one letter wrong");
        assert!(trigram_similarity("zzzqqq", "x@mailinator.com") < SEARCH_MIN_SIMILARITY);
        assert_eq!(like_escaped("50%_a\\b"), "50\\%\\_a\\\\b");
    }

    #[test]
    fn matched_rules_are_cut_at_a_line() {
        let names = (0..300).map(|i| format!("Rule number {i}")).collect::<Vec<_>>().join("\n");
        let kept = matched_rules_column(&names);
        assert!(kept.chars().count() <= 2_000);
        assert!(kept.lines().all(|l| l.starts_with("Rule number ")));
        assert_eq!(matched_rules_column("A\nB"), "A\nB");
    }
}
