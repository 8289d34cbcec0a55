//! The reviewer's queue and claims (src/server/review/cases.rs) on SQLite and PostgreSQL: cases
//! opened by the real ingest path, 1,000 concurrent "next case" calls from two instances, leases
//! that lapse, stale writes refused, keyset pages while cases keep arriving, dispositions with
//! their block-list entries, escalation to the admins.
mod common;

use std::collections::HashSet;

use chrono::{Duration, Utc};
use common::{Backend, TestApp, Who};
use sea_orm::{ConnectionTrait, Statement};
use vetted::app::dto::{BulkAction, CaseAction, CasePaypal, CaseRef, CaseState, CaseStatusFilter, DecideCase, Disposition, NextCase, QueueFilter, QueueSort};
use vetted::server::fraud::{api_keys, decision::Caller, ingest, input::TransactionInput};
use vetted::server::review::cases::{self, CaseError, ReviewTiming, Reviewer};

/// Opens `n` cases through the ingest path: a disposable-mail buyer is held for review by the
/// default rules. Amounts vary so that priorities differ.
async fn open_cases(app: &TestApp, n: usize, tag: &str) -> Vec<i64> {
    let key = api_keys::create(app.state.db.primary(), &format!("tests {tag}"), "tests", Utc::now()).await.unwrap();
    let caller = Caller { api_key_id: key.summary.id, idempotency_key: None };
    let ingests = (0..n).map(|i| {
        let caller = caller.clone();
        let input = TransactionInput {
            external_id: format!("{tag}_{i}"),
            merchant_id: 1 + (i % 3) as i32,
            amount: 1_000 + 137 * i as i64,
            currency: "USD".into(),
            buyer_email: format!("buyer{tag}{i}@mailinator.com"),
            buyer_ip: format!("198.51.100.{}", i % 250),
            ip_country: Some("US".into()),
            card_fingerprint: format!("fp_{tag}_{i}"),
            card_bin: None,
            card_country: "US".into(),
            product_id: None,
        };
        async move { ingest::ingest(app.state.db.primary(), &app.state.cache, &app.state.fraud, &caller, input).await }
    });
    let mut ids: Vec<i64> = futures::future::join_all(ingests)
        .await
        .into_iter()
        .map(|done| done.expect("ingest").response.case_id.expect("a disposable-mail buyer is held for review"))
        .collect();
    ids.sort();
    ids
}

/// `n` reviewer accounts (no usable password: they act through the service only).
async fn reviewers(app: &TestApp, n: usize) -> Vec<Reviewer> {
    use sea_orm::{ActiveModelTrait, Set};
    use vetted::server::db::entities::user;
    let mut all = Vec::new();
    for i in 0..n {
        let name = format!("Load reviewer {i}");
        let row = user::ActiveModel {
            email: Set(format!("load{i}@vetted.test")),
            display_name: Set(name.clone()),
            password_hash: Set("!".into()),
            role: Set("reviewer".into()),
            merchant_id: Set(None),
            created_at: Set(Utc::now()),
            last_login_at: Set(None),
            ..Default::default()
        };
        let row = row.insert(app.state.db.primary()).await.unwrap();
        all.push(Reviewer { user_id: row.id, name, admin: false });
    }
    all
}

fn reviewer(id: i32) -> Reviewer {
    Reviewer { user_id: id, name: format!("Reviewer {id}"), admin: false }
}

/// The demo reviewer and admin, as the seed created them.
async fn user_id(app: &TestApp, email: &str) -> i32 {
    let row = app
        .state
        .db
        .primary()
        .query_one_raw(Statement::from_sql_and_values(
            app.state.db.primary().get_database_backend(),
            if app.db.backend == Backend::Postgres { "SELECT id FROM users WHERE email = $1" } else { "SELECT id FROM users WHERE email = ?" },
            [email.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "id").unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let db = app.state.db.primary();
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn next_case_gives_each_case_to_exactly_one_reviewer(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let opened = open_cases(&app, 300, "x").await;
    let other = app.another_instance().await;
    let timing = ReviewTiming::default();
    let now = Utc::now();
    let people = reviewers(&app, 20).await;
    // 1,000 calls, half through each instance's own connection pool, 20 reviewers.
    let calls = (0..1_000).map(|i| {
        let db = if i % 2 == 0 { app.state.db.primary().clone() } else { other.state.db.primary().clone() };
        let who = people[i % 20].clone();
        async move { cases::claim_next(&db, &QueueFilter::default(), &who, timing, now).await }
    });
    let results = futures::future::join_all(calls).await;
    let mut claimed = Vec::new();
    for result in results {
        match result.expect("no call fails") {
            NextCase::Claimed { case_id } => claimed.push(case_id),
            NextCase::Empty => {}
        }
    }
    let distinct: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), distinct.len(), "a case was given twice");
    assert_eq!(distinct, opened.iter().copied().collect::<HashSet<_>>(), "every case was given out, once");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM cases WHERE status = 'claimed'").await, 300);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM case_events WHERE kind = 'claimed'").await, 300, "one claimed event per case");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM (SELECT case_id FROM case_events GROUP BY case_id HAVING COUNT(*) > 1) twice").await, 0);
}

