//! Authorization: each role's allowed and refused actions, through the policies stored in the
//! database, and through the HTTP routes that exist today.

use parvis_core::authz::{PLATFORM_DOMAIN, Permission, Role, perms};
use parvis_tests::{TestApp, both_backends, expect_page, expect_redirect, form_token};

/// (role, permission, allowed) in a commune, for every role of DESIGN.md.
fn matrix() -> Vec<(Role, Permission, bool)> {
    use perms::*;
    let all = [
        EDIT_COMMUNE,
        MANAGE_ROLES,
        MANAGE_MODULES,
        MODERATE,
        PUBLISH_POST,
        CREATE_POLL,
        COMMENT,
        REPORT,
        VERIFY_SUBSCRIPTIONS,
        USE_MODULE_ADMIN,
    ];
    let allowed = |role: Role, p: Permission| -> bool {
        match role {
            Role::PlatformAdmin => true,
            Role::TenantAdmin => p != VERIFY_SUBSCRIPTIONS,
            Role::Moderator => [MODERATE, COMMENT, REPORT].contains(&p),
            Role::Official => {
                [PUBLISH_POST, CREATE_POLL, USE_MODULE_ADMIN, COMMENT, REPORT].contains(&p)
            }
            Role::Candidate => [PUBLISH_POST, COMMENT, REPORT].contains(&p),
            Role::Resident | Role::Citizen => [COMMENT, REPORT].contains(&p),
        }
    };
    Role::ALL
        .iter()
        .flat_map(|r| all.iter().map(move |p| (*r, *p, allowed(*r, *p))))
        .collect()
}

both_backends!(
    each_role_gets_exactly_its_permissions,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        app.commune("75056").await?;
        app.commune("69123").await?;
        let paris = parvis_tenants::provision::find_by_slug(
            &app.state.db,
            &parvis_core::types::Slug::parse("paris")?,
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("paris"))?;
        let lyon = parvis_tenants::provision::find_by_slug(
            &app.state.db,
            &parvis_core::types::Slug::parse("lyon")?,
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("lyon"))?;
        for (i, (role, perm, expected)) in matrix().into_iter().enumerate() {
            let account = app
                .account(&format!("u{i}@example.org"), "mot de passe solide")
                .await?;
            if role == Role::PlatformAdmin {
                app.grant(&account, role, None).await?;
            } else if role != Role::Citizen {
                app.grant(&account, role, Some("paris")).await?;
            }
            let in_paris = app
                .state
                .authz
                .can(Some(&account), &paris.id.authz_domain(), perm)
                .await;
            assert_eq!(in_paris, expected, "{role} {perm:?} in Paris");
            // A commune role gives nothing in another commune (citizens and platform admins aside).
            let in_lyon = app
                .state
                .authz
                .can(Some(&account), &lyon.id.authz_domain(), perm)
                .await;
            let expected_lyon = match role {
                Role::PlatformAdmin => true,
                _ => allowed_as_citizen(perm),
            };
            assert_eq!(in_lyon, expected_lyon, "{role} {perm:?} in Lyon");
        }
        // Anonymous visitors may do nothing.
        assert!(
            !app.state
                .authz
                .can(None, PLATFORM_DOMAIN, perms::COMMENT)
                .await
        );
        // The policies live in the database: a fresh enforcer on the same database agrees.
        let reloaded = parvis_core::authz::Authz::load(app.state.db.clone()).await?;
        let admin = app
            .account("late@example.org", "mot de passe solide")
            .await?;
        app.grant(&admin, Role::TenantAdmin, Some("paris")).await?;
        reloaded.refresh().await?;
        assert!(
            reloaded
                .can(Some(&admin), &paris.id.authz_domain(), perms::EDIT_COMMUNE)
                .await
        );
        app.stop().await;
        Ok(())
    }
);

fn allowed_as_citizen(p: Permission) -> bool {
    [perms::COMMENT, perms::REPORT].contains(&p)
}

