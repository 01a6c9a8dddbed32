//! How many claims of officials' profiles an account, and a client address, may file: each one
//! is an admin's identity check (a mayor's is a platform admin's phone call), and a flood of
//! them buries the real ones.

use std::net::IpAddr;

use crate::rate_limit::RateLimit;
use crate::types::AccountId;

/// Claims an account may file per day, whatever the commune: a person holds one or two
/// profiles, and may mistype a birth date once.
pub const CLAIMS_PER_ACCOUNT_PER_DAY: u32 = 3;
/// Claims one client address may file per day (a town hall's shared connection files a few).
pub const CLAIMS_PER_ADDRESS_PER_DAY: u32 = 10;

/// Limits the claims filed per account and per client address.
pub struct ClaimLimiter {
    per_account: RateLimit<AccountId>,
    per_address: RateLimit<IpAddr>,
}

impl Default for ClaimLimiter {
    fn default() -> Self {
        ClaimLimiter {
            per_account: RateLimit::per_day(CLAIMS_PER_ACCOUNT_PER_DAY),
            per_address: RateLimit::per_day(CLAIMS_PER_ADDRESS_PER_DAY),
        }
    }
}

impl ClaimLimiter {
    /// Records a claim about to be filed; false when the account or the address is over its
    /// limit. The account is checked first, so that an account over its limit does not use up
    /// its address's.
    pub fn check(&self, account: &AccountId, address: Option<IpAddr>) -> bool {
        self.per_account.check(account)
            && address.is_none_or(|ip| self.per_address.check(&crate::util::client_network(ip)))
    }
}
