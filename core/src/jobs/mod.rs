//! A durable job queue in the database (mail and other slow work). Jobs survive restarts; a
//! failed job is retried with exponential backoff, then kept as failed with its last error.
//! Claiming is one atomic UPDATE, with `FOR UPDATE SKIP LOCKED` on PostgreSQL so several
//! workers never take the same job.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use sqlx::Row as _;
use tokio::sync::Notify;

use crate::db::{Backend, Db};
use crate::util::now;

/// Does one kind of job.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Runs the job; an error schedules a retry.
    async fn run(&self, payload: serde_json::Value) -> anyhow::Result<()>;

    /// Called once when the job failed for good (after its last attempt).
    async fn gave_up(&self, payload: serde_json::Value) {
        let _ = payload;
    }
}

/// Adds a job without waking the worker: for job handlers, whose worker looks for the next
/// job as soon as they return.
pub async fn insert<'c, E>(conn: E, kind: &str, payload: &impl Serialize) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    insert_with_attempts(conn, kind, payload, 8).await
}

/// Like [`insert`], with its own number of attempts (a text message is not worth retrying
/// for hours).
pub async fn insert_with_attempts<'c, E>(
    conn: E,
    kind: &str,
    payload: &impl Serialize,
    max_attempts: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let payload = serde_json::to_string(payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let at = now();
    sqlx::query(
        "INSERT INTO jobs (kind, payload, run_at, created_at, max_attempts) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(kind)
    .bind(payload)
    .bind(at)
    .bind(at)
    .bind(max_attempts)
    .execute(conn)
    .await?;
    Ok(())
}

/// A job that failed for good (after its last attempt), as `parvis jobs failed` lists it.
#[derive(Debug, Clone)]
pub struct FailedJob {
    /// Its number.
    pub id: i64,
    /// Its kind (`mail.send`, `module.account_deleted`…).
    pub kind: String,
    /// Attempts made.
    pub attempts: i64,
    /// When it was given up (Unix seconds).
    pub failed_at: i64,
    /// The error of its last attempt.
    pub last_error: Option<String>,
}

/// Jobs that failed for good, the latest first; of one kind when `kind` is given.
pub async fn failed(
    db: &Db,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<FailedJob>, sqlx::Error> {
    let of_kind = if kind.is_some() { "AND kind = $2" } else { "" };
    let sql = format!(
        "SELECT id, kind, attempts, failed_at, last_error FROM jobs \
         WHERE failed_at IS NOT NULL {of_kind} ORDER BY failed_at DESC, id DESC LIMIT $1"
    );
    let mut query = sqlx::query(&sql).bind(limit);
    if let Some(kind) = kind {
        query = query.bind(kind);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| {
            Ok(FailedJob {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                attempts: row.try_get("attempts")?,
                failed_at: row.try_get("failed_at")?,
                last_error: row.try_get("last_error")?,
            })
        })
        .collect()
}

/// Which failed jobs to put back in the queue.
#[derive(Debug, Clone, Copy)]
pub enum Retry<'a> {
    /// These, each of which must have failed (else nothing is retried).
    Ids(&'a [i64]),
    /// Every failed job of this kind.
    Kind(&'a str),
}

/// Why failed jobs were not put back.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// A job named is unknown, pending or done.
    #[error("la tâche n° {0} n'existe pas ou n'a pas échoué : rien n'a été relancé")]
    NotFailed(i64),
    /// The database.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Puts failed jobs back in the queue with a fresh set of attempts, due now (once what made
/// them fail is fixed: a module repaired, a mail server back). All or none of the ones named.
/// A running server's worker takes them within a second. Returns how many were put back.
pub async fn retry_failed(db: &Db, which: Retry<'_>) -> Result<u64, RetryError> {
    const PUT_BACK: &str = "UPDATE jobs SET failed_at = NULL, attempts = 0, run_at = $1, locked_until = NULL \
                            WHERE failed_at IS NOT NULL";
    let at = now();
    let mut tx = db.begin_immediate().await?;
    let count = match which {
        Retry::Ids(named) => {
            // A number named twice is one job.
            let mut ids = named.to_vec();
            ids.sort_unstable();
            ids.dedup();
            for &id in &ids {
                let done = sqlx::query(&format!("{PUT_BACK} AND id = $2"))
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(RetryError::NotFailed(id));
                }
            }
            ids.len() as u64
        }
        Retry::Kind(kind) => sqlx::query(&format!("{PUT_BACK} AND kind = $2"))
            .bind(at)
            .bind(kind)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
    };
    tx.commit().await?;
    Ok(count)
}

/// The queue: enqueue from anywhere, run by [`Jobs::spawn_worker`].
#[derive(Clone)]
pub struct Jobs {
    db: Db,
    wake: Arc<Notify>,
    handlers: Arc<HashMap<&'static str, Arc<dyn JobHandler>>>,
}

/// A claimed job.
struct Claimed {
    id: i64,
    kind: String,
    payload: String,
    attempts: i64,
    max_attempts: i64,
}

/// Seconds to wait before retry number `attempts` (1 s, 2 s, 4 s… capped at 2,048 s, 34 min).
pub fn backoff_secs(attempts: i64) -> i64 {
    1i64 << attempts.clamp(1, 12).saturating_sub(1)
}

impl Jobs {
    /// A queue with the given handlers by kind.
    pub fn new(db: Db, handlers: HashMap<&'static str, Arc<dyn JobHandler>>) -> Jobs {
        Jobs {
            db,
            wake: Arc::new(Notify::new()),
            handlers: Arc::new(handlers),
        }
    }

    /// Adds a job, to run as soon as a worker is free.
    pub async fn enqueue<'c, E>(
        &self,
        conn: E,
        kind: &str,
        payload: &impl Serialize,
    ) -> Result<(), sqlx::Error>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        insert(conn, kind, payload).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Wakes the worker (after a transaction that enqueued jobs committed).
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    async fn claim(&self) -> Result<Option<Claimed>, sqlx::Error> {
        let at = now();
        let pick = match self.db.backend() {
            Backend::Sqlite => {
                "SELECT id FROM jobs WHERE done_at IS NULL AND failed_at IS NULL \
                 AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) ORDER BY run_at, id LIMIT 1"
            }
            Backend::Postgres => {
                "SELECT id FROM jobs WHERE done_at IS NULL AND failed_at IS NULL \
                 AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) ORDER BY run_at, id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED"
            }
        };
        let sql = format!(
            "UPDATE jobs SET locked_until = $2, attempts = attempts + 1 WHERE id = ({pick}) \
             RETURNING id, kind, payload, attempts, max_attempts"
        );
        let row = sqlx::query(&sql)
            .bind(at)
            .bind(at + 300)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|row| {
            Ok(Claimed {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                payload: row.try_get("payload")?,
                attempts: row.try_get("attempts")?,
                max_attempts: row.try_get("max_attempts")?,
            })
        })
        .transpose()
    }

    async fn finish(&self, job: &Claimed, outcome: anyhow::Result<()>) -> Result<(), sqlx::Error> {
        let at = now();
        match outcome {
            Ok(()) => {
                sqlx::query("UPDATE jobs SET done_at = $1, locked_until = NULL, last_error = NULL WHERE id = $2")
                    .bind(at)
                    .bind(job.id)
                    .execute(self.db.pool())
                    .await?;
                metrics::counter!("parvis_jobs_done_total", "kind" => job.kind.clone())
                    .increment(1);
            }
            Err(e) => {
                let error = format!("{e:#}");
                if job.attempts >= job.max_attempts {
                    tracing::error!(job = job.id, kind = %job.kind, %error, "job failed for good");
                    sqlx::query("UPDATE jobs SET failed_at = $1, locked_until = NULL, last_error = $2 WHERE id = $3")
                        .bind(at)
                        .bind(error)
                        .bind(job.id)
                        .execute(self.db.pool())
                        .await?;
                    metrics::counter!("parvis_jobs_failed_total", "kind" => job.kind.clone())
                        .increment(1);
                    if let (Some(handler), Ok(payload)) = (
                        self.handlers.get(job.kind.as_str()),
                        serde_json::from_str(&job.payload),
                    ) {
                        handler.gave_up(payload).await;
                    }
                } else {
                    let delay = backoff_secs(job.attempts);
                    tracing::warn!(job = job.id, kind = %job.kind, %error, retry_in = delay, "job failed, will retry");
                    sqlx::query("UPDATE jobs SET run_at = $1, locked_until = NULL, last_error = $2 WHERE id = $3")
                        .bind(at + delay)
                        .bind(error)
                        .bind(job.id)
                        .execute(self.db.pool())
                        .await?;
                    metrics::counter!("parvis_jobs_retried_total", "kind" => job.kind.clone())
                        .increment(1);
                }
            }
        }
        Ok(())
    }

    /// Runs one pending job, if any is due. Returns whether one ran.
    pub async fn run_one(&self) -> Result<bool, sqlx::Error> {
        let Some(job) = self.claim().await? else {
            return Ok(false);
        };
        let outcome = match (
            self.handlers.get(job.kind.as_str()),
            serde_json::from_str(&job.payload),
        ) {
            (Some(handler), Ok(payload)) => handler.run(payload).await,
            (None, _) => Err(anyhow::anyhow!("no handler for job kind {}", job.kind)),
            (_, Err(e)) => Err(anyhow::anyhow!("bad payload: {e}")),
        };
        self.finish(&job, outcome).await?;
        Ok(true)
    }

    /// Starts the worker loop on the runtime; it polls every second and wakes on enqueue.
    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let jobs = self.clone();
        tokio::spawn(async move {
            while !jobs.db.is_closed() {
                match jobs.run_one().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "job queue unavailable"),
                }
                let _ = tokio::time::timeout(Duration::from_secs(1), jobs.wake.notified()).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles() {
        assert_eq!(super::backoff_secs(1), 1);
        assert_eq!(super::backoff_secs(2), 2);
        assert_eq!(super::backoff_secs(5), 16);
        assert_eq!(super::backoff_secs(40), 2048);
    }
}
