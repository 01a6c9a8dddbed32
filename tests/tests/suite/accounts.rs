//! Accounts through the real router and a real SMTP server: sign-up, e-mail verification,
//! login, logout, password reset, CSRF, rate limiting, and clear errors for bad forms.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use parvis_tests::{TestApp, both_backends, expect_page, form_token};

both_backends!(signup_verify_login_logout, |backend| async move {
    let app = TestApp::start(backend).await?;
    app.commune("01001").await?;
    let slug = "l-abergement-clemenciat";
    let client = app.client()?;
    let token = form_token(&client, &app.url(Some(slug), "/inscription")).await?;
    let response = client
        .post(app.url(Some(slug), "/inscription"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("display_name", "Alice Martin"),
            ("email", "Alice@Example.org"),
            ("password", "une phrase de passe"),
        ])
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert!(response.text().await?.contains("Vérifiez votre boîte mail"));

    // Not verified yet: login refused, with a fresh link sent.
    let token = form_token(&client, &app.url(Some(slug), "/connexion")).await?;
    let early = client
        .post(app.url(Some(slug), "/connexion"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "alice@example.org"),
            ("password", "une phrase de passe"),
        ])
        .send()
        .await?;
    expect_page(early, 403, "nous venons de vous renvoyer le lien").await?;

    let mail = app.smtp.wait_for("alice@example.org", "Confirmez").await?;
    assert!(mail.text.contains("Alice Martin"));
    let link = mail
        .link("/verification?token=")
        .ok_or_else(|| anyhow::anyhow!("no link in {}", mail.text))?;
    assert!(
        link.starts_with(&app.url(Some(slug), "/verification")),
        "link on the commune host: {link}"
    );

    // The link shows the address and a button; the button (a POST with this visitor's CSRF
    // token) confirms it and signs in.
    let confirm = client.get(&link).send().await?;
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await?;
    assert!(html.contains("alice@example.org"), "{html}");
    let csrf = parvis_tests::csrf(&html).ok_or_else(|| anyhow::anyhow!("no csrf: {html}"))?;
    let token = link.split("token=").nth(1).unwrap_or_default().to_string();
    let verified = client
        .post(app.url(Some(slug), "/verification"))
        .form(&[("csrf_token", csrf.as_str()), ("token", token.as_str())])
        .send()
        .await?;
    assert_eq!(verified.status(), 303);
    assert_eq!(verified.headers()["location"], "/?bienvenue=1");
    let home = client
        .get(app.url(Some(slug), "/?bienvenue=1"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        home.contains("Bienvenue, Alice Martin"),
        "signed in on the commune page"
    );
    assert!(home.contains("Se déconnecter"));

    // A verification link works once.
    let again = client.get(&link).send().await?;
    expect_page(again, 400, "déjà utilisé ou expiré").await?;
    let again = client
        .post(app.url(Some(slug), "/verification"))
        .form(&[("csrf_token", csrf.as_str()), ("token", token.as_str())])
        .send()
        .await?;
    expect_page(again, 400, "déjà utilisé ou expiré").await?;

    // Logout, then login with the password.
    let token = form_token(&client, &app.url(Some(slug), "/")).await?;
    let out = client
        .post(app.url(Some(slug), "/deconnexion"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await?;
    assert_eq!(out.status(), 303);
    let home = client
        .get(app.url(Some(slug), "/"))
        .send()
        .await?
        .text()
        .await?;
    assert!(home.contains("Se connecter") && !home.contains("Alice Martin"));
    let token = form_token(&client, &app.url(Some(slug), "/connexion")).await?;
    let wrong = client
        .post(app.url(Some(slug), "/connexion"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "alice@example.org"),
            ("password", "pas le bon mot"),
        ])
        .send()
        .await?;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await?
            .contains("Adresse e-mail ou mot de passe incorrect")
    );
    let ok = client
        .post(app.url(Some(slug), "/connexion"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "alice@example.org"),
            ("password", "une phrase de passe"),
            ("next", "/a-propos"),
        ])
        .send()
        .await?;
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/a-propos");
    app.stop().await;
    Ok(())
});

