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

use crate::accounts::routes::ClientIp;
use crate::authz::perms;
use crate::error::{AppError, AppResult, ErrorPage};
use crate::modules::bindings::parvis::module::types::{
    Body, Commune, Request, Response as ModuleResponse, Viewer,
};
use crate::modules::call::{self, CallContext, ClientKey, Fault};
use crate::modules::input::{self, InputError};
use crate::modules::registry::LoadedModule;
use crate::web::csrf::CsrfToken;
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

/// What every module request carries besides its path. The body is read up to
/// [`input::MAX_BODY`]; past it the request is refused before any module is called.
struct Incoming {
    page: Page,
    csrf: CsrfToken,
    method: Method,
    headers: HeaderMap,
    query: Option<String>,
    client: Option<std::net::IpAddr>,
    body: Result<Bytes, InputError>,
}

impl FromRequest<AppState> for Incoming {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> AppResult<Self> {
        let (mut parts, body) = req.into_parts();
        let page = Page::from_request_parts(&mut parts, state).await?;
        let csrf = CsrfToken::from_request_parts(&mut parts, state).await?;
        let Ok(ClientIp(client)) = ClientIp::from_request_parts(&mut parts, state).await;
        let query = parts.uri.query().map(str::to_string);
        let method = parts.method.clone();
        let headers = parts.headers.clone();
        let body = read_body(body).await?;
        Ok(Incoming {
            page,
            csrf,
            method,
            headers,
            query,
            client,
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

/// Past this many bytes a module request's body is not even read to its end: the connection
/// is dropped.
const DRAIN_LIMIT: usize = 8 << 20;

/// Reads a module request's body, keeping at most [`input::MAX_BODY`] bytes. The rest of a
/// larger body is read and dropped (up to [`DRAIN_LIMIT`]), so the client hears the host's 413
/// instead of a reset connection, without the host holding it in memory.
async fn read_body(body: axum::body::Body) -> AppResult<Result<Bytes, InputError>> {
    use futures_util::StreamExt as _;
    let unreadable = || AppError::bad_request("Le contenu envoyé est illisible ou incomplet.");
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        seen = seen.saturating_add(chunk.len());
        if seen > DRAIN_LIMIT {
            return Err(AppError::TooLarge(input::body_too_large().to_string()));
        }
        if seen <= input::MAX_BODY {
            kept.extend_from_slice(&chunk);
        }
    }
    if seen > input::MAX_BODY {
        return Ok(Err(input::body_too_large()));
    }
    Ok(Ok(Bytes::from(kept)))
}

/// The host's refusal of a request past its input bounds: the module is not called.
fn refused(e: &InputError) -> Response {
    module_error(e.status(), e.code(), e.to_string())
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
        client,
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
    // Bounded before the call: what one client sends cannot exhaust the module.
    let bounded = input::path(&path).and_then(|()| {
        let query = input::query(query.as_deref())?;
        let body = body?;
        let form = if is_form { input::form(&body)? } else { vec![] };
        Ok((query, form, body))
    });
    let (query, form, body) = match bounded {
        Ok(b) => b,
        Err(e) => return Ok(refused(&e)),
    };
    let request = Request {
        method: method.as_str().to_string(),
        path,
        query,
        form,
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
        client: ClientKey::of(account.map(|a| a.id.0.as_str()), client),
    };
    let (response, checkouts) = match call::handle(state, &module, &ctx, &request).await {
        Ok(r) => r,
        Err(fault) => return Ok(fault_page(&module, &fault)),
    };
    // Whoever acted here may hear from the module later (see `quota::unlinked`).
    if let Some(a) = account.filter(|_| ctx.write && response.status < 400) {
        crate::modules::quota::note_contact(&state.db, commune.tenant_id, id, &a.id.0).await;
    }
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

/// Seconds a client is asked to wait after its call was shed.
const RETRY_AFTER_SECS: u32 = 5;

fn fault_page(module: &LoadedModule, fault: &Fault) -> Response {
    let (status, code) = match fault {
        Fault::Overloaded => {
            let mut r = module_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "module_overloaded",
                format!(
                    "Le service « {} » reçoit beaucoup de demandes en ce moment. Réessayez dans \
                     quelques secondes : rien n'a été enregistré.",
                    module.manifest.name
                ),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            return r;
        }
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
            // Same-site paths (normalised as the browser will read them), or a checkout page
            // the host itself created in this call.
            let to = match crate::util::same_origin_path(&to) {
                Some(path) => path,
                None if checkouts.contains(&to) => to,
                None => {
                    return Err(AppError::Internal(anyhow::anyhow!(
                        "module {} redirected outside the site: {to:?}",
                        module.id
                    )));
                }
            };
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
