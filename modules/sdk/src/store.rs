//! Typed JSON documents and counters over the host's tenant-scoped storage.
//!
//! ```ignore
//! const POLLS: Collection = Collection::new("polls");
//! POLLS.insert(&id, &poll, Indexes::new().index("status", "open"))?;
//! let poll: Option<Doc<Poll>> = POLLS.get(&id)?;
//! let open: Vec<Doc<Poll>> = POLLS.list().index("status", "open").descending().all()?;
//! // A document may carry a point on the map (contract 0.2.2), found by box or by distance.
//! POLLS.place(&id, Point { lat: 45.899, lon: 6.129 })?;
//! let close: Vec<Placed<Poll>> = POLLS.near(Point { lat: 45.9, lon: 6.13 }, 50.0, 10)?;
//! // A map's markers, no document read (0.2.3): points, or clusters on a grid.
//! let markers: Vec<Spot> = POLLS.points(bbox, 1_000)?;
//! let groups: Vec<Cluster> = POLLS.clusters(bbox, 8, 8)?;
//! // Whether a point lies inside the commune (its official outline, 0.2.3).
//! let inside: Option<bool> = store::in_commune(Point { lat: 45.9, lon: 6.13 })?;
//! // The commune's neighbourhoods, and documents by the one their place lies in (0.2.5).
//! let quartiers: Vec<Neighbourhood> = store::neighbourhoods()?;
//! let here = POLLS.list().neighbourhood("vieille-ville").index("status", "open").page::<Poll>()?;
//! let by_quartier: Vec<(String, u64)> = POLLS.count_by_neighbourhood(None)?;
//! ```

use crate::bindings::parvis::module::neighbourhoods as quartiers;
use crate::bindings::parvis::module::places;
use crate::bindings::parvis::module::storage as wit;
pub use places::{Bbox, Cluster, Point, Spot};
pub use quartiers::Neighbourhood;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;

/// A map picker's fields that do not read as a point on Earth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadablePoint;

impl fmt::Display for UnreadablePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ce point de la carte est illisible. Touchez la carte à nouveau.")
    }
}

/// The point of a map picker's `lat` and `lon` fields (`45.899` or `45,899`): `Ok(None)` when
/// both are empty (no place chosen).
pub fn point_from_form(lat: &str, lon: &str) -> Result<Option<Point>, UnreadablePoint> {
    let coordinate = |raw: &str, max: f64| {
        raw.trim()
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && v.abs() <= max)
    };
    match (lat.trim(), lon.trim()) {
        ("", "") => Ok(None),
        (lat, lon) => match (coordinate(lat, 90.0), coordinate(lon, 180.0)) {
            (Some(lat), Some(lon)) => Ok(Some(Point { lat, lon })),
            _ => Err(UnreadablePoint),
        },
    }
}

/// Whether `at` lies inside the call's commune: its official outline (IGN Admin Express,
/// generalised for maps), a point within 100 m of it counting as inside. `None` when the registry has no
/// outline for the commune: let the person choose rather than refuse. Since contract 0.2.3.
pub fn in_commune(at: Point) -> Result<Option<bool>, StoreError> {
    Ok(places::in_commune(at)?)
}

/// The commune's neighbourhoods, in the order its admins gave them (none if it has none).
/// Since contract 0.2.5.
pub fn neighbourhoods() -> Result<Vec<Neighbourhood>, StoreError> {
    Ok(quartiers::list()?)
}

/// The neighbourhood `at` lies in (or within 100 m of), if any. Since contract 0.2.5.
pub fn neighbourhood_at(at: Point) -> Result<Option<String>, StoreError> {
    Ok(quartiers::at(at)?)
}

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A key or a unique value is already taken, or the expected version moved on.
    Conflict(String),
    /// Bad arguments (empty names, oversized values, too many entries).
    Invalid(String),
    /// The database failed; the whole call is rolled back.
    Unavailable(String),
    /// A stored document is not the JSON the module expects, or a value did not serialise.
    Json(String),
}

