//! The JSON a [`crate::html::map`] with `markers` asks for (the host's `map.js`): the places
//! of a collection inside the map's view, clustered on its grid. No document is read, so a
//! map of 50,000 places answers from the host's cell counts.
//!
//! ```ignore
//! fn markers(req: &Request, _: &Params) -> Result<Response, Error> {
//!     map::markers(req, &OPEN, |key| Some((req.link(&format!("/{key}")), format!("N° {key}"))))
//! }
//! ```

use crate::store::{Bbox, Collection, StoreError};
use crate::{Error, Request, Response};

/// One marker: a lone place (with its link and title) or a cluster of `count`.
#[derive(serde::Serialize)]
struct Marker {
    count: u32,
    lat: f64,
    lon: f64,
    bounds: [f64; 4],
    #[serde(skip_serializing_if = "Option::is_none")]
    href: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
}

/// The markers of `collection`'s places in the view the query names (`?s=&w=&n=&e=&cols=&rows=`,
/// 1 to 64 cells a side): a lone place gets `link(key)`'s address and title (none: a bare
/// marker). A missing or unreadable parameter is a 400 with its French reason.
pub fn markers(
    req: &Request,
    collection: &Collection<'_>,
    link: impl Fn(&str) -> Option<(String, String)>,
) -> Result<Response, Error> {
    let number = |name: &str| {
        req.query_value(name)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                Error::bad_request(&format!(
                    "Paramètre «\u{a0}{name}\u{a0}» manquant ou invalide."
                ))
            })
    };
    let cells = |name: &str| {
        req.query_value(name)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|v| (1..=64).contains(v))
            .ok_or_else(|| {
                Error::bad_request(&format!("Paramètre «\u{a0}{name}\u{a0}»\u{a0}: de 1 à 64."))
            })
    };
    let bbox = Bbox {
        south: number("s")?,
        west: number("w")?,
        north: number("n")?,
        east: number("e")?,
    };
    let clusters = collection
        .clusters(bbox, cells("cols")?, cells("rows")?)
        .map_err(|e| match e {
            StoreError::Invalid(m) => Error::bad_request(&m),
            other => Error::Store(other),
        })?;
    let out: Vec<Marker> = clusters
        .into_iter()
        .map(|c| {
            let (href, title) = c.key.as_deref().and_then(&link).unzip();
            Marker {
                count: c.count,
                lat: c.at.lat,
                lon: c.at.lon,
                bounds: [c.bounds.south, c.bounds.west, c.bounds.north, c.bounds.east],
                href,
                title,
            }
        })
        .collect();
    Ok(Response::json(&out))
}
