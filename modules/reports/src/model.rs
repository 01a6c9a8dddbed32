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

/// A category of the commune's list: its name and the service it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub label: String,
    pub service: String,
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
            })
            .collect()
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

use parvis_module_sdk::text::setting_list;
pub use parvis_module_sdk::text::{code_of, parse_number};

#[cfg(test)]
mod tests {
    use super::*;

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
