//! `/publications/<id>` (a post, its comments, reactions and evaluation) and its forms:
//! `…/commentaires`, `…/commentaires/<c>/supprimer`, `…/commentaires/<c>/signaler`,
//! `…/reactions`, `…/evaluation`. Every form works without JavaScript.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::authz::{Can, Comment, Report, perms};
use crate::error::{AppError, AppResult};
use crate::feed::attachments;
use crate::feed::engagement::service::{self, EngageError, Participant};
use crate::feed::engagement::store;
use crate::feed::service::with_author_links;
use crate::feed::store as posts;
use crate::moderation::service::Reason;
use crate::state::AppState;
use crate::web::render::{Notice, Template};
use crate::web::{Page, Tenant};

/// Comments per page.
const COMMENTS_PAGE: i64 = 50;

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/publications/{id}", get(show))
        .route("/publications/{id}/commentaires", post(add_comment))
        .route(
            "/publications/{id}/commentaires/{comment}/supprimer",
            post(delete_comment),
        )
        .route(
            "/publications/{id}/commentaires/{comment}/signaler",
            post(flag_comment),
        )
        .route("/publications/{id}/reactions", post(react))
        .route("/publications/{id}/evaluation", post(evaluate))
}

/// Which form of the page an error belongs to.
#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum Section {
    Commentaires,
    Reactions,
    Evaluation,
}

/// The page shown again after a refused form: the error next to its form, the text kept.
#[derive(Serialize)]
struct Retry<'a> {
    #[serde(rename = "error_at")]
    section: Section,
    error: String,
    body: &'a str,
}

/// `feed/post_page.html`: a post, its reactions, evaluation and comments.
#[derive(Serialize)]
struct PostPage<'a> {
    post: Option<posts::Post>,
    /// The card is the page's own (`feed/post.html` leaves out its counts).
    single: bool,
    /// Why moderators hid it (moderators still see it).
    hidden_reason: Option<String>,
    summary: store::Summary,
    comments: Vec<CommentView>,
    /// The last comment's id when there are more.
    next: Option<String>,
    /// Not the first page of comments.
    paged: bool,
    evaluable: bool,
    can_rate: bool,
    my_rating: Option<i64>,
    notes: [i64; 5],
    max_comment: usize,
    #[serde(flatten)]
    retry: Option<Retry<'a>>,
}

impl Template for PostPage<'_> {
    const NAME: &'static str = "feed/post_page.html";
}

/// Errors shown as a page of their own; bad input and limits are shown in the form instead.
fn page_error(e: EngageError) -> AppError {
    match e {
        EngageError::NotFound => AppError::not_found(e.to_string()),
        EngageError::Forbidden(_) | EngageError::Unverified => AppError::forbidden(e.to_string()),
        EngageError::Invalid(m) => AppError::bad_request(m),
        EngageError::RateLimited(_) => AppError::TooManyRequests,
        EngageError::Db(e) => e.into(),
    }
}

/// A comment with what the viewer may do with it.
#[derive(Serialize)]
struct CommentView {
    #[serde(flatten)]
    comment: store::Comment,
    /// Written by the viewer (who may delete it).
    mine: bool,
    /// Written by the post's author.
    by_author: bool,
}

#[derive(Deserialize)]
struct CommentsQuery {
    apres: Option<String>,
}

async fn render(
    state: &AppState,
    page: Page,
    id: &str,
    after: Option<&str>,
    status: StatusCode,
    retry: Option<Retry<'_>>,
) -> AppResult<Response> {
    let tenant = Tenant::new(page.site.commune()?.clone(), &state.db);
    let viewer = page.viewer.clone();
    let moderator = (state.authz)
        .can(
            viewer.as_ref().map(|v| &v.id),
            &tenant.id().authz_domain(),
            perms::MODERATE,
        )
        .await;
    let mut tx = tenant.db().read().await?;
    let mut one = match posts::one(&mut tx, id).await? {
        Some(one) if one.hidden.is_none() || moderator => one,
        _ => return Err(page_error(EngageError::NotFound)),
    };
    one.post.attachments = attachments::of_posts_in(&mut tx, &[id])
        .await?
        .remove(id)
        .unwrap_or_default();
    let mut comments = store::comments(&mut tx, id, after, COMMENTS_PAGE + 1).await?;
    let mut summary = store::summaries_in(&mut tx, &[id])
        .await?
        .remove(id)
        .unwrap_or_default();
    let mut my_rating = None;
    if let Some(v) = &viewer {
        let (reactions, rating) = store::given_by(&mut tx, id, &v.id).await?;
        for r in &mut summary.reactions {
            r.mine = reactions.iter().any(|k| k == r.key);
        }
        my_rating = rating;
    }
    tx.commit().await?;
    let more = comments.len() as i64 > COMMENTS_PAGE;
    comments.truncate(COMMENTS_PAGE as usize);
    let next = more
        .then(|| comments.last().map(|c| c.id.clone()))
        .flatten();
    let comments: Vec<CommentView> = comments
        .into_iter()
        .map(|c| CommentView {
            mine: viewer.as_ref().is_some_and(|v| v.id == c.author),
            by_author: c.author == one.author_account,
            comment: c,
        })
        .collect();
    let is_author = viewer.as_ref().is_some_and(|v| v.id == one.author_account);
    let evaluable = one.post.kind.evaluable();
    let post = with_author_links(&state.config, vec![one.post])
        .into_iter()
        .next();
    let post_page = PostPage {
        post,
        single: true,
        hidden_reason: one.hidden,
        summary,
        comments,
        next,
        paged: after.is_some(),
        evaluable,
        can_rate: evaluable && !is_author,
        my_rating,
        notes: [1, 2, 3, 4, 5],
        max_comment: service::MAX_COMMENT,
        retry,
    };
    page.render_form(state, status, &post_page)
}

