//! Page rendering with tera, one engine for the whole host. Templates are files in folders
//! embedded at compile time (`core/templates/`, and the admin back-office's and billing's),
//! each registered by its path in its folder: a file added there needs no code to be found.
//! Each template is filled by one typed context, a `Serialize` struct implementing
//! [`Template`]; pages get the layout's part ([`Layout`]: site, viewer, CSRF token) built here
//! once and composed in.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequestParts, OriginalUri};
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::Html;
use include_dir::{Dir, include_dir};
use serde::Serialize;
use tera::{Context, Tera};

use crate::error::{AppError, AppResult};
use crate::web::Web;
use crate::web::csrf::CsrfToken;
use crate::web::session::{Account, Viewer};
use crate::web::site::{CommuneSite, Site, request_host};

/// The core's templates, embedded so the binary runs anywhere (`build.rs` rebuilds the crate
/// when a file is added to the folder).
pub static CORE_TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// A template's context: the fields its template reads, tied to the template it fills.
/// A page renders through [`Page::render`] (which adds the [`Layout`]), an e-mail or a
/// fragment through [`Templates::render`].
pub trait Template: Serialize {
    /// The template's path in its folder (`feed/feed.html`).
    const NAME: &'static str;
}

/// `auth/notice.html`: a page that only says something (a request sent, a link mailed).
#[derive(Serialize)]
pub struct Notice<'a> {
    /// Heading and title.
    pub title: &'a str,
    /// What happened.
    pub message: &'a str,
}

impl Template for Notice<'_> {
    const NAME: &'static str = "auth/notice.html";
}

/// The one template engine (cloning shares it).
#[derive(Clone)]
pub struct Templates {
    tera: Arc<Tera>,
}

impl Templates {
    /// Compiles every file of the core's folder plus `extra` folders (the admin back-office's,
    /// billing's). A template that does not parse fails here, at start-up.
    pub fn new(extra: &[&Dir<'_>]) -> Result<Templates, tera::Error> {
        let mut files = Vec::new();
        for dir in std::iter::once(&CORE_TEMPLATES).chain(extra.iter().copied()) {
            collect(dir, &mut files)?;
        }
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.set_escape_fn(escape_html);
        // `escape` (`{{ body | escape | linebreaksbr | safe }}`) follows the same rule.
        tera.register_filter("escape", escape_filter);
        tera.add_raw_templates(files)?;
        tera.register_filter("thousands", thousands);
        tera.register_filter("de", |v: &tera::Value, _: &_| {
            joined(v, crate::communes::names::of)
        });
        tera.register_filter("a", |v: &tera::Value, _: &_| {
            joined(v, crate::communes::names::at)
        });
        tera.register_filter("date_fr", date_fr);
        tera.register_filter("day_fr", day_fr);
        tera.register_filter("date_iso", date_iso);
        // `{{ path | query_value }}`: a value put in a link's query string, percent-encoded.
        tera.register_filter("query_value", |v: &tera::Value, _: &_| {
            let text = v
                .as_str()
                .ok_or_else(|| tera::Error::msg("query_value: a string"))?;
            Ok(tera::Value::String(
                url::form_urlencoded::byte_serialize(text.as_bytes()).collect(),
            ))
        });
        Ok(Templates {
            tera: Arc::new(tera),
        })
    }

    /// Renders a template with its context alone (an e-mail, a fragment).
    pub fn render<T: Template>(&self, context: &T) -> Result<String, tera::Error> {
        self.tera
            .render(T::NAME, &Context::from_serialize(context)?)
    }

    /// Renders a page: its context composed with the layout's, the HTML it keeps
    /// ([`crate::web::shared::Kept`]) spliced in. The bytes are UTF-8: tera writes the
    /// template's text and the context's strings, and the parts are `str`.
    pub fn render_page<T: Template>(
        &self,
        layout: &Layout<'_>,
        page: &T,
    ) -> Result<Bytes, tera::Error> {
        #[derive(Serialize)]
        struct WithLayout<'a, T> {
            #[serde(flatten)]
            layout: &'a Layout<'a>,
            #[serde(flatten)]
            page: &'a T,
        }
        let html = crate::web::shared::splice(
            || Context::from_serialize(WithLayout { layout, page }),
            |context, out| self.tera.render_to(T::NAME, context, out),
        )?;
        Ok(Bytes::from(html))
    }

    /// The names of every registered template.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tera.get_template_names()
    }
}

