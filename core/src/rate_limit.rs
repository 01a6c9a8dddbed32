//! One keyed rate limit (GCRA, from `governor`), the building block of every limiter of the
//! host: logins, private messages, posts, comments and reactions. Counters live in this
//! process's memory; the key set is pruned so a flood of distinct keys cannot exhaust it.

use std::hash::Hash;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Above this many keys, keys whose limits have fully recovered are forgotten.
const MAX_KEYS: usize = 100_000;

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
        RateLimit {
            limiter: RateLimiter::keyed(Quota::per_minute(at_least_one(n))),
        }
    }

    /// `n` events an hour per key.
    pub fn per_hour(n: u32) -> Self {
        RateLimit {
            limiter: RateLimiter::keyed(Quota::per_hour(at_least_one(n))),
        }
    }

    /// `n` events a day per key (one more every `24 h / n`, in bursts of up to `n`).
    pub fn per_day(n: u32) -> Self {
        let n = at_least_one(n);
        let every = std::time::Duration::from_secs(24 * 3600 / u64::from(n.get()));
        let quota = Quota::with_period(every)
            .unwrap_or_else(|| Quota::per_hour(NonZeroU32::MIN))
            .allow_burst(n);
        RateLimit {
            limiter: RateLimiter::keyed(quota),
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
