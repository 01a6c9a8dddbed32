//! Moderation: a citizen flags a post, a moderator hides it with a reason (logged), it leaves
//! every page and feed, and can be restored; only moderators reach the queue.

use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, form_token};

both_backends!(
    flagged_posts_are_hidden_and_restored_by_moderators,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let slug = app.commune("01001").await?;
        let mayor = app
            .account("maire@abergement.test", "mot de passe solide")
            .await?;
        app.grant(&mayor, Role::TenantAdmin, Some(&slug)).await?;
        let modo = app
            .account("modo@abergement.test", "mot de passe solide")
            .await?;
        app.grant(&modo, Role::Moderator, Some(&slug)).await?;
        app.account("cyril@example.org", "mot de passe solide")
            .await?;

        let mayor_client = app
            .signed_in(Some(&slug), "maire@abergement.test", "mot de passe solide")
            .await?;
        let token = form_token(&mayor_client, &app.url(Some(&slug), "/publier")).await?;
        let published = mayor_client
            .post(app.url(Some(&slug), "/publier"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("body", "Propos déplacé à masquer"),
                ("theme", ""),
            ])
            .send()
            .await?;
        assert_eq!(published.status(), 303, "{}", published.text().await?);

        let cyril = app
            .signed_in(Some(&slug), "cyril@example.org", "mot de passe solide")
            .await?;
        // A card on the commune's page links to the post's own page, where the form is.
        let (flag_path, token) = app.flag_form(&cyril, &slug).await?;
        let post_id = flag_path
            .trim_start_matches("/publications/")
            .trim_end_matches("/signaler")
            .to_string();
        let short = cyril
            .post(app.url(Some(&slug), &flag_path))
            .form(&[("csrf_token", token.as_str()), ("reason", "x")])
            .send()
            .await?;
        assert_eq!(short.status(), 400);
        let flagged = cyril
            .post(app.url(Some(&slug), &flag_path))
            .form(&[("csrf_token", token.as_str()), ("reason", "Insultant")])
            .send()
            .await?;
        assert_eq!(flagged.status(), 200);
        assert!(flagged.text().await?.contains("Merci"));

        // Citizens and officials cannot reach the queue.
        assert_eq!(
            cyril
                .get(app.url(Some(&slug), "/admin/moderation"))
                .send()
                .await?
                .status(),
            403
        );

        let modo_client = app
            .signed_in(Some(&slug), "modo@abergement.test", "mot de passe solide")
            .await?;
        let queue = modo_client
            .get(app.url(Some(&slug), "/admin/moderation"))
            .send()
            .await?
            .text()
            .await?;
        assert!(queue.contains("Propos déplacé") && queue.contains("Insultant"));
        let token = parvis_tests::csrf(&queue).ok_or_else(|| anyhow::anyhow!("csrf"))?;
        // Before it is hidden, the post is on the commune's page and in its Atom feed (so
        // their absence below says something).
        let anonymous = app.client()?;
        for path in ["/", "/feed.atom"] {
            let before = anonymous
                .get(app.url(Some(&slug), path))
                .send()
                .await?
                .text()
                .await?;
            assert!(before.contains("Propos déplacé"), "{path}: {before}");
        }
        let hide = |path: String, reason: &'static str| {
            let client = modo_client.clone();
            let token = token.clone();
            let url = app.url(Some(&slug), &path);
            async move {
                client
                    .post(url)
                    .form(&[("csrf_token", token.as_str()), ("reason", reason)])
                    .send()
                    .await
            }
        };
        assert_eq!(
            hide(format!("/admin/moderation/{post_id}/masquer"), "")
                .await?
                .status(),
            400
        );
        assert_eq!(
            hide(
                format!("/admin/moderation/{post_id}/masquer"),
                "Propos injurieux"
            )
            .await?
            .status(),
            303
        );
        let page = app.anonymous_page(app.url(Some(&slug), "/")).await?;
        assert!(
            !page.contains("Propos déplacé"),
            "hidden posts leave the page"
        );
        let atom = app
            .anonymous_page(app.url(Some(&slug), "/feed.atom"))
            .await?;
        assert!(!atom.contains("Propos déplacé"));
        let queue = modo_client
            .get(app.url(Some(&slug), "/admin/moderation"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            queue.contains("masquée")
                && queue.contains("Publication masquée")
                && queue.contains("Propos injurieux")
        );
        // The audit log's own row names the moderator (the page header names them anyway).
        let log = parvis_tests::html::table_rows(&queue, "table")?;
        assert!(
            log.iter().any(|row| row.get(1)
                == Some(&parvis_tests::display_name("modo@abergement.test"))
                && row
                    .get(2)
                    .is_some_and(|a| a.starts_with("Publication masquée"))
                && row.get(3).map(String::as_str) == Some("Propos injurieux")),
            "the audit log names the moderator: {log:?}"
        );

        assert_eq!(
            hide(
                format!("/admin/moderation/{post_id}/retablir"),
                "Erreur de modération"
            )
            .await?
            .status(),
            303
        );
        let page = app.anonymous_page(app.url(Some(&slug), "/")).await?;
        assert!(page.contains("Propos déplacé"));
        // Another commune's moderator cannot touch this post.
        let other = app.commune("69123").await?;
        let lyon_modo = app.account("modo@lyon.test", "mot de passe solide").await?;
        app.grant(&lyon_modo, Role::Moderator, Some(&other)).await?;
        let lyon = app
            .signed_in(Some(&other), "modo@lyon.test", "mot de passe solide")
            .await?;
        let token = form_token(&lyon, &app.url(Some(&other), "/admin/moderation")).await?;
        let cross = lyon
            .post(app.url(
                Some(&other),
                &format!("/admin/moderation/{post_id}/masquer"),
            ))
            .form(&[("csrf_token", token.as_str()), ("reason", "Tentative")])
            .send()
            .await?;
        assert_eq!(cross.status(), 404);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    moderators_never_see_e_mail_addresses_in_the_audit_log,
    |backend| async move {
        // Issue 13: the audit log named admins (and the accounts they granted roles to) by
        // their e-mail address, and moderators read it.
        let app = TestApp::start(backend).await?;
        let slug = app.commune("01001").await?;
        let create = |email: &'static str, name: &'static str| {
            let db = app.state.db.clone();
            async move {
                parvis_core::accounts::service::create_verified(
                    &db,
                    email,
                    name,
                    "mot de passe solide",
                )
                .await?
                .ok_or_else(|| anyhow::anyhow!("{email} exists"))
            }
        };
        let mayor = create("maire.prive@abergement.test", "Martine Maire").await?;
        app.grant(&mayor, Role::TenantAdmin, Some(&slug)).await?;
        create("modo.prive@abergement.test", "Marc Modérateur").await?;

        let admin = app
            .signed_in(
                Some(&slug),
                "maire.prive@abergement.test",
                "mot de passe solide",
            )
            .await?;
        let token = form_token(&admin, &app.url(Some(&slug), "/admin/roles")).await?;
        let granted = admin
            .post(app.url(Some(&slug), "/admin/roles"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", "modo.prive@abergement.test"),
                ("role", "moderator"),
            ])
            .send()
            .await?;
        assert_eq!(granted.status(), 303);

        let modo = app
            .signed_in(
                Some(&slug),
                "modo.prive@abergement.test",
                "mot de passe solide",
            )
            .await?;
        let queue = modo
            .get(app.url(Some(&slug), "/admin/moderation"))
            .send()
            .await?;
        assert_eq!(queue.status(), 200);
        let queue = queue.text().await?;
        // The log's row names both by their display name (the header names the moderator
        // anyway: the row is read on its own).
        let log = parvis_tests::html::table_rows(&queue, "table")?;
        assert!(
            log.iter().any(
                |row| row.get(1).map(String::as_str) == Some("Martine Maire")
                    && row.get(2).is_some_and(
                        |a| a.starts_with("Rôle attribué") && a.contains("Marc Modérateur")
                    )
            ),
            "people are named by their display name: {log:?}"
        );
        assert!(
            !queue.contains("maire.prive@"),
            "the admin's address is shown"
        );
        assert!(
            !queue.contains("modo.prive@"),
            "the grantee's address is shown"
        );
        app.stop().await;
        Ok(())
    }
);
