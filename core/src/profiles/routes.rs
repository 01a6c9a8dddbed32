//! `/citoyens/<id>` (a citizen's public profile and the follow button) and
//! `/mon-compte/profil` (bio, privacy settings, avatar upload and removal). Same paths on
//! every host: accounts are global.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::media::upload::{self, body_limit};
use crate::profiles::service::{self, MAX_AVATAR_BYTES, ProfileError};
use crate::profiles::store;
use crate::state::AppState;
use crate::web::render::Template;
use crate::web::{Page, SignedIn};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/citoyens/{id}", get(profile))
        .route("/citoyens/{id}/suivre", post(follow))
        .route("/mon-compte/profil", get(settings).post(save_settings))
        .route(
            "/mon-compte/avatar",
            post(upload_avatar).layer(body_limit(MAX_AVATAR_BYTES)),
        )
        .route("/mon-compte/avatar/supprimer", post(remove_avatar))
}

fn hidden() -> AppError {
    AppError::not_found("Ce profil n'existe pas, ou son titulaire ne le montre pas.")
}

/// The profile `id` if `page`'s viewer may see it, else a 404 (a private profile and a
/// missing one look the same).
async fn visible(state: &AppState, page: &Page, id: &str) -> AppResult<store::Profile> {
    let profile = store::profile(&state.db, id).await?.ok_or_else(hidden)?;
    if !service::can_see(&profile, page.viewer.as_ref().map(|v| &v.id)) {
        return Err(hidden());
    }
    Ok(profile)
}

async fn profile(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let profile = visible(&state, &page, &id).await?;
    let viewer = page.viewer.as_ref().map(|v| &v.id);
    let own = viewer.is_some_and(|v| v.0 == profile.id);
    let follows = if profile.show_follows || own {
        let followed_citizens = store::followed_citizens(&state.db, &profile.id)
            .await?
            .into_iter()
            .filter(|c| service::can_see_card(c, viewer))
            .collect();
        let followed_communes = store::followed_communes(&state.db, &profile.id)
            .await?
            .into_iter()
            .map(|c| FollowedCommune {
                url: format!("{}/", page.commune_origin(&state, &c.slug)),
                name: c.name,
            })
            .collect();
        Some(Follows {
            followed_citizens,
            followed_communes,
        })
    } else {
        None
    };
    let following = match viewer {
        Some(v) if !own => store::follows_citizen(&state.db, v, &profile.id).await?,
        _ => false,
    };
    let citizen = Citizen {
        followers: store::followers_of_citizen(&state.db, &profile.id).await?,
        profile,
        own,
        following,
        follows,
    };
    Ok(page.with_forms().render(&state, &citizen)?.into_response())
}

/// `profiles/citizen.html`: a citizen's public profile.
#[derive(Serialize)]
struct Citizen {
    profile: store::Profile,
    own: bool,
    following: bool,
    followers: i64,
    /// Whom the citizen follows, when shown (absent: the page says nothing of it).
    #[serde(flatten)]
    follows: Option<Follows>,
}

impl Template for Citizen {
    const NAME: &'static str = "profiles/citizen.html";
}

#[derive(Serialize)]
struct Follows {
    followed_citizens: Vec<store::Card>,
    followed_communes: Vec<FollowedCommune>,
}

#[derive(Serialize)]
struct FollowedCommune {
    name: String,
    url: String,
}

#[derive(Deserialize)]
struct FollowForm {
    /// `suivre` or `ne-plus-suivre`.
    #[serde(default)]
    action: String,
}

async fn follow(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<FollowForm>,
) -> AppResult<Response> {
    let on = match form.action.as_str() {
        "suivre" => true,
        "ne-plus-suivre" => false,
        _ => return Err(AppError::bad_request("Action inconnue.")),
    };
    if on {
        // Following needs a profile one may see; a private one is refused like a missing one.
        let profile = visible(&state, &page, &id).await?;
        if profile.id == account.id.0 {
            return Err(AppError::bad_request(
                "Vous ne pouvez pas vous suivre vous-même.",
            ));
        }
    }
    let following = store::set_citizen_follow(&state.db, &account.id, &id, on).await?;
    if on && !following {
        return Err(AppError::Conflict(format!(
            "Vous suivez déjà {} personnes : c'est le maximum. Cessez d'en suivre une pour en suivre une autre.",
            store::MAX_FOLLOWED_CITIZENS
        )));
    }
    Ok(Redirect::to(&format!("/citoyens/{id}")).into_response())
}

async fn render_settings(
    state: &AppState,
    page: Page,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let viewer = page.viewer.clone().ok_or(AppError::Unauthenticated)?;
    let profile = store::profile(&state.db, &viewer.id.0)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let settings = Settings {
        profile,
        error,
        max_bio: service::MAX_BIO,
        max_avatar: crate::media::human_size(MAX_AVATAR_BYTES),
    };
    page.render_form(state, status, &settings)
}

/// `profiles/settings.html`: one's bio, privacy settings and avatar.
#[derive(Serialize)]
struct Settings {
    profile: store::Profile,
    error: Option<String>,
    max_bio: usize,
    max_avatar: String,
}

impl Template for Settings {
    const NAME: &'static str = "profiles/settings.html";
}

async fn settings(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    page: Page,
) -> AppResult<Response> {
    render_settings(&state, page, StatusCode::OK, None).await
}

/// A refused change: the settings page again, with the error and its status.
async fn refused(state: &AppState, page: Page, e: ProfileError) -> AppResult<Response> {
    let status = match &e {
        ProfileError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ProfileError::Media(m) => m.status(),
        ProfileError::Db(_) => return Err(AppError::Internal(anyhow::anyhow!(e))),
    };
    render_settings(state, page, status, Some(e.to_string())).await
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    bio: String,
    #[serde(default)]
    visibility: String,
    #[serde(default)]
    show_follows: Option<String>,
}

async fn save_settings(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    let show = form.show_follows.is_some();
    match service::save_settings(&state.db, &account.id, &form.bio, &form.visibility, show).await {
        Ok(()) => Ok(Redirect::to("/mon-compte/profil").into_response()),
        Err(e) => refused(&state, page, e).await,
    }
}

async fn upload_avatar(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
    mut multipart: Multipart,
) -> AppResult<Response> {
    // Counted before the body is read: a flood is refused without any image work.
    if let Err(e) = crate::media::limiter::uploads().allow(&account.id) {
        return refused(&state, page, e.into()).await;
    }
    let form = match upload::read(&mut multipart, &[("avatar", MAX_AVATAR_BYTES)]).await {
        Ok(form) => form,
        Err(e) => return refused(&state, page, e.into()).await,
    };
    let file = form.files.get("avatar").cloned();
    match service::set_avatar(&state.db, &account.id, file).await {
        Ok(()) => Ok(Redirect::to("/mon-compte/profil").into_response()),
        Err(e) => refused(&state, page, e).await,
    }
}

async fn remove_avatar(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
) -> AppResult<Response> {
    service::remove_avatar(&state.db, &account.id)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    Ok(Redirect::to("/mon-compte/profil").into_response())
}
