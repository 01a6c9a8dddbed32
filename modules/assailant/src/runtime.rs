//! Attacks on the runtime walls (routes below `/runtime/`): the host-call budget, the
//! deadline in host and WASI calls, status codes, memory and instance slots.

use parvis_module_sdk::host::Checkout;
use parvis_module_sdk::prelude::*;
use serde_json::{Map, Value, json};
use std::hint::black_box;

const MARKS: Collection<'static> = Collection::new("runtime-marks");

/// Adds this file's routes.
pub fn routes(router: Router) -> Router {
    router
        .get("/runtime/ping", ping)
        .get("/runtime/checkouts", checkouts)
        .get("/runtime/clock", clock)
        .get("/runtime/sleep", sleep)
        .get("/runtime/write-then-spin", write_then_spin)
        .get("/runtime/status", status)
        .post("/runtime/status", status)
        .get("/runtime/mark", mark)
        .get("/runtime/memory", memory)
        .get("/runtime/hold-db", hold_db)
        .post("/runtime/hold-write", hold_write)
        .get("/runtime/log", log)
}

fn query_u64(req: &Request, name: &str, default: u64) -> u64 {
    req.query_value(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The fast route other communes ask while one misbehaves.
fn ping(_: &Request, _: &Params) -> Result<Response, Error> {
    Ok(Response::json_text(r#"{"pong":true}"#.to_owned()))
}

fn checkout(n: u64) -> Checkout {
    Checkout {
        amount_cents: 100,
        currency: "eur".into(),
        description: "Assaut".into(),
        reference: format!("assaut-{n}"),
        success_path: "/merci".into(),
        cancel_path: "/".into(),
    }
}

/// `?n=` checkouts in one call, whatever the host answers: counts the answers by message.
fn checkouts(req: &Request, _: &Params) -> Result<Response, Error> {
    let n = query_u64(req, "n", 30_000);
    let mut ok = 0u64;
    let mut errors: Map<String, Value> = Map::new();
    let mut first_budget_refusal = None;
    for i in 0..n {
        match host::create_checkout(&checkout(i)) {
            Ok(_) => ok += 1,
            Err(e) => {
                if first_budget_refusal.is_none() && e.contains("appels à l'hôte") {
                    first_budget_refusal = Some(i);
                }
                let count = errors.get(&e).and_then(Value::as_u64).unwrap_or(0);
                errors.insert(e, json!(count + 1));
            }
        }
    }
    Ok(Response::json(&json!({
        "calls": n,
        "ok": ok,
        "errors": errors,
        "first_budget_refusal": first_budget_refusal,
    })))
}

/// `?n=` calls of `now-ms`, an import that cannot answer an error.
fn clock(req: &Request, _: &Params) -> Result<Response, Error> {
    let n = query_u64(req, "n", 30_000);
    let mut last = 0;
    for _ in 0..n {
        last = black_box(host::now_ms());
    }
    Ok(Response::json(&json!({ "calls": n, "last": last })))
}

/// Sleeps `?ms=` in WASI (`std::thread::sleep`: a monotonic-clock poll).
fn sleep(req: &Request, _: &Params) -> Result<Response, Error> {
    let ms = query_u64(req, "ms", 30_000);
    // `?after=refused-import`: first an import the host refuses (a checkout of 0 €), so the
    // sleep starts right after the host had the call in its database work.
    if req.query_value("after") == Some("refused-import") {
        let free = Checkout {
            amount_cents: 0,
            ..checkout(0)
        };
        let _ = black_box(host::create_checkout(&free));
    }
    std::thread::sleep(std::time::Duration::from_millis(ms));
    Ok(Response::json(&json!({ "slept_ms": ms })))
}

/// A GET that writes `?value=`, then asks for checkouts without end (each refused fast once
/// the budget is spent): only the deadline stops it.
fn write_then_spin(req: &Request, _: &Params) -> Result<Response, Error> {
    let value = req.query_value("value").unwrap_or("spin");
    MARKS.put(value, value, Indexes::new(), None)?;
    let mut i = 0;
    loop {
        let _ = black_box(host::create_checkout(&checkout(i)));
        i += 1;
    }
}

/// Writes `?value=`, then answers with status `?code=`.
fn status(req: &Request, _: &Params) -> Result<Response, Error> {
    let value = req.query_value("value").unwrap_or("status");
    let code = u16::try_from(query_u64(req, "code", 999)).unwrap_or(u16::MAX);
    MARKS.put(value, value, Indexes::new(), None)?;
    Ok(Response::json(&json!({ "written": value })).with_status(code))
}

/// Whether the mark `?value=` was kept.
fn mark(req: &Request, _: &Params) -> Result<Response, Error> {
    let value = req.query_value("value").unwrap_or("status");
    let doc = MARKS.get::<Value>(value)?;
    Ok(Response::json(&json!({ "kept": doc.is_some() })))
}

/// Allocates and touches `?mib=` MiB, then holds it `?hold_ms=` (sleeping in WASI).
fn memory(req: &Request, _: &Params) -> Result<Response, Error> {
    let mib = usize::try_from(query_u64(req, "mib", 60)).unwrap_or(60);
    let hold = query_u64(req, "hold_ms", 0);
    let mut chunks: Vec<Vec<u8>> = Vec::with_capacity(mib);
    for _ in 0..mib {
        let mut chunk = vec![0u8; 1 << 20];
        for byte in chunk.iter_mut().step_by(4096) {
            *byte = 1;
        }
        chunks.push(black_box(chunk));
    }
    std::thread::sleep(std::time::Duration::from_millis(hold));
    Ok(Response::json(&json!({ "held_mib": chunks.len() })))
}

/// Opens a transaction (one read), then holds it `?ms=` (sleeping in WASI).
fn hold_db(req: &Request, _: &Params) -> Result<Response, Error> {
    let ms = query_u64(req, "ms", 1_000);
    let _ = MARKS.get::<Value>("held")?;
    std::thread::sleep(std::time::Duration::from_millis(ms));
    Ok(Response::json(&json!({ "held_ms": ms })))
}

/// Writes `?value=` (taking the writer on SQLite), then holds it `?ms=` (sleeping in WASI).
fn hold_write(req: &Request, _: &Params) -> Result<Response, Error> {
    let value = req.query_value("value").unwrap_or("held");
    let ms = query_u64(req, "ms", 1_000);
    MARKS.put(value, value, Indexes::new(), None)?;
    std::thread::sleep(std::time::Duration::from_millis(ms));
    Ok(Response::json(&json!({ "written": value, "held_ms": ms })))
}

/// Writes `?lines=` log lines of 2 KiB (the longest the host keeps), as fast as it can.
fn log(req: &Request, _: &Params) -> Result<Response, Error> {
    let lines = query_u64(req, "lines", 10_000);
    let line = "journal ".repeat(256);
    for i in 0..lines {
        host::info(&format!("{i} {line}"));
    }
    Ok(Response::json(&json!({ "lines": lines })))
}
