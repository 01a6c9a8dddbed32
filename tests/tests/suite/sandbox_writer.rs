//! Issue 14, fairness at SQLite's one writer: while Paris's module holds the writer in a loop,
//! Lyon's logins (a session written on the pool) and Lyon's module writes still get their
//! turn, within stated bounds. Every writer of the process queues in one order, fair between
//! communes (`core/src/db/turn.rs`), instead of polling in SQLite's busy handler, which starved
//! logins into « database is locked » after 10 s.
//!
//! SQLite only: PostgreSQL has no single writer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use parvis_tests::{Backend, TestApp, csrf, form_token};

const HOSTILE: &str = "parvis-module-hostile";
const ASSAILANT: &str = "parvis-module-assailant";

/// Paris's clients, each asking again as soon as answered: every call takes the writer and
/// holds it [`HOLD_MS`] (the assailant writes, then sleeps that long before its commit), so
/// Paris keeps many writers queued back to back.
const PARIS_CLIENTS: usize = 16;
const HOLD_MS: u64 = 300;
/// Lyon's sign-ins and module writes measured while Paris misbehaves.
const LYON_LOGINS: usize = 8;
const LYON_WRITES: usize = 8;
/// The stated bounds on Lyon's slowest (p99) sign-in and module write while Paris holds the
/// writer: a Lyon writer waits for at most the turn in progress and one turn of each other
/// commune with waiters, here one 300 ms hold or two, plus its own work on a loaded 2-CPU
/// machine.
const LOGIN_P99: Duration = Duration::from_millis(1500);
const WRITE_P99: Duration = Duration::from_millis(1500);

