//! Neighbourhoods (quartiers), shared by every module, on both backends: Paris starts with
//! its 20 arrondissements from the registry, and the reports module's list filters by them,
//! its report pages and figures name them; a GeoJSON file replaces them and every report is
//! placed again; a file that is not GeoJSON, overlapping neighbourhoods, one outside Paris and a
//! drawn one over another are refused in French with 422 and change nothing; a citizen cannot
//! touch them, and Lyon's host sees only its own arrondissements.

use anyhow::Result;
use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, form_token, html};
use serde_json::Value;

const PASSWORD: &str = "mot-de-passe-solide";

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    parvis_tests::outcome(client.get(url).send().await?).await
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    form_page: &str,
    fields: &[(&str, &str)],
) -> Result<(u16, String)> {
    let token = form_token(client, form_page).await?;
    let mut body = vec![("csrf_token", token.as_str())];
    body.extend_from_slice(fields);
    let r = client.post(url).form(&body).send().await?;
    Ok((r.status().as_u16(), html::text(&r.text().await?)))
}

async fn upload(
    client: &reqwest::Client,
    url: &str,
    form_page: &str,
    file: Vec<u8>,
) -> Result<(u16, String)> {
    let token = form_token(client, form_page).await?;
    let form = reqwest::multipart::Form::new().part(
        "fichier",
        reqwest::multipart::Part::bytes(file)
            .file_name("quartiers.geojson")
            .mime_str("application/geo+json")?,
    );
    let r = client
        .post(format!("{url}?csrf_token={token}"))
        .multipart(form)
        .send()
        .await?;
    Ok((r.status().as_u16(), html::text(&r.text().await?)))
}

/// A rectangle as a GeoJSON feature named `name`.
fn rectangle(name: &str, west: f64, south: f64, east: f64, north: f64) -> Value {
    serde_json::json!({
        "type": "Feature",
        "properties": { "nom": name },
        "geometry": { "type": "Polygon", "coordinates": [[
            [west, south], [east, south], [east, north], [west, north], [west, south]
        ]]}
    })
}

fn collection(features: Vec<Value>) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(
        &serde_json::json!({ "type": "FeatureCollection", "features": features }),
    )?)
}

