//! What pages share between people, kept rendered in memory and checked at each request.
//!
//! Every commune has a version that the database raises itself at each write to a table its
//! pages are made of (migration 0025: triggers on posts, their attachments, comments,
//! reactions and ratings, follows, the commune's page, links and team, officials, mandates,
//! candidates). A signed-in page reads it in its session's statement ([`crate::web::session::Here`]),
//! a visitor's page on its own (one row by primary key), and reuses what it rendered at the same
//! version: a post's card, the sections of a commune's page. A write from any path — a route, a
//! module, the command line, another process on the same database — shows at the next request.
//!
//! Only what is the same for everyone is kept: a cached part is rendered from a context with no
//! viewer in it, and the page adds the viewer's part (their forms, their CSRF token, why they see
//! a post) around it at each request. So a cache cannot show one person's page to another.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use hashlink::LruCache;

use crate::db::{Db, Sql as _, sql};
use crate::types::TenantId;

/// A commune's version: 0 before its first write.
pub async fn tenant_version(db: &Db, tenant: TenantId) -> Result<i64, sqlx::Error> {
    let version: Option<i64> =
        sql::query_scalar("SELECT version FROM tenant_versions WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_optional(db.reader().await?.sql())
            .await?;
    Ok(version.unwrap_or(0))
}

/// Values rendered at a version, the least recently used dropped past a bound.
pub struct Versioned<K, V: ?Sized> {
    entries: Mutex<LruCache<K, (i64, Arc<V>)>>,
}

impl<K: Hash + Eq, V: ?Sized> Versioned<K, V> {
    /// At most `capacity` values (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).map_or(1, NonZeroUsize::get);
        Versioned {
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The value kept for `key` if it was rendered at `version`.
    pub fn get(&self, key: &K, version: i64) -> Option<Arc<V>> {
        let mut entries = self.entries.lock().ok()?;
        match entries.get(key) {
            Some((at, value)) if *at == version => Some(value.clone()),
            _ => None,
        }
    }

    /// Keeps `value`, rendered from what was read at `version` or later. A value of an older
    /// version than the one kept (a slow request finishing after a newer one) is not kept.
    pub fn put(&self, key: K, version: i64, value: Arc<V>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if let Some((at, _)) = entries.peek(&key)
            && *at > version
        {
            return;
        }
        entries.insert(key, (version, value));
    }

    /// Keeps `value`, read at a stamp that is not a version (a fingerprint of several): it
    /// replaces whatever was kept for `key`.
    pub fn replace(&self, key: K, stamp: i64, value: Arc<V>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key, (stamp, value));
        }
    }

    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_serves_only_its_version_and_the_oldest_go_first() {
        let cache: Versioned<u32, str> = Versioned::new(2);
        cache.put(1, 5, Arc::from("v5"));
        assert_eq!(cache.get(&1, 5).as_deref(), Some("v5"));
        assert!(cache.get(&1, 6).is_none(), "a newer version is a miss");
        // A slow request that read version 4 does not replace what version 5 rendered.
        cache.put(1, 4, Arc::from("v4"));
        assert_eq!(cache.get(&1, 5).as_deref(), Some("v5"));
        cache.put(1, 6, Arc::from("v6"));
        assert_eq!(cache.get(&1, 6).as_deref(), Some("v6"));
        cache.put(2, 1, Arc::from("b"));
        cache.get(&1, 6);
        cache.put(3, 1, Arc::from("c"));
        assert!(cache.get(&2, 1).is_none(), "the least recently used went");
        assert_eq!(cache.len(), 2);
    }
}
