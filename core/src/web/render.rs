//! Page rendering with tera: templates are compiled into the binary, and every page gets the
//! same base context (site, viewer, CSRF token when the page has forms).

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::Html;
use serde_json::json;
use tera::{Context, Tera};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::csrf::CsrfToken;
use crate::web::session::{Account, Viewer};
use crate::web::site::{Site, request_host};

/// Core templates, embedded so the binary runs anywhere.
const CORE_TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("about.html", include_str!("../../templates/about.html")),
    (
        "platform/landing.html",
        include_str!("../../templates/platform/landing.html"),
    ),
    (
        "platform/search_results.html",
        include_str!("../../templates/platform/search_results.html"),
    ),
    (
        "platform/subscribe.html",
        include_str!("../../templates/platform/subscribe.html"),
    ),
    (
        "commune/home.html",
        include_str!("../../templates/commune/home.html"),
    ),
    (
        "auth/signup.html",
        include_str!("../../templates/auth/signup.html"),
    ),
    (
        "auth/login.html",
        include_str!("../../templates/auth/login.html"),
    ),
    (
        "auth/forgot.html",
        include_str!("../../templates/auth/forgot.html"),
    ),
    (
        "auth/reset.html",
        include_str!("../../templates/auth/reset.html"),
    ),
    (
        "auth/notice.html",
        include_str!("../../templates/auth/notice.html"),
    ),
    (
        "auth/verify.html",
        include_str!("../../templates/auth/verify.html"),
    ),
    (
        "mail/verify.txt",
        include_str!("../../templates/mail/verify.txt"),
    ),
    (
        "mail/reset.txt",
        include_str!("../../templates/mail/reset.txt"),
    ),
    (
        "mail/already_registered.txt",
        include_str!("../../templates/mail/already_registered.txt"),
    ),
    (
        "mail/request_decided.txt",
        include_str!("../../templates/mail/request_decided.txt"),
    ),
    (
        "mail/claim_decided.txt",
        include_str!("../../templates/mail/claim_decided.txt"),
    ),
    (
        "officials/profile.html",
        include_str!("../../templates/officials/profile.html"),
    ),
    (
        "feed/post.html",
        include_str!("../../templates/feed/post.html"),
    ),
    (
        "feed/feed.html",
        include_str!("../../templates/feed/feed.html"),
    ),
    (
        "feed/publish.html",
        include_str!("../../templates/feed/publish.html"),
    ),
    (
        "feed/post_page.html",
        include_str!("../../templates/feed/post_page.html"),
    ),
    (
        "moderation/queue.html",
        include_str!("../../templates/moderation/queue.html"),
    ),
    (
        "messages/inbox.html",
        include_str!("../../templates/messages/inbox.html"),
    ),
    (
        "messages/new.html",
        include_str!("../../templates/messages/new.html"),
    ),
    (
        "messages/thread.html",
        include_str!("../../templates/messages/thread.html"),
    ),
    (
        "messages/blocked.html",
        include_str!("../../templates/messages/blocked.html"),
    ),
    (
        "profiles/citizen.html",
        include_str!("../../templates/profiles/citizen.html"),
    ),
    (
        "profiles/settings.html",
        include_str!("../../templates/profiles/settings.html"),
    ),
    (
        "candidates/new.html",
        include_str!("../../templates/candidates/new.html"),
    ),
    (
        "candidates/profile.html",
        include_str!("../../templates/candidates/profile.html"),
    ),
    (
        "candidates/section.html",
        include_str!("../../templates/candidates/section.html"),
    ),
    (
        "privacy/account.html",
        include_str!("../../templates/privacy/account.html"),
    ),
    (
        "modules/page.html",
        include_str!("../../templates/modules/page.html"),
    ),
    (
        "notifications/centre.html",
        include_str!("../../templates/notifications/centre.html"),
    ),
    (
        "notifications/devices.html",
        include_str!("../../templates/notifications/devices.html"),
    ),
    (
        "notifications/preferences.html",
        include_str!("../../templates/notifications/preferences.html"),
    ),
    (
        "notifications/unsubscribe.html",
        include_str!("../../templates/notifications/unsubscribe.html"),
    ),
];

/// The compiled templates.
pub struct Templates {
    tera: Tera,
}

