//! The cache layer: one interface over Redis (shared by every instance) and an in-process moka
//! cache (single instance, no Redis configured). A cache error is counted and treated as a miss,
//! never surfaced: the callers fall back to the database.
//!
//! Besides values it offers short locks with an expiry (single-flight refreshes, per-merchant
//! throttles) that hold across instances when Redis is used.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How long a Redis call may take before it counts as a failure (and so as a miss): a stopped
/// Redis must not slow the dashboard down.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub enum Cache {
    Memory(MemoryCache),
    Redis(RedisCache),
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.backend_name())
    }
}

/// A value with the time it was stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cached<T> {
    pub stored_at: DateTime<Utc>,
    pub value: T,
}

/// Proof of holding a lock; pass it back to [`Cache::unlock`]. Locks also expire on their own, so
/// a crashed holder does not block others for longer than the lock's time to live.
#[derive(Debug)]
pub struct Lock {
    key: String,
    token: u64,
}

impl Cache {
    pub fn memory(max_entries: u64) -> Cache {
        Cache::Memory(MemoryCache::new(max_entries))
    }

    /// `namespace` prefixes every key, so several deployments (or test runs) can share a Redis.
    pub async fn redis(url: &str, namespace: &str) -> Result<Cache, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            // Reconnect quickly when Redis returns; give up on a dead one fast.
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_with_config(client, config).await?;
        Ok(Cache::Redis(RedisCache { manager, namespace: format!("{namespace}:") }))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Cache::Memory(_) => "memory",
            Cache::Redis(_) => "redis",
        }
    }

    /// The value under `key`, or `None` when absent, undecodable or the cache is unreachable.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<Cached<T>> {
        let raw = match self {
            Cache::Memory(memory) => memory.values.get(key).await.map(|v| v.raw.to_string()),
            Cache::Redis(redis) => match redis.get(key).await {
                Ok(raw) => raw,
                Err(()) => {
                    metrics::counter!("vetted_cache_requests_total", "result" => "error").increment(1);
                    return None;
                }
            },
        };
        let found = raw.and_then(|raw| serde_json::from_str::<Cached<T>>(&raw).ok());
        let result = if found.is_some() { "hit" } else { "miss" };
        metrics::counter!("vetted_cache_requests_total", "result" => result).increment(1);
        found
    }

    /// The cached value, or `load`'s result stored for `ttl`. Loader errors are returned and not
    /// cached; cache errors only cost a load.
    pub async fn get_or_load<T, E, Fut>(&self, key: &str, ttl: Duration, load: impl FnOnce() -> Fut) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        if let Some(hit) = self.get::<T>(key).await {
            return Ok(hit.value);
        }
        let value = load().await?;
        self.put(key, &value, ttl).await;
        Ok(value)
    }

    /// Stores `value` for `ttl`. Failures are counted and otherwise ignored.
    pub async fn put<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) {
        let entry = Cached { stored_at: Utc::now(), value };
        let Ok(raw) = serde_json::to_string(&entry) else { return };
        match self {
            Cache::Memory(memory) => memory.insert(key, raw, ttl).await,
            Cache::Redis(redis) => {
                if redis.set(key, raw, ttl).await.is_err() {
                    metrics::counter!("vetted_cache_errors_total", "op" => "put").increment(1);
                }
            }
        }
    }

    /// Stores `value` unless the key already holds one: a reader back-filling from the database
    /// must not overwrite what a writer with newer data stored meanwhile.
    pub async fn put_if_absent<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) {
        let entry = Cached { stored_at: Utc::now(), value };
        let Ok(raw) = serde_json::to_string(&entry) else { return };
        match self {
            Cache::Memory(memory) => memory.insert_if_absent(key, raw, ttl).await,
            Cache::Redis(redis) => {
                if redis.set_if_absent(key, raw, ttl).await.is_err() {
                    metrics::counter!("vetted_cache_errors_total", "op" => "put").increment(1);
                }
            }
        }
    }

    pub async fn remove(&self, key: &str) {
        match self {
            Cache::Memory(memory) => memory.values.invalidate(key).await,
            Cache::Redis(redis) => {
                let mut conn = redis.manager.clone();
                let _ = tokio::time::timeout(REDIS_TIMEOUT, redis::cmd("DEL").arg(redis.key(key)).exec_async(&mut conn)).await;
            }
        }
    }

    /// Takes the lock `key` for at most `ttl` unless someone (any instance, with Redis) holds it.
    /// `None` when it is held — or when Redis cannot be reached, so that an outage throttles
    /// background work instead of letting every instance pile onto PayPal.
    pub async fn try_lock(&self, key: &str, ttl: Duration) -> Option<Lock> {
        let token: u64 = rand::random();
        let acquired = match self {
            Cache::Memory(memory) => memory.try_lock(key, token, ttl),
            Cache::Redis(redis) => redis.try_lock(key, token, ttl).await,
        };
        acquired.then(|| Lock { key: key.to_string(), token })
    }

    /// Releases a lock if it is still ours (it may have expired and been taken by someone else).
    pub async fn unlock(&self, lock: Lock) {
        match self {
            Cache::Memory(memory) => memory.unlock(&lock.key, lock.token),
            Cache::Redis(redis) => redis.unlock(&lock.key, lock.token).await,
        }
    }

    /// The Redis backend, for the few callers that need more than a cache (velocity scripts).
    pub fn redis_backend(&self) -> Option<&RedisCache> {
        match self {
            Cache::Redis(redis) => Some(redis),
            Cache::Memory(_) => None,
        }
    }

    /// Increments a counter that expires `ttl` after its first increment; `None` if unreachable.
    /// Used for rate caps shared by every instance.
    pub async fn increment_window(&self, key: &str, ttl: Duration) -> Option<u64> {
        match self {
            Cache::Memory(memory) => Some(memory.increment_window(key, ttl)),
            Cache::Redis(redis) => redis.increment_window(key, ttl).await,
        }
    }

    /// A window counter's count and the time until it expires, without counting; `Some((0, 0))`
    /// when it does not exist, `None` if unreachable.
    pub async fn peek_window(&self, key: &str) -> Option<(u64, Duration)> {
        match self {
            Cache::Memory(memory) => Some(memory.peek_window(key)),
            Cache::Redis(redis) => redis.peek_window(key).await,
        }
    }

    /// Whether the backend answers (always true in process).
    pub async fn ping(&self) -> bool {
        match self {
            Cache::Memory(_) => true,
            Cache::Redis(redis) => {
                let mut conn = redis.manager.clone();
                matches!(tokio::time::timeout(REDIS_TIMEOUT, redis::cmd("PING").query_async::<String>(&mut conn)).await, Ok(Ok(_)))
            }
        }
    }
}

