//! Signalements at the scale issue 18 names: 1,000,000 reports, 50,000 in the largest commune
//! (Paris), the rest spread over 19 other communes (every query leads with the commune, so how
//! the rest is split does not change what Paris's queries read). Through the real router, the
//! host, the `reports` module and the database, on SQLite and, when `PARVIS_TEST_PG_URL` is
//! set, PostgreSQL:
//! - the map's bounding-box listing (`/m/reports/carte.json`, the open reports as clusters:
//!   the whole city on 8 × 8, a sixteenth of it on 16 × 16);
//! - `GET /open311/v2/requests.json?start_date=…` (the last 30 days, newest first, 200 at
//!   most) and a filtered one (one service, open);
//! - the list of one neighbourhood's open reports, once Paris has taken its 20 arrondissements
//!   (and how long placing its 100,000 places in them takes);
//! - creating a report with one photo (multipart, the photo re-encoded by the host), from
//!   signed-in residents, each within the upload allowance (6 a minute).
//!
//! Reads are timed from 2 clients (one per core) and from 16 (a crowd): see [`READERS`].
//!
//! Reports are seeded in SQL as the module stores them (document, index entries, place, open
//! marker), dated
//! over the last year in the order of their numbers; each query's answer is checked before it
//! is timed. Beside each figure, `/healthz`'s (a host route) in the same run, since absolute
//! figures move with the machine.
//!
//! Run: `cargo build --profile module --target wasm32-wasip2 -p parvis-module-reports &&
//! cargo bench -p parvis-tests --bench reports` (env `REPORTS`, default 1000000; `REQUESTS`,
//! default 2000 per read; `POSTS`, default 90: residents sign in at most 20 a minute from one
//! address, and each sends at most 6 files a minute, so each round of posts waits a minute;
//! `ONLY`, e.g. `listings` or `map,quartiers,photos`, to run some of the lines, as when profiling).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use parvis_core::types::Slug;
use parvis_tests::{Backend, TestApp, form_token};
use serde_json::Value;

/// Clients in flight for reads: one per core (a request's own time, the server busy), then a
/// crowd of 16 (its time in the queue behind the others: on 2 cores each waits for about
/// 8 requests' work, so a p99 there is about 8 times the work of one).
const READERS: [usize; 2] = [2, 16];
/// Clients in flight for posts with a photo: one per core, as many as the host's image
/// workers (photos are cleaned one per core; more posters only queue).
const POSTERS: usize = 2;
/// The largest commune's share.
const LARGEST: i64 = 50_000;
/// Paris's box (the city within its ring road, roughly).
const PARIS: (f64, f64, f64, f64) = (48.816, 2.255, 48.902, 2.415);
/// The other communes seeded.
const OTHERS: [&str; 19] = [
    "13055", "69123", "31555", "06088", "44109", "67482", "34172", "33063", "59350", "35238",
    "51454", "42218", "83137", "76351", "38185", "21231", "49007", "37261", "30189",
];
const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;

