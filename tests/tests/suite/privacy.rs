//! GDPR: a citizen downloads all their data, then deletes their account.

use parvis_core::authz::{Role, perms};
use parvis_tests::{TestApp, both_backends, form_token};

both_backends!(download_then_delete_my_account, |backend| async move {
    let app = TestApp::start(backend).await?;
    let slug = app.commune("01001").await?;
    let id = app
        .account("zoe@example.org", "mot de passe solide")
        .await?;
    app.grant(&id, Role::Candidate, Some(&slug)).await?;
    let client = app
        .signed_in(Some(&slug), "zoe@example.org", "mot de passe solide")
        .await?;
    app.publish(&client, &slug, "Mon programme pour la commune")
        .await?;
    app.follow_commune(&client, &slug).await?;
    // Her post is signed with her name in the commune's feed (until she goes).
    let zoe = parvis_tests::display_name("zoe@example.org");
    let atom = |app: &TestApp| {
        let request = app
            .client()
            .map(|c| c.get(app.url(Some(&slug), "/feed.atom")));
        async move { anyhow::Ok(request?.send().await?.text().await?) }
    };
    let before = atom(&app).await?;
    assert!(
        before.contains("Mon programme pour la commune") && before.contains(&zoe),
        "{before}"
    );

    // A notification she received, exported, then erased with her account.
    let tenant = parvis_tenants::provision::find_by_insee(
        &app.state.db,
        &parvis_core::types::InseeCode::parse("01001")?,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("tenant"))?
    .id;
    sqlx::query(
        "INSERT INTO notifications (account_id, id, tenant_id, title, link, created_at) \
         VALUES ($1, 'n1', $2, 'Réponse de la mairie', '/messages', 0)",
    )
    .bind(&id.0)
    .bind(tenant)
    .execute(app.state.db.platform())
    .await?;

    let download = client
        .get(app.url(Some(&slug), "/mon-compte/donnees.json"))
        .send()
        .await?;
    assert_eq!(download.status(), 200);
    assert!(
        download.headers()["content-disposition"]
            .to_str()?
            .contains("attachment")
    );
    let data: serde_json::Value = download.json().await?;
    assert_eq!(data["account"]["email"], "zoe@example.org");
    assert_eq!(data["follows"][0]["commune"], slug.as_str());
    assert_eq!(data["posts"][0]["body"], "Mon programme pour la commune");
    assert_eq!(data["roles"][0]["role"], "candidate");
    assert_eq!(data["notifications"][0]["title"], "Réponse de la mairie");
    // Anonymous visitors have nothing to download.
    assert_eq!(
        app.client()?
            .get(app.url(Some(&slug), "/mon-compte/donnees.json"))
            .send()
            .await?
            .status(),
        303
    );

    let token = form_token(&client, &app.url(Some(&slug), "/mon-compte")).await?;
    let wrong = client
        .post(app.url(Some(&slug), "/mon-compte/supprimer"))
        .form(&[("csrf_token", token.as_str()), ("password", "pas le bon")])
        .send()
        .await?;
    parvis_tests::expect_page(wrong, 403, "Mot de passe incorrect").await?;
    let deleted = client
        .post(app.url(Some(&slug), "/mon-compte/supprimer"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("password", "mot de passe solide"),
        ])
        .send()
        .await?;
    parvis_tests::expect_page(
        deleted,
        200,
        "Votre compte et vos données personnelles sont supprimés",
    )
    .await?;

    // Signed out, cannot sign in again, the e-mail is gone, the post is anonymised, roles removed.
    let home = client
        .get(app.url(Some(&slug), "/"))
        .send()
        .await?
        .text()
        .await?;
    assert!(!home.contains("Se déconnecter"));
    assert!(
        app.signed_in(Some(&slug), "zoe@example.org", "mot de passe solide")
            .await
            .is_err()
    );
    let emails: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE email = 'zoe@example.org'")
            .fetch_one(app.state.db.platform())
            .await?;
    assert_eq!(emails, 0);
    let follows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM follows")
        .fetch_one(app.state.db.platform())
        .await?;
    assert_eq!(follows, 0);
    let notifications: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE account_id = $1")
            .bind(&id.0)
            .fetch_one(app.state.db.platform())
            .await?;
    assert_eq!(notifications, 0, "her notifications are erased");
    let after = atom(&app).await?;
    assert!(
        after.contains("Mon programme pour la commune")
            && after.contains("Compte supprimé")
            && !after.contains(&zoe)
            && !after.contains("zoe@"),
        "{after}"
    );
    let domain = parvis_tenants::provision::find_by_insee(
        &app.state.db,
        &parvis_core::types::InseeCode::parse("01001")?,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("tenant"))?
    .id
    .authz_domain();
    assert!(
        !app.state
            .authz
            .can(Some(&id), &domain, perms::PUBLISH_POST)
            .await
    );
    app.stop().await;
    Ok(())
});

both_backends!(
    data_downloads_are_limited_per_account,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let slug = app.commune("01001").await?;
        app.account("zoe@example.org", "mot de passe solide")
            .await?;
        app.account("yann@example.org", "mot de passe solide")
            .await?;
        let zoe = app
            .signed_in(Some(&slug), "zoe@example.org", "mot de passe solide")
            .await?;
        let url = app.url(Some(&slug), "/mon-compte/donnees.json");
        // Each download asks every module of every commune holding data: a few an hour.
        for _ in 0..6 {
            assert_eq!(zoe.get(&url).send().await?.status(), 200);
        }
        let r = zoe.get(&url).send().await?;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "3600");
        assert!(r.text().await?.contains("Réessayez dans une heure"));
        // From a script, the refusal is JSON; another account is not affected.
        let r = zoe
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await?;
        assert_eq!(r.status(), 429);
        assert_eq!(
            r.headers()["retry-after"],
            "3600",
            "a script is told when to retry"
        );
        let body: serde_json::Value = r.json().await?;
        assert_eq!(body["error"]["code"], "too_many_requests", "{body}");
        let yann = app
            .signed_in(Some(&slug), "yann@example.org", "mot de passe solide")
            .await?;
        assert_eq!(yann.get(&url).send().await?.status(), 200);
        app.stop().await;
        Ok(())
    }
);
