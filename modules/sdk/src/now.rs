//! What is happening now: the cards a module shows at the top of its commune's home page (an
//! alert in force, an open poll). The host asks each module the commune switched on with an
//! anonymous `GET` of [`PATH`], a path no visitor can reach; answer with [`answer`] (or let the
//! router's 404 say there is nothing). The host writes the cards itself, in its own design,
//! alerts first: give data, not HTML.
//!
//! ```ignore
//! Router::new().get(now::PATH, |_, _| Ok(now::answer(&[now::Card::new("Sondage ouvert", "/42")])))
//! ```

use serde::Serialize;

use crate::Response;

/// The path the host asks.
pub const PATH: &str = "/_parvis/maintenant";

/// How grave an alert is; the host puts the gravest first and writes the word beside the colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something to know.
    Information,
    /// Something to watch.
    Vigilance,
    /// Act now.
    Urgence,
}

/// One card. At most 5 per module are shown; a title past 160 characters and a summary past
/// 300 are cut.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    /// Below the module's mount point (`/42` → `/m/polls/42`).
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
    /// Until when (Unix milliseconds): the host stops showing it then.
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<i64>,
    /// Whether the host says « Jusqu'au … » under it (an alert in force, an open poll), or
    /// only stops showing it then (a slot, whose summary says when it happens).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    until_unsaid: bool,
}

impl Card {
    /// A card leading to `path`, below the module's mount point.
    pub fn new(title: &str, path: &str) -> Card {
        Card {
            title: title.to_string(),
            summary: None,
            path: path.to_string(),
            severity: None,
            until: None,
            until_unsaid: false,
        }
    }

    /// A line under the title.
    pub fn summary(mut self, summary: &str) -> Card {
        self.summary = Some(summary.to_string());
        self
    }

    /// An alert's severity.
    pub fn severity(mut self, severity: Severity) -> Card {
        self.severity = Some(severity);
        self
    }

    /// When it stops (Unix milliseconds): the host writes « Jusqu'au … » under it, and stops
    /// showing it then.
    pub fn until(mut self, ms: i64) -> Card {
        self.until = Some(ms);
        self.until_unsaid = false;
        self
    }

    /// When the host stops showing it (Unix milliseconds), without writing « Jusqu'au … »:
    /// for what happens at that time (a slot that starts), which the summary says.
    pub fn shown_until(mut self, ms: i64) -> Card {
        self.until = Some(ms);
        self.until_unsaid = true;
        self
    }
}

/// The answer to the host's `GET` of [`PATH`].
pub fn answer(cards: &[Card]) -> Response {
    #[derive(Serialize)]
    struct Answer<'a> {
        cards: &'a [Card],
    }
    Response::json(&Answer { cards })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_serialise_as_the_host_reads_them() -> Result<(), serde_json::Error> {
        let card = Card::new("Eau non potable", "/a1")
            .summary("Quartier nord")
            .severity(Severity::Urgence)
            .until(2_000);
        assert_eq!(
            serde_json::to_string(&card)?,
            r#"{"title":"Eau non potable","summary":"Quartier nord","path":"/a1","severity":"urgence","until":2000}"#
        );
        assert_eq!(
            serde_json::to_string(&Card::new("Sondage", "/p"))?,
            r#"{"title":"Sondage","path":"/p"}"#
        );
        assert_eq!(
            serde_json::to_string(&Card::new("Permanence", "/p").shown_until(9_000))?,
            r#"{"title":"Permanence","path":"/p","until":9000,"until_unsaid":true}"#
        );
        Ok(())
    }
}
