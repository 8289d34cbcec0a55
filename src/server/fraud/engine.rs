//! What each instance holds to decide quickly: the published ruleset, compiled, and the lists, in
//! memory. A generation number in the database moves with every change to either; each instance
//! checks it every second (and at once after its own changes) and reloads when it moved.
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

use super::lists::Lists;
use super::rules::Ruleset;
use super::velocity::Velocity;
use super::writer::IngestWriter;
use super::{list_store, versions};
use crate::server::cache::Cache;
use crate::server::db::Db;

/// How often an instance checks whether rules or lists changed elsewhere.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// One consistent view of the rules and lists.
pub struct Loaded {
    pub generation: i64,
    /// 0 when no ruleset was ever published (everything is allowed).
    pub ruleset_version: i32,
    pub ruleset: Ruleset,
    pub lists: Arc<Lists>,
}

pub struct FraudEngine {
    db: Db,
    pub velocity: Velocity,
    /// Decides and stores ingests, those that arrive together in one database transaction.
    pub writer: IngestWriter,
    current: RwLock<Option<Arc<Loaded>>>,
    reload: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for FraudEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FraudEngine").field("velocity", &self.velocity).finish_non_exhaustive()
    }
}

impl FraudEngine {
    /// Velocity goes to Redis when the cache is Redis, to the database otherwise.
    pub fn new(db: Db, cache: &Cache) -> FraudEngine {
        let velocity = match cache.redis_backend() {
            Some(redis) => Velocity::Redis(redis.clone()),
            None => Velocity::Database,
        };
        let writer = IngestWriter::new(&db, velocity.clone());
        FraudEngine { db, velocity, writer, current: RwLock::new(None), reload: tokio::sync::Mutex::new(()) }
    }

    /// The current rules and lists, loading them on first use.
    pub async fn current(&self) -> Result<Arc<Loaded>, sea_orm::DbErr> {
        if let Some(loaded) = self.current.read().expect("engine lock").clone() {
            return Ok(loaded);
        }
        self.refresh().await?;
        Ok(self.current.read().expect("engine lock").clone().expect("loaded by refresh"))
    }

    /// Reloads when the generation moved (or nothing is loaded yet). True when it reloaded.
    pub async fn refresh(&self) -> Result<bool, sea_orm::DbErr> {
        let _one_at_a_time = self.reload.lock().await;
        let generation = generation(self.db.primary()).await?;
        let loaded_generation = self.current.read().expect("engine lock").as_ref().map(|l| l.generation);
        if loaded_generation == Some(generation) {
            return Ok(false);
        }
        let loaded = load(self.db.primary(), generation).await?;
        tracing::info!(generation, ruleset_version = loaded.ruleset_version, rules = loaded.ruleset.rules.len(), "fraud rules and lists loaded");
        *self.current.write().expect("engine lock") = Some(Arc::new(loaded));
        Ok(true)
    }
}

async fn load(db: &impl ConnectionTrait, generation: i64) -> Result<Loaded, sea_orm::DbErr> {
    let lists = list_store::load(db, Utc::now()).await?;
    let (ruleset_version, ruleset) = match versions::published(db).await? {
        Some((version, draft)) => match versions::compile(&draft) {
            Ok(ruleset) => (version, ruleset),
            Err(problems) => {
                // Checked when saved and when published; this means the schema changed under it.
                tracing::error!(version, problems = problems.len(), "the published ruleset no longer compiles; deciding with no rules");
                (version, Ruleset::new(Vec::new(), f64::INFINITY, f64::INFINITY))
            }
        },
        None => (0, Ruleset::new(Vec::new(), f64::INFINITY, f64::INFINITY)),
    };
    Ok(Loaded { generation, ruleset_version, ruleset, lists: Arc::new(lists) })
}

#[derive(FromQueryResult)]
struct Generation {
    generation: i64,
}

async fn generation(db: &impl ConnectionTrait) -> Result<i64, sea_orm::DbErr> {
    let row =
        Generation::find_by_statement(Statement::from_string(db.get_database_backend(), "SELECT generation FROM fraud_config WHERE id = 1")).one(db).await?;
    Ok(row.map_or(0, |r| r.generation))
}

/// Marks rules or lists as changed; call inside the transaction that changes them.
pub async fn bump_generation(db: &impl ConnectionTrait) -> Result<(), sea_orm::DbErr> {
    use sea_orm::sea_query::{Alias, Query};
    let stmt = Query::update()
        .table(Alias::new("fraud_config"))
        .value(Alias::new("generation"), Expr::col(Alias::new("generation")).add(1))
        .and_where(Expr::col(Alias::new("id")).eq(1))
        .to_owned();
    db.execute(&stmt).await?;
    Ok(())
}

/// Keeps this instance's rules and lists current, and compacts the database's velocity buckets.
pub fn spawn_refresher(engine: Arc<FraudEngine>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks: u64 = 0;
        loop {
            if let Err(e) = engine.refresh().await {
                tracing::warn!(kind = crate::server::db::error_kind(&e), "checking for rule and list changes failed");
            }
            // Every 10 minutes: merge buckets out of their window, drop the week's leavers
            // (database velocity only).
            if matches!(engine.velocity, Velocity::Database) && ticks % 600 == 0 {
                if let Err(e) = super::velocity::compact_database(engine.db.primary(), Utc::now()).await {
                    tracing::warn!(kind = crate::server::db::error_kind(&e), "compacting velocity buckets failed");
                }
            }
            ticks += 1;
            tokio::time::sleep(REFRESH_EVERY).await;
        }
    })
}
