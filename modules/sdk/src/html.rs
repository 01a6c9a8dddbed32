//! HTML for module pages, written with maud's [`html!`] templates.
//!
//! Every value spliced into a template, `(value)` in text or `attr=(value)` in an attribute, is
//! escaped by the template itself, never by hand: `&`, `<`, `>` and `"` become entities and
//! attributes are always double-quoted, so text can close neither an element nor an attribute.
//! Raw markup is [`PreEscaped`]: the rare exception, visible where it is used, with a comment
//! saying why. A page is a [`Markup`] ([`crate::Response::page`] takes nothing else).
//!
//! ```ignore
//! let page = html! {
//!     h1 { (poll.question) }
//!     (paragraphs(&poll.description))
//!     form method="post" action=(req.link("/vote")) {
//!         (req.csrf_field())
//!         button type="submit" { "Voter" }
//!     }
//! };
//! ```
//!
//! maud writes no whitespace between elements: a space a reader must see between two inline
//! elements (a radio button and its label) is written as a literal `" "`. `'` is left as it is
//! (attributes are double-quoted), so text reads `l'heure`, not `l&#39;heure`.
//!
//! A module that writes templates also depends on `maud` itself (`maud.workspace = true`):
//! [`html!`]'s expansion names the `maud` crate, so the re-export alone does not compile.

pub use maud::{Markup, PreEscaped, Render, html};

/// A form field's error: the field's `name`/`id` and the French message.
pub type FieldError = (&'static str, String);

/// Plain text with blank lines as paragraphs and single newlines as line breaks.
pub fn paragraphs(text: &str) -> Markup {
    let text = text.replace("\r\n", "\n");
    let paragraphs = text.split("\n\n").map(str::trim).filter(|p| !p.is_empty());
    html! {
        @for paragraph in paragraphs {
            p {
                @for (i, line) in paragraph.lines().enumerate() {
                    @if i > 0 { br; }
                    (line)
                }
            }
        }
    }
}

/// A table's caption (when given) and its row of column headers, as every list of a module
/// page starts: `table { (table_head(Some("Prochains créneaux"), &["Date", "Lieu"])) tbody { … } }`.
pub fn table_head(caption: Option<&str>, columns: &[&str]) -> Markup {
    html! {
        @if let Some(caption) = caption {
            caption { (caption) }
        }
        thead {
            tr {
                @for column in columns {
                    th scope="col" { (column) }
                }
            }
        }
    }
}

/// The message of `field`'s error, if any.
pub fn error_of<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, m)| m.as_str())
}

/// What a form says about one of its fields: its error, if any, and the attributes that tie
/// the field to it.
///
/// ```ignore
/// let question = field(errors, "question");
/// html! {
///     (question.error())
///     input id="question" name="question" value=(form.question)
///         aria-invalid=[question.invalid()] aria-describedby=[question.error_id()];
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FieldStatus<'a> {
    name: &'a str,
    message: Option<&'a str>,
}

/// The status of the field named `name` among a form's `errors`.
pub fn field<'a>(errors: &'a [FieldError], name: &'a str) -> FieldStatus<'a> {
    FieldStatus {
        name,
        message: error_of(errors, name),
    }
}

impl FieldStatus<'_> {
    /// The French message, when the field is refused.
    pub fn message(&self) -> Option<&str> {
        self.message
    }

    /// The error paragraph (`<p id="{name}-error">`) to show next to the field; nothing when
    /// the field is fine.
    pub fn error(&self) -> Markup {
        html! {
            @if let Some(message) = self.message {
                p id=(format!("{}-error", self.name)) { strong { (message) } }
            }
        }
    }

    /// `aria-invalid`'s value: `"true"` when the field is refused.
    pub fn invalid(&self) -> Option<&'static str> {
        self.message.map(|_| "true")
    }

    /// The id of the error paragraph, for `aria-describedby`, when the field is refused.
    pub fn error_id(&self) -> Option<String> {
        self.message.map(|_| format!("{}-error", self.name))
    }
}

