//! Places of the modules' documents (`module_places`, contract `places` since 0.2.2): a point
//! per document at most, found by bounding box and by distance.
//!
//! The database only narrows by a box, on the index `(tenant, module, collection, lat, lon,
//! key)`; distances are computed here, in `f64`, from the stored values, which both SQLite
//! (`REAL`) and PostgreSQL (`DOUBLE PRECISION`) keep exactly: the same query gives the same
//! documents in the same order on either.

use crate::db::{Backend, TenantSql, sql};
use crate::modules::store::Doc;
use crate::types::ModuleId;

/// The mean radius of the Earth (IUGG), in metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Metres in a degree of latitude, on that sphere.
pub const METRES_PER_DEGREE: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
/// The widest `near` query: a commune's reach, not a country's.
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// Points a `near` or `within` query weighs before picking its answer: past it the module is
/// asked for a smaller radius or box rather than the host reading without bound.
pub const MAX_CANDIDATES: usize = 20_000;
/// Places a `clusters` query weighs: a whole large city's reports (Paris's 50,000 of the bench
/// four times over).
pub const MAX_CLUSTERED: usize = 200_000;
/// Markers a `points` query gives at most.
pub const MAX_POINTS: u32 = 5_000;
/// Cells a side of a `clusters` grid has at most.
pub const MAX_GRID: u32 = 64;
/// Clusters sum their points in units of 10⁻⁷ degree (1 cm), as integers: the mean is then
/// the same whatever order the database adds them in.
const UNITS_PER_DEGREE: f64 = 1e7;

/// A point, WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Latitude, −90 to 90.
    pub lat: f64,
    /// Longitude, −180 to 180.
    pub lon: f64,
}

impl Point {
    /// Whether it is a point of the Earth (finite, within range).
    pub fn is_valid(self) -> bool {
        (-90.0..=90.0).contains(&self.lat) && (-180.0..=180.0).contains(&self.lon)
    }

    /// Great-circle distance to `other`, in metres (haversine).
    pub fn distance_to(self, other: Point) -> f64 {
        let (phi1, phi2) = (self.lat.to_radians(), other.lat.to_radians());
        let dphi = phi2 - phi1;
        let dlambda = (other.lon - self.lon).to_radians();
        let h =
            (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
    }
}

/// A box on the map, not crossing the 180th meridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    /// Southern edge (latitude).
    pub south: f64,
    /// Western edge (longitude).
    pub west: f64,
    /// Northern edge.
    pub north: f64,
    /// Eastern edge.
    pub east: f64,
}

impl BBox {
    /// Whether its edges are points of the Earth in order.
    pub fn is_valid(self) -> bool {
        Point {
            lat: self.south,
            lon: self.west,
        }
        .is_valid()
            && Point {
                lat: self.north,
                lon: self.east,
            }
            .is_valid()
            && self.south <= self.north
            && self.west <= self.east
    }

    /// The box holding every point within `radius` metres of `center` (wider than needed
    /// near the poles and clamped to the map; `near` filters by the exact distance).
    pub fn around(center: Point, radius: f64) -> BBox {
        let dlat = radius / METRES_PER_DEGREE;
        let south = (center.lat - dlat).max(-90.0);
        let north = (center.lat + dlat).min(90.0);
        // The parallel nearest a pole is the widest in degrees of longitude.
        let widest = south.abs().max(north.abs()).to_radians().cos();
        let dlon = if widest <= f64::EPSILON || dlat >= 90.0 {
            180.0
        } else {
            (radius / (METRES_PER_DEGREE * widest)).min(180.0)
        };
        BBox {
            south,
            west: (center.lon - dlon).max(-180.0),
            north,
            east: (center.lon + dlon).min(180.0),
        }
    }
}

/// A placed document: the document, its point, and its distance from a `near` query's centre.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The document.
    pub doc: Doc,
    /// Its place.
    pub at: Point,
    /// Metres from the centre (0 for `within`).
    pub distance: f64,
}

