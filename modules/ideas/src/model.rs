//! An idea, its statuses, its comments and the commune's themes. Plain Rust, no host calls:
//! unit-tested on the host target.

use parvis_module_sdk::text::{code_of, setting_list};
use serde::{Deserialize, Serialize};

pub use parvis_module_sdk::media::Photo;
pub use parvis_module_sdk::text::parse_number;

/// Where an idea stands. Only the town hall moves it from [`Status::Proposee`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Proposed: open to support and comments, not yet answered.
    Proposee,
    /// The town hall is looking into it.
    AEtude,
    /// The town hall will carry it out (often through a commitment).
    Retenue,
    /// Done.
    Realisee,
    /// Not something the commune will do (with the reason).
    NonRetenue,
}

impl Status {
    /// Every status, in the order of an idea's life.
    pub const ALL: [Status; 5] = [
        Status::Proposee,
        Status::AEtude,
        Status::Retenue,
        Status::Realisee,
        Status::NonRetenue,
    ];

    /// The value in forms, URLs and indexes.
    pub fn value(self) -> &'static str {
        match self {
            Status::Proposee => "proposee",
            Status::AEtude => "a-l-etude",
            Status::Retenue => "retenue",
            Status::Realisee => "realisee",
            Status::NonRetenue => "non-retenue",
        }
    }

    /// The status as a citizen reads it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Proposee => "Proposée",
            Status::AEtude => "À l'étude",
            Status::Retenue => "Retenue",
            Status::Realisee => "Réalisée",
            Status::NonRetenue => "Non retenue",
        }
    }

    /// The ideas with this status, in a figure's label.
    pub fn plural(self) -> &'static str {
        match self {
            Status::Proposee => "Proposées",
            Status::AEtude => "À l'étude",
            Status::Retenue => "Retenues",
            Status::Realisee => "Réalisées",
            Status::NonRetenue => "Non retenues",
        }
    }

    /// What happened, for the timeline and the notifications.
    pub fn event(self) -> &'static str {
        match self {
            Status::Proposee => "Idée proposée",
            Status::AEtude => "Mise à l'étude par la mairie",
            Status::Retenue => "Retenue par la mairie",
            Status::Realisee => "Réalisée",
            Status::NonRetenue => "Non retenue par la mairie",
        }
    }

    /// The status of this form or URL value.
    pub fn parse(value: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.value() == value)
    }

    /// Still open to support and comments: not answered for good.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Proposee | Status::AEtude | Status::Retenue)
    }
}

/// One step of an idea's public timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Unix milliseconds.
    pub at: i64,
    pub status: Status,
    /// The town hall's public reply (the reason when not retained), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

/// The commitment that carries an idea out: a page of this commune's site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    pub title: String,
    /// A path of the site (`/m/commitments/3`), checked when the staff set it.
    pub path: String,
}

/// An idea as stored (key: its number on 8 digits, so keys sort by number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Idea {
    /// Its number in the commune (« n° 12 »), from 1.
    pub number: u64,
    pub title: String,
    pub text: String,
    /// The theme's code (see [`Theme::code`]).
    pub theme: String,
    /// The theme's name when it was proposed (a theme renamed later keeps its ideas).
    pub theme_label: String,
    /// Where it would happen, if placed on the map (also stored as the document's place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<(f64, f64)>,
    /// The neighbourhood it concerns, by id: the one its place lay in when proposed, or the
    /// one chosen without a place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbourhood: Option<String>,
    /// The author's account; none once that account was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The author's name, shown to the public only when [`Idea::public_name`].
    #[serde(default)]
    pub author_name: String,
    #[serde(default)]
    pub public_name: bool,
    pub status: Status,
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<Photo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<Commitment>,
    /// How many people support it (the author not counted), kept with each support.
    #[serde(default)]
    pub supporters: u64,
    /// How many comments it has, kept with each comment.
    #[serde(default)]
    pub comments: u64,
}

impl Idea {
    /// Its storage key: the number on 8 digits.
    pub fn key(number: u64) -> String {
        format!("{number:08}")
    }

    /// When it was proposed (Unix milliseconds).
    pub fn proposed_at(&self) -> i64 {
        self.steps.first().map_or(0, |s| s.at)
    }

    /// The name the public reads.
    pub fn public_author(&self) -> &str {
        if self.public_name && !self.author_name.is_empty() {
            &self.author_name
        } else {
            "Un habitant"
        }
    }
}

/// A comment on an idea (key: the idea's key, `:`, then the time and an id, so an idea's
/// comments list in order under its prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub idea: u64,
    /// Its author's account; none once that account was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub name: String,
    pub text: String,
    pub at: i64,
    /// Whether a staff member of the town hall wrote it.
    #[serde(default)]
    pub staff: bool,
}

/// A theme of the commune's ideas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub label: String,
}

/// The themes a commune starts with.
pub const DEFAULT_THEMES: &str = "Cadre de vie; Mobilités; Environnement et nature; \
     Culture et patrimoine; Sport et loisirs; Solidarité; Jeunesse et éducation; \
     Commerce et vie locale; Numérique; Autre";

/// Most characters of a theme's name.
pub const THEME_MAX: usize = 60;
/// Most themes a commune lists.
pub const MAX_THEMES: usize = 30;

impl Theme {
    /// The setting's list: names separated by `;` or new lines; blank entries skipped, names
    /// cut to [`THEME_MAX`], the first of two with the same code kept, at most [`MAX_THEMES`].
    /// An empty setting gives [`DEFAULT_THEMES`].
    pub fn parse_list(setting: &str) -> Vec<Theme> {
        setting_list(setting, DEFAULT_THEMES, THEME_MAX, MAX_THEMES)
            .into_iter()
            .map(|(label, _)| Theme { label })
            .collect()
    }

    /// Its code in URLs and indexes (« Cadre de vie » → `cadre-de-vie`).
    pub fn code(&self) -> String {
        code_of(&self.label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_come_from_the_setting_or_the_defaults() {
        let defaults = Theme::parse_list("");
        assert_eq!(defaults.len(), 10);
        assert_eq!(defaults[0].code(), "cadre-de-vie");
        let own = Theme::parse_list("Vélo ; vélo;\n;Écoles");
        assert_eq!(
            own.iter().map(Theme::code).collect::<Vec<_>>(),
            ["velo", "ecoles"]
        );
        let many = (0..50).map(|i| format!("Thème {i}")).collect::<Vec<_>>();
        assert_eq!(Theme::parse_list(&many.join(";")).len(), MAX_THEMES);
    }

    #[test]
    fn statuses_read_back_from_their_values() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.value()), Some(s));
        }
        assert_eq!(Status::parse("retenu"), None);
        assert!(Status::Retenue.is_open() && !Status::NonRetenue.is_open());
    }
}
