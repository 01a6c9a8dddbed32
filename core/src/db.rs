//! Storage: one pool on SQLite (embedded default) or PostgreSQL, chosen by `DATABASE_URL`.
//!
//! Queries are written once in portable SQL (`$1…$n` placeholders, BIGINT/TEXT/DOUBLE/BLOB
//! columns) and run through sqlx's `Any` driver. Platform tables (communes, tenants, accounts)
//! are reached through [`Db::platform`]; tenant-owned tables only through a [`TenantTx`] or a
//! [`GroupTx`], which carry the tenant resolved from the request and, on PostgreSQL, set it for
//! Row-Level Security so a query that forgets its `tenant_id` filter still sees nothing of other
//! tenants.
//!
//! The hot path (a module's call: a poll vote; the session lookup of every request) goes
//! through the narrow statement API of [`sql`]. On an SQLite file it runs on direct
//! connections in the calling task (`db/direct.rs`), a module call's writes on the writer
//! connection with their commits grouped: a member of a group reads its group's work before it
//! is committed, so no member answers, committed or rolled back, before its group's commit is
//! durable (the isolation is stated on `direct::Group`). Every other write takes its turn at
//! the same writer (`db/turn.rs`) and runs on a pooled connection. The write-ahead log is kept
//! under a bound by `db/wal.rs`.

pub mod changes;
mod direct;
pub mod ownership;
pub mod sql;
mod turn;
pub mod wal;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{
    Any, AnyConnection, AnyPool, ConnectOptions as _, Connection as _, Executor as _, Transaction,
};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::types::TenantId;
use changes::Changes;
use direct::{DirectConn, GroupOutcome};
pub use sql::{Sql, TenantSql};
use turn::{Key, Turn, Turns};
pub use turn::{Key as WriterKey, WriterUse};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database engine a [`Db`] talks to, for the few statements whose dialects differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (the embedded default).
    Sqlite,
    /// A PostgreSQL server (production).
    Postgres,
}

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported database.
    #[error("DATABASE_URL non reconnue : « {0} » (attendu sqlite://… ou postgres://…)")]
    UnsupportedUrl(String),
    /// The database could not be reached or answered an error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration de la base de données impossible : {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The SQLite directory could not be created.
    #[error("impossible de créer le dossier de la base de données {0} : {1}")]
    Io(String, std::io::Error),
    /// The SQLite writer connection could not be opened.
    #[error("impossible d'ouvrir la base de données {0} en écriture : {1}")]
    Writer(String, rusqlite::Error),
}

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time: the mutex owns the writer connection (none on
    /// PostgreSQL or an in-memory SQLite database). Only the holder of a turn of `turns`
    /// locks it, so it is never contended.
    writer: Arc<Mutex<Option<DirectConn>>>,
    /// Every writer of the process (tenants' write transactions, pooled platform writes, the
    /// log's checkpoints) waits here for its turn at SQLite's lock, fairly between communes
    /// (`db/turn.rs`), instead of sleeping in SQLite's busy handler. Writers waiting here keep
    /// a group commit open (see [`direct`](self::direct)).
    turns: Arc<Turns>,
    /// Direct read-only connections for [`Db::reader`] (SQLite files only).
    readers: Arc<[Arc<Mutex<DirectConn>>]>,
    next_reader: Arc<AtomicUsize>,
    /// What the database says changed, once [`Db::listen_for_changes`] started following it.
    changes: Arc<OnceLock<Arc<Changes>>>,
}

/// Direct readers of an SQLite file. One is held while its statement runs ([`Db::reader`]) or
/// its read transaction is open ([`TenantDb::read`]); when none is free, the pool serves.
const DIRECT_READERS: usize = 8;

/// Longest a platform write on the pool ([`Db::write_turn`], [`Db::begin_immediate`]) waits
/// for its turn at SQLite's writer before failing with « database is locked », as SQLite's
/// busy timeout (10 s) made it fail before. With turns shared fairly between communes it waits
/// for one turn of each commune with writers waiting, far less than this.
pub const PLATFORM_TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

