//! FranceConnect (issue 20): « S'identifier avec FranceConnect », the French state's identity
//! federation, an OpenID Connect provider. The platform is one service provider, registered
//! once: the flow starts and ends on the platform's own site (the apex), whichever commune the
//! person came from, and the session it opens covers every host as a password's does
//! ([`super::sso`]).
//!
//! The flow, as FranceConnect's integration rules ask:
//! 1. `/franceconnect/connexion` (any host; a commune's sends the browser on to the apex with
//!    the page to come back to) keeps a random `state` (its hash), a random `nonce` and where
//!    to go on, for ten minutes, bound to this browser by the `parvis_fc` cookie, and sends the
//!    browser to the provider's authorization endpoint (authorization code flow, the scopes of
//!    the claims asked, `acr_values=eidas1`).
//! 2. `/franceconnect/retour` takes the `state` once (`UPDATE … RETURNING`: a replayed state is
//!    refused) and only from the browser that left; exchanges the code at the token endpoint
//!    (the client's secret); checks the ID token's signature against the provider's published
//!    keys, its issuer, audience, expiry and `nonce` ([`openidconnect`]); reads the identity
//!    at the userinfo endpoint (for that subject); then signs the person in, links the identity
//!    to the signed-in account, or makes an account.
//! 3. Signing out of a session opened this way also ends FranceConnect's: the browser is sent
//!    to the provider's `end_session_endpoint` with the ID token as `id_token_hint`, and comes
//!    back to `/franceconnect/sortie`.
//!
//! Nothing is linked by e-mail address: an identity is linked to an existing account only by
//! its owner, signed in, from « Mon compte ». A provider that does not answer, or answers
//! something that does not verify, opens no session; e-mail sign-in works as before.
//!
//! **Verified identities.** The identity (names and birth date, as the civil registry has
//! them) is what lets an official's claim of a registry profile be checked at once
//! ([`names_match`], `officials/routes.rs`). The birth date is shown to no one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreGenderClaim,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse as _, ProviderMetadataWithLogout, RedirectUrl, RequestTokenError,
    Scope, SignatureVerificationError, TokenResponse as _, UserInfoClaims,
};
use serde::{Deserialize, Serialize};

use crate::accounts::routes::ClientIp;
use crate::config::FranceConnect as Settings;
use crate::db::sql;
use crate::error::{AppError, AppResult};
use crate::rate_limit::RateLimit;
use crate::state::AppState;
use crate::types::AccountId;
use crate::util::{body_up_to, now, random_token, search_key, token_hash};
use crate::web::render::{Notice, Page};
use crate::web::session::{self, CookieScope, SignedIn, Viewer, read_cookie};
use crate::web::site::{Site, custom_host, under_base_domain};

/// The provider's name in `identity_links`.
pub const PROVIDER: &str = "franceconnect";
/// Binds a sign-in that left for FranceConnect to the browser that comes back.
pub const BROWSER_COOKIE: &str = "parvis_fc";
/// How long a sign-in may stay at FranceConnect.
pub const LOGIN_TTL_SECS: i64 = 600;
/// The claims asked (FranceConnect names its scopes after them), `openid` aside: only what
/// the platform uses — the names and birth date an official's claim is checked with, the
/// address an account is made with. Not the sex, birthplace, birth country or name of use.
pub const SCOPES: &[&str] = &["given_name", "family_name", "birthdate", "email"];
/// FranceConnect's level of assurance for its identity providers.
pub const ACR: &str = "eidas1";
/// The signatures FranceConnect makes (ES256 recommended, RS256 possible).
const ALGS: [CoreJwsSigningAlgorithm; 2] = [
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
];
/// How long the provider's description and keys are kept before they are read again.
const METADATA_TTL: Duration = Duration::from_secs(600);
/// The longest the platform waits for the provider.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes read of the provider's description, keys and tokens (a few kilobytes each): a
/// provider, or anyone between, sending without end is read no further than this, not for
/// the whole timeout (944 MB in memory, in a test on loopback).
const MAX_ANSWER: usize = 256 * 1024;
/// Most bytes read of an identity (a few hundred).
const MAX_IDENTITY: usize = 64 * 1024;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/franceconnect/connexion", get(start))
        .route("/franceconnect/retour", get(callback))
        .route("/franceconnect/suite", get(onward_handler))
        .route("/franceconnect/sortie", get(after_logout))
        .route("/mon-compte/franceconnect/delier", post(unlink))
}

/// The platform as FranceConnect's client: its settings, the provider's description (read
/// from discovery, kept [`METADATA_TTL`]) and the limit on sign-ins started per address.
pub struct Provider {
    settings: Option<Settings>,
    http: Option<Http>,
    metadata: tokio::sync::Mutex<Option<(Instant, Arc<ProviderMetadataWithLogout>)>>,
    starts: RateLimit<std::net::IpAddr>,
}

