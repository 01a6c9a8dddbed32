//! What a module call may reach of the host, and nothing more: the database (through the
//! commune's handle, opened per call), the commune's role assignments, the job queue's wake-up,
//! the commune page cache, the payment service and whether text messages are configured.
//!
//! The module host holds these, not the application's state: a call cannot reach the
//! configuration's secrets, another feature's limiter or the template engine, and the host
//! can be built before the job queue whose erasure handler calls modules (no cycle, no
//! late-bound state).

use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

use crate::authz::Authz;
use crate::communes::service::HomeCache;
use crate::config::{Config, Origins};
use crate::db::{Db, TenantDb};
use crate::payments::PaymentGateway;
use crate::types::TenantId;

/// The payment service, plugged in by billing at start (empty: payment not configured).
pub type Payments = Arc<OnceLock<Arc<dyn PaymentGateway>>>;

/// The host services of module calls (cheap to clone).
#[derive(Clone)]
pub struct HostServices {
    db: Db,
    authz: Arc<Authz>,
    wake_jobs: Arc<Notify>,
    home_cache: Arc<HomeCache>,
    payments: Payments,
    origins: Origins,
    sms: bool,
    /// What modules keep in memory ([`crate::modules::cache`]).
    module_cache: Arc<crate::modules::cache::ModuleCache>,
}

impl HostServices {
    /// The services, from the parts the server builds at start. `wake_jobs` is the job queue's
    /// wake-up (see `Jobs::new`).
    pub fn new(
        config: &Config,
        db: Db,
        authz: Arc<Authz>,
        wake_jobs: Arc<Notify>,
        home_cache: Arc<HomeCache>,
        payments: Payments,
    ) -> HostServices {
        HostServices {
            db,
            authz,
            wake_jobs,
            home_cache,
            payments,
            origins: config.origins(),
            sms: config.sms_url.is_some(),
            module_cache: Arc::default(),
        }
    }

    /// What modules keep in memory, every commune's.
    pub fn module_cache(&self) -> &crate::modules::cache::ModuleCache {
        &self.module_cache
    }

    /// The database seen from one commune.
    pub fn tenant(&self, tenant: TenantId) -> TenantDb {
        self.db.tenant(tenant)
    }

    /// The database (platform tables: installed versions, the communes a module serves).
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Role assignments.
    pub(crate) fn authz(&self) -> &Authz {
        &self.authz
    }

    /// Wakes the job queue (after a transaction that queued jobs committed).
    pub(crate) fn wake_jobs(&self) {
        self.wake_jobs.notify_one();
    }

    /// Forgets a commune's cached home page (something it shows changed).
    pub(crate) fn home_changed(&self, tenant: TenantId) {
        self.home_cache.invalidate(tenant);
    }

    /// The payment service, if billing plugged one in.
    pub(crate) fn payments(&self) -> Option<Arc<dyn PaymentGateway>> {
        self.payments.get().cloned()
    }

    /// Whether text messages can be sent (an SMS gateway is configured).
    pub(crate) fn sms_configured(&self) -> bool {
        self.sms
    }

    /// `scheme://<slug>.<base domain>[:port]`: links in what is sent outside a request.
    pub(crate) fn commune_origin(&self, slug: &str) -> String {
        self.origins.commune(slug)
    }
}
