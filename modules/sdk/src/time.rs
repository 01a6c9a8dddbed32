//! Time as a commune reads it: `datetime-local` form values and French text in Europe/Paris
//! (with its clock changes), and UTC for machines. Every instant is Unix seconds.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::{Europe::Paris, Tz};

/// Why a `datetime-local` value was refused (French, shown next to the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// Not `AAAA-MM-JJTHH:MM`.
    Malformed,
    /// A time skipped when clocks go forward (last Sunday of March, 02:00–03:00).
    Skipped,
}

impl TimeError {
    /// The message for the form.
    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "Date invalide : utilisez le format JJ/MM/AAAA HH:MM.",
            Self::Skipped => {
                "Cette heure n'existe pas à Paris (passage à l'heure d'été) : choisissez-en une autre."
            }
        }
    }
}

/// Parses a `datetime-local` value (`2026-03-29T14:30`, seconds allowed) read as Paris time;
/// returns Unix seconds. An ambiguous time (the repeated hour in October) is the first one.
pub fn parse_local(value: &str) -> Result<i64, TimeError> {
    let (date, time) = value.trim().split_once('T').ok_or(TimeError::Malformed)?;
    let number = |p: Option<&str>| {
        p.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u32>().ok())
    };
    let mut d = date.splitn(3, '-');
    let (Some(year), Some(month), Some(day)) =
        (number(d.next()), number(d.next()), number(d.next()))
    else {
        return Err(TimeError::Malformed);
    };
    let mut t = time.splitn(3, ':');
    let (Some(hour), Some(minute)) = (number(t.next()), number(t.next())) else {
        return Err(TimeError::Malformed);
    };
    let second = match t.next() {
        None => 0,
        Some(s) => number(s.split('.').next()).ok_or(TimeError::Malformed)?,
    };
    let year = i32::try_from(year).map_err(|_| TimeError::Malformed)?;
    let naive = NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(hour, minute, second))
        .ok_or(TimeError::Malformed)?;
    Paris
        .from_local_datetime(&naive)
        .earliest()
        .map(|dt| dt.timestamp())
        .ok_or(TimeError::Skipped)
}

fn paris(secs: i64) -> Option<DateTime<Tz>> {
    Paris.timestamp_opt(secs, 0).single()
}

/// Formats an instant in UTC with a `chrono` format string (`%Y%m%dT%H%M%SZ`…); empty if the
/// instant is out of range.
pub fn utc_format(secs: i64, format: &str) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

