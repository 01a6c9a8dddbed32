//! Citizen profiles, privacy settings and citizen follows; candidate profiles (created with a
//! photo, marked, listed on the commune page in alphabetical order, invisible from another
//! commune, withdrawn by an admin with a reason); the claimed official's avatar; data export
//! and account deletion.

use std::io::Cursor;

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, display_name, expect_page, form_token, html};
use reqwest::multipart::{Form, Part};

const PASSWORD: &str = "mot de passe solide";

fn png(w: u32, h: u32) -> Result<Vec<u8>> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

/// Paris and Lyon; Cyril and Zoé, citizens; Bob, candidate in Paris; Anne, a resident of
/// Paris the commune verified; the mayor of Paris (tenant admin).
struct World {
    app: TestApp,
    paris: String,
    lyon: String,
    cyril: reqwest::Client,
    zoe: reqwest::Client,
    bob: reqwest::Client,
    anne: reqwest::Client,
    mayor: reqwest::Client,
    cyril_id: String,
}

async fn world(backend: parvis_tests::Backend) -> Result<World> {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    let lyon = app.commune("69123").await?;
    let cyril_id = app.account("cyril@example.org", PASSWORD).await?;
    app.account("zoe@example.org", PASSWORD).await?;
    let bob = app.account("bob@example.org", PASSWORD).await?;
    app.grant(&bob, Role::Candidate, Some(&paris)).await?;
    let anne = app.account("anne@example.org", PASSWORD).await?;
    app.grant(&anne, Role::Resident, Some(&paris)).await?;
    let mayor = app.account("maire@paris.test", PASSWORD).await?;
    app.grant(&mayor, Role::TenantAdmin, Some(&paris)).await?;
    let signed = |email: &'static str| {
        let app = &app;
        let paris = paris.clone();
        async move { app.signed_in(Some(&paris), email, PASSWORD).await }
    };
    Ok(World {
        cyril: signed("cyril@example.org").await?,
        zoe: signed("zoe@example.org").await?,
        bob: signed("bob@example.org").await?,
        anne: signed("anne@example.org").await?,
        mayor: signed("maire@paris.test").await?,
        cyril_id: cyril_id.0,
        app,
        paris,
        lyon,
    })
}

impl World {
    fn url(&self, path: &str) -> String {
        self.app.url(Some(&self.paris), path)
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> Result<(u16, String)> {
        let r = client.get(self.url(path)).send().await?;
        Ok((r.status().as_u16(), r.text().await?))
    }

    /// Posts `form` (plus a CSRF token); status and body or Location.
    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, String)> {
        let token = form_token(client, &self.url("/mon-compte/profil")).await?;
        let mut fields = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        parvis_tests::outcome(client.post(self.url(path)).form(&fields).send().await?).await
    }

    async fn settings(
        &self,
        client: &reqwest::Client,
        visibility: &str,
        show: bool,
    ) -> Result<u16> {
        let mut form = vec![("bio", "Habitant du quartier."), ("visibility", visibility)];
        if show {
            form.push(("show_follows", "1"));
        }
        Ok(self.post(client, "/mon-compte/profil", &form).await?.0)
    }

