//! A consultation at the size of Make.org's large national ones (issue 19): 165,000
//! participants, 20,000 published proposals and 2,000,000 votes already cast, seeded in SQL as
//! the `consultations` module stores them (proposals and their index entries, the draw, the
//! tallies, ballots with their index entry, participants, counters). Then, through the
//! real router, the host and the module, on SQLite and, when `PARVIS_TEST_PG_URL` is set,
//! PostgreSQL:
//! - **the peak**: new votes from signed-in participants, 64 in flight (each vote: the ballot,
//!   its proposal's tally under a version check, the participant noted), as fast as the server
//!   takes them: the rate it can sustain. Its latencies are queue time (64 waiting on 2 cores),
//!   so they are printed, not judged;
//! - **the target**: votes sent at a steady `RATE` a second (default 2,000) for `SECONDS`
//!   (default 10), each sent at its moment whether the earlier ones have answered or not (a
//!   crowd does not wait for the server), and each timed **from the moment it was due**, so a
//!   server falling behind shows in the figures instead of slowing the client down (no
//!   coordinated omission); while they flow, one participant walking the voting sequence
//!   (`/1/voter`: six draws, their ballots and tallies read) and one visitor reading the
//!   results (`/1/resultats`), each timed; halfway, the results are worked out again (the
//!   module keeps them 30 s, longer than the run).
//!
//! For the peak and the steady votes it prints where SQLite's one writer spent the time (every
//! vote passes through it, one at a time), and before the peak it times the same work in every
//! run, to say how fast the shared machine was.
//!
//! Before anything is timed, the seed's writes are left to reach the disk (`settle`). The
//! database lives where `TMPDIR` says: `TMPDIR=/dev/shm` puts it in memory, which shows what
//! the code costs without the disk's share.
//!
//! Each line is checked before it is timed (the pages answer 200 with what they should), and
//! the tallies must end at the seeded votes plus the accepted ones. Beside the figures,
//! `/healthz`'s p99 in the same run, since absolute figures move with the machine. Client and
//! server share this process's two threads, so the rates are a floor.
//!
//! Run: `cargo build --profile module --target wasm32-wasip2 -p parvis-module-consultations &&
//! cargo bench -p parvis-tests --bench consultations` (env `PROPOSALS`, default 20000;
//! `BALLOTS`, default 2000000; `PARTICIPANTS`, default 165000; `VOTES`, new votes timed,
//! default 20000, for the peak, and `IN_FLIGHT` of them at a time, default 64; `RATE` and
//! `SECONDS` for the target; `BACKENDS=postgres` for PostgreSQL alone; `NEIGHBOUR=1` for a
//! busy neighbour beside the run, as on a shared machine's slow mornings: `bench::Neighbour`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use parvis_core::authz::Role;
use parvis_tests::bench::{Neighbour, percentile};
use parvis_tests::{Backend, TestApp, form_token};

/// Votes in flight for the peak (env `IN_FLIGHT`).
const CONCURRENCY: usize = 64;
/// Most votes in flight at the target's rate.
const MAX_IN_FLIGHT: usize = 256;
/// Votes each timed participant casts (on distinct proposals).
const PER_VOTER: usize = 10;
/// Rows per seeding statement.
const BATCH: i64 = 100_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The same work in every run, timed before the peak: sorting 4 Mi pseudo-random
/// numbers (32 MB), work for the CPU and its caches as SQLite's page lookups are. The shared
/// machine's speed moves between runs with nothing to show it in its counters (no steal): the
/// writer's mean turn took 0.21 ms in some runs and 0.35 ms in others of the same build. This
/// says which kind of run it was. The median of three.
fn reference_work() -> Duration {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let numbers: Vec<u64> = (0..1u64 << 22)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect();
    let mut took: Vec<Duration> = (0..3)
        .map(|_| {
            let mut v = numbers.clone();
            let started = Instant::now();
            v.sort_unstable();
            let took = started.elapsed();
            std::hint::black_box(&v);
            took
        })
        .collect();
    took.sort();
    took[1]
}