impl Provider {
    /// FranceConnect as configured (none: the button is not shown, the routes answer 404).
    pub fn new(settings: Option<Settings>) -> Provider {
        // No redirects followed: the provider's answers are read as they are (openidconnect's
        // advice, against server-side request forgery through a redirect).
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .build()
            .map(Http)
            .map_err(|e| tracing::error!(error = %e, "FranceConnect's HTTP client"))
            .ok();
        Provider {
            settings,
            http,
            metadata: tokio::sync::Mutex::new(None),
            starts: RateLimit::per_minute(20),
        }
    }

    /// Whether sign-in with FranceConnect is offered.
    pub fn enabled(&self) -> bool {
        self.settings.is_some() && self.http.is_some()
    }

    fn parts(&self) -> Result<(&Settings, &Http), Failure> {
        match (&self.settings, &self.http) {
            (Some(s), Some(h)) => Ok((s, h)),
            _ => Err(Failure::NotConfigured),
        }
    }

    /// The provider's description: kept, or read again (`fresh`: read again anyway, when an
    /// ID token's key is not among those kept, as after the provider rotated its keys).
    async fn metadata(&self, fresh: bool) -> Result<Arc<ProviderMetadataWithLogout>, Failure> {
        let (settings, http) = self.parts()?;
        let mut kept = self.metadata.lock().await;
        if let Some((at, m)) = kept.as_ref()
            && !fresh
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|e| {
            tracing::error!(error = %e, "PARVIS_FRANCECONNECT_URL");
            Failure::NotConfigured
        })?;
        let m = ProviderMetadataWithLogout::discover_async(issuer, http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "FranceConnect's discovery failed");
                Failure::Unreachable
            })?;
        let m = Arc::new(m);
        *kept = Some((Instant::now(), m.clone()));
        Ok(m)
    }
}

/// The provider's HTTP client: reqwest's (no redirects, [`HTTP_TIMEOUT`]), reading each
/// answer's body up to [`MAX_ANSWER`] for openidconnect (discovery, keys, the token), whose
/// own reqwest client reads whatever comes.
struct Http(openidconnect::reqwest::Client);

type HttpError = openidconnect::HttpClientError<openidconnect::reqwest::Error>;

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, HttpError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = openidconnect::reqwest::Request::try_from(request).map_err(Box::new)?;
            let mut response = self.0.execute(request).await.map_err(Box::new)?;
            let mut answer = openidconnect::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let (body, cut) = body_up_to(&mut response, MAX_ANSWER)
                .await
                .map_err(Box::new)?;
            if cut {
                return Err(openidconnect::HttpClientError::Other(format!(
                    "the answer is longer than {MAX_ANSWER} bytes"
                )));
            }
            answer
                .body(body)
                .map_err(openidconnect::HttpClientError::Http)
        })
    }
}

