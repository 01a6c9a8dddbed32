//! The spaces of French typography: a no-break space (U+00A0) before « : » and inside « »,
//! a narrow no-break space (U+202F) before « ; ? ! », as the Imprimerie nationale's rules
//! (and every French style guide) ask, so that « Mot de passe oublié ? » never breaks before
//! its question mark at the end of a line.
//!
//! [`spaces`] mends plain text; [`spaces_in_markup`] mends the text of an HTML template (tera
//! or not) and leaves its tags, scripts, styles and template tags as they are. The host mends
//! its templates once, when it loads them: their authors type ordinary spaces.

use std::borrow::Cow;

/// No-break space: before « : » and inside « ».
pub const NO_BREAK: char = '\u{a0}';
/// Narrow no-break space: before « ; », « ? » and « ! ».
pub const NARROW_NO_BREAK: char = '\u{202f}';

/// Attributes whose value is text people read (or hear), mended like the page's text.
const TEXT_ATTRIBUTES: [&str; 5] = ["alt", "title", "aria-label", "placeholder", "content"];

/// The space French wants before `c`, a punctuation mark that takes one.
fn before(c: char) -> Option<char> {
    match c {
        ':' => Some(NO_BREAK),
        ';' | '?' | '!' => Some(NARROW_NO_BREAK),
        _ => None,
    }
}

/// Whether `c`, after a punctuation mark, shows it ends a word group rather than being part of
/// a token (« 4,5:1 », « https:// », « a:b »).
fn closes(c: Option<char>) -> bool {
    c.is_none_or(|c| c.is_whitespace() || "<{\"'.,)»…?!*".contains(c))
}

/// What the ordinary space at `at` in `text` should be: `None` to keep it.
fn replacement(text: &str, at: usize) -> Option<char> {
    let previous = text[..at].chars().next_back();
    let mut rest = text[at + 1..].chars();
    let next = rest.next();
    let after = rest.next();
    if previous == Some('«') && next.is_some_and(|n| !n.is_whitespace()) {
        return Some(NO_BREAK);
    }
    if previous.is_none_or(char::is_whitespace) {
        return None;
    }
    match next? {
        '»' => Some(NO_BREAK),
        n if closes(after) => before(n),
        _ => None,
    }
}

/// Mends every space of `text` that French typography wants unbreakable; a text with nothing
/// to mend is returned as it is.
pub fn spaces(text: &str) -> Cow<'_, str> {
    mend(text, |_| false)
}

/// Mends the text of an HTML template: the text between tags and the values of the attributes
/// people read (`alt`, `title`, `aria-label`, `placeholder`, `content`); tags, attribute
/// names and other values, comments, `<script>` and `<style>`, and tera's `{{ }}`, `{% %}`
/// and `{# #}` are left as they are.
pub fn spaces_in_markup(text: &str) -> Cow<'_, str> {
    let kept = kept_ranges(text);
    // The ranges come in the text's order, and so do the spaces asked about: one pass.
    let mut next = 0;
    mend(text, |at| {
        while kept.get(next).is_some_and(|r| r.end <= at) {
            next += 1;
        }
        kept.get(next).is_some_and(|r| r.start <= at)
    })
}

/// `kept(at)` is asked of each space in increasing order of `at`.
fn mend(text: &str, mut kept: impl FnMut(usize) -> bool) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    for (at, c) in text.char_indices() {
        let with = if c == ' ' && !kept(at) {
            replacement(text, at)
        } else {
            None
        };
        match (with, out.as_mut()) {
            (Some(space), Some(out)) => out.push(space),
            (Some(space), None) => {
                let mut started = String::with_capacity(text.len() + 16);
                started.push_str(&text[..at]);
                started.push(space);
                out = Some(started);
            }
            (None, Some(out)) => out.push(c),
            (None, None) => {}
        }
    }
    out.map_or(Cow::Borrowed(text), Cow::Owned)
}

/// The byte ranges of `text` that are markup, not text, in order and apart.
fn kept_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut kept = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(end) = template_tag_end(text, i) {
            kept.push(i..end);
            i = end;
        } else if bytes[i] == b'<' {
            let lower = text[i..].get(..7).unwrap_or("").to_ascii_lowercase();
            let element = ["<script", "<style"]
                .into_iter()
                .find(|open| lower.starts_with(open));
            if let Some(open) = element {
                let close = format!("</{}>", &open[1..]);
                let end = find_ignore_case(text, i, &close).map_or(text.len(), |e| e + close.len());
                kept.push(i..end);
                i = end;
            } else if bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'/' || *b == b'!')
            {
                i = tag(text, i, &mut kept);
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    kept
}

