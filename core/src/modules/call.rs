//! One module call: a fresh instance from the pool in a fresh `Store`, bounded in memory,
//! time and output, whose imports are bound to the request's tenant and the module, and whose
//! writes form one transaction committed only when the call succeeds.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::db::TenantTx;
use crate::modules::bindings::parvis::module::types::{Event, PersonalRecord, Request, Response};
use crate::modules::engine::CallLimits;
use crate::modules::registry::LoadedModule;
use crate::types::{ModuleId, TenantId};
use crate::web::AppState;

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

/// Host calls one module call may make (a loop over imports is bounded too).
const MAX_HOST_CALLS: u32 = 20_000;
/// The most a call's deadline moves for the database's time and for the documents it read
/// (see [`CallState::read_documents`]): an export of a large poll gets the time its size
/// needs, and no call runs unbounded.
pub const MAX_EXTRA_TIME: Duration = Duration::from_secs(20);
/// Compute time granted per document a call reads from storage: turning a page of 500
/// documents into CSV or HTML is the module's work, but it grows with the data, not with a
/// bug. The 2 s budget then bounds what a module does beyond its data.
const TIME_PER_DOCUMENT: Duration = Duration::from_micros(500);

/// Everything a call's imports see. The tenant is fixed here by the host.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    /// The host's state (database, jobs, authorization).
    pub(crate) app: AppState,
    /// `None` only while reading a manifest at install time: no import is usable then.
    pub(crate) tenant: Option<TenantId>,
    pub(crate) module: ModuleId,
    pub(crate) capabilities: HashSet<Capability>,
    /// The call writes: take the write lock when the transaction starts.
    write: bool,
    tx: Option<TenantTx>,
    /// A host-side failure: the call's writes are rolled back whatever it returns.
    pub(crate) failed: Option<String>,
    /// A read call (a GET) began to write and SQLite refused it, because another connection
    /// committed since the call's first read: it is run again as a writer (see [`run`]).
    read_call_wrote_late: bool,
    host_calls: u32,
    /// `scheme://host` of the commune, for absolute links in notifications.
    pub(crate) origin: String,
    /// The module's public mount point (`/m/<id>`).
    pub(crate) mount: String,
    /// Work to do once the transaction committed.
    pub(crate) after_commit: AfterCommit,
    /// When the call's time is up. Waiting for the database's write lock does not count
    /// against the module: the deadline moves by that wait.
    deadline: Instant,
    /// How far the deadline moved for database time and documents read (at most
    /// [`MAX_EXTRA_TIME`]).
    extra: Duration,
    /// Who caused the call, when someone outside did.
    pub(crate) client: Option<ClientKey>,
    /// What the call wrote to storage, against the quota (see `host::storage`).
    pub(crate) storage: crate::modules::host::storage::CallStorage,
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
    /// Whether the module declared this capability.
    pub(crate) fn declared(&self, cap: Capability) -> bool {
        self.capabilities.contains(&cap)
    }

    /// Checks the capability and the host-call budget, and opens the transaction if needed.
    pub(crate) async fn tx(&mut self, cap: Capability) -> Result<&mut TenantTx, Denied> {
        if !self.capabilities.contains(&cap) {
            return Err(Denied::Capability(match cap {
                Capability::Storage => "storage",
                Capability::Notify => "notify",
                Capability::Feed => "feed",
                Capability::Payments => "payments",
                Capability::Tick => "tick",
            }));
        }
        self.host_calls += 1;
        if self.host_calls > MAX_HOST_CALLS {
            return Err(Denied::Unavailable(format!(
                "plus de {MAX_HOST_CALLS} appels à l'hôte dans une seule requête"
            )));
        }
        let Some(tenant) = self.tenant else {
            return Err(Denied::Unavailable(
                "aucune commune pendant la lecture du manifeste".into(),
            ));
        };
        if self.tx.is_none() {
            let db = self.app.db.tenant(tenant);
            let waited = Instant::now();
            let tx = if self.write {
                db.begin_write().await
            } else {
                db.begin().await
            };
            self.deadline += waited.elapsed();
            match tx {
                Ok(tx) => self.tx = Some(tx),
                Err(e) => {
                    self.failed = Some(format!("database: {e}"));
                    return Err(Denied::Unavailable("base de données indisponible".into()));
                }
            }
        }
        self.tx
            .as_mut()
            .ok_or_else(|| Denied::Unavailable("transaction absente".into()))
    }

    /// Records a database failure: the whole call will be rolled back.
    pub(crate) fn fail(&mut self, e: &sqlx::Error) -> String {
        if !self.write
            && self.app.db.backend() == crate::db::Backend::Sqlite
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
    #[error("le module s'est arrêté sur une erreur : {0}")]
    Trap(String),
    /// The response was larger than allowed.
    #[error("la réponse du module dépasse {0} octets")]
    TooLarge(usize),
    /// The host could not serve the call (database, instantiation).
    #[error("le service est momentanément indisponible : {0}")]
    Host(String),
    /// Every instance was busy for longer than the host lets a call wait: the call was shed
    /// before it started (not the module's fault; answered 503 with `Retry-After`).
    #[error("le service est très sollicité en ce moment")]
    Overloaded,
}

