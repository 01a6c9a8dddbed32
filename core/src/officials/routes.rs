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
    claimed: Claimed,
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
    let link = match &page.viewer {
        Some(v) if !profile.claimed => {
            crate::accounts::franceconnect::link_of(&state.db, &v.id).await?
        }
        _ => None,
    };
    let official = Official {
        profile,
        avatar_url,
        own,
        error,
        sent: !matches!(claimed, Claimed::No),
        verified: matches!(claimed, Claimed::Verified),
        mismatch: match claimed {
            Claimed::Mismatch(why) => Some(why),
            _ => None,
        },
        franceconnect: state.franceconnect.enabled(),
        link,
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
    /// It was approved at once: the claimant's FranceConnect identity matched the registry.
    verified: bool,
    /// What differed between the claimant's FranceConnect identity and the registry.
    mismatch: Option<String>,
    /// FranceConnect is offered.
    franceconnect: bool,
    /// The viewer's FranceConnect identity (while the profile is unclaimed).
    link: Option<crate::accounts::franceconnect::Link>,
    following: bool,
    posts: Vec<Card>,
    record: Vec<crate::feed::store::RecordEntry>,
}

/// What the page says of a claim the viewer just filed.
enum Claimed {
    /// Nothing filed.
    No,
    /// Filed, for the admins to check.
    Sent,
    /// Approved at once (FranceConnect).
    Verified,
    /// Filed for the admins, the FranceConnect identity differing from the registry thus.
    Mismatch(String),
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
    render(&state, page, &profile, StatusCode::OK, None, Claimed::No).await
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
            Claimed::No,
        )
    };
    if profile.claimed {
        return refuse(
            StatusCode::CONFLICT,
            "Ce profil a déjà été revendiqué par son titulaire.",
        )
        .await;
    }
    let link = crate::accounts::franceconnect::link_of(&state.db, &account.id).await?;
    // With a FranceConnect identity, the registry is checked against it: no date to type.
    let birth_date = if link.is_some() && form.birth_date.trim().is_empty() {
        None
    } else {
        match parse_date(&form.birth_date) {
            Ok(d) => Some(d),
            Err(e) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    &format!("Date de naissance : {e}."),
                )
                .await;
            }
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
            "Vous avez déposé trop de demandes de profil d'élu aujourd'hui : réessayez demain. \
             Chaque demande est vérifiée par une personne.",
        )
        .await;
    }
    let registry = store::registry_identity(&mut tx, &id).await?;
    let check = match (&link, &registry) {
        (Some(link), Some((first, last, born))) => Some(
            crate::accounts::franceconnect::names_match(link, last, first, born),
        ),
        _ => None,
    };
    let matches = match (&birth_date, &link, &registry) {
        (Some(d), _, _) => store::birth_date_matches(&mut tx, &id, d).await?,
        (None, Some(link), Some((_, _, born))) => link.birthdate == *born,
        _ => false,
    };
    let verification = match &check {
        None => store::Verification::None,
        Some(Ok(())) => store::Verification::Verified,
        Some(Err(why)) => store::Verification::Mismatch(why),
    };
    let claim_id =
        store::insert_claim(&mut tx, &id, &account.id, matches, message, verification).await?;
    let verified = matches!(verification, store::Verification::Verified);
    if verified {
        let filed = store::claim(&mut tx, &claim_id)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("claim {claim_id} not found")))?;
        store::decide(
            &mut tx,
            &filed,
            true,
            Some("Identité vérifiée par FranceConnect."),
            None,
        )
        .await?;
    }
    tx.commit().await?;
    if verified {
        crate::officials::service::holds_profile(&state, &tenant, &account.id)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        let profile = load(&state, &page, &id).await?;
        return render(
            &state,
            page,
            &profile,
            StatusCode::OK,
            None,
            Claimed::Verified,
        )
        .await;
    }
    let outcome = match check {
        Some(Err(why)) => Claimed::Mismatch(why),
        _ => Claimed::Sent,
    };
    render(&state, page, &profile, StatusCode::OK, None, outcome).await
}
