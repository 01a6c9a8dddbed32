//! One module call: a fresh instance from the pool in a fresh `Store`, bounded in memory,
//! time and output, whose imports are bound to the request's tenant and the module, and whose
//! writes form one transaction committed only when the call succeeds.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::db::{GroupTx, TenantDb};
use crate::modules::bindings::parvis::module::types::{
    Commune, Event, PersonalRecord, Request, Response, Viewer,
};
use crate::modules::engine::CallLimits;
use crate::modules::registry::{Admitted, LoadedModule, MemoryBudget, ModuleHost, TenantGates};
use crate::modules::services::HostServices;
use crate::types::{ModuleId, TenantId};

/// What a module declared it needs (`capability` in the WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// `storage`.
    Storage,
    /// `notify`.
    Notify,
    /// `feed`.
    Feed,
    /// `payments`.
    Payments,
    /// Scheduled `tick` events.
    Tick,
}

/// Host calls one module call may make through the imports that reach the database or the
/// outside (storage, notify, feed, payments). Past it they answer « plus de 20000 appels à
/// l'hôte dans une seule requête ».
pub const MAX_HOST_CALLS: u32 = 20_000;
/// Calls of the runtime's cheap imports (`now-ms`, `new-id`, `random-bytes`, `log`) one
/// module call may make: they cannot answer an error, so past it the call ends with
/// [`Fault::HostCalls`]. Polling `now-ms` in a busy loop for a few hundred milliseconds fits.
pub const MAX_RUNTIME_CALLS: u32 = 100_000;
/// The most a call's deadline moves for the database's time and for the documents it read
/// (see [`CallState::read_documents`]): an export of a large poll gets the time its size
/// needs, and no call runs unbounded. It does not cover waits the host caused (see
/// [`MAX_EXCUSED_WAIT`]), which are bounded on their own.
pub const MAX_EXTRA_TIME: Duration = Duration::from_secs(10);
/// The longest a call waits for what others hold: a database connection or transaction slot
/// of its commune, SQLite's writer. Past it the call is shed as [`Fault::Overloaded`] (503,
/// `Retry-After`, not charged to the module). The wait does not count against the deadline.
pub const HOST_WAIT: Duration = Duration::from_secs(5);
/// The longest a call waits for the payment provider at one checkout (not counted against
/// the deadline); past it the checkout fails with an error the module is told.
pub const PROVIDER_WAIT: Duration = Duration::from_secs(10);
/// All excused waits of one call together ([`HOST_WAIT`], [`PROVIDER_WAIT`]): with the
/// budget and [`MAX_EXTRA_TIME`], no call lives longer than `time + 10 s + 10 s`.
pub const MAX_EXCUSED_WAIT: Duration = Duration::from_secs(10);
/// A call holding SQLite's single writer holds the whole server's writes: from the moment it
/// takes it, its deadline never moves past this, nor past its own budget. Every other
/// commune's writes (sign-ins included) wait behind it, so this is what one misbehaving
/// module can cost them per turn (`bench/sandbox.sh`: a Paris call writing then spinning
/// until its 2 s deadline kept Lyon's sign-ins at p99 4 s). A vote, a form or an erasure of
/// a commune's data takes milliseconds of it.
pub const MAX_WRITER_HOLD: Duration = Duration::from_secs(1);
/// A call cut at its deadline while one database operation had been running this long is
/// taken to have waited for others (SQLite's lock held by another commune's writer, a slow
/// database): it is shed as [`Fault::Overloaded`], not charged to the module. A module that
/// loops over quick operations is cut as [`Fault::Timeout`].
pub const BLOCKED_IN_DATABASE: Duration = Duration::from_millis(500);
/// Compute time granted per document a call reads from storage: turning a page of 500
/// documents into CSV or HTML is the module's work, but it grows with the data, not with a
/// bug. The 2 s budget then bounds what a module does beyond its data.
const TIME_PER_DOCUMENT: Duration = Duration::from_micros(500);

/// Everything a call's imports see. The tenant is fixed here by the host.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    /// What the call may reach of the host.
    pub(crate) services: HostServices,
    /// The commune's database: `None` only while reading a manifest at install time, when no
    /// import is usable.
    tenant: Option<TenantDb>,
    pub(crate) module: ModuleId,
    /// The module's name, for what the host tells people about it.
    pub(crate) module_name: String,
    /// Checkout sessions, by commune and client (the host's limiter, shared by every call).
    pub(crate) checkout_limit: Arc<crate::rate_limit::RateLimit<(TenantId, ClientKey)>>,
    pub(crate) capabilities: HashSet<Capability>,
    /// The call writes: take the write lock when the transaction starts.
    write: bool,
    tx: Option<GroupTx>,
    /// The read transaction of `get-committed` in a writing call on SQLite before `tx` opens,
    /// with its database permits (see [`CallState::committed_tx`]); ended when `tx` opens.
    committed: Option<(GroupTx, Vec<tokio::sync::OwnedSemaphorePermit>)>,
    /// A host-side failure: the call's writes are rolled back whatever it returns.
    pub(crate) failed: Option<String>,
    /// A read call (a GET) began to write and SQLite refused it, because another connection
    /// committed since the call's first read: it is run again as a writer (see [`run`]).
    pub(crate) read_call_wrote_late: bool,
    host_calls: u32,
    /// Why the host ended the call early (it is cut at once, and answered with this fault).
    cut: Option<Fault>,
    /// Calls of the runtime's imports (see [`MAX_RUNTIME_CALLS`]).
    runtime_calls: u32,
    /// Log lines the module wrote in this call (see `host::runtime::MAX_LOG_LINES`).
    pub(crate) log_lines: u32,
    /// Checkout sessions asked of the payment provider in this call.
    pub(crate) checkouts_asked: u32,
    /// Waits excused so far (at most [`MAX_EXCUSED_WAIT`]).
    excused: Duration,
    /// The commune's gates: database transactions, SQLite writers.
    gates: Option<Arc<TenantGates>>,
    /// The database permits of the open transaction (released after it ends: declared after
    /// `tx`, so dropped after it).
    db_permits: Vec<tokio::sync::OwnedSemaphorePermit>,
    /// Holding SQLite's writer: the deadline stays before this (see [`MAX_WRITER_HOLD`]).
    writer_hold_until: Option<Instant>,
    /// `scheme://host` of the commune, for absolute links in notifications.
    pub(crate) origin: String,
    /// The module's public mount point (`/m/<id>`).
    pub(crate) mount: String,
    /// Work to do once the transaction committed.
    pub(crate) after_commit: AfterCommit,
    /// When the call's time is up, watched by the epoch callback (in wasm code) and by the
    /// runner (in host and WASI calls). Only waits the host caused move it, each bounded.
    deadline: Arc<Deadline>,
    /// How far the deadline moved for database time and documents read (at most
    /// [`MAX_EXTRA_TIME`]).
    extra: Duration,
    /// Who caused the call, when someone outside did.
    pub(crate) client: Option<ClientKey>,
    /// How the commune's name joins a sentence ([`CallContext::name_kind`]).
    pub(crate) name_kind: Option<i64>,
    /// What the call sent so far (notices, posts), for the per-call volume limits.
    pub(crate) volumes: crate::modules::quota::CallVolumes,
    /// What the call wrote to storage, against the quota (see `host::storage`).
    pub(crate) storage: crate::modules::host::storage::CallStorage,
    /// The files of the request, cleaned by the host (see `modules::uploads`).
    pub(crate) uploads: Option<Arc<crate::modules::uploads::Uploads>>,
    /// Handles of the uploads this call kept.
    pub(crate) kept_uploads: HashSet<String>,
}

