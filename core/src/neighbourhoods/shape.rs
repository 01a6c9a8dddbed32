//! Reading and checking a commune's neighbourhoods as GeoJSON: a `FeatureCollection` whose
//! features are `Polygon`s or `MultiPolygon`s in WGS 84, each named. What the admins import is
//! refused whole, with the feature's number and name, when a feature has no name or a bad
//! geometry, when two neighbourhoods overlap, or when one spills out of the commune.

use geo::{Area as _, BooleanOps as _, BoundingRect as _, MultiPolygon};
use serde::Deserialize;
use serde_json::Value;

use crate::communes::outline::{Geometry, Outline, OutlineError, plane};
use crate::modules::places::{BBox, METRES_PER_DEGREE};
use crate::types::Slug;

/// Neighbourhoods a commune may have: Paris's 80 quartiers administratifs fit, with room.
pub const MAX_NEIGHBOURHOODS: usize = 150;
/// Largest GeoJSON file read, in bytes (Paris's 80 quartiers, detailed, are about 2 MB).
pub const MAX_FILE: usize = 8 << 20;
/// Longest name, in characters.
pub const NAME_MAX: usize = 80;
/// Share of the smaller of two neighbourhoods they may have in common: drawn or generalised
/// borders never match to the metre, a real overlap is far larger.
pub const OVERLAP_TOLERANCE: f64 = 0.02;
/// Share of a neighbourhood that may lie outside the commune's outline, for the same reason.
pub const OUTSIDE_TOLERANCE: f64 = 0.05;

/// The properties a feature's name is read from, in this order: Parvis's own, then the usual
/// ones of open data portals (Paris's quartiers carry `l_qu`, its arrondissements `l_ar`).
const NAME_PROPERTIES: [&str; 8] = [
    "nom", "name", "libelle", "NOM", "NAME", "LIBELLE", "l_qu", "l_ar",
];

/// A neighbourhood read from a file, checked, not yet stored.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// Its identifier in addresses (`?quartier=vieille-ville`), from its name.
    pub id: String,
    pub name: String,
    /// Its geometry as stored (a MultiPolygon).
    pub geometry: Geometry,
    pub bounds: BBox,
}

/// Why a file of neighbourhoods was refused. Feature numbers start at 1, in file order.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShapeError {
    #[error("Le fichier dépasse {} Mo.", MAX_FILE >> 20)]
    TooLarge,
    #[error("Le fichier n'est pas du GeoJSON lisible : {0}.")]
    NotJson(String),
    #[error(
        "Le fichier doit être une FeatureCollection GeoJSON (« type » : « FeatureCollection »)."
    )]
    NotCollection,
    #[error("Le fichier ne contient aucun quartier.")]
    Empty,
    #[error("Le fichier contient {0} quartiers : {MAX_NEIGHBOURHOODS} au plus.")]
    TooMany(usize),
    #[error("Quartier n° {0} : aucun nom (propriété « nom » ou « name »).")]
    NoName(usize),
    #[error("Quartier n° {0} : le nom dépasse {NAME_MAX} caractères.")]
    NameTooLong(usize),
    #[error("Quartier n° {0} (« {1} ») : un autre quartier porte déjà ce nom.")]
    SameName(usize, String),
    #[error("La commune a déjà un quartier nommé « {0} ».")]
    Taken(String),
    #[error(
        "Quartier n° {0} (« {1} ») : géométrie « {2} » ; un Polygon ou un MultiPolygon est attendu."
    )]
    Kind(usize, String, String),
    #[error("Quartier n° {0} (« {1} ») : {2}.")]
    Geometry(usize, String, String),
    #[error(
        "Les quartiers « {0} » et « {1} » se chevauchent ({2} % du plus petit). Un lieu ne peut appartenir qu'à un quartier."
    )]
    Overlap(String, String, u32),
    #[error(
        "Le quartier « {0} » déborde du territoire de la commune ({1} % de sa surface en dehors)."
    )]
    Outside(String, u32),
}

#[derive(Deserialize)]
struct FeatureCollection {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    #[serde(default)]
    properties: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    geometry: Option<RawGeometry>,
}

#[derive(Deserialize)]
struct RawGeometry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    coordinates: Value,
}

