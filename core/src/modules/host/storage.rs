//! `parvis:module/storage`: documents of the calling module in the request's commune.

use crate::modules::bindings::parvis::module::storage::{
    Document, Error, Host, IndexEntry, Page, Query, Write,
};
use std::time::Instant;

use crate::db::{GroupTx, TenantSql as _};
use crate::modules::call::{CallState, Capability, Denied};
use crate::modules::store::{self, Footprint, ListQuery, StorageUsage, WriteError};

/// Longest collection, key, index name or index value.
const MAX_NAME: usize = 256;
/// Largest document.
const MAX_VALUE: usize = 256 << 10;
/// Index entries per document.
const MAX_INDEXES: usize = 16;
/// Unique values per document.
const MAX_UNIQUE: usize = 8;
/// Largest page.
pub(super) const MAX_PAGE: u32 = 500;
/// Bytes one call may write (each document written counts its whole size with its entries,
/// each counter it touches its [`store::counter_size`]), so one call cannot spend much of the
/// quota, and concurrent calls cannot overshoot it by much, before being stopped: 4 Mio.
pub const MAX_CALL_BYTES: i64 = 4 << 20;
/// Documents one call may write (insert or put).
pub const MAX_CALL_DOCUMENTS: i64 = 1_000;
/// Share of the quota (bytes or documents), in percent, past which the commune's admins are
/// told the module's storage is nearly full: once, until usage falls below
/// [`NEAR_LIMIT_RESET_PERCENT`].
pub const NEAR_LIMIT_PERCENT: i64 = 80;
/// Share of the quota below which a new crossing of [`NEAR_LIMIT_PERCENT`] is told again.
pub const NEAR_LIMIT_RESET_PERCENT: i64 = 70;

/// A call's storage accounting, kept in its [`CallState`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallStorage {
    /// Usage and quota read at the call's first write, and whether the admins were told it
    /// is nearly full.
    base: Option<(StorageUsage, bool)>,
    /// The call's net change, added to the usage just before it commits.
    change: Footprint,
    /// What the call wrote, for [`MAX_CALL_BYTES`] and [`MAX_CALL_DOCUMENTS`].
    written: Footprint,
    /// The call holds the quota row's lock (see [`base_and_room`]).
    locked: bool,
}

/// The share of the quota (bytes or documents), in percent, past which a module's writing
/// calls in a commune take turns on PostgreSQL (see [`base_and_room`]).
pub const SERIAL_PERCENT: i64 = 75;
/// Bytes a call writes side by side with the module's other calls on PostgreSQL before it
/// takes its turn (see [`base_and_room`]): a vote never gets there, a flood at once.
pub const SERIAL_CALL_BYTES: i64 = 256 << 10;
/// Documents a call writes side by side with the module's other calls before taking its turn.
pub const SERIAL_CALL_DOCUMENTS: i64 = 100;

/// The usage and quota read at the call's first write (kept in `storage` afterwards), and how
/// much the module's storage may still grow in this call: the quota less that usage and the
/// call's own change. `write` is the write about to be checked.
///
/// Concurrent calls each check against the usage they read, so together they could overshoot
/// the quota by what they write side by side. SQLite runs writing transactions one at a time:
/// there the quota holds exactly. On PostgreSQL (`serial`), a call takes the quota row's lock
/// (until it commits) and reads the usage again once it is past [`SERIAL_PERCENT`] of the
/// quota, or past [`SERIAL_CALL_BYTES`] or [`SERIAL_CALL_DOCUMENTS`] written: large writers
/// and calls near the limit take turns, each reading what the one before committed, so the
/// quota is overshot by at most that much per concurrent call; small writers (64 voters at
/// once, far from the limit) run side by side.
async fn base_and_room(
    tx: &mut GroupTx,
    module: &str,
    mut storage: CallStorage,
    write: Footprint,
    serial: bool,
) -> Result<(CallStorage, Footprint), sqlx::Error> {
    let mut base = match storage.base {
        Some(base) => base,
        None => store::usage_and_notice(tx, module).await?,
    };
    let after = |base: &StorageUsage, part: fn(&Footprint) -> i64, max: i64| {
        over(
            SERIAL_PERCENT,
            part(&Footprint {
                bytes: base.bytes,
                documents: base.documents,
            }) + part(&storage.change)
                + part(&write),
            max,
        )
    };
    let turn = serial
        && !storage.locked
        && (storage.written.bytes + write.bytes > SERIAL_CALL_BYTES
            || storage.written.documents + write.documents > SERIAL_CALL_DOCUMENTS
            || after(&base.0, |f| f.bytes, base.0.max_bytes)
            || after(&base.0, |f| f.documents, base.0.max_documents));
    if turn {
        store::lock_quota(tx, module).await?;
        base = store::usage_and_notice(tx, module).await?;
        storage.locked = true;
    }
    storage.base = Some(base);
    let room = Footprint {
        bytes: base.0.max_bytes - base.0.bytes - storage.change.bytes,
        documents: base.0.max_documents - base.0.documents - storage.change.documents,
    };
    Ok((storage, room))
}

