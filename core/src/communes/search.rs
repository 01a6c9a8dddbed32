//! In-memory search over all ~35,000 communes, by name or postal code, fast enough to answer
//! as you type (a linear scan of folded names takes well under a millisecond).
//!
//! The cost of one search is bounded whatever a client sends: the query is cut to
//! [`MAX_QUERY_CHARS`] (pages refuse longer ones first, see [`check_query`]), the scan allocates
//! nothing per commune, and at most `limit` hits are kept per rank.

use std::sync::RwLock;

use serde::Serialize;

use crate::db::{Db, sql};
use crate::error::AppError;
use crate::util::search_key;

/// Longest query searched, in characters. The longest commune name has 45
/// (« Saint-Remy-en-Bouzemont-Saint-Genest-et-Isson »); the search box says `maxlength="100"`.
pub const MAX_QUERY_CHARS: usize = 100;

/// Refuses a query longer than [`MAX_QUERY_CHARS`], with the message pages and the API show.
pub fn check_query(query: &str) -> Result<(), AppError> {
    // Counting stops at the limit: a huge query costs no more than a long one.
    if query.chars().nth(MAX_QUERY_CHARS).is_some() {
        return Err(AppError::bad_request(format!(
            "La recherche est limitée à {MAX_QUERY_CHARS} caractères : \
             tapez le début du nom de la commune ou son code postal."
        )));
    }
    Ok(())
}

/// Ranks of a hit, best first: the whole name, its beginning, the beginning of one of its
/// words (or, for digits: a postal code, an INSEE code).
const RANKS: usize = 3;

/// One searchable commune.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct CommuneHit {
    /// INSEE code.
    pub insee: String,
    /// Official name.
    pub name: String,
    /// Département code.
    pub departement_code: Option<String>,
    /// Population municipale.
    pub population: Option<i64>,
    /// Postal codes, space-separated.
    pub postal_codes: String,
    /// Tenant slug when the commune is served.
    pub slug: Option<String>,
    /// How the name joins a sentence: INSEE's `typeLiaison` ([`crate::communes::names`]).
    pub name_kind: Option<i64>,
    #[serde(skip)]
    #[row(rename = "search_key")]
    key: String,
}

/// The index; reloaded after imports and provisioning.
#[derive(Default)]
pub struct CommuneIndex {
    entries: RwLock<Vec<CommuneHit>>,
}

impl CommuneIndex {
    /// (Re)loads every current commune from the registry.
    pub async fn reload(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let entries: Vec<CommuneHit> = sql::query_as(
            "SELECT c.insee, c.name, c.name_kind, c.departement_code, c.population, c.postal_codes, c.search_key, t.slug \
             FROM communes c LEFT JOIN tenants t ON t.insee = c.insee AND t.status = 'active' \
             ORDER BY c.population DESC",
        )
        .fetch_all(db.platform())
        .await?;
        let n = entries.len();
        if let Ok(mut guard) = self.entries.write() {
            *guard = entries;
        }
        Ok(n)
    }

    /// Communes whose name starts with (or has a word starting with) `query`, or whose postal
    /// or INSEE code starts with it; best matches first, then by population. Only the first
    /// [`MAX_QUERY_CHARS`] characters of `query` are read.
    pub fn search(&self, query: &str, limit: usize) -> Vec<CommuneHit> {
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let q = search_key(&query);
        if q.is_empty() || limit == 0 {
            return vec![];
        }
        let Ok(entries) = self.entries.read() else {
            return vec![];
        };
        let digits = q.bytes().all(|b| b.is_ascii_digit() || b == b' ');
        let q_compact: String = q.chars().filter(|c| *c != ' ').collect();
        let word = format!(" {q}");
        // Entries are by population, descending: filling each rank in scan order keeps that
        // order within a rank.
        let mut ranked: [Vec<usize>; RANKS] = Default::default();
        for (i, e) in entries.iter().enumerate() {
            let rank = if digits {
                if e.postal_codes.split(' ').any(|p| p.starts_with(&q_compact)) {
                    Some(1)
                } else if e.insee.starts_with(&q_compact) {
                    Some(2)
                } else {
                    None
                }
            } else if e.key == q {
                Some(0)
            } else if e.key.starts_with(&q) {
                Some(1)
            } else if e.key.contains(&word) {
                Some(2)
            } else {
                None
            };
            if let Some(rank) = rank
                && ranked[rank].len() < limit
            {
                ranked[rank].push(i);
            }
        }
        ranked
            .into_iter()
            .flatten()
            .take(limit)
            .map(|i| entries[i].clone())
            .collect()
    }

    /// The communes not yet served whose name gives `slug` (« sainte-colombe »: several),
    /// most populous first: who an address like `annecy.<domain>` was meant for.
    pub fn unopened_by_slug(&self, slug: &str) -> Vec<CommuneHit> {
        let key = slug.replace('-', " ");
        let Ok(entries) = self.entries.read() else {
            return vec![];
        };
        entries
            .iter()
            .filter(|e| e.slug.is_none() && e.key == key)
            .take(5)
            .cloned()
            .collect()
    }

    /// How many communes are indexed.
    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether the index is empty (registry not imported yet).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
