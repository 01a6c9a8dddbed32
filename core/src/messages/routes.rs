//! `/messages` (inbox), `/messages/nouveau` (write to an official or the commune),
//! `/messages/<id>` (a thread, its reply form, report and block), `/messages/bloques`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::messages::service::{self, MessageError, Sender};
use crate::messages::store::{self, Recipient};
use crate::moderation::service::Reason;
use crate::state::AppState;
use crate::web::render::{Notice, Template};
use crate::web::{Page, SignedIn, Tenant};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/messages", get(inbox))
        .route("/messages/nouveau", get(new_form).post(start))
        .route("/messages/bloques", get(blocked))
        .route("/messages/bloques/retirer", post(unblock))
        .route("/messages/{id}", get(thread).post(reply))
        .route("/messages/{id}/signaler", post(report))
        .route("/messages/{id}/bloquer", post(block))
}

/// Errors that are not shown inside a form.
fn page_error(e: MessageError) -> AppError {
    match e {
        MessageError::NotFound => AppError::not_found(e.to_string()),
        MessageError::Blocked | MessageError::Closed | MessageError::Forbidden(_) => {
            AppError::forbidden(e.to_string())
        }
        MessageError::Invalid(m) => AppError::bad_request(m),
        MessageError::RateLimited(_) => AppError::TooManyRequests,
        MessageError::Db(e) => e.into(),
    }
}

/// A form shown again: 422 for bad input, 429 over a limit; other errors are pages.
fn form_status(e: &MessageError) -> Option<StatusCode> {
    match e {
        MessageError::Invalid(_) => Some(StatusCode::UNPROCESSABLE_ENTITY),
        MessageError::RateLimited(_) => Some(StatusCode::TOO_MANY_REQUESTS),
        _ => None,
    }
}

async fn inbox(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    tenant: Tenant,
    page: Page,
) -> AppResult<Response> {
    let (threads, unread) = service::inbox(&state, &tenant, &account.id)
        .await
        .map_err(page_error)?;
    Ok(page
        .render(&state, &Inbox { threads, unread })?
        .into_response())
}

/// `messages/inbox.html`: one's threads in this commune.
#[derive(Serialize)]
struct Inbox {
    threads: Vec<service::InboxEntry>,
    unread: i64,
}

impl Template for Inbox {
    const NAME: &'static str = "messages/inbox.html";
}

#[derive(Deserialize, Default)]
struct To {
    /// An official's registry id; absent: the commune.
    #[serde(default)]
    elu: String,
}

/// Who `to` names in this commune.
async fn recipient(state: &AppState, page: &Page, to: &To) -> AppResult<Recipient> {
    let tenant = Tenant::new(page.site.commune()?.clone(), &state.db);
    if to.elu.is_empty() {
        return Ok(Recipient::Commune {
            name: tenant.name.clone(),
        });
    }
    let mut tx = tenant.db().read().await?;
    let profile = crate::officials::store::profile(&mut tx, &to.elu).await?;
    tx.commit().await?;
    let profile = profile.ok_or_else(|| {
        AppError::not_found("Cet élu n'est pas (ou plus) au répertoire de la commune.")
    })?;
    let account = profile.account_id.ok_or_else(|| {
        AppError::not_found(
            "Cet élu n'a pas encore de compte sur Parvis : vous pouvez écrire à la mairie.",
        )
    })?;
    Ok(Recipient::Official {
        official_id: profile.id,
        account,
        name: format!("{} {}", profile.first_name, profile.last_name),
    })
}

fn recipient_label(to: &Recipient) -> String {
    match to {
        Recipient::Official { name, .. } => name.clone(),
        Recipient::Commune { name } => format!("la mairie de {name}"),
    }
}

/// A new thread's form, empty or as submitted.
struct NewForm<'a> {
    to: &'a To,
    recipient: &'a Recipient,
    subject: &'a str,
    body: &'a str,
    error: Option<String>,
}

