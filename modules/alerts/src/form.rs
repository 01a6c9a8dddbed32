//! The admin's "new alert" form and the citizen's SMS form: raw fields, defaults, validation.
//! Plain Rust, no host calls.

use crate::model::{Category, Channels, Severity};
use crate::{phone, time};
use parvis_module_sdk::Request;

pub const TITLE_MAX: usize = 120;
pub const MESSAGE_MAX: usize = 1_000;
pub const ZONE_MAX: usize = 120;
/// The longest an alert may stay in force.
pub const MAX_DAYS: i64 = 30;

/// A French message attached to a field (by its `name`).
pub use parvis_module_sdk::html::FieldError;

/// The checkbox values of the `channels` field.
pub const CHANNEL_APP: &str = "app";
pub const CHANNEL_EMAIL: &str = "email";
pub const CHANNEL_SMS: &str = "sms";
pub const CHANNEL_PUSH: &str = "push";

/// The form as typed, kept to re-render it with its errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertForm {
    pub category: String,
    pub severity: String,
    pub zone: String,
    pub title: String,
    pub message: String,
    /// `datetime-local`, Paris time.
    pub expires_at: String,
    /// The ticked `channels` checkboxes.
    pub channels: Vec<String>,
}

/// A valid alert to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub category: Category,
    pub severity: Severity,
    pub zone: String,
    pub title: String,
    pub message: String,
    pub expires_at: i64,
    pub channels: Channels,
}

fn too_long(text: &str, max: usize) -> bool {
    text.chars().count() > max
}

impl AlertForm {
    /// The empty form: information, in force for a day, in the app and by e-mail (text messages
    /// cost the commune money, so they are ticked on purpose).
    pub fn blank(now: i64) -> Self {
        Self {
            severity: Severity::Information.value().into(),
            expires_at: time::to_input(now + time::DAY_MS),
            channels: vec![CHANNEL_APP.into(), CHANNEL_EMAIL.into()],
            ..Self::default()
        }
    }

    /// The posted form.
    pub fn from_request(req: &Request) -> Self {
        let field = |name| req.form_value(name).unwrap_or_default().to_owned();
        Self {
            category: field("category"),
            severity: field("severity"),
            zone: field("zone"),
            title: field("title"),
            message: field("message"),
            expires_at: field("expires_at"),
            channels: req
                .form_values("channels")
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// True when this channel's box is ticked.
    pub fn has_channel(&self, value: &str) -> bool {
        self.channels.iter().any(|c| c == value)
    }

    /// Checks every field; `now` bounds the expiry (future, at most 30 days ahead).
    pub fn validate(&self, now: i64) -> Result<NewAlert, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        let mut error = |field, message: &str| errors.push((field, message.to_owned()));

        let category = Category::parse(&self.category);
        if category.is_none() {
            error("category", "Choisissez une catégorie.");
        }
        let severity = Severity::parse(&self.severity);
        if severity.is_none() {
            error("severity", "Choisissez une gravité.");
        }
        let zone = self.zone.trim();
        if too_long(zone, ZONE_MAX) {
            error(
                "zone",
                &format!("La zone ne doit pas dépasser {ZONE_MAX} caractères."),
            );
        }
        let title = self.title.trim();
        if title.is_empty() {
            error("title", "Le titre est obligatoire.");
        } else if too_long(title, TITLE_MAX) {
            error(
                "title",
                &format!("Le titre ne doit pas dépasser {TITLE_MAX} caractères."),
            );
        }
        // Browsers post new lines as CRLF; count what the reader sees.
        let message = self.message.trim().replace("\r\n", "\n");
        if message.is_empty() {
            error("message", "Le message est obligatoire.");
        } else if too_long(&message, MESSAGE_MAX) {
            error(
                "message",
                &format!("Le message ne doit pas dépasser {MESSAGE_MAX} caractères."),
            );
        }
        let expires_at = if self.expires_at.trim().is_empty() {
            error("expires_at", "La date d'expiration est obligatoire.");
            None
        } else {
            match time::parse_local(&self.expires_at) {
                Ok(at) if at <= now => {
                    error("expires_at", "La date d'expiration est déjà passée.");
                    None
                }
                Ok(at) if at > now + MAX_DAYS * time::DAY_MS => {
                    error(
                        "expires_at",
                        &format!("Une alerte ne peut pas durer plus de {MAX_DAYS} jours."),
                    );
                    None
                }
                Ok(at) => Some(at),
                Err(e) => {
                    error("expires_at", e.message());
                    None
                }
            }
        };
        let known = [CHANNEL_APP, CHANNEL_EMAIL, CHANNEL_SMS, CHANNEL_PUSH];
        let channels = Channels {
            in_app: self.has_channel(CHANNEL_APP),
            email: self.has_channel(CHANNEL_EMAIL),
            sms: self.has_channel(CHANNEL_SMS),
            push: self.has_channel(CHANNEL_PUSH),
        };
        if self.channels.iter().any(|c| !known.contains(&c.as_str())) {
            error("channels", "Ce canal de diffusion n'existe pas.");
        } else if !channels.any() {
            error("channels", "Choisissez au moins un canal de diffusion.");
        }

        match (category, severity, expires_at) {
            (Some(category), Some(severity), Some(expires_at)) if errors.is_empty() => {
                Ok(NewAlert {
                    category,
                    severity,
                    zone: zone.to_owned(),
                    title: title.to_owned(),
                    message,
                    expires_at,
                    channels,
                })
            }
            _ => Err(errors),
        }
    }
}

/// The citizen's SMS subscription form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsForm {
    pub phone: String,
    pub consent: bool,
}

