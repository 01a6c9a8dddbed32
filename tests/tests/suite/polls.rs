//! The polls module through the real host and its compiled component, on both backends: an
//! official creates a poll, citizens vote once (even when they double-submit at the same
//! instant), residents-only polls are enforced, the results and CSV export agree, and closing
//! publishes the results to the commune's feed once.

use parvis_core::authz::Role;
use parvis_core::modules::bindings::parvis::module::types::Event;
use parvis_core::modules::call;
use parvis_core::types::Slug;
use parvis_tests::{TestApp, both_backends, form_token};

const PASSWORD: &str = "mot-de-passe-solide";

/// Creates a poll as `client` (staff) and returns its id.
async fn create_poll(
    app: &TestApp,
    client: &reqwest::Client,
    slug: &str,
    fields: &[(&str, &str)],
) -> anyhow::Result<String> {
    let form = app.url(Some(slug), "/admin/m/polls/new");
    let token = form_token(client, &form).await?;
    let mut body = vec![("csrf_token", token.as_str())];
    body.extend_from_slice(fields);
    let r = client.post(&form).form(&body).send().await?;
    anyhow::ensure!(
        r.status() == 303,
        "creation: {} {}",
        r.status(),
        r.text().await?
    );
    let location = r.headers()["location"].to_str()?.to_string();
    Ok(location.rsplit('/').next().unwrap_or_default().to_string())
}

fn poll_fields<'a>(question: &'a str, audience: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("question", question),
        ("description", "Consultation de la mairie."),
        ("options", "Oui\nNon\nSans avis"),
        ("kind", "single"),
        ("opens_at", ""),
        ("closes_at", "2099-12-31T23:59"),
        ("secrecy", "anonymous"),
        ("audience", audience),
    ]
}