/// Side effects that wait for the commit.
#[derive(Debug, Default)]
pub(crate) struct AfterCommit {
    /// Jobs were queued: wake the worker.
    pub wake_jobs: bool,
    /// A post was published: the commune's cached home page is stale.
    pub published: bool,
    /// Checkout pages the host created in this call: the only outside addresses the module
    /// may redirect to.
    pub checkouts: Vec<String>,
    /// What the call keeps in or drops from the modules' cache, in order.
    pub cache: Vec<CacheChange>,
}

/// A change to the module's cache, applied when the call succeeds.
#[derive(Debug)]
pub(crate) enum CacheChange {
    Keep {
        key: String,
        value: Arc<str>,
        ttl: Duration,
    },
    Forget {
        key: String,
    },
}

impl CacheChange {
    pub(crate) fn key(&self) -> &str {
        match self {
            CacheChange::Keep { key, .. } | CacheChange::Forget { key } => key,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Why an import refuses to work.
#[derive(Debug)]
pub(crate) enum Denied {
    /// The module did not declare this capability.
    Capability(&'static str),
    /// No tenant (manifest reading) or too many host calls.
    Unavailable(String),
}

impl CallState {
    /// The commune the call serves (`None` while reading a manifest).
    pub(crate) fn tenant(&self) -> Option<TenantId> {
        self.tenant.as_ref().map(TenantDb::tenant_id)
    }

    /// Whether the call writes (a POST, a job): it runs in a write transaction.
    pub(crate) fn writes(&self) -> bool {
        self.write
    }

    /// Whether the module declared this capability.
    pub(crate) fn declared(&self, cap: Capability) -> bool {
        self.capabilities.contains(&cap)
    }

    /// Checks the capability and the host-call budget, and opens the transaction if needed.
    pub(crate) async fn tx(&mut self, cap: Capability) -> Result<&mut GroupTx, Denied> {
        self.count_host_call()?;
        let db = self.database(cap)?;
        self.deadline.enter_database();
        if self.tx.is_none() {
            // The call's committed reads end here: from now on it reads in its own transaction.
            self.committed = None;
            let write = self.write;
            let (tx, permits) = self.open(db.clone(), write).await?;
            self.tx = Some(tx);
            self.db_permits = permits;
            if write && db.backend() == crate::db::Backend::Sqlite {
                let until = (Instant::now() + MAX_WRITER_HOLD).min(self.deadline.at());
                self.writer_hold_until = Some(until);
                self.keep_writer_hold();
            }
        }
        self.tx
            .as_mut()
            .ok_or_else(|| Denied::Unavailable("transaction absente".into()))
    }

    /// Where `get-committed` reads (contract 0.2.9): the call's own transaction once it is
    /// open, and always in a read call or on PostgreSQL. A writing call on SQLite that has not
    /// opened it reads on one of SQLite's direct readers instead (committed data, kept for the
    /// call's next such reads), so it takes the commune's one writer only at its first other
    /// storage call: a vote's reads of its consultation and proposal no longer hold every
    /// other writer up.
    pub(crate) async fn committed_tx(&mut self) -> Result<&mut GroupTx, Denied> {
        let sqlite = self
            .tenant
            .as_ref()
            .is_some_and(|db| db.backend() == crate::db::Backend::Sqlite);
        if self.tx.is_some() || !self.write || !sqlite {
            return self.tx(Capability::Storage).await;
        }
        self.count_host_call()?;
        let db = self.database(Capability::Storage)?;
        self.deadline.enter_database();
        if self.committed.is_none() {
            self.committed = Some(self.open(db, false).await?);
        }
        self.committed
            .as_mut()
            .map(|(tx, _)| tx)
            .ok_or_else(|| Denied::Unavailable("transaction absente".into()))
    }

    /// The commune's database, if the module declared `cap`.
    fn database(&self, cap: Capability) -> Result<TenantDb, Denied> {
        if !self.capabilities.contains(&cap) {
            return Err(Denied::Capability(match cap {
                Capability::Storage => "storage",
                Capability::Notify => "notify",
                Capability::Feed => "feed",
                Capability::Payments => "payments",
                Capability::Tick => "tick",
            }));
        }
        self.tenant.clone().ok_or_else(|| {
            Denied::Unavailable("aucune commune pendant la lecture du manifeste".into())
        })
    }

    /// Opens a transaction of the commune (`write`: a writing one, on SQLite a turn at the
    /// writer) with its database permits.
    async fn open(
        &mut self,
        db: TenantDb,
        write: bool,
    ) -> Result<(GroupTx, Vec<tokio::sync::OwnedSemaphorePermit>), Denied> {
        let sqlite_writer = write && db.backend() == crate::db::Backend::Sqlite;
        let gates = self.gates.clone();
        // The commune's share of the database first (one SQLite writer queued per
        // commune; a few transactions on PostgreSQL, within the modules' share of the
        // pool), then the transaction: waits for others, excused and bounded.
        let open = async move {
            let mut permits = Vec::new();
            if let Some(g) = gates {
                if sqlite_writer {
                    permits.push(g.writers.clone().acquire_owned().await.ok()?);
                } else {
                    permits.push(g.database.clone().acquire_owned().await.ok()?);
                    permits.push(g.all_database.clone().acquire_owned().await.ok()?);
                }
            }
            // A read runs on one of SQLite's direct readers when one is free: a page
            // of 500 documents read through the pool's connection thread cost a wake-up
            // per row (the consultation's results, 20,000 tallies: 92 ms through the
            // pool, 34 ms on a direct reader). A read call never writes on it: its
            // first write ends it to run again as a writer (`write_tx`).
            let tx = if write {
                db.begin_group().await
            } else {
                db.read().await.map(GroupTx::from)
            };
            Some((permits, tx))
        };
        match self.excused_wait(HOST_WAIT, open).await {
            Some(Some((permits, Ok(tx)))) => Ok((tx, permits)),
            Some(Some((_, Err(e)))) => {
                self.failed = Some(format!("database: {e}"));
                Err(Denied::Unavailable("base de données indisponible".into()))
            }
            Some(None) | None => {
                self.shed(Fault::Overloaded);
                Err(Denied::Unavailable(
                    "service très sollicité : réessayez dans quelques secondes".into(),
                ))
            }
        }
    }

    /// [`CallState::tx`] for an import that writes. On SQLite, a call that began as a read
    /// holds a deferred transaction on a pooled connection: its first write would upgrade it
    /// in SQLite's busy handler, outside the writers' fair queue (`db::turn`), and wait there
    /// for as long as other communes keep the writer. Instead the call ends here, nothing of
    /// it kept, and [`run`] runs it again from the start as a writer, in the queue.
    pub(crate) async fn write_tx(&mut self, cap: Capability) -> Result<&mut GroupTx, Denied> {
        if !self.write
            && self.tenant.is_some()
            && self.capabilities.contains(&cap)
            && self.services.db().backend() == crate::db::Backend::Sqlite
        {
            self.count_host_call()?;
            self.read_call_wrote_late = true;
            self.shed(Fault::Overloaded);
            return Err(Denied::Unavailable(
                "écriture pendant une lecture : la requête reprend en écriture".into(),
            ));
        }
        self.tx(cap).await
    }

    /// Counts one host call against [`MAX_HOST_CALLS`].
    pub(crate) fn count_host_call(&mut self) -> Result<(), Denied> {
        self.host_calls = self.host_calls.saturating_add(1);
        if self.host_calls > MAX_HOST_CALLS {
            return Err(Denied::Unavailable(format!(
                "plus de {MAX_HOST_CALLS} appels à l'hôte dans une seule requête"
            )));
        }
        Ok(())
    }

    /// Counts a call of an import that cannot answer an error (the runtime's): past
    /// [`MAX_RUNTIME_CALLS`] the call is ended with [`Fault::HostCalls`].
    pub(crate) fn count_runtime_call(&mut self) {
        self.runtime_calls = self.runtime_calls.saturating_add(1);
        if self.runtime_calls > MAX_RUNTIME_CALLS && self.cut.is_none() {
            self.cut = Some(Fault::HostCalls(MAX_RUNTIME_CALLS));
            self.deadline.expire();
        }
    }

    /// Ends the call at once with `fault` (its writes rolled back).
    pub(crate) fn shed(&mut self, fault: Fault) {
        if self.cut.is_none() {
            self.cut = Some(fault);
        }
        self.deadline.expire();
    }

    /// Waits for `wait`, something others hold (the database, the payment provider), at
    /// most `bound` and within what is left of [`MAX_EXCUSED_WAIT`]: the wait does not count
    /// against the deadline. `None` when it took longer (the caller decides what that means).
    /// While the call holds SQLite's writer, the wait also ends at [`MAX_WRITER_HOLD`].
    pub(crate) async fn excused_wait<F: std::future::Future>(
        &mut self,
        bound: Duration,
        wait: F,
    ) -> Option<F::Output> {
        let mut bound = bound.min(MAX_EXCUSED_WAIT.saturating_sub(self.excused));
        let started = Instant::now();
        let cap = self.writer_hold_until;
        if let Some(until) = cap {
            bound = bound.min(until.saturating_duration_since(started));
        }
        self.deadline.extend(bound);
        let out = tokio::time::timeout(bound, wait).await.ok();
        let waited = started.elapsed().min(bound);
        self.deadline.shorten(bound.saturating_sub(waited));
        self.excused += waited;
        self.keep_writer_hold();
        out
    }

    /// Keeps the deadline within [`MAX_WRITER_HOLD`] while the call holds SQLite's writer.
    fn keep_writer_hold(&self) {
        if let Some(until) = self.writer_hold_until
            && self.deadline.at() > until
        {
            self.deadline.set(until);
        }
    }

    /// Records a database failure: the whole call will be rolled back.
    pub(crate) fn fail(&mut self, e: &sqlx::Error) -> String {
        if !self.write
            && self.services.db().backend() == crate::db::Backend::Sqlite
            && crate::db::is_sqlite_busy(e)
        {
            tracing::debug!(module = %self.module, error = %e, "read call wrote after a commit: run again as a writer");
            self.read_call_wrote_late = true;
        } else {
            tracing::error!(module = %self.module, error = %e, "module storage failed");
        }
        self.failed = Some(e.to_string());
        "base de données indisponible".to_string()
    }
}

/// How a call went wrong, for the error page and the fault counter.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// The module ran past its time budget.
    #[error("le module a dépassé son temps de calcul")]
    Timeout,
    /// The module needed more memory than allowed.
    #[error("le module a dépassé sa mémoire autorisée")]
    Memory,
    /// Unbounded recursion.
    #[error("le module a dépassé sa pile d'appels")]
    Stack,
    /// Any other trap (a panic, an unreachable instruction).
    #[error("le module s'est arrêté sur une erreur : {0}")]
    Trap(String),
    /// The response was larger than allowed.
    #[error("la réponse du module dépasse {0} octets")]
    TooLarge(usize),
    /// The host could not serve the call (database, instantiation).
    #[error("le service est momentanément indisponible : {0}")]
    Host(String),
    /// Every instance was busy for longer than the host lets a call wait, or what the call
    /// waited for (the database, SQLite's writer, the memory of all communes' modules) was
    /// held by others past [`HOST_WAIT`]: the call was shed (not the module's fault; answered
    /// 503 with `Retry-After`, its writes rolled back).
    #[error("le service est très sollicité en ce moment")]
    Overloaded,
    /// The module made more than [`MAX_RUNTIME_CALLS`] calls of the imports that cannot
    /// refuse (`now-ms`, `new-id`, `random-bytes`, `log`).
    #[error("le module a dépassé {0} appels à l'hôte dans une seule requête")]
    HostCalls(u32),
    /// A status HTTP does not allow a module to send (valid: 200 to 599).
    #[error("le module a répondu avec un code HTTP invalide ({0})")]
    Status(u16),
    /// The host refused the response (see [`handle_checked`]).
    #[error("la réponse du module a été refusée : {0}")]
    Refused(String),
}

impl Fault {
    /// Faults that count against the module (the host's own failures and load shedding do
    /// not). Requests the host refused for their size never reach the module at all.
    pub fn is_module_fault(&self) -> bool {
        !matches!(self, Fault::Host(_) | Fault::Overloaded)
    }

    fn from_error(e: wasmtime::Error, memory: Option<MemoryHit>) -> Fault {
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Fault::Timeout,
            Some(Trap::StackOverflow) => Fault::Stack,
            _ if memory == Some(MemoryHit::Module) => Fault::Memory,
            _ if memory == Some(MemoryHit::Host) => Fault::Overloaded,
            Some(trap) => Fault::Trap(trap.to_string()),
            None => Fault::Trap(format!("{e:#}")),
        }
    }
}

/// What the caller knows about the request.
pub struct CallContext {
    /// The commune.
    pub tenant: TenantId,
    /// `scheme://host` of the commune.
    pub origin: String,
    /// The call may write (not a GET): take the write lock up front.
    pub write: bool,
    /// Who caused the call (see [`ClientKey`]); `None` for the host's own calls (events,
    /// ticks).
    pub client: Option<ClientKey>,
    /// How the commune's name joins a sentence (`CommuneSite::name_kind`), which
    /// `commune.name-kind` answers; `None` where the caller does not have it (events).
    pub name_kind: Option<i64>,
    /// The files of the request, cleaned by the host (a multipart form's; see
    /// `modules::uploads`).
    pub uploads: Option<Arc<crate::modules::uploads::Uploads>>,
}

/// The commune as a module's request names it (a population the registry does not give, or
/// cannot be one, is 0).
pub fn commune_of(name: &str, slug: &str, population: Option<i64>) -> Commune {
    Commune {
        name: name.to_string(),
        slug: slug.to_string(),
        population: population.and_then(|p| u64::try_from(p).ok()).unwrap_or(0),
    }
}

/// The host's own question to a module: an anonymous `GET` of `path` (a reserved path below
/// `/_parvis/`, which visitors cannot reach: `now`'s cards, `api`'s mounts), in `commune`,
/// with the commune's `settings` for the module.
pub fn host_question(module: &ModuleId, path: &str, settings: &str, commune: Commune) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
        query: vec![],
        form: vec![],
        body: vec![],
        content_type: None,
        viewer: Viewer {
            account: None,
            display_name: None,
            roles: vec![],
        },
        admin: false,
        base: format!("/m/{module}"),
        csrf_token: String::new(),
        settings: settings.to_string(),
        commune,
    }
}

