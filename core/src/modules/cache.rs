//! What modules keep in the server's memory for a while (contract 0.2.8, `cache`): values that
//! are costly to work out and may be a little old, such as a consultation's results summed
//! from 20,000 tallies. A read call keeps them here instead of writing them to storage, so on
//! SQLite it takes no turn of the commune's single writer (a GET that writes is run again as
//! a writer, `call::run`, and would hold every vote behind its computation).
//!
//! Each module of each commune has its own shelf: a module only ever reads, replaces or pushes
//! out its own entries (at most [`SHELF_BYTES`], its least recently read giving way), and the
//! whole cache stays under [`TOTAL_BYTES`] by dropping the shelves read least recently. An
//! entry is gone at its end of life, at a restart, and is not shared with another server
//! process: the contract tells modules to do without it.
//!
//! Leases: the first call to find a value stale takes the lease and works it out; the others
//! show the stale value meanwhile, so a crowd arriving as it expires costs one computation,
//! not one each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hashlink::LruCache;

use crate::types::{ModuleId, TenantId};

/// Longest key, in bytes.
pub const MAX_KEY: usize = 200;
/// Largest value, in bytes.
pub const MAX_VALUE: usize = 1 << 20;
/// Most a module keeps for one commune.
pub const SHELF_BYTES: usize = 8 << 20;
/// Most keys (entries and leases) on one shelf.
pub const SHELF_KEYS: usize = 1_024;
/// Most the whole cache keeps.
pub const TOTAL_BYTES: usize = 256 << 20;
/// Longest life of an entry.
pub const MAX_TTL: Duration = Duration::from_secs(3_600);
/// Longest lease.
pub const MAX_LEASE: Duration = Duration::from_secs(60);
/// What a key costs beside its bytes (the maps' own bookkeeping), so a shelf of empty values
/// or of leases still weighs something.
const KEY_OVERHEAD: usize = 96;

/// Whose shelf: a module of a commune.
pub type Owner = (TenantId, ModuleId);

/// The cache of every module of every commune served by this process.
pub struct ModuleCache {
    inner: Mutex<Shelves>,
}

struct Shelves {
    /// Every owner's shelf, least recently read first.
    shelves: LruCache<Owner, Shelf>,
    /// What all the shelves weigh.
    bytes: usize,
}

struct Shelf {
    entries: LruCache<String, Kept>,
    /// Until when a call works the key out again.
    leases: HashMap<String, Instant>,
    bytes: usize,
}

struct Kept {
    value: Arc<str>,
    at: Instant,
    until: Instant,
}

impl Kept {
    fn weight(key: &str, value: &str) -> usize {
        key.len() + value.len() + KEY_OVERHEAD
    }
}

impl Shelf {
    fn new() -> Shelf {
        Shelf {
            entries: LruCache::new_unbounded(),
            leases: HashMap::new(),
            bytes: 0,
        }
    }

    fn keys(&self) -> usize {
        self.entries.len() + self.leases.len()
    }

    /// Drops the entry under `key`; the bytes it freed.
    fn remove(&mut self, key: &str) -> usize {
        let freed = self
            .entries
            .remove(key)
            .map_or(0, |kept| Kept::weight(key, &kept.value));
        self.bytes -= freed;
        freed
    }

    fn end_lease(&mut self, key: &str) {
        if self.leases.remove(key).is_some() {
            self.bytes -= key.len() + KEY_OVERHEAD;
        }
    }

    /// Takes the lease on `key` unless a call holds it, or the shelf is full of live leases
    /// (a module asking for leases on ever new keys keeps at most [`SHELF_KEYS`] of them).
    fn lease(&mut self, key: &str, until: Instant, now: Instant) -> bool {
        match self.leases.get_mut(key) {
            Some(held) if *held > now => false,
            Some(held) => {
                *held = until;
                true
            }
            None => {
                self.drop_ended_leases(now);
                if self.leases.len() >= SHELF_KEYS {
                    return false;
                }
                self.leases.insert(key.to_string(), until);
                self.bytes += key.len() + KEY_OVERHEAD;
                true
            }
        }
    }

    /// Past [`SHELF_KEYS`], drops the leases that ended.
    fn drop_ended_leases(&mut self, now: Instant) {
        if self.keys() < SHELF_KEYS {
            return;
        }
        let mut freed = 0;
        self.leases.retain(|key, until| {
            let live = *until > now;
            if !live {
                freed += key.len() + KEY_OVERHEAD;
            }
            live
        });
        self.bytes -= freed;
    }

    /// Drops the least recently read entries while past its bounds.
    fn trim(&mut self) {
        while self.bytes > SHELF_BYTES || self.keys() > SHELF_KEYS {
            match self.entries.remove_lru() {
                Some((key, kept)) => self.bytes -= Kept::weight(&key, &kept.value),
                None => break,
            }
        }
    }
}

impl Default for ModuleCache {
    fn default() -> Self {
        ModuleCache {
            inner: Mutex::new(Shelves {
                shelves: LruCache::new_unbounded(),
                bytes: 0,
            }),
        }
    }
}

