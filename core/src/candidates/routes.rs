//! `/candidats/nouveau` (create one's candidate profile, with a photo), `/candidats/<id>` (a
//! profile, its programme and posts) and `/candidats/<id>/retirer` (an admin withdraws it).

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::authz::{Can, Moderate};
use crate::candidates::service::{self, CandidateError, MAX_PHOTO_BYTES, Submitted};
use crate::candidates::store::{Candidate, ELECTIONS};
use crate::error::{AppError, AppResult};
use crate::feed::service::Card;
use crate::media::upload::{self, body_limit};
use crate::state::AppState;
use crate::web::render::Template;
use crate::web::{Page, SignedIn, Tenant};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/candidats/nouveau",
            get(new_form)
                .post(create)
                .layer(body_limit(MAX_PHOTO_BYTES)),
        )
        .route("/candidats/{id}", get(profile))
        .route("/candidats/{id}/retirer", post(withdraw))
}

/// Errors that are not shown inside a form.
fn page_error(e: CandidateError) -> AppError {
    match e {
        CandidateError::NotFound => AppError::not_found(e.to_string()),
        CandidateError::Forbidden(m) => AppError::forbidden(m),
        CandidateError::Conflict(m) => AppError::conflict(m),
        CandidateError::Invalid(m) => AppError::bad_request(m),
        CandidateError::Media(m) => m.into(),
        CandidateError::Db(e) => e.into(),
    }
}

/// The status of a form shown again with its error; `None`: an error page instead.
fn form_status(e: &CandidateError) -> Option<StatusCode> {
    match e {
        CandidateError::Invalid(_) => Some(StatusCode::UNPROCESSABLE_ENTITY),
        CandidateError::Media(m) => Some(m.status()),
        CandidateError::Conflict(_) => Some(StatusCode::CONFLICT),
        _ => None,
    }
}

fn render_new(
    state: &AppState,
    page: Page,
    status: StatusCode,
    form: &upload::Form,
    error: Option<String>,
) -> AppResult<Response> {
    let new = New {
        elections: ELECTIONS
            .iter()
            .map(|&(kind, label)| Election { kind, label })
            .collect(),
        election_kind: form.text("election_kind"),
        election_date: form.text("election_date"),
        list_name: form.text("list_name"),
        programme: form.text("programme"),
        error,
        max_photo: crate::media::human_size(MAX_PHOTO_BYTES),
    };
    page.render_form(state, status, &new)
}

/// `candidates/new.html`: the candidate profile form, empty or as submitted.
#[derive(Serialize)]
struct New<'a> {
    elections: Vec<Election>,
    election_kind: &'a str,
    election_date: &'a str,
    list_name: &'a str,
    programme: &'a str,
    error: Option<String>,
    max_photo: String,
}

impl Template for New<'_> {
    const NAME: &'static str = "candidates/new.html";
}

#[derive(Serialize)]
struct Election {
    kind: &'static str,
    label: &'static str,
}

async fn new_form(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
) -> AppResult<Response> {
    let commune = page.site.commune()?.clone();
    if !service::may_stand(&state, commune.tenant_id, &account.id).await {
        return Err(AppError::forbidden(
            "Seules les personnes ayant le rôle de candidat·e dans la commune, ou un domicile vérifié par la mairie, peuvent créer un profil de candidat·e.",
        ));
    }
    render_new(&state, page, StatusCode::OK, &upload::Form::default(), None)
}

async fn create(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    tenant: Tenant,
    page: Page,
    mut multipart: Multipart,
) -> AppResult<Response> {
    // Counted before the body is read, as avatars and post files are: a flood is refused
    // without any image work.
    if let Err(e) = crate::media::limiter::uploads().allow(&account.id) {
        let status = e.status();
        return render_new(
            &state,
            page,
            status,
            &upload::Form::default(),
            Some(e.to_string()),
        );
    }
    let form = match upload::read(&mut multipart, &[("photo", MAX_PHOTO_BYTES)]).await {
        Ok(form) => form,
        Err(e) => {
            let status = e.status();
            return render_new(
                &state,
                page,
                status,
                &upload::Form::default(),
                Some(e.to_string()),
            );
        }
    };
    let input = Submitted {
        election_kind: form.text("election_kind"),
        election_date: form.text("election_date"),
        list_name: form.text("list_name"),
        programme: form.text("programme"),
        photo: form.files.get("photo").cloned(),
    };
    match service::create(&state, &tenant, &account.id, &account.display_name, input).await {
        Ok(id) => Ok(Redirect::to(&format!("/candidats/{id}")).into_response()),
        Err(e) => match form_status(&e) {
            Some(status) => render_new(&state, page, status, &form, Some(e.to_string())),
            None => Err(page_error(e)),
        },
    }
}

async fn render_profile(
    state: &AppState,
    page: Page,
    id: &str,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let tenant = Tenant::new(page.site.commune()?.clone(), &state.db);
    let candidate = service::published(&tenant, id).await.map_err(page_error)?;
    let can_withdraw = state
        .authz
        .can(
            page.viewer.as_ref().map(|v| &v.id),
            &tenant.tenant_id.authz_domain(),
            crate::authz::perms::MODERATE,
        )
        .await;
    let posts =
        crate::feed::store::of_candidate(&state.db, tenant.id(), &candidate.account_id, 20).await?;
    let posts = crate::feed::service::cards(state, posts).await?;
    let profile = Profile {
        candidate,
        can_withdraw,
        posts,
        error,
    };
    page.render_form(state, status, &profile)
}

/// `candidates/profile.html`: a candidate's profile, programme and posts.
#[derive(Serialize)]
struct Profile {
    candidate: Candidate,
    can_withdraw: bool,
    posts: Vec<Card>,
    error: Option<String>,
}

impl Template for Profile {
    const NAME: &'static str = "candidates/profile.html";
}

async fn profile(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> AppResult<Response> {
    render_profile(&state, page, &id, StatusCode::OK, None).await
}

#[derive(Deserialize)]
struct WithdrawForm {
    #[serde(default)]
    reason: String,
}

async fn withdraw(
    State(state): State<AppState>,
    Can(actor, _): Can<Moderate>,
    tenant: Tenant,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<WithdrawForm>,
) -> AppResult<Response> {
    match service::withdraw(&state, &tenant, &actor.account.id, &id, &form.reason).await {
        Ok(()) => Ok(Redirect::to("/").into_response()),
        Err(e @ CandidateError::Invalid(_)) => {
            render_profile(
                &state,
                page,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => Err(page_error(e)),
    }
}
