//! Issue 18, places in the contract (`parvis:module/places`, 0.2.2): a module's document
//! carries a point, found by bounding box and by distance with the same documents, order and
//! distances on SQLite and PostgreSQL; bad points, boxes and radii are refused with the reason;
//! a place goes with its document; and a commune never sees another's places. Driven through
//! the real router and the `hostile` test module's `/places/…` routes.

use parvis_core::modules::places::Point;
use parvis_tests::{Backend, TestApp, both_backends};
use serde_json::Value;

const HOSTILE: &str = "hostile";

const HOTEL_DE_VILLE: Point = Point {
    lat: 48.8566,
    lon: 2.3522,
};

/// The places of the scene: about 30 m north, 80 m east, 1 km south of the Hôtel de Ville,
/// and the Eiffel Tower.
const SPOTS: [(&str, Point); 5] = [
    ("hotel-de-ville", HOTEL_DE_VILLE),
    (
        "nord",
        Point {
            lat: 48.85687,
            lon: 2.3522,
        },
    ),
    (
        "est",
        Point {
            lat: 48.8566,
            lon: 2.3533,
        },
    ),
    (
        "sud",
        Point {
            lat: 48.8476,
            lon: 2.3522,
        },
    ),
    (
        "tour-eiffel",
        Point {
            lat: 48.8584,
            lon: 2.2945,
        },
    ),
];

async fn call(app: &TestApp, slug: &str, path: &str) -> anyhow::Result<(u16, Value)> {
    app.get_json(slug, &format!("/m/{HOSTILE}/places{path}"))
        .await
}

/// The keys and distances of a list the module answered, distances in micrometres: JSON's
/// decimal text may come back one unit in the last place away from the host's `f64`.
fn found(list: &Value) -> Vec<(String, i64)> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["key"].as_str().unwrap_or_default().to_string(),
                        micrometres(p["distance"].as_f64().unwrap_or(f64::NAN)),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn micrometres(metres: f64) -> i64 {
    (metres * 1e6).round() as i64
}

fn spot(key: &str) -> Point {
    SPOTS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(HOTEL_DE_VILLE, |(_, p)| *p)
}

/// The expected answer of a `near` query: the keys nearest first, each with its distance
/// computed here the way the host does, so both databases must give exactly these numbers.
fn nearest(center: Point, keys: &[&str]) -> Vec<(String, i64)> {
    keys.iter()
        .map(|k| (k.to_string(), micrometres(center.distance_to(spot(k)))))
        .collect()
}

