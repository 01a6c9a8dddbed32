//! Notification preferences and e-mail digests: each account chooses when notification e-mails
//! come (at once, a daily or weekly digest, never) and whether push does; notices that wait
//! are sent once per period by the scheduler, driven here at chosen instants (the app runs
//! without its real-clock digest loop, which would claim the slots first); every e-mail
//! unsubscribes in one click without signing in; the header counts unread notifications and
//! messages; the data export and account deletion cover the new rows.

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_core::notifications::digest::{self, Period};
use parvis_core::notifications::{Notice, Recipients, push::Urgency};
use parvis_core::types::AccountId;
use parvis_tests::{Mail, TestApp, both_backends, form_token};

const PASSWORD: &str = "mot de passe solide";

/// Paris, its mayor (who publishes for the commune), and citizens who follow it.
struct World {
    app: TestApp,
    paris: String,
    tenant: parvis_core::types::TenantId,
    mayor: reqwest::Client,
}

async fn world(backend: parvis_tests::Backend) -> Result<World> {
    // The digests go when the test says: no loop on the real clock claims a slot first (at
    // start, or when 08:00 Paris time passes during the test).
    let app = TestApp::start_without_digest_scheduler(backend).await?;
    let paris = app.commune("75056").await?;
    let slug = parvis_core::types::Slug::parse(&paris)?;
    let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &slug)
        .await?
        .context("paris")?
        .id;
    let mayor = app.account("maire@paris.test", PASSWORD).await?;
    app.grant(&mayor, Role::TenantAdmin, Some(&paris)).await?;
    let mayor = app
        .signed_in(Some(&paris), "maire@paris.test", PASSWORD)
        .await?;
    Ok(World {
        app,
        paris,
        tenant,
        mayor,
    })
}

impl World {
    fn url(&self, path: &str) -> String {
        self.app.url(Some(&self.paris), path)
    }

    /// A verified citizen, signed in on Paris, following it, with an e-mail rhythm (`None`:
    /// never chose).
    async fn citizen(
        &self,
        email: &str,
        rhythm: Option<&str>,
    ) -> Result<(AccountId, reqwest::Client)> {
        let id = self.app.account(email, PASSWORD).await?;
        let client = self
            .app
            .signed_in(Some(&self.paris), email, PASSWORD)
            .await?;
        self.app.follow_commune(&client, &self.paris).await?;
        if let Some(rhythm) = rhythm {
            let status = self.choose(&client, rhythm, true).await?;
            anyhow::ensure!(status == 303, "preferences: {status}");
        }
        Ok((id, client))
    }

    /// Submits the preferences form; the status.
    async fn choose(&self, client: &reqwest::Client, rhythm: &str, push: bool) -> Result<u16> {
        let token = form_token(client, &self.url("/notifications/preferences")).await?;
        let mut form = vec![("csrf_token", token.as_str()), ("rythme", rhythm)];
        if push {
            form.push(("push", "oui"));
        }
        let r = client
            .post(self.url("/notifications/preferences"))
            .form(&form)
            .send()
            .await?;
        Ok(r.status().as_u16())
    }

    /// Queues a notice through the path every module uses.
    async fn notice(&self, to: Recipients, title: &str, urgency: Urgency) -> Result<()> {
        let notice = Notice {
            tenant_id: self.tenant,
            id: parvis_core::util::new_id(),
            recipients: to,
            title: title.to_string(),
            body: format!("Texte de « {title} »."),
            link: self.url("/m/alerts/1"),
            in_app: true,
            email: true,
            push: true,
            urgency,
            attachments: vec![],
        };
        self.app
            .state
            .jobs
            .enqueue(self.app.state.db.platform(), &notice)
            .await?;
        Ok(())
    }

    /// The mayor publishes a post for the commune (announced to its followers).
    async fn publish(&self, body: &str) -> Result<()> {
        self.app.publish(&self.mayor, &self.paris, body).await
    }

    /// Waits until the job queue has nothing left to run (fan-outs, notices, e-mails).
    async fn settle(&self) -> Result<()> {
        self.app.settle_jobs().await
    }

    /// Sends the digests due at `at` (Unix seconds), as the scheduler would at that instant.
    async fn digests_at(&self, at: i64) -> Result<usize> {
        digest::run_due(&self.app.state.db, &self.app.state.templates, at).await
    }

