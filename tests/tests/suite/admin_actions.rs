//! The back-office actions no test reached (issue 16, « never tested »), each through the real
//! router as the people who use them: a moderator hides and restores a private message, a
//! commune's admin takes a role back, refuses an official's claim and removes team members and
//! links, and a platform admin refuses a commune's subscription request. Each check reads what
//! the action changed (the other side's page, the log, the mail, the rights), and each refusal
//! its status and French message.

use anyhow::{Context as _, Result};
use parvis_core::authz::{Role, perms};
use parvis_core::types::{InseeCode, Slug};
use parvis_tests::{TestApp, both_backends, expect_page, form_token};

use parvis_tests::html::{attrs, texts};

const PASSWORD: &str = "mot de passe solide";

/// Posts `fields` with the CSRF token of the page at `from`: the answer.
async fn post_form(
    app: &TestApp,
    client: &reqwest::Client,
    slug: Option<&str>,
    (from, action): (&str, &str),
    fields: &[(&str, &str)],
) -> Result<reqwest::Response> {
    let token = form_token(client, &app.url(slug, from)).await?;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    Ok(client
        .post(app.url(slug, action))
        .form(&form)
        .send()
        .await?)
}

/// Posts `fields` with the CSRF token of the page at `from`; the status and the redirect's
/// target, or the page answered.
async fn submit(
    app: &TestApp,
    client: &reqwest::Client,
    slug: Option<&str>,
    from_action: (&str, &str),
    fields: &[(&str, &str)],
) -> Result<(u16, String)> {
    parvis_tests::outcome(post_form(app, client, slug, from_action, fields).await?).await
}