/// What went wrong, worded for the person (who can always sign in with their e-mail).
#[derive(Debug)]
enum Failure {
    NotConfigured,
    /// The provider did not answer (or not as a provider does).
    Unreachable,
    /// The provider's answer did not verify (a signature, an issuer, an audience).
    Unverified,
    /// The ID token was not made for this sign-in (its nonce).
    WrongNonce,
    /// The code expired or was used.
    ExpiredCode,
    /// The state is unknown, expired, used, or from another browser.
    BadState,
    /// The provider answered with an error (the person cancelled, …).
    Refused(String),
    /// The identity lacks what the platform needs.
    Incomplete(&'static str),
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::NotConfigured => StatusCode::NOT_FOUND,
            Failure::Unreachable => StatusCode::SERVICE_UNAVAILABLE,
            Failure::Unverified | Failure::Incomplete(_) => StatusCode::BAD_GATEWAY,
            Failure::WrongNonce
            | Failure::ExpiredCode
            | Failure::BadState
            | Failure::Refused(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn message(&self) -> String {
        let fallback = "Vous pouvez réessayer, ou vous connecter avec votre adresse e-mail et votre mot de passe.";
        match self {
            Failure::NotConfigured => {
                "La connexion avec FranceConnect n'est pas proposée sur ce site.".into()
            }
            Failure::Unreachable => format!(
                "FranceConnect ne répond pas pour le moment\u{a0}: vous n'êtes pas connecté. {fallback}"
            ),
            Failure::Unverified => format!(
                "La réponse de FranceConnect n'a pas pu être vérifiée\u{a0}: par sécurité, vous n'êtes pas connecté. {fallback}"
            ),
            Failure::WrongNonce => format!(
                "Cette réponse de FranceConnect ne correspond pas à la connexion que vous avez demandée\u{a0}: vous n'êtes pas connecté. {fallback}"
            ),
            Failure::ExpiredCode => format!(
                "Le retour de FranceConnect a expiré ou a déjà servi\u{a0}: vous n'êtes pas connecté. {fallback}"
            ),
            Failure::BadState => format!(
                "Ce retour de FranceConnect a expiré, a déjà servi ou a été ouvert dans un autre navigateur\u{a0}: vous n'êtes pas connecté. {fallback}"
            ),
            Failure::Refused(why) => format!(
                "FranceConnect n'a pas confirmé votre identité ({why})\u{a0}: vous n'êtes pas connecté. {fallback}"
            ),
            Failure::Incomplete(what) => format!(
                "FranceConnect n'a pas transmis {what}\u{a0}: vous n'êtes pas connecté. {fallback}"
            ),
        }
    }
}

fn failed(page: &Page, state: &AppState, failure: &Failure) -> AppResult<Response> {
    if matches!(failure, Failure::NotConfigured) {
        return Err(AppError::not_found(failure.message()));
    }
    let notice = Notice {
        title: "Connexion avec FranceConnect impossible",
        message: &failure.message(),
    };
    let mut response = (failure.status(), page.render(state, &notice)?).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize)]
struct StartQuery {
    /// Where to go on: a path of the host the person came from, or (on the apex) a page of
    /// the platform's.
    #[serde(default)]
    suite: String,
    /// Link the identity to the signed-in account instead of signing in.
    #[serde(default)]
    lier: Option<String>,
}

/// The button: on a commune's host, on to the apex with this host's page to come back to; on
/// the apex, the sign-in kept and the browser sent to FranceConnect.
async fn start(
    State(state): State<AppState>,
    page: Page,
    viewer: Viewer,
    ClientIp(ip): ClientIp,
    Query(q): Query<StartQuery>,
) -> AppResult<Response> {
    let fc = &state.franceconnect;
    if !fc.enabled() {
        return failed(&page, &state, &Failure::NotConfigured);
    }
    let link = q.lier.is_some();
    if !matches!(page.site, Site::Platform) {
        let path = crate::util::same_origin_path(&q.suite).unwrap_or_else(|| "/".into());
        let back = format!("{}{path}", page.origin);
        let mut to = url::Url::parse(&format!(
            "{}/franceconnect/connexion",
            state.config.platform_origin()
        ))
        .map_err(|e| AppError::Internal(e.into()))?;
        to.query_pairs_mut().append_pair("suite", &back);
        if link {
            to.query_pairs_mut().append_pair("lier", "1");
        }
        return Ok(Redirect::to(to.as_str()).into_response());
    }
    if !fc
        .starts
        .check(&ip.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])))
    {
        return Err(AppError::TooManyRequests);
    }
    let next = match onward_target(&state, &q.suite).await? {
        Some(next) => next,
        None => format!("{}/", state.config.platform_origin()),
    };
    let link_account = match (link, viewer.0) {
        (true, Some(account)) => Some(account.id),
        (true, None) => {
            return Ok(Redirect::to("/connexion?next=/mon-compte").into_response());
        }
        (false, _) => None,
    };
    let metadata = match fc.metadata(false).await {
        Ok(m) => m,
        Err(f) => return failed(&page, &state, &f),
    };
    let (settings, _) = fc.parts().map_err(|_| AppError::not_found(""))?;
    let client = client(&state, settings, &metadata)?;
    let (state_token, nonce, browser) = (random_token(), random_token(), random_token());
    let (st, no) = (state_token.clone(), nonce.clone());
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        move || CsrfToken::new(st),
        move || Nonce::new(no),
    );
    for scope in SCOPES {
        request = request.add_scope(Scope::new((*scope).to_string()));
    }
    let (url, _, _) = request.add_extra_param("acr_values", ACR).url();
    let at = now();
    {
        let _turn = state.db.write_turn().await?;
        sql::query(
            "INSERT INTO oidc_logins (state_hash, browser_hash, nonce, next, account_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash(&state_token))
        .bind(token_hash(&browser))
        .bind(&nonce)
        .bind(&next)
        .bind(link_account.as_ref().map(|a| a.0.as_str()))
        .bind(at)
        .bind(at + LOGIN_TTL_SECS)
        .execute(state.db.platform())
        .await?;
    }
    let mut response = Redirect::to(url.as_str()).into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::cookie_header(BROWSER_COOKIE, &browser, LOGIN_TTL_SECS, state.config.https),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// FranceConnect's client for this platform, from the provider's description.
fn client(
    state: &AppState,
    settings: &Settings,
    metadata: &ProviderMetadataWithLogout,
) -> AppResult<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
> {
    let redirect = RedirectUrl::new(format!(
        "{}/franceconnect/retour",
        state.config.platform_origin()
    ))
    .map_err(|e| AppError::Internal(e.into()))?;
    Ok(CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.clone())),
    )
    .set_auth_type(openidconnect::AuthType::RequestBody)
    .set_redirect_uri(redirect))
}