    /// The digest periods claimed so far: (rhythm, slot).
    async fn claimed_slots(&self) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT rhythm, slot FROM digest_runs ORDER BY slot, rhythm")
                .fetch_all(self.app.state.db.platform())
                .await?,
        )
    }

    /// Every e-mail `to` received so far.
    fn mails(&self, to: &str) -> Result<Vec<Mail>> {
        Ok(self
            .app
            .smtp
            .messages()?
            .into_iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r == to))
            .collect())
    }

    async fn pending_items(&self, account: &AccountId) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM digest_items WHERE account_id = $1")
                .bind(&account.0)
                .fetch_one(self.app.state.db.platform())
                .await?,
        )
    }

    async fn rhythm(&self, account: &AccountId) -> Result<&'static str> {
        Ok(
            parvis_core::notifications::preferences::get(&self.app.state.db, account)
                .await?
                .rhythm
                .as_str(),
        )
    }
}

/// The link inside `<…>` of a `List-Unsubscribe` header.
fn unsubscribe_link(mail: &Mail) -> Result<String> {
    let header = mail
        .list_unsubscribe
        .as_deref()
        .with_context(|| format!("no List-Unsubscribe on {:?}", mail.subject))?;
    Ok(header
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string())
}

both_backends!(preferences_are_saved_and_checked, |backend| async move {
    let w = world(backend).await?;
    let (id, client) = w.citizen("claire@example.org", None).await?;

    // Reached from the notification centre and from the account page.
    for path in ["/notifications", "/mon-compte"] {
        let page = client.get(w.url(path)).send().await?.text().await?;
        assert!(
            page.contains("href=\"/notifications/preferences\""),
            "{page}"
        );
    }
    // Never chose: the default, explained on the page, push on.
    let page = client
        .get(w.url("/notifications/preferences"))
        .send()
        .await?
        .text()
        .await?;
    assert!(page.contains("value=\"defaut\" checked"), "{page}");
    assert!(
        page.contains("name=\"push\" value=\"oui\" checked"),
        "{page}"
    );
    assert!(page.contains("résumé quotidien"), "{page}");
    assert!(page.contains("alertes urgentes"), "{page}");

    // An unknown rhythm: 422, the form again with a French message, nothing saved.
    assert_eq!(w.choose(&client, "toutes-les-heures", false).await?, 422);
    let token = form_token(&client, &w.url("/notifications/preferences")).await?;
    let r = client
        .post(w.url("/notifications/preferences"))
        .form(&[("csrf_token", token.as_str()), ("rythme", "mensuel")])
        .send()
        .await?;
    assert_eq!(r.status(), 422);
    let page = r.text().await?;
    assert!(
        page.contains("Choisissez l&#x27;un des rythmes")
            || page.contains("Choisissez l'un des rythmes"),
        "{page}"
    );
    assert_eq!(w.rhythm(&id).await?, "defaut");

    // A valid choice is kept, push off.
    assert_eq!(w.choose(&client, "hebdomadaire", false).await?, 303);
    let page = client
        .get(w.url("/notifications/preferences?enregistre=1"))
        .send()
        .await?
        .text()
        .await?;
    assert!(page.contains("value=\"hebdomadaire\" checked"), "{page}");
    assert!(!page.contains("value=\"oui\" checked"), "{page}");
    assert!(
        page.contains("Vos préférences sont enregistrées."),
        "{page}"
    );
    let prefs = parvis_core::notifications::preferences::get(&w.app.state.db, &id).await?;
    assert!(!prefs.push);

    // Without the CSRF token, refused; signed out, sent to the login form.
    let r = client
        .post(w.url("/notifications/preferences"))
        .form(&[("rythme", "jamais")])
        .send()
        .await?;
    assert_eq!(r.status(), 403);
    assert_eq!(w.rhythm(&id).await?, "hebdomadaire");
    let r = w
        .app
        .client()?
        .get(w.url("/notifications/preferences"))
        .send()
        .await?;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/connexion?next=%2Fnotifications%2Fpreferences"
    );
    w.app.stop().await;
    Ok(())
});