/// Where SQLite's one writer spent `period`: every vote passes through it, one at a time, so
/// its share of the time held is how near the votes are to what the server can take.
fn writer_line(w: &parvis_core::db::WriterUse, period: Duration) -> String {
    let share = |d: Duration| 100.0 * d.as_secs_f64() / period.as_secs_f64().max(1e-9);
    let mean = |d: Duration, n: u64| ms(d) / n.max(1) as f64;
    format!(
        "SQLite's writer meanwhile: held {:.0} % of the time, {} turns (mean {:.2} ms, commits included); {} statements in them, {:.0} % (mean {:.1} µs); {} commits, {:.0} % (mean {:.2} ms); handed over {} times, {:.0} % (mean {:.2} ms from one writer to the next)",
        share(w.held),
        w.turns,
        mean(w.held, w.turns),
        w.statements,
        share(w.running),
        1000.0 * mean(w.running, w.statements),
        w.commits,
        share(w.committing),
        mean(w.committing, w.commits),
        w.handovers,
        share(w.handing_over),
        mean(w.handing_over, w.handovers),
    )
}

/// The scale.
#[derive(Clone, Copy)]
struct Scale {
    proposals: i64,
    ballots: i64,
    participants: i64,
    votes: usize,
    rate: usize,
    seconds: usize,
    /// Votes in flight for the peak.
    in_flight: usize,
}