impl From<wit::Error> for StoreError {
    fn from(err: wit::Error) -> Self {
        match err {
            wit::Error::Conflict(m) => Self::Conflict(m),
            wit::Error::Invalid(m) => Self::Invalid(m),
            wit::Error::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict(m) => write!(f, "conflict: {m}"),
            Self::Invalid(m) => write!(f, "invalid: {m}"),
            Self::Unavailable(m) => write!(f, "unavailable: {m}"),
            Self::Json(m) => write!(f, "json: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A stored document with its value decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc<T> {
    /// The key the module chose.
    pub key: String,
    /// The decoded value.
    pub value: T,
    /// Starts at 1, grows by one at each write (for optimistic `put`).
    pub version: u64,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last write time, Unix milliseconds.
    pub updated_at: i64,
}

impl<T: DeserializeOwned> Doc<T> {
    fn decode(collection: &str, doc: wit::Document) -> Result<Self, StoreError> {
        let value = serde_json::from_str(&doc.value)
            .map_err(|e| StoreError::Json(format!("{collection}/{}: {e}", doc.key)))?;
        Ok(Self {
            key: doc.key,
            value,
            version: doc.version,
            created_at: doc.created_at,
            updated_at: doc.updated_at,
        })
    }
}

/// A document found by its place: the document, its point, and its distance in metres from
/// the centre of a [`Collection::near`] query (0 from [`Collection::within`]).
#[derive(Debug, Clone)]
pub struct Placed<T> {
    /// The document.
    pub doc: Doc<T>,
    /// Where it is.
    pub at: Point,
    /// Metres from the query's centre (great-circle distance).
    pub distance: f64,
}

impl<T: DeserializeOwned> Placed<T> {
    fn decode(collection: &str, p: places::Placed) -> Result<Self, StoreError> {
        Ok(Self {
            doc: Doc::decode(collection, p.document)?,
            at: p.at,
            distance: p.distance,
        })
    }
}

/// The secondary index entries and unique values declared with a write.
#[derive(Debug, Default, Clone)]
pub struct Indexes {
    indexes: Vec<wit::IndexEntry>,
    unique: Vec<wit::IndexEntry>,
}

impl Indexes {
    /// No index entry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secondary index entry (`list().index(name, value)` finds the document).
    pub fn index(mut self, name: &str, value: &str) -> Self {
        self.indexes.push(entry(name, value));
        self
    }

    /// Adds a value that must be unique in the collection for its name.
    pub fn unique(mut self, name: &str, value: &str) -> Self {
        self.unique.push(entry(name, value));
        self
    }
}

fn entry(name: &str, value: &str) -> wit::IndexEntry {
    wit::IndexEntry {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// A named collection of JSON documents.
#[derive(Debug, Clone, Copy)]
pub struct Collection<'a> {
    name: &'a str,
}

impl<'a> Collection<'a> {
    /// The collection called `name` (its own namespace per module and per commune).
    pub const fn new(name: &'a str) -> Self {
        Self { name }
    }

    /// The collection's name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Places the document at `key` at `at` (or moves it there): one point per document,
    /// gone when the document is deleted. [`StoreError::Invalid`] if there is no such document
    /// or the point is out of range.
    pub fn place(&self, key: &str, at: Point) -> Result<(), StoreError> {
        Ok(places::set(self.name, key, at)?)
    }

    /// Removes the document's place; false if it had none.
    pub fn unplace(&self, key: &str) -> Result<bool, StoreError> {
        Ok(places::clear(self.name, key)?)
    }

    /// The document's place, if it has one.
    pub fn place_of(&self, key: &str) -> Result<Option<Point>, StoreError> {
        Ok(places::get(self.name, key)?)
    }

    /// The placed documents inside `bbox` (south ≤ north, west ≤ east), by key; at most
    /// `limit` (1 to 500).
    pub fn within<T: DeserializeOwned>(
        &self,
        bbox: Bbox,
        limit: u32,
    ) -> Result<Vec<Placed<T>>, StoreError> {
        places::within(self.name, bbox, limit)?
            .into_iter()
            .map(|p| Placed::decode(self.name, p))
            .collect()
    }

    /// The placed documents at most `radius` metres (up to 50 km) from `center`, the nearest
    /// first; at most `limit` (1 to 500).
    pub fn near<T: DeserializeOwned>(
        &self,
        center: Point,
        radius: f64,
        limit: u32,
    ) -> Result<Vec<Placed<T>>, StoreError> {
        places::near(self.name, center, radius, limit)?
            .into_iter()
            .map(|p| Placed::decode(self.name, p))
            .collect()
    }

    /// The places inside `bbox`, by key, at most `limit` (1 to 5,000): keys and points only, no
    /// document read — what a map draws. Since contract 0.2.3.
    pub fn points(&self, bbox: Bbox, limit: u32) -> Result<Vec<Spot>, StoreError> {
        Ok(places::points(self.name, bbox, limit)?)
    }

    /// The places inside `bbox` grouped on a grid of `columns` × `rows` cells (1 to 64 each):
    /// one [`Cluster`] per cell holding any (its count, mean point and bounds; its key when it
    /// holds one place), row by row from the north-west. Since contract 0.2.3.
    pub fn clusters(
        &self,
        bbox: Bbox,
        columns: u32,
        rows: u32,
    ) -> Result<Vec<Cluster>, StoreError> {
        Ok(places::clusters(self.name, bbox, columns, rows)?)
    }

    /// The document at `key`, if any.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<Doc<T>>, StoreError> {
        wit::get(self.name, key)?
            .map(|doc| Doc::decode(self.name, doc))
            .transpose()
    }

    /// The document at `key` as last committed, read outside the call's transaction while the
    /// call has not opened it (contract 0.2.9, `get-committed`): for what a writing call checks
    /// but does not change, such as a consultation's dates or a proposal's status. It may be a
    /// few milliseconds old and misses other calls' writes not yet committed; once the call has
    /// opened its transaction (any other read or write does), it is [`Collection::get`].
    /// On SQLite a writing call holds the commune's one writer from its first read to its end:
    /// reading this way first holds it for less time, every other writer waiting less.
    pub fn get_committed<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Doc<T>>, StoreError> {
        wit::get_committed(self.name, key)?
            .map(|doc| Doc::decode(self.name, doc))
            .transpose()
    }

    /// Creates a document; [`StoreError::Conflict`] if the key or a unique value is taken.
    /// Returns the new version (1).
    pub fn insert<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        indexes: Indexes,
    ) -> Result<u64, StoreError> {
        Ok(wit::insert(&self.write(key, value, indexes)?)?.version)
    }

    /// Creates or replaces a document. With `expected_version`, [`StoreError::Conflict`] unless
    /// the stored version is that one (0 = must not exist). Returns the new version.
    pub fn put<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        indexes: Indexes,
        expected_version: Option<u64>,
    ) -> Result<u64, StoreError> {
        Ok(wit::put(&self.write(key, value, indexes)?, expected_version)?.version)
    }

    /// Reads the document at `key`, changes it with `change` and writes it back with the index
    /// entries `indexes` gives; read again and retried (up to 8 times) when another call wrote
    /// it in between, as two supports or two evaluations of the same item at the same moment
    /// do. `change` says whether there is anything to write. `None` if there is no such
    /// document; the document as it now is otherwise.
    pub fn modify<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        indexes: impl Fn(&T) -> Indexes,
        mut change: impl FnMut(&mut T) -> bool,
    ) -> Result<Option<T>, StoreError> {
        // Each conflict means another call's write went through: a crowd of them on one
        // document (a popular idea) still leaves room for this one within a few turns.
        for _ in 0..8 {
            let Some(doc) = self.get::<T>(key)? else {
                return Ok(None);
            };
            let mut value = doc.value;
            if !change(&mut value) {
                return Ok(Some(value));
            }
            match self.put(key, &value, indexes(&value), Some(doc.version)) {
                Ok(_) => return Ok(Some(value)),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict(format!("{}/{key}", self.name)))
    }

    /// Deletes a document with its index entries; false if it did not exist.
    pub fn delete(&self, key: &str) -> Result<bool, StoreError> {
        Ok(wit::delete(self.name, key)?)
    }

    /// Number of documents, in all the collection or with one index entry.
    pub fn count(&self, index: Option<(&str, &str)>) -> Result<u64, StoreError> {
        let index = index.map(|(name, value)| entry(name, value));
        Ok(wit::count(self.name, index.as_ref())?)
    }

    /// How many documents (with one index entry, if given) are placed in each neighbourhood
    /// of the commune, by neighbourhood id; those holding none are left out. Since 0.2.5.
    pub fn count_by_neighbourhood(
        &self,
        index: Option<(&str, &str)>,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let index = index.map(|(name, value)| entry(name, value));
        Ok(quartiers::counts(self.name, index.as_ref())?)
    }

    /// A listing to refine (index, prefix, order, limit) then run with [`List::page`] or
    /// [`List::all`].
    pub fn list(&self) -> List<'a> {
        List {
            collection: self.name,
            neighbourhood: None,
            query: wit::Query {
                collection: self.name.to_owned(),
                index: None,
                prefix: None,
                after: None,
                limit: MAX_PAGE,
                descending: false,
            },
        }
    }