async fn next_case_takes_the_highest_priority_matching_the_filters(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let opened = open_cases(&app, 12, "p").await;
    let timing = ReviewTiming::default();
    let who = reviewer(1);
    // The largest amount is the highest priority: all were opened together at the same score.
    let page = cases::queue(app.state.db.primary(), &QueueFilter::default(), None, &who, timing, Utc::now()).await.unwrap();
    let top = page.rows.iter().max_by_key(|r| (r.priority, r.case_id)).unwrap().case_id;
    assert_eq!(page.rows[0].case_id, top, "the default sort is by priority");
    let NextCase::Claimed { case_id } = cases::claim_next(app.state.db.primary(), &QueueFilter::default(), &who, timing, Utc::now()).await.unwrap() else {
        panic!("a case is free")
    };
    assert_eq!(case_id, top);
    // Filters narrow what "next" takes: merchant 2 only.
    let only_2 = QueueFilter { merchant_id: Some(2), ..QueueFilter::default() };
    let NextCase::Claimed { case_id } = cases::claim_next(app.state.db.primary(), &only_2, &who, timing, Utc::now()).await.unwrap() else { panic!() };
    let detail = cases::detail(app.state.db.primary(), &app.state.cache, case_id, &who, timing, Utc::now()).await.unwrap();
    assert_eq!(detail.merchant.id, 2);
    assert!(opened.contains(&case_id));
}

async fn a_lapsed_lease_returns_the_case_with_an_event(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let [case_id] = open_cases(&app, 1, "l").await[..] else { panic!() };
    let db = app.state.db.primary();
    let timing = ReviewTiming { lease: Duration::minutes(10), sla: Duration::hours(24) };
    let (alice, bob) = (reviewer(1), reviewer(2));
    let t0 = Utc::now();
    cases::claim(db, case_id, &alice, timing, t0).await.unwrap();
    // Before the lease ends, Bob can read but not take it.
    assert!(matches!(cases::claim(db, case_id, &bob, timing, t0 + Duration::minutes(9)).await, Err(CaseError::HeldByOther { .. })));
    assert_eq!(cases::expire_leases(db, t0 + Duration::minutes(9)).await.unwrap(), 0);
    // After it, the job returns it to the queue, once.
    assert_eq!(cases::expire_leases(db, t0 + Duration::minutes(11)).await.unwrap(), 1);
    assert_eq!(cases::expire_leases(db, t0 + Duration::minutes(12)).await.unwrap(), 0);
    let detail = cases::detail(db, &app.state.cache, case_id, &bob, timing, t0 + Duration::minutes(11)).await.unwrap();
    assert_eq!(detail.state, CaseState::Open);
    assert_eq!(detail.timeline.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["opened", "claimed", "lease_expired"]);
    cases::claim(db, case_id, &bob, timing, t0 + Duration::minutes(11)).await.expect("free again");
    // A lease that lapsed before the job ran is taken over on opening, with its event.
    cases::claim(db, case_id, &alice, timing, t0 + Duration::minutes(30)).await.expect("Bob's lease lapsed at 21 min");
    let detail = cases::detail(db, &app.state.cache, case_id, &alice, timing, t0 + Duration::minutes(30)).await.unwrap();
    assert!(detail.held_by_me);
    assert_eq!(detail.timeline.iter().filter(|e| e.kind == "lease_expired").count(), 2);
}