/// The months' names, January first.
pub const MONTHS: [&str; 12] = [
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

const WEEKDAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

fn day_month_year(t: &DateTime<Tz>) -> String {
    let day = if t.day() == 1 {
        "1er".to_owned()
    } else {
        t.day().to_string()
    };
    let month = MONTHS.get(t.month0() as usize).copied().unwrap_or_default();
    format!("{day} {month} {}", t.year())
}

/// The value for a `datetime-local` input (`2026-03-29T14:30`), in Paris time.
pub fn to_input(secs: i64) -> String {
    paris(secs)
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

/// The day in French, Paris time: `samedi 1er mars 2026`.
pub fn date_fr(secs: i64) -> String {
    paris(secs)
        .map(|t| {
            let weekday = WEEKDAYS
                .get(t.weekday().num_days_from_monday() as usize)
                .copied()
                .unwrap_or_default();
            format!("{weekday} {}", day_month_year(&t))
        })
        .unwrap_or_default()
}

/// The hour in French, Paris time: `9 h 05`, with no-break spaces (a line never ends between
/// the hour and its minutes).
pub fn hour_fr(secs: i64) -> String {
    paris(secs)
        .map(|t| format!("{}\u{a0}h\u{a0}{:02}", t.hour(), t.minute()))
        .unwrap_or_default()
}

/// Date and hour in French without the weekday: `29 mars 2026 à 14 h 30`.
pub fn format_fr(secs: i64) -> String {
    paris(secs)
        .map(|t| format!("{} à {}", day_month_year(&t), hour_fr(secs)))
        .unwrap_or_default()
}

/// Day and hour in French: `samedi 14 mars 2026 à 9 h 00`.
pub fn when_fr(secs: i64) -> String {
    format!("{} à {}", date_fr(secs), hour_fr(secs))
}

/// A short numeric date and hour, Paris time: `14/03/2026 9 h 00`.
pub fn short_fr(secs: i64) -> String {
    paris(secs)
        .map(|t| {
            format!(
                "{:02}/{:02}/{} {}\u{a0}h\u{a0}{:02}",
                t.day(),
                t.month(),
                t.year(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

/// The machine-readable value of a `<time datetime>` attribute (UTC): `2026-03-14T08:00Z`.
pub fn iso_utc(secs: i64) -> String {
    utc_format(secs, "%Y-%m-%dT%H:%MZ")
}

/// An instant as a W3C datetime (RFC 3339) in Paris time, to the second:
/// `2026-03-14T09:00:00+01:00` (Open311, feeds); empty if out of range.
pub fn w3c(secs: i64) -> String {
    paris(secs)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        .unwrap_or_default()
}

/// Parses a W3C datetime: `2026-03-14T08:00:00Z`, with an offset (`+01:00`), or a date alone
/// (`2026-03-14`, midnight UTC); Unix seconds, `None` if it is none of these.
pub fn parse_w3c(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.timestamp());
    }
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// The same in Unix milliseconds, the unit of the host's `now-ms` clock, for modules that keep
/// their instants in milliseconds.
pub mod ms {
    use super::TimeError;

    /// Parses a `datetime-local` value read as Paris time; returns Unix milliseconds.
    pub fn parse_local(value: &str) -> Result<i64, TimeError> {
        super::parse_local(value).map(|secs| secs.saturating_mul(1000))
    }

    /// A period from the form fields `ouverture` and `cloture` (`datetime-local`, Paris
    /// time): `(opens, closes)` in milliseconds when both read, the closing comes after the
    /// opening and is not past at `now`; else each error beside its field.
    pub fn period(
        opens: &str,
        closes: &str,
        now: i64,
    ) -> Result<(i64, i64), Vec<crate::html::FieldError>> {
        let mut errors = Vec::new();
        let opens = parse_local(opens);
        let closes = parse_local(closes);
        if let Err(e) = opens {
            errors.push(("ouverture", e.message().to_string()));
        }
        match (opens, closes) {
            (_, Err(e)) => errors.push(("cloture", e.message().to_string())),
            (Ok(o), Ok(c)) if c <= o => errors.push((
                "cloture",
                "La clôture doit venir après l'ouverture.".to_string(),
            )),
            (_, Ok(c)) if c <= now => {
                errors.push(("cloture", "La date de clôture est déjà passée.".to_string()))
            }
            _ => {}
        }
        match (opens, closes) {
            (Ok(o), Ok(c)) if errors.is_empty() => Ok((o, c)),
            _ => Err(errors),
        }
    }

    /// The value for a `datetime-local` input (`2026-03-29T14:30`), in Paris time.
    pub fn to_input(ms: i64) -> String {
        super::to_input(ms.div_euclid(1000))
    }

    /// French text in Paris time: `29 mars 2026 à 14 h 30`.
    pub fn format_fr(ms: i64) -> String {
        super::format_fr(ms.div_euclid(1000))
    }

    /// The machine-readable value of a `<time datetime>` attribute (UTC).
    pub fn iso_utc(ms: i64) -> String {
        super::iso_utc(ms.div_euclid(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-15 12:00 UTC, 2026-07-15 12:00 UTC.
    const WINTER_NOON_UTC: i64 = 1_768_478_400;
    const SUMMER_NOON_UTC: i64 = 1_784_116_800;

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
        let before = parse_local("2026-03-29T01:59");
        let after = parse_local("2026-03-29T03:00");
        assert_eq!(after.map(|a| a - before.unwrap_or(0)), Ok(60));
        // Clocks go back on 25 October 2026 at 03:00 → 02:00: take the first 02:30 (summer).
        assert_eq!(
            parse_local("2026-10-25T02:30").map(iso_utc),
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
            "2026-01-15T25:00",
            "2026-01-15T+1:00",
            "hier T10:00",
        ] {
            assert_eq!(parse_local(bad), Err(TimeError::Malformed), "{bad}");
        }
    }

    #[test]
    fn formats_in_french_and_for_machines() {
        assert_eq!(
            when_fr(WINTER_NOON_UTC),
            "jeudi 15 janvier 2026 à 13\u{a0}h\u{a0}00"
        );
        assert_eq!(
            format_fr(SUMMER_NOON_UTC),
            "15 juillet 2026 à 14\u{a0}h\u{a0}00"
        );
        assert_eq!(date_fr(1_772_323_200), "dimanche 1er mars 2026");
        assert_eq!(short_fr(SUMMER_NOON_UTC), "15/07/2026 14\u{a0}h\u{a0}00");
        assert_eq!(to_input(SUMMER_NOON_UTC), "2026-07-15T14:00");
        assert_eq!(iso_utc(SUMMER_NOON_UTC), "2026-07-15T12:00Z");
        assert_eq!(
            utc_format(SUMMER_NOON_UTC, "%Y%m%dT%H%M%SZ"),
            "20260715T120000Z"
        );
    }

    #[test]
    fn milliseconds_round_trip_through_paris_time() {
        let noon = SUMMER_NOON_UTC * 1000;
        assert_eq!(ms::parse_local("2026-07-15T14:00"), Ok(noon));
        assert_eq!(ms::to_input(noon + 59_999), "2026-07-15T14:00");
        assert_eq!(ms::format_fr(noon), "15 juillet 2026 à 14\u{a0}h\u{a0}00");
        assert_eq!(ms::iso_utc(noon), "2026-07-15T12:00Z");
        let first = ms::parse_local("2026-08-01T09:05").unwrap_or(0);
        assert_eq!(ms::format_fr(first), "1er août 2026 à 9\u{a0}h\u{a0}05");
    }
}