both_backends!(
    citizens_vote_once_and_closing_publishes_the_results,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        assert_eq!(app.install_module("parvis-module-polls").await?, "polls");
        app.enable_module(&paris, "polls").await?;
        let elu = app.account("elu@paris.fr", PASSWORD).await?;
        app.grant(&elu, Role::Official, Some(&paris)).await?;
        let official = app
            .signed_in(Some(&paris), "elu@paris.fr", PASSWORD)
            .await?;
        // Fanny follows Paris: she is told of the results.
        app.account("fanny@example.org", PASSWORD).await?;
        let fanny = app
            .signed_in(Some(&paris), "fanny@example.org", PASSWORD)
            .await?;
        app.follow_commune(&fanny, &paris).await?;

        // A bad form is refused with French messages and nothing is created.
        let form = app.url(Some(&paris), "/admin/m/polls/new");
        let token = form_token(&official, &form).await?;
        let r = official
            .post(&form)
            .form(&[
                ("csrf_token", token.as_str()),
                ("question", ""),
                ("options", "Seule réponse"),
                ("kind", "single"),
                ("closes_at", "pas une date"),
                ("secrecy", "anonymous"),
                ("audience", "everyone"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 422);
        let page = r.text().await?;
        assert!(page.contains("aria-invalid"), "{page}");

        let poll = create_poll(
            &app,
            &official,
            &paris,
            &poll_fields("Faut-il piétonniser la rue de Rivoli ?", "everyone"),
        )
        .await?;

        // Citizens: one votes normally, one double-submits at the same instant.
        let mut voters = vec![];
        for name in ["alice", "bruno", "chloe"] {
            let email = format!("{name}@example.org");
            app.account(&email, PASSWORD).await?;
            voters.push(app.signed_in(Some(&paris), &email, PASSWORD).await?);
        }
        let poll_url = app.url(Some(&paris), &format!("/m/polls/{poll}"));
        let vote = |client: &reqwest::Client, token: String, option: &'static str| {
            let request = client
                .post(format!("{poll_url}/vote"))
                .form(&[("csrf_token", token), ("option", option.to_string())]);
            async move { anyhow::Ok(request.send().await?.status().as_u16()) }
        };
        let t0 = form_token(&voters[0], &poll_url).await?;
        assert_eq!(vote(&voters[0], t0.clone(), "0").await?, 303);
        assert_eq!(
            vote(&voters[0], t0, "1").await?,
            409,
            "a second vote is refused"
        );
        let t1 = form_token(&voters[1], &poll_url).await?;
        let (a, b) = tokio::join!(vote(&voters[1], t1.clone(), "0"), vote(&voters[1], t1, "0"));
        let mut both = [a?, b?];
        both.sort();
        assert_eq!(both, [303, 409], "a double submission counts once");
        let t2 = form_token(&voters[2], &poll_url).await?;
        assert_eq!(
            vote(&voters[2], t2.clone(), "7").await?,
            422,
            "no such option"
        );
        assert_eq!(vote(&voters[2], t2, "1").await?, 303);

        // Anonymous visitors see the results and are invited to sign in; module pages may
        // not run scripts.
        let r = app.client()?.get(&poll_url).send().await?;
        let csp = r.headers()["content-security-policy"].to_str()?.to_string();
        assert!(
            csp.contains("script-src http://") && csp.contains("/static/;"),
            "{csp}"
        );
        let page = r.text().await?;
        assert!(
            page.contains("3 votants") || page.contains("3 votes"),
            "{page}"
        );
        // The invitation itself (every anonymous page links to /connexion in its header).
        assert!(page.contains(">Connectez-vous pour voter</a>"), "{page}");
        let csv = official
            .get(app.url(
                Some(&paris),
                &format!("/admin/m/polls/{poll}/resultats.csv"),
            ))
            .send()
            .await?
            .text()
            .await?;
        let tally: Vec<(String, u32)> = csv
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut cells = l.split(',');
                Some((cells.next()?.to_string(), cells.next()?.parse().ok()?))
            })
            .collect();
        assert_eq!(
            tally,
            vec![
                ("Oui".into(), 2),
                ("Non".into(), 1),
                ("Sans avis".into(), 0)
            ],
            "{csv}"
        );

        // Citizens cannot close it; the official can, once, and the feed shows the results.
        let admin_url = app.url(Some(&paris), &format!("/admin/m/polls/{poll}"));
        let r = voters[0].get(&admin_url).send().await?;
        parvis_tests::expect_page(
            r,
            403,
            "Cette page est réservée aux élus et aux administrateurs de la commune.",
        )
        .await?;
        let token = form_token(&official, &admin_url).await?;
        for _ in 0..2 {
            let r = official
                .post(format!("{admin_url}/close"))
                .form(&[("csrf_token", token.as_str())])
                .send()
                .await?;
            parvis_tests::expect_redirect(
                &official,
                r,
                &format!("/admin/m/polls/{poll}"),
                "Le sondage est clos",
            )
            .await?;
        }
        let home = app.anonymous_page(app.url(Some(&paris), "/")).await?;
        assert_eq!(
            home.matches("Faut-il piétonniser la rue de Rivoli").count(),
            1,
            "results published once in the feed: {home}"
        );
        // Her notification names them in plain words (the post's markdown was shown raw).
        app.settle_jobs().await?;
        let notices = fanny
            .get(app.url(Some(&paris), "/notifications"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            notices.contains("Paris : Résultats du sondage : Faut-il piétonniser la rue de Rivoli"),
            "{notices}"
        );
        assert!(!notices.contains("**"), "{notices}");
        // A citizen who never voted cannot vote on a closed poll.
        app.account("dora@example.org", PASSWORD).await?;
        let late = app
            .signed_in(Some(&paris), "dora@example.org", PASSWORD)
            .await?;
        let t = form_token(&late, &poll_url).await?;
        let r = late
            .post(format!("{poll_url}/vote"))
            .form(&[("csrf_token", t.as_str()), ("option", "0")])
            .send()
            .await?;
        assert_eq!(r.status(), 409, "closed");
        assert!(r.text().await?.contains("pas ouvert au vote"));
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    residents_only_polls_and_scheduled_closing,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        app.install_module("parvis-module-polls").await?;
        app.enable_module(&paris, "polls").await?;
        let maire = app.account("maire@paris.fr", PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let admin = app
            .signed_in(Some(&paris), "maire@paris.fr", PASSWORD)
            .await?;
        let poll = create_poll(
            &app,
            &admin,
            &paris,
            &poll_fields("Horaires de la piscine", "residents"),
        )
        .await?;
        let visitor = app.account("visiteur@example.org", PASSWORD).await?;
        let resident = app.account("habitante@example.org", PASSWORD).await?;
        app.grant(&resident, Role::Resident, Some(&paris)).await?;
        let _ = visitor;
        let poll_url = app.url(Some(&paris), &format!("/m/polls/{poll}"));
        for (email, expected) in [
            ("visiteur@example.org", 403),
            ("habitante@example.org", 303),
        ] {
            let client = app.signed_in(Some(&paris), email, PASSWORD).await?;
            let token = form_token(&client, &poll_url).await?;
            let r = client
                .post(format!("{poll_url}/vote"))
                .form(&[("csrf_token", token.as_str()), ("option", "0")])
                .send()
                .await?;
            assert_eq!(r.status(), expected, "{email}");
        }

        // The commune's introduction (a module setting) heads the list, escaped.
        let modules_page = app.url(Some(&paris), "/admin/modules");
        let token = form_token(&admin, &modules_page).await?;
        let r = admin
            .post(app.url(Some(&paris), "/admin/modules/polls/reglages"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("introduction", "Réservé aux habitants <script>"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let list = app
            .anonymous_page(app.url(Some(&paris), "/m/polls/"))
            .await?;
        assert!(
            list.contains("<p class=\"intro\">Réservé aux habitants &lt;script&gt;</p>"),
            "{list}"
        );

        // A tick after the closing time closes it and publishes once.
        let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(&paris)?)
            .await?
            .ok_or_else(|| anyhow::anyhow!("paris"))?;
        let module = app
            .state
            .modules
            .get("polls")
            .ok_or_else(|| anyhow::anyhow!("polls not loaded"))?;
        let far_future = 4_102_444_800 + 86_400; // after 2099-12-31
        for _ in 0..2 {
            let outcome = call::event(
                &app.state.modules,
                &module,
                tenant.id,
                app.url(Some(&paris), ""),
                &Event::Tick(far_future),
            )
            .await?;
            assert_eq!(outcome, Ok(()));
        }
        let home = app.anonymous_page(app.url(Some(&paris), "/")).await?;
        assert_eq!(home.matches("Horaires de la piscine").count(), 1, "{home}");

        // Another commune sees nothing of it.
        let lyon = app.commune("69123").await?;
        app.enable_module(&lyon, "polls").await?;
        let r = app
            .client()?
            .get(app.url(Some(&lyon), &format!("/m/polls/{poll}")))
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_large_voters_export_gets_the_time_its_size_needs,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(&paris)?)
            .await?
            .ok_or_else(|| anyhow::anyhow!("paris"))?;
        assert_eq!(app.install_module("parvis-module-polls").await?, "polls");
        app.enable_module(&paris, "polls").await?;
        let elu = app.account("elu@paris.fr", PASSWORD).await?;
        app.grant(&elu, Role::Official, Some(&paris)).await?;
        let official = app
            .signed_in(Some(&paris), "elu@paris.fr", PASSWORD)
            .await?;
        let mut fields = poll_fields("Quel nom pour la médiathèque ?", "everyone");
        for f in &mut fields {
            if f.0 == "secrecy" {
                f.1 = "named";
            }
        }
        let poll = create_poll(&app, &official, &paris, &fields).await?;

        // 3,000 named ballots, as a vote storm leaves them.
        const VOTERS: usize = 3000;
        let polls = parvis_core::types::ModuleId::parse("polls")?;
        let mut tx = app.state.db.tenant(tenant.id).begin_write().await?;
        for i in 0..VOTERS {
            let ballot = serde_json::json!({"voter": format!("Votant {i}"), "choices": [i % 3]});
            parvis_core::modules::store::write(
                &mut tx,
                &polls,
                "ballots",
                &format!("{poll}:acct-{i:05}"),
                &ballot.to_string(),
                &[("poll".into(), poll.clone())],
                &[],
                true,
                None,
                0,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        tx.commit().await?;

        // A loaded server leaves a module a fraction of its budget; here the budget itself is
        // cut to 30 ms so the test sees what a storm does to a 2 s one. The export is served
        // in full: the database's time and the rows it reads extend its budget.
        app.state
            .modules
            .set_time_budget(std::time::Duration::from_millis(30));
        let r = official
            .get(app.url(Some(&paris), &format!("/admin/m/polls/{poll}/votants.csv")))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let csv = r.text().await?;
        assert_eq!(
            csv.lines().count(),
            VOTERS + 1,
            "header and one row per voter"
        );
        assert!(csv.contains("Votant 2999,"), "the last row is there");

        // Pages that read little fit the short budget too.
        let r = official
            .get(app.url(Some(&paris), "/m/polls/"))
            .send()
            .await?;
        assert_eq!(r.status(), 200, "ordinary pages fit the short budget");
        app.stop().await;
        Ok(())
    }
);