    /// Creates a candidate profile (multipart); status and Location or page.
    async fn stand(
        &self,
        client: &reqwest::Client,
        date: &str,
        list: &str,
        photo: Option<Vec<u8>>,
    ) -> Result<(u16, String)> {
        let token = form_token(client, &self.url("/mon-compte/profil")).await?;
        let mut form = Form::new()
            .text("election_kind", "municipales")
            .text("election_date", date.to_string())
            .text("list_name", list.to_string())
            .text(
                "programme",
                "**Des pistes cyclables** partout.\n\n<script>alert(1)</script>",
            );
        if let Some(bytes) = photo {
            form = form.part(
                "photo",
                Part::bytes(bytes)
                    .file_name("moi.png")
                    .mime_str("image/png")?,
            );
        }
        parvis_tests::outcome(
            client
                .post(self.url(&format!("/candidats/nouveau?csrf_token={token}")))
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
}

both_backends!(privacy_settings_and_citizen_follows, |backend| async move {
    let w = world(backend).await?;
    let me = format!("/citoyens/{}", w.cyril_id);
    // Default: signed-in people only.
    let cyril = display_name("cyril@example.org");
    let (status, page) = w.get(&w.zoe, &me).await?;
    assert_eq!(status, 200);
    assert_eq!(html::texts(&page, "h1")?, [cyril.as_str()], "{page}");
    let (status, page) = w.get(&w.app.client()?, &me).await?;
    assert_eq!(status, 404);
    assert!(page.contains("ne le montre pas"), "{page}");

    // Private: a 404 for everyone else, and nobody can follow.
    assert_eq!(w.settings(&w.cyril, "private", false).await?, 303);
    let (status, page) = w.get(&w.zoe, &me).await?;
    assert_eq!(status, 404);
    assert!(page.contains("ne le montre pas"), "{page}");
    let (status, _) = w
        .post(&w.zoe, &format!("{me}/suivre"), &[("action", "suivre")])
        .await?;
    assert_eq!(status, 404);
    assert_eq!(w.count("SELECT COUNT(*) FROM citizen_follows").await?, 0);
    let (status, page) = w.get(&w.cyril, &me).await?;
    assert_eq!(status, 200);
    assert!(page.contains("Vous seul pouvez le voir"), "{page}");

    // Public: anyone sees it; Zoé follows Cyril, who follows Paris.
    assert_eq!(w.settings(&w.cyril, "public", false).await?, 303);
    let (status, page) = w.get(&w.app.client()?, &me).await?;
    assert_eq!(status, 200);
    assert!(
        page.contains("Habitant du quartier.") && page.contains("0 abonné"),
        "{page}"
    );
    let (status, _) = w
        .post(&w.zoe, &format!("{me}/suivre"), &[("action", "suivre")])
        .await?;
    assert_eq!(status, 303);
    let (_, page) = w.get(&w.zoe, &me).await?;
    assert!(
        page.contains("1 abonné") && page.contains("Ne plus suivre"),
        "{page}"
    );
    assert_eq!(
        w.post(
            &w.cyril,
            "/suivre",
            &[("target", "commune"), ("action", "suivre")]
        )
        .await?
        .0,
        303
    );
    // Cyril's follows stay hidden until he shows them.
    assert!(!w.get(&w.zoe, &me).await?.1.contains("Communes suivies"));
    assert_eq!(w.settings(&w.cyril, "public", true).await?, 303);
    let (_, page) = w.get(&w.zoe, &me).await?;
    assert!(
        page.contains("Communes suivies") && page.contains(">Paris<"),
        "{page}"
    );
    // Zoé shows hers: Cyril is in her list while his profile is visible, not once private.
    let zoe_id: String = {
        let mut tx = w.app.state.db.platform_tx().await?;
        let id = sqlx::query_scalar("SELECT id FROM accounts WHERE email = 'zoe@example.org'")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        id
    };
    assert_eq!(w.settings(&w.zoe, "members", true).await?, 303);
    let zoe_page = format!("/citoyens/{zoe_id}");
    let followed = |page: &str| html::texts(page, "#citoyens-suivis ~ ul li");
    let (status, page) = w.get(&w.bob, &zoe_page).await?;
    assert_eq!(status, 200);
    assert_eq!(followed(&page)?, [cyril.as_str()], "{page}");
    assert_eq!(w.settings(&w.cyril, "private", true).await?, 303);
    let (status, page) = w.get(&w.bob, &zoe_page).await?;
    assert_eq!(status, 200);
    assert!(page.contains("Citoyen·nes suivi·es"), "{page}");
    assert_eq!(followed(&page)?, Vec::<String>::new(), "{page}");
    assert!(!page.contains(&cyril), "{page}");
    // Bad settings: 422 with the reason.
    let (status, page) = w
        .post(
            &w.cyril,
            "/mon-compte/profil",
            &[("bio", ""), ("visibility", "tous")],
        )
        .await?;
    assert_eq!(status, 422);
    assert!(
        page.contains("Choisissez qui peut voir votre profil"),
        "{page}"
    );
    let long = "x".repeat(501);
    let (status, _) = w
        .post(
            &w.cyril,
            "/mon-compte/profil",
            &[("bio", &long), ("visibility", "public")],
        )
        .await?;
    assert_eq!(status, 422);
    // The feed still works for both, and unfollowing works.
    for who in [&w.zoe, &w.cyril] {
        let (status, page) = w.get(who, "/fil").await?;
        assert_eq!(status, 200, "{page}");
        assert_eq!(html::texts(&page, "h1")?, ["Mon fil"], "{page}");
    }
    let (status, _) = w
        .post(
            &w.zoe,
            &format!("{me}/suivre"),
            &[("action", "ne-plus-suivre")],
        )
        .await?;
    assert_eq!(status, 303);
    assert_eq!(w.count("SELECT COUNT(*) FROM citizen_follows").await?, 0);
    w.app.stop().await;
    Ok(())
});

both_backends!(candidate_profiles, |backend| async move {
    let w = world(backend).await?;
    // Citizens without the role or a verified address cannot stand.
    assert_eq!(w.get(&w.zoe, "/candidats/nouveau").await?.0, 403);
    assert_eq!(
        w.stand(&w.zoe, "2026-03-15", "Zoé pour tous", None)
            .await?
            .0,
        403
    );
    assert_eq!(w.get(&w.bob, "/candidats/nouveau").await?.0, 200);
    // Bad input is a 422 form with its reason.
    let (status, page) = w.stand(&w.bob, "le 15 mars", "Paris à vélo", None).await?;
    assert_eq!(status, 422);
    assert!(page.contains("Date de l&#x27;élection"), "{page}");
    let (status, page) = w
        .stand(
            &w.bob,
            "2026-03-15",
            "Paris à vélo",
            Some(b"pas une image".to_vec()),
        )
        .await?;
    assert_eq!(status, 422);
    assert!(page.contains("n&#x27;est pas une image"), "{page}");
    assert_eq!(w.count("SELECT COUNT(*) FROM candidates").await?, 0);
    assert_eq!(w.count("SELECT COUNT(*) FROM media").await?, 0);

    let (status, bob_url) = w
        .stand(&w.bob, "2026-03-15", "Paris à vélo", Some(png(900, 600)?))
        .await?;
    assert_eq!(status, 303, "{bob_url}");
    let (status, anne_url) = w
        .stand(&w.anne, "15/03/2026", "Paris ensemble", None)
        .await?;
    assert_eq!(status, 303, "{anne_url}");
    // Twice for the same election: refused.
    assert_eq!(w.stand(&w.bob, "2026-03-15", "Encore", None).await?.0, 409);

    let (status, page) = w.get(&w.app.client()?, &bob_url).await?;
    assert_eq!(status, 200);
    assert!(
        page.contains("Candidat·e") && page.contains("Paris à vélo"),
        "{page}"
    );
    assert!(
        page.contains("<strong>Des pistes cyclables</strong>"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("Retirer le profil"));
    // The photo is the commune's media: served on its host, not on Lyon's.
    let at = page.find("src=\"/media/").context("no photo")? + 5;
    let photo = page[at..at + page[at..].find('"').context("src")?].to_string();
    let r = w.app.client()?.get(w.url(&photo)).send().await?;
    assert_eq!(r.status(), 200);
    let img = image::load_from_memory(&r.bytes().await?)?;
    assert_eq!((img.width(), img.height()), (512, 341));
    let lyon = w.app.client()?;
    assert_eq!(
        lyon.get(w.app.url(Some(&w.lyon), &photo))
            .send()
            .await?
            .status(),
        404
    );
    assert_eq!(
        lyon.get(w.app.url(Some(&w.lyon), &bob_url))
            .send()
            .await?
            .status(),
        404
    );

    // The commune page lists them after the municipal team, alphabetically.
    let (_, home) = w.get(&w.app.client()?, "/").await?;
    let team = home.find("L'équipe municipale").context("team")?;
    let section = home.find("Candidat·es aux élections").context("section")?;
    let anne = home
        .find(&display_name("anne@example.org"))
        .context("anne listed")?;
    let bob = home
        .find(&display_name("bob@example.org"))
        .context("bob listed")?;
    assert!(team < section && section < anne && anne < bob, "{home}");

    // Withdrawal: admins only, with a reason, in the audit log.
    let withdraw = format!("{bob_url}/retirer");
    assert_eq!(
        w.post(&w.zoe, &withdraw, &[("reason", "Non")]).await?.0,
        403
    );
    let (_, page) = w.get(&w.mayor, &bob_url).await?;
    assert!(page.contains("Retirer le profil"));
    let (status, page) = w.post(&w.mayor, &withdraw, &[("reason", "  ")]).await?;
    assert_eq!(status, 422);
    assert!(page.contains("Indiquez le motif"), "{page}");
    let (status, _) = w
        .post(
            &w.mayor,
            &withdraw,
            &[("reason", "Propos injurieux dans le programme")],
        )
        .await?;
    assert_eq!(status, 303);
    assert_eq!(w.get(&w.app.client()?, &bob_url).await?.0, 404);
    // The photo goes with the profile, except for the commune's moderators (uncached).
    let r = w.app.client()?.get(w.url(&photo)).send().await?;
    assert_eq!(r.status(), 404);
    let r = w.mayor.get(w.url(&photo)).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let (status, home) = w.get(&w.app.client()?, "/").await?;
    assert_eq!(status, 200);
    assert!(
        !home.contains(&display_name("bob@example.org"))
            && home.contains(&display_name("anne@example.org")),
        "{home}"
    );
    assert_eq!(
            w.count("SELECT COUNT(*) FROM audit_log WHERE action = 'candidate.withdraw' AND reason = 'Propos injurieux dans le programme'")
                .await?,
            1
        );
    // Withdrawn, Bob may present a new profile.
    assert_eq!(
        w.stand(&w.bob, "2026-03-15", "Paris à vélo", None).await?.0,
        303
    );
    w.app.stop().await;
    Ok(())
});

both_backends!(
    claimed_official_shows_the_account_avatar,
    |backend| async move {
        let w = world(backend).await?;
        parvis_tests::rne::import(&w.app, &[parvis_tests::rne::ALICE_LAMBERT]).await?;
        let cyril = parvis_core::types::AccountId(w.cyril_id.clone());
        let official = parvis_tests::rne::give_profile(&w.app, "LAMBERT", &cyril).await?;
        let (_, page) = w.get(&w.zoe, &format!("/elus/{official}")).await?;
        assert!(!page.contains("/media/"));
        // On the commune's page, the council shows initials until then (the page is kept
        // rendered at this version of the commune: the photo must raise it).
        let (_, home) = w.get(&w.zoe, "/").await?;
        let card = format!(
            r#"<span class="initials" aria-hidden="true">AL</span>
      <span><a href="/elus/{official}">Alice LAMBERT</a>"#
        );
        assert!(home.contains(&card), "{home}");
        let token = form_token(&w.cyril, &w.url("/mon-compte/profil")).await?;
        let r = w
            .cyril
            .post(w.url(&format!("/mon-compte/avatar?csrf_token={token}")))
            .multipart(Form::new().part("avatar", Part::bytes(png(100, 100)?).file_name("a.png")))
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = w.get(&w.zoe, &format!("/elus/{official}")).await?;
        assert!(page.contains("class=\"avatar\" src=\"/media/"), "{page}");
        let (_, home) = w.get(&w.zoe, "/").await?;
        assert!(!home.contains(&card), "{home}");
        let photo = home
            .split(&format!(r#"<span><a href="/elus/{official}">"#))
            .next()
            .and_then(|before| before.rsplit("<li>").next())
            .unwrap_or_default();
        assert!(
            photo.contains(r#"<img src="/media/"#) && photo.contains(r#"alt="" width="48""#),
            "{photo}"
        );
        w.app.stop().await;
        Ok(())
    }
);

both_backends!(export_and_deletion, |backend| async move {
    let w = world(backend).await?;
    // Bob: an avatar, a bio, a follow, a candidate profile with a photo.
    let token = form_token(&w.bob, &w.url("/mon-compte/profil")).await?;
    let r = w
        .bob
        .post(w.url(&format!("/mon-compte/avatar?csrf_token={token}")))
        .multipart(Form::new().part("avatar", Part::bytes(png(80, 80)?).file_name("a.png")))
        .send()
        .await?;
    assert_eq!(r.status(), 303);
    assert_eq!(w.settings(&w.bob, "public", true).await?, 303);
    assert_eq!(w.settings(&w.cyril, "public", false).await?, 303);
    let cyril = format!("/citoyens/{}/suivre", w.cyril_id);
    assert_eq!(
        w.post(&w.bob, &cyril, &[("action", "suivre")]).await?.0,
        303
    );
    let (status, url) = w
        .stand(&w.bob, "2026-03-15", "Paris à vélo", Some(png(50, 50)?))
        .await?;
    assert_eq!(status, 303);

    let data: serde_json::Value = w
        .bob
        .get(w.url("/mon-compte/donnees.json"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(data["citizen_profile"]["bio"], "Habitant du quartier.");
    assert_eq!(data["citizen_profile"]["visibility"], "public");
    assert_eq!(data["media"].as_array().map(Vec::len), Some(3), "{data}");
    assert_eq!(
        data["citizen_follows"][0]["display_name"],
        display_name("cyril@example.org")
    );
    assert_eq!(data["candidate_profiles"][0]["list_name"], "Paris à vélo");
    let cyril_data: serde_json::Value = w
        .cyril
        .get(w.url("/mon-compte/donnees.json"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        cyril_data["candidate_profiles"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(cyril_data["media"].as_array().map(Vec::len), Some(0));

    let token = form_token(&w.bob, &w.url("/mon-compte")).await?;
    let r = w
        .bob
        .post(w.url("/mon-compte/supprimer"))
        .form(&[("csrf_token", token.as_str()), ("password", PASSWORD)])
        .send()
        .await?;
    expect_page(
        r,
        200,
        "Votre compte et vos données personnelles sont supprimés",
    )
    .await?;
    for table in [
        "account_media",
        "media",
        "account_profiles WHERE show_follows = 1",
        "citizen_follows",
        "candidates",
    ] {
        assert_eq!(
            w.count(&format!("SELECT COUNT(*) FROM {table}")).await?,
            0,
            "{table}"
        );
    }
    assert_eq!(w.get(&w.app.client()?, &url).await?.0, 404);
    let (_, home) = w.get(&w.app.client()?, "/").await?;
    assert!(!home.contains("Paris à vélo"));
    w.app.stop().await;
    Ok(())
});

// « Also seen » in issue 13: following had no cap. An account follows at most 5,000
// citizens: the next follow is refused with a French message (409), unfollowing frees a place.
both_backends!(citizen_follows_are_capped, |backend| async move {
    use parvis_core::profiles::store::MAX_FOLLOWED_CITIZENS;
    let w = world(backend).await?;
    let me = format!("/citoyens/{}", w.cyril_id);
    // Zoé already follows 5,000 citizens (written directly, in batches).
    let mut tx = w.app.state.db.platform_tx().await?;
    let zoe: String = sqlx::query_scalar("SELECT id FROM accounts WHERE email = 'zoe@example.org'")
        .fetch_one(&mut *tx)
        .await?;
    let ids: Vec<String> = (0..MAX_FOLLOWED_CITIZENS)
        .map(|_| parvis_core::types::AccountId::generate().0)
        .collect();
    for (c, chunk) in ids.chunks(500).enumerate() {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, 'x', '!', 0, 0)", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO accounts (id, email, display_name, password_hash, email_verified_at, created_at) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (i, id) in chunk.iter().enumerate() {
            q = q.bind(id).bind(format!("suivi{}@example.org", c * 500 + i));
        }
        q.execute(&mut *tx).await?;
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, 0)", i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO citizen_follows (follower_account_id, followed_account_id, created_at) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(&zoe);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;

    let (status, page) = w
        .post(&w.zoe, &format!("{me}/suivre"), &[("action", "suivre")])
        .await?;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("Vous suivez déjà 5000 personnes : c&#x27;est le maximum"),
        "{page}"
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM citizen_follows WHERE followed_account_id IN (SELECT id FROM accounts WHERE email = 'cyril@example.org')")
            .await?,
        0
    );
    let (status, _) = w
        .post(
            &w.zoe,
            &format!("/citoyens/{}/suivre", ids[0]),
            &[("action", "ne-plus-suivre")],
        )
        .await?;
    assert_eq!(status, 303);
    let (status, _) = w
        .post(&w.zoe, &format!("{me}/suivre"), &[("action", "suivre")])
        .await?;
    assert_eq!(status, 303);
    w.app.stop().await;
    Ok(())
});
