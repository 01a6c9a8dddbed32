//! What a post is (its kind) and where it belongs (its theme and neighbourhood tags).

use serde::Serialize;

/// Longest neighbourhood tag, in characters.
pub const MAX_QUARTIER: usize = 60;

/// The kind of a post. Actions, commitments and proposals can be evaluated (1–5); news cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PostKind {
    /// News (the default).
    Actualite,
    /// An action carried out.
    Action,
    /// A commitment.
    Engagement,
    /// A proposal.
    Proposition,
}

impl PostKind {
    /// Every kind, in the order forms list them.
    pub const ALL: [PostKind; 4] = [
        PostKind::Actualite,
        PostKind::Action,
        PostKind::Engagement,
        PostKind::Proposition,
    ];

    /// The stored value (also the form's).
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Actualite => "actualite",
            PostKind::Action => "action",
            PostKind::Engagement => "engagement",
            PostKind::Proposition => "proposition",
        }
    }

    /// The French label shown on cards and in forms.
    pub fn label(self) -> &'static str {
        match self {
            PostKind::Actualite => "Actualité",
            PostKind::Action => "Action réalisée",
            PostKind::Engagement => "Engagement",
            PostKind::Proposition => "Proposition",
        }
    }

    /// Parses a stored or submitted value ('' is news).
    pub fn parse(s: &str) -> Option<PostKind> {
        if s.is_empty() {
            return Some(PostKind::Actualite);
        }
        PostKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether citizens may evaluate posts of this kind.
    pub fn evaluable(self) -> bool {
        self != PostKind::Actualite
    }
}

/// A stored kind (the column's CHECK admits only the four values).
impl TryFrom<String> for PostKind {
    type Error = String;
    fn try_from(stored: String) -> Result<PostKind, String> {
        PostKind::parse(&stored).ok_or_else(|| format!("unknown post kind « {stored} »"))
    }
}

/// A stored kind read as its label: a row struct's `kind_label` field reads the `kind` column
/// with `#[row(rename = "kind", try_from = "KindLabel")]`.
#[derive(Debug, Clone)]
pub struct KindLabel(String);

crate::db::sql::transparent!(KindLabel(String));

impl TryFrom<KindLabel> for &'static str {
    type Error = String;
    fn try_from(stored: KindLabel) -> Result<&'static str, String> {
        PostKind::try_from(stored.0).map(PostKind::label)
    }
}

/// A kind as forms list it.
#[derive(Serialize)]
pub struct KindChoice {
    /// What the form sends.
    pub value: &'static str,
    /// What the reader sees.
    pub label: &'static str,
}

/// The kinds as forms list them.
pub fn kind_choices() -> Vec<KindChoice> {
    PostKind::ALL
        .iter()
        .map(|k| KindChoice {
            value: k.as_str(),
            label: k.label(),
        })
        .collect()
}

/// A neighbourhood tag as typed: trimmed, inner spaces collapsed; `Ok(None)` when empty.
pub fn quartier(input: &str) -> Result<Option<String>, &'static str> {
    let tag = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if tag.is_empty() {
        return Ok(None);
    }
    let n = tag.chars().count();
    if !(2..=MAX_QUARTIER).contains(&n) || tag.chars().any(char::is_control) {
        return Err("Le quartier doit compter entre 2 et 60 caractères.");
    }
    Ok(Some(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartier_is_trimmed_and_bounded() {
        assert_eq!(quartier("  "), Ok(None));
        assert_eq!(
            quartier("  Vieux   Lyon \n"),
            Ok(Some("Vieux Lyon".to_string()))
        );
        assert!(quartier("x").is_err());
        assert!(quartier(&"a".repeat(61)).is_err());
        assert_eq!(PostKind::parse(""), Some(PostKind::Actualite));
        assert_eq!(PostKind::parse("action"), Some(PostKind::Action));
        assert_eq!(PostKind::parse("autre"), None);
        assert!(!PostKind::Actualite.evaluable() && PostKind::Proposition.evaluable());
    }
}
