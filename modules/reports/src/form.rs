//! The citizen's report form and the staff's status form: raw fields, validation. Plain Rust,
//! no host calls (whether the point lies in the commune is asked of the host by the service).

use crate::model::{Answer, Category, Status};
use parvis_module_sdk::Request;
use parvis_module_sdk::store::Point;

/// A French message attached to a field (by its `name`).
pub use parvis_module_sdk::html::FieldError;

pub const DESCRIPTION_MIN: usize = 10;
pub const DESCRIPTION_MAX: usize = 2_000;
pub const ADDRESS_MAX: usize = 200;
pub const REPLY_MAX: usize = 2_000;
pub const NOTE_MAX: usize = 2_000;
pub const ALT_MAX: usize = 200;

/// The report form as typed, kept to re-render it with its errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportForm {
    pub category: String,
    pub description: String,
    pub address: String,
    pub lat: String,
    pub lon: String,
    pub public_name: bool,
    /// The reporter saw the nearby reports and said theirs is another problem.
    pub confirmed: bool,
    /// What the photos show, for who cannot see them.
    pub photo_alt: String,
    /// The answers to the categories' questions as posted, by field name
    /// ([`question_field`]).
    pub answers: Vec<(String, String)>,
}

/// The most answer fields read from a form (the questions of every category are on the page).
pub const MAX_ANSWER_FIELDS: usize = 200;

/// The form field of a category's question: `q-<category>-<question>`.
pub fn question_field(category: &Category, question: &crate::model::Question) -> String {
    format!("q-{}-{}", category.code(), question.code())
}

/// A valid report to send.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub category: Category,
    pub description: String,
    pub address: Option<String>,
    pub at: Option<Point>,
    pub public_name: bool,
    /// What the photos show (empty: the host's upload said nothing).
    pub photo_alt: String,
    /// The category's questions answered.
    pub answers: Vec<Answer>,
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

impl ReportForm {
    /// The posted form.
    pub fn from_request(req: &Request) -> Self {
        let field = |name| req.form_value(name).unwrap_or_default().to_owned();
        Self {
            category: field("categorie"),
            description: field("description"),
            address: field("adresse"),
            lat: field("lat"),
            lon: field("lon"),
            public_name: req.form_value("nom_public").is_some(),
            confirmed: req.form_value("confirme") == Some("1"),
            photo_alt: field("photo_alt"),
            answers: req
                .form
                .iter()
                .filter(|f| f.name.starts_with("q-"))
                .take(MAX_ANSWER_FIELDS)
                .map(|f| (f.name.clone(), f.value.clone()))
                .collect(),
        }
    }

    /// The answer posted in field `name`, if any.
    pub fn answer(&self, name: &str) -> &str {
        self.answers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The report, or the French message of each refused field. `lieu` names the place's
    /// fieldset (the map and the address).
    pub fn validate(&self, categories: &[Category]) -> Result<NewReport, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        let category = categories
            .iter()
            .find(|c| c.code() == self.category)
            .cloned();
        if category.is_none() {
            errors.push((
                "categorie",
                "Choisissez une catégorie dans la liste.".to_string(),
            ));
        }
        let description = self.description.trim();
        if chars(description) < DESCRIPTION_MIN {
            errors.push((
                "description",
                format!(
                    "Décrivez le problème en quelques mots ({DESCRIPTION_MIN} caractères au moins)."
                ),
            ));
        } else if chars(description) > DESCRIPTION_MAX {
            errors.push((
                "description",
                "La description est trop longue (2\u{a0}000 caractères au plus).".to_string(),
            ));
        }
        let address = self.address.trim();
        if chars(self.photo_alt.trim()) > ALT_MAX {
            errors.push((
                "photo_alt",
                format!(
                    "La description des photos est trop longue ({ALT_MAX} caractères au plus)."
                ),
            ));
        }
        if chars(address) > ADDRESS_MAX {
            errors.push((
                "adresse",
                format!("L'adresse est trop longue ({ADDRESS_MAX} caractères au plus)."),
            ));
        }
        let at = match parvis_module_sdk::store::point_from_form(&self.lat, &self.lon) {
            Ok(at) => at,
            Err(e) => {
                errors.push(("lieu", e.to_string()));
                None
            }
        };
        if at.is_none() && address.is_empty() && !errors.iter().any(|(f, _)| *f == "lieu") {
            errors.push((
                "lieu",
                "Indiquez le lieu\u{a0}: touchez la carte, ou écrivez une adresse ou un repère."
                    .to_string(),
            ));
        }
        let mut answers = Vec::new();
        for question in category.iter().flat_map(|c| &c.questions) {
            let name = category
                .as_ref()
                .map(|c| question_field(c, question))
                .unwrap_or_default();
            match question.answer(self.answer(&name)) {
                Ok(Some(answer)) => answers.push(answer),
                Ok(None) => {}
                Err(message) => errors.push(("questions", message)),
            }
        }
        match category {
            Some(category) if errors.is_empty() => Ok(NewReport {
                category,
                description: description.to_string(),
                address: (!address.is_empty()).then(|| address.to_string()),
                at,
                public_name: self.public_name,
                photo_alt: self.photo_alt.trim().to_string(),
                answers,
            }),
            _ => Err(errors),
        }
    }
}

