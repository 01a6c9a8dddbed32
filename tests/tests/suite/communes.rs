//! The communes registry and tenant provisioning, on both backends, from the real data.

use parvis_core::types::{InseeCode, Slug};
use parvis_tenants::communes::{self, Progress, Selection, Source};
use parvis_tenants::provision::{self, ProvisionError};
use parvis_tests::{TestDb, both_backends};
use sqlx::Row as _;

/// A folder holding copies of these files of the project's `data/`.
fn data_copies(files: &[&str]) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    for f in files {
        std::fs::copy(data.join(f), dir.path().join(f))?;
    }
    Ok(dir)
}

fn only(codes: &[&str]) -> anyhow::Result<Selection> {
    Ok(Selection::Only(
        codes
            .iter()
            .map(|c| InseeCode::parse(c))
            .collect::<Result<_, _>>()?,
    ))
}

async fn count(db: &TestDb, table: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(db.db.platform())
        .await?)
}

both_backends!(import_is_faithful_and_idempotent, |backend| async move {
    let db = TestDb::fresh(backend).await?;
    let report = communes::import(
        &db.db,
        &Source::Embedded,
        &only(&["75056", "01001", "01015"])?,
        Progress::Hidden,
    )
    .await?;
    assert_eq!(report.communes, 3);
    let paris = sqlx::query("SELECT name, population, departement_code, region_code, postal_codes, latitude FROM communes WHERE insee = '75056'")
        .fetch_one(db.db.platform())
        .await?;
    assert_eq!(paris.try_get::<String, _>("name")?, "Paris");
    assert_eq!(paris.try_get::<i64, _>("population")?, 2_103_778);
    assert_eq!(paris.try_get::<String, _>("departement_code")?, "75");
    assert_eq!(paris.try_get::<String, _>("region_code")?, "11");
    assert!(
        paris
            .try_get::<String, _>("postal_codes")?
            .contains("75116")
    );
    let lat: f64 = paris.try_get("latitude")?;
    assert!((lat - 48.8566).abs() < 0.01, "centre of Paris: {lat}");
    // Paris's 20 arrondissements are neighbourhoods of Paris, not communes.
    let arr: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM neighbourhoods WHERE parent_insee = '75056' AND kind = 'arrondissement'")
        .fetch_one(db.db.platform())
        .await?;
    assert_eq!(arr, 20);
    // A delegated commune sharing its parent's code (Arbignieu in Arboys en Bugey).
    let delegated: String = sqlx::query_scalar("SELECT name FROM neighbourhoods WHERE parent_insee = '01015' AND kind = 'deleguee' AND code = '01015'")
        .fetch_one(db.db.platform())
        .await?;
    assert_eq!(delegated, "Arbignieu");
    let abergement: Option<String> =
        sqlx::query_scalar("SELECT mairie_phone FROM communes WHERE insee = '01001'")
            .fetch_one(db.db.platform())
            .await?;
    assert_eq!(abergement.as_deref(), Some("04 74 24 03 08"));

    let before = (
        count(&db, "communes").await?,
        count(&db, "neighbourhoods").await?,
        count(&db, "epcis").await?,
    );
    let again = communes::import(
        &db.db,
        &Source::Embedded,
        &only(&["75056", "01001", "01015"])?,
        Progress::Hidden,
    )
    .await?;
    assert_eq!(again, report);
    let after = (
        count(&db, "communes").await?,
        count(&db, "neighbourhoods").await?,
        count(&db, "epcis").await?,
    );
    assert_eq!(before, after, "re-import creates nothing");
    Ok(())
});

both_backends!(provisioning_rules, |backend| async move {
    let db = TestDb::fresh(backend).await?;
    let registry_empty = provision::create_tenant(&db.db, &InseeCode::parse("75056")?, None).await;
    assert!(matches!(
        registry_empty,
        Err(ProvisionError::UnknownInsee {
            registry_empty: true,
            ..
        })
    ));

    // Two communes named Sainte-Colombe (Hautes-Alpes 05135 and Seine-et-Marne 77404).
    communes::import(
        &db.db,
        &Source::Embedded,
        &only(&["75056", "05135", "77404", "74010"])?,
        Progress::Hidden,
    )
    .await?;
    let paris = provision::create_tenant(&db.db, &InseeCode::parse("75056")?, None).await?;
    assert_eq!(paris.slug.as_str(), "paris");
    assert!(matches!(
        provision::create_tenant(&db.db, &InseeCode::parse("75056")?, None).await,
        Err(ProvisionError::AlreadyProvisioned { .. })
    ));
    assert!(matches!(
        provision::create_tenant(&db.db, &InseeCode::parse("99999")?, None).await,
        Err(ProvisionError::UnknownInsee {
            registry_empty: false,
            ..
        })
    ));
    // An arrondissement is a neighbourhood of Paris, not a tenant.
    let arrondissement = provision::create_tenant(&db.db, &InseeCode::parse("75101")?, None).await;
    assert!(
        matches!(arrondissement, Err(ProvisionError::NotACurrentCommune { ref parent, .. }) if parent == "de Paris"),
        "{arrondissement:?}"
    );
    // The message names the parent as a French sentence does: « commune déléguée d'Annecy ».
    let deleguee = provision::create_tenant(&db.db, &InseeCode::parse("74093")?, None).await;
    let message = deleguee.as_ref().map_err(ToString::to_string).err();
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("commune déléguée d'Annecy (74010)")),
        "{deleguee:?}"
    );
    let a = provision::create_tenant(&db.db, &InseeCode::parse("05135")?, None).await?;
    assert_eq!(a.slug.as_str(), "sainte-colombe");
    let taken = provision::create_tenant(
        &db.db,
        &InseeCode::parse("77404")?,
        Some(Slug::parse("paris")?),
    )
    .await;
    assert!(
        matches!(taken, Err(ProvisionError::SlugTaken(ref s)) if s == "paris"),
        "{taken:?}"
    );
    let b = provision::create_tenant(&db.db, &InseeCode::parse("77404")?, None).await?;
    assert_eq!(b.slug.as_str(), "sainte-colombe-77");
    assert_eq!(provision::count_tenants(&db.db).await?, 3);
    Ok(())
});

