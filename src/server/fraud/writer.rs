//! Group commit: ingests that arrive together are decided and stored in one database transaction.
//!
//! Each ingest is checked on its own request (API key, fields, merchant, product) and then handed
//! to a writer task. A writer takes every ingest that is waiting, up to [`MAX_BATCH`], and stores
//! them together: claims, velocity, decisions, transactions, cases and responses, many rows per
//! statement and one commit (one fsync) for all. The claims also draw the ids of the rows to
//! come, so transactions, decisions, cases and responses go in with one call. On PostgreSQL,
//! with velocity in the database, a batch is three round trips: the claims with the velocity
//! ([`velocity::claimed_velocity`]), the rest, and the commit, which also begins the next
//! batch's transaction ([`crate::server::db::pg_writer`]). On a SQLite file the writer is a
//! thread of its own that calls SQLite directly ([`crate::server::db::sqlite_writer`]): no
//! statement is handed to another thread. Under light load a batch is one ingest and nothing
//! waits for company; under heavy load batches grow while statements and commits per ingest
//! shrink — which is what lets one instance keep up with thousands per second.
//!
//! Exactly once, as before: the claims go in first, `ON CONFLICT DO NOTHING` against the unique
//! (merchant, external_id) and (API key, Idempotency-Key); an ingest whose claim is refused (or
//! that repeats one earlier in its own batch) is answered, after the commit, with the stored
//! response of the one that won. Nothing is acknowledged before its batch has committed.
//! If a batch fails, its ingests are retried one by one, so a bad one fails only itself.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait, Value};
use tokio::sync::{mpsc, oneshot, watch};

use super::decision::{self, DecisionResponse, IngestError, Pending, Stored, StoredIds};
use super::rules::{Action, Evaluation, Facts};
use super::velocity::{self, Counts, Payment, Velocity, VelocityError};
use crate::app::dto::{TransactionStatus, WebhookEventKind};
use crate::server::db::batch::{BatchConnection, Row};
use crate::server::db::pg_writer::{PgTransaction, PgWriterConnection};
use crate::server::db::sqlite_writer::{SqliteTransaction, SqliteWriterConnection};
use crate::server::db::{insert_sql, Db};

/// The most ingests one database transaction stores (and the parameters stay far below
/// SQLite's 32,766 and PostgreSQL's 65,535 per statement).
pub const MAX_BATCH: usize = 256;
/// Ingests waiting beyond this make their senders wait: back-pressure instead of memory.
const QUEUE: usize = 4 * MAX_BATCH;

struct Job {
    pending: Pending,
    reply: oneshot::Sender<Result<Stored, IngestError>>,
}

/// The connection a writer stores its batches on.
#[derive(Clone)]
pub enum WriterConnection {
    /// A connection of the pool for each batch: an in-memory SQLite database, or a fallback.
    Pool(DatabaseConnection),
    /// A writer's own PostgreSQL connection, kept inside an open transaction.
    Postgres(Arc<PgWriterConnection>),
    /// SQLite's own writer connection, on a SQLite file.
    Sqlite(Arc<SqliteWriterConnection>),
}

impl WriterConnection {
    /// A connection for one ingest writer of `db`.
    pub fn open(db: &Db) -> Result<WriterConnection, DbErr> {
        Ok(match db.sqlite_file() {
            Some(path) => WriterConnection::Sqlite(Arc::new(SqliteWriterConnection::open(path)?)),
            None if db.writer().get_database_backend() == DbBackend::Postgres => {
                WriterConnection::Postgres(Arc::new(PgWriterConnection::new(db.writer().get_postgres_connection_pool().clone())))
            }
            None => WriterConnection::Pool(db.writer().clone()),
        })
    }

    async fn begin(&self) -> Result<WriterTransaction<'_>, DbErr> {
        Ok(match self {
            WriterConnection::Pool(db) => WriterTransaction::Pool(db.begin().await?),
            WriterConnection::Postgres(db) => WriterTransaction::Postgres(db.begin().await?),
            WriterConnection::Sqlite(db) => WriterTransaction::Sqlite(db.begin()?),
        })
    }
}

