//! Géo-évaluation (module `geo-evaluation`, premium) through the real host and its compiled
//! component, on both backends: the commune cannot switch it on before it is entitled; an
//! admin opens a barometer round (a bad one refused in French); residents answer it, saying
//! their arrondissement or not (a note outside 1 to 5, an unknown neighbourhood, no note at all:
//! 422, nothing counted); one changes their answer without being counted twice; the map, for
//! officials and admins only, shows the average of a neighbourhood from ten answers and none
//! below; a report sent through the reports module shows on its own layer (figures shared
//! through contract 0.2.7); Lyon sees nothing of Paris; a closed round refuses answers (409).

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_core::types::ModuleId;
use parvis_tests::forms::{location, post};
use parvis_tests::{TestApp, both_backends, datetime_local_in, html};

const ID: &str = "geo-evaluation";
const PASSWORD: &str = "mot-de-passe-solide";

async fn entitle_and_enable(app: &TestApp, slug: &str) -> Result<()> {
    parvis_core::modules::service::entitle(
        &app.state.modules,
        &app.state.db.tenant(app.tenant_id(slug).await?),
        &ModuleId::parse(ID)?,
        "test",
        None,
    )
    .await?;
    app.enable_module(slug, ID).await
}

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    let r = client.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// The map table's row for `name`: its cells, joined by « | ».
fn row(page: &str, name: &str) -> Option<String> {
    html::table_rows(page, "table")
        .ok()?
        .into_iter()
        .find(|cells| cells.first().is_some_and(|c| c == name))
        .map(|cells| cells.join(" | "))
}

