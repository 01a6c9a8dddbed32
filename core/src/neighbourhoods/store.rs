//! Table `tenant_neighbourhoods`, and the neighbourhood each place of `module_places` lies in.

use crate::communes::outline::{MARGIN_M, Outline};
use crate::db::TenantSql;
use crate::modules::places::{BBox, METRES_PER_DEGREE, Point};
use crate::neighbourhoods::shape::Drawn;
use crate::types::ModuleId;

/// A neighbourhood of the commune, without its outline.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Neighbourhood {
    /// Its identifier in addresses and in modules' queries.
    pub id: String,
    pub name: String,
    /// The box around its outline.
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl Neighbourhood {
    /// The box around its outline.
    pub fn bounds(&self) -> BBox {
        BBox {
            south: self.south,
            west: self.west,
            north: self.north,
            east: self.east,
        }
    }
}

type Row = (String, String, f64, f64, f64, f64);

fn neighbourhood((id, name, south, west, north, east): Row) -> Neighbourhood {
    Neighbourhood {
        id,
        name,
        south,
        west,
        north,
        east,
    }
}

/// The commune's neighbourhoods, in the order they were given.
pub async fn list(tx: &mut impl TenantSql) -> Result<Vec<Neighbourhood>, sqlx::Error> {
    let rows: Vec<Row> = tx
        .scoped_as(
            "SELECT id, name, south, west, north, east FROM tenant_neighbourhoods \
             WHERE tenant_id = $1 ORDER BY position",
        )
        .fetch_all(tx)
        .await?;
    Ok(rows.into_iter().map(neighbourhood).collect())
}

/// Every neighbourhood with its outline (GeoJSON geometry text), in order.
pub async fn outlines(
    tx: &mut impl TenantSql,
) -> Result<Vec<(Neighbourhood, String)>, sqlx::Error> {
    let rows: Vec<(String, String, f64, f64, f64, f64, String)> = tx
        .scoped_as(
            "SELECT id, name, south, west, north, east, outline FROM tenant_neighbourhoods \
             WHERE tenant_id = $1 ORDER BY position",
        )
        .fetch_all(tx)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, s, w, n, e, outline)| (neighbourhood((id, name, s, w, n, e)), outline))
        .collect())
}

/// Replaces the commune's neighbourhoods with `drawn` (none to clear them).
pub async fn replace(
    tx: &mut impl TenantSql,
    drawn: &[Drawn],
    now: i64,
) -> Result<(), sqlx::Error> {
    tx.scoped("DELETE FROM tenant_neighbourhoods WHERE tenant_id = $1")
        .execute(tx)
        .await?;
    for (position, d) in drawn.iter().enumerate() {
        let outline =
            serde_json::to_string(&d.geometry).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        tx.scoped(
            "INSERT INTO tenant_neighbourhoods \
             (tenant_id, id, name, position, outline, south, west, north, east, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&d.id)
        .bind(&d.name)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(outline)
        .bind(d.bounds.south)
        .bind(d.bounds.west)
        .bind(d.bounds.north)
        .bind(d.bounds.east)
        .bind(now)
        .execute(tx)
        .await?;
    }
    Ok(())
}

/// The neighbourhoods' outlines, ready to place points: what [`Placer::at`] weighs.
pub struct Placer {
    outlines: Vec<(Neighbourhood, Outline)>,
}

/// How far around a box a point may be and still be weighed for it: [`MARGIN_M`] in degrees of
/// latitude, doubled for the longitude (up to 60° of latitude, where a degree of longitude is
/// half a degree of latitude: the whole of France).
fn margin_deg() -> f64 {
    MARGIN_M / METRES_PER_DEGREE
}

fn near_box(b: &BBox, at: Point) -> bool {
    let m = margin_deg();
    at.lat >= b.south - m
        && at.lat <= b.north + m
        && at.lon >= b.west - 2.0 * m
        && at.lon <= b.east + 2.0 * m
}

impl Placer {
    fn new(rows: Vec<(Neighbourhood, String)>) -> Placer {
        let outlines = rows
            .into_iter()
            .filter_map(|(n, text)| {
                Outline::parse(&text)
                    .inspect_err(|e| tracing::error!(error = %e, id = n.id, "stored neighbourhood outline unreadable"))
                    .ok()
                    .map(|o| (n, o))
            })
            .collect();
        Placer { outlines }
    }

    /// Whether the commune has no neighbourhood.
    pub fn is_empty(&self) -> bool {
        self.outlines.is_empty()
    }

    /// The neighbourhood `at` lies in: the first (in the commune's order) whose outline holds
    /// it, else the nearest within [`MARGIN_M`] (borders are drawn or generalised: a point in
    /// the street between two neighbourhoods still belongs to one), else none.
    pub fn at(&self, at: Point) -> Option<&str> {
        let candidates = || {
            self.outlines
                .iter()
                .filter(move |(n, _)| near_box(&n.bounds(), at))
        };
        if let Some((n, _)) = candidates().find(|(_, o)| o.contains(at)) {
            return Some(&n.id);
        }
        candidates()
            .map(|(n, o)| (n, o.distance_m(at)))
            .filter(|(_, d)| *d <= MARGIN_M)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(n, _)| n.id.as_str())
    }
}

