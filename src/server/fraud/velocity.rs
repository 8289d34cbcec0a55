//! Velocity: how many payments, and how many dollars, one card / email / IP / merchant made in
//! the last hour, day and week — counted before the current payment is added.
//!
//! Counts live in time buckets (5 min for the hour, 1 h for the day, 6 h for the week), so a
//! window is its buckets: the hour is the current 5-minute bucket and the 11 before it. Reading
//! the window and adding the payment happen as one atomic step, so concurrent payments on the
//! same card each see a different count, on one instance or many:
//! - Redis (when configured): one Lua script per batch of payments over one hash per key; keys
//!   expire a week after their last use and stale buckets are pruned, so memory stays bounded.
//! - The database otherwise: one upsert of the current 5-minute buckets for the whole batch
//!   (which takes their row locks, in key order) and a read of the older rows, sent together,
//!   inside the batch's database transaction (on PostgreSQL the ingest writer sends them with the
//!   batch's claims: [`claimed_velocity`]).
//!
//! In the database each payment is in exactly one row: a payment is added to its 5-minute bucket
//! only (one row per key, not one per window: a third of the row updates and row locks), and
//! [`compact_database`] later merges 5-minute buckets into their hour, and hours into their six
//! hours, once they are out of the finer window with a margin, and deletes what left the week. A
//! window sums every row whose span lies inside it; a coarser row than the window's buckets is
//! never inside it (it was merged only after leaving that window).
//!
//! A batch is counted in order: each payment sees what came before it, the batch's earlier
//! payments included — the same counts as recording them one by one.
//!
//! Keys are SHA-256 digests of the values: no email or IP is stored in the counters.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Value};

use crate::server::db::batch::{BatchConnection, Row};
use crate::server::db::{insert_sql, statement};
use sha2::{Digest, Sha256};

use crate::server::cache::RedisCache;

/// (window name, bucket seconds, buckets per window)
pub const WINDOWS: [(&str, i64, i64); 3] = [("1h", 300, 12), ("24h", 3600, 24), ("7d", 21_600, 28)];

/// The dimensions counted, as named in the rule context (`velocity.card_count_1h`, …).
pub const DIMENSIONS: [&str; 4] = ["card", "email", "ip", "merchant"];

/// One payment's velocity keys, by dimension.
#[derive(Debug, Clone)]
pub struct Subject {
    pub card: String,
    pub email: String,
    pub ip: String,
    pub merchant: i32,
}

impl Subject {
    /// The keys its payments are counted under, by dimension.
    pub fn keys(&self) -> [(&'static str, String); 4] {
        let digest = |dimension: &str, value: &str| {
            let hash = Sha256::digest(format!("{dimension}\0{value}").as_bytes());
            format!("{dimension}:{}", hex::encode(&hash[..16]))
        };
        [
            ("card", digest("card", &self.card)),
            ("email", digest("email", &self.email)),
            ("ip", digest("ip", &self.ip)),
            ("merchant", format!("merchant:{}", self.merchant)),
        ]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VelocityError {
    #[error("the velocity store did not answer")]
    Unavailable,
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

#[derive(Clone)]
pub enum Velocity {
    Redis(RedisCache),
    Database,
}

impl std::fmt::Debug for Velocity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Velocity::Redis(_) => "Velocity::Redis",
            Velocity::Database => "Velocity::Database",
        })
    }
}