both_backends!(
    emails_follow_each_rhythm_and_unsubscribe_in_one_click,
    |backend| async move {
        let w = world(backend).await?;
        let (immediate, _) = w.citizen("ines@example.org", Some("immediat")).await?;
        let (default, _) = w.citizen("denis@example.org", None).await?;
        let (daily, _) = w.citizen("quentin@example.org", Some("quotidien")).await?;
        let (never, _) = w.citizen("jeanne@example.org", Some("jamais")).await?;
        let (unverified, _) = w.citizen("ugo@example.org", Some("immediat")).await?;
        sqlx::query("UPDATE accounts SET email_verified_at = NULL WHERE id = $1")
            .bind(&unverified.0)
            .execute(w.app.state.db.platform())
            .await?;
        let everyone: Vec<String> = [&immediate, &default, &daily, &never, &unverified]
            .iter()
            .map(|a| a.0.clone())
            .collect();

        // A notice addressed to each of them: at once for « immédiat » and the default.
        w.notice(
            Recipients::Accounts(everyone.clone()),
            "Votre demande est traitée",
            Urgency::Normal,
        )
        .await?;
        // A notice to the followers: at once only for « immédiat ».
        w.notice(
            Recipients::Followers,
            "Travaux rue de Rivoli",
            Urgency::Normal,
        )
        .await?;
        // An urgent one: at once for everyone but « jamais » (and the unverified address).
        w.notice(Recipients::Followers, "Crue de la Seine", Urgency::High)
            .await?;
        w.settle().await?;

        let subjects = |to: &str| -> Result<Vec<String>> {
            let mut s: Vec<String> = w.mails(to)?.into_iter().map(|m| m.subject).collect();
            s.sort();
            Ok(s)
        };
        assert_eq!(
            subjects("ines@example.org")?,
            [
                "Crue de la Seine",
                "Travaux rue de Rivoli",
                "Votre demande est traitée"
            ]
        );
        assert_eq!(
            subjects("denis@example.org")?,
            ["Crue de la Seine", "Votre demande est traitée"]
        );
        assert_eq!(subjects("quentin@example.org")?, ["Crue de la Seine"]);
        assert!(subjects("jeanne@example.org")?.is_empty());
        assert!(subjects("ugo@example.org")?.is_empty());
        // What did not go at once waits for the digest; « jamais » keeps nothing.
        assert_eq!(w.pending_items(&default).await?, 1);
        assert_eq!(w.pending_items(&daily).await?, 2);
        assert_eq!(w.pending_items(&never).await?, 0);
        assert_eq!(w.pending_items(&immediate).await?, 0);

        // Every notification e-mail has the RFC 8058 headers and the link in its text.
        for mail in w.mails("ines@example.org")? {
            let link = unsubscribe_link(&mail)?;
            assert!(link.contains("/desabonnement?compte="), "{link}");
            assert_eq!(
                mail.list_unsubscribe_post.as_deref(),
                Some("List-Unsubscribe=One-Click")
            );
            assert!(mail.text.contains(&link), "{}", mail.text);
            assert!(
                mail.text.contains("/notifications/preferences"),
                "{}",
                mail.text
            );
        }
        let link = unsubscribe_link(&w.mails("ines@example.org")?[0])?;

        // A forged or foreign token: 400 in French, nothing changed.
        let stranger = w.app.client()?;
        let forged = format!("{link}A");
        let other = link.replace(&immediate.0, &default.0);
        for bad in [forged.as_str(), other.as_str()] {
            let r = stranger
                .post(bad)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("List-Unsubscribe=One-Click")
                .send()
                .await?;
            assert_eq!(r.status(), 400, "{bad}");
            let page = r.text().await?;
            assert!(
                page.contains("lien de désabonnement n&#x27;est pas valide")
                    || page.contains("lien de désabonnement n'est pas valide"),
                "{page}"
            );
            let r = stranger.get(bad).send().await?;
            assert_eq!(r.status(), 400);
        }
        assert_eq!(w.rhythm(&immediate).await?, "immediat");
        assert_eq!(w.rhythm(&default).await?, "defaut");

        // The link opens a confirmation page (no sign-in) with one button.
        let page = stranger.get(&link).send().await?.text().await?;
        assert!(page.contains("Me désabonner"), "{page}");
        assert_eq!(w.rhythm(&immediate).await?, "immediat");

        // A mail client's one-click POST, without cookies or CSRF token, unsubscribes.
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(Loopback))
            .build()?
            .post(&link)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert!(r.text().await?.contains("vous ne recevrez plus"));
        assert_eq!(w.rhythm(&immediate).await?, "jamais");

        // From then on, no more e-mail for her; the in-app centre still shows the notice.
        let before = w.mails("ines@example.org")?.len();
        w.notice(
            Recipients::Accounts(vec![immediate.0.clone()]),
            "Après le désabonnement",
            Urgency::High,
        )
        .await?;
        w.settle().await?;
        assert_eq!(w.mails("ines@example.org")?.len(), before);
        let centre: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE account_id = $1 AND title = $2",
        )
        .bind(&immediate.0)
        .bind("Après le désabonnement")
        .fetch_one(w.app.state.db.platform())
        .await?;
        assert_eq!(centre, 1);
        w.app.stop().await;
        Ok(())
    }
);

