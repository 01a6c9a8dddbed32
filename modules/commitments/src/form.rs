//! The forms: a commitment (its bearer's or the staff's), an update, an evaluation, an answer.
//! Raw fields and validation; plain Rust, no host calls.

use crate::model::{Document, Milestone, Status};
use parvis_module_sdk::Request;

pub use parvis_module_sdk::html::FieldError;

pub const TITLE_MAX: usize = 160;
pub const DESCRIPTION_MAX: usize = 5_000;
pub const BEARER_MAX: usize = 120;
pub const LINES_MAX: usize = 4_000;
pub const UPDATE_MAX: usize = 2_000;
pub const COMMENT_MAX: usize = 1_000;
/// Most milestones, and most documents, a commitment lists.
pub const MAX_ITEMS: usize = 30;

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The commitment form as typed, kept to re-render it with its errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitmentForm {
    pub title: String,
    pub description: String,
    pub theme: String,
    pub bearer: String,
    pub neighbourhood: String,
    /// One milestone a line: `2027-03-01 ; Travaux`.
    pub milestones: String,
    /// One document a line: `Délibération ; https://…` or `; /m/…`.
    pub documents: String,
}

/// A valid commitment's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommitment {
    pub title: String,
    pub description: String,
    pub theme: String,
    pub bearer: String,
    pub neighbourhood: Option<String>,
    pub milestones: Vec<Milestone>,
    pub documents: Vec<Document>,
}

/// `2027-03-01` as Unix seconds at noon, Paris time.
pub fn day(value: &str) -> Option<i64> {
    let value = value.trim();
    if value.len() != 10 {
        return None;
    }
    parvis_module_sdk::time::parse_local(&format!("{value}T12:00")).ok()
}

/// A document's address: `https://` or a path of this site (no `//`, no space or backslash).
fn address(raw: &str) -> Option<String> {
    let url = raw.trim();
    let clean = !url.is_empty()
        && chars(url) <= 500
        && !url
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    let site = url.starts_with('/') && !url.starts_with("//");
    (clean && (site || url.starts_with("https://"))).then(|| url.to_string())
}

impl CommitmentForm {
    /// The posted form.
    pub fn from_request(req: &Request) -> Self {
        let field = |name| req.form_value(name).unwrap_or_default().to_owned();
        Self {
            title: field("titre"),
            description: field("description"),
            theme: field("theme"),
            bearer: field("porteur"),
            neighbourhood: field("quartier"),
            milestones: field("jalons"),
            documents: field("documents"),
        }
    }

