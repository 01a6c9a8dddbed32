//! The admin back-office: a commune's admins edit its page and grant roles; platform admins
//! verify the subscription requests mayors file. Server-rendered, no JavaScript required.

mod api_keys;
mod claims;
mod commune;
mod modules;
mod neighbourhoods;
mod platform;
mod roles;
mod usage;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parvis_core::authz::{Permission, perms};
use parvis_core::communes::activity;
use parvis_core::error::{AppError, AppResult};
use parvis_core::state::AppState;
use parvis_core::web::render::Template;
use parvis_core::web::{Page, Site};
use serde::Serialize;

/// The admin templates (`admin/…`), compiled into the host's one template engine.
pub static TEMPLATES: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/templates");

/// `admin/dashboard.html`: a commune's back-office, the parts the viewer may use.
#[derive(Serialize)]
struct Dashboard {
    can_edit: bool,
    can_roles: bool,
    can_moderate: bool,
    can_modules: bool,
    can_billing: bool,
    /// The commune's figures and its followers chart.
    activity: activity::Activity,
}

impl Template for Dashboard {
    const NAME: &'static str = "admin/dashboard.html";
}

/// The admin routes (mounted on every host; each handler checks its permission).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard))
        .merge(commune::routes())
        .merge(claims::routes())
        .merge(roles::routes())
        .merge(modules::routes())
        .merge(usage::routes())
        .merge(api_keys::routes())
        .merge(neighbourhoods::routes())
        .merge(platform::routes())
}

/// `/admin`: the platform's requests on the apex, the commune's back-office on a commune host.
async fn dashboard(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let Some(viewer) = page.viewer.clone() else {
        return Err(AppError::Unauthenticated);
    };
    match &page.site {
        Site::Platform => platform::requests_page(&state, &page, &viewer).await,
        Site::Commune(c) => {
            let domain = c.tenant_id.authz_domain();
            let can =
                async |perm: Permission| state.authz.can(Some(&viewer.id), &domain, perm).await;
            let (can_edit, can_roles, can_moderate, can_modules, can_billing) = (
                can(perms::EDIT_COMMUNE).await,
                can(perms::MANAGE_ROLES).await,
                can(perms::MODERATE).await,
                can(perms::MANAGE_MODULES).await,
                can(perms::MANAGE_BILLING).await,
            );
            if !(can_edit || can_roles || can_moderate || can_modules || can_billing) {
                return Err(AppError::forbidden(
                    "Cet espace est réservé aux administrateurs et modérateurs de la commune.",
                ));
            }
            let mut activity =
                activity::of(&state.db, c.tenant_id, parvis_core::util::now()).await?;
            let modules = state.modules.all();
            activity.name_services(|id| {
                modules
                    .iter()
                    .find(|m| m.id.as_str() == id)
                    .map(|m| m.manifest.name.clone())
            });
            let dashboard = Dashboard {
                can_edit,
                can_roles,
                can_moderate,
                can_modules,
                can_billing,
                activity,
            };
            Ok(page.render(&state, &dashboard)?.into_response())
        }
    }
}
