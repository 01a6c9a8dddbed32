//! SQL of the module host: installed versions (platform tables), each commune's modules and
//! entitlements, and the modules' documents, indexes, unique values and counters. Every
//! tenant-owned statement is scoped by its transaction ([`TenantSql::scoped`] binds the tenant
//! as `$1`) and binds the calling module's id. They are written in the narrow API of
//! [`crate::db::sql`]: a module's call runs them on SQLite's writer in its own task.

use crate::db::{Db, TenantSql, sql};
use crate::types::ModuleId;
use crate::util::now;

/// A module version as stored.
#[derive(Debug, Clone, sql::Row)]
pub struct StoredVersion {
    /// Module id.
    #[row(rename = "module_id")]
    pub id: String,
    /// Semantic version.
    pub version: String,
    /// SHA-256 of the component.
    pub sha256: String,
    /// The manifest, as JSON.
    pub manifest: String,
    /// The component.
    pub wasm: Vec<u8>,
}

/// Why a version could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum InstallConflict {
    /// The same id and version exist with other bytes.
    #[error(
        "la version {version} du module {id} est déjà installée avec un autre contenu : changez le numéro de version"
    )]
    DifferentContent {
        /// Module id.
        id: String,
        /// Version.
        version: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Registers a version and makes it the one served. Returns false if this exact version was
/// already installed (idempotent).
pub async fn install_version(
    db: &Db,
    v: &StoredVersion,
    name: &str,
    premium: bool,
) -> Result<bool, InstallConflict> {
    let mut tx = db.begin_immediate().await?;
    let existing: Option<String> = sql::query_scalar(
        "SELECT sha256 FROM module_versions WHERE module_id = $1 AND version = $2",
    )
    .bind(&v.id)
    .bind(&v.version)
    .fetch_optional(&mut *tx)
    .await?;
    let fresh = match existing {
        Some(sha) if sha != v.sha256 => {
            return Err(InstallConflict::DifferentContent {
                id: v.id.clone(),
                version: v.version.clone(),
            });
        }
        Some(_) => false,
        None => {
            sql::query(
                "INSERT INTO module_versions (module_id, version, sha256, name, premium, manifest, wasm, installed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&v.id)
            .bind(&v.version)
            .bind(&v.sha256)
            .bind(name)
            .bind(i64::from(premium))
            .bind(&v.manifest)
            .bind(v.wasm.clone())
            .bind(now())
            .execute(&mut *tx)
            .await?;
            true
        }
    };
    let current: Option<String> = sql::query_scalar("SELECT version FROM modules WHERE id = $1")
        .bind(&v.id)
        .fetch_optional(&mut *tx)
        .await?;
    if current.as_deref() != Some(v.version.as_str()) {
        sql::query(
            "INSERT INTO modules (id, version, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(&v.id)
        .bind(&v.version)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(fresh || current.as_deref() != Some(v.version.as_str()))
}

/// `(id, version)` of every served module, by id: changes when a version is installed.
pub async fn served_versions(db: &Db) -> Result<Vec<(String, String)>, sqlx::Error> {
    sql::query_as("SELECT id, version FROM modules ORDER BY id")
        .fetch_all(db.platform())
        .await
}

/// The served version of one module, with its component.
pub async fn served_version(db: &Db, id: &str) -> Result<Option<StoredVersion>, sqlx::Error> {
    sql::query_as(
        "SELECT v.module_id, v.version, v.sha256, v.manifest, v.wasm FROM modules m \
         JOIN module_versions v ON v.module_id = m.id AND v.version = m.version WHERE m.id = $1",
    )
    .bind(id)
    .fetch_optional(db.platform())
    .await
}

/// A commune's choice for one module.
#[derive(Debug, Clone)]
pub struct TenantModule {
    /// Module id.
    pub module_id: String,
    /// Switched on.
    pub enabled: bool,
    /// Settings, a JSON object.
    pub settings: String,
    /// Why the host switched it off, after repeated faults.
    pub fault_reason: Option<String>,
}

impl sql::FromRow for TenantModule {
    fn from_row(row: &sql::Row) -> Result<Self, sqlx::Error> {
        Ok(TenantModule {
            module_id: row.get("module_id")?,
            enabled: row.get("enabled")?,
            settings: row.get("settings")?,
            fault_reason: row.get("fault_reason")?,
        })
    }
}

/// Every module row of the transaction's commune.
pub async fn tenant_modules(tx: &mut impl TenantSql) -> Result<Vec<TenantModule>, sqlx::Error> {
    tx.scoped_as(
        "SELECT module_id, enabled, settings, fault_reason FROM tenant_modules WHERE tenant_id = $1",
    )
    .fetch_all(tx)
    .await
}

/// Switches a module on or off for the commune (`fault_reason` when the host does it).
pub async fn set_enabled(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    enabled: bool,
    fault_reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO tenant_modules (tenant_id, module_id, enabled, fault_reason, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, module_id) DO UPDATE SET \
         enabled = excluded.enabled, fault_reason = excluded.fault_reason, updated_at = excluded.updated_at",
    )
    .bind(module.as_str())
    .bind(i64::from(enabled))
    .bind(fault_reason)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(())
}

/// Replaces a module's settings for the commune (the row must exist or is created disabled).
pub async fn set_settings(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    settings: &str,
) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO tenant_modules (tenant_id, module_id, enabled, settings, updated_at) \
         VALUES ($1, $2, 0, $3, $4) ON CONFLICT (tenant_id, module_id) DO UPDATE SET \
         settings = excluded.settings, updated_at = excluded.updated_at",
    )
    .bind(module.as_str())
    .bind(settings)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether the commune holds a current entitlement to a premium module.
pub async fn entitled(tx: &mut impl TenantSql, module: &ModuleId) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = tx
        .scoped_scalar(
            "SELECT 1 FROM module_entitlements WHERE tenant_id = $1 AND module_id = $2 \
         AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(module.as_str())
        .bind(now())
        .fetch_optional(tx)
        .await?;
    Ok(found.is_some())
}

/// The commune's entitlement to a module: who granted it and until when.
pub async fn entitlement(
    tx: &mut impl TenantSql,
    module: &ModuleId,
) -> Result<Option<(String, Option<i64>)>, sqlx::Error> {
    tx.scoped_as(
        "SELECT source, expires_at FROM module_entitlements WHERE tenant_id = $1 AND module_id = $2",
    )
    .bind(module.as_str())
    .fetch_optional(tx)
    .await
}

/// Withdraws an entitlement.
pub async fn revoke_entitlement(
    tx: &mut impl TenantSql,
    module: &ModuleId,
) -> Result<(), sqlx::Error> {
    tx.scoped("DELETE FROM module_entitlements WHERE tenant_id = $1 AND module_id = $2")
        .bind(module.as_str())
        .execute(tx)
        .await?;
    Ok(())
}

/// Whether the module is switched on for the commune.
pub async fn is_enabled(tx: &mut impl TenantSql, module: &ModuleId) -> Result<bool, sqlx::Error> {
    let on: Option<i64> = tx
        .scoped_scalar(
            "SELECT 1 FROM tenant_modules WHERE tenant_id = $1 AND module_id = $2 AND enabled = 1",
        )
        .bind(module.as_str())
        .fetch_optional(tx)
        .await?;
    Ok(on.is_some())
}

/// Grants (or extends) an entitlement.
pub async fn grant_entitlement(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    source: &str,
    expires_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO module_entitlements (tenant_id, module_id, source, granted_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, module_id) DO UPDATE SET \
         source = excluded.source, granted_at = excluded.granted_at, expires_at = excluded.expires_at",
    )
    .bind(module.as_str())
    .bind(source)
    .bind(now())
    .bind(expires_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Every commune (id, slug) where a module is enabled, for scheduled ticks (platform-wide read).
pub async fn tenants_with(
    db: &Db,
    module: &str,
) -> Result<Vec<(crate::types::TenantId, String)>, sqlx::Error> {
    let mut tx = db.platform_tx().await?;
    let rows = sql::query_as(
        "SELECT m.tenant_id, t.slug FROM tenant_modules m JOIN tenants t ON t.id = m.tenant_id \
         WHERE m.module_id = $1 AND m.enabled = 1 ORDER BY m.tenant_id",
    )
    .bind(module)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// How many communes enabled each module (for `parvis module list`).
pub async fn enabled_counts(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut tx = db.platform_tx().await?;
    let rows = sql::query_as(
        "SELECT module_id, COUNT(*) AS n FROM tenant_modules WHERE enabled = 1 GROUP BY module_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Documents, indexes, unique values and counters of one module in one commune.

/// A stored document.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Key in its collection.
    pub key: String,
    /// JSON text.
    pub value: String,
    /// Write count.
    pub version: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

impl sql::FromRow for Doc {
    fn from_row(row: &sql::Row) -> Result<Self, sqlx::Error> {
        Ok(Doc {
            key: row.get("key")?,
            value: row.get("value")?,
            version: row.get("version")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// A name/value pair of an index or a unique constraint.
pub type Entry = (String, String);

/// Reads one document.
pub async fn get(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    key: &str,
) -> Result<Option<Doc>, sqlx::Error> {
    tx.scoped_as(
        "SELECT key, value, version, created_at, updated_at FROM module_docs \
         WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 AND key = $4",
    )
    .bind(module.as_str())
    .bind(collection)
    .bind(key)
    .fetch_optional(tx)
    .await
}

/// Writes a document for the host itself, outside a module call (no quota, no per-call
/// bound; the change is added to the module's usage at once, so the usage stays exact). Module
/// calls write through [`write_within`].
#[allow(clippy::too_many_arguments)]
pub async fn write(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    key: &str,
    value: &str,
    indexes: &[Entry],
    unique: &[Entry],
    create_only: bool,
    expected: Option<i64>,
    now_ms: i64,
) -> Result<Doc, WriteError> {
    let unbounded = Footprint {
        bytes: i64::MAX,
        documents: i64::MAX,
    };
    let (doc, change) = write_within(
        tx,
        module,
        collection,
        key,
        value,
        indexes,
        unique,
        create_only,
        expected,
        now_ms,
        unbounded,
    )
    .await?;
    if change != Footprint::default() {
        add_usage(tx, module, 0, change).await?;
    }
    Ok(doc)
}

/// What a write ran into.
#[derive(Debug)]
pub enum WriteError {
    /// The key exists (insert), the version moved on (put), or this unique value is taken.
    Conflict(String),
    /// The write would grow the module's storage by this much, more than the room it was
    /// given: nothing was written.
    Quota(Footprint),
    /// Storage failed.
    Db(sqlx::Error),
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        WriteError::Db(e)
    }
}

/// Writes a document (`create_only`: fail if it exists; `expected`: the version it must have,
/// 0 = absent), replacing its index entries and unique values, and returns it with the change
/// in the module's storage (see [`doc_size`]). A write that would grow the storage by more
/// than `room` is refused with [`WriteError::Quota`] before anything is written. A conflict
/// leaves nothing written (a savepoint guards the unique values).
#[allow(clippy::too_many_arguments)]
pub async fn write_within(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    key: &str,
    value: &str,
    indexes: &[Entry],
    unique: &[Entry],
    create_only: bool,
    expected: Option<i64>,
    now_ms: i64,
    room: Footprint,
) -> Result<(Doc, Footprint), WriteError> {
    // The stored document's version, creation time and the parts of its size.
    let current: Option<(i64, i64, i64, i64, i64)> = if create_only && expected.is_none() {
        None
    } else {
        tx.scoped_as(&format!(
            "SELECT d.version, d.created_at, {SIZE_PARTS} FROM module_docs d \
             WHERE d.tenant_id = $1 AND d.module_id = $2 AND d.collection = $3 AND d.key = $4"
        ))
        .bind(module.as_str())
        .bind(collection)
        .bind(key)
        .fetch_optional(tx)
        .await?
    };
    let size = current.map_or(0, |c| c.2 + c.3 + c.4);
    let change = Footprint {
        bytes: doc_size(collection, key, value, indexes, unique) - size,
        documents: i64::from(current.is_none()),
    };
    if change.bytes > room.bytes.max(0) || change.documents > room.documents.max(0) {
        return Err(WriteError::Quota(change));
    }
    let current = current.map(|c| Stored {
        version: c.0,
        created_at: c.1,
        indexed: c.3 > 0,
        unique: c.4 > 0,
    });
    if let Some(want) = expected {
        let have = current.map(|c| c.version).unwrap_or(0);
        if have != want {
            return Err(WriteError::Conflict(format!(
                "version {have} enregistrée, {want} attendue"
            )));
        }
    }
    if create_only && current.is_some() {
        return Err(WriteError::Conflict(format!(
            "la clé « {key} » existe déjà"
        )));
    }
    let guarded = !unique.is_empty();
    if guarded {
        tx.control("SAVEPOINT module_write").execute(tx).await?;
    }
    let result = write_rows(
        tx,
        module,
        collection,
        key,
        value,
        indexes,
        unique,
        current,
        expected.is_some(),
        now_ms,
    )
    .await;
    if guarded {
        let end = if result.is_ok() {
            "RELEASE SAVEPOINT module_write"
        } else {
            "ROLLBACK TO SAVEPOINT module_write"
        };
        tx.control(end).execute(tx).await?;
    }
    result.map(|doc| (doc, change))
}

/// A stored document as a write finds it.
#[derive(Debug, Clone, Copy)]
struct Stored {
    version: i64,
    created_at: i64,
    /// It has index entries.
    indexed: bool,
    /// It has unique values.
    unique: bool,
}

#[allow(clippy::too_many_arguments)]
async fn write_rows(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    key: &str,
    value: &str,
    indexes: &[Entry],
    unique: &[Entry],
    current: Option<Stored>,
    checked: bool,
    now_ms: i64,
) -> Result<Doc, WriteError> {
    let m = module.as_str();
    let (version, created_at) = match current {
        None => {
            let done = tx.scoped(
                "INSERT INTO module_docs (tenant_id, module_id, collection, key, value, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $6) ON CONFLICT DO NOTHING",
            )
            .bind(m)
            .bind(collection)
            .bind(key)
            .bind(value)
            .bind(now_ms)
            .execute(tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(WriteError::Conflict(format!(
                    "la clé « {key} » existe déjà"
                )));
            }
            (1, now_ms)
        }
        Some(Stored {
            version,
            created_at,
            indexed,
            unique: had_unique,
        }) => {
            // A write at an expected version checks it again in the write itself: under
            // PostgreSQL's read committed, a call that wrote between this call's read and its
            // write would otherwise be overwritten (two supports of one idea, one increment
            // lost). The second write waits for the first to commit, finds another version,
            // and is a conflict the module can retry. (A plain replace keeps its last-writer
            // semantics: `$7` is then the version the write itself reads.)
            let done = tx
                .scoped(
                    "UPDATE module_docs SET value = $5, version = version + 1, updated_at = $6 \
                     WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 AND key = $4 \
                     AND ($7 = 0 OR version = $7)",
                )
                .bind(m)
                .bind(collection)
                .bind(key)
                .bind(value)
                .bind(now_ms)
                .bind(if checked { version } else { 0 })
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(WriteError::Conflict(format!(
                    "« {key} » a été modifié entre-temps"
                )));
            }
            // Entries the document had are replaced. One it had none of is skipped (a tally,
            // rewritten at each vote, has neither): the version checked in the update says no
            // one wrote the document since it was read. A plain replace deletes anyway: on
            // PostgreSQL a write committed since the read may have added some.
            for (table, had) in [("module_index", indexed), ("module_unique", had_unique)] {
                if checked && !had {
                    continue;
                }
                tx.scoped(&format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 AND key = $4"
                ))
                .bind(m)
                .bind(collection)
                .bind(key)
                .execute(tx)
                .await?;
            }
            (version + 1, created_at)
        }
    };
    if !indexes.is_empty() {
        let mut sql = String::from(
            "INSERT INTO module_index (tenant_id, module_id, collection, key, name, value) VALUES ",
        );
        for i in 0..indexes.len() {
            let b = 5 + i * 2;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("($1, $2, $3, $4, ${b}, ${})", b + 1));
        }
        sql.push_str(" ON CONFLICT DO NOTHING");
        let mut q = tx.scoped(&sql).bind(m).bind(collection).bind(key);
        for (name, value) in indexes {
            q = q.bind(name).bind(value);
        }
        q.execute(tx).await?;
    }
    for (name, value) in unique {
        let done = tx
            .scoped(
                "INSERT INTO module_unique (tenant_id, module_id, collection, key, name, value) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(m)
            .bind(collection)
            .bind(key)
            .bind(name)
            .bind(value)
            .execute(tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(WriteError::Conflict(format!(
                "la valeur « {value} » de « {name} » est déjà prise"
            )));
        }
    }
    Ok(Doc {
        key: key.to_string(),
        value: value.to_string(),
        version,
        created_at,
        updated_at: now_ms,
    })
}

/// Deletes a document (its index entries and unique values go with it); returns the space
/// given back (negative), or `None` if there was no such document.
pub async fn delete(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    key: &str,
) -> Result<Option<Footprint>, sqlx::Error> {
    let size: Option<i64> = tx
        .scoped_scalar(&format!(
            "SELECT {SIZE_OF_DOC} FROM module_docs d \
         WHERE d.tenant_id = $1 AND d.module_id = $2 AND d.collection = $3 AND d.key = $4"
        ))
        .bind(module.as_str())
        .bind(collection)
        .bind(key)
        .fetch_optional(tx)
        .await?;
    let Some(size) = size else {
        return Ok(None);
    };
    let done = tx.scoped(
        "DELETE FROM module_docs WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 AND key = $4",
    )
    .bind(module.as_str())
    .bind(collection)
    .bind(key)
    .execute(tx)
    .await?;
    Ok((done.rows_affected() > 0).then_some(Footprint {
        bytes: -size,
        documents: -1,
    }))
}

/// A page query over one collection.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Collection.
    pub collection: String,
    /// Only documents with this index entry.
    pub index: Option<Entry>,
    /// Only keys with this prefix.
    pub prefix: Option<String>,
    /// Keys after (or before, descending) this one.
    pub after: Option<String>,
    /// Page size (the caller bounds it).
    pub limit: u32,
    /// Newest keys first.
    pub descending: bool,
    /// Only documents placed in this neighbourhood of the commune (`crate::neighbourhoods`).
    pub neighbourhood: Option<String>,
}

/// One page of documents ordered by key, and the cursor of the next page.
pub async fn list(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    q: &ListQuery,
) -> Result<(Vec<Doc>, Option<String>), sqlx::Error> {
    if let Some(neighbourhood) = &q.neighbourhood {
        return list_in_neighbourhood(tx, module, q, neighbourhood).await;
    }
    let (mut sql, n) = docs_from(q.index.is_some());
    // With an index entry, the range and the order are on the entry's key (the same value):
    // the database then walks that entry's keys in order and stops at the limit. Ordered by
    // the document's key, SQLite walked the whole collection in key order looking for entries,
    // which for an entry with few documents among millions is a full scan (2.4 s for a
    // participant with no vote among 2,000,000 ballots: `--bench consultations`).
    let column = if q.index.is_some() { "i.key" } else { "d.key" };
    let n = key_range(&mut sql, column, n, q, q.after.is_some());
    sql.push_str(&format!(
        " ORDER BY {column} {} LIMIT ${}",
        order(q.descending),
        n + 1
    ));
    let query = tx
        .scoped_as::<Doc>(&sql)
        .bind(module.as_str())
        .bind(&q.collection);
    let query = bind_range(bind_index(query, q), q, q.after.as_deref());
    let docs = query.bind(i64::from(q.limit) + 1).fetch_all(tx).await?;
    Ok(page(docs, q.limit))
}

/// The head of a query of documents: their columns, joined to the query's index entry when
/// it has one (`$4`, `$5`), and the collection's condition. Returns the last `$N` used.
fn docs_from(index: bool) -> (String, usize) {
    let mut sql = String::from(
        "SELECT d.key, d.value, d.version, d.created_at, d.updated_at FROM module_docs d ",
    );
    if index {
        sql.push_str(
            "JOIN module_index i ON i.tenant_id = d.tenant_id AND i.module_id = d.module_id \
             AND i.collection = d.collection AND i.key = d.key AND i.name = $4 AND i.value = $5 ",
        );
    }
    sql.push_str("WHERE d.tenant_id = $1 AND d.module_id = $2 AND d.collection = $3");
    (sql, if index { 5 } else { 3 })
}

/// Appends the query's key prefix and, when `after`, the cursor, on `column`, from `$n + 1`.
/// Returns the last `$N` used; [`bind_range`] binds them in the same order.
fn key_range(sql: &mut String, column: &str, mut n: usize, q: &ListQuery, after: bool) -> usize {
    if q.prefix.is_some() {
        sql.push_str(&format!(
            " AND substr({column}, 1, CAST(${} AS INTEGER)) = ${}",
            n + 1,
            n + 2
        ));
        n += 2;
    }
    if after {
        let cmp = if q.descending { "<" } else { ">" };
        sql.push_str(&format!(" AND {column} {cmp} ${}", n + 1));
        n += 1;
    }
    n
}

/// Binds what [`key_range`] wrote.
fn bind_range<B: sql::Bind>(mut query: B, q: &ListQuery, after: Option<&str>) -> B {
    if let Some(prefix) = &q.prefix {
        query = query
            .bind(i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX))
            .bind(prefix.clone());
    }
    if let Some(after) = after {
        query = query.bind(after.to_string());
    }
    query
}

/// Binds the query's index entry, if [`docs_from`] joined one.
fn bind_index<B: sql::Bind>(query: B, q: &ListQuery) -> B {
    match &q.index {
        Some((name, value)) => query.bind(name.clone()).bind(value.clone()),
        None => query,
    }
}

fn order(descending: bool) -> &'static str {
    if descending { "DESC" } else { "ASC" }
}

/// The page of `limit` documents out of `limit + 1` read, and the next page's cursor.
fn page(mut docs: Vec<Doc>, limit: u32) -> (Vec<Doc>, Option<String>) {
    let next = if docs.len() > limit as usize {
        docs.truncate(limit as usize);
        docs.last().map(|d| d.key.clone())
    } else {
        None
    };
    (docs, next)
}

/// Keys read at a time from a neighbourhood's index by [`list_in_neighbourhood`].
const NEIGHBOURHOOD_KEYS: usize = 64;

/// [`list`] within a neighbourhood. The keys are walked in order on the neighbourhood's index
/// (a one-table `ORDER BY key LIMIT`, which any plan serves from the index), a few dozen at a
/// time, and only those documents are read, with the query's other filters: a join of the
/// three tables let PostgreSQL's generic plan sort a whole neighbourhood for each page.
async fn list_in_neighbourhood(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    q: &ListQuery,
    neighbourhood: &str,
) -> Result<(Vec<Doc>, Option<String>), sqlx::Error> {
    let wanted = q.limit as usize + 1;
    let mut docs: Vec<Doc> = Vec::new();
    let mut cursor = q.after.clone();
    loop {
        let mut sql = String::from(
            "SELECT key FROM module_place_neighbourhoods WHERE tenant_id = $1 AND module_id = $2 \
             AND collection = $3 AND neighbourhood = $4",
        );
        let n = key_range(&mut sql, "key", 4, q, cursor.is_some());
        sql.push_str(&format!(
            " ORDER BY key {} LIMIT ${}",
            order(q.descending),
            n + 1
        ));
        let keys_query = tx
            .scoped_scalar::<String>(&sql)
            .bind(module.as_str())
            .bind(&q.collection)
            .bind(neighbourhood);
        let keys: Vec<String> = bind_range(keys_query, q, cursor.as_deref())
            .bind(i64::try_from(NEIGHBOURHOOD_KEYS).unwrap_or(i64::MAX))
            .fetch_all(tx)
            .await?;
        let Some(last) = keys.last().cloned() else {
            break;
        };
        // Those of the keys whose documents pass the query's index entry, in key order.
        let (mut sql, n) = docs_from(q.index.is_some());
        sql.push_str(&format!(
            " AND d.key IN ({}) ORDER BY d.key {}",
            crate::db::placeholders(n + 1, keys.len()),
            order(q.descending)
        ));
        let mut docs_query = bind_index(
            tx.scoped_as::<Doc>(&sql)
                .bind(module.as_str())
                .bind(&q.collection),
            q,
        );
        for key in &keys {
            docs_query = docs_query.bind(key);
        }
        docs.extend(docs_query.fetch_all(tx).await?);
        if docs.len() >= wanted || keys.len() < NEIGHBOURHOOD_KEYS {
            break;
        }
        cursor = Some(last);
    }
    Ok(page(docs, q.limit))
}

/// Number of documents of a collection, or with one index entry.
pub async fn count(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    index: Option<&Entry>,
) -> Result<i64, sqlx::Error> {
    let q = match index {
        None => tx.scoped_scalar(
            "SELECT COUNT(*) FROM module_docs WHERE tenant_id = $1 AND module_id = $2 AND collection = $3",
        )
        .bind(module.as_str())
        .bind(collection),
        Some((name, value)) => tx.scoped_scalar(
            "SELECT COUNT(*) FROM module_index WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 \
             AND name = $4 AND value = $5",
        )
        .bind(module.as_str())
        .bind(collection)
        .bind(name)
        .bind(value),
    };
    q.fetch_one(tx).await
}

/// How many documents of a collection (with one index entry, if given) are placed in each
/// neighbourhood of the commune, by neighbourhood id (those with none left out).
pub async fn neighbourhood_counts(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    index: Option<&Entry>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let q = match index {
        None => tx
            .scoped_as(
                "SELECT neighbourhood, COUNT(*) FROM module_place_neighbourhoods \
                 WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 \
                 GROUP BY neighbourhood ORDER BY neighbourhood",
            )
            .bind(module.as_str())
            .bind(collection),
        Some((name, value)) => tx
            .scoped_as(
                "SELECT p.neighbourhood, COUNT(*) FROM module_place_neighbourhoods p \
                 JOIN module_index i ON i.tenant_id = p.tenant_id AND i.module_id = p.module_id \
                   AND i.collection = p.collection AND i.key = p.key AND i.name = $4 AND i.value = $5 \
                 WHERE p.tenant_id = $1 AND p.module_id = $2 AND p.collection = $3 \
                 GROUP BY p.neighbourhood ORDER BY p.neighbourhood",
            )
            .bind(module.as_str())
            .bind(collection)
            .bind(name)
            .bind(value),
    };
    q.fetch_all(tx).await
}

/// Adds `delta` to a counter and returns its new value, with the growth of the module's
/// storage (a new counter: [`counter_size`]). Creating a counter that needs more than
/// `room_bytes` is refused with [`WriteError::Quota`].
///
/// An existing counter is one UPDATE (a vote's path). Otherwise the insert tells whether this
/// call created it: if another transaction created it meanwhile, PostgreSQL's insert waits for
/// it and does nothing, and the update is run again; so the count stays exact.
pub async fn incr<T: TenantSql>(
    tx: &mut T,
    module: &ModuleId,
    name: &str,
    delta: i64,
    room_bytes: i64,
) -> Result<(i64, Footprint), WriteError> {
    let update = async |tx: &mut T| {
        tx.scoped_scalar::<i64>(
            "UPDATE module_counters SET value = value + $4 \
             WHERE tenant_id = $1 AND module_id = $2 AND name = $3 RETURNING value",
        )
        .bind(module.as_str())
        .bind(name)
        .bind(delta)
        .fetch_optional(tx)
        .await
    };
    if let Some(value) = update(tx).await? {
        return Ok((value, Footprint::default()));
    }
    let grows = Footprint {
        bytes: counter_size(name),
        documents: 0,
    };
    if grows.bytes > room_bytes {
        return Err(WriteError::Quota(grows));
    }
    let created = tx.scoped(
        "INSERT INTO module_counters (tenant_id, module_id, name, value) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, module_id, name) DO NOTHING",
    )
    .bind(module.as_str())
    .bind(name)
    .bind(delta)
    .execute(tx)
    .await?;
    if created.rows_affected() > 0 {
        return Ok((delta, grows));
    }
    match update(tx).await? {
        Some(value) => Ok((value, Footprint::default())),
        None => Err(WriteError::Db(sqlx::Error::RowNotFound)),
    }
}

/// Counters whose names start with `prefix`.
pub async fn counters(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    prefix: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    tx.scoped_as(
        "SELECT name, value FROM module_counters WHERE tenant_id = $1 AND module_id = $2 \
         AND substr(name, 1, CAST($3 AS INTEGER)) = $4 ORDER BY name",
    )
    .bind(module.as_str())
    .bind(i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX))
    .bind(prefix)
    .fetch_all(tx)
    .await
}

/// The prefix of a counter a module publishes as a figure (contract 0.2.7, `indicators`).
pub const INDICATOR_PREFIX: &str = "indicateur:";

/// Most counters [`indicators`] reads for one call: past it the commune has far more figures
/// than a map shows, and the call is refused rather than slowed.
pub const MAX_INDICATOR_ROWS: usize = 100_000;

/// Every counter published as a figure (`indicateur:…`) by the modules switched on in the
/// commune, `(module, name, value)` by module and name; at most [`MAX_INDICATOR_ROWS`] + 1,
/// so the caller can tell it was cut. Reads the counters of the commune's switched-on modules
/// (a module keeps a few per poll or consultation, not per person), comparing the prefix as
/// `counters` does: no collation decides what `indicateur:` sorts before.
pub async fn indicators(
    tx: &mut impl TenantSql,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    tx.scoped_as(
        "SELECT c.module_id, c.name, c.value FROM module_counters c \
         JOIN tenant_modules m ON m.tenant_id = c.tenant_id AND m.module_id = c.module_id \
         WHERE c.tenant_id = $1 AND m.enabled = 1 \
         AND substr(c.name, 1, CAST($2 AS INTEGER)) = $3 \
         ORDER BY c.module_id, c.name LIMIT $4",
    )
    .bind(i64::try_from(INDICATOR_PREFIX.len()).unwrap_or(i64::MAX))
    .bind(INDICATOR_PREFIX)
    .bind(i64::try_from(MAX_INDICATOR_ROWS + 1).unwrap_or(i64::MAX))
    .fetch_all(tx)
    .await
}

/// Where modules keep something: every (commune id, commune slug, module id) of a module
/// installed in a commune (switched on or off: a switched-off module keeps its data) that has
/// a document or a counter there, by slug then module. Each test is one primary-key probe.
pub async fn installations_with_data(
    conn: &mut sqlx::AnyConnection,
) -> Result<Vec<(crate::types::TenantId, String, String)>, sqlx::Error> {
    sql::query_as(
        "SELECT m.tenant_id, t.slug, m.module_id FROM tenant_modules m JOIN tenants t ON t.id = m.tenant_id \
         WHERE EXISTS (SELECT 1 FROM module_docs d WHERE d.tenant_id = m.tenant_id AND d.module_id = m.module_id) \
         OR EXISTS (SELECT 1 FROM module_counters c WHERE c.tenant_id = m.tenant_id AND c.module_id = m.module_id) \
         ORDER BY t.slug, m.module_id",
    )
    .fetch_all(conn)
    .await
}

// ---------------------------------------------------------------------------------------------
// Storage quota of one module in one commune.

/// Bytes a document counts for beyond its collection, key and value (its row's version,
/// times and keys), so that a million empty documents are not free.
pub const DOC_OVERHEAD: i64 = 64;
/// Bytes an index entry or a unique value counts for beyond its collection, key, name and
/// value.
pub const ENTRY_OVERHEAD: i64 = 32;
/// Bytes a counter counts for beyond its name (its value included).
pub const COUNTER_OVERHEAD: i64 = 32;
/// Default storage quota of a module in a commune, in bytes (64 Mio): documents, index
/// entries, unique values and counters, as [`doc_size`] and [`counter_size`] count them. A
/// commune's own figure in `module_storage_quotas` replaces it.
pub const DEFAULT_MAX_BYTES: i64 = 64 << 20;
/// Default quota of a module in a commune, in documents.
pub const DEFAULT_MAX_DOCUMENTS: i64 = 100_000;
/// Rows a (commune, module) usage is spread over: each call adds its change to the next one in
/// turn, so concurrent calls rarely wait for each other's row lock (PostgreSQL).
pub const USAGE_SHARDS: i64 = 16;

/// The parts of a stored document's size, in SQL over the document row `d` (the same
/// figures as [`doc_size`]): the row itself, its index entries, its unique values. Macros,
/// so that [`SIZE_OF_DOC`] and [`SIZE_PARTS`] are built from them at compile time.
macro_rules! row_size {
    () => {
        "64 + octet_length(d.collection) + octet_length(d.key) + octet_length(d.value)"
    };
}
macro_rules! index_size {
    () => {
        "COALESCE((SELECT SUM(32 + octet_length(i.collection) + octet_length(i.key) + octet_length(i.name) + octet_length(i.value)) \
        FROM module_index i WHERE i.tenant_id = d.tenant_id AND i.module_id = d.module_id \
        AND i.collection = d.collection AND i.key = d.key), 0)"
    };
}
macro_rules! unique_size {
    () => {
        "COALESCE((SELECT SUM(32 + octet_length(u.collection) + octet_length(u.key) + octet_length(u.name) + octet_length(u.value)) \
        FROM module_unique u WHERE u.tenant_id = d.tenant_id AND u.module_id = d.module_id \
        AND u.collection = d.collection AND u.key = d.key), 0)"
    };
}

/// The size of a stored document with its index entries and unique values, in SQL over the
/// document row `d` (the same figures as [`doc_size`]).
const SIZE_OF_DOC: &str = concat!(
    "CAST(",
    row_size!(),
    " + ",
    index_size!(),
    " + ",
    unique_size!(),
    " AS BIGINT)"
);

/// The same size in three columns (`row_size`, `index_size`, `unique_size`): a write reads
/// whether the document has entries to replace along with its size.
const SIZE_PARTS: &str = concat!(
    "CAST(",
    row_size!(),
    " AS BIGINT) AS row_size, CAST(",
    index_size!(),
    " AS BIGINT) AS index_size, CAST(",
    unique_size!(),
    " AS BIGINT) AS unique_size"
);

/// A quantity of storage, or a change in it (negative: space given back).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Bytes, as [`doc_size`] and [`counter_size`] count them.
    pub bytes: i64,
    /// Documents.
    pub documents: i64,
}

impl std::ops::AddAssign for Footprint {
    fn add_assign(&mut self, other: Footprint) {
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.documents = self.documents.saturating_add(other.documents);
    }
}

fn len(text: &str) -> i64 {
    i64::try_from(text.len()).unwrap_or(i64::MAX)
}

/// Bytes a document counts for: [`DOC_OVERHEAD`] + its collection, key and value, and
/// [`ENTRY_OVERHEAD`] + collection, key, name and value for each index entry and unique value
/// (UTF-8 bytes). Index entries must be distinct (a repeated one is stored once).
pub fn doc_size(
    collection: &str,
    key: &str,
    value: &str,
    indexes: &[Entry],
    unique: &[Entry],
) -> i64 {
    let entry = |(name, value): &Entry| {
        ENTRY_OVERHEAD + len(collection) + len(key) + len(name) + len(value)
    };
    indexes.iter().chain(unique).map(entry).fold(
        DOC_OVERHEAD + len(collection) + len(key) + len(value),
        i64::saturating_add,
    )
}

/// Bytes a counter counts for: [`COUNTER_OVERHEAD`] + its name.
pub fn counter_size(name: &str) -> i64 {
    COUNTER_OVERHEAD + len(name)
}

/// What a module keeps in a commune, and its quota there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageUsage {
    /// Bytes used (documents, index entries, unique values and counters).
    pub bytes: i64,
    /// Documents stored.
    pub documents: i64,
    /// The quota in bytes.
    pub max_bytes: i64,
    /// The quota in documents.
    pub max_documents: i64,
}

/// The usage and quota of a module in the transaction's commune, for the admin's page.
pub async fn usage(tx: &mut impl TenantSql, module: &str) -> Result<StorageUsage, sqlx::Error> {
    Ok(usage_and_notice(tx, module).await?.0)
}

/// The usage and quota of a module in the transaction's commune, and whether its admins were
/// told that it is nearly full (one query: the sum of the usage shards and the quota row).
pub async fn usage_and_notice(
    tx: &mut impl TenantSql,
    module: &str,
) -> Result<(StorageUsage, bool), sqlx::Error> {
    let row: QuotaRow = tx.scoped_as(
        "SELECT CAST(COALESCE((SELECT SUM(bytes) FROM module_storage_usage s \
                  WHERE s.tenant_id = $1 AND s.module_id = $2), 0) AS BIGINT) AS bytes, \
                CAST(COALESCE((SELECT SUM(documents) FROM module_storage_usage s \
                  WHERE s.tenant_id = $1 AND s.module_id = $2), 0) AS BIGINT) AS documents, \
                (SELECT max_bytes FROM module_storage_quotas q WHERE q.tenant_id = $1 AND q.module_id = $2) AS max_bytes, \
                (SELECT max_documents FROM module_storage_quotas q WHERE q.tenant_id = $1 AND q.module_id = $2) AS max_documents, \
                (SELECT near_limit_at FROM module_storage_quotas q WHERE q.tenant_id = $1 AND q.module_id = $2) AS near_limit_at",
    )
    .bind(module)
    .fetch_one(tx)
    .await?;
    let usage = StorageUsage {
        bytes: row.bytes,
        documents: row.documents,
        max_bytes: row.max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
        max_documents: row.max_documents.unwrap_or(DEFAULT_MAX_DOCUMENTS),
    };
    Ok((usage, row.near_limit))
}

/// The sums of a (commune, module)'s usage shards and its quota row, as
/// [`usage_and_notice`] reads them (a commune without its own figures has no quota row).
struct QuotaRow {
    bytes: i64,
    documents: i64,
    max_bytes: Option<i64>,
    max_documents: Option<i64>,
    near_limit: bool,
}

impl sql::FromRow for QuotaRow {
    fn from_row(row: &sql::Row) -> Result<Self, sqlx::Error> {
        Ok(QuotaRow {
            bytes: row.get("bytes")?,
            documents: row.get("documents")?,
            max_bytes: row.get("max_bytes")?,
            max_documents: row.get("max_documents")?,
            near_limit: row.get::<Option<i64>>("near_limit_at")?.is_some(),
        })
    }
}

/// Takes the (commune, module) quota row's lock until the transaction ends (PostgreSQL;
/// creating the row if needed), so the module's writing calls in this commune run one after
/// the other: each then reads the usage its predecessor committed.
pub async fn lock_quota(tx: &mut impl TenantSql, module: &str) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO module_storage_quotas (tenant_id, module_id) VALUES ($1, $2) \
         ON CONFLICT (tenant_id, module_id) DO NOTHING",
    )
    .bind(module)
    .execute(tx)
    .await?;
    tx.scoped(
        "SELECT 1 FROM module_storage_quotas WHERE tenant_id = $1 AND module_id = $2 FOR UPDATE",
    )
    .bind(module)
    .fetch_optional(tx)
    .await?;
    Ok(())
}

