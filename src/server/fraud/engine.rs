//! What each instance holds to decide quickly: the published ruleset, compiled, and the lists, in
//! memory. The generation number in the database ([`super::generation`]) moves with every change
//! to either; each instance checks it every second (and at once after its own changes) and
//! reloads when it moved.
//!
//! A published ruleset that no longer compiles (the rule schema changed under it, or its stored
//! row cannot be read) is never replaced by nothing: the instance keeps deciding with the last
//! ruleset it compiled — the empty one if it never compiled any — and reports the failure, once
//! in the log per failing version, as the gauge `vetted_fraud_ruleset_compile_failed{version}`
//! on `/metrics`, and as `"fraud_rules": "degraded"` on `/readyz`.
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;

use super::decision::Loaded;
use super::rules::Ruleset;
use super::velocity::Velocity;
use super::writer::IngestWriter;
use super::{generation, list_store, versions};
use crate::server::db::Db;

/// How often an instance checks whether rules or lists changed elsewhere.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// How often the database's velocity buckets are compacted (see
/// [`super::velocity::compact_database`]).
pub const COMPACT_EVERY: Duration = Duration::from_secs(600);

/// Whether this instance decides with the published ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesHealth {
    /// The published ruleset (or, with none published, the empty one) is in force.
    Ok,
    /// The published version `failing_version` does not compile; the instance decides with
    /// version `deciding_with` (0: no rules) instead.
    Degraded { failing_version: i32, deciding_with: i32, problems: Vec<String> },
}

pub struct FraudEngine {
    db: Db,
    pub velocity: Velocity,
    /// Decides and stores ingests, those that arrive together in one database transaction.
    pub writer: IngestWriter,
    current: RwLock<Option<Arc<Loaded>>>,
    health: RwLock<RulesHealth>,
    reload: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for FraudEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FraudEngine").field("velocity", &self.velocity).finish_non_exhaustive()
    }
}

impl FraudEngine {
    /// Velocity goes to Redis when the cache is Redis, to the database otherwise.
    pub fn new(db: Db, cache: &crate::server::cache::Cache) -> FraudEngine {
        let velocity = match cache.redis_backend() {
            Some(redis) => Velocity::Redis(redis.clone()),
            None => Velocity::Database,
        };
        let writer = IngestWriter::new(&db, velocity.clone());
        FraudEngine { db, velocity, writer, current: RwLock::new(None), health: RwLock::new(RulesHealth::Ok), reload: tokio::sync::Mutex::new(()) }
    }

    /// The current rules and lists, loading them on first use.
    pub async fn current(&self) -> Result<Arc<Loaded>, sea_orm::DbErr> {
        if let Some(loaded) = self.current.read().expect("engine lock").clone() {
            return Ok(loaded);
        }
        self.refresh().await?;
        Ok(self.current.read().expect("engine lock").clone().expect("loaded by refresh"))
    }

    /// Whether the published ruleset is the one in force (for `/readyz`).
    pub fn rules_health(&self) -> RulesHealth {
        self.health.read().expect("engine lock").clone()
    }

    /// Reloads when the generation moved (or nothing is loaded yet). True when it reloaded.
    pub async fn refresh(&self) -> Result<bool, sea_orm::DbErr> {
        let _one_at_a_time = self.reload.lock().await;
        let generation = generation::current(self.db.primary()).await?;
        let previous = self.current.read().expect("engine lock").clone();
        if previous.as_ref().map(|l| l.generation) == Some(generation) {
            return Ok(false);
        }
        let lists = list_store::load(self.db.primary(), Utc::now()).await?;
        let published = versions::published(self.db.primary()).await?;
        let (ruleset_version, ruleset) = match published {
            None => {
                self.set_health(RulesHealth::Ok);
                (0, Arc::new(empty_ruleset()))
            }
            Some((version, stored)) => match stored.and_then(|draft| versions::compile(&draft)) {
                Ok(ruleset) => {
                    self.set_health(RulesHealth::Ok);
                    (version, Arc::new(ruleset))
                }
                Err(problems) => {
                    // Checked when saved and when published: the schema changed under it, or its
                    // row was changed. The last ruleset that compiled goes on deciding.
                    let (deciding_with, ruleset) = match &previous {
                        Some(loaded) => (loaded.ruleset_version, loaded.ruleset.clone()),
                        None => (0, Arc::new(empty_ruleset())),
                    };
                    let problems = problems.iter().map(versions::describe_problem).collect();
                    self.set_health(RulesHealth::Degraded { failing_version: version, deciding_with, problems });
                    (deciding_with, ruleset)
                }
            },
        };
        tracing::info!(generation, ruleset_version, rules = ruleset.rules.len(), "fraud rules and lists loaded");
        *self.current.write().expect("engine lock") = Some(Arc::new(Loaded { generation, ruleset_version, ruleset, lists: Arc::new(lists) }));
        Ok(true)
    }

    /// Records the rules' health; a new failure is logged (once per failing version) and shown
    /// on `/metrics`, a recovery clears the gauge.
    fn set_health(&self, health: RulesHealth) {
        let mut current = self.health.write().expect("engine lock");
        let failing = |h: &RulesHealth| match h {
            RulesHealth::Degraded { failing_version, .. } => Some(*failing_version),
            RulesHealth::Ok => None,
        };
        let (before, after) = (failing(&current), failing(&health));
        if before != after {
            if let Some(version) = before {
                metrics::gauge!("vetted_fraud_ruleset_compile_failed", "version" => version.to_string()).set(0.0);
            }
            if let RulesHealth::Degraded { failing_version, deciding_with, problems } = &health {
                metrics::gauge!("vetted_fraud_ruleset_compile_failed", "version" => failing_version.to_string()).set(1.0);
                tracing::error!(
                    version = failing_version,
                    deciding_with,
                    problems = %problems.join("; "),
                    "the published ruleset does not compile; deciding with the last ruleset that did"
                );
            } else if let Some(version) = before {
                tracing::info!(version, "the published ruleset compiles again");
            }
        }
        *current = health;
    }
}

fn empty_ruleset() -> Ruleset {
    Ruleset::new(Vec::new(), f64::INFINITY, f64::INFINITY)
}

/// Keeps this instance's rules and lists current (every [`REFRESH_EVERY`]) and, with velocity in
/// the database, starts the compaction of its buckets as a task of its own (every
/// [`COMPACT_EVERY`]), so that a long compaction never holds a reload back.
pub fn spawn_refresher(engine: Arc<FraudEngine>) -> tokio::task::JoinHandle<()> {
    if matches!(engine.velocity, Velocity::Database) {
        spawn_compactor(engine.db.clone());
    }
    tokio::spawn(async move {
        loop {
            if let Err(e) = engine.refresh().await {
                tracing::warn!(kind = crate::server::db::error_kind(&e), "checking for rule and list changes failed");
            }
            tokio::time::sleep(REFRESH_EVERY).await;
        }
    })
}

/// Every [`COMPACT_EVERY`], from now on: merges velocity buckets that left their window and
/// drops what left the week (database velocity only).
fn spawn_compactor(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(COMPACT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = super::velocity::compact_database(db.primary(), Utc::now()).await {
                tracing::warn!(kind = crate::server::db::error_kind(&e), "compacting velocity buckets failed");
            }
        }
    })
}
