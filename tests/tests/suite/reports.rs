//! Signalements (module `reports`, free) through the real host and its compiled component, on
//! both backends: a citizen reports a broken street light placed on the map of Paris, with a
//! photo served re-encoded without its EXIF and GPS position (a place outside Paris, an unknown
//! category, an empty description, a file that is not an image are refused with French
//! messages, and nothing is stored); a neighbour about to report the same thing 20 m away is offered
//! « C'est le même problème ? » and joins it; the town hall's staff see the queue and the
//! reporter's name, answer (with a photo « après ») (a refusal needs its reason, a merge a real report), keep internal
//! notes the public never sees, and the reporter and the supporters are told in the app and by
//! e-mail; the map's markers count the open reports; Lyon sees none of Paris's reports.

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_core::modules::api;
use parvis_tests::forms::{location, phone_photo, post, post_files};
use parvis_tests::wait_for_page as wait_until;
use parvis_tests::{TestApp, both_backends, form_token, html};
use serde_json::Value;

const PACKAGE: &str = "parvis-module-reports";
const ID: &str = "reports";
const PASSWORD: &str = "mot-de-passe-solide";
const NBSP: char = '\u{a0}';

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    let r = client.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// Moves every date of report `number` of `slug` back by `days`, in the database (as if it
/// had been sent then).
async fn backdate(app: &TestApp, slug: &str, number: u64, days: i64) -> Result<()> {
    app.edit_module_doc(
        slug,
        ID,
        "signalements",
        &format!("{number:08}"),
        |report| {
            for step in report["steps"].as_array_mut().context("steps")? {
                let at = step["at"].as_i64().context("a step's time")?;
                step["at"] = Value::from(at - days * 24 * 3600 * 1000);
            }
            Ok(())
        },
    )
    .await
}

/// A report form: category, description, place.
fn report<'a>(
    category: &'a str,
    description: &'a str,
    lat: &'a str,
    lon: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("categorie", category),
        ("description", description),
        ("lat", lat),
        ("lon", lon),
        ("adresse", ""),
    ]
}

/// The open reports the map's markers count in a box around Paris.
async fn on_the_map(client: &reqwest::Client, app: &TestApp, slug: &str) -> Result<u64> {
    let r = client
        .get(app.url(
            Some(slug),
            "/m/reports/carte.json?s=48.80&w=2.22&n=48.91&e=2.47&cols=8&rows=8",
        ))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 200, "{}", r.status());
    let markers: Vec<Value> = r.json().await?;
    Ok(markers.iter().filter_map(|m| m["count"].as_u64()).sum())
}

/// Paris and Lyon with the module on, Paris's mayor (a commune admin) and Alice, a resident
/// of Paris, signed in there.
struct Scene {
    paris: String,
    lyon: String,
    admin: reqwest::Client,
    alice: reqwest::Client,
}

async fn scene(app: &TestApp) -> Result<Scene> {
    let paris = app.commune("75056").await?;
    let lyon = app.commune("69123").await?;
    assert_eq!(app.install_module(PACKAGE).await?, ID);
    app.enable_module(&paris, ID).await?;
    app.enable_module(&lyon, ID).await?;
    let maire = app.account("maire@paris.fr", PASSWORD).await?;
    app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
    let admin = app
        .signed_in(Some(&paris), "maire@paris.fr", PASSWORD)
        .await?;
    app.account("alice@example.org", PASSWORD).await?;
    let alice = app
        .signed_in(Some(&paris), "alice@example.org", PASSWORD)
        .await?;
    Ok(Scene {
        paris,
        lyon,
        admin,
        alice,
    })
}