/// The normalised identity of whoever caused a call: a signed-in account, or else the
/// client's address (an IPv6 address by its /64, which one subscriber usually holds whole).
/// Fault counting and the per-client limits of host imports key on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    /// A signed-in account.
    pub fn account(id: &str) -> ClientKey {
        ClientKey(format!("account:{id}"))
    }

    /// The account, when the client is a signed-in one.
    pub fn account_id(&self) -> Option<&str> {
        self.0.strip_prefix("account:")
    }

    /// A client application of a public API, by the id of its key (`modules::api`).
    pub fn api_key(id: &str) -> ClientKey {
        ClientKey(format!("key:{id}"))
    }

    /// An anonymous client, by address.
    pub fn address(ip: std::net::IpAddr) -> ClientKey {
        let ip = crate::util::client_network(ip);
        ClientKey(format!("ip:{ip}"))
    }

    /// The account if signed in, else the address; `None` when neither is known.
    pub fn of(account: Option<&str>, ip: Option<std::net::IpAddr>) -> Option<ClientKey> {
        match (account, ip) {
            (Some(a), _) => Some(ClientKey::account(a)),
            (None, Some(ip)) => Some(ClientKey::address(ip)),
            (None, None) => None,
        }
    }
}

/// A call's state before it is bound to a call (see [`bind`]): no commune, no import usable.
/// What a warm instance (see `modules::warm`) is made with.
pub(crate) fn new_state(
    host: &ModuleHost,
    module: &LoadedModule,
    limits: &CallLimits,
) -> CallState {
    // No preopened directory, no environment, no arguments, no inherited stdio, no network.
    let wasi = WasiCtxBuilder::new()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    CallState {
        wasi,
        table: ResourceTable::new(),
        limiter: Limiter {
            memory_bytes: limits.memory_bytes,
            hit: None,
            budget: host.memory.clone(),
            tenant: None,
            reserved: 0,
        },
        services: host.services().clone(),
        tenant: None,
        module: module.id.clone(),
        module_name: module.manifest.name.clone(),
        checkout_limit: host.checkout_limit.clone(),
        capabilities: module.capabilities.clone(),
        write: false,
        tx: None,
        committed: None,
        failed: None,
        read_call_wrote_late: false,
        host_calls: 0,
        cut: None,
        checkouts_asked: 0,
        runtime_calls: 0,
        log_lines: 0,
        excused: Duration::ZERO,
        gates: None,
        db_permits: Vec::new(),
        writer_hold_until: None,
        origin: String::new(),
        mount: format!("/m/{}", module.id),
        after_commit: AfterCommit::default(),
        deadline: Deadline::new(limits.time),
        extra: Duration::ZERO,
        client: None,
        name_kind: None,
        volumes: Default::default(),
        storage: Default::default(),
        uploads: None,
        kept_uploads: HashSet::new(),
    }
}