async fn stale_and_foreign_writes_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let [case_id] = open_cases(&app, 1, "s").await[..] else { panic!() };
    let db = app.state.db.primary();
    let timing = ReviewTiming::default();
    let (alice, bob) = (reviewer(1), reviewer(2));
    let now = Utc::now();
    let seen = cases::detail(db, &app.state.cache, case_id, &alice, timing, now).await.unwrap().version;
    let version = cases::claim(db, case_id, &alice, timing, now).await.unwrap();
    assert_eq!(version, seen + 1);
    let decide = |version: i32, action: CaseAction| DecideCase::plain(case_id, version, action, String::new());
    // A decision made on the page as it was before the claim: refused, naming who changed it.
    match cases::decide(db, &decide(seen, CaseAction::Resolve(Disposition::Approved)), &alice, now).await {
        Err(CaseError::Stale { by, .. }) => assert_eq!(by, "Reviewer 1"),
        other => panic!("expected a stale refusal, got {other:?}"),
    }
    // Bob does not hold it.
    assert!(matches!(cases::decide(db, &decide(version, CaseAction::Resolve(Disposition::Approved)), &bob, now).await, Err(CaseError::HeldByOther { .. })));
    assert!(matches!(cases::release(db, case_id, version, &bob, now).await, Err(CaseError::HeldByOther { .. })));
    // An escalation needs a note; a note too long is refused with its length.
    assert!(matches!(cases::decide(db, &decide(version, CaseAction::Escalate), &alice, now).await, Err(CaseError::Invalid(m)) if m.contains("Say why")));
    let long = DecideCase { note: "x".repeat(cases::MAX_NOTE_CHARS + 1), ..decide(version, CaseAction::Escalate) };
    assert!(matches!(cases::decide(db, &long, &alice, now).await, Err(CaseError::Invalid(m)) if m.contains("at most")));
    let at_bound = DecideCase { note: "x".repeat(cases::MAX_NOTE_CHARS), ..decide(version, CaseAction::Resolve(Disposition::Approved)) };
    // Nothing changed through all of that.
    let detail = cases::detail(db, &app.state.cache, case_id, &alice, timing, now).await.unwrap();
    assert_eq!((detail.version, detail.timeline.len()), (version, 2));
    cases::decide(db, &at_bound, &alice, now).await.expect("a note at the bound is accepted");
    let detail = cases::detail(db, &app.state.cache, case_id, &alice, timing, now).await.unwrap();
    assert_eq!(detail.state, CaseState::Resolved { disposition: Disposition::Approved });
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM transactions WHERE id = {} AND status = 'succeeded'", detail.transaction_id)).await, 1);
    // Resolved is final.
    assert!(matches!(cases::claim(db, case_id, &bob, timing, now).await, Err(CaseError::Invalid(_))));
    // The timeline cannot be rewritten.
    let rewrite = db.execute_unprepared("UPDATE case_events SET detail = 'edited'").await;
    assert!(rewrite.is_err(), "case_events is append-only");
    assert!(db.execute_unprepared("DELETE FROM case_events").await.is_err());
}

async fn a_fraud_disposition_adds_its_block_list_entries(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let [case_id] = open_cases(&app, 1, "f").await[..] else { panic!() };
    let db = app.state.db.primary();
    let timing = ReviewTiming::default();
    let alice = reviewer(1);
    let now = Utc::now();
    let version = cases::claim(db, case_id, &alice, timing, now).await.unwrap();
    let decision = DecideCase {
        block_card: true,
        block_email: true,
        ..DecideCase::plain(case_id, version, CaseAction::Resolve(Disposition::RefundedAsFraud), "stolen card".into())
    };
    let decided = cases::decide(db, &decision, &alice, now).await.unwrap();
    assert_eq!(
        decided.list_entries,
        vec![("blocked_cards".to_string(), "fp_f_0".to_string()), ("blocked_emails".to_string(), "buyerf0@mailinator.com".to_string())]
    );
    let source = format!("case:{case_id}");
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM fraud_list_entries WHERE source = '{source}'")).await, 2);
    let detail = cases::detail(db, &app.state.cache, case_id, &alice, timing, now).await.unwrap();
    assert_eq!(detail.timeline.iter().filter(|e| e.kind == "list_entry_added").count(), 2);
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM transactions WHERE id = {} AND status = 'refunded'", detail.transaction_id)).await, 1);
    // The rules see the entries at once: the same card is now blocked.
    app.state.fraud.refresh().await.unwrap();
    let key = api_keys::create(db, "again", "tests", now).await.unwrap();
    let again = TransactionInput {
        external_id: "f_again".into(),
        merchant_id: 1,
        amount: 500,
        currency: "USD".into(),
        buyer_email: "someone.else@example.com".into(),
        buyer_ip: "198.51.100.9".into(),
        ip_country: Some("US".into()),
        card_fingerprint: "fp_f_0".into(),
        card_bin: None,
        card_country: "US".into(),
        product_id: None,
    };
    let caller = Caller { api_key_id: key.summary.id, idempotency_key: None };
    let done = ingest::ingest(db, &app.state.cache, &app.state.fraud, &caller, again).await.unwrap();
    assert_eq!(done.response.outcome, "block");
}

async fn escalated_cases_go_to_the_admins(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let [case_id] = open_cases(&app, 1, "e").await[..] else { panic!() };
    let db = app.state.db.primary();
    let timing = ReviewTiming::default();
    let alice = reviewer(1);
    let admin = Reviewer { user_id: user_id(&app, "admin@vetted.test").await, name: "Ada Admin".into(), admin: true };
    let now = Utc::now();
    let version = cases::claim(db, case_id, &alice, timing, now).await.unwrap();
    let escalate = DecideCase::plain(case_id, version, CaseAction::Escalate, "Looks like a ring".into());
    cases::decide(db, &escalate, &alice, now).await.unwrap();
    // Reviewers' "next" skips it, and a reviewer cannot claim it.
    assert_eq!(cases::claim_next(db, &QueueFilter::default(), &alice, timing, now).await.unwrap(), NextCase::Empty);
    assert!(matches!(cases::claim(db, case_id, &alice, timing, now).await, Err(CaseError::Invalid(m)) if m.contains("escalated")));
    let escalated = QueueFilter { status: CaseStatusFilter::Escalated, ..QueueFilter::default() };
    let counts = cases::status_counts(db, &QueueFilter::default(), &alice, now).await.unwrap();
    assert_eq!((counts.open, counts.escalated, counts.claimed, counts.resolved), (0, 1, 0, 0));
    assert_eq!(cases::claim_next(db, &escalated, &admin, timing, now).await.unwrap(), NextCase::Claimed { case_id });
    let detail = cases::detail(db, &app.state.cache, case_id, &admin, timing, now).await.unwrap();
    assert!(detail.held_by_me && detail.escalated);
    assert_eq!(detail.timeline.iter().find(|e| e.kind == "escalated").and_then(|e| e.detail.clone()).as_deref(), Some("Looks like a ring"));
}

