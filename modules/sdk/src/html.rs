//! HTML escaping for fragments built with `format!`.
//!
//! Every value that did not come from the module's own literals goes through [`escape`] (or
//! [`Esc`] inside `format!`), in text and in double-quoted attributes alike.

use std::fmt;

/// Escapes `&`, `<`, `>`, `"` and `'`, so the text is safe in element content and in quoted
/// attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    // Writing into a String cannot fail.
    let _ = fmt::Write::write_fmt(&mut out, format_args!("{}", Esc(text)));
    out
}

/// Displays its text escaped, without an intermediate allocation:
/// `format!("<p>{}</p>", Esc(&name))`.
#[derive(Debug, Clone, Copy)]
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// A form field's error: the field's `name`/`id` and the French message.
pub type FieldError = (&'static str, String);

/// Plain text with blank lines as paragraphs and single newlines as line breaks, escaped.
pub fn paragraphs(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(escape).collect();
            format!("<p>{}</p>\n", lines.join("<br>\n"))
        })
        .collect()
}

/// The message of `field`'s error, if any.
pub fn error_of<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, m)| m.as_str())
}

/// The error paragraph of a field and the attributes that tie the field to it
/// (`aria-invalid`, `aria-describedby`); two empty strings when the field is fine.
pub fn field_error(errors: &[FieldError], field: &str) -> (String, String) {
    match error_of(errors, field) {
        Some(message) => (
            format!(
                "<p id=\"{field}-error\"><strong>{}</strong></p>\n",
                Esc(message)
            ),
            format!(" aria-invalid=\"true\" aria-describedby=\"{field}-error\""),
        ),
        None => (String::new(), String::new()),
    }
}

/// The list of errors at the top of a form (announced to screen readers), each linking to its
/// field; empty when there is none.
pub fn error_summary(intro: &str, errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let mut html = format!(
        "<div role=\"alert\">\n<p><strong>{}</strong></p>\n<ul>\n",
        Esc(intro)
    );
    for (field, message) in errors {
        html.push_str(&format!(
            "<li><a href=\"#{field}\">{}</a></li>\n",
            Esc(message)
        ));
    }
    html.push_str("</ul>\n</div>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("Élection — à venir"), "Élection — à venir");
        assert_eq!(format!("{}", Esc("")), "");
    }
}
