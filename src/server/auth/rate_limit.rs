//! Login throttling: per client IP and per email, so neither one address trying many accounts nor
//! many addresses trying one account gets far.
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

#[derive(Clone)]
pub struct LoginLimiter {
    by_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    by_email: Arc<DefaultKeyedRateLimiter<String>>,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimiter")
    }
}

impl LoginLimiter {
    /// `per_email` attempts per email and `per_ip` per address, each refilling over a minute.
    pub fn new(per_email: u32, per_ip: u32) -> LoginLimiter {
        let quota = |n: u32| {
            let n = NonZeroU32::new(n.max(1)).expect("at least one");
            Quota::with_period(Duration::from_secs(60) / n.get()).expect("non-zero period").allow_burst(n)
        };
        LoginLimiter { by_ip: Arc::new(DefaultKeyedRateLimiter::keyed(quota(per_ip))), by_email: Arc::new(DefaultKeyedRateLimiter::keyed(quota(per_email))) }
    }

    /// Counts one attempt; Err(seconds to wait) when either budget is spent.
    pub fn check(&self, ip: Option<IpAddr>, email: &str) -> Result<(), u64> {
        let clock = DefaultClock::default();
        let wait = |not_until: governor::NotUntil<_>| not_until.wait_time_from(clock.now()).as_secs().max(1);
        if let Some(ip) = ip {
            self.by_ip.check_key(&ip).map_err(wait)?;
        }
        self.by_email.check_key(&email.to_ascii_lowercase()).map_err(wait)?;
        Ok(())
    }

    /// Forgets keys whose budget has refilled, so memory stays bounded.
    pub fn prune(&self) {
        self.by_ip.retain_recent();
        self.by_email.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_throttled_after_its_budget_whatever_the_address() {
        let limiter = LoginLimiter::new(3, 100);
        for i in 0..3 {
            let ip = IpAddr::from([10, 0, 0, i]);
            assert!(limiter.check(Some(ip), "a@example.com").is_ok());
        }
        let wait = limiter.check(Some(IpAddr::from([10, 0, 0, 9])), "A@example.com").unwrap_err();
        assert!(wait >= 1);
        assert!(limiter.check(Some(IpAddr::from([10, 0, 0, 9])), "b@example.com").is_ok());
    }

    #[test]
    fn an_address_is_throttled_across_emails() {
        let limiter = LoginLimiter::new(100, 2);
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        assert!(limiter.check(ip, "a@example.com").is_ok());
        assert!(limiter.check(ip, "b@example.com").is_ok());
        assert!(limiter.check(ip, "c@example.com").is_err());
        assert!(limiter.check(Some(IpAddr::from([192, 0, 2, 2])), "c@example.com").is_ok());
    }
}