/// A batch's database transaction; rolled back if dropped before its commit.
enum WriterTransaction<'a> {
    Pool(DatabaseTransaction),
    Postgres(PgTransaction<'a>),
    Sqlite(SqliteTransaction<'a>),
}

impl WriterTransaction<'_> {
    async fn commit(self) -> Result<(), DbErr> {
        match self {
            WriterTransaction::Pool(txn) => txn.commit().await,
            WriterTransaction::Postgres(txn) => txn.commit().await,
            WriterTransaction::Sqlite(txn) => txn.commit(),
        }
    }

    async fn rollback(self) -> Result<(), DbErr> {
        match self {
            WriterTransaction::Pool(txn) => txn.rollback().await,
            WriterTransaction::Postgres(txn) => txn.rollback().await,
            WriterTransaction::Sqlite(txn) => txn.rollback(),
        }
    }
}

impl BatchConnection for WriterTransaction<'_> {
    fn backend(&self) -> DbBackend {
        match self {
            WriterTransaction::Pool(txn) => txn.get_database_backend(),
            WriterTransaction::Postgres(_) => DbBackend::Postgres,
            WriterTransaction::Sqlite(_) => DbBackend::Sqlite,
        }
    }

    async fn rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>, DbErr> {
        match self {
            WriterTransaction::Pool(txn) => txn.rows(sql, values).await,
            WriterTransaction::Postgres(txn) => txn.rows(sql, values).await,
            WriterTransaction::Sqlite(txn) => txn.rows(sql, values).await,
        }
    }

    async fn run(&self, sql: &str, values: Vec<Value>) -> Result<(), DbErr> {
        match self {
            WriterTransaction::Pool(txn) => txn.run(sql, values).await,
            WriterTransaction::Postgres(txn) => txn.run(sql, values).await,
            WriterTransaction::Sqlite(txn) => txn.run(sql, values).await,
        }
    }
}

pub struct IngestWriter {
    /// Its writer connections ([`Db::writer`]), SQLite's file, and the shared pool (SQLite's
    /// checkpoints).
    db: Db,
    velocity: Velocity,
    /// One queue per writer task.
    queues: OnceLock<Vec<mpsc::Sender<Job>>>,
    /// How many checkpoints the SQLite checkpointer has finished.
    checkpoints: watch::Sender<u64>,
}

impl IngestWriter {
    pub fn new(db: &crate::server::db::Db, velocity: Velocity) -> IngestWriter {
        IngestWriter { db: db.clone(), velocity, queues: OnceLock::new(), checkpoints: watch::Sender::new(0) }
    }

    /// Counts SQLite's finished checkpoints (see [`IngestWriter::spawn_writers`]).
    pub fn checkpoints(&self) -> watch::Receiver<u64> {
        self.checkpoints.subscribe()
    }

    /// Decides and stores one ingest together with whatever else is waiting.
    pub async fn store(&self, pending: Pending) -> Result<Stored, IngestError> {
        let queues = self.queues.get_or_init(|| self.spawn_writers());
        // A merchant's ingests all go to one writer: writers then never wait for each other's
        // locks on that merchant's velocity rows, which every one of its ingests updates.
        let queue = &queues[pending.input.merchant_id.unsigned_abs() as usize % queues.len()];
        let (reply, answer) = oneshot::channel();
        match queue.send(Job { pending, reply }).await {
            Ok(()) => answer.await.unwrap_or_else(|_| Err(IngestError::Database(sea_orm::DbErr::Custom("the ingest writer stopped".into())))),
            // The writers' runtime is gone (a test's, say), or SQLite's writer thread could
            // not start: store it here, alone, through the pool.
            Err(mpsc::error::SendError(job)) => {
                store_batch(&WriterConnection::Pool(self.db.writer().clone()), &self.velocity, &[&job.pending]).await.map(|mut stored| stored.remove(0))
            }
        }
    }