impl Db {
    /// Connects to `url` (`sqlite://path` creates the file and its folder; `postgres://…`).
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        install_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(url.to_string()));
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url_with_create(url)?,
            Backend::Postgres => url.to_string(),
        };
        let file = match backend {
            Backend::Sqlite => sqlite_file(&url).map(str::to_string),
            Backend::Postgres => None,
        };
        // Bulk imports run statements of thousands of rows: log them (and anything slow) at
        // debug level only, or one import would flood the logs with its SQL text.
        let options = AnyConnectOptions::from_str(&url)?
            .log_statements(log::LevelFilter::Trace)
            .log_slow_statements(log::LevelFilter::Debug, std::time::Duration::from_secs(2));
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            // A SQLite connection is a file handle in this process: it cannot go stale, and
            // pinging it at every checkout costs a round trip to its thread, inside the write
            // lock for writers. A PostgreSQL connection can die with its server: keep checking.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed while one writer commits; the busy timeout
                        // queues writers instead of failing them.
                        // A 64 MB page cache keeps large imports from spilling pages mid-transaction.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
                        )
                        .await?;
                        // A restarted log is cut back to this size (`db/wal.rs`).
                        conn.execute(
                            format!("PRAGMA journal_size_limit = {}", wal::WAL_LIMIT).as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        // The pool's first connection created the file and switched it to WAL.
        let writer = match &file {
            Some(path) => {
                Some(DirectConn::writer(path).map_err(|e| DbError::Writer(path.clone(), e))?)
            }
            None => None,
        };
        let writer = Arc::new(Mutex::new(writer));
        let turns = Arc::new(Turns::default());
        if let Some(path) = &file {
            wal::watch(
                wal::Watched {
                    writer: Arc::downgrade(&writer),
                    turns: Arc::downgrade(&turns),
                    pool: pool.clone(),
                },
                path,
            );
        }
        Ok(Db {
            pool,
            backend,
            writer,
            turns,
            readers: match &file {
                Some(path) => (0..DIRECT_READERS)
                    .map(|_| Ok(Arc::new(Mutex::new(DirectConn::reader(path)?))))
                    .collect::<Result<_, rusqlite::Error>>()
                    .map_err(|e| DbError::Writer(path.clone(), e))?,
                None => Arc::new([]),
            },
            next_reader: Arc::default(),
            changes: Arc::default(),
        })
    }

    /// Applies the pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// The engine behind this handle.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts following what changes in the database (PostgreSQL's notices of migration 0028,
    /// an SQLite file's version), so that the server may keep what its requests read
    /// ([`changes`]). Once per handle and its clones; nothing for an in-memory SQLite database,
    /// which no one else can change.
    pub fn listen_for_changes(&self, url: &str) {
        match self.backend {
            Backend::Postgres => {
                self.changes.get_or_init(|| Changes::listen(url));
            }
            Backend::Sqlite => {
                let Some(path) = sqlite_file(url) else {
                    return;
                };
                match Changes::watch_file(path) {
                    Ok(changes) => {
                        let _ = self.changes.set(changes);
                    }
                    Err(e) => tracing::warn!(error = %e, "{path}: changes not watched"),
                }
            }
        }
    }

    /// What the database said changed, once followed ([`Db::listen_for_changes`]).
    pub fn changes(&self) -> Option<&Changes> {
        self.changes.get().map(|c| &**c)
    }

    /// Waits until this process was told of every write committed so far ([`Changes::sync`]);
    /// nothing when not listening.
    pub async fn sync_changes(&self) {
        if let Some(changes) = self.changes() {
            changes.sync(&self.pool).await;
        }
    }

    /// The platform's handle: statements on platform- and account-owned tables (communes,
    /// tenants, accounts, sessions, follows, jobs: `db/ownership.rs` says which), outside any
    /// tenant. Tenant-owned tables go through [`Db::tenant`]; on PostgreSQL their rows are
    /// invisible here (Row-Level Security, no tenant set), and a statement that needs every
    /// commune's rows says so with [`Db::platform_tx`].
    pub fn platform(&self) -> &AnyPool {
        changes::note_write();
        &self.pool
    }

    /// A connection for a short read of platform tables on the path of every request (the
    /// session): on an SQLite file, a direct read-only connection, with no round trip to a
    /// connection thread per statement; otherwise one of the pool.
    pub async fn reader(&self) -> Result<Reader, sqlx::Error> {
        match self.free_reader() {
            Some(conn) => Ok(Reader::Direct(conn)),
            None => Ok(Reader::Pool(self.pool.acquire().await?)),
        }
    }

    /// A direct reader nobody holds, if any. Never waits for one: a task in a read
    /// transaction ([`TenantDb::read`]) may ask for another connection, and waiting for a
    /// reader held by a task that waits in turn could wait forever; the pool serves instead.
    fn free_reader(&self) -> Option<OwnedMutexGuard<DirectConn>> {
        if self.readers.is_empty() {
            return None;
        }
        // Start from a different reader each time, so that their page caches all stay warm.
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        (0..self.readers.len()).find_map(|i| {
            self.readers[(start + i) % self.readers.len()]
                .clone()
                .try_lock_owned()
                .ok()
        })
    }

    /// The tenant of that number, if it exists: a number read from outside the database (an
    /// environment variable, a command line) becomes a [`TenantId`] only here.
    pub async fn confirm_tenant(&self, raw: i64) -> Result<Option<TenantId>, sqlx::Error> {
        sqlx::query_scalar::<_, TenantId>("SELECT id FROM tenants WHERE id = $1")
            .bind(raw)
            .fetch_optional(&self.pool)
            .await
    }

    /// A handle scoped to one tenant: the only way to reach tenant-owned rows.
    pub fn tenant(&self, tenant: TenantId) -> TenantDb {
        changes::note_write();
        TenantDb {
            db: self.clone(),
            tenant,
        }
    }

    /// A transaction on platform tables that reads, then writes. On SQLite it waits for a
    /// platform turn at the writer ([`Db::write_turn`]), holds it until the transaction ends,
    /// and takes the write lock at `BEGIN IMMEDIATE`; a plain (deferred) transaction would fail
    /// its first write with "database is locked" if another writer committed after its first
    /// read. Its holder must not wait for another turn meanwhile (a tenant's
    /// [`TenantDb::begin_write`], [`Db::write_turn`]): it would wait for itself.
    pub async fn begin_immediate(&self) -> Result<PlatformTx, sqlx::Error> {
        changes::note_write();
        match self.backend {
            Backend::Sqlite => {
                let turn = self.write_turn().await?;
                let tx = begin_pooled(&self.pool, Some("BEGIN IMMEDIATE".into())).await?;
                Ok(PlatformTx { tx, _turn: turn })
            }
            Backend::Postgres => Ok(PlatformTx {
                tx: begin_pooled(&self.pool, None).await?,
                _turn: WriteTurn(None),
            }),
        }
    }

    /// A turn at SQLite's writer for a write on the pool (an autocommit statement on platform
    /// tables, such as a session's): hold it around the statement, so the write queues with
    /// every other writer of the process, fairly, instead of polling in SQLite's busy handler
    /// (which a commune taking the writer back to back starves). Any group commit the writer
    /// left open is committed first, so SQLite's lock is free for the pool while the turn is
    /// held. Nothing on PostgreSQL. The holder must not wait for another turn meanwhile.
    ///
    /// Waits at most [`PLATFORM_TURN_WAIT`], then fails as SQLite's busy timeout did
    /// (« database is locked »): a platform write that holds a lock (the roles' enforcer)
    /// while a writer holding its turn waits for that lock must not wait forever.
    pub async fn write_turn(&self) -> Result<WriteTurn, sqlx::Error> {
        if self.backend != Backend::Sqlite {
            return Ok(WriteTurn(None));
        }
        tokio::time::timeout(PLATFORM_TURN_WAIT, self.turn(Key::Platform))
            .await
            .map_err(|_| direct::busy_error())
    }

    /// The turn of `key` at SQLite's writer, for writes on the pool: any group commit left
    /// open is committed first, so SQLite's lock is free while the turn is held.
    async fn turn(&self, key: Key) -> WriteTurn {
        let turn = self.turns.take(key).await;
        let mut guard = self.writer.clone().lock_owned().await;
        if let Some(writer) = guard.as_mut()
            && writer.finish_group()
        {
            checkpoint_beside(&self.pool, writer.file());
        }
        WriteTurn(Some((guard, turn)))
    }

    /// Writers waiting for their turn at SQLite's writer now (0 on PostgreSQL).
    pub fn writers_waiting(&self) -> usize {
        self.turns.waiting()
    }

    /// Where SQLite's writer spent its time since the database opened (all zero on
    /// PostgreSQL): take two readings and [`WriterUse::since`] for a period's.
    pub fn writer_use(&self) -> WriterUse {
        self.turns.usage()
    }

    /// A transaction for platform-wide maintenance across tenants (registry imports). On
    /// PostgreSQL it opts out of the per-tenant Row-Level Security wall for this transaction
    /// only; request handlers never use it.
    pub async fn platform_tx(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        changes::note_write();
        let tx = begin_pooled(&self.pool, None).await?;
        self.across_tenants(tx).await
    }

    /// Like [`Db::platform_tx`], for maintenance that reads, then writes (an import): on
    /// SQLite it takes the write lock at once, as [`Db::begin_immediate`] does.
    pub async fn platform_write_tx(&self) -> Result<PlatformTx, sqlx::Error> {
        let mut tx = self.begin_immediate().await?;
        self.opt_out_of_rls(&mut tx).await?;
        Ok(tx)
    }

    async fn across_tenants(
        &self,
        mut tx: Transaction<'static, Any>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.opt_out_of_rls(&mut tx).await?;
        Ok(tx)
    }

    async fn opt_out_of_rls(&self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT set_config('parvis.platform', 'on', true)")
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// Whether [`Db::close`] was called: background loops end then.
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// Closes the pool (waits for connections to be returned) and the writer connection.
    pub async fn close(&self) {
        let _turn = self.turns.take(Key::Platform).await;
        let mut writer = self.writer.lock().await;
        if let Some(writer) = writer.as_mut() {
            writer.finish_group();
        }
        writer.take();
        drop(writer);
        self.pool.close().await;
    }
}

