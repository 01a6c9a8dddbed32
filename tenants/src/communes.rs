//! `parvis communes import`: loads the official registry (régions, départements, EPCIs,
//! communes with population and postal codes, their neighbourhoods) in one transaction,
//! idempotently: a second run updates rows in place and creates nothing.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;

use parvis_core::db::{Db, sql};
use parvis_core::types::InseeCode;
use parvis_core::util::search_key;

pub use crate::Progress;
use crate::data::{self, RawCommune};

/// Where the data files come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The copy compiled into the binary (`data/`).
    Embedded,
    /// A folder holding files of the same names.
    Dir(PathBuf),
}

/// Which communes to import.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every commune.
    All,
    /// These communes (with their neighbourhoods, EPCI, département and région); tests use it.
    Only(Vec<InseeCode>),
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Régions.
    pub regions: usize,
    /// Départements.
    pub departements: usize,
    /// Intercommunalités.
    pub epcis: usize,
    /// Current communes.
    pub communes: usize,
    /// Delegated/associated communes and municipal arrondissements.
    pub neighbourhoods: usize,
    /// Outlines of communes and municipal arrondissements (0 when the source has none).
    pub outlines: usize,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} communes, {} communes déléguées, associées ou arrondissements, {} intercommunalités, \
             {} départements, {} régions, {} contours importés.",
            self.communes,
            self.neighbourhoods,
            self.epcis,
            self.departements,
            self.regions,
            self.outlines
        )
    }
}

