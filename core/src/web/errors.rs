//! Error pages: every [`crate::error::ErrorPage`] response becomes a French page in the site's
//! layout, JSON under `/api/` and for scripts that send or accept JSON, or a redirect to the
//! login form for anonymous visitors.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;

use crate::error::{AppError, ErrorPage};
use crate::web::Web;
use crate::web::render::{Layout, Template};
use crate::web::session::Viewer;
use crate::web::site::Site;

/// Middleware: renders error pages (runs inside site resolution and viewer loading).
pub async fn render_error_pages(State(state): State<Web>, req: Request, next: Next) -> Response {
    let site = req.extensions().get::<Site>().cloned();
    let viewer = req
        .extensions()
        .get::<Viewer>()
        .cloned()
        .unwrap_or_default();
    let path = req.uri().path().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let method = req.method().clone();
    let json_api = path.starts_with("/api/") || wants_json(req.headers());
    let response = next.run(req).await;
    let Some(page) = response
        .extensions()
        .get::<ErrorPage>()
        .cloned()
        .or_else(|| framework_rejection(&response))
    else {
        return response;
    };
    if json_api {
        let body = json!({"error": {"code": page.code, "message": page.message}});
        let mut json = (page.status, axum::Json(body)).into_response();
        // A script told to come back later (429, 503) is told when, as a page is.
        if let Some(v) = response.headers().get(header::RETRY_AFTER) {
            json.headers_mut().insert(header::RETRY_AFTER, v.clone());
        }
        return json;
    }
    if page.status == StatusCode::UNAUTHORIZED {
        let next_path = if method == Method::GET {
            path_and_query
        } else {
            "/".into()
        };
        let target = format!(
            "/connexion?next={}",
            url::form_urlencoded::byte_serialize(next_path.as_bytes()).collect::<String>()
        );
        return Redirect::to(&target).into_response();
    }
    let site = site.unwrap_or(Site::Platform);
    let layout = Layout::new(Some(&site), viewer.0.as_ref(), None, &state.config);
    let content = ErrorContent {
        title: title(page.status),
        message: &page.message,
    };
    html_with_status(
        &state,
        page.status,
        &layout,
        &content,
        response.headers().get(header::RETRY_AFTER).cloned(),
    )
}

/// A script's request (`fetch` with JSON): it gets its errors as JSON, a 401 included.
fn wants_json(headers: &axum::http::HeaderMap) -> bool {
    let says_json = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"))
    };
    says_json(header::CONTENT_TYPE) || says_json(header::ACCEPT)
}

/// Extractor rejections (malformed form, wrong method…) come as plain text in English: they
/// get the same French page as our own errors.
fn framework_rejection(response: &Response) -> Option<ErrorPage> {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !plain {
        return None;
    }
    let (status, code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            status,
            "method_not_allowed",
            "Cette adresse n'accepte pas ce type de requête.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            (status, "payload_too_large", "L'envoi est trop volumineux.")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::UNPROCESSABLE_ENTITY
        | StatusCode::BAD_REQUEST => (
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Le formulaire envoyé est incomplet ou mal formé.",
        ),
        _ => return None,
    };
    Some(ErrorPage {
        status,
        code,
        message: message.to_string(),
    })
}

/// `error.html`: what went wrong, in the site's layout.
#[derive(serde::Serialize)]
struct ErrorContent<'a> {
    title: &'a str,
    message: &'a str,
}

impl Template for ErrorContent<'_> {
    const NAME: &'static str = "error.html";
}

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Demande incorrecte",
        403 => "Accès refusé",
        404 => "Page introuvable",
        409 => "Conflit",
        405 => "Requête non acceptée",
        413 => "Envoi trop volumineux",
        429 => "Trop de tentatives",
        _ => "Erreur du serveur",
    }
}

fn html_with_status(
    state: &Web,
    status: StatusCode,
    layout: &Layout<'_>,
    content: &ErrorContent<'_>,
    retry_after: Option<HeaderValue>,
) -> Response {
    match state.templates.render_page(layout, content) {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            if let Some(v) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        Err(e) => {
            tracing::error!(error = ?e, "error page failed to render");
            (status, "Erreur").into_response()
        }
    }
}

/// `platform/not_open.html`: the address of a commune that has not opened its space yet.
#[derive(serde::Serialize)]
struct NotOpen<'a> {
    communes: &'a [crate::communes::search::CommuneHit],
}

impl Template for NotOpen<'_> {
    const NAME: &'static str = "platform/not_open.html";
}

/// The page for a host that is no commune of this platform (or a malformed Host header). The
/// address of a commune of the registry that has not opened yet (`annecy.<domain>`) says so,
/// and invites its mayor to ask for it.
pub fn unknown_host_page(state: &Web, host: &str) -> Response {
    let layout = Layout::new(None, None, None, &state.config);
    let communes = crate::web::site::subdomain_of(host, &state.config.base_domain)
        .map(|slug| state.communes.unopened_by_slug(slug.as_str()))
        .unwrap_or_default();
    if !communes.is_empty() {
        let page = NotOpen {
            communes: &communes,
        };
        return match state.templates.render_page(&layout, &page) {
            Ok(html) => (StatusCode::NOT_FOUND, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = ?e, "error page failed to render");
                (StatusCode::NOT_FOUND, "Commune pas encore ouverte").into_response()
            }
        };
    }
    let message = format!(
        "Aucune commune n'est servie à l'adresse « {} ». Vérifiez l'adresse, ou cherchez \
         votre commune depuis l'accueil de la plateforme.",
        host.chars().take(100).collect::<String>()
    );
    let content = ErrorContent {
        title: "Adresse inconnue",
        message: &message,
    };
    html_with_status(state, StatusCode::NOT_FOUND, &layout, &content, None)
}

/// Fallback for unknown paths.
pub async fn not_found() -> AppError {
    AppError::not_found("Cette page n'existe pas.")
}
