//! A durable job queue in the database (mail and other slow work). Jobs survive restarts; a
//! failed job is retried with exponential backoff, then kept as failed with its last error.
//!
//! The queue is fair between communes (issue 14): each job carries the commune it works for
//! (read from its payload when it is queued; none for platform work), [`WORKERS`] jobs run at
//! once, the workers serve the communes with due jobs in turn (platform work taking its turn as
//! one more), and no commune has more than [`TENANT_RUNNING_CAP`] of them running. A commune
//! that queued 50,000 e-mails is served as fast as before when alone, and another commune's
//! e-mail waits at most for one claim, not for the backlog. Claiming is one atomic UPDATE, with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL so several workers never take the same job.
//!
//! Finished jobs do not stay forever: a periodic sweep deletes done jobs after
//! [`DONE_RETENTION_SECS`] and failed ones after [`FAILED_RETENTION_SECS`], in short batches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::db::{Backend, Db, sql};
use crate::types::TenantId;
use crate::util::now;

/// Jobs that run at once in one process.
pub const WORKERS: usize = 4;
/// Jobs of one commune (or of the platform) that run at once in one process: a commune's slow
/// jobs (a notice fanned out to thousands, text messages sent one by one) leave the other
/// workers to the other communes.
pub const TENANT_RUNNING_CAP: usize = 2;
/// Done jobs are deleted this long after they ran (7 days).
pub const DONE_RETENTION_SECS: i64 = 7 * 24 * 3600;
/// Failed jobs are kept this long for `parvis jobs failed` and `parvis jobs retry` (30 days).
pub const FAILED_RETENTION_SECS: i64 = 30 * 24 * 3600;
/// How often the worker sweeps finished jobs (seconds).
pub const SWEEP_EVERY_SECS: u64 = 60;
/// Rows deleted per statement of a sweep: a short write, so the SQLite writer is never held long.
pub const SWEEP_BATCH: i64 = 1_000;
/// Statements per sweep at most (20,000 rows a minute); a larger backlog waits for the next.
pub const SWEEP_MAX_BATCHES: usize = 20;
/// Communes looked at per claim at most before the worker yields and comes back.
const CLAIM_PROBES: usize = 64;
/// How long a claimed job is reserved to its worker (a worker that died lets it go after that).
const LOCK_SECS: i64 = 300;

/// A kind of job: its payload type, with its kind as a constant. A job is queued as a value of
/// its type ([`push`], [`Jobs::enqueue`]) and reaches the handler registered for that type
/// ([`Handlers::add`]) as the same type: a kind and a payload cannot disagree.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind, as stored in `jobs.kind` (and named by `parvis jobs retry --kind`).
    const KIND: &'static str;
    /// Attempts before it is given up (the backoff doubles from one second).
    const ATTEMPTS: i64 = ATTEMPTS;

    /// The commune this job works for: it takes that commune's turn in the queue. `None`:
    /// platform work (account e-mails, digests), served in its own turn.
    fn tenant(&self) -> Option<TenantId>;
}

/// Does the jobs of one type.
#[async_trait]
pub trait Handler<J: Job>: Send + Sync + 'static {
    /// Runs the job; an error schedules a retry.
    async fn run(&self, job: J) -> anyhow::Result<()>;

    /// Called once when the job failed for good (after its last attempt).
    async fn gave_up(&self, job: J) {
        let _ = job;
    }
}