/// KEYS: four per payment (card, email, ip, merchant), payments in order; ARGV: now, then each
/// payment's amount. Returns, per payment and key, (count, sum) for each window before it.
const REDIS_SCRIPT: &str = r#"
local now = tonumber(ARGV[1])
local windows = {{300, 12}, {3600, 24}, {21600, 28}}
-- Each window's bucket fields, the same for every key: built once per call.
local fields, current_count, current_sum = {}, {}, {}
for w, spec in ipairs(windows) do
  local size, n = spec[1], spec[2]
  local current = math.floor(now / size)
  fields[w] = {}
  for b = current - n + 1, current do
    fields[w][#fields[w] + 1] = 'c' .. w .. ':' .. b
    fields[w][#fields[w] + 1] = 's' .. w .. ':' .. b
  end
  current_count[w] = 'c' .. w .. ':' .. current
  current_sum[w] = 's' .. w .. ':' .. current
end
local out = {}
for p = 2, #ARGV do
  local amount = tonumber(ARGV[p])
  for k = 1, 4 do
    local key = KEYS[(p - 2) * 4 + k]
    for w = 1, #windows do
      local values = redis.call('HMGET', key, unpack(fields[w]))
      local count, sum = 0, 0
      for j = 1, #values, 2 do
        count = count + (tonumber(values[j]) or 0)
        sum = sum + (tonumber(values[j + 1]) or 0)
      end
      out[#out + 1] = count
      out[#out + 1] = sum
      redis.call('HINCRBY', key, current_count[w], 1)
      redis.call('HINCRBY', key, current_sum[w], amount)
    end
    -- A live hash holds at most 128 fields; beyond that, drop buckets that left their window.
    if redis.call('HLEN', key) > 128 then
      for _, field in ipairs(redis.call('HKEYS', key)) do
        local w, b = string.match(field, '^%a(%d):(%-?%d+)$')
        local spec = windows[tonumber(w)]
        if spec and tonumber(b) <= math.floor(now / spec[1]) - spec[2] then
          redis.call('HDEL', key, field)
        end
      end
    end
    redis.call('EXPIRE', key, 7 * 86400 + 21600)
  end
end
return out
"#;

/// One payment to count: who paid, and how many US cents.
#[derive(Debug, Clone)]
pub struct Payment {
    pub subject: Subject,
    pub amount_usd_cents: i64,
}

/// What one payment saw: `card_count_1h`, `card_sum_usd_1h`, … as the rule context names them.
pub type Counts = BTreeMap<String, serde_json::Value>;

const NUMBERS_PER_PAYMENT: usize = DIMENSIONS.len() * WINDOWS.len() * 2;

impl Velocity {
    /// Adds one payment of `amount_usd_cents` at `now` and returns the counts and sums from
    /// before it. `db` is the ingest's transaction.
    pub async fn record(&self, db: &impl BatchConnection, subject: &Subject, amount_usd_cents: i64, now: DateTime<Utc>) -> Result<Counts, VelocityError> {
        let payment = Payment { subject: subject.clone(), amount_usd_cents };
        Ok(self.record_all(db, std::slice::from_ref(&payment), now).await?.remove(0))
    }

    /// Adds several payments at `now`, in order, as one atomic step: each sees the ones before
    /// it, and concurrent callers see all of them or none. `db` is the ingest's transaction.
    pub async fn record_all(&self, db: &impl BatchConnection, payments: &[Payment], now: DateTime<Utc>) -> Result<Vec<Counts>, VelocityError> {
        if payments.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<[(&'static str, String); 4]> = payments.iter().map(|p| p.subject.keys()).collect();
        let numbers = match self {
            Velocity::Redis(redis) => {
                let (key_names, args) = script_arguments(payments, now);
                redis
                    .run_script(&redis::Script::new(REDIS_SCRIPT), &key_names, &args)
                    .await
                    .filter(|numbers| numbers.len() == payments.len() * NUMBERS_PER_PAYMENT)
                    .ok_or(VelocityError::Unavailable)?
            }
            Velocity::Database => record_in_database(db, &keys, payments, now).await?,
        };
        Ok(counts_by_payment(&numbers, &keys))
    }
}

/// `numbers` (per payment and key, count and sum for each window) as each payment's [`Counts`].
fn counts_by_payment(numbers: &[i64], keys: &[[(&'static str, String); 4]]) -> Vec<Counts> {
    numbers
        .chunks(NUMBERS_PER_PAYMENT)
        .zip(keys)
        .map(|(numbers, keys)| {
            let mut out = Counts::new();
            let mut at = 0;
            for (dimension, _) in keys {
                for (window, _, _) in WINDOWS {
                    out.insert(format!("{dimension}_count_{window}"), serde_json::json!(numbers[at]));
                    out.insert(format!("{dimension}_sum_usd_{window}"), serde_json::json!(numbers[at + 1] as f64 / 100.0));
                    at += 2;
                }
            }
            out
        })
        .collect()
}

/// The Redis scripts' KEYS (four per payment, in order) and ARGV (now, then each amount).
fn script_arguments(payments: &[Payment], now: DateTime<Utc>) -> (Vec<String>, Vec<i64>) {
    let keys = payments.iter().flat_map(|p| p.subject.keys()).map(|(_, key)| format!("velocity:{key}")).collect();
    let args = std::iter::once(now.timestamp()).chain(payments.iter().map(|p| p.amount_usd_cents)).collect();
    (keys, args)
}

const REDIS_UNDO_SCRIPT: &str = r#"
local now = tonumber(ARGV[1])
local windows = {{300, 12}, {3600, 24}, {21600, 28}}
for p = 2, #ARGV do
  local amount = tonumber(ARGV[p])
  for k = 1, 4 do
    local key = KEYS[(p - 2) * 4 + k]
    for w, spec in ipairs(windows) do
      local current = math.floor(now / spec[1])
      redis.call('HINCRBY', key, 'c' .. w .. ':' .. current, -1)
      redis.call('HINCRBY', key, 's' .. w .. ':' .. current, -amount)
    end
  end
end
return {}
"#;

impl Velocity {
    /// Takes back a payment [`record`](Velocity::record)ed in Redis whose ingest then failed.
    /// (In the database the transaction's rollback does it.)
    pub async fn undo(&self, subject: &Subject, amount_usd_cents: i64, now: DateTime<Utc>) {
        self.undo_all(&[Payment { subject: subject.clone(), amount_usd_cents }], now).await
    }

    /// Takes back payments [`record_all`](Velocity::record_all)ed in Redis at `now`.
    pub async fn undo_all(&self, payments: &[Payment], now: DateTime<Utc>) {
        if let (Velocity::Redis(redis), false) = (self, payments.is_empty()) {
            let (key_names, args) = script_arguments(payments, now);
            if redis.run_script(&redis::Script::new(REDIS_UNDO_SCRIPT), &key_names, &args).await.is_none() {
                metrics::counter!("vetted_fraud_velocity_undo_failed_total").increment(payments.len() as u64);
                tracing::warn!(payments = payments.len(), "could not take back the velocity of a failed ingest");
            }
        }
    }
}

/// What `payments` add to each key's current 5-minute bucket, all together.
fn added_to_current_buckets(keys: &[[(&'static str, String); 4]], payments: &[Payment]) -> BTreeMap<String, (i64, i64)> {
    let mut added: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (payment, keys) in payments.iter().zip(keys) {
        for (_, key) in keys {
            let total = added.entry(key.clone()).or_default();
            total.0 += 1;
            total.1 += payment.amount_usd_cents;
        }
    }
    added
}

fn current_bucket(now: DateTime<Utc>, granularity: usize) -> i64 {
    now.timestamp().div_euclid(WINDOWS[granularity].1)
}

const BUCKET_COLUMNS: &str = "key, granularity, bucket, count, sum_usd_cents";
/// The current buckets: the upsert takes their row locks (PostgreSQL) or the write lock
/// (SQLite), so a concurrent payment on the same key waits and then sees these. Rows in a fixed
/// order (sorted keys) so two writers never wait on each other in a cycle.
const ADD_TO_BUCKETS: &str = "ON CONFLICT (key, granularity, bucket) DO UPDATE SET count = velocity_buckets.count + excluded.count, \
     sum_usd_cents = velocity_buckets.sum_usd_cents + excluded.sum_usd_cents";

/// PostgreSQL: the older buckets of the `keys`, summed by key and by the shortest window they lie
/// in (in its `granularity` column: 0 for the hour, 1 the day, 2 the week), for
/// [`totals_before`] to add to that window and the longer ones (each window lies inside the
/// next). Summed in the database, at most three rows a key: sent row by row, a busy key's 80-odd
/// rows (up to ~99) were each encoded, sent and decoded. Each key's rows are read by primary-key
/// range; PostgreSQL is told so with a lateral join (OFFSET 0 keeps it from being flattened):
/// for `key IN (…)` of a batch's hundred keys, without fresh statistics, it chose to scan the
/// whole table. The read sees the buckets as they were before its statement (the current ones
/// come from the upsert's RETURNING). Its values: [`older_totals_values`].
fn postgres_older_totals(keys: usize, others_as_null: &str) -> String {
    let shortest_window = (0..WINDOWS.len())
        .map(|window| {
            let inside = (0..=window).map(|granularity| format!("(v.granularity = {granularity} AND v.bucket >= ? AND v.bucket < ?)")).collect::<Vec<_>>();
            format!("WHEN {} THEN {window}", inside.join(" OR "))
        })
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "SELECT 'older' AS part, {others_as_null}k.key, b.shortest_window AS granularity, NULL::bigint AS bucket, \
         sum(b.count)::bigint AS count, sum(b.sum_usd_cents)::bigint AS sum_usd_cents FROM (VALUES {}) AS k(key) \
         CROSS JOIN LATERAL (SELECT v.count, v.sum_usd_cents, CASE {shortest_window} END AS shortest_window \
           FROM velocity_buckets v WHERE v.key = k.key OFFSET 0) AS b \
         WHERE b.shortest_window IS NOT NULL GROUP BY k.key, b.shortest_window",
        vec!["(?::text)"; keys].join(", ")
    )
}

/// The values of [`postgres_older_totals`]: the keys, then for each window and each granularity
/// whose buckets are no longer than the window's, the bucket numbers inside the window, from
/// `first` to before `below`. 5-minute rows stop before the current bucket: it comes from the
/// upsert (and one ahead would be a clock ahead of ours).
fn older_totals_values(keys: impl IntoIterator<Item = String>, now: DateTime<Utc>) -> Vec<Value> {
    let mut values: Vec<Value> = keys.into_iter().map(Value::from).collect();
    for (window, (_, size, buckets)) in WINDOWS.iter().enumerate() {
        let current = current_bucket(now, window);
        for (granularity, (_, row_size, _)) in WINDOWS.iter().enumerate().take(window + 1) {
            let per_window_bucket = size / row_size;
            let first = (current - buckets + 1) * per_window_bucket;
            let below = if granularity == 0 { current_bucket(now, 0) } else { (current + 1) * per_window_bucket };
            values.extend([first.into(), below.into()]);
        }
    }
    values
}

async fn record_in_database(
    db: &impl BatchConnection,
    keys: &[[(&'static str, String); 4]],
    payments: &[Payment],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, sea_orm::DbErr> {
    let backend = db.backend();
    let added = added_to_current_buckets(keys, payments);
    let rows = added
        .iter()
        .map(|(key, (count, sum))| vec![key.clone().into(), 0i32.into(), current_bucket(now, 0).into(), (*count).into(), (*sum).into()])
        .collect::<Vec<Vec<Value>>>();
    let upsert = insert_sql("velocity_buckets", &["key", "granularity", "bucket", "count", "sum_usd_cents"], rows.len(), ADD_TO_BUCKETS);
    // The upsert and the read in one round trip: on PostgreSQL one statement. On SQLite,
    // statements in one call: the upsert, then one read per key (`key IN (…)` and RETURNING
    // would each build a temporary b-tree, and those showed in the profile), which see the
    // current buckets as the upsert left them. Older buckets change only in a compaction, which
    // commits them all at once, so either read finds them as a separate statement would (at a
    // bucket's end, a writer whose clock is behind may still add to the bucket another has left:
    // a separate read could have missed that as well).
    let distinct: Vec<&String> = added.keys().collect();
    let sql = match backend {
        DbBackend::Postgres => format!(
            "WITH upserted AS ({upsert} RETURNING {BUCKET_COLUMNS}) SELECT 'current' AS part, {BUCKET_COLUMNS} FROM upserted UNION ALL {}",
            postgres_older_totals(distinct.len(), "")
        ),
        _ => {
            let read = format!("SELECT 'any' AS part, {BUCKET_COLUMNS} FROM velocity_buckets WHERE key = ?; ");
            format!("{upsert}; {}", read.repeat(distinct.len()))
        }
    };
    let distinct = distinct.into_iter().cloned();
    let values: Vec<Value> = match backend {
        DbBackend::Postgres => rows.into_iter().flatten().chain(older_totals_values(distinct, now)).collect(),
        _ => rows.into_iter().flatten().chain(distinct.map(Value::from)).collect(),
    };
    let before = totals_before(&db.rows(&sql, values).await?, &added, now)?;
    Ok(counts_in_order(before, keys, payments))
}

/// Per (key, window), the total before the first of the payments that `added` to the current
/// 5-minute buckets, from the rows a velocity statement returned: bucket rows (the upsert's
/// "current", SQLite's read "any") and PostgreSQL's older totals ("older"); other rows are skipped.
fn totals_before(rows: &[Row], added: &BTreeMap<String, (i64, i64)>, now: DateTime<Utc>) -> Result<BTreeMap<(String, i32), (i64, i64)>, sea_orm::DbErr> {
    let mut before: BTreeMap<(String, i32), (i64, i64)> = BTreeMap::new();
    let current_five_minutes = current_bucket(now, 0);
    for row in rows {
        let part = row.string("part")?;
        if part == "older" {
            // Summed by the shortest window they lie in: in that one and the longer ones.
            let (key, shortest_window) = (row.string("key")?, row.i32("granularity")? as usize);
            let (count, sum) = (row.i64("count")?, row.i64("sum_usd_cents")?);
            for window in shortest_window..WINDOWS.len() {
                let total = before.entry((key.clone(), window as i32)).or_default();
                total.0 += count;
                total.1 += sum;
            }
            continue;
        }
        if !matches!(part.as_str(), "current" | "any") {
            continue;
        }
        let (key, granularity) = (row.string("key")?, row.i32("granularity")?);
        let (bucket, count, sum) = (row.i64("bucket")?, row.i64("count")?, row.i64("sum_usd_cents")?);
        let Some((_, row_size, _)) = WINDOWS.get(granularity as usize) else { continue };
        let is_current = granularity == 0 && bucket == current_five_minutes;
        // SQLite's read ("any") sees the current bucket as the upsert left it.
        let (count, sum) = if part == "current" || (part == "any" && is_current) {
            // The current bucket after these payments, less what they added.
            let (added_count, added_sum) = added.get(&key).copied().unwrap_or_default();
            (count - added_count, sum - added_sum)
        } else if granularity == 0 && bucket >= current_five_minutes {
            continue; // the current bucket (counted from the upsert), or a clock ahead of ours
        } else {
            (count, sum)
        };
        // The windows this row lies inside: those whose buckets are as long as its, or longer.
        for (window, (_, size, buckets)) in WINDOWS.iter().enumerate().skip(granularity as usize) {
            let index = bucket.div_euclid(size / row_size);
            let current = current_bucket(now, window);
            if index > current - buckets && index <= current {
                let total = before.entry((key.clone(), window as i32)).or_default();
                total.0 += count;
                total.1 += sum;
            }
        }
    }
    Ok(before)
}

/// Each payment sees the totals plus the payments before it in the list.
fn counts_in_order(mut before: BTreeMap<(String, i32), (i64, i64)>, keys: &[[(&'static str, String); 4]], payments: &[Payment]) -> Vec<i64> {
    let mut numbers = Vec::with_capacity(payments.len() * NUMBERS_PER_PAYMENT);
    for (payment, keys) in payments.iter().zip(keys) {
        for (_, key) in keys {
            for granularity in 0..WINDOWS.len() as i32 {
                let total = before.entry((key.clone(), granularity)).or_default();
                numbers.extend([total.0, total.1]);
                total.0 += 1;
                total.1 += payment.amount_usd_cents;
            }
        }
    }
    numbers
}

/// PostgreSQL with velocity in the database: the payments are counted in the statement that
/// claims them, one round trip instead of two. The statement's CTE `claims` (an insert
/// returning the `merchant_id` and `external_id` it took) comes first; [`ClaimedVelocity::ctes`]
/// follow it, and [`ClaimedVelocity::rows`] are added to its rows with `UNION ALL`. Only the
/// payments whose claim went in are counted: the upsert joins them on `claims`, after the
/// claims are taken (they may have waited on a duplicate) and in the same order as the
/// separate upsert's rows. [`counts_of_claimed`] then reads the counts of those that went in.
pub struct ClaimedVelocity {
    pub ctes: String,
    pub ctes_values: Vec<Value>,
    pub rows: String,
    pub rows_values: Vec<Value>,
}

/// The velocity columns of [`ClaimedVelocity::rows`], as NULLs, for the statement's own rows.
pub const NO_BUCKET_COLUMNS: &str =
    "NULL::text AS key, NULL::integer AS granularity, NULL::bigint AS bucket, NULL::bigint AS count, NULL::bigint AS sum_usd_cents";

/// `candidates`: each payment that may be claimed, by (merchant, external_id), each at most
/// once. `others_as_null`: the statement's own columns as NULLs, each followed by a comma, to
/// pad the velocity rows with (they come between `part` and the velocity columns).
pub fn claimed_velocity(candidates: &[(i32, &str, Payment)], others_as_null: &str, now: DateTime<Utc>) -> ClaimedVelocity {
    let mut ctes_values: Vec<Value> = Vec::with_capacity(candidates.len() * 16 + 3);
    let mut keys = std::collections::BTreeSet::new();
    for (merchant_id, external_id, payment) in candidates {
        for (_, key) in payment.subject.keys() {
            ctes_values.extend([(*merchant_id).into(), (*external_id).to_owned().into(), key.clone().into(), payment.amount_usd_cents.into()]);
            keys.insert(key);
        }
    }
    ctes_values.push(current_bucket(now, 0).into());
    let ctes = format!(
        ", payments (merchant_id, external_id, key, amount) AS (VALUES {}), \
         added AS (SELECT p.key, 0 AS granularity, ?::bigint AS bucket, count(*)::bigint AS count, sum(p.amount)::bigint AS sum_usd_cents \
           FROM payments p JOIN claims c ON c.merchant_id = p.merchant_id AND c.external_id = p.external_id \
           GROUP BY p.key), \
         upserted AS (INSERT INTO velocity_buckets ({BUCKET_COLUMNS}) SELECT {BUCKET_COLUMNS} FROM added ORDER BY key \
           {ADD_TO_BUCKETS} RETURNING {BUCKET_COLUMNS})",
        vec!["(?::integer, ?::text, ?::text, ?::bigint)"; candidates.len() * DIMENSIONS.len()].join(", ")
    );
    let rows = format!(
        " UNION ALL SELECT 'current' AS part, {others_as_null}{BUCKET_COLUMNS} FROM upserted UNION ALL {}",
        postgres_older_totals(keys.len(), others_as_null)
    );
    let rows_values = older_totals_values(keys, now);
    ClaimedVelocity { ctes, ctes_values, rows, rows_values }
}

/// The counts of `claimed` (the payments whose claim went in, in order) from the rows of a
/// [`claimed_velocity`] statement.
pub fn counts_of_claimed(rows: &[Row], claimed: &[Payment], now: DateTime<Utc>) -> Result<Vec<Counts>, sea_orm::DbErr> {
    let keys: Vec<[(&'static str, String); 4]> = claimed.iter().map(|p| p.subject.keys()).collect();
    let added = added_to_current_buckets(&keys, claimed);
    let before = totals_before(rows, &added, now)?;
    Ok(counts_by_payment(&counts_in_order(before, &keys, claimed), &keys))
}

/// Merges the database's velocity rows into coarser buckets once they are out of the finer
/// window, and deletes what left the week; returns how many rows were merged or deleted. No
/// window's count changes: 5-minute buckets are merged into their hour only when the whole hour
/// ended at least an hour before the 1-hour window begins, and hours into their six hours at
/// least six hours before the 24-hour window, and six hours are deleted six hours after they
/// left the week (margins for payments counted with a clock a little behind, and for a batch
/// in flight). One transaction: readers see before or after.
pub async fn compact_database(db: &sea_orm::DatabaseConnection, now: DateTime<Utc>) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::TransactionTrait;
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    let mut changed = 0;
    for finer in 0..WINDOWS.len() - 1 {
        let (_, size, buckets) = WINDOWS[finer];
        let per_coarser = WINDOWS[finer + 1].1 / size;
        let window_start = now.timestamp().div_euclid(size) - buckets + 1;
        // Whole coarser buckets, ending one coarser bucket or more before the window.
        let merge_below = (window_start - per_coarser).div_euclid(per_coarser) * per_coarser;
        let coarser = finer + 1;
        // The coarser buckets of `rows` (rows of the finer granularity, below `merge_below`).
        let merge = |rows: &str| {
            format!(
                "INSERT INTO velocity_buckets ({BUCKET_COLUMNS}) SELECT key, {coarser}, bucket / {per_coarser}, sum(count), sum(sum_usd_cents) \
                 FROM {rows} WHERE true GROUP BY key, bucket / {per_coarser} ORDER BY 1, 3 {ADD_TO_BUCKETS}"
            )
        };
        changed += match backend {
            // One statement: exactly the rows deleted are added (a row a concurrent payment
            // updates is deleted with its update, or comes in again, to be merged next time).
            DbBackend::Postgres => {
                let sql = format!(
                    "WITH moved AS (DELETE FROM velocity_buckets WHERE granularity = {finer} AND bucket < ? RETURNING key, bucket, count, sum_usd_cents), \
                     merged AS ({}) SELECT count(*) AS moved FROM moved",
                    merge("moved")
                );
                let row = txn.query_one_raw(statement(backend, &sql, vec![merge_below.into()])).await?;
                row.map(|row| row.try_get::<i64>("", "moved")).transpose()?.unwrap_or(0) as u64
            }
            // SQLite has one writer: from the insert on, nothing else writes until the commit.
            _ => {
                let rows = format!("(SELECT * FROM velocity_buckets WHERE granularity = {finer} AND bucket < ?)");
                txn.execute_raw(statement(backend, &merge(&rows), vec![merge_below.into()])).await?;
                let delete = format!("DELETE FROM velocity_buckets WHERE granularity = {finer} AND bucket < ?");
                txn.execute_raw(statement(backend, &delete, vec![merge_below.into()])).await?.rows_affected()
            }
        };
    }
    // What left the week, with the merges' margin: one six-hour bucket more is kept, so a
    // batch whose clock read a moment before (in flight, or on an instance a little behind)
    // still finds its whole week when the compaction crosses a six-hour boundary.
    let (_, size, buckets) = WINDOWS[WINDOWS.len() - 1];
    let oldest_kept = now.timestamp().div_euclid(size) - buckets;
    let sql = format!("DELETE FROM velocity_buckets WHERE granularity = {} AND bucket < ?", WINDOWS.len() - 1);
    changed += txn.execute_raw(statement(backend, &sql, vec![oldest_kept.into()])).await?.rows_affected();
    txn.commit().await?;
    Ok(changed)
}
