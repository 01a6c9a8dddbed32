//! `/mon-compte`: the account page, the data download and the deletion of the account.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::accounts::service::password_matches;
use crate::error::{AppError, AppResult, ErrorPage};
use crate::privacy::service;
use crate::state::AppState;
use crate::types::AccountId;
use crate::web::render::{Notice, Template};
use crate::web::{Page, SignedIn, session};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mon-compte", get(account_page))
        .route("/mon-compte/donnees.json", get(download))
        .route("/mon-compte/supprimer", post(delete))
}

/// `privacy/account.html`: one's data, its export, FranceConnect, and the account's deletion.
#[derive(Serialize)]
struct AccountPage<'a> {
    error: Option<&'a str>,
    /// An account made through FranceConnect may have no password: its deletion is confirmed
    /// by typing its address instead.
    has_password: bool,
    /// FranceConnect is offered on this platform.
    franceconnect: bool,
    /// The identity linked, if any.
    link: Option<crate::accounts::franceconnect::Link>,
}

impl Template for AccountPage<'_> {
    const NAME: &'static str = "privacy/account.html";
}

/// The account page of `account`, with `error` in its deletion section or its FranceConnect one.
pub async fn account_page_with(
    state: &AppState,
    page: Page,
    account: &AccountId,
    status: StatusCode,
    error: Option<&str>,
) -> AppResult<Response> {
    let has_password = crate::accounts::service::has_password(&state.db, account).await?;
    let link = crate::accounts::franceconnect::link_of(&state.db, account).await?;
    page.render_form(
        state,
        status,
        &AccountPage {
            error,
            has_password,
            franceconnect: state.franceconnect.enabled(),
            link,
        },
    )
}

async fn account_page(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
) -> AppResult<Response> {
    account_page_with(&state, page, &account.id, StatusCode::OK, None).await
}

async fn download(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
) -> AppResult<Response> {
    // Each download asks every module of every commune that holds data: a few an hour are
    // plenty for a person, and no account can keep the module host busy with them.
    if !state.modules.export_limit.check(&account.id.0) {
        let message = "Vous avez déjà téléchargé vos données plusieurs fois cette heure-ci. \
                       Réessayez dans une heure."
            .to_string();
        let mut response = (StatusCode::TOO_MANY_REQUESTS, message.clone()).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
        response.extensions_mut().insert(ErrorPage {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "too_many_requests",
            message,
        });
        return Ok(response);
    }
    let data = service::export_with_modules(&state, &account.id).await?;
    let body = serde_json::to_string_pretty(&data).map_err(|e| AppError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"parvis-mes-donnees.json\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    password: String,
    /// Without a password: the account's address, typed again.
    #[serde(default)]
    confirmation: String,
}

async fn delete(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
    headers: HeaderMap,
    Form(form): Form<DeleteForm>,
) -> AppResult<Response> {
    if crate::accounts::service::has_password(&state.db, &account.id).await? {
        if !password_matches(&state.db, &account.id, &form.password)
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?
        {
            return account_page_with(
                &state,
                page,
                &account.id,
                StatusCode::FORBIDDEN,
                Some("Mot de passe incorrect : votre compte n'a pas été supprimé."),
            )
            .await;
        }
    } else if crate::accounts::service::email_identity(&form.confirmation) != account.email {
        return account_page_with(
            &state,
            page,
            &account.id,
            StatusCode::FORBIDDEN,
            Some(
                "L'adresse recopiée n'est pas celle du compte : votre compte n'a pas été supprimé.",
            ),
        )
        .await;
    }
    service::delete(&state.db, &state.authz, &account.id).await?;
    state.jobs.notify();
    let scope = session::CookieScope::for_request(&state.config, &headers);
    let cookies = session::close(&state.db, &headers, &scope).await?.cookies;
    let notice = Notice {
        title: "Compte supprimé",
        message: "Votre compte et vos données personnelles sont supprimés. Merci d'avoir participé à la vie publique de votre commune.",
    };
    let mut anonymous = page;
    anonymous.viewer = None;
    let mut response = anonymous.render(&state, &notice)?.into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
