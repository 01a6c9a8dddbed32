//! One keyed rate limit (GCRA, from `governor`), the building block of every limiter of the
//! host: logins, private messages, posts, comments and reactions. Counters live in this
//! process's memory; the key set is pruned so a flood of distinct keys cannot exhaust it.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Above this many keys, keys whose limits have fully recovered are forgotten.
const MAX_KEYS: usize = 100_000;

/// [`Config::rate_limit_slowdown`](crate::config::Config::rate_limit_slowdown), for the limits
/// built after [`set_slowdown`]: 1 in service. A process-wide setting, since limits are built
/// by each feature's `Default`; a process runs one host (tests run many, all with the same).
static SLOWDOWN: AtomicU32 = AtomicU32::new(1);

/// Sets how many times slower limits built from now on refill (tests only; see
/// [`Config::rate_limit_slowdown`](crate::config::Config::rate_limit_slowdown)).
pub fn set_slowdown(factor: u32) {
    SLOWDOWN.store(factor.max(1), Ordering::Relaxed);
}

/// A quota of `n` events in bursts of `n`, one back every `period / n` (times the slowdown).
fn quota(n: NonZeroU32, period: Duration) -> Quota {
    let every = period * SLOWDOWN.load(Ordering::Relaxed) / n.get();
    Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_hour(NonZeroU32::MIN))
        .allow_burst(n)
}

/// At most `n` events per period and key, in bursts of up to `n`.
pub struct RateLimit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl<K: Hash + Eq + Clone> RateLimit<K> {
    /// `n` events a minute per key.
    pub fn per_minute(n: u32) -> Self {
        Self::per(n, Duration::from_secs(60))
    }

    /// `n` events an hour per key.
    pub fn per_hour(n: u32) -> Self {
        Self::per(n, Duration::from_secs(3600))
    }

    /// `n` events a day per key (one more every `24 h / n`, in bursts of up to `n`).
    pub fn per_day(n: u32) -> Self {
        Self::per(n, Duration::from_secs(24 * 3600))
    }

    fn per(n: u32, period: Duration) -> Self {
        RateLimit {
            limiter: RateLimiter::keyed(quota(at_least_one(n), period)),
        }
    }

    /// Records an event for `key`; false when it is over the limit (and then not counted).
    pub fn check(&self, key: &K) -> bool {
        let ok = self.limiter.check_key(key).is_ok();
        if self.limiter.len() > MAX_KEYS {
            self.limiter.retain_recent();
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimit;

    #[test]
    fn a_burst_then_refusals_per_key() {
        let limit = RateLimit::per_hour(2);
        assert!(limit.check(&"a"));
        assert!(limit.check(&"a"));
        assert!(!limit.check(&"a"));
        assert!(limit.check(&"b"), "keys are independent");
    }
}