impl SmsForm {
    /// The posted form.
    pub fn from_request(req: &Request) -> Self {
        Self {
            phone: req.form_value("phone").unwrap_or_default().to_owned(),
            consent: req.form_value("consent") == Some("oui"),
        }
    }

    /// The normalised number, once the consent is given.
    pub fn validate(&self) -> Result<String, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        let number = if self.phone.trim().is_empty() {
            errors.push(("phone", "Indiquez votre numéro de mobile.".into()));
            None
        } else {
            let number = phone::normalise(&self.phone);
            if number.is_none() {
                errors.push((
                    "phone",
                    "Indiquez un numéro de mobile français : 06 ou 07 suivi de 8 chiffres, \
                     ou +33 6 ou +33 7 suivi de 8 chiffres."
                        .into(),
                ));
            }
            number
        };
        if !self.consent {
            errors.push((
                "consent",
                "Cochez la case pour accepter de recevoir les alertes par SMS.".into(),
            ));
        }
        match number {
            Some(number) if errors.is_empty() => Ok(number),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-15 12:00 UTC = 13:00 in Paris.
    const NOW: i64 = 1_768_478_400_000;

    fn filled() -> AlertForm {
        AlertForm {
            category: "eau-energie".into(),
            severity: "urgence".into(),
            zone: "  Rue de Rivoli  ".into(),
            title: "  Coupure d'eau ".into(),
            message: "Réparation d'une canalisation.\r\nMerci de votre compréhension.".into(),
            expires_at: "2026-01-15T18:00".into(),
            channels: vec!["app".into(), "sms".into()],
        }
    }

    fn fields(form: &AlertForm) -> Vec<&'static str> {
        form.validate(NOW)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn accepts_a_complete_form() {
        let alert = filled().validate(NOW);
        let Ok(alert) = alert else {
            panic!("refused: {alert:?}");
        };
        assert_eq!(alert.category, Category::Utilities);
        assert_eq!(alert.severity, Severity::Emergency);
        assert_eq!(alert.zone, "Rue de Rivoli");
        assert_eq!(alert.title, "Coupure d'eau");
        assert_eq!(
            alert.message,
            "Réparation d'une canalisation.\nMerci de votre compréhension."
        );
        // 18:00 in Paris in winter = 17:00 UTC, five hours after NOW.
        assert_eq!(alert.expires_at, NOW + 5 * time::HOUR_MS);
        assert_eq!(
            alert.channels,
            Channels {
                in_app: true,
                email: false,
                sms: true,
                push: false,
            }
        );
    }

    #[test]
    fn blank_form_needs_category_title_and_message() {
        let form = AlertForm::blank(NOW);
        assert_eq!(fields(&form), vec!["category", "title", "message"]);
        assert!(form.has_channel(CHANNEL_EMAIL) && !form.has_channel(CHANNEL_SMS));
    }

    #[test]
    fn choices_must_be_known_values() {
        let mut form = filled();
        form.category = "Météo".into();
        form.severity = "rouge".into();
        assert_eq!(fields(&form), vec!["category", "severity"]);
    }

    #[test]
    fn texts_are_required_and_bounded() {
        let mut form = filled();
        form.title = "é".repeat(TITLE_MAX);
        form.message = "é".repeat(MESSAGE_MAX);
        form.zone = "é".repeat(ZONE_MAX);
        assert!(fields(&form).is_empty());
        form.title.push('!');
        form.message.push('!');
        form.zone.push('!');
        assert_eq!(fields(&form), vec!["zone", "title", "message"]);
        form.title = "   ".into();
        form.message = "\r\n".into();
        form.zone = String::new();
        assert_eq!(fields(&form), vec!["title", "message"]);
        // A CRLF counts as one character.
        form.title = "T".into();
        form.message = "a\r\n".repeat(MESSAGE_MAX / 2);
        assert!(fields(&form).is_empty());
    }

    #[test]
    fn expiry_is_in_the_future_and_within_thirty_days() {
        let mut form = filled();
        for bad in ["", "demain", "2026-01-15T12:59", "2026-01-15T13:00"] {
            form.expires_at = bad.into();
            assert_eq!(fields(&form), vec!["expires_at"], "{bad}");
        }
        form.expires_at = "2026-02-14T13:00".into();
        assert!(fields(&form).is_empty(), "exactly 30 days");
        form.expires_at = "2026-02-14T13:01".into();
        assert_eq!(fields(&form), vec!["expires_at"]);
    }

    #[test]
    fn at_least_one_known_channel() {
        let mut form = filled();
        form.channels = Vec::new();
        assert_eq!(fields(&form), vec!["channels"]);
        form.channels = vec!["app".into(), "fax".into()];
        assert_eq!(fields(&form), vec!["channels"]);
        form.channels = vec!["email".into()];
        assert!(fields(&form).is_empty());
    }

    #[test]
    fn sms_form_needs_a_mobile_number_and_consent() {
        let form = SmsForm {
            phone: "06 12 34 56 78".into(),
            consent: true,
        };
        assert_eq!(form.validate().as_deref(), Ok("+33612345678"));
        let fields = |form: SmsForm| -> Vec<&str> {
            form.validate()
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|(f, _)| f)
                .collect()
        };
        assert_eq!(
            fields(SmsForm {
                phone: "01 23 45 67 89".into(),
                consent: true
            }),
            vec!["phone"]
        );
        assert_eq!(
            fields(SmsForm {
                phone: "06 12 34 56 78".into(),
                consent: false
            }),
            vec!["consent"]
        );
        assert_eq!(fields(SmsForm::default()), vec!["phone", "consent"]);
    }
}
