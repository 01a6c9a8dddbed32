//! iCalendar invitations (RFC 5545), written by hand: CRLF line endings, lines folded at 75
//! octets without splitting a UTF-8 character, TEXT values escaped.
//!
//! One appointment keeps one UID for its whole life; moving it sends a `REQUEST` with a higher
//! `SEQUENCE` (calendars move the event), cancelling sends a `CANCEL` (calendars remove it).

use crate::time::ics_utc;

/// What the invitation asks of the recipient's calendar (iTIP method, RFC 5546).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Add or update the event.
    Request,
    /// Remove the event.
    Cancel,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Cancel => "CANCEL",
        }
    }

    /// The MIME type of the attachment.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Request => "text/calendar; method=REQUEST; charset=UTF-8",
            Self::Cancel => "text/calendar; method=CANCEL; charset=UTF-8",
        }
    }

    /// The attachment's file name.
    pub fn filename(self) -> &'static str {
        match self {
            Self::Request => "permanence.ics",
            Self::Cancel => "annulation.ics",
        }
    }
}

/// One appointment as a calendar sees it.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// Globally unique and stable for the appointment.
    pub uid: &'a str,
    /// Bumped at each change of the appointment.
    pub sequence: u32,
    /// When the invitation was written (Unix seconds).
    pub stamp: i64,
    /// Start (Unix seconds).
    pub starts_at: i64,
    /// End (Unix seconds).
    pub ends_at: i64,
    /// The title.
    pub summary: &'a str,
    /// Free text.
    pub description: &'a str,
    /// A postal place, or the video link repeated for calendars that ignore `URL`.
    pub location: &'a str,
    /// The video link, if any (an `https` URI).
    pub url: Option<&'a str>,
}

/// The whole `.ics` file for one event.
pub fn calendar(method: Method, event: &Event<'_>) -> String {
    let mut out = String::new();
    let mut line = |name: &str, value: &str| push_folded(&mut out, &format!("{name}:{value}"));
    line("BEGIN", "VCALENDAR");
    line("VERSION", "2.0");
    line("PRODID", "-//Parvis//Permanences en ligne//FR");
    line("CALSCALE", "GREGORIAN");
    line("METHOD", method.name());
    line("BEGIN", "VEVENT");
    line("UID", &text(event.uid));
    line("SEQUENCE", &event.sequence.to_string());
    line("DTSTAMP", &ics_utc(event.stamp));
    line("DTSTART", &ics_utc(event.starts_at));
    line("DTEND", &ics_utc(event.ends_at));
    line("SUMMARY", &text(event.summary));
    if !event.description.is_empty() {
        line("DESCRIPTION", &text(event.description));
    }
    if !event.location.is_empty() {
        line("LOCATION", &text(event.location));
    }
    if let Some(url) = event.url {
        // A URI value is not TEXT: no escaping, but it must not break the line.
        line("URL", &url.replace(['\r', '\n'], ""));
    }
    line(
        "STATUS",
        match method {
            Method::Request => "CONFIRMED",
            Method::Cancel => "CANCELLED",
        },
    );
    line("TRANSP", "OPAQUE");
    line("END", "VEVENT");
    line("END", "VCALENDAR");
    out
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line folded at 75 octets (RFC 5545 §3.1): each continuation starts with
/// one space, which counts in its 75 octets; characters are never split.
fn push_folded(out: &mut String, line: &str) {
    const MAX: usize = 75;
    let mut used = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if used + len > MAX {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(summary: &str) -> String {
        calendar(
            Method::Request,
            &Event {
                uid: "0198-abc@paris.parvis",
                sequence: 2,
                stamp: 1_784_116_800,
                starts_at: 1_784_120_400,
                ends_at: 1_784_122_200,
                summary,
                description: "Objet : voirie, rue; ligne\nsuite",
                location: "Mairie, salle 2",
                url: None,
            },
        )
    }

    #[test]
    fn writes_a_valid_event_with_crlf() {
        let ics = sample("Permanence du maire");
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        assert!(ics.contains("\r\nMETHOD:REQUEST\r\n"));
        assert!(ics.contains("\r\nUID:0198-abc@paris.parvis\r\n"));
        assert!(ics.contains("\r\nSEQUENCE:2\r\n"));
        assert!(ics.contains("\r\nDTSTAMP:20260715T120000Z\r\n"));
        assert!(ics.contains("\r\nDTSTART:20260715T130000Z\r\n"));
        assert!(ics.contains("\r\nDTEND:20260715T133000Z\r\n"));
        assert!(ics.contains("\r\nLOCATION:Mairie\\, salle 2\r\n"));
        assert!(ics.contains("DESCRIPTION:Objet : voirie\\, rue\\; ligne\\nsuite\r\n"));
        assert!(
            !ics.replace("\r\n", "").contains('\n'),
            "bare LF in {ics:?}"
        );
    }

    #[test]
    fn folds_long_lines_at_75_octets_without_splitting_characters() {
        let summary = "Été ".repeat(40);
        let ics = sample(&summary);
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        // Unfolding gives the value back.
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:{summary}\r\n")));
    }

    #[test]
    fn cancels_with_the_same_uid() {
        let ics = calendar(
            Method::Cancel,
            &Event {
                uid: "u1",
                sequence: 3,
                stamp: 0,
                starts_at: 0,
                ends_at: 60,
                summary: "x",
                description: "",
                location: "https://visio.example/abc",
                url: Some("https://visio.example/abc"),
            },
        );
        assert!(ics.contains("\r\nMETHOD:CANCEL\r\n"));
        assert!(ics.contains("\r\nSTATUS:CANCELLED\r\n"));
        assert!(ics.contains("\r\nURL:https://visio.example/abc\r\n"));
        assert!(!ics.contains("DESCRIPTION"));
    }
}
