//! `/admin/roles`: a commune's admins grant and revoke roles (admin, moderator, official,
//! candidate) to accounts, by e-mail.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use parvis_core::accounts::{service::normalize_email, store as accounts};
use parvis_core::authz::{Can, ManageRoles, Role};
use parvis_core::error::{AppError, AppResult};
use parvis_core::officials::store as officials;
use parvis_core::state::AppState;
use parvis_core::types::AccountId;
use parvis_core::web::Page;
use parvis_core::web::render::Template;
use serde::{Deserialize, Serialize};

/// Roles a commune's admins may hand out (platform roles are the platform's).
const GRANTABLE: [Role; 5] = [
    Role::TenantAdmin,
    Role::Moderator,
    Role::Official,
    Role::Candidate,
    Role::Resident,
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/roles", get(list))
        .route("/admin/roles", post(grant))
        .route("/admin/roles/retirer", post(revoke))
}

/// Writes the commune's audit log.
async fn audit(
    state: &AppState,
    page: &Page,
    actor: &AccountId,
    action: &str,
    target: &str,
) -> AppResult<()> {
    let commune = page.site.commune()?;
    let mut tx = state.db.tenant(commune.tenant_id).begin_write().await?;
    parvis_core::moderation::store::audit(&mut tx, actor, action, target, None).await?;
    tx.commit().await?;
    Ok(())
}

async fn render(
    state: &AppState,
    page: Page,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    render_with(state, page, status, error, Vec::new()).await
}

/// The page; `detached` names the profiles a revocation has just taken back.
async fn render_with(
    state: &AppState,
    page: Page,
    status: StatusCode,
    error: Option<String>,
    detached: Vec<String>,
) -> AppResult<Response> {
    let commune = page.site.commune()?.clone();
    let mut rows = Vec::new();
    for (account, role) in state
        .authz
        .assignments(&commune.tenant_id.authz_domain())
        .await
    {
        if let Some(a) = accounts::by_id(&state.db, &account).await? {
            rows.push(Assignment {
                account_id: a.id,
                email: a.email,
                name: a.display_name,
                role: role.as_str(),
                label: role.label(),
            });
        }
    }
    let roles = Roles {
        assignments: rows,
        grantable: GRANTABLE
            .iter()
            .map(|r| Grantable {
                id: r.as_str(),
                label: r.label(),
            })
            .collect(),
        error,
        detached,
    };
    page.render_form(state, status, &roles)
}

/// `admin/roles.html`: who holds which role in the commune, and the form to grant one.
#[derive(Serialize)]
struct Roles {
    assignments: Vec<Assignment>,
    grantable: Vec<Grantable>,
    error: Option<String>,
    /// The officials' profiles a revocation just took back.
    detached: Vec<String>,
}

impl Template for Roles {
    const NAME: &'static str = "admin/roles.html";
}

#[derive(Serialize)]
struct Assignment {
    account_id: AccountId,
    email: String,
    name: String,
    role: &'static str,
    label: &'static str,
}

/// A role the commune's admins may grant.
#[derive(Serialize)]
struct Grantable {
    id: &'static str,
    label: &'static str,
}

async fn list(
    State(state): State<AppState>,
    _can: Can<ManageRoles>,
    page: Page,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    // `?detache=<id>` after a revocation: the names are read back from the registry (only
    // profiles of this commune that are unclaimed now), never taken from the link.
    let ids: Vec<String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(key, _)| key == "detache")
        .map(|(_, id)| id.into_owned())
        .filter(|id| id.len() <= 64)
        .take(10)
        .collect();
    let mut detached = Vec::new();
    if !ids.is_empty() {
        let commune = page.site.commune()?.clone();
        let mut tx = state.db.tenant(commune.tenant_id).begin().await?;
        for id in &ids {
            if let Some(name) = officials::unclaimed_name(&mut tx, id).await? {
                detached.push(name);
            }
        }
        tx.commit().await?;
    }
    render_with(&state, page, StatusCode::OK, None, detached).await
}

