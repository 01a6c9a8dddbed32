//! Posts, follows and the feed: officials and the commune publish, citizens follow across
//! communes, the feed says why each post is there, pages by a stable cursor, and Atom feeds.

use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, form_token};

async fn publish(
    app: &TestApp,
    client: &reqwest::Client,
    slug: &str,
    body: &str,
) -> anyhow::Result<reqwest::StatusCode> {
    Ok(app.post_publish(client, slug, body).await?.status())
}

async fn follow(
    app: &TestApp,
    client: &reqwest::Client,
    slug: &str,
    target: &str,
) -> anyhow::Result<()> {
    let token = form_token(client, &app.url(Some(slug), "/connexion")).await?;
    let r = client
        .post(app.url(Some(slug), "/suivre"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("target", target),
            ("action", "suivre"),
        ])
        .send()
        .await?;
    anyhow::ensure!(r.status() == 303, "follow {target}: {}", r.status());
    Ok(())
}

both_backends!(
    citizens_follow_communes_and_officials,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let abergement = app.commune("01001").await?;
        let paris = app.commune("75056").await?;
        // Paris's council from the registry; one councillor owns her profile.
        parvis_tests::rne::import(&app, &[parvis_tests::rne::ALICE_LAMBERT]).await?;
        let alice = app
            .account("alice@paris.test", "mot de passe solide")
            .await?;
        parvis_tests::rne::give_profile(&app, "LAMBERT", &alice).await?;
        app.grant(&alice, Role::Official, Some(&paris)).await?;
        let mayor = app
            .account("maire@abergement.test", "mot de passe solide")
            .await?;
        app.grant(&mayor, Role::TenantAdmin, Some(&abergement))
            .await?;

        // A citizen may not publish.
        app.account("cyril@example.org", "mot de passe solide")
            .await?;
        let cyril_paris = app
            .signed_in(Some(&paris), "cyril@example.org", "mot de passe solide")
            .await?;
        assert_eq!(
            cyril_paris
                .get(app.url(Some(&paris), "/publier"))
                .send()
                .await?
                .status(),
            403
        );

        let alice_client = app
            .signed_in(Some(&paris), "alice@paris.test", "mot de passe solide")
            .await?;
        assert_eq!(
            publish(
                &app,
                &alice_client,
                &paris,
                "Premier **compte rendu** <script>alert(1)</script>"
            )
            .await?,
            303
        );
        let mayor_client = app
            .signed_in(
                Some(&abergement),
                "maire@abergement.test",
                "mot de passe solide",
            )
            .await?;
        assert_eq!(
            publish(
                &app,
                &mayor_client,
                &abergement,
                "La mairie sera fermée lundi."
            )
            .await?,
            303
        );
        assert_eq!(publish(&app, &mayor_client, &abergement, "").await?, 422);
        // The mayor of one commune cannot publish in another.
        let mayor_in_paris = app
            .signed_in(Some(&paris), "maire@abergement.test", "mot de passe solide")
            .await?;
        assert_eq!(
            mayor_in_paris
                .get(app.url(Some(&paris), "/publier"))
                .send()
                .await?
                .status(),
            403
        );

        // Cyril follows Alice in Paris and the commune of L'Abergement.
        let page = cyril_paris
            .get(app.url(Some(&paris), "/"))
            .send()
            .await?
            .text()
            .await?;
        let at = page
            .find("/elus/")
            .ok_or_else(|| anyhow::anyhow!("no official link"))?;
        let alice_id: String = page[at + 6..]
            .chars()
            .take_while(|c| *c != '"' && *c != '#')
            .collect();
        follow(&app, &cyril_paris, &paris, &alice_id).await?;
        let cyril_ab = app
            .signed_in(
                Some(&abergement),
                "cyril@example.org",
                "mot de passe solide",
            )
            .await?;
        follow(&app, &cyril_ab, &abergement, "commune").await?;

        let feed = cyril_paris
            .get(app.url(Some(&paris), "/fil"))
            .send()
            .await?
            .text()
            .await?;
        let fermee = feed
            .find("La mairie sera fermée lundi.")
            .ok_or_else(|| anyhow::anyhow!("commune post missing: {feed}"))?;
        let compte = feed
            .find("<strong>compte rendu</strong>")
            .ok_or_else(|| anyhow::anyhow!("official post missing"))?;
        assert!(fermee < compte, "newest first");
        assert!(
            feed.contains("&lt;script&gt;") && !feed.contains("<script>alert"),
            "HTML in posts is shown as text"
        );
        assert!(
            feed.contains(
                "Pourquoi je vois ceci ? Vous suivez la commune de L&#x27;Abergement-Clémenciat."
            ),
            "{feed}"
        );
        assert!(feed.contains("Vous suivez Alice LAMBERT."));
        assert!(feed.contains("de la plus récente à la plus ancienne"));

        // Paging stays correct while new posts arrive: the second page starts after the cursor.
        for i in 0..22 {
            assert_eq!(
                publish(&app, &mayor_client, &abergement, &format!("Annonce n° {i}")).await?,
                303
            );
        }
        let first = cyril_ab
            .get(app.url(Some(&abergement), "/fil"))
            .send()
            .await?
            .text()
            .await?;
        assert!(first.contains("Annonce n° 21") && !first.contains("Annonce n° 1<"));
        let next_at = first
            .find("/fil?avant=")
            .ok_or_else(|| anyhow::anyhow!("no next page"))?;
        let next: String = first[next_at..].chars().take_while(|c| *c != '"').collect();
        assert_eq!(
            publish(
                &app,
                &mayor_client,
                &abergement,
                "Annonce arrivée entre deux pages"
            )
            .await?,
            303
        );
        let second = cyril_ab
            .get(app.url(Some(&abergement), &next))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            second.contains("Annonce n° 1<") && second.contains("Annonce n° 0<"),
            "{second}"
        );
        assert!(
            !second.contains("Annonce n° 2<") && !second.contains("entre deux pages"),
            "no repeat, no shift"
        );
        assert!(
            second.contains("compte rendu"),
            "older posts of other sources follow"
        );

        // Atom feeds of the commune and the official.
        let atom = app
            .client()?
            .get(app.url(Some(&abergement), "/feed.atom"))
            .send()
            .await?;
        assert_eq!(
            atom.headers()["content-type"],
            "application/atom+xml; charset=utf-8"
        );
        let xml = atom.text().await?;
        assert!(
            xml.starts_with("<?xml")
                && xml.contains("<feed")
                && xml.contains("Annonce arrivée entre deux pages")
        );
        let atom = app
            .client()?
            .get(app.url(Some(&paris), &format!("/elus/{alice_id}/feed.atom")))
            .send()
            .await?
            .text()
            .await?;
        assert!(atom.contains("Alice LAMBERT") && atom.contains("compte rendu"));
        assert!(
            !atom.contains("fermée lundi"),
            "an official's feed has only their posts"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(followers_are_notified_of_new_posts, |backend| async move {
    let app = TestApp::start(backend).await?;
    let slug = app.commune("01001").await?;
    let mayor = app
        .account("maire@abergement.test", "mot de passe solide")
        .await?;
    app.grant(&mayor, Role::TenantAdmin, Some(&slug)).await?;
    app.account("nina@example.org", "mot de passe solide")
        .await?;
    app.account("omar@example.org", "mot de passe solide")
        .await?;
    let nina = app
        .signed_in(Some(&slug), "nina@example.org", "mot de passe solide")
        .await?;
    follow(&app, &nina, &slug, "commune").await?;
    let omar = app
        .signed_in(Some(&slug), "omar@example.org", "mot de passe solide")
        .await?;

    let mayor_client = app
        .signed_in(Some(&slug), "maire@abergement.test", "mot de passe solide")
        .await?;
    follow(&app, &mayor_client, &slug, "commune").await?;
    assert_eq!(
        publish(&app, &mayor_client, &slug, "Fête du village samedi").await?,
        303
    );

    // The fan-out is a job: wait for the worker.
    let mut unread = String::new();
    for _ in 0..100 {
        unread = nina
            .get(app.url(Some(&slug), "/"))
            .send()
            .await?
            .text()
            .await?;
        if unread.contains("class=\"badge\">1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        unread.contains("class=\"badge\">1"),
        "one unread notification: {unread}"
    );
    let centre = nina
        .get(app.url(Some(&slug), "/notifications"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        centre.contains("a publié sur L&#x27;Abergement-Clémenciat")
            && centre.contains("/publications/"),
        "{centre}"
    );
    let token = parvis_tests::csrf(&centre).ok_or_else(|| anyhow::anyhow!("csrf"))?;
    let read = nina
        .post(app.url(Some(&slug), "/notifications/lues"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await?;
    assert_eq!(read.status(), 303);
    let page = nina
        .get(app.url(Some(&slug), "/"))
        .send()
        .await?
        .text()
        .await?;
    assert!(!page.contains("class=\"badge\""), "all read");
    // Non-followers and the author themself are not notified.
    let page = omar
        .get(app.url(Some(&slug), "/notifications"))
        .send()
        .await?
        .text()
        .await?;
    assert!(page.contains("Aucune notification"));
    let page = mayor_client
        .get(app.url(Some(&slug), "/notifications"))
        .send()
        .await?
        .text()
        .await?;
    assert!(page.contains("Aucune notification"));
    app.stop().await;
    Ok(())
});

// « Also seen » in issue 13: following had no cap, and a `/fil` page cost one query per 200
// followed sources. Now an account follows at most 1,000 communes and 1,000 officials (a
// French message says so at the cap, 409), unfollowing frees a place, and the feed of an
// account at the cap is one statement that still shows what it follows, with why.
both_backends!(
    following_is_capped_and_a_full_feed_still_reads,
    |backend| async move {
        use parvis_core::feed::store::{MAX_FOLLOWED_COMMUNES, MAX_FOLLOWED_OFFICIALS};
        use parvis_tenants::communes::{self, Progress, Selection, Source};

        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let lyon = app.commune("69123").await?;
        parvis_tests::rne::import(&app, &[parvis_tests::rne::ALICE_LAMBERT]).await?;
        let mayor = app
            .account("maire@lyon.test", "mot de passe solide")
            .await?;
        app.grant(&mayor, Role::TenantAdmin, Some(&lyon)).await?;
        let cyril = app
            .account("cyril@example.org", "mot de passe solide")
            .await?;
        let client = app
            .signed_in(Some(&paris), "cyril@example.org", "mot de passe solide")
            .await?;

        // Cyril already follows 999 other communes (served, so that follows may point at them)
        // and 1,000 officials of Paris.
        communes::import(
            &app.state.db,
            &Source::Embedded,
            &Selection::All,
            Progress::Hidden,
        )
        .await?;
        let mut tx = app.state.db.platform_tx().await?;
        sqlx::query(
            "INSERT INTO tenants (insee, slug, status, created_at) \
         SELECT insee, 'x' || insee, 'active', 0 FROM communes \
         WHERE insee NOT IN (SELECT insee FROM tenants) ORDER BY insee LIMIT $1",
        )
        .bind(MAX_FOLLOWED_COMMUNES - 1)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO follows (account_id, tenant_id, target_kind, target_id, created_at) \
         SELECT $1, id, 'commune', '', 0 FROM tenants WHERE slug LIKE 'x%'",
        )
        .bind(&cyril.0)
        .execute(&mut *tx)
        .await?;
        let paris_id: i64 = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
            .bind(&paris)
            .fetch_one(&mut *tx)
            .await?;
        for i in 0..MAX_FOLLOWED_OFFICIALS {
            sqlx::query(
                "INSERT INTO follows (account_id, tenant_id, target_kind, target_id, created_at) \
             VALUES ($1, $2, 'official', $3, 0)",
            )
            .bind(&cyril.0)
            .bind(paris_id)
            .bind(format!("ancien-elu-{i}"))
            .execute(&mut *tx)
            .await?;
        }
        let alice: String =
            sqlx::query_scalar("SELECT id FROM officials WHERE last_name = 'LAMBERT'")
                .fetch_one(&mut *tx)
                .await?;
        let already: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM follows WHERE account_id = $1 AND target_kind = 'commune'",
        )
        .bind(&cyril.0)
        .fetch_one(&mut *tx)
        .await?;
        assert_eq!(already, MAX_FOLLOWED_COMMUNES - 1);
        tx.commit().await?;

        // Sessions are per host: Cyril signs in on Lyon's site too.
        let in_lyon = app
            .signed_in(Some(&lyon), "cyril@example.org", "mot de passe solide")
            .await?;
        let act = |slug: String, target: String, action: &'static str| {
            let app = &app;
            let client = if slug == lyon { &in_lyon } else { &client };
            async move {
                let token = form_token(client, &app.url(Some(&slug), "/connexion")).await?;
                let r = client
                    .post(app.url(Some(&slug), "/suivre"))
                    .form(&[
                        ("csrf_token", token.as_str()),
                        ("target", target.as_str()),
                        ("action", action),
                    ])
                    .send()
                    .await?;
                parvis_tests::outcome(r).await
            }
        };
        // The 1,000th commune is followed; the 1,001st is refused.
        let followed = act(lyon.clone(), "commune".into(), "suivre").await?;
        assert_eq!(followed, (303, "/".to_string()));
        let (status, page) = act(paris.clone(), "commune".into(), "suivre").await?;
        assert_eq!(status, 409, "{page}");
        assert!(
            page.contains("Vous suivez déjà 1000 communes : c&#x27;est le maximum"),
            "{page}"
        );
        // So is the 1,001st official.
        let (status, page) = act(paris.clone(), alice.clone(), "suivre").await?;
        assert_eq!(status, 409, "{page}");
        assert!(page.contains("Vous suivez déjà 1000 élus"), "{page}");
        // Following again what one follows is not refused.
        let again = act(lyon.clone(), "commune".into(), "suivre").await?;
        assert_eq!(again, (303, "/".to_string()));

        // The feed of a full account shows Lyon's news, and says why.
        let mayor_client = app
            .signed_in(Some(&lyon), "maire@lyon.test", "mot de passe solide")
            .await?;
        for i in 0..3 {
            let body = format!("Conseil municipal n° {i}");
            assert_eq!(publish(&app, &mayor_client, &lyon, &body).await?, 303);
        }
        let started = std::time::Instant::now();
        let page = client
            .get(app.url(Some(&paris), "/fil"))
            .send()
            .await?
            .text()
            .await?;
        let took = started.elapsed();
        for i in 0..3 {
            assert!(
                page.contains(&format!("Conseil municipal n° {i}")),
                "{page}"
            );
        }
        assert!(page.contains("Vous suivez la commune de Lyon."), "{page}");
        assert!(
            took < std::time::Duration::from_secs(2),
            "/fil took {took:?}"
        );

        // Unfollowing frees a place.
        let unfollowed = act(lyon.clone(), "commune".into(), "ne-plus-suivre").await?;
        assert_eq!(unfollowed, (303, "/".to_string()));
        let followed = act(paris.clone(), "commune".into(), "suivre").await?;
        assert_eq!(followed, (303, "/".to_string()));
        let _ = cyril;
        app.stop().await;
        Ok(())
    }
);
