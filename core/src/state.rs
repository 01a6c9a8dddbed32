//! Application state: every part a handler may need, cheap to clone.
//!
//! It lives above the features (it holds their limiters and caches); the HTTP layer (`web`)
//! sees only what it needs of it, `web::Web`, handed out through axum's `FromRef` (its
//! middlewares take `State<Web>`, its extractors read it from any state that gives one), and
//! module calls only the host services (`modules::services`).

use std::sync::Arc;

use axum::extract::FromRef;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::accounts::LoginLimiter;
use crate::authz::Authz;
use crate::communes::search::CommuneIndex;
use crate::communes::service::HomeCache;
use crate::config::Config;
use crate::db::Db;
use crate::jobs::Jobs;
use crate::modules::registry::ModuleHost;
use crate::modules::services::Payments;
use crate::web::render::Templates;
use crate::web::site::SiteResolver;

/// Shared state of the running host.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// Storage.
    pub db: Db,
    /// Page templates.
    pub templates: Templates,
    /// Host → tenant resolution, with its cache.
    pub sites: Arc<SiteResolver>,
    /// casbin enforcer.
    pub authz: Arc<Authz>,
    /// Durable job queue.
    pub jobs: Jobs,
    /// Login attempt limiter.
    pub login_limiter: LoginLimiter,
    /// Private message limiter (new threads and messages per account).
    pub message_limiter: crate::messages::limiter::MessageLimiter,
    /// Feed limiter (posts, comments, reactions and evaluations per account).
    pub feed_limiter: crate::feed::limiter::FeedLimiter,
    /// Subscription requests filed per account (each one is a platform admin's phone call).
    pub subscription_limiter: crate::platform::requests::RequestLimiter,
    /// Claims of officials' profiles filed per account and per address.
    pub claim_limiter: crate::officials::limiter::ClaimLimiter,
    /// In-memory search over all communes.
    pub communes: Arc<CommuneIndex>,
    /// Rendered anonymous commune pages, and what signed-in ones share.
    pub home_cache: Arc<HomeCache>,
    /// Posts' cards as everyone sees them, kept while their commune's version is the same.
    pub cards: Arc<crate::feed::service::CardCache>,
    /// Pages of each person's feed, kept for them while what it is made of is the same.
    pub feeds: Arc<crate::feed::service::FeedCache>,
    /// What each person's feed is made of, kept while it holds.
    pub fingerprints: Arc<crate::feed::store::Fingerprints>,
    /// What is happening now in each commune, as its modules tell it.
    pub now: Arc<crate::modules::now::NowCache>,
    /// The feed's « En ce moment » sections, rendered.
    pub now_sections: Arc<crate::feed::service::NowSections>,
    /// Feature modules (wasm components).
    pub modules: Arc<ModuleHost>,
    /// Prometheus renderer for `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// What the header counts for a signed-in person (unread messages).
    pub header: Arc<dyn crate::web::HeaderCounts>,
    /// Online payments (set by billing at start; empty: payment not configured).
    pub payments: Payments,
    /// What session statements read, kept while it holds.
    pub sessions: Arc<crate::web::session::Sessions>,
    /// Hand-off codes made per account (`/sso/depart`): each is a row, swept a minute later.
    pub sso_handoffs: crate::rate_limit::RateLimit<String>,
    /// Sign-in with FranceConnect (an OpenID Connect client), when configured.
    pub franceconnect: crate::accounts::franceconnect::Provider,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl FromRef<AppState> for crate::web::Web {
    fn from_ref(state: &AppState) -> crate::web::Web {
        crate::web::Web {
            config: state.config.clone(),
            db: state.db.clone(),
            templates: state.templates.clone(),
            sites: state.sites.clone(),
            metrics: state.metrics.clone(),
            header: state.header.clone(),
            communes: state.communes.clone(),
            sessions: state.sessions.clone(),
        }
    }
}
