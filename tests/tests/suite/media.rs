//! Uploaded media through avatars and post attachments: a real PNG and a real JPEG are cleaned,
//! resized and served with the right headers on the right hosts, PDFs are offered as downloads;
//! a text file named .png, a fake PDF, an oversized upload, an empty one, an image without its
//! description and a decompression bomb are refused with a French message and nothing stored.

use std::io::Cursor;

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, form_token};
use reqwest::multipart::{Form, Part};

const PASSWORD: &str = "mot de passe solide";

/// An image of `w`×`h` pixels encoded as `format`.
fn picture(w: u32, h: u32, format: image::ImageFormat) -> Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut out), format)?;
    Ok(out)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small, valid PNG whose header claims 100 000 × 100 000 pixels (with a correct CRC): a
/// decoder that trusted it would allocate 40 GB.
fn bomb() -> Result<Vec<u8>> {
    declaring(100_000, 100_000)
}

/// A small PNG (an 8 × 8 picture) whose header declares `w` × `h` pixels, with a correct CRC.
fn declaring(w: u32, h: u32) -> Result<Vec<u8>> {
    let mut png = picture(8, 8, image::ImageFormat::Png)?;
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    Ok(png)
}

struct World {
    app: TestApp,
    paris: String,
    lyon: String,
    cyril: reqwest::Client,
}

async fn world(backend: parvis_tests::Backend) -> Result<World> {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    let lyon = app.commune("69123").await?;
    app.account("cyril@example.org", PASSWORD).await?;
    let cyril = app
        .signed_in(Some(&paris), "cyril@example.org", PASSWORD)
        .await?;
    Ok(World {
        app,
        paris,
        lyon,
        cyril,
    })
}

impl World {
    /// Hides (`masquer`) or restores (`retablir`) a post as a moderator; the status.
    async fn moderate(&self, moderator: &reqwest::Client, post: &str, action: &str) -> Result<u16> {
        let token = form_token(moderator, &self.url("/admin/moderation")).await?;
        let r = moderator
            .post(self.url(&format!("/admin/moderation/{post}/{action}")))
            .form(&[
                ("csrf_token", token.as_str()),
                ("reason", "Photo d'un mineur"),
            ])
            .send()
            .await?;
        Ok(r.status().as_u16())
    }

    fn url(&self, path: &str) -> String {
        self.app.url(Some(&self.paris), path)
    }

    /// Uploads `bytes` as the avatar; status and body (or Location).
    async fn upload(&self, name: &str, mime: &str, bytes: Vec<u8>) -> Result<(u16, String)> {
        let token = form_token(&self.cyril, &self.url("/mon-compte/profil")).await?;
        let form = Form::new().part(
            "avatar",
            Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str(mime)?,
        );
        parvis_tests::outcome(
            self.cyril
                .post(self.url(&format!("/mon-compte/avatar?csrf_token={token}")))
                .multipart(form)
                .send()
                .await?,
        )
        .await
    }

    async fn count(&self, sql: &str) -> Result<i64> {
        let mut tx = self.app.state.db.platform_tx().await?;
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The `/media/…` path of the first image on the settings page.
    async fn avatar_path(&self) -> Result<String> {
        let page = self
            .cyril
            .get(self.url("/mon-compte/profil"))
            .send()
            .await?
            .text()
            .await?;
        let at = page
            .find("src=\"/media/")
            .context("no avatar on the settings page")?
            + 5;
        let rest = &page[at..];
        Ok(rest[..rest.find('"').context("unterminated src")?].to_string())
    }
}

both_backends!(avatars_are_resized_and_served, |backend| async move {
    let w = world(backend).await?;
    let (status, location) = w
        .upload(
            "portrait.png",
            "image/png",
            picture(600, 400, image::ImageFormat::Png)?,
        )
        .await?;
    assert_eq!((status, location.as_str()), (303, "/mon-compte/profil"));
    let path = w.avatar_path().await?;
    let r = w.app.client()?.get(w.url(&path)).send().await?;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["cache-control"].to_str()?.contains("immutable"));
    let etag = h["etag"].to_str()?.to_string();
    let bytes = r.bytes().await?;
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)?;
    assert_eq!((img.width(), img.height()), (256, 256));
    assert_eq!(
            w.count("SELECT COUNT(*) FROM account_media WHERE purpose = 'avatar-small' AND width = 64 AND height = 64")
                .await?,
            1
        );
    // Revalidation by ETag; the avatar is the account's, so every host serves it.
    let r = w
        .app
        .client()?
        .get(w.url(&path))
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(r.status(), 304);
    for host in [None, Some(w.lyon.as_str())] {
        let r = w.app.client()?.get(w.app.url(host, &path)).send().await?;
        assert_eq!(r.status(), 200, "{host:?}");
    }

