//! Attacks on the storage walls (routes below `/storage/`): fill the commune's storage as fast
//! as the host lets a call, with documents or counters, then give the space back. Each route
//! answers in JSON what it wrote and the storage error that stopped it, so the tests can read
//! the host's message.

use parvis_module_sdk::prelude::*;
use serde_json::json;

/// Where the filler documents go.
const FILLER: Collection<'static> = Collection::new("filler");

/// Adds this file's routes.
pub fn routes(router: Router) -> Router {
    router
        .get("/storage/fill", fill)
        .get("/storage/counters", counters)
        .get("/storage/overwrite", overwrite)
        .get("/storage/clear", clear)
}

fn number(req: &Request, name: &str, default: u64) -> u64 {
    req.query_value(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `?size=` bytes of JSON, as a document value: a string of random hexadecimal digits, which
/// neither SQLite nor PostgreSQL's compression can shrink much (a disk fills as fast as it can).
fn filler(size: u64) -> String {
    let digits = usize::try_from(size.saturating_sub(2)).unwrap_or(0);
    // xorshift64, seeded by the host (whose random bytes come 1 Kio per call at most).
    let mut state = host::random_bytes(8)
        .iter()
        .fold(0x9e37_79b9_7f4a_7c15_u64, |s, &b| {
            s.rotate_left(8) ^ u64::from(b)
        })
        | 1;
    let mut text = String::with_capacity(digits + 16);
    while text.len() < digits {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push_str(&format!("{state:016x}"));
    }
    text.truncate(digits);
    text
}

/// The answer: what was written, why it stopped, and `?status=` (200 by default: the host then
/// keeps what the call wrote within its bounds; 500 rolls everything back).
fn answer(req: &Request, written: u64, bytes: u64, error: Option<StoreError>) -> Response {
    let status = u16::try_from(number(req, "status", 200)).unwrap_or(200);
    let (kind, message) = match &error {
        Some(StoreError::Invalid(m)) => (Some("invalid"), Some(m.clone())),
        Some(StoreError::Conflict(m)) => (Some("conflict"), Some(m.clone())),
        Some(StoreError::Unavailable(m)) => (Some("unavailable"), Some(m.clone())),
        Some(StoreError::Json(m)) => (Some("json"), Some(m.clone())),
        None => (None, None),
    };
    Response::json(&json!({
        "written": written,
        "bytes": bytes,
        "error": kind,
        "message": message,
    }))
    .with_status(status)
}

/// Inserts `?count=` documents (default: until refused) of `?size=` bytes (default 256 Kio, the
/// largest document) under keys starting with `?prefix=`, and stops at the first error.
fn fill(req: &Request, _: &Params) -> Result<Response, Error> {
    let size = number(req, "size", 256 << 10);
    let count = number(req, "count", u64::MAX);
    let prefix = req.query_value("prefix").unwrap_or("f");
    let value = filler(size);
    let (mut written, mut bytes) = (0_u64, 0_u64);
    while written < count {
        let key = format!("{prefix}-{}", host::new_id());
        match FILLER.insert(&key, value.as_str(), Indexes::new().index("prefix", prefix)) {
            Ok(_) => {
                written += 1;
                bytes += size;
            }
            Err(e) => return Ok(answer(req, written, bytes, Some(e))),
        }
    }
    Ok(answer(req, written, bytes, None))
}

/// Creates `?count=` counters (default: until refused) with long names starting with
/// `?prefix=`, or increments counter `?name=` that many times.
fn counters(req: &Request, _: &Params) -> Result<Response, Error> {
    let count = number(req, "count", u64::MAX);
    let prefix = req.query_value("prefix").unwrap_or("c");
    let fixed = req.query_value("name");
    let pad = "c".repeat(200);
    let mut written = 0_u64;
    while written < count {
        let name = match fixed {
            Some(name) => name.to_owned(),
            None => format!("{prefix}-{pad}-{}", host::new_id()),
        };
        if let Err(e) = store::incr(&name, 1) {
            return Ok(answer(req, written, 0, Some(e)));
        }
        written += 1;
    }
    Ok(answer(req, written, 0, None))
}

/// Replaces document `?key=` with one of `?size=` bytes.
fn overwrite(req: &Request, _: &Params) -> Result<Response, Error> {
    let key = req.query_value("key").unwrap_or("same");
    let size = number(req, "size", 1024);
    let value = filler(size);
    let error = FILLER
        .put(
            key,
            value.as_str(),
            Indexes::new().index("prefix", "same"),
            None,
        )
        .err();
    let written = u64::from(error.is_none());
    Ok(answer(req, written, size * written, error))
}

/// Deletes up to 500 filler documents whose keys start with `?prefix=` (any by default); call
/// again until it deletes none.
fn clear(req: &Request, _: &Params) -> Result<Response, Error> {
    let prefix = req.query_value("prefix").unwrap_or("");
    let mut list = FILLER.list().limit(500);
    if !prefix.is_empty() {
        list = list.prefix(prefix);
    }
    let mut deleted = 0_u64;
    for doc in list.page::<serde_json::Value>()?.documents {
        if FILLER.delete(&doc.key)? {
            deleted += 1;
        }
    }
    Ok(Response::json(&json!({ "deleted": deleted })))
}
