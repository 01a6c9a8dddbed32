//! The forms: what officials and citizens post, checked field by field with French messages.

use crate::model::{MAX_CAPACITY, MAX_SUBJECT, Venue};
use crate::time;
use parvis_module_sdk::Request;

/// Longest topic, in characters.
const MAX_TOPIC: usize = 150;
/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 2000;
/// Longest place or link, in characters.
const MAX_VENUE: usize = 300;
/// Shortest and longest slot, in minutes.
const DURATION: (u32, u32) = (5, 480);

/// The slot form as posted (raw text, to re-render it untouched).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotInput {
    /// `datetime-local`, Paris time.
    pub start: String,
    /// Minutes.
    pub duration: String,
    /// A place…
    pub place: String,
    /// …or an `https` video link.
    pub link: String,
    /// Seats.
    pub capacity: String,
    /// Title.
    pub topic: String,
    /// Details.
    pub description: String,
}

/// A checked slot form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSlot {
    /// Start, Unix seconds.
    pub starts_at: i64,
    /// Minutes.
    pub duration_min: u32,
    /// Where.
    pub venue: Venue,
    /// Seats.
    pub capacity: u32,
    /// Title.
    pub topic: String,
    /// Details.
    pub description: String,
}

/// A field's error: the input's `name` and the French message.
pub use parvis_module_sdk::html::FieldError;

impl SlotInput {
    /// The posted fields.
    pub fn from_request(req: &Request) -> Self {
        let text = |name: &str| req.form_value(name).unwrap_or_default().trim().to_owned();
        Self {
            start: text("debut"),
            duration: text("duree"),
            place: text("lieu"),
            link: text("lien"),
            capacity: text("capacite"),
            topic: text("sujet"),
            description: text("description"),
        }
    }

    /// The defaults of an empty form.
    pub fn blank() -> Self {
        Self {
            duration: "30".into(),
            capacity: "1".into(),
            ..Self::default()
        }
    }

    /// Checks every field at `now`; all the errors at once, in the form's order.
    pub fn check(&self, now: i64) -> Result<NewSlot, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        let starts_at = match time::parse_local(&self.start) {
            _ if self.start.is_empty() => {
                errors.push(("debut", "Indiquez la date et l'heure de début.".into()));
                None
            }
            Ok(at) if at <= now => {
                errors.push(("debut", "La date de début doit être dans le futur.".into()));
                None
            }
            Ok(at) => Some(at),
            Err(e) => {
                errors.push(("debut", e.message().into()));
                None
            }
        };
        let duration = match self.duration.parse::<u32>() {
            Ok(d) if (DURATION.0..=DURATION.1).contains(&d) => Some(d),
            _ => {
                errors.push((
                    "duree",
                    format!(
                        "La durée doit être un nombre de minutes entre {} et {}.",
                        DURATION.0, DURATION.1
                    ),
                ));
                None
            }
        };
        let venue = match (self.place.is_empty(), self.link.is_empty()) {
            (true, true) => {
                errors.push((
                    "lieu",
                    "Indiquez un lieu ou un lien de visioconférence.".into(),
                ));
                None
            }
            (false, false) => {
                errors.push((
                    "lieu",
                    "Indiquez soit un lieu, soit un lien de visioconférence, pas les deux.".into(),
                ));
                None
            }
            (false, true) if self.place.chars().count() > MAX_VENUE => {
                errors.push((
                    "lieu",
                    format!("Le lieu ne doit pas dépasser {MAX_VENUE} caractères."),
                ));
                None
            }
            (false, true) => Some(Venue::Place(self.place.clone())),
            (true, false) => match check_link(&self.link) {
                Ok(()) => Some(Venue::Video(self.link.clone())),
                Err(message) => {
                    errors.push(("lien", message.into()));
                    None
                }
            },
        };
        let capacity = match self.capacity.parse::<u32>() {
            Ok(c) if (1..=MAX_CAPACITY).contains(&c) => Some(c),
            _ => {
                errors.push((
                    "capacite",
                    format!("Le nombre de places doit être compris entre 1 et {MAX_CAPACITY}."),
                ));
                None
            }
        };
        let topic_len = self.topic.chars().count();
        if topic_len == 0 {
            errors.push(("sujet", "Indiquez le thème de la permanence.".into()));
        } else if topic_len > MAX_TOPIC {
            errors.push((
                "sujet",
                format!("Le thème ne doit pas dépasser {MAX_TOPIC} caractères."),
            ));
        }
        if self.description.chars().count() > MAX_DESCRIPTION {
            errors.push((
                "description",
                format!("La description ne doit pas dépasser {MAX_DESCRIPTION} caractères."),
            ));
        }
        match (starts_at, duration, venue, capacity) {
            (Some(starts_at), Some(duration_min), Some(venue), Some(capacity))
                if errors.is_empty() =>
            {
                Ok(NewSlot {
                    starts_at,
                    duration_min,
                    venue,
                    capacity,
                    topic: self.topic.clone(),
                    description: self.description.clone(),
                })
            }
            _ => Err(errors),
        }
    }
}