    /// One writer per connection of the writer's own pool ([`crate::server::db::writer_connections`]),
    /// each with its own connection: a thread on a SQLite file, a task otherwise.
    ///
    /// On SQLite a checkpointer beside the writer copies the write-ahead log back into the
    /// database file after each batch, on a connection of the shared pool. Left to SQLite, the commit
    /// that takes the log past 1,000 pages does that copy (and its two fsyncs) while its batch
    /// waits: 7–12 ms, measured with bench-fraud. SQLite lets a checkpoint run while the writer
    /// appends; it stays a few pages behind, and the writer starts the log over whenever it
    /// finds it all copied. SQLite's own checkpoint is still there should the log grow anyway.
    fn spawn_writers(&self) -> Vec<mpsc::Sender<Job>> {
        let backend = self.db.writer().get_database_backend();
        let checkpoint_wanted = (backend == DbBackend::Sqlite).then(|| self.spawn_checkpointer());
        (0..crate::server::db::writer_connections(backend))
            .map(|_| {
                let connection = match WriterConnection::open(&self.db) {
                    Ok(connection) => connection,
                    Err(e) => {
                        tracing::warn!(kind = crate::server::db::error_kind(&e), "cannot open the SQLite writer's connection; writing through the pool");
                        WriterConnection::Pool(self.db.writer().clone())
                    }
                };
                let (velocity, checkpoint_wanted) = (self.velocity.clone(), checkpoint_wanted.clone());
                match connection {
                    WriterConnection::Sqlite(_) => spawn_writer_thread(connection, velocity, checkpoint_wanted),
                    _ => spawn_writer_task(connection, velocity, checkpoint_wanted),
                }
            })
            .collect()
    }

    /// The SQLite checkpointer: one checkpoint after another while batches are committed, none
    /// when there are none; it stops with the writers.
    fn spawn_checkpointer(&self) -> mpsc::Sender<()> {
        let (wanted, mut asked) = mpsc::channel(1);
        let (db, done) = (self.db.primary().clone(), self.checkpoints.clone());
        tokio::spawn(async move {
            while asked.recv().await.is_some() {
                crate::server::db::sqlite_checkpoint(&db).await;
                done.send_modify(|n| *n += 1);
            }
        });
        wanted
    }
}

/// A writer task: it stores whatever is waiting, batch after batch, and ends with its queue.
fn spawn_writer_task(connection: WriterConnection, velocity: Velocity, checkpoint_wanted: Option<mpsc::Sender<()>>) -> mpsc::Sender<Job> {
    let (sender, mut receiver) = mpsc::channel(QUEUE);
    tokio::spawn(async move {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        // Whatever is waiting, or the next to arrive; none when every sender is gone.
        while receiver.recv_many(&mut jobs, MAX_BATCH).await > 0 {
            store_jobs(&connection, &velocity, std::mem::take(&mut jobs)).await;
            if let Some(wanted) = &checkpoint_wanted {
                // Full: a checkpoint is asked for already, and it will copy this batch too.
                let _ = wanted.try_send(());
            }
        }
    });
    sender
}

/// SQLite's writer: a thread that runs each batch start to finish on its own connection. It
/// waits for work, and for Redis (velocity, when configured), through the runtime that started
/// it, and ends when the writer is dropped. Should that runtime be gone first (a test's, say),
/// it goes on: waiting on its queue and SQLite need no runtime (Redis does, and fails then).
fn spawn_writer_thread(connection: WriterConnection, velocity: Velocity, checkpoint_wanted: Option<mpsc::Sender<()>>) -> mpsc::Sender<Job> {
    let (sender, mut receiver) = mpsc::channel(QUEUE);
    let runtime = tokio::runtime::Handle::current();
    let started = std::thread::Builder::new().name("ingest-writer".into()).spawn(move || {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        // Whatever is waiting, or the next to arrive; none when every sender is gone.
        while runtime.block_on(receiver.recv_many(&mut jobs, MAX_BATCH)) > 0 {
            runtime.block_on(store_jobs(&connection, &velocity, std::mem::take(&mut jobs)));
            if let Some(wanted) = &checkpoint_wanted {
                let _ = wanted.try_send(());
            }
        }
    });
    if let Err(e) = started {
        // Its receiver is gone with it: `store` then stores each ingest through the pool.
        tracing::error!(error = %e, "cannot start the ingest writer's thread");
    }
    sender
}