both_backends!(
    signup_rejects_bad_forms_and_hides_existing_accounts,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let client = app.client()?;
        let url = app.url(None, "/inscription");
        let token = form_token(&client, &url).await?;
        for (name, email, password, expected) in [
            ("A", "a@example.org", "une phrase de passe", "entre 2 et 80"),
            (
                "Alice",
                "pas-une-adresse",
                "une phrase de passe",
                "pas une adresse e-mail valide",
            ),
            ("Alice", "a@example.org", "court", "au moins 10 caractères"),
        ] {
            let r = client
                .post(&url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("display_name", name),
                    ("email", email),
                    ("password", password),
                ])
                .send()
                .await?;
            assert_eq!(r.status(), 400);
            assert!(r.text().await?.contains(expected), "{expected}");
        }
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE deleted_at IS NULL")
                .fetch_one(app.state.db.platform())
                .await?;
        assert_eq!(count, 0, "nothing written for bad forms");

        // A form without its fields at all: a French 400, not a framework message.
        let r = client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf_token={token}&display_name=%ZZ"))
            .send()
            .await?;
        let page = expect_page(r, 400, "n'est pas une adresse e-mail valide").await?;
        assert!(page.contains("<html lang=\"fr\">"), "{page}");
        assert!(!page.contains("deserialize"), "{page}");

        app.account("bob@example.org", "mot de passe de bob")
            .await?;
        let r = client
            .post(&url)
            .form(&[
                ("csrf_token", token.as_str()),
                ("display_name", "Bob"),
                ("email", "bob@example.org"),
                ("password", "une autre phrase"),
            ])
            .send()
            .await?;
        // The page a new address gets, naming the address: nothing tells it is taken.
        let page = expect_page(r, 200, "Vérifiez votre boîte mail").await?;
        assert!(
            parvis_tests::html::text(&page)
                .contains("Nous avons envoyé un lien de confirmation à bob@example.org."),
            "{page}"
        );
        let mail = app
            .smtp
            .wait_for("bob@example.org", "déjà un compte")
            .await?;
        assert!(mail.text.contains("/mot-de-passe-oublie"));
        app.stop().await;
        Ok(())
    }
);

both_backends!(forms_without_csrf_token_are_refused, |backend| async move {
    let app = TestApp::start(backend).await?;
    let client = app.client()?;
    // No CSRF cookie at all.
    let r = client
        .post(app.url(None, "/inscription"))
        .form(&[
            ("display_name", "Eve"),
            ("email", "eve@example.org"),
            ("password", "une phrase de passe"),
        ])
        .send()
        .await?;
    assert_eq!(r.status(), 403);
    assert!(r.text().await?.contains("Ce formulaire a expiré"));
    // Cookie present but wrong token in the form.
    form_token(&client, &app.url(None, "/inscription")).await?;
    let r = client
        .post(app.url(None, "/inscription"))
        .form(&[
            ("csrf_token", "forged-token-forged-token-forged-token"),
            ("display_name", "Eve"),
            ("email", "eve@example.org"),
            ("password", "une phrase de passe"),
        ])
        .send()
        .await?;
    expect_page(r, 403, "Ce formulaire a expiré").await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE deleted_at IS NULL")
        .fetch_one(app.state.db.platform())
        .await?;
    assert_eq!(count, 0);
    app.stop().await;
    Ok(())
});

both_backends!(login_attempts_are_rate_limited, |backend| async move {
    let app = TestApp::start(backend).await?;
    app.account("carol@example.org", "le bon mot de passe")
        .await?;
    let client = app.client()?;
    let token = form_token(&client, &app.url(None, "/connexion")).await?;
    let mut statuses = vec![];
    for _ in 0..7 {
        let r = client
            .post(app.url(None, "/connexion"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", "carol@example.org"),
                ("password", "mauvais essai"),
            ])
            .send()
            .await?;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5]);
    assert_eq!(&statuses[5..], &[429; 2], "{statuses:?}");
    // Even the right password is refused while throttled.
    let r = client
        .post(app.url(None, "/connexion"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "carol@example.org"),
            ("password", "le bon mot de passe"),
        ])
        .send()
        .await?;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    assert!(r.text().await?.contains("Trop de tentatives"));
    app.stop().await;
    Ok(())
});