    // A JPEG replaces it: the old files are gone, the new one is served.
    let (status, _) = w
        .upload(
            "photo.jpg",
            "image/jpeg",
            picture(300, 500, image::ImageFormat::Jpeg)?,
        )
        .await?;
    assert_eq!(status, 303);
    assert_eq!(w.count("SELECT COUNT(*) FROM account_media").await?, 2);
    let old = w.app.client()?.get(w.url(&path)).send().await?;
    assert_eq!(old.status(), 404);
    let new_path = w.avatar_path().await?;
    assert_ne!(new_path, path);
    let bytes = w
        .app
        .client()?
        .get(w.url(&new_path))
        .send()
        .await?
        .bytes()
        .await?;
    let img = image::load_from_memory(&bytes)?;
    assert_eq!((img.width(), img.height()), (256, 256));

    // Removed: no file left.
    let token = form_token(&w.cyril, &w.url("/mon-compte/profil")).await?;
    let r = w
        .cyril
        .post(w.url("/mon-compte/avatar/supprimer"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await?;
    assert_eq!(r.status(), 303);
    assert_eq!(w.count("SELECT COUNT(*) FROM account_media").await?, 0);
    assert_eq!(
        w.app.client()?.get(w.url(&new_path)).send().await?.status(),
        404
    );
    w.app.stop().await;
    Ok(())
});

both_backends!(
    bad_uploads_are_refused_and_nothing_is_stored,
    |backend| async move {
        let w = world(backend).await?;
        let (status, page) = w
            .upload(
                "photo.png",
                "image/png",
                b"Ceci est un texte, pas une image.\n".to_vec(),
            )
            .await?;
        assert_eq!(status, 422);
        assert!(page.contains("n&#x27;est pas une image lisible"), "{page}");

        let (status, page) = w.upload("bombe.png", "image/png", bomb()?).await?;
        assert_eq!(status, 422);
        assert!(page.contains("L&#x27;image est trop grande"), "{page}");

        let (status, page) = w.upload("vide.png", "image/png", Vec::new()).await?;
        assert_eq!(status, 422);
        assert!(page.contains("Choisissez un fichier"), "{page}");

        // Over the 5 MB limit: refused while reading, 413 with the limit in French.
        let (status, page) = w
            .upload("enorme.png", "image/png", vec![0x89; (5 << 20) + 1024])
            .await?;
        assert_eq!(status, 413);
        assert!(page.contains("trop volumineux (5 Mo au plus)"), "{page}");

        // A truncated real image is not an image either.
        let mut cut = picture(200, 200, image::ImageFormat::Png)?;
        cut.truncate(cut.len() / 2);
        let (status, _) = w.upload("coupe.png", "image/png", cut).await?;
        assert_eq!(status, 422);

        assert_eq!(w.count("SELECT COUNT(*) FROM account_media").await?, 0);
        assert_eq!(
            w.count("SELECT COUNT(*) FROM account_profiles WHERE avatar_id IS NOT NULL")
                .await?,
            0
        );
        // Unknown and malformed ids are 404 pages.
        for path in [
            "/media/0190a1b2-0000-7000-8000-000000000000",
            "/media/..%2Fetc",
        ] {
            let r = w.app.client()?.get(w.url(path)).send().await?;
            assert_eq!(r.status(), 404, "{path}");
        }
        w.app.stop().await;
        Ok(())
    }
);

/// A small but whole PDF document (header, one empty page, cross-reference, trailer).
fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n\
xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \n\
trailer << /Size 4 /Root 1 0 R >>\nstartxref\n186\n%%EOF\n"
        .to_vec()
}

/// A page's HTML with its escaped apostrophes restored, to search for links.
fn unescaped(html: &str) -> String {
    html.replace("&#x27;", "'")
}

