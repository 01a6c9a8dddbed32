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

/// Annecy, and a client signed in as its admin.
async fn annecy_and_its_admin(app: &TestApp) -> anyhow::Result<(String, reqwest::Client)> {
    let annecy = app.commune("74010").await?;
    let admin = app
        .account("maire@annecy.test", "mot de passe solide")
        .await?;
    app.grant(&admin, Role::TenantAdmin, Some(&annecy)).await?;
    let client = app
        .signed_in(Some(&annecy), "maire@annecy.test", "mot de passe solide")
        .await?;
    Ok((annecy, client))
}

both_backends!(
    a_commune_takes_its_own_colour_within_contrast_rules,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (annecy, client) = annecy_and_its_admin(&app).await?;
        let lyon = app.commune("69123").await?;
        let edit = app.url(Some(&annecy), "/admin/commune");
        let token = form_token(&client, &edit).await?;
        let set = |form: Vec<(&'static str, &'static str)>| {
            let mut form = form;
            form.push(("csrf_token", token.as_str()));
            client
                .post(app.url(Some(&annecy), "/admin/commune/couleur"))
                .form(&form)
                .send()
        };
        let visitor = app.client()?;
        let home = |slug: String| {
            let visitor = visitor.clone();
            let url = app.url(Some(&slug), "/");
            async move { anyhow::Ok(visitor.get(url).send().await?.text().await?) }
        };

        // Before: the platform's colours, no sheet of the commune's.
        assert!(!home(annecy.clone()).await?.contains("/theme.css"));

        // Too light for text on white: refused, with the ratio and the rule, nothing stored.
        let r = set(vec![("accent", "#ffd700")]).await?;
        assert_eq!(r.status(), 400);
        let page = r.text().await?.replace("&#x27;", "'");
        assert!(page.contains("pas assez contrastée"), "{page}");
        assert!(
            page.contains("(1,2\u{a0}:\u{a0}1, il faut au moins 4,5\u{a0}:\u{a0}1"),
            "{page}"
        );
        let r = set(vec![("accent", "bleu lac")]).await?;
        assert_eq!(r.status(), 400);
        assert!(!home(annecy.clone()).await?.contains("/theme.css"));

        // Annecy's lake blue: every page of Annecy links its sheet, which sets it in light
        // mode and a lighter variant in dark mode; Lyon keeps the platform's.
        assert_eq!(set(vec![("accent", "#00577D")]).await?.status(), 303);
        let page = home(annecy.clone()).await?;
        assert!(
            page.contains(r#"<link rel="stylesheet" href="/theme.css?c=00577d">"#),
            "{page}"
        );
        assert!(page.contains(r##"<meta name="theme-color" content="#00577d">"##));
        let r = visitor
            .get(app.url(Some(&annecy), "/theme.css?c=00577d"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
        assert!(r.headers()["cache-control"].to_str()?.contains("immutable"));
        let css = r.text().await?;
        assert!(
            css.starts_with(":root{--accent:#00577d;--accent-ink:#fff}"),
            "{css}"
        );
        assert!(css.contains("prefers-color-scheme:dark"), "{css}");
        // An old address (another colour) is not kept long.
        let r = visitor
            .get(app.url(Some(&annecy), "/theme.css?c=1d4ed8"))
            .send()
            .await?;
        assert_eq!(r.headers()["cache-control"], "public, max-age=60");
        let manifest: serde_json::Value = visitor
            .get(app.url(Some(&annecy), "/manifest.webmanifest"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(manifest["theme_color"], "#00577d");
        assert!(!home(lyon.clone()).await?.contains("/theme.css"));
        let r = visitor
            .get(app.url(Some(&lyon), "/theme.css?c=00577d"))
            .send()
            .await?;
        assert_eq!(r.status(), 404);

        // Only the commune's admins choose it.
        app.account("habitant@annecy.test", "mot de passe solide")
            .await?;
        let citizen = app
            .signed_in(Some(&annecy), "habitant@annecy.test", "mot de passe solide")
            .await?;
        let own_token = form_token(&citizen, &app.url(Some(&annecy), "/mon-compte")).await?;
        let r = citizen
            .post(app.url(Some(&annecy), "/admin/commune/couleur"))
            .form(&[("accent", "#000000"), ("csrf_token", own_token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 403);
        assert!(home(annecy.clone()).await?.contains("/theme.css?c=00577d"));

        // And back to the platform's colours.
        assert_eq!(
            set(vec![("accent", "#00577d"), ("reset", "1")])
                .await?
                .status(),
            303
        );
        assert!(!home(annecy.clone()).await?.contains("/theme.css"));
        Ok(())
    }
);

/// A 2,000 × 500 JPEG carrying an EXIF segment with a position in it.
fn photo_with_position() -> anyhow::Result<Vec<u8>> {
    let image = image::RgbImage::from_fn(2_000, 500, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(image).write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )?;
    // APP1 « Exif »: a big-endian TIFF header with no entry, then the tell-tale text.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0".to_vec();
    exif.extend_from_slice(b"GPSLatitude 45.8992 GPSLongitude 6.1294");
    let length = u16::try_from(exif.len() + 2)?;
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    Ok(out)
}

both_backends!(
    a_commune_page_opens_on_its_cover_photo_stripped_of_its_metadata,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (annecy, client) = annecy_and_its_admin(&app).await?;
        let token = form_token(&client, &app.url(Some(&annecy), "/admin/commune")).await?;
        let upload = |bytes: Vec<u8>, description: String| {
            let form = reqwest::multipart::Form::new()
                .part(
                    "couverture",
                    reqwest::multipart::Part::bytes(bytes).file_name("lac.jpg"),
                )
                .text("description", description);
            client
                .post(app.url(
                    Some(&annecy),
                    &format!("/admin/commune/couverture?csrf_token={token}"),
                ))
                .multipart(form)
                .send()
        };
        let photo = photo_with_position()?;
        assert!(photo.windows(11).any(|w| w == b"GPSLatitude"));

        // Not an image, or a description too long: refused in French, nothing shown.
        let r = upload(b"<svg onload=alert(1)>".to_vec(), "Le lac".into()).await?;
        assert_eq!(r.status(), 400);
        let page = r.text().await?;
        assert!(page.contains("pas une image lisible"), "{page}");
        let r = upload(photo.clone(), "é".repeat(201)).await?;
        assert_eq!(r.status(), 400);
        assert!(r.text().await?.contains("au plus 200 caractères"));
        let visitor = app.client()?;
        let home = visitor
            .get(app.url(Some(&annecy), "/"))
            .send()
            .await?
            .text()
            .await?;
        assert!(!home.contains("class=\"cover\""), "{home}");

        // A photo: shown on top of the page with its description, scaled into 1,600 px,
        // re-encoded, no EXIF segment and no position left in it.
        assert_eq!(
            upload(photo, "Le lac et la vieille ville".into())
                .await?
                .status(),
            303
        );
        let home = visitor
            .get(app.url(Some(&annecy), "/"))
            .send()
            .await?
            .text()
            .await?;
        let src = home
            .split("<img class=\"cover\" src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .ok_or_else(|| anyhow::anyhow!("no cover: {home}"))?
            .to_string();
        assert!(src.starts_with("/couverture?v="), "{src}");
        assert!(
            home.contains("alt=\"Le lac et la vieille ville\""),
            "{home}"
        );
        let r = visitor.get(app.url(Some(&annecy), &src)).send().await?;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        let served = r.bytes().await?;
        assert!(!served.windows(4).any(|w| w == b"Exif"));
        assert!(!served.windows(3).any(|w| w == b"GPS"));
        let decoded = image::load_from_memory(&served)?;
        assert_eq!((decoded.width(), decoded.height()), (1_600, 400));

        // Another commune has none; a citizen cannot set one; the admin removes it.
        let lyon = app.commune("69123").await?;
        let r = visitor
            .get(app.url(Some(&lyon), "/couverture"))
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        let r = client
            .post(app.url(Some(&annecy), "/admin/commune/couverture/retirer"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let r = visitor
            .get(app.url(Some(&annecy), "/couverture"))
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        let home = visitor
            .get(app.url(Some(&annecy), "/"))
            .send()
            .await?
            .text()
            .await?;
        assert!(!home.contains("class=\"cover\""));
        app.stop().await;
        Ok(())
    }
);
