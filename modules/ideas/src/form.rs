//! The citizen's idea form, the comment form and the staff's answer: raw fields, validation.
//! Plain Rust, no host calls (whether the point lies in the commune is asked of the host by
//! the service).

use crate::model::{Commitment, Status, Theme};
use parvis_module_sdk::Request;
use parvis_module_sdk::store::Point;

pub use parvis_module_sdk::html::FieldError;

pub const TITLE_MIN: usize = 5;
pub const TITLE_MAX: usize = 120;
pub const TEXT_MIN: usize = 20;
pub const TEXT_MAX: usize = 3_000;
pub const COMMENT_MAX: usize = 1_000;
pub const REPLY_MAX: usize = 2_000;
pub const ALT_MAX: usize = 200;
pub const COMMITMENT_TITLE_MAX: usize = 160;
pub const PATH_MAX: usize = 300;

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The idea form as typed, kept to re-render it with its errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdeaForm {
    pub title: String,
    pub text: String,
    pub theme: String,
    /// A neighbourhood id chosen without a place (empty: none).
    pub neighbourhood: String,
    pub lat: String,
    pub lon: String,
    pub public_name: bool,
    pub photo_alt: String,
}

/// A valid idea to store.
#[derive(Debug, Clone)]
pub struct NewIdea {
    pub title: String,
    pub text: String,
    pub theme: Theme,
    pub neighbourhood: Option<String>,
    pub at: Option<Point>,
    pub public_name: bool,
    pub photo_alt: String,
}

impl IdeaForm {
    /// The posted form.
    pub fn from_request(req: &Request) -> Self {
        let field = |name| req.form_value(name).unwrap_or_default().to_owned();
        Self {
            title: field("titre"),
            text: field("texte"),
            theme: field("theme"),
            neighbourhood: field("quartier"),
            lat: field("lat"),
            lon: field("lon"),
            public_name: req.form_value("nom_public").is_some(),
            photo_alt: field("photo_alt"),
        }
    }

    /// The idea, or the French message of each refused field. `neighbourhoods` are the ids
    /// the commune has; `lieu` names the place's fieldset (the map and the neighbourhood).
    pub fn validate(
        &self,
        themes: &[Theme],
        neighbourhoods: &[String],
    ) -> Result<NewIdea, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        let title = self.title.split_whitespace().collect::<Vec<_>>().join(" ");
        if chars(&title) < TITLE_MIN {
            errors.push((
                "titre",
                format!("Donnez un titre à votre idée ({TITLE_MIN} caractères au moins)."),
            ));
        } else if chars(&title) > TITLE_MAX {
            errors.push((
                "titre",
                format!("Le titre est trop long ({TITLE_MAX} caractères au plus)."),
            ));
        }
        let text = self.text.trim();
        if chars(text) < TEXT_MIN {
            errors.push((
                "texte",
                format!(
                    "Décrivez votre idée en quelques phrases ({TEXT_MIN} caractères au moins)."
                ),
            ));
        } else if chars(text) > TEXT_MAX {
            errors.push((
                "texte",
                "La description est trop longue (3\u{a0}000 caractères au plus).".to_string(),
            ));
        }
        let theme = themes.iter().find(|t| t.code() == self.theme).cloned();
        if theme.is_none() {
            errors.push(("theme", "Choisissez un thème dans la liste.".to_string()));
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
        let at = match parvis_module_sdk::store::point_from_form(&self.lat, &self.lon) {
            Ok(at) => at,
            Err(e) => {
                errors.push(("lieu", e.to_string()));
                None
            }
        };
        if chars(self.photo_alt.trim()) > ALT_MAX {
            errors.push((
                "photo_alt",
                format!(
                    "La description de la photo est trop longue ({ALT_MAX} caractères au plus)."
                ),
            ));
        }
        match theme {
            Some(theme) if errors.is_empty() => Ok(NewIdea {
                title,
                text: text.to_string(),
                theme,
                neighbourhood,
                at,
                public_name: self.public_name,
                photo_alt: self.photo_alt.trim().to_string(),
            }),
            _ => Err(errors),
        }
    }
}

/// A comment as typed: trimmed, 2 to [`COMMENT_MAX`] characters.
pub fn comment(raw: &str) -> Result<String, FieldError> {
    let text = raw.trim();
    if chars(text) < 2 {
        return Err(("commentaire", "Le commentaire est vide.".to_string()));
    }
    if chars(text) > COMMENT_MAX {
        return Err((
            "commentaire",
            "Le commentaire est trop long (1\u{a0}000 caractères au plus).".to_string(),
        ));
    }
    Ok(text.to_string())
}

/// The staff's answer, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: Status,
    pub reply: Option<String>,
    /// The commitment that carries it out: set, kept (`None` with `clear` false) or removed.
    pub commitment: Option<Commitment>,
    pub clear_commitment: bool,
}

/// A path of this site: starts with one `/`, no scheme, no `//`, no backslash or control
/// character, so a link cannot leave the commune's site.
fn site_path(raw: &str) -> Option<String> {
    let path = raw.trim();
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && chars(path) <= PATH_MAX
        && !path
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    ok.then(|| path.to_string())
}

