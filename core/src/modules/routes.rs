//! Module pages: `/m/<id>/…` for everyone and `/admin/m/<id>/…` for the commune's staff, on
//! the commune's host, with the same session, CSRF protection (the middleware already checked
//! every form) and role checks as core pages. Module HTML is wrapped in the commune's layout.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::any;

use crate::accounts::routes::ClientIp;
use crate::authz::perms;
use crate::error::{AppError, AppResult, ErrorPage};
use crate::modules::bindings::parvis::module::types::{
    Body, Request, Response as ModuleResponse, Viewer,
};
use crate::modules::call::{self, CallContext, ClientKey, Fault};
use crate::modules::input::{self, InputError};
use crate::modules::registry::LoadedModule;
use crate::modules::uploads;
use crate::state::AppState;
use crate::web::Page;
use crate::web::csrf::CsrfToken;
use crate::web::render::Template;
use crate::web::security::{ModulePage, SANDBOX_POLICY};
use crate::web::session::{cookie_header, read_cookie};

/// Cookie carrying a module's one-time message across its redirect.
const FLASH_COOKIE: &str = "parvis_flash";
/// Tags module HTML may not carry: `<meta>` (a refresh takes the browser off-site, other
/// `http-equiv` values change the page's rules) and `<base>` (it rebases every link): `<meta`
/// becomes `<x-meta`, an unknown element the browser ignores (see [`neutralise_tags`]).
const NEUTRALISED_TAGS: [&str; 2] = ["meta", "base"];
/// What a neutralised tag's name gets in front of it.
const NEUTRALISED_PREFIX: &str = "x-";
/// Types a module may serve a download as (after `;` only a `charset` is kept, on text).
/// Anything else (JavaScript, HTML, SVG, XML, wasm…) goes out as [`OCTET_STREAM`]: a module
/// download is never an executable type on the commune's origin.
const DOWNLOAD_TYPES: [&str; 15] = [
    "text/csv",
    // Feeds: readers fetch them; a browser that renders one gets the sandbox policy.
    "application/atom+xml",
    "text/calendar",
    "text/plain",
    "application/json",
    "application/pdf",
    "application/zip",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
];
/// The type of a download whose declared type is not in [`DOWNLOAD_TYPES`].
const OCTET_STREAM: &str = "application/octet-stream";
/// The longest download file name kept (in bytes, ASCII only).
const MAX_FILENAME: usize = 100;
/// The file name of a download whose own name keeps nothing.
const DEFAULT_FILENAME: &str = "export";

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
    /// A large form's turn (`uploads::turn`), held until its files are cleaned.
    upload_turn: Option<uploads::Turn>,
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
        // A signed-in person's form may carry files (`modules::uploads`); anyone else's body
        // stays within a form's bound.
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let (limit, upload_turn) = if uploads::is_multipart(content_type) && page.viewer.is_some() {
            let account = page.viewer.as_ref().map(|v| v.id.clone());
            (
                uploads::MAX_UPLOAD_BODY,
                Some(uploads::turn(account).await?),
            )
        } else {
            (input::MAX_BODY, None)
        };
        let body = read_body(body, limit).await?;
        Ok(Incoming {
            page,
            csrf,
            method,
            headers,
            query,
            client,
            body,
            upload_turn,
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

/// Reads a module request's body, keeping at most `limit` bytes ([`input::MAX_BODY`], or
/// [`uploads::MAX_UPLOAD_BODY`] for a signed-in person's multipart form). The rest of a larger
/// body is read and dropped (up to [`DRAIN_LIMIT`] more), so the client hears the host's 413
/// instead of a reset connection, without the host holding it in memory. A body that stalls
/// or trickles is cut by the deadlines every body has (`web::body`), and answered 408.
pub(crate) async fn read_body(
    body: axum::body::Body,
    limit: usize,
) -> AppResult<Result<Bytes, InputError>> {
    use futures_util::StreamExt as _;
    let unreadable = || AppError::bad_request("Le contenu envoyé est illisible ou incomplet.");
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit.saturating_add(DRAIN_LIMIT) {
            return Err(AppError::TooLarge(input::body_too_large(limit).to_string()));
        }
        if seen <= limit {
            kept.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        return Ok(Err(input::body_too_large(limit)));
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
        upload_turn,
    } = incoming;
    let commune = page.site.commune()?.clone();
    // Only the host asks these paths (`modules::now`).
    if path.starts_with(crate::modules::now::RESERVED_PREFIX) {
        return Err(AppError::not_found("Cette page n'existe pas."));
    }
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
                    "Le service « {} » est momentanément désactivé après des erreurs répétées. \
                     Les administrateurs de la commune ont été prévenus.",
                    module.manifest.name
                ),
            ),
            None => module_error(
                StatusCode::NOT_FOUND,
                "module_not_enabled",
                format!(
                    "Le service « {} » n'est pas proposé par cette commune.",
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
    let multipart = uploads::is_multipart(content_type.as_deref());
    if multipart && account.is_none() {
        // Files come from people the commune can answer (and hold to the upload allowance).
        return Err(AppError::Unauthenticated);
    }
    let base = if admin {
        format!("/admin/m/{id}")
    } else {
        format!("/m/{id}")
    };
    // Bounded before the call: what one client sends cannot exhaust the module.
    let bounded = async {
        input::path(&path)?;
        let query = input::query(query.as_deref())?;
        let body = body?;
        if multipart {
            let parts = uploads::split(content_type.as_deref().unwrap_or_default(), body).await?;
            return Ok((query, parts.fields, Bytes::new(), parts.files));
        }
        let form = if is_form { input::form(&body)? } else { vec![] };
        Ok((query, form, body, Vec::new()))
    }
    .await;
    let (query, form, body, files) = match bounded {
        Ok(b) => b,
        Err(e) => return Ok(refused(&e)),
    };
    // Cleaned before the call, outside any transaction (see `modules::uploads`).
    let uploads = match (account, files.is_empty()) {
        (Some(a), false) => Some(Arc::new(uploads::clean(&a.id, files).await)),
        _ => None,
    };
    drop(upload_turn);
    let request = Request {
        method: method.as_str().to_string(),
        path,
        query,
        form,
        body: if is_form || multipart {
            vec![]
        } else {
            body.to_vec()
        },
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
        commune: call::commune_of(&commune.name, &commune.slug, commune.population),
    };
    let ctx = CallContext {
        tenant: commune.tenant_id,
        origin: page.origin.clone(),
        write: !matches!(method, Method::GET | Method::HEAD),
        client: ClientKey::of(account.map(|a| a.id.0.as_str()), client),
        name_kind: commune.name_kind,
        uploads,
    };
    let checked =
        call::handle_checked(&state.modules, &module, &ctx, &request, Some(&acceptable)).await;
    let (response, checkouts) = match checked {
        Ok(r) => r,
        Err(fault) => return Ok(fault_page(&module, &fault)),
    };
    if ctx.write && response.status < 400 {
        // What it wrote may be happening now (an alert published): the home page asks again.
        state.now.forget(commune.tenant_id);
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
        &module_nav(
            &module,
            admin,
            page.path.split('?').next().unwrap_or_default(),
        ),
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
                    "Le service « {} » reçoit beaucoup de demandes en ce moment. Réessayez dans \
                     quelques secondes : rien n'a été enregistré.",
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
            "Le service « {} » n'a pas pu répondre ({fault}). Les autres services de la commune \
             fonctionnent normalement ; réessayez dans quelques instants.",
            module.manifest.name
        ),
    )
}

/// A link of a module's menu; `current` on the page it leads to.
#[derive(serde::Serialize)]
struct NavLink {
    label: String,
    href: String,
    current: bool,
}

/// Where a module's pages start: `/m/<id>` or, in the back-office, `/admin/m/<id>`.
fn module_root(module: &LoadedModule, admin: bool) -> String {
    if admin {
        format!("/admin/m/{}", module.id)
    } else {
        format!("/m/{}", module.id)
    }
}

fn module_nav(module: &LoadedModule, admin: bool, path: &str) -> Vec<NavLink> {
    let base = module_root(module, admin);
    module
        .manifest
        .nav
        .iter()
        .filter(|n| n.admin == admin)
        .map(|n| {
            let href = format!("{base}{}", n.path);
            NavLink {
                current: href == path,
                label: n.label.clone(),
                href,
            }
        })
        .collect()
}

/// The trail above a module's page (`ui::trail`): the commune's home, the back-office in it,
/// the module's first page unless this is it, then this page, named once.
#[derive(serde::Serialize)]
struct Trail<'a> {
    hrefs: Vec<String>,
    labels: Vec<&'a str>,
    here: &'a str,
}

