//! The assembled Parvis application: core host + admin back-office, and the demo set-up.
//! `main.rs` is the CLI; tests use [`build`] to run the same router.

pub mod demo;

use axum::Router;
use parvis_core::config::Config;
use parvis_core::server;
use parvis_core::web::AppState;

/// Builds the state (connects, migrates, loads policies) and the full router.
pub async fn build(config: Config) -> anyhow::Result<(AppState, Router)> {
    let state = server::build_state(config, parvis_admin_ui::TEMPLATES).await?;
    let app = app(state.clone());
    Ok((state, app))
}

/// The full router on an existing state.
pub fn app(state: AppState) -> Router {
    server::router(state, parvis_admin_ui::routes())
}