/// A video link must be a plain `https` URL with a host.
fn check_link(link: &str) -> Result<(), &'static str> {
    if link.chars().count() > MAX_VENUE {
        return Err("Le lien ne doit pas dépasser 300 caractères.");
    }
    let Some(rest) = link.strip_prefix("https://") else {
        return Err("Le lien de visioconférence doit commencer par https://.");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !host_ok || link.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("Le lien de visioconférence n'est pas une adresse valide.");
    }
    Ok(())
}

/// The subject of a booking: required, at most [`MAX_SUBJECT`] characters.
pub fn check_subject(subject: &str) -> Result<String, String> {
    let subject = subject.trim();
    if subject.is_empty() {
        return Err("Indiquez l'objet de votre demande.".into());
    }
    if subject.chars().count() > MAX_SUBJECT {
        return Err(format!(
            "L'objet ne doit pas dépasser {MAX_SUBJECT} caractères."
        ));
    }
    Ok(subject.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_768_478_400; // 2026-01-15 12:00 UTC

    fn input() -> SlotInput {
        SlotInput {
            start: "2026-01-20T09:30".into(),
            duration: "45".into(),
            place: "Mairie, bureau 3".into(),
            link: String::new(),
            capacity: "4".into(),
            topic: "Permanence urbanisme".into(),
            description: String::new(),
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&'static str> {
        errors.iter().map(|(f, _)| *f).collect()
    }

    #[test]
    fn accepts_a_good_slot() {
        let slot = input().check(NOW);
        assert_eq!(
            slot.map(|s| (s.starts_at, s.duration_min, s.capacity, s.venue)),
            Ok((
                1_768_897_800,
                45,
                4,
                Venue::Place("Mairie, bureau 3".into())
            ))
        );
        let video = SlotInput {
            place: String::new(),
            link: "https://visio.example.fr/salle?x=1".into(),
            ..input()
        };
        assert!(video.check(NOW).is_ok());
    }

    #[test]
    fn reports_every_bad_field() {
        let bad = SlotInput {
            start: "2026-01-10T09:30".into(),
            duration: "0".into(),
            capacity: "51".into(),
            topic: String::new(),
            ..input()
        };
        assert_eq!(
            bad.check(NOW).err().as_deref().map(fields),
            Some(vec!["debut", "duree", "capacite", "sujet"])
        );
    }

    #[test]
    fn wants_a_place_or_an_https_link() {
        let neither = SlotInput {
            place: String::new(),
            ..input()
        };
        assert_eq!(
            neither.check(NOW).err().as_deref().map(fields),
            Some(vec!["lieu"])
        );
        let both = SlotInput {
            link: "https://visio.example".into(),
            ..input()
        };
        assert!(both.check(NOW).is_err());
        for link in [
            "http://visio.example",
            "javascript:alert(1)",
            "https://",
            "https://a b",
        ] {
            let bad = SlotInput {
                place: String::new(),
                link: link.into(),
                ..input()
            };
            assert_eq!(
                bad.check(NOW).err().as_deref().map(fields),
                Some(vec!["lien"]),
                "{link}"
            );
        }
    }

    #[test]
    fn checks_the_subject() {
        assert_eq!(check_subject("  Voirie  ").as_deref(), Ok("Voirie"));
        assert!(check_subject("   ").is_err());
        assert!(check_subject(&"é".repeat(500)).is_ok());
        assert!(check_subject(&"é".repeat(501)).is_err());
    }
}
