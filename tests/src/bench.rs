//! What the in-process benchmarks share (`tests/benches/`): timing many GETs of one URL from
//! concurrent clients, and the quantiles of the times.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::TestApp;

/// p50, p99 and the rate of `requests` GETs of `url` from `clients` concurrent clients (each
/// answer read whole; a status other than 2xx fails the run).
pub async fn time_gets(
    app: &TestApp,
    url: &str,
    requests: usize,
    clients: usize,
) -> Result<(Duration, Duration, f64)> {
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..clients {
        let client = app.client()?;
        let url = url.to_string();
        let share = requests / clients + usize::from(w < requests % clients);
        workers.push(tokio::spawn(async move {
            let mut took = Vec::with_capacity(share);
            for _ in 0..share {
                let t = Instant::now();
                let r = client.get(&url).send().await?;
                let status = r.status();
                r.bytes().await?;
                if !status.is_success() {
                    bail!("{url}: {status}");
                }
                took.push(t.elapsed());
            }
            anyhow::Ok(took)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for w in workers {
        all.extend(w.await??);
    }
    Ok(quantiles(all, started.elapsed()))
}

/// p50, p99 and the rate of the times `all`, taken in `elapsed`.
pub fn quantiles(mut all: Vec<Duration>, elapsed: Duration) -> (Duration, Duration, f64) {
    all.sort_unstable();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    (at(0.5), at(0.99), all.len() as f64 / elapsed.as_secs_f64())
}

/// The session cookie's scope in a load: every host of the test platform, as a sign-in sets.
pub fn cookie_scope() -> parvis_core::web::session::CookieScope {
    parvis_core::web::session::CookieScope {
        secure: false,
        domain: Some(crate::app::BASE.to_string()),
    }
}

/// `n` signed-in accounts for a load (`participant<i>@example.org`): accounts and sessions
/// written directly, since hashing thousands of passwords is not what is measured. Each is the
/// `cookie` header to send (session and CSRF cookies) and the CSRF token its forms carry.
pub async fn signed_in_accounts(
    app: &TestApp,
    prefix: &str,
    n: usize,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let id = parvis_core::types::AccountId::generate();
        sqlx::query(
            "INSERT INTO accounts (id, email, display_name, password_hash, email_verified_at, created_at) \
             VALUES ($1, $2, $3, '!', 0, 0)",
        )
        .bind(&id.0)
        .bind(format!("{prefix}{i}@example.org"))
        .bind(format!("{prefix} {i}"))
        .execute(app.state.db.platform())
        .await?;
        let session = parvis_core::web::session::open(&app.state.db, &id, &cookie_scope()).await?;
        let session = session
            .to_str()?
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        let csrf = format!("{:032x}{i:08}", i as u128 * 7919 + 1);
        out.push((format!("{session}; parvis_csrf={csrf}"), csrf));
    }
    Ok(out)
}

/// The `p` quantile (0 to 1) of `sorted` times, the nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// The environment variable that makes a benchmark's process the busy neighbour itself.
const NEIGHBOUR_CHILD: &str = "PARVIS_BENCH_NEIGHBOUR_CHILD";

/// A busy neighbour on the machine, for as long as it is kept: this benchmark's own
/// executable run again at the lowest priority (`nice -n 19`), streaming through 1 GiB of
/// memory. It takes only the CPU the benchmark leaves idle, yet slows the benchmark down the
/// way a shared machine's neighbours do (caches, memory bandwidth): on the reference machine
/// SQLite's writer's mean turn at 2,000 votes a second was 0.25 – 0.30 ms beside it against
/// 0.21 – 0.26 alone, as in the runs that missed issue 19's figure on a slow morning.
/// Started by [`Neighbour::asked`] when `NEIGHBOUR=1`; a benchmark's `main` calls
/// [`Neighbour::be_one_if_asked`] first.
pub struct Neighbour(std::process::Child);

impl Neighbour {
    /// The neighbour, if `NEIGHBOUR=1` asks for one.
    pub fn asked() -> Result<Option<Neighbour>> {
        if std::env::var("NEIGHBOUR").as_deref() != Ok("1") {
            return Ok(None);
        }
        let exe = std::env::current_exe()?;
        let child = std::process::Command::new("nice")
            .args(["-n", "19"])
            .arg(exe)
            .env(NEIGHBOUR_CHILD, "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("starting the busy neighbour with `nice`")?;
        eprintln!(
            "a busy neighbour runs beside the benchmark (process {}, nice 19, 1 GiB streamed)",
            child.id()
        );
        Ok(Some(Neighbour(child)))
    }

    /// In the neighbour's process, streams through memory until killed or orphaned (a
    /// benchmark killed with `kill -9` leaves no neighbour behind), then exits; elsewhere
    /// returns at once.
    pub fn be_one_if_asked() {
        if std::env::var_os(NEIGHBOUR_CHILD).is_none() {
            return;
        }
        const WORDS: usize = 64 << 20; // 512 MiB each
        let parent = std::os::unix::process::parent_id();
        let (a, mut b) = (vec![1_u64; WORDS], vec![2_u64; WORDS]);
        let mut sum = 0_u64;
        while std::os::unix::process::parent_id() == parent {
            for i in (0..WORDS).step_by(8) {
                sum = sum.wrapping_add(a[i]);
                b[i.wrapping_mul(7919) % WORDS] = sum;
            }
            std::hint::black_box(&mut b);
        }
        std::process::exit(0);
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