both_backends!(password_reset_by_email, |backend| async move {
    let app = TestApp::start(backend).await?;
    app.account("dan@example.org", "ancien mot de passe")
        .await?;
    let old_session = app
        .signed_in(None, "dan@example.org", "ancien mot de passe")
        .await?;
    let client = app.client()?;
    let token = form_token(&client, &app.url(None, "/mot-de-passe-oublie")).await?;
    let r = client
        .post(app.url(None, "/mot-de-passe-oublie"))
        .form(&[("csrf_token", token.as_str()), ("email", "dan@example.org")])
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    // Unknown addresses get the same answer and no mail.
    let r = client
        .post(app.url(None, "/mot-de-passe-oublie"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "nobody@example.org"),
        ])
        .send()
        .await?;
    assert_eq!(r.status(), 200);

    let mail = app
        .smtp
        .wait_for("dan@example.org", "Réinitialisez")
        .await?;
    let link = mail
        .link("/reinitialiser?token=")
        .ok_or_else(|| anyhow::anyhow!("no link"))?;
    let form = client.get(&link).send().await?;
    assert_eq!(form.status(), 200);
    let html = form.text().await?;
    let csrf = parvis_tests::csrf(&html).ok_or_else(|| anyhow::anyhow!("no csrf"))?;
    let reset_token = link.split("token=").nth(1).unwrap_or_default().to_string();
    let short = client
        .post(app.url(None, "/reinitialiser"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("token", reset_token.as_str()),
            ("password", "court"),
        ])
        .send()
        .await?;
    expect_page(short, 400, "au moins 10 caractères").await?;
    let done = client
        .post(app.url(None, "/reinitialiser"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("token", reset_token.as_str()),
            ("password", "nouveau mot de passe"),
        ])
        .send()
        .await?;
    assert_eq!(done.status(), 303);
    // Old sessions are closed, the old password no longer works, the new one does.
    let page = old_session
        .get(app.url(None, "/"))
        .send()
        .await?
        .text()
        .await?;
    assert!(!page.contains("Se déconnecter"), "old session ended");
    assert!(
        app.signed_in(None, "dan@example.org", "ancien mot de passe")
            .await
            .is_err()
    );
    app.signed_in(None, "dan@example.org", "nouveau mot de passe")
        .await?;
    // The link is single-use.
    let again = client.get(&link).send().await?;
    expect_page(again, 400, "Lien invalide").await?;
    let none = app
        .smtp
        .messages()?
        .into_iter()
        .filter(|m| m.rcpt_tos.iter().any(|r| r == "nobody@example.org"))
        .count();
    assert_eq!(none, 0);
    app.stop().await;
    Ok(())
});

/// The mail job to `to`: (attempts, last error, done at).
async fn mail_job(app: &TestApp, to: &str) -> anyhow::Result<(i64, Option<String>, Option<i64>)> {
    let rows: Vec<(i64, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT attempts, last_error, done_at FROM jobs WHERE kind = 'mail' AND payload LIKE $1",
    )
    .bind(format!("%\"{to}\"%"))
    .fetch_all(app.state.db.platform())
    .await?;
    anyhow::ensure!(rows.len() == 1, "mail jobs to {to}: {rows:?}");
    rows.into_iter().next().context("no mail job")
}

