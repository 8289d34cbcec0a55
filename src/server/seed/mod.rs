//! Demo data: merchants, products and 90 days of transactions with daily and weekly seasonality,
//! refunds, card-testing bursts and country mismatches. Deterministic for a seed and an end time;
//! streams rows in batches so `--merchants 100000 --transactions 10000000` runs in bounded memory.
pub mod history;
mod names;
pub mod review;

use chrono::{DateTime, Duration, Timelike, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, TransactionTrait};

use crate::app::dto::{RiskState, Role, TransactionStatus};
use crate::server::auth::service::{create_user, CreateUserError, NewUser};
use crate::server::db::entities::{merchant, paypal_account, product, transaction};

pub const DEMO_MERCHANT: (&str, &str) = ("merchant@vetted.test", "vetted-merchant-demo");
pub const DEMO_REVIEWER: (&str, &str) = ("reviewer@vetted.test", "vetted-reviewer-demo");
pub const DEMO_ADMIN: (&str, &str) = ("admin@vetted.test", "vetted-admin-demo");

const DAYS: i64 = 90;
/// Rows per INSERT: 12 columns × 2,000 stays under SQLite's 32,766 bound parameters.
const BATCH: usize = 2_000;
/// Rows per database transaction: large enough that SQLite is not fsync-bound.
const COMMIT_EVERY: usize = 50_000;

#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub seed: u64,
    pub merchants: u32,
    pub transactions: u64,
    /// The newest transaction's time; the data covers the 90 days before it.
    pub until: DateTime<Utc>,
    pub show_progress: bool,
}