/// Every file under `dir`, as (path in the folder, text). Dot files (an editor's) are left out.
/// The text gets French typography's no-break spaces (« Oublié ? », « Motif : ») here, once:
/// templates are written with ordinary spaces.
fn collect<'a>(
    dir: &'a Dir<'a>,
    out: &mut Vec<(&'a str, Cow<'a, str>)>,
) -> Result<(), tera::Error> {
    for file in dir.files() {
        let path = file.path();
        let name = path
            .to_str()
            .ok_or_else(|| tera::Error::msg(format!("{}: name not UTF-8", path.display())))?;
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let text = file
            .contents_utf8()
            .ok_or_else(|| tera::Error::msg(format!("{name}: not UTF-8")))?;
        out.push((name, parvis_names::typography::spaces_in_markup(text)));
    }
    for sub in dir.dirs() {
        collect(sub, out)?;
    }
    Ok(())
}

/// HTML escaping, for every template and for text the host turns into HTML itself (message
/// bodies): `&`, `<`, `>`, `"` and `'`. Unlike tera's default, `/` is left alone: it ends
/// nothing in HTML text or in a quoted attribute (the only places our templates put values;
/// `<` is escaped, so no `</script>` either). Escaping it as `&#x2F;` was OWASP's old advice
/// for unquoted attributes, and it made every link's `href` read `&#x2F;publications&#x2F;…`
/// in pages and in mail clients that show the source.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    // The five are ASCII, so never inside a multi-byte character: copy the runs between them
    // whole (a page escapes every value it shows; pushing char by char was 4 % of its time).
    let mut run = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            _ => continue,
        };
        out.push_str(&text[run..i]);
        out.push_str(entity);
        run = i + 1;
    }
    out.push_str(&text[run..]);
    out
}

/// `{{ text | escape }}` with [`escape_html`].
fn escape_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = value
        .as_str()
        .ok_or_else(|| tera::Error::msg("escape: expected a string"))?;
    Ok(tera::Value::String(escape_html(text)))
}

/// `{{ commune | de }}` (« d'Annecy », « du Havre ») and `{{ commune | a }}` (« au Havre »):
/// a commune (its `name` and `name_kind`), or a bare name (the article and first letter decide).
fn joined(value: &tera::Value, join: fn(&str, Option<i64>) -> String) -> tera::Result<tera::Value> {
    let (name, kind) = match value {
        tera::Value::String(name) => (name.as_str(), None),
        tera::Value::Object(commune) => (
            commune
                .get("name")
                .and_then(tera::Value::as_str)
                .ok_or_else(|| tera::Error::msg("de, a: a commune without a name"))?,
            commune.get("name_kind").and_then(tera::Value::as_i64),
        ),
        _ => return Err(tera::Error::msg("de, a: expected a commune or its name")),
    };
    Ok(tera::Value::String(join(name, kind)))
}

/// `12345 | thousands` → `12 345` (see [`crate::util::thousands`]).
fn thousands(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let n = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("thousands: expected an integer"))?;
    Ok(tera::Value::String(crate::util::thousands(n)))
}

/// The platform's origin (`scheme://base[:port]`), from configuration only: a request's Host
/// header never shapes a link (pages are cached and e-mailed; see `PARVIS_PUBLIC_PORT`).
pub fn platform_origin(state: &Web) -> String {
    state.config.platform_origin()
}

/// The origin of the site a request resolved to, from configuration: the platform's, or the
/// commune's under the name it was reached by (its subdomain or its custom domain, both
/// checked by the resolver), with the configured scheme and port.
fn site_origin(state: &Web, site: &Site, host: &str) -> String {
    match site {
        Site::Platform => state.config.platform_origin(),
        Site::Commune(c) => {
            let host = host.trim().to_ascii_lowercase();
            let name = host
                .rsplit_once(':')
                .map_or(host.as_str(), |(name, _)| name);
            let name = name.strip_suffix('.').unwrap_or(name);
            let own_subdomain = format!("{}.{}", c.slug, state.config.base_domain);
            if name == own_subdomain || name.is_empty() {
                state.config.commune_origin(&c.slug)
            } else {
                state.config.public_origin(name)
            }
        }
    }
}

fn seconds(value: &tera::Value) -> tera::Result<chrono::DateTime<chrono_tz::Tz>> {
    let secs = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("date: expected Unix seconds"))?;
    let utc = chrono::DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| tera::Error::msg("date: out of range"))?;
    Ok(utc.with_timezone(&chrono_tz::Europe::Paris))
}

