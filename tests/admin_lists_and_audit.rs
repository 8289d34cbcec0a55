//! The lists console's server side: a CSV import reports every bad line with its number and
//! writes nothing until told to take the valid lines only; merge keeps what the file does not
//! name, replace removes it; removals are soft and audited; entries are paged by value with a
//! keyset and searched; an export imports back to the same list; the engine sees each change.
//! The audit log: every action of people and of the system (lists, case claims, merchant
//! transitions), filtered, paged by keyset, exported, and never changed.
mod common;

use chrono::Utc;
use common::{Backend, TestApp, Who};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use vetted::app::dto::{ImportMode, ListEntryCursor, ListKind};
use vetted::server::db::entities::{audit_event, fraud_list_entry};
use vetted::server::fraud::list_import::MAX_IMPORT_BYTES;
use vetted::server::fraud::list_store::{self, ListStoreError, MAX_SEARCH_CHARS, PAGE_SIZE};
use vetted::server::fraud::lists::ListEntry;

const ADMIN: &str = "admin@vetted.test";

fn entry(reason: &str) -> ListEntry {
    ListEntry { value: String::new(), reason: reason.into(), expires_at: None, added_by: ADMIN.into(), source: "admin".into(), merchant_id: None }
}

/// (value, reason, merchant) of every entry of the list not removed, in value order.
async fn live(app: &TestApp, list: &str) -> Vec<(String, String, Option<i32>)> {
    let mut out = Vec::new();
    let mut after: Option<ListEntryCursor> = None;
    loop {
        let page = list_store::entry_page(app.state.db.primary(), list, "", after.as_ref(), Utc::now()).await.unwrap();
        out.extend(page.entries.into_iter().map(|e| (e.value, e.reason, e.merchant_id)));
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
}

async fn audit_actions(app: &TestApp, list: &str) -> Vec<String> {
    audit_event::Entity::find()
        .filter(audit_event::Column::ObjectKind.eq("list"))
        .filter(audit_event::Column::ObjectId.eq(list))
        .all(app.state.db.primary())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn an_import_reports_bad_lines_and_writes_nothing_until_told(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let now = Utc::now();
    list_store::create_list(db, "test_emails", ListKind::Email, "for the test", ADMIN, now).await.unwrap();
    list_store::add_entry(db, "test_emails", "a@example.com", entry("old reason"), now).await.unwrap();
    list_store::add_entry(db, "test_emails", "b@example.com", entry("kept"), now).await.unwrap();

    let csv = "value,reason,merchant_id\n\
               A@example.com,new reason,\n\
               c@example.com,,\n\
               not-an-email,,\n\
               b@example.com,kept,\n\
               d@example.com,,999999\n\
               d@example.com,,1\n";
    let preview = list_store::preview_import(db, "test_emails", csv, ImportMode::Merge, "bulk", now).await.unwrap();
    assert_eq!(
        (preview.lines, preview.valid, preview.added, preview.updated, preview.unchanged, preview.removed, preview.error_count),
        (6, 4, 2, 1, 1, 0, 2),
        "{preview:?}"
    );
    let errors: Vec<_> = preview.errors.iter().map(|e| (e.line, e.value.as_str(), e.message.as_str())).collect();
    assert_eq!(errors[0].0, 4, "{errors:?}");
    assert_eq!(errors[0].1, "not-an-email");
    assert_eq!(errors[1], (6, "d@example.com", "no merchant 999999"));

    // Any line in error: refused, nothing written.
    let before = live(&app, "test_emails").await;
    let refused = list_store::import(db, "test_emails", csv, ImportMode::Merge, "bulk", false, ADMIN, now).await.unwrap_err();
    assert!(matches!(refused, ListStoreError::LinesInError(2)), "{refused:?}");
    assert_eq!(live(&app, "test_emails").await, before);
    assert!(!audit_actions(&app, "test_emails").await.contains(&"list.imported".to_string()));

    // The valid lines only: merged.
    let done = list_store::import(db, "test_emails", csv, ImportMode::Merge, "bulk", true, ADMIN, now).await.unwrap();
    assert!(done.applied && done.added == 2 && done.updated == 1 && done.error_count == 2, "{done:?}");
    assert_eq!(
        live(&app, "test_emails").await,
        vec![
            ("a@example.com".into(), "new reason".into(), None),
            ("b@example.com".into(), "kept".into(), None),
            ("c@example.com".into(), "bulk".into(), None),
            ("d@example.com".into(), "bulk".into(), Some(1)),
        ]
    );
    // The updated entry's old row is kept, removed, with who removed it.
    let removed = fraud_list_entry::Entity::find().filter(fraud_list_entry::Column::RemovedAt.is_not_null()).all(db).await.unwrap();
    assert_eq!(
        removed.iter().map(|r| (r.value.as_str(), r.reason.as_str(), r.removed_by.as_deref())).collect::<Vec<_>>(),
        vec![("a@example.com", "old reason", Some(ADMIN))]
    );

    // The same file again changes nothing.
    let again = list_store::preview_import(db, "test_emails", csv, ImportMode::Merge, "bulk", now).await.unwrap();
    assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 4));

    // Replace: the list becomes the file.
    let replace = "c@example.com,bulk\ne@example.com,new\n";
    let preview = list_store::preview_import(db, "test_emails", replace, ImportMode::Replace, "", now).await.unwrap();
    assert_eq!((preview.added, preview.unchanged, preview.removed, preview.error_count), (1, 1, 3, 0));
    list_store::import(db, "test_emails", replace, ImportMode::Replace, "", false, ADMIN, now).await.unwrap();
    assert_eq!(live(&app, "test_emails").await, vec![("c@example.com".into(), "bulk".into(), None), ("e@example.com".into(), "new".into(), None)]);

    // The engine's lists follow.
    let lists = list_store::load(db, Utc::now()).await.unwrap();
    assert!(lists.find("test_emails", "e@example.com", None, Utc::now()).is_some());
    assert!(lists.find("test_emails", "a@example.com", None, Utc::now()).is_none());
    assert_eq!(audit_actions(&app, "test_emails").await, vec!["list.created", "list.entry_added", "list.entry_added", "list.imported", "list.imported"]);
}