/// Places the document at `at` (or moves it); false if the document does not exist.
pub async fn set(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    key: &str,
    at: Point,
) -> Result<bool, sqlx::Error> {
    let done = tx
        .scoped(
            "INSERT INTO module_places (tenant_id, module_id, collection, key, lat, lon) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM module_docs d \
               WHERE d.tenant_id = $1 AND d.module_id = $2 AND d.collection = $3 AND d.key = $4) \
             ON CONFLICT (tenant_id, module_id, collection, key) \
             DO UPDATE SET lat = excluded.lat, lon = excluded.lon \
             WHERE module_places.lat <> excluded.lat OR module_places.lon <> excluded.lon",
        )
        .bind(module.as_str())
        .bind(collection)
        .bind(key)
        .bind(at.lat)
        .bind(at.lon)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        // Either no such document, or its place did not move (a report whose status changed
        // is saved again with the same point): then neither its cells (PostgreSQL's
        // triggers) nor its neighbourhood are worked out again.
        let same = tx
            .scoped_scalar::<i64>(
                "SELECT 1 FROM module_places WHERE tenant_id = $1 AND module_id = $2 \
                 AND collection = $3 AND key = $4 AND lat = $5 AND lon = $6",
            )
            .bind(module.as_str())
            .bind(collection)
            .bind(key)
            .bind(at.lat)
            .bind(at.lon)
            .fetch_optional(&mut *tx)
            .await?;
        return Ok(same.is_some());
    }
    // The neighbourhood it lies in, if the commune has any (a few outlines read by box).
    let neighbourhood = crate::neighbourhoods::store::at(tx, at).await?;
    crate::neighbourhoods::store::set_place(tx, module, collection, key, neighbourhood.as_deref())
        .await?;
    Ok(true)
}

/// Removes the document's place; false if it had none.
pub async fn clear(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let done = tx
        .scoped(
            "DELETE FROM module_places \
             WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 AND key = $4",
        )
        .bind(module.as_str())
        .bind(collection)
        .bind(key)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The document's place, if it has one.
pub async fn get(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    key: &str,
) -> Result<Option<Point>, sqlx::Error> {
    let found: Option<(f64, f64)> = tx
        .scoped_as(
            "SELECT lat, lon FROM module_places \
             WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 AND key = $4",
        )
        .bind(module.as_str())
        .bind(collection)
        .bind(key)
        .fetch_optional(tx)
        .await?;
    Ok(found.map(|(lat, lon)| Point { lat, lon }))
}

/// The keys and points of the places inside `bbox`, read from the point index alone (a
/// latitude range, the longitude filtered there: no document touched), at most `cap` + 1.
/// Sorting is left to the caller: an `ORDER BY key LIMIT` here would let the database walk
/// the documents in key order instead, reading a whole commune's places for a small box.
async fn in_box(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    bbox: BBox,
    cap: usize,
) -> Result<Vec<(String, f64, f64)>, sqlx::Error> {
    tx.scoped_as(
        "SELECT key, lat, lon FROM module_places \
         WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 \
           AND lat BETWEEN $4 AND $5 AND lon BETWEEN $6 AND $7 LIMIT $8",
    )
    .bind(module.as_str())
    .bind(collection)
    .bind(bbox.south)
    .bind(bbox.north)
    .bind(bbox.west)
    .bind(bbox.east)
    .bind(i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX))
    .fetch_all(tx)
    .await
}

/// The placed documents inside `bbox`, by key, at most `limit`: the keys from the point index,
/// then only those documents whole.
pub async fn within(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    bbox: BBox,
    limit: u32,
) -> Result<Vec<Placed>, PlacesError> {
    let spots = points(tx, module, collection, bbox, limit)
        .await?
        .into_iter()
        .map(|(key, at)| (key, at, 0.0))
        .collect();
    Ok(documents(tx, module, collection, spots).await?)
}

/// The keys and points of the places inside `bbox`, by key, at most `limit`: no document read.
pub async fn points(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    bbox: BBox,
    limit: u32,
) -> Result<Vec<(String, Point)>, PlacesError> {
    let mut spots = in_box(tx, module, collection, bbox, MAX_CANDIDATES).await?;
    if spots.len() > MAX_CANDIDATES {
        return Err(PlacesError::CrowdedBox);
    }
    spots.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    spots.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(spots
        .into_iter()
        .map(|(key, lat, lon)| (key, Point { lat, lon }))
        .collect())
}