/// `messages/new.html`.
#[derive(Serialize)]
struct New<'a> {
    /// The official written to (empty: the commune).
    elu: &'a str,
    recipient: String,
    subject: &'a str,
    body: &'a str,
    error: Option<String>,
    max_body: usize,
}

impl Template for New<'_> {
    const NAME: &'static str = "messages/new.html";
}

fn render_new(
    state: &AppState,
    page: Page,
    status: StatusCode,
    form: NewForm<'_>,
) -> AppResult<Response> {
    let new = New {
        elu: &form.to.elu,
        recipient: recipient_label(form.recipient),
        subject: form.subject,
        body: form.body,
        error: form.error,
        max_body: service::MAX_BODY,
    };
    page.render_form(state, status, &new)
}

async fn new_form(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    page: Page,
    Query(to): Query<To>,
) -> AppResult<Response> {
    let recipient = recipient(&state, &page, &to).await?;
    let form = NewForm {
        to: &to,
        recipient: &recipient,
        subject: "",
        body: "",
        error: None,
    };
    render_new(&state, page, StatusCode::OK, form)
}

#[derive(Deserialize)]
struct StartForm {
    #[serde(default)]
    elu: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
}

async fn start(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    tenant: Tenant,
    page: Page,
    Form(form): Form<StartForm>,
) -> AppResult<Response> {
    let to = To { elu: form.elu };
    let recipient = recipient(&state, &page, &to).await?;
    let sender = Sender {
        account: &account.id,
        name: &account.display_name,
    };
    let outcome = service::start(
        &state,
        &tenant,
        &page.origin,
        sender,
        recipient.clone(),
        form.subject.trim(),
        form.body.trim(),
    )
    .await;
    match outcome {
        Ok(id) => Ok(Redirect::to(&format!("/messages/{id}")).into_response()),
        Err(e) => match form_status(&e) {
            Some(status) => render_new(
                &state,
                page,
                status,
                NewForm {
                    to: &to,
                    recipient: &recipient,
                    subject: &form.subject,
                    body: &form.body,
                    error: Some(e.to_string()),
                },
            ),
            None => Err(page_error(e)),
        },
    }
}

async fn render_thread(
    state: &AppState,
    mut page: Page,
    account: &crate::web::session::Account,
    id: &str,
    status: StatusCode,
    error: Option<String>,
    body: &str,
) -> AppResult<Response> {
    let tenant = Tenant::new(page.site.commune()?.clone(), &state.db);
    let opened = service::open(state, &tenant, &account.id, id)
        .await
        .map_err(page_error)?;
    // Opening the thread read it: the header counted before that.
    if let Some(viewer) = page.viewer.as_mut() {
        viewer.unread_messages =
            service::unread_total(&state.authz, &state.db, tenant.id(), &viewer.id)
                .await
                .map_err(AppError::from)?;
    }
    let blocked_by_me = match &opened.blockable {
        Some(other) => store::blocked_by_any(&state.db, std::slice::from_ref(&account.id), other)
            .await
            .map_err(AppError::from)?,
        None => false,
    };
    let with = match opened.side {
        store::Side::Citizen if opened.thread.recipient_kind == "commune" => {
            let kind = tenant.site().name_kind;
            format!(
                "la mairie {}",
                crate::communes::names::of(&opened.thread.recipient_name, kind)
            )
        }
        store::Side::Citizen => opened.thread.recipient_name.clone(),
        store::Side::Recipient => opened.thread.citizen_name.clone(),
    };
    let thread = ThreadPage {
        can_block: opened.blockable.is_some(),
        thread: opened.thread,
        side: opened.side,
        with,
        messages: opened.messages,
        blocked_by_me,
        error,
        body,
        max_body: service::MAX_BODY,
    };
    page.render_form(state, status, &thread)
}