both_backends!(
    citizens_report_on_the_map_and_the_town_hall_answers,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let Scene {
            paris,
            lyon,
            admin,
            alice,
        } = scene(&app).await?;
        app.account("bruno@example.org", PASSWORD).await?;
        let bruno = app
            .signed_in(Some(&paris), "bruno@example.org", PASSWORD)
            .await?;
        let visitor = app.client()?;
        let new = app.url(Some(&paris), "/m/reports/nouveau");

        // The page, its map of the commune, and the form with the commune's categories.
        let (status, page) = get(&visitor, &app.url(Some(&paris), "/m/reports/")).await?;
        assert_eq!(status, 200);
        assert!(page.contains("data-outline=\"/contour.geojson\""), "{page}");
        assert!(page.contains("Signaler un problème"));
        let (status, _) = get(&visitor, &new).await?;
        assert_ne!(status, 200, "a visitor signs in first");
        let (status, form) = get(&alice, &new).await?;
        assert_eq!(status, 200);
        assert!(form.contains("<option value=\"eclairage-public\">Éclairage public</option>"));
        assert!(form.contains("data-pick=\"lieu\""), "{form}");
        assert!(
            form.contains("data-when=\"categorie\" data-is=\"eclairage-public\""),
            "the default questions of street lights: {form}"
        );

        // Bad input: French messages, 422, nothing stored.
        let r = post(&alice, &new, &report("inconnue", "court", "", "")).await?;
        assert_eq!(r.status(), 422);
        let text = html::text(&r.text().await?);
        assert!(
            text.contains("Choisissez une catégorie dans la liste."),
            "{text}"
        );
        assert!(text.contains("10 caractères au moins"), "{text}");
        assert!(
            text.contains("touchez la carte, ou écrivez une adresse"),
            "{text}"
        );
        // Lyon's town hall is not in Paris.
        let lamp = "Le lampadaire devant le numéro 4 est éteint depuis trois soirs.";
        let r = post(
            &alice,
            &new,
            &report("eclairage-public", lamp, "45.7676", "4.8357"),
        )
        .await?;
        assert_eq!(r.status(), 422);
        let text = html::text(&r.text().await?);
        assert!(
            text.contains("Ce lieu est en dehors du territoire de Paris."),
            "{text}"
        );
        let r = post(
            &alice,
            &new,
            &report("eclairage-public", lamp, "948", "2.35"),
        )
        .await?;
        assert_eq!(r.status(), 422);
        assert_eq!(on_the_map(&visitor, &app, &paris).await?, 0);
        let (_, list) = get(&visitor, &app.url(Some(&paris), "/m/reports/")).await?;
        assert!(list.contains("Aucun signalement ne correspond"), "{list}");

        // A « photo » that is not an image refuses the whole report: nothing is kept.
        let mut fields = report("eclairage-public", lamp, "48.856600", "2.352200");
        fields.push(("nom_public", "1"));
        fields.push(("photo_alt", "Le lampadaire éteint, vu du trottoir"));
        let pdf = ("photo", b"%PDF-1.4 pas une image".to_vec(), "lampe.jpg");
        let r = post_files(&alice, &new, &fields, &[pdf]).await?;
        assert_eq!(r.status(), 422);
        let text = html::text(&r.text().await?);
        assert!(text.contains("pas une image lisible"), "{text}");
        let four: Vec<_> = (0..4).map(|_| ("photo", phone_photo(), "x.jpg")).collect();
        let four = four
            .into_iter()
            .map(|(n, p, f)| p.map(|p| (n, p, f)))
            .collect::<Result<Vec<_>>>()?;
        let r = post_files(&alice, &new, &fields, &four).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("3 au plus"));
        assert_eq!(on_the_map(&visitor, &app, &paris).await?, 0);

        // Alice reports the street light by the Hôtel de Ville with a photo from her phone,
        // her name public.
        let photo = ("photo", phone_photo()?, "IMG_2041.jpg");
        let r = post_files(&alice, &new, &fields, &[photo]).await?;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/m/reports/1");
        // The photo is served re-encoded: smaller, and without its EXIF or GPS position.
        let (_, page) = get(&visitor, &app.url(Some(&paris), "/m/reports/1")).await?;
        let src = html::attrs(
            &page,
            "img[alt=\"Le lampadaire éteint, vu du trottoir\"]",
            "src",
        )?;
        assert_eq!(src.len(), 1, "{page}");
        let r = visitor.get(app.url(Some(&paris), &src[0])).send().await?;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        let bytes = r.bytes().await?;
        let served = image::load_from_memory(&bytes)?;
        assert_eq!((served.width(), served.height()), (1600, 800));
        let hay = String::from_utf8_lossy(&bytes);
        assert!(
            !hay.contains("Exif") && !hay.contains("PARVIS-SECRET"),
            "metadata kept"
        );
        // Lyon's host does not serve Paris's photo.
        let r = visitor.get(app.url(Some(&lyon), &src[0])).send().await?;
        assert_eq!(r.status(), 404);
        let first = app.url(Some(&paris), "/m/reports/1");
        let (status, page) = get(&alice, &first).await?;
        assert_eq!(status, 200);
        let text = html::text(&page);
        assert!(text.contains(&format!("Signalement n°{NBSP}1")), "{text}");
        assert!(
            text.contains(&format!("Votre signalement n°{NBSP}1 est envoyé")),
            "{text}"
        );
        assert!(
            text.contains("alice@example.org") || text.contains("Alice"),
            "{text}"
        );
        assert!(page.contains("data-spot="), "{page}");
        // The staff hear of it.
        wait_until(
            &admin,
            &app.url(Some(&paris), "/notifications"),
            "no notification to the staff",
            |p| p.contains(&format!("Nouveau signalement n°{NBSP}1")),
        )
        .await?;

        // Bruno is about to report the same light, 20 m away: he is shown Alice's first.
        let same = "Lampadaire éteint rue de Rivoli, il fait tout noir le soir.";
        let r = post(
            &bruno,
            &new,
            &report("eclairage-public", same, "48.856780", "2.352200"),
        )
        .await?;
        assert_eq!(r.status(), 200);
        let page = r.text().await?;
        let text = html::text(&page);
        assert!(text.contains("C'est le même problème\u{202f}?"), "{text}");
        assert!(text.contains(&format!("N°{NBSP}1")), "{text}");
        assert!(text.contains("à 20 m"), "{text}");
        assert_eq!(on_the_map(&visitor, &app, &paris).await?, 1);
        // He joins it.
        let r = post(&bruno, &app.url(Some(&paris), "/m/reports/1/soutenir"), &[]).await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&bruno, &first).await?;
        let text = html::text(&page);
        assert!(
            text.contains("1 autre personne a le même problème."),
            "{text}"
        );
        assert!(text.contains("Vous suivez ce signalement"), "{text}");
        // A pothole at the same spot is another problem: no question asked. His name stays
        // private: the public reads « Un habitant », the staff his name.
        // The commune asks a question of its own for potholes, one that must be answered.
        let token = form_token(&admin, &app.url(Some(&paris), "/admin/modules")).await?;
        let r = admin
            .post(app.url(Some(&paris), "/admin/modules/reports/reglages"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("categories", ""),
                ("intro", ""),
                (
                    "questions",
                    "Voirie : Profondeur du trou = Peu profond | Profond *",
                ),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let hole = "Un nid-de-poule profond au milieu du passage piéton.";
        let mut fields = report("voirie", hole, "48.856780", "2.352200");
        let r = post(&bruno, &new, &fields).await?;
        assert_eq!(r.status(), 422);
        let text = html::text(&r.text().await?);
        assert!(
            text.contains(&format!("Répondez à «{NBSP}Profondeur du trou{NBSP}»")),
            "{text}"
        );
        fields.push(("q-voirie-profondeur-du-trou", "Profond"));
        let r = post(&bruno, &new, &fields).await?;
        assert_eq!(location(&r), "/m/reports/2");
        let (_, page) = get(&visitor, &app.url(Some(&paris), "/m/reports/2")).await?;
        assert!(
            page.contains("<dt>Profondeur du trou</dt><dd>Profond</dd>"),
            "{page}"
        );
        // And he may insist that his light is another one.
        let mut insist = report("eclairage-public", same, "48.856780", "2.352200");
        insist.push(("confirme", "1"));
        let r = post(&bruno, &new, &insist).await?;
        assert_eq!(location(&r), "/m/reports/3");
        assert_eq!(on_the_map(&visitor, &app, &paris).await?, 3);
        let (_, page) = get(&visitor, &app.url(Some(&paris), "/m/reports/2")).await?;
        assert!(html::text(&page).contains("par Un habitant"), "{page}");

        // The queue: citizens may not see it; the staff see every report and who sent it.
        let queue = app.url(Some(&paris), "/admin/m/reports/");
        let (status, _) = get(&alice, &queue).await?;
        assert_eq!(status, 403);
        let (status, page) = get(&admin, &queue).await?;
        assert_eq!(status, 200);
        let rows = html::table_rows(&page, "main table")?;
        // A box to tick, the number, the report and who sent it, its status, service, date.
        let numbers: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
        assert_eq!(numbers, ["3", "2", "1"], "{rows:?}");
        assert!(rows[0][2].contains("par Bruno"), "{rows:?}");
        assert_eq!(rows[2][4], "Services techniques", "{rows:?}");
        let (_, page) = get(&admin, &app.url(Some(&paris), "/admin/m/reports/2")).await?;
        assert!(!html::text(&page).contains("par Un habitant"), "{page}");

        // Answers: a refusal needs its reason; a merge needs another, real report.
        let status_url = app.url(Some(&paris), "/admin/m/reports/3/statut");
        let r = post(
            &admin,
            &status_url,
            &[("statut", "non-retenu"), ("reponse", "")],
        )
        .await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Dites pourquoi"));
        for target in ["3", "999"] {
            let r = post(
                &admin,
                &status_url,
                &[("statut", "doublon"), ("doublon_de", target)],
            )
            .await?;
            assert_eq!(r.status(), 422, "duplicate of {target}");
        }
        let r = post(
            &admin,
            &status_url,
            &[("statut", "doublon"), ("doublon_de", "1")],
        )
        .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&visitor, &app.url(Some(&paris), "/m/reports/3")).await?;
        assert!(
            html::text(&page).contains("Fusionné avec un autre signalement"),
            "{page}"
        );
        assert_eq!(on_the_map(&visitor, &app, &paris).await?, 2);

        // An internal note stays internal.
        let note = "Équipe éclairage passée : ampoule à commander.";
        let r = post(
            &admin,
            &app.url(Some(&paris), "/admin/m/reports/1/note"),
            &[("note", note)],
        )
        .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&admin, &app.url(Some(&paris), "/admin/m/reports/1")).await?;
        assert!(page.contains("ampoule à commander"), "{page}");
        let (_, page) = get(&alice, &first).await?;
        assert!(!page.contains("ampoule à commander"));

        // A staff member takes a report on: the queue's « mine » lists it alone, the public
        // never sees who; giving it back frees it.
        let agent = app.url(Some(&paris), "/admin/m/reports/1/agent");
        let r = post(&alice, &agent, &[("action", "prendre")]).await?;
        assert_eq!(r.status(), 403, "a citizen takes nothing on");
        let r = post(&admin, &agent, &[("action", "prendre")]).await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&admin, &app.url(Some(&paris), "/admin/m/reports/1")).await?;
        assert!(
            html::text(&page).contains("Vous vous en occupez."),
            "{page}"
        );
        let (_, page) = get(&admin, &format!("{queue}?agent=moi")).await?;
        let rows = html::table_rows(&page, "main table")?;
        let numbers: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
        assert_eq!(numbers, ["1"], "{rows:?}");
        assert_ne!(rows[0][5], "—", "the agent's column names them: {rows:?}");
        let (_, page) = get(&admin, &queue).await?;
        let rows = html::table_rows(&page, "main table")?;
        let numbers: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
        assert_eq!(
            numbers,
            ["2", "1"],
            "every open one without the filter: {rows:?}"
        );
        let (_, page) = get(&alice, &first).await?;
        assert!(!html::text(&page).contains("occupe"), "{page}");
        let r = post(&admin, &agent, &[("action", "laisser")]).await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&admin, &format!("{queue}?agent=moi")).await?;
        assert!(page.find("<table").is_none(), "none left: {page}");
        let r = post(&admin, &agent, &[("action", "prendre")]).await?;
        assert_eq!(r.status(), 303);

        // Or hands it to another member of the commune's team (an official here), who is told
        // and finds it under their name; someone outside the team cannot be chosen, whether a
        // citizen or Lyon's official.
        let chloe = app
            .account_named("chloe@paris.fr", "Chloé Martin", PASSWORD)
            .await?;
        app.grant(&chloe, Role::Official, Some(&paris)).await?;
        let lyonnais = app.account("elu@lyon.fr", PASSWORD).await?;
        app.grant(&lyonnais, Role::Official, Some(&lyon)).await?;
        let (_, page) = get(&admin, &app.url(Some(&paris), "/admin/m/reports/1")).await?;
        assert!(
            page.contains(&format!("value=\"{}\"", chloe.0)) && !page.contains(&lyonnais.0),
            "the team is offered, Paris's only: {page}"
        );
        let passerby = app.account("passant@example.org", PASSWORD).await?;
        for outsider in [&passerby, &lyonnais] {
            let r = post(
                &admin,
                &agent,
                &[("action", "attribuer"), ("agent", outsider.0.as_str())],
            )
            .await?;
            assert_eq!(r.status(), 422, "{} is not Paris's team", outsider.0);
        }
        let r = post(
            &admin,
            &agent,
            &[("action", "attribuer"), ("agent", chloe.0.as_str())],
        )
        .await?;
        assert_eq!(r.status(), 303);
        let chloe_web = app
            .signed_in(Some(&paris), "chloe@paris.fr", PASSWORD)
            .await?;
        wait_until(
            &chloe_web,
            &app.url(Some(&paris), "/notifications"),
            "the official was not told",
            |page| html::text(page).contains(&format!("Signalement n°{NBSP}1 à traiter")),
        )
        .await?;
        let (_, page) = get(&chloe_web, &format!("{queue}?agent=moi")).await?;
        let rows = html::table_rows(&page, "main table")?;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(rows[0][5].contains("Chloé Martin"), "{rows:?}");
        let (_, page) = get(&admin, &format!("{queue}?agent={}", chloe.0)).await?;
        assert_eq!(html::table_rows(&page, "main table")?.len(), 1, "{page}");
        let (_, page) = get(&admin, &format!("{queue}?agent=moi")).await?;
        assert!(
            page.find("<table").is_none(),
            "the mayor's are none: {page}"
        );
        let r = post(&admin, &agent, &[("action", "prendre")]).await?;
        assert_eq!(r.status(), 303);

        // Resolved: the reporter and the supporter are told, in the app and by e-mail.
        let reply = "L'ampoule a été changée ce matin. Merci de votre signalement.";
        let r = post_files(
            &admin,
            &app.url(Some(&paris), "/admin/m/reports/1/statut"),
            &[
                ("statut", "resolu"),
                ("reponse", reply),
                ("service", "Services techniques"),
            ],
            &[("photo", phone_photo()?, "apres.jpg")],
        )
        .await?;
        assert_eq!(r.status(), 303);
        for (client, email) in [(&alice, "alice@example.org"), (&bruno, "bruno@example.org")] {
            wait_until(
                client,
                &app.url(Some(&paris), "/notifications"),
                "no notification of the answer",
                |p| p.contains(&format!("Signalement n°{NBSP}1{NBSP}: résolu")),
            )
            .await?;
            let mail = app.smtp.wait_for(email, "résolu").await?;
            assert!(mail.text.contains("ampoule a été changée"), "{}", mail.text);
        }
        let (_, page) = get(&visitor, &first).await?;
        let text = html::text(&page);
        assert!(
            text.contains("Problème résolu") && text.contains("Réponse de la mairie"),
            "{text}"
        );
        assert!(
            page.contains("alt=\"Photo de la mairie, signalement n°\u{a0}1\""),
            "{page}"
        );
        assert!(
            !page.contains("J'ai le même problème"),
            "closed: no more support"
        );
        let r = post(&bruno, &app.url(Some(&paris), "/m/reports/1/soutenir"), &[]).await?;
        assert_eq!(r.status(), 409);
        assert_eq!(on_the_map(&visitor, &app, &paris).await?, 1);
        // The list's filters.
        let (_, page) = get(&visitor, &app.url(Some(&paris), "/m/reports/?statut=clos")).await?;
        let text = html::text(&page);
        assert!(
            text.contains(&format!("N°{NBSP}1")) && !text.contains(&format!("N°{NBSP}2")),
            "{text}"
        );
        let (_, page) = get(
            &visitor,
            &app.url(Some(&paris), "/m/reports/?statut=ouvert&categorie=voirie"),
        )
        .await?;
        let text = html::text(&page);
        assert!(
            text.contains(&format!("N°{NBSP}2")) && !text.contains(&format!("N°{NBSP}1 ")),
            "{text}"
        );
        // By period: report n° 1, its dates moved 40 days back in the database, leaves the
        // last 30 days (and ends the list there) but stays in the last 12 months.
        backdate(&app, &paris, 1, 40).await?;
        let listed = |query: &'static str| {
            let (visitor, url) = (
                &visitor,
                app.url(Some(&paris), &format!("/m/reports/?{query}")),
            );
            async move {
                let (status, page) = get(visitor, &url).await?;
                anyhow::ensure!(status == 200, "{url}: {status}");
                let text = html::text(&page);
                Ok::<_, anyhow::Error>([1, 2].map(|n| text.contains(&format!("N°{NBSP}{n} "))))
            }
        };
        assert_eq!(listed("periode=30j").await?, [false, true]);
        assert_eq!(listed("periode=12m").await?, [true, true]);
        assert_eq!(listed("periode=30j&statut=clos").await?, [false, false]);
        assert_eq!(
            listed("periode=demain").await?,
            [true, true],
            "unknown: ignored"
        );

        // An Atom feed per category (and of all), for feed readers.
        let r = visitor
            .get(app.url(Some(&paris), "/m/reports/flux/eclairage-public"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/atom+xml");
        let atom = r.text().await?;
        assert!(
            atom.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\""),
            "{atom}"
        );
        assert_eq!(atom.matches("<entry>").count(), 2, "{atom}");
        assert!(!atom.contains("Nid-de-poule"), "{atom}");
        let r = visitor
            .get(app.url(Some(&paris), "/m/reports/flux"))
            .send()
            .await?;
        assert_eq!(r.text().await?.matches("<entry>").count(), 3);
        let r = visitor
            .get(app.url(Some(&paris), "/m/reports/flux/licornes"))
            .send()
            .await?;
        assert_eq!(r.status(), 404);

        // A batch from the queue: one status for the ticked reports; never a refusal.
        let batch = app.url(Some(&paris), "/admin/m/reports/lot");
        let token = form_token(&admin, &queue).await?;
        let send = |fields: Vec<(&'static str, &'static str)>| {
            let mut body = vec![("csrf_token", token.as_str())];
            body.extend(fields);
            admin.post(&batch).form(&body).send()
        };
        assert_eq!(send(vec![("statut", "en-cours")]).await?.status(), 422);
        let refused = send(vec![("statut", "non-retenu"), ("n", "2")]).await?;
        assert_eq!(refused.status(), 422);
        let r = send(vec![("statut", "en-cours"), ("n", "2")]).await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&visitor, &app.url(Some(&paris), "/m/reports/2")).await?;
        assert!(
            html::text(&page).contains("Intervention en cours"),
            "{page}"
        );

        // The town hall's figures and its export, which names no one.
        let (status, page) = get(
            &admin,
            &app.url(Some(&paris), "/admin/m/reports/statistiques"),
        )
        .await?;
        assert_eq!(status, 200);
        let text = html::text(&page);
        assert!(text.contains("Calculées sur les 3 signalements"), "{text}");
        let rows = html::table_rows(&page, "main table")?;
        assert_eq!(rows[0], ["Éclairage public", "2", "0"], "{rows:?}");
        assert_eq!(rows[1], ["Voirie", "1", "1"], "{rows:?}");
        let export = app.url(Some(&paris), "/admin/m/reports/export.csv");
        let r = admin.get(&export).send().await?;
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()?
                .starts_with("text/csv")
        );
        let csv = r.text().await?;
        assert_eq!(csv.lines().count(), 4, "{csv}");
        assert!(csv.contains("Doublon") && csv.contains("Résolu"), "{csv}");
        assert!(
            !csv.to_lowercase().contains("alice") && !csv.contains("bruno"),
            "{csv}"
        );
        let (status, _) = get(&alice, &export).await?;
        assert_eq!(status, 403);

        // The map's bad boxes are refused with a reason.
        let r = visitor
            .get(app.url(
                Some(&paris),
                "/m/reports/carte.json?s=48.8&w=2.2&n=48.9&e=2.4&cols=65&rows=8",
            ))
            .send()
            .await?;
        assert_eq!(r.status(), 400);

        // Lyon sees none of it, on its pages, its map or its back-office.
        let (status, _) = get(&visitor, &app.url(Some(&lyon), "/m/reports/1")).await?;
        assert_eq!(status, 404);
        assert_eq!(on_the_map(&visitor, &app, &lyon).await?, 0);
        let (_, page) = get(&visitor, &app.url(Some(&lyon), "/m/reports/?statut=clos")).await?;
        assert!(page.contains("Aucun signalement ne correspond"), "{page}");
        app.stop().await;
        Ok(())
    }
);

