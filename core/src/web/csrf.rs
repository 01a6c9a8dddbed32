//! CSRF protection for every form: a random token in an HttpOnly cookie must come back in the
//! form's `csrf_token` field (or the `X-CSRF-Token` header for scripts, or the `csrf_token`
//! query parameter for multipart uploads). The cookie is only set on pages that embed it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use crate::error::AppError;
use crate::util::random_token;
use crate::web::Web;
use crate::web::session::{cookie_header, read_cookie};

/// Name of the CSRF cookie and form field.
pub const CSRF_COOKIE: &str = "parvis_csrf";
/// Name of the form field.
pub const CSRF_FIELD: &str = "csrf_token";
/// Paths whose POST carries its own signed token instead: the one-click unsubscribe link of
/// e-mails, which mail clients POST without cookies (RFC 8058).
const EXEMPT: &[&str] = &["/desabonnement"];
/// Largest form body checked in memory (uploads are multipart and checked by query).
const MAX_FORM_BYTES: usize = 1 << 20;

/// The token of this request; pages put it in their forms.
#[derive(Debug, Clone)]
pub struct CsrfToken {
    value: Arc<str>,
    fresh: bool,
    used: Arc<AtomicBool>,
}

impl CsrfToken {
    /// The token, marking that the response must carry its cookie.
    pub fn value(&self) -> &str {
        self.used.store(true, Ordering::Relaxed);
        &self.value
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("csrf layer missing")))
    }
}

fn matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && expected.as_bytes().ct_eq(given.as_bytes()).into()
}

fn refused() -> Response {
    AppError::forbidden(
        "Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page et réessayez.",
    )
    .into_response()
}

/// Middleware: checks unsafe requests, hands the token to pages, sets the cookie when used.
pub async fn protect(State(state): State<Web>, req: Request, next: Next) -> Response {
    let cookie = read_cookie(req.headers(), CSRF_COOKIE).filter(|c| c.len() >= 32);
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && !EXEMPT.contains(&req.uri().path())
        // Public APIs authenticate their writers with keys, not cookies (`modules::api`).
        && !req.uri().path().starts_with(crate::modules::api::OPEN311_PREFIX);
    let req = if unsafe_method {
        let Some(expected) = cookie.as_deref() else {
            return refused();
        };
        match check(req, expected).await {
            Ok(req) => req,
            Err(response) => return response,
        }
    } else {
        req
    };

    let token = CsrfToken {
        fresh: cookie.is_none(),
        value: cookie.unwrap_or_else(random_token).into(),
        used: Arc::new(AtomicBool::new(false)),
    };
    let mut req = req;
    req.extensions_mut().insert(token.clone());
    let mut response = next.run(req).await;
    if token.fresh && token.used.load(Ordering::Relaxed) {
        response.headers_mut().append(
            header::SET_COOKIE,
            cookie_header(CSRF_COOKIE, &token.value, 7 * 24 * 3600, state.config.https),
        );
    }
    response
}

/// Finds the submitted token in the header, the query or the urlencoded body.
async fn check(req: Request, expected: &str) -> Result<Request, Response> {
    if let Some(given) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return if matches(expected, given) {
            Ok(req)
        } else {
            Err(refused())
        };
    }
    let from_query = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v.into_owned())
    });
    if let Some(given) = from_query {
        return if matches(expected, &given) {
            Ok(req)
        } else {
            Err(refused())
        };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refused());
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
        AppError::TooLarge("Le formulaire envoyé est trop volumineux.".into()).into_response()
    })?;
    let given = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !matches(expected, &given) {
        return Err(refused());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