    fn write<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        indexes: Indexes,
    ) -> Result<wit::Write, StoreError> {
        let value = serde_json::to_string(value)
            .map_err(|e| StoreError::Json(format!("{}/{key}: {e}", self.name)))?;
        Ok(wit::Write {
            collection: self.name.to_owned(),
            key: key.to_owned(),
            value,
            indexes: indexes.indexes,
            unique: indexes.unique,
        })
    }
}

/// The host's largest page.
const MAX_PAGE: u32 = 500;

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct ListPage<T> {
    /// The documents of this page, in the listing's order.
    pub documents: Vec<Doc<T>>,
    /// The cursor for the next page ([`List::after`]); `None` at the end.
    pub next: Option<String>,
}

/// A listing of a collection, built by [`Collection::list`].
#[derive(Debug, Clone)]
pub struct List<'a> {
    collection: &'a str,
    neighbourhood: Option<String>,
    query: wit::Query,
}

impl List<'_> {
    /// Only documents with this index entry (ordered by key within it).
    pub fn index(mut self, name: &str, value: &str) -> Self {
        self.query.index = Some(entry(name, value));
        self
    }

    /// Only documents placed in this neighbourhood of the commune (its id). Since 0.2.5.
    pub fn neighbourhood(mut self, id: &str) -> Self {
        self.neighbourhood = Some(id.to_owned());
        self
    }

    /// Only keys starting with `prefix`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.query.prefix = Some(prefix.to_owned());
        self
    }

    /// Continues after this cursor (the `next` of the previous page).
    pub fn after(mut self, cursor: Option<&str>) -> Self {
        self.query.after = cursor.map(str::to_owned);
        self
    }

    /// At most `limit` documents per page (capped at 500).
    pub fn limit(mut self, limit: u32) -> Self {
        self.query.limit = limit.clamp(1, MAX_PAGE);
        self
    }

    /// Newest key first (keys from [`crate::host::new_id`] sort by creation time).
    pub fn descending(mut self) -> Self {
        self.query.descending = true;
        self
    }

    /// Runs the listing for one page.
    pub fn page<T: DeserializeOwned>(&self) -> Result<ListPage<T>, StoreError> {
        let page = match &self.neighbourhood {
            Some(id) => quartiers::documents(&self.query, id)?,
            None => wit::list(&self.query)?,
        };
        Ok(ListPage {
            documents: page
                .documents
                .into_iter()
                .map(|doc| Doc::decode(self.collection, doc))
                .collect::<Result<_, _>>()?,
            next: page.next,
        })
    }

    /// Runs the listing to its end, page after page.
    pub fn all<T: DeserializeOwned>(mut self) -> Result<Vec<Doc<T>>, StoreError> {
        let mut documents = Vec::new();
        loop {
            let page = self.page::<T>()?;
            documents.extend(page.documents);
            match page.next {
                Some(next) if self.query.after.as_deref() != Some(next.as_str()) => {
                    self.query.after = Some(next);
                }
                _ => return Ok(documents),
            }
        }
    }
}

