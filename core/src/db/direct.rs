//! SQLite connections used directly, in the calling task.
//!
//! Through sqlx, every SQLite statement is a round trip to the connection's own thread: two
//! thread wake-ups, 80–95 µs on a small VM. Two places cannot afford it:
//! - **The writer.** SQLite lets one connection write at a time, so the time a write
//!   transaction holds the lock bounds the write throughput of the whole server; a poll vote
//!   is eight statements. Module calls' write transactions (`GroupTx`) run on one direct
//!   connection, owned by the [`Db`]'s writer mutex (holding the mutex is holding the write
//!   lock); other writers take the mutex with their turn and write on a pooled connection.
//! - **The session lookup** that every request makes, on a few direct read-only connections.
//!
//! A direct connection is opened with rusqlite on the same SQLite library as sqlx-sqlite, and a
//! statement on it costs what SQLite takes to run it. Only short statements belong here: they
//! run on an async worker.
//!
//! Statements reach a direct connection through the narrow API of `db/sql.rs` (Parvis's own
//! arguments and rows), with `$N` parameters bound as sqlx-sqlite binds them: the same
//! `sql::query(..).bind(..).fetch_optional(tx.sql())` runs on a pooled connection or here.
//!
//! [`Db`]: crate::db::Db

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::ffi;
use rusqlite::types::{Value, ValueRef};
use sqlx::error::{DatabaseError, ErrorKind};

use super::sql::{Arg, Row};

/// Statements kept prepared on the writer (module storage builds a few shapes per call).
const STATEMENT_CACHE: usize = 256;
/// How long `BEGIN IMMEDIATE` waits for a writer outside this process's mutex (a pooled
/// connection's autocommit write) before giving up, as the pool's busy timeout does.
const BUSY_WAIT: Duration = Duration::from_secs(10);
/// Commits between two nudges to checkpoint the write-ahead log (see [`DirectConn::commit`]).
const CHECKPOINT_EVERY: u32 = 64;
/// Most transactions in one group commit, and the longest a group stays open.
const GROUP_MEMBERS: usize = 64;
const GROUP_AGE: Duration = Duration::from_millis(5);

/// The writer's page cache, in KiB. Small on purpose: at the end of each write transaction
/// SQLite truncates the writer's cache to the database's size, and that truncation can scan
/// the cache's whole hash table (`pcache1TruncateUnsafe`, a tenth of the process's time in a
/// profile of the consultation benchmark, on the runtime's threads): its group commits at the
/// peak took 0.53 – 0.56 ms with 64 MiB, 0.36 with 16, 0.30 – 0.33 with 8, 0.26 with 2, while
/// the statements' reads, served by the system's page cache, were no slower with a small one.
/// Dirty pages past it spill to the log before the commit, as they should.
const WRITER_CACHE_KIB: u32 = 8 << 10;

/// What a group commit ended with, for each of its members.
pub(crate) type GroupOutcome = Option<Result<(), Arc<str>>>;

/// Write transactions committed together (group commit). A commit of SQLite's writer writes
/// every page it changed to the log, two system calls per page: `perf` put a third of a poll
/// vote's CPU there before grouping, and consecutive votes change many of the same pages (the
/// counters, the upper levels of the indexes). So a transaction that ends while others wait
/// for the writer releases its savepoint and hands the open transaction over; the last one
/// (no one waiting, or the group full or old) commits for all. Each member learns the outcome
/// here before it answers: nothing is reported written before it is committed.
///
/// **Isolation.** Members run one after another on the one writer connection, each in its own
/// savepoint: writes are serialized, in the order members take the writer. A member sees the
/// work of the members before it in its group *before that work is committed*: within a
/// group, reads are uncommitted reads. Connections other than the writer (the pool, the
/// direct readers) see only committed groups. So no member's result may leave before its
/// group's `COMMIT` returned, whatever that result is: a member that commits waits for the
/// group's outcome; one that rolls back (a refusal that read a twin's ballot, « Vous avez déjà
/// voté ») waits for it too through [`TenantTx::rollback`](crate::db::TenantTx::rollback), and
/// one simply dropped commits the open group itself before the drop returns, so that a refusal
/// is never sent for work a crash would then lose. A group whose commit fails fails all of its
/// members that wait for it. Durability is SQLite's with `synchronous = NORMAL` in WAL mode: a
/// committed group survives the process being killed (`kill -9`); a power cut may undo the
/// last groups, all of a group or none of it.
#[derive(Debug)]
struct Group {
    members: usize,
    opened: Instant,
    outcome: tokio::sync::watch::Sender<GroupOutcome>,
}

