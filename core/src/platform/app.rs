//! Parvis as an app on a phone's home screen, each commune its own: a web app manifest per site
//! (`/manifest.webmanifest`, named after the commune), icons drawn here once, and a page shown
//! when the network is gone (`/hors-ligne`), which the service worker (`/sw.js`) keeps.
//!
//! The service worker keeps only that page, its style sheet and the icons, fetched without
//! cookies: nothing of anyone's account is ever stored on the device by it.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use image::{ImageFormat, Rgba, RgbaImage};
use serde::Serialize;
use serde_json::json;

use crate::error::AppResult;
use crate::state::AppState;
use crate::web::render::Template;
use crate::web::{Page, Site};

/// The page the service worker shows when a page cannot be reached.
pub const OFFLINE: &str = "/hors-ligne";

/// The accent of the style sheet (`--accent`), the icons' ground and the app's bar.
const ACCENT: [u8; 3] = [0x1d, 0x4e, 0xd8];

/// The routes every site serves (the manifest names its site).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manifest.webmanifest", get(manifest))
        .route(OFFLINE, get(offline))
}

/// `/static/app.js`, which every page loads to register the service worker.
const APP_JS: &str = include_str!("../../static/app.js");

/// The icons and the script registering the service worker, the same on every host.
pub fn static_routes() -> Router<AppState> {
    Router::new()
        .route("/static/app.js", get(app_js))
        .route("/static/icone-192.png", get(|| icon(Icon::Any192)))
        .route("/static/icone-512.png", get(|| icon(Icon::Any512)))
        .route(
            "/static/icone-masquable-512.png",
            get(|| icon(Icon::Maskable512)),
        )
}

async fn app_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        APP_JS,
    )
        .into_response()
}

async fn manifest(Extension(site): Extension<Site>) -> Response {
    let (name, short_name, description) = match &site {
        Site::Commune(c) => (
            format!("{} — Parvis", c.name),
            c.name.clone(),
            format!(
                "La vie publique {} : la mairie, les élus, les alertes et les sondages.",
                crate::communes::names::of(&c.name, c.name_kind)
            ),
        ),
        Site::Platform => (
            "Parvis".to_string(),
            "Parvis".to_string(),
            "Le parvis de la mairie en ligne : la vie publique de votre commune.".to_string(),
        ),
    };
    // The commune's own colour on the phone's title bar, when it chose one.
    let accent = match &site {
        Site::Commune(c) if c.accent.is_some() => c.accent.clone().unwrap_or_default(),
        _ => format!("#{:02x}{:02x}{:02x}", ACCENT[0], ACCENT[1], ACCENT[2]),
    };
    let body = Json(json!({
        "name": name,
        "short_name": short_name,
        "description": description,
        "lang": "fr",
        "dir": "ltr",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": accent,
        "icons": [
            {"src": "/static/icone-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/icone-512.png", "sizes": "512x512", "type": "image/png"},
            {"src": "/static/icone-masquable-512.png", "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"}
        ]
    }));
    (
        [
            (header::CONTENT_TYPE, "application/manifest+json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// `offline.html`.
#[derive(Serialize)]
struct Offline {}

impl Template for Offline {
    const NAME: &'static str = "offline.html";
}

async fn offline(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    Ok((StatusCode::OK, page.render(&state, &Offline {})?).into_response())
}

#[derive(Clone, Copy)]
enum Icon {
    Any192,
    Any512,
    Maskable512,
}

impl Icon {
    fn index(self) -> usize {
        self as usize
    }

    /// Its side in pixels, and the share of it the drawing takes: a maskable icon keeps its
    /// drawing inside the central circle every launcher's mask leaves (80 % of the side).
    fn geometry(self) -> (u32, f32) {
        match self {
            Icon::Any192 => (192, 1.0),
            Icon::Any512 => (512, 1.0),
            Icon::Maskable512 => (512, 0.72),
        }
    }
}

async fn icon(which: Icon) -> Response {
    static ICONS: [OnceLock<Option<Vec<u8>>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let png = ICONS[which.index()].get_or_init(|| {
        let (side, scale) = which.geometry();
        let mut bytes = std::io::Cursor::new(Vec::new());
        draw(side, scale)
            .write_to(&mut bytes, ImageFormat::Png)
            .map_err(|e| tracing::error!(error = %e, "icon"))
            .ok()
            .map(|_| bytes.into_inner())
    });
    match png {
        Some(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            png.clone(),
        )
            .into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The town hall's front, white on the accent: a pediment, its architrave, four columns and
/// two steps — the « parvis de la mairie ».
fn draw(side: u32, scale: f32) -> RgbaImage {
    let ground = Rgba([ACCENT[0], ACCENT[1], ACCENT[2], 255]);
    let white = Rgba([255, 255, 255, 255]);
    let mut image = RgbaImage::from_pixel(side, side, ground);
    let s = side as f32;
    // From the drawing's unit square to pixels, centred.
    let at = |u: f32| ((0.5 + (u - 0.5) * scale) * s).round() as i64;
    let mut fill = |x0: f32, y0: f32, x1: f32, y1: f32| {
        for y in at(y0).max(0)..at(y1).min(side as i64) {
            for x in at(x0).max(0)..at(x1).min(side as i64) {
                image.put_pixel(x as u32, y as u32, white);
            }
        }
    };
    // The pediment: a triangle, row by row.
    let (apex, base) = (0.17_f32, 0.37_f32);
    let rows = ((base - apex) * s * scale).ceil() as usize;
    for row in 0..rows {
        let t = (row as f32 + 0.5) / rows as f32;
        let y = apex + (base - apex) * t;
        let half = 0.35 * t;
        fill(
            0.5 - half,
            y,
            0.5 + half,
            y + (base - apex) / rows as f32 + 0.002,
        );
    }
    fill(0.17, 0.39, 0.83, 0.45);
    for centre in [0.27, 0.42, 0.58, 0.73] {
        fill(centre - 0.04, 0.47, centre + 0.04, 0.71);
    }
    fill(0.15, 0.73, 0.85, 0.78);
    fill(0.11, 0.80, 0.89, 0.85);
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_icon_is_the_accent_with_a_white_front_and_the_maskable_one_keeps_its_margin() {
        let any = draw(192, 1.0);
        let accent = Rgba([ACCENT[0], ACCENT[1], ACCENT[2], 255]);
        assert_eq!(*any.get_pixel(2, 2), accent, "the ground");
        assert_eq!(*any.get_pixel(96, 60), Rgba([255; 4]), "the pediment");
        assert_eq!(*any.get_pixel(96, 110), accent, "between two columns");
        let maskable = draw(512, 0.72);
        let white = |x: u32, y: u32| *maskable.get_pixel(x, y) == Rgba([255; 4]);
        // Everything drawn lies inside the circle of radius 40 % a mask keeps.
        for y in 0..512 {
            for x in 0..512 {
                if white(x, y) {
                    let (dx, dy) = (x as f32 - 256.0, y as f32 - 256.0);
                    assert!((dx * dx + dy * dy).sqrt() <= 0.4 * 512.0, "({x}, {y})");
                }
            }
        }
    }
}
