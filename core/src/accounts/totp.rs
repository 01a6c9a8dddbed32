//! Two-factor authentication (issue 20): a time-based one-time code (TOTP, RFC 6238: HMAC-SHA1,
//! 6 digits, 30-second steps, one step of drift either way) from an authenticator app, with
//! ten single-use recovery codes. Any account may turn it on (`/mon-compte/securite`); platform
//! administrators must, before the platform's back-office opens to them.
//!
//! With it on, the right password no longer opens a session: it opens a challenge (the
//! `parvis_2fa` cookie, five minutes, five attempts, then the password again), and the code
//! does. A code is accepted once: its time step is kept, and a code of that step or an earlier
//! one is refused, so one seen over a shoulder or replayed within its window opens nothing.

use axum::Router;
use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::authz::{PLATFORM_DOMAIN, Role};
use crate::db::sql;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::types::AccountId;
use crate::util::{now, random_token, token_hash};
use crate::web::render::Template;
use crate::web::session::{self, CookieScope, SignedIn, Viewer, read_cookie};
use crate::web::{Page, Site};

/// The cookie naming a sign-in that waits for its second factor.
pub const CHALLENGE_COOKIE: &str = "parvis_2fa";
/// How long the second step waits after the password.
const CHALLENGE_TTL_SECS: i64 = 300;
/// Codes tried on one challenge before the password is asked again.
const MAX_ATTEMPTS: i64 = 5;
/// Seconds per code.
const STEP: i64 = 30;
/// Recovery codes given at enrolment.
const RECOVERY_CODES: usize = 10;
/// Who the authenticator app says the code is for.
const ISSUER: &str = "Parvis";

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mon-compte/securite", get(security_page))
        .route("/mon-compte/securite/activer", post(start))
        .route("/mon-compte/securite/confirmer", post(confirm))
        .route("/mon-compte/securite/desactiver", post(turn_off))
        .route("/connexion/code", get(code_form).post(code_check))
}

/// The code of `secret` (base32) for the time step `step`.
pub fn code_at(secret: &str, step: i64) -> Option<String> {
    let totp = totp(secret, "")?;
    Some(totp.generate(u64::try_from(step * STEP).ok()?))
}

fn totp(secret: &str, account_name: &str) -> Option<totp_rs::TOTP> {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .ok()?;
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        u64::try_from(STEP).ok()?,
        bytes,
        Some(ISSUER.to_string()),
        account_name.replace(':', " "),
    )
    .ok()
}

/// The time step a code belongs to, among the current one and one either side.
fn matching_step(secret: &str, code: &str, at: i64) -> Option<i64> {
    let current = at.div_euclid(STEP);
    (current - 1..=current + 1).find(|s| code_at(secret, *s).as_deref() == Some(code))
}

/// A recovery code: ten characters easy to read back (no 0/o, 1/l/i), as `ab3d9-k2m7q`.
fn recovery_code() -> String {
    use rand::RngCore as _;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let text: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{}-{}", &text[..5], &text[5..])
}