/// A direct connection: the writer, owned by the [`Db`](crate::db::Db)'s writer mutex, or a
/// reader of its small pool.
#[derive(Debug)]
pub struct DirectConn {
    conn: rusqlite::Connection,
    commits: u32,
    group: Option<Group>,
    /// Statements run since [`DirectConn::take_statements`] last read them, and their time
    /// (counted on the writer only).
    ran: Option<(u64, Duration)>,
    /// The database file, as the log's watcher names it.
    file: Arc<std::path::Path>,
}

impl DirectConn {
    /// Opens the writer on the database file made by the pool (which set WAL mode).
    pub(crate) fn writer(path: &str) -> Result<DirectConn, rusqlite::Error> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // No busy handler: it would sleep on an async worker; `begin` waits asynchronously.
        // No automatic checkpoint either: it would copy pages and sync on an async worker
        // inside the lock; a pooled connection does it beside the writer (`commit`).
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 0; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA cache_size = -{WRITER_CACHE_KIB}; PRAGMA temp_store = MEMORY;"
        ))?;
        // The log this writer restarts keeps its file's size: with `journal_size_limit`,
        // SQLite cuts the file back in the first commit after a restart, inside a write, and
        // cutting a log of that size took 16 – 23 ms in the watcher's truncations on a disk
        // mounted with `discard` (not timed inside a commit). The log's watcher empties the
        // file once writes are over (`db/wal.rs`).
        conn.execute_batch("PRAGMA journal_size_limit = -1;")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(DirectConn {
            conn,
            commits: 0,
            group: None,
            ran: Some((0, Duration::ZERO)),
            file: std::path::Path::new(path).into(),
        })
    }

    /// Opens a read-only connection. In WAL mode a reader never waits for the writer; the
    /// short busy timeout covers the rare moment SQLite rebuilds its shared index.
    pub(crate) fn reader(path: &str) -> Result<DirectConn, rusqlite::Error> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch("PRAGMA busy_timeout = 100; PRAGMA query_only = 1;")?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(DirectConn {
            conn,
            commits: 0,
            group: None,
            ran: None,
            file: std::path::Path::new(path).into(),
        })
    }

    /// Opens a read transaction on a reader: its statements see one snapshot of the
    /// committed database (SQLite takes it at the first read).
    pub(crate) fn begin_read(&mut self) -> Result<(), sqlx::Error> {
        self.execute("BEGIN").map(drop).map_err(sql_error)
    }

    /// Ends a reader's transaction, releasing its snapshot (a reader left in a transaction
    /// would keep the write-ahead log from being checkpointed past it).
    pub(crate) fn end_read(&mut self) {
        if !self.conn.is_autocommit()
            && let Err(e) = self.execute("ROLLBACK")
        {
            tracing::error!(error = %e, "ending a read on an SQLite reader failed");
        }
    }

    /// Starts a write transaction: a savepoint in the open group, or in a new one.
    pub(crate) async fn begin_member(&mut self) -> Result<(), sqlx::Error> {
        if self.group.is_some() && self.conn.is_autocommit() {
            // SQLite ended the group's transaction itself (an I/O error): its work is lost.
            self.end_group(Err("la transaction groupée a été interrompue".into()));
        }
        if self.group.is_none() {
            self.begin().await?;
            self.group = Some(Group {
                members: 0,
                opened: Instant::now(),
                outcome: tokio::sync::watch::Sender::new(None),
            });
        }
        self.execute("SAVEPOINT member").map_err(sql_error)?;
        Ok(())
    }

    /// Keeps a member's work in the group; its outcome will come through the receiver.
    pub(crate) fn release_member(
        &mut self,
    ) -> Result<tokio::sync::watch::Receiver<GroupOutcome>, sqlx::Error> {
        self.execute("RELEASE SAVEPOINT member")
            .map_err(sql_error)?;
        let group = self.group.as_mut().ok_or_else(|| {
            sqlx::Error::Protocol("no group transaction is open on the writer".into())
        })?;
        group.members += 1;
        Ok(group.outcome.subscribe())
    }

    /// The outcome of the open group, for a member that leaves it without adding to it (a
    /// rollback) but may have read its other members' work.
    pub(crate) fn group_outcome(&self) -> Option<tokio::sync::watch::Receiver<GroupOutcome>> {
        self.group.as_ref().map(|g| g.outcome.subscribe())
    }

    /// Undoes a member's work; the group's other members are not affected.
    pub(crate) fn rollback_member(&mut self) {
        if self.conn.is_autocommit() {
            return;
        }
        for sql in ["ROLLBACK TO SAVEPOINT member", "RELEASE SAVEPOINT member"] {
            if let Err(e) = self.execute(sql) {
                tracing::error!(error = %e, "rolling back a write on the SQLite writer failed");
            }
        }
    }

    /// The writer changes hands: commits the group unless another writer is waiting to add
    /// to it (and it is neither full nor old). Returns the outcome if the group ended (a
    /// group left with no member's work is rolled back, and that is a success), and whether
    /// it is time to checkpoint the log.
    pub(crate) fn end_turn(&mut self, others_waiting: bool) -> (GroupOutcome, bool) {
        let Some(group) = &self.group else {
            return (None, false);
        };
        if group.members == 0 {
            // Nothing to keep (the only transaction rolled back): end it, release the lock.
            // No one else's work was in it, so what was read had been committed already.
            self.rollback();
            self.group = None;
            return (Some(Ok(())), false);
        }
        if others_waiting && group.members < GROUP_MEMBERS && group.opened.elapsed() < GROUP_AGE {
            return (None, false);
        }
        let outcome = match self.commit() {
            Ok(()) => Ok(()),
            Err(e) => {
                self.rollback();
                Err(Arc::from(e.to_string()))
            }
        };
        self.end_group(outcome.clone());
        self.commits = self.commits.wrapping_add(1);
        (Some(outcome), self.commits.is_multiple_of(CHECKPOINT_EVERY))
    }

    /// The database file.
    pub(crate) fn file(&self) -> &Arc<std::path::Path> {
        &self.file
    }

    /// Commits whatever group is open, then copies the whole log into the database and
    /// restarts it from its beginning (`Restart`), or also cuts the file to nothing
    /// (`Truncate`), waiting at most `readers` for readers still in the log (see `db/wal.rs`).
    /// Blocking: call it off the async workers. True when the log was restarted.
    pub(crate) fn checkpoint(
        &mut self,
        mode: super::wal::Checkpoint,
        readers: Duration,
    ) -> Result<bool, rusqlite::Error> {
        self.finish_group();
        // SQLite's own busy timeout sleeps 1, 2, 5, 10, 15, 20 ms in turn: a reader leaving
        // after 4 ms would hold the writer 8. Here the wait is looked at every 0.2 ms.
        READERS_UNTIL.set(Some(Instant::now() + readers));
        self.conn.busy_handler(Some(wait_for_readers))?;
        let pragma = match mode {
            super::wal::Checkpoint::Restart => "PRAGMA wal_checkpoint(RESTART)",
            super::wal::Checkpoint::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        };
        let busy = self.conn.query_row(pragma, [], |row| row.get::<_, i64>(0));
        // The writer never sleeps in SQLite's busy handler otherwise (see `writer`).
        READERS_UNTIL.set(None);
        self.conn.busy_handler(None)?;
        Ok(busy? == 0)
    }

    /// Ends whatever group is open (a member waited too long for it, or the database
    /// closes). Returns whether it is time to checkpoint the log.
    pub(crate) fn finish_group(&mut self) -> bool {
        self.group.is_some() && self.end_turn(false).1
    }

    fn end_group(&mut self, outcome: Result<(), Arc<str>>) {
        if let Some(group) = self.group.take() {
            group.outcome.send_replace(Some(outcome));
        }
    }

    /// `BEGIN IMMEDIATE`: takes SQLite's write lock, waiting (without blocking the worker)
    /// while a connection outside the writer mutex holds it.
    async fn begin(&mut self) -> Result<(), sqlx::Error> {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            match self.execute("BEGIN IMMEDIATE") {
                Ok(_) => return Ok(()),
                Err(e) if is_busy(&e) && started.elapsed() < BUSY_WAIT => {
                    attempt += 1;
                    if attempt < 4 {
                        tokio::task::yield_now().await;
                    } else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                Err(e) => return Err(sql_error(e)),
            }
        }
    }

    fn commit(&mut self) -> Result<(), rusqlite::Error> {
        self.execute("COMMIT").map(|_| ())
    }

    /// Rolls back whatever is open (after a failed commit too). Errors are logged: there is
    /// no caller left to tell, and SQLite ends the transaction anyway when it cannot go on.
    fn rollback(&mut self) {
        if !self.conn.is_autocommit()
            && let Err(e) = self.execute("ROLLBACK")
        {
            tracing::error!(error = %e, "rollback on the SQLite writer failed");
        }
    }

    fn execute(&self, sql: &str) -> Result<usize, rusqlite::Error> {
        self.conn.prepare_cached(sql)?.execute([])
    }

    /// Runs one statement: its rows (at most `limit`; a write is stepped to its end whatever
    /// the limit) and the rows it changed.
    pub(crate) fn run(
        &mut self,
        sql: &str,
        args: Vec<Arg>,
        limit: Option<usize>,
    ) -> Result<(Vec<Row>, u64), sqlx::Error> {
        let started = self.ran.is_some().then(Instant::now);
        let result = self.run_untimed(sql, args, limit);
        if let (Some((n, time)), Some(started)) = (&mut self.ran, started) {
            *n += 1;
            *time += started.elapsed();
        }
        result
    }

    /// The statements run on the writer (from `run`) since the last call, and their time.
    pub(crate) fn take_statements(&mut self) -> (u64, Duration) {
        self.ran
            .as_mut()
            .map_or((0, Duration::ZERO), std::mem::take)
    }

    fn run_untimed(
        &mut self,
        sql: &str,
        args: Vec<Arg>,
        limit: Option<usize>,
    ) -> Result<(Vec<Row>, u64), sqlx::Error> {
        let args: Vec<Value> = args.into_iter().map(into_value).collect();
        // Every statement goes through the cache; one-off shapes are the first evicted.
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let mut positional = 0;
        for i in 1..=stmt.parameter_count() {
            // `$N` names the N-th argument, as sqlx-sqlite binds them; `?` takes the next.
            let n = match stmt.parameter_name(i) {
                Some(name) => name
                    .strip_prefix('$')
                    .or_else(|| name.strip_prefix('?'))
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| {
                        sqlx::Error::Protocol(format!("unsupported SQL parameter: {name}"))
                    })?,
                None => {
                    positional += 1;
                    positional
                }
            };
            // An argument not given is NULL (as sqlx-sqlite does); bind it explicitly so a
            // cached statement cannot keep the previous call's value.
            let value = args.get(n.wrapping_sub(1)).unwrap_or(&Value::Null);
            stmt.raw_bind_parameter(i, value).map_err(sql_error)?;
        }
        let columns: Arc<[String]> = stmt.column_names().into_iter().map(String::from).collect();
        let readonly = stmt.readonly();
        let mut rows = Vec::new();
        {
            let mut cursor = stmt.raw_query();
            while let Some(row) = cursor.next().map_err(sql_error)? {
                if limit.is_some_and(|l| rows.len() >= l) {
                    // A read stops there; a write (`INSERT … RETURNING` of several rows) is
                    // stepped to its end, or it would not write them all.
                    if readonly {
                        break;
                    }
                    continue;
                }
                let values = (0..columns.len())
                    .map(|i| row.get_ref(i).map(owned).map_err(sql_error))
                    .collect::<Result<Vec<_>, _>>()?;
                rows.push(Row::new(columns.clone(), values));
            }
        }
        let changed = if readonly { 0 } else { self.conn.changes() };
        Ok((rows, changed))
    }
}

