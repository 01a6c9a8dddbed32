//! The commune page as its admins edit it: presentation, team, links, logo; and a commune
//! reached through its custom domain.

use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, form_token};

/// A valid 1×1 PNG.
const PNG: [u8; 70] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0,
    0, 0, 31, 21, 196, 137, 0, 0, 0, 13, 73, 68, 65, 84, 120, 218, 99, 100, 248, 207, 80, 15, 0, 3,
    134, 1, 128, 90, 52, 125, 107, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

both_backends!(admins_edit_the_commune_page, |backend| async move {
    let app = TestApp::start(backend).await?;
    app.commune("01001").await?;
    let slug = "l-abergement-clemenciat";
    let admin = app
        .account("maire@abergement.test", "mot de passe solide")
        .await?;
    app.grant(&admin, Role::TenantAdmin, Some(slug)).await?;
    let client = app
        .signed_in(Some(slug), "maire@abergement.test", "mot de passe solide")
        .await?;
    let edit = app.url(Some(slug), "/admin/commune");
    let token = form_token(&client, &edit).await?;

    let post = |path: &str, form: Vec<(&str, &str)>| {
        let mut form = form;
        form.push(("csrf_token", token.as_str()));
        client.post(app.url(Some(slug), path)).form(&form).send()
    };
    assert_eq!(
        post(
            "/admin/commune/presentation",
            vec![(
                "presentation",
                "Premier paragraphe.\r\n\r\nSecond <b>paragraphe</b>."
            )]
        )
        .await?
        .status(),
        303
    );
    assert_eq!(
        post(
            "/admin/commune/equipe",
            vec![("name", "Line Evalet-Taponat"), ("role_label", "Maire")]
        )
        .await?
        .status(),
        303
    );
    assert_eq!(
        post(
            "/admin/commune/liens",
            vec![
                ("label", "Site de la mairie"),
                ("url", "https://www.example.fr/mairie")
            ]
        )
        .await?
        .status(),
        303
    );
    let bad = post(
        "/admin/commune/liens",
        vec![("label", "Piège"), ("url", "javascript:alert(1)")],
    )
    .await?;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await?.contains("https://"));
    let bad = post(
        "/admin/commune/equipe",
        vec![("name", ""), ("role_label", "Maire")],
    )
    .await?;
    assert_eq!(bad.status(), 400);

    let page = app.anonymous_page(app.url(Some(slug), "/")).await?;
    assert!(page.contains("<p>Premier paragraphe.</p>"));
    assert!(
        page.contains("Second &lt;b&gt;paragraphe&lt;/b&gt;."),
        "HTML is escaped"
    );
    assert!(page.contains("<strong>Line Evalet-Taponat</strong> — Maire"));
    assert!(page.contains("Site de la mairie"));
    assert!(!page.contains("Piège"));
    assert!(
        page.contains("04 74 24 03 08"),
        "town-hall phone from the registry"
    );

    // Logo: a real image is re-encoded and served; anything else is refused.
    let upload = |bytes: Vec<u8>, name: &'static str| {
        let form = reqwest::multipart::Form::new().part(
            "logo",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
        client
            .post(app.url(
                Some(slug),
                &format!("/admin/commune/logo?csrf_token={token}"),
            ))
            .multipart(form)
            .send()
    };
    let refused = upload(b"<svg onload=alert(1)>".to_vec(), "x.png").await?;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await?.contains("pas une image"));
    let no_token = client
        .post(app.url(Some(slug), "/admin/commune/logo"))
        .multipart(
            reqwest::multipart::Form::new()
                .part("logo", reqwest::multipart::Part::bytes(PNG.to_vec())),
        )
        .send()
        .await?;
    assert_eq!(no_token.status(), 403, "uploads need the CSRF token too");
    assert_eq!(upload(PNG.to_vec(), "blason.png").await?.status(), 303);
    let logo = app
        .client()?
        .get(app.url(Some(slug), "/logo"))
        .send()
        .await?;
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(&logo.bytes().await?[..8], &PNG[..8]);
    app.stop().await;
    Ok(())
});

both_backends!(a_commune_on_its_custom_domain, |backend| async move {
    let app = TestApp::start(backend).await?;
    app.commune("01001").await?;
    sqlx::query(
        "UPDATE tenants SET custom_domain = 'mairie-abergement.example' WHERE insee = '01001'",
    )
    .execute(app.state.db.platform())
    .await?;
    let page = app
        .client()?
        .get(format!(
            "http://mairie-abergement.example:{}/",
            app.addr.port()
        ))
        .send()
        .await?;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await?
            .contains("<h1>L&#x27;Abergement-Clémenciat</h1>")
    );
    let other = app
        .client()?
        .get(format!("http://autre-mairie.example:{}/", app.addr.port()))
        .send()
        .await?;
    assert_eq!(other.status(), 404);
    app.stop().await;
    Ok(())
});

both_backends!(
    every_commune_page_leads_to_its_services,
    |backend| async move {
        // Issue 17: the header never linked to the commune's services.
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let client = app.client()?;
        for path in ["/", "/connexion", "/a-propos"] {
            let page = client
                .get(app.url(Some(&paris), path))
                .send()
                .await?
                .text()
                .await?;
            assert!(
                parvis_tests::html::attrs(&page, "header nav a", "href")?
                    .contains(&"/services".to_string()),
                "{path}"
            );
        }
        // The platform has no services of its own: no such link there.
        let platform = client.get(app.url(None, "/")).send().await?.text().await?;
        assert!(
            !parvis_tests::html::attrs(&platform, "header nav a", "href")?
                .contains(&"/services".to_string())
        );

        // None switched on yet: said plainly, with the way back.
        let r = client
            .get(app.url(Some(&paris), "/services"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let page = r.text().await?;
        assert_eq!(
            parvis_tests::html::texts(&page, "main h1")?,
            ["Services en ligne de Paris"]
        );
        assert!(
            page.contains("ne propose pas encore de service en ligne"),
            "{page}"
        );

        // Switched on: listed, each linking to its page.
        let polls = app.install_module("parvis-module-polls").await?;
        app.enable_module(&paris, &polls).await?;
        let page = client
            .get(app.url(Some(&paris), "/services"))
            .send()
            .await?
            .text()
            .await?;
        assert_eq!(
            parvis_tests::html::attrs(&page, "main ul.services a", "href")?,
            ["/m/polls/"]
        );
        assert!(!page.contains("ne propose pas encore"));
        // The platform's host has no such page.
        let r = client.get(app.url(None, "/services")).send().await?;
        assert_eq!(r.status(), 404);
        app.stop().await;
        Ok(())
    }
);
