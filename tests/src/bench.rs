//! What the in-process benchmarks share (`tests/benches/`): timing many GETs of one URL from
//! concurrent clients, and the quantiles of the times.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

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
