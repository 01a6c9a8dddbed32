//! A report (signalement), its statuses and the commune's categories. Plain Rust, no host
//! calls: unit-tested on the host target.

use serde::{Deserialize, Serialize};

/// Where a report stands. The first three are « open »: the problem is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Just sent: nobody at the town hall has read it yet.
    Nouveau,
    /// Read and accepted by the town hall.
    PrisEnCompte,
    /// Someone is working on it.
    EnCours,
    /// Fixed.
    Resolu,
    /// Not something the commune will do (with the reason).
    NonRetenu,
    /// Already reported (with the other report's number).
    Doublon,
}

impl Status {
    /// Every status, in the order of a report's life.
    pub const ALL: [Status; 6] = [
        Status::Nouveau,
        Status::PrisEnCompte,
        Status::EnCours,
        Status::Resolu,
        Status::NonRetenu,
        Status::Doublon,
    ];

    /// The value in forms, URLs and indexes.
    pub fn value(self) -> &'static str {
        match self {
            Status::Nouveau => "nouveau",
            Status::PrisEnCompte => "pris-en-compte",
            Status::EnCours => "en-cours",
            Status::Resolu => "resolu",
            Status::NonRetenu => "non-retenu",
            Status::Doublon => "doublon",
        }
    }

    /// The status as a citizen reads it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Nouveau => "Nouveau",
            Status::PrisEnCompte => "Pris en compte",
            Status::EnCours => "En cours",
            Status::Resolu => "Résolu",
            Status::NonRetenu => "Non retenu",
            Status::Doublon => "Doublon",
        }
    }

    /// What happened, for the timeline and the notifications.
    pub fn event(self) -> &'static str {
        match self {
            Status::Nouveau => "Signalement envoyé",
            Status::PrisEnCompte => "Pris en compte par la mairie",
            Status::EnCours => "Intervention en cours",
            Status::Resolu => "Problème résolu",
            Status::NonRetenu => "Non retenu",
            Status::Doublon => "Fusionné avec un autre signalement",
        }
    }

    /// The status of this form or URL value.
    pub fn parse(value: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.value() == value)
    }

    /// Still to be dealt with.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Nouveau | Status::PrisEnCompte | Status::EnCours
        )
    }

    /// `ouvert` or `clos`: the `etat` index and the public filter.
    pub fn state(self) -> &'static str {
        if self.is_open() { OPEN } else { CLOSED }
    }
}

/// The `etat` of an open report.
pub const OPEN: &str = "ouvert";
/// The `etat` of a closed one.
pub const CLOSED: &str = "clos";

pub use parvis_module_sdk::media::Photo;

/// Most photos a report carries.
pub const MAX_PHOTOS: usize = 3;

/// One step of a report's public timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Unix milliseconds.
    pub at: i64,
    pub status: Status,
    /// The town hall's public reply (the reason when not retained), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// A photo the town hall added (« après »).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<Photo>,
}

/// A report as stored (key: its number on 8 digits, so keys sort by number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Its number in the commune (« n° 42 »), from 1.
    pub number: u64,
    /// The category's code (see [`Category::code`]).
    pub category: String,
    /// The category's name when it was sent (a category renamed later keeps its reports).
    pub category_label: String,
    /// The service it is assigned to (the category's, or another one the staff chose).
    #[serde(default)]
    pub service: String,
    pub description: String,
    /// The address or landmark the reporter typed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Where it is, if placed on the map (also stored as the document's place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<(f64, f64)>,
    /// The reporter's account; none once that account was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The reporter's name (staff always see it; the public only if `public_name`).
    pub author_name: String,
    pub public_name: bool,
    pub status: Status,
    /// For a duplicate: the number of the report it was merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<u64>,
    /// The public timeline, oldest first (the first step is its sending).
    pub steps: Vec<Step>,
    /// The reporter's photos.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<Photo>,
    /// The member of the town hall's staff who took it on, if any (staff only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
    /// The category's questions answered when it was sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
}

/// A staff member a report is assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub account: String,
    /// Their name when they took it on.
    pub name: String,
}

impl Report {
    /// The storage key of report `number`.
    pub fn key(number: u64) -> String {
        format!("{number:08}")
    }

    /// The name the public sees.
    pub fn public_author(&self) -> &str {
        if self.public_name && self.author.is_some() {
            &self.author_name
        } else {
            "Un habitant"
        }
    }

    /// When it was sent (Unix milliseconds).
    pub fn sent_at(&self) -> i64 {
        self.steps.first().map_or(0, |s| s.at)
    }

    /// When it last changed (Unix milliseconds).
    pub fn changed_at(&self) -> i64 {
        self.steps.last().map_or(0, |s| s.at)
    }

    /// A short title: « Éclairage public, rue de la Paix ».
    pub fn title(&self) -> String {
        match &self.address {
            Some(address) => format!("{}, {}", self.category_label, address),
            None => self.category_label.clone(),
        }
    }
}

/// A category of the commune's list: its name, the service it goes to, and the questions a
/// report of it asks besides its place and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub label: String,
    pub service: String,
    pub questions: Vec<Question>,
}