/// Waits (up to 20 s) until the mail job to `to` is in a state `done` accepts; returns it.
async fn wait_for_job(
    app: &TestApp,
    to: &str,
    what: &str,
    done: impl Fn(&(i64, Option<String>, Option<i64>)) -> bool,
) -> anyhow::Result<(i64, Option<String>, Option<i64>)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let job = mail_job(app, to).await?;
        if done(&job) {
            return Ok(job);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the mail job to {to} is not {what} after 20 s: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_up(app: &TestApp, name: &str, email: &str) -> anyhow::Result<()> {
    let client = app.client()?;
    let token = form_token(&client, &app.url(None, "/inscription")).await?;
    let r = client
        .post(app.url(None, "/inscription"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("display_name", name),
            ("email", email),
            ("password", "une phrase de passe"),
        ])
        .send()
        .await?;
    expect_page(r, 200, "Vérifiez votre boîte mail").await?;
    Ok(())
}

both_backends!(
    mail_survives_smtp_failures_and_restarts,
    |backend| async move {
        // The SMTP server refuses the first two messages: the job is retried with backoff.
        let mut app = TestApp::start_with(backend, 2).await?;
        sign_up(&app, "Eva", "eva@example.org").await?;
        let mail = app.smtp.wait_for("eva@example.org", "Confirmez").await?;
        assert!(mail.link("/verification").is_some());
        // The job is marked done just after the SMTP server took the message: wait for it.
        let (attempts, _, _) =
            wait_for_job(&app, "eva@example.org", "done", |j| j.2.is_some()).await?;
        assert_eq!(attempts, 3, "two failures then success");

        // The SMTP server goes down: its process is stopped, its port refuses connections.
        // A sign-up's mail waits in the queue, tried and retried, and goes out once the server
        // is started again on the same port.
        let sink = app.smtp.pid().context("the sink runs")?;
        app.smtp.stop_process().await?;
        assert!(
            !std::path::Path::new(&format!("/proc/{sink}")).exists(),
            "the sink process {sink} is still there"
        );
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", app.smtp.port))
                .await
                .is_err(),
            "something still answers on the SMTP port"
        );
        sign_up(&app, "Yves", "yves@example.org").await?;
        let (_, error, _) = wait_for_job(&app, "yves@example.org", "tried", |j| {
            j.0 >= 1 && j.1.is_some()
        })
        .await?;
        let (_, _, done) = mail_job(&app, "yves@example.org").await?;
        assert_eq!(done, None, "sent while the server was down? {error:?}");
        app.smtp.restart().await?;
        let mail = app.smtp.wait_for("yves@example.org", "Confirmez").await?;
        assert!(mail.link("/verification").is_some());
        let (attempts, _, _) =
            wait_for_job(&app, "yves@example.org", "done", |j| j.2.is_some()).await?;
        assert!(attempts >= 2, "sent at the first attempt: {attempts}");
        // The mailbox kept what the first run of the server received.
        app.smtp.wait_for("eva@example.org", "Confirmez").await?;
        app.stop().await;
        Ok(())
    }
);