/// A turn at SQLite's writer for writes on the pool, from [`Db::write_turn`]; the next writer's
/// when dropped.
pub struct WriteTurn(Option<(OwnedMutexGuard<Option<DirectConn>>, Turn)>);

impl std::fmt::Debug for WriteTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "WriteTurn(held)"
        } else {
            "WriteTurn(none)"
        })
    }
}

/// A transaction on platform tables from [`Db::begin_immediate`]: the pool's transaction, and on
/// SQLite the writer's turn, held until it ends. Used as the transaction it wraps (`&mut *tx`
/// is its connection).
pub struct PlatformTx {
    tx: Transaction<'static, Any>,
    /// Declared after the transaction: the turn passes on once it has ended.
    _turn: WriteTurn,
}

impl PlatformTx {
    /// Commits the transaction, then passes the turn on.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls the transaction back, then passes the turn on (dropping it rolls back too).
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for PlatformTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for PlatformTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl Sql for PlatformTx {
    fn sql(&mut self) -> sql::Target<'_> {
        sql::Target::Conn(&mut self.tx)
    }
}

/// Whether SQLite refused a statement for a lock another connection holds (`SQLITE_BUSY` or
/// `SQLITE_LOCKED`, extended codes included: a read transaction that starts writing after
/// another connection committed gets `SQLITE_BUSY_SNAPSHOT` at once). Only meaningful on
/// SQLite: PostgreSQL's codes are not numbers of this kind.
pub fn is_sqlite_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// `$from, $from+1, …` for `n` bound values (an `IN (…)` list).
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The file of a `sqlite:` URL; `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or_default();
    let memory = path.is_empty() || path == ":memory:" || url.contains("mode=memory");
    (!memory).then_some(path)
}

/// Makes `sqlite://path` create its file (and folder) when missing.
fn sqlite_url_with_create(url: &str) -> Result<String, DbError> {
    if let Some(path) = sqlite_file(url)
        && let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| DbError::Io(dir.display().to_string(), e))?;
    }
    Ok(if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// The database seen from one tenant.
#[derive(Clone, Debug)]
pub struct TenantDb {
    db: Db,
    tenant: TenantId,
}

impl TenantDb {
    /// The tenant every query of this handle is bound to.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// The engine behind this handle.
    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// Like [`TenantDb::begin`], for a transaction that reads then writes. On SQLite it waits
    /// for the tenant's turn at the writer (`db/turn.rs`) and holds it, so concurrent writers
    /// queue instead of failing when they upgrade from reading to writing; its statements run
    /// on a pooled connection.
    pub async fn begin_write(&self) -> Result<TenantTx, sqlx::Error> {
        let tenant = self.tenant;
        if self.db.backend == Backend::Sqlite {
            let turn = self.db.turn(Key::Tenant(tenant)).await;
            let tx = begin_pooled(&self.db.pool, Some("BEGIN IMMEDIATE".into())).await?;
            return Ok(TenantTx {
                tx: TxConn::Pool(tx),
                _turn: turn,
                tenant,
            });
        }
        self.begin().await
    }

    /// A transaction that only reads (a page's content), bound to this tenant. On an SQLite
    /// file it runs on a direct reader in the calling task when one is free: a page's dozen
    /// statements cost what SQLite takes to run them, not two thread wake-ups each through the
    /// pool (`perf` put half of a signed-in page's CPU in those wake-ups). A statement that
    /// writes fails on it (the reader is read-only): writers use [`TenantDb::begin_write`].
    /// Elsewhere, or with every reader busy, it is [`TenantDb::begin`]'s transaction.
    pub async fn read(&self) -> Result<TenantTx, sqlx::Error> {
        if let Some(mut conn) = self.db.free_reader() {
            conn.begin_read()?;
            return Ok(TenantTx {
                tx: TxConn::Read(ReadTx(conn)),
                _turn: WriteTurn(None),
                tenant: self.tenant,
            });
        }
        self.begin().await
    }

    /// Opens a transaction bound to this tenant (on PostgreSQL, Row-Level Security sees only it).
    pub async fn begin(&self) -> Result<TenantTx, sqlx::Error> {
        let tenant = self.tenant;
        let tx = match self.db.backend {
            // The tenant is set in the same round trip as the BEGIN (simple query protocol,
            // two statements); it is an integer, so formatting it in cannot inject anything.
            Backend::Postgres => {
                begin_pooled(
                    &self.db.pool,
                    Some(format!(
                        "BEGIN; SELECT set_config('parvis.tenant_id', '{}', true)",
                        tenant.get()
                    )),
                )
                .await?
            }
            Backend::Sqlite => begin_pooled(&self.db.pool, None).await?,
        };
        Ok(TenantTx {
            tx: TxConn::Pool(tx),
            _turn: WriteTurn(None),
            tenant,
        })
    }

    /// A write transaction on the hot path (a module's call), whose statements go through
    /// [`sql`]: on an SQLite file it runs on the writer connection itself, in the calling task,
    /// and its commit may be grouped with other writers' (`db/direct.rs`), returning once it is
    /// durable either way; elsewhere it is [`TenantDb::begin_write`]'s transaction.
    pub async fn begin_group(&self) -> Result<GroupTx, sqlx::Error> {
        let tenant = self.tenant;
        if self.db.backend == Backend::Sqlite {
            let turn = self.db.turns.take(Key::Tenant(tenant)).await;
            let guard = self.db.writer.clone().lock_owned().await;
            if let Ok(writer) = OwnedMutexGuard::try_map(guard, Option::as_mut) {
                let mut tx = WriterTx {
                    writer,
                    mutex: self.db.writer.clone(),
                    turns: self.db.turns.clone(),
                    key: Key::Tenant(tenant),
                    pool: self.db.pool.clone(),
                    open: true,
                    began: std::time::Instant::now(),
                    _turn: turn,
                };
                // On failure the drop ends the turn (and an empty group).
                tx.writer.begin_member().await?;
                return Ok(GroupTx {
                    inner: GroupInner::Writer(tx),
                    tenant,
                });
            }
            // An in-memory database has no writer connection: the pool's, in its turn.
        }
        Ok(self.begin_write().await?.into())
    }
}

/// Opens a transaction of the pool (`begin`: the statement, `BEGIN` by default) in a task of
/// its own, and hands it over. sqlx's `begin` is not cancel-safe: a request dropped while it
/// runs (its client went away, as a load tool does when it stops) could leave the connection
/// inside the transaction, back in the pool, with nothing to end it; on SQLite, after a
/// `BEGIN IMMEDIATE`, it held the write lock for good and every writer of the platform waited
/// (« database is locked »), found by `bench/load.sh`. In its own task the `begin` always
/// completes, and a transaction no one waits for any more is dropped there, which rolls it
/// back.
async fn begin_pooled(
    pool: &AnyPool,
    statement: Option<String>,
) -> Result<Transaction<'static, Any>, sqlx::Error> {
    let pool = pool.clone();
    tokio::spawn(async move {
        match statement {
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    })
    .await
    .map_err(|e| sqlx::Error::Protocol(format!("a transaction's BEGIN failed: {e}")))?
}

/// A connection from [`Db::reader`].
pub enum Reader {
    /// One of the pool.
    Pool(sqlx::pool::PoolConnection<Any>),
    /// A direct SQLite reader, free again when dropped.
    Direct(OwnedMutexGuard<DirectConn>),
}

impl Sql for Reader {
    fn sql(&mut self) -> sql::Target<'_> {
        match self {
            Reader::Pool(conn) => sql::Target::Conn(conn),
            Reader::Direct(conn) => sql::Target::Direct(conn),
        }
    }
}