/// Resolves every host to loopback (a mail client's HTTP client, without cookies).
struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(std::net::SocketAddr::from(
                ([127, 0, 0, 1], 0),
            )));
            Ok(addrs)
        })
    }
}

both_backends!(digests_go_once_per_period, |backend| async move {
    let w = world(backend).await?;
    let (daily, _) = w.citizen("quentin@example.org", Some("quotidien")).await?;
    let (default, _) = w.citizen("denis@example.org", None).await?;
    let (weekly, _) = w.citizen("wanda@example.org", Some("hebdomadaire")).await?;
    let (never, _) = w.citizen("jeanne@example.org", Some("jamais")).await?;

    // Two posts of the commune and a notice addressed to the daily reader.
    w.publish("Le marché de Noël ouvre samedi.").await?;
    w.publish("Collecte des sapins en janvier.").await?;
    w.notice(
        Recipients::Accounts(vec![daily.0.clone()]),
        "Votre rendez-vous est confirmé",
        Urgency::Normal,
    )
    .await?;
    w.settle().await?;

    // Nothing was sent at once; the items wait.
    for to in [
        "quentin@example.org",
        "denis@example.org",
        "wanda@example.org",
        "jeanne@example.org",
    ] {
        assert!(w.mails(to)?.is_empty(), "{to}: {:?}", w.mails(to)?);
    }
    assert_eq!(w.pending_items(&daily).await?, 3);
    assert_eq!(w.pending_items(&default).await?, 2);
    assert_eq!(w.pending_items(&weekly).await?, 2);
    assert_eq!(w.pending_items(&never).await?, 0);

    // No scheduler ran: every slot is still the test's to send.
    assert_eq!(w.claimed_slots().await?, []);

    // Just before the next 08:00, the slots due are the previous ones: they are sent (claimed)
    // but carry nothing written after them. At the daily slot, one digest each for the daily
    // reader and the default one (and the weekly reader's, when that 08:00 is a Monday), and
    // only once even when two workers run it at the same time.
    let now = parvis_core::util::now();
    let day = Period::Daily.next_slot(now);
    let monday = Period::Weekly.next_slot(now);
    assert_eq!(w.digests_at(day - 60).await?, 0);
    let mut before = vec![
        ("quotidien".to_string(), Period::Daily.latest_slot(now)),
        ("hebdomadaire".to_string(), Period::Weekly.latest_slot(now)),
    ];
    before.sort_by_key(|(rhythm, slot)| (*slot, rhythm.clone()));
    assert_eq!(
        w.claimed_slots().await?,
        before,
        "the slots before 08:00 were sent, empty"
    );
    assert_eq!(w.pending_items(&daily).await?, 3);
    let (a, b) = tokio::join!(w.digests_at(day + 30), w.digests_at(day + 30));
    assert_eq!(a? + b?, if monday == day { 3 } else { 2 });
    assert_eq!(w.digests_at(day + 3600).await?, 0);
    w.settle().await?;

    let mails = w.mails("quentin@example.org")?;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.subject, "Votre résumé du jour : 3 nouveautés");
    for expected in [
        "Paris : Votre rendez-vous est confirmé",
        "a publié sur Paris",
        &w.url("/m/alerts/1"),
    ] {
        assert!(mail.text.contains(expected), "{expected}: {}", mail.text);
    }
    let html = mail.html.as_deref().context("digest without HTML")?;
    assert!(html.contains("<li><strong>Paris</strong>"), "{html}");
    assert!(
        html.contains(&format!("href=\"{}\"", w.url("/m/alerts/1"))),
        "{html}"
    );
    let link = unsubscribe_link(mail)?;
    assert!(mail.text.contains(&link));
    assert_eq!(
        mail.list_unsubscribe_post.as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let mails = w.mails("denis@example.org")?;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].subject, "Votre résumé du jour : 2 nouveautés");
    assert!(w.mails("jeanne@example.org")?.is_empty());
    assert_eq!(w.pending_items(&daily).await?, 0);

    // The weekly reader gets hers on Monday at 08:00, once.
    if monday != day {
        assert!(w.mails("wanda@example.org")?.is_empty());
        assert_eq!(w.pending_items(&weekly).await?, 2);
        assert_eq!(w.digests_at(monday - 60).await?, 0);
        assert_eq!(w.pending_items(&weekly).await?, 2, "sent before Monday");
        assert_eq!(w.digests_at(monday + 60).await?, 1);
    }
    assert_eq!(w.digests_at(monday + 120).await?, 0);
    assert_eq!(w.pending_items(&weekly).await?, 0);
    w.settle().await?;
    let mails = w.mails("wanda@example.org")?;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(
        mails[0].subject,
        "Votre résumé de la semaine : 2 nouveautés"
    );
    assert!(mails[0].text.contains("Cette semaine"), "{}", mails[0].text);
    // The next days, with nothing new, nothing goes.
    assert_eq!(w.digests_at(monday + 86_400 + 60).await?, 0);
    w.settle().await?;
    assert_eq!(w.mails("quentin@example.org")?.len(), 1);
    assert_eq!(w.mails("denis@example.org")?.len(), 1);
    assert!(w.mails("jeanne@example.org")?.is_empty());
    w.app.stop().await;
    Ok(())
});

