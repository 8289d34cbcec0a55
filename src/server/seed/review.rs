//! A real review queue for the demo: recent payments go through the fraud engine (the ingest
//! path, with the seeded rules and lists), so every case has its decision, rule results and
//! facts; then the demo reviewer and admin work part of it — resolved with dispositions (some
//! adding block-list entries), some escalated, some claimed — and the rest waits, open.
//!
//! The ingests happen now; their cases are then spread over the last three days (opening time and
//! priority together) so the queue shows ages and SLA colours as a real one would.
use chrono::{DateTime, Duration, Utc};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{ConnectionTrait, DbErr};

use super::names;
use crate::app::dto::{CaseAction, DecideCase, Disposition, NextCase, QueueFilter};
use crate::server::fraud::{api_keys, decision::Caller, ingest, input::TransactionInput};
use crate::server::review::cases::{self, Reviewer};
use crate::server::{db, AppState};

/// What the demo queue holds after seeding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewSeedReport {
    pub ingested: u64,
    pub cases: u64,
    pub resolved: u64,
    pub escalated: u64,
    pub claimed: u64,
    pub open: u64,
}

/// Payments sent through the engine; about half are held for review.
const PAYMENTS: usize = 1_600;
/// Share of the cases the demo people decide, escalate and keep claimed.
const RESOLVED_SHARE: f64 = 0.45;
const ESCALATED: usize = 25;
const CLAIMED: usize = 15;

pub async fn seed_review_queue(state: &AppState, seed: u64, merchants: u32, until: DateTime<Utc>) -> Result<ReviewSeedReport, String> {
    let db = state.db.primary();
    state.fraud.refresh().await.map_err(|e| format!("loading the rules ({})", db::error_kind(&e)))?;
    let key = api_keys::create(db, "demo review history", "seed", until).await.map_err(|e| e.to_string())?;
    let caller = Caller { api_key_id: key.summary.id, idempotency_key: None };
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_CA5E);
    let inputs: Vec<TransactionInput> = (0..PAYMENTS).map(|i| payment(&mut rng, i, merchants)).collect();

    let mut case_ids = Vec::new();
    for chunk in inputs.chunks(100) {
        let ingests = chunk.iter().cloned().map(|input| ingest::ingest(db, &state.cache, &state.fraud, &caller, input));
        for done in futures::future::join_all(ingests).await {
            match done {
                Ok(done) => case_ids.extend(done.response.case_id),
                // A merchant's product, a merchant id out of range: the generator never makes one.
                Err(e) => return Err(format!("a demo payment was refused: {e}")),
            }
        }
    }
    spread_over_three_days(db, &case_ids, &mut rng, until).await.map_err(|e| format!("dating the demo cases ({})", db::error_kind(&e)))?;

    let reviewer = person(db, super::DEMO_REVIEWER.0, false).await?;
    let admin = person(db, super::DEMO_ADMIN.0, true).await?;
    let timing = state.config.review;
    let mut report = ReviewSeedReport { ingested: PAYMENTS as u64, cases: case_ids.len() as u64, ..ReviewSeedReport::default() };
    let to_resolve = (case_ids.len() as f64 * RESOLVED_SHARE) as usize;
    let now = Utc::now();
    for n in 0..(to_resolve + ESCALATED + CLAIMED) {
        let who = if n % 4 == 3 { &admin } else { &reviewer };
        let NextCase::Claimed { case_id } = cases::claim_next(db, &QueueFilter::default(), who, timing, now).await.map_err(|e| e.to_string())? else { break };
        if n >= to_resolve + ESCALATED {
            report.claimed += 1;
            continue;
        }
        let version = cases::version_of(db, case_id).await.map_err(|e| e.to_string())?;
        let (action, note) = if n >= to_resolve {
            (CaseAction::Escalate, "Same card on several merchants in a day; needs an admin's look.")
        } else {
            match rng.random_range(0..100) {
                0..60 => (CaseAction::Resolve(Disposition::Approved), "Known customer pattern; false positive."),
                60..70 => (CaseAction::Resolve(Disposition::Refunded), "Buyer asked for a refund."),
                70..85 => (CaseAction::Resolve(Disposition::RefundedAsFraud), "Card reported by the buyer's bank."),
                _ => (CaseAction::Resolve(Disposition::ConfirmedFraud), "Stolen-card pattern across merchants."),
            }
        };
        let fraud = matches!(action, CaseAction::Resolve(d) if d.is_fraud());
        let decision = DecideCase { block_card: fraud, block_email: fraud && rng.random_bool(0.5), ..DecideCase::plain(case_id, version, action, note.into()) };
        cases::decide(db, &decision, who, now).await.map_err(|e| e.to_string())?;
        if action == CaseAction::Escalate {
            report.escalated += 1;
        } else {
            report.resolved += 1;
        }
    }
    report.open = report.cases - report.resolved - report.escalated - report.claimed;
    state.fraud.refresh().await.map_err(|e| format!("reloading the lists ({})", db::error_kind(&e)))?;
    Ok(report)
}