/// GETs a page: its status and body.
async fn get(
    app: &TestApp,
    client: &reqwest::Client,
    slug: Option<&str>,
    path: &str,
) -> Result<(u16, String)> {
    let r = client.get(app.url(slug, path)).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// A signed-in client for a new account holding `role` in `slug` (none: a citizen).
async fn member(
    app: &TestApp,
    slug: &str,
    email: &str,
    role: Option<Role>,
) -> Result<(parvis_core::types::AccountId, reqwest::Client)> {
    let id = app.account(email, PASSWORD).await?;
    if let Some(role) = role {
        app.grant(&id, role, Some(slug)).await?;
    }
    Ok((id, app.signed_in(Some(slug), email, PASSWORD).await?))
}

/// The name pages show for the account signed in on `client` (its header's link to its
/// account), whatever display name the harness gave it.
async fn shown_name(app: &TestApp, client: &reqwest::Client, slug: &str) -> Result<String> {
    let (_, page) = get(app, client, Some(slug), "/").await?;
    texts(&page, "header a.who")?.pop().context("not signed in")
}

/// The rows of the moderation log (date, by, action, reason), newest first.
async fn audit_log(app: &TestApp, admin: &reqwest::Client, slug: &str) -> Result<Vec<Vec<String>>> {
    let (status, page) = get(app, admin, Some(slug), "/admin/moderation").await?;
    anyhow::ensure!(status == 200, "moderation page: {status}");
    parvis_tests::html::table_rows(&page, "table")
}

/// The text of the one message of a thread, as `client` sees it.
async fn message_text(
    app: &TestApp,
    client: &reqwest::Client,
    slug: &str,
    thread: &str,
) -> Result<String> {
    let (status, page) = get(app, client, Some(slug), &format!("/messages/{thread}")).await?;
    anyhow::ensure!(status == 200, "thread: {status}");
    let articles = texts(&page, "ol.messages article")?;
    anyhow::ensure!(articles.len() == 1, "one message: {articles:?}");
    Ok(articles.concat())
}

both_backends!(
    moderators_hide_and_restore_private_messages,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let (_, mayor) = member(&app, &paris, "maire@paris.test", Some(Role::TenantAdmin)).await?;
        let (_, modo) = member(&app, &paris, "modo@paris.test", Some(Role::Moderator)).await?;
        let (_, cyril) = member(&app, &paris, "cyril@example.org", None).await?;
        let modo_name = shown_name(&app, &modo, &paris).await?;
        const BODY: &str = "Vous êtes tous des incapables à la mairie";

        // Cyril writes to the town hall; the mayor, who receives it, reports it.
        let (status, location) = submit(
            &app,
            &cyril,
            Some(&paris),
            ("/messages/nouveau", "/messages/nouveau"),
            &[("elu", ""), ("subject", "Travaux"), ("body", BODY)],
        )
        .await?;
        assert_eq!(status, 303, "{location}");
        let thread = location.trim_start_matches("/messages/").to_string();
        let (_, page) = get(&app, &mayor, Some(&paris), &location).await?;
        let message = attrs(&page, "input[name=message_id]", "value")?
            .pop()
            .context("the mayor can report the message")?;
        let (status, page) = submit(
            &app,
            &mayor,
            Some(&paris),
            (&location, &format!("/messages/{thread}/signaler")),
            &[("message_id", &message), ("reason", "Insultes")],
        )
        .await?;
        assert_eq!(status, 200, "{page}");

        let hide = format!("/admin/moderation/messages/{message}/masquer");
        let restore = format!("/admin/moderation/messages/{message}/retablir");
        let (_, queue) = get(&app, &modo, Some(&paris), "/admin/moderation").await?;
        assert_eq!(
            attrs(&queue, "form", "action")?
                .iter()
                .filter(|a| **a == hide)
                .count(),
            1,
            "the reported message is in the queue with its hide form: {queue}"
        );

        // A reason is required; the message stays as it was.
        let (status, page) = submit(
            &app,
            &modo,
            Some(&paris),
            ("/admin/moderation", &hide),
            &[("reason", " x ")],
        )
        .await?;
        assert_eq!(status, 400);
        assert_eq!(
            texts(&page, "p.notice.error")?,
            ["Indiquez un motif (3 à 500 caractères)."]
        );
        assert!(
            message_text(&app, &cyril, &paris, &thread)
                .await?
                .contains(BODY)
        );
        // Only moderators decide.
        let (status, _) = submit(
            &app,
            &cyril,
            Some(&paris),
            (&location, &hide),
            &[("reason", "Je me censure")],
        )
        .await?;
        assert_eq!(status, 403);
        assert!(
            message_text(&app, &cyril, &paris, &thread)
                .await?
                .contains(BODY)
        );

        let (status, to) = submit(
            &app,
            &modo,
            Some(&paris),
            ("/admin/moderation", &hide),
            &[("reason", "Insultes envers les agents")],
        )
        .await?;
        assert_eq!((status, to.as_str()), (303, "/admin/moderation"));
        for (who, client) in [("author", &cyril), ("recipient", &mayor)] {
            let seen = message_text(&app, client, &paris, &thread).await?;
            assert!(
                seen.contains("Message masqué par la modération.") && !seen.contains(BODY),
                "{who} sees: {seen}"
            );
        }
        let (_, queue) = get(&app, &modo, Some(&paris), "/admin/moderation").await?;
        assert!(
            attrs(&queue, "form", "action")?.contains(&restore),
            "the hidden message can be restored: {queue}"
        );
        let log = audit_log(&app, &modo, &paris).await?;
        assert_eq!(
            log.first().map(|row| &row[1..]),
            Some(
                &[
                    modo_name.clone(),
                    format!("Message masqué ({message})"),
                    "Insultes envers les agents".to_string(),
                ][..]
            ),
            "{log:?}"
        );

        let (status, to) = submit(
            &app,
            &modo,
            Some(&paris),
            ("/admin/moderation", &restore),
            &[("reason", "Erreur de modération")],
        )
        .await?;
        assert_eq!((status, to.as_str()), (303, "/admin/moderation"));
        let seen = message_text(&app, &cyril, &paris, &thread).await?;
        assert!(
            seen.contains(BODY) && !seen.contains("masqué"),
            "restored: {seen}"
        );
        let log = audit_log(&app, &modo, &paris).await?;
        assert_eq!(
            log.first().map(|row| &row[1..]),
            Some(
                &[
                    modo_name.clone(),
                    format!("Message rétabli ({message})"),
                    "Erreur de modération".to_string(),
                ][..]
            ),
            "{log:?}"
        );

        // A message that does not exist here.
        expect_page(
            post_form(
                &app,
                &modo,
                Some(&paris),
                (
                    "/admin/moderation",
                    "/admin/moderation/messages/inconnu/masquer",
                ),
                &[("reason", "Insultes envers les agents")],
            )
            .await?,
            404,
            "Ce message n'existe pas dans cette commune.",
        )
        .await?;
        app.stop().await;
        Ok(())
    }
);

