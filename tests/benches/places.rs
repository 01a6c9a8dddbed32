//! Places at the scale issue 18 names (1,000,000 reports, 50,000 in the largest commune): the
//! contract's `within` (documents of a box), `points` and `clusters` (a map's bounding-box
//! listing: markers without documents, 0.2.3) and `near` (« C'est le même problème ? »,
//! reports within 50 m) through the real router, the `hostile` test module's `/places/…`
//! routes, the host and the database, on SQLite and, when `PARVIS_TEST_PG_URL` is set,
//! PostgreSQL. 50,000 places are seeded in Paris's part of Paris's box, and 950,000 more in 19
//! other communes (the index leads with the commune, so how the rest is split does not change
//! what one commune's query reads). Each query's answer is checked (its count, and every
//! point inside), then timed from 16 concurrent clients; beside each figure, the module's
//! `/ping` in the same run, since absolute figures move with the machine.
//!
//! Run: `cargo build --profile module --target wasm32-wasip2 -p parvis-module-hostile &&
//! cargo bench -p parvis-tests --bench places` (env `PLACES`, default 1000000; `REQUESTS`,
//! default 2000 per query).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use parvis_core::types::Slug;
use parvis_tests::{Backend, TestApp};
use serde_json::Value;

/// Clients in flight.
const CONCURRENCY: usize = 16;
/// The largest commune's share.
const LARGEST: i64 = 50_000;
/// Paris's box (the city within its ring road, roughly).
const PARIS: (f64, f64, f64, f64) = (48.816, 2.255, 48.902, 2.415);
/// The other communes seeded (each gets an equal share of the rest).
const OTHERS: [&str; 19] = [
    "13055", "69123", "31555", "06088", "44109", "67482", "34172", "33063", "59350", "35238",
    "51454", "42218", "83137", "76351", "38185", "21231", "49007", "37261", "30189",
];

/// Seeds `n` placed documents of the hostile module's `spots` in one commune, spread over
/// `box_` by a fixed arithmetic sequence (the same points on both databases).
async fn seed(app: &TestApp, slug: &str, n: i64, box_: (f64, f64, f64, f64)) -> Result<()> {
    let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(slug)?)
        .await?
        .context("seeded commune")?
        .id;
    let (south, west, north, east) = box_;
    let mut done = 0_i64;
    while done < n {
        let mut tx = app.state.db.platform_tx().await?;
        let batch = (n - done).min(50_000);
        let series = format!(
            "WITH RECURSIVE s(i) AS (SELECT CAST({first} AS BIGINT) UNION ALL SELECT i + 1 FROM s WHERE i < {last})",
            first = done + 1,
            last = done + batch
        );
        sqlx::query(&format!(
            "{series} INSERT INTO module_docs (tenant_id, module_id, collection, key, value, version, created_at, updated_at) \
             SELECT $1, 'hostile', 'spots', 'r' || CAST(i AS TEXT), '{{\"name\":\"seeded\"}}', 1, 0, 0 FROM s"
        ))
        .bind(tenant.get())
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "{series} INSERT INTO module_places (tenant_id, module_id, collection, key, lat, lon) \
             SELECT $1, 'hostile', 'spots', 'r' || CAST(i AS TEXT), \
               $2 + (CAST((i * 7919) % 10007 AS DOUBLE PRECISION) / 10007.0) * ($3 - $2), \
               $4 + (CAST((i * 104729) % 10009 AS DOUBLE PRECISION) / 10009.0) * ($5 - $4) FROM s"
        ))
        .bind(tenant.get())
        .bind(south)
        .bind(north)
        .bind(west)
        .bind(east)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        done += batch;
    }
    Ok(())
}

/// p50 and p99 of `requests` GETs of `path` from [`CONCURRENCY`] clients, and the rate.
async fn time(
    app: &TestApp,
    slug: &str,
    path: &str,
    requests: usize,
) -> Result<(Duration, Duration, f64)> {
    let url = app.url(Some(slug), &format!("/m/hostile{path}"));
    parvis_tests::bench::time_gets(app, &url, requests, CONCURRENCY).await
}

