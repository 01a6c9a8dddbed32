//! An Atom feed (RFC 4287) per category, and one of all reports: the newest 50, each
//! updated at its last step, linking to its public page. For feed readers and the commune's
//! own site; served as a download of type `application/atom+xml` (the host serves it with a
//! policy that runs nothing). Links are relative to the feed's address, as RFC 4287 allows;
//! ids are tag URIs naming the commune, unique across the platform.

use crate::model::{Category, Report};
use crate::open311::escape;
use parvis_module_sdk::time::w3c;

/// Entries in a feed.
pub const ENTRIES: usize = 50;

/// The feed of `reports` (the newest first), for `category` or for all.
pub fn atom(
    commune: &str,
    slug: &str,
    category: Option<&Category>,
    base: &str,
    reports: &[Report],
) -> String {
    let title = match category {
        Some(c) => format!("Signalements «\u{a0}{}\u{a0}» — {commune}", c.label),
        None => format!("Signalements — {commune}"),
    };
    let id = match category {
        Some(c) => format!("{base}/flux/{}", c.code()),
        None => format!("{base}/flux"),
    };
    let updated = reports.iter().map(Report::changed_at).max().unwrap_or(0);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"fr\">");
    out.push_str(&format!("<title>{}</title>", escape(&title)));
    out.push_str(&format!(
        "<id>tag:parvis,2026:{}{}</id>",
        escape(slug),
        escape(&id)
    ));
    out.push_str(&format!(
        "<link rel=\"alternate\" href=\"{}/\"/>",
        escape(base)
    ));
    out.push_str(&format!("<updated>{}</updated>", w3c(updated / 1000)));
    out.push_str(&format!(
        "<author><name>{}</name></author>",
        escape(commune)
    ));
    for r in reports.iter().take(ENTRIES) {
        let link = format!("{base}/{}", r.number);
        out.push_str("<entry>");
        out.push_str(&format!(
            "<title>N°\u{a0}{} — {} ({})</title>",
            r.number,
            escape(&r.title()),
            escape(&r.status.label().to_lowercase())
        ));
        out.push_str(&format!(
            "<id>tag:parvis,2026:{}{}</id>",
            escape(slug),
            escape(&link)
        ));
        out.push_str(&format!(
            "<link rel=\"alternate\" href=\"{}\"/>",
            escape(&link)
        ));
        out.push_str(&format!(
            "<published>{}</published>",
            w3c(r.sent_at() / 1000)
        ));
        out.push_str(&format!(
            "<updated>{}</updated>",
            w3c(r.changed_at() / 1000)
        ));
        out.push_str(&format!(
            "<category term=\"{}\" label=\"{}\"/>",
            escape(&r.category),
            escape(&r.category_label)
        ));
        let mut summary = format!("{} — {}", r.status.event(), r.description);
        if let Some(reply) = r.steps.iter().rev().find_map(|s| s.reply.as_deref()) {
            summary.push_str(&format!(" Réponse de la mairie\u{a0}: {reply}"));
        }
        out.push_str(&format!("<summary>{}</summary>", escape(&summary)));
        out.push_str("</entry>");
    }
    out.push_str("</feed>\n");
    out
}