impl Fault {
    /// Faults that count against the module (the host's own failures and load shedding do
    /// not). Requests the host refused for their size never reach the module at all.
    pub fn is_module_fault(&self) -> bool {
        !matches!(self, Fault::Host(_) | Fault::Overloaded)
    }

    fn from_error(e: wasmtime::Error, out_of_memory: bool) -> Fault {
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Fault::Timeout,
            Some(Trap::StackOverflow) => Fault::Stack,
            _ if out_of_memory => Fault::Memory,
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

fn new_state(
    app: &AppState,
    module: &LoadedModule,
    limits: &CallLimits,
    ctx: Option<&CallContext>,
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
            memory_hit: false,
        },
        app: app.clone(),
        tenant: ctx.map(|c| c.tenant),
        module: module.id.clone(),
        capabilities: module.capabilities.clone(),
        write: ctx.is_some_and(|c| c.write),
        tx: None,
        failed: None,
        read_call_wrote_late: false,
        host_calls: 0,
        origin: ctx.map(|c| c.origin.clone()).unwrap_or_default(),
        mount: format!("/m/{}", module.id),
        after_commit: AfterCommit::default(),
        deadline: Instant::now() + limits.time,
        extra: Duration::ZERO,
        client: ctx.and_then(|c| c.client.clone()),
        storage: Default::default(),
    }
}

fn new_store(
    app: &AppState,
    module: &LoadedModule,
    limits: &CallLimits,
    ctx: Option<&CallContext>,
) -> Store<CallState> {
    let engine = app.modules.engine().engine();
    let mut store = Store::new(engine, new_state(app, module, limits, ctx));
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    // Yield to other requests at every tick; trap once the wall-clock budget is spent.
    store.epoch_deadline_callback(move |ctx| {
        if Instant::now() >= ctx.data().deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}

/// Reads the manifest of a freshly compiled module (no tenant, no import usable).
pub async fn manifest(
    app: &AppState,
    module: &LoadedModule,
    limits: &CallLimits,
) -> Result<crate::modules::bindings::parvis::module::types::Manifest, Fault> {
    let Some(_slot) = app.modules.admit().await else {
        return Err(Fault::Overloaded);
    };
    let mut store = new_store(app, module, limits, None);
    let instance = module
        .pre
        .instantiate_async(&mut store)
        .await
        .map_err(|e| Fault::Trap(format!("{e:#}")))?;
    instance
        .parvis_module_guest()
        .call_describe(&mut store)
        .await
        .map_err(|e| Fault::from_error(e, false))
}

#[derive(Clone, Copy)]
enum Call<'a> {
    Handle(&'a Request),
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
    app: &AppState,
    module: &LoadedModule,
    ctx: &CallContext,
    call: Call<'_>,
) -> Result<Outcome, Fault> {
    let (outcome, wrote_late) = run_once(app, module, ctx, call).await;
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
    };
    run_once(app, module, &writer, call).await.0
}

/// One run of a call; `true` when a read call should be run again as a writer.
async fn run_once(
    app: &AppState,
    module: &LoadedModule,
    ctx: &CallContext,
    call: Call<'_>,
) -> (Result<Outcome, Fault>, bool) {
    let limits = app.modules.limits();
    // Wait (a bounded time) for one of the pool's instances rather than fail at its limit;
    // the permit is held until the instance is dropped with the store.
    let Some(_slot) = app.modules.admit().await else {
        return (Err(Fault::Overloaded), false);
    };
    let mut store = new_store(app, module, &limits, Some(ctx));
    let run = async {
        let instance = module
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| Fault::Host(format!("instanciation : {e:#}")))?;
        let guest = instance.parvis_module_guest();
        let outcome = match call {
            Call::Handle(req) => guest
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
        let oom = store.data().limits_hit();
        outcome.map_err(|e| Fault::from_error(e, oom))
    };
    // A host call that never returns is bounded too (the epoch only interrupts wasm code); the
    // margin covers the deadline's moves for database time and a wait for SQLite's write lock
    // (busy timeout 10 s), which are not the module's fault.
    let outer = limits.time + MAX_EXTRA_TIME + Duration::from_secs(15);
    let outcome = match tokio::time::timeout(outer, run).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Fault::Timeout),
    };
    let state = store.into_data();
    let wrote_late = state.read_call_wrote_late;
    (finish(app, state, outcome, &limits).await, wrote_late)
}