both_backends!(sign_in_never_redirects_off_site, |backend| async move {
    // Issue 13, defect 2: `next` is followed only as a same-site path, read as the browser
    // reads it (a tab, a backslash or a scheme-relative URL would leave the site).
    let app = TestApp::start(backend).await?;
    // The attack as reported: a link to the login page whose `next` decodes to `/\t/evil…`;
    // the form must not carry it on.
    let form = app
        .anonymous_page(app.url(None, "/connexion?next=/%09/evil.example/phish"))
        .await?;
    assert!(
        form.contains(r#"name="next""#) && !form.contains("evil.example"),
        "{form}"
    );
    for (i, next) in [
        "/%09/evil.example/phish",
        "/\t/evil.example/phish",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https:evil.example",
        "https://evil.example/",
    ]
    .into_iter()
    .enumerate()
    {
        // One account per attempt: each sign-in counts against its address's budget.
        let email = format!("erin{i}@example.org");
        app.account(&email, "le bon mot de passe").await?;
        let client = app.client()?;
        let token = form_token(&client, &app.url(None, "/connexion")).await?;
        let r = client
            .post(app.url(None, "/connexion"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", email.as_str()),
                ("password", "le bon mot de passe"),
                ("next", next),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 303, "{next:?}");
        let location = r.headers()["location"].to_str()?.to_string();
        // What the browser will follow, resolved against this site's page.
        let followed = reqwest::Url::parse(&app.url(None, "/connexion"))?.join(&location)?;
        assert_eq!(
            followed.host_str(),
            Some(parvis_tests::BASE),
            "{next:?} led to {location:?}"
        );
        assert!(
            location.starts_with('/') && !location.starts_with("//"),
            "{next:?} led to {location:?}"
        );
    }
    app.stop().await;
    Ok(())
});

both_backends!(
    padded_addresses_share_one_login_budget,
    |backend| async move {
        // Issue 13, defect 3: the limit keys on the address as accounts match it, so spaces,
        // tabs and capitals give no fresh guesses.
        let app = TestApp::start(backend).await?;
        app.account("victim@example.org", "le bon mot de passe")
            .await?;
        let client = app.client()?;
        let token = form_token(&client, &app.url(None, "/connexion")).await?;
        let variants = [
            "victim@example.org",
            "   victim@example.org\t",
            "VICTIM@example.org",
            " Victim@Example.Org ",
            "\tvictim@example.org",
            "victim@example.org   ",
        ];
        let mut statuses = vec![];
        for email in variants {
            let r = client
                .post(app.url(None, "/connexion"))
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("email", email),
                    ("password", "mauvais essai"),
                ])
                .send()
                .await?;
            statuses.push(r.status().as_u16());
        }
        assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    padded_reset_requests_queue_at_most_the_limit,
    |backend| async move {
        // Issue 13, defect 3: 18 padded variants of one address once queued 18 reset e-mails.
        let app = TestApp::start(backend).await?;
        app.account("target@example.org", "le bon mot de passe")
            .await?;
        let client = app.client()?;
        let token = form_token(&client, &app.url(None, "/mot-de-passe-oublie")).await?;
        let mut statuses = vec![];
        for i in 0..18 {
            let padded = format!(
                "{}{}{}",
                " ".repeat(i),
                if i % 2 == 0 {
                    "target@example.org"
                } else {
                    "Target@Example.ORG"
                },
                "\t".repeat(i % 3)
            );
            let r = client
                .post(app.url(None, "/mot-de-passe-oublie"))
                .form(&[("csrf_token", token.as_str()), ("email", padded.as_str())])
                .send()
                .await?;
            statuses.push(r.status().as_u16());
        }
        assert_eq!(&statuses[..5], &[200; 5], "{statuses:?}");
        assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
        app.smtp
            .wait_for("target@example.org", "Réinitialisez")
            .await?;
        // Whatever else the requests queued has been sent once the queue is idle.
        app.settle_jobs().await?;
        let sent = app
            .smtp
            .messages()?
            .into_iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r == "target@example.org"))
            .count();
        assert_eq!(sent, 5, "reset e-mails sent for one address");
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_verification_link_signs_nobody_in_by_itself,
    |backend| async move {
        // Issue 13: `GET /verification?token=` signed the visitor into the token's owner, so a
        // link or an image planted by an attacker signed the victim into the attacker's account
        // (login CSRF). Opening the link now changes nothing; only its form does.
        let app = TestApp::start(backend).await?;
        let attacker = app.client()?;
        let token = form_token(&attacker, &app.url(None, "/inscription")).await?;
        attacker
            .post(app.url(None, "/inscription"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("display_name", "Mallory"),
                ("email", "mallory@example.org"),
                ("password", "une phrase de passe"),
            ])
            .send()
            .await?;
        let mail = app
            .smtp
            .wait_for("mallory@example.org", "Confirmez")
            .await?;
        let link = mail
            .link("/verification?token=")
            .ok_or_else(|| anyhow::anyhow!("no link in {}", mail.text))?;
        let secret = link.split("token=").nth(1).unwrap_or_default().to_string();

        // The victim's browser follows the link (or loads it as an image): no session.
        let victim = app.client()?;
        let opened = victim.get(&link).send().await?;
        assert_eq!(opened.status(), 200);
        assert!(
            opened
                .headers()
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap_or_default().starts_with("parvis_session")),
            "a GET opened a session"
        );
        let home = victim.get(app.url(None, "/")).send().await?.text().await?;
        assert!(!home.contains("Se déconnecter"), "the link alone signs in");

        // A cross-site form cannot carry the victim's CSRF token: refused.
        let forged = victim
            .post(app.url(None, "/verification"))
            .form(&[("token", secret.as_str())])
            .send()
            .await?;
        assert_eq!(forged.status(), 403);
        let home = victim.get(app.url(None, "/")).send().await?.text().await?;
        assert!(!home.contains("Se déconnecter"), "a forged POST signs in");

        // The owner confirms with the button.
        let page = attacker.get(&link).send().await?.text().await?;
        let csrf = parvis_tests::csrf(&page).ok_or_else(|| anyhow::anyhow!("no csrf"))?;
        let done = attacker
            .post(app.url(None, "/verification"))
            .form(&[("csrf_token", csrf.as_str()), ("token", secret.as_str())])
            .send()
            .await?;
        assert_eq!(done.status(), 303);
        app.stop().await;
        Ok(())
    }
);