impl CallState {
    /// Whether growing its memory was refused (by any budget).
    pub(crate) fn memory_refused(&self) -> bool {
        self.limiter.hit.is_some()
    }
}

/// Binds a store to its call: the commune its imports reach, reader or writer, who caused
/// it, and a deadline counted from now. What the instance's memory already holds joins the
/// commune's share; `false` when that share is full (the call is the module's memory fault,
/// as if the instance had grown past it).
fn bind(
    store: &mut Store<CallState>,
    host: &ModuleHost,
    limits: &CallLimits,
    ctx: &CallContext,
    gates: Option<Arc<TenantGates>>,
) -> bool {
    let state = store.data_mut();
    if let Some(g) = &gates {
        let held = state.limiter.reserved;
        let share = state.limiter.budget.per_tenant.load(Ordering::Relaxed);
        if held > 0 && !reserve(&g.memory, held, share) {
            state.limiter.hit = Some(MemoryHit::Module);
            return false;
        }
    }
    state.limiter.tenant = gates.clone();
    state.gates = gates;
    state.tenant = Some(host.services().tenant(ctx.tenant));
    state.write = ctx.write;
    state.origin = ctx.origin.clone();
    state.client = ctx.client.clone();
    state.name_kind = ctx.name_kind;
    state.uploads = ctx.uploads.clone();
    state.kept_uploads.clear();
    state.deadline = Deadline::new(limits.time);
    store.set_epoch_deadline(1);
    true
}

