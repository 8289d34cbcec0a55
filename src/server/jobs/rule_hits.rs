//! Rolls stored decisions up into each rule's daily hits (`fraud::rule_stats`), every 30 s on
//! every instance: the roll-up's place is a locked row, so instances take turns and each
//! decision is counted once.
use std::time::Duration;

use crate::server::db::Db;
use crate::server::fraud::rule_stats;

pub const EVERY: Duration = Duration::from_secs(30);

pub fn spawn(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = rule_stats::roll_up(db.primary(), chrono::Utc::now() - rule_stats::SETTLE).await {
                tracing::warn!(kind = crate::server::db::error_kind(&e), "rolling up rule hits failed");
            }
        }
    })
}