impl Templates {
    /// Compiles the core templates plus `extra` ones (the admin back-office's).
    pub fn new(extra: &[(&str, &str)]) -> Result<Templates, tera::Error> {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_templates(CORE_TEMPLATES.iter().chain(extra.iter()).copied())?;
        tera.register_filter("thousands", thousands);
        tera.register_filter("date_fr", date_fr);
        tera.register_filter("date_iso", date_iso);
        Ok(Templates { tera })
    }

    /// Renders one template.
    pub fn render(&self, name: &str, ctx: &Context) -> Result<String, tera::Error> {
        self.tera.render(name, ctx)
    }
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
pub fn platform_origin(state: &AppState) -> String {
    state.config.platform_origin()
}

/// The origin of the site a request resolved to, from configuration: the platform's, or the
/// commune's under the name it was reached by (its subdomain or its custom domain, both
/// checked by the resolver), with the configured scheme and port.
fn site_origin(state: &AppState, site: &Site, host: &str) -> String {
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

/// `created_at | date_fr` → « 24 nov. 2026 à 14:05 », in the time of metropolitan France.
fn date_fr(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    const MONTHS: [&str; 12] = [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ];
    use chrono::{Datelike as _, Timelike as _};
    let t = seconds(value)?;
    let month = MONTHS.get(t.month0() as usize).copied().unwrap_or("");
    Ok(tera::Value::String(format!(
        "{} {month} {} à {:02}:{:02}",
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

impl FromRequestParts<AppState> for Page {
    type Rejection = AppError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let site = Site::from_request_parts(parts, state).await?;
        let Viewer(mut viewer) = Viewer::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        // The badge of unread messages is for pages that show it: a form submission answers
        // with a redirect (and the page it leads to counts), so it is not counted for it.
        let shows_page = matches!(parts.method, Method::GET | Method::HEAD);
        if let (Site::Commune(c), Some(account), true) = (&site, viewer.as_mut(), shows_page) {
            account.unread_messages =
                crate::messages::service::unread_total(state, c.tenant_id, &account.id)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "unread messages not counted");
                        0
                    });
        }
        let csrf = parts.extensions.get::<CsrfToken>().cloned();
        let host = request_host(&parts.headers, &parts.uri).unwrap_or_default();
        let origin = site_origin(state, &site, &host);
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

    /// The platform's origin (`scheme://base[:port]`), from configuration.
    pub fn platform_origin(&self, state: &AppState) -> String {
        state.config.platform_origin()
    }

    /// The origin of a commune's site, from configuration.
    pub fn commune_origin(&self, state: &AppState, slug: &str) -> String {
        state.config.commune_origin(slug)
    }

    /// The base context of every page.
    pub fn context(&self, state: &AppState) -> Context {
        let mut ctx = Context::new();
        match &self.site {
            Site::Platform => {
                ctx.insert("site", &json!({"kind": "platform", "name": "Parvis"}));
            }
            Site::Commune(c) => {
                ctx.insert(
                    "site",
                    &json!({"kind": "commune", "name": c.name, "slug": c.slug}),
                );
                ctx.insert("commune", c.as_ref());
            }
        }
        ctx.insert("viewer", &self.viewer);
        if (self.forms || self.viewer.is_some())
            && let Some(csrf) = &self.csrf
        {
            ctx.insert("csrf_token", csrf.value());
        }
        ctx.insert("platform_url", &self.platform_origin(state));
        ctx.insert("current_path", &self.path);
        ctx
    }

    /// Renders a page with forms at `status` (a form shown again with its error is a 4xx).
    pub fn render_form(
        self,
        state: &AppState,
        status: axum::http::StatusCode,
        template: &str,
        extra: Context,
    ) -> AppResult<axum::response::Response> {
        use axum::response::IntoResponse as _;
        Ok((status, self.with_forms().render(state, template, extra)?).into_response())
    }

    /// Renders `template` with the base context plus `extra`.
    pub fn render(
        &self,
        state: &AppState,
        template: &str,
        extra: Context,
    ) -> AppResult<Html<String>> {
        let mut ctx = self.context(state);
        ctx.extend(extra);
        Ok(Html(state.templates.render(template, &ctx)?))
    }
}
