//! `GET /healthz` (any host) and `GET /metrics` (Prometheus text, for the operator only: behind
//! `PARVIS_METRICS_TOKEN` on the public listener, or on its own `PARVIS_METRICS_BIND`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::util::token_hash;
use crate::web::Web;

/// 200 when the database answers, 503 otherwise.
pub async fn healthz(State(state): State<Web>) -> impl IntoResponse {
    if crate::db::ping(&state.db).await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

/// `GET /metrics` on the public listener: it exists only when a token is configured, and
/// answers only to that bearer token (per-route traffic and module faults are not public).
pub async fn metrics(State(state): State<Web>, headers: HeaderMap) -> Response {
    match &state.config.metrics_token {
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
        Some(token) => guarded(&state, token, &headers),
    }
}

/// `GET /metrics` on `PARVIS_METRICS_BIND`: the token, when one is configured, is required
/// there too; otherwise the private address is the protection.
pub async fn private_metrics(State(state): State<Web>, headers: HeaderMap) -> Response {
    match &state.config.metrics_token {
        None => exposition(&state),
        Some(token) => guarded(&state, token, &headers),
    }
}

fn guarded(state: &Web, token: &str, headers: &HeaderMap) -> Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    // Hashes compared, not the secrets: the time taken says nothing about the token.
    if given.is_some_and(|given| token_hash(given) == token_hash(token)) {
        return exposition(state);
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        )],
        "unauthorized",
    )
        .into_response()
}

/// Prometheus exposition format.
fn exposition(state: &Web) -> Response {
    let body = state
        .metrics
        .as_ref()
        .map(|m| m.render())
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
