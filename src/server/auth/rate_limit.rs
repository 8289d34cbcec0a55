//! Login throttling by failed attempts: per (account, client) and per client. Only failures
//! count, and an account's budget is per client, so nobody can lock a known account (the admin)
//! out by failing on it from elsewhere. The counters live in the cache layer — Redis when it is
//! configured, so every instance shares them — and fall back to this process when Redis does
//! not answer: a Redis outage weakens the sharing, never the limit.
use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::server::cache::Cache;

/// Failures counted over this window, from the first one.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Wrong passwords for one account from one client, per window.
pub const FAILURES_PER_ACCOUNT_AND_CLIENT: u64 = 5;
/// Wrong passwords from one client over all accounts, per window.
pub const FAILURES_PER_CLIENT: u64 = 30;
/// Keys of the local fallback (one per failing client or account and client).
const LOCAL_ENTRIES: u64 = 100_000;

#[derive(Clone)]
pub struct LoginLimiter {
    shared: Cache,
    /// Used when `shared` (Redis) does not answer in time.
    local: Cache,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimiter")
    }
}

impl LoginLimiter {
    /// Counts in `shared` (the app's cache layer; its Redis namespace prefixes the keys).
    pub fn new(shared: Cache) -> LoginLimiter {
        LoginLimiter { shared, local: Cache::memory(LOCAL_ENTRIES) }
    }

    /// Err(seconds to wait) when this client has used up either failure budget.
    pub async fn check(&self, client: Option<IpAddr>, email: &str) -> Result<(), u64> {
        for (key, limit) in keys(client, email) {
            let (count, remaining) = self.peek(&key).await;
            if count >= limit {
                return Err(remaining.as_secs().max(1));
            }
        }
        Ok(())
    }

    /// Counts one wrong email or password.
    pub async fn record_failure(&self, client: Option<IpAddr>, email: &str) {
        for (key, _) in keys(client, email) {
            if self.shared.increment_window(&key, FAILURE_WINDOW).await.is_none() {
                self.local.increment_window(&key, FAILURE_WINDOW).await;
            }
        }
    }

    /// The larger of the shared and the local count: failures counted locally while Redis was
    /// away still count after it returns.
    async fn peek(&self, key: &str) -> (u64, Duration) {
        let local = self.local.peek_window(key).await.unwrap_or((0, Duration::ZERO));
        match self.shared.peek_window(key).await {
            Some(shared) if shared.0 >= local.0 => shared,
            _ => local,
        }
    }
}

/// The two counters an attempt is charged to. The email is hashed: no addresses in Redis.
fn keys(client: Option<IpAddr>, email: &str) -> [(String, u64); 2] {
    let client = client.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    let account = hex::encode(&Sha256::digest(email.trim().to_ascii_lowercase().as_bytes())[..16]);
    [(format!("login-failures:account:{account}:{client}"), FAILURES_PER_ACCOUNT_AND_CLIENT), (format!("login-failures:client:{client}"), FAILURES_PER_CLIENT)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[tokio::test]
    async fn failures_from_one_client_do_not_lock_the_account_for_others() {
        let limiter = LoginLimiter::new(Cache::memory(100));
        for _ in 0..FAILURES_PER_ACCOUNT_AND_CLIENT {
            assert!(limiter.check(ip(1), "admin@example.com").await.is_ok());
            limiter.record_failure(ip(1), "admin@example.com").await;
        }
        let wait = limiter.check(ip(1), "ADMIN@example.com").await.unwrap_err();
        assert!(wait >= 1 && wait <= FAILURE_WINDOW.as_secs(), "{wait}");
        assert!(limiter.check(ip(2), "admin@example.com").await.is_ok(), "another client still signs in");
        assert!(limiter.check(ip(1), "other@example.com").await.is_ok(), "the client's other accounts are not blocked yet");
    }

    #[tokio::test]
    async fn a_client_is_throttled_across_accounts() {
        let limiter = LoginLimiter::new(Cache::memory(100));
        for n in 0..FAILURES_PER_CLIENT {
            limiter.record_failure(ip(3), &format!("user{n}@example.com")).await;
        }
        assert!(limiter.check(ip(3), "fresh@example.com").await.is_err());
        assert!(limiter.check(ip(4), "fresh@example.com").await.is_ok());
    }

    #[tokio::test]
    async fn checking_alone_never_counts() {
        let limiter = LoginLimiter::new(Cache::memory(100));
        for _ in 0..10 * FAILURES_PER_CLIENT {
            assert!(limiter.check(ip(5), "admin@example.com").await.is_ok());
        }
    }
}