thread_local! {
    /// Until when a checkpoint on this thread waits for readers (`DirectConn::checkpoint`).
    static READERS_UNTIL: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// The checkpoint's busy handler: waits in short steps until [`READERS_UNTIL`].
fn wait_for_readers(_calls: i32) -> bool {
    match READERS_UNTIL.get() {
        Some(until) if Instant::now() < until => {
            std::thread::sleep(Duration::from_micros(200));
            true
        }
        _ => false,
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ffi::ErrorCode::DatabaseBusy)
}

/// A value as stored, owned. Text that is not UTF-8 (which SQLite does not check) is read
/// lossily rather than panicking as rusqlite's own conversion does.
fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// The argument as SQLite binds it, moved (text and bytes are not copied again).
fn into_value(arg: Arg) -> Value {
    match arg {
        Arg::Int(v) => v.map_or(Value::Null, Value::Integer),
        Arg::Real(v) => v.map_or(Value::Null, Value::Real),
        Arg::Text(v) => v.map_or(Value::Null, Value::Text),
        Arg::Blob(v) => v.map_or(Value::Null, Value::Blob),
    }
}

/// An SQLite error from the writer, seen by callers as sqlx-sqlite's would be.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DirectError {
    message: String,
    code: Option<i32>,
}

/// « database is locked », as SQLite reports it: a writer waited too long for its turn.
pub(crate) fn busy_error() -> sqlx::Error {
    sqlx::Error::Database(Box::new(DirectError {
        message: "database is locked (no turn at the SQLite writer in time)".to_string(),
        code: Some(ffi::SQLITE_BUSY),
    }))
}