async fn run(backend: Backend, total: i64, requests: usize) -> Result<()> {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    app.install_module("parvis-module-hostile").await?;
    app.enable_module(&paris, "hostile").await?;
    let started = Instant::now();
    seed(&app, &paris, LARGEST, PARIS).await?;
    let each = (total - LARGEST).max(0) / OTHERS.len() as i64;
    for insee in OTHERS {
        let slug = app.commune(insee).await?;
        // Their own boxes do not matter to Paris's queries: the same box, another commune.
        seed(&app, &slug, each, PARIS).await?;
    }
    let seeded = LARGEST + each * OTHERS.len() as i64;
    println!(
        "{backend:?}: {seeded} places seeded ({LARGEST} in Paris) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The answers first: right, before fast.
    let check = |path: String| {
        let client = app.client();
        let url = app.url(Some(&paris), &format!("/m/hostile{path}"));
        async move {
            let answer: Value = client?.get(&url).send().await?.json().await?;
            answer
                .as_array()
                .cloned()
                .with_context(|| format!("{url}: {answer}"))
        }
    };
    // A neighbourhood (about 800 m × 700 m: ~230 places) and a district (a sixteenth of the
    // city: ~3,100, the first 500 by key).
    let district = "/places/within?s=48.845&w=2.335&n=48.8665&e=2.375&limit=500";
    let neighbourhood = "/places/within?s=48.853&w=2.345&n=48.8595&e=2.355&limit=500";
    let near = "/places/near?lat=48.856&lon=2.3522&r=50&limit=10";
    // The map's listings: every marker of the district, and the whole city as a grid of 8 × 8
    // clusters (all 50,000 places weighed), or the district as 16 × 16.
    let district_points = "/places/points?s=48.845&w=2.335&n=48.8665&e=2.375&limit=5000";
    let neighbourhood_points = "/places/points?s=48.853&w=2.345&n=48.8595&e=2.355&limit=5000";
    let city_clusters = format!(
        "/places/clusters?s={}&w={}&n={}&e={}&cols=8&rows=8",
        PARIS.0, PARIS.1, PARIS.2, PARIS.3
    );
    let district_clusters = "/places/clusters?s=48.845&w=2.335&n=48.8665&e=2.375&cols=16&rows=16";
    for (path, box_) in [
        (district, (48.845, 2.335, 48.8665, 2.375)),
        (neighbourhood, (48.853, 2.345, 48.8595, 2.355)),
        (district_points, (48.845, 2.335, 48.8665, 2.375)),
        (neighbourhood_points, (48.853, 2.345, 48.8595, 2.355)),
    ] {
        let list = check(path.to_string()).await?;
        let inside = list.iter().all(|p| {
            let (lat, lon) = (
                p["lat"].as_f64().unwrap_or(0.0),
                p["lon"].as_f64().unwrap_or(0.0),
            );
            (box_.0..=box_.2).contains(&lat) && (box_.1..=box_.3).contains(&lon)
        });
        if list.is_empty() || !inside {
            bail!("{path}: {} places, all inside: {inside}", list.len());
        }
        println!("  {path}: {} places", list.len());
    }
    let close = check(near.to_string()).await?;
    if close
        .iter()
        .any(|p| p["distance"].as_f64().is_none_or(|d| d > 50.0))
    {
        bail!("{near}: a place beyond 50 m: {close:?}");
    }
    println!("  {near}: {} places within 50 m", close.len());
    let district_count = check(district_points.to_string()).await?.len();
    // Clusters count fixed cells: the city's (every place inside) exactly, the district's
    // within the places of its edge cells.
    for (path, expected, slack) in [
        (city_clusters.as_str(), LARGEST as u64, 0),
        (
            district_clusters,
            district_count as u64,
            district_count as u64 / 10,
        ),
    ] {
        let cells = check(path.to_string()).await?;
        let total: u64 = cells.iter().filter_map(|c| c["count"].as_u64()).sum();
        if total.abs_diff(expected) > slack {
            bail!("{path}: {total} places in the clusters, {expected} in the box");
        }
        println!(
            "  {path}: {} clusters of {total} places ({expected} in the box)",
            cells.len()
        );
    }

    let (_, ping99, ping_rate) = time(&app, &paris, "/ping", requests).await?;
    println!(
        "  {:<70} p99 {:>6.2} ms  {:>7.0} req/s",
        "/ping (the module's bare route, same run)",
        ping99.as_secs_f64() * 1e3,
        ping_rate
    );
    for path in [
        neighbourhood,
        district,
        neighbourhood_points,
        district_points,
        district_clusters,
        city_clusters.as_str(),
        near,
    ] {
        let (p50, p99, rate) = time(&app, &paris, path, requests).await?;
        println!(
            "  {path:<70} p50 {:>6.2} ms  p99 {:>6.2} ms ({:.1}× /ping's)  {rate:>7.0} req/s{}",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            p99.as_secs_f64() / ping99.as_secs_f64(),
            if p99 <= Duration::from_millis(20) {
                ""
            } else {
                "  ABOVE 20 ms"
            }
        );
    }
    app.stop().await;
    Ok(())
}

fn main() -> Result<()> {
    let var = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let total = i64::try_from(var("PLACES", 1_000_000))?;
    let requests = var("REQUESTS", 2_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(Backend::Sqlite, total, requests))?;
    if std::env::var_os("PARVIS_TEST_PG_URL").is_some() {
        runtime.block_on(run(Backend::Postgres, total, requests))?;
    }
    Ok(())
}