fn over(percent: i64, used: i64, max: i64) -> bool {
    max > 0 && used.saturating_mul(100) >= max.saturating_mul(percent)
}

pub(super) fn denied(d: Denied) -> Error {
    match d {
        Denied::Capability(c) => Error::Invalid(format!(
            "le module n'a pas déclaré la capacité « {c} » dans son manifeste"
        )),
        Denied::Unavailable(why) => Error::Unavailable(why),
    }
}

/// A contract query, checked, as the store runs it (in `neighbourhood`, if given).
pub(super) fn list_query(q: Query, neighbourhood: Option<String>) -> Result<ListQuery, Error> {
    check_name("collection", &q.collection)?;
    if q.limit == 0 || q.limit > MAX_PAGE {
        return Err(Error::Invalid(format!("taille de page : 1 à {MAX_PAGE}")));
    }
    let index = one_index(q.index)?;
    for text in [q.prefix.as_deref(), q.after.as_deref()]
        .into_iter()
        .flatten()
    {
        if text.len() > MAX_NAME {
            return Err(Error::Invalid(format!(
                "préfixe ou curseur de plus de {MAX_NAME} octets"
            )));
        }
    }
    Ok(ListQuery {
        collection: q.collection,
        index,
        prefix: q.prefix,
        after: q.after,
        limit: q.limit,
        descending: q.descending,
        neighbourhood,
    })
}