/// In-process backend. Values are JSON strings, as in Redis, so both behave the same.
#[derive(Clone)]
pub struct MemoryCache {
    values: moka::future::Cache<String, MemoryValue>,
    locks: Arc<Mutex<HashMap<String, (u64, Instant)>>>,
    windows: Arc<Mutex<HashMap<String, (u64, Instant)>>>,
}

/// A value with its own time to live (moka's expiry policy reads it per entry).
#[derive(Clone)]
struct MemoryValue {
    raw: Arc<str>,
    ttl: Duration,
}

impl MemoryCache {
    fn new(max_entries: u64) -> MemoryCache {
        MemoryCache {
            values: moka::future::Cache::builder().max_capacity(max_entries).expire_after(PerEntryExpiry).build(),
            locks: Arc::default(),
            windows: Arc::default(),
        }
    }

    async fn insert(&self, key: &str, raw: String, ttl: Duration) {
        self.values.insert(key.to_string(), MemoryValue { raw: Arc::from(raw), ttl }).await;
    }

    async fn insert_if_absent(&self, key: &str, raw: String, ttl: Duration) {
        // Atomic per key: the value is stored only if the key is absent.
        self.values.entry(key.to_string()).or_insert(MemoryValue { raw: Arc::from(raw), ttl }).await;
    }

    fn try_lock(&self, key: &str, token: u64, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut locks = self.locks.lock().unwrap();
        locks.retain(|_, (_, expires)| *expires > now);
        if locks.contains_key(key) {
            return false;
        }
        locks.insert(key.to_string(), (token, now + ttl));
        true
    }

    fn unlock(&self, key: &str, token: u64) {
        let mut locks = self.locks.lock().unwrap();
        if locks.get(key).is_some_and(|(held, _)| *held == token) {
            locks.remove(key);
        }
    }

    fn increment_window(&self, key: &str, ttl: Duration) -> u64 {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap();
        windows.retain(|_, (_, expires)| *expires > now);
        let entry = windows.entry(key.to_string()).or_insert((0, now + ttl));
        entry.0 += 1;
        entry.0
    }

    fn peek_window(&self, key: &str) -> (u64, Duration) {
        let now = Instant::now();
        match self.windows.lock().unwrap().get(key) {
            Some((count, expires)) if *expires > now => (*count, *expires - now),
            _ => (0, Duration::ZERO),
        }
    }
}