/// A page of the platform to go on to after signing in: the apex, a commune's subdomain or a
/// commune's own domain, at the scheme and port the platform is reached by.
async fn onward_target(state: &AppState, raw: &str) -> AppResult<Option<String>> {
    if raw.is_empty() || raw.len() > 2048 {
        return Ok(None);
    }
    if let Some(path) = crate::util::same_origin_path(raw) {
        return Ok(Some(format!("{}{path}", state.config.platform_origin())));
    }
    let Ok(url) = url::Url::parse(raw) else {
        return Ok(None);
    };
    let Some(host) = url.host_str() else {
        return Ok(None);
    };
    if !url.username().is_empty() {
        return Ok(None);
    }
    let base = &state.config.base_domain;
    if under_base_domain(host, base) {
        let host = host.to_ascii_lowercase();
        return Ok(
            (url.origin().ascii_serialization() == state.config.public_origin(&host))
                .then(|| url.to_string()),
        );
    }
    if custom_host(host, base).is_some() {
        return Ok(super::sso::target(state, raw).await?.map(|(url, _)| url));
    }
    Ok(None)
}

/// Where the browser goes once signed in on the apex: a commune's own domain gets the session
/// handed over first.
fn onward(state: &AppState, next: &str) -> String {
    let custom = url::Url::parse(next)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| custom_host(&h, &state.config.base_domain).is_some());
    if custom {
        let vers: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        format!("/sso/depart?vers={vers}")
    } else {
        next.to_string()
    }
}

#[derive(Deserialize)]
struct OnwardQuery {
    #[serde(default)]
    vers: String,
}

/// After the second factor of a sign-in through FranceConnect: on to the page it came from.
async fn onward_handler(
    State(state): State<AppState>,
    Query(q): Query<OnwardQuery>,
) -> AppResult<Response> {
    let to = match onward_target(&state, &q.vers).await? {
        Some(next) => onward(&state, &next),
        None => "/".into(),
    };
    Ok(Redirect::to(&to).into_response())
}

#[derive(Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(sql::Row)]
struct Waiting {
    browser_hash: String,
    nonce: String,
    next: String,
    account_id: Option<AccountId>,
}