/// Every neighbourhood of the commune, ready to place points.
pub async fn placer(tx: &mut impl TenantSql) -> Result<Placer, sqlx::Error> {
    Ok(Placer::new(outlines(tx).await?))
}

/// The neighbourhood `at` lies in ([`Placer::at`]), reading only the outlines whose box is
/// near it.
pub async fn at(tx: &mut impl TenantSql, at: Point) -> Result<Option<String>, sqlx::Error> {
    let m = margin_deg();
    let rows: Vec<(String, String, f64, f64, f64, f64, String)> = tx
        .scoped_as(
            "SELECT id, name, south, west, north, east, outline FROM tenant_neighbourhoods \
             WHERE tenant_id = $1 AND south <= $2 AND north >= $3 AND west <= $4 AND east >= $5 \
             ORDER BY position",
        )
        .bind(at.lat + m)
        .bind(at.lat - m)
        .bind(at.lon + 2.0 * m)
        .bind(at.lon - 2.0 * m)
        .fetch_all(tx)
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let placer = Placer::new(
        rows.into_iter()
            .map(|(id, name, s, w, n, e, outline)| (neighbourhood((id, name, s, w, n, e)), outline))
            .collect(),
    );
    Ok(placer.at(at).map(str::to_string))
}

/// Records the neighbourhood of a module's place (none: it lies in none).
pub async fn set_place(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    key: &str,
    neighbourhood: Option<&str>,
) -> Result<(), sqlx::Error> {
    match neighbourhood {
        Some(id) => {
            tx.scoped(
                "INSERT INTO module_place_neighbourhoods \
                 (tenant_id, module_id, collection, key, neighbourhood) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant_id, module_id, collection, key) \
                 DO UPDATE SET neighbourhood = excluded.neighbourhood",
            )
            .bind(module.as_str())
            .bind(collection)
            .bind(key)
            .bind(id)
            .execute(tx)
            .await?;
        }
        None => {
            tx.scoped(
                "DELETE FROM module_place_neighbourhoods \
                 WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 AND key = $4",
            )
            .bind(module.as_str())
            .bind(collection)
            .bind(key)
            .execute(tx)
            .await?;
        }
    }
    Ok(())
}

/// Places written by one statement when the neighbourhoods change (four values each, well
/// under either database's bound on parameters).
const PLACES_PER_STATEMENT: usize = 250;

/// Sets the neighbourhood of every place of the commune again (its neighbourhoods changed);
/// returns how many places moved to another one (or out of any). The commune's rows are
/// written again a few hundred per statement: a city's 100,000 places are a few hundred
/// statements, and neither the places nor the map's cells are touched.
pub async fn reassign(tx: &mut impl TenantSql) -> Result<u64, sqlx::Error> {
    let placer = placer(tx).await?;
    let places: Vec<(String, String, String, f64, f64, Option<String>)> = tx
        .scoped_as(
            "SELECT p.module_id, p.collection, p.key, p.lat, p.lon, n.neighbourhood \
             FROM module_places p LEFT JOIN module_place_neighbourhoods n \
               ON n.tenant_id = p.tenant_id AND n.module_id = p.module_id \
              AND n.collection = p.collection AND n.key = p.key \
             WHERE p.tenant_id = $1",
        )
        .fetch_all(tx)
        .await?;
    let mut moved = 0;
    let mut placed: Vec<(String, String, String, &str)> = Vec::new();
    for (module, collection, key, lat, lon, was) in places {
        let now = placer.at(Point { lat, lon });
        if now != was.as_deref() {
            moved += 1;
        }
        if let Some(id) = now {
            placed.push((module, collection, key, id));
        }
    }
    tx.scoped("DELETE FROM module_place_neighbourhoods WHERE tenant_id = $1")
        .execute(tx)
        .await?;
    for chunk in placed.chunks(PLACES_PER_STATEMENT) {
        let rows = (0..chunk.len())
            .map(|i| {
                let n = 2 + 4 * i;
                format!("($1, ${n}, ${}, ${}, ${})", n + 1, n + 2, n + 3)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let statement = format!(
            "INSERT INTO module_place_neighbourhoods \
             (tenant_id, module_id, collection, key, neighbourhood) VALUES {rows}"
        );
        let mut insert = tx.scoped(&statement);
        for (module, collection, key, id) in chunk {
            insert = insert.bind(module).bind(collection).bind(key).bind(*id);
        }
        insert.execute(tx).await?;
    }
    Ok(moved)
}
