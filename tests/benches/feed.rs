//! Feed figures for the closing note, on the release build over loopback:
//! - the feed page (`/fil`) of 20 citizens, each following 50 sources (10 communes and 40
//!   officials of other communes, a different selection each; the views rotate between them, so
//!   no request is the same as the one before), with 1,000,000 posts in the database spread over 20 communes and a year,
//!   while one commune has 100,000 followers: p50 and p99 over sequential requests, the first
//!   page and pages further down (following the "older posts" cursor); beside it, in the same
//!   run, the health route (no database) as the floor of what any request costs here;
//! - a post by that commune fanned out to its 100,000 followers: the time from the publishing
//!   request until every follower's notification is written (the fan-out job, set-based).
//!
//! Run: `cargo bench -p parvis-tests --bench feed` (env `POSTS`, default 1000000;
//! `FOLLOWERS`, default 100000; PostgreSQL too when `PARVIS_TEST_PG_URL` is set).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use parvis_core::authz::Role;
use parvis_core::db::TenantSql as _;
use parvis_core::types::{AccountId, TenantId};
use parvis_tests::bench::percentile;
use parvis_tests::{Backend, TestApp, form_token};
use rand::{Rng as _, SeedableRng as _};

/// Communes of the bench (INSEE codes of the real registry).
const COMMUNES: [&str; 20] = [
    "75056", "69123", "13055", "31555", "06088", "44109", "67482", "34172", "33063", "59350",
    "35238", "51454", "42218", "83137", "76351", "38185", "21231", "49007", "30189", "74010",
];
/// Officials who publish, per commune.
const OFFICIALS: usize = 40;
/// Readers whose feeds the views rotate between.
const READERS: usize = 20;
/// Rows per INSERT statement.
const BATCH: usize = 500;
/// Sequential requests per measured page kind.
const VIEWS: usize = 1000;
/// A year, in seconds: the posts' ages spread over it.
const YEAR: i64 = 365 * 24 * 3600;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Verified accounts written directly (hashing 100,000 passwords is not the point).
async fn accounts(app: &TestApp, prefix: &str, n: usize) -> Result<Vec<AccountId>> {
    let ids: Vec<AccountId> = (0..n).map(|_| AccountId::generate()).collect();
    let mut tx = app.state.db.platform().begin().await?;
    for (c, chunk) in ids.chunks(BATCH).enumerate() {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "(${}, ${}, ${}, '!', 0, 0)",
                    3 * i + 1,
                    3 * i + 2,
                    3 * i + 3
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO accounts (id, email, display_name, password_hash, email_verified_at, created_at) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (i, id) in chunk.iter().enumerate() {
            let k = c * BATCH + i;
            q = q
                .bind(&id.0)
                .bind(format!("{prefix}{k}@example.org"))
                .bind(format!("{prefix} {k}"));
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(ids)
}

/// Follows written directly: `(account, tenant, kind, target)`.
async fn follows(app: &TestApp, rows: &[(&AccountId, TenantId, &str, String)]) -> Result<()> {
    let mut tx = app.state.db.platform().begin().await?;
    for chunk in rows.chunks(BATCH) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "(${}, ${}, ${}, ${}, 0)",
                    4 * i + 1,
                    4 * i + 2,
                    4 * i + 3,
                    4 * i + 4
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO follows (account_id, tenant_id, target_kind, target_id, created_at) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (account, tenant, kind, target) in chunk {
            q = q.bind(&account.0).bind(*tenant).bind(*kind).bind(target);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `posts` posts over the communes, half by the commune and half by one of its officials,
/// their ids (UUIDv7) and dates spread over the past year; each commune's rows are written
/// in one transaction of that commune.
async fn posts(
    app: &TestApp,
    tenants: &[TenantId],
    author: &AccountId,
    posts: usize,
) -> Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let now = parvis_core::util::now();
    let per_commune = posts / tenants.len();
    let body = "Réunion publique sur le budget participatif : les projets retenus seront présentés \
                salle du conseil, avec un temps d'échange. Venez nombreux !";
    let html = format!("<p>{body}</p>");
    for &tenant in tenants {
        let mut tx = app.state.db.tenant(tenant).begin().await?;
        for start in (0..per_commune).step_by(BATCH) {
            let n = BATCH.min(per_commune - start);
            let values: Vec<String> = (0..n)
                .map(|i| {
                    let b = 5 * i;
                    format!(
                        "($1, ${}, $2, ${}, ${}, ${}, $3, $4, NULL, ${})",
                        b + 5,
                        b + 6,
                        b + 7,
                        b + 8,
                        b + 9
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO posts (tenant_id, id, author_account_id, author_kind, official_id, author_name, body, body_html, theme, created_at) VALUES {}",
                values.join(", ")
            );
            let mut q = tx.scoped(&sql).bind(&author.0).bind(body).bind(&html);
            for _ in 0..n {
                let at = now - rng.gen_range(60..YEAR);
                let millis = u64::try_from(at)? * 1000 + rng.gen_range(0..1000);
                let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
                    uuid::NoContext,
                    millis / 1000,
                    u32::try_from(millis % 1000)? * 1_000_000,
                ));
                let official = rng.gen_range(0..2 * OFFICIALS);
                let (kind, official, name) = if official < OFFICIALS {
                    (
                        "official",
                        Some(format!("bench-{tenant}-{official}")),
                        format!("Élu·e {official}"),
                    )
                } else {
                    ("commune", None, "La mairie".to_string())
                };
                q = q
                    .bind(id.to_string())
                    .bind(kind)
                    .bind(official)
                    .bind(name)
                    .bind(at);
            }
            q.execute(&mut tx).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Sequential GETs of `urls` with the readers' `cookies` (both cycled): sorted latencies.
async fn views(
    client: &reqwest::Client,
    cookies: &[String],
    urls: &[String],
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(VIEWS);
    for i in 0..VIEWS {
        let url = &urls[i % urls.len()];
        let cookie = &cookies[i % cookies.len()];
        let started = Instant::now();
        let r = client.get(url).header("cookie", cookie).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        times.push(started.elapsed());
        if status != 200 || body.is_empty() {
            bail!("{url} answered {status}");
        }
    }
    times.sort();
    Ok(times)
}

fn report(backend: Backend, what: &str, times: &[Duration]) {
    println!(
        "{backend:?}: {what}: p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.99))
    );
}

async fn run(backend: Backend, total_posts: usize, followers: usize) -> Result<()> {
    let app = TestApp::start(backend).await?;
    let started = Instant::now();
    let mut slugs = Vec::new();
    let mut tenants = Vec::new();
    for insee in COMMUNES {
        let slug = app.commune(insee).await?;
        let id: TenantId = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
            .bind(&slug)
            .fetch_one(app.state.db.platform())
            .await?;
        slugs.push(slug);
        tenants.push(id);
    }
    let maire = app.account("maire@paris.fr", "mot-de-passe-solide").await?;
    app.grant(&maire, Role::TenantAdmin, Some(&slugs[0]))
        .await?;
    posts(&app, &tenants, &maire, total_posts).await?;

    // Readers, each following 10 communes and 40 officials of the 10 others, a different
    // selection each (reader r starts at commune r): the views rotate between them, so no two
    // consecutive requests ask for the same page.
    let readers = accounts(&app, "lectrice", READERS).await?;
    let mut rows: Vec<(&AccountId, TenantId, &str, String)> = Vec::new();
    for (r, reader) in readers.iter().enumerate() {
        let order: Vec<TenantId> = (0..tenants.len())
            .map(|j| tenants[(r + j) % tenants.len()])
            .collect();
        for &tenant in &order[..10] {
            rows.push((reader, tenant, "commune", String::new()));
        }
        for (i, &tenant) in order[10..].iter().enumerate() {
            for k in 0..4 {
                rows.push((
                    reader,
                    tenant,
                    "official",
                    format!("bench-{tenant}-{}", (r + i + k) % OFFICIALS),
                ));
            }
        }
    }
    // The followers of the first commune (the readers among them).
    let crowd = accounts(&app, "habitant", followers).await?;
    rows.extend(
        crowd
            .iter()
            .map(|a| (a, tenants[0], "commune", String::new())),
    );
    follows(&app, &rows).await?;
    if backend == Backend::Postgres {
        sqlx::query("ANALYZE")
            .execute(app.state.db.platform())
            .await?;
    }
    let seeded = started.elapsed();
    println!(
        "{backend:?}: {total_posts} posts over {} communes, {followers} followers of {} seeded in {:.1} s",
        tenants.len(),
        slugs[0],
        seeded.as_secs_f64()
    );

    let mut cookies = Vec::with_capacity(readers.len());
    for reader in &readers {
        let session = parvis_core::web::session::open(
            &app.state.db,
            reader,
            &parvis_tests::bench::cookie_scope(),
        )
        .await?;
        cookies.push(
            session
                .to_str()?
                .split(';')
                .next()
                .unwrap_or_default()
                .to_string(),
        );
    }
    let client = app.bare_client()?;
    let health = views(&client, &cookies, &[app.url(None, "/healthz")]).await?;
    let first = app.url(Some(&slugs[0]), "/fil");
    let front = views(&client, &cookies, std::slice::from_ref(&first)).await?;
    // Ten pages down, by the cursor each page links to.
    let mut deep = vec![first.clone()];
    for _ in 0..10 {
        let page = client
            .get(deep.last().context("a page")?)
            .header("cookie", &cookies[0])
            .send()
            .await?
            .text()
            .await?;
        let Some(at) = page.find("/fil?avant=") else {
            bail!("the feed links to no older page");
        };
        let end = page[at..].find('"').context("end of the link")?;
        deep.push(app.url(Some(&slugs[0]), &page[at..at + end].replace("&amp;", "&")));
    }
    // The first reader's pages, by the cursor each links to.
    let paged = views(&client, &cookies[..1], &deep[1..]).await?;
    report(backend, "health route (floor)", &health);
    report(backend, "feed, first page", &front);
    report(backend, "feed, pages 2 to 11", &paged);
    println!(
        "{backend:?}: feed p99 / health p99 = {:.1}",
        ms(percentile(&front, 0.99)) / ms(percentile(&health, 0.99)).max(0.001)
    );

    // Fan-out: the mayor posts as the commune; wait for every follower's notification.
    let mayor = app
        .signed_in(Some(&slugs[0]), "maire@paris.fr", "mot-de-passe-solide")
        .await?;
    let form = app.url(Some(&slugs[0]), "/publier");
    let token = form_token(&mayor, &form).await?;
    let started = Instant::now();
    let r = mayor
        .post(&form)
        .form(&[
            ("csrf_token", token.as_str()),
            ("body", "Travaux rue de la République du 2 au 6 décembre."),
            ("theme", ""),
        ])
        .send()
        .await?;
    if r.status() != 303 {
        bail!("publishing answered {}", r.status());
    }
    let accepted = started.elapsed();
    let expected = i64::try_from(followers)?;
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE tenant_id = $1 AND id LIKE 'post:%'",
        )
        .bind(tenants[0])
        .fetch_one(app.state.db.platform())
        .await?;
        if n >= expected {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("fan-out: {n} of {expected} notifications after 2 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "{backend:?}: post accepted in {:.1} ms; fanned out to {followers} followers in {:.2} s",
        ms(accepted),
        started.elapsed().as_secs_f64()
    );
    app.stop().await;
    Ok(())
}

fn main() -> Result<()> {
    let posts = std::env::var("POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let followers = std::env::var("FOLLOWERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        run(Backend::Sqlite, posts, followers).await?;
        if std::env::var_os("PARVIS_TEST_PG_URL").is_some() {
            run(Backend::Postgres, posts, followers).await?;
        }
        Ok(())
    })
}
