//! `/admin/commune`: presentation, logo, municipal team and useful links. The edits are the
//! communes service's (`communes::service`): each handler reads its form, calls it, and shows
//! the form again with the reason when an edit is refused.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use parvis_core::authz::{Can, EditCommune};
use parvis_core::communes::service::{self, EditError};
use parvis_core::error::{AppError, AppResult};
use parvis_core::state::AppState;
use parvis_core::web::render::Template;
use parvis_core::web::{Page, Tenant};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/commune", get(edit_page))
        .route("/admin/commune/presentation", post(save_presentation))
        .route("/admin/commune/logo", post(upload_logo))
        .route("/admin/commune/couleur", post(save_accent))
        .route(
            "/admin/commune/couverture",
            post(upload_cover).layer(parvis_core::media::upload::body_limit(
                service::MAX_COVER_BYTES,
            )),
        )
        .route("/admin/commune/couverture/retirer", post(remove_cover))
        .route("/admin/commune/liens", post(add_link))
        .route("/admin/commune/liens/{id}/supprimer", post(remove_link))
        .route("/admin/commune/equipe", post(add_member))
        .route("/admin/commune/equipe/{id}/supprimer", post(remove_member))
}

async fn render(
    state: &AppState,
    page: Page,
    tenant: &Tenant,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let content = service::home_content(tenant.db()).await?;
    page.render_form(state, status, &Edit { content, error })
}

/// `admin/commune.html`: the commune page's editor.
#[derive(Serialize)]
struct Edit {
    content: service::HomeContent,
    error: Option<String>,
}

impl Template for Edit {
    const NAME: &'static str = "admin/commune.html";
}

async fn edit_page(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
) -> AppResult<Response> {
    render(&state, page, &tenant, StatusCode::OK, None).await
}

/// A refused edit as the page shows it.
fn refusal(e: EditError) -> AppError {
    match e {
        EditError::Invalid(message) => AppError::BadRequest(message),
        e @ EditError::LogoTooLarge => AppError::TooLarge(e.to_string()),
        EditError::Media(e) => e.into(),
        EditError::Encode(e) => AppError::Internal(e.into()),
        EditError::Db(e) => e.into(),
    }
}

/// Back to the form after an edit, or the form again with the reason it was refused.
async fn outcome(
    state: &AppState,
    page: Page,
    tenant: &Tenant,
    result: AppResult<()>,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to("/admin/commune").into_response()),
        Err(e @ (AppError::BadRequest(_) | AppError::TooLarge(_) | AppError::NotFound(_))) => {
            render(state, page, tenant, e.status(), Some(e.to_string())).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct PresentationForm {
    #[serde(default)]
    presentation: String,
}

async fn save_presentation(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
    Form(form): Form<PresentationForm>,
) -> AppResult<Response> {
    let result = service::set_presentation(&state.home_cache, &tenant, &form.presentation)
        .await
        .map_err(refusal);
    outcome(&state, page, &tenant, result).await
}

async fn upload_logo(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let mut bytes = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| {
        AppError::bad_request("Le fichier envoyé est illisible ou trop volumineux (2 Mo au plus).")
    })? {
        if field.name() == Some("logo") {
            let data = field
                .bytes()
                .await
                .map_err(|_| AppError::TooLarge("Le logo ne doit pas dépasser 2 Mo.".into()))?;
            bytes = Some(data);
        }
    }
    let result = match bytes.filter(|b| !b.is_empty()) {
        Some(bytes) => service::set_logo(&state.home_cache, &tenant, &bytes)
            .await
            .map_err(refusal),
        None => Err(AppError::bad_request("Choisissez une image.")),
    };
    outcome(&state, page, &tenant, result).await
}

async fn upload_cover(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let form = parvis_core::media::upload::read(
        &mut multipart,
        &[("couverture", service::MAX_COVER_BYTES)],
    )
    .await;
    let result = match form {
        Ok(form) => match form.files.get("couverture") {
            Some(bytes) => service::set_cover(
                &state.home_cache,
                &tenant,
                bytes.clone(),
                form.text("description"),
            )
            .await
            .map_err(refusal),
            None => Err(AppError::bad_request("Choisissez une photo.")),
        },
        Err(e) => Err(e.into()),
    };
    outcome(&state, page, &tenant, result).await
}

async fn remove_cover(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
) -> AppResult<Response> {
    let result = service::remove_cover(&state.home_cache, &tenant)
        .await
        .map_err(refusal);
    outcome(&state, page, &tenant, result).await
}

#[derive(Deserialize)]
struct AccentForm {
    #[serde(default)]
    accent: String,
    /// « Revenir aux couleurs de la plateforme ».
    #[serde(default)]
    reset: Option<String>,
}

async fn save_accent(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
    Form(form): Form<AccentForm>,
) -> AppResult<Response> {
    let text = if form.reset.is_some() {
        ""
    } else {
        &form.accent
    };
    let result = service::set_accent(&state.db, &state.sites, &state.home_cache, &tenant, text)
        .await
        .map_err(refusal);
    outcome(&state, page, &tenant, result).await
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    url: String,
}

async fn add_link(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
    Form(form): Form<LinkForm>,
) -> AppResult<Response> {
    let result = service::add_link(&state.home_cache, &tenant, &form.label, &form.url)
        .await
        .map(drop)
        .map_err(refusal);
    outcome(&state, page, &tenant, result).await
}

async fn remove_link(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    Path(id): Path<String>,
    tenant: Tenant,
) -> AppResult<Response> {
    let result = match service::remove_link(&state.home_cache, &tenant, &id).await? {
        true => Ok(()),
        false => Err(AppError::not_found("Ce lien n'existe pas (ou plus).")),
    };
    outcome(&state, page, &tenant, result).await
}

#[derive(Deserialize)]
struct MemberForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role_label: String,
}

async fn add_member(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
    Form(form): Form<MemberForm>,
) -> AppResult<Response> {
    let result = service::add_member(&state.home_cache, &tenant, &form.name, &form.role_label)
        .await
        .map(drop)
        .map_err(refusal);
    outcome(&state, page, &tenant, result).await
}

async fn remove_member(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    Path(id): Path<String>,
    tenant: Tenant,
) -> AppResult<Response> {
    let result = match service::remove_member(&state.home_cache, &tenant, &id).await? {
        true => Ok(()),
        false => Err(AppError::not_found(
            "Cette personne n'est pas (ou plus) dans l'équipe.",
        )),
    };
    outcome(&state, page, &tenant, result).await
}
