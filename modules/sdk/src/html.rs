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