/// The identity FranceConnect vouched for.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    /// The provider's subject for this platform.
    pub subject: String,
    /// Every given name, as the civil registry has them, separated by spaces.
    pub given_name: String,
    pub family_name: String,
    /// `YYYY-MM-DD`.
    pub birthdate: String,
    pub email: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> AppResult<Response> {
    if !state.franceconnect.enabled() {
        return failed(&page, &state, &Failure::NotConfigured);
    }
    // The state first, once: whatever follows, this sign-in cannot be answered twice.
    // Without the cookie of a browser that left, no state is looked up (nor written).
    let browser = read_cookie(&headers, BROWSER_COOKIE).map(|b| token_hash(&b));
    let waiting = if q.state.is_empty() || q.state.len() > 200 || browser.is_none() {
        None
    } else {
        let _turn = state.db.write_turn().await?;
        sql::query_as::<Waiting>(
            "UPDATE oidc_logins SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL \
             AND expires_at > $1 RETURNING browser_hash, nonce, next, account_id",
        )
        .bind(now())
        .bind(token_hash(&q.state))
        .fetch_optional(state.db.platform())
        .await?
    };
    let Some(waiting) = waiting.filter(|w| browser.as_deref() == Some(w.browser_hash.as_str()))
    else {
        return failed(&page, &state, &Failure::BadState);
    };
    if let Some(error) = &q.error {
        let why = q
            .error_description
            .as_deref()
            .filter(|d| !d.is_empty())
            .unwrap_or(error);
        let why: String = why.chars().take(200).collect();
        return failed(&page, &state, &Failure::Refused(why));
    }
    let (identity, id_token) = match identify(&state, &q.code, &waiting.nonce).await {
        Ok(found) => found,
        Err(f) => {
            tracing::warn!(failure = ?f, "FranceConnect sign-in refused");
            return failed(&page, &state, &f);
        }
    };
    let clear_browser = session::cookie_header(BROWSER_COOKIE, "", 0, state.config.https);
    let outcome = match waiting.account_id {
        Some(account) => link(&state, &account, &identity).await?,
        None => sign_in(&state, &identity).await?,
    };
    let mut response = match outcome {
        Outcome::Linked => Redirect::to(&onward(&state, &waiting.next)).into_response(),
        Outcome::SignIn(account) => {
            let next = onward(&state, &waiting.next);
            let path_next = format!(
                "/franceconnect/suite?vers={}",
                url::form_urlencoded::byte_serialize(waiting.next.as_bytes()).collect::<String>()
            );
            match super::totp::challenge(&state, &account, &path_next, Some(&id_token)).await? {
                Some(second_step) => second_step,
                None => {
                    let scope =
                        CookieScope::for_host(&state.config, Some(&state.config.base_domain));
                    let cookie =
                        session::open_with(&state.db, &account, None, Some(&id_token), &scope)
                            .await?;
                    let mut r = Redirect::to(&next).into_response();
                    r.headers_mut().append(header::SET_COOKIE, cookie);
                    r
                }
            }
        }
        Outcome::Refused(status, message) => {
            let notice = Notice {
                title: "Connexion avec FranceConnect impossible",
                message: &message,
            };
            (status, page.render(&state, &notice)?).into_response()
        }
    };
    let h = response.headers_mut();
    h.append(header::SET_COOKIE, clear_browser);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

/// The code exchanged, the ID token checked (signature, issuer, audience, expiry, nonce), the
/// identity read for its subject: the identity and the ID token (for the logout).
async fn identify(
    state: &AppState,
    code: &str,
    nonce: &str,
) -> Result<(Identity, String), Failure> {
    if code.is_empty() || code.len() > 512 {
        return Err(Failure::ExpiredCode);
    }
    let fc = &state.franceconnect;
    let (settings, http) = fc.parts()?;
    let metadata = fc.metadata(false).await?;
    let client = client(state, settings, &metadata).map_err(|_| Failure::NotConfigured)?;
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|_| Failure::Unreachable)?
        .request_async(http)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r)
                if *r.error() == CoreErrorResponseType::InvalidGrant =>
            {
                Failure::ExpiredCode
            }
            RequestTokenError::Request(e) => {
                tracing::warn!(error = %e, "FranceConnect's token endpoint");
                Failure::Unreachable
            }
            e => {
                tracing::warn!(error = %e, "FranceConnect's token answer");
                Failure::Unverified
            }
        })?;
    let id_token = token.id_token().ok_or(Failure::Unverified)?;
    let nonce = Nonce::new(nonce.to_string());
    let verified = {
        let verifier = client.id_token_verifier().set_allowed_algs(ALGS);
        id_token
            .claims(&verifier, &nonce)
            .map(|c| c.subject().clone())
    };
    let subject = match verified {
        Ok(subject) => subject,
        // A key the kept description does not have: the provider may have rotated them.
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            let metadata = fc.metadata(true).await?;
            let client =
                self::client(state, settings, &metadata).map_err(|_| Failure::NotConfigured)?;
            let verifier = client.id_token_verifier().set_allowed_algs(ALGS);
            id_token
                .claims(&verifier, &nonce)
                .map(|c| c.subject().clone())
                .map_err(verification_failure)?
        }
        Err(e) => return Err(verification_failure(e)),
    };
    let info = user_info(state, &metadata, token.access_token().secret(), &subject).await?;
    let given_name = info
        .given_name()
        .and_then(|c| c.get(None))
        .map(|n| n.as_str().trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or(Failure::Incomplete("vos prénoms"))?;
    let family_name = info
        .family_name()
        .and_then(|c| c.get(None))
        .map(|n| n.as_str().trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or(Failure::Incomplete("votre nom de famille"))?;
    let birthdate = info
        .birthdate()
        .map(|b| b.as_str().to_string())
        .filter(|b| is_iso_date(b))
        .ok_or(Failure::Incomplete("votre date de naissance"))?;
    let email = info.email().map(|e| e.as_str().to_string());
    Ok((
        Identity {
            subject: subject.as_str().to_string(),
            given_name,
            family_name,
            birthdate,
            email,
        },
        id_token.to_string(),
    ))
}

/// The identity at the userinfo endpoint, which FranceConnect answers as a JWT signed like the
/// ID token (ES256 or RS256): its signature checked with the provider's key named in its
/// header, its issuer, audience and subject (openidconnect's own userinfo request admits
/// RS256 only).
async fn user_info(
    state: &AppState,
    metadata: &ProviderMetadataWithLogout,
    access_token: &str,
    subject: &openidconnect::SubjectIdentifier,
) -> Result<UserInfoClaims<openidconnect::EmptyAdditionalClaims, CoreGenderClaim>, Failure> {
    use base64::Engine as _;
    use openidconnect::JsonWebKey as _;
    let fc = &state.franceconnect;
    let (settings, http) = fc.parts()?;
    let endpoint = metadata.userinfo_endpoint().ok_or(Failure::Unverified)?;
    let mut response = http
        .0
        .get(endpoint.url().as_str())
        .bearer_auth(access_token)
        .header(header::ACCEPT, "application/jwt")
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "FranceConnect's userinfo endpoint");
            Failure::Unreachable
        })?;
    if !response.status().is_success() {
        tracing::warn!(status = %response.status(), "FranceConnect's userinfo endpoint");
        return Err(Failure::Unverified);
    }
    let (body, cut) = body_up_to(&mut response, MAX_IDENTITY)
        .await
        .map_err(|_| Failure::Unreachable)?;
    if cut {
        return Err(Failure::Unverified);
    }
    let jwt = std::str::from_utf8(&body)
        .map_err(|_| Failure::Unverified)?
        .trim();
    let mut parts = jwt.split('.');
    let (Some(head), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Failure::Unverified);
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |part: &str| b64.decode(part).map_err(|_| Failure::Unverified);
    let header: serde_json::Value =
        serde_json::from_slice(&decode(head)?).map_err(|_| Failure::Unverified)?;
    let alg: CoreJwsSigningAlgorithm =
        serde_json::from_value(header["alg"].clone()).map_err(|_| Failure::Unverified)?;
    if !ALGS.contains(&alg) {
        return Err(Failure::Unverified);
    }
    let kid = header["kid"].as_str();
    let signed = format!("{head}.{payload}");
    let signature = decode(signature)?;
    let verifies = |jwks: &openidconnect::core::CoreJsonWebKeySet| {
        jwks.keys()
            .iter()
            .filter(|k| kid.is_none() || k.key_id().map(|id| id.as_str()) == kid)
            .any(|k| {
                k.verify_signature(&alg, signed.as_bytes(), &signature)
                    .is_ok()
            })
    };
    if !verifies(metadata.jwks()) && !verifies(fc.metadata(true).await?.jwks()) {
        tracing::warn!("FranceConnect's userinfo signature does not verify");
        return Err(Failure::Unverified);
    }
    let payload = decode(payload)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&payload).map_err(|_| Failure::Unverified)?;
    let audience_ok = match &claims["aud"] {
        serde_json::Value::String(a) => *a == settings.client_id,
        serde_json::Value::Array(all) => {
            all.iter().any(|a| a.as_str() == Some(&settings.client_id))
        }
        _ => false,
    };
    if claims["iss"].as_str() != Some(metadata.issuer().as_str()) || !audience_ok {
        tracing::warn!("FranceConnect's userinfo is not for this client");
        return Err(Failure::Unverified);
    }
    UserInfoClaims::from_json::<std::convert::Infallible>(&payload, Some(subject)).map_err(|e| {
        tracing::warn!(error = %e, "FranceConnect's userinfo");
        Failure::Unverified
    })
}