impl sql::sealed::Lend for TenantTx {
    fn lend(&mut self) -> sql::Target<'_> {
        match &mut self.tx {
            TxConn::Pool(tx) => sql::Target::Conn(tx),
            TxConn::Read(read) => sql::Target::Direct(&mut read.0),
        }
    }
}

impl TenantSql for TenantTx {
    fn tenant_id(&self) -> TenantId {
        self.tenant
    }
}

/// A transaction on tenant-owned rows, on a pooled connection. Its statements are
/// [`TenantSql::scoped`]: they bind its tenant. Dropped without [`TenantTx::commit`], it rolls
/// back: nothing is half-written.
pub struct TenantTx {
    tx: TxConn,
    /// On SQLite, a writing transaction's turn at the writer, held until it ends (declared
    /// after the transaction, so dropped after the rollback).
    _turn: WriteTurn,
    tenant: TenantId,
}

impl TenantTx {
    /// The tenant this transaction is bound to ([`TenantSql::scoped`] statements bind it as
    /// `$1`).
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.tx {
            TxConn::Pool(tx) => tx.commit().await,
            // A read has nothing to commit: its end releases the snapshot.
            TxConn::Read(read) => {
                drop(read);
                Ok(())
            }
        }
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.tx {
            TxConn::Pool(tx) => tx.rollback().await,
            TxConn::Read(read) => {
                drop(read);
                Ok(())
            }
        }
    }
}

