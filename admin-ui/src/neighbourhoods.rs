//! `/admin/quartiers`: the commune's neighbourhoods, shared by every module
//! (`parvis_core::neighbourhoods`): imported from a GeoJSON file, drawn on the map one by
//! one, or, for Paris, Lyon and Marseille, taken from the registry's arrondissements. Each
//! change replaces them in one transaction with the neighbourhood of every place.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use parvis_core::authz::{Can, EditCommune};
use parvis_core::error::{AppError, AppResult};
use parvis_core::neighbourhoods::shape::{MAX_FILE, MAX_NEIGHBOURHOODS, NAME_MAX};
use parvis_core::neighbourhoods::{ImportError, Imported, Neighbourhood, service};
use parvis_core::state::AppState;
use parvis_core::web::render::Template;
use parvis_core::web::{Page, Tenant};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/quartiers", get(list))
        .route(
            "/admin/quartiers/import",
            post(import).layer(parvis_core::media::upload::body_limit(MAX_FILE)),
        )
        .route("/admin/quartiers/dessin", post(draw))
        .route("/admin/quartiers/arrondissements", post(arrondissements))
        .route("/admin/quartiers/effacer", post(clear))
        .route("/admin/quartiers/{id}/supprimer", post(remove))
}

/// `admin/quartiers.html`.
#[derive(Serialize)]
struct Neighbourhoods {
    neighbourhoods: Vec<Row>,
    /// Municipal arrondissements the registry has for the commune (Paris 20, Marseille 16,
    /// Lyon 9; 0 elsewhere).
    arrondissements: i64,
    error: Option<String>,
    done: Option<String>,
    name_max: usize,
    max_neighbourhoods: usize,
    max_file_mb: usize,
}

#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    /// « 1,2 km² ».
    area: String,
}

impl Template for Neighbourhoods {
    const NAME: &'static str = "admin/quartiers.html";
}

async fn render(
    state: &AppState,
    page: Page,
    tenant: &Tenant,
    status: StatusCode,
    done: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let areas = service::areas(tenant.db()).await?;
    let neighbourhoods = service::list(tenant.db())
        .await?
        .into_iter()
        .map(|n: Neighbourhood| Row {
            area: areas
                .iter()
                .find(|(id, _)| *id == n.id)
                .map(|(_, m2)| square_km(*m2))
                .unwrap_or_default(),
            id: n.id,
            name: n.name,
        })
        .collect();
    let view = Neighbourhoods {
        neighbourhoods,
        arrondissements: service::arrondissement_count(&state.db, &tenant.site().insee).await?,
        error,
        done,
        name_max: NAME_MAX,
        max_neighbourhoods: MAX_NEIGHBOURHOODS,
        max_file_mb: MAX_FILE >> 20,
    };
    page.render_form(state, status, &view)
}

/// « 0,84 km² », « 12,3 km² ».
fn square_km(m2: f64) -> String {
    let km2 = m2 / 1e6;
    let text = if km2 < 10.0 {
        format!("{km2:.2}")
    } else {
        format!("{km2:.1}")
    };
    format!("{}\u{a0}km²", text.replace('.', ","))
}

/// The page again with what a change did, or why it was refused (422, nothing changed).
async fn outcome(
    state: &AppState,
    page: Page,
    tenant: &Tenant,
    result: Result<Imported, ImportError>,
) -> AppResult<Response> {
    match result {
        Ok(done) => {
            let has = match done.neighbourhoods {
                0 => "La commune n'a plus de quartiers.".to_string(),
                1 => "La commune a 1 quartier.".to_string(),
                n => format!("La commune a {n} quartiers."),
            };
            // A module may place a document in more than one collection (a report and its
            // open marker): these are places, not documents.
            let message = match done.moved {
                0 => has,
                1 => format!(
                    "{has} 1 lieu placé sur la carte par les services a changé de quartier."
                ),
                n => format!(
                    "{has} {n} lieux placés sur la carte par les services ont changé de quartier."
                ),
            };
            render(state, page, tenant, StatusCode::OK, Some(message), None).await
        }
        Err(ImportError::Db(e)) => Err(AppError::from(e)),
        Err(e) => {
            let status = match e {
                ImportError::Changed => StatusCode::CONFLICT,
                ImportError::TooOften => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            render(state, page, tenant, status, None, Some(e.to_string())).await
        }
    }
}

async fn list(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
) -> AppResult<Response> {
    render(&state, page, &tenant, StatusCode::OK, None, None).await
}

async fn import(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let form = parvis_core::media::upload::read(&mut multipart, &[("fichier", MAX_FILE)]).await;
    let result = match form {
        Ok(form) => match form.files.get("fichier") {
            Some(bytes) => {
                service::import(&state.db, tenant.db(), &tenant.site().insee, bytes.to_vec()).await
            }
            None => {
                return render(
                    &state,
                    page,
                    &tenant,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some("Choisissez un fichier GeoJSON.".into()),
                )
                .await;
            }
        },
        Err(e) => Err(AppError::from(e))?,
    };
    outcome(&state, page, &tenant, result).await
}

#[derive(Deserialize)]
struct DrawForm {
    #[serde(default)]
    nom: String,
    #[serde(default)]
    geometrie: String,
}

async fn draw(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
    Form(form): Form<DrawForm>,
) -> AppResult<Response> {
    if form.geometrie.trim().is_empty() {
        return render(
            &state,
            page,
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("Dessinez le quartier sur la carte : touchez ses coins un à un, puis « Fermer le contour ».".into()),
        )
        .await;
    }
    // The form's bound already holds the geometry's size (an urlencoded form's limit).
    let result = service::add_drawn(
        &state.db,
        tenant.db(),
        &tenant.site().insee,
        &form.nom,
        &form.geometrie,
    )
    .await;
    outcome(&state, page, &tenant, result).await
}

async fn arrondissements(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
) -> AppResult<Response> {
    let result = service::from_arrondissements(
        &state.db,
        tenant.db(),
        &tenant.site().insee,
        &tenant.site().name,
    )
    .await;
    outcome(&state, page, &tenant, result).await
}

async fn clear(
    State(state): State<AppState>,
    _can: Can<EditCommune>,
    page: Page,
    tenant: Tenant,
) -> AppResult<Response> {
    let result = service::clear(tenant.db()).await;
    outcome(&state, page, &tenant, result).await
}

async fn remove(
    State(_state): State<AppState>,
    _can: Can<EditCommune>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> AppResult<Response> {
    if id.len() > 80 {
        return Err(AppError::not_found(
            "Aucun quartier ne porte cet identifiant.",
        ));
    }
    match service::remove(tenant.db(), &id).await {
        Ok(Some(_)) => Ok(Redirect::to("/admin/quartiers").into_response()),
        Ok(None) => Err(AppError::not_found(
            "Aucun quartier ne porte cet identifiant.",
        )),
        Err(ImportError::Db(e)) => Err(AppError::from(e)),
        Err(e @ ImportError::Changed) => Err(AppError::Conflict(e.to_string())),
        Err(ImportError::TooOften) => Err(AppError::TooManyRequests),
        Err(e) => Err(AppError::bad_request(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn areas_read_as_french_numbers() {
        assert_eq!(super::square_km(840_000.0), "0,84\u{a0}km²");
        assert_eq!(super::square_km(12_345_678.0), "12,3\u{a0}km²");
    }
}