/// A question a category asks (« Numéro du candélabre »), Open311's service attribute: free
/// text, or one of a list of choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub label: String,
    /// The choices; empty for a free answer (at most [`ANSWER_MAX`] characters).
    pub choices: Vec<String>,
    pub required: bool,
}

/// The questions a commune starts with: useful to the service that answers, never required.
pub const DEFAULT_QUESTIONS: &str = "Éclairage public : Numéro du lampadaire (inscrit sur le mât) ; \
Éclairage public : Ce que fait la lampe = Éteinte | Clignote | Allumée le jour ; \
Dépôt sauvage : Volume = Un sac | Quelques objets | Un tas encombrant";

/// At most this many questions per category.
pub const MAX_QUESTIONS: usize = 5;
/// The longest question or choice kept.
pub const QUESTION_MAX: usize = 80;
/// At most this many choices per question.
pub const MAX_CHOICES: usize = 12;
/// The longest free answer.
pub const ANSWER_MAX: usize = 200;

impl Question {
    /// Its code in forms and in Open311 (`numero-du-lampadaire-inscrit-sur-le-mat`).
    pub fn code(&self) -> String {
        code_of(&self.label)
    }

    /// The choice `key` names (a choice's code, as Open311 gives it, or the choice itself).
    pub fn choice(&self, key: &str) -> Option<&str> {
        self.choices
            .iter()
            .find(|c| c.as_str() == key || code_of(c) == key)
            .map(String::as_str)
    }

    /// The answer `raw` given to it, checked: `Ok(None)` when left blank and not required.
    pub fn answer(&self, raw: &str) -> Result<Option<Answer>, String> {
        let raw = raw.trim();
        let value = if raw.is_empty() {
            if self.required {
                return Err(format!("Répondez à «\u{a0}{}\u{a0}».", self.label));
            }
            return Ok(None);
        } else if self.choices.is_empty() {
            if raw.chars().count() > ANSWER_MAX {
                return Err(format!(
                    "La réponse à «\u{a0}{}\u{a0}» est trop longue ({ANSWER_MAX} caractères au plus).",
                    self.label
                ));
            }
            raw.to_string()
        } else {
            match self.choice(raw) {
                Some(c) => c.to_string(),
                None => {
                    return Err(format!(
                        "Pour «\u{a0}{}\u{a0}», choisissez parmi\u{a0}: {}.",
                        self.label,
                        self.choices.join(", ")
                    ));
                }
            }
        };
        Ok(Some(Answer {
            question: self.label.clone(),
            value,
        }))
    }
}

/// A question answered in a report (kept with its wording of the day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub question: String,
    pub value: String,
}

/// The categories a commune starts with (its admins change them in the module's settings):
/// what municipal apps and FixMyStreet offer, each routed to the usual service.
pub const DEFAULT_CATEGORIES: &str = "Voirie > Services techniques ; \
Propreté > Propreté urbaine ; Dépôt sauvage > Propreté urbaine ; \
Éclairage public > Services techniques ; Espaces verts > Espaces verts ; \
Eau et assainissement > Eau et assainissement ; Stationnement > Police municipale ; \
Mobilier urbain > Services techniques ; Graffitis > Propreté urbaine ; \
Bruit > Police municipale ; Autre > Accueil de la mairie";

/// At most this many categories are read from the settings.
pub const MAX_CATEGORIES: usize = 40;
/// The longest category or service name kept.
pub const NAME_MAX: usize = 60;

/// The service of a category whose setting names none.
pub const DEFAULT_SERVICE: &str = "Accueil de la mairie";

impl Category {
    /// The setting's list: entries separated by `;` or new lines, each `Nom` or
    /// `Nom > Service`; blank entries skipped, names cut to [`NAME_MAX`], the first of two
    /// entries with the same code kept, at most [`MAX_CATEGORIES`]. An empty setting gives
    /// [`DEFAULT_CATEGORIES`].
    pub fn parse_list(setting: &str) -> Vec<Category> {
        setting_list(setting, DEFAULT_CATEGORIES, NAME_MAX, MAX_CATEGORIES)
            .into_iter()
            .map(|(label, service)| Category {
                label,
                service: if service.is_empty() {
                    DEFAULT_SERVICE.to_string()
                } else {
                    service
                },
                questions: Vec::new(),
            })
            .collect()
    }