/// A group commit that failed, for each of its members.
pub(crate) fn group_failed(message: Arc<str>) -> sqlx::Error {
    sqlx::Error::Database(Box::new(DirectError {
        message: message.to_string(),
        code: None,
    }))
}

fn sql_error(e: rusqlite::Error) -> sqlx::Error {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
        _ => None,
    };
    sqlx::Error::Database(Box::new(DirectError {
        message: e.to_string(),
        code,
    }))
}

impl DatabaseError for DirectError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.map(|c| Cow::Owned(c.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
                ErrorKind::UniqueViolation
            }
            Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(ffi::SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(ffi::SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::wal::Checkpoint;

    #[test]
    fn a_checkpoint_waits_for_readers_as_long_as_it_is_told_then_gives_up()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("parvis.db");
        let file = path.to_str().ok_or("a temporary path that is not UTF-8")?;
        rusqlite::Connection::open(file)?
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")?;
        let mut writer = DirectConn::writer(file)?;
        writer.execute("INSERT INTO t VALUES (1)")?;
        // A reader keeps its snapshot while the writer goes on.
        let mut reader = DirectConn::reader(file)?;
        reader.begin_read()?;
        let seen: i64 = reader
            .conn
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))?;
        assert_eq!(seen, 1);
        writer.execute("INSERT INTO t VALUES (2)")?;

        let wait = Duration::from_millis(200);
        let started = Instant::now();
        let restarted = writer.checkpoint(Checkpoint::Restart, wait)?;
        assert!(
            !restarted,
            "the log was restarted under a reader's snapshot"
        );
        assert!(
            started.elapsed() >= wait,
            "it gave up after {:?}, before the {wait:?} it was given",
            started.elapsed()
        );
        // The writer waits for no one outside a checkpoint: its busy handler is gone.
        let mut other = rusqlite::Connection::open(file)?;
        let held = other.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let started = Instant::now();
        assert!(
            writer
                .execute("INSERT INTO t VALUES (3)")
                .is_err_and(|e| is_busy(&e))
        );
        assert!(
            started.elapsed() < wait,
            "the writer slept in a busy handler"
        );
        drop(held);

        // Once the reader is gone, the log is emptied.
        reader.end_read();
        assert!(writer.checkpoint(Checkpoint::Truncate, wait)?);
        assert_eq!(std::fs::metadata(format!("{file}-wal"))?.len(), 0);
        Ok(())
    }
}