both_backends!(admins_take_roles_back, |backend| async move {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    let (mayor_id, mayor) =
        member(&app, &paris, "maire@paris.test", Some(Role::TenantAdmin)).await?;
    let (modo_id, modo) = member(&app, &paris, "modo@paris.test", Some(Role::Moderator)).await?;
    let (_, cyril) = member(&app, &paris, "cyril@example.org", None).await?;
    let roles_of = |page: &str| -> Result<Vec<(String, String)>> {
        Ok(parvis_tests::html::table_rows(page, "table")?
            .into_iter()
            .map(|row| (row[0].clone(), row[1].clone()))
            .collect())
    };
    let modo_name = shown_name(&app, &modo, &paris).await?;
    let mayor_name = shown_name(&app, &mayor, &paris).await?;
    let modo_row = (
        format!("{modo_name} (modo@paris.test)"),
        "Modérateur".to_string(),
    );
    let (_, page) = get(&app, &mayor, Some(&paris), "/admin/roles").await?;
    assert!(roles_of(&page)?.contains(&modo_row), "{page}");
    assert_eq!(
        get(&app, &modo, Some(&paris), "/admin/moderation").await?.0,
        200,
        "the moderator moderates before"
    );
    let revoke = |client: &reqwest::Client, account: &str, role: &str| {
        let (client, account, role) = (client.clone(), account.to_string(), role.to_string());
        let app = &app;
        let paris = paris.clone();
        async move {
            submit(
                app,
                &client,
                Some(&paris),
                ("/connexion", "/admin/roles/retirer"),
                &[("account_id", &account), ("role", &role)],
            )
            .await
        }
    };

    // Only the commune's admins take roles back.
    let (status, _) = revoke(&cyril, &modo_id.0, "moderator").await?;
    assert_eq!(status, 403);
    assert_eq!(
        get(&app, &modo, Some(&paris), "/admin/moderation").await?.0,
        200
    );

    let (status, to) = revoke(&mayor, &modo_id.0, "moderator").await?;
    assert_eq!((status, to.as_str()), (303, "/admin/roles"));
    let (_, page) = get(&app, &mayor, Some(&paris), "/admin/roles").await?;
    assert!(!roles_of(&page)?.contains(&modo_row), "{page}");
    let (status, page) = get(&app, &modo, Some(&paris), "/admin/moderation").await?;
    assert_eq!(status, 403, "the former moderator is refused: {page}");
    let log = audit_log(&app, &mayor, &paris).await?;
    assert_eq!(
        log.first().map(|row| &row[1..3]),
        Some(
            &[
                mayor_name.clone(),
                // The log names the account by its display name.
                format!("Rôle retiré ({modo_name} moderator)"),
            ][..]
        ),
        "{log:?}"
    );

    // A role the commune does not hand out, and the last admin leaving: refused, said why.
    let (status, page) = revoke(&mayor, &mayor_id.0, "platform-admin").await?;
    assert_eq!(status, 400);
    assert_eq!(
        texts(&page, "p.notice.error")?,
        ["Choisissez un rôle dans la liste."]
    );
    let (status, page) = revoke(&mayor, &mayor_id.0, "tenant-admin").await?;
    assert_eq!(status, 409);
    assert_eq!(
        texts(&page, "p.notice.error")?,
        [
            "Vous êtes le dernier administrateur de la commune : nommez-en un autre avant de vous retirer ce rôle."
        ]
    );
    assert_eq!(
        get(&app, &mayor, Some(&paris), "/admin/roles").await?.0,
        200
    );
    // With a second admin, the mayor may step down, and loses the back-office.
    let (status, _) = submit(
        &app,
        &mayor,
        Some(&paris),
        ("/admin/roles", "/admin/roles"),
        &[("email", "cyril@example.org"), ("role", "tenant-admin")],
    )
    .await?;
    assert_eq!(status, 303);
    let (status, to) = revoke(&mayor, &mayor_id.0, "tenant-admin").await?;
    assert_eq!((status, to.as_str()), (303, "/admin/roles"));
    assert_eq!(
        get(&app, &mayor, Some(&paris), "/admin/roles").await?.0,
        403
    );
    assert_eq!(
        get(&app, &cyril, Some(&paris), "/admin/roles").await?.0,
        200
    );
    app.stop().await;
    Ok(())
});