async fn store_jobs(db: &WriterConnection, velocity: &Velocity, jobs: Vec<Job>) {
    metrics::histogram!("vetted_fraud_ingest_batch_size").record(jobs.len() as f64);
    let pending: Vec<&Pending> = jobs.iter().map(|job| &job.pending).collect();
    let answers = store_together(db, velocity, &pending).await;
    for (job, answer) in jobs.into_iter().zip(answers) {
        let _ = job.reply.send(answer);
    }
}

/// Decides and stores `pending` in one database transaction; if that fails, one by one, so that
/// a bad ingest fails only itself. One answer per ingest, in order.
pub async fn store_together(db: &WriterConnection, velocity: &Velocity, pending: &[&Pending]) -> Vec<Result<Stored, IngestError>> {
    match store_batch(db, velocity, pending).await {
        Ok(stored) => stored.into_iter().map(Ok).collect(),
        Err(err) if pending.len() == 1 => vec![Err(err)],
        Err(err) => {
            if let IngestError::Database(e) = &err {
                tracing::warn!(kind = crate::server::db::error_kind(e), ingests = pending.len(), "an ingest batch failed; storing its ingests one by one");
            }
            let mut answers = Vec::with_capacity(pending.len());
            for one in pending {
                answers.push(store_batch(db, velocity, &[one]).await.map(|mut stored| stored.remove(0)));
            }
            answers
        }
    }
}

/// Decides and stores `pending` in one database transaction; one answer per ingest, in order.
async fn store_batch(db: &WriterConnection, velocity: &Velocity, pending: &[&Pending]) -> Result<Vec<Stored>, IngestError> {
    let txn = db.begin().await?;
    let mut decided = match decide_in(&txn, velocity, pending).await {
        Ok(Some(decided)) => decided,
        Ok(None) => {
            txn.rollback().await?;
            return Ok(pending.iter().map(|_| Stored::Duplicate).collect());
        }
        Err(err) => {
            // Now rather than when dropped: PostgreSQL's writer then keeps its connection.
            let _ = txn.rollback().await;
            return Err(err);
        }
    };
    // The commit waits for the disk to flush: its stalls hold every ingest in the batch.
    let committing = Instant::now();
    let committed = txn.commit().await;
    metrics::histogram!("vetted_fraud_ingest_commit_seconds").record(committing.elapsed().as_secs_f64());
    if let Err(err) = committed {
        decided.take_back_velocity(velocity).await;
        return Err(err.into());
    }
    // Answers in the order asked; the ones not decided here are duplicates.
    Ok(pending
        .iter()
        .map(|p| match decided.responses.remove(&(p.input.merchant_id, p.input.external_id.clone())) {
            Some(response) => Stored::Decided { response },
            None => Stored::Duplicate,
        })
        .collect())
}

/// A batch's ingests decided and inserted, not yet committed.
struct BatchDecided {
    /// Keyed by (merchant, external_id), unique among the accepted.
    responses: HashMap<(i32, String), DecisionResponse>,
    /// Counted in Redis, outside the database transaction: taken back if the batch fails, so
    /// the clients' retries are not counted twice.
    counted_in_redis: Option<(Vec<Payment>, chrono::DateTime<Utc>)>,
}

impl BatchDecided {
    async fn take_back_velocity(&self, velocity: &Velocity) {
        if let Some((payments, now)) = &self.counted_in_redis {
            velocity.undo_all(payments, *now).await;
        }
    }
}