/// The places of one cell of a [`clusters`] grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Places in the cell (at least 1).
    pub count: u32,
    /// The mean of their points.
    pub at: Point,
    /// A box holding them all: the fixed cells they were counted in (the smallest box holding
    /// them when the grid is finer than the cells).
    pub bounds: BBox,
    /// The key of the only place, when there is one.
    pub key: Option<String>,
}

/// One cell's sums as the database gives them (see [`clusters`]).
#[derive(Debug, Clone, sql::Row)]
struct CellSums {
    /// Row from the north (`rows` on the southern edge: clamped when merged).
    r: i64,
    /// Column from the west (likewise).
    c: i64,
    n: i64,
    /// Sums of `floor((lat + 90) × 10⁷)` and `floor((lon + 180) × 10⁷)`: integers, so the
    /// same whatever order the database adds them in.
    sum_lat: i64,
    sum_lon: i64,
    south: f64,
    north: f64,
    west: f64,
    east: f64,
    /// The least key (the key, when the cell holds one place), when the query reads keys.
    first_key: Option<String>,
}

/// The levels of `module_place_cells` (migration 0033): cells of side 2⁻ᴸ degree, from about
/// 7 km (L = 4) to 14 m (L = 13).
const LEVELS: std::ops::RangeInclusive<i32> = 4..=13;
/// Lone places whose key a `clusters` answer looks up (a map links a lone marker to its page;
/// past this many, it zooms in instead).
const MAX_KEYS: usize = 64;

/// Height and width of a grid's cells, in degrees (a flat box has one row or column: any
/// size gives index 0).
fn grid_cells(bbox: BBox, columns: u32, rows: u32) -> (f64, f64) {
    let size = |span: f64, cells: u32| {
        let s = span / f64::from(cells);
        if s > 0.0 { s } else { 1.0 }
    };
    (
        size(bbox.north - bbox.south, rows),
        size(bbox.east - bbox.west, columns),
    )
}

/// The fixed cells of one grid cell of a [`clusters`] answer, summed by the database.
#[derive(Debug, Clone, sql::Row)]
struct GridSums {
    r: i64,
    c: i64,
    n: i64,
    sum_lat: i64,
    sum_lon: i64,
    min_cy: i64,
    max_cy: i64,
    min_cx: i64,
    max_cx: i64,
}

/// SQL for the floor of `x`, a BIGINT, when `x` is ≥ 0: SQLite's CAST truncates, which is
/// then the floor.
fn floor_sql(backend: Backend, x: &str) -> String {
    match backend {
        Backend::Sqlite => format!("CAST({x} AS INTEGER)"),
        Backend::Postgres => format!("floor({x})::bigint"),
    }
}

/// SQL for the sum of the BIGINT `x`, a BIGINT on both databases.
fn sum_sql(backend: Backend, x: &str) -> String {
    match backend {
        Backend::Sqlite => format!("SUM({x})"),
        Backend::Postgres => format!("SUM({x})::bigint"),
    }
}