/// A store of `module`'s, not yet bound to a call.
pub(crate) fn new_store(
    host: &ModuleHost,
    module: &LoadedModule,
    limits: &CallLimits,
) -> Store<CallState> {
    let engine = host.engine().engine();
    let mut store = Store::new(engine, new_state(host, module, limits));
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    // Yield to other requests at every tick; trap once the wall-clock budget is spent.
    store.epoch_deadline_callback(move |ctx| {
        // Back in wasm code: no database operation is running.
        ctx.data().deadline.left_database();
        if Instant::now() >= ctx.data().deadline.at() {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}

/// Takes a finished call's state out of its store, leaving the store what it needs to be
/// dropped later (its memory stays counted until then: the limiter stays with it).
fn detach(store: &mut Store<CallState>, spent: CallState) -> CallState {
    let mut state = std::mem::replace(store.data_mut(), spent);
    std::mem::swap(&mut state.limiter, &mut store.data_mut().limiter);
    state
}

/// Reads the manifest of a freshly compiled module (no tenant, no import usable).
pub async fn manifest(
    host: &ModuleHost,
    module: &LoadedModule,
    limits: &CallLimits,
) -> Result<crate::modules::bindings::parvis::module::types::Manifest, Fault> {
    let Some(_slot) = host
        .admit(host.services().db().backend(), None, false)
        .await
    else {
        return Err(Fault::Overloaded);
    };
    let mut store = new_store(host, module, limits);
    let instance = module
        .pre
        .instantiate_async(&mut store)
        .await
        .map_err(|e| Fault::Trap(format!("{e:#}")))?;
    instance
        .parvis_module_guest()
        .call_describe(&mut store)
        .await
        .map_err(|e| Fault::from_error(e, None))
}

/// A check of a module's response by the route that serves it (e.g. its redirect target):
/// `Err` turns the answer into an error page, and the call's writes are rolled back.
pub type Accept = dyn Fn(&Response, &[String]) -> Result<(), String> + Send + Sync;

#[derive(Clone, Copy)]
enum Call<'a> {
    Handle(&'a Request, Option<&'a Accept>),
    Event(&'a Event),
    /// `export-account`: read-only, its writes are always rolled back.
    ExportAccount(&'a str),
}

enum Outcome {
    Response(Response),
    /// A response whose writes were kept, with the checkout pages the call created.
    Handled(Response, Vec<String>),
    Event(Result<(), String>),
    Export(Result<Vec<PersonalRecord>, String>),
}

async fn run(
    host: &ModuleHost,
    module: &Arc<LoadedModule>,
    ctx: &CallContext,
    call: Call<'_>,
) -> Result<Outcome, Fault> {
    let (outcome, wrote_late) = run_once(host, module, ctx, call).await;
    if !wrote_late {
        return outcome;
    }
    // Nothing of the first run was kept (its transaction rolled back, its side effects wait
    // for a commit): run it again from the start, holding the writer this time. Modules
    // should write on POST only, but a GET that writes must not fail for a race it cannot see.
    let writer = CallContext {
        tenant: ctx.tenant,
        origin: ctx.origin.clone(),
        write: true,
        client: ctx.client.clone(),
        name_kind: ctx.name_kind,
        uploads: ctx.uploads.clone(),
    };
    run_once(host, module, &writer, call).await.0
}

/// One run of a call; `true` when a read call should be run again as a writer.
async fn run_once(
    host: &ModuleHost,
    module: &Arc<LoadedModule>,
    ctx: &CallContext,
    call: Call<'_>,
) -> (Result<Outcome, Fault>, bool) {
    let limits = host.limits();
    // Wait (a bounded time) for one of the pool's instances rather than fail at its limit;
    // the permit is held until the instance is dropped with the store.
    let request = ctx.client.is_some();
    let Some(admitted) = host
        .admit(host.services().db().backend(), Some(ctx.tenant), request)
        .await
    else {
        return (Err(Fault::Overloaded), false);
    };
    let Admitted { ref gates, .. } = admitted;
    // An instance made ahead of the request when there is one (never used before: one
    // instance per call, as ever), else a new one now; the next is made in the background.
    let (mut store, ready) = match host.warm.take(module) {
        Some(w) => (w.store, Some(w.instance)),
        None => (new_store(host, module, &limits), None),
    };
    let bound = bind(&mut store, host, &limits, ctx, gates.clone());
    let deadline = store.data().deadline.clone();
    let run = async {
        if !bound {
            return Err(Fault::Memory);
        }
        let instance = match ready {
            Some(instance) => instance,
            None => module
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| match store.data().limiter.hit {
                    // Its commune's memory share was full (the module's), or everyone's (shed).
                    Some(hit) => Fault::from_error(e, Some(hit)),
                    None => Fault::Host(format!("instanciation : {e:#}")),
                })?,
        };
        let guest = instance.parvis_module_guest();
        let outcome = match call {
            Call::Handle(req, _) => guest
                .call_handle(&mut store, req)
                .await
                .map(Outcome::Response),
            Call::Event(ev) => guest
                .call_on_event(&mut store, ev)
                .await
                .map(Outcome::Event),
            Call::ExportAccount(account) => guest
                .call_export_account(&mut store, account)
                .await
                .map(Outcome::Export),
        };
        let hit = store.data().limiter.hit;
        outcome.map_err(|e| Fault::from_error(e, hit))
    };
    // The epoch interrupts wasm code at the deadline; a host call or a WASI call (a sleep, a
    // poll) that blocks past it is cut here, its future dropped with the store's borrow.
    let outcome = tokio::select! {
        outcome = run => outcome,
        () = deadline.passed() => Err(if deadline.blocked_in_database() {
            Fault::Overloaded
        } else {
            Fault::Timeout
        }),
    };
    // The instance is freed in the background (resetting its memory is the slowest part of
    // a small call), its pool slot and admission held until it is.
    let mut state = detach(&mut store, new_state(host, module, &limits));
    // The host ended the call (shed, or past the host-call budget): that is the answer,
    // whatever the module returned after.
    let outcome = match state.cut.take() {
        Some(cut) => Err(cut),
        None => outcome,
    };
    let wrote_late = state.read_call_wrote_late;
    let accept = match call {
        Call::Handle(_, accept) => accept,
        _ => None,
    };
    let outcome = finish(host, state, outcome, &limits, accept).await;
    host.warm.done(store, admitted, module);
    (outcome, wrote_late)
}

/// When a call's time is up: `start` plus a number of nanoseconds the call's own imports
/// move (shared with the runner that watches it).
pub(crate) struct Deadline {
    start: Instant,
    nanos: AtomicU64,
    /// When the running database operation began (nanoseconds after `start`, plus one; 0:
    /// none). Set as an import opens its transaction, cleared when wasm code runs again.
    database_since: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Deadline {
    fn new(budget: Duration) -> Arc<Deadline> {
        Arc::new(Deadline {
            start: Instant::now(),
            nanos: AtomicU64::new(nanos(budget)),
            database_since: AtomicU64::new(0),
        })
    }

    fn enter_database(&self) {
        let since = nanos(self.start.elapsed()).saturating_add(1);
        self.database_since.store(since, Ordering::Relaxed);
    }

    fn left_database(&self) {
        self.database_since.store(0, Ordering::Relaxed);
    }

    /// Marks the end of an import's database work when dropped, whichever way the import
    /// returns: a module that slept in WASI right after an import (refused or not) would
    /// otherwise still count as waiting for the database, and its time-out as an overload
    /// rather than its own fault.
    pub(crate) fn leaving_database(self: &Arc<Self>) -> LeavingDatabase {
        LeavingDatabase(self.clone())
    }

    /// Whether a database operation is running, begun less than `bound` ago.
    fn in_database_for_less_than(&self, bound: Duration) -> bool {
        match self.database_since.load(Ordering::Relaxed) {
            0 => false,
            since => {
                let began = Duration::from_nanos(since - 1);
                self.start.elapsed().saturating_sub(began) < bound
            }
        }
    }

    /// Whether a database operation has been running for [`BLOCKED_IN_DATABASE`].
    fn blocked_in_database(&self) -> bool {
        match self.database_since.load(Ordering::Relaxed) {
            0 => false,
            since => {
                let began = Duration::from_nanos(since - 1);
                self.start.elapsed().saturating_sub(began) >= BLOCKED_IN_DATABASE
            }
        }
    }

    /// When the time is up.
    pub(crate) fn at(&self) -> Instant {
        self.start + Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    fn set(&self, at: Instant) {
        self.nanos.store(
            nanos(at.saturating_duration_since(self.start)),
            Ordering::Relaxed,
        );
    }

    fn extend(&self, by: Duration) {
        let by = nanos(by);
        let _ = self
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(by))
            });
    }

    fn shorten(&self, by: Duration) {
        let by = nanos(by);
        let _ = self
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(by))
            });
    }

    fn expire(&self) {
        self.nanos.store(0, Ordering::Relaxed);
    }

    /// Resolves once the (possibly moved) deadline has passed. A database operation running
    /// then may finish (its time is granted by [`CallState::read_documents`]), for at most
    /// [`HOST_WAIT`] from its start.
    async fn passed(&self) {
        loop {
            let now = Instant::now();
            let at = self.at();
            if now >= at {
                if !self.in_database_for_less_than(HOST_WAIT) {
                    return;
                }
                tokio::time::sleep(crate::modules::engine::EPOCH_TICK).await;
                continue;
            }
            // Look again at least every few ticks: the deadline may have moved earlier.
            let next = at.min(now + crate::modules::engine::EPOCH_TICK * 5);
            tokio::time::sleep_until(next.into()).await;
        }
    }
}

