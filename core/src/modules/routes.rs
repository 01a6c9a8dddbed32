//! Module pages: `/m/<id>/…` for everyone and `/admin/m/<id>/…` for the commune's staff, on
//! the commune's host, with the same session, CSRF protection (the middleware already checked
//! every form) and role checks as core pages. Module HTML is wrapped in the commune's layout.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::any;
use serde_json::json;
use tera::Context;

use crate::authz::perms;
use crate::error::{AppError, AppResult, ErrorPage};
use crate::modules::bindings::parvis::module::types::{
    Body, Commune, Field, Request, Response as ModuleResponse, Viewer,
};
use crate::modules::call::{self, CallContext, Fault};
use crate::modules::registry::LoadedModule;
use crate::web::csrf::{CSRF_FIELD, CsrfToken};
use crate::web::session::{cookie_header, read_cookie};
use crate::web::{AppState, Page};

/// Cookie carrying a module's one-time message across its redirect.
const FLASH_COOKIE: &str = "parvis_flash";
/// Script and framing rules for module pages: a module's HTML cannot run scripts.
const MODULE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The module routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/m/{id}", any(public))
        .route("/m/{id}/", any(public))
        .route("/m/{id}/{*rest}", any(public))
        .route("/admin/m/{id}", any(admin))
        .route("/admin/m/{id}/", any(admin))
        .route("/admin/m/{id}/{*rest}", any(admin))
}

/// What every module request carries besides its path.
struct Incoming {
    page: Page,
    csrf: CsrfToken,
    method: Method,
    headers: HeaderMap,
    query: Option<String>,
    body: Bytes,
}

impl FromRequest<AppState> for Incoming {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> AppResult<Self> {
        let (mut parts, body) = req.into_parts();
        let page = Page::from_request_parts(&mut parts, state).await?;
        let csrf = CsrfToken::from_request_parts(&mut parts, state).await?;
        let query = parts.uri.query().map(str::to_string);
        let method = parts.method.clone();
        let headers = parts.headers.clone();
        let req = axum::extract::Request::from_parts(parts, body);
        let body = Bytes::from_request(req, state).await.map_err(|_| {
            AppError::bad_request("Le contenu envoyé est trop volumineux ou illisible.")
        })?;
        Ok(Incoming {
            page,
            csrf,
            method,
            headers,
            query,
            body,
        })
    }
}

/// `/m/{id}` or `/m/{id}/{*rest}`: the path below the mount point, `/` when there is none.
fn below_mount(params: &HashMap<String, String>) -> (String, String) {
    let id = params.get("id").cloned().unwrap_or_default();
    let rest = params.get("rest").map(String::as_str).unwrap_or("");
    (id, format!("/{rest}"))
}

async fn public(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    incoming: Incoming,
) -> AppResult<Response> {
    let (id, path) = below_mount(&params);
    serve(&state, &id, path, false, incoming).await
}

async fn admin(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    incoming: Incoming,
) -> AppResult<Response> {
    let (id, path) = below_mount(&params);
    serve(&state, &id, path, true, incoming).await
}

fn fields(raw: &[u8]) -> Vec<Field> {
    url::form_urlencoded::parse(raw)
        .filter(|(name, _)| name != CSRF_FIELD)
        .map(|(name, value)| Field {
            name: name.into_owned(),
            value: value.into_owned(),
        })
        .collect()
}

/// A French error page for one module, leaving the rest of the site alone.
fn module_error(status: StatusCode, code: &'static str, message: String) -> Response {
    let page = ErrorPage {
        status,
        code,
        message: message.clone(),
    };
    let mut response = (status, message).into_response();
    response.extensions_mut().insert(page);
    response
}