impl CallState {
    /// One page of a checked query, read in the call's transaction and counted as read.
    pub(super) async fn list_page(&mut self, query: &ListQuery) -> Result<Page, Error> {
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let page = store::list(tx, &module, query).await;
        let read = page.as_ref().map_or(0, |(docs, _)| docs.len());
        self.read_documents(started.elapsed(), read);
        if !self.writes() {
            // On SQLite a read call runs its statements in this task (a direct reader), so a
            // call walking a whole collection never waited between pages: the consultation's
            // results (40 pages) kept a worker from the votes queued on it, among them the
            // one holding the writer, and a vote's p99 went from 28 – 37 ms to 57 – 116 beside
            // a busy neighbour. A writer never steps aside: it would hold the writer longer.
            tokio::task::yield_now().await;
        }
        match page {
            Ok((docs, next)) => Ok(Page {
                documents: docs.into_iter().map(document).collect(),
                next,
            }),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }
}

pub(super) fn check_name(what: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.len() > MAX_NAME {
        return Err(Error::Invalid(format!(
            "{what} : 1 à {MAX_NAME} octets attendus"
        )));
    }
    Ok(())
}

/// A query's one index entry, checked as a write's are.
pub(super) fn one_index(index: Option<IndexEntry>) -> Result<Option<store::Entry>, Error> {
    Ok(index
        .map(|e| entries("index", std::slice::from_ref(&e), 1))
        .transpose()?
        .and_then(|mut v| v.pop()))
}

fn entries(what: &str, list: &[IndexEntry], max: usize) -> Result<Vec<store::Entry>, Error> {
    if list.len() > max {
        return Err(Error::Invalid(format!("{what} : au plus {max} entrées")));
    }
    list.iter()
        .map(|e| {
            check_name(what, &e.name)?;
            if e.value.len() > MAX_NAME {
                return Err(Error::Invalid(format!(
                    "{what} : valeur de plus de {MAX_NAME} octets"
                )));
            }
            Ok((e.name.clone(), e.value.clone()))
        })
        .collect()
}

pub(super) fn document(d: store::Doc) -> Document {
    Document {
        key: d.key,
        value: d.value,
        version: u64::try_from(d.version).unwrap_or(0),
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

impl CallState {
    async fn write_doc(
        &mut self,
        w: Write,
        create_only: bool,
        expected: Option<u64>,
    ) -> Result<Document, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &w.collection)?;
        check_name("clé", &w.key)?;
        if w.value.len() > MAX_VALUE {
            return Err(Error::Invalid(format!(
                "document de plus de {} Kio",
                MAX_VALUE >> 10
            )));
        }
        if serde_json::from_str::<serde_json::Value>(&w.value).is_err() {
            return Err(Error::Invalid("le document doit être du JSON".into()));
        }
        let mut indexes = entries("index", &w.indexes, MAX_INDEXES)?;
        // A repeated entry is stored once: counted once.
        indexes.sort();
        indexes.dedup();
        let unique = entries("unicité", &w.unique, MAX_UNIQUE)?;
        let expected = expected.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let size = Footprint {
            bytes: store::doc_size(&w.collection, &w.key, &w.value, &indexes, &unique),
            documents: 1,
        };
        self.within_call_bounds(size)?;
        let module = self.module.clone();
        let now_ms = crate::modules::host::runtime::now_ms();
        let snapshot = self.storage;
        let serial = self.services.db().backend() == crate::db::Backend::Postgres;
        let tx = self.write_tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let (base, written) = match base_and_room(tx, module.as_str(), snapshot, size, serial).await
        {
            Ok((base, room)) => (
                Some(base),
                store::write_within(
                    tx,
                    &module,
                    &w.collection,
                    &w.key,
                    &w.value,
                    &indexes,
                    &unique,
                    create_only,
                    expected,
                    now_ms,
                    room,
                )
                .await,
            ),
            Err(e) => (None, Err(WriteError::Db(e))),
        };
        if let Some(read) = base {
            (self.storage.base, self.storage.locked) = (read.base, read.locked);
        }
        self.read_documents(started.elapsed(), 0);
        match written {
            Ok((doc, change)) => {
                self.storage.change += change;
                self.storage.written += size;
                Ok(document(doc))
            }
            Err(WriteError::Conflict(why)) => Err(Error::Conflict(why)),
            Err(WriteError::Quota(change)) => Err(self.quota_reached(change)),
            Err(WriteError::Db(e)) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    /// Refuses a write that would take the call past [`MAX_CALL_BYTES`] or
    /// [`MAX_CALL_DOCUMENTS`]: nothing of it is written; what the call wrote before stays
    /// (kept if the call succeeds).
    pub(super) fn within_call_bounds(&self, write: Footprint) -> Result<(), Error> {
        let after = Footprint {
            bytes: self.storage.written.bytes.saturating_add(write.bytes),
            documents: self
                .storage
                .written
                .documents
                .saturating_add(write.documents),
        };
        if after.bytes > MAX_CALL_BYTES {
            return Err(Error::Invalid(format!(
                "volume d'écriture atteint : au plus {} écrits par requête",
                crate::util::size_text(MAX_CALL_BYTES)
            )));
        }
        if after.documents > MAX_CALL_DOCUMENTS {
            return Err(Error::Invalid(format!(
                "volume d'écriture atteint : au plus {MAX_CALL_DOCUMENTS} documents écrits par requête"
            )));
        }
        Ok(())
    }

    /// Counts a write that changes no stored size (a document's place) toward the call's
    /// bounds, after [`Self::within_call_bounds`] allowed it.
    pub(super) fn wrote(&mut self, write: Footprint) {
        self.storage.written += write;
    }

    /// The error a module gets when a write would take it past its quota.
    fn quota_reached(&self, change: Footprint) -> Error {
        let Some((usage, _)) = &self.storage.base else {
            return Error::Invalid("quota de stockage atteint".into());
        };
        let documents_now = usage.documents + self.storage.change.documents;
        if change.documents > 0 && documents_now + change.documents > usage.max_documents {
            Error::Invalid(format!(
                "quota de stockage atteint : {} documents pour ce module dans cette commune",
                usage.max_documents
            ))
        } else {
            Error::Invalid(format!(
                "quota de stockage atteint : {} pour ce module dans cette commune",
                crate::util::size_text(usage.max_bytes)
            ))
        }
    }

    /// Adds the call's change to the module's usage in its transaction, just before the
    /// commit, and tells the commune's admins (in app and by e-mail, once per crossing) when
    /// the call took usage past [`NEAR_LIMIT_PERCENT`] of the quota. Called only for a call
    /// whose writes are kept.
    pub(crate) async fn settle_storage(&mut self, tx: &mut GroupTx) -> Result<(), sqlx::Error> {
        let change = self.storage.change;
        let (usage, noticed) = match self.storage.base {
            Some(base) => base,
            // Only deletes (no write read the usage): read it now, for the notice's reset.
            None if change != Footprint::default() => {
                store::usage_and_notice(tx, self.module.as_str()).await?
            }
            None => return Ok(()),
        };
        if change != Footprint::default() {
            // Round-robin, not random: concurrent calls of a commune (8 at most on
            // PostgreSQL) land on distinct rows, so none waits for another's row lock.
            static NEXT_SHARD: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
            let shard = NEXT_SHARD.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            store::add_usage(tx, &self.module, shard, change).await?;
        }
        let bytes = usage.bytes + change.bytes;
        let documents = usage.documents + change.documents;
        let near = over(NEAR_LIMIT_PERCENT, bytes, usage.max_bytes)
            || over(NEAR_LIMIT_PERCENT, documents, usage.max_documents);
        let well_below = !over(NEAR_LIMIT_RESET_PERCENT, bytes, usage.max_bytes)
            && !over(NEAR_LIMIT_RESET_PERCENT, documents, usage.max_documents);
        if noticed && well_below {
            store::clear_near_limit(tx, &self.module).await?;
        } else if !noticed
            && near
            && change.bytes.max(change.documents) > 0
            && store::mark_near_limit(tx, &self.module, crate::util::now()).await?
        {
            self.tell_near_limit(tx, bytes, documents, &usage).await?;
        }
        Ok(())
    }

    async fn tell_near_limit(
        &mut self,
        tx: &mut GroupTx,
        bytes: i64,
        documents: i64,
        usage: &StorageUsage,
    ) -> Result<(), sqlx::Error> {
        let Some(tenant) = self.tenant() else {
            return Ok(());
        };
        let name = self.module_name.clone();
        let percent = |used: i64, max: i64| used.saturating_mul(100) / max.max(1);
        let notice = crate::notifications::Notice::to_accounts(
            tenant,
            crate::modules::service::tenant_admins(self.services.authz(), tenant).await,
            format!("Module « {name} » : stockage presque plein"),
            format!(
                "Le module « {name} » occupe {} sur {} ({} %) et {documents} documents sur {} \
                 ({} %) dans votre commune. Une fois la limite atteinte, il ne pourra plus rien \
                 enregistrer : faites-y du tri, ou demandez une limite plus haute à \
                 l'administrateur de la plateforme.",
                crate::util::size_text(bytes),
                crate::util::size_text(usage.max_bytes),
                percent(bytes, usage.max_bytes),
                usage.max_documents,
                percent(documents, usage.max_documents),
            ),
            format!("{}/admin/modules", self.origin),
        );
        crate::jobs::push(tx.platform(), &notice).await?;
        self.after_commit.wake_jobs = true;
        tracing::warn!(module = %self.module, tenant = %tenant, bytes, documents, "module storage nearly full: admins told");
        Ok(())
    }
}

impl CallState {
    /// A document of the module, read in the call's transaction, or (`committed`) as
    /// [`CallState::committed_tx`] reads it.
    async fn read_doc(
        &mut self,
        collection: String,
        key: String,
        committed: bool,
    ) -> Result<Option<Document>, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        check_name("clé", &key)?;
        let module = self.module.clone();
        let tx = if committed {
            self.committed_tx().await
        } else {
            self.tx(Capability::Storage).await
        }
        .map_err(denied)?;
        let started = Instant::now();
        let doc = store::get(tx, &module, &collection, &key).await;
        self.read_documents(started.elapsed(), 1);
        match doc {
            Ok(doc) => Ok(doc.map(document)),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }
}

impl Host for CallState {
    async fn get(&mut self, collection: String, key: String) -> Result<Option<Document>, Error> {
        self.read_doc(collection, key, false).await
    }

    async fn get_committed(
        &mut self,
        collection: String,
        key: String,
    ) -> Result<Option<Document>, Error> {
        self.read_doc(collection, key, true).await
    }

    async fn insert(&mut self, w: Write) -> Result<Document, Error> {
        self.write_doc(w, true, None).await
    }

    async fn put(&mut self, w: Write, expected_version: Option<u64>) -> Result<Document, Error> {
        self.write_doc(w, false, expected_version).await
    }

    async fn delete(&mut self, collection: String, key: String) -> Result<bool, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        check_name("clé", &key)?;
        let module = self.module.clone();
        let tx = self.write_tx(Capability::Storage).await.map_err(denied)?;
        match store::delete(tx, &module, &collection, &key).await {
            Ok(Some(freed)) => {
                self.storage.change += freed;
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn list(&mut self, q: Query) -> Result<Page, Error> {
        let _leaving = self.leaving_database();
        let query = list_query(q, None)?;
        self.list_page(&query).await
    }

    async fn count(&mut self, collection: String, index: Option<IndexEntry>) -> Result<u64, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        let index = one_index(index)?;
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let n = store::count(tx, &module, &collection, index.as_ref()).await;
        self.read_documents(started.elapsed(), 0);
        match n {
            Ok(n) => Ok(u64::try_from(n).unwrap_or(0)),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn incr(&mut self, counter: String, delta: i64) -> Result<i64, Error> {
        let _leaving = self.leaving_database();
        check_name("compteur", &counter)?;
        let touched = Footprint {
            bytes: store::counter_size(&counter),
            documents: 0,
        };
        self.within_call_bounds(touched)?;
        let module = self.module.clone();
        let snapshot = self.storage;
        let serial = self.services.db().backend() == crate::db::Backend::Postgres;
        let tx = self.write_tx(Capability::Storage).await.map_err(denied)?;
        let (base, done) = match base_and_room(tx, module.as_str(), snapshot, touched, serial).await
        {
            Ok((base, room)) => (
                Some(base),
                store::incr(tx, &module, &counter, delta, room.bytes).await,
            ),
            Err(e) => (None, Err(WriteError::Db(e))),
        };
        if let Some(read) = base {
            (self.storage.base, self.storage.locked) = (read.base, read.locked);
        }
        match done {
            Ok((v, change)) => {
                self.storage.change += change;
                self.storage.written += touched;
                Ok(v)
            }
            Err(WriteError::Quota(change)) => Err(self.quota_reached(change)),
            Err(WriteError::Conflict(why)) => Err(Error::Conflict(why)),
            Err(WriteError::Db(e)) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn counters(&mut self, prefix: String) -> Result<Vec<(String, i64)>, Error> {
        let _leaving = self.leaving_database();
        if prefix.len() > MAX_NAME {
            return Err(Error::Invalid(format!(
                "préfixe de plus de {MAX_NAME} octets"
            )));
        }
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let counters = store::counters(tx, &module, &prefix).await;
        self.read_documents(started.elapsed(), counters.as_ref().map_or(0, Vec::len));
        match counters {
            Ok(v) => Ok(v),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }
}
