//! A hostile module, used only by the host's tests to prove containment: runaway CPU, memory
//! and stack, oversized output, panics, attempts to reach the filesystem, environment and
//! network, and attempts to read storage outside its own scope; and the contract's `places`
//! and `cache` driven from outside (`/places/…`, `/cache/…`), for the host's tests of boxes
//! and distances on both databases and of what a module keeps in memory. Never install it
//! for a commune.

use parvis_module_sdk::SettingKind;
use parvis_module_sdk::prelude::*;
use serde_json::{Map, Value, json};
use std::hint::black_box;

/// The hostile module.
pub struct Hostile;

impl Module for Hostile {
    fn manifest() -> Manifest {
        Manifest::new(
            "hostile",
            "Module hostile (tests)",
            env!("CARGO_PKG_VERSION"),
        )
        .description("Module de test du confinement des modules. Ne pas activer.")
        .capabilities(&[Capability::Storage])
        // One setting of each kind, so the host's settings form is tested end to end.
        .setting(
            "label",
            "Libellé",
            "Un texte libre.",
            SettingKind::Text,
            "bonjour",
        )
        .setting("limit", "Limite", "Un nombre.", SettingKind::Number, "10")
        .setting(
            "flag",
            "Option",
            "Une case à cocher.",
            SettingKind::Boolean,
            "false",
        )
    }

    fn handle(req: Request) -> Response {
        Router::new()
            .get("/ping", ping)
            .get("/loop", spin)
            .get("/memory", memory)
            .get("/recursion", recursion)
            .get("/huge", huge)
            .get("/panic", panic)
            .get("/escape", escape)
            .get("/write", write)
            .get("/read", read)
            .post("/echo", echo)
            .get("/remember", remember)
            .get("/settings", settings)
            .get("/sms", sms)
            .get("/places/set", place)
            .get("/places/clear", unplace)
            .get("/places/delete", delete_placed)
            .get("/places/within", within)
            .get("/places/near", near)
            .get("/places/points", points)
            .get("/places/clusters", clusters)
            .get("/places/in-commune", in_commune)
            .get("/cache/get", cache_get)
            .get("/cache/set", cache_set)
            .get("/cache/lease", cache_lease)
            .post("/committed", committed)
            .handle(&req)
    }

    /// Every secret it can reach, whoever asks: the host must have scoped them to the
    /// commune. A secret `panne` makes it panic, so the tests see the export survive it.
    fn export_account(account: &str) -> Result<Vec<PersonalRecord>, Error> {
        let secrets = SECRETS.list().all::<Value>()?;
        if secrets.iter().any(|d| d.value == "panne") {
            panic!("hostile module fails the export on purpose");
        }
        secrets
            .iter()
            .map(|d| personal::record("secret", &json!({ "account": account, "value": d.value })))
            .collect()
    }

    /// Refuses while a secret is `panne` (the host must retry later), then drops the secrets.
    fn account_deleted(_: &str) -> Result<(), Error> {
        let secrets = SECRETS.list().all::<Value>()?;
        if secrets.iter().any(|d| d.value == "panne") {
            return Err(Error::Internal("panne volontaire".into()));
        }
        for d in secrets {
            SECRETS.delete(&d.key)?;
        }
        Ok(())
    }
}

export_module!(Hostile);

/// What an earlier call of this instance left behind: a module that kept one visitor's data
/// in memory for the next would leak it to whoever comes next, unless every call gets an
/// instance nothing ran in before.
static LEFT_BEHIND: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Answers what earlier calls left in this instance's memory, then leaves the viewer's name.
fn remember(req: &Request, _: &Params) -> Result<Response, Error> {
    let mut left = LEFT_BEHIND
        .lock()
        .map_err(|_| Error::Internal("verrou".into()))?;
    let found = left.clone();
    left.push(req.viewer.display_name.clone().unwrap_or_default());
    Ok(Response::json(&json!({ "found": found })))
}

/// Tries to text a number without having declared the `notify` capability.
fn sms(_: &Request, _: &Params) -> Result<Response, Error> {
    let outcome = host::send_sms(&["06 12 34 56 78".to_owned()], "Coucou");
    Ok(Response::json(&json!({
        "refused": outcome.as_ref().err(),
        "sent": outcome.is_ok(),
    })))
}

