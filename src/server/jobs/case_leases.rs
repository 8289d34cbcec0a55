//! Returns lapsed claims to the queue (`review::cases::expire_leases`), every 15 s on every
//! instance: the statement is one conditional update, so instances running it at once share the
//! work without a lock, and each lapsed claim gets exactly one `lease_expired` event.
use std::time::Duration;

use crate::server::db::Db;

pub const EVERY: Duration = Duration::from_secs(15);

pub fn spawn(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match crate::server::review::cases::expire_leases(db.primary(), chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "returned lapsed case claims to the queue"),
                Err(e) => tracing::warn!(kind = crate::server::db::error_kind(&e), "expiring case claims failed"),
            }
        }
    })
}
