//! Public APIs a module serves outside `/m/<id>/`: Open311 GeoReport v2 at
//! `/open311/v2/` (issue 18), the open standard FixMyStreet, SeeClickFix and many cities
//! speak, so third-party applications can read a commune's reports and post new ones.
//!
//! The host owns the mount and what is the same for every resource: the format (`.json` or
//! `.xml`, anything else refused with the spec's error body), `jurisdiction_id` (the commune's
//! INSEE code or its slug, or absent), and the API keys that writing needs (issued and revoked
//! by the commune's admins at `/admin/api`; only their SHA-256 is stored). The resources are
//! the module's: the host forwards the call below the reserved prefix [`API_PREFIX`], which
//! no visitor can reach through `/m/<id>/` (the public routes answer 404 below `/_parvis/`),
//! so a module knows such a call came through here, with the key checked. The key's client is
//! named in the call's viewer (no account, the role `api-client`); cookies are ignored, so the
//! mount needs no CSRF token.
//!
//! Which module serves a mount is asked, as `modules::now` asks for cards, with an anonymous
//! `GET /_parvis/api` answered `{"mounts": ["/open311/v2"]}`; the answer is kept per component
//! (its SHA-256), since it is the module's code that says it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request as HttpRequest, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;

use crate::accounts::routes::ClientIp;
use crate::db::{TenantSql as _, sql};
use crate::error::AppResult;
use crate::modules::bindings::parvis::module::types::{Body, Field, Request, Viewer};
use crate::modules::call::{self, CallContext, ClientKey};
use crate::modules::input;
use crate::modules::registry::LoadedModule;
use crate::state::AppState;
use crate::types::AccountId;
use crate::util::{new_id, now, random_token, token_hash};
use crate::web::Tenant;

/// Where Open311 GeoReport v2 is served on a commune's host.
pub const OPEN311_PREFIX: &str = "/open311/v2/";
/// The mount's name in a module's answer to [`MOUNTS_PATH`].
pub const OPEN311_MOUNT: &str = "/open311/v2";
/// The prefix below which the host forwards API calls to a module.
pub const API_PREFIX: &str = "/_parvis/api";
/// What the host asks a module to learn the mounts it serves.
pub const MOUNTS_PATH: &str = "/_parvis/api";
/// The role a call through a public API carries when its key was checked.
pub const API_CLIENT_ROLE: &str = "api-client";
/// Longest name of a client application.
pub const NAME_MAX: usize = 80;
/// Keys a commune may hold (revoked ones included): more is a mistake, not a need.
pub const MAX_KEYS: i64 = 100;
/// Reports one key may post in a day (Paris time): a commune's busiest day is a few hundred,
/// so an application past this is broken or abused, and it stops there whatever the rate.
pub const DAILY_POSTS: i64 = 1_000;

/// The mounts each component serves, by its SHA-256.
static MOUNTS: Mutex<Option<HashMap<String, Arc<Vec<String>>>>> = Mutex::new(None);

/// The routes of the public APIs.
pub fn routes() -> Router<AppState> {
    Router::new().route("/open311/v2/{*rest}", any(open311))
}

/// An API key as the admins' page lists it (never the key itself).
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct ApiKey {
    pub id: String,
    /// The client application's name.
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub shown_prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// Posts made with it today (Paris time), out of [`DAILY_POSTS`].
    pub posts_today: i64,
}

/// Why a key was not made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("Donnez le nom de l'application cliente (1 à {NAME_MAX} caractères).")]
    Name,
    #[error("Cette commune a déjà {MAX_KEYS} clés : révoquez celles qui ne servent plus.")]
    TooMany,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Issues a key for the client application `name`; returns it with the key itself, shown
/// once.
pub async fn create_key(
    tenant: &Tenant,
    name: &str,
    by: &AccountId,
) -> Result<(ApiKey, String), KeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX {
        return Err(KeyError::Name);
    }
    let secret = format!("p311_{}", random_token());
    let key = ApiKey {
        id: new_id(),
        name: name.to_string(),
        shown_prefix: secret.chars().take(10).collect(),
        created_at: now(),
        revoked_at: None,
        posts_today: 0,
    };
    let mut tx = tenant.db().begin().await?;
    let held: i64 = tx
        .scoped_scalar("SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1")
        .fetch_one(&mut tx)
        .await?;
    if held >= MAX_KEYS {
        return Err(KeyError::TooMany);
    }
    tx.scoped(
        "INSERT INTO api_keys (tenant_id, id, name, key_sha256, shown_prefix, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.id)
    .bind(&key.name)
    .bind(token_hash(&secret))
    .bind(&key.shown_prefix)
    .bind(&by.0)
    .bind(key.created_at)
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    Ok((key, secret))
}