/// A position, `[lon, lat]` or with an altitude after them (dropped).
#[derive(Deserialize)]
struct Position(Vec<f64>);

type Rings = Vec<Vec<Position>>;

/// Reads a GeoJSON file of neighbourhoods and checks each (names, geometry), then all of them
/// together: no two overlapping, none spilling out of `commune` when its outline is known.
pub fn read(bytes: &[u8], commune: Option<&Geometry>) -> Result<Vec<Drawn>, ShapeError> {
    if bytes.len() > MAX_FILE {
        return Err(ShapeError::TooLarge);
    }
    let collection: FeatureCollection =
        serde_json::from_slice(bytes).map_err(|e| ShapeError::NotJson(french_json_error(&e)))?;
    if collection.kind != "FeatureCollection" {
        return Err(ShapeError::NotCollection);
    }
    if collection.features.is_empty() {
        return Err(ShapeError::Empty);
    }
    if collection.features.len() > MAX_NEIGHBOURHOODS {
        return Err(ShapeError::TooMany(collection.features.len()));
    }
    let mut drawn: Vec<Drawn> = Vec::with_capacity(collection.features.len());
    for (i, feature) in collection.features.into_iter().enumerate() {
        let n = i + 1;
        let name = name_of(&feature).ok_or(ShapeError::NoName(n))?;
        if name.chars().count() > NAME_MAX {
            return Err(ShapeError::NameTooLong(n));
        }
        let geometry = feature
            .geometry
            .ok_or_else(|| ShapeError::Geometry(n, name.clone(), "aucune géométrie".into()))?;
        let geometry = multi_polygon(n, &name, geometry)?;
        Outline::from_geometry(&geometry)
            .map_err(|e| ShapeError::Geometry(n, name.clone(), outline_error(&e)))?;
        drawn.push(self::drawn(&name, geometry));
    }
    check_names(&drawn, 0)?;
    check_together(&drawn, commune)?;
    Ok(drawn)
}

/// A neighbourhood from a name and checked geometry (the registry's arrondissements).
pub fn drawn(name: &str, geometry: Geometry) -> Drawn {
    Drawn {
        id: Slug::from_name(name).as_str().to_string(),
        name: name.to_string(),
        bounds: bounds_of(&geometry),
        geometry,
    }
}

/// A one-feature collection from a name and geometry text (a neighbourhood drawn on the map),
/// for [`read`]. The name is written as JSON; the geometry is parsed there, whatever it is.
pub fn single_feature(name: &str, geometry: &str) -> String {
    let name = Value::from(name.trim());
    let geometry = if geometry.trim().is_empty() {
        "null"
    } else {
        geometry
    };
    format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"nom":{name}}},"geometry":{geometry}}}]}}"#
    )
}

/// The names of `drawn` from `from` on are not those of the ones before.
pub fn check_names(drawn: &[Drawn], from: usize) -> Result<(), ShapeError> {
    for (i, d) in drawn.iter().enumerate().skip(from) {
        if drawn[..i]
            .iter()
            .any(|o| o.id == d.id || o.name.to_lowercase() == d.name.to_lowercase())
        {
            return Err(ShapeError::SameName(i + 1, d.name.clone()));
        }
    }
    Ok(())
}

fn name_of(feature: &Feature) -> Option<String> {
    let properties = feature.properties.as_ref()?;
    NAME_PROPERTIES.iter().find_map(|p| {
        let name = properties.get(*p)?.as_str()?.trim();
        (!name.is_empty()).then(|| name.to_string())
    })
}

fn multi_polygon(n: usize, name: &str, raw: RawGeometry) -> Result<Geometry, ShapeError> {
    let bad = |why: &str| ShapeError::Geometry(n, name.to_string(), why.to_string());
    let unreadable = |_| {
        bad("coordonnées illisibles : des anneaux de positions [longitude, latitude] sont attendus")
    };
    let polygons: Vec<Rings> = match raw.kind.as_str() {
        "Polygon" => vec![serde_json::from_value(raw.coordinates).map_err(unreadable)?],
        "MultiPolygon" => serde_json::from_value(raw.coordinates).map_err(unreadable)?,
        other => return Err(ShapeError::Kind(n, name.to_string(), other.to_string())),
    };
    let mut coordinates = Vec::with_capacity(polygons.len());
    for polygon in polygons {
        let mut rings = Vec::with_capacity(polygon.len());
        for ring in polygon {
            let mut positions = Vec::with_capacity(ring.len());
            for Position(p) in ring {
                match p.as_slice() {
                    [lon, lat, ..] => positions.push([*lon, *lat]),
                    _ => return Err(bad("une position a moins de deux nombres")),
                }
            }
            rings.push(positions);
        }
        coordinates.push(rings);
    }
    Ok(Geometry::multi_polygon(coordinates))
}

