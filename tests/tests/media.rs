//! Uploaded media through avatars: a real PNG and a real JPEG are cleaned, resized and served
//! with the right headers on every host; a text file named .png, an oversized upload, an empty
//! one and a decompression bomb are refused with a French message and nothing stored.

use std::io::Cursor;

use anyhow::{Context as _, Result};
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
    let mut png = picture(8, 8, image::ImageFormat::Png)?;
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
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
        let r = self
            .cyril
            .post(self.url(&format!("/mon-compte/avatar?csrf_token={token}")))
            .multipart(form)
            .send()
            .await?;
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        Ok((status, location.unwrap_or(r.text().await?)))
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
            .find("src=\"&#x2F;media&#x2F;")
            .context("no avatar on the settings page")?
            + 5;
        let rest = &page[at..];
        Ok(rest[..rest.find('"').context("unterminated src")?].replace("&#x2F;", "/"))
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
