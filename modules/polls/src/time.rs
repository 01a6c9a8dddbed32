//! Dates as the commune reads them, in Europe/Paris: polls keep Unix milliseconds (the host's
//! clock), the SDK's [`parvis_module_sdk::time`] works in seconds.

use parvis_module_sdk::time as paris;
pub use parvis_module_sdk::time::TimeError;

/// Parses a `datetime-local` value read as Paris time; returns Unix milliseconds.
pub fn parse_local(value: &str) -> Result<i64, TimeError> {
    paris::parse_local(value).map(|secs| secs.saturating_mul(1000))
}

/// The value for a `datetime-local` input (`2026-03-29T14:30`), in Paris time.
pub fn to_input(ms: i64) -> String {
    paris::to_input(ms.div_euclid(1000))
}

/// French text in Paris time: `29 mars 2026 à 14 h 30`.
pub fn format_fr(ms: i64) -> String {
    paris::format_fr(ms.div_euclid(1000))
}

/// The machine-readable value of a `<time datetime>` attribute (UTC).
pub fn to_iso_utc(ms: i64) -> String {
    paris::iso_utc(ms.div_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMER_NOON_UTC: i64 = 1_784_116_800_000;

    #[test]
    fn milliseconds_round_trip_through_paris_time() {
        assert_eq!(parse_local("2026-07-15T14:00"), Ok(SUMMER_NOON_UTC));
        assert_eq!(to_input(SUMMER_NOON_UTC), "2026-07-15T14:00");
        assert_eq!(format_fr(SUMMER_NOON_UTC), "15 juillet 2026 à 14 h 00");
        assert_eq!(to_iso_utc(SUMMER_NOON_UTC), "2026-07-15T12:00Z");
        let first = parse_local("2026-08-01T09:05").unwrap_or(0);
        assert_eq!(format_fr(first), "1er août 2026 à 9 h 05");
        assert_eq!(parse_local("2026-03-29T02:30"), Err(TimeError::Skipped));
    }
}