fn outline_error(e: &OutlineError) -> String {
    match e {
        // GeoJSON in Lambert 93 or another projection: say what is expected.
        OutlineError::Position(..) => {
            format!("{e} ; les positions doivent être en degrés WGS 84, longitude puis latitude")
        }
        other => other.to_string(),
    }
}

/// serde_json's message says where the file broke (« at line 3 column 7 »): keep the place,
/// in French.
fn french_json_error(e: &serde_json::Error) -> String {
    format!("ligne {}, colonne {}", e.line(), e.column())
}

/// The box around a geometry's positions.
pub fn bounds_of(geometry: &Geometry) -> BBox {
    let mut b = BBox {
        south: f64::INFINITY,
        west: f64::INFINITY,
        north: f64::NEG_INFINITY,
        east: f64::NEG_INFINITY,
    };
    for &[lon, lat] in geometry.polygons().iter().flatten().flatten() {
        b.south = b.south.min(lat);
        b.north = b.north.max(lat);
        b.west = b.west.min(lon);
        b.east = b.east.max(lon);
    }
    b
}

fn percent(share: f64) -> u32 {
    (share * 100.0).round().clamp(1.0, 100.0) as u32
}

/// No two neighbourhoods overlapping past [`OVERLAP_TOLERANCE`], none outside the commune past
/// [`OUTSIDE_TOLERANCE`].
pub fn check_together(drawn: &[Drawn], commune: Option<&Geometry>) -> Result<(), ShapeError> {
    let Some(first) = drawn.first() else {
        return Ok(());
    };
    let scale = ((first.bounds.south + first.bounds.north) / 2.0)
        .to_radians()
        .cos();
    let shapes: Vec<(MultiPolygon<f64>, f64)> = drawn
        .iter()
        .map(|d| {
            let shape = plane(&d.geometry, scale);
            let area = shape.unsigned_area();
            (shape, area)
        })
        .collect();
    for (i, (a, area_a)) in shapes.iter().enumerate() {
        let Some(box_a) = a.bounding_rect() else {
            continue;
        };
        for (j, (b, area_b)) in shapes.iter().enumerate().skip(i + 1) {
            let Some(box_b) = b.bounding_rect() else {
                continue;
            };
            let apart = box_a.max().x < box_b.min().x
                || box_b.max().x < box_a.min().x
                || box_a.max().y < box_b.min().y
                || box_b.max().y < box_a.min().y;
            if apart {
                continue;
            }
            let common = a.intersection(b).unsigned_area();
            let smaller = area_a.min(*area_b);
            if smaller > 0.0 && common / smaller > OVERLAP_TOLERANCE {
                return Err(ShapeError::Overlap(
                    drawn[i].name.clone(),
                    drawn[j].name.clone(),
                    percent(common / smaller),
                ));
            }
        }
    }
    if let Some(commune) = commune {
        let commune = plane(commune, scale);
        for (d, (shape, area)) in drawn.iter().zip(&shapes) {
            if *area <= 0.0 {
                continue;
            }
            let outside = shape.difference(&commune).unsigned_area() / area;
            if outside > OUTSIDE_TOLERANCE {
                return Err(ShapeError::Outside(d.name.clone(), percent(outside)));
            }
        }
    }
    Ok(())
}

