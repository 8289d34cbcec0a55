//! The rules console's server side: a draft tested on a stored transaction decides exactly as the
//! engine did on the same facts (and differs only where the draft does); a pasted transaction is
//! validated like the ingest API; drafts are revised without overwriting each other; publishing
//! needs a note and rolling back a reason, and each step is in the append-only audit log; the
//! editor's live check and schema.
mod common;

use chrono::Utc;
use common::{Backend, TestApp, Who};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use vetted::app::dto::{RuleEffectSpec, RuleModeSpec, RuleSpec, RuleTrial, RulesetDraft, TrialSubject};
use vetted::server::fraud::{api_keys, trial, versions};

async fn ingest(app: &TestApp, key: &str, external_id: &str, card: &str, amount: i64) -> Value {
    let body = json!({
        "external_id": external_id, "merchant_id": 1, "amount": amount, "currency": "USD",
        "buyer_email": format!("{external_id}@example.com"), "buyer_ip": "198.51.100.7", "ip_country": "US",
        "card_fingerprint": card, "card_country": "US"
    });
    let response = reqwest::Client::new().post(app.url("/api/v1/transactions")).bearer_auth(key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn rule(name: &str, expression: &str, effect: RuleEffectSpec) -> RuleSpec {
    RuleSpec { name: name.into(), description: String::new(), expression: expression.into(), effect, enabled: true, mode: RuleModeSpec::Live }
}

async fn live_draft(app: &TestApp) -> RulesetDraft {
    versions::published(app.state.db.primary()).await.unwrap().unwrap().1.unwrap()
}

async fn try_on(app: &TestApp, draft: &RulesetDraft, subject: TrialSubject) -> Result<RuleTrial, trial::TrialError> {
    trial::run(app.state.db.primary(), &app.state.cache, &app.state.fraud, draft, &subject).await
}

/// The live rules, run again on each stored decision's facts, decide what the engine decided;
/// a draft with one more rule differs exactly where that rule matches — velocity as it was.
async fn a_test_on_stored_transactions_replays_the_decision(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let key = api_keys::create(app.state.db.primary(), "tests", "tests", Utc::now()).await.unwrap().key;
    // Three payments on one card (its velocity grows), amounts on both sides of $300.
    let mut decided = Vec::new();
    for (i, (card, cents)) in [("fp_a", 1_000), ("fp_a", 40_000), ("fp_a", 2_000), ("fp_b", 50_000), ("fp_c", 500)].into_iter().enumerate() {
        decided.push(ingest(&app, &key, &format!("trial-{i}"), card, cents).await);
    }
    let live = live_draft(&app).await;
    let mut draft = live.clone();
    draft.rules.push(rule("Card seen before, big", "velocity.card_count_1h >= 1 && transaction.amount_usd > 300.0", RuleEffectSpec::Block));
    // Fails at run time on every transaction (no card BIN was sent): recorded as an error.
    draft.rules.push(rule("BIN as a number", "int(transaction.card_bin) > 400000", RuleEffectSpec::Review));
    for response in &decided {
        let id = response["transaction_id"].as_i64().unwrap();
        let same = try_on(&app, &live, TrialSubject::TransactionId(id)).await.unwrap();
        assert_eq!((same.before.outcome.as_str(), same.before.score), (response["outcome"].as_str().unwrap(), response["score"].as_f64().unwrap()));
        assert_eq!((&same.after.outcome, same.after.score), (&same.before.outcome, same.before.score), "the live rules decide again as they did");
        assert_eq!(same.after.rules, same.before.rules, "rule by rule");

        let changed = try_on(&app, &draft, TrialSubject::TransactionId(id)).await.unwrap();
        // Only trial-1 is both on a card seen before (trial-0) and over $300.
        let expect_block = response["external_id"] == "trial-1";
        let new_rule = changed.after.rules.iter().find(|r| r.rule == "Card seen before, big").unwrap();
        assert_eq!(new_rule.outcome == "matched", expect_block, "{}: {new_rule:?}", response["external_id"]);
        if expect_block {
            assert_eq!(changed.after.outcome, "block");
            assert!(new_rule.explanation.as_deref().unwrap().contains("velocity.card_count_1h = 1"), "{new_rule:?}");
        } else {
            assert_eq!(changed.after.outcome, changed.before.outcome, "unchanged where the new rule does not match");
        }
        let failing = changed.after.rules.iter().find(|r| r.rule == "BIN as a number").unwrap();
        assert_eq!(failing.outcome, "error", "{failing:?}");
        assert!(failing.error.is_some());
    }

    // Bad subjects and bad drafts: a clear error each, nothing written.
    assert!(matches!(try_on(&app, &live, TrialSubject::TransactionId(999_999)).await, Err(trial::TrialError::UnknownTransaction(999_999))));
    let mut broken = live.clone();
    broken.rules.push(rule("typo", "transaction.amout > 1.0", RuleEffectSpec::Block));
    assert!(
        matches!(try_on(&app, &broken, TrialSubject::TransactionId(1)).await, Err(trial::TrialError::Invalid(p)) if p.iter().any(|p| p.message.contains("amout")))
    );
}

/// A pasted transaction is checked like an ingest and decided by both rulesets; nothing is stored.
async fn a_pasted_transaction_is_validated_like_an_ingest(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let count = |app: &TestApp| {
        let db = app.state.db.primary().clone();
        async move {
            let row =
                db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM transactions")).await.unwrap().unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    let before = count(&app).await;
    let mut draft = live_draft(&app).await;
    draft.rules.push(rule("Over $300", "transaction.amount_usd > 300.0", RuleEffectSpec::Block));
    let pasted = json!({
        "external_id": "pasted-1", "merchant_id": 1, "amount": 45_000, "currency": "USD", "buyer_email": "someone@example.com",
        "buyer_ip": "198.51.100.9", "card_fingerprint": "fp_pasted", "card_country": "US"
    });
    let trial = try_on(&app, &draft, TrialSubject::Pasted(pasted.to_string())).await.unwrap();
    assert_eq!(trial.after.outcome, "block");
    assert_ne!(trial.before.outcome, "block", "the live rules do not block it");
    assert!(trial.caveat.unwrap().contains("Velocity"), "velocity is said to be 0");
    assert_eq!(count(&app).await, before, "nothing stored");

    let missing = json!({ "merchant_id": 1, "amount": 100, "currency": "USD" });
    let Err(trial::TrialError::BadTransaction(why)) = try_on(&app, &draft, TrialSubject::Pasted(missing.to_string())).await else { panic!("refused") };
    assert!(why.contains("external_id"), "{why}");
    let Err(trial::TrialError::BadTransaction(why)) = try_on(&app, &draft, TrialSubject::Pasted("{".into())).await else { panic!("refused") };
    assert!(!why.is_empty());
    let unknown = json!({ "external_id": "x", "merchant_id": 999_999, "amount": 100, "currency": "USD", "buyer_email": "a@example.com", "buyer_ip": "198.51.100.9", "card_fingerprint": "fp", "card_country": "US" });
    assert!(matches!(try_on(&app, &draft, TrialSubject::Pasted(unknown.to_string())).await, Err(trial::TrialError::UnknownMerchant(999_999))));
    // At the bound and past it.
    let padded = |len: usize| {
        let mut text = pasted.to_string();
        text.push_str(&" ".repeat(len - text.len()));
        text
    };
    assert!(try_on(&app, &draft, TrialSubject::Pasted(padded(trial::MAX_PASTED_BYTES))).await.is_ok(), "at the bound");
    assert!(matches!(try_on(&app, &draft, TrialSubject::Pasted(padded(trial::MAX_PASTED_BYTES + 1))).await, Err(trial::TrialError::BadTransaction(_))));
}

/// Drafts count their revisions and a stale save is refused; publish needs a note, rollback a
/// reason; every step is in the audit log, which the database keeps append-only.
async fn drafts_are_revised_and_every_step_is_audited(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let admin = app.client_as(Who::Admin).await;
    let rpc = |path: &'static str, body: Value| {
        let request = admin.post(app.url(path)).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let mut draft = live_draft(&app).await;
    draft.rules.push(rule("Over $500", "transaction.amount_usd > 500.0", RuleEffectSpec::Review));
    draft.note = "review big payments".into();
    let (status, first) = rpc("/rpc/admin/save_ruleset_draft", json!({ "draft": draft, "expected_revision": 0 })).await;
    assert_eq!((status, first["revision"].as_i64()), (200, Some(1)), "{first}");
    let version = first["version"].as_i64().unwrap();
    draft.review_score = 40.0;
    let (status, second) = rpc("/rpc/admin/save_ruleset_draft", json!({ "draft": draft, "expected_revision": 1 })).await;
    assert_eq!((status, second["revision"].as_i64(), second["version"].as_i64()), (200, Some(2), Some(version)));
    // Someone who opened revision 1 saves: refused, named, nothing changed.
    draft.review_score = 10.0;
    let (status, stale) = rpc("/rpc/admin/save_ruleset_draft", json!({ "draft": draft, "expected_revision": 1 })).await;
    assert_eq!(status, 422);
    assert!(stale.to_string().contains("changed by admin@") && stale.to_string().contains("reload"), "{stale}");
    let (_, all) = rpc("/rpc/admin/ruleset_versions", json!({})).await;
    let saved = all.as_array().unwrap().iter().find(|v| v["status"] == "draft").unwrap().clone();
    assert_eq!((saved["revision"].as_i64(), saved["draft"]["review_score"].as_f64()), (Some(2), Some(40.0)), "the stale save changed nothing");
    // A draft "started fresh" while one exists is refused too.
    let (status, _) = rpc("/rpc/admin/save_ruleset_draft", json!({ "draft": draft, "expected_revision": 0 })).await;
    assert_eq!(status, 422);

    // Publishing without a note, or with one past the bound: refused, still a draft.
    for note in ["  ", &"n".repeat(versions::MAX_NOTE_CHARS + 1)] {
        let (status, body) = rpc("/rpc/admin/publish_ruleset", json!({ "version": version, "note": note })).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.to_string().contains("needs a reason"), "{body}");
    }
    let at_bound = "n".repeat(versions::MAX_NOTE_CHARS);
    let (status, live) = rpc("/rpc/admin/publish_ruleset", json!({ "version": version, "note": at_bound })).await;
    assert_eq!((status, live["status"].as_str(), live["note"].as_str()), (200, Some("published"), Some(at_bound.as_str())), "{live}");

    let (status, body) = rpc("/rpc/admin/rollback_ruleset", json!({ "reason": "" })).await;
    assert_eq!(status, 422, "{body}");
    let (status, back) = rpc("/rpc/admin/rollback_ruleset", json!({ "reason": "too many reviews" })).await;
    assert_eq!((status, back["version"].as_i64()), (200, Some(1)));

    let (status, history) = rpc("/rpc/admin/ruleset_history", json!({})).await;
    assert_eq!(status, 200);
    let steps: Vec<(String, String, Option<String>)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_string(), e["summary"].as_str().unwrap().to_string(), e["reason"].as_str().map(String::from)))
        .collect();
    let v = version;
    assert_eq!(
        steps[..4],
        [
            ("ruleset.rolled_back".to_string(), format!("rolled back from version {v} to version 1"), Some("too many reviews".to_string())),
            ("ruleset.published".to_string(), format!("published version {v} (revision 2), replacing version 1"), Some(at_bound.clone())),
            (
                "ruleset.draft_saved".to_string(),
                format!("saved draft version {v} (revision 2, {} rules)", draft.rules.len()),
                Some("review big payments".to_string())
            ),
            (
                "ruleset.draft_saved".to_string(),
                format!("saved draft version {v} (revision 1, {} rules)", draft.rules.len()),
                Some("review big payments".to_string())
            ),
        ],
        "newest first, with who and why"
    );
    assert!(history.as_array().unwrap().iter().take(4).all(|e| e["actor"] == vetted::server::seed::DEMO_ADMIN.0), "{history}");

    // The log itself refuses to be rewritten.
    let db = app.state.db.primary();
    let backend = db.get_database_backend();
    for sql in ["UPDATE audit_events SET summary = 'nothing happened'", "DELETE FROM audit_events"] {
        assert!(db.execute_raw(sea_orm::Statement::from_string(backend, sql)).await.is_err(), "{sql} is refused");
    }
}

/// The editor's live check and its completion schema.
async fn the_editor_checks_as_you_type_and_knows_the_schema(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let admin = app.client_as(Who::Admin).await;
    let check = |expression: &str| {
        let request = admin.post(app.url("/rpc/admin/check_expression")).json(&json!({ "expression": expression }));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(check("transaction.amount_usd > 300.0 && velocity.card_count_1h >= 2").await, json!([]));
    let typo = check("transaction.amount_usd > 1.0 &&\n  transaction.amout > 2.0").await;
    // Line 2, at the `.` that selects the unknown field (the editor underlines the name after it).
    assert_eq!((typo[0]["line"].as_i64(), typo[0]["column"].as_i64()), (Some(2), Some(14)), "{typo}");
    assert!(typo[0]["message"].as_str().unwrap().contains("amout"), "{typo}");
    let not_boolean = check("transaction.amount_usd + 1.0").await;
    assert!(not_boolean[0]["message"].as_str().unwrap().contains("must be true or false"), "a rule that is not true/false is refused: {not_boolean}");
    let too_long = check(&"1 == 1 && ".repeat(2_000)).await;
    assert!(!too_long.as_array().unwrap().is_empty(), "bounded: {too_long}");

    let schema: Value = admin.post(app.url("/rpc/admin/rule_schema")).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let names = |key: &str| schema[key].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(names("fields").contains(&"velocity.card_count_1h".to_string()) && names("fields").contains(&"merchant.risk_state".to_string()));
    assert!(names("functions").contains(&"in_list".to_string()));
    assert!(names("lists").contains(&"blocked_emails".to_string()) && names("lists").contains(&"trusted_cards".to_string()));
    let amount = schema["fields"].as_array().unwrap().iter().find(|e| e["name"] == "transaction.amount_usd").unwrap();
    assert_eq!(amount["detail"], "double");
}

/// A backtest equals a brute-force re-evaluation of every rule on every stored decision of its
/// window, with the lists as they were at each decision: the outcome matrix, each rule's matches,
/// disputes and errors, and precision and recall against the reviewers' labels and PayPal's
/// unauthorised-use disputes. Rules that did not change are not evaluated (their stored results
/// are the answer) and that changes nothing; a list entry added since does not match an old
/// payment and one removed since still does. One runs at a time; it can be cancelled; bad input
/// starts nothing.
async fn a_backtest_equals_a_brute_force_replay(backend: Backend) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use vetted::server::db::entities::{backtest as runs, case, decision, dispute, transaction};
    use vetted::server::fraud::backtest::{self, BacktestError};
    use vetted::server::fraud::rules::{Facts, ListLookup, RuleOutcome};
    let app = TestApp::spawn(backend, &[]).await;
    // A desk's history: payments decided by the engine, cases resolved with dispositions (fraud
    // blocks the card from then on).
    vetted::server::seed::review::seed_review_queue(&app.state, 42, 4, Utc::now()).await.unwrap();
    let db = app.state.db.primary();
    assert!(matches!(backtest::prepare(db, 30, "tests", Utc::now()).await, Err(BacktestError::NoDraft)), "no draft, nothing started");

    // Two payments PayPal says were disputed: one as unauthorised (fraud, whatever a reviewer
    // said), one as not received (disputed, not fraud).
    let approved: Vec<i64> = case::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.disposition.as_deref() == Some("approved"))
        .map(|c| c.transaction_id)
        .take(2)
        .collect();
    for (n, (transaction_id, reason)) in approved.iter().zip(["UNAUTHORISED", "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"]).enumerate() {
        dispute::Entity::insert(dispute::ActiveModel {
            paypal_dispute_id: sea_orm::Set(format!("PP-D-{n}")),
            merchant_id: sea_orm::Set(None),
            reason: sea_orm::Set(reason.into()),
            status: sea_orm::Set("OPEN".into()),
            amount_minor: sea_orm::Set(100),
            currency: sea_orm::Set("USD".into()),
            opened_at: sea_orm::Set(Utc::now()),
            updated_at: sea_orm::Set(Utc::now()),
            transaction_id: sea_orm::Set(Some(*transaction_id)),
            ..Default::default()
        })
        .exec(db)
        .await
        .unwrap();
    }

    let published = live_draft(&app).await;
    let mut draft = published.clone();
    draft.rules.push(rule("Over $200", "transaction.amount_usd > 200.0", RuleEffectSpec::Block));
    // Fails at run time on every decision: an e-mail address is never a number.
    draft.rules.push(rule("Email as a number", "int(transaction.buyer_email) > 0", RuleEffectSpec::Review));
    // The block-list rule, changed: evaluated again, against the lists of each decision's moment.
    draft.rules.push(rule(
        "Blocked card, any amount",
        "in_list('blocked_cards', transaction.card_fingerprint) && transaction.amount_usd >= 0.0",
        RuleEffectSpec::Block,
    ));
    draft.rules.retain(|r| r.name != "Disposable email");
    versions::save_draft(db, &draft, "tests", None, Utc::now()).await.unwrap();
    for days in [0, backtest::MAX_WINDOW_DAYS + 1] {
        assert!(matches!(backtest::prepare(db, days, "tests", Utc::now()).await, Err(BacktestError::BadWindow)), "{days} days");
    }
    assert_eq!(runs::Entity::find().count(db).await.unwrap(), 0, "nothing recorded for bad input");

    let now = Utc::now();
    let prepared = backtest::prepare(db, backtest::MAX_WINDOW_DAYS, "tests", now).await.unwrap();
    let id = prepared.run.id;
    assert!(
        matches!(backtest::prepare(db, 30, "someone else", Utc::now()).await, Err(BacktestError::AlreadyRunning(by)) if by == "tests"),
        "one run at a time"
    );
    backtest::run(db, prepared).await.unwrap();
    let report = backtest::get(db, id, Utc::now()).await.unwrap();
    assert_eq!(report.status, "done");
    let result = report.result.expect("a result");

    // The same, by brute force: every rule of the draft evaluated on every decision of the window.
    let compiled = versions::compile(&draft).unwrap();
    let rules = compiled.rules.len();
    let history: Arc<dyn ListLookup> = Arc::new(vetted::server::fraud::list_store::load_history(db).await.unwrap());
    let current: Arc<dyn ListLookup> = app.state.fraud.current().await.unwrap().lists.clone();
    let from = now - chrono::Duration::days(backtest::MAX_WINDOW_DAYS.into());
    let labels: BTreeMap<i64, Option<String>> = case::Entity::find().all(db).await.unwrap().into_iter().map(|c| (c.transaction_id, c.disposition)).collect();
    let disputes: BTreeMap<i64, String> =
        dispute::Entity::find().all(db).await.unwrap().into_iter().filter_map(|d| Some((d.transaction_id?, d.reason))).collect();
    let mut matrix = BTreeMap::<(String, String), u64>::new();
    let (mut matches, mut errors, mut disputed) = (vec![0u64; rules], vec![0u64; rules], vec![0u64; rules]);
    let (mut fraud, mut true_positives, mut false_positives) = (0u64, 0u64, 0u64);
    let (mut decisions, mut stored_card_blocks, mut card_blocks_with_today_lists) = (0u64, 0u64, 0u64);
    let changed_card_rule = compiled.rules.iter().position(|r| &*r.name == "Blocked card, any amount").unwrap();
    for stored in decision::Entity::find().all(db).await.unwrap().into_iter().filter(|d| d.created_at >= from && d.created_at < now) {
        let record: Value = serde_json::from_str(&stored.results).unwrap();
        let mut facts: Facts = serde_json::from_value(record["facts"].clone()).unwrap();
        facts.merchant_id = transaction::Entity::find_by_id(stored.transaction_id).one(db).await.unwrap().unwrap().merchant_id;
        let evaluation = compiled.replay(&facts, history.clone(), stored.created_at, vec![None; rules]);
        decisions += 1;
        *matrix.entry((stored.outcome.clone(), evaluation.action.as_str().to_string())).or_default() += 1;
        let dispute = disputes.get(&stored.transaction_id);
        for (i, r) in evaluation.results.iter().enumerate() {
            match r.outcome {
                RuleOutcome::Matched => {
                    matches[i] += 1;
                    disputed[i] += u64::from(dispute.is_some());
                }
                RuleOutcome::Error(_) => errors[i] += 1,
                _ => {}
            }
        }
        // What the engine's own block-list rule said then, and what today's lists would say.
        let said = record["rules"].as_array().unwrap().iter().any(|r| r["rule"] == "Blocked card" && r["outcome"] == "matched");
        stored_card_blocks += u64::from(said);
        card_blocks_with_today_lists += u64::from(current.contains("blocked_cards", &facts.transaction.card_fingerprint, facts.merchant_id, Utc::now()));
        let label = labels.get(&stored.transaction_id).cloned().flatten();
        let is_fraud = dispute.is_some_and(|reason| reason == "UNAUTHORISED") || matches!(label.as_deref(), Some("refunded_as_fraud" | "confirmed_fraud"));
        let not_fraud = !is_fraud && label.as_deref() == Some("approved");
        fraud += u64::from(is_fraud);
        if evaluation.action.as_str() != "allow" {
            true_positives += u64::from(is_fraud);
            false_positives += u64::from(not_fraud);
        }
    }
    assert!(decisions > 50 && fraud > 0 && false_positives > 0, "a history with labels: {decisions} decisions, {fraud} fraud");
    assert_eq!(result.decisions, decisions);
    let got: BTreeMap<(String, String), u64> = result.matrix.iter().map(|c| ((c.before.clone(), c.after.clone()), c.count)).collect();
    assert_eq!(got, matrix, "outcomes before × after");
    assert!(got.keys().any(|(before, after)| before != after), "the draft changes some outcomes");
    assert_eq!(result.rules.iter().map(|r| r.matches).collect::<Vec<_>>(), matches, "matches per rule");
    assert_eq!(result.rules.iter().map(|r| r.errors).collect::<Vec<_>>(), errors, "errors per rule");
    assert_eq!(result.rules.iter().map(|r| r.disputed).collect::<Vec<_>>(), disputed, "disputed matches per rule");
    assert_eq!(result.rules[rules - 2].errors, decisions, "the failing rule fails on every decision");
    assert_eq!((result.after.fraud, result.after.true_positives, result.after.false_positives), (fraud, true_positives, false_positives));
    assert_eq!(result.after.precision, Some(true_positives as f64 / (true_positives + false_positives) as f64));
    assert_eq!(result.after.recall, Some(true_positives as f64 / fraud as f64));
    assert!(result.matrix.iter().all(|c| !c.examples.is_empty() && c.examples.len() <= 5), "examples per cell");
    assert_eq!(result.reviews_per_day.iter().map(|d| d.after).sum::<u64>(), matrix.iter().filter(|((_, a), _)| a == "review").map(|(_, n)| n).sum::<u64>());
    // Only the three new rules were evaluated; the others' stored results were taken.
    assert_eq!((result.evaluated, result.reused), (decisions * 3, decisions * (rules as u64 - 3)));
    // Decisions stored before the compact outcomes column are read whole, to the same result.
    db.execute_unprepared("UPDATE decisions SET outcomes = NULL WHERE id % 2 = 0").await.unwrap();
    let prepared = backtest::prepare(db, backtest::MAX_WINDOW_DAYS, "tests", now).await.unwrap();
    let again = prepared.run.id;
    backtest::run(db, prepared).await.unwrap();
    let without_codes = backtest::get(db, again, Utc::now()).await.unwrap().result.expect("a result");
    assert_eq!(without_codes.matrix.iter().map(|c| c.count).collect::<Vec<_>>(), result.matrix.iter().map(|c| c.count).collect::<Vec<_>>());
    assert_eq!((without_codes.rules, without_codes.after, without_codes.evaluated), (result.rules.clone(), result.after.clone(), result.evaluated));
    // Lists as they were: the changed block-list rule matches what the engine saw then, not the
    // cards reviewers blocked since.
    assert_eq!(matches[changed_card_rule], stored_card_blocks, "the block list as it was at each decision");
    assert!(card_blocks_with_today_lists > stored_card_blocks, "cards blocked since then: {card_blocks_with_today_lists} > {stored_card_blocks}");

    // An entry removed since still matched the payments decided while it was listed.
    let entries = vetted::server::db::entities::fraud_list_entry::Entity::find().all(db).await.unwrap();
    let listed_then = entries
        .into_iter()
        .find(|e| e.removed_at.is_none() && e.created_at < now - chrono::Duration::days(1) && !e.value.contains('/'))
        .expect("the seeded lists have entries from before the payments");
    let merchant = listed_then.merchant_id.unwrap_or(1);
    vetted::server::fraud::list_store::remove_entry(db, &listed_then.list_name, &listed_then.value, listed_then.merchant_id, "tests", Utc::now())
        .await
        .unwrap();
    let after_removal = vetted::server::fraud::list_store::load_history(db).await.unwrap();
    assert!(after_removal.contains(&listed_then.list_name, &listed_then.value, merchant, now - chrono::Duration::hours(1)), "listed an hour ago");
    assert!(!after_removal.contains(&listed_then.list_name, &listed_then.value, merchant, Utc::now() + chrono::Duration::seconds(1)), "not listed now");
    assert!(
        !after_removal.contains(&listed_then.list_name, &listed_then.value, merchant, listed_then.created_at - chrono::Duration::seconds(1)),
        "not before it was added"
    );

    // Cancelled: asked before its first chunk, it stops after it.
    let prepared = backtest::prepare(db, backtest::MAX_WINDOW_DAYS, "tests", Utc::now()).await.unwrap();
    let id = prepared.run.id;
    assert_eq!(backtest::cancel(db, id, Utc::now()).await.unwrap().status, "cancelling");
    backtest::run(db, prepared).await.unwrap();
    let cancelled = backtest::get(db, id, Utc::now()).await.unwrap();
    assert_eq!((cancelled.status.as_str(), cancelled.result.is_none()), ("cancelled", true));
    assert!(cancelled.processed > 0 && cancelled.processed <= 2_000.min(decisions), "{}", cancelled.processed);
}

