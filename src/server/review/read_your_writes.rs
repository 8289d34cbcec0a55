//! Read your writes under a lagging replica: the queue's lists read the replica
//! (`DATABASE_READ_URL`), but a reviewer who has just claimed, decided or released a case must see
//! it on their next page. Each write marks the writer in the cache for [`WINDOW`]; while marked,
//! their reads go to the primary. Everyone else keeps reading the replica.
//!
//! The mark lives in the cache layer: with Redis every instance sees it; with the in-process
//! cache only the instance that took the write (run several instances with Redis). A cache that
//! fails loses the mark, and the read falls back to the replica: a page that may lag, never an
//! error.
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::server::AppState;

/// How long a writer's reads go to the primary: well above the replica lag a healthy setup has.
pub const WINDOW: Duration = Duration::from_secs(30);

fn key(user_id: i32) -> String {
    format!("review:wrote:{user_id}")
}

/// After a write by `user_id`: their reads go to the primary for [`WINDOW`].
pub async fn wrote(state: &AppState, user_id: i32) {
    if state.db.has_replica() {
        state.cache.put(&key(user_id), &true, WINDOW).await;
    }
}

/// The connection `user_id`'s queue reads use: the primary just after they wrote, else the
/// replica (or the primary when there is none).
pub async fn reads(state: &AppState, user_id: i32) -> &DatabaseConnection {
    if state.db.has_replica() && state.cache.get::<bool>(&key(user_id)).await.is_some() {
        return state.db.primary();
    }
    state.db.read()
}