impl CallState {
    /// Time spent waiting on a service outside the module (the payment provider) does not
    /// count against its deadline, as the database's write lock does not.
    pub(crate) fn excuse(&mut self, waited: Duration) {
        self.deadline += waited;
    }

    /// A storage call took `waited` and returned `documents`: the database's time is not the
    /// module's, and each document read earns [`TIME_PER_DOCUMENT`] to process it, within
    /// [`MAX_EXTRA_TIME`] per call. So an export's budget fits its size.
    pub(crate) fn read_documents(&mut self, waited: Duration, documents: usize) {
        let per_doc =
            TIME_PER_DOCUMENT.saturating_mul(u32::try_from(documents).unwrap_or(u32::MAX));
        let grant = (waited + per_doc).min(MAX_EXTRA_TIME.saturating_sub(self.extra));
        self.extra += grant;
        self.deadline += grant;
    }

    fn limits_hit(&self) -> bool {
        self.limiter.memory_hit
    }
}

/// Caps linear memory (trapping the call, and remembering why) and table growth.
struct Limiter {
    memory_bytes: usize,
    memory_hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_hit = true;
            return Err(wasmtime::Error::msg("module memory limit reached"));
        }
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

async fn finish(
    app: &AppState,
    mut state: CallState,
    outcome: Result<Outcome, Fault>,
    limits: &CallLimits,
) -> Result<Outcome, Fault> {
    let outcome = outcome.and_then(|o| match o {
        Outcome::Response(r) => {
            let size = response_size(&r);
            if size > limits.response_bytes {
                Err(Fault::TooLarge(limits.response_bytes))
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
                .map_err(|e| Fault::Host(format!("quota de stockage : {e}")))?;
            tx.commit()
                .await
                .map_err(|e| Fault::Host(format!("validation de la transaction : {e}")))?;
            if state.after_commit.wake_jobs {
                app.jobs.notify();
            }
            if state.after_commit.published
                && let Some(tenant) = state.tenant
            {
                app.home_cache.invalidate(tenant);
            }
        } else {
            // Rolled back: nothing half-written. The rollback returns once whatever the call
            // read is durable (on SQLite it may have read its commit group's uncommitted work),
            // so a refusal such as « déjà voté » is only sent for a ballot that is kept; it
            // waits for the group instead of cutting it short, as a drop would.
            tx.rollback()
                .await
                .map_err(|e| Fault::Host(format!("annulation de la transaction : {e}")))?;
        }
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
    app: &AppState,
    module: &Arc<LoadedModule>,
    ctx: &CallContext,
    request: &Request,
) -> Result<(Response, Vec<String>), Fault> {
    let started = Instant::now();
    let result = run(app, module, ctx, Call::Handle(request)).await;
    record(app, module, ctx, &result, started).await;
    match result {
        Ok(Outcome::Handled(r, checkouts)) => Ok((r, checkouts)),
        Ok(Outcome::Response(r)) => Ok((r, Vec::new())),
        Ok(Outcome::Event(_) | Outcome::Export(_)) => Err(Fault::Host("réponse inattendue".into())),
        Err(f) => Err(f),
    }
}

/// Delivers an event to a module in one commune.
pub async fn event(
    app: &AppState,
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
    };
    let started = Instant::now();
    let result = run(app, module, &ctx, Call::Event(event)).await;
    record(app, module, &ctx, &result, started).await;
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
    app: &AppState,
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
    };
    let started = Instant::now();
    let result = run(app, module, &ctx, Call::ExportAccount(account)).await;
    record(app, module, &ctx, &result, started).await;
    match result {
        Ok(Outcome::Export(r)) => Ok(r),
        Ok(Outcome::Response(_) | Outcome::Handled(..) | Outcome::Event(_)) => {
            Err(Fault::Host("réponse inattendue".into()))
        }
        Err(f) => Err(f),
    }
}

async fn record(
    app: &AppState,
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
            app.modules
                .fault(app, tenant, module, ctx.client.as_ref(), fault)
                .await;
        }
        // Counted and logged once per interval by the admission (not one line per request).
        Err(Fault::Overloaded) => {}
        Err(fault) => {
            tracing::error!(module = %module.id, tenant = %tenant, %fault, "module call failed on the host side");
        }
        Ok(_) => app.modules.succeeded(tenant, &module.id),
    }
}
