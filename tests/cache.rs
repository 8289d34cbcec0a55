//! The cache layer's contract, the same for both backends: in-process (moka) and Redis
//! (127.0.0.1:6379, under a namespace of its own).
mod common;

use std::time::{Duration, Instant};

use vetted::server::cache::Cache;

async fn backends() -> Vec<Cache> {
    let namespace = format!("vetted_cache_test_{}_{}", std::process::id(), rand_suffix());
    vec![Cache::memory(1_000), Cache::redis(common::REDIS_TEST_URL, &namespace).await.expect("Redis on 127.0.0.1:6379")]
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// Polls until `key` is gone (expiry is the server's or moka's clock, not ours).
async fn gone_within(cache: &Cache, key: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cache.get::<String>(key).await.is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn values_round_trip_with_their_store_time_and_expire() {
    for cache in backends().await {
        let name = cache.backend_name();
        assert!(cache.get::<String>("k").await.is_none(), "{name}");
        let before = chrono::Utc::now();
        cache.put("k", &"v".to_string(), Duration::from_secs(60)).await;
        let hit = cache.get::<String>("k").await.unwrap_or_else(|| panic!("{name}: miss after put"));
        assert_eq!(hit.value, "v");
        assert!(hit.stored_at >= before - chrono::Duration::seconds(1));
        // A value of another type is a miss, not an error.
        assert!(cache.get::<Vec<u32>>("k").await.is_none(), "{name}");

        cache.put("short", &"v".to_string(), Duration::from_millis(50)).await;
        assert!(gone_within(&cache, "short", Duration::from_secs(3)).await, "{name}: entry outlived its ttl");
    }
}

#[tokio::test]
async fn put_if_absent_never_overwrites() {
    for cache in backends().await {
        cache.put("k", &"newer".to_string(), Duration::from_secs(60)).await;
        cache.put_if_absent("k", &"older".to_string(), Duration::from_secs(60)).await;
        assert_eq!(cache.get::<String>("k").await.unwrap().value, "newer", "{}", cache.backend_name());
        cache.put_if_absent("fresh", &"first".to_string(), Duration::from_secs(60)).await;
        assert_eq!(cache.get::<String>("fresh").await.unwrap().value, "first");
    }
}

#[tokio::test]
async fn locks_are_exclusive_released_only_by_their_holder_and_expire() {
    for cache in backends().await {
        let name = cache.backend_name();
        let held = cache.try_lock("lock", Duration::from_secs(60)).await.expect("free lock");
        assert!(cache.try_lock("lock", Duration::from_secs(60)).await.is_none(), "{name}: taken twice");
        cache.unlock(held).await;
        let again = cache.try_lock("lock", Duration::from_secs(60)).await;
        assert!(again.is_some(), "{name}: not released");

        // An expired lock can be taken by someone else; the old holder's unlock leaves it alone.
        let short = cache.try_lock("short-lock", Duration::from_millis(50)).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        let taken = loop {
            if let Some(lock) = cache.try_lock("short-lock", Duration::from_secs(60)).await {
                break lock;
            }
            assert!(Instant::now() < deadline, "{name}: lock never expired");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        cache.unlock(short).await;
        assert!(cache.try_lock("short-lock", Duration::from_secs(60)).await.is_none(), "{name}: stale unlock freed it");
        cache.unlock(taken).await;
    }
}

#[tokio::test]
async fn concurrent_lockers_get_exactly_one_lock() {
    for cache in backends().await {
        let attempts = (0..50).map(|_| cache.try_lock("race", Duration::from_secs(60)));
        let winners = futures::future::join_all(attempts).await.into_iter().flatten().count();
        assert_eq!(winners, 1, "{}", cache.backend_name());
    }
}

#[tokio::test]
async fn windows_count_up_and_reset_after_their_ttl() {
    for cache in backends().await {
        let name = cache.backend_name();
        for expected in 1..=3 {
            assert_eq!(cache.increment_window("w", Duration::from_secs(60)).await, Some(expected), "{name}");
        }
        cache.increment_window("w-short", Duration::from_millis(50)).await;
        let deadline = Instant::now() + Duration::from_secs(3);
        while cache.increment_window("w-short", Duration::from_millis(50)).await != Some(1) {
            assert!(Instant::now() < deadline, "{name}: window never reset");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_redis_that_is_unreachable_at_start_up_is_reported() {
    // Nothing listens on port 1. (A Redis lost later is a miss: tests/paypal_panel.rs.)
    assert!(Cache::redis("redis://127.0.0.1:1", "x").await.is_err());
}