/// The numbers of the reports a list page shows.
fn numbers(page: &str) -> Vec<u64> {
    let text = html::text(page);
    text.split("N°\u{a0}")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

both_backends!(
    neighbourhoods_are_defined_by_the_commune_and_filter_its_reports,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let lyon = app.commune("69123").await?;
        assert_eq!(
            app.install_module("parvis-module-reports").await?,
            "reports"
        );
        app.enable_module(&paris, "reports").await?;
        let maire = app.account("maire@paris.fr", PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let admin = app
            .signed_in(Some(&paris), "maire@paris.fr", PASSWORD)
            .await?;
        app.account("alice@example.org", PASSWORD).await?;
        let alice = app
            .signed_in(Some(&paris), "alice@example.org", PASSWORD)
            .await?;
        let page = app.url(Some(&paris), "/admin/quartiers");

        // Two reports: by the Hôtel de Ville (4th arrondissement)
        // and under the Eiffel Tower (7th).
        let new = app.url(Some(&paris), "/m/reports/nouveau");
        for (lat, lon, what) in [
            (
                "48.856600",
                "2.352200",
                "Le lampadaire devant l'Hôtel de Ville est éteint.",
            ),
            (
                "48.858400",
                "2.294500",
                "Un banc est cassé au pied de la tour Eiffel.",
            ),
        ] {
            let token = form_token(&alice, &new).await?;
            let r = alice
                .post(&new)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("categorie", "mobilier-urbain"),
                    ("description", what),
                    ("lat", lat),
                    ("lon", lon),
                    ("adresse", ""),
                ])
                .send()
                .await?;
            assert_eq!(r.status(), 303, "{what}");
        }
        let list = app.url(Some(&paris), "/m/reports/");

        // Paris started with its 20 arrondissements, from the registry; taking them again
        // moves no report.
        let (status, body) = get(&admin, &page).await?;
        assert_eq!(status, 200);
        assert!(
            html::text(&body).contains("Les 20 arrondissements"),
            "{body}"
        );
        let (status, text) = post(
            &admin,
            &app.url(Some(&paris), "/admin/quartiers/arrondissements"),
            &page,
            &[],
        )
        .await?;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("La commune a 20 quartiers."), "{text}");
        assert!(!text.contains("changé de quartier"), "{text}");
        assert!(text.contains("4e arrondissement"), "{text}");
        let geojson: Value = alice
            .get(app.url(Some(&paris), "/quartiers.geojson"))
            .send()
            .await?
            .json()
            .await?;
        let features = geojson["features"].as_array().map_or(0, Vec::len);
        assert_eq!(features, 20);
        assert_eq!(
            geojson["features"][0]["properties"]["nom"],
            "1er arrondissement"
        );

        // The list filters by neighbourhood; a report names its own.
        let (_, all) = get(&alice, &list).await?;
        assert!(
            all.contains("<option value=\"7e-arrondissement\">7e arrondissement</option>"),
            "{all}"
        );
        let (_, fourth) = get(&alice, &format!("{list}?quartier=4e-arrondissement")).await?;
        assert_eq!(numbers(&fourth), [1], "{fourth}");
        let (_, seventh) = get(
            &alice,
            &format!("{list}?quartier=7e-arrondissement&statut=ouvert"),
        )
        .await?;
        assert_eq!(numbers(&seventh), [2], "{seventh}");
        let (_, unknown) = get(&alice, &format!("{list}?quartier=atlantide")).await?;
        assert_eq!(
            numbers(&unknown),
            [2, 1],
            "an unknown neighbourhood is no filter"
        );
        let (_, one) = get(&alice, &app.url(Some(&paris), "/m/reports/1")).await?;
        assert!(
            html::text(&one).contains("Quartier\u{a0}: 4e arrondissement"),
            "{one}"
        );
        let (_, stats) = get(
            &admin,
            &app.url(Some(&paris), "/admin/m/reports/statistiques"),
        )
        .await?;
        assert!(stats.contains("En cours, par quartier"), "{stats}");
        assert!(
            stats.contains("<title>7e arrondissement\u{a0}: 1</title>"),
            "{stats}"
        );

        // A file replaces them: the middle of Paris cut in two at the meridian of the Louvre.
        let halves = collection(vec![
            rectangle("Rive ouest", 2.28, 48.84, 2.3376, 48.87),
            rectangle("Rive est", 2.3376, 48.84, 2.39, 48.87),
        ])?;
        let import = app.url(Some(&paris), "/admin/quartiers/import");
        let (status, text) = upload(&admin, &import, &page, halves).await?;
        assert_eq!(status, 200, "{text}");
        assert!(
            text.contains("La commune a 2 quartiers. 4 lieux placés"),
            "{text}"
        );
        let (_, west) = get(&alice, &format!("{list}?quartier=rive-ouest")).await?;
        assert_eq!(numbers(&west), [2]);
        let (_, east) = get(&alice, &format!("{list}?quartier=rive-est")).await?;
        assert_eq!(numbers(&east), [1]);

        // Bad files: a clear reason, 422, and nothing changes.
        let (status, text) = upload(
            &admin,
            &import,
            &page,
            b"{\"type\": \"FeatureCollection\", \"features\": [".to_vec(),
        )
        .await?;
        assert_eq!(status, 422);
        assert!(
            text.contains("n'est pas du GeoJSON lisible : ligne 1"),
            "{text}"
        );
        let overlapping = collection(vec![
            rectangle("Nord", 2.28, 48.845, 2.39, 48.87),
            rectangle("Centre", 2.30, 48.84, 2.38, 48.86),
        ])?;
        let (status, text) = upload(&admin, &import, &page, overlapping).await?;
        assert_eq!(status, 422);
        assert!(
            text.contains("Les quartiers « Nord » et « Centre » se chevauchent"),
            "{text}"
        );
        let in_lyon = collection(vec![rectangle("Presqu'île", 4.82, 45.75, 4.84, 45.77)])?;
        let (status, text) = upload(&admin, &import, &page, in_lyon).await?;
        assert_eq!(status, 422);
        assert!(
            text.contains("Le quartier « Presqu'île » déborde du territoire de la commune (100"),
            "{text}"
        );
        let named_twice = collection(vec![
            rectangle("Rive ouest", 2.28, 48.84, 2.3376, 48.87),
            rectangle("rive ouest", 2.3376, 48.84, 2.39, 48.87),
        ])?;
        let (status, text) = upload(&admin, &import, &page, named_twice).await?;
        assert_eq!(status, 422);
        assert!(
            text.contains("Quartier n° 2 (« rive ouest ») : un autre quartier porte déjà ce nom."),
            "{text}"
        );
        // A neighbourhood drawn over another.
        let draw = app.url(Some(&paris), "/admin/quartiers/dessin");
        let square = r#"{"type":"Polygon","coordinates":[[[2.34,48.85],[2.36,48.85],[2.36,48.86],[2.34,48.86],[2.34,48.85]]]}"#;
        let (status, text) = post(
            &admin,
            &draw,
            &page,
            &[("nom", "Marais"), ("geometrie", square)],
        )
        .await?;
        assert_eq!(status, 422);
        assert!(
            text.contains("Les quartiers « Rive est » et « Marais » se chevauchent"),
            "{text}"
        );
        let (status, text) = post(
            &admin,
            &draw,
            &page,
            &[("nom", "Marais"), ("geometrie", "")],
        )
        .await?;
        assert_eq!(status, 422);
        assert!(text.contains("Dessinez le quartier sur la carte"), "{text}");
        let (_, east) = get(&alice, &format!("{list}?quartier=rive-est")).await?;
        assert_eq!(numbers(&east), [1], "nothing changed");

        // One removed, then one drawn in its place.
        let (status, _) = post(
            &admin,
            &app.url(Some(&paris), "/admin/quartiers/rive-est/supprimer"),
            &page,
            &[],
        )
        .await?;
        assert_eq!(status, 303);
        let (status, text) = post(
            &admin,
            &draw,
            &page,
            &[("nom", "Marais"), ("geometrie", square)],
        )
        .await?;
        assert_eq!(status, 200, "{text}");
        assert!(
            text.contains("La commune a 2 quartiers. 2 lieux placés"),
            "{text}"
        );
        let (_, marais) = get(&alice, &format!("{list}?quartier=marais")).await?;
        assert_eq!(numbers(&marais), [1]);

        // A citizen cannot; Lyon sees none of Paris's neighbourhoods, nor removes one.
        let (status, _) = post(
            &alice,
            &app.url(Some(&paris), "/admin/quartiers/effacer"),
            &list,
            &[],
        )
        .await?;
        assert_eq!(status, 403);
        let lyon_geojson: Value = alice
            .get(app.url(Some(&lyon), "/quartiers.geojson"))
            .send()
            .await?
            .json()
            .await?;
        // Lyon started with its own 9 arrondissements.
        let lyon_names: Vec<&str> = lyon_geojson["features"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(|f| f["properties"]["nom"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(lyon_names.len(), 9, "{lyon_names:?}");
        assert!(
            lyon_names.iter().all(|n| n.ends_with("arrondissement")),
            "{lyon_names:?}"
        );
        let lyon_maire = app.account("maire@lyon.fr", PASSWORD).await?;
        app.grant(&lyon_maire, Role::TenantAdmin, Some(&lyon))
            .await?;
        let lyon_admin = app
            .signed_in(Some(&lyon), "maire@lyon.fr", PASSWORD)
            .await?;
        let (status, _) = post(
            &lyon_admin,
            &app.url(Some(&lyon), "/admin/quartiers/marais/supprimer"),
            &app.url(Some(&lyon), "/admin/quartiers"),
            &[],
        )
        .await?;
        assert_eq!(status, 404);
        let (_, marais) = get(&alice, &format!("{list}?quartier=marais")).await?;
        assert_eq!(
            numbers(&marais),
            [1],
            "Paris's neighbourhood is still there"
        );

        // Cleared: the reports keep their places, in no neighbourhood.
        let (status, text) = post(
            &admin,
            &app.url(Some(&paris), "/admin/quartiers/effacer"),
            &page,
            &[],
        )
        .await?;
        assert_eq!(status, 200);
        assert!(text.contains("La commune n'a plus de quartiers."), "{text}");
        let (_, all) = get(&alice, &list).await?;
        assert!(!all.contains("id=\"quartier\""));
        assert_eq!(numbers(&all), [2, 1]);
        Ok(())
    }
);

/// Each change of a commune's neighbourhoods places all its places again, holding SQLite's
/// writer for as long: a commune may change them `CHANGES_PER_HOUR` times an hour, then gets
/// a clear 429, while another commune is not held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commune_changing_its_neighbourhoods_in_a_loop_is_held_back() -> Result<()> {
    use parvis_core::neighbourhoods::service::CHANGES_PER_HOUR;
    let app = TestApp::start(parvis_tests::Backend::Sqlite).await?;
    let lyon = app.commune("69123").await?;
    let marseille = app.commune("13055").await?;
    let mut admins = Vec::new();
    for (slug, email) in [(&lyon, "maire@lyon.fr"), (&marseille, "maire@marseille.fr")] {
        let id = app.account(email, PASSWORD).await?;
        app.grant(&id, Role::TenantAdmin, Some(slug)).await?;
        admins.push(app.signed_in(Some(slug), email, PASSWORD).await?);
    }
    let clear = |slug: &str| app.url(Some(slug), "/admin/quartiers/effacer");
    let page = app.url(Some(&lyon), "/admin/quartiers");
    let token = parvis_tests::form_token(&admins[0], &page).await?;
    // Lyon started with its arrondissements: one change already counted.
    for i in 1..CHANGES_PER_HOUR {
        let r = admins[0]
            .post(clear(&lyon))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 200, "change {i}");
    }
    let r = admins[0]
        .post(clear(&lyon))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await?;
    assert_eq!(r.status(), 429);
    let text = html::text(&r.text().await?);
    assert!(
        text.contains("déjà été modifiés 30 fois en une heure"),
        "{text}"
    );
    // Marseille's admin is not held back by Lyon's.
    let token =
        parvis_tests::form_token(&admins[1], &app.url(Some(&marseille), "/admin/quartiers"))
            .await?;
    let r = admins[1]
        .post(clear(&marseille))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    Ok(())
}
