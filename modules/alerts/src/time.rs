//! Dates as the commune reads them, in Europe/Paris: alerts keep Unix milliseconds (the host's
//! clock), so they use the SDK's millisecond helpers.

pub use parvis_module_sdk::time::ms::{format_fr, iso_utc, parse_local, to_input};

/// One hour, one day, in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;