/// Seeds consultation 1 of `slug` (already created, open) with `scale`'s proposals, all
/// published, and ballots: participant `u` (`banc<u>`, not a real account: they are only
/// counted and looked up) voted on proposals `u + r × stride` for rounds `r`, so no
/// participant judges a proposal twice.
async fn seed(app: &TestApp, backend: Backend, slug: &str, scale: Scale) -> Result<()> {
    let tenant = app.tenant_id(slug).await?.get();
    let pad = |x: &str| match backend {
        Backend::Sqlite => format!("printf('%08d', {x})"),
        Backend::Postgres => format!("lpad(CAST({x} AS TEXT), 8, '0')"),
    };
    let text = |x: &str| format!("CAST({x} AS TEXT)");
    let series = |first: i64, last: i64| {
        format!(
            "WITH RECURSIVE s(i) AS (SELECT CAST({first} AS BIGINT) UNION ALL SELECT i + 1 FROM s WHERE i < {last})"
        )
    };
    let docs = "INSERT INTO module_docs (tenant_id, module_id, collection, key, value, version, created_at, updated_at)";
    let index = "INSERT INTO module_index (tenant_id, module_id, collection, name, value, key)";
    let (p, b, part) = (scale.proposals, scale.ballots, scale.participants);
    let rounds = (b + part - 1) / part;
    if rounds > p {
        bail!("{b} ballots from {part} participants need more than {p} proposals");
    }
    let stride = p / rounds;

    // Proposals, the draw and the tallies.
    let mut tx = app.state.db.platform_tx().await?;
    let s = series(1, p);
    let key = format!("'00000001-' || {}", pad("i"));
    let value = format!(
        "'{{\"consultation\":1,\"number\":' || {} || ',\"text\":\"Proposition de mesure n° ' || {} || \
         '\",\"submitted_at\":0,\"moderation\":\"published\"}}'",
        text("i"),
        text("i")
    );
    let agree = "(20 + (i * 7919) % 60)";
    let tally = format!(
        "'{{\"agree\":' || {} || ',\"disagree\":' || {} || ',\"neutral\":' || {} || ',\"qualifications\":[0,0,0,0]}}'",
        text(agree),
        text(&format!("((100 - {agree}) * 2 / 3)")),
        text(&format!("(100 - {agree} - (100 - {agree}) * 2 / 3)"))
    );
    for (collection, key, value) in [
        ("propositions", key.clone(), value),
        ("publiees-00000001", pad("i"), text("i")),
        ("decomptes-00000001", pad("i"), tally),
    ] {
        sqlx::query(&format!(
            "{s} {docs} SELECT $1, 'consultations', '{collection}', {key}, {value}, 1, 0, 0 FROM s"
        ))
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .with_context(|| collection.to_string())?;
    }
    sqlx::query(&format!(
        "{s} {index} SELECT $1, 'consultations', 'propositions', 'etat', '00000001:publiee', {key} FROM s"
    ))
    .bind(tenant)
    .execute(&mut *tx)
    .await
    .context("proposals' index")?;
    tx.commit().await?;

    // Ballots, by batches.
    let mut done = 0;
    while done < b {
        let batch = (b - done).min(BATCH);
        let mut tx = app.state.db.platform_tx().await?;
        let s = format!(
            "{}, t(u, p, v) AS (SELECT (i - 1) % {part}, ((i - 1) % {part} + ((i - 1) / {part}) * {stride}) % {p} + 1, i % 3 FROM s)",
            series(done + 1, done + batch)
        );
        let key = format!("'00000001-' || {} || '-banc' || {}", pad("p"), text("u"));
        let value = format!(
            "'{{\"consultation\":1,\"proposal\":' || {} || ',\"vote\":\"' || \
             (CASE v WHEN 0 THEN 'agree' WHEN 1 THEN 'disagree' ELSE 'neutral' END) || '\",\"at\":0}}'",
            text("p")
        );
        sqlx::query(&format!(
            "{s} {docs} SELECT $1, 'consultations', 'bulletins', {key}, {value}, 1, 0, 0 FROM t"
        ))
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .context("ballots")?;
        let voter = format!("'00000001:banc' || {}", text("u"));
        sqlx::query(&format!(
            "{s} {index} SELECT $1, 'consultations', 'bulletins', 'votant', {voter}, {key} FROM t"
        ))
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .context("ballots' index")?;
        tx.commit().await?;
        done += batch;
    }

    // Participants, counters, and the consultation's count of published proposals.
    let mut tx = app.state.db.platform_tx().await?;
    sqlx::query(&format!(
        "{} {docs} SELECT $1, 'consultations', 'participants', '00000001-banc' || {}, 'null', 1, 0, 0 FROM s",
        series(0, part - 1),
        text("i")
    ))
    .bind(tenant)
    .execute(&mut *tx)
    .await
    .context("participants")?;
    for (name, value) in [("c00000001-participants", part), ("c00000001-numero", p)] {
        sqlx::query(
            "INSERT INTO module_counters (tenant_id, module_id, name, value) VALUES ($1, 'consultations', $2, $3)",
        )
        .bind(tenant)
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await
        .with_context(|| name.to_string())?;
    }
    let done = sqlx::query(
        "UPDATE module_docs SET value = REPLACE(value, '\"published\":0', $2) \
         WHERE tenant_id = $1 AND module_id = 'consultations' AND collection = 'consultations' AND key = '00000001'",
    )
    .bind(tenant)
    .bind(format!("\"published\":{p}"))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        bail!("consultation 1 not found");
    }
    tx.commit().await?;
    if backend == Backend::Postgres {
        // As autovacuum would within a minute of such a load.
        for table in ["module_docs", "module_index", "module_counters"] {
            sqlx::query(&format!("ANALYZE {table}"))
                .execute(app.state.db.platform())
                .await?;
        }
    }
    Ok(())
}