/// The places inside `bbox` grouped on a grid of `columns` × `rows` cells, one [`Cluster`]
/// per cell holding any, row by row from the north-west.
///
/// No point is read: the counts and sums kept per fixed cell (`module_place_cells`, kept by
/// the database's triggers) are read at the coarsest level whose cells are no larger than the
/// grid's, a few hundred for any view, and each goes to the grid cell of its mean point. So a
/// cluster counts whole fixed cells: along the box's edges, places just outside it may be
/// counted, and a cell whose mean lies outside is left out. Its bounds are its fixed cells'.
/// A grid finer than the finest level (14 m) counts the points themselves
/// ([`clusters_of_points`]). Integers throughout: SQLite and PostgreSQL give the same clusters.
pub async fn clusters(
    tx: &mut impl TenantSql,
    backend: Backend,
    module: &ModuleId,
    collection: &str,
    bbox: BBox,
    columns: u32,
    rows: u32,
) -> Result<Vec<Cluster>, PlacesError> {
    let (columns, rows) = (columns.clamp(1, MAX_GRID), rows.clamp(1, MAX_GRID));
    let (height, width) = grid_cells(bbox, columns, rows);
    let side = |level: i32| 2f64.powi(-level);
    let Some(level) = LEVELS.clone().find(|l| side(*l) <= height.min(width)) else {
        return clusters_of_points(tx, backend, module, collection, bbox, columns, rows).await;
    };
    let scale = 2f64.powi(level);
    let index = |degrees: f64, offset: f64| ((degrees + offset) * scale).floor() as i64;
    // The database puts each fixed cell in its grid cell by its mean point and sums them
    // there: a view answers at most `rows × columns` rows, however many fixed cells it covers
    // (each row handed over costs more than the database's sum). The means are the same
    // IEEE operations as Rust's, so both databases put each cell where the other does.
    // Every value floored is ≥ 0: the mean lies in the box.
    let floored = |x: &str| floor_sql(backend, x);
    let summed = |x: &str| sum_sql(backend, x);
    let real = match backend {
        Backend::Sqlite => "REAL",
        Backend::Postgres => "DOUBLE PRECISION",
    };
    let mean = |sum: &str| format!("CAST({sum} AS {real}) / CAST(n AS {real}) / $15");
    let sql = format!(
        "SELECT {r} AS r, {c} AS c, {n} AS n, {sum_lat} AS sum_lat, {sum_lon} AS sum_lon, \
         MIN(cy) AS min_cy, MAX(cy) AS max_cy, MIN(cx) AS min_cx, MAX(cx) AS max_cx \
         FROM (SELECT cy, cx, n, sum_lat, sum_lon, \
                      {mean_lat} - 90.0 AS lat, {mean_lon} - 180.0 AS lon \
               FROM module_place_cells \
               WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 AND level = $4 \
                 AND cy BETWEEN $5 AND $6 AND cx BETWEEN $7 AND $8) m \
         WHERE lat >= $9 AND lat <= $10 AND lon >= $11 AND lon <= $12 \
         GROUP BY 1, 2",
        r = floored("($10 - lat) / $13"),
        c = floored("(lon - $11) / $14"),
        n = summed("n"),
        sum_lat = summed("sum_lat"),
        sum_lon = summed("sum_lon"),
        mean_lat = mean("sum_lat"),
        mean_lon = mean("sum_lon"),
    );
    let grid: Vec<GridSums> = tx
        .scoped_as::<GridSums>(&sql)
        .bind(module.as_str())
        .bind(collection)
        .bind(i64::from(level))
        .bind(index(bbox.south, 90.0))
        .bind(index(bbox.north, 90.0))
        .bind(index(bbox.west, 180.0))
        .bind(index(bbox.east, 180.0))
        .bind(bbox.south)
        .bind(bbox.north)
        .bind(bbox.west)
        .bind(bbox.east)
        .bind(height)
        .bind(width)
        .bind(UNITS_PER_DEGREE)
        .fetch_all(tx)
        .await?;
    let squares = grid
        .into_iter()
        .map(|g| CellSums {
            r: g.r,
            c: g.c,
            n: g.n,
            sum_lat: g.sum_lat,
            sum_lon: g.sum_lon,
            south: g.min_cy as f64 / scale - 90.0,
            north: (g.max_cy + 1) as f64 / scale - 90.0,
            west: g.min_cx as f64 / scale - 180.0,
            east: (g.max_cx + 1) as f64 / scale - 180.0,
            first_key: None,
        })
        .collect();
    let mut found = merge(squares, columns, rows);
    // The key of each lone place (where the map links it), found by its point.
    for cluster in found.iter_mut().filter(|c| c.count == 1).take(MAX_KEYS) {
        let near = 1.0 / UNITS_PER_DEGREE;
        cluster.key = tx
            .scoped_scalar::<String>(
                "SELECT key FROM module_places \
                 WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 \
                   AND lat BETWEEN $4 AND $5 AND lon BETWEEN $6 AND $7 ORDER BY key LIMIT 1",
            )
            .bind(module.as_str())
            .bind(collection)
            .bind(cluster.at.lat - near)
            .bind(cluster.at.lat + 2.0 * near)
            .bind(cluster.at.lon - near)
            .bind(cluster.at.lon + 2.0 * near)
            .fetch_optional(tx)
            .await?;
    }
    Ok(found)
}

