//! Storage: one pool on SQLite (embedded default) or PostgreSQL, chosen by `DATABASE_URL`.
//!
//! Queries are written once in portable SQL (`$1…$n` placeholders, BIGINT/TEXT/DOUBLE/BLOB
//! columns) and run through sqlx's `Any` driver. Platform tables (communes, tenants, accounts)
//! are reached through [`Db::pool`]; tenant-owned tables only through a [`TenantTx`], which
//! carries the tenant resolved from the request and, on PostgreSQL, sets it for Row-Level
//! Security so a query that forgets its `tenant_id` filter still sees nothing of other tenants.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::Once;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{
    Any, AnyConnection, AnyPool, ConnectOptions as _, Connection as _, Executor as _, Transaction,
};

use crate::types::TenantId;

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
    #[error("DATABASE_URL non reconnue : « {0} » (attendu sqlite://… ou postgres://…)")]
    UnsupportedUrl(String),
    /// The database could not be reached or answered an error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration de la base de données impossible : {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The SQLite directory could not be created.
    #[error("impossible de créer le dossier de la base de données {0} : {1}")]
    Io(String, std::io::Error),
}

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time: write transactions queue here, in order and woken at
    /// once, instead of sleeping in SQLite's busy handler while the lock is held.
    writer: Arc<tokio::sync::Mutex<()>>,
}

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
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Db {
            pool,
            backend,
            writer: Arc::default(),
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

    /// The pool, for platform tables only (communes, tenants, accounts, sessions, jobs).
    /// Tenant-owned tables go through [`Db::tenant`].
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A handle scoped to one tenant: the only way to reach tenant-owned rows.
    pub fn tenant(&self, tenant: TenantId) -> TenantDb {
        TenantDb {
            db: self.clone(),
            tenant,
        }
    }

    /// A transaction on platform tables that reads, then writes. On SQLite it takes the write
    /// lock at `BEGIN IMMEDIATE`, where the busy timeout queues it behind other writers; a
    /// plain (deferred) transaction would fail its first write with "database is locked" if
    /// another writer committed after its first read.
    pub async fn begin_immediate(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// A transaction for platform-wide maintenance across tenants (registry imports). On
    /// PostgreSQL it opts out of the per-tenant Row-Level Security wall for this transaction
    /// only; request handlers never use it.
    pub async fn platform_tx(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT set_config('parvis.platform', 'on', true)")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Whether [`Db::close`] was called: background loops end then.
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `$from, $from+1, …` for `n` bound values (an `IN (…)` list).
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Makes `sqlite://path` create its file (and folder) when missing.
fn sqlite_url_with_create(url: &str) -> Result<String, DbError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or_default();
    if !path.is_empty()
        && path != ":memory:"
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

    /// Opens a transaction bound to this tenant (on PostgreSQL, Row-Level Security sees only it).
    pub async fn begin(&self) -> Result<TenantTx, sqlx::Error> {
        self.begin_inner(false).await
    }

    /// Like [`TenantDb::begin`], for a transaction that reads then writes: on SQLite it takes
    /// the write lock at once (`BEGIN IMMEDIATE`), so a concurrent writer makes it wait (busy
    /// timeout) instead of failing it when it upgrades from reading to writing.
    pub async fn begin_write(&self) -> Result<TenantTx, sqlx::Error> {
        self.begin_inner(true).await
    }

    async fn begin_inner(&self, write: bool) -> Result<TenantTx, sqlx::Error> {
        let mut writer = None;
        let mut tx = if write && self.db.backend == Backend::Sqlite {
            writer = Some(self.db.writer.clone().lock_owned().await);
            self.db.pool.begin_with("BEGIN IMMEDIATE").await?
        } else {
            self.db.pool.begin().await?
        };
        if self.db.backend == Backend::Postgres {
            sqlx::query("SELECT set_config('parvis.tenant_id', $1, true)")
                .bind(self.tenant.0.to_string())
                .execute(&mut *tx)
                .await?;
        }
        Ok(TenantTx {
            tx,
            tenant: self.tenant,
            _writer: writer,
        })
    }
}

/// A transaction on tenant-owned rows; dereferences to the connection for sqlx queries.
/// Dropped without [`TenantTx::commit`], it rolls back: nothing is half-written.
pub struct TenantTx {
    tx: Transaction<'static, Any>,
    tenant: TenantId,
    /// Held until the transaction ends (declared after it, so dropped after the rollback).
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl TenantTx {
    /// The tenant this transaction is bound to; bind it as `tenant_id` in every statement.
    pub fn tenant_id(&self) -> i64 {
        self.tenant.0
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Deref for TenantTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// Opens a plain connection check (used by `/healthz`).
pub async fn ping(db: &Db) -> bool {
    match db.pool.acquire().await {
        Ok(mut conn) => conn.ping().await.is_ok(),
        Err(_) => false,
    }
}