/// Where a [`TenantTx`] runs.
enum TxConn {
    /// A pooled connection's transaction.
    Pool(Transaction<'static, Any>),
    /// A read transaction on a direct SQLite reader ([`TenantDb::read`]).
    Read(ReadTx),
}

/// A direct reader in a read transaction, ended when dropped.
struct ReadTx(OwnedMutexGuard<DirectConn>);

impl Drop for ReadTx {
    fn drop(&mut self) {
        self.0.end_read();
    }
}

/// A tenant's write transaction on the hot path, from [`TenantDb::begin_group`] (or a
/// [`TenantTx`] made into one): its statements are [`TenantSql::scoped`], like a
/// [`TenantTx`]'s. Dropped without [`GroupTx::commit`], it rolls back.
pub struct GroupTx {
    inner: GroupInner,
    tenant: TenantId,
}

enum GroupInner {
    /// A transaction of the pool (PostgreSQL, an in-memory SQLite database, reads).
    Pool(TenantTx),
    /// On SQLite's writer connection.
    Writer(WriterTx),
}

impl From<TenantTx> for GroupTx {
    fn from(tx: TenantTx) -> GroupTx {
        GroupTx {
            tenant: tx.tenant,
            inner: GroupInner::Pool(tx),
        }
    }
}

impl sql::sealed::Lend for GroupTx {
    fn lend(&mut self) -> sql::Target<'_> {
        match &mut self.inner {
            GroupInner::Pool(tx) => sql::sealed::Lend::lend(tx),
            GroupInner::Writer(w) => sql::Target::Direct(&mut w.writer),
        }
    }
}

