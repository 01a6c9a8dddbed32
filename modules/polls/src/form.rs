//! The "new poll" form: raw fields, defaults and validation. Plain Rust, no host calls.

use crate::model::Audience;
use crate::time;
use parvis_module_sdk::Request;

pub const QUESTION_MAX: usize = 300;
pub const DESCRIPTION_MAX: usize = 5_000;
pub const OPTION_MAX: usize = 200;
pub const OPTIONS_MIN: usize = 2;
pub const OPTIONS_MAX: usize = 20;

/// The form as typed, kept to re-render it with its errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollForm {
    pub question: String,
    pub description: String,
    /// One option per line.
    pub options: String,
    /// `single` or `multiple`.
    pub kind: String,
    /// `datetime-local` values, Paris time.
    pub opens_at: String,
    pub closes_at: String,
    /// `anonymous` or `named`.
    pub secrecy: String,
    /// `everyone` or `residents`.
    pub audience: String,
}

/// A valid poll to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPoll {
    pub question: String,
    pub description: String,
    pub options: Vec<String>,
    pub multiple: bool,
    pub anonymous: bool,
    pub audience: Audience,
    pub opens_at: i64,
    pub closes_at: i64,
}

/// A French message attached to a field (by its `name`).
pub use parvis_module_sdk::html::FieldError;

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

impl PollForm {
    /// The empty form: opens now, closes in a week, single choice, anonymous, for everyone.
    pub fn blank(now: i64) -> Self {
        Self {
            kind: "single".into(),
            secrecy: "anonymous".into(),
            audience: "everyone".into(),
            opens_at: time::to_input(now),
            closes_at: time::to_input(now + WEEK_MS),
            ..Self::default()
        }
    }

    /// The posted form.
    pub fn from_request(req: &Request) -> Self {
        let field = |name| req.form_value(name).unwrap_or_default().to_owned();
        Self {
            question: field("question"),
            description: field("description"),
            options: field("options"),
            kind: field("kind"),
            opens_at: field("opens_at"),
            closes_at: field("closes_at"),
            secrecy: field("secrecy"),
            audience: field("audience"),
        }
    }