/// Every `src`/`href` value of `html` containing `/media/`, in document order.
fn media_links(html: &str) -> Vec<String> {
    let html = unescaped(html);
    let mut found = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attr) {
            let rest = &html[at + attr.len()..];
            let value = &rest[..rest.find('"').unwrap_or(0)];
            if value.contains("/media/") {
                found.push((at, value.to_string()));
            }
        }
    }
    found.sort();
    found.into_iter().map(|(_, link)| link).collect()
}

impl World {
    /// The mayor of Paris, signed in.
    async fn mayor(&self) -> Result<reqwest::Client> {
        let maire = self.app.account("maire@paris.fr", PASSWORD).await?;
        self.app
            .grant(&maire, Role::TenantAdmin, Some(&self.paris))
            .await?;
        self.app
            .signed_in(Some(&self.paris), "maire@paris.fr", PASSWORD)
            .await
    }

    /// Publishes `form` (multipart) as `client`; status and body (or Location).
    async fn publish(&self, client: &reqwest::Client, form: Form) -> Result<(u16, String)> {
        let token = form_token(client, &self.url("/publier")).await?;
        let form = form
            .text("body", "Compte rendu du conseil municipal du 24 novembre.")
            .text("kind", "actualite")
            .text("theme", "Conseil municipal");
        parvis_tests::outcome(
            client
                .post(self.url(&format!("/publier?csrf_token={token}")))
                .multipart(form)
                .send()
                .await?,
        )
        .await
    }
}

fn file(bytes: Vec<u8>, name: &str, mime: &str) -> Result<Part> {
    Ok(Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str(mime)?)
}

