//! Platform pages no test reached (issue 16): the JSON search API (`GET /api/v1/communes`)
//! that scripts and other sites call, « Comment fonctionne Parvis » (`/a-propos`), linked from
//! every page's footer, the legal pages (notice, privacy, terms, accessibility statement), and
//! the way back to the page a visitor asked for once signed in.

use anyhow::{Context as _, Result};
use parvis_tests::{TestApp, both_backends, form_token};
use serde_json::Value;

use parvis_tests::html::{attrs, text, texts};

/// `GET /api/v1/communes?q=…` (the query already URL-encoded): status, content type, JSON.
async fn search(app: &TestApp, q: &str) -> Result<(u16, String, Value)> {
    let r = app
        .client()?
        .get(app.url(None, &format!("/api/v1/communes?q={q}")))
        .send()
        .await?;
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = r.text().await?;
    let json = serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?;
    Ok((status, kind, json))
}

/// The communes of an answer.
fn hits(json: &Value) -> Result<&Vec<Value>> {
    json["communes"]
        .as_array()
        .with_context(|| format!("no communes list: {json}"))
}

both_backends!(the_communes_api_answers_in_json, |backend| async move {
    let app = TestApp::start(backend).await?;
    parvis_tenants::communes::import(
        &app.state.db,
        &parvis_tenants::communes::Source::Embedded,
        &parvis_tenants::communes::Selection::All,
        parvis_tenants::communes::Progress::Hidden,
    )
    .await?;
    let lyon = app.commune("69123").await?;

    // A served commune: its registry data and its slug.
    let (status, kind, json) = search(&app, "lyon").await?;
    assert_eq!(status, 200);
    assert!(kind.starts_with("application/json"), "{kind}");
    let first = hits(&json)?.first().context("Lyon not found")?;
    assert_eq!(first["insee"], "69123");
    assert_eq!(first["name"], "Lyon");
    assert_eq!(first["departement_code"], "69");
    assert_eq!(first["slug"], lyon.as_str());
    assert!(
        first["population"].as_i64().unwrap_or(0) > 500_000,
        "{first}"
    );
    let postal = first["postal_codes"].as_str().unwrap_or_default();
    assert!(postal.split(' ').any(|p| p == "69001"), "{first}");

    // Accents and capitals do not matter; a commune that is not served has no slug.
    let (_, _, json) = search(&app, "AMB%C3%89RIEU-EN").await?;
    let first = hits(&json)?.first().context("Ambérieu not found")?;
    assert_eq!(
        (&first["insee"], &first["name"], &first["slug"]),
        (
            &Value::from("01004"),
            &Value::from("Ambérieu-en-Bugey"),
            &Value::Null
        )
    );
    // A postal code finds its communes, and only them.
    let (_, _, json) = search(&app, "01500").await?;
    let found = hits(&json)?;
    assert!(found.iter().any(|c| c["insee"] == "01004"), "{json}");
    assert!(
        found.iter().all(|c| c["postal_codes"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .any(|p| p.starts_with("01500"))),
        "{json}"
    );
    // At most 20 answers, the most populous first.
    let (_, _, json) = search(&app, "saint").await?;
    let found = hits(&json)?;
    assert_eq!(found.len(), 20, "{json}");
    let populations: Vec<i64> = found
        .iter()
        .map(|c| c["population"].as_i64().unwrap_or(0))
        .collect();
    assert!(
        populations.windows(2).all(|w| w[0] >= w[1]),
        "{populations:?}"
    );
    // Nothing asked, nothing found; too long a query is refused in JSON, in French.
    let (status, _, json) = search(&app, "").await?;
    assert_eq!((status, hits(&json)?.len()), (200, 0));
    let (status, kind, json) = search(&app, &"a".repeat(101)).await?;
    assert_eq!(status, 400);
    assert!(kind.starts_with("application/json"), "{kind}");
    assert_eq!(json["error"]["code"], "bad_request");
    assert_eq!(
        json["error"]["message"],
        "La recherche est limitée à 100 caractères : tapez le début du nom de la commune ou son code postal."
    );
    app.stop().await;
    Ok(())
});

both_backends!(
    the_about_page_is_linked_from_every_site,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let lyon = app.commune("69123").await?;
        let client = app.client()?;
        let about = app.url(None, "/a-propos");
        for home in [app.url(None, "/"), app.url(Some(&lyon), "/")] {
            let page = client.get(&home).send().await?.text().await?;
            let footer = attrs(&page, "footer a", "href")?;
            assert!(footer.contains(&about), "{home}: {footer:?}");
        }
        let r = client.get(&about).send().await?;
        assert_eq!(r.status(), 200);
        let page = r.text().await?;
        assert_eq!(
            texts(&page, "title")?,
            ["Comment fonctionne Parvis — Parvis"]
        );
        assert_eq!(texts(&page, "main h1")?, ["Comment fonctionne Parvis"]);
        assert_eq!(
            texts(&page, "main h2")?,
            [
                "Une plateforme neutre",
                "L'ordre du fil d'actualité",
                "Vos données",
                "Les données publiques",
                "Pour les développeurs"
            ]
        );
        assert!(
            texts(&page, "main p")?
                .iter()
                .any(|p| p.contains("de la plus récente à la plus ancienne")),
            "{page}"
        );
        assert!(attrs(&page, "main a", "href")?.contains(&"/composants".to_string()));
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    signing_in_leads_back_to_the_page_asked_for,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let lyon = app.commune("69123").await?;
        app.account("alice@example.org", "une phrase de passe")
            .await?;
        let client = app.client()?;
        // A page for signed-in people sends a visitor to the login form, remembering where.
        let r = client
            .get(app.url(Some(&lyon), "/notifications?page=2"))
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let login = r.headers()["location"].to_str()?.to_string();
        assert_eq!(login, "/connexion?next=%2Fnotifications%3Fpage%3D2");
        let form = client
            .get(app.url(Some(&lyon), &login))
            .send()
            .await?
            .text()
            .await?;
        let next = attrs(&form, "input[name=next]", "value")?;
        assert_eq!(next, ["/notifications?page=2"]);
        let token = form_token(&client, &app.url(Some(&lyon), &login)).await?;
        let r = client
            .post(app.url(Some(&lyon), "/connexion"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", "alice@example.org"),
                ("password", "une phrase de passe"),
                ("next", next[0].as_str()),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/notifications?page=2");
        // A `next` that would leave the site, carried by a link to the form, is dropped there.
        let form = app
            .anonymous_page(app.url(Some(&lyon), "/connexion?next=%2F%5Cevil.example%2F"))
            .await?;
        let next = attrs(&form, "input[name=next]", "value")?;
        assert!(
            next.iter().all(|n| !n.contains("evil")),
            "the form carries {next:?}"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    every_site_links_its_legal_pages_naming_the_operator,
    |backend| async move {
        let app = TestApp::start_configured(backend, 0, |config| {
            config.legal.operator = Some("Association Parvis pour la démocratie locale".into());
            config.legal.hosting = Some("Hébergeur Exemple, 1 rue du Port, 13002 Marseille".into());
            config.legal.contact = "dpo@parvis.test".into();
        })
        .await?;
        let lyon = app.commune("69123").await?;
        let client = app.client()?;
        let pages = [
            ("/mentions-legales", "Mentions légales"),
            ("/confidentialite", "Politique de confidentialité"),
            ("/accessibilite", "Accessibilité : non conforme"),
            ("/conditions", "Conditions d’utilisation"),
        ];
        for site in [None, Some(lyon.as_str())] {
            let home = client.get(app.url(site, "/")).send().await?.text().await?;
            let footer = attrs(&home, "footer a", "href")?;
            for (path, title) in pages {
                assert!(
                    footer.iter().any(|href| href == path),
                    "{site:?} {path}: {footer:?}"
                );
                let r = client.get(app.url(site, path)).send().await?;
                assert_eq!(r.status(), 200, "{site:?} {path}");
                let page = r.text().await?;
                assert_eq!(texts(&page, "main h1")?, [title], "{site:?} {path}");
                // Each page links to the three others.
                let others: Vec<String> = attrs(&page, "main p.muted a", "href")?;
                assert_eq!(others.len(), 3, "{path}: {others:?}");
                assert!(
                    !others.iter().any(|href| href.ends_with(path)),
                    "{path}: {others:?}"
                );
                let mailto = attrs(&page, "main a[href^='mailto:']", "href")?;
                if path != "/conditions" {
                    assert!(
                        mailto.contains(&"mailto:dpo@parvis.test".to_string()),
                        "{path}: {mailto:?}"
                    );
                }
            }
        }
        let notice = |site| {
            let url = app.url(site, "/mentions-legales");
            let client = client.clone();
            async move { Ok::<_, anyhow::Error>(client.get(url).send().await?.text().await?) }
        };
        let platform = notice(None).await?;
        let body = texts(&platform, "main p")?.join("\n");
        assert!(
            body.contains("édité par Association Parvis pour la démocratie locale"),
            "{body}"
        );
        assert!(
            body.contains("Hébergeur Exemple, 1 rue du Port, 13002 Marseille"),
            "{body}"
        );
        // Not given: said so, not invented.
        assert!(
            body.contains("publication : (non renseigné par l’exploitant)"),
            "{body}"
        );
        // On a commune's site, the town hall answers for what it publishes.
        assert!(
            !texts(&platform, "main h2")?
                .iter()
                .any(|h| h.contains("mairie"))
        );
        let lyon_notice = notice(Some(lyon.as_str())).await?;
        assert!(
            texts(&lyon_notice, "main h2")?
                .contains(&"Ce que publie la mairie de Lyon".to_string()),
            "{lyon_notice}"
        );
        // The accessibility statement says where to turn when a complaint gets no answer.
        let a11y = client
            .get(app.url(None, "/accessibilite"))
            .send()
            .await?
            .text()
            .await?;
        assert!(text(&a11y).contains("Défenseur des droits"));
        assert!(text(&a11y).contains("non conforme"));
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    each_site_installs_as_an_app_named_after_it,
    |backend| async move {
        // Issue 17: a commune on a phone's home screen, like the municipal apps.
        let app = TestApp::start(backend).await?;
        let annecy = app.commune("74010").await?;
        let client = app.client()?;
        for (host, name, short) in [
            (Some(annecy.as_str()), "Annecy — Parvis", "Annecy"),
            (None, "Parvis", "Parvis"),
        ] {
            let page = client.get(app.url(host, "/")).send().await?.text().await?;
            assert_eq!(
                attrs(&page, "link[rel=manifest]", "href")?,
                vec!["/manifest.webmanifest"],
                "{host:?}"
            );
            let r = client
                .get(app.url(host, "/manifest.webmanifest"))
                .send()
                .await?;
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "application/manifest+json");
            let manifest: Value = r.json().await?;
            assert_eq!(manifest["name"], name);
            assert_eq!(manifest["short_name"], short);
            assert_eq!(manifest["start_url"], "/");
            let icons = manifest["icons"].as_array().context("icons")?;
            assert_eq!(icons.len(), 3);
            for icon in icons {
                let src = icon["src"].as_str().context("src")?;
                let r = client.get(app.url(host, src)).send().await?;
                assert_eq!(r.status(), 200, "{src}");
                assert_eq!(r.headers()["content-type"], "image/png");
                let png = image::load_from_memory(&r.bytes().await?)?;
                assert_eq!(
                    format!("{}x{}", png.width(), png.height()),
                    icon["sizes"].as_str().context("sizes")?
                );
            }
            // The page the service worker keeps for when the network is gone.
            let offline = client.get(app.url(host, "/hors-ligne")).send().await?;
            assert_eq!(offline.status(), 200);
            let offline = offline.text().await?;
            assert_eq!(texts(&offline, "h1")?, vec!["Vous êtes hors ligne"]);
        }
        let manifest: Value = client
            .get(app.url(Some(&annecy), "/manifest.webmanifest"))
            .send()
            .await?
            .json()
            .await?;
        assert!(
            manifest["description"]
                .as_str()
                .is_some_and(|d| d.contains("d'Annecy")),
            "{manifest}"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    the_design_system_shows_every_component_with_its_markup,
    |backend| async move {
        // Issue 17: the living page of the components core pages and modules share.
        let app = TestApp::start(backend).await?;
        let lyon = app.commune("69123").await?;
        let client = app.client()?;
        for host in [None, Some(lyon.as_str())] {
            let r = client.get(app.url(host, "/composants")).send().await?;
            assert_eq!(r.status(), 200);
            let page = r.text().await?;
            assert_eq!(texts(&page, "main h1")?, ["Composants de Parvis"]);
            let sections = texts(&page, "main h2")?;
            assert_eq!(sections.len(), 15, "{sections:?}");
            // Every entry of the contents leads to its section.
            for anchor in attrs(&page, "nav[aria-label='Sommaire des composants'] a", "href")? {
                let id = anchor.trim_start_matches('#');
                assert_eq!(
                    attrs(&page, &format!("h2#{id}"), "id")?.len(),
                    1,
                    "{anchor}"
                );
            }
            // Each component is there, as it looks and as its markup.
            for (css, markup) in [
                (
                    ".sample nav.trail [aria-current=page]",
                    "class=&quot;trail&quot;",
                ),
                (
                    ".sample nav.tabs a[aria-current=page]",
                    "class=&quot;tabs&quot;",
                ),
                (".sample .empty a.button", "class=&quot;empty&quot;"),
                (".sample details.fold > summary", "class=&quot;fold&quot;"),
                (
                    ".sample .alert.alert-urgence .alert-severity",
                    "alert-urgence",
                ),
                (".sample p.notice.error[role=alert]", "notice error"),
                (
                    ".sample fieldset.choices legend",
                    "class=&quot;choices&quot;",
                ),
                (".sample table caption", "&lt;caption&gt;"),
                (".sample figure.chart svg[role=img]", "role=&quot;img&quot;"),
                (".sample [aria-invalid=true]", "aria-invalid"),
                (".sample .confirm button.danger", "class=&quot;danger&quot;"),
                (
                    ".sample .map[data-map][data-pick=demo-lieu] .map-off",
                    "data-pick=&quot;demo-lieu&quot;",
                ),
            ] {
                // `texts` has one entry per element found, empty text or not.
                assert!(!texts(&page, css)?.is_empty(), "{css}");
                assert!(page.contains(markup), "the markup of {css}");
            }
            // The page is its own first example: its trail leads home.
            assert_eq!(attrs(&page, "main > nav.trail a", "href")?, ["/"]);
        }
        app.stop().await;
        Ok(())
    }
);