async fn entries_are_paged_searched_and_removed_softly(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let now = Utc::now();
    list_store::create_list(db, "test_bins", ListKind::CardBin, "", ADMIN, now).await.unwrap();
    let csv: String = (0..250).map(|i| format!("{}\n", 400_000 + i * 7)).collect();
    list_store::import(db, "test_bins", &csv, ImportMode::Merge, "seeded", false, ADMIN, now).await.unwrap();

    // Pages of 100 in value order, each value once.
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = list_store::entry_page(db, "test_bins", "", after.as_ref(), now).await.unwrap();
        assert_eq!(page.total, 250);
        pages += 1;
        seen.extend(page.entries.iter().map(|e| e.value.clone()));
        match page.next {
            Some(next) => {
                assert_eq!(page.entries.len(), PAGE_SIZE);
                after = Some(next);
            }
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..250).map(|i| (400_000 + i * 7).to_string()).collect();
    expected.sort();
    assert_eq!((pages, seen), (3, expected.clone()));

    // Search: values containing the text, paged the same way; % and _ are plain characters.
    let matching: Vec<&String> = expected.iter().filter(|v| v.contains("40001")).collect();
    let found = list_store::entry_page(db, "test_bins", "40001", None, now).await.unwrap();
    assert_eq!(found.entries.iter().map(|e| &e.value).collect::<Vec<_>>(), matching);
    assert!(list_store::entry_page(db, "test_bins", "4%", None, now).await.unwrap().entries.is_empty());
    assert!(list_store::entry_page(db, "test_bins", "4_0", None, now).await.unwrap().entries.is_empty());
    let at_bound = "4".repeat(MAX_SEARCH_CHARS);
    assert!(list_store::entry_page(db, "test_bins", &at_bound, None, now).await.unwrap().entries.is_empty());
    assert!(matches!(list_store::entry_page(db, "test_bins", &format!("{at_bound}4"), None, now).await, Err(ListStoreError::SearchTooLong)));

    // One value for every merchant and for one merchant: two entries, both paged.
    list_store::create_list(db, "test_trusted", ListKind::Email, "", ADMIN, now).await.unwrap();
    list_store::add_entry(db, "test_trusted", "x@example.com", entry("everyone"), now).await.unwrap();
    list_store::add_entry(db, "test_trusted", "x@example.com", ListEntry { merchant_id: Some(1), ..entry("merchant 1") }, now).await.unwrap();
    assert_eq!(live(&app, "test_trusted").await.len(), 2);

    // Removal is soft: the row stays, the entry stops matching; the same value can come back.
    assert!(list_store::remove_entry(db, "test_trusted", "X@example.com", None, ADMIN, now).await.unwrap());
    assert!(!list_store::remove_entry(db, "test_trusted", "x@example.com", None, ADMIN, now).await.unwrap(), "already removed");
    assert_eq!(live(&app, "test_trusted").await, vec![("x@example.com".into(), "merchant 1".into(), Some(1))]);
    let lists = list_store::load(db, Utc::now()).await.unwrap();
    assert!(lists.find("test_trusted", "x@example.com", Some(2), Utc::now()).is_none());
    assert!(lists.find("test_trusted", "x@example.com", Some(1), Utc::now()).is_some());
    list_store::add_entry(db, "test_trusted", "x@example.com", entry("back"), now).await.unwrap();
    let rows = fraud_list_entry::Entity::find().filter(fraud_list_entry::Column::ListName.eq("test_trusted")).count(db).await.unwrap();
    assert_eq!(rows, 3, "the removed row is kept");
    assert!(audit_actions(&app, "test_trusted").await.contains(&"list.entry_removed".to_string()));

    // Bad input: a clear error, nothing written.
    assert!(matches!(list_store::create_list(db, "Bad Name", ListKind::Email, "", ADMIN, now).await, Err(ListStoreError::BadName)));
    assert!(matches!(list_store::create_list(db, "test_bins", ListKind::Email, "", ADMIN, now).await, Err(ListStoreError::Invalid(_))));
    assert!(matches!(list_store::create_list(db, "long", ListKind::Email, &"d".repeat(501), ADMIN, now).await, Err(ListStoreError::DescriptionTooLong)));
    list_store::create_list(db, "long", ListKind::Email, &"d".repeat(500), ADMIN, now).await.unwrap();
    assert!(matches!(list_store::entry_page(db, "nope", "", None, now).await, Err(ListStoreError::Invalid(_))));
}

