//! Account pages: /inscription, /verification, /connexion, /deconnexion,
//! /mot-de-passe-oublie, /reinitialiser. Same paths on every host.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::accounts::service::{AccountError, Accounts, Signup};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::render::{Notice, Template};
use crate::web::session::{self, CookieScope};
use crate::web::{Page, Site};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/inscription", get(signup_form).post(signup))
        .route("/verification", get(verify_form).post(verify))
        .route("/connexion", get(login_form).post(login))
        .route("/deconnexion", post(logout))
        .route("/mot-de-passe-oublie", get(forgot_form).post(forgot))
        .route("/reinitialiser", get(reset_form).post(reset))
}

fn accounts(state: &AppState) -> Accounts<'_> {
    Accounts {
        db: &state.db,
        jobs: &state.jobs,
        templates: &state.templates,
    }
}

/// The client's network, as every per-address limit keys on it ([`crate::util::client_network`]:
/// an IPv6 address by its /64), from `X-Forwarded-For` only when `PARVIS_TRUST_PROXY` is set.
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.trust_proxy {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|ip| ip.trim().parse().ok())
                .map(crate::util::client_network);
            if forwarded.is_some() {
                return Ok(ClientIp(forwarded));
            }
        }
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| crate::util::client_network(c.0.ip())),
        ))
    }
}

/// Maps account errors to a re-rendered form (400), `form` filled with the error's message,
/// or an error page.
fn form_error<T: Template>(
    page: &Page,
    state: &AppState,
    err: AccountError,
    form: impl FnOnce(String) -> T,
) -> AppResult<Response> {
    let status = match &err {
        AccountError::Db(_) | AccountError::Other(_) => {
            return Err(AppError::Internal(anyhow::anyhow!(err)));
        }
        AccountError::BadCredentials => StatusCode::UNAUTHORIZED,
        AccountError::Unverified => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    page.clone()
        .render_form(state, status, &form(err.to_string()))
}

/// `auth/signup.html`: the sign-up form, empty or as submitted.
#[derive(Serialize, Default)]
struct SignupPage<'a> {
    display_name: &'a str,
    email: &'a str,
    error: Option<String>,
}

impl Template for SignupPage<'_> {
    const NAME: &'static str = "auth/signup.html";
}

/// `auth/verify.html`: the address a verification link confirms, and its button.
#[derive(Serialize)]
struct VerifyPage<'a> {
    email: &'a str,
    token: &'a str,
}

impl Template for VerifyPage<'_> {
    const NAME: &'static str = "auth/verify.html";
}

/// `auth/login.html`.
#[derive(Serialize)]
struct LoginPage<'a> {
    email: &'a str,
    /// Where to go once signed in (a same-site path).
    next: &'a str,
    error: Option<String>,
    /// « S'identifier avec FranceConnect » is offered.
    franceconnect: bool,
}

impl Template for LoginPage<'_> {
    const NAME: &'static str = "auth/login.html";
}

/// `auth/forgot.html`: asks for a reset link.
#[derive(Serialize, Default)]
struct ForgotPage<'a> {
    email: &'a str,
    error: Option<String>,
}

impl Template for ForgotPage<'_> {
    const NAME: &'static str = "auth/forgot.html";
}

/// `auth/reset.html`: a new password, from a reset link.
#[derive(Serialize)]
struct ResetPage<'a> {
    token: &'a str,
    error: Option<String>,
}

impl Template for ResetPage<'_> {
    const NAME: &'static str = "auth/reset.html";
}

fn site_name(site: &Site) -> String {
    match site {
        Site::Platform => "Parvis".into(),
        Site::Commune(c) => c.name.clone(),
    }
}

/// Only same-site paths are followed after login, normalised as the browser will read them.
fn safe_next(next: Option<&str>) -> String {
    next.and_then(crate::util::same_origin_path)
        .unwrap_or_else(|| "/".to_string())
}

fn redirect_with_cookie(to: &str, cookie: axum::http::HeaderValue) -> Response {
    redirect_with_cookies(to, vec![cookie])
}