fn verification_failure(e: ClaimsVerificationError) -> Failure {
    tracing::warn!(error = %e, "FranceConnect's ID token");
    match e {
        ClaimsVerificationError::InvalidNonce(_) => Failure::WrongNonce,
        _ => Failure::Unverified,
    }
}

fn is_iso_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// What the callback does next.
enum Outcome {
    /// Open a session for this account.
    SignIn(AccountId),
    /// The identity is now the signed-in account's.
    Linked,
    /// Nothing done, and why.
    Refused(StatusCode, String),
}

/// Signs in the account the identity is linked to, or makes one for it.
async fn sign_in(state: &AppState, identity: &Identity) -> AppResult<Outcome> {
    if let Some(account) = linked_account(state, &identity.subject).await? {
        remember(state, &account, identity).await?;
        return Ok(Outcome::SignIn(account));
    }
    let Some(email) = identity
        .email
        .as_deref()
        .and_then(|e| super::service::normalize_email(e).ok())
    else {
        return Ok(Outcome::Refused(
            StatusCode::BAD_GATEWAY,
            "FranceConnect n'a pas transmis d'adresse e-mail valable\u{a0}: créez un compte avec votre adresse, puis liez FranceConnect depuis «\u{a0}Mon compte\u{a0}».".into(),
        ));
    };
    let id = AccountId::generate();
    let display_name = display_name(identity);
    let created = {
        let mut tx = state.db.begin_immediate().await?;
        let created = super::store::insert(
            &mut tx,
            &id,
            &email,
            &display_name,
            super::service::NO_PASSWORD,
            Some(now()),
        )
        .await?;
        if created {
            insert_link(&mut tx, &id, identity).await?;
            tx.commit().await?;
        }
        created
    };
    if !created {
        // Never linked by address: the owner links it, signed in.
        return Ok(Outcome::Refused(
            StatusCode::CONFLICT,
            format!(
                "Un compte Parvis existe déjà avec l'adresse {email}. Connectez-vous avec son mot de passe, puis liez FranceConnect depuis «\u{a0}Mon compte\u{a0}»\u{a0}: votre identité ne sera jamais rattachée à un compte sans vous."
            ),
        ));
    }
    Ok(Outcome::SignIn(id))
}