/// Seeds `n` open reports of the `reports` module in one commune, numbered 1 to `n`, dated
/// over the year before `now_ms` in the order of their numbers, placed over `box_` by a fixed
/// arithmetic sequence (the same points on both databases).
async fn seed(
    app: &TestApp,
    backend: Backend,
    slug: &str,
    n: i64,
    box_: (f64, f64, f64, f64),
    now_ms: i64,
) -> Result<()> {
    let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(slug)?)
        .await?
        .context("seeded commune")?
        .id;
    let (south, west, north, east) = box_;
    let key = match backend {
        Backend::Sqlite => "printf('%08d', i)",
        Backend::Postgres => "lpad(CAST(i AS TEXT), 8, '0')",
    };
    let lat = "($2 + (CAST((i * 7919) % 10007 AS DOUBLE PRECISION) / 10007.0) * ($3 - $2))";
    let lon = "($4 + (CAST((i * 104729) % 10009 AS DOUBLE PRECISION) / 10009.0) * ($5 - $4))";
    let at = "($6 - ($7 - i) * ($8 / $7))";
    let category = "(CASE i % 4 WHEN 0 THEN 'voirie\",\"category_label\":\"Voirie' \
        WHEN 1 THEN 'proprete\",\"category_label\":\"Propreté' \
        WHEN 2 THEN 'eclairage-public\",\"category_label\":\"Éclairage public' \
        ELSE 'depot-sauvage\",\"category_label\":\"Dépôt sauvage' END)";
    let mut done = 0_i64;
    while done < n {
        let mut tx = app.state.db.platform_tx().await?;
        let batch = (n - done).min(50_000);
        let series = format!(
            "WITH RECURSIVE s(i) AS (SELECT CAST({first} AS BIGINT) UNION ALL SELECT i + 1 FROM s WHERE i < {last})",
            first = done + 1,
            last = done + batch
        );
        let value = format!(
            "'{{\"number\":' || CAST(i AS TEXT) || ',\"category\":\"' || {category} || \
             '\",\"service\":\"Services techniques\",\"description\":\"Signalement de mesure n° ' || CAST(i AS TEXT) || \
             '\",\"at\":[' || CAST({lat} AS TEXT) || ',' || CAST({lon} AS TEXT) || \
             '],\"author\":\"banc\",\"author_name\":\"Banc d''essai\",\"public_name\":false,\"status\":\"nouveau\",\
             \"steps\":[{{\"at\":' || CAST(CAST({at} AS BIGINT) AS TEXT) || ',\"status\":\"nouveau\"}}]}}'"
        );
        for (collection, value) in [("signalements", value.as_str()), ("ouverts", "'{}'")] {
            sqlx::query(&format!(
                "{series} INSERT INTO module_docs (tenant_id, module_id, collection, key, value, version, created_at, updated_at) \
                 SELECT $1, 'reports', '{collection}', {key}, {value}, 1, CAST({at} AS BIGINT), CAST({at} AS BIGINT) FROM s"
            ))
            .bind(tenant.get())
            .bind(south)
            .bind(north)
            .bind(west)
            .bind(east)
            .bind(now_ms)
            .bind(n)
            .bind(YEAR_MS as f64)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("{collection} documents"))?;
            sqlx::query(&format!(
                "{series} INSERT INTO module_places (tenant_id, module_id, collection, key, lat, lon) \
                 SELECT $1, 'reports', '{collection}', {key}, {lat}, {lon} FROM s"
            ))
            .bind(tenant.get())
            .bind(south)
            .bind(north)
            .bind(west)
            .bind(east)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("{collection} places"))?;
        }
        // The index entries the module writes with each report.
        let code = "(CASE i % 4 WHEN 0 THEN 'voirie' WHEN 1 THEN 'proprete' \
            WHEN 2 THEN 'eclairage-public' ELSE 'depot-sauvage' END)";
        for (name, value) in [
            ("etat", "'ouvert'".to_string()),
            ("statut", "'nouveau'".to_string()),
            ("categorie", code.to_string()),
            ("etat-categorie", format!("'ouvert:' || {code}")),
            ("etat-service", "'ouvert:Services techniques'".to_string()),
            ("auteur", "'banc'".to_string()),
        ] {
            sqlx::query(&format!(
                "{series} INSERT INTO module_index (tenant_id, module_id, collection, name, value, key) \
                 SELECT $1, 'reports', 'signalements', '{name}', {value}, {key} FROM s"
            ))
            .bind(tenant.get())
            .execute(&mut *tx)
            .await
            .with_context(|| format!("index {name}"))?;
        }
        tx.commit().await?;
        done += batch;
    }
    let mut tx = app.state.db.platform_tx().await?;
    sqlx::query(
        "INSERT INTO module_counters (tenant_id, module_id, name, value) VALUES ($1, 'reports', 'numero', $2)",
    )
    .bind(tenant.get())
    .bind(n)
    .execute(&mut *tx)
    .await
    .context("the number counter")?;
    tx.commit().await?;
    Ok(())
}

