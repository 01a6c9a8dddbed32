//! Rate limits against spam (GCRA, per account): new threads per hour, messages per minute.

use crate::rate_limit::RateLimit;
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
    threads: RateLimit<String>,
    messages: RateLimit<String>,
}

impl Default for MessageLimiter {
    fn default() -> Self {
        MessageLimiter {
            threads: RateLimit::per_hour(THREADS_PER_HOUR),
            messages: RateLimit::per_minute(MESSAGES_PER_MINUTE),
        }
    }
}

impl MessageLimiter {
    /// Records a message (and a new thread when `new_thread`); the refusal when over a limit.
    pub fn allow(&self, account: &AccountId, new_thread: bool) -> Result<(), Refused> {
        let key = &account.0;
        if new_thread && !self.threads.check(key) {
            return Err(Refused::Threads);
        }
        if self.messages.check(key) {
            Ok(())
        } else {
            Err(Refused::Messages)
        }
    }
}
