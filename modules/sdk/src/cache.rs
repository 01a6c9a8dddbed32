//! What a module keeps in the server's memory for a while (contract 0.2.8, `cache`): something
//! costly to work out that may be a little old. A GET keeps it without writing to storage, so
//! on SQLite it takes no turn of the commune's single writer, which votes and forms wait for.
//!
//! ```ignore
//! // Worked out at most once every 30 s, by one visitor; the others meanwhile read the
//! // value kept, even a little past 30 s while that visitor works it out.
//! let results: Results = cache::fresh_or(&format!("resultats:{n}"), 30_000, || work_out(n))?;
//! ```
//!
//! The host may drop an entry at any time (memory, a restart, another server process keeps
//! its own): nothing may depend on finding it. What a call keeps takes effect if the call
//! succeeds. Keys are the module's own, for the request's commune only (at most 200 bytes);
//! values at most 1 MiB, 16 keys kept or forgotten per call, 8 MiB per module and commune.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::parvis::module::cache as wit;

/// How long [`fresh_or`]'s caller has to work a value out before another may try.
pub const LEASE_MS: u32 = 10_000;
/// The longest the host keeps an entry (one hour).
pub const MAX_TTL_MS: u32 = 3_600_000;

/// A value found in the cache, and how old it is.
#[derive(Debug, Clone)]
pub struct Cached<T> {
    pub value: T,
    /// Milliseconds since it was kept.
    pub age_ms: u64,
}

/// The value kept under `key`, if there is one and it reads as a `T` (a value of an older
/// shape reads as none).
pub fn get<T: DeserializeOwned>(key: &str) -> Option<Cached<T>> {
    let entry = wit::get(key)?;
    let value = serde_json::from_str(&entry.value).ok()?;
    Some(Cached {
        value,
        age_ms: entry.age_ms,
    })
}

/// Keeps `value` under `key` for `ttl_ms` (at most [`MAX_TTL_MS`]); the error says, in French,
/// which bound it passed.
pub fn set<T: Serialize>(key: &str, value: &T, ttl_ms: u32) -> Result<(), String> {
    let json = serde_json::to_string(value).map_err(|e| e.to_string())?;
    wit::set(key, &json, ttl_ms)
}

/// Whether this call is the one to work `key` out again: the first to ask is, then no other
/// for `ms` milliseconds or until the first keeps its value.
pub fn lease(key: &str, ms: u32) -> bool {
    wit::lease(key, ms)
}

/// Drops what is kept under `key` (once the call succeeds); the error says, in French, which
/// bound it passed.
pub fn forget(key: &str) -> Result<(), String> {
    wit::forget(key)
}

/// The value kept under `key` if it is younger than `fresh_ms`; else `work`'s, kept for the
/// next calls. When the kept value is older, one call works it out again (it holds the
/// lease) while the others return the older one: a crowd finding it stale costs one `work`.
/// When nothing is kept (the first time, after a restart), each call works it out: there is
/// nothing else to show.
/// A value that cannot be kept (past 1 MiB) is still returned, and the host's log says why.
pub fn fresh_or<T, E>(key: &str, fresh_ms: u32, work: impl FnOnce() -> Result<T, E>) -> Result<T, E>
where
    T: Serialize + DeserializeOwned,
{
    if let Some(kept) = get::<T>(key)
        && (kept.age_ms < u64::from(fresh_ms) || !lease(key, LEASE_MS))
    {
        return Ok(kept.value);
    }
    let value = work()?;
    // Kept well past its freshness, so a stale copy is there to show while one call works
    // the next one out.
    if let Err(why) = set(key, &value, fresh_ms.saturating_mul(10).min(MAX_TTL_MS)) {
        crate::host::warn(&format!("cache « {key} » : {why}"));
    }
    Ok(value)
}
