//! `/notifications`: the notification centre; `/notifications/preferences`: when e-mails come
//! and whether push does; `/desabonnement`: the one-click unsubscribe of every notification
//! e-mail (no sign-in: its signed token is the authentication, and mail clients POST it
//! without cookies, RFC 8058).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::notifications::preferences::{self, Preferences, Rhythm, UnsubscribeKey};
use crate::notifications::store;
use crate::state::AppState;
use crate::types::AccountId;
use crate::web::render::Template;
use crate::web::{Page, SignedIn};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(centre))
        .route("/notifications/lues", post(mark_read))
        .route(
            "/notifications/preferences",
            get(preferences_form).post(save_preferences),
        )
        .route("/desabonnement", get(unsubscribe_form).post(unsubscribe))
        .merge(crate::notifications::push::routes::routes())
}

async fn centre(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
) -> AppResult<Response> {
    let centre = Centre {
        notifications: store::latest(&state.db, &account.id).await?,
    };
    Ok(page.with_forms().render(&state, &centre)?.into_response())
}

/// `notifications/centre.html`: the latest notifications.
#[derive(Serialize)]
struct Centre {
    notifications: Vec<store::Notification>,
}

impl Template for Centre {
    const NAME: &'static str = "notifications/centre.html";
}

async fn mark_read(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
) -> AppResult<Response> {
    store::mark_all_read(&state.db, &account.id).await?;
    Ok(Redirect::to("/notifications").into_response())
}

#[derive(Deserialize, Default)]
struct Saved {
    #[serde(default)]
    enregistre: Option<String>,
}

/// `notifications/preferences.html`: when e-mails come, and whether push does.
#[derive(Serialize)]
struct PreferencesPage<'a> {
    rhythm: &'static str,
    push: bool,
    error: Option<&'a str>,
    /// Just saved (`?enregistre=1`).
    saved: bool,
}

impl Template for PreferencesPage<'_> {
    const NAME: &'static str = "notifications/preferences.html";
}

impl<'a> PreferencesPage<'a> {
    fn new(prefs: &Preferences, error: Option<&'a str>, saved: bool) -> Self {
        PreferencesPage {
            rhythm: prefs.rhythm.as_str(),
            push: prefs.push,
            error,
            saved,
        }
    }
}

async fn preferences_form(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    Query(saved): Query<Saved>,
    page: Page,
) -> AppResult<Response> {
    let prefs = preferences::get(&state.db, &account.id).await?;
    let form = PreferencesPage::new(&prefs, None, saved.enregistre.is_some());
    Ok(page.with_forms().render(&state, &form)?.into_response())
}

#[derive(Deserialize)]
struct PreferencesForm {
    #[serde(default)]
    rythme: String,
    /// Present (`oui`) when the box is ticked.
    #[serde(default)]
    push: Option<String>,
}

async fn save_preferences(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
    Form(form): Form<PreferencesForm>,
) -> AppResult<Response> {
    let push = form.push.is_some();
    let Some(rhythm) = Rhythm::parse(form.rythme.trim()) else {
        let shown = Preferences {
            rhythm: preferences::get(&state.db, &account.id).await?.rhythm,
            push,
        };
        let again = PreferencesPage::new(
            &shown,
            Some("Choisissez l'un des rythmes proposés pour les e-mails."),
            false,
        );
        return page.render_form(&state, StatusCode::UNPROCESSABLE_ENTITY, &again);
    };
    preferences::set(&state.db, &account.id, rhythm, Some(push)).await?;
    Ok(Redirect::to("/notifications/preferences?enregistre=1").into_response())
}

#[derive(Deserialize, Default)]
struct Unsubscribe {
    #[serde(default)]
    compte: String,
    #[serde(default)]
    jeton: String,
}

/// The account a signed unsubscribe link names; a missing, forged or foreign token is a 400.
async fn checked(state: &AppState, link: &Unsubscribe) -> AppResult<AccountId> {
    let mut conn = state.db.platform().acquire().await?;
    let key = UnsubscribeKey::load(&mut *conn).await?;
    if link.compte.is_empty() || link.compte.len() > 64 || !key.verify(&link.compte, &link.jeton) {
        return Err(AppError::bad_request(
            "Ce lien de désabonnement n'est pas valide : il est incomplet ou a été modifié. \
             Utilisez le lien reçu dans l'e-mail, ou réglez vos notifications depuis votre compte.",
        ));
    }
    Ok(AccountId(link.compte.clone()))
}

async fn unsubscribe_form(
    State(state): State<AppState>,
    Query(link): Query<Unsubscribe>,
    page: Page,
) -> AppResult<Response> {
    checked(&state, &link).await?;
    let action = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("compte", &link.compte)
        .append_pair("jeton", &link.jeton)
        .finish();
    let confirm = UnsubscribePage {
        done: false,
        action: Some(format!("/desabonnement?{action}")),
    };
    Ok(page.render(&state, &confirm)?.into_response())
}

/// `notifications/unsubscribe.html`: the confirmation button, or that it is done.
#[derive(Serialize)]
struct UnsubscribePage {
    done: bool,
    /// Where the button posts (not done yet).
    action: Option<String>,
}

impl Template for UnsubscribePage {
    const NAME: &'static str = "notifications/unsubscribe.html";
}

/// The confirmation button, and mail clients' one-click POST (whose body,
/// `List-Unsubscribe=One-Click`, says nothing more than the link).
async fn unsubscribe(
    State(state): State<AppState>,
    Query(link): Query<Unsubscribe>,
    page: Page,
) -> AppResult<Response> {
    let account = checked(&state, &link).await?;
    preferences::set(&state.db, &account, Rhythm::Jamais, None).await?;
    let done = UnsubscribePage {
        done: true,
        action: None,
    };
    Ok(page.render(&state, &done)?.into_response())
}