/// The staff's change of status, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub status: Status,
    pub reply: Option<String>,
    pub duplicate_of: Option<u64>,
    pub service: Option<String>,
}

/// Reads the status form: `statut`, `reponse` (public), `doublon_de` (a number), `service`.
/// Not retained needs a reason; a duplicate needs the other report's number.
pub fn status_change(req: &Request, services: &[&str]) -> Result<StatusChange, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let status = Status::parse(req.form_value("statut").unwrap_or_default());
    if status.is_none() {
        errors.push(("statut", "Choisissez un statut.".to_string()));
    }
    let reply = req.form_value("reponse").unwrap_or_default().trim();
    if chars(reply) > REPLY_MAX {
        errors.push((
            "reponse",
            "La réponse est trop longue (2\u{a0}000 caractères au plus).".to_string(),
        ));
    }
    if status == Some(Status::NonRetenu) && reply.is_empty() {
        errors.push((
            "reponse",
            "Dites pourquoi ce signalement n'est pas retenu\u{a0}: la réponse est publique."
                .to_string(),
        ));
    }
    let duplicate_raw = req.form_value("doublon_de").unwrap_or_default().trim();
    let duplicate_of = crate::model::parse_number(duplicate_raw.trim_start_matches("n°").trim());
    if status == Some(Status::Doublon) && duplicate_of.is_none() {
        errors.push((
            "doublon_de",
            "Indiquez le numéro du signalement qui décrit déjà ce problème.".to_string(),
        ));
    }
    let service = req
        .form_value("service")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(service) = service
        && !services.contains(&service)
    {
        errors.push(("service", "Choisissez un service de la liste.".to_string()));
    }
    match status {
        Some(status) if errors.is_empty() => Ok(StatusChange {
            status,
            reply: (!reply.is_empty()).then(|| reply.to_string()),
            duplicate_of: duplicate_of.filter(|_| status == Status::Doublon),
            service: service.map(str::to_string),
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(category: &str, description: &str, lat: &str, lon: &str, address: &str) -> ReportForm {
        ReportForm {
            category: category.into(),
            description: description.into(),
            lat: lat.into(),
            lon: lon.into(),
            address: address.into(),
            ..ReportForm::default()
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&'static str> {
        errors.iter().map(|(f, _)| *f).collect()
    }

    #[test]
    fn a_report_needs_a_category_a_description_and_a_place() {
        let list = Category::parse_list("");
        let ok = form(
            "eclairage-public",
            "  Le lampadaire est éteint depuis trois jours.  ",
            "48,8566",
            "2.3522",
            "",
        )
        .validate(&list);
        let ok = ok.map_err(|e| fields(&e));
        assert!(ok.is_ok(), "{ok:?}");
        if let Ok(report) = ok {
            assert_eq!(
                report.description,
                "Le lampadaire est éteint depuis trois jours."
            );
            assert_eq!(report.at.map(|p| (p.lat, p.lon)), Some((48.8566, 2.3522)));
            assert_eq!(report.address, None);
        }
        let address_only = form(
            "voirie",
            "Un trou dans la chaussée.",
            "",
            "",
            "Place de la Mairie",
        );
        assert!(address_only.validate(&list).is_ok());

        let bad = form("inconnue", "court", "", "", "").validate(&list);
        assert_eq!(
            bad.map_err(|e| fields(&e)).err(),
            Some(vec!["categorie", "description", "lieu"])
        );
        let far = form("voirie", "Un trou dans la chaussée.", "91", "2", "").validate(&list);
        assert_eq!(far.map_err(|e| fields(&e)).err(), Some(vec!["lieu"]));
        let half = form("voirie", "Un trou dans la chaussée.", "48.8", "", "x").validate(&list);
        assert_eq!(half.map_err(|e| fields(&e)).err(), Some(vec!["lieu"]));
        let long = form("voirie", &"x".repeat(2_001), "", "", &"y".repeat(201)).validate(&list);
        assert_eq!(
            long.map_err(|e| fields(&e)).err(),
            Some(vec!["description", "adresse"])
        );
    }

    #[test]
    fn staff_give_reasons() {
        let req = |status: &str, reply: &str, dup: &str| {
            Request::new("POST", "/1/statut")
                .with_form("statut", status)
                .with_form("reponse", reply)
                .with_form("doublon_de", dup)
        };
        let services = ["Voirie"];
        assert!(status_change(&req("resolu", "", ""), &services).is_ok());
        let refused = status_change(&req("non-retenu", "", ""), &services);
        assert_eq!(refused.map_err(|e| fields(&e)).err(), Some(vec!["reponse"]));
        let dup = status_change(&req("doublon", "", "n° 12"), &services);
        assert_eq!(dup.ok().and_then(|c| c.duplicate_of), Some(12));
        let dup = status_change(&req("doublon", "", "douze"), &services);
        assert_eq!(dup.map_err(|e| fields(&e)).err(), Some(vec!["doublon_de"]));
        assert!(status_change(&req("ouvert", "", ""), &services).is_err());
        let other = req("en-cours", "", "").with_form("service", "Cuisine");
        assert!(status_change(&other, &services).is_err());
    }
}