/// The whole registry, once (SQLite): every current commune provisioned with a unique slug.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_commune_can_be_provisioned() -> anyhow::Result<()> {
    let db = TestDb::fresh(parvis_tests::Backend::Sqlite).await?;
    let report =
        communes::import(&db.db, &Source::Embedded, &Selection::All, Progress::Hidden).await?;
    assert_eq!(report.communes, 34_969);
    assert_eq!(report.neighbourhoods, 2_105 + 471 + 45);
    let total: i64 = sqlx::query_scalar("SELECT SUM(population) FROM communes")
        .fetch_one(db.db.platform())
        .await?;
    assert_eq!(
        total, 68_952_941,
        "population of France per the data README"
    );
    let done = provision::create_all(&db.db, Progress::Hidden).await?;
    assert_eq!(done.created, 34_969);
    let distinct: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT slug) FROM tenants")
        .fetch_one(db.db.platform())
        .await?;
    assert_eq!(distinct, 34_969);
    // The biggest commune gets the bare name.
    let saint_denis: String =
        sqlx::query_scalar("SELECT insee FROM tenants WHERE slug = 'saint-denis'")
            .fetch_one(db.db.platform())
            .await?;
    assert_eq!(
        saint_denis, "97411",
        "Saint-Denis de La Réunion is bigger than Saint-Denis (93)"
    );
    let again = provision::create_all(&db.db, Progress::Hidden).await?;
    assert_eq!(again.created, 0);
    Ok(())
}

both_backends!(a_corrupt_data_file_writes_nothing, |backend| async move {
    let db = TestDb::fresh(backend).await?;
    communes::import(
        &db.db,
        &Source::Embedded,
        &only(&["75056"])?,
        Progress::Hidden,
    )
    .await?;
    let dir = data_copies(&[
        "departements.json",
        "regions.json",
        "epci.json.gz",
        "communes_sans_geometrie.csv.gz",
    ])?;
    std::fs::write(dir.path().join("communes.json.gz"), b"this is not gzip")?;
    let err = communes::import(
        &db.db,
        &Source::Dir(dir.path().into()),
        &Selection::All,
        Progress::Hidden,
    )
    .await;
    let message = format!(
        "{}",
        err.err()
            .ok_or_else(|| anyhow::anyhow!("import should fail"))?
    );
    assert!(
        message.contains("communes.json.gz") && message.contains("gzip"),
        "{message}"
    );
    assert_eq!(count(&db, "communes").await?, 1);
    Ok(())
});