/// Claims, counts, decides and inserts `pending` in `txn`; None when every one was claimed
/// before. The caller commits or rolls back.
async fn decide_in(txn: &WriterTransaction<'_>, velocity: &Velocity, pending: &[&Pending]) -> Result<Option<BatchDecided>, IngestError> {
    // 1. Claims. An ingest that repeats one earlier in the batch is answered from it afterwards.
    let (mut external_ids, mut idempotency_keys) = (HashSet::new(), HashSet::new());
    let firsts: Vec<&Pending> = pending
        .iter()
        .copied()
        .filter(|p| {
            let new_external_id = external_ids.insert((p.input.merchant_id, p.input.external_id.as_str()));
            let new_key = p.caller.idempotency_key.as_deref().is_none_or(|key| idempotency_keys.insert((p.caller.api_key_id, key)));
            new_external_id && new_key
        })
        .collect();
    let claimed_at = Utc::now();
    // Rows in a fixed order, so two writers claiming overlapping ingests never wait on each
    // other in a cycle (PostgreSQL takes the unique-index locks row by row).
    let mut in_claim_order = firsts.clone();
    in_claim_order.sort_by(|a, b| (a.input.merchant_id, &a.input.external_id).cmp(&(b.input.merchant_id, &b.input.external_id)));
    let claim_columns = ["merchant_id", "external_id", "api_key_id", "idempotency_key", "request_hash", "created_at"];
    let (before, returning) = match txn.backend() {
        DbBackend::Sqlite => (SQLITE_ID_BASES, "ON CONFLICT DO NOTHING RETURNING id, merchant_id, external_id"),
        _ => ("", CLAIM_RETURNING_WITH_IDS),
    };
    let mut claim_values: Vec<Value> = in_claim_order
        .iter()
        .flat_map(|p| {
            [
                p.input.merchant_id.into(),
                p.input.external_id.clone().into(),
                p.caller.api_key_id.into(),
                p.caller.idempotency_key.clone().into(),
                p.hash.clone().into(),
                claimed_at.into(),
            ]
        })
        .collect();
    let insert_claims = insert_sql("ingest_requests", &claim_columns, in_claim_order.len(), returning);
    // PostgreSQL with velocity in the database counts the payments in the claims' statement.
    let with_velocity = txn.backend() == DbBackend::Postgres && matches!(velocity, Velocity::Database);
    let (claims, counted_with_claims) = if with_velocity {
        let now = Utc::now();
        let candidates: Vec<(i32, &str, Payment)> =
            firsts.iter().map(|p| (p.input.merchant_id, p.input.external_id.as_str(), decision::payment(&p.input))).collect();
        let claimed = velocity::claimed_velocity(&candidates, CLAIM_COLUMNS_AS_NULL, now);
        let sql = format!(
            "WITH claims AS ({insert_claims}){} SELECT 'claim' AS part, id, merchant_id, external_id, transaction_id, decision_id, case_id, {} FROM claims{}",
            claimed.ctes,
            velocity::NO_BUCKET_COLUMNS,
            claimed.rows
        );
        claim_values.extend(claimed.ctes_values.into_iter().chain(claimed.rows_values));
        let (claims, buckets): (Vec<Row>, Vec<Row>) =
            txn.rows(&sql, claim_values).await?.into_iter().partition(|row| row.string("part").is_ok_and(|part| part == "claim"));
        (claims, Some((buckets, now)))
    } else {
        (txn.rows(&format!("{before}{insert_claims}"), claim_values).await?, None)
    };
    let claims = claims_by_external_id(txn.backend(), claims)?;
    // The ingests that are ours to decide, with their claim; in arrival order.
    let accepted: Vec<(&Pending, Claim)> =
        firsts.iter().filter_map(|p| claims.get(&(p.input.merchant_id, p.input.external_id.clone())).map(|claim| (*p, *claim))).collect();
    if accepted.is_empty() {
        return Ok(None);
    }

    // 2. Velocity, counted once the claims are ours (they may have waited on a duplicate), so
    // buckets follow the order in which payments are counted.
    let payments: Vec<Payment> = accepted.iter().map(|(p, _)| decision::payment(&p.input)).collect();
    let (recorded, now) = match counted_with_claims {
        Some((buckets, now)) => (velocity::counts_of_claimed(&buckets, &payments, now).map_err(VelocityError::Database), now),
        None => {
            let now = Utc::now();
            (velocity.record_all(txn, &payments, now).await, now)
        }
    };
    let counted_in_redis = (recorded.is_ok() && matches!(velocity, Velocity::Redis(_))).then_some((payments, now));
    let counts = match recorded {
        Ok(counts) => counts.into_iter().map(Some).collect(),
        Err(VelocityError::Database(e)) => return Err(IngestError::Database(e)),
        Err(VelocityError::Unavailable) => {
            metrics::counter!("vetted_fraud_velocity_unavailable_total").increment(accepted.len() as u64);
            vec![None; accepted.len()]
        }
    };
    let decided = BatchDecided { responses: HashMap::new(), counted_in_redis };
    match decide_and_insert(txn, &accepted, counts, now).await {
        Ok(responses) => Ok(Some(BatchDecided { responses, ..decided })),
        Err(err) => {
            decided.take_back_velocity(velocity).await;
            Err(err)
        }
    }
}

