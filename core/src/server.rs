//! Assembling the host: state from configuration, the router with its layers, and serving.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, MatchedPath, Request};
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::accounts::LoginLimiter;
use crate::authz::Authz;
use crate::config::Config;
use crate::db::Db;
use crate::jobs::{Handlers, Jobs};
use crate::mail::Mailer;
use crate::state::AppState;
use crate::state::Inner;
use crate::web::render::Templates;
use crate::web::site::SiteResolver;
use crate::web::{Web, csrf, errors, health, session, site};

/// Largest request body (logo uploads are 2 MB; forms far less).
const MAX_BODY: usize = 4 << 20;

fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .clone()
}

/// Connects, migrates, loads policies and the commune index, and wires the job handlers.
/// `extra_templates` are the admin back-office's and billing's folders.
pub async fn build_state(
    config: Config,
    extra_templates: &[&include_dir::Dir<'_>],
) -> anyhow::Result<AppState> {
    crate::rate_limit::set_slowdown(config.rate_limit_slowdown);
    let db = Db::connect(&config.database_url)
        .await
        .with_context(|| format!("connexion à la base {}", redact(&config.database_url)))?;
    db.migrate().await?;
    db.listen_for_changes(&config.database_url);
    let templates = Templates::new(extra_templates).context("templates")?;
    let mailer = Mailer::new(config.smtp_url.as_deref(), &config.mail_from)?;
    let mut handlers = Handlers::default();
    handlers.add::<crate::mail::Email>(Arc::new(crate::mail::MailJobs {
        mailer,
        db: db.clone(),
    }));
    if let Some(url) = &config.sms_url {
        handlers.add::<crate::notifications::sms::TextMessage>(Arc::new(
            crate::notifications::sms::SmsSender::new(
                url,
                config.sms_token.clone(),
                &config.sms_sender,
                db.clone(),
            )?,
        ));
    }
    let vapid = crate::notifications::push::vapid::load_or_create(&db, &config)
        .await
        .context("clé VAPID des notifications push")?;
    handlers.add::<crate::notifications::push::PushMessage>(Arc::new(
        crate::notifications::push::sender::PushSender::new(
            db.clone(),
            vapid,
            &config.vapid_subject,
            config.push_allow_loopback_http,
        )?,
    ));
    handlers.add::<crate::notifications::PostPublished>(Arc::new(crate::notifications::FanOut {
        db: db.clone(),
    }));
    handlers.add::<crate::notifications::Notice>(Arc::new(crate::notifications::SendNotices {
        db: db.clone(),
    }));
    // The module host is built before the job queue whose erasure handler calls modules; it
    // reaches only the host services (and wakes the queue through its wake-up).
    let authz = Arc::new(Authz::load(db.clone()).await?);
    crate::officials::service::mend_official_roles(&db, &authz)
        .await
        .context("rôles des élus")?;
    let home_cache = Arc::new(crate::communes::service::HomeCache::default());
    let payments = crate::modules::services::Payments::default();
    let wake_jobs = Arc::new(tokio::sync::Notify::new());
    let services = crate::modules::services::HostServices::new(
        &config,
        db.clone(),
        authz.clone(),
        wake_jobs.clone(),
        home_cache.clone(),
        payments.clone(),
    );
    let modules = Arc::new(crate::modules::registry::ModuleHost::new(
        &config,
        Default::default(),
        services,
    )?);
    modules.sync(&db).await.context("chargement des modules")?;
    modules.start_warming();
    handlers.add::<crate::modules::personal::AccountDeleted>(
        crate::modules::personal::EraseAccountData::new(modules.clone()),
    );
    let jobs = Jobs::new(db.clone(), handlers, wake_jobs);
    let communes = Arc::new(crate::communes::search::CommuneIndex::default());
    communes.reload(&db).await?;
    let header = Arc::new(crate::messages::service::UnreadMessages::new(
        authz.clone(),
        db.clone(),
    ));
    let state = AppState::new(Inner {
        sites: Arc::new(SiteResolver::new(&config.base_domain)),
        header,
        templates,
        authz,
        jobs,
        login_limiter: LoginLimiter::default(),
        message_limiter: Default::default(),
        feed_limiter: Default::default(),
        subscription_limiter: Default::default(),
        claim_limiter: Default::default(),
        communes,
        home_cache,
        cards: Arc::new(crate::web::shared::Versioned::new(
            crate::feed::service::CARDS_KEPT,
        )),
        feeds: Arc::new(crate::web::shared::Versioned::new(
            crate::feed::service::FEEDS_KEPT,
        )),
        modules,
        metrics: metrics_handle(),
        payments,
        sessions: Default::default(),
        franceconnect: crate::accounts::franceconnect::Provider::new(config.franceconnect.clone()),
        // A person opens a few communes' own domains a minute, not hundreds.
        sso_handoffs: crate::rate_limit::RateLimit::per_minute(60),
        fingerprints: Default::default(),
        now: Default::default(),
        now_sections: Default::default(),
        db,
        config: Arc::new(config),
    });
    Ok(state)
}

/// Hides the password of a database URL in messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

const CSS: &str = include_str!("../static/parvis.css");
const SEARCH_JS: &str = include_str!("../static/search.js");

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn search_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SEARCH_JS,
    )
        .into_response()
}