/// Links the identity to `account` (who started from « Mon compte »).
async fn link(state: &AppState, account: &AccountId, identity: &Identity) -> AppResult<Outcome> {
    match linked_account(state, &identity.subject).await? {
        Some(other) if other != *account => {
            return Ok(Outcome::Refused(
                StatusCode::CONFLICT,
                "Cette identité FranceConnect est déjà liée à un autre compte Parvis\u{a0}: déliez-la d'abord de celui-ci.".into(),
            ));
        }
        Some(_) => {
            remember(state, account, identity).await?;
            return Ok(Outcome::Linked);
        }
        None => {}
    }
    let mut tx = state.db.begin_immediate().await?;
    let already: Option<String> = sql::query_scalar(
        "SELECT subject FROM identity_links WHERE account_id = $1 AND provider = $2",
    )
    .bind(&account.0)
    .bind(PROVIDER)
    .fetch_optional(&mut *tx)
    .await?;
    if already.is_some() {
        return Ok(Outcome::Refused(
            StatusCode::CONFLICT,
            "Votre compte est déjà lié à une autre identité FranceConnect\u{a0}: déliez-la d'abord depuis «\u{a0}Mon compte\u{a0}».".into(),
        ));
    }
    insert_link(&mut tx, account, identity).await?;
    tx.commit().await?;
    Ok(Outcome::Linked)
}