/// Keyset pages: while new cases arrive between page reads, every case that existed when the
/// first page was read is listed exactly once, in every sort.
async fn pages_neither_repeat_nor_skip_while_cases_arrive(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let before: HashSet<i64> = open_cases(&app, 130, "k").await.into_iter().collect();
    let timing = ReviewTiming::default();
    let who = reviewer(1);
    for (round, sort) in QueueSort::ALL.into_iter().enumerate() {
        let filter = QueueFilter { sort, ..QueueFilter::default() };
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = cases::queue(app.state.db.primary(), &filter, cursor.as_deref(), &who, timing, Utc::now()).await.unwrap();
            assert!(page.rows.len() <= cases::PAGE_SIZE);
            seen.extend(page.rows.iter().map(|r| r.case_id));
            pages += 1;
            // Cases arrive between pages.
            open_cases(&app, 7, &format!("k{round}_{pages}")).await;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let distinct: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(seen.len(), distinct.len(), "{sort:?}: a case was listed twice");
        assert!(before.is_subset(&distinct), "{sort:?}: a case that existed was skipped");
        assert!(pages >= 3, "{sort:?}: 130+ cases take three pages of 50");
    }
    // A cursor that is not one of ours is refused with a clear message.
    let bad = cases::queue(app.state.db.primary(), &QueueFilter::default(), Some("1:2:3"), &who, timing, Utc::now()).await;
    assert!(matches!(bad, Err(CaseError::Invalid(m)) if m.contains("first page")));
}

/// Filters are bounded and checked before any query.
async fn filters_are_bounded(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let who = reviewer(1);
    let timing = ReviewTiming::default();
    let db = app.state.db.primary();
    let at_bound = QueueFilter { rule: Some("r".repeat(cases::MAX_RULE_FILTER_CHARS)), min_score: Some(1_000.0), ..QueueFilter::default() };
    assert!(cases::queue(db, &at_bound, None, &who, timing, Utc::now()).await.is_ok());
    for bad in [
        QueueFilter { rule: Some("r".repeat(cases::MAX_RULE_FILTER_CHARS + 1)), ..QueueFilter::default() },
        QueueFilter { min_score: Some(1_000.5), ..QueueFilter::default() },
        QueueFilter { max_amount_usd: Some(-1), ..QueueFilter::default() },
        QueueFilter { min_age_hours: Some(24 * 365 + 1), ..QueueFilter::default() },
    ] {
        assert!(matches!(cases::queue(db, &bad, None, &who, timing, Utc::now()).await, Err(CaseError::Invalid(_))), "{bad:?}");
    }
    // The rule filter matches whole names only.
    open_cases(&app, 3, "r").await;
    let by_rule = |rule: &str| QueueFilter { rule: Some(rule.into()), ..QueueFilter::default() };
    assert_eq!(cases::queue(db, &by_rule("Disposable email"), None, &who, timing, Utc::now()).await.unwrap().rows.len(), 3);
    assert_eq!(cases::queue(db, &by_rule("Disposable"), None, &who, timing, Utc::now()).await.unwrap().rows.len(), 0);
}

/// `vetted seed` leaves a queue a reviewer can work at once: every case made by the engine.
async fn the_demo_seed_leaves_a_real_queue(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let report = vetted::server::seed::review::seed_review_queue(&app.state, 42, 4, Utc::now()).await.unwrap();
    assert!(report.open >= 300, "{report:?}");
    assert_eq!((report.escalated, report.claimed), (25, 15));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM cases").await as u64, report.cases);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM cases WHERE status = 'closed' AND disposition IS NOT NULL").await as u64, report.resolved);
    assert!(count(&app, "SELECT COUNT(DISTINCT disposition) FROM cases").await >= 3, "several dispositions");
    assert!(count(&app, "SELECT COUNT(*) FROM fraud_list_entries WHERE source LIKE 'case:%'").await > 0, "fraud decisions added list entries");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM cases c JOIN decisions d ON d.id = c.decision_id WHERE d.outcome <> 'review'").await, 0);
    let who = reviewer(2);
    let counts = cases::status_counts(app.state.db.primary(), &QueueFilter::default(), &who, Utc::now()).await.unwrap();
    assert_eq!((counts.open, counts.escalated, counts.claimed), (report.open, report.escalated, report.claimed));
}