/// The handlers of a queue, one per job type.
#[derive(Default)]
pub struct Handlers(HashMap<&'static str, Arc<dyn Erased>>);

impl Handlers {
    /// Registers the handler of the jobs of type `J` (a second one for the same type
    /// replaces the first).
    pub fn add<J: Job>(&mut self, handler: Arc<dyn Handler<J>>) -> &mut Handlers {
        self.0.insert(
            J::KIND,
            Arc::new(Typed::<J> {
                handler,
                kind: std::marker::PhantomData,
            }),
        );
        self
    }
}

/// Why a job did not succeed.
enum Failure {
    /// The handler failed: retried until its last attempt.
    Failed(anyhow::Error),
    /// The job cannot run at all (no handler, a payload its type does not read): given up at
    /// once, kept for `parvis jobs failed` instead of being retried for an hour.
    Broken(anyhow::Error),
}

/// A handler behind the queue, which stores payloads as text.
#[async_trait]
trait Erased: Send + Sync {
    async fn run(&self, payload: &str) -> Result<(), Failure>;
    async fn gave_up(&self, payload: &str);
}

struct Typed<J: Job> {
    handler: Arc<dyn Handler<J>>,
    kind: std::marker::PhantomData<fn() -> J>,
}

#[async_trait]
impl<J: Job> Erased for Typed<J> {
    async fn run(&self, payload: &str) -> Result<(), Failure> {
        let job: J = serde_json::from_str(payload)
            .map_err(|e| Failure::Broken(anyhow::anyhow!("payload of {}: {e}", J::KIND)))?;
        self.handler.run(job).await.map_err(Failure::Failed)
    }

    async fn gave_up(&self, payload: &str) {
        if let Ok(job) = serde_json::from_str::<J>(payload) {
            self.handler.gave_up(job).await;
        }
    }
}

/// Attempts of a job unless its type says otherwise (the backoff doubles up to 34 minutes:
/// about an hour and a quarter in all).
pub const ATTEMPTS: i64 = 8;

/// Adds a job without waking the worker: for job handlers, whose worker looks for the next
/// job as soon as they return, and for transactions that wake it after their commit.
pub async fn push<'c, J: Job>(
    conn: impl Into<sql::Target<'c>>,
    job: &J,
) -> Result<(), sqlx::Error> {
    push_for(conn, job.tenant(), job).await
}

/// Like [`push`], for a job of commune `tenant` whose payload does not know it (an e-mail or a
/// push message of a post to the commune's followers): it takes that commune's turn in the
/// queue, not the platform's.
pub async fn push_for<'c, J: Job>(
    conn: impl Into<sql::Target<'c>>,
    tenant: Option<TenantId>,
    job: &J,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let at = now();
    sql::query(
        "INSERT INTO jobs (kind, payload, run_at, created_at, max_attempts, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(J::KIND)
    .bind(payload)
    .bind(at)
    .bind(at)
    .bind(J::ATTEMPTS)
    .bind(tenant)
    .execute(conn)
    .await?;
    Ok(())
}

/// A job that failed for good (after its last attempt), as `parvis jobs failed` lists it.
#[derive(Debug, Clone, sql::Row)]
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
    let mut query = sql::query_as(&sql).bind(limit);
    if let Some(kind) = kind {
        query = query.bind(kind);
    }
    query.fetch_all(db.platform()).await
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
    #[error("la tâche n° {0} n'existe pas ou n'a pas échoué : rien n'a été relancé")]
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
                let done = sql::query(&format!("{PUT_BACK} AND id = $2"))
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
        Retry::Kind(kind) => sql::query(&format!("{PUT_BACK} AND kind = $2"))
            .bind(at)
            .bind(kind)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
    };
    tx.commit().await?;
    Ok(count)
}

/// Whose turn it is: the platform's work, then each commune with pending jobs by increasing
/// id, then the platform again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Turn {
    /// Jobs of no commune.
    Platform,
    /// Jobs of this commune.
    Tenant(i64),
}

impl Turn {
    fn of(tenant: Option<i64>) -> Turn {
        tenant.map_or(Turn::Platform, Turn::Tenant)
    }
}

/// The queue: enqueue from anywhere, run by [`Jobs::spawn_worker`].
#[derive(Clone)]
pub struct Jobs {
    db: Db,
    wake: Arc<Notify>,
    handlers: Arc<Handlers>,
    /// The turn last served; held while claiming, so this process's workers claim one at a time.
    cursor: Arc<tokio::sync::Mutex<Turn>>,
    /// Jobs running now, per turn.
    running: Arc<Mutex<HashMap<Turn, usize>>>,
}

/// A claimed job.
#[derive(sql::Row)]
struct Claimed {
    id: i64,
    kind: String,
    payload: String,
    attempts: i64,
    max_attempts: i64,
}

/// What a claim found.
enum Claim {
    /// A job, counted as running for its turn until the slot is dropped.
    Job(Claimed, RunningSlot),
    /// Nothing due (or only for communes at their cap).
    Idle,
    /// Not every commune was looked at: claim again at once.
    Unfinished,
}

