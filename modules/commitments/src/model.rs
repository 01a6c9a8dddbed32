//! A commitment (engagement), its statuses, milestones and updates, and the citizens'
//! evaluations. Plain Rust, no host calls: unit-tested on the host target.

use serde::{Deserialize, Serialize};

pub use parvis_module_sdk::text::parse_number;

/// Where a commitment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Announced, not started.
    Prevu,
    /// Under way.
    EnCours,
    /// Done.
    Realise,
    /// Given up (with the reason).
    Abandonne,
}

impl Status {
    /// Every status, in the order of a commitment's life.
    pub const ALL: [Status; 4] = [
        Status::Prevu,
        Status::EnCours,
        Status::Realise,
        Status::Abandonne,
    ];

    /// The value in forms, URLs and indexes.
    pub fn value(self) -> &'static str {
        match self {
            Status::Prevu => "prevu",
            Status::EnCours => "en-cours",
            Status::Realise => "realise",
            Status::Abandonne => "abandonne",
        }
    }

    /// The status as a citizen reads it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Prevu => "Prévu",
            Status::EnCours => "En cours",
            Status::Realise => "Réalisé",
            Status::Abandonne => "Abandonné",
        }
    }

    /// The commitments with this status, in a figure's label.
    pub fn plural(self) -> &'static str {
        match self {
            Status::Prevu => "Prévus",
            Status::EnCours => "En cours",
            Status::Realise => "Réalisés",
            Status::Abandonne => "Abandonnés",
        }
    }

    /// The status of this form or URL value.
    pub fn parse(value: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.value() == value)
    }
}

/// A dated step of a commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    /// The day, as Unix seconds at noon, Paris time.
    pub on: i64,
    pub label: String,
    #[serde(default)]
    pub done: bool,
}

/// A document about a commitment: a page or a file, by its address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub title: String,
    pub url: String,
}

/// One update of a commitment, as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// Unix milliseconds.
    pub at: i64,
    pub text: String,
    pub status: Status,
    pub progress: u8,
}

/// Who carries a commitment: an official, or the commune itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bearer {
    /// The name shown (« Marie Exemple, adjointe aux mobilités », « La commune »).
    pub name: String,
    /// The official's account, when an official published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl Bearer {
    /// Its code in URLs and indexes (its « bilan » page).
    pub fn code(&self) -> String {
        parvis_module_sdk::text::code_of(&self.name)
    }
}

/// How many gave each note (1 to 5), all of them and the verified residents apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub all: [u64; 5],
    pub residents: [u64; 5],
}

impl Tally {
    /// Counts an evaluation in (`sign` 1) or out (-1).
    pub fn count(&mut self, note: u8, resident: bool, add: bool) {
        let i = usize::from(note.clamp(1, 5) - 1);
        let change = |n: &mut u64| *n = if add { *n + 1 } else { n.saturating_sub(1) };
        change(&mut self.all[i]);
        if resident {
            change(&mut self.residents[i]);
        }
    }

    /// How many evaluations in `counts`.
    pub fn total(counts: &[u64; 5]) -> u64 {
        counts.iter().sum()
    }

    /// The mean note of `counts`, if any.
    pub fn mean(counts: &[u64; 5]) -> Option<f64> {
        let total = Self::total(counts);
        let sum: u64 = counts.iter().zip(1..).map(|(n, note)| n * note).sum();
        (total > 0).then(|| sum as f64 / total as f64)
    }
}

/// The fewest evaluations for which a distribution, a mean or a count is shown (for all, and
/// for the verified residents apart): below it, they would tell how one or two people rated,
/// and a handful of notes would be read as the commune's opinion.
pub const MIN_SHOWN: u64 = 5;

/// A commitment as stored (key: its number on 8 digits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commitment {
    pub number: u64,
    pub title: String,
    pub description: String,
    pub theme: String,
    pub bearer: Bearer,
    /// The neighbourhood it concerns, by id (none: the whole commune).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbourhood: Option<String>,
    pub status: Status,
    /// Why it was given up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// 0 to 100.
    pub progress: u8,
    #[serde(default)]
    pub milestones: Vec<Milestone>,
    #[serde(default)]
    pub documents: Vec<Document>,
    #[serde(default)]
    pub updates: Vec<Update>,
    #[serde(default)]
    pub tally: Tally,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl Commitment {
    /// Its storage key: the number on 8 digits.
    pub fn key(number: u64) -> String {
        format!("{number:08}")
    }
}

/// A citizen's evaluation of a commitment (key `<commitment>:<account>`: one per account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub commitment: u64,
    pub account: String,
    pub name: String,
    /// 1 to 5.
    pub note: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// A verified resident when it was given.
    pub resident: bool,
    pub at: i64,
    /// The bearer's answer to the comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
}

/// An answer to an evaluation's comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub by: String,
    pub text: String,
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_count_in_and_out_and_keep_residents_apart() {
        let mut t = Tally::default();
        t.count(5, true, true);
        t.count(3, false, true);
        t.count(9, false, true);
        assert_eq!(t.all, [0, 0, 1, 0, 2]);
        assert_eq!(t.residents, [0, 0, 0, 0, 1]);
        assert_eq!(
            Tally::mean(&t.all).map(|m| (m * 100.0).round()),
            Some(433.0)
        );
        t.count(5, true, false);
        t.count(1, false, false);
        assert_eq!(t.all, [0, 0, 1, 0, 1]);
        assert_eq!(Tally::total(&t.residents), 0);
        assert_eq!(Tally::mean(&[0; 5]), None);
    }

    #[test]
    fn statuses_read_back_from_their_values() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.value()), Some(s));
        }
        assert_eq!(Status::parse("fini"), None);
    }
}