/// p50 and p99 of `requests` GETs of `path` from `clients` clients, and the rate.
async fn time(
    app: &TestApp,
    slug: &str,
    path: &str,
    requests: usize,
    clients: usize,
) -> Result<(Duration, Duration, f64)> {
    let url = app.url(Some(slug), path);
    parvis_tests::bench::time_gets(app, &url, requests, clients).await
}

/// A JPEG photo of `w` × `h` pixels, as a phone sends it.
fn photo(w: u32, h: u32) -> Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 239) as u8])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )?;
    Ok(out)
}

/// Residents signed in on `slug` to post `posts` reports with a photo from [`POSTERS`]
/// clients: each poster has its own, each sending at most 5 a round (the upload allowance is 6
/// files a minute), with their CSRF tokens.
async fn residents(
    app: &TestApp,
    slug: &str,
    posts: usize,
) -> Result<Vec<(reqwest::Client, String)>> {
    let url = app.url(Some(slug), "/m/reports/nouveau");
    let residents = POSTERS * posts.div_ceil(POSTERS).div_ceil(5);
    let mut clients = Vec::with_capacity(residents);
    for r in 0..residents {
        let email = format!("banc-{r}@example.org");
        app.account(&email, "mot-de-passe-solide").await?;
        let client = app
            .signed_in(Some(slug), &email, "mot-de-passe-solide")
            .await?;
        let token = form_token(&client, &url).await?;
        clients.push((client, token));
    }
    Ok(clients)
}

/// p50 and p99 of `posts` reports with one photo from [`POSTERS`] residents at a time, each
/// resident posting at most 5 (within the upload allowance).
async fn time_posts(
    app: &TestApp,
    slug: &str,
    posts: usize,
    picture: &[u8],
    clients: &[(reqwest::Client, String)],
) -> Result<(Duration, Duration, f64)> {
    let url = app.url(Some(slug), "/m/reports/nouveau");
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..POSTERS {
        let mine: Vec<_> = clients
            .iter()
            .enumerate()
            .filter(|(i, _)| i % POSTERS == w)
            .map(|(_, c)| c.clone())
            .collect();
        let url = url.clone();
        let picture = picture.to_vec();
        let share = posts / POSTERS + usize::from(w < posts % POSTERS);
        workers.push(tokio::spawn(async move {
            let mut took = Vec::with_capacity(share);
            for p in 0..share {
                let (client, token) = &mine[p / 5 % mine.len().max(1)];
                let form = reqwest::multipart::Form::new()
                    .text("categorie", "voirie")
                    .text("description", "Un nid-de-poule s'est formé devant l'école.")
                    .text("lat", format!("{:.6}", 48.84 + (p as f64) * 0.0003))
                    .text("lon", format!("{:.6}", 2.30 + (w as f64) * 0.01))
                    .text("confirme", "1")
                    .text("photo_alt", "Le nid-de-poule")
                    .part(
                        "photo",
                        reqwest::multipart::Part::bytes(picture.clone())
                            .file_name("photo.jpg")
                            .mime_str("image/jpeg")?,
                    );
                let t = Instant::now();
                let r = client
                    .post(format!("{url}?csrf_token={token}"))
                    .multipart(form)
                    .send()
                    .await?;
                let status = r.status();
                let body = r.text().await?;
                if status != 303 {
                    let said = body
                        .split("role=\"alert\"")
                        .nth(1)
                        .unwrap_or(&body)
                        .chars()
                        .take(600)
                        .collect::<String>();
                    bail!("post with a photo: {status}: {said}");
                }
                took.push(t.elapsed());
            }
            anyhow::Ok(took)
        }));
    }
    let mut all = Vec::with_capacity(posts);
    for w in workers {
        all.extend(w.await??);
    }
    Ok(parvis_tests::bench::quantiles(all, started.elapsed()))
}