fn grantable(role: &str) -> AppResult<Role> {
    Role::parse(role)
        .filter(|r| GRANTABLE.contains(r))
        .ok_or_else(|| AppError::bad_request("Choisissez un rôle dans la liste."))
}

#[derive(Deserialize)]
struct GrantForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn grant(
    State(state): State<AppState>,
    Can(actor, _): Can<ManageRoles>,
    page: Page,
    Form(form): Form<GrantForm>,
) -> AppResult<Response> {
    let domain = page.site.authz_domain();
    let outcome: AppResult<()> = async {
        let role = grantable(&form.role)?;
        let email = normalize_email(&form.email).map_err(|e| AppError::bad_request(e.to_string()))?;
        let account = accounts::by_email(&state.db, &email)
            .await?
            .ok_or_else(|| AppError::bad_request(format!("Aucun compte Parvis n'utilise l'adresse {email}. La personne doit d'abord créer son compte.")))?;
        state.authz.grant(&account.id, role, &domain).await.map_err(|e| AppError::Internal(e.into()))?;
        tracing::info!(by = %actor.account.id, to = %account.id, role = %role, %domain, "role granted");
        audit(&state, &page, &actor.account.id, "role.grant", &format!("{} {}", account.email, role.as_str())).await?;
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(Redirect::to("/admin/roles").into_response()),
        Err(e @ AppError::BadRequest(_)) => {
            render(&state, page, StatusCode::BAD_REQUEST, Some(e.to_string())).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    role: String,
}

async fn revoke(
    State(state): State<AppState>,
    Can(actor, _): Can<ManageRoles>,
    page: Page,
    Form(form): Form<RevokeForm>,
) -> AppResult<Response> {
    let domain = page.site.authz_domain();
    let role = match grantable(&form.role) {
        Ok(role) => role,
        Err(e) => return render(&state, page, StatusCode::BAD_REQUEST, Some(e.to_string())).await,
    };
    let target = AccountId(form.account_id.clone());
    if role == Role::TenantAdmin && target == actor.account.id {
        let admins = state
            .authz
            .assignments(&domain)
            .await
            .into_iter()
            .filter(|(_, r)| *r == Role::TenantAdmin)
            .count();
        if admins <= 1 {
            return render(&state, page, StatusCode::CONFLICT, Some("Vous êtes le dernier administrateur de la commune : nommez-en un autre avant de vous retirer ce rôle.".into())).await;
        }
    }
    // The profile goes with the role, in the transaction that writes the audit log, before
    // the role itself: a failure in between leaves a role without a profile, never the
    // reverse (an account receiving what citizens write to an official it no longer is).
    let commune = page.site.commune()?.clone();
    let mut tx = state.db.tenant(commune.tenant_id).begin_write().await?;
    let detached = if role == Role::Official {
        officials::detach_account(&mut tx, &target).await?
    } else {
        Vec::new()
    };
    parvis_core::moderation::store::audit(
        &mut tx,
        &actor.account.id,
        "role.revoke",
        &format!("{} {}", target.0, role.as_str()),
        None,
    )
    .await?;
    for profile in &detached {
        parvis_core::moderation::store::audit(
            &mut tx,
            &actor.account.id,
            "official.detach",
            &profile.id,
            Some(&format!(
                "Profil d'élu de {} détaché du compte {} (rôle d'élu retiré) : il est de nouveau à revendiquer.",
                profile.name, target.0
            )),
        )
        .await?;
    }
    tx.commit().await?;
    state
        .authz
        .revoke(&target, role, &domain)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    if !detached.is_empty() {
        state.home_cache.invalidate(commune.tenant_id);
        tracing::info!(by = %actor.account.id, account = %target, profiles = detached.len(), "official profiles detached");
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(detached.iter().map(|d| ("detache", d.id.as_str())))
            .finish();
        return Ok(Redirect::to(&format!("/admin/roles?{query}")).into_response());
    }
    Ok(Redirect::to("/admin/roles").into_response())
}
