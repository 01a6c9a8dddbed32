//! `/admin/roles`: a commune's admins grant and revoke roles (admin, moderator, official,
//! candidate) to accounts, by e-mail. The rules are the roles service's (`authz::service`).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use parvis_core::authz::service::{self as roles, RoleError};
use parvis_core::authz::{Can, ManageRoles, Role};
use parvis_core::error::{AppError, AppResult};
use parvis_core::officials::service as officials;
use parvis_core::state::AppState;
use parvis_core::types::AccountId;
use parvis_core::web::render::Template;
use parvis_core::web::{Page, Tenant};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/roles", get(list))
        .route("/admin/roles", post(grant))
        .route("/admin/roles/retirer", post(revoke))
}

async fn render(
    state: &AppState,
    page: Page,
    tenant: &Tenant,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    render_with(state, page, tenant, status, error, Vec::new()).await
}

/// The page; `detached` names the profiles a revocation has just taken back.
async fn render_with(
    state: &AppState,
    page: Page,
    tenant: &Tenant,
    status: StatusCode,
    error: Option<String>,
    detached: Vec<String>,
) -> AppResult<Response> {
    let assignments = roles::holders(state, tenant)
        .await?
        .into_iter()
        .map(|h| Assignment {
            account_id: h.account,
            email: h.email,
            name: h.name,
            role: h.role.as_str(),
            label: h.role.label(),
        })
        .collect();
    let roles = Roles {
        assignments,
        grantable: roles::GRANTABLE
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
    tenant: Tenant,
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
    let detached = officials::unclaimed_names(&tenant, &ids).await?;
    render_with(&state, page, &tenant, StatusCode::OK, None, detached).await
}

/// A refused change as the page shows it.
fn refusal(e: RoleError) -> AppError {
    match e {
        RoleError::NotGrantable => AppError::bad_request("Choisissez un rôle dans la liste."),
        RoleError::Email(e) => AppError::bad_request(e.to_string()),
        RoleError::NoAccount(email) => AppError::bad_request(format!(
            "Aucun compte Parvis n'utilise l'adresse {email}. La personne doit d'abord créer son compte."
        )),
        RoleError::LastAdmin => AppError::conflict(
            "Vous êtes le dernier administrateur de la commune : nommez-en un autre avant de vous retirer ce rôle.",
        ),
        RoleError::Authz(e) => AppError::Internal(e.into()),
        RoleError::Db(e) => e.into(),
    }
}

/// The role a form names, if the commune's admins may grant it.
fn grantable(role: &str) -> Result<Role, RoleError> {
    roles::grantable(role).ok_or(RoleError::NotGrantable)
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
    tenant: Tenant,
    Form(form): Form<GrantForm>,
) -> AppResult<Response> {
    let granted = match grantable(&form.role) {
        Ok(role) => roles::grant(&state, &tenant, &actor.account.id, &form.email, role).await,
        Err(e) => Err(e),
    };
    match granted.map_err(refusal) {
        Ok(()) => Ok(Redirect::to("/admin/roles").into_response()),
        Err(e @ AppError::BadRequest(_)) => {
            render(&state, page, &tenant, e.status(), Some(e.to_string())).await
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
    tenant: Tenant,
    Form(form): Form<RevokeForm>,
) -> AppResult<Response> {
    let target = AccountId(form.account_id.clone());
    let revoked = match grantable(&form.role) {
        Ok(role) => roles::revoke(&state, &tenant, &actor.account.id, &target, role).await,
        Err(e) => Err(e),
    };
    let detached = match revoked.map_err(refusal) {
        Ok(detached) => detached,
        Err(e @ (AppError::BadRequest(_) | AppError::Conflict(_))) => {
            return render(&state, page, &tenant, e.status(), Some(e.to_string())).await;
        }
        Err(e) => return Err(e),
    };
    if detached.is_empty() {
        return Ok(Redirect::to("/admin/roles").into_response());
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(detached.iter().map(|d| ("detache", d.id.as_str())))
        .finish();
    Ok(Redirect::to(&format!("/admin/roles?{query}")).into_response())
}
