//! Web push for the signed-in person: the public key and the subscription API the page's
//! script (`/static/push.js`) calls, the list of their devices, and the service worker.
//! The JSON API answers errors as `{"error": {"code", "message"}}` with French messages.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::notifications::push::{self, store, vapid};
use crate::state::AppState;
use crate::web::render::Template;
use crate::web::{Page, SignedIn};

/// Largest subscription request (a real one is under 1 KiB).
const MAX_REQUEST: usize = 8 * 1024;

const SERVICE_WORKER: &str = include_str!("../../../static/sw.js");
const PUSH_JS: &str = include_str!("../../../static/push.js");

/// The routes of this feature, inside the site layers (sessions, CSRF, error pages).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications/push/cle", get(public_key))
        .route(
            "/notifications/push/abonnement",
            post(subscribe)
                .delete(unsubscribe)
                .layer(DefaultBodyLimit::max(MAX_REQUEST)),
        )
        .route("/notifications/appareils", get(devices))
        .route(
            "/notifications/appareils/{id}/supprimer",
            post(remove_device),
        )
}

/// The scripts, served on every host like the other static files.
pub fn static_routes() -> Router<AppState> {
    Router::new()
        .route("/sw.js", get(service_worker))
        .route("/static/push.js", get(push_js))
}

async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Browsers check for a new worker on navigation; never serve a stale one.
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::HeaderName::from_static("service-worker-allowed"),
                "/",
            ),
        ],
        SERVICE_WORKER,
    )
        .into_response()
}

async fn push_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        PUSH_JS,
    )
        .into_response()
}

/// `{"cle": "<base64url>"}`: the `applicationServerKey` for `PushManager.subscribe`.
async fn public_key(State(state): State<AppState>) -> AppResult<Response> {
    let key = vapid::load_or_create(&state.db, &state.config).await?;
    Ok(Json(json!({"cle": key.public_key()})).into_response())
}

async fn subscribe(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let subscription =
        push::parse_subscription(&body, user_agent, state.config.push_allow_loopback_http)?;
    let policy = push::endpoint::EndpointPolicy {
        allow_loopback: state.config.push_allow_loopback_http,
    };
    let url = url::Url::parse(&subscription.endpoint)
        .map_err(|_| AppError::from(push::InvalidSubscription::Endpoint))?;
    push::endpoint::check_addresses(&url, policy).await?;
    if !store::has_room(
        &state.db,
        &account.id,
        &subscription.endpoint,
        push::MAX_DEVICES,
    )
    .await?
    {
        return Err(AppError::conflict(format!(
            "Votre compte a déjà {} appareils abonnés aux notifications. Retirez-en un depuis la \
             liste de vos appareils avant d'en ajouter un autre.",
            push::MAX_DEVICES
        )));
    }
    let Some(id) = store::upsert(&state.db, &account.id, &subscription).await? else {
        // Another account's device, and the request does not hold its keys: the same answer
        // whether the endpoint exists or not would be a lie the page cannot act on, and the
        // endpoint is a secret of the browser that holds it, so saying so reveals nothing.
        return Err(AppError::conflict(
            "Cet appareil est déjà abonné aux notifications d'un autre compte, avec d'autres \
             clés : il n'a pas été transféré. Désabonnez-le depuis ce navigateur, puis \
             réessayez.",
        ));
    };
    tracing::info!(account = %account.id.0, subscription = %id, "push subscription saved");
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "appareil": subscription.label})),
    )
        .into_response())
}

#[derive(Deserialize)]
struct Unsubscribe {
    endpoint: String,
}

async fn unsubscribe(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    body: Bytes,
) -> AppResult<Response> {
    let request: Unsubscribe = serde_json::from_slice(&body).map_err(|_| {
        AppError::bad_request("Il faut l'adresse « endpoint » de l'abonnement à supprimer.")
    })?;
    if !store::remove_endpoint(&state.db, &account.id, &request.endpoint).await? {
        return Err(AppError::not_found(
            "Cet appareil n'est pas abonné aux notifications de votre compte.",
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn devices(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
) -> AppResult<Response> {
    let devices = Devices {
        devices: store::devices(&state.db, &account.id).await?,
    };
    Ok(page.with_forms().render(&state, &devices)?.into_response())
}

/// `notifications/devices.html`: the devices push reaches.
#[derive(Serialize)]
struct Devices {
    devices: Vec<store::Device>,
}

impl Template for Devices {
    const NAME: &'static str = "notifications/devices.html";
}

async fn remove_device(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    Path(id): Path<String>,
) -> AppResult<Response> {
    if id.len() > 64 || !store::remove(&state.db, &account.id, &id).await? {
        return Err(AppError::not_found(
            "Cet appareil n'est pas abonné aux notifications de votre compte.",
        ));
    }
    Ok(Redirect::to("/notifications/appareils").into_response())
}