/// The path of the official profile whose link on the commune page reads `name`.
async fn profile_path(app: &TestApp, slug: &str, name: &str) -> Result<String> {
    let (_, home) = get(app, &app.client()?, Some(slug), "/").await?;
    let names = texts(&home, "a[href^='/elus/']")?;
    let links = attrs(&home, "a[href^='/elus/']", "href")?;
    names
        .iter()
        .position(|n| n == name)
        .and_then(|i| links.get(i).cloned())
        .with_context(|| format!("no link to {name}: {names:?}"))
}

both_backends!(admins_refuse_an_officials_claim, |backend| async move {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    parvis_tests::rne::import(&app, &[parvis_tests::rne::ALICE_LAMBERT]).await?;
    let (_, mayor) = member(&app, &paris, "maire@paris.test", Some(Role::TenantAdmin)).await?;
    let (alice_id, alice) = member(&app, &paris, "alice@example.org", None).await?;
    let profile = profile_path(&app, &paris, "Alice LAMBERT").await?;
    let claim_action = format!("{profile}/revendiquer");
    let claim = || {
        submit(
            &app,
            &alice,
            Some(&paris),
            (&profile, &claim_action),
            &[("birth_date", "01/02/1975"), ("message", "C'est bien moi")],
        )
    };
    let (status, page) = claim().await?;
    assert_eq!(status, 200, "{page}");

    let (_, list) = get(&app, &mayor, Some(&paris), "/admin/revendications").await?;
    assert_eq!(texts(&list, "section.card h2")?, ["Alice LAMBERT"]);
    let refuse = attrs(&list, "form[action$='/refuser']", "action")?
        .pop()
        .context("no refusal form")?;
    let reject = |reason: &'static str| {
        let (app, mayor, paris, refuse) = (&app, &mayor, &paris, &refuse);
        async move {
            submit(
                app,
                mayor,
                Some(paris),
                ("/admin/revendications", refuse),
                &[("reason", reason)],
            )
            .await
        }
    };

    // The claimant is told why: a refusal needs its reason.
    let (status, page) = reject("non").await?;
    assert_eq!(status, 400);
    assert_eq!(
        texts(&page, "p.notice.error")?,
        ["Indiquez le motif du refus (5 caractères au moins) : il est envoyé au demandeur."]
    );
    assert_eq!(
        texts(&page, "section.card h2")?,
        ["Alice LAMBERT"],
        "still pending"
    );

    let (status, to) = reject("Nous n'avons pas pu vérifier votre identité").await?;
    assert_eq!((status, to.as_str()), (303, "/admin/revendications"));
    let (_, list) = get(&app, &mayor, Some(&paris), "/admin/revendications").await?;
    assert!(texts(&list, "section.card h2")?.is_empty(), "{list}");
    assert!(texts(&list, "main p")?.contains(&"Aucune demande en attente.".to_string()));
    let mail = app.smtp.wait_for("alice@example.org", "refusée").await?;
    assert!(
        mail.text.contains("Alice LAMBERT")
            && mail
                .text
                .contains("Motif : Nous n'avons pas pu vérifier votre identité"),
        "{}",
        mail.text
    );
    // The profile stays unclaimed and Alice gets no official's rights.
    let (_, page) = get(&app, &alice, Some(&paris), &profile).await?;
    assert!(
        attrs(&page, "form", "action")?.contains(&format!("{profile}/revendiquer")),
        "the profile can still be claimed: {page}"
    );
    let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(&paris)?)
        .await?
        .context("paris")?;
    assert!(
        !app.state
            .authz
            .can(
                Some(&alice_id),
                &tenant.id.authz_domain(),
                perms::PUBLISH_POST
            )
            .await
    );

    // Decided once; an unknown claim is not found.
    let (status, page) = reject("Nous n'avons pas pu vérifier votre identité").await?;
    assert_eq!(status, 409);
    assert_eq!(
        texts(&page, "p.notice.error")?,
        ["Cette demande a déjà été traitée."]
    );
    expect_page(
        post_form(
            &app,
            &mayor,
            Some(&paris),
            (
                "/admin/revendications",
                "/admin/revendications/inconnue/refuser",
            ),
            &[("reason", "Nous n'avons pas pu vérifier")],
        )
        .await?,
        404,
        "Cette demande n'existe pas.",
    )
    .await?;
    // The refused claim no longer holds the profile: Alice may ask again.
    let (status, page) = claim().await?;
    assert_eq!(status, 200, "{page}");
    app.stop().await;
    Ok(())
});