/// One case opened for a buyer with this address (a disposable domain, so it is held).
async fn open_case_for(app: &TestApp, email: &str, external_id: &str) -> i64 {
    let key = api_keys::create(app.state.db.primary(), external_id, "tests", Utc::now()).await.unwrap();
    let input = TransactionInput {
        external_id: external_id.into(),
        merchant_id: 1,
        amount: 4_200,
        currency: "USD".into(),
        buyer_email: email.into(),
        buyer_ip: "198.51.100.77".into(),
        ip_country: Some("US".into()),
        card_fingerprint: format!("fp_{external_id}"),
        card_bin: None,
        card_country: "US".into(),
        product_id: None,
    };
    let caller = Caller { api_key_id: key.summary.id, idempotency_key: None };
    ingest::ingest(app.state.db.primary(), &app.state.cache, &app.state.fraud, &caller, input).await.unwrap().response.case_id.unwrap()
}

async fn search_finds_substrings_and_typos_through_its_index(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    open_cases(&app, 60, "q").await;
    let natasha = open_case_for(&app, "natasha.romanoff@mailinator.com", "order_77x").await;
    let db = app.state.db.primary();
    let found = |q: String| async move {
        let filter = QueueFilter { q: Some(q), ..QueueFilter::default() };
        cases::queue(db, &filter, None, &reviewer(1), ReviewTiming::default(), Utc::now()).await.map(|p| p.rows.iter().map(|r| r.case_id).collect::<Vec<_>>())
    };
    // Substrings of the buyer's email, the external id, the card; any case.
    assert_eq!(found("ROMANOFF".into()).await.unwrap().first(), Some(&natasha));
    assert_eq!(found("order_77".into()).await.unwrap(), vec![natasha]);
    assert_eq!(found("fp_order_77x".into()).await.unwrap(), vec![natasha]);
    // A common part finds many; a page holds the 50 best.
    assert_eq!(found("mailinator".into()).await.unwrap().len(), cases::PAGE_SIZE);
    // Typos: letters swapped, one missing.
    assert_eq!(found("natahsa.romanof".into()).await.unwrap().first(), Some(&natasha));
    assert!(found("zzqqxxyy".into()).await.unwrap().is_empty());
    // Bounds: 3 to 100 characters.
    assert!(matches!(found("ab".into()).await, Err(CaseError::Invalid(m)) if m.contains("3 to 100")));
    assert!(matches!(found("x".repeat(cases::MAX_SEARCH_CHARS + 1)).await, Err(CaseError::Invalid(_))));
    assert!(found("x".repeat(cases::MAX_SEARCH_CHARS)).await.unwrap().is_empty());

    // Both lookups read the index, never the whole table.
    let (exact, fuzzy) = cases::search_sql(db.get_database_backend());
    let samples = match backend {
        Backend::Sqlite => ["\"nat\"", "\"nat\" OR \"ata\""],
        Backend::Postgres => ["%natasha%", "natasha"],
    };
    for (sql, sample) in [exact, fuzzy].into_iter().zip(samples) {
        let plan = explain(&app, &sql, sample).await;
        match backend {
            Backend::Sqlite => assert!(plan.contains("VIRTUAL TABLE INDEX"), "{sql}: {plan}"),
            Backend::Postgres => {
                assert!(plan.contains("idx_case_search_trgm"), "{sql}: {plan}");
                assert!(!plan.contains("Seq Scan"), "{sql}: {plan}");
            }
        }
    }
}