impl TenantSql for GroupTx {
    fn tenant_id(&self) -> TenantId {
        self.tenant
    }
}

/// A write transaction on SQLite's writer, a member of its group commit
/// ([`direct`](self::direct)): holding the writer is holding the write lock.
struct WriterTx {
    writer: OwnedMappedMutexGuard<Option<DirectConn>, DirectConn>,
    /// The writer's mutex, to end a group its last member left open.
    mutex: Arc<Mutex<Option<DirectConn>>>,
    /// Writers waiting for their turn: the group stays open for them.
    turns: Arc<Turns>,
    /// Whose turn this is: a member left waiting for its group's outcome queues there again to
    /// end the group itself (behind its own commune's writers, who would continue the group,
    /// rather than cutting the group short on a turn of its own).
    key: Key,
    /// Where the write-ahead log is checkpointed from, beside the writer.
    pool: AnyPool,
    /// Not committed yet: dropping rolls back.
    open: bool,
    /// When the turn began, for [`Turns::note_hold`].
    began: std::time::Instant,
    /// This writer's turn; declared last, so it passes on once the writer is unlocked.
    _turn: Turn,
}

impl WriterTx {
    /// Gives the writer up, then waits for the outcome of the group this member leaves (ended
    /// now, or later by the member it was handed to).
    async fn leave(
        mut self,
        receiver: tokio::sync::watch::Receiver<GroupOutcome>,
    ) -> Result<(), sqlx::Error> {
        let ended = self.end_turn();
        let (mutex, turns, pool) = (
            self.mutex.clone(),
            (self.turns.clone(), self.key),
            self.pool.clone(),
        );
        drop(self);
        let outcome = match ended {
            Some(outcome) => outcome,
            None => group_outcome(receiver, mutex, turns, pool).await,
        };
        outcome.map_err(direct::group_failed)
    }