/// Lets the seed's writes reach the disk before anything is timed: the seed writes some 700 MB
/// in a minute, which the kernel would otherwise write back (and SQLite's log watcher copy
/// back into the database) in the middle of the timed votes, as no server's crowd meets. On
/// SQLite, waits for the watcher to empty the write-ahead log (`db/wal.rs`), then has the
/// kernel write every dirty page (`sync`).
async fn settle(app: &TestApp, backend: Backend) -> Result<()> {
    let started = Instant::now();
    if backend == Backend::Sqlite {
        let file = app.db.url.trim_start_matches("sqlite://");
        let wal = format!("{}-wal", file.split('?').next().unwrap_or(file));
        while std::fs::metadata(&wal).map_or(0, |m| m.len()) > 0 {
            if started.elapsed() > Duration::from_secs(120) {
                bail!("the seed's write-ahead log was not emptied in 120 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let synced = tokio::process::Command::new("sync").status().await?;
    if !synced.success() {
        bail!("sync failed: {synced}");
    }
    eprintln!(
        "{backend:?}: the seed's writes on disk in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Times GETs of `url` with `cookie` until `stop`, checking each answer with `ok`.
async fn read_while(
    client: reqwest::Client,
    url: String,
    cookie: Option<String>,
    stop: Arc<AtomicBool>,
    ok: fn(&str) -> bool,
) -> Result<Vec<Duration>> {
    let mut times = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let mut request = client.get(&url);
        if let Some(cookie) = &cookie {
            request = request.header("cookie", cookie);
        }
        let r = request.send().await?;
        let status = r.status();
        let body = r.text().await?;
        times.push(started.elapsed());
        if status != 200 || !ok(&body) {
            bail!("{url} answered {status}: {}", &body[..body.len().min(2000)]);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    times.sort();
    Ok(times)
}

fn line(what: &str, sorted: &[Duration], ping99: Duration, target_ms: u64) {
    let p99 = percentile(sorted, 0.99);
    println!(
        "  {what:<58} n {:>6}  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms ({:.1}× /healthz's p99){}",
        sorted.len(),
        ms(percentile(sorted, 0.5)),
        ms(p99),
        ms(sorted.last().copied().unwrap_or_default()),
        p99.as_secs_f64() / ping99.as_secs_f64().max(1e-6),
        if p99 <= Duration::from_millis(target_ms) {
            format!("  (target {target_ms} ms: met)")
        } else {
            format!("  ABOVE {target_ms} ms")
        }
    );
}

async fn run(backend: Backend, scale: Scale) -> Result<()> {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    app.install_module("parvis-module-consultations").await?;
    app.enable_module(&paris, "consultations").await?;
    let maire = app.account("maire@paris.fr", "mot-de-passe-solide").await?;
    app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
    let admin = app
        .signed_in(Some(&paris), "maire@paris.fr", "mot-de-passe-solide")
        .await?;
    let form = app.url(Some(&paris), "/admin/m/consultations/nouvelle");
    let token = form_token(&admin, &form).await?;
    let r = admin
        .post(&form)
        .form(&[
            ("csrf_token", token.as_str()),
            ("question", "Comment agir ensemble pour le climat ?"),
            ("contexte", ""),
            ("ouverture", "2026-01-01T00:00"),
            ("cloture", "2099-12-31T23:59"),
        ])
        .send()
        .await?;
    if r.status() != 303 {
        bail!("consultation answered {}: {}", r.status(), r.text().await?);
    }
    let started = Instant::now();
    seed(&app, backend, &paris, scale).await?;
    eprintln!(
        "{backend:?}: {} proposals, {} votes by {} participants seeded in {:.1} s",
        scale.proposals,
        scale.ballots,
        scale.participants,
        started.elapsed().as_secs_f64()
    );
    settle(&app, backend).await?;
    let peak_voters = scale.votes.div_ceil(PER_VOTER);
    let paced_votes = scale.rate * scale.seconds;
    let voters = peak_voters + paced_votes.div_ceil(PER_VOTER);
    let started = Instant::now();
    let cookies =
        Arc::new(parvis_tests::bench::signed_in_accounts(&app, "participant", voters + 1).await?);
    eprintln!(
        "{backend:?}: {voters} new participants signed in in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let client = app.bare_client()?;
    let base = app.url(Some(&paris), "/m/consultations/1");
    let health = app.url(Some(&paris), "/healthz");
    // The lines answer as they should before they are timed.
    let (walker_cookie, _) = cookies[voters].clone();
    let step = client
        .get(format!("{base}/voter"))
        .header("cookie", &walker_cookie)
        .send()
        .await?
        .text()
        .await?;
    if !step.contains("name=\"proposition\"") {
        bail!("the sequence shows no proposal: {step}");
    }
    let results = client
        .get(format!("{base}/resultats"))
        .send()
        .await?
        .text()
        .await?;
    if !results.contains("Les plus consensuelles") {
        bail!("no results: {results}");
    }
    let mut pings = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        client.get(&health).send().await?.error_for_status()?;
        pings.push(t.elapsed());
    }
    pings.sort();
    let ping99 = percentile(&pings, 0.99);
    let before = votes_counted(&app, backend, &paris).await?;
    let voting = Voting {
        client: client.clone(),
        url: format!("{base}/voter"),
        cookies,
        proposals: scale.proposals as usize,
    };

    // The peak: as many votes as the server takes, 64 in flight.
    let next = Arc::new(AtomicUsize::new(0));
    // Before the peak, as the server is idle anyway (between the peak and the steady votes,
    // its half second let the log's watcher empty a long log just as they began).
    let reference = tokio::task::spawn_blocking(reference_work).await?;
    let peak_writer = app.state.db.writer_use();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..scale.in_flight {
        let (voting, next) = (voting.clone(), next.clone());
        let total = scale.votes;
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return anyhow::Ok(times);
                }
                let t = Instant::now();
                voting.cast(i).await?;
                times.push(t.elapsed());
            }
        }));
    }
    let mut peak = Vec::new();
    for w in workers {
        peak.extend(w.await??);
    }
    let peak_elapsed = started.elapsed();
    let peak_writer = app.state.db.writer_use().since(&peak_writer);
    peak.sort();

    // The target: votes sent at a steady rate, with the sequence and the results read meanwhile.
    let stop = Arc::new(AtomicBool::new(false));
    let walker = tokio::spawn(read_while(
        client.clone(),
        format!("{base}/voter"),
        Some(walker_cookie),
        stop.clone(),
        |b| b.contains("name=\"proposition\""),
    ));
    let reader = tokio::spawn(read_while(
        client.clone(),
        format!("{base}/resultats"),
        None,
        stop.clone(),
        |b| b.contains("Les plus consensuelles"),
    ));
    let first = peak_voters * PER_VOTER;
    let cpu_before = CpuShares::read();
    let writer_before = app.state.db.writer_use();
    let due = Instant::now() + Duration::from_millis(10);
    if std::env::var_os("TIMELINE").is_some() {
        // To match the timeline with the server's log (`RUST_LOG=parvis_core::db::wal=debug`).
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        eprintln!(
            "the steady votes are due from {:.3} s (Unix time)",
            at.as_secs_f64()
        );
    }
    // `TIMELINE=1`: the writer's use and the CPU's, tenth by tenth, to set beside the slow
    // tenths (whether the writer was slower per turn, or waited for the CPU).
    let sampler = std::env::var_os("TIMELINE").is_some().then(|| {
        let (db, stop) = (app.state.db.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until(due.into()).await;
            let mut samples = vec![(db.writer_use(), CpuShares::read())];
            let mut tick = tokio::time::interval_at(
                (due + Duration::from_millis(100)).into(),
                Duration::from_millis(100),
            );
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                samples.push((db.writer_use(), CpuShares::read()));
            }
            samples
        })
    });
    let mut sent = tokio::task::JoinSet::new();
    // At most this many in flight (a server falling far behind would otherwise take every file
    // descriptor): past it a vote waits to be sent, and that wait counts in its time.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    for j in 0..paced_votes {
        let at = due + Duration::from_secs_f64(j as f64 / scale.rate as f64);
        tokio::time::sleep_until(at.into()).await;
        if j == paced_votes / 2 {
            // Halfway, the results are worked out again while votes flow, as every 30 s of a
            // consultation that stays open for weeks (the run is shorter than 30 s).
            app.forget_module_cache(&paris, "consultations", "resultats:1")
                .await?;
        }
        let permit = in_flight.clone().acquire_owned().await?;
        let voting = voting.clone();
        sent.spawn(async move {
            voting.cast(first + j).await?;
            drop(permit);
            anyhow::Ok((j, at.elapsed()))
        });
    }
    let mut when = Vec::with_capacity(paced_votes);
    while let Some(done) = sent.join_next().await {
        when.push(done??);
    }
    let mut paced: Vec<Duration> = when.iter().map(|(_, took)| *took).collect();
    let paced_elapsed = due.elapsed();
    let cpu = cpu_before.zip(CpuShares::read()).map(|(a, b)| b.since(&a));
    let writer = app.state.db.writer_use().since(&writer_before);
    stop.store(true, Ordering::Relaxed);
    let walked = walker.await??;
    let read = reader.await??;
    paced.sort();
    if let Some(sampler) = sampler {
        timeline(&mut when, scale.rate, &sampler.await?);
    }

    let counted = votes_counted(&app, backend, &paris).await? - before;
    let peak_rate = peak.len() as f64 / peak_elapsed.as_secs_f64();
    let paced_rate = paced.len() as f64 / paced_elapsed.as_secs_f64();
    println!(
        "{backend:?}: {} proposals, {} votes by {} participants already; votes counted in the tallies: {counted} new",
        scale.proposals, scale.ballots, scale.participants,
    );
    println!(
        "  the peak: {} votes in {:.2} s = {peak_rate:.0} votes/s with {} in flight (queue time, not judged: p50 {:.1} ms, p99 {:.1} ms)",
        peak.len(),
        peak_elapsed.as_secs_f64(),
        scale.in_flight,
        ms(percentile(&peak, 0.5)),
        ms(percentile(&peak, 0.99)),
    );
    if peak_writer.turns > 0 {
        println!("    {}", writer_line(&peak_writer, peak_elapsed));
    }
    println!(
        "  the target: {} votes sent at {}/s for {} s, all answered in {:.2} s = {paced_rate:.0} votes/s (target ≥ 2,000/s: {})",
        paced.len(),
        scale.rate,
        scale.seconds,
        paced_elapsed.as_secs_f64(),
        if scale.rate >= 2000 && paced_rate >= 0.98 * scale.rate as f64 {
            "met"
        } else {
            "NOT met"
        }
    );
    if let Some(cpu) = cpu {
        println!("  {cpu}");
    }
    println!(
        "  the machine's speed before the peak: the same sort of 4 Mi numbers took {:.0} ms (median of 3; runs compare by it)",
        ms(reference)
    );
    if writer.turns > 0 {
        println!("  {}", writer_line(&writer, paced_elapsed));
    }
    line(
        "a vote (POST /1/voter), timed from when it was due",
        &paced,
        ping99,
        50,
    );
    line(
        "the next proposal (GET /1/voter), while votes flow",
        &walked,
        ping99,
        100,
    );
    line(
        "the results (GET /1/resultats), while votes flow",
        &read,
        ping99,
        100,
    );
    if counted != (peak.len() + paced.len()) as i64 {
        bail!(
            "the tallies count {counted} new votes, expected {} + {}",
            peak.len(),
            paced.len()
        );
    }
    app.stop().await;
    Ok(())
}