both_backends!(
    places_are_found_by_box_and_by_distance_alike_on_both_databases,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let lyon = app.commune("69123").await?;
        assert_eq!(app.install_module("parvis-module-hostile").await?, HOSTILE);
        app.enable_module(&paris, HOSTILE).await?;
        app.enable_module(&lyon, HOSTILE).await?;
        for (key, at) in SPOTS {
            let (status, answer) = call(
                &app,
                &paris,
                &format!("/set?key={key}&lat={}&lon={}", at.lat, at.lon),
            )
            .await?;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(
                answer["at"],
                serde_json::json!([at.lat, at.lon]),
                "kept exactly"
            );
        }

        // By distance: the nearest first, with the great-circle distance.
        let near = |r: u32, limit: u32| {
            format!(
                "/near?lat={}&lon={}&r={r}&limit={limit}",
                HOTEL_DE_VILLE.lat, HOTEL_DE_VILLE.lon
            )
        };
        let (status, answer) = call(&app, &paris, &near(100, 10)).await?;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            found(&answer),
            nearest(HOTEL_DE_VILLE, &["hotel-de-ville", "nord", "est"])
        );
        let within_100 = found(&answer);
        assert!(
            within_100[1].1 > 25_000_000
                && within_100[1].1 < 35_000_000
                && within_100[2].1 < 100_000_000,
            "about 30 m and 80 m: {within_100:?}"
        );
        let (_, answer) = call(&app, &paris, &near(5_000, 10)).await?;
        assert_eq!(
            found(&answer),
            nearest(
                HOTEL_DE_VILLE,
                &["hotel-de-ville", "nord", "est", "sud", "tour-eiffel"]
            ),
            "the Eiffel Tower is 4.2 km away"
        );
        let (_, answer) = call(&app, &paris, &near(5_000, 2)).await?;
        assert_eq!(
            found(&answer),
            nearest(HOTEL_DE_VILLE, &["hotel-de-ville", "nord"]),
            "at most `limit`"
        );

        // By box: by key, every place inside, none outside.
        let (_, answer) = call(
            &app,
            &paris,
            "/within?s=48.85&w=2.34&n=48.86&e=2.36&limit=500",
        )
        .await?;
        let keys: Vec<String> = found(&answer).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["est", "hotel-de-ville", "nord"], "{answer}");
        let (_, answer) = call(&app, &paris, "/within?s=48&w=2&n=49&e=3&limit=500").await?;
        assert_eq!(found(&answer).len(), 5);

        // A place moves, goes when cleared, and goes with its document.
        call(&app, &paris, "/set?key=nord&lat=48.8476&lon=2.3523").await?;
        let (_, answer) = call(&app, &paris, &near(100, 10)).await?;
        assert_eq!(
            found(&answer),
            nearest(HOTEL_DE_VILLE, &["hotel-de-ville", "est"])
        );
        assert_eq!(call(&app, &paris, "/clear?key=est").await?.1, true);
        assert_eq!(call(&app, &paris, "/clear?key=est").await?.1, false);
        assert_eq!(
            call(&app, &paris, "/delete?key=hotel-de-ville").await?.1,
            true
        );
        let (_, answer) = call(&app, &paris, &near(100, 10)).await?;
        assert_eq!(found(&answer), []);

        // Another commune sees none of Paris's places, and Paris none of its own.
        let (status, answer) = call(&app, &lyon, &near(50_000, 500)).await?;
        assert_eq!((status, found(&answer)), (200, vec![]));
        call(&app, &lyon, "/set?key=lyon-spot&lat=48.8566&lon=2.3522").await?;
        let (_, answer) = call(&app, &paris, &near(10, 500)).await?;
        assert_eq!(found(&answer), []);
        let (_, answer) = call(&app, &lyon, &near(10, 500)).await?;
        assert_eq!(found(&answer).len(), 1);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    bad_points_boxes_and_radii_are_refused_with_the_reason,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        assert_eq!(app.install_module("parvis-module-hostile").await?, HOSTILE);
        app.enable_module(&paris, HOSTILE).await?;
        for (path, says) in [
            ("/set?key=a&lat=91&lon=2", "point hors de la Terre"),
            ("/set?key=a&lat=48&lon=NaN", "point hors de la Terre"),
            ("/set?key=absent&lat=48&lon=2&doc=0", "aucun document"),
            ("/near?lat=48&lon=2&r=60000&limit=10", "rayon"),
            ("/near?lat=48&lon=2&r=-1&limit=10", "rayon"),
            ("/near?lat=48&lon=2&r=100&limit=0", "nombre de lieux"),
            ("/near?lat=48&lon=2&r=100&limit=501", "nombre de lieux"),
            ("/within?s=49&w=2&n=48&e=3&limit=10", "boîte invalide"),
            ("/within?s=48&w=3&n=49&e=2&limit=10", "boîte invalide"),
        ] {
            let (status, answer) = call(&app, &paris, path).await?;
            assert_eq!(status, 422, "{path}: {answer}");
            let error = answer["error"].as_str().unwrap_or_default();
            assert!(error.contains(says), "{path}: {error}");
        }
        // The refused write left nothing: the document written before the bad point was
        // rolled back with the call, so it cannot be placed now without being written again.
        let (_, answer) = call(&app, &paris, "/within?s=-90&w=-180&n=90&e=180&limit=500").await?;
        assert_eq!(found(&answer), []);
        let (status, answer) = call(&app, &paris, "/set?key=a&lat=48&lon=2&doc=0").await?;
        assert_eq!(
            status, 422,
            "the document « a » outlived its refused call: {answer}"
        );
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.contains("aucun document")),
            "{answer}"
        );
        app.stop().await;
        Ok(())
    }
);
