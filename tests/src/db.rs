//! Fresh, migrated databases: a new SQLite file, or a new database on the PostgreSQL server
//! named by `PARVIS_TEST_PG_URL` (created per test, dropped by nobody: the CI cluster is throwaway).

use anyhow::{Context as _, Result};
use parvis_core::db::Db;

/// The backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on the test PostgreSQL server.
    Postgres,
}

/// A migrated database that lives as long as this value.
pub struct TestDb {
    /// The handle.
    pub db: Db,
    /// The URL, for starting the binary on the same database.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// The PostgreSQL server URL for tests (a non-superuser role with CREATEDB, so RLS applies).
pub fn pg_admin_url() -> Result<String> {
    std::env::var("PARVIS_TEST_PG_URL").context(
        "PARVIS_TEST_PG_URL is not set: run the tests through scripts/test, which starts PostgreSQL",
    )
}

impl TestDb {
    /// Creates and migrates a fresh database on `backend`.
    pub async fn fresh(backend: Backend) -> Result<TestDb> {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}/parvis.db", dir.path().display());
                (url, Some(dir))
            }
            Backend::Postgres => {
                let admin = pg_admin_url()?;
                let name = format!("parvis_test_{}", uuid::Uuid::now_v7().simple());
                let admin_db = Db::connect(&admin).await?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(admin_db.platform())
                    .await
                    .context("CREATE DATABASE on the test server")?;
                admin_db.close().await;
                let mut url = url::Url::parse(&admin)?;
                url.set_path(&format!("/{name}"));
                (url.to_string(), None)
            }
        };
        let db = Db::connect(&url).await?;
        db.migrate().await?;
        Ok(TestDb { db, url, _dir: dir })
    }
}