    /// The commitment, or the French message of each refused field (a milestone or a
    /// document named by its line).
    pub fn validate(
        &self,
        themes: &[String],
        neighbourhoods: &[String],
    ) -> Result<NewCommitment, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        let title = self.title.split_whitespace().collect::<Vec<_>>().join(" ");
        if chars(&title) < 5 || chars(&title) > TITLE_MAX {
            errors.push((
                "titre",
                format!("Le titre doit compter de 5 à {TITLE_MAX} caractères."),
            ));
        }
        let description = self.description.trim();
        if chars(description) < 20 || chars(description) > DESCRIPTION_MAX {
            errors.push((
                "description",
                "Décrivez l'engagement (de 20 à 5\u{a0}000 caractères).".to_string(),
            ));
        }
        if !themes.contains(&self.theme) {
            errors.push(("theme", "Choisissez un thème dans la liste.".to_string()));
        }
        let bearer = self.bearer.split_whitespace().collect::<Vec<_>>().join(" ");
        if bearer.is_empty() || chars(&bearer) > BEARER_MAX {
            errors.push((
                "porteur",
                format!("Indiquez qui porte l'engagement ({BEARER_MAX} caractères au plus)."),
            ));
        }
        let neighbourhood = match self.neighbourhood.trim() {
            "" => None,
            id if neighbourhoods.iter().any(|n| n == id) => Some(id.to_string()),
            _ => {
                errors.push((
                    "quartier",
                    "Choisissez un quartier dans la liste.".to_string(),
                ));
                None
            }
        };
        let (milestones, documents) = (
            self.milestone_lines(&mut errors),
            self.document_lines(&mut errors),
        );
        if errors.is_empty() {
            Ok(NewCommitment {
                title,
                description: description.to_string(),
                theme: self.theme.clone(),
                bearer,
                neighbourhood,
                milestones,
                documents,
            })
        } else {
            Err(errors)
        }
    }

    fn milestone_lines(&self, errors: &mut Vec<FieldError>) -> Vec<Milestone> {
        let mut out = Vec::new();
        if chars(&self.milestones) > LINES_MAX {
            errors.push(("jalons", "La liste des étapes est trop longue.".to_string()));
            return out;
        }
        for (i, line) in self.milestones.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (date, label) = line.split_once(';').unwrap_or((line, ""));
            let label = label.trim();
            match day(date) {
                Some(on) if !label.is_empty() && chars(label) <= TITLE_MAX => out.push(Milestone {
                    on,
                    label: label.to_string(),
                    done: false,
                }),
                _ => {
                    errors.push((
                        "jalons",
                        format!(
                            "Étape, ligne {}\u{a0}: écrivez « AAAA-MM-JJ ; ce qui est prévu » (par exemple « 2027-03-01 ; Début des travaux »).",
                            i + 1
                        ),
                    ));
                    return out;
                }
            }
        }
        if out.len() > MAX_ITEMS {
            errors.push(("jalons", format!("{MAX_ITEMS} étapes au plus.")));
        }
        out.sort_by_key(|m| m.on);
        out
    }

    fn document_lines(&self, errors: &mut Vec<FieldError>) -> Vec<Document> {
        let mut out = Vec::new();
        if chars(&self.documents) > LINES_MAX {
            errors.push((
                "documents",
                "La liste des documents est trop longue.".to_string(),
            ));
            return out;
        }
        for (i, line) in self.documents.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (title, url) = line.rsplit_once(';').unwrap_or(("", line));
            let title = title.trim();
            match address(url) {
                Some(url) if !title.is_empty() && chars(title) <= TITLE_MAX => out.push(Document {
                    title: title.to_string(),
                    url,
                }),
                _ => {
                    errors.push((
                        "documents",
                        format!(
                            "Document, ligne {}\u{a0}: écrivez « titre ; adresse », l'adresse commençant par https:// ou par / pour une page de ce site.",
                            i + 1
                        ),
                    ));
                    return out;
                }
            }
        }
        if out.len() > MAX_ITEMS {
            errors.push(("documents", format!("{MAX_ITEMS} documents au plus.")));
        }
        out
    }
}

