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
use parvis_core::modules::install;
use parvis_core::modules::service::{self, ModuleError, Offered};
use parvis_core::state::AppState;
use parvis_core::web::render::Template;
use parvis_core::web::{Page, Tenant};
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
    tenant: &Tenant,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let rows = service::offered(&state.modules, tenant)
        .await?
        .into_iter()
        .map(
            |Offered {
                 module: m,
                 choice,
                 entitled,
             }| {
                let settings: serde_json::Value = choice
                    .as_ref()
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
                ModuleRow {
                    id: m.id.as_str().to_string(),
                    name: m.manifest.name.clone(),
                    description: m.manifest.description.clone(),
                    version: m.manifest.version.clone(),
                    premium: m.manifest.premium,
                    entitled,
                    enabled: choice.as_ref().is_some_and(|r| r.enabled),
                    fault_reason: choice.and_then(|r| r.fault_reason),
                    settings: fields,
                    admin_entry: m.manifest.nav.iter().any(|n| n.admin),
                    capabilities,
                }
            },
        )
        .collect();
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
    tenant: Tenant,
) -> AppResult<Response> {
    render(&state, page, &tenant, StatusCode::OK, None).await
}

async fn outcome(
    state: &AppState,
    page: Page,
    tenant: &Tenant,
    result: Result<(), ModuleError>,
) -> AppResult<Response> {
    let (status, e) = match result {
        Ok(()) => return Ok(Redirect::to("/admin/modules").into_response()),
        Err(ModuleError::Db(e)) => return Err(e.into()),
        Err(e @ ModuleError::Unknown(_)) => (StatusCode::NOT_FOUND, e),
        Err(e @ ModuleError::NotEntitled(_)) => (StatusCode::PAYMENT_REQUIRED, e),
        Err(e @ ModuleError::Setting(..)) => (StatusCode::UNPROCESSABLE_ENTITY, e),
    };
    render(state, page, tenant, status, Some(e.to_string())).await
}

/// `admin/module_disable.html`: what switching a module off does, before it is done.
#[derive(Serialize)]
struct ConfirmDisable<'a> {
    id: &'a str,
    name: &'a str,
}

impl Template for ConfirmDisable<'_> {
    const NAME: &'static str = "admin/module_disable.html";
}

/// `POST /admin/modules/{id}/activer` or `/desactiver`. Switching off asks first (a page
/// saying what stops for the citizens and that the data stay), and is done only with
/// `confirme=oui`: one click on the list cannot cut a service in the middle of a poll.
async fn switch(
    State(state): State<AppState>,
    Can(actor, _): Can<ManageModules>,
    Path((id, action)): Path<(String, String)>,
    page: Page,
    tenant: Tenant,
    Form(form): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    let on = match action.as_str() {
        "activer" => true,
        "desactiver" => false,
        _ => return Err(AppError::not_found("Cette page n'existe pas.")),
    };
    if !on && form.get("confirme").map(String::as_str) != Some("oui") {
        let module = state
            .modules
            .get(&id)
            .ok_or_else(|| AppError::not_found("Ce module n'est pas installé."))?;
        return page.render_form(
            &state,
            StatusCode::OK,
            &ConfirmDisable {
                id: &id,
                name: &module.manifest.name,
            },
        );
    }
    let actor = Some(&actor.account.id);
    let result = if on {
        service::enable(&state.modules, tenant.db(), &id, actor).await
    } else {
        service::disable(&state.modules, tenant.db(), &id, actor).await
    };
    outcome(&state, page, &tenant, result).await
}

async fn configure(
    State(state): State<AppState>,
    Can(actor, _): Can<ManageModules>,
    Path(id): Path<String>,
    page: Page,
    tenant: Tenant,
    Form(form): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    let result =
        service::configure(&state.modules, tenant.db(), &id, &form, &actor.account.id).await;
    outcome(&state, page, &tenant, result).await
}