// Issue 18: outlines come with the registry, checked line by line; a bad line is named by its
// number and the import writes nothing; a folder without the outlines file leaves the stored
// ones as they are.
both_backends!(
    outlines_are_checked_and_a_bad_line_is_named,
    |backend| async move {
        let db = TestDb::fresh(backend).await?;
        let report = communes::import(
            &db.db,
            &Source::Embedded,
            &only(&["75056", "74010"])?,
            Progress::Hidden,
        )
        .await?;
        // Paris, its 20 arrondissements, Annecy.
        assert_eq!(report.outlines, 22, "{report}");
        let paris: String =
            sqlx::query_scalar("SELECT outline FROM commune_outlines WHERE code = '75056'")
                .fetch_one(db.db.platform())
                .await?;
        let outline = parvis_core::communes::outline::Outline::parse(&paris)?;
        let hotel_de_ville = parvis_core::modules::places::Point {
            lat: 48.8566,
            lon: 2.3522,
        };
        assert!(outline.holds(hotel_de_ville));

        let dir = data_copies(&[
            "departements.json",
            "regions.json",
            "epci.json.gz",
            "communes.json.gz",
            "communes_sans_geometrie.csv.gz",
        ])?;
        // Without the outlines file, the stored outlines stay.
        let report = communes::import(
            &db.db,
            &Source::Dir(dir.path().into()),
            &only(&["75056"])?,
            Progress::Hidden,
        )
        .await?;
        assert_eq!(report.outlines, 0);
        assert_eq!(count(&db, "commune_outlines").await?, 22);

        let good = r#"{"type":"Feature","properties":{"code":"75056","type":"COM"},"geometry":{"type":"MultiPolygon","coordinates":[[[[2.2,48.8],[2.5,48.8],[2.5,48.9],[2.2,48.8]]]]}}"#;
        for (second_line, says) in [
            (
                r#"{"type":"Feature","properties":{"code":"74010","type":"COM"},"geometry":{"type":"MultiPolygon","coordinates":[[[[6.1,45.9],[6.2,45.9],[6.1,45.9]]]]}}"#,
                "anneau invalide",
            ),
            (
                r#"{"type":"Feature","properties":{"code":"74010","type":"COMD"},"geometry":{"type":"MultiPolygon","coordinates":[]}}"#,
                "COM ou ARM",
            ),
            (
                r#"{"type":"Feature","properties":{"code":"74010","type":"COM"},"geometry":{"type":"MultiPolygon","coordinates":[[[[6.1,95],[6.2,45.9],[6.2,46],[6.1,95]]]]}}"#,
                "hors de la Terre",
            ),
            ("not json", "illisible"),
        ] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, format!("{good}\n{second_line}\n").as_bytes())?;
            std::fs::write(
                dir.path().join("communes_contours.geojsonl.gz"),
                gz.finish()?,
            )?;
            let err = communes::import(
                &db.db,
                &Source::Dir(dir.path().into()),
                &Selection::All,
                Progress::Hidden,
            )
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("a bad outline was imported"))?;
            let message = err.to_string();
            assert!(
                message.contains("communes_contours.geojsonl.gz, ligne 2")
                    && message.contains(says),
                "{message}"
            );
            // Nothing written: still the embedded Paris outline, and only the first import's.
            assert_eq!(count(&db, "commune_outlines").await?, 22);
            let still: String =
                sqlx::query_scalar("SELECT outline FROM commune_outlines WHERE code = '75056'")
                    .fetch_one(db.db.platform())
                    .await?;
            assert_eq!(still, paris);
        }
        Ok(())
    }
);

/// Issue 13, defect 4: a 60 KB `q` cost 1.25 s of CPU per request (the scan built a 60 KB
/// string for every one of the 35,000 communes), and six at once held `/healthz` for 4.5 s.
/// Now a query longer than a commune name is refused at once with a French message, by the
/// page, the apex's `?q=`, and the API; the index itself reads only the first 100 characters;
/// and six huge queries at once leave `/healthz` answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_search_is_refused_at_once_and_stalls_nobody() -> anyhow::Result<()> {
    use parvis_core::communes::search::MAX_QUERY_CHARS;
    use std::time::{Duration, Instant};

    let app = parvis_tests::TestApp::start(parvis_tests::Backend::Sqlite).await?;
    communes::import(
        &app.state.db,
        &Source::Embedded,
        &Selection::All,
        Progress::Hidden,
    )
    .await?;
    app.state.communes.reload(&app.state.db).await?;
    let client = app.client()?;
    let huge = "saint-".repeat(10_000);

    // The index: a huge query reads as its first 100 characters, and a long query still finds.
    let started = Instant::now();
    assert!(app.state.communes.search(&huge, 20).is_empty());
    let cut: String = huge.chars().take(MAX_QUERY_CHARS).collect();
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "searching 60 KB took {:?}",
        started.elapsed()
    );
    assert!(app.state.communes.search(&cut, 20).is_empty());
    let long_name = "Saint-Remy-en-Bouzemont-Saint-Genest-et-Isson";
    let hits = app.state.communes.search(long_name, 20);
    assert_eq!(hits.first().map(|h| h.insee.as_str()), Some("51513"));

    for path in ["/communes/recherche?q=", "/?q=", "/api/v1/communes?q="] {
        let started = Instant::now();
        let r = client
            .get(format!("{}{huge}", app.url(None, path)))
            .send()
            .await?;
        let elapsed = started.elapsed();
        assert_eq!(r.status(), 400, "{path}");
        let body = r.text().await?;
        assert!(
            body.contains("La recherche est limitée à 100 caractères"),
            "{path}: {body}"
        );
        assert!(elapsed < Duration::from_millis(500), "{path}: {elapsed:?}");
    }
    // Exactly 100 characters is still a search.
    let r = client
        .get(app.url(None, &format!("/api/v1/communes?q={}", "a".repeat(100))))
        .send()
        .await?;
    assert_eq!(r.status(), 200);

    // Six huge searches at once, over and over, while someone else checks `/healthz`.
    let attackers: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            let url = format!("{}{huge}", app.url(None, "/communes/recherche?q="));
            tokio::spawn(async move {
                for _ in 0..10 {
                    let _ = client.get(&url).send().await;
                }
            })
        })
        .collect();
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let r = client.get(app.url(None, "/healthz")).send().await?;
        assert_eq!(r.status(), 200);
        times.push(started.elapsed());
    }
    for a in attackers {
        a.await?;
    }
    times.sort();
    let worst = times[times.len() - 1];
    assert!(
        worst < Duration::from_millis(500),
        "/healthz took {worst:?}"
    );
    app.stop().await;
    Ok(())
}