    /// Gives the writer up: commits the group unless a waiting writer continues it (one
    /// whose commune has not held the writer long lately, see [`Turns::next_may_join`]).
    fn end_turn(&mut self) -> GroupOutcome {
        self.turns.note_hold(self.key, self.began.elapsed());
        self.end_turn_keeping_open(self.turns.next_may_join())
    }

    /// Gives the writer up, leaving the group open for a waiting writer only if `keep_open`.
    fn end_turn_keeping_open(&mut self, keep_open: bool) -> GroupOutcome {
        let (statements, running) = self.writer.take_statements();
        self.turns.note_statements(statements, running);
        let started = std::time::Instant::now();
        let (outcome, checkpoint) = self.writer.end_turn(keep_open);
        if outcome.is_some() {
            self.turns.note_commit(started.elapsed());
        }
        if checkpoint {
            checkpoint_beside(&self.pool, self.writer.file());
        }
        outcome
    }
}

impl Drop for WriterTx {
    fn drop(&mut self) {
        if self.open {
            self.turns.note_hold(self.key, self.began.elapsed());
            self.writer.rollback_member();
            // This transaction may have read the group's uncommitted work (its twin's ballot)
            // and its caller answers as soon as it is dropped: commit that work now rather
            // than leave it to a later member, so the answer never outlives a crash's loss.
            // (`TenantTx::rollback` waits for the group instead and keeps it open.)
            if let Some(Err(e)) = self.end_turn_keeping_open(false) {
                tracing::error!(error = %e, "the group a rolled back transaction read from failed to commit");
            }
        }
    }
}

