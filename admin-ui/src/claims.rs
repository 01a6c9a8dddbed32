//! `/admin/revendications`: a commune's admins review the claims of officials' profiles.
//! A mayor's profile is only handed over by a platform admin.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use parvis_core::authz::{Actor, Can, ManageRoles, PLATFORM_DOMAIN, Role, perms};
use parvis_core::error::{AppError, AppResult};
use parvis_core::notifications::Notice;
use parvis_core::officials::store;
use parvis_core::state::AppState;
use parvis_core::types::AccountId;
use parvis_core::web::Page;
use parvis_core::web::render::Template;
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/revendications", get(list))
        .route("/admin/revendications/{id}/approuver", post(approve))
        .route("/admin/revendications/{id}/refuser", post(reject))
}

async fn render(
    state: &AppState,
    page: Page,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let commune = page.site.commune()?.clone();
    let mut tx = state.db.tenant(commune.tenant_id).begin().await?;
    let claims = store::pending_claims(&mut tx).await?;
    tx.commit().await?;
    page.render_form(state, status, &Claims { claims, error })
}

/// `admin/claims.html`: the claims waiting for a decision.
#[derive(Serialize)]
struct Claims {
    claims: Vec<store::Claim>,
    error: Option<String>,
}

impl Template for Claims {
    const NAME: &'static str = "admin/claims.html";
}

/// `mail/claim_decided.txt`: the claimant learns the decision.
#[derive(Serialize)]
struct ClaimDecided<'a> {
    name: &'a str,
    official: String,
    commune: &'a str,
    approved: bool,
    reason: Option<&'a str>,
}

impl Template for ClaimDecided<'_> {
    const NAME: &'static str = "mail/claim_decided.txt";
}

async fn list(
    State(state): State<AppState>,
    _can: Can<ManageRoles>,
    page: Page,
) -> AppResult<Response> {
    render(&state, page, StatusCode::OK, None).await
}

/// Decides a claim in the tenant's transaction; returns it and the official's profile.
async fn decide(
    state: &AppState,
    actor: &Actor,
    page: &Page,
    id: &str,
    approve: bool,
    reason: Option<&str>,
) -> AppResult<(store::Claim, store::Profile)> {
    let commune = page.site.commune()?.clone();
    let mut tx = state.db.tenant(commune.tenant_id).begin_write().await?;
    let claim = store::claim(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("Cette demande n'existe pas."))?;
    let profile = store::profile(&mut tx, &claim.official_id)
        .await?
        .ok_or_else(|| AppError::not_found("Cet élu n'est plus au répertoire."))?;
    if approve
        && profile.is_mayor
        && !state
            .authz
            .can(
                Some(&actor.account.id),
                PLATFORM_DOMAIN,
                perms::VERIFY_SUBSCRIPTIONS,
            )
            .await
    {
        return Err(AppError::forbidden(
            "Le profil d'un maire n'est attribué qu'après vérification par l'équipe de la plateforme.",
        ));
    }
    if !store::decide(&mut tx, &claim, approve, reason, &actor.account.id).await? {
        return Err(AppError::conflict("Cette demande a déjà été traitée."));
    }
    tx.commit().await?;
    Ok((claim, profile))
}

async fn notify(
    state: &AppState,
    page: &Page,
    claim: &store::Claim,
    profile: &store::Profile,
    approved: bool,
    reason: Option<&str>,
) -> AppResult<()> {
    let commune = page.site.commune()?;
    let text = ClaimDecided {
        name: &claim.display_name,
        official: format!("{} {}", profile.first_name, profile.last_name),
        commune: &commune.name,
        approved,
        reason,
    };
    // Through the one notification path: in the claimant's notification centre too, by
    // e-mail as their preferences say, with the unsubscribe link.
    let notice = Notice::to_accounts(
        commune.tenant_id,
        vec![claim.account_id.clone()],
        format!(
            "Votre demande de profil d'élu : {}",
            if approved { "acceptée" } else { "refusée" }
        ),
        state.templates.render(&text)?,
        format!("{}/elus/{}", page.origin, profile.id),
    );
    state.jobs.enqueue(state.db.platform(), &notice).await?;
    state.jobs.notify();
    Ok(())
}

async fn approve(
    State(state): State<AppState>,
    Can(actor, _): Can<ManageRoles>,
    page: Page,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (claim, profile) = match decide(&state, &actor, &page, &id, true, None).await {
        Ok(done) => done,
        Err(e @ (AppError::Forbidden(_) | AppError::Conflict(_))) => {
            return render(&state, page, e.status(), Some(e.to_string())).await;
        }
        Err(e) => return Err(e),
    };
    let domain = page.site.authz_domain();
    state
        .authz
        .grant(
            &AccountId(claim.account_id.clone()),
            Role::Official,
            &domain,
        )
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    state.home_cache.invalidate(page.site.commune()?.tenant_id);
    notify(&state, &page, &claim, &profile, true, None).await?;
    Ok(Redirect::to("/admin/revendications").into_response())
}

#[derive(Deserialize)]
struct RejectForm {
    #[serde(default)]
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    Can(actor, _): Can<ManageRoles>,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<RejectForm>,
) -> AppResult<Response> {
    let reason = form.reason.trim().to_string();
    if reason.chars().count() < 5 {
        return render(
            &state,
            page,
            StatusCode::BAD_REQUEST,
            Some(
                "Indiquez le motif du refus (5 caractères au moins) : il est envoyé au demandeur."
                    .into(),
            ),
        )
        .await;
    }
    let (claim, profile) = match decide(&state, &actor, &page, &id, false, Some(&reason)).await {
        Ok(done) => done,
        Err(e @ AppError::Conflict(_)) => {
            return render(&state, page, e.status(), Some(e.to_string())).await;
        }
        Err(e) => return Err(e),
    };
    notify(&state, &page, &claim, &profile, false, Some(&reason)).await?;
    Ok(Redirect::to("/admin/revendications").into_response())
}
