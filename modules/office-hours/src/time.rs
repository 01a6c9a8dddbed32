//! Time as the commune reads it comes from the SDK ([`parvis_module_sdk::time`]); what only
//! calendars and storage keys need is here. Every instant is Unix seconds.

use parvis_module_sdk::time::utc_format;
pub use parvis_module_sdk::time::{date_fr, hour_fr, iso_utc, parse_local, short_fr, when_fr};

/// An iCalendar UTC date-time (RFC 5545 §3.3.5, form 2): `20260314T080000Z`.
pub fn ics_utc(secs: i64) -> String {
    utc_format(secs, "%Y%m%dT%H%M%SZ")
}

/// A fixed-width, sortable stamp for storage keys (UTC, to the minute): `20260314T0800Z`.
/// Keys that start with it sort by time.
pub fn key_stamp(secs: i64) -> String {
    utc_format(secs, "%Y%m%dT%H%MZ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_and_key_stamps() {
        const SUMMER_NOON_UTC: i64 = 1_784_116_800;
        assert_eq!(ics_utc(SUMMER_NOON_UTC), "20260715T120000Z");
        assert_eq!(key_stamp(SUMMER_NOON_UTC), "20260715T1200Z");
        assert_eq!(
            parse_local("2026-10-25T02:30").map(ics_utc),
            Ok("20261025T003000Z".to_owned())
        );
    }
}
