//! The modules a running host serves: installed versions loaded from the database (compiled
//! once, then mapped from the cache), picked up without restart when `parvis module install`
//! registers a new one; each commune's enabled modules, cached briefly; and fault counting.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wasmtime::component::{Component, HasSelf, Linker};

use crate::db::Db;
use crate::modules::bindings::parvis::module::types::{Capability as WitCapability, SettingKind};
use crate::modules::bindings::{CONTRACT_PACKAGE, Module, ModulePre, SUPPORTED_CONTRACTS};
use crate::modules::call::{self, CallState, Capability, ClientKey, Fault};
use crate::modules::engine::{CallLimits, ModuleEngine, sha256_hex};
use crate::modules::services::HostServices;
use crate::modules::store::{self, StoredVersion, TenantModule};
use crate::types::{ModuleId, TenantId};

/// Consecutive faults after which a module is switched off for a commune…
pub const FAULT_LIMIT: u32 = 3;
/// …when they came from at least this many distinct clients (accounts, or addresses of
/// anonymous visitors; each of the host's own calls counts as one): one client alone cannot
/// switch a module off for everyone.
pub const FAULT_CLIENTS: usize = 2;
/// …within this long of the first of them.
pub const FAULT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long a call waits for a free instance before it is shed with a 503.
pub const ADMISSION_WAIT: Duration = Duration::from_secs(5);
/// Instance slots one commune's calls may hold at once (of [`POOL_INSTANCES`]): a commune
/// flooded with slow requests waits, and is shed, alone; the others are still admitted.
///
/// [`POOL_INSTANCES`]: crate::modules::engine::POOL_INSTANCES
pub const TENANT_SLOTS: usize = 64;
/// Calls that run at once, at most: the pool's instances less those made ahead of their
/// calls (`modules::warm`), so a call never finds the pool empty.
pub const CALL_SLOTS: usize =
    crate::modules::engine::POOL_INSTANCES as usize - crate::modules::warm::WARM_MAX;
/// One slot in this many is kept for the host's own calls (ticks, payment events), which
/// requests cannot take: a flood of requests does not stop every commune's ticks.
pub const HOST_RESERVED_SLOTS_DIVISOR: usize = 16;
/// Database transactions one commune's module calls may hold at once on PostgreSQL: two
/// thirds of the modules' share, so a busy commune keeps its throughput (64 voters on one
/// poll) while logins and other communes always find connections in the pool. At 4, the poll
/// vote benchmark fell from 968 to 469 votes/s.
pub const TENANT_DB_TRANSACTIONS: usize = 8;
/// The same on SQLite, for reads (writes queue for the writer, see
/// [`TENANT_SQLITE_WRITERS`]): 4 of the modules' 6 readers, so another commune's module
/// always finds one.
pub const TENANT_DB_READS_SQLITE: usize = 4;
/// Database transactions all module calls together may hold at once, per backend: the rest of
/// the pool (16 connections on PostgreSQL, 8 SQLite readers) stays for the host's own pages.
pub const MODULE_DB_TRANSACTIONS_POSTGRES: usize = 12;
/// See [`MODULE_DB_TRANSACTIONS_POSTGRES`].
pub const MODULE_DB_TRANSACTIONS_SQLITE: usize = 6;
/// Module calls of one commune that may hold or queue for SQLite's single writer at once.
/// The writers' queue is fair between communes (`db::turn`), and a call that began as a read
/// no longer upgrades outside it (see `CallState::write_tx`), so a commune's queued writers
/// delay another commune by one turn, not by their number. Queued writers of one commune are
/// what the group commit joins (`db/direct.rs`): at 1, the poll vote benchmark fell from
/// 2,439 to 1,576 votes/s.
pub const TENANT_SQLITE_WRITERS: usize = 16;
/// Linear memory all live module instances may hold together.
pub const MEMORY_TOTAL: usize = 1 << 30;
/// Linear memory the live instances of one commune may hold together.
pub const MEMORY_PER_TENANT: usize = 256 << 20;
/// Overload is logged at most once per this interval, with the count of calls shed.
const OVERLOAD_LOG_EVERY: Duration = Duration::from_secs(10);
/// Account data exports per account and hour: each one is a module call per commune holding
/// the account's data.
const EXPORTS_PER_HOUR: u32 = 6;
/// Checkout sessions one client may have created per commune and hour, all modules together.
const CHECKOUTS_PER_HOUR: u32 = 10;
/// How long a commune's module choices are cached (changes made here invalidate at once).
const TENANT_TTL: Duration = Duration::from_secs(2);