both_backends!(posts_carry_images_and_documents, |backend| async move {
    let w = world(backend).await?;
    let maire = w.mayor().await?;
    let form = Form::new()
        .part(
            "image_1",
            file(
                picture(2400, 1200, image::ImageFormat::Png)?,
                "plan.png",
                "image/png",
            )?,
        )
        .text("alt_1", "Plan du futur jardin partagé, rue des Lilas")
        .part(
            "image_2",
            file(
                picture(300, 500, image::ImageFormat::Jpeg)?,
                "photo.jpg",
                "image/jpeg",
            )?,
        )
        .text("alt_2", "Les élus devant la mairie")
        .part("document_1", file(pdf(), "cr.pdf", "application/pdf")?)
        .text("document_title_1", "Compte rendu du conseil");
    let (status, location) = w.publish(&maire, form).await?;
    assert_eq!(status, 303, "{location}");
    assert!(location.starts_with("/publications/"), "{location}");

    // The post page: card-size images with their descriptions, the document by its title.
    // Core pages run only their own scripts and show images of the communes' sites.
    let r = w.cyril.get(w.url(&location)).send().await?;
    let csp = r.headers()["content-security-policy"].to_str()?.to_string();
    // Scripts only from the host's own static path of this very site (CSP by path).
    let origin = w.url("/");
    let origin = origin.trim_end_matches('/');
    assert!(
        csp.contains(&format!("script-src {origin}/static/;")),
        "{csp}"
    );
    // Images: the site, the communes' sites, and the maps' tile server (IGN's by default);
    // `data:` for the map library's blank tile.
    assert!(
        csp.contains("img-src 'self' data: http://*.parvis.test:")
            && csp.contains(" https://data.geopf.fr;"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    let page = r.text().await?;
    let text = unescaped(&page);
    assert!(
        text.contains(
            "alt=\"Plan du futur jardin partagé, rue des Lilas\" width=\"640\" height=\"320\""
        ),
        "{text}"
    );
    assert!(text.contains("alt=\"Les élus devant la mairie\" width=\"300\" height=\"500\""));
    assert!(text.contains(">Compte rendu du conseil</a> <span class=\"muted\">(PDF, 1 Ko)</span>"));
    let links = media_links(&page);
    // Image 1: link to the reading size, card image; image 2 likewise; then the PDF.
    assert_eq!(links.len(), 5, "{links:?}");
    let origin = w.url("");
    assert!(links.iter().all(|l| l.starts_with(&origin)), "{links:?}");

    let get = |url: String| {
        let client = w.app.client();
        async move { Ok::<_, anyhow::Error>(client?.get(url).send().await?) }
    };
    // Reading size: at most 1,600 px, re-encoded as JPEG.
    let large = get(links[0].clone()).await?;
    assert_eq!(large.headers()["content-type"], "image/jpeg");
    assert!(
        large.headers()["content-security-policy"]
            .to_str()?
            .contains("sandbox")
    );
    let img = image::load_from_memory(&large.bytes().await?)?;
    assert_eq!((img.width(), img.height()), (1600, 800));
    let card = image::load_from_memory(&get(links[1].clone()).await?.bytes().await?)?;
    assert_eq!((card.width(), card.height()), (640, 320));
    // The PDF, as sent, offered as a download under its title.
    let doc = get(links[4].clone()).await?;
    assert_eq!(doc.headers()["content-type"], "application/pdf");
    assert!(
        doc.headers()["content-disposition"]
            .to_str()?
            .starts_with("attachment; filename=\"Compte rendu du conseil.pdf\"")
    );
    assert_eq!(doc.bytes().await?.as_ref(), pdf().as_slice());

    // Another commune's host does not serve Paris's files.
    let path = links[0].trim_start_matches(&origin).to_string();
    let r = get(w.app.url(Some(&w.lyon), &path)).await?;
    assert_eq!(r.status(), 404);

    // A follower's feed shows the cards with Paris's links.
    w.app.follow_commune(&w.cyril, &w.paris).await?;
    let feed = w.cyril.get(w.url("/fil")).send().await?.text().await?;
    assert_eq!(media_links(&feed), links, "{feed}");
    // And so does the commune's page.
    let home = w.cyril.get(w.url("/")).send().await?.text().await?;
    assert_eq!(media_links(&home), links);

    // The files are in the uploader's data export.
    let export: serde_json::Value = maire
        .get(w.url("/mon-compte/donnees.json"))
        .send()
        .await?
        .json()
        .await?;
    let purposes: Vec<&str> = export["media"]
        .as_array()
        .context("media in the export")?
        .iter()
        .filter_map(|m| m["purpose"].as_str())
        .collect();
    assert_eq!(
        purposes.iter().filter(|p| p.starts_with("post-")).count(),
        5,
        "{purposes:?}"
    );

    // Hidden by moderation, the post takes its files along: nobody gets them but the
    // commune's moderators, and no cache keeps them; restored, they are public again.
    let post = location.trim_start_matches("/publications/");
    assert_eq!(w.moderate(&maire, post, "masquer").await?, 303);
    for link in &links {
        assert_eq!(get(link.clone()).await?.status(), 404, "{link}");
        let r = maire.get(link).send().await?;
        assert_eq!(r.status(), 200, "{link}");
        assert_eq!(r.headers()["cache-control"], "private, no-store");
    }
    assert_eq!(w.cyril.get(&links[0]).send().await?.status(), 404);
    assert_eq!(w.moderate(&maire, post, "retablir").await?, 303);
    let r = get(links[0].clone()).await?;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"].to_str()?.starts_with("public"));
    w.app.stop().await;
    Ok(())
});

both_backends!(
    bad_attachments_leave_no_post_and_no_file,
    |backend| async move {
        let w = world(backend).await?;
        let maire = w.mayor().await?;
        let png = || picture(200, 100, image::ImageFormat::Png);
        let cases: Vec<(Form, u16, &str)> = vec![
            (
                Form::new().part("image_1", file(png()?, "a.png", "image/png")?),
                422,
                "Décrivez l'image 1",
            ),
            (
                Form::new()
                    .part(
                        "image_2",
                        file(b"pas une image".to_vec(), "b.png", "image/png")?,
                    )
                    .text("alt_2", "Une image"),
                422,
                "Image 2 : Ce fichier n'est pas une image lisible",
            ),
            (
                Form::new()
                    .part("image_1", file(bomb()?, "bombe.png", "image/png")?)
                    .text("alt_1", "Une bombe"),
                422,
                "L'image est trop grande",
            ),
            (
                Form::new()
                    .part("image_1", file(png()?, "a.png", "image/png")?)
                    .text("alt_1", "Un plan")
                    .part(
                        "document_1",
                        file(b"%PDF-1.4 tronque".to_vec(), "c.pdf", "application/pdf")?,
                    )
                    .text("document_title_1", "Budget"),
                422,
                "Document 1 : Ce fichier n'est pas un document PDF valide",
            ),
            (
                Form::new()
                    .part("document_2", file(pdf(), "d.pdf", "application/pdf")?)
                    .text("document_title_2", ""),
                422,
                "Donnez un titre au document 2",
            ),
            (
                Form::new()
                    .part(
                        "image_3",
                        file(vec![0x89; (8 << 20) + 1], "e.png", "image/png")?,
                    )
                    .text("alt_3", "Trop lourde"),
                413,
                "trop volumineux (8 Mo au plus)",
            ),
        ];
        for (form, status, message) in cases {
            let (got, page) = w.publish(&maire, form).await?;
            assert_eq!(got, status, "{message}: {page}");
            let page = unescaped(&page);
            assert!(page.contains(message), "{message}: {page}");
            if status == 422 {
                // The text is kept for another try.
                assert!(page.contains("Compte rendu du conseil municipal du 24 novembre."));
            }
        }
        for table in ["posts", "media", "post_attachments"] {
            let n = w.count(&format!("SELECT COUNT(*) FROM {table}")).await?;
            assert_eq!(n, 0, "{table}");
        }
        w.app.stop().await;
        Ok(())
    }
);

// Issue 13, defect 5: a 170 KB PNG declaring 6300 × 6300 (40 megapixels, just under the old
// bound) was decoded: ~300 MB and 14 s each, 2.3 GB for six at once. Now the declared size is
// refused from the header with a French message before any pixel is decoded, and one account
// sending uploads in a burst gets a 429 after six.
both_backends!(
    huge_declared_images_and_upload_floods_are_refused,
    |backend| async move {
        use std::time::{Duration, Instant};
        let w = world(backend).await?;
        let started = Instant::now();
        let bomb = |i: u32| {
            let w = &w;
            async move {
                let png = declaring(6300, 6300)?;
                w.upload(&format!("grand{i}.png"), "image/png", png).await
            }
        };
        // Six at once, as in the report.
        let (a, b, c, d, e, f) = tokio::join!(bomb(0), bomb(1), bomb(2), bomb(3), bomb(4), bomb(5));
        for outcome in [a, b, c, d, e, f] {
            let (status, page) = outcome?;
            assert_eq!(status, 422, "{page}");
            assert!(
                page.contains("L&#x27;image est trop grande (8192 pixels de côté et 24 millions de pixels au plus)"),
                "{page}"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "six refusals took {:?}",
            started.elapsed()
        );

        // The seventh upload within the minute is refused before it is read.
        let (status, page) = w
            .upload(
                "portrait.png",
                "image/png",
                picture(60, 60, image::ImageFormat::Png)?,
            )
            .await?;
        assert_eq!(status, 429, "{page}");
        assert!(
            page.contains("Vous avez envoyé beaucoup de fichiers en peu de temps"),
            "{page}"
        );
        assert_eq!(w.count("SELECT COUNT(*) FROM account_media").await?, 0);

        // A candidate's photo is an upload like the others: the same account is refused
        // there too, before its photo is read.
        let token = form_token(&w.cyril, &w.url("/mon-compte/profil")).await?;
        let form = Form::new().text("list_name", "Paris ensemble").part(
            "photo",
            file(
                picture(60, 60, image::ImageFormat::Png)?,
                "c.png",
                "image/png",
            )?,
        );
        let (status, page) = parvis_tests::outcome(
            w.cyril
                .post(w.url(&format!("/candidats/nouveau?csrf_token={token}")))
                .multipart(form)
                .send()
                .await?,
        )
        .await?;
        assert_eq!(status, 429, "{page}");
        assert!(
            unescaped(&page).contains("Vous avez envoyé beaucoup de fichiers"),
            "{page}"
        );

        // Another account is not affected: its avatar goes through.
        w.app.account("dina@example.org", PASSWORD).await?;
        let dina = w
            .app
            .signed_in(Some(&w.paris), "dina@example.org", PASSWORD)
            .await?;
        let token = form_token(&dina, &w.url("/mon-compte/profil")).await?;
        let form = Form::new().part(
            "avatar",
            file(
                picture(60, 60, image::ImageFormat::Png)?,
                "d.png",
                "image/png",
            )?,
        );
        let r = dina
            .post(w.url(&format!("/mon-compte/avatar?csrf_token={token}")))
            .multipart(form)
            .send()
            .await?;
        assert_eq!(r.status(), 303);

        // Posts with files count too: the mayor's seventh post with an image is refused, and
        // a post without a file still goes through.
        let maire = w.mayor().await?;
        for i in 0..7 {
            let form = Form::new()
                .part(
                    "image_1",
                    file(
                        picture(40, 30, image::ImageFormat::Png)?,
                        "p.png",
                        "image/png",
                    )?,
                )
                .text("alt_1", "Le plan du quartier");
            let (status, page) = w.publish(&maire, form).await?;
            if i < 6 {
                assert_eq!(status, 303, "post {i}: {page}");
            } else {
                assert_eq!(status, 429, "{page}");
                assert!(
                    unescaped(&page).contains("Vous avez envoyé beaucoup de fichiers"),
                    "{page}"
                );
            }
        }
        let (status, _) = w.publish(&maire, Form::new()).await?;
        assert_eq!(status, 303);
        w.app.stop().await;
        Ok(())
    }
);

/// The figure issue 13 asks for: peak memory of the server (in this process) while six
/// accounts upload a maximum-size avatar at once (6000 × 4000 RGBA, 24 megapixels, 96 MB
/// decoded each). Before the fix each took ~300 MB, 2.3 GB for six; now at most one cleaning per
/// core runs. Measured with the kernel's high-water mark: `VmHWM` is reset to the current
/// resident size (`echo 5 > /proc/self/clear_refs`) once the test's own images are built,
/// then read after the uploads. Slow in a debug build, hence ignored by default:
/// `cargo nextest run -p parvis-tests --test suite --run-ignored only media::peak_memory`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn peak_memory_with_six_maximum_uploads() -> Result<()> {
    use std::time::Instant;
    fn status_kb(field: &str) -> Result<u64> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .context("no such field")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("no value")?
            .parse()?)
    }
    let w = world(parvis_tests::Backend::Sqlite).await?;
    let img = image::RgbaImage::from_fn(6000, 4000, |x, y| {
        image::Rgba([(x / 64) as u8, (y / 64) as u8, 90, 255])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)?;
    assert!(png.len() < 5 << 20, "{} bytes", png.len());
    let mut clients = Vec::new();
    for i in 0..6 {
        let email = format!("membre{i}@example.org");
        w.app.account(&email, PASSWORD).await?;
        clients.push(w.app.signed_in(Some(&w.paris), &email, PASSWORD).await?);
    }
    std::fs::write("/proc/self/clear_refs", "5")?;
    let before = status_kb("VmRSS:")?;
    let started = Instant::now();
    let upload = |client: &reqwest::Client| {
        let (client, png, w) = (client.clone(), png.clone(), &w);
        async move {
            let token = form_token(&client, &w.url("/mon-compte/profil")).await?;
            let form = Form::new().part("avatar", file(png, "grand.png", "image/png")?);
            parvis_tests::outcome(
                client
                    .post(w.url(&format!("/mon-compte/avatar?csrf_token={token}")))
                    .multipart(form)
                    .send()
                    .await?,
            )
            .await
        }
    };
    let outcomes = tokio::join!(
        upload(&clients[0]),
        upload(&clients[1]),
        upload(&clients[2]),
        upload(&clients[3]),
        upload(&clients[4]),
        upload(&clients[5])
    );
    let took = started.elapsed();
    let peak = status_kb("VmHWM:")?;
    for (status, page) in [
        outcomes.0?,
        outcomes.1?,
        outcomes.2?,
        outcomes.3?,
        outcomes.4?,
        outcomes.5?,
    ] {
        assert_eq!(status, 303, "{}", &page[..page.len().min(300)]);
    }
    println!(
        "six 6000x4000 uploads of {} KB: {took:?}; resident before {} MB, peak {} MB (+{} MB)",
        png.len() / 1024,
        before / 1024,
        peak / 1024,
        (peak - before) / 1024
    );
    assert!(
        peak - before < 600 * 1024,
        "peak grew by {} MB",
        (peak - before) / 1024
    );
    w.app.stop().await;
    Ok(())
}