both_backends!(
    admin_pages_refuse_those_without_the_role,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        app.commune("75056").await?;
        let anonymous = app.client()?;
        let r = anonymous
            .get(app.url(Some("paris"), "/admin/commune"))
            .send()
            .await?;
        assert_eq!(r.status(), 303, "anonymous visitors are sent to log in");
        assert_eq!(
            r.headers()["location"],
            "/connexion?next=%2Fadmin%2Fcommune"
        );

        for (email, role, can_edit, can_roles) in [
            ("admin@example.org", Some(Role::TenantAdmin), true, true),
            ("modo@example.org", Some(Role::Moderator), false, false),
            ("elu@example.org", Some(Role::Official), false, false),
            ("candidat@example.org", Some(Role::Candidate), false, false),
            ("citoyen@example.org", None, false, false),
        ] {
            let id = app.account(email, "mot de passe solide").await?;
            if let Some(role) = role {
                app.grant(&id, role, Some("paris")).await?;
            }
            let client = app
                .signed_in(Some("paris"), email, "mot de passe solide")
                .await?;
            let edit = client
                .get(app.url(Some("paris"), "/admin/commune"))
                .send()
                .await?;
            assert_eq!(
                edit.status() == 200,
                can_edit,
                "{email} /admin/commune: {}",
                edit.status()
            );
            if !can_edit {
                assert_eq!(edit.status(), 403);
                assert!(edit.text().await?.contains("pas les droits"));
            }
            let roles = client
                .get(app.url(Some("paris"), "/admin/roles"))
                .send()
                .await?;
            assert_eq!(roles.status() == 200, can_roles, "{email} /admin/roles");
            // Signed in on the platform's own host, the platform's back office is refused as
            // such, not merely sent to sign in.
            let apex = app.signed_in(None, email, "mot de passe solide").await?;
            let platform = apex.get(app.url(None, "/admin")).send().await?;
            assert_eq!(platform.status(), 403, "{email} is no platform admin");
            let refusal = platform.text().await?;
            assert!(refusal.contains("Accès refusé"), "{email}: {refusal}");
        }

        // The tenant admin grants the moderator role by e-mail: the citizen, refused the
        // moderation queue before, then reaches it, and the roles page lists the grant.
        let citizen = app
            .signed_in(Some("paris"), "citoyen@example.org", "mot de passe solide")
            .await?;
        let queue = app.url(Some("paris"), "/admin/moderation");
        expect_page(citizen.get(&queue).send().await?, 403, "pas les droits").await?;
        let admin = app
            .signed_in(Some("paris"), "admin@example.org", "mot de passe solide")
            .await?;
        let token = form_token(&admin, &app.url(Some("paris"), "/admin/roles")).await?;
        let granted = admin
            .post(app.url(Some("paris"), "/admin/roles"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", "citoyen@example.org"),
                ("role", "moderator"),
            ])
            .send()
            .await?;
        let page = expect_redirect(&admin, granted, "/admin/roles", "Rôles dans Paris").await?;
        let citoyen = format!(
            "{} (citoyen@example.org)",
            parvis_tests::display_name("citoyen@example.org")
        );
        let holds = |page: &str, label: &str| -> anyhow::Result<bool> {
            Ok(parvis_tests::html::table_rows(page, "table")?
                .iter()
                .any(|row| {
                    row.first() == Some(&citoyen) && row.get(1).map(String::as_str) == Some(label)
                }))
        };
        assert!(holds(&page, "Modérateur")?, "{page}");
        expect_page(
            citizen.get(&queue).send().await?,
            200,
            "Modération de Paris",
        )
        .await?;

        // Platform roles cannot be handed out by a commune: refused with the form's message,
        // and nothing granted.
        let refused = admin
            .post(app.url(Some("paris"), "/admin/roles"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", "citoyen@example.org"),
                ("role", "platform-admin"),
            ])
            .send()
            .await?;
        let page = expect_page(refused, 400, "Choisissez un rôle dans la liste.").await?;
        assert!(!holds(&page, "Administrateur de la plateforme")?, "{page}");
        let apex = app
            .signed_in(None, "citoyen@example.org", "mot de passe solide")
            .await?;
        expect_page(
            apex.get(app.url(None, "/admin")).send().await?,
            403,
            "Accès refusé",
        )
        .await?;
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_mayor_subscribes_and_a_platform_admin_approves,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        // The commune is in the registry but not yet served.
        parvis_tenants::communes::import(
            &app.state.db,
            &parvis_tenants::communes::Source::Embedded,
            &parvis_tenants::communes::Selection::Only(vec![parvis_core::types::InseeCode::parse(
                "01004",
            )?]),
            parvis_tenants::communes::Progress::Hidden,
        )
        .await?;
        app.state.communes.reload(&app.state.db).await?;
        let mayor = app
            .account("maire@amberieu.test", "mot de passe solide")
            .await?;
        let root = app
            .account("root@parvis.test", "mot de passe solide")
            .await?;
        app.grant(&root, Role::PlatformAdmin, None).await?;

        // The landing search finds it and offers to subscribe it.
        let anonymous = app.client()?;
        let html = anonymous
            .get(app.url(None, "/?q=amberieu"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            html.contains("Ambérieu-en-Bugey") && html.contains("/inscrire-ma-commune?insee=01004")
        );
        let fragment = anonymous
            .get(app.url(None, "/communes/recherche?q=01500"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            fragment.contains("Ambérieu-en-Bugey"),
            "search by postal code"
        );

        let client = app
            .signed_in(None, "maire@amberieu.test", "mot de passe solide")
            .await?;
        let token = form_token(&client, &app.url(None, "/inscrire-ma-commune?insee=01004")).await?;
        let bad = client
            .post(app.url(None, "/inscrire-ma-commune"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("insee", "99999"),
                ("requester_name", "Jean Maire"),
                ("requester_role", "Maire"),
                ("phone", "04 74 00 00 00"),
                ("message", ""),
            ])
            .send()
            .await?;
        assert_eq!(bad.status(), 400);
        assert!(bad.text().await?.contains("le code INSEE 99999"));
        let ok = client
            .post(app.url(None, "/inscrire-ma-commune"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("insee", "01004"),
                ("requester_name", "Jean Maire"),
                ("requester_role", "Maire"),
                ("phone", "04 74 00 00 00"),
                ("message", "Merci"),
            ])
            .send()
            .await?;
        assert_eq!(ok.status(), 200);
        let dup = client
            .post(app.url(None, "/inscrire-ma-commune"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("insee", "01004"),
                ("requester_name", "Jean Maire"),
                ("requester_role", "Maire"),
                ("phone", "04 74 00 00 00"),
                ("message", ""),
            ])
            .send()
            .await?;
        assert_eq!(dup.status(), 409);

        // Pending: the commune is not served yet, and the mayor is no admin.
        let r = anonymous
            .get(app.url(Some("amberieu-en-bugey"), "/"))
            .send()
            .await?;
        assert_eq!(r.status(), 404);

        let admin = app
            .signed_in_with_code(None, "root@parvis.test", "mot de passe solide")
            .await?;
        let page = admin
            .get(app.url(None, "/admin"))
            .send()
            .await?
            .text()
            .await?;
        assert!(page.contains("Jean Maire") && page.contains("0474000000"));
        let id_at = page
            .find("/admin/demandes/")
            .map(|i| i + "/admin/demandes/".len())
            .ok_or_else(|| anyhow::anyhow!("no request"))?;
        let request_id: String = page[id_at..].chars().take_while(|c| *c != '/').collect();
        let token = parvis_tests::csrf(&page).ok_or_else(|| anyhow::anyhow!("csrf"))?;
        let approved = admin
            .post(app.url(None, &format!("/admin/demandes/{request_id}/approuver")))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(approved.status(), 303);
        let twice = admin
            .post(app.url(None, &format!("/admin/demandes/{request_id}/approuver")))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(twice.status(), 409);

        let mail = app.smtp.wait_for("maire@amberieu.test", "acceptée").await?;
        assert!(mail.text.contains("/admin/commune"));
        let r = anonymous
            .get(app.url(Some("amberieu-en-bugey"), "/"))
            .send()
            .await?;
        assert_eq!(r.status(), 200, "the commune is served");
        let domain = parvis_tenants::provision::find_by_slug(
            &app.state.db,
            &parvis_core::types::Slug::parse("amberieu-en-bugey")?,
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("tenant"))?
        .id
        .authz_domain();
        assert!(
            app.state
                .authz
                .can(Some(&mayor), &domain, perms::EDIT_COMMUNE)
                .await,
            "the mayor is the commune's admin"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    subscription_requests_are_rate_limited_per_account,
    |backend| async move {
        // Issue 13: subscription requests had no limit; each one costs a platform admin a call.
        let app = TestApp::start(backend).await?;
        let codes = ["01001", "01002", "01004", "01005", "01006", "01007"];
        parvis_tenants::communes::import(
            &app.state.db,
            &parvis_tenants::communes::Source::Embedded,
            &parvis_tenants::communes::Selection::Only(
                codes
                    .iter()
                    .map(|c| parvis_core::types::InseeCode::parse(c))
                    .collect::<Result<_, _>>()?,
            ),
            parvis_tenants::communes::Progress::Hidden,
        )
        .await?;
        app.account("agent@mairie.test", "mot de passe solide")
            .await?;
        let client = app
            .signed_in(None, "agent@mairie.test", "mot de passe solide")
            .await?;
        let token = form_token(&client, &app.url(None, "/inscrire-ma-commune")).await?;
        let mut statuses = vec![];
        let mut last = String::new();
        for insee in codes {
            let r = client
                .post(app.url(None, "/inscrire-ma-commune"))
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("insee", insee),
                    ("requester_name", "Agnès Agent"),
                    ("requester_role", "Agent de la mairie"),
                    ("phone", "04 74 00 00 00"),
                    ("message", ""),
                ])
                .send()
                .await?;
            statuses.push(r.status().as_u16());
            last = r.text().await?;
        }
        assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
        assert!(last.contains("demandes dans l"), "{last}");
        let filed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscription_requests")
            .fetch_one(app.state.db.platform())
            .await?;
        assert_eq!(filed, 5);
        app.stop().await;
        Ok(())
    }
);
