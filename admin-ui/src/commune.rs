//! `/admin/commune`: presentation, logo, municipal team and useful links.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use parvis_core::authz::{Can, EditCommune};
use parvis_core::communes::{service, store};
use parvis_core::error::{AppError, AppResult};
use parvis_core::state::AppState;
use parvis_core::web::Page;
use parvis_core::web::render::Template;
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/commune", get(edit_page))
        .route("/admin/commune/presentation", post(save_presentation))
        .route("/admin/commune/logo", post(upload_logo))
        .route("/admin/commune/liens", post(add_link))
        .route("/admin/commune/liens/{id}/supprimer", post(remove_link))
        .route("/admin/commune/equipe", post(add_member))
        .route("/admin/commune/equipe/{id}/supprimer", post(remove_member))
}

async fn render(
    state: &AppState,
    page: Page,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let commune = page.site.commune()?.clone();
    let content = service::home_content(&state.db.tenant(commune.tenant_id)).await?;
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
) -> AppResult<Response> {
    render(&state, page, StatusCode::OK, None).await
}

/// Runs an edit in the tenant's transaction, then returns to the form (or shows its error).
async fn apply<F>(state: &AppState, page: Page, edit: F) -> AppResult<Response>
where
    F: AsyncFnOnce(&mut parvis_core::db::TenantTx) -> AppResult<()>,
{
    let commune = page.site.commune()?.clone();
    let mut tx = state.db.tenant(commune.tenant_id).begin_write().await?;
    match edit(&mut tx).await {
        Ok(()) => {
            tx.commit().await?;
            state.home_cache.invalidate(commune.tenant_id);
            Ok(Redirect::to("/admin/commune").into_response())
        }
        Err(e @ (AppError::BadRequest(_) | AppError::TooLarge(_) | AppError::NotFound(_))) => {
            drop(tx);
            render(state, page, e.status(), Some(e.to_string())).await
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
    Form(form): Form<PresentationForm>,
) -> AppResult<Response> {
    apply(&state, page, async |tx| {
        let text = service::check_presentation(&form.presentation)?;
        store::set_presentation(tx, &text).await?;
        Ok(())
    })
    .await
}

async fn upload_logo(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
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
    apply(&state, page, async |tx| {
        let bytes = bytes
            .filter(|b| !b.is_empty())
            .ok_or_else(|| AppError::bad_request("Choisissez une image."))?;
        let png = service::clean_logo(&bytes)?;
        store::set_logo(tx, png).await?;
        Ok(())
    })
    .await
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
    Form(form): Form<LinkForm>,
) -> AppResult<Response> {
    apply(&state, page, async |tx| {
        let (label, url) = service::check_link(&form.label, &form.url)?;
        store::add_link(tx, &label, &url).await?;
        Ok(())
    })
    .await
}

async fn remove_link(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    Path(id): Path<String>,
) -> AppResult<Response> {
    apply(&state, page, async |tx| {
        if store::remove_link(tx, &id).await? {
            Ok(())
        } else {
            Err(AppError::not_found("Ce lien n'existe pas (ou plus)."))
        }
    })
    .await
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
    Form(form): Form<MemberForm>,
) -> AppResult<Response> {
    apply(&state, page, async |tx| {
        let (name, role) = service::check_member(&form.name, &form.role_label)?;
        store::add_member(tx, &name, &role).await?;
        Ok(())
    })
    .await
}

async fn remove_member(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    Path(id): Path<String>,
) -> AppResult<Response> {
    apply(&state, page, async |tx| {
        if store::remove_member(tx, &id).await? {
            Ok(())
        } else {
            Err(AppError::not_found(
                "Cette personne n'est pas (ou plus) dans l'équipe.",
            ))
        }
    })
    .await
}