both_backends!(
    platform_admins_refuse_a_subscription_request,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let amberieu = InseeCode::parse("01004")?;
        parvis_tenants::communes::import(
            &app.state.db,
            &parvis_tenants::communes::Source::Embedded,
            &parvis_tenants::communes::Selection::Only(vec![amberieu.clone()]),
            parvis_tenants::communes::Progress::Hidden,
        )
        .await?;
        app.state.communes.reload(&app.state.db).await?;
        app.account("maire@amberieu.test", PASSWORD).await?;
        let requester = app.signed_in(None, "maire@amberieu.test", PASSWORD).await?;
        let root = app.account("root@parvis.test", PASSWORD).await?;
        app.grant(&root, Role::PlatformAdmin, None).await?;
        let admin = app
            .signed_in_with_code(None, "root@parvis.test", PASSWORD)
            .await?;
        let request = || {
            submit(
                &app,
                &requester,
                None,
                ("/inscrire-ma-commune?insee=01004", "/inscrire-ma-commune"),
                &[
                    ("insee", "01004"),
                    ("requester_name", "Jean Maire"),
                    ("requester_role", "Maire"),
                    ("phone", "04 74 00 00 00"),
                    ("message", ""),
                ],
            )
        };
        assert_eq!(request().await?.0, 200);

        let (_, page) = get(&app, &admin, None, "/admin").await?;
        let actions = attrs(&page, "section.card form", "action")?;
        let refuse = actions
            .iter()
            .find(|a| a.ends_with("/refuser"))
            .context("no refusal form")?
            .clone();
        let approve = refuse.replace("/refuser", "/approuver");
        assert!(actions.contains(&approve), "{actions:?}");
        let reject = |client: &reqwest::Client, reason: &'static str| {
            let client = client.clone();
            let refuse = refuse.clone();
            let app = &app;
            async move {
                submit(
                    app,
                    &client,
                    None,
                    ("/connexion", &refuse),
                    &[("reason", reason)],
                )
                .await
            }
        };

        let (status, _) = reject(&requester, "Je me refuse").await?;
        assert_eq!(status, 403, "only platform admins decide");
        let (status, page) = reject(&admin, "non").await?;
        assert_eq!(status, 400);
        assert_eq!(
            texts(&page, "p.notice.error")?,
            ["Indiquez le motif du refus (5 caractères au moins) : il est envoyé au demandeur."]
        );
        assert_eq!(texts(&page, "section.card h2")?.len(), 1, "still pending");

        let reason = "Votre fonction n'a pas pu être vérifiée par téléphone.";
        let (status, to) = reject(&admin, reason).await?;
        assert_eq!((status, to.as_str()), (303, "/admin"));
        let (_, page) = get(&app, &admin, None, "/admin").await?;
        assert!(texts(&page, "section.card h2")?.is_empty(), "{page}");
        let mail = app
            .smtp
            .wait_for(
                "maire@amberieu.test",
                "Votre demande pour Ambérieu-en-Bugey : refusée",
            )
            .await?;
        assert!(
            mail.text.contains(&format!("Motif : {reason}")),
            "{}",
            mail.text
        );
        // Nothing was opened, and a refused request cannot be approved afterwards.
        let (status, page) = submit(&app, &admin, None, ("/admin", &approve), &[]).await?;
        assert_eq!(status, 409);
        assert_eq!(
            texts(&page, "p.notice.error")?,
            ["Cette demande a déjà été traitée."]
        );
        let (status, _) = reject(&admin, reason).await?;
        assert_eq!(status, 409);
        assert!(
            parvis_tenants::provision::find_by_insee(&app.state.db, &amberieu)
                .await?
                .is_none(),
            "the commune was not opened"
        );
        let r = app
            .client()?
            .get(app.url(Some("amberieu-en-bugey"), "/"))
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        expect_page(
            post_form(
                &app,
                &admin,
                None,
                ("/admin", "/admin/demandes/inconnue/refuser"),
                &[("reason", reason)],
            )
            .await?,
            404,
            "Cette demande n'existe pas.",
        )
        .await?;
        // The refusal closed the request: the mayor may ask again.
        assert_eq!(request().await?.0, 200);
        app.stop().await;
        Ok(())
    }
);