/// The key a commune's admin issues at `/admin/api` for `name`, read from the page that shows
/// it once.
async fn issue_key(
    app: &TestApp,
    admin: &reqwest::Client,
    slug: &str,
    name: &str,
) -> Result<String> {
    let r = post(admin, &app.url(Some(slug), "/admin/api"), &[("name", name)]).await?;
    anyhow::ensure!(r.status() == 201, "{}", r.status());
    anyhow::ensure!(r.headers()["cache-control"] == "no-store");
    let page = r.text().await?;
    let at = page
        .find("p311_")
        .ok_or_else(|| anyhow::anyhow!("no key: {page}"))?;
    let key: String = page[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    Ok(key)
}

/// Runs the third-party client (`tests/open311/client.py`, PyPI's `georeport`) in `format`.
fn third_party_client(root: &str, format: &str, code: &str, id: &str) -> Result<Value> {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(parvis_tests::smtp::python())
        .arg(tests.join("open311/client.py"))
        .args([root, "75056", format, code, id])
        .env("PYTHONPATH", tests.join(".python"))
        .output()
        .context("python3 (scripts/install-deps installs the Open311 client)")?;
    anyhow::ensure!(
        out.status.success(),
        "georeport ({format}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

both_backends!(
    applications_read_and_post_reports_through_open311,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let Scene {
            paris,
            lyon,
            admin,
            alice,
        } = scene(&app).await?;
        let api = app.client()?;
        let url = |slug: &str, path: &str| app.url(Some(slug), &format!("/open311/v2/{path}"));

        // A resident's report with a photo, read through the API.
        let lamp = "Le lampadaire devant le numéro 4 est éteint depuis trois soirs.";
        let mut fields = report("eclairage-public", lamp, "48.856600", "2.352200");
        fields.push(("photo_alt", "Le lampadaire éteint"));
        let r = post_files(
            &alice,
            &app.url(Some(&paris), "/m/reports/nouveau"),
            &fields,
            &[("photo", phone_photo()?, "IMG_1.jpg")],
        )
        .await?;
        assert_eq!(location(&r), "/m/reports/1");
        let services: Value = api
            .get(url(&paris, "services.json"))
            .send()
            .await?
            .json()
            .await?;
        let codes: Vec<&str> = services
            .as_array()
            .context("a list")?
            .iter()
            .filter_map(|s| s["service_code"].as_str())
            .collect();
        assert!(
            codes.contains(&"eclairage-public") && codes.contains(&"voirie"),
            "{services}"
        );
        let r = api.get(url(&paris, "requests/1.json")).send().await?;
        assert_eq!(r.status(), 200);
        let one: Value = r.json().await?;
        assert_eq!(one[0]["status"], "open");
        assert_eq!(one[0]["lat"], 48.8566);
        assert_eq!(one[0]["agency_responsible"], "Services techniques");
        // The photo's address is absolute (a client elsewhere fetches it), on Paris's host.
        let media = one[0]["media_url"].as_str().unwrap_or_default().to_string();
        assert!(
            media.starts_with(&app.url(Some(&paris), "/media/")),
            "{media}"
        );
        let r = api.get(&media).send().await?;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        let r = api.get(url(&paris, "requests/1.xml")).send().await?;
        assert_eq!(
            r.headers()["content-type"],
            "application/xml; charset=utf-8"
        );
        let xml = r.text().await?;
        assert!(
            xml.contains("<service_request_id>1</service_request_id>"),
            "{xml}"
        );
        let discovery: Value = api
            .get(url(&paris, "discovery.json"))
            .send()
            .await?
            .json()
            .await?;
        assert!(
            discovery["endpoints"][0]["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/open311/v2")),
            "{discovery}"
        );

        // The spec's errors, in the format asked.
        let error = |status: u16, body: Value| {
            assert_eq!(body[0]["code"], status, "{body}");
            assert!(body[0]["description"].is_string(), "{body}");
        };
        let r = api.get(url(&paris, "requests.csv")).send().await?;
        assert_eq!(r.status(), 400);
        error(400, r.json().await?);
        let r = api
            .get(url(&paris, "requests.json?start_date=hier"))
            .send()
            .await?;
        assert_eq!(r.status(), 400);
        error(400, r.json().await?);
        let r = api
            .get(url(&paris, "services.json?jurisdiction_id=69123"))
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        let r = api.get(url(&paris, "requests/999.xml")).send().await?;
        assert_eq!(r.status(), 404);
        assert!(r.text().await?.contains("<errors><error><code>404</code>"));
        for jurisdiction in ["75056", &paris] {
            let r = api
                .get(url(
                    &paris,
                    &format!("services.json?jurisdiction_id={jurisdiction}"),
                ))
                .send()
                .await?;
            assert_eq!(r.status(), 200, "jurisdiction {jurisdiction}");
        }

        // Posting needs a key the commune issued, and still valid.
        let fields = [
            ("service_code", "voirie"),
            ("lat", "48.8530"),
            ("long", "2.3499"),
            ("description", "Nid-de-poule dangereux devant Notre-Dame."),
            ("first_name", "Jeanne"),
            ("last_name", "Martin"),
        ];
        let r = api
            .post(url(&paris, "requests.json"))
            .form(&fields)
            .send()
            .await?;
        assert_eq!(r.status(), 403);
        error(403, r.json().await?);
        let key = issue_key(&app, &admin, &paris, "Appli de la métropole").await?;
        let mut keyed = fields.to_vec();
        keyed.push(("api_key", key.as_str()));
        let r = api
            .post(url(&paris, "requests.json"))
            .form(&keyed)
            .send()
            .await?;
        assert_eq!(r.status(), 201);
        let made: Value = r.json().await?;
        assert_eq!(made[0]["service_request_id"], "2", "{made}");
        // It lands in the same queue, its author named, and the staff are told.
        let (_, page) = get(&admin, &app.url(Some(&paris), "/admin/m/reports/2")).await?;
        assert!(
            page.contains("Jeanne Martin (via Appli de la métropole)"),
            "{page}"
        );
        wait_until(
            &admin,
            &app.url(Some(&paris), "/notifications"),
            "no notice of the API's report",
            |p| p.contains(&format!("Nouveau signalement n°{NBSP}2")),
        )
        .await?;
        // A key posts at most DAILY_POSTS reports a day, counted in the database: the day
        // it reaches them, the next post is refused (429, the spec's body, until midnight in
        // Paris), and the admins see it; the next day it posts again. (The day's count is set
        // here rather than reached by a thousand posts.)
        let set_count = |day: i64, count: i64| {
            let app = &app;
            let paris = &paris;
            async move {
                use parvis_core::db::TenantSql as _;
                let tenant = app.tenant_id(paris).await?;
                let mut tx = app.state.db.tenant(tenant).begin_write().await?;
                tx.scoped(
                    "UPDATE api_keys SET posts_day = $2, posts_today = $3 WHERE tenant_id = $1",
                )
                .bind(day)
                .bind(count)
                .execute(&mut tx)
                .await?;
                tx.commit().await?;
                anyhow::Ok(())
            }
        };
        let today = api::paris_day(parvis_core::util::now());
        set_count(today, api::DAILY_POSTS - 1).await?;
        let mut cheap = keyed.clone();
        cheap[3] = ("description", "court");
        let r = api
            .post(url(&paris, "requests.json"))
            .form(&cheap)
            .send()
            .await?;
        assert_eq!(
            r.status(),
            400,
            "the last post of the day, refused by the module"
        );
        let r = api
            .post(url(&paris, "requests.json"))
            .form(&keyed)
            .send()
            .await?;
        assert_eq!(r.status(), 429);
        let wait: i64 = r.headers()["retry-after"].to_str()?.parse()?;
        assert!((1..=25 * 3600).contains(&wait), "{wait}");
        let body: Value = r.json().await?;
        assert!(
            body[0]["description"]
                .as_str()
                .is_some_and(|d| d.contains("envois du jour")),
            "{body}"
        );
        let (_, page) = get(&admin, &app.url(Some(&paris), "/admin/api")).await?;
        assert!(html::text(&page).contains("(plafond atteint)"), "{page}");
        set_count(today - 1, api::DAILY_POSTS).await?;
        let (_, page) = get(&admin, &app.url(Some(&paris), "/admin/api")).await?;
        assert!(!html::text(&page).contains("(plafond atteint)"), "{page}");
        let r = api
            .post(url(&paris, "requests.json"))
            .form(&cheap)
            .send()
            .await?;
        assert_eq!(r.status(), 400, "a new day: the key is heard again");

        // A category's questions are its service's attributes: listed, answered through the
        // API as on the form, checked, and shown to the staff.
        let services: Value = api
            .get(url(&paris, "services.json"))
            .send()
            .await?
            .json()
            .await?;
        let metadata = |code: &str| {
            services
                .as_array()
                .and_then(|l| l.iter().find(|s| s["service_code"] == code))
                .map(|s| s["metadata"].clone())
        };
        assert_eq!(metadata("eclairage-public"), Some(Value::Bool(true)));
        assert_eq!(metadata("voirie"), Some(Value::Bool(false)));
        let definition: Value = api
            .get(url(&paris, "services/eclairage-public.json"))
            .send()
            .await?
            .json()
            .await?;
        let lamp_state = &definition["attributes"][1];
        assert_eq!(lamp_state["code"], "ce-que-fait-la-lampe", "{definition}");
        assert_eq!(lamp_state["datatype"], "singlevaluelist");
        assert_eq!(lamp_state["values"][1]["key"], "clignote");
        assert_eq!(lamp_state["values"][1]["name"], "Clignote");
        let mut lamp_fields = keyed.clone();
        lamp_fields[0] = ("service_code", "eclairage-public");
        lamp_fields.push(("attribute[ce-que-fait-la-lampe]", "explose"));
        let r = api
            .post(url(&paris, "requests.json"))
            .form(&lamp_fields)
            .send()
            .await?;
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await?;
        assert!(
            body[0]["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("attribute") && d.contains("Clignote")),
            "{body}"
        );
        lamp_fields.pop();
        lamp_fields.push(("attribute[ce-que-fait-la-lampe]", "clignote"));
        lamp_fields.push((
            "attribute[numero-du-lampadaire-inscrit-sur-le-mat]",
            "PA-1234",
        ));
        let r = api
            .post(url(&paris, "requests.json"))
            .form(&lamp_fields)
            .send()
            .await?;
        assert_eq!(r.status(), 201);
        let (_, page) = get(&admin, &app.url(Some(&paris), "/admin/m/reports/3")).await?;
        let text = html::text(&page);
        assert!(
            text.contains("Ce que fait la lampe")
                && text.contains("Clignote")
                && text.contains("PA-1234"),
            "{page}"
        );
        // Bad input is the spec's 400, and nothing is stored.
        let mut outside = keyed.clone();
        outside[1] = ("lat", "45.7676");
        outside[2] = ("long", "4.8357");
        let r = api
            .post(url(&paris, "requests.xml"))
            .form(&outside)
            .send()
            .await?;
        assert_eq!(r.status(), 400);
        let xml = r.text().await?;
        assert!(
            xml.contains("<code>400</code>") && xml.contains("en dehors"),
            "{xml}"
        );
        let mut unknown = keyed.clone();
        unknown[0] = ("service_code", "licornes");
        let r = api
            .post(url(&paris, "requests.json"))
            .form(&unknown)
            .send()
            .await?;
        assert_eq!(r.status(), 400);
        // A key of Paris opens nothing in Lyon.
        let r = api
            .post(url(&lyon, "requests.json"))
            .form(&keyed)
            .send()
            .await?;
        assert_eq!(r.status(), 403);
        // Revoked, the key is refused at once.
        let (_, page) = get(&admin, &app.url(Some(&paris), "/admin/api")).await?;
        let revoke = page
            .split("action=\"")
            .filter_map(|s| s.split('"').next())
            .find(|a| a.ends_with("/revoquer"))
            .context("a revoke form")?
            .to_string();
        let token = parvis_tests::csrf(&page).context("the page's CSRF token")?;
        let r = admin
            .post(app.url(Some(&paris), &revoke))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let r = api
            .post(url(&paris, "requests.json"))
            .form(&keyed)
            .send()
            .await?;
        assert_eq!(r.status(), 403);

        // Lyon's API shows none of Paris's reports.
        let listed: Value = api
            .get(url(&lyon, "requests.json"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(listed, serde_json::json!([]));
        let r = api.get(url(&lyon, "requests/1.json")).send().await?;
        assert_eq!(r.status(), 404);
        // Filters: by status and by service.
        let closed: Value = api
            .get(url(&paris, "requests.json?status=closed"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(closed, serde_json::json!([]));

        // A client we did not write reads it all, in both formats.
        let root = app.url(Some(&paris), "/open311/v2");
        for format in ["json", "xml"] {
            let read = third_party_client(&root, format, "eclairage-public", "1")?;
            let text = read.to_string();
            assert!(text.contains("eclairage-public"), "{format}: {text}");
            assert!(text.contains("Nid-de-poule dangereux"), "{format}: {text}");
            assert!(text.contains(lamp), "{format}: {text}");
            assert_eq!(read["one"]["service_request_id"], "1", "{format}: {text}");
            assert_eq!(
                read["definition"]["service_code"], "eclairage-public",
                "{format}: {text}"
            );
            assert!(text.contains("ce-que-fait-la-lampe"), "{format}: {text}");
        }
        app.stop().await;
        Ok(())
    }
);

/// A form with files that trickles holds one of the host's few upload turns, for its own
/// account only and not for long: the same account's second form is refused at once (409, in
/// French), another account's goes through, and the stalled one is cut off with 408 once it
/// has sent nothing for `BODY_IDLE` (15 s); then its account may send again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_holds_one_turn_and_not_for_long() -> Result<()> {
    let app = TestApp::start(parvis_tests::Backend::Sqlite).await?;
    let Scene { paris, alice, .. } = scene(&app).await?;
    app.account("bruno@example.org", PASSWORD).await?;
    let bruno = app
        .signed_in(Some(&paris), "bruno@example.org", PASSWORD)
        .await?;
    let new = app.url(Some(&paris), "/m/reports/nouveau");
    let lamp = "Le lampadaire devant le numéro 4 est éteint depuis trois soirs.";
    let mut fields = report("eclairage-public", lamp, "48.856600", "2.352200");
    fields.push(("photo_alt", "Le lampadaire éteint"));

    // Alice's form sends its first field and a photo's head, then nothing more.
    let token = form_token(&alice, &new).await?;
    let (feed, chunks) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    feed.send(
        b"--XX\r\nContent-Disposition: form-data; name=\"categorie\"\r\n\r\neclairage-public\r\n\
          --XX\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n\
          Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff"
            .to_vec(),
    )
    .await?;
    let body = futures_util::stream::unfold(chunks, |mut chunks| async move {
        let chunk = chunks.recv().await?;
        Some((Ok::<_, std::io::Error>(chunk), chunks))
    });
    let started = std::time::Instant::now();
    let stalled = tokio::spawn(
        alice
            .post(format!("{new}?csrf_token={token}"))
            .header("content-type", "multipart/form-data; boundary=XX")
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    // Until the host holds Alice's turn, her second form could be the one it takes.
    let mut second = None;
    for _ in 0..50 {
        let photo = ("photo", phone_photo()?, "IMG_2042.jpg");
        let r = post_files(&alice, &new, &fields, &[photo]).await?;
        if r.status() == 409 {
            second = Some(html::text(&r.text().await?));
            break;
        }
        anyhow::ensure!(r.status() == 303, "Alice's form: {}", r.status());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let second = second.context("Alice's second form was never refused")?;
    assert!(
        second.contains("Un envoi de fichiers de votre compte est déjà en cours"),
        "{second}"
    );
    // Bruno is not held up by Alice.
    let photo = ("photo", phone_photo()?, "IMG_7.jpg");
    let r = post_files(&bruno, &new, &fields, &[photo]).await?;
    assert_eq!(r.status(), 303);

    // The stalled form is cut off: 408, after its idle time and well before a minute.
    let r = stalled.await??;
    assert_eq!(r.status(), 408);
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(14) && waited < std::time::Duration::from_secs(40),
        "{waited:?}"
    );
    assert!(html::text(&r.text().await?).contains("L'envoi a été trop lent"));
    drop(feed);
    // Alice's turn is hers again (a lamp elsewhere: the first is Bruno's report now).
    let mut fields = report("eclairage-public", lamp, "48.870000", "2.330000");
    fields.push(("photo_alt", "Le lampadaire éteint"));
    let photo = ("photo", phone_photo()?, "IMG_2043.jpg");
    let r = post_files(&alice, &new, &fields, &[photo]).await?;
    assert_eq!(r.status(), 303);
    Ok(())
}
