//! Application state: everything a handler may need, cheap to clone.

use std::sync::{Arc, OnceLock, Weak};

use metrics_exporter_prometheus::PrometheusHandle;

use crate::accounts::LoginLimiter;
use crate::authz::Authz;
use crate::communes::search::CommuneIndex;
use crate::communes::service::HomeCache;
use crate::config::Config;
use crate::db::Db;
use crate::jobs::Jobs;
use crate::web::render::Templates;
use crate::web::site::SiteResolver;

/// Shared state of the running host.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// Validated configuration.
    pub config: Config,
    /// Storage.
    pub db: Db,
    /// Page templates.
    pub templates: Templates,
    /// Host → tenant resolution, with its cache.
    pub sites: SiteResolver,
    /// casbin enforcer.
    pub authz: Authz,
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
    pub communes: CommuneIndex,
    /// Rendered anonymous commune pages.
    pub home_cache: HomeCache,
    /// Feature modules (wasm components).
    pub modules: crate::modules::registry::ModuleHost,
    /// Prometheus renderer for `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// Online payments (set by billing at start; empty: payment not configured).
    pub payments: std::sync::OnceLock<Arc<dyn crate::payments::PaymentGateway>>,
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

/// The state, for a job handler built before it (the state owns the job queue, which owns the
/// handlers): set once the state exists, and held weakly so that it is not kept alive by its
/// own queue.
#[derive(Clone, Default)]
pub struct LateState(Arc<OnceLock<Weak<Inner>>>);

impl LateState {
    /// Hands the state over (once).
    pub fn set(&self, state: &AppState) {
        let _ = self.0.set(Arc::downgrade(&state.0));
    }

    /// The state, if set and still running.
    pub fn get(&self) -> Option<AppState> {
        self.0.get().and_then(Weak::upgrade).map(AppState)
    }
}
