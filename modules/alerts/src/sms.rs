//! The text of an alert's SMS: `[<commune> · <gravité>] <titre> — <message>`, on one line,
//! within the provider's 480 characters (the message is shortened with `…` when needed).

/// The longest text the host accepts for one SMS (several concatenated segments).
pub const SMS_MAX: usize = 480;

/// The SMS for an alert.
pub fn text(commune: &str, severity: &str, title: &str, message: &str) -> String {
    let head = format!(
        "[{} · {severity}] {} — ",
        one_line(commune),
        one_line(title)
    );
    let message = one_line(message);
    let room = SMS_MAX.saturating_sub(head.chars().count());
    if room == 0 {
        // Not reachable with a 120-character title, but the limit is the host's, not ours.
        return shorten(head.trim_end_matches([' ', '—']), SMS_MAX);
    }
    format!("{head}{}", shorten(&message, room))
}

/// Whitespace runs (new lines included) as single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` if it has at most `max` characters, otherwise its beginning and `…` in `max`.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_alerts_are_sent_whole_on_one_line() {
        assert_eq!(
            text(
                "Paris",
                "Urgence",
                "Coupure d'eau",
                "Rue de Rivoli,\nde 8 h à 12 h.\n\nMerci."
            ),
            "[Paris · Urgence] Coupure d'eau — Rue de Rivoli, de 8 h à 12 h. Merci."
        );
    }

    #[test]
    fn long_messages_are_shortened_to_the_limit() {
        let message = "é".repeat(1_000);
        let sms = text("Saint-Étienne", "Vigilance", &"T".repeat(120), &message);
        assert_eq!(sms.chars().count(), SMS_MAX);
        assert!(sms.starts_with("[Saint-Étienne · Vigilance] TTT"));
        assert!(sms.ends_with("éé…"));
        // Exactly at the limit: nothing is cut.
        let head = "[P · Information] T — ".chars().count();
        let fits = "x".repeat(SMS_MAX - head);
        assert_eq!(
            text("P", "Information", "T", &fits).chars().count(),
            SMS_MAX
        );
        assert!(!text("P", "Information", "T", &fits).ends_with('…'));
    }

    #[test]
    fn an_oversized_head_is_cut_too() {
        let sms = text("P", "Urgence", &"T".repeat(600), "message");
        assert_eq!(sms.chars().count(), SMS_MAX);
        assert!(sms.ends_with("T…"));
    }
}