/// See [`Deadline::leaving_database`].
pub(crate) struct LeavingDatabase(Arc<Deadline>);

impl Drop for LeavingDatabase {
    fn drop(&mut self) {
        self.0.left_database();
    }
}

impl CallState {
    /// Held by an import that may use the database: see [`Deadline::leaving_database`].
    pub(crate) fn leaving_database(&self) -> LeavingDatabase {
        self.deadline.leaving_database()
    }

    /// A storage call took `waited` and returned `documents`: the database's time is not the
    /// module's, and each document read earns [`TIME_PER_DOCUMENT`] to process it, within
    /// [`MAX_EXTRA_TIME`] per call. So an export's budget fits its size.
    pub(crate) fn read_documents(&mut self, waited: Duration, documents: usize) {
        let per_doc =
            TIME_PER_DOCUMENT.saturating_mul(u32::try_from(documents).unwrap_or(u32::MAX));
        self.deadline.left_database();
        let grant = (waited + per_doc).min(MAX_EXTRA_TIME.saturating_sub(self.extra));
        self.extra += grant;
        self.deadline.extend(grant);
        self.keep_writer_hold();
    }
}

/// Which memory budget a call ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemoryHit {
    /// The instance's own limit, or its commune's share: the module's fault.
    Module,
    /// All communes' modules together: the call is shed, not charged.
    Host,
}