/// The commune's keys, newest first.
pub async fn keys(tenant: &Tenant) -> Result<Vec<ApiKey>, sqlx::Error> {
    let mut tx = tenant.db().read().await?;
    let keys = tx
        .scoped_as::<ApiKey>(
            "SELECT id, name, shown_prefix, created_at, revoked_at, \
             CASE WHEN posts_day = $2 THEN posts_today ELSE 0 END AS posts_today \
             FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(paris_day(now()))
        .fetch_all(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(keys)
}

/// Revokes a key at once; false if the commune has no such key still valid.
pub async fn revoke_key(tenant: &Tenant, id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = tenant.db().begin().await?;
    let done = tx
        .scoped(
            "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 \
             AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now())
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// The day of Unix time `at` in Paris (days since 1970-01-01): a key's posts are counted by it.
pub fn paris_day(at: i64) -> i64 {
    use chrono::TimeZone as _;
    let day = chrono_tz::Europe::Paris
        .timestamp_opt(at, 0)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default();
    (day - chrono::NaiveDate::default()).num_days()
}

/// Seconds until the next midnight in Paris, when a key's count starts again.
fn until_paris_midnight(at: i64) -> i64 {
    use chrono::TimeZone as _;
    let next = chrono_tz::Europe::Paris
        .timestamp_opt(at, 0)
        .single()
        .and_then(|t| t.date_naive().succ_opt())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|m| chrono_tz::Europe::Paris.from_local_datetime(&m).earliest())
        .map(|m| m.timestamp());
    next.map_or(3600, |n| (n - at).max(1))
}

/// Counts a post with key `id` today, durably, before any work is spent on it; false when the
/// key already made its [`DAILY_POSTS`] today.
async fn count_post(tenant: &Tenant, id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = tenant.db().begin().await?;
    let done = tx
        .scoped(
            "UPDATE api_keys SET \
             posts_today = CASE WHEN posts_day = $3 THEN posts_today + 1 ELSE 1 END, \
             posts_day = $3 \
             WHERE tenant_id = $1 AND id = $2 AND (posts_day <> $3 OR posts_today < $4)",
        )
        .bind(id)
        .bind(paris_day(now()))
        .bind(DAILY_POSTS)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// The key's id and application name, if `secret` is a valid key of this commune.
async fn check_key(tenant: &Tenant, secret: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    if secret.len() > 200 {
        return Ok(None);
    }
    let mut tx = tenant.db().read().await?;
    let found = tx
        .scoped_as::<(String, String)>(
            "SELECT id, name FROM api_keys WHERE tenant_id = $1 AND key_sha256 = $2 \
             AND revoked_at IS NULL",
        )
        .bind(token_hash(secret))
        .fetch_optional(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(found)
}

/// Marks a page that shows a new key as never to be cached (by the browser or a proxy): the
/// key is shown in that answer only.
pub fn never_cached(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The formats of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// The spec's error body: `[{"code", "description"}]`, or `<errors><error>…`.
fn error(format: Format, status: StatusCode, description: &str) -> Response {
    let (content_type, body) = match format {
        Format::Json => (
            "application/json; charset=utf-8",
            serde_json::json!([{ "code": status.as_u16(), "description": description }])
                .to_string(),
        ),
        Format::Xml => (
            "application/xml; charset=utf-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><errors><error><code>{}</code><description>{}</description></error></errors>",
                status.as_u16(),
                crate::web::render::escape_html(description)
            ),
        ),
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The format the path's last segment names (`requests.json`); `Err` with the segment's
/// extension when it names another.
fn format_of(rest: &str) -> Result<Format, String> {
    let last = rest.rsplit('/').next().unwrap_or_default();
    match last.rsplit_once('.').map(|(_, ext)| ext) {
        Some("json") => Ok(Format::Json),
        Some("xml") => Ok(Format::Xml),
        Some(other) => Err(format!(".{other}")),
        None => Err(String::new()),
    }
}

/// The mounts `module` serves (asked once per component, through `commune`).
async fn mounts_of(
    state: &AppState,
    module: &Arc<LoadedModule>,
    ctx: &CallContext,
    request: Request,
) -> Arc<Vec<String>> {
    if let Ok(cache) = MOUNTS.lock()
        && let Some(found) = cache.as_ref().and_then(|c| c.get(&module.sha256))
    {
        return found.clone();
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        mounts: Vec<String>,
    }
    let mounts = match call::handle_checked(&state.modules, module, ctx, &request, None).await {
        Ok((response, _)) if response.status == 200 => match response.body {
            Body::Json(json) => serde_json::from_str::<Answer>(&json)
                .map(|a| a.mounts.into_iter().take(8).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mounts = Arc::new(mounts);
    if let Ok(mut cache) = MOUNTS.lock() {
        cache
            .get_or_insert_with(HashMap::new)
            .insert(module.sha256.clone(), mounts.clone());
    }
    mounts
}

/// `/open311/v2/{*rest}`.
async fn open311(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    tenant: Tenant,
    ClientIp(ip): ClientIp,
    req: HttpRequest,
) -> AppResult<Response> {
    let (parts, body) = req.into_parts();
    let format = match format_of(&rest) {
        Ok(f) => f,
        Err(ext) => {
            return Ok(error(
                Format::Json,
                StatusCode::BAD_REQUEST,
                &format!("Format «\u{a0}{ext}\u{a0}» inconnu\u{a0}: demandez .json ou .xml."),
            ));
        }
    };
    let refuse = |status, description: &str| Ok(error(format, status, description));
    let body = match crate::modules::routes::read_body(body, input::MAX_BODY).await? {
        Ok(b) => b,
        Err(e) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()),
    };
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let bounded = (|| {
        input::path(&rest)?;
        let query = input::query(parts.uri.query())?;
        let form = if is_form { input::form(&body)? } else { vec![] };
        Ok::<_, input::InputError>((query, form))
    })();
    let (query, form) = match bounded {
        Ok(b) => b,
        Err(e) => return refuse(e.status(), &e.to_string()),
    };
    let value = |name: &str| {
        form.iter()
            .chain(query.iter())
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    if let Some(j) = value("jurisdiction_id")
        && !j.is_empty()
        && j != tenant.insee
        && j != tenant.slug
    {
        return refuse(
            StatusCode::NOT_FOUND,
            &format!(
                "jurisdiction_id «\u{a0}{j}\u{a0}» inconnu ici\u{a0}: ce serveur est celui de {} (code INSEE {}, ou «\u{a0}{}\u{a0}»).",
                tenant.name, tenant.insee, tenant.slug
            ),
        );
    }
    let origin = state.config.commune_origin(&tenant.slug);
    if rest == "discovery.json" || rest == "discovery.xml" {
        return Ok(discovery(format, &origin, &tenant.name));
    }
    let write = parts.method != Method::GET && parts.method != Method::HEAD;
    let client = match value("api_key") {
        Some(secret) => match check_key(&tenant, &secret).await? {
            Some(found) => Some(found),
            None => {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "api_key invalide ou révoquée\u{a0}: demandez une clé à la mairie.",
                );
            }
        },
        None if write => {
            return refuse(
                StatusCode::FORBIDDEN,
                "api_key manquante\u{a0}: écrire demande une clé, que la mairie délivre.",
            );
        }
        None => None,
    };
    if write
        && let Some((id, _)) = &client
        && !count_post(&tenant, id).await?
    {
        let mut response = error(
            format,
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Cette clé a atteint ses {} envois du jour\u{a0}: réessayez demain.",
                crate::util::thousands(DAILY_POSTS)
            ),
        );
        if let Ok(wait) = HeaderValue::from_str(&until_paris_midnight(now()).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, wait);
        }
        return Ok(response);
    }
    let hidden = |fields: Vec<Field>| -> Vec<Field> {
        fields
            .into_iter()
            .filter(|f| f.name != "api_key" && f.name != "jurisdiction_id")
            .collect()
    };
    let choices = state.modules.tenant(&state.db, tenant.id()).await?;
    let commune = call::commune_of(&tenant.name, &tenant.slug, tenant.population);
    for module in state.modules.all() {
        let Some(choice) = choices.enabled(module.id.as_str()) else {
            continue;
        };
        let ask = call::host_question(&module.id, MOUNTS_PATH, &choice.settings, commune.clone());
        let reader = CallContext {
            tenant: tenant.id(),
            origin: origin.clone(),
            write: false,
            client: None,
            name_kind: tenant.name_kind,
            uploads: None,
        };
        if !mounts_of(&state, &module, &reader, ask)
            .await
            .iter()
            .any(|m| m == OPEN311_MOUNT)
        {
            continue;
        }
        let request = Request {
            method: parts.method.as_str().to_string(),
            path: format!("{API_PREFIX}{OPEN311_MOUNT}/{rest}"),
            query: hidden(query),
            form: hidden(form),
            body: vec![],
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            viewer: Viewer {
                account: None,
                display_name: client.as_ref().map(|(_, name)| name.clone()),
                roles: client
                    .as_ref()
                    .map(|_| vec![API_CLIENT_ROLE.to_string()])
                    .unwrap_or_default(),
            },
            admin: false,
            base: format!("/m/{}", module.id),
            csrf_token: String::new(),
            settings: choice.settings.clone(),
            commune,
        };
        let ctx = CallContext {
            tenant: tenant.id(),
            origin,
            write,
            client: match &client {
                Some((id, _)) => Some(ClientKey::api_key(id)),
                None => ip.map(ClientKey::address),
            },
            name_kind: tenant.name_kind,
            uploads: None,
        };
        return Ok(
            match call::handle_checked(&state.modules, &module, &ctx, &request, None).await {
                Ok((response, _)) => answer(format, response),
                Err(fault) => {
                    tracing::warn!(module = %module.id, %fault, "open311: no answer");
                    let status = if matches!(fault, call::Fault::Overloaded) {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::INTERNAL_SERVER_ERROR
                    };
                    error(
                        format,
                        status,
                        "Le service des signalements ne répond pas pour le moment. Réessayez plus tard.",
                    )
                }
            },
        );
    }
    refuse(
        StatusCode::NOT_FOUND,
        "Cette commune ne propose pas les signalements en ligne.",
    )
}

/// When the API last changed in a way clients may notice.
const CHANGESET: &str = "2026-12-05T00:00:00Z";

/// `discovery.{fmt}`: where the API is and what it speaks (the host knows its own address).
fn discovery(format: Format, origin: &str, commune: &str) -> Response {
    let url = format!("{origin}{OPEN311_MOUNT}");
    let contact = format!("Mairie de {commune}, par le formulaire de contact de {origin}/");
    let key_service = "Les clés d'écriture sont délivrées par la mairie (administration, « Accès des applications »).";
    let spec = "http://wiki.open311.org/GeoReport_v2";
    let (content_type, body) = match format {
        Format::Json => (
            "application/json; charset=utf-8",
            serde_json::json!({
                "changeset": CHANGESET,
                "contact": contact,
                "key_service": key_service,
                "endpoints": [{
                    "specification": spec,
                    "url": url,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }],
            })
            .to_string(),
        ),
        Format::Xml => {
            let e = crate::web::render::escape_html;
            (
                "application/xml; charset=utf-8",
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><discovery><changeset>{CHANGESET}</changeset><contact>{}</contact><key_service>{}</key_service><endpoints><endpoint><specification>{spec}</specification><url>{}</url><changeset>{CHANGESET}</changeset><type>production</type><formats><format>application/json</format><format>text/xml</format></formats></endpoint></endpoints></discovery>",
                    e(&contact),
                    e(key_service),
                    e(&url)
                ),
            )
        }
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The module's answer as the API serves it: JSON as JSON, an XML document as XML, inline.
fn answer(
    format: Format,
    response: crate::modules::bindings::parvis::module::types::Response,
) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (content_type, bytes) = match response.body {
        Body::Json(json) => ("application/json; charset=utf-8", Bytes::from(json)),
        Body::Download(d)
            if d.content_type.starts_with("application/xml")
                || d.content_type.starts_with("text/xml") =>
        {
            ("application/xml; charset=utf-8", Bytes::from(d.data))
        }
        Body::Empty => return status.into_response(),
        _ => {
            return error(
                format,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Réponse inattendue du service des signalements.",
            );
        }
    };
    let mut out = (status, bytes).into_response();
    out.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_read_from_the_last_segment() {
        assert_eq!(format_of("requests.json"), Ok(Format::Json));
        assert_eq!(format_of("services/voirie.xml"), Ok(Format::Xml));
        assert_eq!(format_of("requests.csv"), Err(".csv".into()));
        assert_eq!(format_of("requests"), Err(String::new()));
    }

    #[test]
    fn a_keys_day_is_pariss() {
        // 2026-12-06 22:30 UTC is 23:30 in Paris; an hour later it is the 7th there.
        let evening = 1_796_596_200;
        assert_eq!(paris_day(evening + 3600), paris_day(evening) + 1);
        assert_eq!(until_paris_midnight(evening), 1800);
        // 2026-07-01 21:59 UTC is 23:59 in Paris (summer time).
        assert_eq!(until_paris_midnight(1_782_943_140), 60);
        assert_eq!(paris_day(0), 0);
    }
}