/// Months as French writes them short.
const MONTHS: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];

/// `at | day_fr` → « 7 sept. »: a day, short (a chart's axis).
fn day_fr(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    use chrono::Datelike as _;
    let t = seconds(value)?;
    let month = MONTHS.get(t.month0() as usize).copied().unwrap_or("");
    Ok(tera::Value::String(format!("{} {month}", t.day())))
}

/// `created_at | date_fr` → « 24 nov. 2026 à 14 h 05 », in the time of metropolitan France (the
/// hour written as French typography has it, with no-break spaces, as the modules' SDK does).
fn date_fr(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    use chrono::{Datelike as _, Timelike as _};
    let t = seconds(value)?;
    let month = MONTHS.get(t.month0() as usize).copied().unwrap_or("");
    Ok(tera::Value::String(format!(
        "{} {month} {} à {}\u{a0}h\u{a0}{:02}",
        t.day(),
        t.year(),
        t.hour(),
        t.minute()
    )))
}

/// `created_at | date_iso` → RFC 3339, for `<time datetime>`.
fn date_iso(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    Ok(tera::Value::String(seconds(value)?.to_rfc3339()))
}

/// What every page needs from its request.
#[derive(Clone)]
pub struct Page {
    /// The site.
    pub site: Site,
    /// The signed-in account, if any.
    pub viewer: Option<Account>,
    csrf: Option<CsrfToken>,
    /// `scheme://host[:port]` of this site, for absolute links (e-mails), from configuration.
    pub origin: String,
    /// Path and query of this request.
    pub path: String,
    forms: bool,
}

impl<S> FromRequestParts<S> for Page
where
    S: Send + Sync,
    Web: FromRef<S>,
{
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let web = Web::from_ref(state);
        let site = Site::from_request_parts(parts, state).await?;
        let Viewer(mut viewer) = Viewer::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        // The badge of unread messages is for pages that show it: a form submission answers
        // with a redirect (and the page it leads to counts), so it is not counted for it.
        let shows_page = matches!(parts.method, Method::GET | Method::HEAD);
        if let (Site::Commune(c), Some(account), true) = (&site, viewer.as_mut(), shows_page) {
            account.unread_messages = web
                .header
                .unread_messages(
                    c.tenant_id,
                    &account.id,
                    account.here.map(|here| here.messages),
                )
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "unread messages not counted");
                    0
                });
        }
        let csrf = parts.extensions.get::<CsrfToken>().cloned();
        let host = request_host(&parts.headers, &parts.uri).unwrap_or_default();
        let origin = site_origin(&web, &site, &host);
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        Ok(Page {
            site,
            viewer,
            csrf,
            origin,
            path,
            forms: false,
        })
    }
}

impl Page {
    /// This page has forms: embed the CSRF token (and set its cookie if new).
    pub fn with_forms(mut self) -> Self {
        self.forms = true;
        self
    }

    /// The origin of a commune's site, from configuration.
    pub fn commune_origin<S>(&self, state: &S, slug: &str) -> String
    where
        Web: FromRef<S>,
    {
        Web::from_ref(state).config.commune_origin(slug)
    }

    /// The layout's part of this page's context.
    fn layout<'a>(&'a self, web: &'a Web) -> Layout<'a> {
        let csrf_token = self
            .csrf
            .as_ref()
            .filter(|_| self.forms || self.viewer.is_some())
            .map(CsrfToken::value);
        Layout::new(
            Some(&self.site),
            self.viewer.as_ref(),
            csrf_token,
            &web.config,
        )
    }

    /// Renders a page with forms at `status` (a form shown again with its error is a 4xx).
    pub fn render_form<S, T: Template>(
        self,
        state: &S,
        status: axum::http::StatusCode,
        page: &T,
    ) -> AppResult<axum::response::Response>
    where
        Web: FromRef<S>,
    {
        use axum::response::IntoResponse as _;
        Ok((status, self.with_forms().render(state, page)?).into_response())
    }

    /// Renders `page`'s template with its context and the layout's.
    pub fn render<S, T: Template>(&self, state: &S, page: &T) -> AppResult<Html<Bytes>>
    where
        Web: FromRef<S>,
    {
        let web = Web::from_ref(state);
        Ok(Html(web.templates.render_page(&self.layout(&web), page)?))
    }
}

