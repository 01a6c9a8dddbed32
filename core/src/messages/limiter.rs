//! Rate limits against spam (GCRA, per account): new threads per hour, messages per minute.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::types::AccountId;

/// New threads an account may start per hour.
pub const THREADS_PER_HOUR: u32 = 5;
/// Messages (first messages and replies) an account may send per minute.
pub const MESSAGES_PER_MINUTE: u32 = 10;

/// What the limiter refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many new threads this hour.
    Threads,
    /// Too many messages this minute.
    Messages,
}

/// The limits of private messages.
pub struct MessageLimiter {
    threads: DefaultKeyedRateLimiter<String>,
    messages: DefaultKeyedRateLimiter<String>,
}

impl Default for MessageLimiter {
    fn default() -> Self {
        let n = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        MessageLimiter {
            threads: RateLimiter::keyed(Quota::per_hour(n(THREADS_PER_HOUR))),
            messages: RateLimiter::keyed(Quota::per_minute(n(MESSAGES_PER_MINUTE))),
        }
    }
}

impl MessageLimiter {
    /// Records a message (and a new thread when `new_thread`); the refusal when over a limit.
    pub fn allow(&self, account: &AccountId, new_thread: bool) -> Result<(), Refused> {
        let key = account.0.clone();
        if new_thread && self.threads.check_key(&key).is_err() {
            return Err(Refused::Threads);
        }
        let ok = self.messages.check_key(&key).is_ok();
        // Keep memory bounded under a flood of distinct keys.
        for limiter in [&self.threads, &self.messages] {
            if limiter.len() > 100_000 {
                limiter.retain_recent();
            }
        }
        if ok { Ok(()) } else { Err(Refused::Messages) }
    }
}
