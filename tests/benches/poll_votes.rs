//! Poll votes sustained on one poll: 64 concurrent voters post ballots to the real server over
//! loopback (the polls component, the host's transaction per call, the unique constraint), on
//! SQLite and, when `PARVIS_TEST_PG_URL` is set, PostgreSQL. A share of the voters double-submit
//! at the same instant; the final tally must equal the accepted votes, one per voter. The rate
//! counts accepted votes only. Beside it, the rate of bare SQLite write transactions measured
//! in the same run, since absolute figures move with the machine. The client runs in this
//! process, on the server's runtime: `bench/load.sh` measures pages from outside.
//!
//! Run: `cargo build --profile module --target wasm32-wasip2 -p parvis-module-polls &&
//! cargo bench -p parvis-tests --bench poll_votes` (env `VOTERS`, default 20000).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use parvis_core::authz::Role;
use parvis_tests::{Backend, TestApp, form_token};

/// Concurrent voters in flight.
const CONCURRENCY: usize = 64;
/// Every `DOUBLE`-th voter submits twice at once.
const DOUBLE: usize = 10;

async fn run(backend: Backend, voters: usize) -> Result<()> {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    app.install_module("parvis-module-polls").await?;
    app.enable_module(&paris, "polls").await?;
    let maire = app.account("maire@paris.fr", "mot-de-passe-solide").await?;
    app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
    let admin = app
        .signed_in(Some(&paris), "maire@paris.fr", "mot-de-passe-solide")
        .await?;
    let form = app.url(Some(&paris), "/admin/m/polls/new");
    let token = form_token(&admin, &form).await?;
    let r = admin
        .post(&form)
        .form(&[
            ("csrf_token", token.as_str()),
            (
                "question",
                "Faut-il piétonniser la rue de Rivoli le dimanche ?",
            ),
            ("description", ""),
            ("options", "Oui\nNon\nSans avis"),
            ("kind", "single"),
            ("opens_at", ""),
            ("closes_at", "2099-12-31T23:59"),
            ("secrecy", "anonymous"),
            ("audience", "everyone"),
        ])
        .send()
        .await?;
    if r.status() != 303 {
        bail!("poll creation answered {}: {}", r.status(), r.text().await?);
    }
    let location = r.headers()["location"].to_str()?.to_string();
    let poll = location
        .rsplit('/')
        .next()
        .context("poll id in the redirect")?
        .to_string();

    // Voters: accounts and sessions written directly (hashing 20,000 passwords is not the
    // point); each request carries its own session and CSRF cookies.
    let started = Instant::now();
    let cookies = parvis_tests::bench::signed_in_accounts(&app, "votant", voters).await?;
    eprintln!(
        "{backend:?}: {voters} voters ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let client = app.bare_client()?;
    let url = app.url(Some(&paris), &format!("/m/polls/{poll}/vote"));
    let cookies = Arc::new(cookies);
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, url, cookies) = (client.clone(), url.clone(), cookies.clone());
        let (next, accepted, refused) = (next.clone(), accepted.clone(), refused.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((cookie, csrf)) = cookies.get(i) else {
                    return anyhow::Ok(());
                };
                let option = (i % 3).to_string();
                let send = || {
                    client
                        .post(&url)
                        .header("cookie", cookie)
                        .form(&[("csrf_token", csrf.as_str()), ("option", option.as_str())])
                        .send()
                };
                let statuses = if i % DOUBLE == 0 {
                    let (a, b) = tokio::join!(send(), send());
                    vec![a?.status().as_u16(), b?.status().as_u16()]
                } else {
                    vec![send().await?.status().as_u16()]
                };
                for status in statuses {
                    match status {
                        303 => accepted.fetch_add(1, Ordering::Relaxed),
                        409 => refused.fetch_add(1, Ordering::Relaxed),
                        other => bail!("vote answered {other}"),
                    };
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    let elapsed = started.elapsed();
    let cpu = process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let accepted = accepted.load(Ordering::Relaxed);
    let refused = refused.load(Ordering::Relaxed);

    let csv = admin
        .get(app.url(
            Some(&paris),
            &format!("/admin/m/polls/{poll}/resultats.csv"),
        ))
        .send()
        .await?
        .text()
        .await?;
    let counted: usize = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .filter_map(|n| n.trim().parse::<usize>().ok())
        .sum();
    println!(
        "{backend:?}: {accepted} votes accepted in {:.2} s = {:.0} votes/s with {CONCURRENCY} concurrent voters; \
         {refused} simultaneous double submissions refused; tally {counted} (target ≥ 5,000/s, tally = accepted = voters)",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64()
    );
    if let Some(cpu) = cpu {
        // Less noisy than the rate on a shared machine: what each vote cost in CPU time
        // (server and in-process client together).
        println!(
            "{backend:?}: {:.0} µs of CPU per accepted vote ({cpu:.2} s of CPU in {:.2} s)",
            cpu * 1e6 / accepted.max(1) as f64,
            elapsed.as_secs_f64()
        );
    }
    if counted != accepted || accepted != voters {
        bail!("tally {counted}, accepted {accepted}, voters {voters}: they must be equal\n{csv}");
    }
    app.stop().await;
    if backend == Backend::Sqlite {
        // The reference of the same run: what SQLite alone sustains on this disk, one bare
        // write transaction after another, each committed on its own.
        let bare = tokio::task::spawn_blocking(move || bare_commits(voters)).await??;
        println!(
            "{backend:?}: bare write transactions on an SQLite file here: {bare:.0}/s; votes / bare = {:.3} (target ≥ 0.12: the 5,000 votes/s target against the ~43,000 bare commits/s of the machine it was set on)",
            accepted as f64 / elapsed.as_secs_f64() / bare
        );
    }
    Ok(())
}

/// Bare write transactions per second on an SQLite file in WAL mode with the host's settings
/// (`synchronous = NORMAL`): `BEGIN IMMEDIATE`, one ballot-sized row under a unique index,
/// `COMMIT`, `n` times.
fn bare_commits(n: usize) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let conn = rusqlite::Connection::open(dir.path().join("bare.db"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         CREATE TABLE ballots (poll TEXT NOT NULL, voter TEXT NOT NULL, choice INTEGER NOT NULL, \
         PRIMARY KEY (poll, voter));",
    )?;
    let started = Instant::now();
    for i in 0..n {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.execute(
            "INSERT INTO ballots (poll, voter, choice) VALUES ('p', ?1, ?2)",
            rusqlite::params![format!("votant{i}"), (i % 3) as i64],
        )?;
        conn.execute_batch("COMMIT")?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// User + system CPU time of this process so far, from /proc (Linux), in seconds.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

fn main() -> Result<()> {
    let voters: usize = std::env::var("VOTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(Backend::Sqlite, voters))?;
    if std::env::var_os("PARVIS_TEST_PG_URL").is_some() {
        runtime.block_on(run(Backend::Postgres, voters))?;
    }
    Ok(())
}
