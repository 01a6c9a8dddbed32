//! `GET /quartiers.geojson` on a commune host: its neighbourhoods for its maps.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest as _, Sha256};

use crate::error::AppResult;
use crate::neighbourhoods::service;
use crate::state::AppState;
use crate::web::Tenant;

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new().route("/quartiers.geojson", get(geojson))
}

/// The commune's neighbourhoods as a GeoJSON FeatureCollection (an empty one when it has
/// none). They change when its admins redraw them, and a map must show that at once: kept by
/// browsers but checked at each use (`no-cache`), a 304 when its digest is the same.
async fn geojson(tenant: Tenant, headers: HeaderMap) -> AppResult<Response> {
    let body = service::geojson(tenant.db()).await?;
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    let cache = [
        (header::CACHE_CONTROL, "public, no-cache".to_string()),
        (header::ETAG, etag.clone()),
    ];
    if crate::web::etag_matches(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((
        cache,
        [(header::CONTENT_TYPE, "application/geo+json")],
        body,
    )
        .into_response())
}
