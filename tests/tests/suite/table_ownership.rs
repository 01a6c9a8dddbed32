//! The table ownership list (`core/src/db/ownership.rs`) stays true to the schema the app
//! migrates, on both backends: every table is declared once and exists; a table carrying
//! `tenant_id` is tenant-owned or says why not; on PostgreSQL every tenant-owned table is behind
//! the one `tenant_isolation` policy, enabled and forced, and no other table is.

use std::collections::{BTreeMap, BTreeSet};

use parvis_core::db::ownership::{Owner, TABLES, TENANT_POLICY, Table};
use parvis_tests::{Backend, TestDb, both_backends};
use sqlx::Row as _;

/// What the migrated schema says of one table.
#[derive(Debug, Clone)]
struct Found {
    tenant_id: bool,
    /// PostgreSQL only.
    rls: Option<Rls>,
}

/// A table's Row-Level Security on PostgreSQL.
#[derive(Debug, Clone)]
struct Rls {
    enabled: bool,
    forced: bool,
    /// The `tenant_isolation` policy's command, USING and WITH CHECK expressions.
    policy: Option<(String, String, String)>,
}

/// One way the list and the schema disagree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Problem {
    Undeclared(String),
    Missing(String),
    DeclaredTwice(String),
    TenantIdWithoutReason(String),
    ReasonWithoutTenantId(String),
    TenantOwnedWithoutTenantId(String),
    RlsNotEnabled(String),
    RlsNotForced(String),
    NoPolicy(String),
    PolicyDiffers(String),
    RlsOnSharedTable(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Undeclared(t) => write!(f, "{t}: exists but is not declared"),
            Problem::Missing(t) => write!(f, "{t}: declared but does not exist"),
            Problem::DeclaredTwice(t) => write!(f, "{t}: declared more than once"),
            Problem::TenantIdWithoutReason(t) => write!(
                f,
                "{t}: carries tenant_id but is not tenant-owned, and says not why"
            ),
            Problem::ReasonWithoutTenantId(t) => {
                write!(f, "{t}: gives a reason but carries no tenant_id")
            }
            Problem::TenantOwnedWithoutTenantId(t) => {
                write!(f, "{t}: tenant-owned but carries no tenant_id")
            }
            Problem::RlsNotEnabled(t) => write!(f, "{t}: tenant-owned, RLS not enabled"),
            Problem::RlsNotForced(t) => write!(f, "{t}: tenant-owned, RLS not forced"),
            Problem::NoPolicy(t) => write!(f, "{t}: tenant-owned, no {TENANT_POLICY} policy"),
            Problem::PolicyDiffers(t) => write!(
                f,
                "{t}: its {TENANT_POLICY} policy differs from the other tables' \
                 (use parvis_isolate_tenant, migration 0024)"
            ),
            Problem::RlsOnSharedTable(t) => write!(
                f,
                "{t}: declared account- or platform-owned but has RLS: its reads across \
                 communes would see nothing"
            ),
        }
    }
}

/// The tables of the migrated schema, by name (sqlx's own bookkeeping left out).
async fn schema(db: &TestDb, backend: Backend) -> anyhow::Result<BTreeMap<String, Found>> {
    let mut tables = BTreeMap::new();
    match backend {
        Backend::Sqlite => {
            let rows = sqlx::query(
                "SELECT m.name, EXISTS (SELECT 1 FROM pragma_table_info(m.name) c \
                 WHERE c.name = 'tenant_id') AS tenant_id \
                 FROM sqlite_master m WHERE m.type = 'table' \
                 AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name <> '_sqlx_migrations'",
            )
            .fetch_all(db.db.platform())
            .await?;
            for row in rows {
                let tenant_id: i64 = row.try_get("tenant_id")?;
                tables.insert(
                    row.try_get("name")?,
                    Found {
                        tenant_id: tenant_id != 0,
                        rls: None,
                    },
                );
            }
        }
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT t.table_name::TEXT AS name, \
                   EXISTS (SELECT 1 FROM information_schema.columns k \
                     WHERE k.table_schema = t.table_schema AND k.table_name = t.table_name \
                       AND k.column_name = 'tenant_id') AS tenant_id, \
                   c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced, \
                   p.cmd::TEXT AS cmd, p.qual::TEXT AS qual, p.with_check::TEXT AS with_check \
                 FROM information_schema.tables t \
                 JOIN pg_namespace n ON n.nspname = t.table_schema \
                 JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name \
                 LEFT JOIN pg_policies p ON p.schemaname = t.table_schema \
                   AND p.tablename = t.table_name AND p.policyname = $1 \
                 WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
                   AND t.table_name <> '_sqlx_migrations'",
            )
            .bind(TENANT_POLICY)
            .fetch_all(db.db.platform())
            .await?;
            for row in rows {
                let cmd: Option<String> = row.try_get("cmd")?;
                let qual: Option<String> = row.try_get("qual")?;
                let with_check: Option<String> = row.try_get("with_check")?;
                let policy = cmd.map(|cmd| {
                    (
                        cmd,
                        qual.unwrap_or_default(),
                        with_check.unwrap_or_default(),
                    )
                });
                tables.insert(
                    row.try_get("name")?,
                    Found {
                        tenant_id: row.try_get("tenant_id")?,
                        rls: Some(Rls {
                            enabled: row.try_get("enabled")?,
                            forced: row.try_get("forced")?,
                            policy,
                        }),
                    },
                );
            }
        }
    }
    Ok(tables)
}