/// The claims also draw the ids of each ingest's transaction, decision and case, so that those
/// rows then go in together with the responses in one call (see [`inserts_before`]). A case id
/// is drawn for every claim and used only by reviews: case numbers have gaps, as sequences have
/// anyway.
///
/// PostgreSQL draws them from the tables' sequences, named as PostgreSQL names a serial
/// column's: by name, the sequence is found once, when the statement is prepared, where
/// `pg_get_serial_sequence` searched the catalog for it on every row.
const CLAIM_RETURNING_WITH_IDS: &str = "ON CONFLICT DO NOTHING RETURNING id, merchant_id, external_id, \
     nextval('transactions_id_seq') AS transaction_id, nextval('decisions_id_seq') AS decision_id, nextval('cases_id_seq') AS case_id";
/// The claims' columns as NULLs, for the velocity rows of the same statement
/// ([`velocity::claimed_velocity`]).
const CLAIM_COLUMNS_AS_NULL: &str = "NULL::bigint AS id, NULL::integer AS merchant_id, NULL::text AS external_id, \
     NULL::bigint AS transaction_id, NULL::bigint AS decision_id, NULL::bigint AS case_id, ";
/// SQLite has no sequences, but a batch's write transaction holds the database's only write
/// lock (the writer begins it `IMMEDIATE`; through the pool, from its first insert on): no
/// other connection adds rows until the commit, so the next ids are the largest so far plus
/// one, two, … (the claim's place in the returned rows). Ids are never reused:
/// AUTOINCREMENT's high-water mark counts too. Read once, in the claims' call, as the first row.
const SQLITE_ID_BASES: &str = "SELECT \
     (SELECT MAX(n) FROM (SELECT COALESCE(MAX(id), 0) AS n FROM transactions UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'transactions')) AS transaction_base, \
     (SELECT MAX(n) FROM (SELECT COALESCE(MAX(id), 0) AS n FROM decisions UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'decisions')) AS decision_base, \
     (SELECT MAX(n) FROM (SELECT COALESCE(MAX(id), 0) AS n FROM cases UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'cases')) AS case_base; ";

/// An ingest's idempotency record, and the ids drawn for its rows (see [`CLAIM_RETURNING_WITH_IDS`]).
#[derive(Clone, Copy)]
struct Claim {
    id: i64,
    /// Transaction, decision and case id.
    drawn: (i64, i64, i64),
}

fn claims_by_external_id(backend: DbBackend, rows: Vec<Row>) -> Result<HashMap<(i32, String), Claim>, DbErr> {
    let mut rows = rows.into_iter();
    let bases = match backend {
        DbBackend::Sqlite => {
            let first = rows.next().ok_or_else(|| DbErr::RecordNotFound("the id bases".into()))?;
            Some((first.i64("transaction_base")?, first.i64("decision_base")?, first.i64("case_base")?))
        }
        _ => None,
    };
    rows.enumerate()
        .map(|(at, row)| {
            let drawn = if let Some((transaction, decision, case)) = bases {
                let next = 1 + at as i64;
                (transaction + next, decision + next, case + next)
            } else {
                (row.i64("transaction_id")?, row.i64("decision_id")?, row.i64("case_id")?)
            };
            Ok(((row.i32("merchant_id")?, row.string("external_id")?), Claim { id: row.i64("id")?, drawn }))
        })
        .collect()
}

/// An accepted ingest with its decision.
struct Decided<'a> {
    pending: &'a Pending,
    claim: Claim,
    facts: Facts,
    evaluation: Evaluation,
}

const TRANSACTION_COLUMNS: &[&str] = &[
    "merchant_id",
    "product_id",
    "amount_minor",
    "currency",
    "buyer_email",
    "buyer_ip",
    "card_fingerprint",
    "card_country",
    "status",
    "created_at",
    "external_id",
    "card_bin",
    "ip_country",
];
const OUTBOX_COLUMNS: &[&str] = &["kind", "subject", "payload", "created_at"];
const DECISION_COLUMNS: &[&str] = &["transaction_id", "ruleset_version", "outcome", "score", "results", "latency_micros", "created_at", "outcomes"];
const CASE_COLUMNS: &[&str] =
    &["transaction_id", "merchant_id", "decision_id", "status", "created_at", "updated_at", "score", "amount_usd_cents", "priority", "matched_rules"];

