//! `GET /` on a commune host (the commune page) and `GET /logo`.

use axum::Router;
use axum::extract::{FromRef as _, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::communes::{service, store};
use crate::error::{AppError, AppResult};
use crate::feed::service::CommuneNews;
use crate::state::AppState;
use crate::web::render::Template;
use crate::web::{Page, Site, Tenant};

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
    let part = match state.home_cache.part(commune.tenant_id, &content) {
        Some(part) => part,
        None => {
            let html = crate::web::Web::from_ref(&state)
                .templates
                .render(&service::PublicSections { content: &content })?;
            let part = std::sync::Arc::new(service::PublicPart { content, html });
            state.home_cache.put_part(commune.tenant_id, part.clone());
            part
        }
    };
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
    let followers = crate::feed::store::followers_of_commune(&state.db, commune.tenant_id).await?;
    let choices = state.modules.tenant(&state.db, commune.tenant_id).await?;
    let services = state
        .modules
        .all()
        .into_iter()
        .filter(|m| choices.enabled(m.id.as_str()).is_some())
        .flat_map(|m| {
            m.manifest
                .nav
                .iter()
                .filter(|n| !n.admin)
                .map(|n| Service {
                    label: n.label.clone(),
                    href: format!("/m/{}{}", m.id, n.path),
                    description: m.manifest.description.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let candidates =
        crate::candidates::service::listed(&Tenant::new(commune.clone(), &state.db)).await?;
    let can_stand = match &page.viewer {
        Some(v) => crate::candidates::service::may_stand(&state, commune.tenant_id, &v.id).await,
        None => false,
    };
    let news = crate::feed::service::commune_news(
        &state,
        &Tenant::new(commune.clone(), &state.db),
        query.theme.as_deref(),
        query.quartier.as_deref(),
    )
    .await?;
    let home = Home {
        has_logo: part.content.page.has_logo,
        links: &part.content.links,
        public_html: &part.html,
        welcome: query.bienvenue.is_some(),
        can_edit,
        can_publish,
        following,
        followers,
        services,
        candidates,
        can_stand,
        news,
    };
    let Html(html) = page.render(&state, &home)?;
    if cacheable {
        let html = axum::body::Bytes::from(html);
        state.home_cache.put(commune.tenant_id, html.clone());
        return Ok(Html(html).into_response());
    }
    Ok(Html(html).into_response())
}

/// `commune/home.html`: the commune's page (and its candidates, `candidates/section.html`).
#[derive(Serialize)]
struct Home<'a> {
    has_logo: bool,
    links: &'a [crate::communes::store::Link],
    /// The presentation and the team, the same for every visitor ([`service::PublicPart`]).
    public_html: &'a str,
    /// Just signed up here (`?bienvenue`).
    welcome: bool,
    can_edit: bool,
    can_publish: bool,
    following: bool,
    followers: i64,
    services: Vec<Service>,
    candidates: Vec<crate::candidates::store::Candidate>,
    can_stand: bool,
    #[serde(flatten)]
    news: CommuneNews,
}

impl Template for Home<'_> {
    const NAME: &'static str = "commune/home.html";
}

/// A module's public page, listed among the commune's services.
#[derive(Serialize)]
struct Service {
    label: String,
    href: String,
    description: String,
}

async fn logo(tenant: Tenant) -> AppResult<Response> {
    let mut tx = tenant.db().read().await?;
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
