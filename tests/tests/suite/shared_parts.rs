//! What signed-in pages share between people (`core/src/web/shared.rs`): a commune's page and
//! posts' cards are kept rendered at their commune's version, which the database raises at each
//! write (migration 0025; 0026 versions private messages for the header's count). A write that
//! goes around the host's code shows at the next request (on PostgreSQL, once the process was
//! told of it by the change notices of migration 0028); nothing of one person (their forms,
//! their token, why they see a post) reaches another's page.

use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, csrf, form_token, html};

const PASSWORD: &str = "mot de passe solide";

/// Runs `sql` (bound to `post`) on the platform's connection: a write the host's own code
/// does not see (as the command line or another process would make it).
async fn write_around(app: &TestApp, sql: &str, post: &str) -> anyhow::Result<()> {
    let mut tx = app.state.db.platform_tx().await?;
    let done = sqlx::query(sql).bind(post).execute(&mut *tx).await?;
    anyhow::ensure!(done.rows_affected() == 1, "{sql}: no row changed");
    tx.commit().await?;
    // As another process's write: this one is told of it by PostgreSQL's change notices
    // (`db/changes.rs`), a moment later; the pages below are read once it was told.
    app.state.db.sync_changes().await;
    Ok(())
}

async fn token_of(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    csrf(&page(client, url).await?).ok_or_else(|| anyhow::anyhow!("{url}: no token"))
}

async fn page(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let r = client.get(url).send().await?;
    anyhow::ensure!(r.status() == 200, "{url}: {}", r.status());
    Ok(r.text().await?)
}

