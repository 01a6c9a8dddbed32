//! Platform back-office (apex `/admin`): verify the subscription requests. Approving provisions
//! the commune if needed and makes the requester its admin; both outcomes are mailed. The same
//! page lists the module capabilities waiting for the platform's approval (a replacement's
//! new capabilities, issue 14), each with a button to grant it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use parvis_core::authz::{Can, Role, VerifySubscriptions, perms};
use parvis_core::error::{AppError, AppResult};
use parvis_core::mail::Email;
use parvis_core::modules::install;
use parvis_core::platform::requests;
use parvis_core::state::AppState;
use parvis_core::types::{AccountId, InseeCode, TenantId};
use parvis_core::web::render::Template;
use parvis_core::web::session::Account;
use parvis_core::web::{Page, Site};
use parvis_tenants::provision::{self, ProvisionError};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/demandes/{id}/approuver", post(approve))
        .route("/admin/demandes/{id}/refuser", post(reject))
        .route("/admin/capacites/{id}/{capability}", post(grant))
}

/// The list of pending requests (the apex `/admin` page).
pub async fn requests_page(state: &AppState, page: &Page, viewer: &Account) -> AppResult<Response> {
    render(state, page, viewer, StatusCode::OK, None).await
}

async fn render(
    state: &AppState,
    page: &Page,
    viewer: &Account,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    if !state
        .authz
        .can(
            Some(&viewer.id),
            &page.site.authz_domain(),
            perms::VERIFY_SUBSCRIPTIONS,
        )
        .await
    {
        return Err(AppError::forbidden(
            "Cet espace est réservé aux administrateurs de la plateforme.",
        ));
    }
    let pending = requests::list(&state.db, "pending").await?;
    let pending_grants = install::pending_all(&state.db)
        .await?
        .into_iter()
        .map(|(module, capability)| {
            let name = state
                .modules
                .get(&module)
                .map(|m| format!("{} {}", m.manifest.name, m.manifest.version))
                .unwrap_or_default();
            PendingGrant {
                words: install::capability_words(&capability).unwrap_or_default(),
                module,
                name,
                capability,
            }
        })
        .collect();
    let requests = Requests {
        pending,
        pending_grants,
        error,
    };
    page.clone().render_form(state, status, &requests)
}

/// `admin/platform.html`: the subscription requests and the capability grants waiting.
#[derive(Serialize)]
struct Requests {
    pending: Vec<requests::SubscriptionRequest>,
    pending_grants: Vec<PendingGrant>,
    error: Option<String>,
}

impl Template for Requests {
    const NAME: &'static str = "admin/platform.html";
}

/// A capability a module asks for, waiting for a platform admin.
#[derive(Serialize)]
struct PendingGrant {
    module: String,
    /// The module's name and version.
    name: String,
    capability: String,
    /// What the capability lets the module do, in French.
    words: &'static str,
}

/// `mail/request_decided.txt`: the requester learns the decision.
#[derive(Serialize)]
struct RequestDecided<'a> {
    name: &'a str,
    commune: &'a str,
    approved: bool,
    reason: Option<&'a str>,
    /// The commune's site, once open.
    link: &'a str,
}

impl Template for RequestDecided<'_> {
    const NAME: &'static str = "mail/request_decided.txt";
}

fn apex_only(page: &Page) -> AppResult<()> {
    match page.site {
        Site::Platform => Ok(()),
        Site::Commune(_) => Err(AppError::not_found(
            "Cette page n'existe que sur le site de la plateforme.",
        )),
    }
}

/// Provisions the commune unless it already is a tenant; returns its id and slug.
async fn ensure_tenant(state: &AppState, insee: &str) -> AppResult<(TenantId, String)> {
    let insee = InseeCode::parse(insee).map_err(|e| AppError::bad_request(e.to_string()))?;
    match provision::create_tenant(&state.db, &insee, None).await {
        Ok(tenant) => Ok((tenant.id, tenant.slug.to_string())),
        Err(ProvisionError::AlreadyProvisioned { .. }) => {
            let tenant = provision::find_by_insee(&state.db, &insee)
                .await
                .map_err(|e| AppError::Internal(e.into()))?
                .ok_or_else(|| AppError::not_found("Commune introuvable."))?;
            Ok((tenant.id, tenant.slug.to_string()))
        }
        Err(e) => Err(AppError::bad_request(e.to_string())),
    }
}