fn transaction_row(d: &Decided, now: chrono::DateTime<Utc>) -> Vec<Value> {
    let input = &d.pending.input;
    let status = match d.evaluation.action {
        Action::Allow => TransactionStatus::Succeeded,
        Action::Review => TransactionStatus::InReview,
        Action::Block => TransactionStatus::Blocked,
    };
    vec![
        input.merchant_id.into(),
        input.product_id.into(),
        input.amount.into(),
        input.currency.clone().into(),
        input.buyer_email.clone().into(),
        input.buyer_ip.clone().into(),
        input.card_fingerprint.clone().into(),
        input.card_country.clone().into(),
        status.as_str().into(),
        now.into(),
        Some(input.external_id.clone()).into(),
        input.card_bin.clone().into(),
        input.ip_country.clone().into(),
    ]
}

fn decision_row(d: &Decided, transaction_id: i64, now: chrono::DateTime<Utc>) -> Vec<Value> {
    vec![
        transaction_id.into(),
        d.pending.loaded.ruleset_version.into(),
        d.evaluation.action.as_str().into(),
        d.evaluation.score.into(),
        // What the engine saw and what each rule said: the case view and backtests read it.
        decision::decision_record(&d.evaluation.results, &d.facts).into(),
        (d.pending.started.elapsed().as_micros() as i64).into(),
        now.into(),
        Some(decision::outcome_codes(&d.evaluation.results)).into(),
    ]
}

/// A case carries what the queue sorts and filters on, so the queue never reads its decision.
fn case_row(d: &Decided, ids: &StoredIds, now: chrono::DateTime<Utc>) -> Vec<Value> {
    use crate::server::fraud::rules::{RuleMode, RuleOutcome};
    let amount_usd_cents = (d.facts.transaction.amount_usd * 100.0).round() as i64;
    let score = d.evaluation.score;
    let matched_rules =
        d.evaluation.results.iter().filter(|r| r.mode == RuleMode::Live && r.outcome == RuleOutcome::Matched).map(|r| &*r.rule).collect::<Vec<_>>().join("\n");
    vec![
        ids.transaction_id.into(),
        d.pending.input.merchant_id.into(),
        ids.decision_id.into(),
        "open".into(),
        now.into(),
        now.into(),
        score.into(),
        amount_usd_cents.into(),
        crate::server::review::priority::sort_key(score, amount_usd_cents, now, false).into(),
        crate::server::review::cases::matched_rules_column(&matched_rules).into(),
    ]
}

/// `id` first, then `columns`: for rows whose ids were drawn already.
fn with_id<'c>(columns: &[&'c str]) -> Vec<&'c str> {
    std::iter::once("id").chain(columns.iter().copied()).collect()
}