/// Everything on which `declared` and the schema `found` disagree.
fn problems(declared: &[Table], found: &BTreeMap<String, Found>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for table in declared {
        if !seen.insert(table.name) {
            problems.push(Problem::DeclaredTwice(table.name.into()));
        }
    }
    for name in found.keys() {
        if !seen.contains(name.as_str()) {
            problems.push(Problem::Undeclared(name.clone()));
        }
    }
    // The policy most tenant-owned tables have is the one they all should have (the
    // function's, in migration 0024, is the same text as the copies before it).
    let mut policies: BTreeMap<&(String, String, String), usize> = BTreeMap::new();
    for table in declared.iter().filter(|t| t.owner == Owner::Tenant) {
        if let Some(Found {
            rls: Some(Rls {
                policy: Some(policy),
                ..
            }),
            ..
        }) = found.get(table.name)
        {
            *policies.entry(policy).or_default() += 1;
        }
    }
    let usual = policies.iter().max_by_key(|(_, n)| **n).map(|(p, _)| *p);
    for table in declared {
        let name = || table.name.to_string();
        let Some(found) = found.get(table.name) else {
            problems.push(Problem::Missing(name()));
            continue;
        };
        match (table.owner, found.tenant_id, table.why) {
            (Owner::Tenant, false, _) => problems.push(Problem::TenantOwnedWithoutTenantId(name())),
            (Owner::Account | Owner::Platform, true, None) => {
                problems.push(Problem::TenantIdWithoutReason(name()))
            }
            (Owner::Account | Owner::Platform, false, Some(_)) => {
                problems.push(Problem::ReasonWithoutTenantId(name()))
            }
            _ => {}
        }
        let Some(rls) = &found.rls else {
            continue;
        };
        if table.owner != Owner::Tenant {
            if rls.enabled || rls.policy.is_some() {
                problems.push(Problem::RlsOnSharedTable(name()));
            }
            continue;
        }
        if !rls.enabled {
            problems.push(Problem::RlsNotEnabled(name()));
        }
        if !rls.forced {
            problems.push(Problem::RlsNotForced(name()));
        }
        match &rls.policy {
            None => problems.push(Problem::NoPolicy(name())),
            Some(policy) => {
                let canonical = policy.0 == "ALL"
                    && policy.1.contains("parvis.tenant_id")
                    && policy.2.contains("parvis.tenant_id");
                if !canonical || usual != Some(policy) {
                    problems.push(Problem::PolicyDiffers(name()));
                }
            }
        }
    }
    problems.sort();
    problems
}

fn report(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("\n  - {p}"))
        .collect::<String>()
}

both_backends!(
    every_table_is_declared_with_its_owner,
    |backend| async move {
        let db = TestDb::fresh(backend).await?;
        let found = schema(&db, backend).await?;
        assert!(
            found.len() >= TABLES.len(),
            "the schema was read: {found:?}"
        );
        let problems = problems(TABLES, &found);
        assert!(
            problems.is_empty(),
            "core/src/db/ownership.rs and the migrated schema disagree:{}",
            report(&problems)
        );
        Ok(())
    }
);

// Each check fails when its mistake is made: the list loses an entry, names a table that is
// gone, or leaves a reason out; the schema gains a table, and on PostgreSQL a tenant-owned
// table loses its policy, its forcing, its RLS, or gets another policy.
both_backends!(each_check_catches_its_mistake, |backend| async move {
    let db = TestDb::fresh(backend).await?;
    let pool = db.db.platform();
    sqlx::query("CREATE TABLE stray (tenant_id BIGINT NOT NULL)")
        .execute(pool)
        .await?;
    if backend == Backend::Postgres {
        for statement in [
            "ALTER TABLE notices_delivered NO FORCE ROW LEVEL SECURITY",
            "ALTER TABLE media DISABLE ROW LEVEL SECURITY",
            "DROP POLICY tenant_isolation ON messages",
            "ALTER POLICY tenant_isolation ON flags USING (true)",
            "ALTER TABLE digest_runs ENABLE ROW LEVEL SECURITY",
        ] {
            sqlx::query(statement).execute(pool).await?;
        }
    }
    let mut declared: Vec<Table> = TABLES
        .iter()
        .filter(|t| t.name != "posts")
        .map(|t| match t.name {
            "follows" => Table { why: None, ..*t },
            "sessions" => Table {
                why: Some("no reason needed"),
                ..*t
            },
            "platform_keys" => Table {
                owner: Owner::Tenant,
                ..*t
            },
            _ => *t,
        })
        .collect();
    declared.push(Table {
        name: "ghosts",
        owner: Owner::Platform,
        why: None,
    });
    declared.push(TABLES[0]);

    let found = schema(&db, backend).await?;
    let problems = problems(&declared, &found);
    let name = String::from;
    let mut expected = vec![
        Problem::Undeclared(name("posts")),
        Problem::Undeclared(name("stray")),
        Problem::Missing(name("ghosts")),
        Problem::DeclaredTwice(name(TABLES[0].name)),
        Problem::TenantIdWithoutReason(name("follows")),
        Problem::ReasonWithoutTenantId(name("sessions")),
        Problem::TenantOwnedWithoutTenantId(name("platform_keys")),
    ];
    if backend == Backend::Postgres {
        expected.extend([
            Problem::RlsNotForced(name("notices_delivered")),
            Problem::RlsNotEnabled(name("media")),
            Problem::NoPolicy(name("messages")),
            Problem::PolicyDiffers(name("flags")),
            Problem::RlsOnSharedTable(name("digest_runs")),
            // Declared tenant-owned by mistake, it has no RLS either.
            Problem::RlsNotEnabled(name("platform_keys")),
            Problem::RlsNotForced(name("platform_keys")),
            Problem::NoPolicy(name("platform_keys")),
        ]);
    }
    expected.sort();
    assert_eq!(problems, expected, "{}", report(&problems));
    Ok(())
});