struct PerEntryExpiry;

impl moka::Expiry<String, MemoryValue> for PerEntryExpiry {
    fn expire_after_create(&self, _key: &String, value: &MemoryValue, _created_at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(&self, _key: &String, value: &MemoryValue, _updated_at: Instant, _duration_until_expiry: Option<Duration>) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Redis backend: every call is bounded by [`REDIS_TIMEOUT`]; the connection manager reconnects
/// on its own when Redis comes back.
#[derive(Clone)]
pub struct RedisCache {
    manager: ConnectionManager,
    namespace: String,
}

impl RedisCache {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.namespace)
    }

    /// Runs a Lua script atomically over `keys` (namespaced here); None when Redis does not
    /// answer in time.
    pub async fn run_script(&self, script: &redis::Script, keys: &[String], args: &[i64]) -> Option<Vec<i64>> {
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(self.key(key));
        }
        for arg in args {
            invocation.arg(*arg);
        }
        let mut conn = self.manager.clone();
        match tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async::<Vec<i64>>(&mut conn)).await {
            Ok(Ok(values)) => Some(values),
            _ => None,
        }
    }

    /// The raw value under `key` (namespaced here); Err when Redis does not answer in time.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<String>, ()> {
        let key = self.key(key);
        let mut conn = self.manager.clone();
        match tokio::time::timeout(REDIS_TIMEOUT, redis::cmd("GET").arg(key).query_async::<Option<String>>(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            _ => Err(()),
        }
    }

    /// Deletes `key` (namespaced here); Err when Redis does not answer in time.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), ()> {
        let key = self.key(key);
        let mut conn = self.manager.clone();
        match tokio::time::timeout(REDIS_TIMEOUT, redis::cmd("DEL").arg(key).exec_async(&mut conn)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    pub(crate) async fn set(&self, key: &str, raw: String, ttl: Duration) -> Result<(), ()> {
        let key = self.key(key);
        let mut conn = self.manager.clone();
        let command = redis::cmd("SET").arg(key).arg(raw).arg("PX").arg(ttl.as_millis().max(1) as u64).to_owned();
        match tokio::time::timeout(REDIS_TIMEOUT, command.exec_async(&mut conn)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    async fn set_if_absent(&self, key: &str, raw: String, ttl: Duration) -> Result<(), ()> {
        let key = self.key(key);
        let mut conn = self.manager.clone();
        let command = redis::cmd("SET").arg(key).arg(raw).arg("NX").arg("PX").arg(ttl.as_millis().max(1) as u64).to_owned();
        match tokio::time::timeout(REDIS_TIMEOUT, command.query_async::<Option<String>>(&mut conn)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(()),
        }
    }

    async fn try_lock(&self, key: &str, token: u64, ttl: Duration) -> bool {
        let key = self.key(key);
        let mut conn = self.manager.clone();
        let command = redis::cmd("SET").arg(key).arg(token).arg("NX").arg("PX").arg(ttl.as_millis().max(1) as u64).to_owned();
        matches!(tokio::time::timeout(REDIS_TIMEOUT, command.query_async::<Option<String>>(&mut conn)).await, Ok(Ok(Some(_))))
    }

    async fn unlock(&self, key: &str, token: u64) {
        // Delete only if the lock still holds our token: it may have expired and been re-taken.
        let script = redis::Script::new("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end");
        let mut conn = self.manager.clone();
        let mut invocation = script.key(self.key(key));
        invocation.arg(token.to_string());
        let _ = tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async::<i64>(&mut conn)).await;
    }

    async fn increment_window(&self, key: &str, ttl: Duration) -> Option<u64> {
        let key = self.key(key);
        let mut conn = self.manager.clone();
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("INCR").arg(&key).cmd("PEXPIRE").arg(&key).arg(ttl.as_millis().max(1) as u64).arg("NX").ignore();
        match tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<(u64,)>(&mut conn)).await {
            Ok(Ok((count,))) => Some(count),
            _ => None,
        }
    }

    async fn peek_window(&self, key: &str) -> Option<(u64, Duration)> {
        let key = self.key(key);
        let mut conn = self.manager.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        match tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<(Option<u64>, i64)>(&mut conn)).await {
            // PTTL is -2 for a missing key, -1 for one without expiry (never written so here).
            Ok(Ok((count, ttl_ms))) => Some((count.unwrap_or(0), Duration::from_millis(ttl_ms.max(0) as u64))),
            _ => None,
        }
    }
}
