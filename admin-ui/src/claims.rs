//! `/admin/revendications`: a commune's admins review the claims of officials' profiles.
//! A mayor's profile is only handed over by a platform admin. The rules are the officials
//! service's (`officials::service`); this page words its refusals and tells the claimant.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use parvis_core::authz::{Can, ManageRoles};
use parvis_core::error::{AppError, AppResult};
use parvis_core::notifications::Notice;
use parvis_core::officials::service::{self, Claim, ClaimError, Decision, Profile};
use parvis_core::state::AppState;
use parvis_core::web::render::Template;
use parvis_core::web::{Page, Tenant};
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
    tenant: &Tenant,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let claims = service::pending_claims(tenant).await?;
    let verified = service::verified_claims(tenant).await?;
    page.render_form(
        state,
        status,
        &Claims {
            claims,
            verified,
            error,
        },
    )
}

/// `admin/claims.html`: the claims waiting for a decision, and those FranceConnect verified.
#[derive(Serialize)]
struct Claims {
    claims: Vec<Claim>,
    /// Approved at once, the claimant's FranceConnect identity matching the registry: the
    /// record of those checks.
    verified: Vec<Claim>,
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
    tenant: Tenant,
) -> AppResult<Response> {
    render(&state, page, &tenant, StatusCode::OK, None).await
}

/// A refused decision as the page shows it.
fn refusal(e: ClaimError) -> AppError {
    match e {
        ClaimError::UnknownClaim => AppError::not_found("Cette demande n'existe pas."),
        ClaimError::UnknownOfficial => AppError::not_found("Cet élu n'est plus au répertoire."),
        ClaimError::MayorNeedsPlatform => AppError::forbidden(
            "Le profil d'un maire n'est attribué qu'après vérification par l'équipe de la plateforme.",
        ),
        ClaimError::ReasonMissing => AppError::bad_request(
            "Indiquez le motif du refus (5 caractères au moins) : il est envoyé au demandeur.",
        ),
        ClaimError::AlreadyDecided => AppError::conflict("Cette demande a déjà été traitée."),
        ClaimError::Authz(e) => AppError::Internal(e.into()),
        ClaimError::Db(e) => e.into(),
    }
}

/// Decides the claim, tells the claimant, and returns to the list; a refusal the admin can
/// act on is shown on the list.
async fn decide(
    state: &AppState,
    actor: &parvis_core::authz::Actor,
    page: Page,
    tenant: Tenant,
    id: &str,
    decision: Decision<'_>,
) -> AppResult<Response> {
    let (claim, profile) =
        match service::decide_claim(state, &tenant, &actor.account.id, id, decision).await {
            Ok(decided) => decided,
            Err(e) => match refusal(e) {
                e @ (AppError::BadRequest(_) | AppError::Forbidden(_) | AppError::Conflict(_)) => {
                    return render(state, page, &tenant, e.status(), Some(e.to_string())).await;
                }
                e => return Err(e),
            },
        };
    notify(state, &page, &tenant, &claim, &profile, decision).await?;
    Ok(Redirect::to("/admin/revendications").into_response())
}

async fn notify(
    state: &AppState,
    page: &Page,
    tenant: &Tenant,
    claim: &Claim,
    profile: &Profile,
    decision: Decision<'_>,
) -> AppResult<()> {
    let (approved, reason) = match decision {
        Decision::Approve => (true, None),
        Decision::Reject { reason } => (false, Some(reason.trim())),
    };
    let text = ClaimDecided {
        name: &claim.display_name,
        official: format!("{} {}", profile.first_name, profile.last_name),
        commune: &tenant.name,
        approved,
        reason,
    };
    // Through the one notification path: in the claimant's notification centre too, by
    // e-mail as their preferences say, with the unsubscribe link.
    let notice = Notice::to_accounts(
        tenant.id(),
        vec![claim.account_id.clone()],
        format!(
            "Votre demande de profil d'élu : {}",
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
    tenant: Tenant,
) -> AppResult<Response> {
    decide(&state, &actor, page, tenant, &id, Decision::Approve).await
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
    tenant: Tenant,
    Form(form): Form<RejectForm>,
) -> AppResult<Response> {
    let decision = Decision::Reject {
        reason: &form.reason,
    };
    decide(&state, &actor, page, tenant, &id, decision).await
}
