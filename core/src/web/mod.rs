//! The HTTP layer shared by every feature: site (tenant) resolution, sessions, CSRF, page
//! rendering, error pages, health and metrics.
//!
//! It names no feature: it sees of the application's state only [`Web`], handed out by the
//! state through axum's `FromRef`, and learns what the header counts (unread messages)
//! through [`HeaderCounts`], which the feature that owns the count implements.

pub mod assets;
pub mod body;
pub mod csrf;
pub mod errors;
pub mod health;
pub mod path_guard;
pub mod render;
pub mod security;
pub mod session;
pub mod shared;
pub mod site;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Config;
use crate::db::Db;
use crate::types::{AccountId, TenantId};

pub use render::Page;
pub use session::{SignedIn, Viewer};
pub use site::{CommuneSite, Site, Tenant};

/// The part of the application's state the HTTP layer needs (cheap to clone: handles).
#[derive(Clone)]
pub struct Web {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// Storage (sessions, site resolution, health).
    pub db: Db,
    /// Page templates.
    pub templates: render::Templates,
    /// Host → site resolution, with its cache.
    pub sites: Arc<site::SiteResolver>,
    /// Prometheus renderer for `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// What the header counts for a signed-in person.
    pub header: Arc<dyn HeaderCounts>,
    /// Every commune of the registry (a commune not yet opened is named on its address).
    pub communes: Arc<crate::communes::search::CommuneIndex>,
    /// What session statements read, kept while it holds.
    pub sessions: Arc<session::Sessions>,
}

/// What the header of a commune's page counts for a signed-in person, from the feature that
/// owns it.
pub trait HeaderCounts: Send + Sync {
    /// Unread messages of `account` in commune `tenant`, whose messages were at version
    /// `messages` when the request's session was read (a count kept at that version may be
    /// reused; `None`: count them).
    fn unread_messages<'a>(
        &'a self,
        tenant: TenantId,
        account: &'a AccountId,
        messages: Option<i64>,
    ) -> BoxFuture<'a, Result<i64, sqlx::Error>>;
}

/// Whether a request's `If-None-Match` names `etag` (a quoted tag, or `*`): the client's copy
/// is current and a 304 answers it.
pub fn etag_matches(headers: &axum::http::HeaderMap, etag: &str) -> bool {
    headers
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}