async fn serve(
    state: &AppState,
    id: &str,
    path: String,
    admin: bool,
    incoming: Incoming,
) -> AppResult<Response> {
    let Incoming {
        page,
        csrf,
        method,
        headers,
        query,
        body,
    } = incoming;
    let commune = page.site.commune()?.clone();
    let Some(module) = state.modules.get(id) else {
        return Err(AppError::not_found("Ce service n'existe pas sur ce site."));
    };
    let choices = state.modules.tenant(&state.db, commune.tenant_id).await?;
    let Some(choice) = choices.enabled(id) else {
        let reason = choices.rows.get(id).and_then(|r| r.fault_reason.clone());
        return Ok(match reason {
            Some(_) => module_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "module_disabled",
                format!(
                    "Le service « {} » est momentanément désactivé après des erreurs répétées. \
                     Les administrateurs de la commune ont été prévenus.",
                    module.manifest.name
                ),
            ),
            None => module_error(
                StatusCode::NOT_FOUND,
                "module_not_enabled",
                format!(
                    "Le service « {} » n'est pas proposé par cette commune.",
                    module.manifest.name
                ),
            ),
        });
    };
    let domain = commune.tenant_id.authz_domain();
    let account = page.viewer.as_ref();
    if admin {
        let Some(account) = account else {
            return Err(AppError::Unauthenticated);
        };
        if !state
            .authz
            .can(Some(&account.id), &domain, perms::USE_MODULE_ADMIN)
            .await
        {
            return Err(AppError::forbidden(
                "Cette page est réservée aux élus et aux administrateurs de la commune.",
            ));
        }
    }
    let roles = match account {
        Some(a) => state
            .authz
            .roles_of(&a.id, &domain)
            .await
            .into_iter()
            .map(|r| r.as_str().to_string())
            .collect(),
        None => vec![],
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_form = content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let base = if admin {
        format!("/admin/m/{id}")
    } else {
        format!("/m/{id}")
    };
    let request = Request {
        method: method.as_str().to_string(),
        path,
        query: fields(query.as_deref().unwrap_or("").as_bytes()),
        form: if is_form { fields(&body) } else { vec![] },
        body: if is_form { vec![] } else { body.to_vec() },
        content_type,
        viewer: Viewer {
            account: account.map(|a| a.id.0.clone()),
            display_name: account.map(|a| a.display_name.clone()),
            roles,
        },
        admin,
        base: base.clone(),
        csrf_token: csrf.value().to_string(),
        settings: choice.settings.clone(),
        commune: Commune {
            name: commune.name.clone(),
            slug: commune.slug.clone(),
            population: commune
                .population
                .and_then(|p| u64::try_from(p).ok())
                .unwrap_or(0),
        },
    };
    let ctx = CallContext {
        tenant: commune.tenant_id,
        origin: page.origin.clone(),
        write: !matches!(method, Method::GET | Method::HEAD),
    };
    let (response, checkouts) = match call::handle(state, &module, &ctx, &request).await {
        Ok(r) => r,
        Err(fault) => return Ok(fault_page(&module, &fault)),
    };
    if response.status == 401 && account.is_none() {
        // The host's own sign-in flow, which brings the visitor back here afterwards.
        return Err(AppError::Unauthenticated);
    }
    let flash = read_cookie(&headers, FLASH_COOKIE).map(|f| {
        url::form_urlencoded::parse(format!("m={f}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    });
    respond(
        state,
        &page,
        &module,
        &module_nav(&module, admin),
        (response, checkouts),
        flash,
        admin,
    )
}

fn fault_page(module: &LoadedModule, fault: &Fault) -> Response {
    let (status, code) = match fault {
        Fault::Host(_) => (StatusCode::SERVICE_UNAVAILABLE, "module_unavailable"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "module_fault"),
    };
    module_error(
        status,
        code,
        format!(
            "Le service « {} » n'a pas pu répondre ({fault}). Les autres services de la commune \
             fonctionnent normalement ; réessayez dans quelques instants.",
            module.manifest.name
        ),
    )
}

fn module_nav(module: &LoadedModule, admin: bool) -> serde_json::Value {
    let base = if admin {
        format!("/admin/m/{}", module.id)
    } else {
        format!("/m/{}", module.id)
    };
    json!(
        module
            .manifest
            .nav
            .iter()
            .filter(|n| n.admin == admin)
            .map(|n| json!({"label": n.label, "href": format!("{base}{}", n.path)}))
            .collect::<Vec<_>>()
    )
}

fn respond(
    state: &AppState,
    page: &Page,
    module: &LoadedModule,
    nav: &serde_json::Value,
    (response, checkouts): (ModuleResponse, Vec<String>),
    flash: Option<String>,
    admin: bool,
) -> AppResult<Response> {
    let status = StatusCode::from_u16(response.status)
        .ok()
        .filter(|s| !s.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = match response.body {
        Body::Page(p) => {
            let mut ctx = Context::new();
            ctx.insert("title", &p.title);
            ctx.insert("module_html", &p.html);
            ctx.insert("module_name", &module.manifest.name);
            ctx.insert("module_nav", nav);
            ctx.insert("module_admin", &admin);
            ctx.insert("flash", &flash);
            let html = page
                .clone()
                .with_forms()
                .render(state, "modules/page.html", ctx)?;
            let mut r = (status, Html(html.0)).into_response();
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(MODULE_CSP),
            );
            if flash.is_some() {
                r.headers_mut().append(
                    header::SET_COOKIE,
                    cookie_header(FLASH_COOKIE, "", 0, state.config.https),
                );
            }
            r
        }
        Body::Json(j) => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            j,
        )
            .into_response(),
        Body::Redirect(to) => {
            // Same-site paths, or a checkout page the host itself created in this call.
            let same_site = to.starts_with('/') && !to.starts_with("//") && !to.contains('\\');
            if !same_site && !checkouts.contains(&to) {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "module {} redirected outside the site: {to}",
                    module.id
                )));
            }
            let location = HeaderValue::from_str(&to).map_err(|_| {
                AppError::Internal(anyhow::anyhow!("module {} gave a bad redirect", module.id))
            })?;
            let status = if status.is_redirection() {
                status
            } else {
                StatusCode::SEE_OTHER
            };
            let mut r = (status, [(header::LOCATION, location)]).into_response();
            if let Some(message) = response.flash {
                let encoded: String =
                    url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
                r.headers_mut().append(
                    header::SET_COOKIE,
                    cookie_header(FLASH_COOKIE, &encoded, 60, state.config.https),
                );
            }
            r
        }
        Body::Download(d) => {
            let filename: String = d
                .filename
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .collect();
            let filename = if filename.is_empty() {
                "export".to_string()
            } else {
                filename
            };
            let content_type = HeaderValue::from_str(&d.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let disposition =
                HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
                    .unwrap_or(HeaderValue::from_static("attachment"));
            (
                status,
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                d.data,
            )
                .into_response()
        }
        Body::Empty => status.into_response(),
    };
    out.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(out)
}