/// Why an import failed; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file is missing or unreadable.
    #[error("{file} : {reason}")]
    File {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A line of a CSV (or line-delimited JSON) file is invalid.
    #[error("{file}, ligne {line} : {reason}")]
    Line {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// An entry is inconsistent with the rest of the data.
    #[error("communes.json.gz, entrée n° {index} (code {code}) : {reason}")]
    Entry {
        /// 1-based position in the file.
        index: usize,
        /// Its code.
        code: String,
        /// What is wrong.
        reason: String,
    },
    /// The database refused the data.
    #[error("base de données : {0}")]
    Db(#[from] sqlx::Error),
}

/// A value bound in a batch insert.
pub(crate) enum V {
    T(Option<String>),
    I(Option<i64>),
    F(Option<f64>),
}

/// Inserts `rows` in batches of multi-row INSERTs; `on_conflict` is the upsert clause.
pub(crate) async fn insert_batched(
    tx: &mut sqlx::AnyConnection,
    table: &str,
    columns: &[&str],
    on_conflict: &str,
    rows: Vec<Vec<V>>,
    bar: &indicatif::ProgressBar,
) -> Result<(), sqlx::Error> {
    // ~1,000 parameters per statement: the whole registry took 10.4 s with 16,000 per
    // statement and 1.0 s with 1,000 (binding cost grows faster than the statement).
    let per_batch = (1_000 / columns.len()).max(1);
    // sqlx looks `$N` names up among all of a statement's parameters on SQLite (18 % of a
    // large import's time in a profile): plain `?` placeholders bind by position.
    let sqlite = tx.backend_name() == "SQLite";
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<Vec<V>> = rows.by_ref().take(per_batch).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, _) in batch.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..columns.len() {
                if c > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                if sqlite {
                    sql.push('?');
                } else {
                    sql.push_str(&format!("${n}"));
                }
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(on_conflict);
        let count = batch.len() as u64;
        let mut query = sql::query(&sql);
        for row in batch {
            for value in row {
                query = match value {
                    V::T(v) => query.bind(v),
                    V::I(v) => query.bind(v),
                    V::F(v) => query.bind(v),
                };
            }
        }
        query.execute(&mut *tx).await?;
        bar.inc(count);
    }
    Ok(())
}

fn upsert_clause(key: &str, columns: &[&str]) -> String {
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| !key.split(", ").any(|k| k == **c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!("ON CONFLICT ({key}) DO UPDATE SET {}", updates.join(", "))
}

fn neighbourhood_kind(kind: &str) -> Option<&'static str> {
    match kind {
        "commune-deleguee" => Some("deleguee"),
        "commune-associee" => Some("associee"),
        "arrondissement-municipal" => Some("arrondissement"),
        _ => None,
    }
}

/// Imports the registry. Everything happens in one transaction: on error nothing is written.
pub async fn import(
    db: &Db,
    source: &Source,
    selection: &Selection,
    progress: Progress,
) -> Result<ImportReport, ImportError> {
    let registry = data::load(source)?;
    let wanted: Option<HashSet<&str>> = match selection {
        Selection::All => None,
        Selection::Only(codes) => Some(codes.iter().map(InseeCode::as_str).collect()),
    };
    let selected = |code: &str| wanted.as_ref().is_none_or(|w| w.contains(code));

    // Check every entry before writing anything.
    let region_codes: HashSet<&str> = registry.regions.iter().map(|r| r.code.as_str()).collect();
    let departement_codes: HashSet<&str> = registry
        .departements
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    let mut current: Vec<(&RawCommune, String)> = Vec::new();
    let mut neighbourhoods: Vec<(&RawCommune, &'static str, String)> = Vec::new();
    for (i, c) in registry.communes.iter().enumerate() {
        let entry_error = |reason: String| ImportError::Entry {
            index: i + 1,
            code: c.code.clone(),
            reason,
        };
        let code = InseeCode::parse(&c.code).map_err(|e| entry_error(e.to_string()))?;
        if c.kind == "commune-actuelle" {
            let dep = c.departement.as_deref().unwrap_or_default();
            let reg = c.region.as_deref().unwrap_or_default();
            if !departement_codes.contains(dep) {
                return Err(entry_error(format!("département « {dep} » inconnu")));
            }
            if !region_codes.contains(reg) {
                return Err(entry_error(format!("région « {reg} » inconnue")));
            }
            if selected(code.as_str()) {
                current.push((c, code.to_string()));
            }
        } else if let Some(kind) = neighbourhood_kind(&c.kind) {
            let parent = c
                .chef_lieu
                .clone()
                .or_else(|| c.commune.clone())
                .ok_or_else(|| entry_error("commune de rattachement absente".into()))?;
            if selected(&parent) {
                neighbourhoods.push((c, kind, parent));
            }
        } else {
            return Err(entry_error(format!("type « {} » inconnu", c.kind)));
        }
    }
    let current_codes: HashSet<&str> = current.iter().map(|(_, code)| code.as_str()).collect();
    if let Some(wanted) = &wanted
        && let Some(missing) = wanted.iter().find(|c| !current_codes.contains(**c))
    {
        return Err(ImportError::Entry {
            index: 0,
            code: missing.to_string(),
            reason: "aucune commune actuelle n'a ce code".into(),
        });
    }
    if let Some((c, _, parent)) = neighbourhoods
        .iter()
        .find(|(_, _, p)| wanted.is_none() && !current_codes.contains(p.as_str()))
    {
        return Err(ImportError::Entry {
            index: 0,
            code: c.code.clone(),
            reason: format!("commune de rattachement {parent} inconnue"),
        });
    }
    let mut epci_of: HashMap<&str, &str> = HashMap::new();
    for e in &registry.epcis {
        for m in &e.membres {
            epci_of.insert(m.code.as_str(), e.code.as_str());
        }
    }
    let epcis: Vec<_> = registry
        .epcis
        .iter()
        .filter(|e| {
            e.membres
                .iter()
                .any(|m| current_codes.contains(m.code.as_str()))
        })
        .collect();

    let bar = progress.bar((current.len() + neighbourhoods.len()) as u64, "communes");
    let hidden = indicatif::ProgressBar::hidden();
    let mut tx = db.begin_immediate().await?;

    let cols = ["code", "name"];
    let rows = registry
        .regions
        .iter()
        .map(|r| vec![V::T(Some(r.code.clone())), V::T(Some(r.nom.clone()))])
        .collect();
    insert_batched(
        &mut tx,
        "regions",
        &cols,
        &upsert_clause("code", &cols),
        rows,
        &hidden,
    )
    .await?;

    let cols = ["code", "name", "region_code"];
    let rows = registry
        .departements
        .iter()
        .map(|d| {
            vec![
                V::T(Some(d.code.clone())),
                V::T(Some(d.nom.clone())),
                V::T(d.region.clone()),
            ]
        })
        .collect();
    insert_batched(
        &mut tx,
        "departements",
        &cols,
        &upsert_clause("code", &cols),
        rows,
        &hidden,
    )
    .await?;

    let cols = ["siren", "name", "kind"];
    let rows = epcis
        .iter()
        .map(|e| {
            vec![
                V::T(Some(e.code.clone())),
                V::T(Some(e.nom.clone())),
                V::T(Some(e.kind.clone())),
            ]
        })
        .collect();
    insert_batched(
        &mut tx,
        "epcis",
        &cols,
        &upsert_clause("siren", &cols),
        rows,
        &hidden,
    )
    .await?;

    let cols = [
        "insee",
        "name",
        "departement_code",
        "region_code",
        "epci_siren",
        "population",
        "postal_codes",
        "search_key",
        "latitude",
        "longitude",
        "mairie_address",
        "mairie_phone",
        "mairie_email",
        "mairie_website",
        "name_kind",
    ];
    let rows = current
        .iter()
        .map(|(c, code)| {
            let m = registry
                .mairies
                .get(code.as_str())
                .cloned()
                .unwrap_or_default();
            vec![
                V::T(Some(code.clone())),
                V::T(Some(c.nom.clone())),
                V::T(c.departement.clone()),
                V::T(c.region.clone()),
                V::T(epci_of.get(code.as_str()).map(|s| s.to_string())),
                V::I(c.population),
                V::T(Some(c.postal_codes.join(" "))),
                V::T(Some(search_key(&c.nom))),
                V::F(m.latitude),
                V::F(m.longitude),
                V::T(m.address),
                V::T(m.phone),
                V::T(m.email),
                V::T(m.website),
                V::I(c.name_kind),
            ]
        })
        .collect();
    insert_batched(
        &mut tx,
        "communes",
        &cols,
        &upsert_clause("insee", &cols),
        rows,
        &bar,
    )
    .await?;

    // Neighbourhoods are replaced wholesale for the imported communes.
    match &wanted {
        None => {
            sql::query("DELETE FROM neighbourhoods")
                .execute(&mut *tx)
                .await?;
        }
        Some(codes) => {
            for code in codes {
                sql::query("DELETE FROM neighbourhoods WHERE parent_insee = $1")
                    .bind(*code)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    let cols = [
        "parent_insee",
        "kind",
        "code",
        "name",
        "population",
        "postal_codes",
    ];
    let rows = neighbourhoods
        .iter()
        .map(|(c, kind, parent)| {
            vec![
                V::T(Some(parent.clone())),
                V::T(Some(kind.to_string())),
                V::T(Some(c.code.clone())),
                V::T(Some(c.nom.clone())),
                V::I(c.population),
                V::T(Some(c.postal_codes.join(" "))),
            ]
        })
        .collect();
    insert_batched(
        &mut tx,
        "neighbourhoods",
        &cols,
        &upsert_clause("parent_insee, kind, code", &cols),
        rows,
        &bar,
    )
    .await?;

    // Outlines of the imported communes and of their municipal arrondissements, when the
    // source has them (a whole import replaces them all).
    let mut outlines = 0;
    if let Some(file) = &registry.outlines {
        let codes: HashSet<&str> = current_codes
            .iter()
            .copied()
            .chain(neighbourhoods.iter().map(|(c, _, _)| c.code.as_str()))
            .collect();
        let all = data::parse_outlines(file, wanted.is_some().then_some(&codes))?;
        if wanted.is_none() {
            sql::query("DELETE FROM commune_outlines")
                .execute(&mut *tx)
                .await?;
        }
        let cols = ["code", "kind", "outline"];
        let rows: Vec<_> = all
            .into_iter()
            .filter(|o| codes.contains(o.code.as_str()))
            .map(|o| {
                vec![
                    V::T(Some(o.code)),
                    V::T(Some(o.kind)),
                    V::T(Some(o.outline)),
                ]
            })
            .collect();
        outlines = rows.len();
        insert_batched(
            &mut tx,
            "commune_outlines",
            &cols,
            &upsert_clause("code", &cols),
            rows,
            &hidden,
        )
        .await?;
    }

    tx.commit().await?;
    bar.finish_and_clear();
    Ok(ImportReport {
        regions: registry.regions.len(),
        departements: registry.departements.len(),
        epcis: epcis.len(),
        communes: current.len(),
        neighbourhoods: neighbourhoods.len(),
        outlines,
    })
}