async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("parvis_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("parvis_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The whole router: core pages plus `extra` (admin back-office, later modules and billing).
pub fn router(state: AppState, extra: Router<AppState>) -> Router {
    // The HTTP layer's middlewares see only their part of the state.
    let web = Web::from_ref(&state);
    let sites = Router::new()
        .merge(crate::communes::routes::routes())
        .merge(crate::neighbourhoods::routes::routes())
        .merge(crate::accounts::routes::routes())
        .merge(crate::accounts::sso::routes())
        .merge(crate::accounts::totp::routes())
        .merge(crate::accounts::franceconnect::routes())
        .merge(crate::platform::routes::routes())
        .merge(crate::platform::app::routes())
        .merge(crate::officials::routes::routes())
        .merge(crate::feed::routes::routes())
        .merge(crate::moderation::routes::routes())
        .merge(crate::privacy::routes::routes())
        .merge(crate::notifications::routes::routes())
        .merge(crate::messages::routes::routes())
        .merge(crate::media::routes::routes())
        .merge(crate::modules::api::routes())
        .merge(crate::profiles::routes::routes())
        .merge(crate::candidates::routes::routes())
        .merge(crate::modules::routes::routes())
        .merge(extra)
        .fallback(errors::not_found)
        .layer(middleware::from_fn(
            crate::web::path_guard::refuse_control_characters,
        ))
        .layer(middleware::from_fn_with_state(web.clone(), csrf::protect))
        .layer(middleware::from_fn(crate::web::body::paced))
        .layer(middleware::from_fn_with_state(
            web.clone(),
            errors::render_error_pages,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::accounts::totp::required_for_platform_admins,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::accounts::sso::hand_over,
        ))
        .layer(middleware::from_fn_with_state(
            web.clone(),
            session::load_viewer,
        ))
        .layer(middleware::from_fn_with_state(
            web.clone(),
            site::resolve_site,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/static/parvis.css", get(css))
        .route("/static/search.js", get(search_js))
        .route(
            "/static/map.js",
            get(|h: HeaderMap| async move { crate::web::assets::MAP_JS.respond(&h) }),
        )
        .route(
            "/static/vendor/leaflet.js",
            get(|h: HeaderMap| async move { crate::web::assets::LEAFLET_JS.respond(&h) }),
        )
        .route(
            "/static/vendor/leaflet.css",
            get(|h: HeaderMap| async move { crate::web::assets::LEAFLET_CSS.respond(&h) }),
        )
        .merge(crate::notifications::push::routes::static_routes())
        .merge(crate::platform::app::static_routes())
        .merge(sites)
        .layer(middleware::from_fn_with_state(
            web,
            crate::web::security::headers,
        ))
        .layer(middleware::from_fn(track))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// The router of `PARVIS_METRICS_BIND`: only `/metrics`, for a scraper on a private network.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::private_metrics))
        .with_state(Web::from_ref(&state))
}

/// Background work of a running host: the job worker and periodic refreshes.
pub fn spawn_background(state: &AppState) {
    state.jobs.spawn_worker();
    crate::modules::spawn_background(&state.modules);
    crate::notifications::digest::spawn(state.db.clone(), state.templates.clone());
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        while !state.db.is_closed() {
            tick.tick().await;
            if let Err(e) = state.communes.reload(&state.db).await {
                tracing::warn!(error = %e, "commune index refresh failed");
            }
            if let Err(e) = state.authz.refresh().await {
                tracing::warn!(error = %e, "authorization refresh failed");
            }
            for table in ["sessions", "login_challenges", "sso_codes", "oidc_logins"] {
                let _ =
                    crate::db::sql::query(&format!("DELETE FROM {table} WHERE expires_at < $1"))
                        .bind(crate::util::now())
                        .execute(state.db.platform())
                        .await;
            }
        }
    });
}

/// How long a client may take to send a request's line and headers. Without it a client
/// sending a header a byte at a time (slowloris) held its connection, a task and a file
/// descriptor for as long as it liked: hyper only keeps its own 30 s default when it is
/// given a timer, which `axum::serve` does not. Bodies have their own deadlines (the module
/// routes' `read_body`).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish (idle keep-alive connections are closed at once).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // the listener itself is fine, try again shortly (as `axum::serve` does).
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(remote));
                app.clone().oneshot(request.map(axum::body::Body::new))
            });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service);
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    connections.shutdown().await;
    Ok(())
}