async fn show(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<CommentsQuery>,
) -> AppResult<Response> {
    let after = q.apres.as_deref().filter(|a| !a.is_empty());
    render(&state, page, &id, after, StatusCode::OK, None).await
}

/// The outcome of a form: back to the post's page, or the page again with the error in its
/// form (422 for bad input, 429 over a limit), or an error page.
async fn respond(
    state: &AppState,
    page: Page,
    id: &str,
    outcome: Result<String, EngageError>,
    section: Section,
    body: &str,
) -> AppResult<Response> {
    let e = match outcome {
        Ok(to) => return Ok(Redirect::to(&format!("/publications/{id}{to}")).into_response()),
        Err(e) => e,
    };
    let status = if matches!(e, EngageError::Invalid(_)) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if matches!(e, EngageError::RateLimited(_)) {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        return Err(page_error(e));
    };
    let retry = Retry {
        section,
        error: e.to_string(),
        body,
    };
    render(state, page, id, None, status, Some(retry)).await
}

#[derive(Deserialize)]
struct CommentForm {
    #[serde(default)]
    body: String,
}

async fn add_comment(
    State(state): State<AppState>,
    Can(actor, _): Can<Comment>,
    tenant: Tenant,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<CommentForm>,
) -> AppResult<Response> {
    let who = Participant {
        account: &actor.account.id,
        name: &actor.account.display_name,
    };
    let outcome = service::comment(&state, &tenant, &page.origin, who, &id, &form.body)
        .await
        .map(|c| format!("#c-{c}"));
    respond(
        &state,
        page,
        &id,
        outcome,
        Section::Commentaires,
        &form.body,
    )
    .await
}

async fn delete_comment(
    State(state): State<AppState>,
    Can(actor, _): Can<Comment>,
    tenant: Tenant,
    Path((id, comment)): Path<(String, String)>,
) -> AppResult<Response> {
    service::delete_comment(&state, &tenant, &actor.account.id, &id, &comment)
        .await
        .map_err(page_error)?;
    Ok(Redirect::to(&format!("/publications/{id}#commentaires")).into_response())
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

async fn flag_comment(
    State(state): State<AppState>,
    Can(actor, _): Can<Report>,
    tenant: Tenant,
    page: Page,
    Path((id, comment)): Path<(String, String)>,
    Form(form): Form<ReasonForm>,
) -> AppResult<Response> {
    let Ok(reason) = Reason::parse(&form.reason) else {
        let retry = Retry {
            section: Section::Commentaires,
            error: "Indiquez le motif du signalement (3 à 500 caractères).".into(),
            body: "",
        };
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(&state, page, &id, None, status, Some(retry)).await;
    };
    let flagged = service::flag_comment(&tenant, &actor.account.id, &id, &comment, &reason)
        .await
        .map_err(page_error)?;
    let notice = Notice {
        title: "Signalement envoyé",
        message: if flagged {
            "Merci : les modérateurs de la commune vont examiner ce commentaire."
        } else {
            "Vous avez déjà signalé ce commentaire."
        },
    };
    Ok(page.render(&state, &notice)?.into_response())
}

#[derive(Deserialize)]
struct ReactionForm {
    #[serde(default)]
    reaction: String,
    /// `1` to give the reaction, `0` to take it back: a double submit changes nothing.
    #[serde(default)]
    etat: String,
}

async fn react(
    State(state): State<AppState>,
    Can(actor, _): Can<Comment>,
    tenant: Tenant,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReactionForm>,
) -> AppResult<Response> {
    let outcome = match form.etat.as_str() {
        "1" | "0" => service::react(
            &state,
            &tenant,
            &actor.account.id,
            &id,
            &form.reaction,
            form.etat == "1",
        )
        .await
        .map(|()| "#reactions".to_string()),
        _ => Err(EngageError::Invalid("Cette réaction n'existe pas.")),
    };
    respond(&state, page, &id, outcome, Section::Reactions, "").await
}

#[derive(Deserialize)]
struct EvaluationForm {
    #[serde(default)]
    note: String,
}

async fn evaluate(
    State(state): State<AppState>,
    Can(actor, _): Can<Comment>,
    tenant: Tenant,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<EvaluationForm>,
) -> AppResult<Response> {
    let outcome = service::evaluate(&state, &tenant, &actor.account.id, &id, &form.note)
        .await
        .map(|()| "#evaluation".to_string());
    respond(&state, page, &id, outcome, Section::Evaluation, "").await
}
