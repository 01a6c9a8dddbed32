//! `/admin/roles`: a commune's admins grant and revoke roles (admin, moderator, official,
//! candidate) to accounts, by e-mail.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use parvis_core::accounts::{service::normalize_email, store as accounts};
use parvis_core::authz::{Can, ManageRoles, Role};
use parvis_core::error::{AppError, AppResult};
use parvis_core::types::AccountId;
use parvis_core::web::{AppState, Page};
use serde::Deserialize;
use serde_json::json;
use tera::Context;

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
    let commune = page.site.commune()?.clone();
    let mut rows = Vec::new();
    for (account, role) in state
        .authz
        .assignments(&commune.tenant_id.authz_domain())
        .await
    {
        if let Some(a) = accounts::by_id(&state.db, &account).await? {
            rows.push(json!({"account_id": a.id, "email": a.email, "name": a.display_name, "role": role.as_str(), "label": role.label()}));
        }
    }
    let grantable: Vec<_> = GRANTABLE
        .iter()
        .map(|r| json!({"id": r.as_str(), "label": r.label()}))
        .collect();
    let mut ctx = Context::new();
    ctx.insert("assignments", &rows);
    ctx.insert("grantable", &grantable);
    ctx.insert("error", &error);
    page.render_form(state, status, "admin/roles.html", ctx)
}

async fn list(
    State(state): State<AppState>,
    _can: Can<ManageRoles>,
    page: Page,
) -> AppResult<Response> {
    render(&state, page, StatusCode::OK, None).await
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
    state
        .authz
        .revoke(&target, role, &domain)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    audit(
        &state,
        &page,
        &actor.account.id,
        "role.revoke",
        &format!("{} {}", target.0, role.as_str()),
    )
    .await?;
    Ok(Redirect::to("/admin/roles").into_response())
}
