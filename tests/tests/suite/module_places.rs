//! Issue 18, places in the contract (`parvis:module/places`, 0.2.2): a module's document
//! carries a point, found by bounding box and by distance with the same documents, order and
//! distances on SQLite and PostgreSQL; bad points, boxes and radii are refused with the reason;
//! a place goes with its document; and a commune never sees another's places. Driven through
//! the real router and the `hostile` test module's `/places/…` routes.

use anyhow::Context as _;
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

/// The scene of most tests: Paris and Lyon with the hostile module, [`SPOTS`] placed in Paris
/// (each kept exactly as sent).
async fn scene(backend: Backend) -> anyhow::Result<(TestApp, String, String)> {
    let app = TestApp::start(backend).await?;
    let (id, mut communes) = app
        .module_in("parvis-module-hostile", &["75056", "69123"])
        .await?;
    assert_eq!(id, HOSTILE);
    let (Some(lyon), Some(paris)) = (communes.pop(), communes.pop()) else {
        anyhow::bail!("two communes")
    };
    for (key, at) in SPOTS {
        let path = format!("/set?key={key}&lat={}&lon={}", at.lat, at.lon);
        let (status, answer) = call(&app, &paris, &path).await?;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["at"],
            serde_json::json!([at.lat, at.lon]),
            "kept exactly"
        );
    }
    Ok((app, paris, lyon))
}