both_backends!(
    header_counts_unread_and_export_covers_preferences,
    |backend| async move {
        let w = world(backend).await?;
        let (cyril, cyril_client) = w.citizen("cyril@example.org", Some("quotidien")).await?;

        // Cyril writes to the town hall: the mayor's header counts one unread message and
        // one unread notification.
        let token = form_token(&cyril_client, &w.url("/messages/nouveau")).await?;
        let r = cyril_client
            .post(w.url("/messages/nouveau"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("elu", ""),
                ("subject", "Éclairage public"),
                ("body", "Le lampadaire de ma rue est éteint."),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        w.settle().await?;
        let page = w.mayor.get(w.url("/fil")).send().await?.text().await?;
        assert!(
            page.contains(
                "Messages <span class=\"badge\">1<span class=\"sr-only\"> non lu</span></span>"
            ),
            "{page}"
        );
        assert!(
            page.contains(
                "Notifications <span class=\"badge\">1<span class=\"sr-only\"> non lue</span></span>"
            ),
            "{page}"
        );
        // Cyril has nothing unread.
        let page = cyril_client.get(w.url("/fil")).send().await?.text().await?;
        assert!(
            parvis_tests::html::texts(&page, "header .badge")?.is_empty(),
            "{page}"
        );

        // A post waits in Cyril's daily digest: both are in his data export.
        w.publish("Réunion publique jeudi.").await?;
        w.settle().await?;
        let export: serde_json::Value = cyril_client
            .get(w.url("/mon-compte/donnees.json"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            export["notification_preferences"]["email_rhythm"],
            "quotidien"
        );
        let pending = export["pending_digest_items"]
            .as_array()
            .context("pending_digest_items")?;
        assert_eq!(pending.len(), 1, "{export}");
        assert_eq!(pending[0]["commune"], w.paris.as_str());

        // Deleting the account deletes them.
        let token = form_token(&cyril_client, &w.url("/mon-compte")).await?;
        let r = cyril_client
            .post(w.url("/mon-compte/supprimer"))
            .form(&[("csrf_token", token.as_str()), ("password", PASSWORD)])
            .send()
            .await?;
        parvis_tests::expect_page(
            r,
            200,
            "Votre compte et vos données personnelles sont supprimés",
        )
        .await?;
        assert_eq!(w.pending_items(&cyril).await?, 0);
        let prefs: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notification_preferences WHERE account_id = $1",
        )
        .bind(&cyril.0)
        .fetch_one(w.app.state.db.platform())
        .await?;
        assert_eq!(prefs, 0);
        w.app.stop().await;
        Ok(())
    }
);