/// The list of errors at the top of a form (announced to screen readers), each linking to its
/// field; nothing when there is none.
pub fn error_summary(intro: &str, errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div role="alert" {
                p { strong { (intro) } }
                ul {
                    @for (field, message) in errors {
                        li { a href=(format!("#{field}")) { (message) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_text_is_escaped_in_text_and_attributes() {
        let hostile = r#"<a href="x">Tom & 'Jerry'</a>"#;
        let page = html! { p title=(hostile) { (hostile) } }.into_string();
        assert_eq!(
            page,
            "<p title=\"&lt;a href=&quot;x&quot;&gt;Tom &amp; 'Jerry'&lt;/a&gt;\">\
             &lt;a href=&quot;x&quot;&gt;Tom &amp; 'Jerry'&lt;/a&gt;</p>"
        );
        assert_eq!(
            html! { ("Élection — à venir") }.into_string(),
            "Élection — à venir"
        );
    }

    #[test]
    fn paragraphs_keep_line_breaks_and_escape() {
        assert_eq!(
            paragraphs("Ligne <1>\r\nLigne 2\n\n\n  Autre  \n\n").into_string(),
            "<p>Ligne &lt;1&gt;<br>Ligne 2</p><p>Autre</p>"
        );
        assert_eq!(paragraphs(" \n\n ").into_string(), "");
    }

    #[test]
    fn field_errors_tie_the_field_to_its_message() {
        let errors = vec![("title", "Trop <long>.".to_owned())];
        let title = field(&errors, "title");
        assert_eq!(
            title.error().into_string(),
            "<p id=\"title-error\"><strong>Trop &lt;long&gt;.</strong></p>"
        );
        let input = html! {
            input id="title" aria-invalid=[title.invalid()] aria-describedby=[title.error_id()];
        };
        assert_eq!(
            input.into_string(),
            "<input id=\"title\" aria-invalid=\"true\" aria-describedby=\"title-error\">"
        );
        let zone = field(&errors, "zone");
        assert_eq!(zone.error().into_string(), "");
        assert_eq!((zone.invalid(), zone.error_id()), (None, None));
        assert_eq!(
            error_summary("À corriger :", &errors).into_string(),
            "<div role=\"alert\"><p><strong>À corriger :</strong></p><ul>\
             <li><a href=\"#title\">Trop &lt;long&gt;.</a></li></ul></div>"
        );
        assert_eq!(error_summary("À corriger :", &[]).into_string(), "");
    }
}

/// The host's design system (`/composants` on any Parvis site): its classes are in the
/// host's style sheet, which every module page loads; these write its components' markup, so
/// a module's page looks like the host's.
///
/// Nothing to show yet, said plainly: `empty("Aucune alerte en cours.")`.
pub fn empty(text: &str) -> Markup {
    html! { div class="empty" { p { (text) } } }
}

/// How a [`notice`] reads: an information, a success, an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Something to know (`role="status"`).
    Info,
    /// An action went well (`role="status"`).
    Ok,
    /// An action failed (`role="alert"`, read at once by screen readers).
    Error,
}

/// The result of an action, at the top of the page that follows it.
pub fn notice(tone: Tone, text: &str) -> Markup {
    let (class, role) = match tone {
        Tone::Info => ("notice", "status"),
        Tone::Ok => ("notice ok", "status"),
        Tone::Error => ("notice error", "alert"),
    };
    html! { p class=(class) role=(role) { (text) } }
}

/// French typography's no-break spaces in a fragment's text: before « : » and inside « »,
/// narrow before « ; ? ! » (« Lieu : », « Le même problème ? »), as the host gives its own
/// templates; tags and attribute values other than text are left alone. Write ordinary
/// spaces in a template and pass the page through this.
pub fn french(markup: Markup) -> Markup {
    let text = markup.into_string();
    PreEscaped(parvis_names::typography::spaces_in_markup(&text).into_owned())
}

/// [`french`] for plain text a page does not write itself: a map marker's title in JSON, a
/// name shown by the host.
pub fn french_text(text: &str) -> String {
    parvis_names::typography::spaces(text).into_owned()
}

/// A `<time>` element for Unix milliseconds, written in French in Paris time.
pub fn time(ms: i64) -> Markup {
    html! { time datetime=(crate::time::ms::iso_utc(ms)) { (crate::time::ms::format_fr(ms)) } }
}

/// Kept photos as the design system's attachments (each opens full size).
pub fn photos(list: &[crate::media::Photo]) -> Markup {
    html! {
        @if !list.is_empty() {
            div class="attachments" {
                @for p in list {
                    a href=(crate::media::url(&p.id)) { img src=(crate::media::url(&p.id)) alt=(p.alt) loading="lazy"; }
                }
            }
        }
    }
}

/// The first `max` characters of a text on one line, with an ellipsis when cut (a
/// notification's body, a list's summary, a chart's label).
pub fn excerpt(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// « 1 signalement », « 3 signalements », « aucun signalement » (`one` and `many` agree with
/// « aucun »: masculine nouns; write a feminine count's zero yourself).
pub fn counted(n: u64, one: &str, many: &str) -> String {
    match n {
        0 => format!("aucun {one}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// A status as the design system's tag: the word, never a colour alone.
pub fn status_tag(label: &str) -> Markup {
    html! { strong class="kind" { (label) } }
}

/// A horizontal bar chart of the design system (`figure.chart.bars`): one bar per row, its
/// label cut to 18 characters (whole in the bar's tooltip), and the figures as a table under
/// a « details » for whoever would rather read them. `id` names the caption for the SVG.
pub fn bar_chart(
    id: &str,
    caption: &str,
    rows: &[(String, u64)],
    label: &str,
    figure: &str,
) -> Markup {
    let most = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let height = 28 * rows.len();
    html! {
        figure class="chart bars" {
            figcaption id=(id) { (caption) }
            svg viewBox=(format!("0 0 430 {height}")) role="img" aria-labelledby=(id) focusable="false" {
                @for (i, (name, n)) in rows.iter().enumerate() {
                    @let y = 28 * i;
                    @let w = 240 * n / most;
                    g {
                        title { (name) "\u{a0}: " (n) }
                        text x="0" y=(y + 15) { (excerpt(name, 18)) }
                        rect x="140" y=(y) width=(w) height="22" rx="2" {}
                        text x=(146 + w) y=(y + 15) { (n) }
                    }
                }
            }
            details {
                summary { "Les chiffres" }
                table {
                    thead { tr { th scope="col" { (label) } th scope="col" { (figure) } } }
                    tbody {
                        @for (name, n) in rows { tr { td { (name) } td { (n) } } }
                    }
                }
            }
        }
    }
}

/// Percent-encodes a query value (letters, digits and `-_.~` kept), for links that keep a
/// list's filters.
pub fn encode_query(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a [`map`] shows besides the commune's outline.
#[derive(Debug, Clone, Default)]
pub struct MapView<'a> {
    /// A URL answering the map's clusters as JSON (see the host's `map.js`).
    pub markers: Option<&'a str>,
    /// The id of a `fieldset` holding `lat` and `lon` inputs: the map picks a place.
    pub pick: Option<&'a str>,
    /// One place shown with a pin, the map centred on it (the outline is then not drawn).
    pub spot: Option<(f64, f64)>,
    /// Draw the commune's neighbourhoods (`/quartiers.geojson`, contract 0.2.5) over it.
    pub neighbourhoods: bool,
    /// With `neighbourhoods`: the id of a `<script type="application/json">` element holding
    /// `{"<neighbourhood id>": {"classe": 0 to 4, "valeur": "3,4 / 5"}}`; each neighbourhood
    /// is filled with its class's colour (`--c0` … `--c4`, a legend `ul.legend` beside the map
    /// says what they cover), hatched when it has none.
    pub choropleth: Option<&'a str>,
}

/// A map of the design system (« Lieu sur la carte » on `/composants`): the commune's
/// outline, and markers, a place picker or one pinned place. `label` says what it shows to
/// screen readers; the page must say the same in text, since the map needs JavaScript (a line
/// says so where it does not run).
pub fn map(label: &str, view: &MapView<'_>) -> Markup {
    let outline = view.spot.is_none().then_some("/contour.geojson");
    let areas = view.neighbourhoods.then_some("/quartiers.geojson");
    let lat = view.spot.map(|(lat, _)| format!("{lat:.6}"));
    let lon = view.spot.map(|(_, lon)| format!("{lon:.6}"));
    html! {
        div class="map" data-map role="region" aria-label=(label) data-outline=[outline]
            data-markers=[view.markers] data-pick=[view.pick] data-lat=[lat.as_deref()]
            data-lon=[lon.as_deref()] data-spot=[view.spot.map(|_| label)] data-areas=[areas]
            data-choropleth=[view.choropleth] {
            p class="map-off" { "La carte s'affiche quand JavaScript est activé." }
        }
    }
}

#[cfg(test)]
mod design_system_tests {
    use super::*;

    #[test]
    fn components_write_the_host_classes_and_escape_their_text() {
        assert_eq!(
            empty("Aucun <b>sondage</b>.").into_string(),
            "<div class=\"empty\"><p>Aucun &lt;b&gt;sondage&lt;/b&gt;.</p></div>"
        );
        assert_eq!(
            notice(Tone::Error, "Échec.").into_string(),
            "<p class=\"notice error\" role=\"alert\">Échec.</p>"
        );
        assert_eq!(
            notice(Tone::Ok, "Fait.").into_string(),
            "<p class=\"notice ok\" role=\"status\">Fait.</p>"
        );
        assert_eq!(
            french(html! { p title="Où ?" { "Lieu : « ici » ; " a href="/?a=b" { "oui !" } } })
                .into_string(),
            "<p title=\"Où\u{202f}?\">Lieu\u{a0}: «\u{a0}ici\u{a0}»\u{202f}; <a href=\"/?a=b\">oui\u{202f}!</a></p>"
        );
        let picker = map(
            "Carte",
            &MapView {
                pick: Some("lieu"),
                ..MapView::default()
            },
        )
        .into_string();
        assert!(
            picker.contains("data-outline=\"/contour.geojson\" data-pick=\"lieu\""),
            "{picker}"
        );
        let spot = map(
            "Le lieu",
            &MapView {
                spot: Some((48.85, 2.35)),
                ..MapView::default()
            },
        )
        .into_string();
        assert!(
            spot.contains("data-lat=\"48.850000\" data-lon=\"2.350000\" data-spot=\"Le lieu\""),
            "{spot}"
        );
        assert!(!spot.contains("data-outline"));
        assert!(!spot.contains("data-areas"));
        let areas = map(
            "Carte",
            &MapView {
                neighbourhoods: true,
                ..MapView::default()
            },
        )
        .into_string();
        assert!(
            areas.contains("data-areas=\"/quartiers.geojson\""),
            "{areas}"
        );
    }
}