/// Where tera's tag starting at `i` (`{{`, `{%` or `{#`) ends, if one starts there.
fn template_tag_end(text: &str, i: usize) -> Option<usize> {
    let close = match text.get(i..i + 2)? {
        "{{" => "}}",
        "{%" => "%}",
        "{#" => "#}",
        _ => return None,
    };
    Some(
        text[i + 2..]
            .find(close)
            .map_or(text.len(), |e| i + 2 + e + 2),
    )
}

fn find_ignore_case(text: &str, from: usize, needle: &str) -> Option<usize> {
    text[from..]
        .to_ascii_lowercase()
        .find(needle)
        .map(|e| from + e)
}

/// Marks the HTML tag starting at `start` as kept, except the values of its text attributes;
/// returns where the tag ends.
fn tag(text: &str, start: usize, kept: &mut Vec<std::ops::Range<usize>>) -> usize {
    let bytes = text.as_bytes();
    let mut from = start;
    let mut i = start + 1;
    while i < bytes.len() {
        if let Some(end) = template_tag_end(text, i) {
            i = end;
            continue;
        }
        match bytes[i] {
            b'>' => {
                kept.push(from..i + 1);
                return i + 1;
            }
            quote @ (b'"' | b'\'') => {
                let value_end = text[i + 1..]
                    .find(quote as char)
                    .map_or(text.len(), |e| i + 1 + e);
                let name = text[from.max(start)..i]
                    .trim_end()
                    .trim_end_matches('=')
                    .trim_end()
                    .rsplit(|c: char| c.is_whitespace() || c == '<')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if TEXT_ATTRIBUTES.contains(&name.as_str()) {
                    // The value is text; the tera tags inside it stay kept.
                    kept.push(from..i + 1);
                    let mut j = i + 1;
                    while j < value_end {
                        if let Some(end) = template_tag_end(text, j) {
                            kept.push(j..end.min(value_end));
                            j = end;
                        } else {
                            j += 1;
                        }
                    }
                    from = value_end;
                }
                i = value_end + 1;
            }
            _ => i += 1,
        }
    }
    kept.push(from..text.len());
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_gets_its_no_break_spaces() {
        let cases = [
            ("Mot de passe oublié ?", "Mot de passe oublié\u{202f}?"),
            ("Motif : trop long", "Motif\u{a0}: trop long"),
            ("cher ; trop cher !", "cher\u{202f}; trop cher\u{202f}!"),
            ("liste « Ensemble »", "liste «\u{a0}Ensemble\u{a0}»"),
            ("Quoi ?!", "Quoi\u{202f}?!"),
            ("(motif : spam)", "(motif\u{a0}: spam)"),
            // Nothing to mend: a ratio, an address, an hour, a space that is not between words.
            ("contraste 4,5:1", "contraste 4,5:1"),
            ("https://parvis.fr/?q=a", "https://parvis.fr/?q=a"),
            ("a :b", "a :b"),
            ("  : seul", "  : seul"),
        ];
        for (text, mended) in cases {
            assert_eq!(spaces(text), mended, "{text}");
        }
        assert!(matches!(spaces("Rien à reprendre."), Cow::Borrowed(_)));
    }

    #[test]
    fn markup_keeps_tags_scripts_and_template_tags() {
        let template = concat!(
            "<p class=\"a ? b\">Thème : {{ a ? b : c }}</p>",
            "<a aria-label=\"{{ f.label }} : {{ f.used }}\" href=\"/x ?y\">Oublié ?</a>",
            "<script>let a = b ? c : d;</script><style>a { color : red }</style>",
            "{% if x %} ?{% endif %}{# note : ici #}<!-- a : b -->« {{ q }} »"
        );
        let mended = concat!(
            "<p class=\"a ? b\">Thème\u{a0}: {{ a ? b : c }}</p>",
            "<a aria-label=\"{{ f.label }}\u{a0}: {{ f.used }}\" href=\"/x ?y\">Oublié\u{202f}?</a>",
            "<script>let a = b ? c : d;</script><style>a { color : red }</style>",
            "{% if x %}\u{202f}?{% endif %}{# note : ici #}<!-- a : b -->«\u{a0}{{ q }}\u{a0}»"
        );
        assert_eq!(spaces_in_markup(template), mended);
    }

    #[test]
    fn a_comparison_in_text_is_not_a_tag() {
        assert_eq!(spaces_in_markup("3 < 4 : vrai"), "3 < 4\u{a0}: vrai");
    }
}
