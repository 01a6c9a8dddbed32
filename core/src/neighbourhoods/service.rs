//! What a commune's admins do with its neighbourhoods, and what its maps read.

use crate::communes::outline::{self, Geometry};
use crate::db::Db;
use crate::db::TenantDb;
use crate::db::sql;
use crate::neighbourhoods::shape::{self, Drawn, ShapeError};
use crate::neighbourhoods::store::{self, Neighbourhood};
use crate::util::now;

/// Why the commune's neighbourhoods were left as they were.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file, or the registry's arrondissements, did not pass the checks.
    #[error("{0}")]
    Shape(#[from] ShapeError),
    /// The registry has no arrondissement for this commune (only Paris, Lyon and Marseille).
    #[error("Cette commune n'a pas d'arrondissements municipaux.")]
    NoArrondissements,
    /// Someone else changed the neighbourhoods while this change was checked.
    #[error(
        "Les quartiers ont été modifiés entre-temps par quelqu'un d'autre : rechargez la page, puis recommencez."
    )]
    Changed,
    /// The commune changed its neighbourhoods [`CHANGES_PER_HOUR`] times in the last hour.
    #[error(
        "Les quartiers de la commune ont déjà été modifiés {CHANGES_PER_HOUR} fois en une heure : chaque modification replace tous les lieux de la commune sur la carte. Réessayez dans quelques minutes."
    )]
    TooOften,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// How many times a commune's neighbourhoods may change in an hour (drawing a dozen one by
/// one, and correcting a few, fits). Each change places again every place of the commune in
/// one transaction, about 2 s of SQLite's single writer for Paris's 100,000: without a bound,
/// one admin re-importing in a loop would slow every commune's writes.
pub const CHANGES_PER_HOUR: u32 = 30;

/// The changes of each commune's neighbourhoods, counted in this process.
static CHANGES: std::sync::LazyLock<crate::rate_limit::RateLimit<crate::types::TenantId>> =
    std::sync::LazyLock::new(|| crate::rate_limit::RateLimit::per_hour(CHANGES_PER_HOUR));

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// Neighbourhoods the commune has now.
    pub neighbourhoods: usize,
    /// Places of the modules (reports, ideas…) now in another neighbourhood, or in none.
    pub moved: u64,
}

/// The commune's neighbourhoods, in order.
pub async fn list(tenant: &TenantDb) -> Result<Vec<Neighbourhood>, sqlx::Error> {
    let mut tx = tenant.read().await?;
    let list = store::list(&mut tx).await?;
    tx.commit().await?;
    Ok(list)
}

/// Each neighbourhood's area in square metres, by id.
pub async fn areas(tenant: &TenantDb) -> Result<Vec<(String, f64)>, sqlx::Error> {
    Ok(current(tenant)
        .await?
        .into_iter()
        .map(|d| {
            let area = shape::area_m2(&d.geometry);
            (d.id, area)
        })
        .collect())
}

/// The commune's outline as stored (checked) geometry, if the registry has it.
async fn commune_geometry(db: &Db, insee: &str) -> Result<Option<Geometry>, sqlx::Error> {
    let text = outline::text_of(db, insee).await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Replaces the commune's neighbourhoods with a GeoJSON file's, in one transaction with the
/// neighbourhood of every place: all or nothing.
pub async fn import(
    db: &Db,
    tenant: &TenantDb,
    insee: &str,
    file: Vec<u8>,
) -> Result<Imported, ImportError> {
    let commune = commune_geometry(db, insee).await?;
    let drawn = off_workers(move || shape::read(&file, commune.as_ref())).await?;
    save(tenant, &drawn).await
}

/// Replaces the commune's neighbourhoods with its municipal arrondissements (Paris, Lyon,
/// Marseille), from the registry: « 1er arrondissement »… (`name`: the commune's, which the
/// registry's names start with).
pub async fn from_arrondissements(
    db: &Db,
    tenant: &TenantDb,
    insee: &str,
    name: &str,
) -> Result<Imported, ImportError> {
    let drawn = arrondissements(db, insee, name).await?;
    if drawn.is_empty() {
        return Err(ImportError::NoArrondissements);
    }
    let commune = commune_geometry(db, insee).await?;
    let checked = drawn.clone();
    off_workers(move || shape::check_together(&checked, commune.as_ref())).await?;
    save(tenant, &drawn).await
}

/// How many municipal arrondissements with an outline the registry has for `insee`.
pub async fn arrondissement_count(db: &Db, insee: &str) -> Result<i64, sqlx::Error> {
    sql::query_scalar(
        "SELECT COUNT(*) FROM neighbourhoods n JOIN commune_outlines o ON o.code = n.code \
         WHERE n.parent_insee = $1 AND n.kind = 'arrondissement'",
    )
    .bind(insee)
    .fetch_one(db.platform())
    .await
}

async fn arrondissements(db: &Db, insee: &str, commune: &str) -> Result<Vec<Drawn>, sqlx::Error> {
    let rows: Vec<(String, String, String)> = sql::query_as(
        "SELECT n.code, n.name, o.outline FROM neighbourhoods n \
         JOIN commune_outlines o ON o.code = n.code \
         WHERE n.parent_insee = $1 AND n.kind = 'arrondissement' ORDER BY n.code",
    )
    .bind(insee)
    .fetch_all(db.platform())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(code, name, text)| {
            let geometry: Geometry = serde_json::from_str(&text)
                .inspect_err(
                    |e| tracing::error!(error = %e, code, "arrondissement outline unreadable"),
                )
                .ok()?;
            Some(shape::drawn(&arrondissement_name(&name, commune), geometry))
        })
        .collect())
}

