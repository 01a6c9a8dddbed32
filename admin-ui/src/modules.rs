//! `/admin/modules`: a commune's admins choose the services its citizens get — enable or
//! disable each installed module, fill in its settings, see why the host switched one off.
//! Premium modules can be enabled once the commune holds an entitlement (billing). Each
//! module's capabilities are listed in plain words, those waiting for the platform's approval
//! marked: the host refuses them until a platform admin grants them.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use parvis_core::authz::{Can, ManageModules};
use parvis_core::error::{AppError, AppResult};
use parvis_core::modules::service::{self, ModuleError};
use parvis_core::modules::{install, store};
use parvis_core::state::AppState;
use parvis_core::web::Page;
use parvis_core::web::render::Template;
use serde::Serialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/modules", get(list))
        .route("/admin/modules/{id}/{action}", post(switch))
        .route("/admin/modules/{id}/reglages", post(configure))
}

async fn render(
    state: &AppState,
    page: Page,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let commune = page.site.commune()?.clone();
    let choices = state.modules.tenant(&state.db, commune.tenant_id).await?;
    let mut tx = state.db.tenant(commune.tenant_id).begin().await?;
    let mut rows = Vec::new();
    for m in state.modules.all() {
        let row = choices.rows.get(m.id.as_str());
        let settings: serde_json::Value = row
            .and_then(|r| serde_json::from_str(&r.settings).ok())
            .unwrap_or_else(|| json!({}));
        let fields = m
            .manifest
            .settings
            .iter()
            .map(|s| {
                let value = settings
                    .get(&s.key)
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| s.default_value.clone());
                SettingField {
                    key: s.key.clone(),
                    label: s.label.clone(),
                    help: s.help.clone(),
                    kind: s.kind.clone(),
                    value,
                }
            })
            .collect();
        let entitled = !m.manifest.premium || store::entitled(&mut tx, &m.id).await?;
        let capabilities = m
            .manifest
            .capabilities
            .iter()
            .map(|c| Capability {
                name: c.clone(),
                words: install::capability_words(c).unwrap_or(c).to_string(),
                pending: !m.is_granted(c),
            })
            .collect();
        rows.push(ModuleRow {
            id: m.id.as_str().to_string(),
            name: m.manifest.name.clone(),
            description: m.manifest.description.clone(),
            version: m.manifest.version.clone(),
            premium: m.manifest.premium,
            entitled,
            enabled: row.is_some_and(|r| r.enabled),
            fault_reason: row.and_then(|r| r.fault_reason.clone()),
            settings: fields,
            admin_entry: m.manifest.nav.iter().any(|n| n.admin),
            capabilities,
        });
    }
    tx.commit().await?;
    let modules = Modules {
        modules: rows,
        error,
    };
    page.render_form(state, status, &modules)
}

/// `admin/modules.html`: every installed module, its state, settings and capabilities.
#[derive(Serialize)]
struct Modules {
    modules: Vec<ModuleRow>,
    error: Option<String>,
}

impl Template for Modules {
    const NAME: &'static str = "admin/modules.html";
}

#[derive(Serialize)]
struct ModuleRow {
    id: String,
    name: String,
    description: String,
    version: String,
    premium: bool,
    /// Free, or paid for.
    entitled: bool,
    enabled: bool,
    /// Why the host switched it off.
    fault_reason: Option<String>,
    settings: Vec<SettingField>,
    /// It has admin pages.
    admin_entry: bool,
    capabilities: Vec<Capability>,
}

/// A setting of the module's manifest, with the commune's value.
#[derive(Serialize)]
struct SettingField {
    key: String,
    label: String,
    help: String,
    kind: String,
    value: String,
}

#[derive(Serialize)]
struct Capability {
    name: String,
    /// In plain words.
    words: String,
    /// Waiting for a platform admin's grant.
    pending: bool,
}

async fn list(
    State(state): State<AppState>,
    _: Can<ManageModules>,
    page: Page,
) -> AppResult<Response> {
    render(&state, page, StatusCode::OK, None).await
}

async fn outcome(
    state: &AppState,
    page: Page,
    result: Result<(), ModuleError>,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to("/admin/modules").into_response()),
        Err(ModuleError::Db(e)) => Err(e.into()),
        Err(e @ ModuleError::Unknown(_)) => {
            render(state, page, StatusCode::NOT_FOUND, Some(e.to_string())).await
        }
        Err(e @ ModuleError::NotEntitled(_)) => {
            render(
                state,
                page,
                StatusCode::PAYMENT_REQUIRED,
                Some(e.to_string()),
            )
            .await
        }
        Err(e @ ModuleError::Setting(..)) => {
            render(
                state,
                page,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(e.to_string()),
            )
            .await
        }
    }
}

/// `POST /admin/modules/{id}/activer` or `/desactiver`.
async fn switch(
    State(state): State<AppState>,
    Can(actor, _): Can<ManageModules>,
    Path((id, action)): Path<(String, String)>,
    page: Page,
) -> AppResult<Response> {
    let on = match action.as_str() {
        "activer" => true,
        "desactiver" => false,
        _ => return Err(AppError::not_found("Cette page n'existe pas.")),
    };
    let tenant = page.site.commune()?.tenant_id;
    let actor = Some(&actor.account.id);
    let result = if on {
        service::enable(&state.modules, tenant, &id, actor).await
    } else {
        service::disable(&state.modules, tenant, &id, actor).await
    };
    outcome(&state, page, result).await
}

async fn configure(
    State(state): State<AppState>,
    Can(actor, _): Can<ManageModules>,
    Path(id): Path<String>,
    page: Page,
    Form(form): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    let tenant = page.site.commune()?.tenant_id;
    let result = service::configure(&state.modules, tenant, &id, &form, &actor.account.id).await;
    outcome(&state, page, result).await
}
