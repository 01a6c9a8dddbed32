//! Rate limits on login and password-reset attempts (GCRA, per e-mail and per client IP).

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Limits guessing: 5 attempts a minute per address, 20 per IP.
pub struct LoginLimiter {
    by_email: DefaultKeyedRateLimiter<String>,
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        LoginLimiter {
            by_email: RateLimiter::keyed(per_minute(5)),
            by_ip: RateLimiter::keyed(per_minute(20)),
        }
    }
}

impl LoginLimiter {
    /// Records an attempt; false when over the limit.
    pub fn allow(&self, email: &str, ip: Option<IpAddr>) -> bool {
        let email_ok = self.by_email.check_key(&email.to_ascii_lowercase()).is_ok();
        let ip_ok = ip.is_none_or(|ip| self.by_ip.check_key(&ip).is_ok());
        // Keep memory bounded under a flood of distinct keys.
        if self.by_email.len() > 100_000 {
            self.by_email.retain_recent();
        }
        if self.by_ip.len() > 100_000 {
            self.by_ip.retain_recent();
        }
        email_ok && ip_ok
    }
}
