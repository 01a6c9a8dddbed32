//! The host's own files below `/static/` that are large enough to be worth compressing (the
//! map library): embedded in the binary, gzipped once on first use, and sent gzipped to every
//! browser that accepts it.

use std::io::Write as _;
use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub struct Asset {
    content_type: &'static str,
    body: &'static [u8],
    gzipped: OnceLock<Option<Vec<u8>>>,
}

impl Asset {
    /// A file of this type and content.
    pub const fn new(content_type: &'static str, body: &'static [u8]) -> Asset {
        Asset {
            content_type,
            body,
            gzipped: OnceLock::new(),
        }
    }

    fn gzipped(&'static self) -> Option<&'static [u8]> {
        self.gzipped
            .get_or_init(|| {
                let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                z.write_all(self.body).ok()?;
                z.finish().ok()
            })
            .as_deref()
    }

    /// The file, gzipped when the request accepts it; cached an hour like the other files of
    /// `/static/` (their names carry no version).
    pub fn respond(&'static self, request: &HeaderMap) -> Response {
        let accepts_gzip = request
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|coding| {
                let mut parts = coding.split(';');
                let name = parts.next().unwrap_or_default().trim();
                let refused =
                    parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                name.eq_ignore_ascii_case("gzip") && !refused
            });
        let mut response = match self.gzipped().filter(|_| accepts_gzip) {
            Some(gz) => {
                let mut r = gz.into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            None => self.body.into_response(),
        };
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        response
    }
}

/// Leaflet 1.9.4, from its npm package (`scripts/vendor-leaflet`; BSD-2-Clause,
/// `core/static/vendor/LICENSE-leaflet`).
pub static LEAFLET_JS: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_bytes!("../../static/vendor/leaflet.js"),
);

/// Leaflet's style sheet.
pub static LEAFLET_CSS: Asset = Asset::new(
    "text/css; charset=utf-8",
    include_bytes!("../../static/vendor/leaflet.css"),
);

/// Parvis's maps (`core/static/map.js`): loads Leaflet only on a page that has a map.
pub static MAP_JS: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_bytes!("../../static/map.js"),
);

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(accept: &str) -> Response {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(accept) {
            h.insert(header::ACCEPT_ENCODING, v);
        }
        LEAFLET_JS.respond(&h)
    }

    #[test]
    fn gzip_only_when_accepted() {
        let gz = |r: &Response| r.headers().get(header::CONTENT_ENCODING).is_some();
        assert!(gz(&ask("gzip, deflate, br")));
        assert!(gz(&ask("br;q=1.0, GZIP;q=0.5")));
        assert!(!gz(&ask("")));
        assert!(!gz(&ask("br, gzip;q=0")));
        assert!(!gz(&ask("x-gzip-ish")));
    }
}
