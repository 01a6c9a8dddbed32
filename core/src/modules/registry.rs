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
use crate::modules::call::{self, CallState, Capability, Fault};
use crate::modules::engine::{CallLimits, ModuleEngine, sha256_hex};
use crate::modules::store::{self, StoredVersion, TenantModule};
use crate::types::{ModuleId, TenantId};
use crate::web::AppState;

/// Consecutive faults after which a module is switched off for a commune.
pub const FAULT_LIMIT: u32 = 3;
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

fn parse_capability(name: &str) -> Option<Capability> {
    Some(match name {
        "storage" => Capability::Storage,
        "notify" => Capability::Notify,
        "feed" => Capability::Feed,
        "payments" => Capability::Payments,
        "tick" => Capability::Tick,
        _ => return None,
    })
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
    #[error("ce fichier n'est pas un module Parvis (composant du contrat parvis:module) : {0}")]
    Invalid(String),
    /// Built against a version of the contract this host does not run.
    #[error(
        "ce module a été construit pour le contrat parvis:module@{found}, que ce serveur ne prend pas en charge \
         (version prise en charge : {supported}) ; reconstruisez-le avec le SDK de cette version"
    )]
    UnsupportedContract {
        /// The version the component imports or exports.
        found: String,
        /// The versions this host runs.
        supported: String,
    },
    /// The manifest is wrong.
    #[error("manifeste du module invalide : {0}")]
    Manifest(String),
    /// Same version, other bytes.
    #[error(transparent)]
    Conflict(#[from] store::InstallConflict),
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
    limits: CallLimits,
    loaded: RwLock<HashMap<String, Arc<LoadedModule>>>,
    /// Stored versions (by SHA-256) this host cannot run: not tried again at each sync.
    unloadable: Mutex<HashSet<String>>,
    tenants: RwLock<HashMap<TenantId, (Instant, Arc<TenantModules>)>>,
    faults: Mutex<HashMap<(TenantId, String), u32>>,
    syncing: tokio::sync::Mutex<()>,
}

impl ModuleHost {
    /// The engine and the linker of the `module` world (WASI linked with no rights).
    pub fn new(config: &crate::config::Config, limits: CallLimits) -> anyhow::Result<ModuleHost> {
        let engine = ModuleEngine::new(&config.module_cache, &limits)
            .map_err(|e| anyhow::anyhow!("moteur wasm : {e:#}"))?;
        let mut linker = Linker::new(engine.engine());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("WASI : {e:#}"))?;
        Module::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("contrat parvis:module : {e:#}"))?;
        Ok(ModuleHost {
            engine,
            linker,
            limits,
            loaded: RwLock::default(),
            unloadable: Mutex::default(),
            tenants: RwLock::default(),
            faults: Mutex::default(),
            syncing: tokio::sync::Mutex::new(()),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &ModuleEngine {
        &self.engine
    }

    /// Bounds on each call.
    pub fn limits(&self) -> CallLimits {
        self.limits
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
    ) -> LoadedModule {
        let capabilities = manifest
            .capabilities
            .iter()
            .filter_map(|c| parse_capability(c))
            .collect();
        LoadedModule {
            id,
            manifest,
            sha256,
            capabilities,
            pre,
        }
    }

    /// Validates a component (compiles it, reads its manifest), registers it as the served
    /// version of its module, and serves it here at once. Other servers pick it up by [`sync`].
    ///
    /// [`sync`]: ModuleHost::sync
    pub async fn install(&self, app: &AppState, wasm: &[u8]) -> Result<Manifest, InstallError> {
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
        let raw = call::manifest(app, &probe, &self.limits)
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
        validate(&manifest)?;
        let stored = StoredVersion {
            id: manifest.id.clone(),
            version: manifest.version.clone(),
            sha256: sha256.clone(),
            manifest: serde_json::to_string(&manifest)
                .map_err(|e| InstallError::Manifest(e.to_string()))?,
            wasm: wasm.to_vec(),
        };
        store::install_version(&app.db, &stored, &manifest.name, manifest.premium).await?;
        let loaded = self.loaded_from(id, manifest.clone(), sha256, pre);
        if let Ok(mut map) = self.loaded.write() {
            map.insert(manifest.id.clone(), Arc::new(loaded));
        }
        Ok(manifest)
    }

    /// Loads every version the database says to serve that is not loaded yet (at start, then
    /// every few seconds). Returns how many modules were (re)loaded.
    pub async fn sync(&self, db: &Db) -> anyhow::Result<usize> {
        let _one_at_a_time = self.syncing.lock().await;
        let served = store::served_versions(db).await?;
        let mut changed = 0;
        for (id, version) in served {
            let current = self.get(&id);
            if current
                .as_ref()
                .is_some_and(|m| m.manifest.version == version)
            {
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
            let loaded = self.loaded_from(module_id, manifest, stored.sha256, pre);
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
        let mut tx = db.tenant(tenant).begin().await?;
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

    /// Counts a fault; at [`FAULT_LIMIT`] in a row the module is switched off for this commune
    /// and its admins are told. Other communes are not affected.
    pub(crate) async fn fault(
        &self,
        app: &AppState,
        tenant: TenantId,
        module: &Arc<LoadedModule>,
        fault: &Fault,
    ) {
        let count = match self.faults.lock() {
            Ok(mut faults) => {
                let n = faults.entry((tenant, module.id.to_string())).or_insert(0);
                *n += 1;
                *n
            }
            Err(_) => return,
        };
        if count < FAULT_LIMIT {
            return;
        }
        if let Ok(mut faults) = self.faults.lock() {
            faults.remove(&(tenant, module.id.to_string()));
        }
        let reason = format!(
            "désactivé automatiquement après {FAULT_LIMIT} erreurs consécutives (dernière : {fault})"
        );
        if let Err(e) =
            crate::modules::service::disable_after_faults(app, tenant, module, &reason).await
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
        assert!(message.contains("prise en charge : 0.2.0"), "{message}");
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