impl<'a> Trail<'a> {
    fn of(module: &'a LoadedModule, admin: bool, path: &str, title: &'a str) -> Trail<'a> {
        let mut hrefs = vec!["/".to_string()];
        let mut labels = vec!["Accueil"];
        if admin {
            hrefs.push("/admin".into());
            labels.push("Administration");
        }
        let root = module_root(module, admin);
        let name = module.manifest.name.as_str();
        let at_root = path.trim_end_matches('/') == root;
        if at_root || title == name {
            return Trail {
                hrefs,
                labels,
                here: name,
            };
        }
        hrefs.push(format!("{root}/"));
        labels.push(name);
        Trail {
            hrefs,
            labels,
            here: title,
        }
    }
}

/// `modules/page.html`: a module's page in the commune's layout, with its menu.
#[derive(serde::Serialize)]
struct ModulePageContent<'a> {
    title: &'a str,
    /// The module's HTML, its tags neutralised ([`neutralise_tags`]).
    module_html: String,
    module_name: &'a str,
    module_nav: &'a [NavLink],
    trail: Trail<'a>,
    /// The module's one-time message, after its redirect.
    flash: Option<&'a str>,
}

impl Template for ModulePageContent<'_> {
    const NAME: &'static str = "modules/page.html";
}

fn respond(
    state: &AppState,
    page: &Page,
    module: &LoadedModule,
    nav: &[NavLink],
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
            let content = ModulePageContent {
                title: &p.title,
                module_html: neutralise_tags(&p.html),
                module_name: &module.manifest.name,
                module_nav: nav,
                trail: Trail::of(
                    module,
                    admin,
                    page.path.split('?').next().unwrap_or_default(),
                    &p.title,
                ),
                flash: flash.as_deref(),
            };
            let html = page.clone().with_forms().render(state, &content)?;
            let mut r = (status, Html(html.0)).into_response();
            // The module policy (see `web::security`): scripts only from the host's static path.
            r.extensions_mut().insert(ModulePage);
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
            [
                (header::CONTENT_TYPE, "application/json; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, SANDBOX_POLICY),
            ],
            j,
        )
            .into_response(),
        Body::Redirect(to) => {
            // The call already refused (and rolled back) any other target, see `acceptable`:
            // this is the last line of defence, one short log line and no Location.
            let Some(location) = redirect_target(&to, &checkouts) else {
                tracing::warn!(module = %module.id, target = %shorten(&to), "module redirect refused");
                return Ok(module_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "module_fault",
                    format!(
                        "Le service « {} » a voulu vous envoyer hors du site : la redirection \
                         a été refusée.",
                        module.manifest.name
                    ),
                ));
            };
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
            // Always a file to save, of a type that runs nothing, rendered (if a browser
            // insists) in a sandbox that loads nothing.
            let content_type = HeaderValue::from_str(&download_type(&d.content_type))
                .unwrap_or(HeaderValue::from_static(OCTET_STREAM));
            let disposition = HeaderValue::from_str(&format!(
                "attachment; filename=\"{}\"",
                download_filename(&d.filename)
            ))
            .unwrap_or(HeaderValue::from_static("attachment"));
            (
                status,
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CONTENT_DISPOSITION, disposition),
                    (
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(SANDBOX_POLICY),
                    ),
                ],
                d.data,
            )
                .into_response()
        }
        Body::Empty => status.into_response(),
    };
    out.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(out)
}

