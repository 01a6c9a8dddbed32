//! One account everywhere (issue 20): signed in once, signed in on every host of the platform.
//!
//! - The apex and every commune's subdomain share the session cookie, set for the base domain
//!   ([`session::CookieScope`]).
//! - A commune served on its own domain cannot read that cookie, so the platform hands the
//!   session over, as single sign-on systems do: the domain's first page sends the browser to
//!   the platform's `/sso/depart?vers=<that page>`, which answers with a redirect to
//!   `<domain>/sso/arrivee?code=…` carrying a one-time code (or `?sso=non` when nobody is
//!   signed in there); the domain exchanges the code for a session of its own, in the same
//!   family as the platform's, and sends the browser on to the page. The code is random,
//!   kept only as its hash, bound to the domain it was made for, expires in
//!   [`CODE_TTL_SECS`] seconds and is used at most once; it is not a session token, and the
//!   answers that carry it tell the browser not to send it on (`Referrer-Policy: no-referrer`)
//!   nor keep them (`Cache-Control: no-store`).
//! - Signing out anywhere ends every session of the family ([`session::close`]); a password
//!   reset or the account's deletion ends all of the account's.
//!
//! The check runs once per browser session on a domain (the cookie [`CHECKED_COOKIE`]), and
//! only for a page a person opens (a `GET` navigation), never for a form, an API or a file.

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::db::sql;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::types::AccountId;
use crate::util::{now, random_token, token_hash};
use crate::web::render::{Notice, Page};
use crate::web::session::{self, CookieScope, SESSION_COOKIE, Viewer, read_cookie};
use crate::web::site::{Site, custom_host, request_host};

/// A hand-off code is good for this long: the two redirects it rides take milliseconds.
pub const CODE_TTL_SECS: i64 = 30;
/// Set on a commune's own domain once the platform was asked who is signed in, for the browser
/// session: the check is not made again on every page (and cannot loop).
pub const CHECKED_COOKIE: &str = "parvis_sso";

/// The routes: `/sso/depart` on the platform's hosts, `/sso/arrivee` on a commune's domain.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sso/depart", get(depart))
        .route("/sso/arrivee", get(arrivee))
}

#[derive(Deserialize)]
struct DepartQuery {
    #[serde(default)]
    vers: String,
}

/// A commune's domain asks who is signed in: a code for it, or `sso=non`.
async fn depart(
    State(state): State<AppState>,
    page: Page,
    viewer: Viewer,
    headers: HeaderMap,
    Query(q): Query<DepartQuery>,
) -> AppResult<Response> {
    let base = &state.config.base_domain;
    let here = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if here.is_some_and(|h| custom_host(h, base).is_some()) {
        return Err(AppError::not_found(
            "Cette adresse n'existe pas sur ce site.",
        ));
    }
    let Some((target, host)) = target(&state, &q.vers).await? else {
        return refused(
            &page,
            &state,
            StatusCode::BAD_REQUEST,
            "Cette adresse n'est pas celle d'une commune de la plateforme : aucune connexion ne lui est transmise.",
        );
    };
    let Some(account) = viewer.0 else {
        return Ok(no_store(
            Redirect::to(&with_query(&target, "sso=non")).into_response(),
        ));
    };
    let Some((_, family)) = session::family_of(&state.db, &headers).await? else {
        return Ok(no_store(
            Redirect::to(&with_query(&target, "sso=non")).into_response(),
        ));
    };
    if !state.sso_handoffs.check(&account.id.0) {
        return refused(
            &page,
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Trop de connexions transmises en une minute pour ce compte. Réessayez dans une minute.",
        );
    }
    let code = random_token();
    let at = now();
    {
        let _turn = state.db.write_turn().await?;
        sql::query(
            "INSERT INTO sso_codes (code_hash, account_id, family, host, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash(&code))
        .bind(&account.id.0)
        .bind(&family)
        .bind(&host)
        .bind(at)
        .bind(at + CODE_TTL_SECS)
        .execute(state.db.platform())
        .await?;
    }
    let url = url::Url::parse(&target).map_err(|e| AppError::Internal(e.into()))?;
    let mut arrival = url.clone();
    arrival.set_path("/sso/arrivee");
    arrival.set_query(None);
    arrival.set_fragment(None);
    let suite = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    arrival
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("suite", &suite);
    Ok(no_store(Redirect::to(arrival.as_str()).into_response()))
}

/// `vers` when it is a page of a commune served on its own domain by this platform, with the
/// scheme and port the platform is reached by: `(the URL, its host)`.
pub(crate) async fn target(state: &AppState, vers: &str) -> AppResult<Option<(String, String)>> {
    if vers.len() > 2048 {
        return Ok(None);
    }
    let Ok(url) = url::Url::parse(vers) else {
        return Ok(None);
    };
    let Some(name) = url.host_str() else {
        return Ok(None);
    };
    let Some(host) = custom_host(name, &state.config.base_domain) else {
        return Ok(None);
    };
    let origin = state.config.public_origin(&host);
    if url.origin().ascii_serialization() != origin || !url.username().is_empty() {
        return Ok(None);
    }
    match state.sites.resolve(&state.db, &host).await? {
        Some(Site::Commune(_)) => Ok(Some((url.to_string(), host))),
        _ => Ok(None),
    }
}

#[derive(Deserialize)]
struct ArriveeQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    suite: String,
}

