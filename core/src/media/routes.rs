//! `GET /media/<id>`: a stored file. An account's media (avatars) is served on every host; a
//! commune's media only on that commune's host (another host answers 404). Files never change
//! under an id, so they are cached for a year and revalidated by ETag (except the files of a
//! hidden post or a withdrawn candidacy, which only the commune's moderators get, uncached); the headers keep a
//! browser from guessing another type (`nosniff`), from running anything in them (a sandboxing
//! CSP), and PDFs are downloads, never shown inline.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::authz::perms;
use crate::error::{AppError, AppResult};
use crate::media::store::{self, Stored};
use crate::state::AppState;
use crate::web::session::Viewer;
use crate::web::{Site, Tenant};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new().route("/media/{id}", get(serve))
}

/// The path of a stored file.
pub fn url(id: &str) -> String {
    format!("/media/{id}")
}

/// A nullable media id column read as the path of its file: a row struct's `photo_url` field
/// reads `photo_id` with `#[row(rename = "photo_id", try_from = "MediaUrl")]`.
#[derive(Debug, Clone)]
pub struct MediaUrl(Option<String>);

crate::db::sql::transparent!(MediaUrl(Option<String>));

impl From<MediaUrl> for Option<String> {
    fn from(id: MediaUrl) -> Option<String> {
        id.0.as_deref().map(url)
    }
}

fn gone() -> AppError {
    AppError::not_found("Ce fichier n'existe pas (ou plus).")
}

async fn serve(
    State(state): State<AppState>,
    site: Site,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(gone());
    }
    let mut found = store::platform(state.db.platform(), &id).await?;
    if found.is_none()
        && let Site::Commune(c) = &site
    {
        let mut tx = Tenant::new(c.clone(), &state.db).db().read().await?;
        found = store::tenant(&mut tx, &id).await?;
        tx.commit().await?;
    }
    let file = found.ok_or_else(gone)?;
    if file.withheld {
        // Only the commune's moderators, who review what they hid, still see it.
        let moderator = match &site {
            Site::Commune(c) => {
                let viewer = viewer.as_ref().map(|v| &v.id);
                (state.authz)
                    .can(viewer, &c.tenant_id.authz_domain(), perms::MODERATE)
                    .await
            }
            _ => false,
        };
        if !moderator {
            return Err(gone());
        }
    }
    Ok(respond(file, &headers))
}

/// `attachment; filename="…"; filename*=UTF-8''…` with only safe characters in the plain form.
fn disposition(filename: Option<&str>) -> String {
    let name = filename.unwrap_or("document.pdf");
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn respond(file: Stored, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", file.sha256);
    let fresh = crate::web::etag_matches(headers, &etag);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.bytes.into_response()
    };
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(h, header::ETAG, &etag);
    set(
        h,
        header::CACHE_CONTROL,
        // A withheld file reaches only moderators: no cache keeps it.
        if file.withheld {
            "private, no-store"
        } else {
            "public, max-age=31536000, immutable"
        },
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox",
    );
    if !fresh {
        set(h, header::CONTENT_TYPE, &file.content_type);
    }
    if file.content_type == "application/pdf" {
        set(
            h,
            header::CONTENT_DISPOSITION,
            &disposition(file.filename.as_deref()),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn pdf_names_are_safe() {
        assert_eq!(
            super::disposition(Some("Compte \"rendu\"\r\n.pdf")),
            "attachment; filename=\"Compte _rendu___.pdf\"; filename*=UTF-8''Compte%20%22rendu%22%0D%0A.pdf"
        );
    }
}
