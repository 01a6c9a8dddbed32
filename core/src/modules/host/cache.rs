//! `parvis:module/cache` (since 0.2.8): what a module keeps in the server's memory for its
//! commune ([`crate::modules::cache`]). It needs the `storage` capability (it is the module's
//! data about the commune) and counts against the call's host calls; what a call keeps or
//! forgets waits for the call to succeed ([`CallState::apply_cache`]), its leases do not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::modules::bindings::parvis::module::cache::{Entry, Host};
use crate::modules::cache::{MAX_KEY, MAX_TTL, MAX_VALUE, Owner};
use crate::modules::call::{CacheChange, CallState, Capability};

/// Most values one call keeps.
pub const MAX_KEPT_PER_CALL: usize = 16;

impl CallState {
    /// The call's shelf, if it may use the cache (a commune, the capability, host calls left).
    fn cache_owner(&mut self) -> Result<Owner, String> {
        self.count_host_call()
            .map_err(|_| "trop d'appels à l'hôte".to_string())?;
        if !self.declared(Capability::Storage) {
            return Err(
                "le module n'a pas déclaré la capacité « storage » dans son manifeste".into(),
            );
        }
        let tenant = self
            .tenant()
            .ok_or_else(|| "aucune commune pendant la lecture du manifeste".to_string())?;
        Ok((tenant, self.module.clone()))
    }

    /// Keeps or forgets what the call asked, once it succeeded.
    pub(crate) fn apply_cache(&mut self) {
        let Some(tenant) = self.tenant() else { return };
        let owner = (tenant, self.module.clone());
        let cache = self.services.module_cache();
        let now = Instant::now();
        for change in std::mem::take(&mut self.after_commit.cache) {
            match change {
                CacheChange::Keep { key, value, ttl } => cache.keep(&owner, &key, value, ttl, now),
                CacheChange::Forget { key } => cache.forget(&owner, &key, now),
            }
        }
    }
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> Option<Entry> {
        let owner = self.cache_owner().ok()?;
        // What this call changed comes first: it reads its own writes.
        if let Some(change) = self
            .after_commit
            .cache
            .iter()
            .rev()
            .find(|c| c.key() == key)
        {
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
        self.cache_owner()?;
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(format!("clé de cache vide ou de plus de {MAX_KEY} octets"));
        }
        if value.len() > MAX_VALUE {
            return Err(format!(
                "valeur de cache de {} octets : au plus {MAX_VALUE}",
                value.len()
            ));
        }
        let kept = self
            .after_commit
            .cache
            .iter()
            .filter(|c| matches!(c, CacheChange::Keep { .. }))
            .count();
        if kept >= MAX_KEPT_PER_CALL {
            return Err(format!(
                "au plus {MAX_KEPT_PER_CALL} valeurs mises en cache par requête"
            ));
        }
        let ttl = Duration::from_millis(u64::from(ttl_ms)).min(MAX_TTL);
        self.after_commit.cache.push(CacheChange::Keep {
            key,
            value: Arc::from(value),
            ttl,
        });
        Ok(())
    }

    async fn lease(&mut self, key: String, ms: u32) -> bool {
        let Ok(owner) = self.cache_owner() else {
            return false;
        };
        if key.is_empty() || key.len() > MAX_KEY {
            return false;
        }
        self.services.module_cache().lease(
            &owner,
            &key,
            Duration::from_millis(u64::from(ms)),
            Instant::now(),
        )
    }

    async fn forget(&mut self, key: String) {
        if self.cache_owner().is_ok() && !key.is_empty() && key.len() <= MAX_KEY {
            self.after_commit.cache.push(CacheChange::Forget { key });
        }
    }
}