/// Caps linear memory (trapping the call, and remembering why) and table growth. Memory is
/// counted against the instance's limit, its commune's share of live instances' memory, and
/// all communes' together; what an instance holds is released when its store drops.
pub(crate) struct Limiter {
    memory_bytes: usize,
    hit: Option<MemoryHit>,
    budget: Arc<MemoryBudget>,
    tenant: Option<Arc<TenantGates>>,
    /// Bytes this instance added to the budgets.
    reserved: usize,
}

/// Adds `bytes` to `used` unless that passes `limit`.
fn reserve(used: &AtomicUsize, bytes: usize, limit: usize) -> bool {
    used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
        u.checked_add(bytes).filter(|n| *n <= limit)
    })
    .is_ok()
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.hit = Some(MemoryHit::Module);
            return Err(wasmtime::Error::msg("module memory limit reached"));
        }
        let more = desired.saturating_sub(current);
        if let Some(tenant) = &self.tenant {
            let share = self.budget.per_tenant.load(Ordering::Relaxed);
            if !reserve(&tenant.memory, more, share) {
                self.hit = Some(MemoryHit::Module);
                return Err(wasmtime::Error::msg("commune memory share reached"));
            }
        }
        let total = self.budget.total.load(Ordering::Relaxed);
        if !reserve(&self.budget.used, more, total) {
            if let Some(tenant) = &self.tenant {
                tenant.memory.fetch_sub(more, Ordering::AcqRel);
            }
            self.hit = Some(MemoryHit::Host);
            return Err(wasmtime::Error::msg("module host memory budget reached"));
        }
        self.reserved += more;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        16
    }

    fn tables(&self) -> usize {
        16
    }

    fn memories(&self) -> usize {
        4
    }
}

impl Drop for Limiter {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.reserved, Ordering::AcqRel);
        if let Some(tenant) = &self.tenant {
            tenant.memory.fetch_sub(self.reserved, Ordering::AcqRel);
        }
    }
}

/// Statuses a module may answer with: HTTP's, less the informational ones (the host cannot
/// speak them for a module).
pub const VALID_STATUSES: std::ops::RangeInclusive<u16> = 200..=599;

async fn finish(
    host: &ModuleHost,
    mut state: CallState,
    outcome: Result<Outcome, Fault>,
    limits: &CallLimits,
    accept: Option<&Accept>,
) -> Result<Outcome, Fault> {
    let outcome = outcome.and_then(|o| match o {
        Outcome::Response(r) => {
            let size = response_size(&r);
            if size > limits.response_bytes {
                Err(Fault::TooLarge(limits.response_bytes))
            } else if !VALID_STATUSES.contains(&r.status) {
                Err(Fault::Status(r.status))
            } else if let Some(Err(why)) =
                accept.map(|accept| accept(&r, &state.after_commit.checkouts))
            {
                Err(Fault::Refused(why))
            } else {
                Ok(Outcome::Response(r))
            }
        }
        Outcome::Export(Ok(records))
            if records
                .iter()
                .map(|r| r.kind.len() + r.data.len())
                .sum::<usize>()
                > limits.response_bytes =>
        {
            Err(Fault::TooLarge(limits.response_bytes))
        }
        other => Ok(other),
    });
    let succeeded = match &outcome {
        Ok(Outcome::Response(r) | Outcome::Handled(r, _)) => r.status < 400,
        Ok(Outcome::Event(r)) => r.is_ok(),
        // An export only reads: whatever it wrote is rolled back.
        Ok(Outcome::Export(_)) | Err(_) => false,
    };
    // A read of committed data left open (a call that read that way and never wrote) ends
    // before the call's own transaction does.
    state.committed = None;
    let tx = state.tx.take();
    if let Some(failure) = state.failed.take() {
        drop(tx);
        return Err(Fault::Host(failure));
    }
    if let Some(mut tx) = tx {
        if succeeded {
            // The call's storage change joins its writes (and the quota notice), in its tx.
            state
                .settle_storage(&mut tx)
                .await
                .map_err(|e| Fault::Host(format!("quota de stockage : {e}")))?;
            // Whoever acted here (a signed-in request that wrote) may hear from the module
            // later (see `quota::unlinked`): noted in the call's own transaction, not in one
            // of its own after it (a second commit per vote halved the vote throughput), and
            // only the first time this process sees it.
            let noted = match state.client.as_ref().and_then(ClientKey::account_id) {
                Some(account)
                    if state.write
                        && matches!(&outcome, Ok(Outcome::Response(_)))
                        && !host
                            .contacts
                            .knows(tx.tenant_id(), state.module.as_str(), account) =>
                {
                    crate::modules::quota::note_contact_in(&mut tx, state.module.as_str(), account)
                        .await
                        .map_err(|e| Fault::Host(format!("contact du module : {e}")))?;
                    Some((tx.tenant_id(), account))
                }
                _ => None,
            };
            tx.commit()
                .await
                .map_err(|e| Fault::Host(format!("validation de la transaction : {e}")))?;
            if let Some((tenant, account)) = noted {
                host.contacts.learn(tenant, state.module.as_str(), account);
            }
            if state.after_commit.wake_jobs {
                host.services().wake_jobs();
            }
            if state.after_commit.published
                && let Some(tenant) = state.tenant()
            {
                host.services().home_changed(tenant);
            }
        } else {
            // Rolled back: nothing half-written. The rollback returns once whatever the call
            // read is durable (on SQLite it may have read its commit group's uncommitted work),
            // so a refusal such as « déjà voté » is only sent for a ballot that is kept; it
            // waits for the group instead of cutting it short, as a drop would.
            tx.rollback()
                .await
                .map_err(|e| Fault::Host(format!("annulation de la transaction : {e}")))?;
        }
    }
    // What it kept in the cache may come from its writes: kept only with them.
    if succeeded {
        state.apply_cache();
    }
    // Checkouts count only if the call's writes (the pledge they pay) were kept.
    let checkouts = if succeeded {
        std::mem::take(&mut state.after_commit.checkouts)
    } else {
        Vec::new()
    };
    outcome.map(|o| match o {
        Outcome::Response(r) => Outcome::Handled(r, checkouts),
        other => other,
    })
}

