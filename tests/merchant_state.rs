//! The merchant risk state machine (src/server/review/): which moves are allowed and for whom,
//! checked against DESIGN.md's table written out here again; and the service that makes them —
//! the state and its history row together, a person's decision kept from automation, lifting a
//! probation, two moves at once, the append-only history — on SQLite and PostgreSQL.
mod common;

use std::sync::Arc;

use chrono::Utc;
use common::{fresh_db, Backend};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set, Statement};
use vetted::server::cache::Cache;
use vetted::server::db::entities::{merchant, merchant_risk_event, user};
use vetted::server::db::Db;
use vetted::server::review::merchant_actions::{self, history, transition, MerchantAction, MerchantActionError, Transition};
use vetted::server::review::merchant_state::{decide, Actor, MerchantEvent, RiskState, TransitionContext, TransitionError, MAX_REASON_CHARS};

// ---------------------------------------------------------------------------------------------
// The table, pure.

const ANY: &[&str] =
    &["not_reviewed", "compliant", "flagged_for_fraud", "flagged_for_tos_violation", "on_probation", "suspended_for_fraud", "suspended_for_tos_violation"];

/// shared/DESIGN.md, "Merchant risk state": (event, from, to), by name.
const DESIGN_TABLE: &[(&str, &[&str], &str)] = &[
    ("mark_compliant", ANY, "compliant"),
    ("flag_for_fraud", &["not_reviewed", "compliant", "flagged_for_tos_violation"], "flagged_for_fraud"),
    ("flag_for_tos_violation", &["not_reviewed", "compliant", "flagged_for_fraud"], "flagged_for_tos_violation"),
    ("put_on_probation", ANY, "on_probation"),
    ("suspend_for_fraud", &["flagged_for_fraud", "on_probation"], "suspended_for_fraud"),
    ("suspend_for_tos_violation", &["flagged_for_tos_violation", "on_probation"], "suspended_for_tos_violation"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    Already,
    Person,
    Suspension,
    Verified,
    NotAllowed,
    NoStateBefore,
}

fn why(err: &TransitionError) -> Why {
    match err {
        TransitionError::AlreadyInState(_) => Why::Already,
        TransitionError::PersonDecision { .. } => Why::Person,
        TransitionError::SuspensionNeedsPerson(_) => Why::Suspension,
        TransitionError::VerifiedMerchant => Why::Verified,
        TransitionError::NotAllowed { .. } => Why::NotAllowed,
        TransitionError::NoStateBeforeProbation => Why::NoStateBefore,
        other => panic!("decide never checks reasons or names: {other:?}"),
    }
}

/// What the rules say of one case, worked out from the names alone: Ok(to), or every reason that
/// applies (the code may report any one of them).
fn expected(from: &str, event: &str, before_probation: Option<&str>, verified: bool, automation: bool, set_by_person: bool) -> Result<String, Vec<Why>> {
    let (to, listed) = if event == "lift_probation" {
        if from != "on_probation" {
            return Err(vec![Why::NotAllowed]);
        }
        match before_probation {
            Some(before) => (before.to_string(), true),
            None => return Err(vec![Why::NoStateBefore]),
        }
    } else {
        let (_, sources, to) = DESIGN_TABLE.iter().find(|(name, _, _)| *name == event).expect("every event is in the table");
        (to.to_string(), sources.contains(&from))
    };
    let mut reasons = Vec::new();
    if to == from {
        reasons.push(Why::Already);
    }
    if automation && set_by_person {
        reasons.push(Why::Person);
    }
    if automation && from.starts_with("suspended") {
        reasons.push(Why::Suspension);
    }
    if verified && (to.starts_with("flagged") || to.starts_with("suspended")) {
        reasons.push(Why::Verified);
    }
    if !listed {
        reasons.push(Why::NotAllowed);
    }
    if reasons.is_empty() {
        Ok(to)
    } else {
        Err(reasons)
    }
}

fn ada() -> Actor {
    Actor::Person { user_id: 1, name: "Ada Admin".into() }
}

/// Every state × every event × verified or not × a person, a rule or a job × a current state set
/// by a person or not × every state before a probation (or none): the code allows exactly the
/// moves the table allows, and refuses the others for a reason that applies.
#[test]
fn every_state_and_event_against_the_design_table() {
    let actors = [ada(), Actor::Rule { name: "Disposable email".into() }, Actor::System { what: "PayPal reconciliation".into() }];
    let mut befores: Vec<Option<RiskState>> = vec![None];
    befores.extend(RiskState::ALL.into_iter().filter(|s| *s != RiskState::OnProbation).map(Some));
    let (mut cases, mut allowed) = (0, 0);
    for from in RiskState::ALL {
        for event in MerchantEvent::ALL {
            for verified in [false, true] {
                for actor in &actors {
                    for set_by_person in [None, Some("Ada Admin".to_string())] {
                        for before in &befores {
                            let context = TransitionContext { verified, set_by_person: set_by_person.clone(), before_probation: *before };
                            let want =
                                expected(from.as_str(), event.as_str(), before.map(RiskState::as_str), verified, !actor.is_person(), set_by_person.is_some());
                            let got = decide(from, event, actor, &context);
                            let case = format!("{} from {} by {actor:?}, {context:?}", event.as_str(), from.as_str());
                            match (&want, &got) {
                                (Ok(to), Ok(state)) => assert_eq!(state.as_str(), to, "{case}"),
                                (Err(reasons), Err(err)) => assert!(reasons.contains(&why(err)), "{case}: refused with {err:?}, expected one of {reasons:?}"),
                                _ => panic!("{case}: expected {want:?}, got {got:?}"),
                            }
                            cases += 1;
                            allowed += usize::from(got.is_ok());
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 7 * 7 * 2 * 3 * 2 * 7);
    assert!(allowed > 0);

    // A person on an unverified merchant, the state before a probation known: mark compliant
    // from the 6 other states, flag for fraud from 3, for a terms violation from 3, probation
    // from 6, suspend from 2 each, lift from 1 = 23 moves — the transcription above holds.
    let context = TransitionContext { before_probation: Some(RiskState::Compliant), ..TransitionContext::default() };
    let open: usize =
        RiskState::ALL.iter().map(|from| MerchantEvent::ALL.iter().filter(|event| decide(*from, **event, &ada(), &context).is_ok()).count()).sum();
    assert_eq!(open, 23);
}

/// The refusals people read, with the person's name where automation is kept out.
#[test]
fn refusals_name_what_stands_in_the_way() {
    let by_ada = TransitionContext { set_by_person: Some("Ada Admin".into()), ..TransitionContext::default() };
    let rule = Actor::Rule { name: "Refunds spike".into() };
    let err = decide(RiskState::SuspendedForFraud, MerchantEvent::MarkCompliant, &rule, &by_ada).unwrap_err();
    assert_eq!(err.to_string(), "Automation cannot move a merchant out of a state a person set (suspended for fraud by Ada Admin).");
    let verified = TransitionContext { verified: true, ..TransitionContext::default() };
    for event in [MerchantEvent::FlagForFraud, MerchantEvent::FlagForTosViolation] {
        assert_eq!(decide(RiskState::Compliant, event, &ada(), &verified), Err(TransitionError::VerifiedMerchant));
    }
    for event in [MerchantEvent::SuspendForFraud, MerchantEvent::SuspendForTosViolation] {
        assert_eq!(decide(RiskState::OnProbation, event, &ada(), &verified), Err(TransitionError::VerifiedMerchant));
    }
    assert_eq!(
        decide(RiskState::Compliant, MerchantEvent::SuspendForFraud, &ada(), &TransitionContext::default()).unwrap_err().to_string(),
        "Suspend for fraud needs the merchant flagged for fraud or on probation; they are compliant."
    );
}

// ---------------------------------------------------------------------------------------------
// The service, on both databases.

async fn migrated(backend: Backend) -> Db {
    let test_db = fresh_db(backend).await;
    let db = Db::connect(&test_db.url, None).await.unwrap();
    db.migrate().await.unwrap();
    db
}

async fn merchant_in(db: &DatabaseConnection, state: RiskState, verified: bool) -> i32 {
    let model = merchant::ActiveModel {
        name: Set("Shop".into()),
        email: Set("shop@example.com".into()),
        country: Set("US".into()),
        currency: Set("USD".into()),
        verified: Set(verified),
        risk_state: Set(state.as_str().into()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    model.id
}

/// A reviewer's account, as the actor of their moves.
async fn person(db: &DatabaseConnection, name: &str) -> Actor {
    let model = user::ActiveModel {
        email: Set(format!("{}@vetted.test", name.to_lowercase().replace(' ', "."))),
        display_name: Set(name.into()),
        password_hash: Set("unused".into()),
        role: Set("reviewer".into()),
        merchant_id: Set(None),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    Actor::Person { user_id: model.id, name: name.into() }
}

fn action(merchant_id: i32, event: MerchantEvent, actor: &Actor) -> MerchantAction {
    let reason = actor.is_person().then(|| format!("{} after review", event.label()));
    MerchantAction { merchant_id, event, actor: actor.clone(), reason, seen_state: None }
}

async fn state_of(db: &DatabaseConnection, merchant_id: i32) -> RiskState {
    let model = merchant::Entity::find_by_id(merchant_id).one(db).await.unwrap().unwrap();
    RiskState::parse(&model.risk_state).unwrap()
}

async fn act(db: &Db, merchant_id: i32, event: MerchantEvent, actor: &Actor) -> Result<Transition, MerchantActionError> {
    transition(db.primary(), &cache(), &action(merchant_id, event, actor), Utc::now()).await
}

fn cache() -> Cache {
    Cache::memory(100)
}

fn refusal(result: Result<Transition, MerchantActionError>) -> TransitionError {
    match result {
        Err(MerchantActionError::Refused(err)) => err,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The service applies the table (a person, an unverified merchant, no history): each allowed
/// move changes the merchant's state and appends exactly its history row; each refused one
/// changes nothing.
async fn each_move_is_stored_as_state_and_history(backend: Backend) {
    let db = migrated(backend).await;
    let bea = person(db.primary(), "Bea Reviewer").await;
    for from in RiskState::ALL {
        for event in MerchantEvent::ALL {
            let id = merchant_in(db.primary(), from, false).await;
            let want = expected(from.as_str(), event.as_str(), None, false, false, false);
            let got = act(&db, id, event, &bea).await;
            let rows = history(db.primary(), id, None).await.unwrap();
            let case = format!("{} from {}", event.as_str(), from.as_str());
            match (want, got) {
                (Ok(to), Ok(done)) => {
                    assert_eq!(state_of(db.primary(), id).await.as_str(), to, "{case}");
                    assert_eq!(rows, vec![done.clone()], "{case}: one row, as returned");
                    assert_eq!((done.from, done.to.as_str(), done.event, &done.actor), (from, to.as_str(), event, &bea), "{case}");
                    assert_eq!(done.reason.as_deref(), Some(format!("{} after review", event.label()).as_str()), "{case}");
                }
                (Err(reasons), Err(MerchantActionError::Refused(err))) => {
                    assert!(reasons.contains(&why(&err)), "{case}: {err:?} not in {reasons:?}");
                    assert_eq!(state_of(db.primary(), id).await, from, "{case}: unchanged");
                    assert!(rows.is_empty(), "{case}: no history row");
                }
                (want, got) => panic!("{case}: expected {want:?}, got {got:?}"),
            }
        }
    }
    match act(&db, 9_999, MerchantEvent::MarkCompliant, &bea).await {
        Err(MerchantActionError::UnknownMerchant(9_999)) => {}
        other => panic!("unknown merchant: {other:?}"),
    }
}

/// Gumroad #2538: a person suspends; an automatic "compliant" (or probation) is refused and
/// changes nothing, history included; another person can lift it. Automation may still move
/// what automation set, but never out of a suspension.
async fn automation_cannot_undo_a_person(backend: Backend) {
    let db = migrated(backend).await;
    let ada = person(db.primary(), "Ada Admin").await;
    let bea = person(db.primary(), "Bea Reviewer").await;
    let rule = Actor::Rule { name: "Low dispute rate".into() };
    let job = Actor::System { what: "PayPal reconciliation".into() };

    let id = merchant_in(db.primary(), RiskState::NotReviewed, false).await;
    act(&db, id, MerchantEvent::FlagForFraud, &ada).await.unwrap();
    act(&db, id, MerchantEvent::SuspendForFraud, &ada).await.unwrap();
    let before = history(db.primary(), id, None).await.unwrap();
    assert_eq!(before.len(), 2);

    let err = refusal(act(&db, id, MerchantEvent::MarkCompliant, &rule).await);
    assert_eq!(err, TransitionError::PersonDecision { state: RiskState::SuspendedForFraud, by: "Ada Admin".into() });
    assert_eq!(err.to_string(), "Automation cannot move a merchant out of a state a person set (suspended for fraud by Ada Admin).");
    let err = refusal(act(&db, id, MerchantEvent::PutOnProbation, &job).await);
    assert!(matches!(err, TransitionError::PersonDecision { .. }), "{err:?}");
    assert_eq!(state_of(db.primary(), id).await, RiskState::SuspendedForFraud);
    assert_eq!(history(db.primary(), id, None).await.unwrap(), before, "the history is unchanged");

    let lifted = act(&db, id, MerchantEvent::MarkCompliant, &bea).await.unwrap();
    assert_eq!((lifted.from, lifted.to), (RiskState::SuspendedForFraud, RiskState::Compliant));
    // A person's "compliant" is a decision too: a rule may not flag over it.
    assert!(matches!(refusal(act(&db, id, MerchantEvent::FlagForFraud, &rule).await), TransitionError::PersonDecision { .. }));
    assert_eq!(state_of(db.primary(), id).await, RiskState::Compliant);

    // Automation over automation is allowed, except out of a suspension.
    let other = merchant_in(db.primary(), RiskState::NotReviewed, false).await;
    act(&db, other, MerchantEvent::FlagForFraud, &rule).await.unwrap();
    act(&db, other, MerchantEvent::MarkCompliant, &job).await.unwrap();
    act(&db, other, MerchantEvent::FlagForFraud, &rule).await.unwrap();
    act(&db, other, MerchantEvent::SuspendForFraud, &rule).await.unwrap();
    assert_eq!(refusal(act(&db, other, MerchantEvent::MarkCompliant, &job).await), TransitionError::SuspensionNeedsPerson(RiskState::SuspendedForFraud));
    assert_eq!(state_of(db.primary(), other).await, RiskState::SuspendedForFraud);
    assert_eq!(history(db.primary(), other, None).await.unwrap().len(), 4);
}

/// Gumroad #1884: lifting a probation returns to the exact state before it, not a default; the
/// history reads newest first.
async fn lifting_probation_returns_to_the_state_before_it(backend: Backend) {
    let db = migrated(backend).await;
    let ada = person(db.primary(), "Ada Admin").await;
    for flagged in [MerchantEvent::FlagForFraud, MerchantEvent::FlagForTosViolation] {
        let id = merchant_in(db.primary(), RiskState::Compliant, false).await;
        let first = act(&db, id, flagged, &ada).await.unwrap();
        act(&db, id, MerchantEvent::PutOnProbation, &ada).await.unwrap();
        let lifted = act(&db, id, MerchantEvent::LiftProbation, &ada).await.unwrap();
        assert_eq!((lifted.from, lifted.to, lifted.event), (RiskState::OnProbation, first.to, MerchantEvent::LiftProbation));
        assert_eq!(state_of(db.primary(), id).await, first.to);
        let events: Vec<MerchantEvent> = history(db.primary(), id, None).await.unwrap().iter().map(|t| t.event).collect();
        assert_eq!(events, [MerchantEvent::LiftProbation, MerchantEvent::PutOnProbation, flagged]);
    }
    // On probation with no recorded start (seeded so): never a default.
    let id = merchant_in(db.primary(), RiskState::OnProbation, false).await;
    assert_eq!(refusal(act(&db, id, MerchantEvent::LiftProbation, &ada).await), TransitionError::NoStateBeforeProbation);
    assert_eq!(state_of(db.primary(), id).await, RiskState::OnProbation);
    // A verified merchant is not lifted back into a flag.
    let id = merchant_in(db.primary(), RiskState::FlaggedForFraud, true).await;
    act(&db, id, MerchantEvent::PutOnProbation, &ada).await.unwrap();
    assert_eq!(refusal(act(&db, id, MerchantEvent::LiftProbation, &ada).await), TransitionError::VerifiedMerchant);
    assert_eq!(refusal(act(&db, id, MerchantEvent::SuspendForFraud, &ada).await), TransitionError::VerifiedMerchant);
    assert_eq!(state_of(db.primary(), id).await, RiskState::OnProbation);
}

/// The state update and its history row commit together: when the row cannot be written (here
/// its author is not a user — a foreign key), the state is left as it was.
async fn state_and_history_are_written_together(backend: Backend) {
    let db = migrated(backend).await;
    let id = merchant_in(db.primary(), RiskState::Compliant, false).await;
    let ghost = Actor::Person { user_id: 4_242, name: "Nobody".into() };
    match act(&db, id, MerchantEvent::FlagForFraud, &ghost).await {
        Err(MerchantActionError::Database(_)) => {}
        other => panic!("the history row cannot be written, got {other:?}"),
    }
    assert_eq!(state_of(db.primary(), id).await, RiskState::Compliant, "the state update was rolled back with the row");
    assert!(history(db.primary(), id, None).await.unwrap().is_empty());
    let ada = person(db.primary(), "Ada Admin").await;
    act(&db, id, MerchantEvent::FlagForFraud, &ada).await.unwrap();
    assert_eq!(state_of(db.primary(), id).await, RiskState::FlaggedForFraud);
}

/// Two reviewers act at once on what they both saw: exactly one move applies, the other is told
/// the state changed meanwhile. A page that is simply out of date is refused the same way.
async fn two_moves_at_once_apply_once(backend: Backend) {
    let db = migrated(backend).await;
    let ada = person(db.primary(), "Ada Admin").await;
    let bea = person(db.primary(), "Bea Reviewer").await;
    for round in 0..8 {
        let id = merchant_in(db.primary(), RiskState::FlaggedForFraud, false).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let race = |event: MerchantEvent, actor: &Actor| {
            let (db, barrier) = (db.clone(), barrier.clone());
            let move_ = MerchantAction { seen_state: Some(RiskState::FlaggedForFraud), ..action(id, event, actor) };
            tokio::spawn(async move {
                barrier.wait().await;
                transition(db.primary(), &cache(), &move_, Utc::now()).await
            })
        };
        let a = race(MerchantEvent::SuspendForFraud, &ada);
        let b = race(MerchantEvent::FlagForTosViolation, &bea);
        let results = [a.await.unwrap(), b.await.unwrap()];
        let applied: Vec<&Transition> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(applied.len(), 1, "round {round}: exactly one applies: {results:?}");
        let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(matches!(loser, MerchantActionError::ChangedMeanwhile), "round {round}: {loser:?}");
        assert_eq!(state_of(db.primary(), id).await, applied[0].to);
        assert_eq!(history(db.primary(), id, None).await.unwrap(), vec![applied[0].clone()]);
    }

    let id = merchant_in(db.primary(), RiskState::SuspendedForFraud, false).await;
    let stale = MerchantAction { seen_state: Some(RiskState::FlaggedForFraud), ..action(id, MerchantEvent::MarkCompliant, &bea) };
    assert!(matches!(transition(db.primary(), &cache(), &stale, Utc::now()).await, Err(MerchantActionError::ChangedMeanwhile)));
    assert_eq!(state_of(db.primary(), id).await, RiskState::SuspendedForFraud);
}

/// Nothing rewrites the history: UPDATE and DELETE are refused by the database, through the
/// entity or by hand. Nor can it fork: a second row after the same row is refused.
async fn the_history_is_append_only(backend: Backend) {
    let db = migrated(backend).await;
    let ada = person(db.primary(), "Ada Admin").await;
    let id = merchant_in(db.primary(), RiskState::NotReviewed, false).await;
    let first = act(&db, id, MerchantEvent::FlagForFraud, &ada).await.unwrap();
    let conn = db.primary();
    for sql in
        ["UPDATE merchant_risk_events SET reason = 'rewritten'", "UPDATE merchant_risk_events SET to_state = 'compliant'", "DELETE FROM merchant_risk_events"]
    {
        assert!(conn.execute_unprepared(sql).await.is_err(), "{sql} must be refused");
    }
    if backend == Backend::Postgres {
        assert!(conn.execute_unprepared("TRUNCATE merchant_risk_events").await.is_err(), "TRUNCATE must be refused");
    }
    let row = merchant_risk_event::Entity::find_by_id(first.id).one(conn).await.unwrap().unwrap();
    let mut edit: merchant_risk_event::ActiveModel = row.clone().into();
    edit.actor_label = Set("Someone else".into());
    assert!(edit.update(conn).await.is_err(), "an entity update is refused");
    assert!(merchant_risk_event::Entity::delete_by_id(first.id).exec(conn).await.is_err(), "an entity delete is refused");
    assert_eq!(history(conn, id, None).await.unwrap(), vec![first.clone()], "the row is as written");

    let fork = |to: &str| merchant_risk_event::ActiveModel {
        merchant_id: Set(id),
        previous_event_id: Set(None),
        from_state: Set("flagged_for_fraud".into()),
        to_state: Set(to.into()),
        event: Set("mark_compliant".into()),
        actor_kind: Set("system".into()),
        actor_user_id: Set(None),
        actor_label: Set("a manual fix".into()),
        reason: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let next = merchant_risk_event::ActiveModel { previous_event_id: Set(Some(first.id)), ..fork("compliant") };
    merchant_risk_event::Entity::insert(next).exec(conn).await.expect("the row after the first");
    let second_next = merchant_risk_event::ActiveModel { previous_event_id: Set(Some(first.id)), ..fork("on_probation") };
    assert!(merchant_risk_event::Entity::insert(second_next).exec(conn).await.is_err(), "a second row after the same row is a fork");
    assert_eq!(merchant_risk_event::Entity::find().count(conn).await.unwrap(), 2);
}

/// A person gives a reason of 1 to 1,000 characters (trimmed; characters, not bytes — stored
/// whole on PostgreSQL's bounded column); automation may give none.
async fn reasons_are_required_and_bounded(backend: Backend) {
    let db = migrated(backend).await;
    let ada = person(db.primary(), "Ada Admin").await;
    let id = merchant_in(db.primary(), RiskState::Compliant, false).await;
    let with_reason = |reason: Option<String>| MerchantAction { reason, ..action(id, MerchantEvent::FlagForFraud, &ada) };
    let cases = [
        (None, TransitionError::ReasonRequired),
        (Some("   ".to_string()), TransitionError::ReasonRequired),
        (Some("x".repeat(MAX_REASON_CHARS + 1)), TransitionError::ReasonTooLong { chars: MAX_REASON_CHARS + 1 }),
    ];
    for (reason, want) in cases {
        assert_eq!(refusal(transition(db.primary(), &cache(), &with_reason(reason), Utc::now()).await), want);
    }
    assert_eq!(state_of(db.primary(), id).await, RiskState::Compliant);
    assert!(history(db.primary(), id, None).await.unwrap().is_empty());

    let at_bound = "é".repeat(MAX_REASON_CHARS);
    let done = transition(db.primary(), &cache(), &with_reason(Some(format!("  {at_bound}\n"))), Utc::now()).await.unwrap();
    assert_eq!(history(db.primary(), id, None).await.unwrap()[0].reason.as_deref(), Some(at_bound.as_str()));
    assert_eq!(done.reason.as_deref(), Some(at_bound.as_str()));

    let rule = Actor::Rule { name: "Chargeback ratio".into() };
    let by_rule = act(&db, merchant_in(db.primary(), RiskState::NotReviewed, false).await, MerchantEvent::FlagForFraud, &rule).await.unwrap();
    assert_eq!(by_rule.reason, None);
}

/// The fraud rules read the merchant's state from facts cached for a minute; a move forgets them,
/// so the next ingest decides on the new state.
async fn the_rules_see_the_new_state_at_once(backend: Backend) {
    use vetted::server::fraud::ingest::merchant_facts;
    let db = migrated(backend).await;
    let ada = person(db.primary(), "Ada Admin").await;
    let id = merchant_in(db.primary(), RiskState::Compliant, false).await;
    let cache = cache();
    assert_eq!(merchant_facts(db.primary(), &cache, id).await.unwrap().unwrap().risk_state, "compliant");
    transition(db.primary(), &cache, &action(id, MerchantEvent::FlagForFraud, &ada), Utc::now()).await.unwrap();
    assert_eq!(merchant_facts(db.primary(), &cache, id).await.unwrap().unwrap().risk_state, "flagged_for_fraud");
}

on_both_databases!(
    each_move_is_stored_as_state_and_history,
    automation_cannot_undo_a_person,
    lifting_probation_returns_to_the_state_before_it,
    state_and_history_are_written_together,
    two_moves_at_once_apply_once,
    the_history_is_append_only,
    reasons_are_required_and_bounded,
    the_rules_see_the_new_state_at_once,
);

/// PostgreSQL, where moves are not serialised from their first read: a move decided on a state
/// another uncommitted move is changing waits for that one's row lock, and when it commits, finds
/// the state is no longer what it read — refused, not applied over it. (Here both moves would be
/// allowed from either state, so only the conditional update stands in the way.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_move_decided_on_a_changing_state_is_refused() {
    let db = migrated(Backend::Postgres).await;
    let ada = person(db.primary(), "Ada Admin").await;
    let bea = person(db.primary(), "Bea Reviewer").await;
    let id = merchant_in(db.primary(), RiskState::FlaggedForFraud, false).await;

    let first = merchant_actions::begin(db.primary()).await.unwrap();
    merchant_actions::apply(&first, &action(id, MerchantEvent::MarkCompliant, &ada), Utc::now()).await.unwrap();
    let second = {
        let db = db.clone();
        let move_ = action(id, MerchantEvent::PutOnProbation, &bea);
        tokio::spawn(async move { transition(db.primary(), &cache(), &move_, Utc::now()).await })
    };
    // Until the second move waits on the first's row lock (it has read the old state by then).
    let waiting = "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let row = db.primary().query_one_raw(Statement::from_string(sea_orm::DbBackend::Postgres, waiting)).await.unwrap().unwrap();
        if row.try_get::<i64>("", "n").unwrap() > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the second move never waited on the first");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    sea_orm::TransactionSession::commit(first).await.unwrap();
    assert!(matches!(second.await.unwrap(), Err(MerchantActionError::ChangedMeanwhile)));
    assert_eq!(state_of(db.primary(), id).await, RiskState::Compliant);
    assert_eq!(history(db.primary(), id, None).await.unwrap().len(), 1);
}