/// The places inside `bbox` of a grid too fine for the kept cells (see [`clusters`]): the
/// database counts and sums them on its point index (at most [`MAX_CLUSTERED`] read) with the
/// same arithmetic on SQLite and PostgreSQL: a cell is `floor((north − lat) / height)`,
/// `floor((lon − west) / width)`, and points are summed as whole units of 10⁻⁷ degree, so both
/// give the same clusters.
async fn clusters_of_points(
    tx: &mut impl TenantSql,
    backend: Backend,
    module: &ModuleId,
    collection: &str,
    bbox: BBox,
    columns: u32,
    rows: u32,
) -> Result<Vec<Cluster>, PlacesError> {
    let (height, width) = grid_cells(bbox, columns, rows);
    // Every value floored here is ≥ 0.
    let floor = |x: &str| floor_sql(backend, x);
    let sum = |x: &str| sum_sql(backend, &floor_sql(backend, x));
    let sql = format!(
        "SELECT {r} AS r, {c} AS c, COUNT(*) AS n, {sum_lat} AS sum_lat, {sum_lon} AS sum_lon, \
         MIN(lat) AS south, MAX(lat) AS north, MIN(lon) AS west, MAX(lon) AS east, \
         MIN(key) AS first_key \
         FROM (SELECT key, lat, lon FROM module_places \
               WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 \
                 AND lat BETWEEN $4 AND $5 AND lon BETWEEN $6 AND $7 LIMIT $8) p \
         GROUP BY 1, 2",
        r = floor("($5 - lat) / $9"),
        c = floor("(lon - $6) / $10"),
        sum_lat = sum("(lat + 90) * $11"),
        sum_lon = sum("(lon + 180) * $11"),
    );
    let sums: Vec<CellSums> = tx
        .scoped_as::<CellSums>(&sql)
        .bind(module.as_str())
        .bind(collection)
        .bind(bbox.south)
        .bind(bbox.north)
        .bind(bbox.west)
        .bind(bbox.east)
        .bind(i64::try_from(MAX_CLUSTERED + 1).unwrap_or(i64::MAX))
        .bind(height)
        .bind(width)
        .bind(UNITS_PER_DEGREE)
        .fetch_all(tx)
        .await?;
    let weighed: i64 = sums.iter().map(|s| s.n).sum();
    if weighed > i64::try_from(MAX_CLUSTERED).unwrap_or(i64::MAX) {
        return Err(PlacesError::TooManyToCluster);
    }
    Ok(merge(sums, columns, rows))
}