/// `Err(why)` when the host will not send a module's answer as it is. The call checks it
/// before it commits (see [`call::handle_checked`]), so an answer the host turns into an
/// error keeps none of the call's writes. `checkouts` are the payment pages the call
/// created.
fn acceptable(response: &ModuleResponse, checkouts: &[String]) -> Result<(), String> {
    match &response.body {
        Body::Redirect(to) if redirect_target(to, checkouts).is_none() => {
            Err(format!("redirection hors du site (« {} »)", shorten(to)))
        }
        _ => Ok(()),
    }
}

/// Where a module's redirect may lead: a path of this site (normalised as the browser will
/// read it, see `util::same_origin_path`), or a checkout page the host itself created in this
/// call. `None`: anywhere else (`//evil`, `/\t/evil`, `https:evil`…).
fn redirect_target(to: &str, checkouts: &[String]) -> Option<HeaderValue> {
    let target = match crate::util::same_origin_path(to) {
        Some(path) => path,
        None if checkouts.iter().any(|c| c == to) => to.to_string(),
        None => return None,
    };
    HeaderValue::from_str(&target).ok()
}

/// At most this many characters of a refused target reach a log line or an error page.
const SHOWN_TARGET: usize = 80;

/// A module-controlled string for one log line: escaped, and cut at [`SHOWN_TARGET`].
fn shorten(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(SHOWN_TARGET)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(SHOWN_TARGET).is_some() {
        out.push('…');
    }
    out
}

