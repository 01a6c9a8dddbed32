//! Who may take a module's place, and what it may then do (issue 14).
//!
//! A component claiming an id already installed is refused unless the operator asks for the
//! replacement (`parvis module install --replace`): the id alone proves nothing about who
//! wrote it. There are no publisher keys yet: every replacement, an upgrade included, needs
//! `--replace`; a downgrade too (a rollback is the operator's call), and it is said so. The
//! same component installed again changes nothing.
//!
//! What a module may use is recorded per capability in `module_grants`. A first install grants
//! what the module declares (the operator installed it knowingly, reading its capabilities in
//! the install output). A replacement keeps the grants of the capabilities the previous
//! version had; a capability it adds is *not* granted: the host treats it as undeclared until
//! a platform admin grants it (`parvis module grant <id> <capability>`). Running servers pick
//! grant changes up at their next sync (every couple of seconds), like new versions.

use std::collections::{BTreeSet, HashMap};

use crate::db::{Db, sql};
use crate::modules::call::Capability;
use crate::modules::registry::{InstallError, LoadedModule, Manifest};
use crate::modules::store::{InstallConflict, StoredVersion};
use crate::util::now;

/// Each capability: its manifest name, the host's capability, and what it lets a module do,
/// in words a mayor understands (the `/admin/modules` page).
pub const CAPABILITIES: [(&str, Capability, &str); 5] = [
    (
        "storage",
        Capability::Storage,
        "Enregistrer ses propres données dans la commune",
    ),
    (
        "notify",
        Capability::Notify,
        "Envoyer des notifications, des e-mails et des SMS aux habitants",
    ),
    (
        "feed",
        Capability::Feed,
        "Publier dans le fil de la commune au nom de la commune",
    ),
    (
        "payments",
        Capability::Payments,
        "Demander des paiements (dons) versés à la commune",
    ),
    (
        "tick",
        Capability::Tick,
        "Agir chaque minute, sans visiteur",
    ),
];

/// PostgreSQL advisory lock key serialising installs (any fixed number unused elsewhere).
const INSTALL_LOCK: i64 = 0x7061_7276_6973_4d49;

/// Who is recorded as granting the capabilities of a first install.
pub const GRANTED_BY_INSTALL: &str = "install";

/// A capability in words a mayor understands (`None`: not a capability of the contract).
pub fn capability_words(name: &str) -> Option<&'static str> {
    CAPABILITIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, words)| *words)
}

fn capability(name: &str) -> Option<Capability> {
    CAPABILITIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, c, _)| *c)
}

/// The host's capabilities of a module: those its manifest declares that are granted.
pub(crate) fn effective(
    manifest: &Manifest,
    granted: &BTreeSet<String>,
) -> std::collections::HashSet<Capability> {
    manifest
        .capabilities
        .iter()
        .filter(|c| granted.contains(c.as_str()))
        .filter_map(|c| capability(c))
        .collect()
}

impl LoadedModule {
    /// Whether the host lets this module use a capability it declares (false while it waits
    /// for a platform admin's grant, and for a capability it does not declare).
    pub fn is_granted(&self, name: &str) -> bool {
        capability(name).is_some_and(|c| self.capabilities.contains(&c))
    }

    /// The capabilities it declares that wait for a platform admin's grant.
    pub fn pending_capabilities(&self) -> Vec<String> {
        self.manifest
            .capabilities
            .iter()
            .filter(|c| !self.is_granted(c))
            .cloned()
            .collect()
    }

    /// Whether the host's capabilities of this module are those `granted` allows.
    pub(crate) fn grants_match(&self, granted: &BTreeSet<String>) -> bool {
        effective(&self.manifest, granted) == self.capabilities
    }
}

/// A component refused because its id is taken and the operator did not ask to replace it.
#[derive(Debug, thiserror::Error)]
#[error(
    "le module « {id} » est déjà installé : « {installed_name} », version {installed_version}. \
     Le composant proposé porte le même identifiant mais se présente comme « {name} », \
     version {version}, capacités : {capabilities}. Rien n'a été installé. Pour remplacer le \
     module installé par ce composant, relancez la commande avec --replace (ses capacités \
     nouvelles resteront désactivées jusqu'à « parvis module grant »)."
)]
pub struct AlreadyInstalled {
    /// The id both claim.
    pub id: String,
    /// Name of the installed module.
    pub installed_name: String,
    /// Its version.
    pub installed_version: String,
    /// Name the newcomer gives.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its capabilities, comma-separated (`aucune` if none).
    pub capabilities: String,
}

/// The version an install replaced.
#[derive(Debug, Clone)]
pub struct Previous {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// What an install did.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The manifest of the component installed.
    pub manifest: Manifest,
    /// The version it replaced (`None`: a first install, or this component was served already).
    pub previous: Option<Previous>,
    /// This very component was already the served version: nothing changed.
    pub unchanged: bool,
    /// Its version is lower than the one it replaced (a rollback the operator chose).
    pub downgrade: bool,
    /// Capabilities it declares that the previous version did not.
    pub added: Vec<String>,
    /// Capabilities the previous version declared that it does not.
    pub removed: Vec<String>,
    /// Declared capabilities waiting for a platform admin's grant (the host refuses them).
    pub pending: Vec<String>,
    /// Declared capabilities granted.
    pub granted: BTreeSet<String>,
}