/// One running job of a turn; dropping it frees the place.
struct RunningSlot {
    running: Arc<Mutex<HashMap<Turn, usize>>>,
    turn: Turn,
}

impl Drop for RunningSlot {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = running.get_mut(&self.turn) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                running.remove(&self.turn);
            }
        }
    }
}

/// Seconds to wait before retry number `attempts` (1 s, 2 s, 4 s… capped at 2,048 s, 34 min).
pub fn backoff_secs(attempts: i64) -> i64 {
    1i64 << attempts.clamp(1, 12).saturating_sub(1)
}

/// What a sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Done jobs older than [`DONE_RETENTION_SECS`].
    pub done: u64,
    /// Failed jobs older than [`FAILED_RETENTION_SECS`].
    pub failed: u64,
}

/// Deletes finished jobs past their retention, as of `at` (Unix seconds): at most
/// [`SWEEP_MAX_BATCHES`] statements of [`SWEEP_BATCH`] rows, each its own short write.
pub async fn sweep(db: &Db, at: i64) -> Result<Swept, sqlx::Error> {
    let mut swept = Swept::default();
    let mut batches = 0;
    for (column, before, count) in [
        ("done_at", at - DONE_RETENTION_SECS, &mut swept.done),
        ("failed_at", at - FAILED_RETENTION_SECS, &mut swept.failed),
    ] {
        let sql = format!(
            "DELETE FROM jobs WHERE id IN \
             (SELECT id FROM jobs WHERE {column} IS NOT NULL AND {column} < $1 LIMIT $2)"
        );
        while batches < SWEEP_MAX_BATCHES {
            batches += 1;
            let deleted = {
                // A turn at SQLite's writer per batch: other writers go in between.
                let _turn = db.write_turn().await?;
                sql::query(&sql)
                    .bind(before)
                    .bind(SWEEP_BATCH)
                    .execute(db.platform())
                    .await?
                    .rows_affected()
            };
            *count += deleted;
            if deleted < u64::try_from(SWEEP_BATCH).unwrap_or(u64::MAX) {
                break;
            }
            // Let other writers in between two batches.
            tokio::task::yield_now().await;
        }
    }
    Ok(swept)
}