/// The cells in grid order, those on the far edges (index `rows` or `columns`) merged into the
/// last row or column.
fn merge(sums: Vec<CellSums>, columns: u32, rows: u32) -> Vec<Cluster> {
    let last = |i: i64, cells: u32| i.clamp(0, i64::from(cells) - 1) as usize;
    let mut cells: Vec<Option<CellSums>> = (0..columns * rows).map(|_| None).collect();
    for s in sums {
        let at = last(s.r, rows) * columns as usize + last(s.c, columns);
        match &mut cells[at] {
            Some(cell) => {
                cell.n += s.n;
                cell.sum_lat += s.sum_lat;
                cell.sum_lon += s.sum_lon;
                cell.south = cell.south.min(s.south);
                cell.north = cell.north.max(s.north);
                cell.west = cell.west.min(s.west);
                cell.east = cell.east.max(s.east);
                cell.first_key = match (cell.first_key.take(), s.first_key) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            empty => *empty = Some(s),
        }
    }
    cells
        .into_iter()
        .flatten()
        .map(|cell| {
            let mean =
                |sum: i64, offset: f64| sum as f64 / cell.n as f64 / UNITS_PER_DEGREE - offset;
            Cluster {
                count: u32::try_from(cell.n).unwrap_or(u32::MAX),
                at: Point {
                    lat: mean(cell.sum_lat, 90.0),
                    lon: mean(cell.sum_lon, 180.0),
                },
                bounds: BBox {
                    south: cell.south,
                    west: cell.west,
                    north: cell.north,
                    east: cell.east,
                },
                key: cell.first_key.filter(|_| cell.n == 1),
            }
        })
        .collect()
}

/// Why a box or distance query gave no list.
#[derive(Debug, thiserror::Error)]
pub enum PlacesError {
    /// More than [`MAX_CANDIDATES`] points in the box around the circle.
    #[error("plus de {MAX_CANDIDATES} lieux à moins de {0} m : réduisez le rayon")]
    Crowded(u32),
    /// More than [`MAX_CANDIDATES`] points in the box.
    #[error("plus de {MAX_CANDIDATES} lieux dans cette boîte : réduisez-la")]
    CrowdedBox,
    /// More than [`MAX_CLUSTERED`] points in the box of a `clusters` query.
    #[error("plus de {MAX_CLUSTERED} lieux dans cette boîte : réduisez-la")]
    TooManyToCluster,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The placed documents at most `radius` metres from `center`, nearest first (then by key),
/// at most `limit`. The index gives the points of the box around the circle (keys and
/// points only, [`MAX_CANDIDATES`] at most); the nearest are then read whole.
pub async fn near(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    center: Point,
    radius: f64,
    limit: u32,
) -> Result<Vec<Placed>, PlacesError> {
    let candidates = in_box(
        tx,
        module,
        collection,
        BBox::around(center, radius),
        MAX_CANDIDATES,
    )
    .await?;
    if candidates.len() > MAX_CANDIDATES {
        // Whole metres: the message is for a person reading the module's logs.
        return Err(PlacesError::Crowded(radius.round() as u32));
    }
    let mut nearest: Vec<(String, Point, f64)> = candidates
        .into_iter()
        .filter_map(|(key, lat, lon)| {
            let at = Point { lat, lon };
            let d = center.distance_to(at);
            (d <= radius).then_some((key, at, d))
        })
        .collect();
    nearest.sort_by(|a, b| a.2.total_cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    nearest.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(documents(tx, module, collection, nearest).await?)
}

/// The documents of these places (key, point, distance), in the order given, read by their
/// primary key alone (a place whose document went in the meantime is left out).
async fn documents(
    tx: &mut impl TenantSql,
    module: &ModuleId,
    collection: &str,
    spots: Vec<(String, Point, f64)>,
) -> Result<Vec<Placed>, sqlx::Error> {
    if spots.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..spots.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "SELECT key, value, version, created_at, updated_at FROM module_docs \
         WHERE tenant_id = $1 AND module_id = $2 AND collection = $3 AND key IN ({})",
        placeholders.join(", ")
    );
    let mut query = tx
        .scoped_as::<Doc>(&sql)
        .bind(module.as_str())
        .bind(collection);
    for (key, _, _) in &spots {
        query = query.bind(key.as_str());
    }
    let mut docs: std::collections::HashMap<String, Doc> = query
        .fetch_all(tx)
        .await?
        .into_iter()
        .map(|d| (d.key.clone(), d))
        .collect();
    Ok(spots
        .into_iter()
        .filter_map(|(key, at, distance)| docs.remove(&key).map(|doc| Placed { doc, at, distance }))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_great_circle_metres() {
        let hotel_de_ville = Point {
            lat: 48.8566,
            lon: 2.3522,
        };
        let tour_eiffel = Point {
            lat: 48.8584,
            lon: 2.2945,
        };
        let d = hotel_de_ville.distance_to(tour_eiffel);
        assert!((d - 4_220.0).abs() < 20.0, "{d}");
        assert_eq!(hotel_de_ville.distance_to(hotel_de_ville), 0.0);
        let lyon = Point {
            lat: 45.764,
            lon: 4.8357,
        };
        let paris_lyon = hotel_de_ville.distance_to(lyon);
        assert!((paris_lyon - 391_500.0).abs() < 1_000.0, "{paris_lyon}");
    }

    #[test]
    fn the_box_around_a_circle_holds_it() {
        let center = Point {
            lat: 45.9,
            lon: 6.12,
        };
        let b = BBox::around(center, 1_000.0);
        assert!(b.is_valid());
        for bearing in 0..360 {
            let t = f64::from(bearing).to_radians();
            // A point 999 m away in each direction (flat approximation, well inside).
            let p = Point {
                lat: center.lat + 999.0 * t.cos() / METRES_PER_DEGREE,
                lon: center.lon
                    + 999.0 * t.sin() / (METRES_PER_DEGREE * center.lat.to_radians().cos()),
            };
            assert!(center.distance_to(p) <= 1_000.0);
            assert!(
                (b.south..=b.north).contains(&p.lat) && (b.west..=b.east).contains(&p.lon),
                "{p:?} outside {b:?}"
            );
        }
        let pole = BBox::around(
            Point {
                lat: 89.999,
                lon: 0.0,
            },
            50_000.0,
        );
        assert!(
            pole.is_valid() && pole.west == -180.0 && pole.east == 180.0,
            "{pole:?}"
        );
    }

    fn sums(r: i64, c: i64, lat: f64, lon: f64, key: &str) -> CellSums {
        CellSums {
            r,
            c,
            n: 1,
            sum_lat: ((lat + 90.0) * UNITS_PER_DEGREE).floor() as i64,
            sum_lon: ((lon + 180.0) * UNITS_PER_DEGREE).floor() as i64,
            south: lat,
            north: lat,
            west: lon,
            east: lon,
            first_key: Some(key.into()),
        }
    }

    #[test]
    fn cells_on_the_far_edges_join_the_last_ones() {
        // A 2 × 2 grid: « a » in the north-west cell; « b » and « c » in the south-east one,
        // « c » on the box's south-eastern corner (index 2, 2 before clamping).
        let cells = merge(
            vec![
                sums(1, 1, 45.1, 6.9, "b"),
                sums(0, 0, 45.9, 6.1, "a"),
                sums(2, 2, 45.0, 7.0, "c"),
            ],
            2,
            2,
        );
        assert_eq!(cells.len(), 2, "{cells:?}");
        assert_eq!((cells[0].count, cells[0].key.as_deref()), (1, Some("a")));
        assert!((cells[0].at.lat - 45.9).abs() < 1e-6 && (cells[0].at.lon - 6.1).abs() < 1e-6);
        assert_eq!((cells[1].count, cells[1].key.as_deref()), (2, None));
        assert!((cells[1].at.lat - 45.05).abs() < 1e-6 && (cells[1].at.lon - 6.95).abs() < 1e-6);
        assert_eq!(
            cells[1].bounds,
            BBox {
                south: 45.0,
                west: 6.9,
                north: 45.1,
                east: 7.0
            }
        );
        // West of Greenwich and south of the equator too (the sums are offset to stay ≥ 0).
        let far = merge(vec![sums(0, 0, -21.1151, -61.0, "sud-ouest")], 1, 1);
        assert!((far[0].at.lat + 21.1151).abs() < 1e-6 && (far[0].at.lon + 61.0).abs() < 1e-6);
    }

    #[test]
    fn points_and_boxes_out_of_range_are_refused() {
        assert!(
            !Point {
                lat: 91.0,
                lon: 0.0
            }
            .is_valid()
        );
        assert!(
            !Point {
                lat: f64::NAN,
                lon: 0.0
            }
            .is_valid()
        );
        assert!(
            !Point {
                lat: 0.0,
                lon: f64::INFINITY
            }
            .is_valid()
        );
        let flipped = BBox {
            south: 46.0,
            west: 6.0,
            north: 45.0,
            east: 7.0,
        };
        assert!(!flipped.is_valid());
    }
}