async fn login(app: &TestApp, slug: &str, email: &str, password: &str) -> Result<(u16, Duration)> {
    let client = app.client()?;
    let html = client
        .get(app.url(Some(slug), "/connexion"))
        .send()
        .await?
        .text()
        .await?;
    let token = csrf(&html).context("login form without CSRF token")?;
    let started = Instant::now();
    let r = client
        .post(app.url(Some(slug), "/connexion"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await?;
    Ok((r.status().as_u16(), started.elapsed()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lyon_signs_in_and_writes_while_paris_holds_the_writer() -> Result<()> {
    let app = Arc::new(TestApp::start(Backend::Sqlite).await?);
    let paris = app.commune("75056").await?;
    let lyon = app.commune("69123").await?;
    app.install_module(HOSTILE).await?;
    app.install_module(ASSAILANT).await?;
    app.enable_module(&paris, "assailant").await?;
    app.enable_module(&lyon, "hostile").await?;
    let password = "mot-de-passe-solide";
    for i in 0..LYON_LOGINS {
        app.account(&format!("habitant{i}@lyon.fr"), password)
            .await?;
    }

    // Paris takes the writer back to back.
    let stop = Arc::new(AtomicBool::new(false));
    let paris_done = Arc::new(AtomicUsize::new(0));
    let mut attackers = Vec::new();
    for n in 0..PARIS_CLIENTS {
        let (app, stop, done, paris) =
            (app.clone(), stop.clone(), paris_done.clone(), paris.clone());
        attackers.push(tokio::spawn(async move {
            let client = app.client()?;
            let token = form_token(&client, &app.url(Some(&paris), "/connexion")).await?;
            let url = app.url(
                Some(&paris),
                &format!("/m/assailant/runtime/hold-write?ms={HOLD_MS}&value=paris{n}"),
            );
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .post(&url)
                    .form(&[("csrf_token", token.as_str())])
                    .send()
                    .await?;
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                if status == 200 {
                    done.fetch_add(1, Ordering::Relaxed);
                } else if n == 0 {
                    eprintln!(
                        "Paris: {status} {}",
                        body.chars().take(200).collect::<String>()
                    );
                }
            }
            anyhow::Ok(())
        }));
    }
    // Until Paris's writers queue for the writer.
    let flooded = Instant::now();
    while app.state.db.writers_waiting() == 0 {
        anyhow::ensure!(
            flooded.elapsed() < Duration::from_secs(10),
            "Paris never queued for the writer"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let busy_samples = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (app, stop, busy) = (app.clone(), stop.clone(), busy_samples.clone());
        tokio::spawn(async move {
            let mut samples = 0usize;
            while !stop.load(Ordering::Relaxed) {
                if app.state.db.writers_waiting() > 0 {
                    busy.fetch_add(1, Ordering::Relaxed);
                }
                samples += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            samples
        })
    };

    let logins = {
        let (app, lyon) = (app.clone(), lyon.clone());
        tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..LYON_LOGINS {
                out.push(login(&app, &lyon, &format!("habitant{i}@lyon.fr"), password).await?);
            }
            anyhow::Ok(out)
        })
    };
    let writes = {
        let (app, lyon) = (app.clone(), lyon.clone());
        tokio::spawn(async move {
            let client = app.client()?;
            let mut out = Vec::new();
            for i in 0..LYON_WRITES {
                let started = Instant::now();
                let r = client
                    .get(app.url(Some(&lyon), &format!("/m/hostile/write?value=lyon{i}")))
                    .send()
                    .await?;
                let status = r.status().as_u16();
                let body = r.text().await?;
                out.push((status, started.elapsed(), body));
            }
            anyhow::Ok(out)
        })
    };
    let logins = logins.await??;
    let writes = writes.await??;
    let paris_during = paris_done.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.await?;
    for attacker in attackers {
        attacker.await??;
    }

    // The attack was real: Paris's writers were queued most of the time Lyon was measured.
    let busy = busy_samples.load(Ordering::Relaxed);
    assert!(
        busy * 2 > samples,
        "Paris queued for the writer in only {busy} of {samples} samples"
    );
    assert!(paris_during > 0, "Paris's module never answered");

    let mut login_times = Vec::new();
    for (status, took) in &logins {
        assert_eq!(*status, 303, "a Lyon sign-in failed after {took:?}");
        login_times.push(*took);
    }
    let mut write_times = Vec::new();
    for (status, took, body) in &writes {
        assert_eq!(
            *status, 200,
            "a Lyon module write failed after {took:?}: {body}"
        );
        assert!(body.contains("\"written\""), "{body}");
        write_times.push(*took);
    }
    login_times.sort();
    write_times.sort();
    let (slowest_login, slowest_write) = (
        login_times[login_times.len() - 1],
        write_times[write_times.len() - 1],
    );
    eprintln!(
        "while Paris held the writer ({busy}/{samples} samples queued, {paris_during} Paris calls): \
         Lyon sign-in p50 {:?} p99 {slowest_login:?}, Lyon module write p50 {:?} p99 {slowest_write:?}",
        login_times[login_times.len() / 2],
        write_times[write_times.len() / 2],
    );
    assert!(
        slowest_login < LOGIN_P99,
        "Lyon sign-in p99 {slowest_login:?}"
    );
    assert!(
        slowest_write < WRITE_P99,
        "Lyon module write p99 {slowest_write:?}"
    );
    Ok(())
}

/// One call cannot hold the server's writer for its whole budget: whatever its budget, a call
/// that took SQLite's writer is cut [`parvis_core::modules::call::MAX_WRITER_HOLD`] after,
/// its writes rolled back, and a Lyon sign-in behind it waits about that long, not the
/// budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_holds_the_writer_one_second_at_most() -> Result<()> {
    let app = Arc::new(TestApp::start(Backend::Sqlite).await?);
    let paris = app.commune("75056").await?;
    let lyon = app.commune("69123").await?;
    app.install_module(ASSAILANT).await?;
    app.enable_module(&paris, "assailant").await?;
    let password = "mot-de-passe-solide";
    app.account("habitant@lyon.fr", password).await?;
    // A budget far longer than the hold, so only the hold can cut the call.
    app.state.modules.set_time_budget(Duration::from_secs(8));

    let client = app.client()?;
    let token = form_token(&client, &app.url(Some(&paris), "/connexion")).await?;
    let url = app.url(
        Some(&paris),
        "/m/assailant/runtime/hold-write?ms=6000&value=trop-long",
    );
    let started = Instant::now();
    let held = {
        let client = client.clone();
        tokio::spawn(async move {
            let r = client
                .post(&url)
                .form(&[("csrf_token", token.as_str())])
                .send()
                .await?;
            anyhow::Ok((r.status().as_u16(), started.elapsed()))
        })
    };
    // Lyon signs in while Paris's call holds the writer.
    while app.state.db.writers_waiting() == 0 && started.elapsed() < Duration::from_millis(300) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, lyon_took) = login(&app, &lyon, "habitant@lyon.fr", password).await?;
    assert_eq!(status, 303, "Lyon's sign-in failed");
    let (paris_status, paris_took) = held.await??;
    assert!(
        paris_status >= 500,
        "a call holding the writer 6 s answered {paris_status}"
    );
    assert!(
        paris_took < Duration::from_millis(2500),
        "Paris's call held on for {paris_took:?} (budget 8 s, hold 1 s)"
    );
    assert!(
        lyon_took < Duration::from_millis(2500),
        "Lyon's sign-in waited {lyon_took:?} behind one call"
    );
    let kept = client
        .get(app.url(Some(&paris), "/m/assailant/runtime/mark?value=trop-long"))
        .send()
        .await?
        .text()
        .await?;
    assert!(kept.contains("\"kept\":false"), "{kept}");
    eprintln!("hold cut after {paris_took:?}; Lyon's sign-in took {lyon_took:?}");
    Ok(())
}