/// The rules page's hit counts equal a count of the stored decisions, each counted once however
/// often the roll-up runs; a resolution adds its label to the rules that opened the case.
async fn rule_hits_are_counted_once_and_labels_follow_resolutions(backend: Backend) {
    use std::collections::BTreeMap;
    use vetted::app::dto::{CaseAction, DecideCase, Disposition, NextCase, QueueFilter};
    use vetted::server::db::entities::decision;
    use vetted::server::fraud::rule_stats;
    use vetted::server::review::cases::{self, ReviewTiming, Reviewer};
    let app = TestApp::spawn(backend, &[]).await;
    let db = app.state.db.primary();
    let key = api_keys::create(db, "tests", "tests", Utc::now()).await.unwrap().key;
    for (i, cents) in [1_000, 40_000, 2_000, 50_000, 500, 75_000].into_iter().enumerate() {
        ingest(&app, &key, &format!("hits-{i}"), &format!("fp_h{}", i % 2), cents).await;
    }
    // Everything stored so far (the seeded history too), by hand.
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    for d in decision::Entity::find().all(db).await.unwrap() {
        let record: Value = serde_json::from_str(&d.results).unwrap();
        for r in record["rules"].as_array().unwrap().iter().filter(|r| r["outcome"] == "matched") {
            *expected.entry((d.created_at.format("%Y-%m-%d").to_string(), r["rule"].as_str().unwrap().to_string())).or_default() += 1;
        }
    }
    let until = Utc::now();
    let counted = rule_stats::roll_up(db, until).await.unwrap();
    assert_eq!(counted, decision::Entity::find().count(db).await.unwrap());
    assert_eq!(rule_stats::roll_up(db, until).await.unwrap(), 0, "a second run finds nothing new");
    let rows = db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT day, rule, hits FROM rule_hit_days")).await.unwrap();
    let got: BTreeMap<(String, String), u64> = rows
        .iter()
        .map(|r| ((r.try_get::<String>("", "day").unwrap(), r.try_get::<String>("", "rule").unwrap()), r.try_get::<i64>("", "hits").unwrap() as u64))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(got, expected);

    // The page's view: 30 days, oldest first, today's hits last.
    let stats = rule_stats::last_30_days(db, Utc::now()).await.unwrap();
    assert_eq!(stats.days.len(), 30);
    assert_eq!(stats.days.last().unwrap(), &Utc::now().format("%Y-%m-%d").to_string());
    assert!(stats.through.is_some());
    for stat in &stats.rules {
        let want: u64 = expected.iter().filter(|((day, rule), _)| rule == &stat.rule && stats.days.contains(day)).map(|(_, n)| n).sum();
        assert_eq!((stat.hits, stat.daily.iter().sum::<u64>()), (want, want), "{}", stat.rule);
    }

    // A decision made after the roll-up's bound waits for the next run.
    ingest(&app, &key, "hits-late", "fp_late", 1_000).await;
    assert_eq!(rule_stats::roll_up(db, until).await.unwrap(), 0);
    assert_eq!(rule_stats::roll_up(db, Utc::now() + chrono::Duration::seconds(1)).await.unwrap(), 1);

    // A case resolved as fraud: +1 fraud for each rule that opened it, on its day.
    let held = json!({
        "external_id": "hits-held", "merchant_id": 1, "amount": 1_000, "currency": "USD", "buyer_email": "someone@mailinator.com",
        "buyer_ip": "198.51.100.8", "ip_country": "US", "card_fingerprint": "fp_held", "card_country": "US"
    });
    let response = reqwest::Client::new().post(app.url("/api/v1/transactions")).bearer_auth(&key).json(&held).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let reviewer = Reviewer { user_id: 1, name: "Rita".into(), admin: false };
    let NextCase::Claimed { case_id } = cases::claim_next(db, &QueueFilter::default(), &reviewer, ReviewTiming::default(), Utc::now()).await.unwrap() else {
        panic!("a disposable-mail buyer is held for review")
    };
    let case = vetted::server::db::entities::case::Entity::find_by_id(case_id).one(db).await.unwrap().unwrap();
    let before = rule_stats::last_30_days(db, Utc::now()).await.unwrap();
    let fraud_of = |stats: &vetted::app::dto::RuleStats, rule: &str| stats.rules.iter().find(|s| s.rule == rule).map_or(0, |s| s.fraud);
    let decision = DecideCase::plain(case_id, case.version, CaseAction::Resolve(Disposition::ConfirmedFraud), String::new());
    cases::decide(db, &decision, &reviewer, Utc::now()).await.unwrap();
    let after = rule_stats::last_30_days(db, Utc::now()).await.unwrap();
    let rules: Vec<&str> = case.matched_rules.lines().filter(|r| !r.is_empty()).collect();
    assert!(!rules.is_empty());
    let in_window = before.days.contains(&case.created_at.format("%Y-%m-%d").to_string());
    for rule in rules {
        assert_eq!(fraud_of(&after, rule), fraud_of(&before, rule) + u64::from(in_window), "{rule}");
    }
}

