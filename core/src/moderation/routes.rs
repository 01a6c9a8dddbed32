//! `/publications/<id>/signaler` (anyone signed in) and `/admin/moderation` (moderators).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::authz::{Can, Moderate, Report};
use crate::error::{AppError, AppResult};
use crate::moderation::service::{self, DecisionError, Reason, Target};
use crate::state::AppState;
use crate::web::render::{Notice, Template};
use crate::web::{Page, Tenant};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/publications/{id}/signaler", post(flag))
        .route("/admin/moderation", get(queue))
        .route("/admin/moderation/{id}/masquer", post(hide))
        .route("/admin/moderation/{id}/retablir", post(restore))
        .route(
            "/admin/moderation/messages/{id}/masquer",
            post(hide_message),
        )
        .route(
            "/admin/moderation/messages/{id}/retablir",
            post(restore_message),
        )
        .route(
            "/admin/moderation/commentaires/{id}/masquer",
            post(hide_comment),
        )
        .route(
            "/admin/moderation/commentaires/{id}/retablir",
            post(restore_comment),
        )
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

fn reason(form: &ReasonForm) -> AppResult<Reason> {
    Reason::parse(&form.reason).map_err(|e| AppError::bad_request(e.to_string()))
}

async fn flag(
    State(state): State<AppState>,
    Can(actor, _): Can<Report>,
    tenant: Tenant,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> AppResult<Response> {
    let reason = reason(&form)?;
    let flagged = service::flag_post(&tenant, &id, &actor.account.id, &reason).await?;
    let notice = Notice {
        title: "Signalement envoyé",
        message: if flagged {
            "Merci : les modérateurs de la commune vont examiner cette publication."
        } else {
            "Vous avez déjà signalé cette publication, ou elle n'est plus visible."
        },
    };
    Ok(page.render(&state, &notice)?.into_response())
}

/// `moderation/queue.html`: what was flagged, and what moderators did.
#[derive(Serialize)]
struct Queue {
    queue: Vec<service::Flagged>,
    messages: Vec<service::FlaggedMessage>,
    comments: Vec<service::FlaggedComment>,
    log: Vec<service::AuditEntry>,
    error: Option<String>,
}

impl Template for Queue {
    const NAME: &'static str = "moderation/queue.html";
}

async fn render(
    state: &AppState,
    page: Page,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let tenant = Tenant::new(page.site.commune()?.clone(), &state.db);
    let queues = service::queues(&tenant).await?;
    let queue = Queue {
        queue: queues.posts,
        messages: queues.messages,
        comments: queues.comments,
        log: queues.log,
        error,
    };
    page.render_form(state, status, &queue)
}

async fn queue(
    State(state): State<AppState>,
    _can: Can<Moderate>,
    page: Page,
) -> AppResult<Response> {
    render(&state, page, StatusCode::OK, None).await
}

async fn decide(
    state: AppState,
    actor: crate::authz::Actor,
    page: Page,
    (target, id): (Target, String),
    form: ReasonForm,
    hide: bool,
) -> AppResult<Response> {
    let reason = match reason(&form) {
        Ok(r) => r,
        Err(e) => return render(&state, page, StatusCode::BAD_REQUEST, Some(e.to_string())).await,
    };
    let tenant = Tenant::new(page.site.commune()?.clone(), &state.db);
    match service::decide(&tenant, &actor.account.id, (target, &id), hide, &reason).await {
        Ok(()) => {}
        Err(e @ DecisionError::NotFound(_)) => return Err(AppError::not_found(e.to_string())),
        Err(DecisionError::Db(e)) => return Err(e.into()),
    }
    state.home_cache.invalidate(tenant.id());
    Ok(Redirect::to("/admin/moderation").into_response())
}

async fn hide(
    State(state): State<AppState>,
    Can(actor, _): Can<Moderate>,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> AppResult<Response> {
    decide(state, actor, page, (Target::Post, id), form, true).await
}

async fn restore(
    State(state): State<AppState>,
    Can(actor, _): Can<Moderate>,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> AppResult<Response> {
    decide(state, actor, page, (Target::Post, id), form, false).await
}

async fn hide_message(
    State(state): State<AppState>,
    Can(actor, _): Can<Moderate>,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> AppResult<Response> {
    decide(state, actor, page, (Target::Message, id), form, true).await
}

async fn restore_message(
    State(state): State<AppState>,
    Can(actor, _): Can<Moderate>,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> AppResult<Response> {
    decide(state, actor, page, (Target::Message, id), form, false).await
}

async fn hide_comment(
    State(state): State<AppState>,
    Can(actor, _): Can<Moderate>,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> AppResult<Response> {
    decide(state, actor, page, (Target::Comment, id), form, true).await
}

async fn restore_comment(
    State(state): State<AppState>,
    Can(actor, _): Can<Moderate>,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> AppResult<Response> {
    decide(state, actor, page, (Target::Comment, id), form, false).await
}