/// Adds a call's change to one usage shard, in the call's transaction (just before it
/// commits, so the shard's row lock is held for the commit only).
pub async fn add_usage(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    shard: i64,
    change: Footprint,
) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO module_storage_usage (tenant_id, module_id, shard, bytes, documents) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, module_id, shard) DO UPDATE SET \
         bytes = module_storage_usage.bytes + excluded.bytes, \
         documents = module_storage_usage.documents + excluded.documents",
    )
    .bind(module.as_str())
    .bind(shard.rem_euclid(USAGE_SHARDS))
    .bind(change.bytes)
    .bind(change.documents)
    .execute(tx)
    .await?;
    Ok(())
}

/// Sets a commune's own quota for a module (`None`: the default).
pub async fn set_quota(
    tx: &mut impl TenantSql,
    module: &str,
    max_bytes: Option<i64>,
    max_documents: Option<i64>,
) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO module_storage_quotas (tenant_id, module_id, max_bytes, max_documents) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, module_id) DO UPDATE SET \
         max_bytes = excluded.max_bytes, max_documents = excluded.max_documents",
    )
    .bind(module)
    .bind(max_bytes)
    .bind(max_documents)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records that the admins are told the module's storage is nearly full; false if they
/// already were (a concurrent call that crossed the line too waits for this row and finds it
/// set): one notice per crossing.
pub async fn mark_near_limit(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = tx.scoped(
        "INSERT INTO module_storage_quotas (tenant_id, module_id, near_limit_at) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, module_id) DO UPDATE SET near_limit_at = excluded.near_limit_at \
         WHERE module_storage_quotas.near_limit_at IS NULL",
    )
    .bind(module.as_str())
    .bind(now_ms)
    .execute(tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Forgets the near-limit notice, once usage fell back well below: the next crossing is told.
pub async fn clear_near_limit(
    tx: &mut impl TenantSql,
    module: &ModuleId,
) -> Result<(), sqlx::Error> {
    tx.scoped(
        "UPDATE module_storage_quotas SET near_limit_at = NULL WHERE tenant_id = $1 AND module_id = $2",
    )
    .bind(module.as_str())
    .execute(tx)
    .await?;
    Ok(())
}

/// What a module keeps in the transaction's commune, counted from its rows (as the migration
/// that introduced the usage counted it): the usage shards must always sum to this.
pub async fn recount(tx: &mut impl TenantSql, module: &str) -> Result<Footprint, sqlx::Error> {
    let (docs, documents, counters): (i64, i64, i64) = tx.scoped_as(&format!(
        "SELECT CAST(COALESCE((SELECT SUM({SIZE_OF_DOC}) FROM module_docs d \
                  WHERE d.tenant_id = $1 AND d.module_id = $2), 0) AS BIGINT) AS docs, \
                CAST((SELECT COUNT(*) FROM module_docs d WHERE d.tenant_id = $1 AND d.module_id = $2) AS BIGINT) AS documents, \
                CAST(COALESCE((SELECT SUM({COUNTER_OVERHEAD} + octet_length(c.name)) FROM module_counters c \
                  WHERE c.tenant_id = $1 AND c.module_id = $2), 0) AS BIGINT) AS counters"
    ))
    .bind(module)
    .fetch_one(tx)
    .await?;
    Ok(Footprint {
        bytes: docs + counters,
        documents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_and_rust_sizes_use_the_same_overheads() {
        assert!(SIZE_OF_DOC.starts_with(&format!("CAST({DOC_OVERHEAD} + ")));
        assert_eq!(
            SIZE_OF_DOC
                .matches(&format!("SUM({ENTRY_OVERHEAD} + "))
                .count(),
            2
        );
        let entries = [("statut".to_string(), "ouvert".to_string())];
        assert_eq!(
            doc_size("c", "clé", "\"é\"", &entries, &[]),
            DOC_OVERHEAD + 1 + 4 + 4 + ENTRY_OVERHEAD + 1 + 4 + 6 + 6
        );
    }
}
