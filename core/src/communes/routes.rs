//! `GET /` on a commune host (the commune page) and `GET /logo`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tera::Context;

use crate::communes::{service, store};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{Page, Site};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/logo", get(logo))
}

#[derive(Deserialize)]
struct HomeQuery {
    q: Option<String>,
    bienvenue: Option<String>,
    theme: Option<String>,
    quartier: Option<String>,
}

/// `/`: the platform landing on the apex, the commune page on a commune host.
async fn home(
    State(state): State<AppState>,
    page: Page,
    Query(query): Query<HomeQuery>,
) -> AppResult<Response> {
    let commune = match &page.site {
        Site::Platform => {
            return crate::platform::routes::landing(&state, &page, query.q.as_deref());
        }
        Site::Commune(c) => c.clone(),
    };
    let cacheable = page.viewer.is_none() && page.path == "/";
    if cacheable && let Some(html) = state.home_cache.get(commune.tenant_id) {
        return Ok(Html(html).into_response());
    }
    let content = service::home_content(&state.db.tenant(commune.tenant_id)).await?;
    let mut ctx = Context::new();
    ctx.insert("content", &content);
    ctx.insert("welcome", &query.bienvenue.is_some());
    let can_edit = match &page.viewer {
        Some(v) => {
            state
                .authz
                .can(
                    Some(&v.id),
                    &commune.tenant_id.authz_domain(),
                    crate::authz::perms::EDIT_COMMUNE,
                )
                .await
        }
        None => false,
    };
    ctx.insert("can_edit", &can_edit);
    let domain = commune.tenant_id.authz_domain();
    let (can_publish, following) = match &page.viewer {
        Some(v) => (
            state
                .authz
                .can(Some(&v.id), &domain, crate::authz::perms::PUBLISH_POST)
                .await,
            crate::feed::store::follows(&state.db, &v.id, commune.tenant_id, "commune", "").await?,
        ),
        None => (false, false),
    };
    ctx.insert("can_publish", &can_publish);
    ctx.insert("following", &following);
    ctx.insert(
        "followers",
        &crate::feed::store::followers_of_commune(&state.db, commune.tenant_id).await?,
    );
    let choices = state.modules.tenant(&state.db, commune.tenant_id).await?;
    let services: Vec<_> = state
        .modules
        .all()
        .into_iter()
        .filter(|m| choices.enabled(m.id.as_str()).is_some())
        .flat_map(|m| {
            m.manifest
                .nav
                .iter()
                .filter(|n| !n.admin)
                .map(|n| {
                    serde_json::json!({
                        "label": n.label,
                        "href": format!("/m/{}{}", m.id, n.path),
                        "description": m.manifest.description,
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    ctx.insert("services", &services);
    ctx.insert(
        "candidates",
        &crate::candidates::service::listed(&state, commune.tenant_id).await?,
    );
    let can_stand = match &page.viewer {
        Some(v) => crate::candidates::service::may_stand(&state, commune.tenant_id, &v.id).await,
        None => false,
    };
    ctx.insert("can_stand", &can_stand);
    let news = crate::feed::routes::commune_news(
        &state,
        &page,
        query.theme.as_deref(),
        query.quartier.as_deref(),
    )
    .await?;
    ctx.insert("posts", &news.posts);
    ctx.insert("filter", &news.filter);
    ctx.insert("themes", news.themes);
    let Html(html) = page.render(&state, "commune/home.html", ctx)?;
    if cacheable {
        let html = axum::body::Bytes::from(html);
        state.home_cache.put(commune.tenant_id, html.clone());
        return Ok(Html(html).into_response());
    }
    Ok(Html(html).into_response())
}

async fn logo(State(state): State<AppState>, site: Site) -> AppResult<Response> {
    let commune = site.commune()?;
    let mut tx = state.db.tenant(commune.tenant_id).begin().await?;
    let logo = store::logo(&mut tx).await?;
    tx.commit().await?;
    let (bytes, mime) =
        logo.ok_or_else(|| AppError::not_found("Cette commune n'a pas encore de logo."))?;
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=300".to_string()),
        ],
        bytes,
    )
        .into_response())
}