/// The plan of `sql` with its one placeholder bound to a sample value. On PostgreSQL sequential
/// scans are switched off for the statement: on a test-sized table the planner would rightly
/// prefer one, and the question is whether the index can serve the query at all.
async fn explain(app: &TestApp, sql: &str, sample: &str) -> String {
    use sea_orm::TransactionTrait;
    let db = app.state.db.primary();
    let backend = db.get_database_backend();
    let txn = db.begin().await.unwrap();
    let prefix = match backend {
        sea_orm::DbBackend::Postgres => {
            txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.unwrap();
            "EXPLAIN "
        }
        _ => "EXPLAIN QUERY PLAN ",
    };
    let statement = vetted::server::db::statement(backend, &format!("{prefix}{sql}"), vec![sample.into()]);
    let rows = txn.query_all_raw(statement).await.unwrap();
    let plan = rows
        .iter()
        .map(|row| row.try_get::<String>("", if backend == sea_orm::DbBackend::Postgres { "QUERY PLAN" } else { "detail" }).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    txn.rollback().await.unwrap();
    plan
}

/// Bulk actions apply to each case at the version the reviewer saw: a case that changed meanwhile
/// is named and left alone, the others each get their own event; bounds and roles are checked
/// before anything is written.
async fn a_bulk_action_leaves_a_changed_case_alone(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let ids = open_cases(&app, 5, "b").await;
    let db = app.state.db.primary();
    let timing = ReviewTiming::default();
    let people = reviewers(&app, 2).await;
    let (alice, bob) = (&people[0], &people[1]);
    let admin = Reviewer { user_id: user_id(&app, "admin@vetted.test").await, name: "Ada Admin".into(), admin: true };
    let now = Utc::now();
    // What alice's queue shows her, each case at its version.
    let page = cases::queue(db, &QueueFilter::default(), None, alice, timing, now).await.unwrap();
    let seen: Vec<CaseRef> = page.rows.iter().filter(|r| ids.contains(&r.case_id)).map(|r| CaseRef { case_id: r.case_id, version: r.version }).collect();
    assert_eq!(seen.len(), 5);
    // Meanwhile bob claims one of them.
    let taken = seen[2].case_id;
    let bobs_version = cases::claim(db, taken, bob, timing, now).await.unwrap();

    // Refused before anything is written: nothing selected, more than the bound, a note missing.
    let events = count(&app, "SELECT COUNT(*) FROM case_events").await;
    assert!(matches!(cases::bulk(db, &BulkAction::Approve, &[], alice, timing, now).await, Err(CaseError::Invalid(_))));
    let too_many: Vec<CaseRef> = (0..=cases::MAX_BULK as i64).map(|i| CaseRef { case_id: 1_000_000 + i, version: 1 }).collect();
    match cases::bulk(db, &BulkAction::Approve, &too_many, alice, timing, now).await {
        Err(CaseError::Invalid(m)) => assert!(m.contains("at most 1000"), "{m}"),
        other => panic!("expected the bound, got {other:?}"),
    }
    let no_note = BulkAction::Escalate { note: " ".into() };
    assert!(matches!(cases::bulk(db, &no_note, &seen, alice, timing, now).await, Err(CaseError::Invalid(m)) if m.contains("Say why")));
    assert!(
        matches!(cases::bulk(db, &BulkAction::Assign { user_id: bob.user_id }, &seen, alice, timing, now).await, Err(CaseError::Invalid(m)) if m.contains("Only admins"))
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM case_events").await, events, "refusals write nothing");

    let outcome = cases::bulk(db, &BulkAction::Approve, &seen, alice, timing, now).await.unwrap();
    let expected: Vec<i64> = seen.iter().map(|c| c.case_id).filter(|id| *id != taken).collect();
    assert_eq!(outcome.applied, expected);
    assert_eq!(outcome.skipped.len(), 1);
    assert_eq!(outcome.skipped[0].case_id, taken);
    assert!(outcome.skipped[0].reason.contains("changed by Load reviewer 1"), "{}", outcome.skipped[0].reason);
    // Each applied case is resolved with its own event and its payment released; bob's is untouched.
    let list = expected.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM cases WHERE id IN ({list}) AND status = 'closed' AND disposition = 'approved'")).await, 4);
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM case_events WHERE case_id IN ({list}) AND kind = 'resolved'")).await, 4);
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) FROM transactions t JOIN cases c ON c.transaction_id = t.id WHERE c.id IN ({list}) AND t.status = 'succeeded'"))
            .await,
        4
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM case_events").await, events + 4);
    let held = cases::detail(db, &app.state.cache, taken, bob, timing, now).await.unwrap();
    assert!(held.held_by_me && held.version == bobs_version);

    // Release: bob's live claim is his (alice is refused, by name); an admin may end it.
    let taken_ref = [CaseRef { case_id: taken, version: bobs_version }];
    let refused = cases::bulk(db, &BulkAction::Release, &taken_ref, alice, timing, now).await.unwrap();
    assert!(refused.applied.is_empty() && refused.skipped[0].reason.contains("Load reviewer 1"), "{refused:?}");
    // Assign: an admin gives bob's case to alice; the timeline says from whom to whom.
    cases::assign(db, taken_ref[0], alice.user_id, &admin, timing, now).await.unwrap();
    let detail = cases::detail(db, &app.state.cache, taken, alice, timing, now).await.unwrap();
    assert!(detail.held_by_me, "alice holds it now");
    let event = detail.timeline.iter().find(|e| e.kind == "reassigned").expect("a reassigned event");
    assert_eq!(event.detail.as_deref(), Some("from Load reviewer 1 to Load reviewer 0"));
    // The old version is stale now; and only reviewers and admins can be given cases.
    assert!(matches!(cases::assign(db, taken_ref[0], bob.user_id, &admin, timing, now).await, Err(CaseError::Stale { .. })));
    let merchant_user = user_id(&app, "merchant@vetted.test").await;
    let current = CaseRef { case_id: taken, version: detail.version };
    assert!(matches!(cases::assign(db, current, merchant_user, &admin, timing, now).await, Err(CaseError::Invalid(m)) if m.contains("no reviewer or admin")));
    let released = cases::bulk(db, &BulkAction::Release, &[current], &admin, timing, now).await.unwrap();
    assert_eq!(released.applied, vec![taken]);
    // Resolved cases are left alone by any later bulk action.
    let again = cases::bulk(db, &BulkAction::Approve, &seen[..1], alice, timing, now).await.unwrap();
    assert!(again.applied.is_empty() && again.skipped.len() == 1);
    // "Select all matching" gives the current versions of the matching cases.
    let all = cases::matching_refs(db, &QueueFilter::default(), alice, now).await.unwrap();
    assert_eq!(all, vec![CaseRef { case_id: taken, version: detail.version + 1 }]);
}

/// "Approve & trust": the buyer's email and card are trusted at this merchant only, with the
/// reason and lifetime the reviewer chose; the rules allow that buyer there and still hold them
/// elsewhere. Bad options are refused and change nothing.
async fn trust_after_a_false_positive_is_for_that_merchant_only(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let [case_id] = open_cases(&app, 1, "t").await[..] else { panic!() };
    let db = app.state.db.primary();
    let timing = ReviewTiming::default();
    let alice = reviewer(1);
    let now = Utc::now();
    let version = cases::claim(db, case_id, &alice, timing, now).await.unwrap();
    let trust = DecideCase {
        trust_buyer: true,
        trust_card: true,
        list_reason: "Regular customer, confirmed by phone".into(),
        list_expiry_days: Some(30),
        ..DecideCase::plain(case_id, version, CaseAction::Resolve(Disposition::Approved), String::new())
    };
    let long_reason = DecideCase { list_reason: "x".repeat(cases::MAX_LIST_REASON_CHARS + 1), ..trust.clone() };
    assert!(matches!(cases::decide(db, &long_reason, &alice, now).await, Err(CaseError::Invalid(m)) if m.contains("at most 500")));
    for days in [0, cases::MAX_LIST_DAYS + 1] {
        let bad = DecideCase { list_expiry_days: Some(days), ..trust.clone() };
        assert!(matches!(cases::decide(db, &bad, &alice, now).await, Err(CaseError::Invalid(m)) if m.contains("1 to 3650 days")));
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM fraud_list_entries WHERE source LIKE 'case:%'").await, 0, "refusals add nothing");
    // A reason at its bound is accepted.
    let at_bound = DecideCase { list_reason: "y".repeat(cases::MAX_LIST_REASON_CHARS), ..trust.clone() };
    let decided = cases::decide(db, &at_bound, &alice, now).await.unwrap();
    assert_eq!(decided.list_entries, vec![("trusted_emails".into(), "buyert0@mailinator.com".into()), ("trusted_cards".into(), "fp_t_0".into())]);
    let source = format!("case:{case_id}");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM fraud_list_entries WHERE source = '{source}' AND merchant_id = 1 AND LENGTH(reason) = 500 AND expires_at IS NOT NULL"
            )
        )
        .await,
        2
    );
    let lists = vetted::server::fraud::list_store::load(db, now).await.unwrap();
    let entry = lists.find("trusted_emails", "buyert0@mailinator.com", Some(1), now).expect("trusted at merchant 1");
    let days = (entry.expires_at.unwrap() - now).num_days();
    assert!((29..=30).contains(&days), "{days} days");
    // The rules see it: the same buyer is allowed at merchant 1, still held at merchant 2.
    app.state.fraud.refresh().await.unwrap();
    let key = api_keys::create(db, "trust", "tests", now).await.unwrap();
    let caller = Caller { api_key_id: key.summary.id, idempotency_key: None };
    let again = |external_id: &str, merchant_id: i32| TransactionInput {
        external_id: external_id.into(),
        merchant_id,
        amount: 2_000,
        currency: "USD".into(),
        buyer_email: "buyert0@mailinator.com".into(),
        buyer_ip: "198.51.100.0".into(),
        ip_country: Some("US".into()),
        card_fingerprint: "fp_t_0".into(),
        card_bin: None,
        card_country: "US".into(),
        product_id: None,
    };
    let here = ingest::ingest(db, &app.state.cache, &app.state.fraud, &caller, again("t_again_1", 1)).await.unwrap();
    assert_eq!(here.response.outcome, "allow");
    let elsewhere = ingest::ingest(db, &app.state.cache, &app.state.fraud, &caller, again("t_again_2", 2)).await.unwrap();
    assert_eq!(elsewhere.response.outcome, "review");
    // The case page shows the entries on the timeline, and the merchant's PayPal and history.
    let detail = cases::detail(db, &app.state.cache, case_id, &alice, timing, now).await.unwrap();
    let added: Vec<_> = detail.timeline.iter().filter(|e| e.kind == "list_entry_added").filter_map(|e| e.detail.clone()).collect();
    assert_eq!(added.len(), 2);
    assert!(added.iter().all(|d| d.contains("(this merchant only)")), "{added:?}");
    assert!(!matches!(detail.paypal, CasePaypal::Unavailable));
}

