//! `parvis:module/cache` (since 0.2.8): what a module keeps in the server's memory for its
//! commune ([`crate::modules::cache`]). It needs the `storage` capability (it is the module's
//! data about the commune) and counts against the call's host calls; what a call keeps or
//! forgets waits for the call to succeed ([`CallState::apply_cache`]), its leases do not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::modules::bindings::parvis::module::cache::{Entry, Host};
use crate::modules::cache::{MAX_KEY, MAX_TTL, MAX_VALUE, Owner};
use crate::modules::call::{CacheChange, CallState, Capability, Denied};

/// Most keys one call keeps or forgets (a key changed twice counts once).
pub const MAX_CHANGES_PER_CALL: usize = 16;

impl CallState {
    /// The call's shelf, if it may use the cache under `key` (a commune, the capability, host
    /// calls left, a key of 1 to [`MAX_KEY`] bytes).
    fn cache_owner(&mut self, key: &str) -> Result<Owner, String> {
        self.count_host_call().map_err(|denied| match denied {
            Denied::Unavailable(why) => why,
            Denied::Capability(c) => c.to_string(),
        })?;
        if !self.declared(Capability::Storage) {
            return Err(
                "le module n'a pas déclaré la capacité « storage » dans son manifeste".into(),
            );
        }
        let tenant = self
            .tenant()
            .ok_or_else(|| "aucune commune pendant la lecture du manifeste".to_string())?;
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(format!("clé de cache vide ou de plus de {MAX_KEY} octets"));
        }
        Ok((tenant, self.module.clone()))
    }

    /// Notes a change for when the call succeeds: it replaces an earlier change of the same
    /// key; past [`MAX_CHANGES_PER_CALL`] keys, refused.
    fn change_cache(&mut self, change: CacheChange) -> Result<(), String> {
        let changes = &mut self.after_commit.cache;
        changes.retain(|c| c.key() != change.key());
        if changes.len() >= MAX_CHANGES_PER_CALL {
            return Err(format!(
                "au plus {MAX_CHANGES_PER_CALL} clés de cache changées par requête"
            ));
        }
        changes.push(change);
        Ok(())
    }

    /// Keeps or forgets what the call asked, once it succeeded.
    pub(crate) fn apply_cache(&mut self) {
        if self.after_commit.cache.is_empty() {
            return;
        }
        let Some(tenant) = self.tenant() else { return };
        let owner = (tenant, self.module.clone());
        let cache = self.services.module_cache();
        let now = Instant::now();
        for change in std::mem::take(&mut self.after_commit.cache) {
            match change {
                CacheChange::Keep { key, value, ttl } => cache.keep(&owner, &key, value, ttl, now),
                CacheChange::Forget { key } => cache.forget(&owner, &key),
            }
        }
    }
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> Option<Entry> {
        let owner = self.cache_owner(&key).ok()?;
        // What this call changed comes first: it reads its own writes.
        if let Some(change) = self.after_commit.cache.iter().find(|c| c.key() == key) {
            return match change {
                CacheChange::Keep { value, .. } => Some(Entry {
                    value: value.to_string(),
                    age_ms: 0,
                }),
                CacheChange::Forget { .. } => None,
            };
        }
        let (value, age) = self
            .services
            .module_cache()
            .get(&owner, &key, Instant::now())?;
        Some(Entry {
            value: value.to_string(),
            age_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
        })
    }

    async fn set(&mut self, key: String, value: String, ttl_ms: u32) -> Result<(), String> {
        self.cache_owner(&key)?;
        if value.len() > MAX_VALUE {
            return Err(format!(
                "valeur de cache de {} octets : au plus {MAX_VALUE}",
                value.len()
            ));
        }
        let ttl = Duration::from_millis(u64::from(ttl_ms)).min(MAX_TTL);
        self.change_cache(CacheChange::Keep {
            key,
            value: Arc::from(value),
            ttl,
        })
    }

    async fn lease(&mut self, key: String, ms: u32) -> bool {
        let Ok(owner) = self.cache_owner(&key) else {
            return false;
        };
        self.services.module_cache().lease(
            &owner,
            &key,
            Duration::from_millis(u64::from(ms)),
            Instant::now(),
        )
    }

    async fn forget(&mut self, key: String) -> Result<(), String> {
        self.cache_owner(&key)?;
        self.change_cache(CacheChange::Forget { key })
    }
}
