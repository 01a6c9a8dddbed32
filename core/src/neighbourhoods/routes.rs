//! `GET /quartiers.geojson` on a commune host: its neighbourhoods for its maps.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::AppResult;
use crate::neighbourhoods::service;
use crate::state::AppState;
use crate::web::Tenant;

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new().route("/quartiers.geojson", get(geojson))
}

/// The commune's neighbourhoods as a GeoJSON FeatureCollection (an empty one when it has
/// none). They change when its admins import new ones: cached five minutes.
async fn geojson(tenant: Tenant) -> AppResult<Response> {
    let body = service::geojson(&tenant).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response())
}