async fn person(db: &impl ConnectionTrait, email: &str, admin: bool) -> Result<Reviewer, String> {
    let sql = "SELECT id, display_name FROM users WHERE email = ?";
    let row = db
        .query_one_raw(db::statement(db.get_database_backend(), sql, vec![email.into()]))
        .await
        .map_err(|e| format!("reading the demo users ({})", db::error_kind(&e)))?
        .ok_or("the demo users are missing")?;
    Ok(Reviewer {
        user_id: row.try_get("", "id").map_err(|_| "unreadable demo user")?,
        name: row.try_get("", "display_name").map_err(|_| "unreadable demo user")?,
        admin,
    })
}

/// One demo payment: most look like the fraud the default rules hold for review (disposable
/// mail; a card from a high-risk country used from elsewhere; a large ticket from abroad), a
/// quarter are ordinary and pass.
fn payment(rng: &mut ChaCha8Rng, i: usize, merchants: u32) -> TransactionInput {
    let merchant_id = rng.random_range(1..=merchants.max(1)) as i32;
    let buyer = rng.random_range(0..5_000u64);
    let home = *["US", "GB", "DE", "FR", "CA"].choose(rng).expect("non-empty");
    let (email, card_country, ip_country, amount) = match rng.random_range(0..100) {
        0..45 => (names::disposable_email(rng), home, home, rng.random_range(500..30_000)),
        45..65 => (names::buyer_email(buyer), *["NG", "RO"].choose(rng).expect("non-empty"), home, rng.random_range(2_000..80_000)),
        65..75 => (names::buyer_email(buyer), names::random_country(rng), home, rng.random_range(210_000..600_000)),
        _ => (names::buyer_email(buyer), home, home, rng.random_range(500..9_000)),
    };
    TransactionInput {
        external_id: format!("demo_review_{i}"),
        merchant_id,
        amount,
        currency: "USD".into(),
        buyer_email: email,
        buyer_ip: names::ip_address(rng, ip_country),
        ip_country: Some(ip_country.into()),
        card_fingerprint: names::fingerprint(buyer + 1_000_000),
        card_bin: None,
        card_country: card_country.into(),
        product_id: None,
    }
}

/// Dates each case (and its transaction and decision) back by up to three days, with the
/// priority the formula gives at that opening time.
async fn spread_over_three_days(db: &impl ConnectionTrait, case_ids: &[i64], rng: &mut ChaCha8Rng, until: DateTime<Utc>) -> Result<(), DbErr> {
    use crate::server::review::priority;
    let backend = db.get_database_backend();
    for &case_id in case_ids {
        let opened = until - Duration::minutes(rng.random_range(5..72 * 60));
        let row = db
            .query_one_raw(db::statement(backend, "SELECT score, amount_usd_cents, transaction_id, decision_id FROM cases WHERE id = ?", vec![case_id.into()]))
            .await?;
        let Some(row) = row else { continue };
        let (score, cents, transaction_id, decision_id): (f64, i64, i64, i64) =
            (row.try_get("", "score")?, row.try_get("", "amount_usd_cents")?, row.try_get("", "transaction_id")?, row.try_get("", "decision_id")?);
        let key = priority::sort_key(score, cents, opened, false);
        db.execute_raw(db::statement(
            backend,
            "UPDATE cases SET created_at = ?, updated_at = ?, priority = ? WHERE id = ?",
            vec![opened.into(), opened.into(), key.into(), case_id.into()],
        ))
        .await?;
        db.execute_raw(db::statement(backend, "UPDATE transactions SET created_at = ? WHERE id = ?", vec![opened.into(), transaction_id.into()])).await?;
        db.execute_raw(db::statement(backend, "UPDATE decisions SET created_at = ? WHERE id = ?", vec![opened.into(), decision_id.into()])).await?;
    }
    // The list entries these payments were decided with were in force when they were made (a
    // backtest replays each decision with the lists of its moment).
    let before = until - Duration::days(3);
    db.execute_raw(db::statement(backend, "UPDATE fraud_list_entries SET created_at = ? WHERE created_at > ?", vec![before.into(), before.into()])).await?;
    Ok(())
}