both_backends!(
    shared_parts_follow_every_write_and_keep_each_person_apart,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let slug = app.commune("01001").await?;
        let home = app.url(Some(&slug), "/");
        let mayor = app.account("maire@abergement.test", PASSWORD).await?;
        app.grant(&mayor, Role::TenantAdmin, Some(&slug)).await?;
        app.account("cyril@example.org", PASSWORD).await?;
        app.account("zoe@example.org", PASSWORD).await?;
        let mayor = app
            .signed_in(Some(&slug), "maire@abergement.test", PASSWORD)
            .await?;
        let cyril = app
            .signed_in(Some(&slug), "cyril@example.org", PASSWORD)
            .await?;
        let zoe = app
            .signed_in(Some(&slug), "zoe@example.org", PASSWORD)
            .await?;

        app.publish(&mayor, &slug, "Le marché se tient place de la mairie.")
            .await?;

        // Each person's page carries their own token, and the cards none: the form to flag a
        // post is on its own page, where the card's link leads.
        let cyril_page = page(&cyril, &home).await?;
        let zoe_page = page(&zoe, &home).await?;
        let cyril_token = csrf(&cyril_page).ok_or_else(|| anyhow::anyhow!("no token"))?;
        let zoe_token = csrf(&zoe_page).ok_or_else(|| anyhow::anyhow!("no token"))?;
        assert_ne!(cyril_token, zoe_token);
        assert!(!cyril_page.contains(zoe_token.as_str()));
        assert!(!zoe_page.contains(cyril_token.as_str()));
        assert!(html::attrs(&cyril_page, ".post form", "action")?.is_empty());
        let post = html::attrs(&cyril_page, "article.post", "id")?
            .first()
            .and_then(|id| id.strip_prefix("post-"))
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("no post on the page"))?;
        let own_page = page(
            &zoe,
            &app.url(Some(&slug), &format!("/publications/{post}")),
        )
        .await?;
        assert_eq!(
            html::attrs(&own_page, "#signaler input[name=csrf_token]", "value")?,
            vec![zoe_token.clone()]
        );
        // The same card, kept for signed-in people, is what a visitor sees.
        let visitor = app.anonymous_page(&home).await?;
        assert!(visitor.contains("Le marché se tient"));
        assert_eq!(
            html::texts(&visitor, ".post .engagement")?,
            html::texts(&cyril_page, ".post .engagement")?
        );

        // A write around the host's code shows at the next request: the post's text…
        write_around(
            &app,
            "UPDATE posts SET body_html = '<p>Le marché est déplacé au parc.</p>' WHERE id = $1",
            &post,
        )
        .await?;
        let cyril_page = page(&cyril, &home).await?;
        assert!(cyril_page.contains("Le marché est déplacé au parc."));
        assert!(!cyril_page.contains("Le marché se tient"));
        // …the municipal team…
        let mut tx = app.state.db.platform_tx().await?;
        sqlx::query(
            "INSERT INTO team_members (tenant_id, id, name, role_label, position) \
             SELECT id, 'm1', 'Line Evalet-Taponat', 'Maire', 1 FROM tenants WHERE slug = $1",
        )
        .bind(&slug)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        assert!(page(&zoe, &home).await?.contains("Line Evalet-Taponat"));

        // …a reaction and a follow, through the routes, on someone else's page.
        let token = csrf(&page(&zoe, &home).await?).ok_or_else(|| anyhow::anyhow!("token"))?;
        let reacted = zoe
            .post(app.url(Some(&slug), &format!("/publications/{post}/reactions")))
            .form(&[
                ("csrf_token", token.as_str()),
                ("reaction", "merci"),
                ("etat", "1"),
            ])
            .send()
            .await?;
        assert_eq!(reacted.status(), 303);
        app.follow_commune(&zoe, &slug).await?;
        let cyril_page = page(&cyril, &home).await?;
        assert_eq!(
            html::texts(&cyril_page, ".post .engagement")?
                .first()
                .map(|t| t.contains("Merci : 1")),
            Some(true),
            "{cyril_page}"
        );
        assert!(cyril_page.contains("1 abonné"));
        // Following is each person's own: Zoé follows, Cyril does not.
        assert!(page(&zoe, &home).await?.contains("Ne plus suivre"));
        assert!(!cyril_page.contains("Ne plus suivre"));

        // The feed: the card is shared, why one sees it is not.
        let zoe_feed = page(&zoe, &app.url(Some(&slug), "/fil")).await?;
        assert!(zoe_feed.contains("Le marché est déplacé au parc."));
        assert_eq!(
            html::texts(&zoe_feed, ".post .why")?,
            vec![format!(
                "Pourquoi je vois ceci ? Vous suivez la commune de {}.",
                "L'Abergement-Clémenciat"
            )]
        );
        let cyril_feed = page(&cyril, &app.url(Some(&slug), "/fil")).await?;
        assert!(!cyril_feed.contains("Le marché"));
        assert!(cyril_feed.contains("Votre fil est vide"));

        // A post hidden by a moderator leaves everyone's page at once.
        write_around(&app, "UPDATE posts SET hidden_at = 1 WHERE id = $1", &post).await?;
        assert!(!page(&zoe, &home).await?.contains("Le marché"));
        let feed = app.url(Some(&slug), "/fil");
        assert!(!page(&zoe, &feed).await?.contains("Le marché"));
        // A page of the feed is kept for its reader while what it is made of is the same: a new
        // post shows, and so does no longer following.
        app.publish(&mayor, &slug, "Conseil municipal jeudi à 19 h.")
            .await?;
        assert!(page(&zoe, &feed).await?.contains("Conseil municipal jeudi"));
        let unfollowed = zoe
            .post(app.url(Some(&slug), "/suivre"))
            .form(&[
                ("csrf_token", token_of(&zoe, &home).await?.as_str()),
                ("target", "commune"),
                ("action", "ne-plus-suivre"),
            ])
            .send()
            .await?;
        assert_eq!(unfollowed.status(), 303);
        assert!(page(&zoe, &feed).await?.contains("Votre fil est vide"));

        // The header's count of unread messages is kept per person at the version of the
        // commune's messages: a message shows in the mayor's count at once, and so does a
        // thread read around the host's code.
        let badge = "Messages <span class=\"badge\">1";
        assert!(!page(&mayor, &home).await?.contains(badge));
        let token = form_token(&cyril, &app.url(Some(&slug), "/messages/nouveau")).await?;
        let sent = cyril
            .post(app.url(Some(&slug), "/messages/nouveau"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("elu", ""),
                ("subject", "Éclairage public"),
                ("body", "Le lampadaire de ma rue est éteint."),
            ])
            .send()
            .await?;
        assert_eq!(sent.status(), 303);
        let mayor_page = page(&mayor, &home).await?;
        assert!(mayor_page.contains(badge), "{mayor_page}");
        assert!(!page(&cyril, &home).await?.contains(badge));
        write_around(
            &app,
            "UPDATE message_threads SET recipient_unread = 0 WHERE citizen_account_id = \
             (SELECT id FROM accounts WHERE email = $1)",
            "cyril@example.org",
        )
        .await?;
        assert!(!page(&mayor, &home).await?.contains(badge));
        app.stop().await;
        Ok(())
    }
);