/// A code as people type it: digits, spaces dropped.
fn digits(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A form page again, with its status (the code refused, too many tries).
fn again<T: Template>(
    state: &AppState,
    page: Page,
    status: StatusCode,
    view: &T,
) -> AppResult<Response> {
    Ok((status, page.with_forms().render(state, view)?).into_response())
}

/// The second step's form again, with `error`.
fn code_again(
    state: &AppState,
    page: Page,
    status: StatusCode,
    error: &str,
) -> AppResult<Response> {
    let view = CodePage {
        error: Some(error.to_string()),
    };
    again(state, page, status, &view)
}

#[derive(sql::Row)]
struct TotpState {
    totp_secret: Option<String>,
    totp_enabled_at: Option<i64>,
}

async fn state_of(state: &AppState, account: &AccountId) -> AppResult<TotpState> {
    Ok(sql::query_as::<TotpState>(
        "SELECT totp_secret, totp_enabled_at FROM accounts WHERE id = $1",
    )
    .bind(&account.0)
    .fetch_optional(state.db.platform())
    .await?
    .unwrap_or(TotpState {
        totp_secret: None,
        totp_enabled_at: None,
    }))
}

/// Whether `account` signs in with a second factor.
pub async fn enabled(state: &AppState, account: &AccountId) -> AppResult<bool> {
    Ok(state_of(state, account).await?.totp_enabled_at.is_some())
}

async fn is_platform_admin(state: &AppState, account: &AccountId) -> bool {
    state
        .authz
        .roles_of(account, PLATFORM_DOMAIN)
        .await
        .contains(&Role::PlatformAdmin)
}

/// `auth/security.html`.
#[derive(Serialize, Default)]
struct SecurityPage {
    /// On since (a Unix time), or none.
    enabled_at: Option<i64>,
    /// Enrolling: the QR code (SVG) and the secret to type in, grouped by four.
    qr_svg: Option<String>,
    secret: Option<String>,
    /// Just turned on: the recovery codes, shown this once.
    recovery: Vec<String>,
    /// Recovery codes left.
    recovery_left: i64,
    /// Platform administrators cannot turn it off.
    required: bool,
    error: Option<String>,
    notice: Option<String>,
}

impl Template for SecurityPage {
    const NAME: &'static str = "auth/security.html";
}

#[derive(Deserialize)]
struct SecurityQuery {
    requis: Option<String>,
}

async fn security_page(
    State(state): State<AppState>,
    page: Page,
    SignedIn(account): SignedIn,
    Query(q): Query<SecurityQuery>,
) -> AppResult<Response> {
    let mut view = view_of(&state, &account.id, &account.email).await?;
    if q.requis.is_some() && view.enabled_at.is_none() {
        view.notice = Some(
            "L'administration de la plateforme demande la double authentification : activez-la pour continuer."
                .into(),
        );
    }
    Ok(page.with_forms().render(&state, &view)?.into_response())
}

async fn view_of(state: &AppState, account: &AccountId, email: &str) -> AppResult<SecurityPage> {
    let s = state_of(state, account).await?;
    let mut view = SecurityPage {
        enabled_at: s.totp_enabled_at,
        required: is_platform_admin(state, account).await,
        ..SecurityPage::default()
    };
    match (&s.totp_secret, s.totp_enabled_at) {
        (Some(secret), None) => {
            let totp = totp(secret, email)
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("secret TOTP illisible")))?;
            let qr = qrcode::QrCode::new(totp.get_url().as_bytes())
                .map_err(|e| AppError::Internal(anyhow::anyhow!("QR : {e}")))?;
            let svg = qr
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // The SVG element alone: its XML declaration has no place in an HTML page.
            view.qr_svg = svg.find("<svg").map(|at| svg[at..].to_string());
            view.secret = Some(
                secret
                    .as_bytes()
                    .chunks(4)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        (_, Some(_)) => {
            view.recovery_left = sql::query_scalar::<i64>(
                "SELECT COUNT(*) FROM totp_recovery_codes WHERE account_id = $1 AND used_at IS NULL",
            )
            .bind(&account.0)
            .fetch_one(state.db.platform())
            .await?;
        }
        _ => {}
    }
    Ok(view)
}

/// Starts enrolling: a new secret, shown as a QR code until a code proves the app has it.
async fn start(State(state): State<AppState>, SignedIn(account): SignedIn) -> AppResult<Response> {
    if enabled(&state, &account.id).await? {
        return Ok(Redirect::to("/mon-compte/securite").into_response());
    }
    let secret = totp_rs::Secret::generate_secret().to_encoded().to_string();
    let _turn = state.db.write_turn().await?;
    sql::query("UPDATE accounts SET totp_secret = $1, totp_last_step = NULL WHERE id = $2 AND totp_enabled_at IS NULL")
        .bind(&secret)
        .bind(&account.id.0)
        .execute(state.db.platform())
        .await?;
    Ok(Redirect::to("/mon-compte/securite").into_response())
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

/// Proves the app has the secret: turns it on and gives the recovery codes, once.
async fn confirm(
    State(state): State<AppState>,
    page: Page,
    SignedIn(account): SignedIn,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let s = state_of(&state, &account.id).await?;
    let (Some(secret), None) = (s.totp_secret, s.totp_enabled_at) else {
        return Ok(Redirect::to("/mon-compte/securite").into_response());
    };
    let at = now();
    let Some(step) = matching_step(&secret, &digits(&form.code), at) else {
        let mut view = view_of(&state, &account.id, &account.email).await?;
        view.error = Some("Ce code ne correspond pas : tapez le code à 6 chiffres que l'application affiche maintenant.".into());
        return again(&state, page, StatusCode::UNPROCESSABLE_ENTITY, &view);
    };
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    {
        let mut tx = state.db.begin_immediate().await?;
        sql::query("UPDATE accounts SET totp_enabled_at = $1, totp_last_step = $2 WHERE id = $3 AND totp_enabled_at IS NULL")
            .bind(at)
            .bind(step)
            .bind(&account.id.0)
            .execute(&mut tx)
            .await?;
        sql::query("DELETE FROM totp_recovery_codes WHERE account_id = $1")
            .bind(&account.id.0)
            .execute(&mut tx)
            .await?;
        for code in &codes {
            sql::query("INSERT INTO totp_recovery_codes (account_id, code_hash) VALUES ($1, $2)")
                .bind(&account.id.0)
                .bind(token_hash(code))
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
    }
    let mut view = view_of(&state, &account.id, &account.email).await?;
    view.recovery = codes;
    view.notice = Some("La double authentification est activée.".into());
    Ok(page.with_forms().render(&state, &view)?.into_response())
}

/// Turns it off: the password and a current code (platform administrators cannot).
async fn turn_off(
    State(state): State<AppState>,
    page: Page,
    SignedIn(account): SignedIn,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if is_platform_admin(&state, &account.id).await {
        return Err(AppError::forbidden(
            "Les administrateurs de la plateforme gardent la double authentification.",
        ));
    }
    let password_ok =
        crate::accounts::service::password_matches(&state.db, &account.id, &form.password)
            .await
            .unwrap_or(false);
    let code_ok = password_ok && accept_code(&state, &account.id, &form.code).await?;
    if !code_ok {
        let mut view = view_of(&state, &account.id, &account.email).await?;
        view.error = Some(
            "Mot de passe ou code incorrect : la double authentification reste activée.".into(),
        );
        return again(&state, page, StatusCode::UNPROCESSABLE_ENTITY, &view);
    }
    let mut tx = state.db.begin_immediate().await?;
    clear_factors(&mut tx, &account.id).await?;
    tx.commit().await?;
    Ok(Redirect::to("/mon-compte/securite").into_response())
}

/// Accepts `code` for `account` once: a TOTP code of a step later than the last accepted
/// (taken in one conditional update, so two requests with the same code cannot both pass), or
/// an unused recovery code.
async fn accept_code(state: &AppState, account: &AccountId, code: &str) -> AppResult<bool> {
    let code = digits(code).to_lowercase();
    let s = state_of(state, account).await?;
    let Some(secret) = s.totp_secret.filter(|_| s.totp_enabled_at.is_some()) else {
        return Ok(false);
    };
    let _turn = state.db.write_turn().await?;
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(step) = matching_step(&secret, &code, now()) else {
            return Ok(false);
        };
        let taken = sql::query(
            "UPDATE accounts SET totp_last_step = $1 WHERE id = $2 \
             AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(&account.0)
        .execute(state.db.platform())
        .await?;
        return Ok(taken.rows_affected() == 1);
    }
    let used = sql::query(
        "UPDATE totp_recovery_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now())
    .bind(&account.0)
    .bind(token_hash(&code))
    .execute(state.db.platform())
    .await?;
    Ok(used.rows_affected() == 1)
}

/// After the right password: the challenge instead of a session when the account has a
/// second factor (`None`: open the session now).
pub async fn challenge(
    state: &AppState,
    account: &AccountId,
    next: &str,
    id_token: Option<&str>,
) -> AppResult<Option<Response>> {
    if !enabled(state, account).await? {
        return Ok(None);
    }
    let token = random_token();
    let at = now();
    {
        let _turn = state.db.write_turn().await?;
        sql::query(
            "INSERT INTO login_challenges (token_hash, account_id, next, created_at, expires_at, id_token) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash(&token))
        .bind(&account.0)
        .bind(next)
        .bind(at)
        .bind(at + CHALLENGE_TTL_SECS)
        .bind(id_token)
        .execute(state.db.platform())
        .await?;
    }
    let mut response = Redirect::to("/connexion/code").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::cookie_header(
            CHALLENGE_COOKIE,
            &token,
            CHALLENGE_TTL_SECS,
            state.config.https,
        ),
    );
    Ok(Some(response))
}

/// `auth/code.html`.
#[derive(Serialize)]
struct CodePage {
    error: Option<String>,
}

impl Template for CodePage {
    const NAME: &'static str = "auth/code.html";
}

async fn code_form(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
) -> AppResult<Response> {
    if read_cookie(&headers, CHALLENGE_COOKIE).is_none() {
        return Ok(Redirect::to("/connexion").into_response());
    }
    Ok(page
        .with_forms()
        .render(&state, &CodePage { error: None })?
        .into_response())
}

#[derive(sql::Row)]
struct Challenge {
    account_id: AccountId,
    next: String,
    attempts: i64,
    id_token: Option<String>,
}

async fn code_check(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let expired = |page: Page, state: &AppState| {
        code_again(
            state,
            page,
            StatusCode::UNAUTHORIZED,
            "Cette connexion a expiré : reconnectez-vous avec votre mot de passe.",
        )
    };
    let Some(token) = read_cookie(&headers, CHALLENGE_COOKIE) else {
        return expired(page, &state);
    };
    let hash = token_hash(&token);
    // Each attempt is counted before the code is looked at: five, then the password again.
    let challenge = {
        let _turn = state.db.write_turn().await?;
        sql::query_as::<Challenge>(
            "UPDATE login_challenges SET attempts = attempts + 1 WHERE token_hash = $1 \
             AND expires_at > $2 RETURNING account_id, next, attempts, id_token",
        )
        .bind(&hash)
        .bind(now())
        .fetch_optional(state.db.platform())
        .await?
    };
    let Some(challenge) = challenge else {
        return expired(page, &state);
    };
    if challenge.attempts > MAX_ATTEMPTS {
        let _turn = state.db.write_turn().await?;
        sql::query("DELETE FROM login_challenges WHERE token_hash = $1")
            .bind(&hash)
            .execute(state.db.platform())
            .await?;
        return code_again(
            &state,
            page,
            StatusCode::TOO_MANY_REQUESTS,
            "Trop d'essais : reconnectez-vous avec votre mot de passe.",
        );
    }
    if !accept_code(&state, &challenge.account_id, &form.code).await? {
        return code_again(
            &state,
            page,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Code incorrect, ou déjà utilisé : tapez le code que l'application affiche maintenant, ou un code de secours.",
        );
    }
    {
        let _turn = state.db.write_turn().await?;
        sql::query("DELETE FROM login_challenges WHERE token_hash = $1")
            .bind(&hash)
            .execute(state.db.platform())
            .await?;
    }
    let scope = CookieScope::for_request(&state.config, &headers);
    let cookie = session::open_with(
        &state.db,
        &challenge.account_id,
        None,
        challenge.id_token.as_deref(),
        &scope,
    )
    .await?;
    let next = crate::util::same_origin_path(&challenge.next).unwrap_or_else(|| "/".into());
    let mut response = Redirect::to(&next).into_response();
    let h = response.headers_mut();
    h.append(header::SET_COOKIE, cookie);
    h.append(
        header::SET_COOKIE,
        session::cookie_header(CHALLENGE_COOKIE, "", 0, state.config.https),
    );
    Ok(response)
}

/// Turns the two factors of the account at `email` off, for an operator once its owner has
/// proved who they are by other means (phone and recovery codes lost): the secret, the
/// recovery codes, the sign-ins waiting for a code and every session go. A platform
/// administrator is asked to turn them on again at their next visit of the back-office.
/// Returns the address found, or none.
pub async fn turn_off_by_email(
    db: &crate::db::Db,
    email: &str,
) -> Result<Option<String>, sqlx::Error> {
    let email = email.trim().to_lowercase();
    let mut tx = db.begin_immediate().await?;
    let found: Option<AccountId> = sql::query_scalar("SELECT id FROM accounts WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut tx)
        .await?;
    let Some(id) = found else {
        return Ok(None);
    };
    clear_factors(&mut tx, &id).await?;
    for statement in [
        "DELETE FROM sso_codes WHERE account_id = $1",
        "DELETE FROM sessions WHERE account_id = $1",
    ] {
        sql::query(statement).bind(&id.0).execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(Some(email))
}

/// Turns `account`'s two factors off in `tx`: its secret, its recovery codes and the sign-ins
/// waiting for a code go. Its sessions are the caller's to keep or end.
async fn clear_factors(
    tx: &mut crate::db::PlatformTx,
    account: &AccountId,
) -> Result<(), sqlx::Error> {
    sql::query(
        "UPDATE accounts SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL \
         WHERE id = $1",
    )
    .bind(&account.0)
    .execute(&mut *tx)
    .await?;
    for statement in [
        "DELETE FROM totp_recovery_codes WHERE account_id = $1",
        "DELETE FROM login_challenges WHERE account_id = $1",
    ] {
        sql::query(statement)
            .bind(&account.0)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Middleware: the platform's back-office (`/admin` on the platform's site) opens only to an
/// administrator who has turned two-factor authentication on; others are sent to turn it on.
pub async fn required_for_platform_admins(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let admin_path = req.uri().path() == "/admin" || req.uri().path().starts_with("/admin/");
    let on_platform = matches!(req.extensions().get::<Site>(), Some(Site::Platform));
    let account = match req.extensions().get::<Viewer>() {
        Some(Viewer(Some(a))) => Some(a.id.clone()),
        _ => None,
    };
    if let (true, true, Some(account)) = (admin_path, on_platform, account)
        && is_platform_admin(&state, &account).await
        && !enabled(&state, &account).await.unwrap_or(false)
    {
        let mut response = Redirect::to("/mon-compte/securite?requis=1").into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_rfc_6238() {
        // RFC 6238, appendix B: the SHA-1 seed "12345678901234567890", 8 digits there; the
        // same HMAC truncated to 6 digits is what authenticator apps show.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(code_at(secret, 59 / STEP).as_deref(), Some("287082"));
        assert_eq!(
            code_at(secret, 1_111_111_109 / STEP).as_deref(),
            Some("081804")
        );
        assert_eq!(
            code_at(secret, 2_000_000_000 / STEP).as_deref(),
            Some("279037")
        );
        let at = 2_000_000_000;
        assert_eq!(matching_step(secret, "279037", at), Some(at / STEP));
        assert_eq!(matching_step(secret, "279037", at + STEP), Some(at / STEP));
        assert_eq!(matching_step(secret, "279037", at + 2 * STEP), None);
        assert_eq!(digits(" 279 037 "), "279037");
    }
}