both_backends!(admins_remove_team_members_and_links, |backend| async move {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    let (_, mayor) = member(&app, &paris, "maire@paris.test", Some(Role::TenantAdmin)).await?;
    let (_, cyril) = member(&app, &paris, "cyril@example.org", None).await?;
    let added: [(&str, [(&str, &str); 2]); 4] = [
        (
            "/admin/commune/equipe",
            [("name", "Anne Martin"), ("role_label", "Maire")],
        ),
        (
            "/admin/commune/equipe",
            [("name", "Paul Durand"), ("role_label", "1er adjoint")],
        ),
        (
            "/admin/commune/liens",
            [
                ("label", "Piscines"),
                ("url", "https://www.paris.fr/piscines"),
            ],
        ),
        (
            "/admin/commune/liens",
            [
                ("label", "Bibliothèques"),
                ("url", "https://www.paris.fr/bibliotheques"),
            ],
        ),
    ];
    for (action, fields) in added {
        let (status, page) = submit(
            &app,
            &mayor,
            Some(&paris),
            ("/admin/commune", action),
            &fields,
        )
        .await?;
        assert_eq!(status, 303, "{action} {fields:?}: {page}");
    }
    let anonymous = app.client()?;
    let (app_, anonymous_, paris_) = (&app, &anonymous, &paris);
    let public = move || async move {
        let (_, home) = get(app_, anonymous_, Some(paris_), "/").await?;
        anyhow::Ok((
            texts(&home, "ul.team li")?,
            texts(&home, "section[aria-labelledby=liens] li")?,
        ))
    };
    // Shown (and the anonymous page cached) before anything is removed.
    assert_eq!(
        public().await?,
        (
            vec![
                "Anne Martin — Maire".to_string(),
                "Paul Durand — 1er adjoint".to_string()
            ],
            vec!["Piscines".to_string(), "Bibliothèques".to_string()]
        )
    );

    let (_, page) = get(&app, &mayor, Some(&paris), "/admin/commune").await?;
    let members = attrs(&page, "form[action^='/admin/commune/equipe/']", "action")?;
    let links = attrs(&page, "form[action^='/admin/commune/liens/']", "action")?;
    let (Some(paul), Some(piscines)) = (members.get(1).cloned(), links.first().cloned()) else {
        anyhow::bail!("no removal forms: {members:?} {links:?}");
    };
    // A citizen cannot remove anything.
    let (status, _) = submit(&app, &cyril, Some(&paris), ("/connexion", &paul), &[]).await?;
    assert_eq!(status, 403);
    let (status, _) = submit(&app, &cyril, Some(&paris), ("/connexion", &piscines), &[]).await?;
    assert_eq!(status, 403);

    let (status, to) = submit(&app, &mayor, Some(&paris), ("/admin/commune", &paul), &[]).await?;
    assert_eq!((status, to.as_str()), (303, "/admin/commune"));
    let (status, to) = submit(
        &app,
        &mayor,
        Some(&paris),
        ("/admin/commune", &piscines),
        &[],
    )
    .await?;
    assert_eq!((status, to.as_str()), (303, "/admin/commune"));
    assert_eq!(
        public().await?,
        (
            vec!["Anne Martin — Maire".to_string()],
            vec!["Bibliothèques".to_string()]
        ),
        "the commune page shows the change at once"
    );
    let (_, page) = get(&app, &mayor, Some(&paris), "/admin/commune").await?;
    let team = parvis_tests::html::table_rows(&page, "table")?;
    assert_eq!(team.len(), 1, "{team:?}");
    assert_eq!(
        team[0][..2],
        ["Anne Martin".to_string(), "Maire".to_string()]
    );

    // Removed already: not found, said on the edit page.
    let (status, page) = submit(&app, &mayor, Some(&paris), ("/admin/commune", &paul), &[]).await?;
    assert_eq!(status, 404);
    assert_eq!(
        texts(&page, "p.notice.error")?,
        ["Cette personne n'est pas (ou plus) dans l'équipe."]
    );
    let (status, page) = submit(
        &app,
        &mayor,
        Some(&paris),
        ("/admin/commune", &piscines),
        &[],
    )
    .await?;
    assert_eq!(status, 404);
    assert_eq!(
        texts(&page, "p.notice.error")?,
        ["Ce lien n'existe pas (ou plus)."]
    );
    app.stop().await;
    Ok(())
});