/// What the layout (`base.html`) reads, in every page's context: built here only.
#[derive(Serialize)]
pub struct Layout<'a> {
    site: SiteView<'a>,
    /// The commune of a commune's site (pages read `commune.name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    commune: Option<&'a CommuneSite>,
    viewer: Option<&'a Account>,
    /// Only on pages with forms, or for a signed-in viewer (the sign-out button).
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<&'a str>,
    platform_url: String,
    /// The maps' tiles and credit (`<meta name="parvis-map">`, read by `map.js`).
    map_tiles: &'a crate::config::MapTiles,
}

/// The site, as the layout names it.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum SiteView<'a> {
    Platform {
        name: &'static str,
    },
    Commune {
        name: &'a str,
        slug: &'a str,
        /// Its colour, when it chose one (`/theme.css`).
        accent: Option<&'a str>,
    },
    /// A host that is no site of this platform (its « adresse inconnue » page).
    None {
        name: &'static str,
    },
}

impl<'a> Layout<'a> {
    /// The layout of a page on `site` (`None`: a host that is no site of this platform).
    pub fn new(
        site: Option<&'a Site>,
        viewer: Option<&'a Account>,
        csrf_token: Option<&'a str>,
        config: &'a crate::config::Config,
    ) -> Layout<'a> {
        let (site, commune) = match site {
            Some(Site::Platform) => (SiteView::Platform { name: "Parvis" }, None),
            Some(Site::Commune(c)) => (
                SiteView::Commune {
                    name: &c.name,
                    slug: &c.slug,
                    accent: c.accent.as_deref(),
                },
                Some(c.as_ref()),
            ),
            None => (SiteView::None { name: "Parvis" }, None),
        };
        Layout {
            site,
            commune,
            viewer,
            csrf_token,
            platform_url: config.platform_origin(),
            map_tiles: &config.map_tiles,
        }
    }
}

#[cfg(test)]
mod tests {
    use include_dir::{DirEntry, File};

    use super::*;

    /// A folder of one test template.
    const fn folder(entries: &'static [DirEntry<'static>]) -> Dir<'static> {
        Dir::new("", entries)
    }

    static ESCAPES: Dir<'static> = folder(&[DirEntry::File(File::new(
        "test/escapes.html",
        b"{{ text }}|{{ text | escape | linebreaksbr | safe }}|<a href=\"{{ href }}\">",
    ))]);

    #[derive(Serialize)]
    struct Escapes<'a> {
        text: &'a str,
        href: &'a str,
    }

    impl Template for Escapes<'_> {
        const NAME: &'static str = "test/escapes.html";
    }

    #[test]
    fn every_file_of_the_folders_is_registered_by_its_path() {
        let templates = Templates::new(&[&ESCAPES]).map_err(|e| format!("{e:?}"));
        let templates = templates.as_ref().map_err(String::as_str);
        let names: Vec<&str> = templates.map(|t| t.names().collect()).unwrap_or_default();
        for name in [
            "base.html",
            "auth/notice.html",
            "mail/digest.html",
            "test/escapes.html",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }

    #[test]
    fn a_template_that_does_not_parse_fails_at_start() {
        static BROKEN: Dir<'static> = folder(&[DirEntry::File(File::new(
            "test/broken.html",
            b"{% if %}never closed",
        ))]);
        let err = Templates::new(&[&BROKEN]).err().map(|e| format!("{e:?}"));
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("test/broken.html")),
            "{err:?}"
        );
    }

    #[test]
    fn one_escaping_rule_for_values_and_the_escape_filter() {
        assert_eq!(
            escape_html("<a href=\"https://x/?a=1&b='2'\">"),
            "&lt;a href=&quot;https://x/?a=1&amp;b=&#x27;2&#x27;&quot;&gt;"
        );
        let html = Templates::new(&[&ESCAPES]).and_then(|t| {
            t.render(&Escapes {
                text: "<b>Oui</b> & \"non\"\nl'un/l'autre",
                href: "/publications/1?a=1&b=2",
            })
        });
        assert_eq!(
            html.map_err(|e| format!("{e:?}")),
            Ok(
                "&lt;b&gt;Oui&lt;/b&gt; &amp; &quot;non&quot;\nl&#x27;un/l&#x27;autre|\
                &lt;b&gt;Oui&lt;/b&gt; &amp; &quot;non&quot;<br>l&#x27;un/l&#x27;autre|\
                <a href=\"/publications/1?a=1&amp;b=2\">"
                    .to_string()
            )
        );
    }
}