/// The commune's settings as the host handed them over.
fn settings(req: &Request, _: &Params) -> Result<Response, Error> {
    Ok(Response::json_text(req.settings.clone()))
}

/// The tiny fast route of the overhead benchmark.
fn ping(_: &Request, _: &Params) -> Result<Response, Error> {
    Ok(Response::json_text(r#"{"pong":true}"#.to_owned()))
}

/// Never returns: only the host's deadline stops it.
fn spin(_: &Request, _: &Params) -> Result<Response, Error> {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocates and touches 1 MiB after another, forever: only the memory cap stops it.
fn memory(_: &Request, _: &Params) -> Result<Response, Error> {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        for byte in chunk.iter_mut().step_by(4096) {
            *byte = 1;
        }
        chunks.push(black_box(chunk));
    }
}

/// Recurses without end (not a tail call: it works after the call): only the stack limit
/// stops it.
#[allow(unconditional_recursion)]
fn deeper(depth: u64) -> u64 {
    let frame = black_box([depth; 16]);
    let below = deeper(black_box(depth + 1));
    below.wrapping_add(frame[black_box(depth as usize) % 16])
}

fn recursion(_: &Request, _: &Params) -> Result<Response, Error> {
    let depth = deeper(black_box(0));
    Ok(Response::json(&json!({ "depth": depth })))
}

/// An 8 MiB page: the host must cap the output.
fn huge(_: &Request, _: &Params) -> Result<Response, Error> {
    Ok(Response::page("Énorme", "x".repeat(8 << 20).render()))
}

fn panic(_: &Request, _: &Params) -> Result<Response, Error> {
    panic!("hostile module panics on purpose");
}

/// Tries the filesystem, the environment and the network; reports what it got.
fn escape(_: &Request, _: &Params) -> Result<Response, Error> {
    let passwd = match std::fs::read_to_string("/etc/passwd") {
        Ok(text) => format!("read /etc/passwd: {} bytes", text.len()),
        Err(err) => format!("error: {err}"),
    };
    let root = match std::fs::read_dir("/") {
        Ok(entries) => format!("listed /: {} entries", entries.count()),
        Err(err) => format!("error: {err}"),
    };
    let env = std::env::vars().count();
    let net = match std::net::TcpStream::connect("127.0.0.1:5432") {
        Ok(_) => "connected to 127.0.0.1:5432".to_owned(),
        Err(err) => format!("error: {err}"),
    };
    Ok(Response::json(&json!({
        "fs": passwd,
        "dir": root,
        "env": env,
        "net": net,
    })))
}

const SECRETS: Collection<'static> = Collection::new("secrets");

/// Stores `?value=` under `secrets/s` and counts the hits.
/// Writes a secret. With `wait_ms`, it reads first and waits that long before writing, so a
/// test can commit something else in between.
fn write(req: &Request, _: &Params) -> Result<Response, Error> {
    let value = req.query_value("value").unwrap_or_default();
    if let Some(wait) = req
        .query_value("wait_ms")
        .and_then(|w| w.parse::<i64>().ok())
    {
        SECRETS.list().all::<Value>()?;
        let until = parvis_module_sdk::host::now_ms().saturating_add(wait);
        while parvis_module_sdk::host::now_ms() < until {
            for n in 0..10_000_u32 {
                black_box(n);
            }
        }
    }
    let version = SECRETS.put("s", value, Indexes::new(), None)?;
    let hits = store::incr("hits", 1)?;
    Ok(Response::json(
        &json!({ "written": value, "version": version, "hits": hits }),
    ))
}

/// A writing call's reads of the secret `s` as last committed (contract 0.2.9): once before
/// anything else, then, with the form's `write=1`, after writing the form's `value` there
/// (in the call's transaction by then, so it reads that value).
fn committed(req: &Request, _: &Params) -> Result<Response, Error> {
    let before = SECRETS.get_committed::<Value>("s")?.map(|d| d.value);
    if req.form_value("write") == Some("1") {
        let value = req.form_value("value").unwrap_or_default();
        SECRETS.put("s", value, Indexes::new(), None)?;
    }
    let after = SECRETS.get_committed::<Value>("s")?.map(|d| d.value);
    Ok(Response::json(&json!({ "before": before, "after": after })))
}

/// Every document and counter reachable, including through names that would escape a
/// naive query (SQL injection, path traversal, LIKE wildcards).
fn read(_: &Request, _: &Params) -> Result<Response, Error> {
    let mut out = Map::new();
    let mut attempt = |label: &str, listing: Result<Vec<Doc<Value>>, StoreError>| {
        let value = match listing {
            Ok(docs) => Value::Object(docs.into_iter().map(|d| (d.key, d.value)).collect()),
            Err(err) => json!({ "error": err.to_string() }),
        };
        out.insert(label.to_owned(), value);
    };
    attempt("secrets", SECRETS.list().all());
    attempt("secrets prefix %", SECRETS.list().prefix("%").all());
    attempt("secrets prefix ''", SECRETS.list().prefix("").all());
    attempt("secrets prefix _", SECRETS.list().prefix("_").all());
    for name in ["secrets' OR '1'='1", "../secrets", "%", "*", "_"] {
        attempt(name, Collection::new(name).list().all());
    }
    let counters = match store::counters("") {
        Ok(counters) => Value::Object(
            counters
                .into_iter()
                .map(|(name, n)| (name, Value::from(n)))
                .collect(),
        ),
        Err(err) => json!({ "error": err.to_string() }),
    };
    out.insert("counters".to_owned(), counters);
    Ok(Response::json(&out))
}

/// The posted form fields, as a JSON object (the last value of a repeated name wins).
fn echo(req: &Request, _: &Params) -> Result<Response, Error> {
    let fields: Map<String, Value> = req
        .form
        .iter()
        .map(|f| (f.name.clone(), Value::from(f.value.as_str())))
        .collect();
    Ok(Response::json(&fields))
}

/// The collection the `/places/…` routes work on.
const SPOTS: Collection = Collection::new("spots");

fn number(req: &Request, name: &str) -> Result<f64, Error> {
    req.query_value(name)
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| Error::bad_request(&format!("{name}: a number is expected")))
}

/// Places as JSON: key, point, distance.
fn placed_json(list: Vec<Placed<Value>>) -> Value {
    Value::Array(
        list.into_iter()
            .map(|p| json!({ "key": p.doc.key, "lat": p.at.lat, "lon": p.at.lon, "distance": p.distance }))
            .collect(),
    )
}

/// The host's answer as JSON: the list, or its error (status 422, the call rolled back).
fn answer(found: Result<Value, StoreError>) -> Response {
    match found {
        Ok(v) => Response::json(&v),
        Err(err) => Response::json(&json!({ "error": err.to_string() })).with_status(422),
    }
}

/// `?key=&lat=&lon=`: writes the document `key` (unless `doc=0`) and places it.
fn place(req: &Request, _: &Params) -> Result<Response, Error> {
    let key = req.query_value("key").unwrap_or_default();
    if req.query_value("doc") != Some("0") {
        SPOTS.put(key, &json!({ "name": key }), Indexes::new(), None)?;
    }
    let at = Point {
        lat: number(req, "lat")?,
        lon: number(req, "lon")?,
    };
    Ok(answer(SPOTS.place(key, at).map(|()| {
        json!({ "placed": key, "at": SPOTS.place_of(key).ok().flatten().map(|p| [p.lat, p.lon]) })
    })))
}

fn unplace(req: &Request, _: &Params) -> Result<Response, Error> {
    let key = req.query_value("key").unwrap_or_default();
    Ok(answer(SPOTS.unplace(key).map(Value::from)))
}

fn delete_placed(req: &Request, _: &Params) -> Result<Response, Error> {
    let key = req.query_value("key").unwrap_or_default();
    Ok(answer(SPOTS.delete(key).map(Value::from)))
}

/// `?s=&w=&n=&e=`: the box of a query.
fn bbox(req: &Request) -> Result<Bbox, Error> {
    Ok(Bbox {
        south: number(req, "s")?,
        west: number(req, "w")?,
        north: number(req, "n")?,
        east: number(req, "e")?,
    })
}

/// `?s=&w=&n=&e=&limit=`.
fn within(req: &Request, _: &Params) -> Result<Response, Error> {
    let bbox = bbox(req)?;
    let limit = number(req, "limit")? as u32;
    Ok(answer(SPOTS.within(bbox, limit).map(placed_json)))
}

/// `?lat=&lon=&r=&limit=`.
fn near(req: &Request, _: &Params) -> Result<Response, Error> {
    let center = Point {
        lat: number(req, "lat")?,
        lon: number(req, "lon")?,
    };
    let limit = number(req, "limit")? as u32;
    Ok(answer(
        SPOTS
            .near(center, number(req, "r")?, limit)
            .map(placed_json),
    ))
}

/// `?s=&w=&n=&e=&limit=`: keys and points, no document.
fn points(req: &Request, _: &Params) -> Result<Response, Error> {
    let bbox = bbox(req)?;
    let limit = number(req, "limit")? as u32;
    Ok(answer(SPOTS.points(bbox, limit).map(|list| {
        Value::Array(
            list.into_iter()
                .map(|s| json!({ "key": s.key, "lat": s.at.lat, "lon": s.at.lon }))
                .collect(),
        )
    })))
}

/// `?s=&w=&n=&e=&cols=&rows=`.
fn clusters(req: &Request, _: &Params) -> Result<Response, Error> {
    let bbox = bbox(req)?;
    let (cols, rows) = (number(req, "cols")? as u32, number(req, "rows")? as u32);
    Ok(answer(SPOTS.clusters(bbox, cols, rows).map(|list| {
        Value::Array(
            list.into_iter()
                .map(|c| {
                    json!({
                        "count": c.count, "lat": c.at.lat, "lon": c.at.lon, "key": c.key,
                        "bounds": [c.bounds.south, c.bounds.west, c.bounds.north, c.bounds.east],
                    })
                })
                .collect(),
        )
    })))
}

/// `?lat=&lon=`: `true`, `false`, or `null` when the commune has no outline.
fn in_commune(req: &Request, _: &Params) -> Result<Response, Error> {
    let at = Point {
        lat: number(req, "lat")?,
        lon: number(req, "lon")?,
    };
    Ok(answer(
        store::in_commune(at).map(|inside| json!({ "inside": inside })),
    ))
}

/// `?key=`: what the cache keeps under it, as JSON (`null` when nothing).
fn cache_get(req: &Request, _: &Params) -> Result<Response, Error> {
    let key = req.query_value("key").unwrap_or_default();
    let found = cache::get::<Value>(key).map(|c| json!({ "value": c.value, "age_ms": c.age_ms }));
    Ok(Response::json(&json!({ "found": found })))
}

/// `?key=&value=&ttl_ms=`, or `&bytes=N` for a value of N letters; `&copies=N` keeps N keys;
/// `&fail=1` answers 500
/// after keeping it (nothing kept, the call failed). Answers the host's refusal, if any.
fn cache_set(req: &Request, _: &Params) -> Result<Response, Error> {
    let key = req.query_value("key").unwrap_or_default();
    let value = match req
        .query_value("bytes")
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(n) => "x".repeat(n),
        None => req.query_value("value").unwrap_or_default().to_owned(),
    };
    let ttl = req
        .query_value("ttl_ms")
        .and_then(|t| t.parse().ok())
        .unwrap_or(60_000);
    // `&copies=N`: N keys, `{key}-0` to `{key}-{N-1}`, the last refusal answered.
    let copies = req
        .query_value("copies")
        .and_then(|n| n.parse::<u32>().ok());
    let kept = match copies {
        Some(n) => {
            let mut last = Ok(());
            for i in 0..n {
                if let Err(why) = cache::set(&format!("{key}-{i}"), &value, ttl) {
                    last = Err(why);
                }
            }
            last
        }
        None => cache::set(key, &value, ttl),
    };
    if req.query_value("fail").is_some() {
        return Err(Error::Internal("échec voulu après la mise en cache".into()));
    }
    Ok(Response::json(&json!({ "refused": kept.err() })))
}

/// `?key=&ms=`: whether this call got the lease.
fn cache_lease(req: &Request, _: &Params) -> Result<Response, Error> {
    let key = req.query_value("key").unwrap_or_default();
    let ms = req
        .query_value("ms")
        .and_then(|t| t.parse().ok())
        .unwrap_or(5_000);
    Ok(Response::json(&json!({ "lease": cache::lease(key, ms) })))
}