/// A setting of a module, as the admin form shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettingSpec {
    /// Key in the settings object.
    pub key: String,
    /// Label.
    pub label: String,
    /// Help text.
    pub help: String,
    /// `text`, `number` or `boolean`.
    pub kind: String,
    /// Default value.
    pub default_value: String,
}

/// A navigation entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NavEntry {
    /// Link text.
    pub label: String,
    /// Path below the mount point.
    pub path: String,
    /// In the admin menu.
    pub admin: bool,
}

/// A module's manifest, as stored and shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Version.
    pub version: String,
    /// Needs an entitlement.
    pub premium: bool,
    /// Capabilities (`storage`, `notify`, `feed`, `payments`, `tick`).
    pub capabilities: Vec<String>,
    /// Settings.
    pub settings: Vec<SettingSpec>,
    /// Navigation.
    pub nav: Vec<NavEntry>,
}

fn capability_name(c: WitCapability) -> (&'static str, Capability) {
    match c {
        WitCapability::Storage => ("storage", Capability::Storage),
        WitCapability::Notify => ("notify", Capability::Notify),
        WitCapability::Feed => ("feed", Capability::Feed),
        WitCapability::Payments => ("payments", Capability::Payments),
        WitCapability::Tick => ("tick", Capability::Tick),
    }
}

/// A compiled module version, ready to instantiate.
pub struct LoadedModule {
    /// Id.
    pub id: ModuleId,
    /// Manifest.
    pub manifest: Manifest,
    /// SHA-256 of the component.
    pub sha256: String,
    pub(crate) capabilities: HashSet<Capability>,
    pub(crate) pre: ModulePre<CallState>,
}