/// The lines of the milestones' and documents' fields, to fill the form again.
pub fn lines(milestones: &[Milestone], documents: &[Document]) -> (String, String) {
    let m = milestones
        .iter()
        .map(|m| {
            format!(
                "{} ; {}",
                parvis_module_sdk::time::utc_format(m.on, "%Y-%m-%d"),
                m.label
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let d = documents
        .iter()
        .map(|d| format!("{} ; {}", d.title, d.url))
        .collect::<Vec<_>>()
        .join("\n");
    (m, d)
}

/// An update as posted: status, progress, what changed, the reason when given up, and the
/// milestones now done (their indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpdate {
    pub status: Status,
    pub progress: u8,
    pub text: String,
    pub reason: Option<String>,
    pub done: Vec<usize>,
}

/// Reads the update form.
pub fn update(req: &Request) -> Result<NewUpdate, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let status = Status::parse(req.form_value("statut").unwrap_or_default());
    if status.is_none() {
        errors.push(("statut", "Choisissez un statut.".to_string()));
    }
    let progress = req
        .form_value("avancement")
        .and_then(|p| p.trim().parse::<u8>().ok())
        .filter(|p| *p <= 100);
    if progress.is_none() {
        errors.push((
            "avancement",
            "L'avancement est un nombre de 0 à 100.".to_string(),
        ));
    }
    let text = req.form_value("texte").unwrap_or_default().trim();
    if chars(text) < 5 || chars(text) > UPDATE_MAX {
        errors.push((
            "texte",
            "Dites ce qui a changé (de 5 à 2\u{a0}000 caractères)\u{a0}: c'est publié dans le fil de la commune.".to_string(),
        ));
    }
    let reason = req.form_value("raison").unwrap_or_default().trim();
    if status == Some(Status::Abandonne) && reason.is_empty() {
        errors.push((
            "raison",
            "Donnez la raison de l'abandon\u{a0}: elle est publique.".to_string(),
        ));
    } else if chars(reason) > UPDATE_MAX {
        errors.push(("raison", "La raison est trop longue.".to_string()));
    }
    let done: Vec<usize> = req
        .form_values("fait")
        .into_iter()
        .filter_map(|i| i.parse().ok())
        .collect();
    match (status, progress) {
        (Some(status), Some(progress)) if errors.is_empty() => Ok(NewUpdate {
            status,
            progress: if status == Status::Realise {
                100
            } else {
                progress
            },
            text: text.to_string(),
            reason: (status == Status::Abandonne).then(|| reason.to_string()),
            done,
        }),
        _ => Err(errors),
    }
}

/// An evaluation as posted: a note from 1 to 5, an optional comment.
pub fn evaluation(req: &Request) -> Result<(u8, Option<String>), Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let note = req
        .form_value("note")
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=5).contains(n));
    if note.is_none() {
        errors.push(("note", "Choisissez une note de 1 à 5.".to_string()));
    }
    let comment = req.form_value("commentaire").unwrap_or_default().trim();
    if chars(comment) > COMMENT_MAX {
        errors.push((
            "commentaire",
            "Le commentaire est trop long (1\u{a0}000 caractères au plus).".to_string(),
        ));
    }
    match note {
        Some(note) if errors.is_empty() => {
            Ok((note, (!comment.is_empty()).then(|| comment.to_string())))
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn themes() -> Vec<String> {
        vec!["mobilites".into()]
    }

    fn valid() -> CommitmentForm {
        CommitmentForm {
            title: "Un plan vélo".into(),
            description: "Vingt kilomètres de pistes cyclables d'ici la fin du mandat.".into(),
            theme: "mobilites".into(),
            bearer: "Marie Exemple".into(),
            milestones: "2027-03-01 ; Début des travaux\n\n2026-12-15 ; Concertation".into(),
            documents: "Délibération ; https://exemple.fr/deliberation.pdf\nLe plan ; /m/ideas/3"
                .into(),
            ..CommitmentForm::default()
        }
    }

    #[test]
    fn a_commitment_reads_its_milestones_and_documents() {
        let new = valid().validate(&themes(), &[]);
        let new = new.as_ref().map_err(|e| format!("{e:?}"));
        let labels: Vec<&str> = new
            .clone()
            .map(|n| n.milestones.iter().map(|m| m.label.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(labels, ["Concertation", "Début des travaux"]);
        assert_eq!(new.map(|n| n.documents.len()), Ok(2));
    }

    #[test]
    fn bad_lines_are_named_by_their_number() {
        let mut form = valid();
        form.milestones = "2027-03-01 ; Début\n2027-13-01 ; Jamais".into();
        form.documents = "Piège ; javascript:alert(1)".into();
        let errors = form.validate(&themes(), &[]).err().unwrap_or_default();
        assert!(
            errors
                .iter()
                .any(|(f, m)| *f == "jalons" && m.contains("ligne 2"))
        );
        assert!(
            errors
                .iter()
                .any(|(f, m)| *f == "documents" && m.contains("ligne 1"))
        );
        for bad in ["//ailleurs.fr/x", "http://exemple.fr", "/a b"] {
            assert_eq!(address(bad), None, "{bad}");
        }
    }

    #[test]
    fn updates_and_evaluations_are_checked() {
        let req = |status: &str, progress: &str, text: &str, reason: &str| {
            Request::new("POST", "/1/mise-a-jour")
                .with_form("statut", status)
                .with_form("avancement", progress)
                .with_form("texte", text)
                .with_form("raison", reason)
        };
        assert!(update(&req("abandonne", "10", "Projet arrêté.", "")).is_err());
        assert!(update(&req("en-cours", "101", "Travaux lancés.", "")).is_err());
        let done = update(&req("realise", "80", "Livré.", ""));
        assert_eq!(done.map(|u| u.progress), Ok(100));
        let eval = |note: &str| Request::new("POST", "/1/evaluation").with_form("note", note);
        assert!(evaluation(&eval("0")).is_err() && evaluation(&eval("6")).is_err());
        assert_eq!(evaluation(&eval("4")), Ok((4, None)));
    }
}