both_backends!(
    places_are_found_by_box_and_by_distance_alike_on_both_databases,
    |backend: Backend| async move {
        let (app, paris, lyon) = scene(backend).await?;

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
        let (_, mut communes) = app.module_in("parvis-module-hostile", &["75056"]).await?;
        let paris = communes.pop().context("Paris")?;
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

both_backends!(
    a_map_gets_points_and_clusters_without_documents,
    |backend: Backend| async move {
        let (app, paris, lyon) = scene(backend).await?;
        // Points: by key, every place inside the box, its exact point, and no document.
        let (status, answer) = call(
            &app,
            &paris,
            "/points?s=48.84&w=2.34&n=48.86&e=2.36&limit=5000",
        )
        .await?;
        assert_eq!(status, 200, "{answer}");
        let keys: Vec<&str> = answer
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["key"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["est", "hotel-de-ville", "nord", "sud"], "{answer}");
        for p in answer.as_array().into_iter().flatten() {
            let at = spot(p["key"].as_str().unwrap_or_default());
            assert_eq!(
                (p["lat"].as_f64(), p["lon"].as_f64()),
                (Some(at.lat), Some(at.lon))
            );
        }
        let (_, answer) = call(&app, &paris, "/points?s=48&w=2&n=49&e=3&limit=2").await?;
        assert_eq!(answer.as_array().map(Vec::len), Some(2), "at most `limit`");

        // Clusters: a 2 × 2 grid over a box whose west half holds the Eiffel Tower alone and
        // whose east half holds the four places around the Hôtel de Ville (three in the
        // north-east cell, « sud » in the south-east one).
        let (status, answer) = call(
            &app,
            &paris,
            "/clusters?s=48.84&w=2.28&n=48.87&e=2.42&cols=2&rows=2",
        )
        .await?;
        assert_eq!(status, 200, "{answer}");
        let cells = answer.as_array().cloned().unwrap_or_default();
        let counts: Vec<(u64, Option<&str>)> = cells
            .iter()
            .map(|c| (c["count"].as_u64().unwrap_or(0), c["key"].as_str()))
            .collect();
        assert_eq!(
            counts,
            [(1, Some("tour-eiffel")), (3, None), (1, Some("sud"))],
            "row by row from the north-west: {answer}"
        );
        let three = [spot("hotel-de-ville"), spot("nord"), spot("est")];
        let mean_lat = three.iter().map(|p| p.lat).sum::<f64>() / 3.0;
        let mean_lon = three.iter().map(|p| p.lon).sum::<f64>() / 3.0;
        assert!(
            (cells[1]["lat"].as_f64().unwrap_or(0.0) - mean_lat).abs() < 1e-6
                && (cells[1]["lon"].as_f64().unwrap_or(0.0) - mean_lon).abs() < 1e-6,
            "the marker at their mean: {}",
            cells[1]
        );
        // Counted in a fixed cell of side 2⁻⁷ degree (the grid's cells are 0.015° high): its
        // box holds the three.
        let side = 1.0 / 128.0;
        let south = ((48.8566 + 90.0) * 128.0_f64).floor() / 128.0 - 90.0;
        let west = ((2.3522 + 180.0) * 128.0_f64).floor() / 128.0 - 180.0;
        assert_eq!(
            cells[1]["bounds"],
            serde_json::json!([south, west, south + side, west + side]),
            "the fixed cell they were counted in"
        );

        // The kept cells follow the places: one moves into the Hôtel de Ville's cell, one is
        // cleared, one goes with its document.
        let grid = "/clusters?s=48.84&w=2.28&n=48.87&e=2.42&cols=2&rows=2";
        let counts = |answer: &Value| -> Vec<u64> {
            answer
                .as_array()
                .map(|a| a.iter().filter_map(|c| c["count"].as_u64()).collect())
                .unwrap_or_default()
        };
        call(&app, &paris, "/set?key=sud&lat=48.8567&lon=2.3525").await?;
        assert_eq!(counts(&call(&app, &paris, grid).await?.1), [1, 4]);
        call(&app, &paris, "/clear?key=est").await?;
        assert_eq!(counts(&call(&app, &paris, grid).await?.1), [1, 3]);
        call(&app, &paris, "/delete?key=nord").await?;
        assert_eq!(counts(&call(&app, &paris, grid).await?.1), [1, 2]);
        // A grid finer than the finest kept cells (14 m) counts the points themselves.
        let (status, answer) = call(
            &app,
            &paris,
            "/clusters?s=48.856&w=2.3515&n=48.857&e=2.353&cols=64&rows=64",
        )
        .await?;
        assert_eq!(status, 200, "{answer}");
        let mut keys: Vec<&str> = answer
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["key"].as_str()).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        assert_eq!(keys, ["hotel-de-ville", "sud"], "{answer}");

        // Bad grids and limits; another commune sees nothing.
        for (path, says) in [
            ("/points?s=48&w=2&n=49&e=3&limit=0", "nombre de points"),
            ("/points?s=48&w=2&n=49&e=3&limit=5001", "nombre de points"),
            ("/points?s=49&w=2&n=48&e=3&limit=10", "boîte invalide"),
            ("/clusters?s=48&w=2&n=49&e=3&cols=0&rows=2", "grille"),
            ("/clusters?s=48&w=2&n=49&e=3&cols=2&rows=65", "grille"),
            (
                "/clusters?s=48&w=3&n=49&e=2&cols=2&rows=2",
                "boîte invalide",
            ),
        ] {
            let (status, answer) = call(&app, &paris, path).await?;
            assert_eq!(status, 422, "{path}: {answer}");
            let error = answer["error"].as_str().unwrap_or_default();
            assert!(error.contains(says), "{path}: {error}");
        }
        let (_, answer) = call(&app, &lyon, "/points?s=48&w=2&n=49&e=3&limit=10").await?;
        assert_eq!(answer, serde_json::json!([]));
        let (_, answer) = call(&app, &lyon, "/clusters?s=48&w=2&n=49&e=3&cols=4&rows=4").await?;
        assert_eq!(answer, serde_json::json!([]));
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_module_asks_whether_a_point_lies_inside_its_commune,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let vincennes = app.commune("94080").await?;
        // A commune nouvelle the outlines' source predates: no outline to ask.
        let unknown = app.commune("49126").await?;
        assert_eq!(app.install_module("parvis-module-hostile").await?, HOSTILE);
        for slug in [&paris, &vincennes, &unknown] {
            app.enable_module(slug, HOSTILE).await?;
        }
        let inside = |slug: String, lat: f64, lon: f64| {
            let app = &app;
            async move {
                let (status, answer) =
                    call(app, &slug, &format!("/in-commune?lat={lat}&lon={lon}")).await?;
                anyhow::ensure!(status == 200, "{answer}");
                Ok::<_, anyhow::Error>(answer["inside"].clone())
            }
        };
        use serde_json::json;
        // The Hôtel de Ville, the Eiffel Tower and the Bois de Vincennes are Paris; Vincennes's
        // town hall, Boulogne-Billancourt and Lyon are not.
        assert_eq!(inside(paris.clone(), 48.8566, 2.3522).await?, json!(true));
        assert_eq!(inside(paris.clone(), 48.8584, 2.2945).await?, json!(true));
        assert_eq!(inside(paris.clone(), 48.8283, 2.4330).await?, json!(true));
        assert_eq!(inside(paris.clone(), 48.8474, 2.4396).await?, json!(false));
        assert_eq!(inside(paris.clone(), 48.8353, 2.2410).await?, json!(false));
        assert_eq!(inside(paris.clone(), 45.764, 4.8357).await?, json!(false));
        // Vincennes's own outline answers for Vincennes.
        assert_eq!(
            inside(vincennes.clone(), 48.8474, 2.4396).await?,
            json!(true)
        );
        assert_eq!(inside(vincennes, 48.8566, 2.3522).await?, json!(false));
        // No outline: the host says it does not know rather than guess.
        assert_eq!(inside(unknown.clone(), 47.0, -0.5).await?, json!(null));
        let (status, answer) = call(&app, &paris, "/in-commune?lat=95&lon=2").await?;
        assert_eq!(status, 422, "{answer}");

        // The map reads the same outline, as GeoJSON, from the commune's own host; a commune
        // without one says so.
        let visitor = app.client()?;
        let r = visitor
            .get(app.url(Some(&paris), "/contour.geojson"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/geo+json");
        let feature: serde_json::Value = r.json().await?;
        assert_eq!(
            feature["properties"],
            json!({ "code": "75056", "nom": "Paris" })
        );
        assert_eq!(feature["geometry"]["type"], "MultiPolygon");
        let rings = feature["geometry"]["coordinates"][0][0]
            .as_array()
            .map_or(0, Vec::len);
        assert!(rings > 50, "Paris's outer ring has {rings} positions");
        let r = visitor
            .get(app.url(Some(&unknown), "/contour.geojson"))
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        app.stop().await;
        Ok(())
    }
);