/// « Paris 1er Arrondissement » → « 1er arrondissement ».
fn arrondissement_name(name: &str, commune: &str) -> String {
    let short = name.strip_prefix(commune).unwrap_or(name).trim();
    short.replace("Arrondissement", "arrondissement")
}

/// The commune's neighbourhoods as they are stored, to change one and save them all again.
async fn current(tenant: &TenantDb) -> Result<Vec<Drawn>, sqlx::Error> {
    let mut tx = tenant.read().await?;
    let outlines = store::outlines(&mut tx).await?;
    tx.commit().await?;
    Ok(outlines
        .into_iter()
        .filter_map(|(n, text)| {
            let geometry: Geometry = serde_json::from_str(&text).ok()?;
            Some(Drawn {
                id: n.id,
                name: n.name,
                bounds: shape::bounds_of(&geometry),
                geometry,
            })
        })
        .collect())
}

/// Adds a neighbourhood drawn on the map (GeoJSON Polygon or MultiPolygon geometry text) to
/// the commune's, checked with them (a name taken, an overlap, a spill are refused).
pub async fn add_drawn(
    db: &Db,
    tenant: &TenantDb,
    insee: &str,
    name: &str,
    geometry: &str,
) -> Result<Imported, ImportError> {
    let mut all = current(tenant).await?;
    let read = ids(&all);
    let commune = commune_geometry(db, insee).await?;
    let file = shape::single_feature(name, geometry);
    let drawn = off_workers(move || {
        let mut new = shape::read(file.as_bytes(), commune.as_ref())?;
        let existing = all.len();
        all.append(&mut new);
        shape::check_names(&all, existing).map_err(|e| match e {
            ShapeError::SameName(_, name) => ShapeError::Taken(name),
            other => other,
        })?;
        shape::check_together(&all, commune.as_ref())?;
        Ok(all)
    })
    .await?;
    save_over(tenant, &drawn, Some(&read)).await
}

/// Runs a check of shapes on the blocking pool: overlaps and areas of a large file are worth
/// some milliseconds of CPU, kept off the workers that answer requests.
async fn off_workers<T: Send + 'static>(
    check: impl FnOnce() -> Result<T, ShapeError> + Send + 'static,
) -> Result<T, ImportError> {
    let checked = tokio::task::spawn_blocking(check)
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("neighbourhood check: {e}")))?;
    Ok(checked?)
}

/// Removes one neighbourhood; `None` if the commune has no such one.
pub async fn remove(tenant: &TenantDb, id: &str) -> Result<Option<Imported>, ImportError> {
    let mut all = current(tenant).await?;
    let read = ids(&all);
    all.retain(|d| d.id != id);
    if all.len() == read.len() {
        return Ok(None);
    }
    save_over(tenant, &all, Some(&read)).await.map(Some)
}

fn ids(drawn: &[Drawn]) -> Vec<String> {
    drawn.iter().map(|d| d.id.clone()).collect()
}

/// Removes the commune's neighbourhoods (the places keep their points, in no neighbourhood).
pub async fn clear(tenant: &TenantDb) -> Result<Imported, ImportError> {
    save(tenant, &[]).await
}

async fn save(tenant: &TenantDb, drawn: &[Drawn]) -> Result<Imported, ImportError> {
    save_over(tenant, drawn, None).await
}

/// Saves `drawn` in place of the commune's neighbourhoods; with `read`, only if they are
/// still those (by id, in order): a change made from what was read cannot undo another
/// admin's made meanwhile.
async fn save_over(
    tenant: &TenantDb,
    drawn: &[Drawn],
    read: Option<&[String]>,
) -> Result<Imported, ImportError> {
    if !CHANGES.check(&tenant.tenant_id()) {
        return Err(ImportError::TooOften);
    }
    let mut tx = tenant.begin_write().await?;
    if let Some(read) = read {
        let now: Vec<String> = store::list(&mut tx)
            .await?
            .into_iter()
            .map(|n| n.id)
            .collect();
        if now != read {
            return Err(ImportError::Changed);
        }
    }
    store::replace(&mut tx, drawn, now()).await?;
    let moved = store::reassign(&mut tx).await?;
    tx.commit().await?;
    tracing::info!(
        tenant = %tenant.tenant_id(),
        neighbourhoods = drawn.len(),
        moved,
        "neighbourhoods replaced"
    );
    Ok(Imported {
        neighbourhoods: drawn.len(),
        moved,
    })
}

/// The commune's neighbourhoods as a GeoJSON FeatureCollection (`id` and `nom` in each
/// feature's properties), for its maps.
pub async fn geojson(tenant: &TenantDb) -> Result<String, sqlx::Error> {
    let mut tx = tenant.read().await?;
    let outlines = store::outlines(&mut tx).await?;
    tx.commit().await?;
    let mut body = String::from(r#"{"type":"FeatureCollection","features":["#);
    for (i, (n, geometry)) in outlines.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let properties = serde_json::json!({ "id": n.id, "nom": n.name });
        // Stored geometry is checked, compact JSON (`shape::read`): spliced as it is.
        body.push_str(&format!(
            r#"{{"type":"Feature","id":{},"properties":{properties},"geometry":{geometry}}}"#,
            serde_json::Value::from(n.id.as_str())
        ));
    }
    body.push_str("]}");
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrondissements_are_named_as_people_say_them() {
        assert_eq!(
            arrondissement_name("Paris 1er Arrondissement", "Paris"),
            "1er arrondissement"
        );
        assert_eq!(
            arrondissement_name("Marseille 16e Arrondissement", "Marseille"),
            "16e arrondissement"
        );
    }
}
