//! Security headers of every response. Pages get a Content-Security-Policy under which the
//! only scripts that run are the host's own: those it serves below [`STATIC_PREFIX`] on the
//! origin the browser reached (CSP path matching), and its service worker at
//! [`SERVICE_WORKER`]. Nothing a module serves (its pages, its JSON, its downloads, all below
//! `/m/<id>/`) matches, so no module script runs on a commune's origin, even with the CSRF
//! token the host hands to modules in reach. Styles and everything else come from the
//! page's own origin, images from the communes' sites too (a feed page shows attachments
//! that each commune serves on its own host). Module pages get the same policy with inline
//! styles and `data:` images allowed ([`ModulePage`]); responses that set their own policy
//! keep it (media and module downloads: a sandbox).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::web::Web;
use crate::web::render::platform_origin;

/// The path below which the host serves its own scripts (`/static/search.js`,
/// `/static/push.js`…): the only path a page may load a script from. Nothing else is ever
/// served below it (no module, no redirect: a redirect would let any path through, since
/// CSP path matching stops at the first redirect).
pub const STATIC_PREFIX: &str = "/static/";

/// The push service worker, which `/static/push.js` registers with the whole site as its
/// scope (so it cannot live below [`STATIC_PREFIX`]): the only worker a page may start.
pub const SERVICE_WORKER: &str = "/sw.js";

/// Where a form may be sent, besides the page's own origin: Stripe's checkout pages, which
/// the host redirects a payment form to (`form-action` also governs that redirect).
pub const CHECKOUT_FORMS: &str = "https://checkout.stripe.com";

/// The policy of what a module answers with data (JSON, downloads): even a browser that
/// renders it runs nothing and loads nothing.
pub const SANDBOX_POLICY: &str = "sandbox; default-src 'none'";

/// Response extension set by module pages: the middleware gives them the module policy
/// (inline styles and `data:` images, which module HTML may use) instead of the core one.
#[derive(Debug, Clone, Copy)]
pub struct ModulePage;

/// The policy of core pages on `site` (`scheme://host[:port]`, see [`site_origin`]);
/// `communes` is the communes' origins (`http://*.base:port`), `tiles` the maps' tile server
/// (`PARVIS_MAP_TILES`), the one outside origin images come from. `data:` images too: the map
/// library blanks a tile it stops loading with a one-pixel `data:` GIF (a `data:` image loads
/// nothing from anywhere).
/// `forms` is where forms may lead besides the page's origin ([`form_targets`]).
fn policy(site: Option<&str>, communes: &str, tiles: &str, forms: &str) -> String {
    let (scripts, worker) = sources(site);
    format!(
        "default-src 'self'; script-src {scripts}; worker-src {worker}; style-src 'self'; \
         img-src 'self' data: {communes} {tiles}; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self' {forms}; frame-ancestors 'none'"
    )
}

/// Where a form may lead besides the page's origin: Stripe's checkout, and FranceConnect's
/// logout when it is configured (signing out of a sign-in through FranceConnect redirects
/// the sign-out form there, and `form-action` governs that redirect).
fn form_targets(config: &crate::config::Config) -> String {
    let franceconnect = config
        .franceconnect
        .as_ref()
        .and_then(|fc| url::Url::parse(&fc.issuer).ok())
        .map(|u| u.origin().ascii_serialization());
    match franceconnect {
        Some(origin) => format!("{CHECKOUT_FORMS} {origin}"),
        None => CHECKOUT_FORMS.to_string(),
    }
}

/// The policy of module pages: the core one's scripts and framing, with the inline styles
/// and `data:` images module HTML may use, and the maps' tiles.
fn module_policy(site: Option<&str>, tiles: &str, forms: &str) -> String {
    let (scripts, worker) = sources(site);
    format!(
        "default-src 'self'; script-src {scripts}; worker-src {worker}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: {tiles}; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self' {forms}; \
         frame-ancestors 'none'"
    )
}

/// `script-src` and `worker-src`: the host's static path and service worker on the page's
/// origin, or nothing when the origin is unknown.
fn sources(site: Option<&str>) -> (String, String) {
    match site {
        Some(site) => (
            format!("{site}{STATIC_PREFIX}"),
            format!("{site}{SERVICE_WORKER}"),
        ),
        None => ("'none'".to_string(), "'none'".to_string()),
    }
}

/// The origin the browser reached, for the policy's paths: the host name of the request
/// (normalised; `None` when it is not a plain DNS name), with the scheme and port from
/// configuration, so a forged port in a Host header never reaches a header.
fn site_origin(state: &Web, req: &Request) -> Option<String> {
    let host = crate::web::site::request_host(req.headers(), req.uri())?;
    let host = host.trim().to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        Some(_) => return None,
        None => host.as_str(),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    valid.then(|| state.config.public_origin(name))
}

/// Middleware: adds the core policy (or the module policy to a [`ModulePage`]) when the
/// response has none, and `nosniff`, a referrer policy that never sends paths to other
/// sites, everywhere.
pub async fn headers(State(state): State<Web>, req: Request, next: Next) -> Response {
    let site = site_origin(&state, &req);
    let mut response = next.run(req).await;
    let module_page = response.extensions().get::<ModulePage>().is_some();
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let tiles = &state.config.map_tiles.origin;
        let forms = form_targets(&state.config);
        let value = if module_page {
            module_policy(site.as_deref(), tiles, &forms)
        } else {
            let platform = platform_origin(&state);
            let (scheme, rest) = platform.split_once("://").unwrap_or(("http", &platform));
            policy(
                site.as_deref(),
                &format!("{scheme}://*.{rest}"),
                tiles,
                &forms,
            )
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("strict-origin-when-cross-origin"));
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_policy_allows_only_the_hosts_scripts_and_commune_images() {
        let p = super::policy(
            Some("https://paris.parvis.fr"),
            "https://*.parvis.fr",
            "https://data.geopf.fr",
            super::CHECKOUT_FORMS,
        );
        assert!(
            p.contains("script-src https://paris.parvis.fr/static/;"),
            "{p}"
        );
        assert!(
            p.contains("worker-src https://paris.parvis.fr/sw.js;"),
            "{p}"
        );
        assert!(p.contains("img-src 'self' data: https://*.parvis.fr https://data.geopf.fr;"));
        assert!(p.contains("object-src 'none'") && p.contains("base-uri 'none'"));
        assert!(p.contains("frame-ancestors 'none'") && p.contains("form-action 'self'"));
        assert!(!p.contains("unsafe"));
        assert!(!p.contains("script-src 'self'"));
    }

    #[test]
    fn module_pages_run_the_same_scripts_only() {
        let p = super::module_policy(
            Some("http://lyon.parvis.test:8080"),
            "http://127.0.0.1:9",
            super::CHECKOUT_FORMS,
        );
        assert!(
            p.contains("script-src http://lyon.parvis.test:8080/static/;"),
            "{p}"
        );
        assert!(!p.contains("script-src 'self'") && !p.contains("unsafe-eval"));
        assert!(p.contains("object-src 'none'") && p.contains("base-uri 'none'"));
        assert!(
            p.contains("img-src 'self' data: http://127.0.0.1:9;"),
            "{p}"
        );
        let unknown = super::module_policy(None, "https://data.geopf.fr", super::CHECKOUT_FORMS);
        assert!(unknown.contains("script-src 'none';"), "{unknown}");
    }
}