    /// The categories of the two settings: [`Category::parse_list`], each with its questions
    /// from `questions`: entries separated by `;` or new lines, each `Catégorie : Question`,
    /// then `= choix | choix` for a list of choices, and a final `*` if an answer is required.
    /// An entry naming no category of the list, or a question already asked, is skipped; an
    /// empty setting gives [`DEFAULT_QUESTIONS`] (for the categories that exist).
    pub fn parse_with_questions(categories: &str, questions: &str) -> Vec<Category> {
        let mut list = Category::parse_list(categories);
        let questions = if questions.trim().is_empty() {
            DEFAULT_QUESTIONS
        } else {
            questions
        };
        for entry in questions.split([';', '\n']) {
            let Some((category, rest)) = entry.split_once(':') else {
                continue;
            };
            let code = code_of(category.trim());
            let Some(category) = list.iter_mut().find(|c| c.code() == code) else {
                continue;
            };
            let rest = rest.trim();
            let (rest, required) = match rest.strip_suffix('*') {
                Some(r) => (r.trim_end(), true),
                None => (rest, false),
            };
            let (label, choices) = rest.split_once('=').unwrap_or((rest, ""));
            let label = clip(label.trim(), QUESTION_MAX);
            let mut kept: Vec<String> = Vec::new();
            for choice in choices.split('|') {
                let choice = clip(choice.trim(), QUESTION_MAX);
                if !code_of(&choice).is_empty()
                    && !kept.iter().any(|k| code_of(k) == code_of(&choice))
                    && kept.len() < MAX_CHOICES
                {
                    kept.push(choice);
                }
            }
            if code_of(&label).is_empty()
                || category.questions.len() == MAX_QUESTIONS
                || category
                    .questions
                    .iter()
                    .any(|q| q.code() == code_of(&label))
            {
                continue;
            }
            category.questions.push(Question {
                label,
                choices: kept,
                required,
            });
        }
        list
    }

    /// Its code in URLs and indexes: the name in lower-case ASCII, words joined by dashes
    /// (« Éclairage public » → `eclairage-public`).
    pub fn code(&self) -> String {
        code_of(&self.label)
    }
}

/// The distinct services of a category list, in order.
pub fn services(categories: &[Category]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in categories {
        if !out.contains(&c.service.as_str()) {
            out.push(&c.service);
        }
    }
    out
}

use parvis_module_sdk::text::{clip, setting_list};
pub use parvis_module_sdk::text::{code_of, parse_number};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_ask_their_questions() {
        let list = Category::parse_with_questions("", "");
        let light = &list[3];
        assert_eq!(light.questions.len(), 2);
        assert_eq!(
            light.questions[1].choices,
            ["Éteinte", "Clignote", "Allumée le jour"]
        );
        assert!(list[0].questions.is_empty());
        let list = Category::parse_with_questions(
            "Voirie ; Arbres",
            "voirie : Profondeur du trou = Petit | Moyen | Grand | moyen * ; \
             Inconnue : Perdue ; Arbres : Essence ; Arbres: essence ; Arbres : = a | b",
        );
        let hole = &list[0].questions[0];
        assert_eq!((hole.choices.len(), hole.required), (3, true));
        assert_eq!(list[1].questions.len(), 1, "{:?}", list[1].questions);
        assert_eq!(hole.choice("grand"), Some("Grand"));
        assert_eq!(
            hole.answer("Moyen").ok().flatten().map(|a| a.value),
            Some("Moyen".into())
        );
        assert!(
            hole.answer("Immense")
                .is_err_and(|e| e.contains("Petit, Moyen, Grand"))
        );
        assert!(hole.answer("  ").is_err_and(|e| e.contains("Répondez")));
        let species = &list[1].questions[0];
        assert_eq!(species.answer("").ok(), Some(None));
        assert!(species.answer(&"x".repeat(ANSWER_MAX + 1)).is_err());
    }

    #[test]
    fn the_default_list_routes_each_category() {
        let list = Category::parse_list("");
        assert_eq!(list.len(), 11);
        assert_eq!(list[3].label, "Éclairage public");
        assert_eq!(list[3].code(), "eclairage-public");
        assert_eq!(list[3].service, "Services techniques");
        assert_eq!(list[2].code(), "depot-sauvage");
        assert_eq!(services(&list).len(), 6);
    }

    #[test]
    fn a_commune_writes_its_own_list() {
        let list = Category::parse_list(
            "Nids-de-poule > Voirie\n  ; Arbres   ;; Éclairage public > Services techniques ; \
             eclairage PUBLIC ; !!! ; Œuvres d'art",
        );
        let codes: Vec<String> = list.iter().map(Category::code).collect();
        assert_eq!(
            codes,
            [
                "nids-de-poule",
                "arbres",
                "eclairage-public",
                "oeuvres-d-art"
            ]
        );
        assert_eq!(list[1].service, DEFAULT_SERVICE);
        let long = format!("{} ; b", "x".repeat(200));
        assert_eq!(
            Category::parse_list(&long)[0].label.chars().count(),
            NAME_MAX
        );
        let many: Vec<String> = (0..100).map(|n| format!("c{n}")).collect();
        assert_eq!(Category::parse_list(&many.join(";")).len(), MAX_CATEGORIES);
    }

    #[test]
    fn statuses_read_back() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.value()), Some(s));
        }
        assert_eq!(Status::parse("ouvert"), None);
        assert!(Status::EnCours.is_open() && !Status::Doublon.is_open());
    }

    #[test]
    fn numbers_in_urls() {
        assert_eq!(parse_number("42"), Some(42));
        assert_eq!(parse_number("0"), None);
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number("123456789"), None);
        assert_eq!(parse_number("4a"), None);
        assert_eq!(Report::key(42), "00000042");
    }
}
