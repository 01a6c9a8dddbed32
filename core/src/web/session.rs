//! Sessions: an opaque random token in an HttpOnly cookie, its SHA-256 in the database.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use cookie::{Cookie, SameSite};
use serde::Serialize;

use crate::db::{Db, Sql as _, changes, sql};
use crate::error::AppError;
use crate::types::{AccountId, TenantId};
use crate::util::{now, random_token, token_hash};
use crate::web::Web;
use crate::web::site::Site;

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
    /// On a commune's site, what the session's statement read of the commune.
    #[serde(skip)]
    pub here: Option<Here>,
}

/// What a signed-in request reads of its commune in the same statement as its session: the
/// versions that what is kept in memory is checked against ([`crate::web::shared`]), and
/// whether the person follows the commune. A signed-in page then needs no other statement for
/// what it did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Here {
    /// The commune's version (what its pages are made of; 0 before the first write).
    pub version: i64,
    /// The version of the commune's private messages (migration 0026).
    pub messages: i64,
    /// Whether the person follows the commune.
    pub following: bool,
}

impl sql::FromRow for Account {
    fn from_row(row: &sql::Row) -> Result<Self, sqlx::Error> {
        Ok(Account {
            id: row.get("id")?,
            email: row.get("email")?,
            display_name: row.get("display_name")?,
            unread: row.get("unread")?,
            unread_messages: 0,
            here: Some(Here {
                version: row.get("version")?,
                messages: row.get("messages")?,
                following: row.get::<i64>("following")? == 1,
            }),
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
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// Builds a `Set-Cookie` value (HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS).
pub fn cookie_header(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    scoped_cookie(name, value, max_age_secs, secure, None)
}

/// [`cookie_header`] for `domain` too (`Domain=…`: that host and every host below it) when
/// given, else for the request's host only.
fn scoped_cookie(
    name: &str,
    value: &str,
    max_age_secs: i64,
    secure: bool,
    domain: Option<&str>,
) -> HeaderValue {
    let mut cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs));
    if let Some(domain) = domain {
        cookie = cookie.domain(domain.to_string());
    }
    HeaderValue::from_str(&cookie.build().to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Where a session's cookie goes. A sign-in on the platform's site or on any commune's
/// subdomain sets it for the base domain, so the apex and every commune's subdomain see it
/// (one account everywhere, issue 20); on a commune's own domain it stays that host's, and
/// the platform hands the session over ([`crate::accounts::sso`]). The CSRF cookie stays
/// each host's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieScope {
    /// `Secure` (the site is served over HTTPS).
    pub secure: bool,
    /// `Domain=` the base domain, or none: the host only.
    pub domain: Option<String>,
}

impl CookieScope {
    /// The scope for a request to `host` (its `Host` header).
    pub fn for_host(config: &crate::config::Config, host: Option<&str>) -> CookieScope {
        let domain = host
            .filter(|h| crate::web::site::under_base_domain(h, &config.base_domain))
            .map(|_| config.base_domain.clone());
        CookieScope {
            secure: config.https,
            domain,
        }
    }

    /// The scope for the request carrying `headers`.
    pub fn for_request(
        config: &crate::config::Config,
        headers: &axum::http::HeaderMap,
    ) -> CookieScope {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        CookieScope::for_host(config, host)
    }
}

/// Opens a session for `account` (a sign-in: a family of its own); returns the cookie to set.
pub async fn open(
    db: &Db,
    account: &AccountId,
    scope: &CookieScope,
) -> Result<HeaderValue, sqlx::Error> {
    open_in_family(db, account, None, scope).await
}

/// Opens a session for `account` in `family` (the sign-in it was handed over from), or a
/// family of its own; returns the cookie to set.
pub async fn open_in_family(
    db: &Db,
    account: &AccountId,
    family: Option<&str>,
    scope: &CookieScope,
) -> Result<HeaderValue, sqlx::Error> {
    open_with(db, account, family, None, scope).await
}

/// [`open_in_family`] for a sign-in through FranceConnect too: its ID token is kept with the
/// session, to end FranceConnect's session when this one ends.
pub async fn open_with(
    db: &Db,
    account: &AccountId,
    family: Option<&str>,
    id_token: Option<&str>,
    scope: &CookieScope,
) -> Result<HeaderValue, sqlx::Error> {
    let token = random_token();
    let at = now();
    // Queued with every writer, fairly (a commune hogging SQLite's writer cannot starve logins).
    let _turn = db.write_turn().await?;
    sql::query(
        "INSERT INTO sessions (token_hash, account_id, created_at, expires_at, family, id_token) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash(&token))
    .bind(&account.0)
    .bind(at)
    .bind(at + SESSION_TTL_SECS)
    .bind(family)
    .bind(id_token)
    .execute(db.platform())
    .await?;
    Ok(scoped_cookie(
        SESSION_COOKIE,
        &token,
        SESSION_TTL_SECS,
        scope.secure,
        scope.domain.as_deref(),
    ))
}

/// The session of this request, if it is a live one: its account and its family (the hash
/// every session of its sign-in shares).
pub async fn family_of(
    db: &Db,
    headers: &axum::http::HeaderMap,
) -> Result<Option<(AccountId, String)>, sqlx::Error> {
    let Some(token) = read_cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    sql::query_as::<(AccountId, String)>(
        "SELECT account_id, COALESCE(family, token_hash) FROM sessions \
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash(&token))
    .bind(now())
    .fetch_optional(db.platform())
    .await
}

/// What signing out ended.
pub struct Closed {
    /// The cookies that clear the session, for the base domain and for the host.
    pub cookies: Vec<HeaderValue>,
    /// The ID token of a sign-in through FranceConnect, to end its session there too.
    pub id_token: Option<String>,
}

/// Signs out: ends the request's session and every session opened from the same sign-in (the
/// other commune domains it was handed to), so the person is signed out on every host at
/// once.
pub async fn close(
    db: &Db,
    headers: &axum::http::HeaderMap,
    scope: &CookieScope,
) -> Result<Closed, sqlx::Error> {
    let mut id_token = None;
    if let Some((account, family)) = family_of(db, headers).await? {
        let _turn = db.write_turn().await?;
        id_token = sql::query_scalar::<Option<String>>(
            "DELETE FROM sessions WHERE account_id = $1 \
             AND (family = $2 OR (family IS NULL AND token_hash = $2)) RETURNING id_token",
        )
        .bind(&account.0)
        .bind(&family)
        .fetch_all(db.platform())
        .await?
        .into_iter()
        .flatten()
        .next();
        sql::query("DELETE FROM sso_codes WHERE account_id = $1 AND family = $2")
            .bind(&account.0)
            .bind(&family)
            .execute(db.platform())
            .await?;
    } else if let Some(token) = read_cookie(headers, SESSION_COOKIE) {
        let _turn = db.write_turn().await?;
        sql::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(&token))
            .execute(db.platform())
            .await?;
    }
    let mut cookies = vec![cookie_header(SESSION_COOKIE, "", 0, scope.secure)];
    if let Some(domain) = &scope.domain {
        cookies.push(scoped_cookie(
            SESSION_COOKIE,
            "",
            0,
            scope.secure,
            Some(domain),
        ));
    }
    Ok(Closed { cookies, id_token })
}

/// A row of the session statement: the account and when its session ends.
#[derive(Clone)]
struct Loaded {
    account: Account,
    expires_at: i64,
}

impl sql::FromRow for Loaded {
    fn from_row(row: &sql::Row) -> Result<Self, sqlx::Error> {
        Ok(Loaded {
            account: Account::from_row(row)?,
            expires_at: row.get("expires_at")?,
        })
    }
}

/// Sessions kept between requests: at most this many (token, commune) pairs.
const KEPT_SESSIONS: usize = 65_536;

/// What session statements read, kept while the database says nothing it read changed
/// ([`crate::db::changes`]): a signed-in page that changes nothing then asks the database
/// nothing. Keyed by the token's hash and the commune, so one person's entry is only ever found
/// by a request carrying their token.
pub struct Sessions(changes::Kept<(String, Option<TenantId>), Loaded>);

impl Default for Sessions {
    fn default() -> Self {
        Sessions(changes::Kept::new(KEPT_SESSIONS))
    }
}

impl Sessions {
    fn get(&self, key: &(String, Option<TenantId>), db: &Db, at: i64) -> Option<Account> {
        let changes = db.changes()?;
        let kept = self.0.get(key, |l, stamp| {
            changes.fresh(stamp, &l.account.id.0, key.1.as_slice())
        })?;
        (kept.expires_at > at).then_some(kept.account)
    }
}

/// Every request with a session cookie comes here: what [`Sessions`] kept while it holds, or
/// the statement (on a direct reader on SQLite). On a commune's site (`tenant`) the same statement
/// reads what [`Here`] holds.
async fn load(
    db: &Db,
    sessions: &Sessions,
    token: &str,
    tenant: Option<TenantId>,
) -> Result<Option<Account>, sqlx::Error> {
    let key = (token_hash(token), tenant);
    let at = now();
    if let Some(account) = sessions.get(&key, db, at) {
        metrics::counter!("parvis_session_reads_total", "from" => "kept").increment(1);
        return Ok(Some(account));
    }
    metrics::counter!("parvis_session_reads_total", "from" => "database").increment(1);
    // Stamped before the statement begins: a change it does not see is told after the stamp.
    let stamp = db.changes().and_then(|c| c.stamp());
    let loaded = sql::query_as::<Loaded>(
        "SELECT a.id, a.email, a.display_name, s.expires_at, (SELECT COUNT(*) FROM notifications n \
         WHERE n.account_id = a.id AND n.read_at IS NULL) AS unread, \
         COALESCE(v.version, 0) AS version, COALESCE(v.messages, 0) AS messages, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM follows f WHERE f.account_id = a.id \
         AND f.tenant_id = $3 AND f.target_kind = 'commune' AND f.target_id = '') \
         THEN 1 ELSE 0 END AS BIGINT) AS following \
         FROM sessions s JOIN accounts a ON a.id = s.account_id \
         LEFT JOIN tenant_versions v ON v.tenant_id = $3 \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(&key.0)
    .bind(at)
    .bind(tenant)
    .fetch_optional(db.reader().await?.sql())
    .await?;
    let Some(mut loaded) = loaded else {
        return Ok(None);
    };
    loaded.account.here = loaded.account.here.filter(|_| tenant.is_some());
    if let Some(stamp) = stamp {
        sessions.0.put(key, loaded.clone(), stamp);
    }
    Ok(Some(loaded.account))
}

/// Middleware: puts the [`Viewer`] in the request. A signed-in request that may have written
/// waits, before it answers, until this process was told of its writes
/// ([`Db::sync_changes`]): the person's next page shows them, whatever it kept.
pub async fn load_viewer(State(state): State<Web>, mut req: Request, next: Next) -> Response {
    let tenant = match req.extensions().get::<Site>() {
        Some(Site::Commune(c)) => Some(c.tenant_id),
        _ => None,
    };
    let viewer = match read_cookie(req.headers(), SESSION_COOKIE) {
        Some(token) => match load(&state.db, &state.sessions, &token, tenant).await {
            Ok(account) => Viewer(account),
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                Viewer(None)
            }
        },
        None => Viewer(None),
    };
    let signed_in = viewer.0.is_some();
    req.extensions_mut().insert(viewer);
    if !signed_in || state.db.changes().is_none() {
        return next.run(req).await;
    }
    // A module's writes run in tasks of their own: a request other than a read syncs anyway.
    let unsafe_method = !req.method().is_safe();
    let (response, may_have_written) = changes::watching(next.run(req)).await;
    if unsafe_method || may_have_written {
        state.db.sync_changes().await;
    }
    response
}
