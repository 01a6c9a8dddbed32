//! Figures a module shares with the commune's other modules, by neighbourhood and month
//! (contract 0.2.7, `indicators`): the reports module counts its reports and the time they
//! took to resolve, the ideas module its supports, the commitments module its evaluations; the
//! géo-évaluation maps them. A figure is one of the module's counters, named
//! `indicateur:{name}:{neighbourhood or -}:{YYYY-MM}` (Paris time), so it is written in the
//! call's transaction with what it counts and rolled back with it.
//!
//! ```ignore
//! indicators::add("signalements", report_neighbourhood.as_deref(), now_ms, 1)?;
//! let figures = indicators::read(&indicators::months(now_ms, 12)[0])?;
//! ```
//!
//! Sums and counts only: publish a rating's points and the number of ratings apart, never
//! anything that names someone. A reader shows no figure drawn from too few people.

use chrono::{Datelike, TimeZone};
use chrono_tz::Europe::Paris;

use crate::bindings::parvis::module::indicators as wit;
use crate::store::{self, StoreError};

/// One figure some module of the commune published.
pub use wit::Figure;

/// `YYYY-MM`: the month (Paris time) of an instant in Unix milliseconds.
pub fn month(at_ms: i64) -> String {
    match Paris.timestamp_millis_opt(at_ms).single() {
        Some(t) => format!("{:04}-{:02}", t.year(), t.month()),
        None => "1970-01".to_string(),
    }
}

/// « janvier 2026 » for `2026-01` (what is not a month stays as it is).
pub fn month_fr(month: &str) -> String {
    let (year, m) = month.split_once('-').unwrap_or((month, ""));
    match m
        .parse::<usize>()
        .ok()
        .and_then(|m| crate::time::MONTHS.get(m.wrapping_sub(1)))
    {
        Some(name) => format!("{name} {year}"),
        None => month.to_string(),
    }
}

/// The `count` months ending with the one of `now_ms`, oldest first (`["2026-01", …,
/// "2026-12"]`).
pub fn months(now_ms: i64, count: u32) -> Vec<String> {
    let Some(now) = Paris.timestamp_millis_opt(now_ms).single() else {
        return Vec::new();
    };
    let last = now.year() * 12 + now.month0() as i32;
    (0..count as i32)
        .rev()
        .map(|back| {
            let m = last - back;
            format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
        })
        .collect()
}

/// The counter's name of a figure. `name` and a neighbourhood id hold no `:`.
fn counter(name: &str, neighbourhood: Option<&str>, at_ms: i64) -> String {
    format!(
        "indicateur:{name}:{}:{}",
        neighbourhood.unwrap_or("-"),
        month(at_ms)
    )
}

/// Adds `delta` to this module's figure `name` for `neighbourhood` (none: the whole commune)
/// in the month of `at_ms`. Take a value back in the month it was added to: `at_ms` is then
/// the time it was given, not now.
pub fn add(
    name: &str,
    neighbourhood: Option<&str>,
    at_ms: i64,
    delta: i64,
) -> Result<(), StoreError> {
    if delta == 0 {
        return Ok(());
    }
    if name.contains(':') || neighbourhood.is_some_and(|n| n.contains(':') || n.is_empty()) {
        return Err(StoreError::Invalid(format!(
            "indicateur « {name} » : un nom ou un quartier sans « : »"
        )));
    }
    store::incr(&counter(name, neighbourhood, at_ms), delta)?;
    Ok(())
}

/// Every module's figures in the commune (those switched on) from month `since` on.
pub fn read(since: &str) -> Result<Vec<Figure>, StoreError> {
    Ok(wit::read(since)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_paris_months() {
        // 2026-10-31T23:30Z is already November in Paris (UTC+1).
        assert_eq!(month(1_793_489_400_000), "2026-11");
        assert_eq!(
            months(1_793_489_400_000, 13),
            [
                "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05",
                "2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"
            ]
        );
        assert_eq!(month_fr("2026-08"), "août 2026");
        assert_eq!(month_fr("2026-13"), "2026-13");
        assert_eq!(
            counter("soutiens", None, 1_793_489_400_000),
            "indicateur:soutiens:-:2026-11"
        );
    }
}
