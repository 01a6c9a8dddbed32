//! The admin back-office: a commune's admins edit its page and grant roles; platform admins
//! verify the subscription requests mayors file. Server-rendered, no JavaScript required.

mod claims;
mod commune;
mod modules;
mod platform;
mod roles;
mod usage;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parvis_core::authz::perms;
use parvis_core::error::{AppError, AppResult};
use parvis_core::state::AppState;
use parvis_core::web::{Page, Site};
use tera::Context;

/// The admin templates, compiled into the host's template set.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "admin/dashboard.html",
        include_str!("../templates/admin/dashboard.html"),
    ),
    (
        "admin/commune.html",
        include_str!("../templates/admin/commune.html"),
    ),
    (
        "admin/roles.html",
        include_str!("../templates/admin/roles.html"),
    ),
    (
        "admin/platform.html",
        include_str!("../templates/admin/platform.html"),
    ),
    (
        "admin/claims.html",
        include_str!("../templates/admin/claims.html"),
    ),
    (
        "admin/modules.html",
        include_str!("../templates/admin/modules.html"),
    ),
    (
        "admin/usage.html",
        include_str!("../templates/admin/usage.html"),
    ),
];

/// The admin routes (mounted on every host; each handler checks its permission).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard))
        .merge(commune::routes())
        .merge(claims::routes())
        .merge(roles::routes())
        .merge(modules::routes())
        .merge(usage::routes())
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
            let mut ctx = Context::new();
            let mut any = false;
            for (name, perm) in [
                ("can_edit", perms::EDIT_COMMUNE),
                ("can_roles", perms::MANAGE_ROLES),
                ("can_moderate", perms::MODERATE),
                ("can_modules", perms::MANAGE_MODULES),
                ("can_billing", perms::MANAGE_BILLING),
            ] {
                let allowed = state.authz.can(Some(&viewer.id), &domain, perm).await;
                any |= allowed;
                ctx.insert(name, &allowed);
            }
            if !any {
                return Err(AppError::forbidden(
                    "Cet espace est réservé aux administrateurs et modérateurs de la commune.",
                ));
            }
            Ok(page
                .render(&state, "admin/dashboard.html", ctx)?
                .into_response())
        }
    }
}