async fn approve(
    State(state): State<AppState>,
    Can(actor, _): Can<VerifySubscriptions>,
    page: Page,
    Path(id): Path<String>,
) -> AppResult<Response> {
    apex_only(&page)?;
    let request = requests::get(&state.db, &id)
        .await?
        .ok_or_else(|| AppError::not_found("Cette demande n'existe pas."))?;
    if request.status != "pending" {
        return render(
            &state,
            &page,
            &actor.account,
            StatusCode::CONFLICT,
            Some("Cette demande a déjà été traitée.".into()),
        )
        .await;
    }
    let (tenant, slug) = ensure_tenant(&state, &request.insee).await?;
    let requester = AccountId(request.account_id.clone());
    state
        .authz
        .grant(&requester, Role::TenantAdmin, &tenant.authz_domain())
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    if !requests::decide(&state.db, &id, true, None, &actor.account.id).await? {
        return render(
            &state,
            &page,
            &actor.account,
            StatusCode::CONFLICT,
            Some("Cette demande a déjà été traitée.".into()),
        )
        .await;
    }
    state.communes.reload(&state.db).await?;
    state.sites.invalidate();
    let link = format!("{}/admin/commune", page.commune_origin(&state, &slug));
    notify(&state, &request, true, None, &link).await?;
    Ok(Redirect::to("/admin").into_response())
}

/// `POST /admin/capacites/{id}/{capability}`: a platform admin lets a module use a capability
/// waiting for approval; this server applies it at once, the others at their next sync.
async fn grant(
    State(state): State<AppState>,
    Can(actor, _): Can<VerifySubscriptions>,
    page: Page,
    Path((id, capability)): Path<(String, String)>,
) -> AppResult<Response> {
    apex_only(&page)?;
    if let Err(e) = install::set_grant(&state.db, &id, &capability, true, &actor.account.id.0).await
    {
        return match e {
            install::GrantError::Db(e) => Err(e.into()),
            e => {
                render(
                    &state,
                    &page,
                    &actor.account,
                    StatusCode::NOT_FOUND,
                    Some(e.to_string()),
                )
                .await
            }
        };
    }
    if let Err(e) = state.modules.sync(&state.db).await {
        tracing::warn!(error = %e, "module sync after a grant failed (the next one applies it)");
    }
    Ok(Redirect::to("/admin").into_response())
}

#[derive(Deserialize)]
struct RejectForm {
    #[serde(default)]
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    Can(actor, _): Can<VerifySubscriptions>,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<RejectForm>,
) -> AppResult<Response> {
    apex_only(&page)?;
    let reason = form.reason.trim();
    if reason.chars().count() < 5 {
        return render(
            &state,
            &page,
            &actor.account,
            StatusCode::BAD_REQUEST,
            Some(
                "Indiquez le motif du refus (5 caractères au moins) : il est envoyé au demandeur."
                    .into(),
            ),
        )
        .await;
    }
    let request = requests::get(&state.db, &id)
        .await?
        .ok_or_else(|| AppError::not_found("Cette demande n'existe pas."))?;
    if !requests::decide(&state.db, &id, false, Some(reason), &actor.account.id).await? {
        return render(
            &state,
            &page,
            &actor.account,
            StatusCode::CONFLICT,
            Some("Cette demande a déjà été traitée.".into()),
        )
        .await;
    }
    notify(&state, &request, false, Some(reason), "").await?;
    Ok(Redirect::to("/admin").into_response())
}

async fn notify(
    state: &AppState,
    request: &requests::SubscriptionRequest,
    approved: bool,
    reason: Option<&str>,
    link: &str,
) -> AppResult<()> {
    let text = RequestDecided {
        name: &request.requester_name,
        commune: &request.commune_name,
        approved,
        reason,
        link,
    };
    let email = Email {
        to: request.account_email.clone(),
        subject: format!(
            "Votre demande pour {} : {}",
            request.commune_name,
            if approved { "acceptée" } else { "refusée" }
        ),
        text: state.templates.render(&text)?,
        attachments: vec![],
        notice: None,
        html: None,
        list_unsubscribe: None,
    };
    state.jobs.enqueue(state.db.platform(), &email).await?;
    Ok(())
}
