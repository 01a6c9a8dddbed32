//! `parvis:module/storage`: documents of the calling module in the request's commune.

use crate::modules::bindings::parvis::module::storage::{
    Document, Error, Host, IndexEntry, Page, Query, Write,
};
use std::time::Instant;

use crate::modules::call::{CallState, Capability, Denied};
use crate::modules::store::{self, ListQuery, WriteError};

/// Longest collection, key, index name or index value.
const MAX_NAME: usize = 256;
/// Largest document.
const MAX_VALUE: usize = 256 << 10;
/// Index entries per document.
const MAX_INDEXES: usize = 16;
/// Unique values per document.
const MAX_UNIQUE: usize = 8;
/// Largest page.
const MAX_PAGE: u32 = 500;

fn denied(d: Denied) -> Error {
    match d {
        Denied::Capability(c) => Error::Invalid(format!(
            "le module n'a pas déclaré la capacité « {c} » dans son manifeste"
        )),
        Denied::Unavailable(why) => Error::Unavailable(why),
    }
}

fn check_name(what: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.len() > MAX_NAME {
        return Err(Error::Invalid(format!(
            "{what} : 1 à {MAX_NAME} octets attendus"
        )));
    }
    Ok(())
}

fn entries(what: &str, list: &[IndexEntry], max: usize) -> Result<Vec<store::Entry>, Error> {
    if list.len() > max {
        return Err(Error::Invalid(format!("{what} : au plus {max} entrées")));
    }
    list.iter()
        .map(|e| {
            check_name(what, &e.name)?;
            if e.value.len() > MAX_NAME {
                return Err(Error::Invalid(format!(
                    "{what} : valeur de plus de {MAX_NAME} octets"
                )));
            }
            Ok((e.name.clone(), e.value.clone()))
        })
        .collect()
}

fn document(d: store::Doc) -> Document {
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
        let indexes = entries("index", &w.indexes, MAX_INDEXES)?;
        let unique = entries("unicité", &w.unique, MAX_UNIQUE)?;
        let expected = expected.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let module = self.module.clone();
        let now_ms = crate::modules::host::runtime::now_ms();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let written = store::write(
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
        )
        .await;
        self.read_documents(started.elapsed(), 0);
        match written {
            Ok(doc) => Ok(document(doc)),
            Err(WriteError::Conflict(why)) => Err(Error::Conflict(why)),
            Err(WriteError::Db(e)) => Err(Error::Unavailable(self.fail(&e))),
        }
    }
}

impl Host for CallState {
    async fn get(&mut self, collection: String, key: String) -> Result<Option<Document>, Error> {
        check_name("collection", &collection)?;
        check_name("clé", &key)?;
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let doc = store::get(tx, &module, &collection, &key).await;
        self.read_documents(started.elapsed(), 1);
        match doc {
            Ok(doc) => Ok(doc.map(document)),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn insert(&mut self, w: Write) -> Result<Document, Error> {
        self.write_doc(w, true, None).await
    }

    async fn put(&mut self, w: Write, expected_version: Option<u64>) -> Result<Document, Error> {
        self.write_doc(w, false, expected_version).await
    }

    async fn delete(&mut self, collection: String, key: String) -> Result<bool, Error> {
        check_name("collection", &collection)?;
        check_name("clé", &key)?;
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        match store::delete(tx, &module, &collection, &key).await {
            Ok(found) => Ok(found),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn list(&mut self, q: Query) -> Result<Page, Error> {
        check_name("collection", &q.collection)?;
        if q.limit == 0 || q.limit > MAX_PAGE {
            return Err(Error::Invalid(format!("taille de page : 1 à {MAX_PAGE}")));
        }
        let index = q
            .index
            .map(|e| entries("index", std::slice::from_ref(&e), 1))
            .transpose()?
            .and_then(|mut v| v.pop());
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
        let query = ListQuery {
            collection: q.collection,
            index,
            prefix: q.prefix,
            after: q.after,
            limit: q.limit,
            descending: q.descending,
        };
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let page = store::list(tx, &module, &query).await;
        let read = page.as_ref().map_or(0, |(docs, _)| docs.len());
        self.read_documents(started.elapsed(), read);
        match page {
            Ok((docs, next)) => Ok(Page {
                documents: docs.into_iter().map(document).collect(),
                next,
            }),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn count(&mut self, collection: String, index: Option<IndexEntry>) -> Result<u64, Error> {
        check_name("collection", &collection)?;
        let index = index
            .map(|e| entries("index", std::slice::from_ref(&e), 1))
            .transpose()?
            .and_then(|mut v| v.pop());
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
        check_name("compteur", &counter)?;
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        match store::incr(tx, &module, &counter, delta).await {
            Ok(v) => Ok(v),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn counters(&mut self, prefix: String) -> Result<Vec<(String, i64)>, Error> {
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