impl ModuleCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shelves> {
        // Nothing here can panic halfway through a change; a poisoned lock is still coherent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value kept under `key` and its age, while it lives.
    pub fn get(&self, owner: &Owner, key: &str, now: Instant) -> Option<(Arc<str>, Duration)> {
        let mut all = self.lock();
        let shelf = all.shelves.get_mut(owner)?;
        let kept = shelf.entries.get(key)?;
        if kept.until <= now {
            let freed = shelf.remove(key);
            all.bytes -= freed;
            return None;
        }
        Some((kept.value.clone(), now.saturating_duration_since(kept.at)))
    }

    /// Whether the caller is the one to work `key` out again (see the module's docs).
    pub fn lease(&self, owner: &Owner, key: &str, ms: Duration, now: Instant) -> bool {
        let until = now + ms.min(MAX_LEASE);
        self.change(owner, |shelf| shelf.lease(key, until, now))
    }

    /// Keeps `value` under `key` for `ttl`, and ends the lease on it. The import checks the
    /// key and the value against [`MAX_KEY`] and [`MAX_VALUE`] before.
    pub fn keep(&self, owner: &Owner, key: &str, value: Arc<str>, ttl: Duration, now: Instant) {
        self.change(owner, |shelf| {
            shelf.remove(key);
            shelf.end_lease(key);
            shelf.bytes += Kept::weight(key, &value);
            shelf.entries.insert(
                key.to_string(),
                Kept {
                    value,
                    at: now,
                    until: now + ttl.min(MAX_TTL),
                },
            );
        });
    }

    /// Drops what is kept under `key`.
    pub fn forget(&self, owner: &Owner, key: &str) {
        self.change(owner, |shelf| {
            shelf.remove(key);
        });
    }

    /// Changes `owner`'s shelf (taken out, put back as the most recently used unless left
    /// empty), then keeps it and the whole cache within their bounds.
    fn change<T>(&self, owner: &Owner, f: impl FnOnce(&mut Shelf) -> T) -> T {
        let mut all = self.lock();
        let mut shelf = all.shelves.remove(owner).unwrap_or_else(Shelf::new);
        let before = shelf.bytes;
        let out = f(&mut shelf);
        shelf.trim();
        all.bytes = all.bytes - before + shelf.bytes;
        if shelf.keys() > 0 {
            all.shelves.insert(owner.clone(), shelf);
        }
        // The shelf just changed is the most recently used: others give way first.
        while all.bytes > TOTAL_BYTES {
            match all.shelves.remove_lru() {
                Some((_, dropped)) => all.bytes -= dropped.bytes,
                None => break,
            }
        }
        out
    }

    /// What the whole cache weighs.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(t: i64, m: &str) -> Owner {
        match ModuleId::parse(m) {
            Ok(m) => (TenantId::for_tests(t), m),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_module_pushes_out_only_its_own_entries() {
        let cache = ModuleCache::default();
        let now = Instant::now();
        let (paris, lyon) = (owner(1, "consultations"), owner(2, "consultations"));
        cache.keep(&lyon, "r", Arc::from("lyon"), MAX_TTL, now);
        let big: Arc<str> = Arc::from("x".repeat(MAX_VALUE - 100));
        for i in 0..12 {
            cache.keep(&paris, &format!("k{i}"), big.clone(), MAX_TTL, now);
        }
        assert!(cache.bytes() <= SHELF_BYTES + 2 * 1024);
        assert_eq!(
            cache.get(&lyon, "r", now).map(|(v, _)| v),
            Some(Arc::from("lyon"))
        );
        assert!(
            cache.get(&paris, "k0", now).is_none(),
            "the oldest gave way"
        );
        assert!(cache.get(&paris, "k11", now).is_some());
        assert!(cache.get(&owner(2, "polls"), "r", now).is_none());
    }

    #[test]
    fn one_lease_at_a_time_until_kept_or_over() {
        let cache = ModuleCache::default();
        let now = Instant::now();
        let o = owner(1, "consultations");
        let ms = Duration::from_secs(5);
        assert!(cache.lease(&o, "r", ms, now));
        assert!(!cache.lease(&o, "r", ms, now + Duration::from_secs(1)));
        assert!(cache.lease(&o, "r", ms, now + Duration::from_secs(6)));
        cache.keep(
            &o,
            "r",
            Arc::from("v"),
            Duration::from_secs(30),
            now + Duration::from_secs(7),
        );
        assert!(cache.lease(&o, "r", ms, now + Duration::from_secs(8)));
        let later = now + Duration::from_secs(38);
        assert!(cache.get(&o, "r", later).is_none(), "past its life");
    }

    #[test]
    fn a_flood_of_leases_stays_on_its_own_shelf() {
        let cache = ModuleCache::default();
        let now = Instant::now();
        let (paris, lyon) = (owner(1, "hostile"), owner(2, "consultations"));
        cache.keep(&lyon, "r", Arc::from("lyon"), MAX_TTL, now);
        let granted = (0..5 * SHELF_KEYS)
            .filter(|i| cache.lease(&paris, &format!("k{i}"), MAX_LEASE, now))
            .count();
        assert_eq!(granted, SHELF_KEYS, "at most a shelf's keys of live leases");
        assert!(
            cache.get(&lyon, "r", now).is_some(),
            "another shelf untouched"
        );
        // Once they ended, new leases are granted again.
        assert!(cache.lease(&paris, "new", MAX_LEASE, now + MAX_LEASE));
    }
}