/// A commune's domain exchanges the platform's code for a session of its own.
async fn arrivee(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(q): Query<ArriveeQuery>,
) -> AppResult<Response> {
    let base = &state.config.base_domain;
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| custom_host(h, base))
    else {
        return Err(AppError::not_found(
            "Cette adresse n'existe pas sur ce site.",
        ));
    };
    let next = crate::util::same_origin_path(&q.suite).unwrap_or_else(|| "/".to_string());
    let used = if q.code.is_empty() || q.code.len() > 100 {
        None
    } else {
        let _turn = state.db.write_turn().await?;
        sql::query_as::<(AccountId, String)>(
            "UPDATE sso_codes SET used_at = $1 WHERE code_hash = $2 AND host = $3 \
             AND used_at IS NULL AND expires_at > $1 RETURNING account_id, family",
        )
        .bind(now())
        .bind(token_hash(&q.code))
        .bind(&host)
        .fetch_optional(state.db.platform())
        .await?
    };
    let Some((account, family)) = used else {
        let mut response = refused(
            &page,
            &state,
            StatusCode::BAD_REQUEST,
            "Ce lien de connexion a expiré ou a déjà servi. Rouvrez la page, ou connectez-vous ici.",
        )?;
        response
            .headers_mut()
            .append(header::SET_COOKIE, checked_cookie(&state));
        return Ok(no_store(response));
    };
    let scope = CookieScope::for_host(&state.config, Some(&host));
    let cookie = session::open_in_family(&state.db, &account, Some(&family), &scope).await?;
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .append(header::SET_COOKIE, checked_cookie(&state));
    Ok(no_store(response))
}

/// The middleware: the first page a person opens on a commune's own domain, without a session
/// there, asks the platform who is signed in (once per browser session).
pub async fn hand_over(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let base = &state.config.base_domain;
    let Some(host) = request_host(req.headers(), req.uri()).and_then(|h| custom_host(&h, base))
    else {
        return next.run(req).await;
    };
    if req.method() != Method::GET
        || req.uri().path().starts_with("/sso/")
        || !is_navigation(req.headers())
        || read_cookie(req.headers(), SESSION_COOKIE).is_some()
        || read_cookie(req.headers(), CHECKED_COOKIE).is_some()
        || !matches!(req.extensions().get::<Site>(), Some(Site::Commune(_)))
    {
        return next.run(req).await;
    }
    if req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "sso=non"))
    {
        // The platform said nobody is signed in there: this page, and no more asking.
        let mut response = next.run(req).await;
        response
            .headers_mut()
            .append(header::SET_COOKIE, checked_cookie(&state));
        return response;
    }
    let here = format!(
        "{}{}",
        state.config.public_origin(&host),
        req.uri()
            .path_and_query()
            .map_or("/", axum::http::uri::PathAndQuery::as_str)
    );
    let mut depart = format!("{}/sso/depart", state.config.platform_origin());
    depart.push_str("?vers=");
    depart.push_str(&url::form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>());
    no_store(Redirect::to(&depart).into_response())
}

/// A page the person opens (the browser says so, or it asks for HTML), not a script's fetch.
fn is_navigation(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-mode").and_then(|v| v.to_str().ok()) {
        Some(mode) => mode == "navigate",
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html")),
    }
}

fn checked_cookie(state: &AppState) -> HeaderValue {
    // A browser-session cookie (no Max-Age): asked again after the browser restarts.
    let cookie = cookie::Cookie::build((CHECKED_COOKIE, "1"))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(state.config.https)
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

fn with_query(url: &str, pair: &str) -> String {
    let join = if url.contains('?') { '&' } else { '?' };
    format!("{url}{join}{pair}")
}

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn refused(
    page: &Page,
    state: &AppState,
    status: StatusCode,
    message: &str,
) -> AppResult<Response> {
    let title = "Connexion impossible";
    Ok((status, page.render(state, &Notice { title, message })?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pages_people_open_are_handed_over() {
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-mode", HeaderValue::from_static("navigate"));
        assert!(is_navigation(&h));
        h.insert("sec-fetch-mode", HeaderValue::from_static("cors"));
        assert!(!is_navigation(&h));
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html,*/*"));
        assert!(is_navigation(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!is_navigation(&h));
        assert_eq!(
            with_query("https://a.fr/x", "sso=non"),
            "https://a.fr/x?sso=non"
        );
        assert_eq!(
            with_query("https://a.fr/x?y=1", "sso=non"),
            "https://a.fr/x?y=1&sso=non"
        );
    }
}
