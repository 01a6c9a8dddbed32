//! Platform pages: landing and commune search, `/inscrire-ma-commune`, `/a-propos`, and the
//! JSON search API.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;
use tera::Context;

use crate::authz::{Can, RequestSubscription};
use crate::error::{AppError, AppResult};
use crate::platform::requests::{self, NewRequest, REQUESTER_ROLES};
use crate::state::AppState;
use crate::web::{Page, Site};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/communes/recherche", get(search_fragment))
        .route("/api/v1/communes", get(search_api))
        .route("/inscrire-ma-commune", get(subscribe_form).post(subscribe))
        .route("/a-propos", get(about))
}

const SEARCH_LIMIT: usize = 20;

fn results_context(state: &AppState, page: &Page, q: &str) -> Context {
    let hits = state.communes.search(q, SEARCH_LIMIT);
    let hits: Vec<_> = hits
        .into_iter()
        .map(|h| {
            let url = h
                .slug
                .as_ref()
                .map(|s| format!("{}/", page.commune_origin(state, s)));
            json!({"hit": h, "url": url})
        })
        .collect();
    let mut ctx = Context::new();
    ctx.insert("q", q);
    ctx.insert("hits", &hits);
    ctx
}

/// The platform landing: commune search (works without JavaScript; enhanced as you type).
pub fn landing(state: &AppState, page: &Page, q: Option<&str>) -> AppResult<Response> {
    let q = q.unwrap_or_default().trim();
    crate::communes::search::check_query(q)?;
    let mut ctx = results_context(state, page, q);
    ctx.insert("communes_count", &state.communes.len());
    Ok(page
        .render(state, "platform/landing.html", ctx)?
        .into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search_fragment(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<SearchQuery>,
) -> AppResult<Response> {
    crate::communes::search::check_query(q.q.trim())?;
    let ctx = results_context(&state, &page, q.q.trim());
    Ok(Html(
        state
            .templates
            .render("platform/search_results.html", &ctx)?,
    )
    .into_response())
}

async fn search_api(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> AppResult<Response> {
    crate::communes::search::check_query(&q.q)?;
    let hits = state.communes.search(&q.q, SEARCH_LIMIT);
    Ok(Json(json!({"communes": hits})).into_response())
}

fn platform_only(page: &Page) -> AppResult<()> {
    match page.site {
        Site::Platform => Ok(()),
        Site::Commune(_) => Err(AppError::not_found(
            "L'inscription d'une commune se fait depuis l'accueil de la plateforme.",
        )),
    }
}

#[derive(Deserialize)]
struct SubscribeQuery {
    insee: Option<String>,
}

async fn subscribe_form(
    State(state): State<AppState>,
    Can(_actor, _): Can<RequestSubscription>,
    page: Page,
    Query(q): Query<SubscribeQuery>,
) -> AppResult<Response> {
    platform_only(&page)?;
    let mut ctx = Context::new();
    ctx.insert("roles", REQUESTER_ROLES);
    ctx.insert("insee", &q.insee.unwrap_or_default());
    Ok(page
        .with_forms()
        .render(&state, "platform/subscribe.html", ctx)?
        .into_response())
}

#[derive(Deserialize)]
struct SubscribeForm {
    #[serde(default)]
    insee: String,
    #[serde(default)]
    requester_name: String,
    #[serde(default)]
    requester_role: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    message: String,
}

async fn subscribe(
    State(state): State<AppState>,
    Can(actor, _): Can<RequestSubscription>,
    page: Page,
    Form(form): Form<SubscribeForm>,
) -> AppResult<Response> {
    platform_only(&page)?;
    let result = match state.subscription_limiter.check(&actor.account.id) {
        Ok(()) => {
            requests::create(
                &state.db,
                &actor.account.id,
                NewRequest {
                    insee: &form.insee,
                    requester_name: &form.requester_name,
                    requester_role: &form.requester_role,
                    phone: &form.phone,
                    message: &form.message,
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    let mut ctx = Context::new();
    match result {
        Ok(_) => {
            ctx.insert("title", "Demande envoyée");
            ctx.insert(
                "message",
                "Merci ! Un administrateur de la plateforme va vérifier votre fonction (nous \
                 pourrons vous rappeler au numéro indiqué). Vous recevrez un e-mail dès que la \
                 commune sera ouverte et que vous en serez administrateur.",
            );
            Ok(page
                .render(&state, "auth/notice.html", ctx)?
                .into_response())
        }
        Err(e @ (AppError::BadRequest(_) | AppError::Conflict(_) | AppError::TooManyRequests)) => {
            let status = e.status();
            let message = match e {
                AppError::TooManyRequests => format!(
                    "Vous avez envoyé {} demandes dans l'heure : réessayez plus tard, ou écrivez-nous.",
                    requests::REQUESTS_PER_HOUR
                ),
                e => e.to_string(),
            };
            ctx.insert("error", &message);
            ctx.insert("roles", REQUESTER_ROLES);
            ctx.insert("insee", &form.insee);
            ctx.insert(
                "form",
                &json!({
                    "requester_name": form.requester_name, "requester_role": form.requester_role,
                    "phone": form.phone, "message": form.message,
                }),
            );
            Ok((
                status,
                page.with_forms()
                    .render(&state, "platform/subscribe.html", ctx)?,
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

async fn about(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    Ok((
        StatusCode::OK,
        page.render(&state, "about.html", Context::new())?,
    )
        .into_response())
}
