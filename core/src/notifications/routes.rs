//! `/notifications`: the notification centre.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tera::Context;

use crate::error::AppResult;
use crate::notifications::store;
use crate::web::{AppState, Page, SignedIn};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(centre))
        .route("/notifications/lues", post(mark_read))
        .merge(crate::notifications::push::routes::routes())
}

async fn centre(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
) -> AppResult<Response> {
    let mut ctx = Context::new();
    ctx.insert(
        "notifications",
        &store::latest(&state.db, &account.id).await?,
    );
    Ok(page
        .with_forms()
        .render(&state, "notifications/centre.html", ctx)?
        .into_response())
}

async fn mark_read(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
) -> AppResult<Response> {
    store::mark_all_read(&state.db, &account.id).await?;
    Ok(Redirect::to("/notifications").into_response())
}
