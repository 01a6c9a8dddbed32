//! Safe markdown for posts: CommonMark rendered by pulldown-cmark, with raw HTML shown as
//! text and only http(s)/mailto links and no images (attachments come with uploads).

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
}

/// Renders `source` to HTML that is safe to embed as is.
pub fn render(source: &str) -> String {
    let mut dropped_links = 0usize;
    let events =
        Parser::new_ext(source, Options::ENABLE_STRIKETHROUGH).filter_map(|event| match event {
            // Raw HTML is shown, escaped, as the text it is.
            Event::Html(text) | Event::InlineHtml(text) => Some(Event::Text(text)),
            Event::Start(Tag::Link { dest_url, .. }) if !safe_url(&dest_url) => {
                dropped_links += 1;
                None
            }
            Event::End(TagEnd::Link) if dropped_links > 0 => {
                dropped_links -= 1;
                None
            }
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
            other => Some(other),
        });
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The first `max` characters of `source` as plain text (markup dropped), with « … » when cut.
pub fn excerpt(source: &str, max: usize) -> String {
    let mut text = String::new();
    for event in Parser::new_ext(source, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                text.push_str(&t)
            }
            // Inline markup ends inside a word; anything else ends one.
            Event::End(
                TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link,
            ) => {}
            Event::SoftBreak | Event::HardBreak | Event::End(_) => text.push(' '),
            _ => {}
        }
    }
    // ASCII's whitespace: the no-break spaces of French (« Résultats : ») stay as written.
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let text = words.join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::{excerpt, render};

    #[test]
    fn excerpts_are_plain_text() {
        assert_eq!(
            excerpt("**Réf**ection de la rue\n\n- A\n- B", 100),
            "Réfection de la rue A B"
        );
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }

    #[test]
    fn markdown_is_safe() {
        assert_eq!(
            render("**Réunion** publique"),
            "<p><strong>Réunion</strong> publique</p>\n"
        );
        let html = render(
            "Texte <script>alert(1)</script> et [lien](javascript:alert(1)) et [ok](https://example.fr)",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains(r#"<a href="https://example.fr">ok</a>"#));
        assert!(!render("![x](https://example.fr/x.png)").contains("<img"));
    }
}