async fn insert_link(
    conn: &mut sqlx::AnyConnection,
    account: &AccountId,
    identity: &Identity,
) -> Result<(), sqlx::Error> {
    sql::query(
        "INSERT INTO identity_links (provider, subject, account_id, given_name, family_name, birthdate, linked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(PROVIDER)
    .bind(&identity.subject)
    .bind(&account.0)
    .bind(&identity.given_name)
    .bind(&identity.family_name)
    .bind(&identity.birthdate)
    .bind(now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Keeps the identity as FranceConnect gave it last (a name can change: marriage, ruling).
async fn remember(state: &AppState, account: &AccountId, identity: &Identity) -> AppResult<()> {
    let _turn = state.db.write_turn().await?;
    sql::query(
        "UPDATE identity_links SET given_name = $1, family_name = $2, birthdate = $3 \
         WHERE provider = $4 AND subject = $5 AND account_id = $6",
    )
    .bind(&identity.given_name)
    .bind(&identity.family_name)
    .bind(&identity.birthdate)
    .bind(PROVIDER)
    .bind(&identity.subject)
    .bind(&account.0)
    .execute(state.db.platform())
    .await?;
    Ok(())
}

async fn linked_account(state: &AppState, subject: &str) -> Result<Option<AccountId>, sqlx::Error> {
    sql::query_scalar::<AccountId>(
        "SELECT account_id FROM identity_links WHERE provider = $1 AND subject = $2",
    )
    .bind(PROVIDER)
    .bind(subject)
    .fetch_optional(state.db.platform())
    .await
}

/// « Marie Dupont » from « Marie Jeanne » and « DUPONT »: the first given name and the family
/// name as people write it.
fn display_name(identity: &Identity) -> String {
    let first = identity
        .given_name
        .split_whitespace()
        .next()
        .unwrap_or(&identity.given_name);
    let family = identity
        .family_name
        .split(' ')
        .map(|word| {
            word.split('-')
                .map(capitalise)
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect::<Vec<_>>()
        .join(" ");
    format!("{first} {family}").chars().take(80).collect()
}

fn capitalise(word: &str) -> String {
    let lower = word.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The identity linked to an account, as « Mon compte » and the claim of an official's
/// profile read it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Link {
    pub given_name: String,
    pub family_name: String,
    /// Never shown.
    #[serde(skip)]
    pub birthdate: String,
    pub linked_at: i64,
}

/// The account's FranceConnect identity, if linked.
pub async fn link_of(db: &crate::db::Db, account: &AccountId) -> Result<Option<Link>, sqlx::Error> {
    sql::query_as::<Link>(
        "SELECT given_name, family_name, birthdate, linked_at FROM identity_links \
         WHERE account_id = $1 AND provider = $2",
    )
    .bind(&account.0)
    .bind(PROVIDER)
    .fetch_optional(db.platform())
    .await
}

/// Compares a FranceConnect identity with a registry's person: the same family name, the
/// registry's first name among the given names, the same birth date. Names are compared as
/// registries write them apart: case, accents, hyphens, apostrophes and spaces aside. `Err`
/// says, in French, what differs (never the birth date itself).
pub fn names_match(
    link: &Link,
    family_name: &str,
    first_name: &str,
    birth_date: &str,
) -> Result<(), String> {
    let mut differs = Vec::new();
    if search_key(&link.family_name) != search_key(family_name) {
        differs.push(format!(
            "le nom de famille ({} pour FranceConnect, {} au répertoire)",
            link.family_name, family_name
        ));
    }
    let given: Vec<String> = link.given_name.split_whitespace().map(search_key).collect();
    let wanted = search_key(first_name);
    let whole = search_key(&link.given_name);
    if !(given.contains(&wanted) || whole == wanted || whole.starts_with(&format!("{wanted} "))) {
        differs.push(format!(
            "le prénom ({} au répertoire n'est pas parmi vos prénoms {})",
            first_name, link.given_name
        ));
    }
    if link.birthdate != birth_date {
        differs.push("la date de naissance".into());
    }
    if differs.is_empty() {
        Ok(())
    } else {
        Err(differs.join(", "))
    }
}

/// Where the person goes to sign out of FranceConnect too, with this sign-in's ID token
/// (`None`: FranceConnect is not configured or does not answer; the platform's sessions are
/// ended all the same).
pub async fn logout_url(state: &AppState, id_token: &str) -> Option<String> {
    let fc = &state.franceconnect;
    if !fc.enabled() {
        return None;
    }
    let metadata = fc.metadata(false).await.ok()?;
    let end = metadata
        .additional_metadata()
        .end_session_endpoint
        .as_ref()?;
    let mut url = end.url().clone();
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("state", &random_token())
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/franceconnect/sortie", state.config.platform_origin()),
        );
    Some(url.to_string())
}

/// Back from FranceConnect's logout.
async fn after_logout(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let notice = Notice {
        title: "Vous êtes déconnecté",
        message: "Vous êtes déconnecté de Parvis et de FranceConnect, sur toutes les communes.",
    };
    Ok(page.render(&state, &notice)?.into_response())
}

/// Unlinks FranceConnect from the account (which then signs in with its password only).
async fn unlink(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
) -> AppResult<Response> {
    if !super::service::has_password(&state.db, &account.id).await? {
        return crate::privacy::routes::account_page_with(
            &state,
            page,
            &account.id,
            StatusCode::CONFLICT,
            Some(
                "Choisissez d'abord un mot de passe («\u{a0}Mot de passe oublié\u{a0}?\u{a0}» sur la page de connexion)\u{a0}: sans FranceConnect ni mot de passe, vous ne pourriez plus vous connecter.",
            ),
        )
        .await;
    }
    {
        let _turn = state.db.write_turn().await?;
        sql::query("DELETE FROM identity_links WHERE account_id = $1 AND provider = $2")
            .bind(&account.id.0)
            .bind(PROVIDER)
            .execute(state.db.platform())
            .await?;
    }
    Ok(Redirect::to("/mon-compte").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(given: &str, family: &str, birth: &str) -> Link {
        Link {
            given_name: given.into(),
            family_name: family.into(),
            birthdate: birth.into(),
            linked_at: 0,
        }
    }

    #[test]
    fn names_match_as_registries_write_them() {
        let l = link("Hélène Marie", "LE GOFF", "1970-03-02");
        assert!(names_match(&l, "Le Goff", "Hélène", "1970-03-02").is_ok());
        assert!(names_match(&l, "le goff", "HELENE", "1970-03-02").is_ok());
        assert!(names_match(&l, "Le Goff", "Marie", "1970-03-02").is_ok());
        let l = link("Jean-Pierre Louis", "D'ARTAGNAN-MARTIN", "1955-12-31");
        assert!(names_match(&l, "d’Artagnan Martin", "Jean-Pierre", "1955-12-31").is_ok());
        let Err(why) = names_match(&l, "Martin", "Paul", "1955-12-30") else {
            panic!("three differences");
        };
        assert!(why.contains("nom de famille"), "{why}");
        assert!(why.contains("prénom"), "{why}");
        assert!(why.contains("date de naissance"), "{why}");
        assert!(!why.contains("1955"), "the birth date is never said: {why}");
    }

    #[test]
    fn display_names_are_written_as_people_write_them() {
        let identity = Identity {
            subject: "s".into(),
            given_name: "Marie Jeanne".into(),
            family_name: "LE GOFF-DUPONT".into(),
            birthdate: "1962-05-14".into(),
            email: None,
        };
        assert_eq!(display_name(&identity), "Marie Le Goff-Dupont");
    }
}