/// Reads the answer form: `statut`, `reponse` (public), `engagement_titre` and
/// `engagement_lien` (both, or neither to remove the link). « Non retenue » needs a reason.
pub fn answer(req: &Request) -> Result<Answer, Vec<FieldError>> {
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
    if status == Some(Status::NonRetenue) && reply.is_empty() {
        errors.push((
            "reponse",
            "Donnez la raison pour laquelle l'idée n'est pas retenue\u{a0}: elle est publique."
                .to_string(),
        ));
    }
    let title = req
        .form_value("engagement_titre")
        .unwrap_or_default()
        .trim();
    let link = req.form_value("engagement_lien").unwrap_or_default().trim();
    let commitment = match (title.is_empty(), link.is_empty()) {
        (true, true) => None,
        (false, false) => match site_path(link) {
            Some(path) if chars(title) <= COMMITMENT_TITLE_MAX => Some(Commitment {
                title: title.to_string(),
                path,
            }),
            Some(_) => {
                errors.push((
                    "engagement_titre",
                    format!("Le titre de l'engagement est trop long ({COMMITMENT_TITLE_MAX} caractères au plus)."),
                ));
                None
            }
            None => {
                errors.push((
                    "engagement_lien",
                    "Le lien doit être une adresse de ce site, commençant par «\u{a0}/\u{a0}» (par exemple /m/commitments/3).".to_string(),
                ));
                None
            }
        },
        (true, false) => {
            errors.push((
                "engagement_titre",
                "Donnez aussi le titre de l'engagement.".to_string(),
            ));
            None
        }
        (false, true) => {
            errors.push((
                "engagement_lien",
                "Donnez aussi le lien de l'engagement.".to_string(),
            ));
            None
        }
    };
    match status {
        Some(status) if errors.is_empty() => Ok(Answer {
            status,
            reply: (!reply.is_empty()).then(|| reply.to_string()),
            clear_commitment: commitment.is_none(),
            commitment,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn themes() -> Vec<Theme> {
        Theme::parse_list("")
    }

    fn form(title: &str, text: &str) -> IdeaForm {
        IdeaForm {
            title: title.into(),
            text: text.into(),
            theme: "mobilites".into(),
            ..IdeaForm::default()
        }
    }

    #[test]
    fn an_idea_needs_a_title_a_text_and_a_theme() {
        let ok = form(
            "  Un   abri vélo ",
            "Un abri couvert près de la gare, pour dix vélos.",
        )
        .validate(&themes(), &[])
        .map_err(|e| format!("{e:?}"));
        let ok = ok.as_ref().map(|n| n.title.as_str());
        assert_eq!(ok, Ok("Un abri vélo"));
        let errors = IdeaForm::default()
            .validate(&themes(), &[])
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["titre", "texte", "theme"]);
        let long = form(&"a".repeat(TITLE_MAX + 1), &"b".repeat(TEXT_MAX + 1));
        let errors = long.validate(&themes(), &[]).err().unwrap_or_default();
        assert!(
            errors
                .iter()
                .any(|(f, m)| *f == "titre" && m.contains("trop long"))
        );
        assert!(
            errors
                .iter()
                .any(|(f, m)| *f == "texte" && m.contains("trop longue"))
        );
    }

    #[test]
    fn the_place_and_neighbourhood_are_checked() {
        let mut f = form(
            "Un abri vélo",
            "Un abri couvert près de la gare, pour dix vélos.",
        );
        f.neighbourhood = "ailleurs".into();
        f.lat = "45,9".into();
        f.lon = "nord".into();
        let errors = f
            .validate(&themes(), &["centre".into()])
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["quartier", "lieu"]);
        f.neighbourhood = "centre".into();
        f.lon = "6,12".into();
        let new = f.validate(&themes(), &["centre".into()]);
        assert!(new.is_ok_and(|n| n.at.is_some() && n.neighbourhood.as_deref() == Some("centre")));
    }

    #[test]
    fn comments_are_bounded() {
        assert!(comment(" ").is_err());
        assert!(comment(&"x".repeat(COMMENT_MAX + 1)).is_err());
        assert_eq!(comment("  D'accord !  "), Ok("D'accord !".to_string()));
    }

    #[test]
    fn a_refusal_needs_a_reason_and_links_stay_on_the_site() {
        let req = |status: &str, reply: &str, title: &str, link: &str| {
            Request::new("POST", "/1/reponse")
                .with_form("statut", status)
                .with_form("reponse", reply)
                .with_form("engagement_titre", title)
                .with_form("engagement_lien", link)
        };
        let refused = answer(&req("non-retenue", "", "", ""))
            .err()
            .unwrap_or_default();
        assert_eq!(refused[0].0, "reponse");
        assert!(answer(&req("non-retenue", "Hors compétence communale.", "", "")).is_ok());
        for bad in [
            "https://ailleurs.example/x",
            "//ailleurs.example",
            "/a b",
            "m/x",
            "/a\\b",
        ] {
            let e = answer(&req("retenue", "", "Plan vélo", bad))
                .err()
                .unwrap_or_default();
            assert_eq!(e[0].0, "engagement_lien", "{bad}");
        }
        let ok = answer(&req("retenue", "", "Plan vélo", "/m/commitments/3"));
        assert!(ok.is_ok_and(|a| a.commitment.is_some_and(|c| c.path == "/m/commitments/3")));
        assert!(answer(&req("retenue", "", "Plan vélo", "")).is_err());
    }
}