/// A column as both backends can be compared: its type by SQLite's affinity (BIGINT and
/// INTEGER alike), and whether it may be NULL.
type Columns = BTreeMap<(String, String), (String, bool)>;

/// The columns and the named indexes (primary keys' and SQLite's automatic ones left out).
async fn shape(db: &TestDb, backend: Backend) -> anyhow::Result<(Columns, BTreeSet<String>)> {
    let (columns, indexes) = match backend {
        Backend::Sqlite => (
            "SELECT m.name AS tbl, c.name AS col, c.type AS type, \
               CASE WHEN c.\"notnull\" = 1 OR c.pk > 0 THEN 0 ELSE 1 END AS nullable \
             FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
               AND m.name <> '_sqlx_migrations'",
            "SELECT tbl_name || '.' || name AS name FROM sqlite_master \
             WHERE type = 'index' AND name NOT LIKE 'sqlite\\_autoindex%' ESCAPE '\\'",
        ),
        Backend::Postgres => (
            "SELECT table_name::TEXT AS tbl, column_name::TEXT AS col, data_type::TEXT AS type, \
               CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
            "SELECT (tablename || '.' || indexname)::TEXT AS name FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename <> '_sqlx_migrations' \
               AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'",
        ),
    };
    let mut shape = Columns::new();
    for row in sqlx::query(columns).fetch_all(db.db.platform()).await? {
        let declared: String = row.try_get("type")?;
        let nullable: i32 = row.try_get("nullable")?;
        shape.insert(
            (row.try_get("tbl")?, row.try_get("col")?),
            (affinity(&declared).into(), nullable != 0),
        );
    }
    let indexes = sqlx::query_scalar(indexes)
        .fetch_all(db.db.platform())
        .await?
        .into_iter()
        .collect();
    Ok((shape, indexes))
}

/// SQLite's type affinity of a declared type (section 3.1 of its datatype page), which also
/// sorts PostgreSQL's type names.
fn affinity(declared: &str) -> &'static str {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        "INTEGER"
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        "TEXT"
    } else if t.is_empty() || t.contains("BLOB") || t == "BYTEA" {
        "BLOB"
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        "REAL"
    } else {
        "NUMERIC"
    }
}

/// The two migration folders, each applied by the app, build the same tables, columns (loose
/// types, nullability) and indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migration_folders_build_the_same_schema() -> anyhow::Result<()> {
    let sqlite = TestDb::fresh(Backend::Sqlite).await?;
    let postgres = TestDb::fresh(Backend::Postgres).await?;
    let (lite_columns, lite_indexes) = shape(&sqlite, Backend::Sqlite).await?;
    let (pg_columns, pg_indexes) = shape(&postgres, Backend::Postgres).await?;
    let mut differences = Vec::new();
    for (key, lite) in &lite_columns {
        match pg_columns.get(key) {
            None => differences.push(format!("{}.{}: only on SQLite", key.0, key.1)),
            Some(pg) if pg != lite => differences.push(format!(
                "{}.{}: SQLite {lite:?}, PostgreSQL {pg:?} (affinity, nullable)",
                key.0, key.1
            )),
            Some(_) => {}
        }
    }
    for key in pg_columns.keys().filter(|k| !lite_columns.contains_key(*k)) {
        differences.push(format!("{}.{}: only on PostgreSQL", key.0, key.1));
    }
    for index in lite_indexes.difference(&pg_indexes) {
        differences.push(format!("index {index}: only on SQLite"));
    }
    for index in pg_indexes.difference(&lite_indexes) {
        differences.push(format!("index {index}: only on PostgreSQL"));
    }
    assert!(lite_columns.len() > 100, "the schema was read");
    assert!(
        differences.is_empty(),
        "migrations/sqlite and migrations/postgres disagree:\n  - {}",
        differences.join("\n  - ")
    );
    Ok(())
}