/// Installation errors, in French for the CLI.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// Not a component of the `parvis:module` world.
    #[error("ce fichier n'est pas un module Parvis (composant du contrat parvis:module) : {0}")]
    Invalid(String),
    /// Built against a version of the contract this host does not run.
    #[error(
        "ce module a été construit pour le contrat parvis:module@{found}, que ce serveur ne prend pas en charge \
         (versions prises en charge : {supported}) ; reconstruisez-le avec le SDK actuel"
    )]
    UnsupportedContract {
        /// The version the component imports or exports.
        found: String,
        /// The versions this host runs.
        supported: String,
    },
    /// The manifest is wrong.
    #[error("manifeste du module invalide : {0}")]
    Manifest(String),
    /// Same version, other bytes.
    #[error(transparent)]
    Conflict(#[from] store::InstallConflict),
    /// The id is another component's and the operator did not ask to replace it.
    #[error(transparent)]
    AlreadyInstalled(Box<crate::modules::install::AlreadyInstalled>),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A commune's module choices.
#[derive(Clone, Default)]
pub struct TenantModules {
    /// By module id.
    pub rows: HashMap<String, TenantModule>,
}

impl TenantModules {
    /// Whether the commune switched this module on.
    pub fn enabled(&self, id: &str) -> Option<&TenantModule> {
        self.rows.get(id).filter(|r| r.enabled)
    }
}

/// The module host of a running server.
pub struct ModuleHost {
    engine: ModuleEngine,
    linker: Linker<CallState>,
    limits: RwLock<CallLimits>,
    loaded: RwLock<HashMap<String, Arc<LoadedModule>>>,
    /// Stored versions (by SHA-256) this host cannot run: not tried again at each sync.
    unloadable: Mutex<HashSet<String>>,
    tenants: RwLock<HashMap<TenantId, (Instant, Arc<TenantModules>)>>,
    faults: Mutex<HashMap<(TenantId, String), FaultRun>>,
    syncing: tokio::sync::Mutex<()>,
    admission: RwLock<Admission>,
    overload: Mutex<OverloadLog>,
    /// Linear memory of live instances, against [`MEMORY_TOTAL`] and [`MEMORY_PER_TENANT`].
    pub(crate) memory: Arc<MemoryBudget>,
    /// Account data exports, by account.
    pub(crate) export_limit: crate::rate_limit::RateLimit<String>,
    /// Checkout sessions, by commune and client.
    pub(crate) checkout_limit: Arc<crate::rate_limit::RateLimit<(TenantId, ClientKey)>>,
    /// What calls may reach of the host.
    services: HostServices,
    /// Instances made ahead of their calls, and stores freed after them.
    pub(crate) warm: crate::modules::warm::Warm,
    /// Accounts already noted as the modules' contacts (see [`quota::KnownContacts`]).
    ///
    /// [`quota::KnownContacts`]: crate::modules::quota::KnownContacts
    pub(crate) contacts: crate::modules::quota::KnownContacts,
}

/// Faults in a row of one module in one commune.
struct FaultRun {
    count: u32,
    since: Instant,
    /// Distinct clients seen (at most [`FAULT_CLIENTS`] are kept: enough to decide).
    clients: Vec<Option<ClientKey>>,
}

impl FaultRun {
    fn distinct_clients(&self) -> usize {
        self.clients.len()
    }

    fn add(&mut self, client: Option<&ClientKey>) {
        self.count += 1;
        // The host's own calls (`None`) are each a distinct witness: no outsider chose them.
        let seen = client.is_some() && self.clients.iter().any(|c| c.as_ref() == client);
        if !seen && self.clients.len() < FAULT_CLIENTS {
            self.clients.push(client.cloned());
        }
    }
}

/// Calls running at once are bounded by the instance pool: a call waits up to `wait` for a
/// slot, then is shed. Requests take one of `requests` (the pool less the host's reserve) and
/// one of their commune's [`TenantGates::slots`] first.
struct Admission {
    slots: Arc<tokio::sync::Semaphore>,
    requests: Arc<tokio::sync::Semaphore>,
    wait: Duration,
    /// Per commune: slots, database transactions, SQLite writers (see [`TenantGates`]).
    tenant_slots: usize,
    /// Module transactions of all communes together (sized for the backend at first use).
    database: Option<Arc<tokio::sync::Semaphore>>,
    gates: HashMap<TenantId, Arc<TenantGates>>,
}

impl Admission {
    fn new(slots: usize, wait: Duration, tenant_slots: usize) -> Admission {
        let reserved = slots / HOST_RESERVED_SLOTS_DIVISOR;
        Admission {
            slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            requests: Arc::new(tokio::sync::Semaphore::new(
                slots.saturating_sub(reserved).max(1),
            )),
            wait,
            tenant_slots: tenant_slots.clamp(1, slots),
            database: None,
            gates: HashMap::new(),
        }
    }
}

/// What one commune's module calls may hold at once, whatever the module.
pub(crate) struct TenantGates {
    /// Instance slots ([`TENANT_SLOTS`]).
    slots: Arc<tokio::sync::Semaphore>,
    /// Database transactions ([`TENANT_DB_TRANSACTIONS`], [`TENANT_DB_READS_SQLITE`]).
    pub(crate) database: Arc<tokio::sync::Semaphore>,
    /// Module transactions of all communes (shared by every commune's gates).
    pub(crate) all_database: Arc<tokio::sync::Semaphore>,
    /// SQLite writers held or queued ([`TENANT_SQLITE_WRITERS`]).
    pub(crate) writers: Arc<tokio::sync::Semaphore>,
    /// Linear memory of the commune's live instances, in bytes.
    pub(crate) memory: std::sync::atomic::AtomicUsize,
}

/// How many module transactions one commune's calls may hold at once on `backend`.
pub fn tenant_transactions(backend: crate::db::Backend) -> usize {
    match backend {
        crate::db::Backend::Postgres => TENANT_DB_TRANSACTIONS,
        crate::db::Backend::Sqlite => TENANT_DB_READS_SQLITE,
    }
}

/// Linear memory of all live module instances, and the budgets (see [`MEMORY_TOTAL`]).
pub(crate) struct MemoryBudget {
    pub(crate) used: std::sync::atomic::AtomicUsize,
    pub(crate) total: std::sync::atomic::AtomicUsize,
    pub(crate) per_tenant: std::sync::atomic::AtomicUsize,
}

/// A call's admission: its instance slot (and its commune's), released with the store.
pub(crate) struct Admitted {
    _slot: tokio::sync::OwnedSemaphorePermit,
    _request: Option<tokio::sync::OwnedSemaphorePermit>,
    _tenant: Option<tokio::sync::OwnedSemaphorePermit>,
    /// The commune's gates (database, writer, memory), for the call.
    pub(crate) gates: Option<Arc<TenantGates>>,
}

#[derive(Default)]
struct OverloadLog {
    shed: u64,
    logged: Option<Instant>,
}

impl ModuleHost {
    /// The engine and the linker of the `module` world (WASI linked with no rights).
    pub fn new(
        config: &crate::config::Config,
        limits: CallLimits,
        services: HostServices,
    ) -> anyhow::Result<ModuleHost> {
        let engine = ModuleEngine::new(&config.module_cache, &limits)
            .map_err(|e| anyhow::anyhow!("moteur wasm : {e:#}"))?;
        let mut linker = Linker::new(engine.engine());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("WASI : {e:#}"))?;
        Module::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("contrat parvis:module : {e:#}"))?;
        Ok(ModuleHost {
            engine,
            linker,
            limits: RwLock::new(limits),
            loaded: RwLock::default(),
            unloadable: Mutex::default(),
            tenants: RwLock::default(),
            faults: Mutex::default(),
            syncing: tokio::sync::Mutex::new(()),
            admission: RwLock::new(Admission::new(CALL_SLOTS, ADMISSION_WAIT, TENANT_SLOTS)),
            memory: Arc::new(MemoryBudget {
                used: std::sync::atomic::AtomicUsize::new(0),
                total: std::sync::atomic::AtomicUsize::new(MEMORY_TOTAL),
                per_tenant: std::sync::atomic::AtomicUsize::new(MEMORY_PER_TENANT),
            }),
            overload: Mutex::default(),
            export_limit: crate::rate_limit::RateLimit::per_hour(EXPORTS_PER_HOUR),
            checkout_limit: Arc::new(crate::rate_limit::RateLimit::per_hour(CHECKOUTS_PER_HOUR)),
            services,
            warm: crate::modules::warm::Warm::new(),
            contacts: crate::modules::quota::KnownContacts::default(),
        })
    }

    /// What calls may reach of the host.
    pub fn services(&self) -> &HostServices {
        &self.services
    }

    /// The gates of one commune (created at its first call).
    fn gates(&self, backend: crate::db::Backend, tenant: TenantId) -> Option<Arc<TenantGates>> {
        // Every module call passes here: the shared lock finds a known commune's gates, and
        // only a commune's first call takes the exclusive one to create them.
        if let Some(gates) = self.admission.read().ok()?.gates.get(&tenant) {
            return Some(gates.clone());
        }
        let mut a = self.admission.write().ok()?;
        let all_database = a
            .database
            .get_or_insert_with(|| {
                Arc::new(tokio::sync::Semaphore::new(match backend {
                    crate::db::Backend::Postgres => MODULE_DB_TRANSACTIONS_POSTGRES,
                    crate::db::Backend::Sqlite => MODULE_DB_TRANSACTIONS_SQLITE,
                }))
            })
            .clone();
        let slots = a.tenant_slots;
        Some(
            a.gates
                .entry(tenant)
                .or_insert_with(|| {
                    Arc::new(TenantGates {
                        slots: Arc::new(tokio::sync::Semaphore::new(slots)),
                        database: Arc::new(tokio::sync::Semaphore::new(tenant_transactions(
                            backend,
                        ))),
                        all_database,
                        writers: Arc::new(tokio::sync::Semaphore::new(TENANT_SQLITE_WRITERS)),
                        memory: std::sync::atomic::AtomicUsize::new(0),
                    })
                })
                .clone(),
        )
    }

    /// A slot for one call (an instance of the pool), waiting at most the admission wait;
    /// `None` when the host is overloaded (the call is shed, and counted in the overload log).
    /// A request (`request`: someone outside caused it) first takes one of its commune's
    /// [`TENANT_SLOTS`] and one of the slots not kept for the host's own calls, so a commune
    /// over its share waits and is shed alone.
    pub(crate) async fn admit(
        &self,
        backend: crate::db::Backend,
        tenant: Option<TenantId>,
        request: bool,
    ) -> Option<Admitted> {
        let (slots, requests, wait) = match self.admission.read() {
            Ok(a) => (a.slots.clone(), a.requests.clone(), a.wait),
            Err(_) => return None,
        };
        let gates = tenant.and_then(|t| self.gates(backend, t));
        let acquire = async {
            let tenant = match (&gates, request) {
                (Some(g), true) => Some(g.slots.clone().acquire_owned().await.ok()?),
                _ => None,
            };
            let request = match request {
                true => Some(requests.acquire_owned().await.ok()?),
                false => None,
            };
            let slot = slots.acquire_owned().await.ok()?;
            Some((slot, request, tenant))
        };
        if let Ok(Some((slot, request, tenant))) = tokio::time::timeout(wait, acquire).await {
            return Some(Admitted {
                _slot: slot,
                _request: request,
                _tenant: tenant,
                gates,
            });
        }
        metrics::counter!("parvis_module_calls_shed_total").increment(1);
        if let Ok(mut log) = self.overload.lock() {
            log.shed += 1;
            if log
                .logged
                .is_none_or(|at| at.elapsed() >= OVERLOAD_LOG_EVERY)
            {
                tracing::warn!(
                    shed = log.shed,
                    waited_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "module host overloaded: calls shed with 503 since the last report"
                );
                log.shed = 0;
                log.logged = Some(Instant::now());
            }
        }
        None
    }

    /// Sets how many module calls run at once (at most the pool's instances) and how long a
    /// call waits for a slot: tests and benchmarks use it to show shedding on a small scale.
    /// A commune's share stays [`TENANT_SLOTS`], within `slots`.
    pub fn set_admission(&self, slots: usize, wait: Duration) {
        self.set_shares(slots, wait, TENANT_SLOTS);
    }

    /// Like [`set_admission`](Self::set_admission), with each commune's share of the slots
    /// (tests show fairness between communes on a small scale).
    pub fn set_shares(&self, slots: usize, wait: Duration, tenant_slots: usize) {
        let slots = slots.clamp(1, CALL_SLOTS);
        if let Ok(mut a) = self.admission.write() {
            *a = Admission::new(slots, wait, tenant_slots);
        }
        self.warm.clear();
    }

    /// Sets the memory budgets of live instances: all together, and per commune (tests show
    /// on a small scale what [`MEMORY_TOTAL`] and [`MEMORY_PER_TENANT`] do).
    pub fn set_memory_budget(&self, total: usize, per_tenant: usize) {
        use std::sync::atomic::Ordering;
        self.memory.total.store(total, Ordering::Relaxed);
        self.memory.per_tenant.store(per_tenant, Ordering::Relaxed);
        self.warm.clear();
    }

    /// Linear memory the live instances hold now: `tenant`'s, or every commune's (`None`).
    /// What a test waits on before it checks that a commune past its share is refused.
    pub fn memory_in_use(&self, tenant: Option<TenantId>) -> usize {
        use std::sync::atomic::Ordering;
        match tenant {
            None => self.memory.used.load(Ordering::Acquire),
            Some(tenant) => self
                .admission
                .read()
                .ok()
                .and_then(|a| a.gates.get(&tenant).cloned())
                .map_or(0, |gates| gates.memory.load(Ordering::Acquire)),
        }
    }

    /// Module transactions `tenant`'s calls hold now (what a test waits on before it checks
    /// that another commune still finds connections).
    pub fn transactions_in_use(&self, backend: crate::db::Backend, tenant: TenantId) -> usize {
        let limit = tenant_transactions(backend);
        self.admission
            .read()
            .ok()
            .and_then(|a| a.gates.get(&tenant).cloned())
            .map_or(0, |gates| {
                limit.saturating_sub(gates.database.available_permits())
            })
    }

    /// Sets each call's time budget (tests show on a small scale what a loaded server sees).
    pub fn set_time_budget(&self, time: Duration) {
        if let Ok(mut limits) = self.limits.write() {
            limits.time = time;
        }
    }

    /// Calls so far that found an instance made ahead, and calls that made their own.
    pub fn instances_made_ahead(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        (
            self.warm.found.load(Ordering::Relaxed),
            self.warm.missed.load(Ordering::Relaxed),
        )
    }

    /// Starts making instances ahead of their calls (see `modules::warm`).
    pub fn start_warming(self: &Arc<Self>) {
        crate::modules::warm::Warm::start(self);
    }

    /// The engine.
    pub fn engine(&self) -> &ModuleEngine {
        &self.engine
    }

    /// Bounds on each call.
    pub fn limits(&self) -> CallLimits {
        self.limits.read().map(|l| *l).unwrap_or_default()
    }

    /// A served module by id.
    pub fn get(&self, id: &str) -> Option<Arc<LoadedModule>> {
        self.loaded.read().ok()?.get(id).cloned()
    }

    /// Every served module, by id.
    pub fn all(&self) -> Vec<Arc<LoadedModule>> {
        let mut all: Vec<_> = self
            .loaded
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    fn prepare(&self, sha256: &str, wasm: &[u8]) -> Result<ModulePre<CallState>, InstallError> {
        let component = self
            .engine
            .load(sha256, wasm)
            .map_err(|e| InstallError::Invalid(format!("{e:#}")))?;
        self.check_contract(&component)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| InstallError::Invalid(format!("{e:#}")))?;
        ModulePre::new(pre).map_err(|e| InstallError::Invalid(format!("{e:#}")))
    }

    /// Refuses a component built against a contract version this host does not run, before
    /// the linker's less readable type errors.
    fn check_contract(&self, component: &Component) -> Result<(), InstallError> {
        let ty = component.component_type();
        let engine = self.engine.engine();
        let names = ty
            .imports(engine)
            .map(|(name, _)| name)
            .chain(ty.exports(engine).map(|(name, _)| name));
        check_contract(names)
    }

    fn loaded_from(
        &self,
        id: ModuleId,
        manifest: Manifest,
        sha256: String,
        pre: ModulePre<CallState>,
        granted: &BTreeSet<String>,
    ) -> LoadedModule {
        // Only what it declares and a platform admin granted (see `install`).
        let capabilities = crate::modules::install::effective(&manifest, granted);
        LoadedModule {
            id,
            manifest,
            sha256,
            capabilities,
            pre,
        }
    }

    /// [`install_with`] without replacing: a component whose id is already installed (other
    /// bytes) is refused.
    ///
    /// [`install_with`]: ModuleHost::install_with
    pub async fn install(&self, wasm: &[u8]) -> Result<Manifest, InstallError> {
        Ok(self.install_with(wasm, false).await?.manifest)
    }

    /// Validates a component (compiles it, reads its manifest), registers it as the served
    /// version of its module, and serves it here at once. Other servers pick it up by [`sync`].
    /// A component claiming an installed id replaces it only if `replace`; capabilities it
    /// adds then wait for a grant (see [`crate::modules::install`]).
    ///
    /// [`sync`]: ModuleHost::sync
    pub async fn install_with(
        &self,
        wasm: &[u8],
        replace: bool,
    ) -> Result<crate::modules::install::Installed, InstallError> {
        let sha256 = sha256_hex(wasm);
        let pre = self.prepare(&sha256, wasm)?;
        let probe = LoadedModule {
            id: ModuleId::parse("manifest-probe")
                .map_err(|e| InstallError::Manifest(e.to_string()))?,
            manifest: Manifest {
                id: String::new(),
                name: String::new(),
                description: String::new(),
                version: String::new(),
                premium: false,
                capabilities: vec![],
                settings: vec![],
                nav: vec![],
            },
            sha256: sha256.clone(),
            capabilities: HashSet::new(),
            pre: pre.clone(),
        };
        let raw = call::manifest(self, &probe, &self.limits())
            .await
            .map_err(|e| InstallError::Manifest(e.to_string()))?;
        let id = ModuleId::parse(&raw.id).map_err(|e| InstallError::Manifest(e.to_string()))?;
        let manifest = Manifest {
            id: raw.id.clone(),
            name: raw.name.trim().to_string(),
            description: raw.description.trim().to_string(),
            version: raw.version.trim().to_string(),
            premium: raw.premium,
            capabilities: raw
                .capabilities
                .iter()
                .map(|c| capability_name(*c).0.to_string())
                .collect(),
            settings: raw
                .settings
                .iter()
                .map(|s| SettingSpec {
                    key: s.key.clone(),
                    label: s.label.clone(),
                    help: s.help.clone(),
                    kind: match s.kind {
                        SettingKind::Text => "text",
                        SettingKind::Number => "number",
                        SettingKind::Boolean => "boolean",
                    }
                    .to_string(),
                    default_value: s.default_value.clone(),
                })
                .collect(),
            nav: raw
                .nav
                .iter()
                .map(|n| NavEntry {
                    label: n.label.clone(),
                    path: n.path.clone(),
                    admin: n.admin,
                })
                .collect(),
        };
        let mut manifest = manifest;
        for n in &mut manifest.nav {
            // Menus link to `<mount><path>`: the path is read as the browser will, on this site.
            n.path = crate::util::same_origin_path(&n.path).ok_or_else(|| {
                InstallError::Manifest(format!(
                    "le chemin de navigation « {} » n'est pas un chemin de ce site commençant par /",
                    n.path
                ))
            })?;
        }
        validate(&manifest)?;
        let stored = StoredVersion {
            id: manifest.id.clone(),
            version: manifest.version.clone(),
            sha256: sha256.clone(),
            manifest: serde_json::to_string(&manifest)
                .map_err(|e| InstallError::Manifest(e.to_string()))?,
            wasm: wasm.to_vec(),
        };
        let installed =
            crate::modules::install::register(self.services.db(), &stored, &manifest, replace)
                .await?;
        let loaded = self.loaded_from(id, manifest.clone(), sha256, pre, &installed.granted);
        if let Ok(mut map) = self.loaded.write() {
            map.insert(manifest.id.clone(), Arc::new(loaded));
        }
        Ok(installed)
    }

    /// Loads every version the database says to serve that is not loaded yet (at start, then
    /// every few seconds). Returns how many modules were (re)loaded.
    pub async fn sync(&self, db: &Db) -> anyhow::Result<usize> {
        let _one_at_a_time = self.syncing.lock().await;
        let served = store::served_versions(db).await?;
        let grants = crate::modules::install::granted_all(db).await?;
        let none = BTreeSet::new();
        let mut changed = 0;
        for (id, version) in served {
            let granted = grants.get(&id).unwrap_or(&none);
            let current = self.get(&id);
            if let Some(m) = current.filter(|m| m.manifest.version == version) {
                // The same version: only its grants may have changed (`parvis module grant`).
                if !m.grants_match(granted) {
                    let loaded = self.loaded_from(
                        m.id.clone(),
                        m.manifest.clone(),
                        m.sha256.clone(),
                        m.pre.clone(),
                        granted,
                    );
                    if let Ok(mut map) = self.loaded.write() {
                        map.insert(id.clone(), Arc::new(loaded));
                    }
                    tracing::info!(module = %id, %version, "module grants applied");
                    changed += 1;
                }
                continue;
            }
            let Some(stored) = store::served_version(db, &id).await? else {
                continue;
            };
            if self
                .unloadable
                .lock()
                .is_ok_and(|u| u.contains(&stored.sha256))
            {
                continue;
            }
            let manifest: Manifest = serde_json::from_str(&stored.manifest)?;
            let module_id = ModuleId::parse(&stored.id)?;
            let engine = self.engine.clone();
            let sha = stored.sha256.clone();
            let wasm = stored.wasm;
            // Compiling is CPU-bound (cached after the first time).
            let component = tokio::task::spawn_blocking(move || engine.load(&sha, &wasm))
                .await?
                .map_err(|e| anyhow::anyhow!("module {id}: {e:#}"))?;
            // A version registered for another contract (before this host was upgraded) is
            // not served, and does not stop the others from loading.
            let pre = match self
                .check_contract(&component)
                .map_err(anyhow::Error::from)
                .and_then(|()| {
                    self.linker
                        .instantiate_pre(&component)
                        .and_then(ModulePre::new)
                        .map_err(|e| anyhow::anyhow!("{e:#}"))
                }) {
                Ok(pre) => pre,
                Err(e) => {
                    tracing::error!(module = %id, %version, error = %e, "module not served: this host cannot run it");
                    if let Ok(mut u) = self.unloadable.lock() {
                        u.insert(stored.sha256);
                    }
                    continue;
                }
            };
            let loaded = self.loaded_from(module_id, manifest, stored.sha256, pre, granted);
            if let Ok(mut map) = self.loaded.write() {
                map.insert(id.clone(), Arc::new(loaded));
            }
            tracing::info!(module = %id, %version, "module loaded");
            changed += 1;
        }
        Ok(changed)
    }

    /// A commune's module choices (cached for a couple of seconds).
    pub async fn tenant(
        &self,
        db: &Db,
        tenant: TenantId,
    ) -> Result<Arc<TenantModules>, sqlx::Error> {
        if let Ok(map) = self.tenants.read()
            && let Some((at, modules)) = map.get(&tenant)
            && at.elapsed() < TENANT_TTL
        {
            return Ok(modules.clone());
        }
        let mut tx = db.tenant(tenant).read().await?;
        let rows = store::tenant_modules(&mut tx).await?;
        tx.commit().await?;
        let modules = Arc::new(TenantModules {
            rows: rows.into_iter().map(|r| (r.module_id.clone(), r)).collect(),
        });
        if let Ok(mut map) = self.tenants.write() {
            map.insert(tenant, (Instant::now(), modules.clone()));
        }
        Ok(modules)
    }

    /// Forgets a commune's cached choices (after a change).
    pub fn invalidate(&self, tenant: TenantId) {
        if let Ok(mut map) = self.tenants.write() {
            map.remove(&tenant);
        }
    }

    pub(crate) fn succeeded(&self, tenant: TenantId, module: &ModuleId) {
        if let Ok(mut faults) = self.faults.lock()
            && !faults.is_empty()
        {
            faults.remove(&(tenant, module.to_string()));
        }
    }

    /// Counts a fault caused by `client` (`None`: the host's own call). The module is switched
    /// off for this commune, and its admins told, after [`FAULT_LIMIT`] faults in a row within
    /// [`FAULT_WINDOW`] from at least [`FAULT_CLIENTS`] distinct clients. Other communes are
    /// not affected.
    pub(crate) async fn fault(
        &self,
        tenant: TenantId,
        module: &Arc<LoadedModule>,
        client: Option<&ClientKey>,
        fault: &Fault,
    ) {
        let trips = match self.faults.lock() {
            Ok(mut faults) => {
                let run = faults
                    .entry((tenant, module.id.to_string()))
                    .or_insert_with(|| FaultRun {
                        count: 0,
                        since: Instant::now(),
                        clients: Vec::new(),
                    });
                if run.since.elapsed() > FAULT_WINDOW {
                    *run = FaultRun {
                        count: 0,
                        since: Instant::now(),
                        clients: Vec::new(),
                    };
                }
                run.add(client);
                run.count >= FAULT_LIMIT && run.distinct_clients() >= FAULT_CLIENTS
            }
            Err(_) => return,
        };
        if !trips {
            return;
        }
        if let Ok(mut faults) = self.faults.lock() {
            faults.remove(&(tenant, module.id.to_string()));
        }
        let reason = format!(
            "désactivé automatiquement après {FAULT_LIMIT} erreurs consécutives, rencontrées par \
             plusieurs visiteurs (dernière : {fault})"
        );
        if let Err(e) =
            crate::modules::service::disable_after_faults(self, tenant, module, &reason).await
        {
            tracing::error!(module = %module.id, tenant = %tenant, error = %e, "could not disable a faulty module");
        }
    }
}