impl SeedOptions {
    pub fn demo(until: DateTime<Utc>) -> SeedOptions {
        SeedOptions { seed: 42, merchants: 200, transactions: 50_000, until, show_progress: true }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub merchants: u64,
    pub products: u64,
    pub transactions: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the database already holds {0} merchants; seed only fills an empty database")]
    NotEmpty(u64),
    #[error("--merchants must be at least 1")]
    NoMerchants,
    #[error("database error ({0})")]
    Database(&'static str),
    #[error("creating a demo user failed: {0}")]
    User(#[from] CreateUserError),
}

impl From<sea_orm::DbErr> for SeedError {
    fn from(e: sea_orm::DbErr) -> Self {
        SeedError::Database(crate::server::db::error_kind(&e))
    }
}

/// The default ruleset (published as version 1) and lists, unless some already exist.
pub async fn seed_fraud_defaults(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<(), SeedError> {
    use crate::server::fraud::{default_rules, list_store, versions};
    list_store::seed_defaults(db, now).await.map_err(|e| match e {
        list_store::ListStoreError::Database(e) => SeedError::from(e),
        _ => SeedError::Database("default lists"),
    })?;
    versions::publish_initial(db, &default_rules::ruleset(), "seed", now).await.map_err(|e| match e {
        versions::VersionError::Database(e) => SeedError::from(e),
        _ => SeedError::Database("default ruleset"),
    })?;
    Ok(())
}

pub async fn is_empty(db: &DatabaseConnection) -> Result<bool, sea_orm::DbErr> {
    Ok(merchant::Entity::find().count(db).await? == 0)
}

pub async fn seed(db: &DatabaseConnection, options: &SeedOptions) -> Result<SeedReport, SeedError> {
    if options.merchants == 0 {
        return Err(SeedError::NoMerchants);
    }
    let existing = merchant::Entity::find().count(db).await?;
    if existing > 0 {
        return Err(SeedError::NotEmpty(existing));
    }
    let plan = Plan::new(options);

    let products = insert_merchants_and_products(db, &plan).await?;
    connect_paypal_accounts(db, &plan).await?;
    let progress = progress_bar(options);
    let transactions = insert_transactions(db, &plan, &products, &progress).await?;
    progress.finish_and_clear();
    if db.get_database_backend() == DbBackend::Postgres {
        // Rows were inserted with explicit ids; move the sequences past them.
        for table in ["merchants", "products", "transactions"] {
            db.execute_unprepared(&format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))")).await?;
        }
    }
    create_demo_users(db).await?;
    seed_fraud_defaults(db, options.until).await?;
    Ok(SeedReport { merchants: options.merchants as u64, products: products.len() as u64, transactions })
}

/// The review desk's past (`history`): the held share of the seeded transactions as decided and
/// open cases, resolved by the demo reviewer.
pub async fn record_history(db: &DatabaseConnection, options: &SeedOptions, transactions: u64) -> Result<history::HistoryReport, SeedError> {
    let row = db
        .query_one_raw(crate::server::db::statement(
            db.get_database_backend(),
            "SELECT id, display_name FROM users WHERE email = ?",
            vec![DEMO_REVIEWER.0.into()],
        ))
        .await?
        .ok_or(SeedError::Database("the demo reviewer"))?;
    let reviewer: (i32, String) = (row.try_get("", "id")?, row.try_get("", "display_name")?);
    let progress = if options.show_progress { ProgressBar::new(transactions) } else { ProgressBar::hidden() };
    progress.set_style(ProgressStyle::with_template("recording the review history {bar:40} {human_pos}/{human_len} ({eta})").expect("valid template"));
    let report = history::record(db, transactions as i64, (reviewer.0, &reviewer.1), &progress).await?;
    progress.finish_and_clear();
    Ok(report)
}

fn progress_bar(options: &SeedOptions) -> ProgressBar {
    if !options.show_progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(options.transactions);
    bar.set_style(ProgressStyle::with_template("seeding transactions {bar:40} {human_pos}/{human_len} ({per_sec}, eta {eta})").expect("valid template"));
    bar
}

async fn create_demo_users(db: &DatabaseConnection) -> Result<(), SeedError> {
    for (email, password, name, role, merchant_id) in [
        (DEMO_MERCHANT.0, DEMO_MERCHANT.1, "Maya Merchant", Role::Merchant, Some(1)),
        (DEMO_REVIEWER.0, DEMO_REVIEWER.1, "Riley Reviewer", Role::Reviewer, None),
        (DEMO_ADMIN.0, DEMO_ADMIN.1, "Ada Admin", Role::Admin, None),
    ] {
        create_user(db, NewUser { email, display_name: name, password, role, merchant_id }).await?;
    }
    Ok(())
}

/// Everything decided up front: merchant sizes and the time distribution.
struct Plan {
    seed: u64,
    merchants: u32,
    until: DateTime<Utc>,
    start: DateTime<Utc>,
    /// Transactions per merchant, index 0 = merchant 1 (the demo merchant).
    counts: Vec<u64>,
    /// Size of the pool buyers are drawn from, so some people buy again and across shops.
    buyers: u64,
    /// Cumulative weights of the hourly buckets from `start`.
    hour_cdf: Vec<f64>,
}

impl Plan {
    fn new(options: &SeedOptions) -> Plan {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let n = options.merchants as usize;
        let total = options.transactions;
        // The demo merchant gets a healthy, fixed share; the rest is heavy-tailed like real shops.
        let demo = if n == 1 { total } else { (total / 50).max(total.min(1_500)) };
        let weights: Vec<f64> = (1..n).map(|_| rng.random::<f64>().max(1e-9).powf(-0.7)).collect();
        let weight_sum: f64 = weights.iter().sum();
        let rest = total - demo;
        let mut counts = vec![demo];
        counts.extend(weights.iter().map(|w| (rest as f64 * w / weight_sum).floor() as u64));
        let mut missing = total - counts.iter().sum::<u64>();
        let mut i = 1.min(n - 1);
        while missing > 0 {
            counts[i] += 1;
            missing -= 1;
            i = if i + 1 >= n { 1.min(n - 1) } else { i + 1 };
        }

        let start = options.until - Duration::days(DAYS);
        let mut cumulative = 0.0;
        let hour_cdf = (0..DAYS * 24)
            .map(|h| {
                let at = start + Duration::hours(h);
                cumulative += hour_weight(at, h as f64 / (DAYS * 24) as f64);
                cumulative
            })
            .collect();
        Plan { seed: options.seed, merchants: options.merchants, until: options.until, start, buyers: (total / 3).max(1), counts, hour_cdf }
    }

    fn rng_for(&self, stream: u64, merchant_id: u32) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (merchant_id as u64) << 20)
    }

    /// A time in the window, following the daily and weekly pattern.
    fn sample_time(&self, rng: &mut ChaCha8Rng) -> DateTime<Utc> {
        let total = *self.hour_cdf.last().expect("non-empty");
        let target = rng.random::<f64>() * total;
        let hour = self.hour_cdf.partition_point(|&c| c < target).min(self.hour_cdf.len() - 1);
        let at = self.start + Duration::hours(hour as i64) + Duration::seconds(rng.random_range(0..3600));
        at.min(self.until)
    }
}

/// Weekends and evenings (UTC, mostly American buyers) sell more; the shop grows over the window.
fn hour_weight(at: DateTime<Utc>, progress: f64) -> f64 {
    use chrono::Datelike;
    const DAILY: [f64; 24] =
        [0.95, 0.85, 0.7, 0.55, 0.42, 0.35, 0.32, 0.35, 0.42, 0.52, 0.62, 0.72, 0.82, 0.92, 1.0, 1.08, 1.15, 1.2, 1.22, 1.2, 1.18, 1.15, 1.1, 1.02];
    const WEEKLY: [f64; 7] = [1.0, 0.97, 0.98, 1.02, 1.1, 1.28, 1.22]; // Monday first
    let weekday = at.weekday().num_days_from_monday() as usize;
    DAILY[at.hour() as usize] * WEEKLY[weekday] * (0.85 + 0.3 * progress)
}

async fn insert_merchants_and_products(db: &DatabaseConnection, plan: &Plan) -> Result<Vec<ProductRef>, SeedError> {
    let txn = db.begin().await?;
    let mut merchants = Vec::with_capacity(BATCH);
    let mut products = Vec::new();
    let mut product_rows = Vec::with_capacity(BATCH);
    for id in 1..=plan.merchants {
        let mut rng = plan.rng_for(1, id);
        let m = names::merchant(&mut rng, id, plan.until);
        let risk_state = if id == 1 { RiskState::Compliant } else { names::risk_state(&mut rng) };
        for _ in 0..rng.random_range(1..=6) {
            let (name, price_minor) = names::product(&mut rng);
            let product_id = products.len() as i32 + 1;
            products.push(ProductRef { id: product_id, merchant_id: id as i32, price_minor, currency: m.currency });
            product_rows.push(product::ActiveModel {
                id: Set(product_id),
                merchant_id: Set(id as i32),
                name: Set(name),
                price_minor: Set(price_minor),
                currency: Set(m.currency.to_string()),
                created_at: Set(m.created_at + Duration::days(rng.random_range(0..30))),
            });
        }
        merchants.push(merchant::ActiveModel {
            id: Set(id as i32),
            name: Set(if id == 1 { "Northwind Type Foundry".to_string() } else { m.name }),
            email: Set(m.email),
            country: Set(m.country.to_string()),
            currency: Set(m.currency.to_string()),
            verified: Set(id == 1 || rng.random_bool(0.25)),
            risk_state: Set(risk_state.as_str().to_string()),
            created_at: Set(m.created_at),
        });
        if merchants.len() == BATCH {
            merchant::Entity::insert_many(std::mem::take(&mut merchants)).exec_without_returning(&txn).await?;
        }
        if product_rows.len() >= BATCH {
            // Products reference merchants: flush merchants first.
            if !merchants.is_empty() {
                merchant::Entity::insert_many(std::mem::take(&mut merchants)).exec_without_returning(&txn).await?;
            }
            product::Entity::insert_many(std::mem::take(&mut product_rows)).exec_without_returning(&txn).await?;
        }
    }
    if !merchants.is_empty() {
        merchant::Entity::insert_many(merchants).exec_without_returning(&txn).await?;
    }
    if !product_rows.is_empty() {
        product::Entity::insert_many(product_rows).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    Ok(products)
}

/// The PayPal merchant id the seed gives a merchant: 13 characters of PayPal's account-id
/// alphabet (`^[2-9A-HJ-NP-Z]{13}$`, no 0/1/I/O), "V" then the id in base 32.
pub fn paypal_merchant_id(merchant_id: i32) -> String {
    const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut digits = [ALPHABET[0]; 12];
    let mut n = merchant_id.unsigned_abs();
    for digit in digits.iter_mut().rev() {
        *digit = ALPHABET[(n % 32) as usize];
        n /= 32;
    }
    format!("V{}", std::str::from_utf8(&digits).expect("ASCII"))
}

/// Four merchants in five (and always the demo merchant) have connected PayPal. First syncs are
/// spread over the first sync interval so a fresh install does not hit PayPal all at once; the
/// demo merchant's comes when someone opens its dashboard (a priority refresh).
async fn connect_paypal_accounts(db: &DatabaseConnection, plan: &Plan) -> Result<(), SeedError> {
    let txn = db.begin().await?;
    let mut rows = Vec::with_capacity(BATCH);
    for id in (1..=plan.merchants as i32).filter(|id| *id == 1 || id % 5 != 0) {
        let spread = if id == 1 { 15 * 60 } else { (id as i64 * 7919) % (15 * 60) };
        rows.push(paypal_account::ActiveModel {
            merchant_id: Set(id),
            paypal_merchant_id: Set(paypal_merchant_id(id)),
            connected_at: Set(plan.start),
            next_sync_at: Set(plan.until + Duration::seconds(spread)),
            refresh_requested_at: Set(None),
            last_active_at: Set(None),
            last_attempt_at: Set(None),
            last_success_at: Set(None),
            failing_since: Set(None),
            last_error: Set(None),
        });
        if rows.len() == BATCH {
            paypal_account::Entity::insert_many(std::mem::take(&mut rows)).exec_without_returning(&txn).await?;
        }
    }
    if !rows.is_empty() {
        paypal_account::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct ProductRef {
    id: i32,
    merchant_id: i32,
    price_minor: i64,
    currency: &'static str,
}

/// One generated sale before it gets its id.
struct Sale {
    product: ProductRef,
    amount_minor: i64,
    buyer_email: String,
    buyer_ip: String,
    card_fingerprint: String,
    card_country: &'static str,
    status: TransactionStatus,
    created_at: DateTime<Utc>,
}

async fn insert_transactions(db: &DatabaseConnection, plan: &Plan, products: &[ProductRef], progress: &ProgressBar) -> Result<u64, SeedError> {
    let mut next_id: i64 = 1;
    let mut pending: Vec<transaction::ActiveModel> = Vec::with_capacity(BATCH);
    let mut txn = db.begin().await?;
    let mut in_txn = 0usize;
    let mut product_start = 0usize;
    for merchant_id in 1..=plan.merchants {
        let product_end = product_start + products[product_start..].partition_point(|p| p.merchant_id == merchant_id as i32);
        let own_products = &products[product_start..product_end];
        product_start = product_end;
        let sales = merchant_sales(plan, merchant_id, own_products);
        for sale in sales {
            pending.push(transaction::ActiveModel {
                id: Set(next_id),
                merchant_id: Set(sale.product.merchant_id),
                product_id: Set(Some(sale.product.id)),
                amount_minor: Set(sale.amount_minor),
                currency: Set(sale.product.currency.to_string()),
                buyer_email: Set(sale.buyer_email),
                buyer_ip: Set(sale.buyer_ip),
                card_fingerprint: Set(sale.card_fingerprint),
                card_country: Set(sale.card_country.to_string()),
                status: Set(sale.status.as_str().to_string()),
                created_at: Set(sale.created_at),
                external_id: Set(None),
                card_bin: Set(None),
                ip_country: Set(None),
            });
            next_id += 1;
            if pending.len() == BATCH {
                transaction::Entity::insert_many(std::mem::take(&mut pending)).exec_without_returning(&txn).await?;
                progress.inc(BATCH as u64);
                in_txn += BATCH;
                if in_txn >= COMMIT_EVERY {
                    txn.commit().await?;
                    txn = db.begin().await?;
                    in_txn = 0;
                }
            }
        }
    }
    let last = pending.len() as u64;
    if !pending.is_empty() {
        transaction::Entity::insert_many(pending).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    progress.inc(last);
    Ok(next_id as u64 - 1)
}

/// All of one merchant's transactions, oldest first.
fn merchant_sales(plan: &Plan, merchant_id: u32, products: &[ProductRef]) -> Vec<Sale> {
    let count = plan.counts[merchant_id as usize - 1] as usize;
    let mut rng = plan.rng_for(2, merchant_id);
    let merchant_country = names::merchant_country(&mut plan.rng_for(1, merchant_id), merchant_id);
    let mut sales = Vec::with_capacity(count);

    // Card testing: one address tries many cards for small amounts within minutes, mostly declined.
    let burst = if count >= 40 && (merchant_id == 1 || rng.random_bool(0.04)) { rng.random_range(20..=count.min(60)) } else { 0 };
    if burst > 0 {
        let start = if merchant_id == 1 { plan.until - Duration::hours(rng.random_range(2..30)) } else { plan.sample_time(&mut rng) };
        let ip = names::ip_address(&mut rng, "RU");
        let recent = plan.until - start < Duration::days(3);
        for i in 0..burst {
            let product = *products.choose(&mut rng).expect("every merchant has a product");
            let status = match rng.random::<f64>() {
                x if x < 0.72 => TransactionStatus::Failed,
                x if x < 0.85 && recent => TransactionStatus::InReview,
                x if x < 0.93 && recent => TransactionStatus::Blocked,
                _ => TransactionStatus::Succeeded,
            };
            sales.push(Sale {
                product,
                amount_minor: rng.random_range(100..=300),
                buyer_email: names::disposable_email(&mut rng),
                buyer_ip: ip.clone(),
                card_fingerprint: names::fingerprint(rng.random()),
                card_country: names::random_country(&mut rng),
                status,
                created_at: (start + Duration::seconds(i as i64 * rng.random_range(3..20))).min(plan.until),
            });
        }
    }

    for _ in burst..count {
        let product = *products.choose(&mut rng).expect("every merchant has a product");
        let created_at = plan.sample_time(&mut rng);
        let age = plan.until - created_at;
        let buyer = rng.random_range(0..plan.buyers);
        let mismatched = rng.random_bool(0.02);
        let (card_country, ip_country) = if mismatched {
            (names::random_country(&mut rng), names::random_country(&mut rng))
        } else {
            let home = names::buyer_country(&mut rng, merchant_country);
            (home, home)
        };
        let status = match rng.random::<f64>() {
            x if x < 0.035 => TransactionStatus::Refunded,
            x if x < 0.060 => TransactionStatus::Failed,
            // Held items only stay held for a while: older ones were decided long ago.
            x if x < 0.063 + if mismatched { 0.25 } else { 0.0 } && age < Duration::days(10) => TransactionStatus::InReview,
            x if x < 0.065 + if mismatched { 0.30 } else { 0.0 } && age < Duration::days(30) => TransactionStatus::Blocked,
            _ => TransactionStatus::Succeeded,
        };
        // Pay-what-you-want: some buyers pay more than the price.
        let tip = if rng.random_bool(0.1) { product.price_minor * rng.random_range(1..=10) / 10 } else { 0 };
        sales.push(Sale {
            product,
            amount_minor: product.price_minor + tip,
            buyer_email: names::buyer_email(buyer),
            buyer_ip: names::ip_address(&mut rng, ip_country),
            card_fingerprint: names::fingerprint(buyer),
            card_country,
            status,
            created_at,
        });
    }
    sales.sort_by_key(|s| s.created_at);
    sales
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn options(merchants: u32, transactions: u64) -> SeedOptions {
        SeedOptions { seed: 7, merchants, transactions, until: Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap(), show_progress: false }
    }

    #[test]
    fn every_transaction_is_allocated_to_a_merchant() {
        for (m, t) in [(1, 10), (2, 3), (200, 50_000), (1_000, 999)] {
            let plan = Plan::new(&options(m, t));
            assert_eq!(plan.counts.len(), m as usize);
            assert_eq!(plan.counts.iter().sum::<u64>(), t, "{m} merchants, {t} transactions");
        }
    }

    #[test]
    fn weekends_outsell_weekdays_and_times_stay_in_the_window() {
        let opts = options(2, 100);
        let plan = Plan::new(&opts);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut by_weekday = [0u32; 7];
        for _ in 0..50_000 {
            let t = plan.sample_time(&mut rng);
            assert!(t <= opts.until && t >= opts.until - Duration::days(DAYS));
            use chrono::Datelike;
            by_weekday[t.weekday().num_days_from_monday() as usize] += 1;
        }
        assert!(by_weekday[5] > by_weekday[1], "{by_weekday:?}");
    }

    #[test]
    fn same_seed_same_data() {
        let plan = Plan::new(&options(5, 500));
        let products = [ProductRef { id: 1, merchant_id: 1, price_minor: 900, currency: "USD" }];
        let first: Vec<_> = merchant_sales(&plan, 1, &products).into_iter().map(|s| (s.amount_minor, s.created_at, s.buyer_email)).collect();
        let second: Vec<_> = merchant_sales(&plan, 1, &products).into_iter().map(|s| (s.amount_minor, s.created_at, s.buyer_email)).collect();
        assert_eq!(first, second);
        assert!(first.windows(2).all(|w| w[0].1 <= w[1].1), "oldest first");
    }
}
