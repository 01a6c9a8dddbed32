//! Module route overhead and cold start, measured in one run on one machine:
//! - the same bytes served by a host route and by a module route (`hostile`'s `/ping`) through
//!   the full router (site resolution, session, CSRF, error pages), interleaved, many times;
//!   prints both medians, their difference (the module overhead) and p99s;
//! - cold start: building the whole host over a database where every module is installed and
//!   its compiled form cached, then serving a first module page.
//!
//! Run: `cargo build --profile module --target wasm32-wasip2 -p parvis-module-polls -p
//! parvis-module-hostile && cargo bench -p parvis-tests --bench module_overhead`.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use http_body_util::BodyExt as _;
use parvis_core::config::Config;
use parvis_core::types::InseeCode;
use parvis_tenants::communes::{self, Progress, Selection, Source};
use parvis_tests::bench::percentile;
use tower::ServiceExt as _;

const HOST: &str = "paris.parvis.localhost";

async fn body_of(app: &axum::Router, path: &str) -> Result<(u16, Vec<u8>)> {
    let response = app
        .clone()
        .oneshot(
            Request::get(path)
                .header("host", HOST)
                .body(Body::empty())?,
        )
        .await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, bytes))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn config(dir: &std::path::Path) -> Result<Config> {
    let mut config =
        Config::with_database(&format!("sqlite://{}", dir.join("bench.db").display()))?;
    config.module_cache = dir.join("module-cache");
    Ok(config)
}

async fn run() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let parvis::Built { state, billing, .. } = parvis::build(config(dir.path())?).await?;
    let paris = InseeCode::parse("75056")?;
    communes::import(
        &state.db,
        &Source::Embedded,
        &Selection::Only(vec![paris.clone()]),
        Progress::Hidden,
    )
    .await?;
    parvis_tenants::provision::create_tenant(&state.db, &paris, None).await?;
    for package in ["parvis-module-polls", "parvis-module-hostile"] {
        let wasm = std::fs::read(parvis_tests::app::module_wasm(package)?)?;
        let m = state.modules.install(&wasm).await?;
        println!(
            "installed {} {} ({} KB component)",
            m.id,
            m.version,
            wasm.len() / 1024
        );
        let tenant = parvis_tenants::provision::find_by_slug(
            &state.db,
            &parvis_core::types::Slug::parse("paris")?,
        )
        .await?
        .context("paris")?;
        parvis_core::modules::service::enable(
            &state.modules,
            &state.db.tenant(tenant.id),
            &m.id,
            None,
        )
        .await?;
    }

    // The module's bytes, served again by a host route.
    let probe = parvis::app(state.clone(), billing.clone());
    let (status, module_bytes) = body_of(&probe, "/m/hostile/ping").await?;
    anyhow::ensure!(status == 200, "module route answered {status}");
    let same = module_bytes.clone();
    let extra = parvis_admin_ui::routes().route(
        "/bench/memes-octets",
        get(move || {
            let same = same.clone();
            async move {
                (
                    [
                        ("content-type", "application/json; charset=utf-8"),
                        ("x-content-type-options", "nosniff"),
                    ],
                    same,
                )
            }
        }),
    );
    let app = parvis_core::server::router(state.clone(), extra);
    let (_, host_bytes) = body_of(&app, "/bench/memes-octets").await?;
    anyhow::ensure!(
        host_bytes == module_bytes,
        "the two routes must serve the same bytes"
    );

    let rounds = 20_000;
    for _ in 0..1000 {
        body_of(&app, "/bench/memes-octets").await?;
        body_of(&app, "/m/hostile/ping").await?;
    }
    let (found_before, missed_before) = state.modules.instances_made_ahead();
    let mut host = Vec::with_capacity(rounds);
    let mut module = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        body_of(&app, "/bench/memes-octets").await?;
        host.push(t.elapsed());
        let t = Instant::now();
        let (status, bytes) = body_of(&app, "/m/hostile/ping").await?;
        module.push(t.elapsed());
        // Every figure is of the module's own answer, never of an error page.
        anyhow::ensure!(
            status == 200 && bytes == module_bytes,
            "module route answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let (found, missed) = state.modules.instances_made_ahead();
    host.sort();
    module.sort();
    let (h50, m50) = (percentile(&host, 0.5), percentile(&module, 0.5));
    println!(
        "same {} bytes, {rounds} interleaved requests each (pooling allocator: {}):",
        module_bytes.len(),
        state.modules.engine().pooled
    );
    println!(
        "  host route   median {:7.1} µs  p99 {:7.1} µs",
        micros(h50),
        micros(percentile(&host, 0.99))
    );
    println!(
        "  module route median {:7.1} µs  p99 {:7.1} µs",
        micros(m50),
        micros(percentile(&module, 0.99))
    );
    // Absolute figures move between machines (and with their load): the target is the
    // ratio to the host route serving the same bytes, measured interleaved in this run.
    println!(
        "  module route / host route (medians): {:.2}× (target ≤ 2×); difference {:.1} µs",
        micros(m50) / micros(h50).max(0.001),
        micros(m50) - micros(h50)
    );
    println!(
        "  calls that found their instance made ahead: {} of {}",
        found - found_before,
        found - found_before + missed - missed_before
    );
    drop(app);
    drop(probe);
    state.db.close().await;
    drop(state);

    // Cold start: a new host over the same database and the warm compile cache.
    let started = Instant::now();
    let parvis::Built { state, app, .. } = parvis::build(config(dir.path())?).await?;
    let built = started.elapsed();
    let (status, _) = body_of(&app, "/m/polls/").await?;
    let first = started.elapsed();
    anyhow::ensure!(status == 200, "polls answered {status}");
    println!(
        "cold start with {} modules installed and cached: host built in {:.1} ms, first module page after {:.1} ms (target ≤ 1 s)",
        state.modules.all().len(),
        built.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3
    );
    state.db.close().await;
    Ok(())
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; nothing to parse.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run())
}