both_backends!(
    residents_rate_their_neighbourhood_and_the_team_reads_the_map,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let lyon = app.commune("69123").await?;
        assert_eq!(
            app.install_module("parvis-module-geo-evaluation").await?,
            ID
        );
        assert_eq!(
            app.install_module("parvis-module-reports").await?,
            "reports"
        );
        assert!(
            app.enable_module(&paris, ID).await.is_err(),
            "a premium module was enabled without an entitlement"
        );
        entitle_and_enable(&app, &paris).await?;
        entitle_and_enable(&app, &lyon).await?;
        app.enable_module(&paris, "reports").await?;

        let maire = app.account("maire@paris.fr", PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let admin = app
            .signed_in(Some(&paris), "maire@paris.fr", PASSWORD)
            .await?;
        let chloe = app.account("chloe@paris.fr", PASSWORD).await?;
        app.grant(&chloe, Role::Official, Some(&paris)).await?;
        let official = app
            .signed_in(Some(&paris), "chloe@paris.fr", PASSWORD)
            .await?;
        let mut residents = Vec::new();
        for i in 0..19 {
            let email = format!("habitant{i}@example.org");
            let id = app.account(&email, PASSWORD).await?;
            residents.push(app.session_client(&paris, &id).await?);
        }
        let alice = residents[0].clone();

        // A round needs a title, themes and sensible dates.
        let rounds = app.url(Some(&paris), "/admin/m/geo-evaluation/barometres");
        let opens = datetime_local_in(chrono::Duration::minutes(-5));
        let closes = datetime_local_in(chrono::Duration::days(30));
        let r = post(
            &admin,
            &rounds,
            &[
                ("titre", "Bof"),
                ("themes", "Propreté ; propreté"),
                ("ouverture", &closes),
                ("cloture", &opens),
            ],
        )
        .await?;
        assert_eq!(r.status(), 422);
        let text = html::text(&r.text().await?);
        for says in [
            "Donnez un titre de 5 à 120 caractères.",
            "est écrit deux fois.",
            "La clôture doit venir après l'ouverture.",
        ] {
            assert!(text.contains(says), "{says}: {text}");
        }
        let r = post(
            &admin,
            &rounds,
            &[
                ("titre", "Baromètre de l'hiver"),
                ("themes", "Propreté ; Sécurité"),
                ("ouverture", &opens),
                ("cloture", &closes),
            ],
        )
        .await?;
        assert_eq!(r.status(), 303, "{}", r.text().await?);

        // The form: the arrondissements, five notes and « Sans avis » per theme.
        let home = app.url(Some(&paris), "/m/geo-evaluation");
        let (status, page) = get(&alice, &home).await?;
        assert_eq!(status, 200);
        assert!(
            page.contains("Baromètre de l&#39;hiver") || page.contains("Baromètre de l'hiver"),
            "{page}"
        );
        assert!(page.contains("value=\"4e-arrondissement\""), "{page}");
        assert!(page.contains("name=\"note-proprete\""), "{page}");
        let answer = app.url(Some(&paris), "/m/geo-evaluation/1");

        // Bad answers: French messages, 422, nothing counted.
        for (form, says) in [
            (
                vec![("quartier", "atlantide"), ("note-proprete", "4")],
                "Choisissez votre quartier dans la liste",
            ),
            (
                vec![("quartier", "4e-arrondissement"), ("note-proprete", "6")],
                "choisissez une note de 1 à 5",
            ),
            (
                vec![("quartier", "4e-arrondissement")],
                "Donnez une note à au moins un thème.",
            ),
        ] {
            let r = post(&alice, &answer, &form).await?;
            assert_eq!(r.status(), 422);
            let text = html::text(&r.text().await?);
            assert!(text.contains(says), "{says}: {text}");
        }
        let (_, page) = get(&alice, &home).await?;
        assert!(
            html::text(&page).contains("0 participant")
                || html::text(&page).contains("aucun participant"),
            "{page}"
        );

        // Ten residents of the 4th (notes 4 and 2 for propreté), nine of the 5th.
        for (i, client) in residents.iter().enumerate() {
            let (area, note) = if i < 10 {
                ("4e-arrondissement", if i % 2 == 0 { "4" } else { "2" })
            } else {
                ("5e-arrondissement", "5")
            };
            let r = post(
                client,
                &answer,
                &[
                    ("quartier", area),
                    ("note-proprete", note),
                    ("note-securite", ""),
                ],
            )
            .await?;
            assert_eq!(r.status(), 303, "{}", r.text().await?);
        }
        // Alice changes her mind (4 → 5): replaced, not counted twice.
        let r = post(
            &alice,
            &answer,
            &[("quartier", "4e-arrondissement"), ("note-proprete", "5")],
        )
        .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&alice, &home).await?;
        assert!(html::text(&page).contains("19 participants"), "{page}");
        assert!(
            page.contains("value=\"5\" checked"),
            "her note is shown: {page}"
        );

        // The map: officials and admins only.
        let map = app.url(
            Some(&paris),
            "/m/geo-evaluation/carte?indicateur=barometre-proprete",
        );
        let (status, _) = get(&alice, &map).await?;
        assert_eq!(status, 403);
        let (status, page) = get(&official, &map).await?;
        assert_eq!(status, 200);
        // (5 + 4 × 4 + 2 × 5) / 10 = 3,1; the 5th's nine answers show nothing.
        let fourth = row(&page, "4e arrondissement").context("4th row")?;
        assert!(fourth.contains("3,1 / 5"), "{fourth}");
        let fifth = row(&page, "5e arrondissement").context("5th row")?;
        assert!(fifth.contains("pas assez de données"), "{fifth}");
        assert!(
            page.contains("\"4e-arrondissement\":{\"classe\":2,\"valeur\":\"3,1 / 5\"}"),
            "choropleth data: {page}"
        );
        assert!(!page.contains("\"5e-arrondissement\":{"), "{page}");
        assert!(
            page.contains("data-choropleth=\"choropleth-valeurs\""),
            "{page}"
        );
        // Nobody noted security: no average anywhere.
        let (_, page) = get(
            &official,
            &app.url(
                Some(&paris),
                "/m/geo-evaluation/carte?indicateur=barometre-securite",
            ),
        )
        .await?;
        assert!(!page.contains("/ 5"), "{page}");

        // A report in the 4th shows on the reports' layer.
        let r = post(
            &alice,
            &app.url(Some(&paris), "/m/reports/nouveau"),
            &[
                ("categorie", "voirie"),
                (
                    "description",
                    "Un nid-de-poule profond devant l'école, dangereux pour les vélos.",
                ),
                ("lat", "48.856600"),
                ("lon", "2.352200"),
                ("adresse", ""),
            ],
        )
        .await?;
        assert_eq!(r.status(), 303, "{}", r.text().await?);
        let (_, page) = get(
            &admin,
            &app.url(
                Some(&paris),
                "/admin/m/geo-evaluation?indicateur=signalements",
            ),
        )
        .await?;
        let fourth = row(&page, "4e arrondissement").context("4th row")?;
        assert!(fourth.starts_with("4e arrondissement | 1 |"), "{fourth}");
        assert!(page.contains("Ouvrir un baromètre"), "{page}");

        // Lyon sees nothing of Paris: no round, no figure.
        let lyon_admin_account = app.account("maire@lyon.fr", PASSWORD).await?;
        app.grant(&lyon_admin_account, Role::TenantAdmin, Some(&lyon))
            .await?;
        let lyon_admin = app
            .signed_in(Some(&lyon), "maire@lyon.fr", PASSWORD)
            .await?;
        let (status, page) = get(
            &lyon_admin,
            &app.url(
                Some(&lyon),
                "/admin/m/geo-evaluation?indicateur=barometre-proprete",
            ),
        )
        .await?;
        assert_eq!(status, 200);
        assert!(page.contains("Aucun baromètre pour le moment."), "{page}");
        assert!(!page.contains("/ 5"), "{page}");
        let r = post(
            &lyon_admin,
            &app.url(Some(&lyon), "/m/geo-evaluation/1"),
            &[("note-proprete", "1")],
        )
        .await?;
        assert_eq!(r.status(), 404);

        // Closed: answers refused, nothing changed.
        let r = post(
            &admin,
            &app.url(Some(&paris), "/admin/m/geo-evaluation/barometres/1/clore"),
            &[],
        )
        .await?;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/admin/m/geo-evaluation");
        let r = post(&alice, &answer, &[("note-proprete", "1")]).await?;
        assert_eq!(r.status(), 409);
        assert!(html::text(&r.text().await?).contains("Ce baromètre est clos"));
        let (_, page) = get(&official, &map).await?;
        let fourth = row(&page, "4e arrondissement").context("4th row")?;
        assert!(fourth.contains("3,1 / 5"), "{fourth}");
        Ok(())
    }
);