/// A neighbourhood's area in square metres (for its page).
pub fn area_m2(geometry: &Geometry) -> f64 {
    let b = bounds_of(geometry);
    let scale = ((b.south + b.north) / 2.0).to_radians().cos();
    plane(geometry, scale).unsigned_area() * METRES_PER_DEGREE * METRES_PER_DEGREE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(name: &str, west: f64, south: f64, side: f64) -> String {
        let (e, n) = (west + side, south + side);
        format!(
            r#"{{"type":"Feature","properties":{{"nom":"{name}"}},"geometry":{{"type":"Polygon","coordinates":[[[{west},{south}],[{e},{south}],[{e},{n}],[{west},{n}],[{west},{south}]]]}}}}"#
        )
    }

    fn collection(features: &[String]) -> Vec<u8> {
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        )
        .into_bytes()
    }

    #[test]
    fn neighbourhoods_side_by_side_are_read_with_their_ids() -> Result<(), ShapeError> {
        let file = collection(&[
            square("Vieille ville", 6.12, 45.89, 0.01),
            square("Les Fins", 6.13, 45.89, 0.01),
        ]);
        let drawn = read(&file, None)?;
        assert_eq!(drawn.len(), 2);
        assert_eq!(drawn[0].id, "vieille-ville");
        assert_eq!(drawn[1].name, "Les Fins");
        assert!((drawn[1].bounds.east - 6.14).abs() < 1e-9);
        // About 776 m × 1,112 m.
        let area = area_m2(&drawn[0].geometry);
        assert!((area - 864_000.0).abs() < 10_000.0, "{area}");
        Ok(())
    }

    #[test]
    fn bad_files_are_refused_with_the_feature_at_fault() {
        assert!(matches!(
            read(b"{\"type\":", None),
            Err(ShapeError::NotJson(_))
        ));
        assert_eq!(
            read(br#"{"type":"Feature"}"#, None).err(),
            Some(ShapeError::NotCollection)
        );
        assert_eq!(read(&collection(&[]), None).err(), Some(ShapeError::Empty));
        let unnamed = square("", 6.12, 45.89, 0.01);
        assert_eq!(
            read(&collection(&[square("A", 6.0, 45.0, 0.01), unnamed]), None).err(),
            Some(ShapeError::NoName(2))
        );
        assert_eq!(
            read(
                &collection(&[
                    square("Centre", 6.0, 45.0, 0.01),
                    square("centre", 6.1, 45.0, 0.01)
                ]),
                None
            )
            .err(),
            Some(ShapeError::SameName(2, "centre".into()))
        );
        let point = r#"{"type":"Feature","properties":{"nom":"P"},"geometry":{"type":"Point","coordinates":[6,45]}}"#;
        assert_eq!(
            read(&collection(&[point.to_string()]), None).err(),
            Some(ShapeError::Kind(1, "P".into(), "Point".into()))
        );
        // Lambert 93 metres instead of degrees.
        let lambert = square("Nord", 940_000.0, 6_530_000.0, 1000.0);
        let e = read(&collection(&[lambert]), None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("degrés WGS 84"), "{e}");
    }

    #[test]
    fn overlaps_and_spills_are_refused_small_slivers_are_not() {
        // Half of each other: refused.
        let e = read(
            &collection(&[
                square("Nord", 6.12, 45.89, 0.01),
                square("Sud", 6.125, 45.89, 0.01),
            ]),
            None,
        );
        assert_eq!(
            e.err(),
            Some(ShapeError::Overlap("Nord".into(), "Sud".into(), 50))
        );
        // A sliver of 1 % (a drawn border): accepted.
        assert!(
            read(
                &collection(&[
                    square("Nord", 6.12, 45.89, 0.01),
                    square("Sud", 6.1299, 45.89, 0.01),
                ]),
                None,
            )
            .is_ok()
        );
        // A commune of 0.02° × 0.02°: a neighbourhood half outside is refused.
        let commune = Geometry::multi_polygon(vec![vec![vec![
            [6.12, 45.89],
            [6.14, 45.89],
            [6.14, 45.91],
            [6.12, 45.91],
            [6.12, 45.89],
        ]]]);
        assert!(
            read(
                &collection(&[square("In", 6.12, 45.89, 0.01)]),
                Some(&commune)
            )
            .is_ok()
        );
        assert_eq!(
            read(
                &collection(&[square("Out", 6.135, 45.89, 0.01)]),
                Some(&commune)
            )
            .err(),
            Some(ShapeError::Outside("Out".into(), 50))
        );
    }
}