/// Where the slow votes were: for each tenth of a second of the paced run whose slowest vote
/// took over 50 ms, that vote's time and how many of its tenth took over 50 ms (`TIMELINE=1`):
/// a pause shows as a run of tenths, a server at its limit as slow tenths everywhere. Beside
/// each, and the tenth before it, what the writer did in that tenth (`samples`, one per tenth
/// from the first vote due): held, turns and their mean, statements' mean, commits and their
/// mean, hand-overs' mean; and the CPU this process and the others had.
fn timeline(
    when: &mut [(usize, Duration)],
    rate: usize,
    samples: &[(parvis_core::db::WriterUse, Option<CpuShares>)],
) {
    when.sort_by_key(|(j, _)| *j);
    let per_tenth = (rate / 10).max(1);
    let tenths: Vec<(Duration, usize)> = when
        .chunks(per_tenth)
        .map(|votes| {
            let slowest = votes.iter().map(|(_, t)| *t).max().unwrap_or_default();
            let slow = votes
                .iter()
                .filter(|(_, t)| *t > Duration::from_millis(50))
                .count();
            (slowest, slow)
        })
        .collect();
    let writer = |tenth: usize| -> String {
        let (Some((a, ca)), Some((b, cb))) = (samples.get(tenth), samples.get(tenth + 1)) else {
            return String::new();
        };
        let w = b.since(a);
        let mean = |d: Duration, n: u64| 1000.0 * ms(d) / n.max(1) as f64;
        let cpu = ca.zip(*cb).map_or(String::new(), |(ca, cb)| {
            let (own, others) = cb.since(&ca).used();
            format!("  cpu {own:.1}/{others:.1}")
        });
        format!(
            "  held {:>3.0} %, {:>4} turns of {:>3.0} µs, statements {:>4.1} µs, {:>3} commits of {:>3.0} µs, hand-overs {:>3.0} µs{cpu}",
            ms(w.held),
            w.turns,
            mean(w.held, w.turns),
            mean(w.running, w.statements),
            w.commits,
            mean(w.committing, w.commits),
            mean(w.handing_over, w.handovers),
        )
    };
    println!(
        "  slow tenths of a second (from the first vote due; slowest, votes over 50 ms; the writer in that tenth):"
    );
    for (tenth, (slowest, slow)) in tenths.iter().enumerate() {
        let next_slow = tenths.get(tenth + 1).is_some_and(|(_, n)| *n > 0);
        if *slow > 0 || next_slow {
            println!(
                "    {:>5.1} s  {:>7.1} ms  {slow:>4}{}",
                tenth as f64 / 10.0,
                ms(*slowest),
                writer(tenth)
            );
        }
    }
}