fn response_size(r: &Response) -> usize {
    use crate::modules::bindings::parvis::module::types::Body;
    let body = match &r.body {
        Body::Page(p) => p.title.len() + p.html.len(),
        Body::Json(j) => j.len(),
        Body::Redirect(to) => to.len(),
        Body::Download(d) => d.data.len() + d.filename.len() + d.content_type.len(),
        Body::Empty => 0,
    };
    body + r.flash.as_ref().map_or(0, String::len)
}

/// Serves one request with a module.
pub async fn handle(
    host: &ModuleHost,
    module: &Arc<LoadedModule>,
    ctx: &CallContext,
    request: &Request,
) -> Result<(Response, Vec<String>), Fault> {
    handle_checked(host, module, ctx, request, None).await
}

/// Serves one request with a module, `accept` checking its response (and the checkout pages
/// the call created) before the call's writes are committed: a response the route would
/// refuse is [`Fault::Refused`], and nothing the call wrote is kept.
pub async fn handle_checked(
    host: &ModuleHost,
    module: &Arc<LoadedModule>,
    ctx: &CallContext,
    request: &Request,
    accept: Option<&Accept>,
) -> Result<(Response, Vec<String>), Fault> {
    let started = Instant::now();
    let result = run(host, module, ctx, Call::Handle(request, accept)).await;
    record(host, module, ctx, &result, started).await;
    match result {
        Ok(Outcome::Handled(r, checkouts)) => Ok((r, checkouts)),
        Ok(Outcome::Response(r)) => Ok((r, Vec::new())),
        Ok(Outcome::Event(_) | Outcome::Export(_)) => Err(Fault::Host("réponse inattendue".into())),
        Err(f) => Err(f),
    }
}

/// Delivers an event to a module in one commune.
pub async fn event(
    host: &ModuleHost,
    module: &Arc<LoadedModule>,
    tenant: TenantId,
    origin: String,
    event: &Event,
) -> Result<Result<(), String>, Fault> {
    let ctx = CallContext {
        tenant,
        origin,
        write: true,
        client: None,
        name_kind: None,
        uploads: None,
    };
    let started = Instant::now();
    let result = run(host, module, &ctx, Call::Event(event)).await;
    record(host, module, &ctx, &result, started).await;
    match result {
        Ok(Outcome::Event(r)) => Ok(r),
        Ok(Outcome::Response(_) | Outcome::Handled(..) | Outcome::Export(_)) => {
            Err(Fault::Host("réponse inattendue".into()))
        }
        Err(f) => Err(f),
    }
}

/// Asks a module in one commune for everything it keeps about an account (`export-account`),
/// in a read-only call. `Ok(Err(..))`: the module could not say.
pub async fn export_account(
    host: &ModuleHost,
    module: &Arc<LoadedModule>,
    tenant: TenantId,
    origin: String,
    account: &str,
) -> Result<Result<Vec<PersonalRecord>, String>, Fault> {
    let ctx = CallContext {
        tenant,
        origin,
        write: false,
        client: Some(ClientKey::account(account)),
        name_kind: None,
        uploads: None,
    };
    let started = Instant::now();
    let result = run(host, module, &ctx, Call::ExportAccount(account)).await;
    record(host, module, &ctx, &result, started).await;
    match result {
        Ok(Outcome::Export(r)) => Ok(r),
        Ok(Outcome::Response(_) | Outcome::Handled(..) | Outcome::Event(_)) => {
            Err(Fault::Host("réponse inattendue".into()))
        }
        Err(f) => Err(f),
    }
}

async fn record(
    host: &ModuleHost,
    module: &Arc<LoadedModule>,
    ctx: &CallContext,
    result: &Result<Outcome, Fault>,
    started: Instant,
) {
    let tenant = ctx.tenant;
    let id = module.id.to_string();
    metrics::histogram!("parvis_module_call_seconds", "module" => id.clone())
        .record(started.elapsed().as_secs_f64());
    match result {
        Err(fault) if fault.is_module_fault() => {
            metrics::counter!("parvis_module_faults_total", "module" => id).increment(1);
            tracing::warn!(module = %module.id, tenant = %tenant, %fault, "module fault");
            host.fault(tenant, module, ctx.client.as_ref(), fault).await;
        }
        // Counted and logged once per interval by the admission (not one line per request).
        Err(Fault::Overloaded) => {}
        Err(fault) => {
            tracing::error!(module = %module.id, tenant = %tenant, %fault, "module call failed on the host side");
        }
        Ok(_) => host.succeeded(tenant, &module.id),
    }
}