/// Evaluates the rules for each accepted ingest and inserts its transaction, decision, case
/// and response. Answers keyed by (merchant, external_id), unique among the accepted.
async fn decide_and_insert(
    txn: &impl BatchConnection,
    accepted: &[(&Pending, Claim)],
    counts: Vec<Option<Counts>>,
    now: chrono::DateTime<Utc>,
) -> Result<HashMap<(i32, String), DecisionResponse>, IngestError> {
    let decided: Vec<Decided> = accepted
        .iter()
        .zip(counts)
        .map(|((pending, claim), counts)| {
            let facts = decision::facts(&pending.input, pending.merchant.clone(), counts);
            let evaluation = pending.loaded.ruleset.evaluate(&facts, pending.loaded.lists.clone());
            Decided { pending, claim: *claim, facts, evaluation }
        })
        .collect();
    let ids: Vec<StoredIds> = decided
        .iter()
        .map(|d| {
            let (transaction_id, decision_id, case_id) = d.claim.drawn;
            StoredIds { transaction_id, decision_id, case_id: (d.evaluation.action == Action::Review).then_some(case_id) }
        })
        .collect();
    // The responses, stored with the claims so that a retry gets the same answer, and the
    // `decision.created` event of each review and block.
    let responses: Vec<(DecisionResponse, String)> = decided
        .iter()
        .zip(&ids)
        .map(|(d, ids)| {
            let response = decision::response(&d.pending.input, &d.pending.loaded, &d.evaluation, *ids, now);
            let json = serde_json::to_string(&response).expect("response serialises");
            (response, json)
        })
        .collect();
    // The inserts ride along with the responses' update: one call.
    let (inserts, mut values) = inserts_before(txn.backend(), &decided, &ids, &responses, now);

    let mut answers = HashMap::with_capacity(decided.len());
    values.reserve(decided.len() * 3);
    for ((d, ids), (response, json)) in decided.iter().zip(ids).zip(responses) {
        values.extend([ids.transaction_id.into(), json.into(), d.claim.id.into()]);
        answers.insert((d.pending.input.merchant_id, d.pending.input.external_id.clone()), response);
    }
    // PostgreSQL: one statement from a list of values. SQLite: a statement per row, the same
    // prepared one each time (a list of values would be copied into a temporary b-tree first).
    let update = match txn.backend() {
        DbBackend::Postgres => format!(
            "UPDATE ingest_requests SET transaction_id = v.column1, response = v.column2 FROM (VALUES {}) AS v WHERE ingest_requests.id = v.column3",
            vec!["(?, ?, ?)"; decided.len()].join(", ")
        ),
        _ => "UPDATE ingest_requests SET transaction_id = ?, response = ? WHERE id = ?; ".repeat(decided.len()),
    };
    txn.run(&format!("{inserts}{update}"), values).await?;
    Ok(answers)
}

/// The inserts of the rows whose ids were drawn with the claims, to put before the statement
/// that follows, and their values: data-modifying CTEs on PostgreSQL (`WITH …, … `), statements
/// of their own on SQLite (`…; …; `), which runs them one after the other in the same call.
fn inserts_before(
    backend: DbBackend,
    decided: &[Decided],
    ids: &[StoredIds],
    responses: &[(DecisionResponse, String)],
    now: chrono::DateTime<Utc>,
) -> (String, Vec<Value>) {
    let (mut inserts, mut values) = (Vec::with_capacity(4), Vec::new());
    let mut add = |table: &str, columns: &[&str], rows: Vec<Vec<Value>>| {
        if !rows.is_empty() {
            // Rows whose ids were drawn with the claims have `id` first; the outbox's are its own.
            let columns = if table == "outbox_events" { columns.to_vec() } else { with_id(columns) };
            let insert = insert_sql(table, &columns, rows.len(), "");
            inserts.push(match backend {
                DbBackend::Postgres => format!("insert_{table} AS ({insert})"),
                _ => insert,
            });
            values.extend(rows.into_iter().flatten());
        }
    };
    let with = |id: i64, row: Vec<Value>| std::iter::once(id.into()).chain(row).collect::<Vec<Value>>();
    add("transactions", TRANSACTION_COLUMNS, decided.iter().zip(ids).map(|(d, ids)| with(ids.transaction_id, transaction_row(d, now))).collect());
    add("decisions", DECISION_COLUMNS, decided.iter().zip(ids).map(|(d, ids)| with(ids.decision_id, decision_row(d, ids.transaction_id, now))).collect());
    add("cases", CASE_COLUMNS, decided.iter().zip(ids).filter_map(|(d, ids)| ids.case_id.map(|case_id| with(case_id, case_row(d, ids, now)))).collect());
    // The platform hears of every payment held or blocked, in the same transaction.
    let events = decided
        .iter()
        .zip(ids)
        .zip(responses)
        .filter(|((d, _), _)| d.evaluation.action != Action::Allow)
        .map(|((_, ids), (_, json))| {
            vec![WebhookEventKind::DecisionCreated.as_str().into(), format!("transaction:{}", ids.transaction_id).into(), json.clone().into(), now.into()]
        })
        .collect();
    add("outbox_events", OUTBOX_COLUMNS, events);
    let prefix = match backend {
        DbBackend::Postgres => format!("WITH {} ", inserts.join(", ")),
        _ => inserts.iter().map(|insert| format!("{insert}; ")).collect(),
    };
    (prefix, values)
}
