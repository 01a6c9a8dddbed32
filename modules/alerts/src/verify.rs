//! Proof that a citizen holds the mobile number they register: a six-digit code sent to it by
//! SMS, valid 15 minutes, with a few attempts. Until the code is entered the number is only
//! pending: it receives no alert and blocks nobody. Codes cost the commune money and land on
//! someone's phone, so each account and each number (normalised, E.164) gets a few a day.

use serde::{Deserialize, Serialize};

/// How long a code may be entered (Unix milliseconds).
pub const CODE_TTL_MS: i64 = 15 * 60 * 1000;
/// Wrong codes accepted before the code is void (a new one must be asked for).
pub const MAX_ATTEMPTS: u32 = 5;
/// Codes an account may have sent per day.
pub const SENDS_PER_ACCOUNT_PER_DAY: usize = 5;
/// Codes one number may receive per day, whoever asks.
pub const SENDS_PER_NUMBER_PER_DAY: usize = 3;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// A number waiting for its code, stored in `sms-pending` under the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The normalised number.
    pub number: String,
    /// The six digits sent.
    pub code: String,
    /// When the citizen ticked the consent box.
    pub consented_at: i64,
    /// When the code stops being accepted.
    pub expires_at: i64,
    /// Wrong codes entered so far.
    pub attempts: u32,
}

/// When codes were sent, stored in `sms-sends` under `a:<account>` and `n:<number>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendLog {
    pub times: Vec<i64>,
}

impl SendLog {
    /// The log with only the last day's sends, and whether one more fits under `max`.
    pub fn room(&self, now: i64, max: usize) -> (SendLog, bool) {
        let times: Vec<i64> = self
            .times
            .iter()
            .copied()
            .filter(|t| now - t < DAY_MS)
            .collect();
        let fits = times.len() < max;
        (SendLog { times }, fits)
    }
}

/// Six digits from random bytes (the slight modulo bias is irrelevant at 5 attempts).
pub fn code_from(bytes: &[u8]) -> String {
    let n = bytes
        .iter()
        .take(8)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    format!("{:06}", n % 1_000_000)
}

/// What entering a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The right code, in time: the number is the account's.
    Confirmed,
    /// A wrong code; the pending number with one more attempt counted.
    Wrong(Pending),
    /// Expired or out of attempts: a new code is needed.
    Void,
}

/// Checks an entered code (spaces ignored) against the pending number.
pub fn check(pending: &Pending, entered: &str, now: i64) -> Check {
    if now >= pending.expires_at || pending.attempts >= MAX_ATTEMPTS {
        return Check::Void;
    }
    let entered: String = entered.chars().filter(|c| !c.is_whitespace()).collect();
    if entered == pending.code {
        return Check::Confirmed;
    }
    let mut after = pending.clone();
    after.attempts += 1;
    Check::Wrong(after)
}

/// The text of the code's SMS.
pub fn text(commune: &str, code: &str) -> String {
    format!(
        "{code} est votre code de confirmation pour recevoir les alertes de {commune} par SMS. \
         Il expire dans 15 minutes. Si vous n'avez rien demandé, ignorez ce message."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> Pending {
        Pending {
            number: "+33612345678".into(),
            code: "042137".into(),
            consented_at: 0,
            expires_at: 1_000,
            attempts: 0,
        }
    }

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(code_from(&[0; 8]), "000000");
        assert_eq!(code_from(&[255; 8]).len(), 6);
        assert!(
            code_from(&[1, 2, 3, 4, 5, 6, 7, 8])
                .bytes()
                .all(|b| b.is_ascii_digit())
        );
    }

    #[test]
    fn a_code_is_right_in_time_and_within_attempts() {
        assert_eq!(check(&pending(), " 042 137 ", 10), Check::Confirmed);
        let Check::Wrong(after) = check(&pending(), "000000", 10) else {
            panic!("a wrong code is counted");
        };
        assert_eq!(after.attempts, 1);
        assert_eq!(check(&pending(), "042137", 1_000), Check::Void, "expired");
        let spent = Pending {
            attempts: MAX_ATTEMPTS,
            ..pending()
        };
        assert_eq!(check(&spent, "042137", 10), Check::Void, "no attempts left");
    }

    #[test]
    fn sends_are_counted_over_a_day() {
        let log = SendLog {
            times: vec![0, DAY_MS, DAY_MS + 1],
        };
        let (kept, fits) = log.room(DAY_MS + 10, 2);
        assert_eq!(kept.times, vec![DAY_MS, DAY_MS + 1]);
        assert!(!fits);
        assert!(log.room(3 * DAY_MS, 2).1);
    }
}
