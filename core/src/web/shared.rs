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

use std::cell::RefCell;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock, Mutex};

use hashlink::LruCache;
use serde::{Serialize, Serializer};

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

/// HTML kept rendered, carried by a page's context without being copied into it: within
/// [`crate::web::render::Templates::render_page`], it serialises as a marker (a random word
/// drawn at start-up, so no text written by a person can forge one) that the rendered bytes
/// get the HTML in place of; anywhere else (a fragment, an e-mail), as its text. A page
/// holds its 20–40 KB of kept cards and sections once, not three times (context, output,
/// the check that the output is UTF-8).
#[derive(Debug, Clone)]
pub struct Kept(pub Arc<str>);

impl From<String> for Kept {
    fn from(html: String) -> Self {
        Kept(Arc::from(html))
    }
}

/// The marker's word: 43 URL-safe characters, none of which HTML escaping changes.
static MARK: LazyLock<String> = LazyLock::new(crate::util::random_token);

thread_local! {
    /// The kept parts of the page being rendered on this thread ([`splice`]'s caller fills it
    /// between the context's serialisation and the splice, with no await between).
    static PARTS: RefCell<Option<Vec<Arc<str>>>> = const { RefCell::new(None) };
}

impl Serialize for Kept {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let index = PARTS.with_borrow_mut(|parts| {
            parts.as_mut().map(|parts| {
                parts.push(self.0.clone());
                parts.len() - 1
            })
        });
        match index {
            Some(index) => serializer.serialize_str(&format!("{}.{index}.", *MARK)),
            None => serializer.serialize_str(&self.0),
        }
    }
}

/// Runs `build` (a context's serialisation) collecting the [`Kept`] parts it meets, then
/// `render` (the template), and puts the parts in place of their markers in what it wrote.
pub fn splice<C, E>(
    build: impl FnOnce() -> Result<C, E>,
    render: impl FnOnce(&C, &mut Vec<u8>) -> Result<(), E>,
) -> Result<Vec<u8>, E> {
    let previous = PARTS.replace(Some(Vec::new()));
    let context = build();
    let parts = PARTS.replace(previous).unwrap_or_default();
    let mut out = Vec::with_capacity(8 * 1024);
    render(&context?, &mut out)?;
    if parts.is_empty() {
        return Ok(out);
    }
    let mut page = Vec::with_capacity(out.len() + parts.iter().map(|p| p.len()).sum::<usize>());
    let mark = MARK.as_bytes();
    let mut rest = &out[..];
    while let Some(at) = memchr::memmem::find(rest, mark) {
        let after = &rest[at + mark.len()..];
        // `.{index}.`: a marker this render made; anything else is left as it is.
        let part = after.strip_prefix(b".").and_then(|digits| {
            let end = digits.iter().position(|b| !b.is_ascii_digit())?;
            let index: usize = std::str::from_utf8(&digits[..end]).ok()?.parse().ok()?;
            (digits.get(end) == Some(&b'.')).then_some((parts.get(index)?, end + 2))
        });
        match part {
            Some((part, len)) => {
                page.extend_from_slice(&rest[..at]);
                page.extend_from_slice(part.as_bytes());
                rest = &after[len..];
            }
            None => {
                page.extend_from_slice(&rest[..at + mark.len()]);
                rest = after;
            }
        }
    }
    page.extend_from_slice(rest);
    Ok(page)
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

    #[test]
    fn kept_parts_take_their_markers_place_and_serialise_as_text_elsewhere() {
        #[derive(Serialize)]
        struct Page {
            a: Kept,
            b: Kept,
            text: String,
        }
        let page = Page {
            a: Kept::from("<p>A</p>".to_string()),
            b: Kept::from("<p>B</p>".to_string()),
            text: format!("{}.7. left alone", *MARK),
        };
        let html = splice(
            || serde_json::to_value(&page),
            |value, out: &mut Vec<u8>| {
                let field = |name: &str| value[name].as_str().unwrap_or_default().to_string();
                out.extend_from_slice(
                    format!("[{}|{}|{}]", field("b"), field("a"), field("text")).as_bytes(),
                );
                Ok(())
            },
        )
        .map(String::from_utf8);
        let expected = format!("[<p>B</p>|<p>A</p>|{}.7. left alone]", *MARK);
        assert_eq!(html.ok().and_then(Result::ok), Some(expected));
        // Outside a page's render, the text itself.
        assert_eq!(
            serde_json::to_value(&page).ok().map(|v| v["a"].clone()),
            Some(serde_json::json!("<p>A</p>"))
        );
    }
}