/// Module HTML with every `<meta` and `<base` tag renamed (see [`NEUTRALISED_TAGS`]). Tag
/// names are ASCII case-insensitive and follow `<` immediately, so any `<` followed by one
/// of them (whatever comes next, and wherever it stands: an attribute value, a comment) gets
/// [`NEUTRALISED_PREFIX`] after it. Only text is inserted, never a `<`, so no new tag can
/// form from the pieces.
fn neutralise_tags(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    let mut kept = 0;
    for (at, _) in html.match_indices('<') {
        if NEUTRALISED_TAGS.iter().any(|t| {
            bytes
                .get(at + 1..at + 1 + t.len())
                .is_some_and(|name| name.eq_ignore_ascii_case(t.as_bytes()))
        }) {
            // `<` is one byte: `at + 1` is a character boundary.
            out.push_str(html.get(kept..at + 1).unwrap_or_default());
            out.push_str(NEUTRALISED_PREFIX);
            kept = at + 1;
        }
    }
    out.push_str(html.get(kept..).unwrap_or_default());
    out
}

/// The type a download is served as: its declared type when [`DOWNLOAD_TYPES`] has it
/// (lowercased, with its `charset` on text), [`OCTET_STREAM`] otherwise.
fn download_type(declared: &str) -> String {
    let mut parts = declared.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    if !DOWNLOAD_TYPES.contains(&essence.as_str()) {
        return OCTET_STREAM.to_string();
    }
    let textual = essence.starts_with("text/") || essence == "application/json";
    let charset = parts
        .filter_map(|p| p.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|c| {
            !c.is_empty()
                && c.len() <= 40
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        });
    match charset {
        Some(charset) if textual => format!("{essence}; charset={charset}"),
        _ => essence,
    }
}

/// A download's file name for `Content-Disposition`: ASCII letters, digits, `.`, `-` and `_`
/// only (no path, no quote, no control character), not starting with a dot, at most
/// [`MAX_FILENAME`] bytes; [`DEFAULT_FILENAME`] when nothing is left.
fn download_filename(given: &str) -> String {
    let name: String = given
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .skip_while(|c| *c == '.')
        .take(MAX_FILENAME)
        .collect();
    if name.is_empty() {
        DEFAULT_FILENAME.to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_and_base_tags_are_renamed_wherever_they_stand() {
        let html = "<p>a</p><META HTTP-EQUIV=refresh content=\"0;url=//evil\"><meta\nx>\
                    <BaSe href=//evil/><me<meta>ta http-equiv=refresh><metadata>é<meta";
        let out = neutralise_tags(html);
        assert_eq!(
            out,
            "<p>a</p><x-META HTTP-EQUIV=refresh content=\"0;url=//evil\"><x-meta\nx>\
             <x-BaSe href=//evil/><me<x-meta>ta http-equiv=refresh><x-metadata>é<x-meta"
        );
        let lower = out.to_ascii_lowercase();
        assert!(
            !lower.contains("<meta") && !lower.contains("<base"),
            "{out}"
        );
        assert_eq!(neutralise_tags("<p>é</p><b>x</b>"), "<p>é</p><b>x</b>");
    }

    #[test]
    fn downloads_are_never_executable_types() {
        for t in [
            "text/javascript",
            "application/javascript",
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "image/svg+xml",
            "application/xml",
            "text/xml",
            "application/wasm",
            "application/xhtml+xml",
            "",
            "text/csv\r\nx: y",
        ] {
            assert_eq!(download_type(t), OCTET_STREAM, "{t:?}");
        }
        assert_eq!(
            download_type("Text/CSV; charset=UTF-8"),
            "text/csv; charset=UTF-8"
        );
        assert_eq!(download_type("image/png; charset=utf-8"), "image/png");
        assert_eq!(
            download_type("text/calendar; charset=\"x\r\ny: z\""),
            "text/calendar"
        );
        assert_eq!(download_filename("../../.htaccess"), "htaccess");
        assert_eq!(download_filename("a\"; b.js"), "ab.js");
        assert_eq!(download_filename("///"), DEFAULT_FILENAME);
        assert_eq!(download_filename(&"x".repeat(500)).len(), MAX_FILENAME);
    }

    #[test]
    fn only_same_site_redirects_are_answered() {
        let checkout = "https://checkout.stripe.com/c/pay/1".to_string();
        for bad in [
            "/\t/evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
        ] {
            assert!(
                redirect_target(bad, std::slice::from_ref(&checkout)).is_none(),
                "{bad:?}"
            );
        }
        assert!(redirect_target(&checkout, std::slice::from_ref(&checkout)).is_some());
        assert!(redirect_target(&checkout, &[]).is_none());
        assert!(redirect_target("/m/polls/3", &[]).is_some());
        let long = format!("//evil/{}", "\n".repeat(10_000));
        assert!(shorten(&long).len() < 3 * SHOWN_TARGET);
    }
}
