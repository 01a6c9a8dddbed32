//! The assembled Parvis application: core host + admin back-office + billing, and the demo
//! set-up. `main.rs` is the CLI; tests use [`build`] to run the same router.

pub mod demo;

use std::sync::Arc;

use axum::Router;
use parvis_billing::Billing;
use parvis_core::config::Config;
use parvis_core::server;
use parvis_core::state::AppState;

/// A built application.
pub struct Built {
    /// The host's state.
    pub state: AppState,
    /// Every route.
    pub app: Router,
    /// Billing (grid and Stripe).
    pub billing: Arc<Billing>,
}

/// Builds the state (connects, migrates, loads policies), plugs billing in, and the full router.
pub async fn build(config: Config) -> anyhow::Result<Built> {
    let billing = Arc::new(Billing::from_config(&config)?);
    let templates = [
        &parvis_admin_ui::TEMPLATES,
        &parvis_billing::routes::TEMPLATES,
    ];
    let state = server::build_state(config, &templates).await?;
    parvis_core::payments::install(&state.payments, billing.clone());
    let app = app(state.clone(), billing.clone());
    Ok(Built {
        state,
        app,
        billing,
    })
}

/// The full router on an existing state.
pub fn app(state: AppState, billing: Arc<Billing>) -> Router {
    let extra = parvis_admin_ui::routes().merge(parvis_billing::routes::routes(billing.clone()));
    server::router(state.clone(), extra).merge(parvis_billing::routes::webhook(state, billing))
}

/// Background work of a running server: the host's, plus the billing sweep.
pub fn spawn_background(state: &AppState, billing: Arc<Billing>) {
    server::spawn_background(state);
    parvis_billing::service::spawn_background(state, billing);
}
