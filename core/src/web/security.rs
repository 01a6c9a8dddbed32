//! Security headers of every response. Core pages get a Content-Security-Policy that allows
//! scripts, styles and everything else from their own origin only, and images from the
//! communes' sites too (a feed page shows attachments that each commune serves on its own
//! host). Responses that set their own policy keep it: module pages (stricter), and media
//! (a sandbox).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::web::AppState;
use crate::web::render::platform_origin;

/// The policy of core pages; `{communes}` is the communes' origins (`http://*.base:port`).
fn policy(communes: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' {communes}; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Middleware: adds the core policy when the response has none, and `nosniff`, a referrer
/// policy that never sends paths to other sites, everywhere.
pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let platform = platform_origin(&state);
        let (scheme, rest) = platform.split_once("://").unwrap_or(("http", &platform));
        if let Ok(value) = HeaderValue::from_str(&policy(&format!("{scheme}://*.{rest}"))) {
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
    fn the_policy_allows_only_own_scripts_and_commune_images() {
        let p = super::policy("https://*.parvis.fr");
        assert!(p.contains("script-src 'self';"));
        assert!(p.contains("img-src 'self' https://*.parvis.fr;"));
        assert!(!p.contains("unsafe"));
    }
}