fn line(what: &str, (p50, p99, rate): (Duration, Duration, f64), ping99: Duration, target_ms: u64) {
    println!(
        "  {what:<66} p50 {:>7.2} ms  p99 {:>7.2} ms ({:.1}× /healthz's)  {rate:>7.0} req/s{}",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        p99.as_secs_f64() / ping99.as_secs_f64(),
        if p99 <= Duration::from_millis(target_ms) {
            format!("  (target {target_ms} ms: met)")
        } else {
            format!("  ABOVE {target_ms} ms")
        }
    );
}

async fn run(backend: Backend, total: i64, requests: usize, posts: usize) -> Result<()> {
    // The product's limits as they are (the tests slow their refill): residents sign in and
    // send photos at the pace a real server allows.
    let app = TestApp::start_configured(backend, 0, |c| c.rate_limit_slowdown = 1).await?;
    let paris = app.commune("75056").await?;
    app.install_module("parvis-module-reports").await?;
    app.enable_module(&paris, "reports").await?;
    let now_ms = parvis_core::util::now() * 1000;
    let started = Instant::now();
    seed(&app, backend, &paris, LARGEST, PARIS, now_ms).await?;
    let each = (total - LARGEST).max(0) / OTHERS.len() as i64;
    for insee in OTHERS {
        let slug = app.commune(insee).await?;
        seed(&app, backend, &slug, each, PARIS, now_ms).await?;
    }
    if backend == Backend::Postgres {
        // What autovacuum does within a minute of a bulk load: timed before it, PostgreSQL
        // plans from empty tables' statistics (the filtered Open311 query once took 50 s on
        // 50,000 fresh rows, and the module was cut at its time budget).
        sqlx::query("ANALYZE")
            .execute(app.state.db.platform())
            .await?;
    }
    println!(
        "{backend:?}: {} reports seeded ({LARGEST} in Paris) in {:.1} s",
        LARGEST + each * OTHERS.len() as i64,
        started.elapsed().as_secs_f64()
    );

    let visitor = app.client()?;
    let get = |path: String| {
        let url = app.url(Some(&paris), &path);
        let visitor = visitor.clone();
        async move {
            let r = visitor.get(&url).send().await?;
            let status = r.status();
            let answer: Value = r.json().await?;
            if !status.is_success() {
                bail!("{url}: {status} {answer}");
            }
            answer
                .as_array()
                .cloned()
                .with_context(|| format!("{url}: {answer}"))
        }
    };
    let city = format!(
        "/m/reports/carte.json?s={}&w={}&n={}&e={}&cols=8&rows=8",
        PARIS.0, PARIS.1, PARIS.2, PARIS.3
    );
    let district =
        "/m/reports/carte.json?s=48.845&w=2.335&n=48.8665&e=2.375&cols=16&rows=16".to_string();
    let month_ago = chrono::DateTime::from_timestamp(now_ms / 1000 - 30 * 24 * 3600, 0)
        .context("a date")?
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let recent = format!("/open311/v2/requests.json?start_date={month_ago}");
    let filtered =
        format!("/open311/v2/requests.json?start_date={month_ago}&service_code=voirie&status=open");
    // Right before fast.
    let cells = get(city.clone()).await?;
    let counted: u64 = cells.iter().filter_map(|c| c["count"].as_u64()).sum();
    if counted != LARGEST as u64 {
        bail!("{city}: {counted} reports in the clusters, {LARGEST} seeded");
    }
    println!("  {city}: {} clusters of {counted} reports", cells.len());
    let parts = get(district.clone()).await?;
    println!(
        "  {district}: {} clusters, {} of one report",
        parts.len(),
        parts.iter().filter(|c| c["count"] == 1).count()
    );
    for path in [&recent, &filtered] {
        let listed = get(path.clone()).await?;
        if listed.len() != 200 || listed.iter().any(|r| r["status"] != "open") {
            bail!("{path}: {} requests", listed.len());
        }
        println!("  {path}: {} requests", listed.len());
    }

    let (_, ping99, ping_rate) = time(&app, &paris, "/healthz", requests, READERS[1]).await?;
    println!(
        "  {:<66} p99 {:>7.2} ms  {:>7.0} req/s",
        "/healthz (a host route, same run, 16 clients)",
        ping99.as_secs_f64() * 1e3,
        ping_rate
    );
    let read = |path: &String| {
        let (app, paris) = (&app, &paris);
        let path = path.clone();
        async move {
            for clients in READERS {
                let what = format!("{path} ({clients} clients)");
                let timed = time(app, paris, &path, requests, clients).await?;
                line(&what, timed, ping99, 20);
            }
            anyhow::Ok(())
        }
    };
    let only = std::env::var("ONLY").unwrap_or_default();
    let runs = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    if runs("map") {
        for path in [&city, &district] {
            read(path).await?;
        }
    }
    if runs("listings") {
        for path in [&recent, &filtered] {
            read(path).await?;
        }
    }
    if runs("quartiers") {
        // Paris's admin takes the 20 arrondissements: every place of the commune (each report
        // and its open marker) is placed again in one transaction.
        let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(&paris)?)
            .await?
            .context("Paris")?
            .id;
        let started = Instant::now();
        let done = parvis_core::neighbourhoods::service::from_arrondissements(
            &app.state.db,
            &app.state.db.tenant(tenant),
            "75056",
            "Paris",
        )
        .await?;
        println!(
            "  Paris takes its {} arrondissements: {} places placed in them in {:.2} s",
            done.neighbourhoods,
            done.moved,
            started.elapsed().as_secs_f64()
        );
        if backend == Backend::Postgres {
            // What autovacuum does within a minute of a bulk change (its insert threshold):
            // timed before it, PostgreSQL plans from an empty table's statistics and sorts a
            // whole arrondissement (65 ms a page) instead of walking the index (0.4 ms).
            sqlx::query("VACUUM ANALYZE module_place_neighbourhoods")
                .execute(app.state.db.platform())
                .await?;
        }
        let quartier = "/m/reports/?quartier=11e-arrondissement&statut=ouvert".to_string();
        let page = visitor
            .get(app.url(Some(&paris), &quartier))
            .send()
            .await?
            .text()
            .await?;
        let listed = page.matches("N°\u{a0}").count();
        if listed != 20 {
            bail!("{quartier}: {listed} reports listed");
        }
        println!("  {quartier}: {listed} reports listed");
        // The same list for the whole city, beside it: what the neighbourhood adds.
        read(&"/m/reports/?statut=ouvert".to_string()).await?;
        read(&quartier).await?;
    }
    if !runs("photos") {
        app.stop().await;
        return Ok(());
    }
    let clients = residents(&app, &paris, posts).await?;
    for (round, (w, h, what)) in [
        (1920, 1080, "a report with one photo (1920 × 1080 JPEG)"),
        (
            4000,
            3000,
            "a report with one photo (4000 × 3000 JPEG, 12 MP)",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        if round > 0 {
            // The upload allowance (6 files a minute per account) is the product's: wait it
            // out rather than sign more residents in (20 sign-ins a minute from one address).
            tokio::time::sleep(Duration::from_secs(61)).await;
        }
        let picture = photo(w, h)?;
        let what = format!("{what}, {} KB", picture.len() / 1024);
        line(
            &what,
            time_posts(&app, &paris, posts, &picture, &clients).await?,
            ping99,
            150,
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
    let total = i64::try_from(var("REPORTS", 1_000_000))?;
    let requests = var("REQUESTS", 2_000);
    let posts = var("POSTS", 90);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(Backend::Sqlite, total, requests, posts))?;
    if std::env::var_os("PARVIS_TEST_PG_URL").is_some() {
        runtime.block_on(run(Backend::Postgres, total, requests, posts))?;
    }
    Ok(())
}