/// Where the machine's CPU time went (Linux's `/proc/stat` and `/proc/self/stat`, in clock
/// ticks): a run that misses because the machine gave the process less shows it here, beside
/// its figures, instead of in a guess afterwards.
#[derive(Debug, Clone, Copy)]
struct CpuShares {
    /// Every CPU's ticks, by kind.
    busy: u64,
    idle: u64,
    /// Idle while a process waited on the disk (inside `idle` too).
    iowait: u64,
    steal: u64,
    /// This process's ticks (user and system).
    own: u64,
}

impl CpuShares {
    fn read() -> Option<CpuShares> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let [user, nice, system, idle, iowait, irq, softirq, steal, ..] = ticks[..] else {
            return None;
        };
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The fields after the command's name (which may hold spaces) in parentheses.
        let after = own.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let own = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(CpuShares {
            busy: user + nice + system + irq + softirq,
            idle: idle + iowait,
            iowait,
            steal,
            own,
        })
    }

    fn since(&self, earlier: &CpuShares) -> CpuShares {
        CpuShares {
            busy: self.busy.saturating_sub(earlier.busy),
            idle: self.idle.saturating_sub(earlier.idle),
            iowait: self.iowait.saturating_sub(earlier.iowait),
            steal: self.steal.saturating_sub(earlier.steal),
            own: self.own.saturating_sub(earlier.own),
        }
    }
}

