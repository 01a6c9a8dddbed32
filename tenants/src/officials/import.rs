//! Writing parsed RNE rows: officials and mandates per commune tenant, in one platform
//! transaction (it spans every tenant, so on PostgreSQL it opts in with `platform_write_tx`).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use parvis_core::db::{Db, sql};
use parvis_core::util::now;
use sha2::{Digest as _, Sha256};

use crate::Progress;
use crate::communes::{V, insert_batched};
use crate::officials::parse::{self, FileError, FileKind, Rejected, Row, function_rank};

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct OfficialsReport {
    /// Which file it was.
    pub kind: Option<FileKind>,
    /// Valid rows written.
    pub rows: usize,
    /// Distinct officials in the file.
    pub officials: usize,
    /// Mandates no longer in the file, now ended.
    pub ended: u64,
    /// Rows refused, with line and reason.
    pub rejected: Vec<Rejected>,
}

impl fmt::Display for OfficialsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ligne(s) importée(s) ({} élu(s)), {} mandat(s) terminé(s), {} ligne(s) rejetée(s).",
            self.rows,
            self.officials,
            self.ended,
            self.rejected.len()
        )
    }
}

/// Why an import failed as a whole; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file itself is unusable.
    /// (The cause is part of the message, not a `source`: a chain printer such as anyhow's
    /// `{:#}` would print it twice.)
    #[error("{file} : {cause}")]
    File {
        /// Path.
        file: String,
        /// Cause.
        cause: FileError,
    },
    /// No row could be imported.
    #[error("aucune ligne importable ({0} ligne(s) rejetée(s))")]
    NothingValid(usize),
    /// Storage.
    #[error("base de données : {0}")]
    Db(#[from] sqlx::Error),
}

/// A stable key for a person within a commune (the RNE has no national identifier).
fn official_key(row: &Row) -> String {
    let folded = |s: &str| deunicode::deunicode(s).to_ascii_lowercase();
    let digest = Sha256::digest(format!(
        "{}|{}|{}",
        folded(&row.last_name),
        folded(&row.first_name),
        row.birth_date
    ));
    hex::encode(&digest[..12])
}

/// Imports an RNE file (`elus-conseillers-municipaux-cm.csv` or `elus-maires-mai.csv`).
pub async fn import_file(
    db: &Db,
    path: &Path,
    progress: Progress,
) -> Result<OfficialsReport, ImportError> {
    let file_error = |cause| ImportError::File {
        file: path.display().to_string(),
        cause,
    };
    let file = std::fs::File::open(path).map_err(|e| file_error(FileError::Io(e)))?;
    let (kind, rows, rejected) = parse::parse(std::io::BufReader::new(file)).map_err(file_error)?;
    import_rows(db, kind, rows, rejected, progress).await
}

/// Writes parsed rows. Rows of communes that are not served are rejected too.
pub async fn import_rows(
    db: &Db,
    kind: FileKind,
    rows: Vec<Row>,
    mut rejected: Vec<Rejected>,
    progress: Progress,
) -> Result<OfficialsReport, ImportError> {
    let mut tx = db.platform_write_tx().await?;
    let tenants: HashMap<String, i64> =
        sql::query_as::<(String, i64)>("SELECT insee, id FROM tenants")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    // Strictly after the previous import, even within the same second.
    let last: i64 = sql::query_scalar("SELECT COALESCE(MAX(seen_at), 0) FROM mandates")
        .fetch_one(&mut *tx)
        .await?;
    let run = now().max(last + 1);
    let mut officials: HashMap<(i64, String), Vec<V>> = HashMap::new();
    let mut mandates: HashMap<(i64, String, String), Vec<V>> = HashMap::new();
    let mut valid = 0;
    for row in rows {
        let Some(&tenant) = tenants.get(row.insee.as_str()) else {
            rejected.push(Rejected {
                line: row.line,
                reason: format!(
                    "la commune {} n'est pas ouverte sur Parvis (parvis tenant create --insee {})",
                    row.insee, row.insee
                ),
            });
            continue;
        };
        valid += 1;
        let key = official_key(&row);
        mandates.insert(
            (tenant, key.clone(), row.function_label.clone()),
            vec![
                V::I(Some(tenant)),
                V::T(Some(key.clone())),
                V::T(Some(kind.source().into())),
                V::T(Some(row.function_label.clone())),
                V::I(Some(function_rank(&row.function_label))),
                V::T(Some(row.mandate_start.clone())),
                V::T(row.function_start.clone()),
                V::I(Some(run)),
            ],
        );
        officials.entry((tenant, key.clone())).or_insert_with(|| {
            vec![
                V::I(Some(tenant)),
                V::T(Some(key)),
                V::T(Some(row.last_name)),
                V::T(Some(row.first_name)),
                V::T(row.sex),
                V::T(Some(row.birth_date)),
            ]
        });
    }
    if valid == 0 {
        return Err(ImportError::NothingValid(rejected.len()));
    }
    rejected.sort_by_key(|r| r.line);
    let official_count = officials.len();
    let bar = progress.bar((officials.len() + mandates.len()) as u64, "élus et mandats");
    let cols = [
        "tenant_id",
        "id",
        "last_name",
        "first_name",
        "sex",
        "birth_date",
    ];
    insert_batched(
        &mut tx,
        "officials",
        &cols,
        "ON CONFLICT (tenant_id, id) DO UPDATE SET last_name = excluded.last_name, \
         first_name = excluded.first_name, sex = excluded.sex",
        officials.into_values().collect(),
        &bar,
    )
    .await?;
    let cols = [
        "tenant_id",
        "official_id",
        "source",
        "function_label",
        "function_rank",
        "mandate_start",
        "function_start",
        "seen_at",
    ];
    insert_batched(
        &mut tx,
        "mandates",
        &cols,
        "ON CONFLICT (tenant_id, official_id, source, function_label) DO UPDATE SET \
         function_rank = excluded.function_rank, mandate_start = excluded.mandate_start, \
         function_start = excluded.function_start, seen_at = excluded.seen_at, ended_at = NULL",
        mandates.into_values().collect(),
        &bar,
    )
    .await?;
    // The RNE files are national: what this kind of file no longer lists has ended.
    let ended = sql::query(
        "UPDATE mandates SET ended_at = $1 WHERE source = $2 AND seen_at < $1 AND ended_at IS NULL",
    )
    .bind(run)
    .bind(kind.source())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    bar.finish_and_clear();
    Ok(OfficialsReport {
        kind: Some(kind),
        rows: valid,
        officials: official_count,
        ended,
        rejected,
    })
}
