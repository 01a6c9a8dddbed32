//! A module that misbehaves on purpose, for the host's containment tests only (never installed
//! by the demo): each route tries one way to hurt the host or reach beyond its commune.

use parvis_module_sdk::prelude::*;
use serde_json::json;

struct Hostile;

impl Module for Hostile {
    fn manifest() -> Manifest {
        Manifest::new("hostile", "Module hostile (tests)", "1.0.0")
            .description("Composant de test : boucle, bombe mémoire, récursion, réponse énorme.")
            .capabilities(&[Capability::Storage])
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
            .handle(&req)
    }
}

fn ping(_: &Request, _: &Params) -> Result<Response, Error> {
    Ok(Response::json(&json!({"pong": true})))
}

fn spin(_: &Request, _: &Params) -> Result<Response, Error> {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn memory(_: &Request, _: &Params) -> Result<Response, Error> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        chunk[0] = 1;
        hoard.push(std::hint::black_box(chunk));
    }
}

fn deeper(n: u64) -> u64 {
    if std::hint::black_box(n) == u64::MAX {
        return 0;
    }
    let below = deeper(std::hint::black_box(n + 1));
    std::hint::black_box(below.wrapping_add(n))
}

fn recursion(_: &Request, _: &Params) -> Result<Response, Error> {
    let depth = deeper(0);
    Ok(Response::json(&json!({"depth": depth})))
}

fn huge(_: &Request, _: &Params) -> Result<Response, Error> {
    Ok(Response::page("Énorme", "x".repeat(8 << 20)))
}

fn panic(_: &Request, _: &Params) -> Result<Response, Error> {
    let empty: Vec<u8> = std::hint::black_box(Vec::new());
    // Indexing out of bounds panics: the component traps.
    Ok(Response::json(
        &json!({"byte": empty[std::hint::black_box(3)]}),
    ))
}

fn escape(_: &Request, _: &Params) -> Result<Response, Error> {
    let fs = match std::fs::read_to_string("/etc/passwd") {
        Ok(text) => format!("read {} bytes", text.len()),
        Err(e) => format!("refused: {e}"),
    };
    let dir = match std::fs::read_dir("/") {
        Ok(entries) => format!("listed {} entries", entries.count()),
        Err(e) => format!("refused: {e}"),
    };
    let net = match std::net::TcpStream::connect("127.0.0.1:5432") {
        Ok(_) => "connected".to_string(),
        Err(e) => format!("refused: {e}"),
    };
    Ok(Response::json(&json!({
        "fs": fs,
        "dir": dir,
        "env": std::env::vars().count(),
        "net": net,
    })))
}

fn write(req: &Request, _: &Params) -> Result<Response, Error> {
    let value = req.query_value("value").unwrap_or("secret");
    Collection::new("secrets")
        .put("s", value, Indexes::new().index("kind", "secret"), None)
        .map_err(|e| Error::bad_request(&e.to_string()))?;
    store::incr("hits", 1).map_err(|e| Error::bad_request(&e.to_string()))?;
    Ok(Response::json(&json!({"written": value})))
}

/// Everything this module can see, trying names that would leak in a careless host.
fn read(_: &Request, _: &Params) -> Result<Response, Error> {
    let mut seen = vec![];
    for collection in ["secrets", "secrets' OR '1'='1", "../secrets", "%", "*"] {
        if let Ok(docs) = Collection::new(collection)
            .list()
            .all::<serde_json::Value>()
        {
            seen.extend(
                docs.into_iter()
                    .map(|d| json!({"collection": collection, "value": d.value})),
            );
        }
        for prefix in ["", "%", "_"] {
            if let Ok(docs) = Collection::new(collection)
                .list()
                .prefix(prefix)
                .all::<serde_json::Value>()
            {
                seen.extend(docs.into_iter().map(
                    |d| json!({"collection": collection, "prefix": prefix, "value": d.value}),
                ));
            }
        }
    }
    let counters = store::counters("").map_err(|e| Error::bad_request(&e.to_string()))?;
    let counters: serde_json::Map<String, serde_json::Value> =
        counters.into_iter().map(|(k, v)| (k, json!(v))).collect();
    Ok(Response::json(
        &json!({"documents": seen, "counters": counters}),
    ))
}

fn echo(req: &Request, _: &Params) -> Result<Response, Error> {
    let fields: serde_json::Map<String, serde_json::Value> = req
        .form
        .iter()
        .map(|f| (f.name.clone(), json!(f.value)))
        .collect();
    Ok(Response::json(&json!(fields)))
}

export_module!(Hostile);