impl CpuShares {
    /// The machine's cores.
    fn cores() -> f64 {
        std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
    }

    /// `ticks` as cores used over the period.
    fn share(&self, ticks: u64) -> f64 {
        ticks as f64 / (self.busy + self.idle + self.steal).max(1) as f64 * Self::cores()
    }

    /// The cores this process used, and the other processes.
    fn used(&self) -> (f64, f64) {
        (
            self.share(self.own.min(self.busy)),
            self.share(self.busy.saturating_sub(self.own)),
        )
    }
}

impl std::fmt::Display for CpuShares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = |ticks: u64| self.share(ticks);
        let (own, others) = self.used();
        write!(
            f,
            "the machine's {:.0} cores meanwhile: this process {own:.2}, other processes {others:.2}, \
             taken by the hypervisor (steal) {:.2}, idle {:.2} (waiting on the disk {:.2})",
            Self::cores(),
            share(self.steal),
            share(self.idle),
            share(self.iowait),
        )
    }
}

/// Casts votes as participants: vote `i` is participant `i / PER_VOTER`'s
/// `i % PER_VOTER`-th, on a proposal of their own.
#[derive(Clone)]
struct Voting {
    client: reqwest::Client,
    url: String,
    cookies: Arc<Vec<(String, String)>>,
    proposals: usize,
}

