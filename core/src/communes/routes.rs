//! `GET /` on a commune host (the commune page), `GET /logo` and `GET /theme.css`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::communes::{service, store};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::types::TenantId;
use crate::web::render::Template;
use crate::web::shared::Kept;
use crate::web::{Page, Site, Tenant};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/logo", get(logo))
        .route("/theme.css", get(theme))
        .route("/couverture", get(cover))
        .route("/services", get(services))
        .route("/contour.geojson", get(outline))
}

/// `/contour.geojson`: the commune's outline as a GeoJSON Feature (name and INSEE code in its
/// properties), for its maps. Registry data: cached a day.
async fn outline(State(state): State<AppState>, tenant: Tenant) -> AppResult<Response> {
    let site = tenant.site();
    let geometry = crate::communes::outline::text_of(&state.db, &site.insee)
        .await?
        .ok_or_else(|| AppError::not_found("Le contour de cette commune n'est pas connu."))?;
    let properties = serde_json::json!({ "code": site.insee, "nom": site.name });
    // The stored geometry is checked, compact JSON (`outline::normalise`): spliced as it is.
    let body = format!(r#"{{"type":"Feature","properties":{properties},"geometry":{geometry}}}"#);
    Ok((
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response())
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
    let tenant_id = commune.tenant_id;
    // Signed in, the session's statement read them (a signed-in request on a commune's site
    // always has `here`); a visitor's page reads the version.
    let (version, following) = match page.viewer.as_ref().and_then(|v| v.here) {
        Some(here) => (here.version, here.following),
        None => (
            crate::web::shared::tenant_version(&state.db, tenant_id).await?,
            false,
        ),
    };
    let shared = match state.home_cache.shared(tenant_id, version) {
        Some(shared) => shared,
        None => {
            let shared = std::sync::Arc::new(home_shared(&state, &commune).await?);
            state
                .home_cache
                .put_shared(tenant_id, version, shared.clone());
            shared
        }
    };
    let domain = tenant_id.authz_domain();
    let (can_edit, can_publish, can_stand) = match &page.viewer {
        Some(v) => (
            state
                .authz
                .can(Some(&v.id), &domain, crate::authz::perms::EDIT_COMMUNE)
                .await,
            state
                .authz
                .can(Some(&v.id), &domain, crate::authz::perms::PUBLISH_POST)
                .await,
            crate::candidates::service::may_stand(&state, tenant_id, &v.id).await,
        ),
        None => (false, false, false),
    };
    let services = services_of(&state, tenant_id).await?;
    let now = crate::modules::now::happening(&state, &commune, &page.origin).await;
    // The news as everyone sees them, unless filtered by a theme or a neighbourhood.
    let filtered = [&query.theme, &query.quartier]
        .iter()
        .any(|f| f.as_deref().is_some_and(|f| !f.trim().is_empty()));
    let filtered_news = if filtered {
        let news = crate::feed::service::commune_news(
            &state,
            &Tenant::new(commune.clone(), &state.db),
            query.theme.as_deref(),
            query.quartier.as_deref(),
        )
        .await?;
        Some(Kept::from(state.templates.render(&news)?))
    } else {
        None
    };
    let home = Home {
        head_html: &shared.head_html,
        news_html: filtered_news.as_ref().unwrap_or(&shared.news_html),
        public_html: &shared.public_html,
        welcome: query.bienvenue.is_some(),
        can_edit,
        can_publish,
        can_stand,
        following,
        followers: shared.followers,
        services,
        now: &now,
    };
    let Html(html) = page.render(&state, &home)?;
    if cacheable {
        state.home_cache.put(commune.tenant_id, html.clone());
        return Ok(Html(html).into_response());
    }
    Ok(Html(html).into_response())
}

/// What the commune's page shows everyone, read and rendered now (the version it is kept at
/// was read before).
async fn home_shared(
    state: &AppState,
    commune: &std::sync::Arc<crate::web::site::CommuneSite>,
) -> AppResult<service::HomeShared> {
    let tenant = Tenant::new(commune.clone(), &state.db);
    let (content, followers, candidates, news) = tokio::try_join!(
        async {
            Ok::<_, AppError>(service::home_content(&state.db.tenant(commune.tenant_id)).await?)
        },
        async { Ok(crate::feed::store::followers_of_commune(&state.db, commune.tenant_id).await?) },
        async { Ok(crate::candidates::service::listed(&tenant).await?) },
        crate::feed::service::commune_news(state, &tenant, None, None),
    )?;
    let mut content = content;
    // Officials who claimed their profile show their account's photo (as on their page).
    for elected in &mut content.council {
        if let Some(account) = &elected.account_id {
            let account = crate::types::AccountId(account.clone());
            elected.photo_url = crate::profiles::store::avatar_of(&state.db, &account)
                .await?
                .map(|(_, small)| small);
        }
    }
    let templates = &state.templates;
    Ok(service::HomeShared {
        head_html: Kept::from(templates.render(&service::HomeHead {
            commune,
            has_logo: content.page.has_logo,
            cover: content.page.has_cover.then(|| service::Cover {
                version: content.page.updated_at,
                alt: content.page.cover_alt.clone().unwrap_or_default(),
            }),
        })?),
        news_html: Kept::from(templates.render(&news)?),
        public_html: Kept::from(templates.render(&service::PublicSections {
            commune,
            content: &content,
            candidates: &candidates,
        })?),
        followers,
    })
}

/// `commune/home.html`: the commune's page around what it shows everyone
/// ([`service::HomeShared`]): the viewer's actions and the commune's online services.
#[derive(Serialize)]
struct Home<'a> {
    head_html: &'a Kept,
    news_html: &'a Kept,
    public_html: &'a Kept,
    /// Just signed up here (`?bienvenue`).
    welcome: bool,
    can_edit: bool,
    can_publish: bool,
    can_stand: bool,
    following: bool,
    followers: i64,
    services: Vec<Service>,
    /// What is happening now, as the commune's modules tell it (alerts first).
    now: &'a [crate::modules::now::Card],
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

/// The public pages of the modules `tenant` has switched on, in the host's order.
async fn services_of(state: &AppState, tenant: TenantId) -> AppResult<Vec<Service>> {
    let choices = state.modules.tenant(&state.db, tenant).await?;
    Ok(state
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
        .collect())
}

/// `commune/services.html`: every online service of the commune, linked from every page's
/// header, or an empty state saying there is none yet.
#[derive(Serialize)]
struct Services {
    services: Vec<Service>,
}

impl Template for Services {
    const NAME: &'static str = "commune/services.html";
}

async fn services(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let commune = page.site.commune()?;
    let content = Services {
        services: services_of(&state, commune.tenant_id).await?,
    };
    Ok(page.render(&state, &content)?.into_response())
}

/// `/theme.css?c=<rrggbb>`: the commune's colour over the platform's (linked by every page of
/// a commune that chose one). The address names the colour, so a page always asks for the
/// sheet of the colour it was drawn with: kept a year when the colour is still the commune's.
async fn theme(tenant: Tenant, Query(query): Query<ThemeQuery>) -> AppResult<Response> {
    let accent = tenant
        .site()
        .accent
        .as_deref()
        .and_then(crate::communes::identity::Rgb::parse)
        .ok_or_else(|| AppError::not_found("Cette commune garde les couleurs de la plateforme."))?;
    let current = query
        .c
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case(accent.hex().trim_start_matches('#')));
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
        ],
        crate::communes::identity::theme_css(accent),
    )
        .into_response())
}

#[derive(Deserialize)]
struct ThemeQuery {
    c: Option<String>,
}

/// `/couverture?v=<edit time>`: the cover photo (the page's address names its version).
async fn cover(tenant: Tenant) -> AppResult<Response> {
    let mut tx = tenant.db().read().await?;
    let cover = store::cover(&mut tx).await?;
    tx.commit().await?;
    let bytes = cover
        .ok_or_else(|| AppError::not_found("Cette commune n'a pas de photo de couverture."))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        bytes,
    )
        .into_response())
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