/// The large seed's history (`vetted seed`): the held share of the payments as cases whose state
/// agrees with the payment's fate, each resolved one with its event, readable on the case page.
async fn the_seeded_history_is_a_consistent_desk(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let transactions = count(&app, "SELECT COUNT(*) FROM transactions").await;
    let report = vetted::server::seed::record_history(db, &common::small_seed(), transactions as u64).await.unwrap();
    let held = count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM transactions WHERE status = 'in_review' OR (status <> 'blocked' AND id % {} = 0)",
            vetted::server::seed::history::HELD_ONE_IN
        ),
    )
    .await;
    assert_eq!(report.cases as i64, held);
    assert!(report.cases as i64 >= transactions / 10, "{report:?} of {transactions}");
    assert_eq!(report.open as i64, count(&app, "SELECT COUNT(*) FROM transactions WHERE status = 'in_review'").await);
    // Each case agrees with its payment: still in review ⇔ open; otherwise the disposition its fate implies.
    let disagree = "SELECT COUNT(*) FROM cases c JOIN transactions t ON t.id = c.transaction_id WHERE NOT ( \
        (t.status = 'in_review' AND c.status = 'open' AND c.disposition IS NULL) OR \
        (t.status = 'succeeded' AND c.status = 'closed' AND c.disposition = 'approved') OR \
        (t.status = 'refunded' AND c.status = 'closed' AND c.disposition IN ('refunded', 'refunded_as_fraud')) OR \
        (t.status = 'failed' AND c.status = 'closed' AND c.disposition = 'confirmed_fraud'))";
    assert_eq!(count(&app, disagree).await, 0);
    let closed = count(&app, "SELECT COUNT(*) FROM cases WHERE status = 'closed'").await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM case_events e JOIN cases c ON c.id = e.case_id WHERE e.kind = 'resolved' AND e.created_at = c.resolved_at").await,
        closed
    );
    // The queue and the case page read them as any other case.
    let who = reviewer(1);
    let resolved = QueueFilter { status: CaseStatusFilter::Resolved, ..QueueFilter::default() };
    let page = cases::queue(db, &resolved, None, &who, ReviewTiming::default(), Utc::now()).await.unwrap();
    assert!(!page.rows.is_empty());
    let detail = cases::detail(db, &app.state.cache, page.rows[0].case_id, &who, ReviewTiming::default(), Utc::now()).await.unwrap();
    assert!(matches!(detail.state, CaseState::Resolved { .. }));
    assert_eq!(detail.rules.len(), 1);
    assert_eq!(detail.rules[0].outcome, "matched");
    assert_eq!(detail.timeline.last().map(|e| e.kind.as_str()), Some("resolved"));
}

