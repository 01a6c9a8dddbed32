//! Sessions: an opaque random token in an HttpOnly cookie, its SHA-256 in the database.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use cookie::{Cookie, SameSite};
use serde::Serialize;

use crate::db::{Db, Sql as _, sql};
use crate::error::AppError;
use crate::types::AccountId;
use crate::util::{now, random_token, token_hash};
use crate::web::Web;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "parvis_session";
/// Sessions last 30 days.
pub const SESSION_TTL_SECS: i64 = 30 * 24 * 3600;

/// The signed-in account, as pages need it.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// Global account id.
    pub id: AccountId,
    /// E-mail address (lowercase).
    pub email: String,
    /// Name shown to others.
    pub display_name: String,
    /// Unread notifications.
    pub unread: i64,
    /// Unread private messages in this commune (set on commune sites by [`crate::web::Page`]).
    pub unread_messages: i64,
}

impl sql::FromRow for Account {
    fn from_row(row: &sql::Row) -> Result<Self, sqlx::Error> {
        Ok(Account {
            id: row.get("id")?,
            email: row.get("email")?,
            display_name: row.get("display_name")?,
            unread: row.get("unread")?,
            unread_messages: 0,
        })
    }
}

/// Who is asking: an account, or an anonymous visitor.
#[derive(Debug, Clone, Default)]
pub struct Viewer(pub Option<Account>);

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Viewer>()
            .cloned()
            .unwrap_or_default())
    }
}

/// A signed-in account; anonymous visitors are sent to the login form.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Account);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Viewer>() {
            Some(Viewer(Some(account))) => Ok(SignedIn(account.clone())),
            _ => Err(AppError::Unauthenticated),
        }
    }
}

/// Reads a cookie from the request headers.
pub fn read_cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// Builds a `Set-Cookie` value (HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS).
pub fn cookie_header(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Opens a session for `account`; returns the cookie to set.
pub async fn open(db: &Db, account: &AccountId, secure: bool) -> Result<HeaderValue, sqlx::Error> {
    let token = random_token();
    let at = now();
    // Queued with every writer, fairly (a commune hogging SQLite's writer cannot starve logins).
    let _turn = db.write_turn().await?;
    sql::query(
        "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash(&token))
    .bind(&account.0)
    .bind(at)
    .bind(at + SESSION_TTL_SECS)
    .execute(db.platform())
    .await?;
    Ok(cookie_header(
        SESSION_COOKIE,
        &token,
        SESSION_TTL_SECS,
        secure,
    ))
}

/// Closes the session of this request, if any; returns the cookie that clears it.
pub async fn close(
    db: &Db,
    headers: &axum::http::HeaderMap,
    secure: bool,
) -> Result<HeaderValue, sqlx::Error> {
    if let Some(token) = read_cookie(headers, SESSION_COOKIE) {
        let _turn = db.write_turn().await?;
        sql::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(&token))
            .execute(db.platform())
            .await?;
    }
    Ok(cookie_header(SESSION_COOKIE, "", 0, secure))
}

/// Every request with a session cookie comes here: a direct reader on SQLite.
async fn load(db: &Db, token: &str) -> Result<Option<Account>, sqlx::Error> {
    sql::query_as::<Account>(
        "SELECT a.id, a.email, a.display_name, (SELECT COUNT(*) FROM notifications n \
         WHERE n.account_id = a.id AND n.read_at IS NULL) AS unread \
         FROM sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now())
    .fetch_optional(db.reader().await?.sql())
    .await
}

/// Middleware: puts the [`Viewer`] in the request.
pub async fn load_viewer(State(state): State<Web>, mut req: Request, next: Next) -> Response {
    let viewer = match read_cookie(req.headers(), SESSION_COOKIE) {
        Some(token) => match load(&state.db, &token).await {
            Ok(account) => Viewer(account),
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                Viewer(None)
            }
        },
        None => Viewer(None),
    };
    req.extensions_mut().insert(viewer);
    next.run(req).await
}
