//! `/admin/api`: the keys a commune's admins issue to client applications of its public API
//! (Open311 GeoReport v2, `parvis_core::modules::api`): made with the application's name,
//! shown once, revoked at once. Reading the API needs no key; posting a report does.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use parvis_core::authz::{Can, ManageModules};
use parvis_core::error::{AppError, AppResult};
use parvis_core::modules::api::{self, ApiKey, KeyError, NAME_MAX};
use parvis_core::state::AppState;
use parvis_core::web::render::Template;
use parvis_core::web::{Page, Tenant};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api", get(list).post(create))
        .route("/admin/api/{id}/revoquer", post(revoke))
}

/// `admin/api.html`: the commune's keys, the form to make one, and a new key shown once.
#[derive(Serialize)]
struct Keys {
    keys: Vec<ApiKey>,
    /// The key just made, shown this once.
    created: Option<Created>,
    error: Option<String>,
    name_max: usize,
    /// Posts a key may make in a day.
    daily_posts: i64,
    /// The API's address on this host.
    endpoint: String,
}

#[derive(Serialize)]
struct Created {
    name: String,
    secret: String,
}

impl Template for Keys {
    const NAME: &'static str = "admin/api.html";
}

async fn render(
    state: &AppState,
    page: Page,
    tenant: &Tenant,
    status: StatusCode,
    created: Option<Created>,
    error: Option<String>,
) -> AppResult<Response> {
    let keys = Keys {
        keys: api::keys(tenant).await?,
        created,
        error,
        name_max: NAME_MAX,
        daily_posts: api::DAILY_POSTS,
        endpoint: format!(
            "{}{}",
            state.config.commune_origin(&tenant.slug),
            api::OPEN311_PREFIX
        ),
    };
    page.render_form(state, status, &keys)
}

async fn list(
    State(state): State<AppState>,
    _can: Can<ManageModules>,
    page: Page,
    tenant: Tenant,
) -> AppResult<Response> {
    render(&state, page, &tenant, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    name: String,
}

async fn create(
    State(state): State<AppState>,
    Can(actor, _): Can<ManageModules>,
    page: Page,
    tenant: Tenant,
    Form(form): Form<CreateForm>,
) -> AppResult<Response> {
    match api::create_key(&tenant, &form.name, &actor.account.id).await {
        Ok((key, secret)) => {
            let created = Created {
                name: key.name,
                secret,
            };
            // The key is shown in this answer only: never in a URL, a log or a later page.
            let mut response = render(
                &state,
                page,
                &tenant,
                StatusCode::CREATED,
                Some(created),
                None,
            )
            .await?;
            api::never_cached(&mut response);
            Ok(response)
        }
        Err(e @ (KeyError::Name | KeyError::TooMany)) => {
            let status = match e {
                KeyError::TooMany => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            render(&state, page, &tenant, status, None, Some(e.to_string())).await
        }
        Err(KeyError::Db(e)) => Err(AppError::from(e)),
    }
}

async fn revoke(
    State(_state): State<AppState>,
    _can: Can<ManageModules>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> AppResult<Response> {
    if id.len() > 64 || !api::revoke_key(&tenant, &id).await? {
        return Err(AppError::not_found(
            "Aucune clé valide ne porte cet identifiant.",
        ));
    }
    Ok(Redirect::to("/admin/api").into_response())
}