impl Voting {
    async fn cast(&self, i: usize) -> Result<()> {
        let (voter, k) = (i / PER_VOTER, i % PER_VOTER);
        let (cookie, csrf) = &self.cookies[voter];
        let proposal = ((voter * 7919 + k * 2003) % self.proposals + 1).to_string();
        let vote = ["d-accord", "pas-d-accord", "neutre"][i % 3];
        let r = self
            .client
            .post(&self.url)
            .header("cookie", cookie)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("proposition", proposal.as_str()),
                ("vote", vote),
            ])
            .send()
            .await?;
        if r.status() != 303 {
            bail!("vote {i} answered {}: {}", r.status(), r.text().await?);
        }
        Ok(())
    }
}

/// Every vote the consultation's tallies count, read through the commune's transaction (on
/// PostgreSQL, row-level security shows a commune's rows to its own transactions only).
async fn votes_counted(app: &TestApp, backend: Backend, slug: &str) -> Result<i64> {
    use parvis_core::db::TenantSql as _;
    let field = |f: &str| match backend {
        Backend::Sqlite => format!("json_extract(value, '$.{f}')"),
        Backend::Postgres => format!("CAST(CAST(value AS jsonb) ->> '{f}' AS BIGINT)"),
    };
    let mut tx = app
        .state
        .db
        .tenant(app.tenant_id(slug).await?)
        .begin()
        .await?;
    let n = tx
        .scoped_scalar(&format!(
            "SELECT CAST(COALESCE(SUM({} + {} + {}), 0) AS BIGINT) FROM module_docs \
             WHERE tenant_id = $1 AND module_id = 'consultations' \
             AND collection = 'decomptes-00000001'",
            field("agree"),
            field("disagree"),
            field("neutral")
        ))
        .fetch_one(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

fn main() -> Result<()> {
    Neighbour::be_one_if_asked();
    let env = |name: &str, default: i64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let scale = Scale {
        proposals: env("PROPOSALS", 20_000),
        ballots: env("BALLOTS", 2_000_000),
        participants: env("PARTICIPANTS", 165_000),
        votes: usize::try_from(env("VOTES", 20_000)).unwrap_or(20_000),
        rate: usize::try_from(env("RATE", 2_000)).unwrap_or(2_000),
        seconds: usize::try_from(env("SECONDS", 10)).unwrap_or(10),
        in_flight: usize::try_from(env("IN_FLIGHT", CONCURRENCY as i64))
            .unwrap_or(CONCURRENCY)
            .max(1),
    };
    let _neighbour = Neighbour::asked()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // `BACKENDS=postgres` runs PostgreSQL alone (when re-measuring it).
    if std::env::var("BACKENDS").as_deref() != Ok("postgres") {
        runtime.block_on(run(Backend::Sqlite, scale))?;
    }
    if std::env::var_os("PARVIS_TEST_PG_URL").is_some() {
        runtime.block_on(run(Backend::Postgres, scale))?;
    }
    Ok(())
}