    /// The options, one per non-blank line, trimmed.
    pub fn option_lines(&self) -> Vec<String> {
        self.options
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Checks every field; `now` is the default opening time and the earliest closing time.
    pub fn validate(&self, now: i64) -> Result<NewPoll, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        let mut error = |field, message: &str| errors.push((field, message.to_owned()));

        let question = self.question.trim();
        if question.is_empty() {
            error("question", "La question est obligatoire.");
        } else if question.chars().count() > QUESTION_MAX {
            error(
                "question",
                &format!("La question ne doit pas dépasser {QUESTION_MAX} caractères."),
            );
        }
        let description = self.description.trim();
        if description.chars().count() > DESCRIPTION_MAX {
            error(
                "description",
                &format!("La description ne doit pas dépasser {DESCRIPTION_MAX} caractères."),
            );
        }

        let options = self.option_lines();
        let mut seen: Vec<String> = Vec::with_capacity(options.len());
        let mut duplicate = false;
        for option in &options {
            let folded = option.to_lowercase();
            duplicate |= seen.contains(&folded);
            seen.push(folded);
        }
        if options.len() < OPTIONS_MIN || options.len() > OPTIONS_MAX {
            error(
                "options",
                &format!("Indiquez entre {OPTIONS_MIN} et {OPTIONS_MAX} réponses, une par ligne."),
            );
        } else if duplicate {
            error("options", "Chaque réponse doit être différente des autres.");
        } else if options.iter().any(|o| o.chars().count() > OPTION_MAX) {
            error(
                "options",
                &format!("Une réponse ne doit pas dépasser {OPTION_MAX} caractères."),
            );
        }

        let multiple = match self.kind.as_str() {
            "single" => false,
            "multiple" => true,
            _ => {
                error("kind", "Choisissez un type de réponse.");
                false
            }
        };
        let anonymous = match self.secrecy.as_str() {
            "anonymous" => true,
            "named" => false,
            _ => {
                error("secrecy", "Choisissez si le vote est anonyme ou nominatif.");
                true
            }
        };
        let audience = match self.audience.as_str() {
            "everyone" => Audience::Everyone,
            "residents" => Audience::Residents,
            _ => {
                error("audience", "Choisissez qui peut voter.");
                Audience::Everyone
            }
        };

        let opens_at = if self.opens_at.trim().is_empty() {
            Ok(now)
        } else {
            time::parse_local(&self.opens_at)
        };
        if let Err(e) = &opens_at {
            error("opens_at", e.message());
        }
        let closes_at = if self.closes_at.trim().is_empty() {
            error("closes_at", "La date de clôture est obligatoire.");
            None
        } else {
            match time::parse_local(&self.closes_at) {
                Ok(at) => Some(at),
                Err(e) => {
                    error("closes_at", e.message());
                    None
                }
            }
        };
        if let (Ok(opens), Some(closes)) = (&opens_at, closes_at) {
            if closes <= *opens {
                error(
                    "closes_at",
                    "La clôture doit être postérieure à l'ouverture.",
                );
            } else if closes <= now {
                error("closes_at", "La date de clôture est déjà passée.");
            }
        }

        match (opens_at, closes_at) {
            (Ok(opens_at), Some(closes_at)) if errors.is_empty() => Ok(NewPoll {
                question: question.to_owned(),
                description: description.to_owned(),
                options,
                multiple,
                anonymous,
                audience,
                opens_at,
                closes_at,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-15 12:00 UTC = 13:00 in Paris.
    const NOW: i64 = 1_768_478_400_000;

    fn filled() -> PollForm {
        PollForm {
            question: "  Faut-il piétonniser la place du marché ?  ".into(),
            description: "Consultation du conseil municipal.".into(),
            options: "Oui\r\n\r\n  Non  \nSans avis\n".into(),
            kind: "single".into(),
            opens_at: String::new(),
            closes_at: "2026-01-22T18:00".into(),
            secrecy: "named".into(),
            audience: "residents".into(),
        }
    }

    fn fields(form: &PollForm) -> Vec<&'static str> {
        form.validate(NOW)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn accepts_a_complete_form_with_defaults() {
        let poll = filled().validate(NOW);
        let Ok(poll) = poll else {
            panic!("refused: {poll:?}");
        };
        assert_eq!(poll.question, "Faut-il piétonniser la place du marché ?");
        assert_eq!(poll.options, vec!["Oui", "Non", "Sans avis"]);
        assert!(!poll.multiple && !poll.anonymous);
        assert_eq!(poll.audience, Audience::Residents);
        assert_eq!(poll.opens_at, NOW, "opens now by default");
        // 18:00 Paris in winter = 17:00 UTC, seven days later.
        assert_eq!(poll.closes_at, NOW + WEEK_MS + 5 * 3600 * 1000);
    }

    #[test]
    fn blank_form_is_valid_once_question_and_options_are_typed() {
        let mut form = PollForm::blank(NOW);
        assert_eq!(fields(&form), vec!["question", "options"]);
        form.question = "Q".into();
        form.options = "A\nB".into();
        assert!(form.validate(NOW - 60_000).is_ok());
    }

    #[test]
    fn question_is_required_and_bounded() {
        let mut form = filled();
        form.question = "   ".into();
        assert_eq!(fields(&form), vec!["question"]);
        form.question = "é".repeat(QUESTION_MAX);
        assert!(fields(&form).is_empty());
        form.question.push('?');
        assert_eq!(fields(&form), vec!["question"]);
    }

    #[test]
    fn options_are_two_to_twenty_distinct_lines() {
        let mut form = filled();
        form.options = "Oui\n\n".into();
        assert_eq!(fields(&form), vec!["options"]);
        form.options = "Oui\noui".into();
        assert_eq!(fields(&form), vec!["options"]);
        form.options = (0..21).map(|i| format!("R{i}\n")).collect();
        assert_eq!(fields(&form), vec!["options"]);
        form.options = (0..20).map(|i| format!("R{i}\n")).collect();
        assert!(fields(&form).is_empty());
    }

    #[test]
    fn choices_must_be_known_values() {
        let mut form = filled();
        form.kind = "ranked".into();
        form.secrecy = String::new();
        form.audience = "tous".into();
        assert_eq!(fields(&form), vec!["kind", "secrecy", "audience"]);
    }

    #[test]
    fn dates_must_parse_and_close_after_opening_in_the_future() {
        let mut form = filled();
        form.closes_at = String::new();
        assert_eq!(fields(&form), vec!["closes_at"]);
        form.closes_at = "demain".into();
        assert_eq!(fields(&form), vec!["closes_at"]);
        form.opens_at = "2026-01-20T10:00".into();
        form.closes_at = "2026-01-20T10:00".into();
        assert_eq!(fields(&form), vec!["closes_at"]);
        form.opens_at = "2026-01-10T10:00".into();
        form.closes_at = "2026-01-14T10:00".into();
        assert_eq!(fields(&form), vec!["closes_at"], "already closed");
        form.opens_at = "2026-03-29T02:15".into();
        form.closes_at = "2026-04-01T10:00".into();
        assert_eq!(fields(&form), vec!["opens_at"], "skipped hour");
    }
}
