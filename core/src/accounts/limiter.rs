//! Rate limits on login and password-reset attempts (GCRA, per e-mail and per client IP).

use std::net::IpAddr;

use crate::accounts::service::email_identity;
use crate::rate_limit::RateLimit;

/// Limits guessing: 5 attempts a minute per address, 20 per IP.
pub struct LoginLimiter {
    by_email: RateLimit<String>,
    by_ip: RateLimit<IpAddr>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter {
            by_email: RateLimit::per_minute(5),
            by_ip: RateLimit::per_minute(20),
        }
    }
}

impl LoginLimiter {
    /// Records an attempt; false when over the limit. The address is keyed as accounts match
    /// it ([`email_identity`]): padding or case gives no fresh budget.
    pub fn allow(&self, email: &str, ip: Option<IpAddr>) -> bool {
        let email_ok = self.by_email.check(&email_identity(email));
        let ip_ok = ip.is_none_or(|ip| self.by_ip.check(&ip));
        email_ok && ip_ok
    }
}

#[cfg(test)]
mod tests {
    use super::LoginLimiter;

    #[test]
    fn padded_and_capitalised_addresses_share_one_budget() {
        let limiter = LoginLimiter::default();
        for email in [
            "victim@x.fr",
            "  victim@x.fr\t",
            "VICTIM@X.FR",
            "\u{a0}Victim@x.fr ",
            "victim@x.fr\n",
        ] {
            assert!(limiter.allow(email, None), "{email:?}");
        }
        assert!(!limiter.allow(" victim@x.FR ", None), "a sixth attempt");
        assert!(
            limiter.allow("other@x.fr", None),
            "addresses are independent"
        );
    }
}