/// Through HTTP as the page uses it: the import's size bound, the export's CSV imported back.
async fn the_import_bound_and_the_export_over_http(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let admin = app.client_as(Who::Admin).await;
    let call = |path: &'static str, body: serde_json::Value| {
        let admin = admin.clone();
        let url = app.url(path);
        async move { admin.post(url).json(&body).send().await.unwrap() }
    };
    // One byte over the file bound: refused by name, not by the transport.
    let over = format!("{}\n", "1".repeat(MAX_IMPORT_BYTES));
    let response = call("/rpc/admin/preview_list_import", serde_json::json!({ "list": "blocked_emails", "csv": over, "mode": "merge", "reason": "r" })).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 422, "{}", text.chars().take(300).collect::<String>());
    assert!(text.contains(&format!("{} bytes", MAX_IMPORT_BYTES + 1)), "{text}");

    let csv = "value,reason,expires_at\nfirst@example.com,=cmd,2099-01-01\nsecond@example.com,plain,\n";
    let response =
        call("/rpc/admin/import_list", serde_json::json!({ "list": "blocked_emails", "csv": csv, "mode": "replace", "reason": "", "valid_lines_only": false }))
            .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let exported = admin.get(app.url("/admin/lists/blocked_emails/export.csv")).send().await.unwrap();
    assert_eq!(exported.status(), 200);
    assert!(exported.headers()["content-disposition"].to_str().unwrap().contains("blocked_emails.csv"));
    let exported = exported.text().await.unwrap();
    assert!(exported.starts_with("value,reason,expires_at,merchant_id,added_by,source,created_at\n"), "{exported}");
    assert!(exported.contains("'=cmd"), "a formula is written as text: {exported}");
    // Imported back: nothing to change.
    let preview = list_store::preview_import(app.state.db.primary(), "blocked_emails", &exported, ImportMode::Replace, "", Utc::now()).await.unwrap();
    assert_eq!((preview.unchanged, preview.added, preview.updated, preview.removed, preview.error_count), (2, 0, 0, 0, 0), "{preview:?}");
    let missing = admin.get(app.url("/admin/lists/nope/export.csv")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

async fn the_audit_log_has_every_action_filtered_and_paged(backend: Backend) {
    use vetted::app::dto::{AuditFilter, NextCase, QueueFilter};
    use vetted::server::audit::{self, AuditQueryError};
    use vetted::server::review::cases::{self, ReviewTiming, Reviewer};
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let now = Utc::now();
    // A list with 150 additions: 151 list events.
    list_store::create_list(db, "audit_bins", ListKind::CardBin, "", ADMIN, now).await.unwrap();
    for i in 0..150 {
        list_store::add_entry(db, "audit_bins", &(500_000 + i).to_string(), entry("paging"), now).await.unwrap();
    }
    // A case opened by an ingest and claimed by a reviewer.
    let key = vetted::server::fraud::api_keys::create(db, "audit", "tests", now).await.unwrap().key;
    let body = serde_json::json!({
        "external_id": "audit-1", "merchant_id": 1, "amount": 1_000, "currency": "USD", "buyer_email": "someone@mailinator.com",
        "buyer_ip": "198.51.100.9", "ip_country": "US", "card_fingerprint": "fp_audit", "card_country": "US"
    });
    let ingested: serde_json::Value =
        reqwest::Client::new().post(app.url("/api/v1/transactions")).bearer_auth(&key).json(&body).send().await.unwrap().json().await.unwrap();
    let case_id = ingested["case_id"].as_i64().expect("a disposable-mail buyer is held for review");
    let reviewer = Reviewer { user_id: 1, name: "Rita Reviewer".into(), admin: false };
    let claimed = cases::claim_next(db, &QueueFilter::default(), &reviewer, ReviewTiming::default(), Utc::now()).await.unwrap();
    assert!(matches!(claimed, NextCase::Claimed { .. }), "{claimed:?}");

    let by = |f: AuditFilter| async move { audit::search(db, &f, None).await.unwrap().events };
    let claims = by(AuditFilter { object_kind: "case".into(), actor: "Rita Reviewer".into(), ..Default::default() }).await;
    assert!(claims.iter().any(|e| e.action == "case.claimed"), "{claims:?}");
    let one_case = by(AuditFilter { object_kind: "case".into(), object_id: case_id.to_string(), ..Default::default() }).await;
    assert!(!one_case.is_empty() && one_case.iter().all(|e| e.object_id == case_id.to_string()));

    // Keyset pages, newest first: 151 events of the list, each once.
    let list_only = AuditFilter { object_kind: "list".into(), object_id: "audit_bins".into(), ..Default::default() };
    let first = audit::search(db, &list_only, None).await.unwrap();
    assert_eq!(first.events.len(), 100);
    let second = audit::search(db, &list_only, first.next).await.unwrap();
    assert_eq!((second.events.len(), second.next), (51, None));
    let ids: Vec<i64> = first.events.iter().chain(&second.events).map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats");
    assert_eq!(second.events.last().unwrap().action, "list.created");

    // Dates are inclusive days, UTC; bad filters are errors, never an unfiltered answer.
    let today = now.format("%Y-%m-%d").to_string();
    let tomorrow = (now + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    assert_eq!(by(AuditFilter { from: today.clone(), to: today.clone(), ..list_only.clone() }).await.len(), 100);
    assert!(by(AuditFilter { from: tomorrow.clone(), ..list_only.clone() }).await.is_empty());
    assert!(matches!(audit::search(db, &AuditFilter { from: "yesterday".into(), ..Default::default() }, None).await, Err(AuditQueryError::BadDate(_))));
    assert!(matches!(audit::search(db, &AuditFilter { from: tomorrow, to: today, ..Default::default() }, None).await, Err(AuditQueryError::BackwardsRange)));
    assert!(audit::search(db, &AuditFilter { actor: "a".repeat(255), ..Default::default() }, None).await.unwrap().events.is_empty());
    assert!(matches!(audit::search(db, &AuditFilter { actor: "a".repeat(256), ..Default::default() }, None).await, Err(AuditQueryError::TooLong(..))));

    // The export: the filtered events and a header.
    let admin = app.client_as(Who::Admin).await;
    let csv = admin.get(app.url("/admin/audit/export.csv?object_kind=list&object_id=audit_bins")).send().await.unwrap().text().await.unwrap();
    assert_eq!(csv.lines().count(), 152, "a header and 151 events");
    assert!(csv.starts_with("id,at,actor,action,object_kind,object_id,summary,reason\n"));

    // Nothing changes an event, not even the application's own connection.
    let backend = sea_orm::ConnectionTrait::get_database_backend(db);
    for sql in ["UPDATE audit_events SET summary = 'x'", "DELETE FROM audit_events"] {
        let refused = sea_orm::ConnectionTrait::execute_raw(db, sea_orm::Statement::from_string(backend, sql)).await;
        assert!(refused.is_err(), "{sql} must be refused");
    }
}

on_both_databases!(
    an_import_reports_bad_lines_and_writes_nothing_until_told,
    entries_are_paged_searched_and_removed_softly,
    the_import_bound_and_the_export_over_http,
    the_audit_log_has_every_action_filtered_and_paged,
);
