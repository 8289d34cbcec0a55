//! Delivers outbound webhook events (`server::outbound::delivery`) on every instance: every
//! 100 ms, new events are dispatched to their endpoints, and each endpoint with events due gets
//! a task of its own (so a slow endpoint delays nobody else), which takes the endpoint's lease.
use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;

use crate::server::db::Db;
use crate::server::outbound::delivery;

pub const EVERY: Duration = Duration::from_millis(100);

/// This process's name in endpoint leases.
fn owner() -> String {
    format!("{}-{:08x}", std::process::id(), rand::random::<u32>())
}

pub fn spawn(db: Db, allow_http_loopback: bool) -> tokio::task::JoinHandle<()> {
    let owner = owner();
    tokio::spawn(async move {
        let mut running: HashMap<i32, tokio::task::JoinHandle<()>> = HashMap::new();
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let primary = db.primary().clone();
            loop {
                match delivery::dispatch(&primary, Utc::now()).await {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(kind = crate::server::db::error_kind(&e), "dispatching webhook events failed");
                        break;
                    }
                }
            }
            running.retain(|_, task| !task.is_finished());
            let due = match delivery::due_endpoints(&primary, Utc::now()).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(kind = crate::server::db::error_kind(&e), "reading the webhook endpoints failed");
                    continue;
                }
            };
            for id in due {
                if running.contains_key(&id) {
                    continue;
                }
                let (db, owner) = (primary.clone(), owner.clone());
                running.insert(
                    id,
                    tokio::spawn(async move {
                        if let Err(e) = delivery::deliver_endpoint(&db, id, &owner, allow_http_loopback, Utc::now).await {
                            tracing::warn!(endpoint = id, kind = crate::server::db::error_kind(&e), "delivering webhook events failed");
                        }
                    }),
                );
            }
        }
    })
}
