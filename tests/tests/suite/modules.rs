//! The module host through the real router with real compiled components: hostile modules are
//! contained (time, memory, stack, output, no WASI rights), a module cannot reach another
//! commune's data, faults switch a module off for one commune only and tell its admins, and
//! module pages keep the host's session, CSRF and role checks.

use std::time::{Duration, Instant};

use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, expect_page, form_token};

const HOSTILE: &str = "parvis-module-hostile";

async fn two_communes_with_hostile(app: &TestApp) -> anyhow::Result<(String, String)> {
    let paris = app.commune("75056").await?;
    let lyon = app.commune("69123").await?;
    let id = app.install_module(HOSTILE).await?;
    assert_eq!(id, "hostile");
    app.enable_module(&paris, "hostile").await?;
    app.enable_module(&lyon, "hostile").await?;
    Ok((paris, lyon))
}

both_backends!(
    runaway_modules_get_a_french_error_page_and_others_keep_serving,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, lyon) = two_communes_with_hostile(&app).await?;
        let client = app.client()?;

        // An infinite loop in Paris while Lyon asks for a page: Lyon is answered at once.
        // Each commune gets one instance at a time and a short wait for it, so a ping of
        // Paris's shed with 503 shows the loop is running before Lyon asks.
        app.state.modules.set_shares(
            parvis_core::modules::engine::POOL_INSTANCES as usize,
            Duration::from_millis(100),
            1,
        );
        let looping = tokio::spawn(client.get(app.url(Some(&paris), "/m/hostile/loop")).send());
        let started = Instant::now();
        loop {
            let r = client
                .get(app.url(Some(&paris), "/m/hostile/ping"))
                .send()
                .await?;
            if r.status() == 503 {
                break;
            }
            assert_eq!(r.status(), 200, "{}", r.text().await?);
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(10),
                "Paris's loop never held its instance"
            );
        }
        let started = Instant::now();
        let r = client
            .get(app.url(Some(&lyon), "/m/hostile/ping"))
            .send()
            .await?;
        let took = started.elapsed();
        assert_eq!(r.status(), 200);
        let body = r.text().await?;
        assert!(body.contains("pong"), "{body}");
        assert!(took < Duration::from_millis(1000), "Lyon waited {took:?}");
        assert!(
            !looping.is_finished(),
            "Lyon was answered after the loop ended"
        );
        let looped = looping.await??;
        assert_eq!(looped.status(), 500);
        let page = looped.text().await?;
        assert!(page.contains("temps de calcul"), "{page}");
        assert!(page.contains("Les autres services de la commune"), "{page}");
        assert!(
            page.contains("<html lang=\"fr\">"),
            "not in the site layout: {page}"
        );

        for (path, words) in [
            ("/m/hostile/memory", "mémoire"),
            // Unbounded recursion exhausts the wasm stack or the shadow stack Rust keeps in
            // linear memory, whichever comes first: either way a trap, contained.
            ("/m/hostile/recursion", "pas pu répondre"),
        ] {
            let r = client.get(app.url(Some(&lyon), path)).send().await?;
            assert_eq!(r.status(), 500, "{path}");
            let page = r.text().await?;
            assert!(page.contains(words), "{path}: {page}");
        }
        // A success in between resets Lyon's count: Lyon keeps the module.
        let r = client
            .get(app.url(Some(&lyon), "/m/hostile/ping"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        for path in ["/m/hostile/huge", "/m/hostile/panic"] {
            let r = client.get(app.url(Some(&lyon), path)).send().await?;
            assert_eq!(r.status(), 500, "{path}");
        }
        let r = client
            .get(app.url(Some(&lyon), "/m/hostile/ping"))
            .send()
            .await?;
        assert_eq!(
            r.status(),
            200,
            "Lyon lost the module after non-consecutive faults"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    repeated_faults_switch_a_module_off_for_that_commune_only,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, lyon) = two_communes_with_hostile(&app).await?;
        let admin = app.account("maire@paris.fr", "mot-de-passe-solide").await?;
        app.grant(&admin, Role::TenantAdmin, Some(&paris)).await?;
        let client = app.client()?;
        // The module fails for several people: an anonymous visitor and two citizens.
        app.account("alice@example.org", "mot-de-passe-solide")
            .await?;
        app.account("bruno@example.org", "mot-de-passe-solide")
            .await?;
        let alice = app
            .signed_in(Some(&paris), "alice@example.org", "mot-de-passe-solide")
            .await?;
        let bruno = app
            .signed_in(Some(&paris), "bruno@example.org", "mot-de-passe-solide")
            .await?;
        for (who, path) in [
            (&client, "/m/hostile/panic"),
            (&alice, "/m/hostile/memory"),
            (&bruno, "/m/hostile/huge"),
        ] {
            let r = who.get(app.url(Some(&paris), path)).send().await?;
            assert_eq!(r.status(), 500, "{path}");
        }
        let r = client
            .get(app.url(Some(&paris), "/m/hostile/ping"))
            .send()
            .await?;
        assert_eq!(r.status(), 503);
        let page = r.text().await?;
        assert!(page.contains("momentanément désactivé"), "{page}");
        let r = client
            .get(app.url(Some(&lyon), "/m/hostile/ping"))
            .send()
            .await?;
        assert_eq!(r.status(), 200, "Lyon must not be affected");

        // The admins are told by e-mail and in the app, and see why on the modules page.
        let mail = app.smtp.wait_for("maire@paris.fr", "désactivé").await?;
        assert!(mail.text.contains("erreurs consécutives"), "{}", mail.text);
        let admin_client = app
            .signed_in(Some(&paris), "maire@paris.fr", "mot-de-passe-solide")
            .await?;
        let centre = admin_client
            .get(app.url(Some(&paris), "/notifications"))
            .send()
            .await?
            .text()
            .await?;
        assert!(centre.contains("désactivé"), "{centre}");
        let modules = admin_client
            .get(app.url(Some(&paris), "/admin/modules"))
            .send()
            .await?
            .text()
            .await?;
        assert!(modules.contains("erreurs consécutives"), "{modules}");

        // Settings from the manifest: the form checks each kind, the module gets them as JSON.
        let token = form_token(&admin_client, &app.url(Some(&paris), "/admin/modules")).await?;
        let r = admin_client
            .post(app.url(Some(&paris), "/admin/modules/hostile/reglages"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("label", "Salut"),
                ("limit", "beaucoup"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 422);
        assert!(r.text().await?.contains("un nombre est attendu"));
        let r = admin_client
            .post(app.url(Some(&paris), "/admin/modules/hostile/reglages"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("label", "Salut <b>"),
                ("limit", "12,5"),
                ("flag", "on"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 303);

        // Re-enabling from the admin page brings it back.
        let r = admin_client
            .post(app.url(Some(&paris), "/admin/modules/hostile/activer"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let r = client
            .get(app.url(Some(&paris), "/m/hostile/ping"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let settings: serde_json::Value = client
            .get(app.url(Some(&paris), "/m/hostile/settings"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            settings,
            serde_json::json!({"label": "Salut <b>", "limit": 12.5, "flag": true})
        );

        // Switching it off asks first: the service runs until the admin confirms.
        let off = app.url(Some(&paris), "/admin/modules/hostile/desactiver");
        let r = admin_client
            .post(&off)
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let confirm = r.text().await?;
        assert_eq!(
            parvis_tests::html::attrs(&confirm, "form input[name=confirme]", "value")?,
            vec!["oui".to_string()]
        );
        let ping = || client.get(app.url(Some(&paris), "/m/hostile/ping")).send();
        assert_eq!(
            ping().await?.status(),
            200,
            "still on before the confirmation"
        );
        let r = admin_client
            .post(&off)
            .form(&[("csrf_token", token.as_str()), ("confirme", "oui")])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        assert_eq!(ping().await?.status(), 404, "off once confirmed");
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_module_cannot_reach_another_communes_data_or_the_machine,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, lyon) = two_communes_with_hostile(&app).await?;
        let client = app.client()?;
        // What the module reads in a commune: every listing it tries (its own collection,
        // wildcards, other names) and its counters, as JSON.
        let read = |slug: &str| {
            let request = client.get(app.url(Some(slug), "/m/hostile/read"));
            async move {
                let r = request.send().await?;
                let status = r.status();
                let body = r.text().await?;
                anyhow::ensure!(status == 200, "read: {status}: {body}");
                let json: serde_json::Value = serde_json::from_str(&body)?;
                anyhow::Ok(json)
            }
        };
        let write = |slug: &str, value: &str| {
            let request =
                client.get(app.url(Some(slug), &format!("/m/hostile/write?value={value}")));
            async move {
                let r = request.send().await?;
                let status = r.status();
                let body = r.text().await?;
                anyhow::ensure!(status == 200, "write: {status}: {body}");
                anyhow::Ok(())
            }
        };
        write(&paris, "secret-de-paris").await?;
        let seen_in_paris = read(&paris).await?;
        assert_eq!(
            seen_in_paris["secrets"],
            serde_json::json!({"s": "secret-de-paris"})
        );
        assert_eq!(seen_in_paris["counters"], serde_json::json!({"hits": 1}));
        // Lyon's module reads nothing of Paris's, by any name: no document, no counter.
        let seen_in_lyon = read(&lyon).await?;
        assert_eq!(
            seen_in_lyon["secrets"],
            serde_json::json!({}),
            "{seen_in_lyon}"
        );
        assert_eq!(
            seen_in_lyon["counters"],
            serde_json::json!({}),
            "{seen_in_lyon}"
        );
        assert!(
            !seen_in_lyon.to_string().contains("secret-de-paris"),
            "Lyon saw Paris's data: {seen_in_lyon}"
        );
        // …and its own only, once it writes.
        write(&lyon, "secret-de-lyon").await?;
        let seen_in_lyon = read(&lyon).await?;
        assert_eq!(
            seen_in_lyon["secrets"],
            serde_json::json!({"s": "secret-de-lyon"})
        );
        assert_eq!(seen_in_lyon["counters"], serde_json::json!({"hits": 1}));
        assert_eq!(
            read(&paris).await?["secrets"],
            serde_json::json!({"s": "secret-de-paris"})
        );

        // Imports need the capability the manifest declared (this module only asked for storage).
        let sms: serde_json::Value = client
            .get(app.url(Some(&lyon), "/m/hostile/sms"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(sms["sent"], false, "{sms}");
        assert!(
            sms["refused"]
                .as_str()
                .is_some_and(|r| r.contains("notify")),
            "{sms}"
        );

        let escape: serde_json::Value = client
            .get(app.url(Some(&lyon), "/m/hostile/escape"))
            .send()
            .await?
            .json()
            .await?;
        let text = escape.to_string();
        assert!(!text.contains("root:"), "read /etc/passwd: {text}");
        assert_eq!(escape["env"], 0, "{text}");
        assert!(
            escape["net"]
                .as_str()
                .is_some_and(|s| !s.starts_with("connected")),
            "{text}"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    module_pages_keep_the_hosts_session_csrf_and_roles,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let marseille = app.commune("13055").await?;
        app.install_module(HOSTILE).await?;
        app.enable_module(&paris, "hostile").await?;
        let anonymous = app.client()?;

        // Not enabled there, or not installed at all: a French 404 page.
        let r = anonymous
            .get(app.url(Some(&marseille), "/m/hostile/ping"))
            .send()
            .await?;
        expect_page(
            r,
            404,
            "Le service « Module hostile (tests) » n'est pas proposé par cette commune.",
        )
        .await?;
        let r = anonymous
            .get(app.url(Some(&paris), "/m/inconnu/"))
            .send()
            .await?;
        expect_page(r, 404, "Ce service n'existe pas sur ce site.").await?;

        // Forms posted to a module need the host's CSRF token; the module never sees it.
        let r = anonymous
            .post(app.url(Some(&paris), "/m/hostile/echo"))
            .form(&[("texte", "bonjour")])
            .send()
            .await?;
        expect_page(r, 403, "Ce formulaire a expiré ou ne vient pas de ce site.").await?;
        let token = form_token(&anonymous, &app.url(Some(&paris), "/connexion")).await?;
        let r = anonymous
            .post(app.url(Some(&paris), "/m/hostile/echo"))
            .form(&[("csrf_token", token.as_str()), ("texte", "bonjour <b>")])
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let echoed = r.text().await?;
        assert!(echoed.contains("bonjour <b>"), "{echoed}");
        assert!(!echoed.contains("csrf_token"), "{echoed}");

        // Staff pages: anonymous → login, citizen → 403, official → served.
        let r = anonymous
            .get(app.url(Some(&paris), "/admin/m/hostile/ping"))
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        assert!(r.headers()["location"].to_str()?.starts_with("/connexion"));
        app.account("citoyen@example.org", "mot-de-passe-solide")
            .await?;
        let citizen = app
            .signed_in(Some(&paris), "citoyen@example.org", "mot-de-passe-solide")
            .await?;
        let r = citizen
            .get(app.url(Some(&paris), "/admin/m/hostile/ping"))
            .send()
            .await?;
        expect_page(
            r,
            403,
            "Cette page est réservée aux élus et aux administrateurs de la commune.",
        )
        .await?;
        let elu = app
            .account("elu@example.org", "mot-de-passe-solide")
            .await?;
        app.grant(&elu, Role::Official, Some(&paris)).await?;
        let official = app
            .signed_in(Some(&paris), "elu@example.org", "mot-de-passe-solide")
            .await?;
        let r = official
            .get(app.url(Some(&paris), "/admin/m/hostile/ping"))
            .send()
            .await?;
        expect_page(r, 200, "pong").await?;
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_get_that_writes_after_another_commit_is_still_served,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, _) = two_communes_with_hostile(&app).await?;
        let client = app.client()?;
        let url = |query: &str| app.url(Some(&paris), &format!("/m/hostile/write?{query}"));
        // A slow GET reads, then writes 400 ms later; meanwhile a quick one writes and commits.
        // On SQLite the slow one's snapshot is then stale, and SQLite refuses its write: the
        // host runs it again as a writer instead of failing it.
        let slow = tokio::spawn(client.get(url("value=lent&wait_ms=400")).send());
        tokio::time::sleep(Duration::from_millis(150)).await;
        let quick = client.get(url("value=rapide")).send().await?;
        assert_eq!(quick.status(), 200);
        let (status, body) = parvis_tests::outcome(slow.await??).await?;
        assert_eq!(status, 200, "{body}");
        let written: serde_json::Value = serde_json::from_str(&body)?;
        assert_eq!(written["hits"], 2, "each request counted once: {body}");
        let read: serde_json::Value = client
            .get(app.url(Some(&paris), "/m/hostile/read"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(read["secrets"]["s"], "lent", "the slow write came last");
        app.stop().await;
        Ok(())
    }
);

/// On SQLite a module's page reads on a direct reader of the file, in the request's own task,
/// not on a connection of the pool (a wake-up of the pool's connection thread per row read):
/// with every pooled connection held elsewhere, the page still answers, and a GET that
/// writes still runs again as a writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_page_reads_without_a_pooled_connection_on_sqlite() -> anyhow::Result<()> {
    let app = TestApp::start(parvis_tests::Backend::Sqlite).await?;
    let (paris, _) = two_communes_with_hostile(&app).await?;
    let client = app.client()?;
    // The hostile module's page at `path`: its status, and its body.
    let get = |path: &str| {
        let request = client.get(app.url(Some(&paris), path)).send();
        async move { parvis_tests::outcome(request.await?).await }
    };
    let secret = |body: &str| -> anyhow::Result<serde_json::Value> {
        let read: serde_json::Value = serde_json::from_str(body)?;
        Ok(read["secrets"]["s"].clone())
    };
    assert_eq!(get("/m/hostile/write?value=avant").await?.0, 200);

    let pool = app.state.db.platform();
    let mut held = Vec::new();
    while let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_millis(300), pool.acquire()).await
    {
        held.push(conn);
    }
    assert!(held.len() >= 8, "the pool gave {} connections", held.len());

    let started = Instant::now();
    let (status, body) = get("/m/hostile/read").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(secret(&body)?, "avant", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the page waited {:?}",
        started.elapsed()
    );
    // A GET that writes starts as a read and runs again as a writer, on SQLite's writer.
    let (status, body) = get("/m/hostile/write?value=apres").await?;
    assert_eq!(status, 200, "{body}");
    drop(held);
    let (status, body) = get("/m/hostile/read").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(secret(&body)?, "apres", "{body}");
    app.stop().await;
    Ok(())
}

/// The admins of Paris got no e-mail about a module switched off: once every job the requests
/// caused has run (a switch-off queues its notice before the faulting request is answered).
async fn no_switch_off_mail(app: &TestApp) -> anyhow::Result<()> {
    app.settle_jobs().await?;
    let mails = app.smtp.messages()?;
    let told: Vec<&str> = mails
        .iter()
        .map(|m| m.subject.as_str())
        .filter(|s| s.contains("désactivé"))
        .collect();
    anyhow::ensure!(told.is_empty(), "admins told: {told:?}");
    Ok(())
}

both_backends!(
    oversized_input_is_refused_by_the_host_and_cannot_switch_a_module_off,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        assert_eq!(app.install_module("parvis-module-polls").await?, "polls");
        app.enable_module(&paris, "polls").await?;
        let maire = app.account("maire@paris.fr", "mot-de-passe-solide").await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let anonymous = app.client()?;
        let token = form_token(&anonymous, &app.url(Some(&paris), "/connexion")).await?;

        // About two million empty fields (4 MB), the token in the query so the CSRF check
        // does not read the body: refused by the host, three times, before any module runs.
        let flood = "a&".repeat(2_000_000);
        for _ in 0..3 {
            let r = anonymous
                .post(app.url(Some(&paris), &format!("/m/polls/x?csrf_token={token}")))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(flood.clone())
                .send()
                .await?;
            assert_eq!(r.status(), 413);
            let page = r.text().await?;
            assert!(page.contains("Kio"), "{page}");
            assert!(page.contains("<html lang=\"fr\">"), "{page}");
        }
        // Under the body limit, too many fields or too large a field are refused as well;
        // an API caller gets JSON.
        let r = anonymous
            .post(app.url(Some(&paris), "/m/polls/x"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("telephone", &"0".repeat(200_000)),
            ])
            .send()
            .await?;
        expect_page(r, 413, "Un champ du formulaire dépasse").await?;
        let many: Vec<(String, String)> = std::iter::once(("csrf_token".into(), token.clone()))
            .chain((0..1000).map(|i| (format!("f{i}"), String::new())))
            .collect();
        let r = anonymous
            .post(app.url(Some(&paris), "/m/polls/x"))
            .header("accept", "application/json")
            .form(&many)
            .send()
            .await?;
        assert_eq!(r.status(), 400);
        let json: serde_json::Value = r.json().await?;
        assert_eq!(json["error"]["code"], "bad_request", "{json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("trop de champs")),
            "{json}"
        );
        let r = anonymous
            .get(app.url(Some(&paris), &format!("/m/polls/?q={}", "x".repeat(10_000))))
            .send()
            .await?;
        expect_page(r, 400, "Cette adresse est trop longue.").await?;

        // The module is still on and answers; its admins were told nothing.
        let r = anonymous
            .get(app.url(Some(&paris), "/m/polls/"))
            .send()
            .await?;
        expect_page(r, 200, "Sondages").await?;
        no_switch_off_mail(&app).await?;
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    one_client_alone_cannot_switch_a_module_off,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, _) = two_communes_with_hostile(&app).await?;
        let maire = app.account("maire@paris.fr", "mot-de-passe-solide").await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let attacker = app.client()?;
        for _ in 0..5 {
            for path in ["/m/hostile/panic", "/m/hostile/memory"] {
                let r = attacker.get(app.url(Some(&paris), path)).send().await?;
                assert_eq!(r.status(), 500, "{path}");
            }
        }
        let r = app
            .client()?
            .get(app.url(Some(&paris), "/m/hostile/ping"))
            .send()
            .await?;
        assert_eq!(r.status(), 200, "one client switched the module off");
        no_switch_off_mail(&app).await?;
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    calls_past_the_pool_wait_for_an_instance_then_are_shed_with_retry_after,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, _) = two_communes_with_hostile(&app).await?;
        let client = app.client()?;
        let ping = app.url(Some(&paris), "/m/hostile/ping");
        let looping = app.url(Some(&paris), "/m/hostile/loop");

        // Two instances, a generous wait: two runaway calls hold both, eight pings queue
        // behind them and are all served once the loops hit their (short) deadline.
        app.state
            .modules
            .set_time_budget(Duration::from_millis(400));
        app.state.modules.set_admission(2, Duration::from_secs(10));
        let get = |url: &String| {
            let request = client.get(url.clone());
            tokio::spawn(async move { anyhow::Ok(request.send().await?.status().as_u16()) })
        };
        let loops: Vec<_> = (0..2).map(|_| get(&looping)).collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let pings: Vec<_> = (0..8).map(|_| get(&ping)).collect();
        for l in loops {
            assert_eq!(l.await??, 500);
        }
        for p in pings {
            assert_eq!(p.await??, 200, "a queued call was not served");
        }

        // One instance, a short wait: while a loop holds it, a ping is shed with 503,
        // `Retry-After` and a French page, and the module is not blamed.
        app.state
            .modules
            .set_admission(1, Duration::from_millis(100));
        let held = tokio::spawn(client.get(&looping).send());
        // Pings are served until the loop holds the instance, then shed.
        let shed = loop {
            let r = client.get(&ping).send().await?;
            if r.status() != 200 {
                break r;
            }
            anyhow::ensure!(
                !held.is_finished(),
                "no ping was shed while the loop held the only instance"
            );
        };
        assert_eq!(held.await??.status(), 500);
        assert_eq!(shed.status(), 503);
        assert_eq!(shed.headers()["retry-after"], "5");
        let page = shed.text().await?;
        assert!(page.contains("beaucoup de demandes"), "{page}");
        let r = client.get(&ping).send().await?;
        assert_eq!(r.status(), 200, "the module is still on");
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    every_call_gets_an_instance_nothing_ran_in_before,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, lyon) = two_communes_with_hostile(&app).await?;
        app.account("alice@example.org", "mot-de-passe-solide")
            .await?;
        let alice = app
            .signed_in(Some(&paris), "alice@example.org", "mot-de-passe-solide")
            .await?;
        let visitor = app.client()?;
        let (ahead_before, _) = app.state.modules.instances_made_ahead();

        // The module keeps each caller's name in memory for the next call to find: whether
        // its instance was made on the call or ahead of it, no call finds anything, across
        // people and communes alike.
        let rounds = 20;
        for round in 0..rounds {
            for (who, client, slug) in [
                ("Alice", &alice, &paris),
                ("a visitor", &visitor, &paris),
                ("a visitor in Lyon", &visitor, &lyon),
            ] {
                let r = client
                    .get(app.url(Some(slug), "/m/hostile/remember"))
                    .send()
                    .await?;
                assert_eq!(r.status(), 200, "{}", r.text().await?);
                let json: serde_json::Value = r.json().await?;
                assert_eq!(
                    json["found"],
                    serde_json::json!([]),
                    "round {round}, {who} found what an earlier call left: {json}"
                );
            }
        }
        // Most of those calls took an instance made ahead: the path above was the one tested.
        let (ahead, _) = app.state.modules.instances_made_ahead();
        assert!(
            ahead - ahead_before >= rounds * 3 / 2,
            "only {} of {} calls found an instance made ahead",
            ahead - ahead_before,
            rounds * 3
        );
        Ok(())
    }
);