/// `messages/thread.html`: a thread, its reply form, report and block buttons.
#[derive(Serialize)]
struct ThreadPage<'a> {
    thread: store::Thread,
    side: store::Side,
    /// The other side, as the viewer names it.
    with: String,
    messages: Vec<service::MessageView>,
    can_block: bool,
    blocked_by_me: bool,
    error: Option<String>,
    /// The reply as submitted.
    body: &'a str,
    max_body: usize,
}

impl Template for ThreadPage<'_> {
    const NAME: &'static str = "messages/thread.html";
}

async fn thread(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
    Path(id): Path<String>,
) -> AppResult<Response> {
    render_thread(&state, page, &account, &id, StatusCode::OK, None, "").await
}

#[derive(Deserialize)]
struct ReplyForm {
    #[serde(default)]
    body: String,
}

async fn reply(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    tenant: Tenant,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReplyForm>,
) -> AppResult<Response> {
    let sender = Sender {
        account: &account.id,
        name: &account.display_name,
    };
    let outcome =
        service::reply(&state, &tenant, &page.origin, sender, &id, form.body.trim()).await;
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/messages/{id}#dernier")).into_response()),
        Err(e) => match form_status(&e) {
            Some(status) => {
                render_thread(
                    &state,
                    page,
                    &account,
                    &id,
                    status,
                    Some(e.to_string()),
                    &form.body,
                )
                .await
            }
            None => Err(page_error(e)),
        },
    }
}

#[derive(Deserialize)]
struct ReportForm {
    #[serde(default)]
    message_id: String,
    #[serde(default)]
    reason: String,
}

async fn report(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    tenant: Tenant,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReportForm>,
) -> AppResult<Response> {
    let Ok(reason) = Reason::parse(&form.reason) else {
        return render_thread(
            &state,
            page,
            &account,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Indiquez le motif du signalement (3 à 500 caractères).".into()),
            "",
        )
        .await;
    };
    let flagged = service::report(&state, &tenant, &account.id, &id, &form.message_id, &reason)
        .await
        .map_err(page_error)?;
    let notice = Notice {
        title: "Signalement envoyé",
        message: if flagged {
            "Merci : les modérateurs de la commune vont examiner ce message."
        } else {
            "Vous avez déjà signalé ce message."
        },
    };
    Ok(page.render(&state, &notice)?.into_response())
}

#[derive(Deserialize)]
struct BlockForm {
    /// The form's box « Je veux bloquer … », checked: `oui`.
    #[serde(default)]
    confirme: String,
}

/// Blocks the other side of thread `id`, once the person ticked the box that says so: one
/// click on the button alone blocks no one.
async fn block(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    tenant: Tenant,
    Path(id): Path<String>,
    Form(form): Form<BlockForm>,
) -> AppResult<Response> {
    if form.confirme != "oui" {
        return Err(AppError::bad_request(
            "Cochez la case « Je veux bloquer cette personne » pour confirmer le blocage.",
        ));
    }
    service::block(&state, &tenant, &account.id, &id)
        .await
        .map_err(page_error)?;
    Ok(Redirect::to("/messages/bloques").into_response())
}

async fn blocked(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
) -> AppResult<Response> {
    let blocked = BlockedPage {
        blocked: store::blocked(&state.db, &account.id).await?,
    };
    Ok(page.with_forms().render(&state, &blocked)?.into_response())
}

/// `messages/blocked.html`: the accounts one blocked.
#[derive(Serialize)]
struct BlockedPage {
    blocked: Vec<store::Blocked>,
}

impl Template for BlockedPage {
    const NAME: &'static str = "messages/blocked.html";
}

#[derive(Deserialize)]
struct UnblockForm {
    #[serde(default)]
    account_id: String,
}

async fn unblock(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    Form(form): Form<UnblockForm>,
) -> AppResult<Response> {
    store::unblock(&state.db, &account.id, &form.account_id).await?;
    Ok(Redirect::to("/messages/bloques").into_response())
}