/// Who supports what: one small document per account and item (key `<item>:<account>`,
/// indexed by the item and by the account), for « j'ai le même problème », « je soutiens
/// cette idée » and the like. Item keys must not contain `:`.
///
/// ```ignore
/// const SUPPORTS: Supports = Supports::new("soutiens", "idee");
/// if SUPPORTS.add("00000042", account, host::now_ms())? { /* a new supporter */ }
/// let everyone: Vec<String> = SUPPORTS.accounts("00000042")?;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Supports<'a> {
    collection: Collection<'a>,
    item: &'a str,
}

/// A support as stored (older documents may carry more fields: they are ignored).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Mark {
    account: String,
    at: i64,
}

impl<'a> Supports<'a> {
    /// Supports kept in `collection`, indexed by item under `item_index`.
    pub const fn new(collection: &'a str, item_index: &'a str) -> Self {
        Self {
            collection: Collection::new(collection),
            item: item_index,
        }
    }

    fn key(item: &str, account: &str) -> String {
        format!("{item}:{account}")
    }

    /// `account` supports `item` from `at`; false if it already did.
    pub fn add(&self, item: &str, account: &str, at: i64) -> Result<bool, StoreError> {
        let key = Self::key(item, account);
        if self.collection.get::<Mark>(&key)?.is_some() {
            return Ok(false);
        }
        let mark = Mark {
            account: account.to_string(),
            at,
        };
        let indexes = Indexes::new()
            .index(self.item, item)
            .index("compte", account);
        match self.collection.insert(&key, &mark, indexes) {
            Ok(_) => Ok(true),
            // The same person's twin request got there first.
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `account` withdraws its support; false if it gave none.
    pub fn remove(&self, item: &str, account: &str) -> Result<bool, StoreError> {
        self.collection.delete(&Self::key(item, account))
    }

    /// Whether `account` supports `item`.
    pub fn has(&self, item: &str, account: &str) -> Result<bool, StoreError> {
        Ok(self
            .collection
            .get::<Mark>(&Self::key(item, account))?
            .is_some())
    }

    /// How many support `item`.
    pub fn count(&self, item: &str) -> Result<u64, StoreError> {
        self.collection.count(Some((self.item, item)))
    }

    /// The accounts supporting `item`.
    pub fn accounts(&self, item: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .collection
            .list()
            .index(self.item, item)
            .all::<Mark>()?
            .into_iter()
            .map(|d| d.value.account)
            .collect())
    }

    /// What `account` supports: each item's key and since when.
    pub fn of(&self, account: &str) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(self
            .collection
            .list()
            .index("compte", account)
            .all::<Mark>()?
            .into_iter()
            .filter_map(|d| {
                let (item, _) = d.key.split_once(':')?;
                Some((item.to_string(), d.value.at))
            })
            .collect())
    }

    /// Withdraws every support of `account` (its account was deleted); returns the items it
    /// supported.
    pub fn forget(&self, account: &str) -> Result<Vec<String>, StoreError> {
        let items = self.of(account)?;
        for (item, _) in &items {
            self.collection.delete(&Self::key(item, account))?;
        }
        Ok(items.into_iter().map(|(item, _)| item).collect())
    }
}

/// The next number of a numbered series (reports, ideas: « n° 42 »), from 1, kept in the
/// counter `counter`.
pub fn next_number(counter: &str) -> Result<u64, StoreError> {
    let n = incr(counter, 1)?;
    u64::try_from(n).map_err(|_| StoreError::Invalid(format!("numéro {n}")))
}

/// Adds `delta` to a named counter (created at 0) and returns its new value.
pub fn incr(counter: &str, delta: i64) -> Result<i64, StoreError> {
    Ok(wit::incr(counter, delta)?)
}

/// The counters whose names start with `prefix`, by name.
pub fn counters(prefix: &str) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(wit::counters(prefix)?)
}