impl Jobs {
    /// A queue with the given handlers; `wake` wakes its workers (shared with whoever
    /// queues jobs in a transaction of its own, such as the module host).
    pub fn new(db: Db, handlers: Handlers, wake: Arc<Notify>) -> Jobs {
        Jobs {
            db,
            wake,
            handlers: Arc::new(handlers),
            cursor: Arc::new(tokio::sync::Mutex::new(Turn::Platform)),
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Adds a job, to run as soon as a worker is free.
    pub async fn enqueue<'c, J: Job>(
        &self,
        conn: impl Into<sql::Target<'c>>,
        job: &J,
    ) -> Result<(), sqlx::Error> {
        push(conn, job).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Wakes the worker (after a transaction that enqueued jobs committed).
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// The turn after `turn` that has due jobs: the next commune by id, else the platform.
    /// Communes whose jobs only wait for a retry are skipped, so an idle worker takes no
    /// writer turn for a claim that cannot find anything.
    async fn next_turn(&self, turn: Turn) -> Result<Turn, sqlx::Error> {
        const PENDING: &str = "done_at IS NULL AND failed_at IS NULL";
        let next: Option<i64> = match turn {
            Turn::Platform => {
                sql::query_scalar(&format!(
                    "SELECT tenant_id FROM jobs WHERE {PENDING} AND tenant_id IS NOT NULL \
                     AND run_at <= $1 ORDER BY tenant_id LIMIT 1"
                ))
                .bind(now())
                .fetch_optional(self.db.platform())
                .await?
            }
            Turn::Tenant(after) => {
                sql::query_scalar(&format!(
                    "SELECT tenant_id FROM jobs WHERE {PENDING} AND tenant_id > $1 \
                     AND run_at <= $2 ORDER BY tenant_id LIMIT 1"
                ))
                .bind(after)
                .bind(now())
                .fetch_optional(self.db.platform())
                .await?
            }
        };
        Ok(Turn::of(next))
    }

    /// Claims the oldest due job of `turn`, if any.
    async fn claim_of(&self, turn: Turn) -> Result<Option<Claimed>, sqlx::Error> {
        let at = now();
        let whose = match turn {
            Turn::Platform => "tenant_id IS NULL",
            Turn::Tenant(_) => "tenant_id = $3",
        };
        let skip_locked = match self.db.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        // The outer test repeats the lock check: a job is never taken twice, whatever the
        // isolation of the sub-select.
        let sql = format!(
            "UPDATE jobs SET locked_until = $2, attempts = attempts + 1 WHERE id = (\
             SELECT id FROM jobs WHERE done_at IS NULL AND failed_at IS NULL AND {whose} \
             AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) \
             ORDER BY run_at, id LIMIT 1 {skip_locked}) \
             AND (locked_until IS NULL OR locked_until < $1) \
             RETURNING id, kind, payload, attempts, max_attempts"
        );
        let mut query = sql::query_as(&sql).bind(at).bind(at + LOCK_SECS);
        if let Turn::Tenant(tenant) = turn {
            query = query.bind(tenant);
        }
        let _turn = self.db.write_turn().await?;
        query.fetch_optional(self.db.platform()).await
    }

    fn running_of(&self, turn: Turn) -> usize {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.get(&turn).copied().unwrap_or(0)
    }

    /// Claims a due job of the next turn after the last one served that has one and is below
    /// its cap, going round once at most.
    async fn claim(&self) -> Result<Claim, sqlx::Error> {
        let mut cursor = self.cursor.lock().await;
        let start = *cursor;
        let mut turn = start;
        let mut wrapped = false;
        for _ in 0..CLAIM_PROBES {
            turn = self.next_turn(turn).await?;
            if turn == Turn::Platform {
                if wrapped {
                    // Every turn was looked at (the platform's twice when it started there).
                    return Ok(Claim::Idle);
                }
                wrapped = true;
            }
            if self.running_of(turn) < TENANT_RUNNING_CAP
                && let Some(job) = self.claim_of(turn).await?
            {
                *cursor = turn;
                let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
                *running.entry(turn).or_insert(0) += 1;
                let slot = RunningSlot {
                    running: self.running.clone(),
                    turn,
                };
                return Ok(Claim::Job(job, slot));
            }
            if wrapped && turn >= start {
                return Ok(Claim::Idle);
            }
        }
        // Many communes with nothing due: carry on from here next time.
        *cursor = turn;
        Ok(Claim::Unfinished)
    }

    /// Records a job's outcome: done, retried later, or failed for good (then its handler's
    /// `gave_up` runs, after the write, out of the writer's turn).
    async fn finish(&self, job: &Claimed, outcome: Result<(), Failure>) -> Result<(), sqlx::Error> {
        let at = now();
        // `(error, last)`: a broken job is not worth another attempt.
        let outcome = outcome.map_err(|failure| match failure {
            Failure::Broken(e) => (e, true),
            Failure::Failed(e) => (e, job.attempts >= job.max_attempts),
        });
        let (query, counter, gave_up) = match outcome {
            Ok(()) => (
                sql::query(
                    "UPDATE jobs SET done_at = $1, locked_until = NULL, last_error = NULL WHERE id = $2",
                )
                .bind(at)
                .bind(job.id),
                "parvis_jobs_done_total",
                false,
            ),
            Err((e, true)) => {
                let error = format!("{e:#}");
                tracing::error!(job = job.id, kind = %job.kind, %error, "job failed for good");
                (
                    sql::query(
                        "UPDATE jobs SET failed_at = $1, locked_until = NULL, last_error = $2 WHERE id = $3",
                    )
                    .bind(at)
                    .bind(error)
                    .bind(job.id),
                    "parvis_jobs_failed_total",
                    true,
                )
            }
            Err((e, false)) => {
                let error = format!("{e:#}");
                let delay = backoff_secs(job.attempts);
                tracing::warn!(job = job.id, kind = %job.kind, %error, retry_in = delay, "job failed, will retry");
                (
                    sql::query(
                        "UPDATE jobs SET run_at = $1, locked_until = NULL, last_error = $2 WHERE id = $3",
                    )
                    .bind(at + delay)
                    .bind(error)
                    .bind(job.id),
                    "parvis_jobs_retried_total",
                    false,
                )
            }
        };
        {
            let _turn = self.db.write_turn().await?;
            query.execute(self.db.platform()).await?;
        }
        metrics::counter!(counter, "kind" => job.kind.clone()).increment(1);
        if gave_up && let Some(handler) = self.handlers.0.get(job.kind.as_str()) {
            handler.gave_up(&job.payload).await;
        }
        Ok(())
    }

    /// Runs one pending job, if any is due, taking turns between communes. Returns whether one
    /// ran.
    pub async fn run_one(&self) -> Result<bool, sqlx::Error> {
        loop {
            match self.claim().await? {
                Claim::Job(job, slot) => {
                    self.run(job, slot).await?;
                    return Ok(true);
                }
                Claim::Idle => return Ok(false),
                Claim::Unfinished => continue,
            }
        }
    }

    async fn run(&self, job: Claimed, slot: RunningSlot) -> Result<(), sqlx::Error> {
        let outcome = match self.handlers.0.get(job.kind.as_str()) {
            Some(handler) => handler.run(&job.payload).await,
            // A kind this server does not run (text messages without a provider): retried, in
            // case the next start has it.
            None => Err(Failure::Failed(anyhow::anyhow!(
                "no handler for job kind {}",
                job.kind
            ))),
        };
        let finished = self.finish(&job, outcome).await;
        drop(slot);
        finished
    }

    /// One worker: claims and runs jobs while there are; polls every second and wakes on
    /// enqueue.
    async fn work(self) {
        while !self.db.is_closed() {
            match self.claim().await {
                Ok(Claim::Job(job, slot)) => {
                    // More of this turn may be due: another idle worker comes to take its
                    // second place (not once it is full, or idle workers would spin on it).
                    if self.running_of(slot.turn) < TENANT_RUNNING_CAP {
                        self.wake.notify_one();
                    }
                    if let Err(e) = self.run(job, slot).await {
                        tracing::error!(error = %e, "job queue unavailable");
                    }
                    continue;
                }
                Ok(Claim::Unfinished) => continue,
                Ok(Claim::Idle) => {}
                Err(e) => tracing::error!(error = %e, "job queue unavailable"),
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
        }
    }

    /// Starts [`WORKERS`] workers and the sweep of finished jobs on the runtime; the handle
    /// ends (and aborting it stops them) when the database is closed.
    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let jobs = self.clone();
        tokio::spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..WORKERS {
                tasks.spawn(jobs.clone().work());
            }
            let db = jobs.db.clone();
            tasks.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(SWEEP_EVERY_SECS));
                // The first sweep a minute after the start, not in the middle of it.
                tick.tick().await;
                while !db.is_closed() {
                    tick.tick().await;
                    match sweep(&db, now()).await {
                        Ok(swept) if swept.done + swept.failed > 0 => {
                            tracing::info!(
                                done = swept.done,
                                failed = swept.failed,
                                "finished jobs swept"
                            );
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "finished jobs not swept"),
                    }
                }
            });
            while tasks.join_next().await.is_some() {}
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

    #[test]
    fn a_job_is_of_the_commune_of_its_payload_or_of_its_notice() {
        use super::Job as _;
        use crate::types::TenantId;
        let mut mail = crate::mail::Email {
            to: "a@b.fr".into(),
            subject: "Objet".into(),
            text: "Texte".into(),
            html: None,
            list_unsubscribe: None,
            attachments: vec![],
            notice: Some(crate::notifications::deliveries::NoticeRef {
                tenant_id: TenantId::for_tests(9),
                notice_id: "n".into(),
            }),
        };
        assert_eq!(mail.tenant(), Some(TenantId::for_tests(9)));
        mail.notice = None;
        assert_eq!(
            mail.tenant(),
            None,
            "an account's own e-mail is platform work"
        );
        let notice = crate::notifications::Notice::to_accounts(
            TenantId::for_tests(7),
            vec![],
            "Titre".into(),
            "Texte".into(),
            "https://x.fr/".into(),
        );
        assert_eq!(notice.tenant(), Some(TenantId::for_tests(7)));
    }
}
