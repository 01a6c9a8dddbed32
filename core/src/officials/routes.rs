//! `/elus/<id>`: an official's public profile, and the form with which its owner claims it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::accounts::routes::ClientIp;
use crate::error::{AppError, AppResult};
use crate::feed::service::Card;
use crate::officials::store;
use crate::state::AppState;
use crate::util::parse_date;
use crate::web::render::Template;
use crate::web::{Page, SignedIn, Tenant};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/elus/{id}", get(profile))
        .route("/elus/{id}/revendiquer", post(claim))
}

async fn load(state: &AppState, page: &Page, id: &str) -> AppResult<store::Profile> {
    let tenant = Tenant::new(page.site.commune()?.clone(), &state.db);
    let mut tx = tenant.db().read().await?;
    let profile = store::profile(&mut tx, id).await?;
    tx.commit().await?;
    profile.ok_or_else(|| {
        AppError::not_found("Cet élu n'est pas (ou plus) au répertoire de la commune.")
    })
}

async fn render(
    state: &AppState,
    page: Page,
    profile: &store::Profile,
    status: StatusCode,
    error: Option<String>,
    sent: bool,
) -> AppResult<Response> {
    let own = page
        .viewer
        .as_ref()
        .is_some_and(|v| profile.account_id.as_ref() == Some(&v.id));
    // A claimed profile shows its holder's account avatar.
    let avatar_url = match &profile.account_id {
        Some(account) => crate::profiles::store::avatar_of(&state.db, account)
            .await?
            .map(|(large, _)| large),
        None => None,
    };
    let commune = page.site.commune()?.clone();
    let following = match &page.viewer {
        Some(v) => {
            crate::feed::store::follows(
                &state.db,
                &v.id,
                commune.tenant_id,
                "official",
                &profile.id,
            )
            .await?
        }
        None => false,
    };
    let posts =
        crate::feed::store::of_commune(&state.db, commune.tenant_id, Some(&profile.id), None, 20)
            .await?;
    let official = Official {
        profile,
        avatar_url,
        own,
        error,
        sent,
        following,
        posts: crate::feed::service::cards(state, posts).await?,
        record: crate::feed::service::official_record(
            &state.db,
            &Tenant::new(commune.clone(), &state.db),
            &profile.id,
        )
        .await?,
    };
    page.render_form(state, status, &official)
}

/// `officials/profile.html`: an official's profile, posts and record, and the claim form.
#[derive(Serialize)]
struct Official<'a> {
    profile: &'a store::Profile,
    /// The holder's avatar, once claimed.
    avatar_url: Option<String>,
    /// The viewer holds this profile.
    own: bool,
    error: Option<String>,
    /// A claim was just filed.
    sent: bool,
    following: bool,
    posts: Vec<Card>,
    record: Vec<crate::feed::store::RecordEntry>,
}

impl Template for Official<'_> {
    const NAME: &'static str = "officials/profile.html";
}

async fn profile(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let profile = load(&state, &page, &id).await?;
    render(&state, page, &profile, StatusCode::OK, None, false).await
}

#[derive(Deserialize)]
struct ClaimForm {
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    message: String,
}

async fn claim(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    ClientIp(client): ClientIp,
    tenant: Tenant,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ClaimForm>,
) -> AppResult<Response> {
    let profile = load(&state, &page, &id).await?;
    let refuse = |status, message: &str| {
        render(
            &state,
            page.clone(),
            &profile,
            status,
            Some(message.to_string()),
            false,
        )
    };
    if profile.claimed {
        return refuse(
            StatusCode::CONFLICT,
            "Ce profil a déjà été revendiqué par son titulaire.",
        )
        .await;
    }
    let birth_date = match parse_date(&form.birth_date) {
        Ok(d) => d,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("Date de naissance : {e}."),
            )
            .await;
        }
    };
    let message = form.message.trim();
    if message.chars().count() > 2000 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Le message est trop long (2 000 caractères au plus).",
        )
        .await;
    }
    let mut tx = tenant.db().begin_write().await?;
    if store::has_pending(&mut tx, &id, &account.id).await? {
        drop(tx);
        return refuse(
            StatusCode::CONFLICT,
            "Vous avez déjà une demande en attente pour ce profil.",
        )
        .await;
    }
    if !state.claim_limiter.check(&account.id, client) {
        drop(tx);
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "Vous avez déposé trop de demandes de profil d'élu aujourd'hui : réessayez demain. \
             Chaque demande est vérifiée par une personne.",
        )
        .await;
    }
    let matches = store::birth_date_matches(&mut tx, &id, &birth_date).await?;
    store::insert_claim(&mut tx, &id, &account.id, matches, message).await?;
    tx.commit().await?;
    render(&state, page, &profile, StatusCode::OK, None, true).await
}