fn redirect_with_cookies(to: &str, cookies: Vec<axum::http::HeaderValue>) -> Response {
    let mut response = Redirect::to(to).into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn notice(
    page: &Page,
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
) -> AppResult<Response> {
    Ok((status, page.render(state, &Notice { title, message })?).into_response())
}

async fn signup_form(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    if page.viewer.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    Ok(page
        .with_forms()
        .render(&state, &SignupPage::default())?
        .into_response())
}

#[derive(Deserialize)]
struct SignupForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn signup(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    Form(form): Form<SignupForm>,
) -> AppResult<Response> {
    // Sign-ups send e-mail: the same limits as logins keep the form from being a mail cannon.
    if !state.login_limiter.allow(&form.email, ip) {
        return Err(AppError::TooManyRequests);
    }
    let input = Signup {
        display_name: &form.display_name,
        email: &form.email,
        password: &form.password,
    };
    match accounts(&state)
        .signup(input, &page.origin, &site_name(&page.site))
        .await
    {
        Ok(()) => notice(
            &page,
            &state,
            StatusCode::OK,
            "Vérifiez votre boîte mail",
            &format!(
                "Nous avons envoyé un lien de confirmation à {}. Ouvrez-le pour activer votre compte \
                 (pensez à regarder dans les indésirables).",
                form.email.trim()
            ),
        ),
        Err(err) => form_error(&page, &state, err, |error| SignupPage {
            display_name: &form.display_name,
            email: &form.email,
            error: Some(error),
        }),
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The link of the verification e-mail shows the address and a button: a GET never signs
/// anyone in, so a link (or an image) planted by someone else cannot sign a visitor into the
/// sender's account (login CSRF); the POST carries this visitor's CSRF token.
async fn verify_form(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    match accounts(&state).verification_email(&q.token).await {
        Ok(email) => {
            let verify = VerifyPage {
                email: &email,
                token: &q.token,
            };
            Ok(page.with_forms().render(&state, &verify)?.into_response())
        }
        Err(e) => verification_failed(&page, &state, e),
    }
}

/// A verification link that is unknown, used or expired gets a French page (400); anything else
/// is the server's fault.
fn verification_failed(page: &Page, state: &AppState, err: AccountError) -> AppResult<Response> {
    match err {
        AccountError::BadToken => notice(
            page,
            state,
            StatusCode::BAD_REQUEST,
            "Lien invalide",
            &AccountError::BadToken.to_string(),
        ),
        e => Err(AppError::Internal(anyhow::anyhow!(e))),
    }
}

async fn verify(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(form): Form<TokenQuery>,
) -> AppResult<Response> {
    match accounts(&state).verify(&form.token).await {
        Ok(id) => {
            let scope = CookieScope::for_request(&state.config, &headers);
            let cookie = session::open(&state.db, &id, &scope).await?;
            Ok(redirect_with_cookie("/?bienvenue=1", cookie))
        }
        Err(e) => verification_failed(&page, &state, e),
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    let login = LoginPage {
        email: "",
        next: &safe_next(q.next.as_deref()),
        error: None,
        franceconnect: state.franceconnect.enabled(),
    };
    Ok(page.with_forms().render(&state, &login)?.into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let next = safe_next(form.next.as_deref());
    if !state.login_limiter.allow(&form.email, ip) {
        metrics::counter!("parvis_login_throttled_total").increment(1);
        let mut response = AppError::TooManyRequests.into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("60"),
        );
        return Ok(response);
    }
    match accounts(&state)
        .login(&form.email, &form.password, &page.origin)
        .await
    {
        Ok(id) => {
            if let Some(second_step) = super::totp::challenge(&state, &id, &next, None).await? {
                return Ok(second_step);
            }
            let scope = CookieScope::for_request(&state.config, &headers);
            let cookie = session::open(&state.db, &id, &scope).await?;
            Ok(redirect_with_cookie(&next, cookie))
        }
        Err(err) => form_error(&page, &state, err, |error| LoginPage {
            email: &form.email,
            next: &next,
            error: Some(error),
            franceconnect: state.franceconnect.enabled(),
        }),
    }
}

/// Signs out on every host: this session and those handed over from the same sign-in; and,
/// for a sign-in through FranceConnect, FranceConnect's session too.
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    let scope = CookieScope::for_request(&state.config, &headers);
    let closed = session::close(&state.db, &headers, &scope).await?;
    let to = match &closed.id_token {
        Some(id_token) => super::franceconnect::logout_url(&state, id_token).await,
        None => None,
    };
    Ok(redirect_with_cookies(
        to.as_deref().unwrap_or("/"),
        closed.cookies,
    ))
}

async fn forgot_form(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    Ok(page
        .with_forms()
        .render(&state, &ForgotPage::default())?
        .into_response())
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

async fn forgot(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    Form(form): Form<ForgotForm>,
) -> AppResult<Response> {
    if !state.login_limiter.allow(&form.email, ip) {
        return Err(AppError::TooManyRequests);
    }
    match accounts(&state)
        .request_reset(&form.email, &page.origin)
        .await
    {
        Ok(()) => notice(
            &page,
            &state,
            StatusCode::OK,
            "Vérifiez votre boîte mail",
            "Si un compte existe pour cette adresse, vous allez recevoir un lien pour choisir un \
             nouveau mot de passe. Il est valable une heure.",
        ),
        Err(err) => form_error(&page, &state, err, |error| ForgotPage {
            email: &form.email,
            error: Some(error),
        }),
    }
}

async fn reset_form(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    if !crate::accounts::store::token_is_valid(&state.db, &q.token, "reset").await? {
        return notice(
            &page,
            &state,
            StatusCode::BAD_REQUEST,
            "Lien invalide",
            &AccountError::BadToken.to_string(),
        );
    }
    let reset = ResetPage {
        token: &q.token,
        error: None,
    };
    Ok(page.with_forms().render(&state, &reset)?.into_response())
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

async fn reset(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    match accounts(&state).reset(&form.token, &form.password).await {
        Ok(id) => {
            // The e-mail proves the address, not the second factor: still asked.
            if let Some(second_step) = super::totp::challenge(&state, &id, "/", None).await? {
                return Ok(second_step);
            }
            let scope = CookieScope::for_request(&state.config, &headers);
            let cookie = session::open(&state.db, &id, &scope).await?;
            Ok(redirect_with_cookie("/", cookie))
        }
        Err(err) => form_error(&page, &state, err, |error| ResetPage {
            token: &form.token,
            error: Some(error),
        }),
    }
}