/// Read your writes: with a replica that lags (here a copy of the primary that never catches up),
/// a reviewer who just claimed a case sees the claim on their next queue page — their reads go to
/// the primary — while a colleague, who wrote nothing, reads the replica.
#[tokio::test]
async fn a_reviewer_reads_their_own_writes_through_a_lagging_replica() {
    use serde_json::json;
    use vetted::app::dto::QueuePage;
    let app = TestApp::spawn(Backend::Sqlite, &[]).await;
    open_cases(&app, 3, "r").await;
    let primary = app.db.url.trim_start_matches("sqlite://").split('?').next().unwrap().to_string();
    let replica = primary.replace(".db", "-replica.db");
    app.state.db.primary().execute_unprepared(&format!("VACUUM INTO '{replica}'")).await.unwrap();
    let lagging = app.another_instance_with(&[("DATABASE_READ_URL", &format!("sqlite://{replica}?mode=rw"))]).await;
    assert!(lagging.state.db.has_replica());
    let (reviewer, admin) = (lagging.client_as(Who::Reviewer).await, lagging.client_as(Who::Admin).await);
    let next = reviewer.post(lagging.url("/rpc/review/next_case")).json(&json!({ "filter": {} })).send().await.unwrap();
    assert_eq!(next.status(), 200);
    let NextCase::Claimed { case_id } = next.json().await.unwrap() else { panic!("a case to claim") };
    let claimed = json!({ "filter": { "status": "claimed" }, "cursor": null });
    let read = |client: reqwest::Client| {
        let (url, body) = (lagging.url("/rpc/review/queue"), claimed.clone());
        async move {
            let response = client.post(url).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<QueuePage>().await.unwrap().rows.iter().map(|r| r.case_id).collect::<Vec<_>>()
        }
    };
    assert!(read(reviewer.clone()).await.contains(&case_id), "the reviewer sees their own claim at once");
    assert!(!read(admin.clone()).await.contains(&case_id), "a colleague reads the replica, which has not caught up");
    // When the mark is gone (its window passed), the reviewer reads the replica again.
    lagging.state.cache.remove(&format!("review:wrote:{}", user_id(&app, "reviewer@vetted.test").await)).await;
    assert!(!read(reviewer).await.contains(&case_id), "once the window has passed, the replica answers again");
}

on_both_databases!(
    the_seeded_history_is_a_consistent_desk,
    a_bulk_action_leaves_a_changed_case_alone,
    trust_after_a_false_positive_is_for_that_merchant_only,
    search_finds_substrings_and_typos_through_its_index,
    the_demo_seed_leaves_a_real_queue,
    next_case_gives_each_case_to_exactly_one_reviewer,
    next_case_takes_the_highest_priority_matching_the_filters,
    a_lapsed_lease_returns_the_case_with_an_event,
    stale_and_foreign_writes_change_nothing,
    a_fraud_disposition_adds_its_block_list_entries,
    escalated_cases_go_to_the_admins,
    pages_neither_repeat_nor_skip_while_cases_arrive,
    filters_are_bounded,
);