/// Checks the versions of the `parvis:module` interfaces a component imports and exports
/// (`parvis:module/guest@0.2.0`): each must be one this host runs, and there must be some.
fn check_contract<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), InstallError> {
    let prefix = format!("{CONTRACT_PACKAGE}/");
    let versions: BTreeSet<&str> = names
        .filter_map(|name| name.strip_prefix(prefix.as_str()))
        .map(|rest| rest.split_once('@').map_or("", |(_, version)| version))
        .collect();
    if versions.is_empty() {
        return Err(InstallError::Invalid(format!(
            "il n'importe ni n'exporte aucune interface {CONTRACT_PACKAGE}"
        )));
    }
    match versions.iter().find(|v| !SUPPORTED_CONTRACTS.contains(v)) {
        Some(found) => Err(InstallError::UnsupportedContract {
            found: if found.is_empty() {
                "(sans version)".to_string()
            } else {
                (*found).to_string()
            },
            supported: SUPPORTED_CONTRACTS.join(", "),
        }),
        None => Ok(()),
    }
}

fn validate(m: &Manifest) -> Result<(), InstallError> {
    let bad = |why: &str| Err(InstallError::Manifest(why.to_string()));
    if m.name.is_empty() || m.name.chars().count() > 80 {
        return bad("le nom doit faire 1 à 80 caractères");
    }
    let semver = m.version.split('.').count() == 3
        && m.version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !semver {
        return bad("la version doit être de la forme 1.2.3");
    }
    for n in &m.nav {
        if !n.path.starts_with('/') {
            return bad("les chemins de navigation commencent par /");
        }
    }
    let mut keys = HashSet::new();
    for s in &m.settings {
        if s.key.is_empty() || !keys.insert(s.key.clone()) {
            return bad("chaque réglage a une clé unique et non vide");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_supported_contract_is_accepted() {
        assert!(
            check_contract(
                [
                    "wasi:io/streams@0.2.6",
                    "parvis:module/storage@0.2.0",
                    "parvis:module/guest@0.2.0",
                ]
                .into_iter()
            )
            .is_ok()
        );
        let old = check_contract(
            ["parvis:module/storage@0.1.0", "parvis:module/guest@0.1.0"].into_iter(),
        );
        let message = old.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("parvis:module@0.1.0"), "{message}");
        assert!(
            message.contains("prises en charge : 0.2.0, 0.2.1, 0.2.2, 0.2.3"),
            "{message}"
        );
        assert!(matches!(
            check_contract(["wasi:cli/run@0.2.6"].into_iter()),
            Err(InstallError::Invalid(_))
        ));
        assert!(matches!(
            check_contract(["parvis:module/guest"].into_iter()),
            Err(InstallError::UnsupportedContract { .. })
        ));
    }
}