/// A passive checkpoint copies committed pages from the log back into the database `file`
/// without taking the write lock, on a pooled connection's thread; then the system starts
/// writing those pages to the disk ([`wal::write_back`]).
fn checkpoint_beside(pool: &AnyPool, file: &Arc<Path>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let pool = pool.clone();
    let file = file.clone();
    runtime.spawn(async move {
        if wal::passive(&pool).await.is_some() {
            wal::write_back(&file).await;
        }
    });
}

/// How long a member waits for its group to end before ending it itself (the writer it was
/// handed to went away, its request cancelled while waiting).
const GROUP_RESCUE: std::time::Duration = std::time::Duration::from_millis(20);

async fn group_outcome(
    mut outcome: tokio::sync::watch::Receiver<GroupOutcome>,
    mutex: Arc<Mutex<Option<DirectConn>>>,
    (turns, key): (Arc<Turns>, Key),
    pool: AnyPool,
) -> Result<(), Arc<str>> {
    loop {
        // The value is copied out at once: the channel's read guard cannot cross an await.
        let ended = tokio::time::timeout(GROUP_RESCUE, async {
            outcome
                .wait_for(Option::is_some)
                .await
                .map(|v| (*v).clone())
        })
        .await;
        match ended {
            Ok(Ok(ended)) => {
                return ended.unwrap_or_else(|| Err("transaction groupée sans issue".into()));
            }
            Ok(Err(_)) => return Err("le rédacteur SQLite a été fermé".into()),
            Err(_) => {
                // Holding a turn, no member is running: whatever group is open can end.
                let _turn = turns.take(key).await;
                let mut writer = mutex.lock().await;
                if let Some(writer) = writer.as_mut()
                    && writer.finish_group()
                {
                    checkpoint_beside(&pool, writer.file());
                }
            }
        }
    }
}

impl GroupTx {
    /// The tenant this transaction is bound to.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// Commits the transaction; on SQLite's writer, returns once its group is committed.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.inner {
            GroupInner::Pool(tx) => tx.commit().await,
            GroupInner::Writer(mut w) => {
                // A failed release leaves `open` set: the drop rolls this member back.
                let receiver = w.writer.release_member()?;
                w.open = false;
                w.leave(receiver).await
            }
        }
    }

    /// Rolls the transaction back, and returns once whatever it read is durable: on SQLite's
    /// writer it may have read the uncommitted work of its group (see `db/direct.rs`), so it
    /// waits for that group's commit, as a committing member does. An error means that work
    /// was lost: an answer based on it (« déjà fait ») must not be given.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.inner {
            GroupInner::Pool(tx) => tx.rollback().await,
            GroupInner::Writer(mut w) => {
                w.writer.rollback_member();
                w.open = false;
                let Some(receiver) = w.writer.group_outcome() else {
                    w.turns.note_hold(w.key, w.began.elapsed());
                    return Ok(());
                };
                w.leave(receiver).await
            }
        }
    }
}

/// Opens a plain connection check (used by `/healthz`).
pub async fn ping(db: &Db) -> bool {
    match db.pool.acquire().await {
        Ok(mut conn) => conn.ping().await.is_ok(),
        Err(_) => false,
    }
}
