//! Dates as the commune reads them: `datetime-local` fields and French text, in Europe/Paris.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::{Europe::Paris, Tz};

/// Why a `datetime-local` value was refused (French, shown next to the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    /// Not `AAAA-MM-JJTHH:MM`.
    Malformed,
    /// A time skipped when clocks go forward (last Sunday of March, 02:00–03:00).
    Skipped,
}

impl TimeError {
    /// The message for the form.
    pub fn message(&self) -> &'static str {
        match self {
            Self::Malformed => "Date invalide : utilisez le format JJ/MM/AAAA HH:MM.",
            Self::Skipped => {
                "Cette heure n'existe pas à Paris (passage à l'heure d'été) : choisissez-en une autre."
            }
        }
    }
}

/// Parses a `datetime-local` value (`2026-03-29T14:30`, seconds allowed) read as Paris time;
/// returns Unix milliseconds. An ambiguous time (the repeated hour in October) is the first one.
pub fn parse_local(value: &str) -> Result<i64, TimeError> {
    let (date, time) = value.trim().split_once('T').ok_or(TimeError::Malformed)?;
    let mut date_parts = date.splitn(3, '-').map(str::parse::<u32>);
    let mut time_parts = time
        .splitn(3, ':')
        .map(|p| p.split('.').next().unwrap_or(p));
    let (Some(Ok(year)), Some(Ok(month)), Some(Ok(day))) =
        (date_parts.next(), date_parts.next(), date_parts.next())
    else {
        return Err(TimeError::Malformed);
    };
    let number = |p: Option<&str>| p.map(str::parse::<u32>);
    let (Some(Ok(hour)), Some(Ok(minute))) = (number(time_parts.next()), number(time_parts.next()))
    else {
        return Err(TimeError::Malformed);
    };
    let second = match number(time_parts.next()) {
        None => 0,
        Some(Ok(s)) => s,
        Some(Err(_)) => return Err(TimeError::Malformed),
    };
    let year = i32::try_from(year).map_err(|_| TimeError::Malformed)?;
    let naive = NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(hour, minute, second))
        .ok_or(TimeError::Malformed)?;
    Paris
        .from_local_datetime(&naive)
        .earliest()
        .map(|dt| dt.timestamp_millis())
        .ok_or(TimeError::Skipped)
}

fn paris(ms: i64) -> Option<DateTime<Tz>> {
    Paris.timestamp_millis_opt(ms).single()
}

/// The value for a `datetime-local` input (`2026-03-29T14:30`), in Paris time.
pub fn to_input(ms: i64) -> String {
    paris(ms)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// French text in Paris time: `29 mars 2026 à 14 h 30`.
pub fn format_fr(ms: i64) -> String {
    paris(ms)
        .map(|t| {
            let day = if t.day() == 1 {
                "1er".to_owned()
            } else {
                t.day().to_string()
            };
            let month = MONTHS.get(t.month0() as usize).copied().unwrap_or_default();
            format!(
                "{day} {month} {} à {} h {:02}",
                t.year(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

/// The machine-readable value of a `<time datetime>` attribute (UTC).
pub fn to_iso_utc(ms: i64) -> String {
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}Z",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-15 12:00 UTC, 2026-07-15 12:00 UTC.
    const WINTER_NOON_UTC: i64 = 1_768_478_400_000;
    const SUMMER_NOON_UTC: i64 = 1_784_116_800_000;

    #[test]
    fn reads_paris_time_in_winter_and_summer() {
        assert_eq!(parse_local("2026-01-15T13:00"), Ok(WINTER_NOON_UTC));
        assert_eq!(parse_local("2026-07-15T14:00"), Ok(SUMMER_NOON_UTC));
        assert_eq!(parse_local("2026-07-15T14:00:00"), Ok(SUMMER_NOON_UTC));
    }

    #[test]
    fn handles_the_clock_changes() {
        // Clocks go forward on 29 March 2026 at 02:00 → 03:00: 02:30 never happens.
        assert_eq!(parse_local("2026-03-29T02:30"), Err(TimeError::Skipped));
        // 01:59 is still winter time (UTC+1), 03:00 already summer time (UTC+2).
        let before = parse_local("2026-03-29T01:59");
        let after = parse_local("2026-03-29T03:00");
        assert_eq!(after.map(|a| a - before.unwrap_or(0)), Ok(60_000));
        // Clocks go back on 25 October 2026 at 03:00 → 02:00: 02:30 happens twice, take the
        // first (summer time, 00:30 UTC).
        assert_eq!(
            parse_local("2026-10-25T02:30").map(to_iso_utc),
            Ok("2026-10-25T00:30Z".to_owned())
        );
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            "",
            "2026-01-15",
            "2026-13-01T10:00",
            "2026-02-30T10:00",
            "hier T10:00",
        ] {
            assert_eq!(parse_local(bad), Err(TimeError::Malformed), "{bad}");
        }
        assert_eq!(
            parse_local("2026-01-15T25:00"),
            Err(TimeError::Malformed),
            "hour 25"
        );
    }

    #[test]
    fn formats_in_french_and_for_inputs() {
        assert_eq!(format_fr(WINTER_NOON_UTC), "15 janvier 2026 à 13 h 00");
        assert_eq!(format_fr(SUMMER_NOON_UTC), "15 juillet 2026 à 14 h 00");
        assert_eq!(to_input(SUMMER_NOON_UTC), "2026-07-15T14:00");
        assert_eq!(to_iso_utc(SUMMER_NOON_UTC), "2026-07-15T12:00Z");
        let first = parse_local("2026-08-01T09:05").unwrap_or(0);
        assert_eq!(format_fr(first), "1er août 2026 à 9 h 05");
    }
}