/// With `RULES_PUBLISH_NEEDS_APPROVAL`, the admin who edited a draft cannot publish it; another
/// admin's publish is the approval, named in the audit log. Two publishes at once: one wins.
async fn approval_and_concurrent_publishes(backend: Backend) {
    let app = TestApp::spawn(backend, &[("RULES_PUBLISH_NEEDS_APPROVAL", "true")]).await;
    let admin = app.client_as(Who::Admin).await;
    let mut draft = live_draft(&app).await;
    draft.rules.push(rule("Over $900", "transaction.amount_usd > 900.0", RuleEffectSpec::Review));
    let saved: Value = admin
        .post(app.url("/rpc/admin/save_ruleset_draft"))
        .json(&json!({ "draft": draft, "expected_revision": 0 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let version = saved["version"].as_i64().unwrap() as i32;
    // The author, through the page's server function: refused with the reason, still a draft.
    let refused = admin.post(app.url("/rpc/admin/publish_ruleset")).json(&json!({ "version": version, "note": "mine" })).send().await.unwrap();
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("another admin must publish it"));
    let db = app.state.db.primary();
    let approval = versions::Approval::SecondAdmin;
    assert!(matches!(
        versions::publish(db, version, "mine", "admin@vetted.test", approval, Utc::now()).await,
        Err(versions::VersionError::AuthorCannotApprove(_))
    ));

    // Two other admins at once: exactly one publishes, the other is told it is no longer a draft.
    let (a, b) = tokio::join!(
        versions::publish(db, version, "approved", "second@vetted.test", approval, Utc::now()),
        versions::publish(db, version, "approved", "third@vetted.test", approval, Utc::now()),
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
    assert!(matches!(a.as_ref().err().or(b.as_ref().err()), Some(versions::VersionError::NotADraft(..))), "{a:?} {b:?}");
    let published = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM rulesets WHERE status = 'published'"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(published.try_get::<i64>("", "n").unwrap(), 1);
    let history = vetted::server::audit::of_kind(db, "ruleset", 10).await.unwrap();
    let approved = history.iter().find(|e| e.action == "ruleset.published").unwrap();
    assert!(approved.summary.contains("approved and published") && approved.summary.contains("edited by admin@vetted.test"), "{approved:?}");
    assert!(approved.actor == "second@vetted.test" || approved.actor == "third@vetted.test");
}

on_both_databases!(
    approval_and_concurrent_publishes,
    rule_hits_are_counted_once_and_labels_follow_resolutions,
    a_backtest_equals_a_brute_force_replay,
    a_test_on_stored_transactions_replays_the_decision,
    a_pasted_transaction_is_validated_like_an_ingest,
    drafts_are_revised_and_every_step_is_audited,
    the_editor_checks_as_you_type_and_knows_the_schema,
);