/// Capabilities as an operator reads them: `storage, notify`, or « aucune ».
pub fn capability_list(caps: &[String]) -> String {
    if caps.is_empty() {
        "aucune".to_string()
    } else {
        caps.join(", ")
    }
}

/// `1.2.3` as numbers (validated by the registry before this is called).
fn semver(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

fn declared(manifest: &Manifest) -> Vec<String> {
    let mut seen = BTreeSet::new();
    manifest
        .capabilities
        .iter()
        .filter(|c| seen.insert(c.as_str()))
        .cloned()
        .collect()
}

/// Registers a validated component as the served version of its module, unless its id is
/// taken by another component and `replace` is false; records the grants (see the module
/// documentation). One transaction: a refused install registers nothing.
pub(crate) async fn register(
    db: &Db,
    v: &StoredVersion,
    manifest: &Manifest,
    replace: bool,
) -> Result<Installed, InstallError> {
    let mut tx = db.begin_immediate().await?;
    if db.backend() == crate::db::Backend::Postgres {
        // Two installs at once see the same current version: one waits for the other (SQLite's
        // immediate transaction already does this).
        sql::query("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS held")
            .bind(INSTALL_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    let same_version: Option<String> = sql::query_scalar(
        "SELECT sha256 FROM module_versions WHERE module_id = $1 AND version = $2",
    )
    .bind(&v.id)
    .bind(&v.version)
    .fetch_optional(&mut *tx)
    .await?;
    if same_version.as_ref().is_some_and(|sha| *sha != v.sha256) {
        return Err(InstallConflict::DifferentContent {
            id: v.id.clone(),
            version: v.version.clone(),
        }
        .into());
    }
    let current: Option<(String, String)> = sql::query_as(
        "SELECT v.sha256, v.manifest FROM modules m \
         JOIN module_versions v ON v.module_id = m.id AND v.version = m.version WHERE m.id = $1",
    )
    .bind(&v.id)
    .fetch_optional(&mut *tx)
    .await?;
    let current = match current {
        Some((sha, json)) => {
            let installed: Manifest = serde_json::from_str(&json).map_err(|e| {
                InstallError::Manifest(format!("version installée illisible : {e}"))
            })?;
            Some((sha, installed))
        }
        None => None,
    };
    let declared = declared(manifest);
    let mut installed = Installed {
        manifest: manifest.clone(),
        previous: None,
        unchanged: false,
        downgrade: false,
        added: declared.clone(),
        removed: vec![],
        pending: vec![],
        granted: BTreeSet::new(),
    };
    match &current {
        Some((sha, _)) if *sha == v.sha256 => {
            // The same component again: nothing to decide, nothing changes.
            tx.commit().await?;
            installed.unchanged = true;
            installed.added.clear();
            installed.granted = granted(db, &v.id).await?;
            installed.pending = declared
                .into_iter()
                .filter(|c| !installed.granted.contains(c))
                .collect();
            return Ok(installed);
        }
        Some((_, before)) if !replace => {
            return Err(InstallError::AlreadyInstalled(Box::new(AlreadyInstalled {
                id: v.id.clone(),
                installed_name: before.name.clone(),
                installed_version: before.version.clone(),
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                capabilities: capability_list(&declared),
            })));
        }
        Some((_, before)) => {
            let before_caps = self::declared(before);
            installed.added = declared
                .iter()
                .filter(|c| !before_caps.contains(c))
                .cloned()
                .collect();
            installed.removed = before_caps
                .iter()
                .filter(|c| !declared.contains(c))
                .cloned()
                .collect();
            installed.downgrade = semver(&manifest.version) < semver(&before.version);
            installed.previous = Some(Previous {
                name: before.name.clone(),
                version: before.version.clone(),
            });
        }
        None => {}
    }
    if same_version.is_none() {
        sql::query(
            "INSERT INTO module_versions (module_id, version, sha256, name, premium, manifest, wasm, installed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&v.id)
        .bind(&v.version)
        .bind(&v.sha256)
        .bind(&manifest.name)
        .bind(i64::from(manifest.premium))
        .bind(&v.manifest)
        .bind(v.wasm.clone())
        .bind(now())
        .execute(&mut *tx)
        .await?;
    }
    sql::query(
        "INSERT INTO modules (id, version, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
    )
    .bind(&v.id)
    .bind(&v.version)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    // Grants: a first install grants what it declares; a replacement drops the rows of the
    // capabilities it no longer declares (declaring one again later makes it new again) and
    // adds the new ones, not granted.
    let first = current.is_none();
    for cap in &installed.removed {
        sql::query("DELETE FROM module_grants WHERE module_id = $1 AND capability = $2")
            .bind(&v.id)
            .bind(cap)
            .execute(&mut *tx)
            .await?;
    }
    for cap in &declared {
        sql::query(
            "INSERT INTO module_grants (module_id, capability, granted, granted_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (module_id, capability) DO NOTHING",
        )
        .bind(&v.id)
        .bind(cap)
        .bind(i64::from(first))
        .bind(first.then_some(GRANTED_BY_INSTALL))
        .bind(now())
        .execute(&mut *tx)
        .await?;
    }
    let granted: Vec<String> = sql::query_scalar(
        "SELECT capability FROM module_grants WHERE module_id = $1 AND granted = 1",
    )
    .bind(&v.id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    installed.granted = granted.into_iter().collect();
    installed.pending = declared
        .into_iter()
        .filter(|c| !installed.granted.contains(c))
        .collect();
    Ok(installed)
}

/// The granted capabilities of one module.
pub async fn granted(db: &Db, id: &str) -> Result<BTreeSet<String>, sqlx::Error> {
    let granted: Vec<String> = sql::query_scalar(
        "SELECT capability FROM module_grants WHERE module_id = $1 AND granted = 1",
    )
    .bind(id)
    .fetch_all(db.platform())
    .await?;
    Ok(granted.into_iter().collect())
}

/// The granted capabilities of every module, by module id (what [`sync`] applies).
///
/// [`sync`]: crate::modules::registry::ModuleHost::sync
pub async fn granted_all(db: &Db) -> Result<HashMap<String, BTreeSet<String>>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sql::query_as("SELECT module_id, capability FROM module_grants WHERE granted = 1")
            .fetch_all(db.platform())
            .await?;
    let mut all: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (module_id, capability) in rows {
        all.entry(module_id).or_default().insert(capability);
    }
    Ok(all)
}

/// Why a grant could not be changed, in French for the CLI and the platform admin's page.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// No such capability in the contract.
    #[error(
        "capacité inconnue « {0} » : les capacités sont storage, notify, feed, payments et tick"
    )]
    UnknownCapability(String),
    /// No module installed with this id.
    #[error("aucun module installé n'a l'identifiant « {0} »")]
    UnknownModule(String),
    /// The served version does not declare it.
    #[error(
        "le module « {id} » ne déclare pas la capacité « {capability} » (capacités déclarées : {declared})"
    )]
    NotDeclared {
        /// Module id.
        id: String,
        /// The capability asked for.
        capability: String,
        /// What it declares.
        declared: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Grants (or withdraws, `granted` false) a capability the served version of a module
/// declares. `by` is recorded (the platform admin, or `cli`). Running servers apply it at
/// their next sync. Returns whether anything changed.
pub async fn set_grant(
    db: &Db,
    id: &str,
    capability_name: &str,
    granted: bool,
    by: &str,
) -> Result<bool, GrantError> {
    if capability(capability_name).is_none() {
        return Err(GrantError::UnknownCapability(capability_name.to_string()));
    }
    let mut tx = db.begin_immediate().await?;
    let known: Option<i64> = sql::query_scalar(
        "SELECT granted FROM module_grants WHERE module_id = $1 AND capability = $2",
    )
    .bind(id)
    .bind(capability_name)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(was) = known else {
        let declared: Vec<String> =
            sql::query_scalar("SELECT capability FROM module_grants WHERE module_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        let installed: Option<String> = sql::query_scalar("SELECT id FROM modules WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        return Err(match installed {
            None => GrantError::UnknownModule(id.to_string()),
            Some(_) => GrantError::NotDeclared {
                id: id.to_string(),
                capability: capability_name.to_string(),
                declared: capability_list(&declared),
            },
        });
    };
    if (was != 0) == granted {
        tx.commit().await?;
        return Ok(false);
    }
    sql::query(
        "UPDATE module_grants SET granted = $3, granted_by = $4, updated_at = $5 \
         WHERE module_id = $1 AND capability = $2",
    )
    .bind(id)
    .bind(capability_name)
    .bind(i64::from(granted))
    .bind(by)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(module = %id, capability = %capability_name, granted, by, "module grant changed");
    Ok(true)
}

/// Every capability waiting for a grant: `(module id, capability)`, by module.
pub async fn pending_all(db: &Db) -> Result<Vec<(String, String)>, sqlx::Error> {
    sql::query_as(
        "SELECT module_id, capability FROM module_grants WHERE granted = 0 \
         ORDER BY module_id, capability",
    )
    .fetch_all(db.platform())
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        assert!(semver("0.10.0") > semver("0.9.9"));
        assert!(semver("9.9.9") > semver("0.1.0"));
        assert!(semver("1.2.10") > semver("1.2.9"));
    }

    #[test]
    fn every_capability_has_words() {
        for name in ["storage", "notify", "feed", "payments", "tick"] {
            assert!(capability_words(name).is_some(), "{name}");
        }
        assert!(capability_words("root").is_none());
    }
}
