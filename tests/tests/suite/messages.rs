//! Private messages: a citizen writes to an official and to the commune, the other side sees
//! unread counts and answers, the citizen is notified in app and by e-mail; blocks, reports,
//! rate limits, bad input, tenant and third-party isolation, data export and account deletion.

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, form_token};

const PASSWORD: &str = "mot de passe solide";

/// Paris with Alice, a councillor who holds her profile, a mayor (tenant admin), the citizen
/// Cyril and Zoé, who takes part in nothing.
struct World {
    app: TestApp,
    paris: String,
    alice_id: String,
    alice: reqwest::Client,
    mayor: reqwest::Client,
    cyril: reqwest::Client,
    zoe: reqwest::Client,
}

async fn world(backend: parvis_tests::Backend) -> Result<World> {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    parvis_tests::rne::import(&app, &[parvis_tests::rne::ALICE_LAMBERT]).await?;
    let alice = app.account("alice@paris.test", PASSWORD).await?;
    let alice_id = parvis_tests::rne::give_profile(&app, "LAMBERT", &alice).await?;
    app.grant(&alice, Role::Official, Some(&paris)).await?;
    let mayor = app.account("maire@paris.test", PASSWORD).await?;
    app.grant(&mayor, Role::TenantAdmin, Some(&paris)).await?;
    app.account("cyril@example.org", PASSWORD).await?;
    app.account("zoe@example.org", PASSWORD).await?;
    Ok(World {
        alice: app
            .signed_in(Some(&paris), "alice@paris.test", PASSWORD)
            .await?,
        mayor: app
            .signed_in(Some(&paris), "maire@paris.test", PASSWORD)
            .await?,
        cyril: app
            .signed_in(Some(&paris), "cyril@example.org", PASSWORD)
            .await?,
        zoe: app
            .signed_in(Some(&paris), "zoe@example.org", PASSWORD)
            .await?,
        app,
        paris,
        alice_id,
    })
}

impl World {
    fn url(&self, path: &str) -> String {
        self.app.url(Some(&self.paris), path)
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> Result<(u16, String)> {
        let r = client.get(self.url(path)).send().await?;
        Ok((r.status().as_u16(), r.text().await?))
    }

    /// Starts a thread (`elu` empty: to the commune); the status and the Location or page.
    async fn write(
        &self,
        client: &reqwest::Client,
        elu: &str,
        subject: &str,
        body: &str,
    ) -> Result<(u16, String)> {
        let token = form_token(client, &self.url(&format!("/messages/nouveau?elu={elu}"))).await?;
        parvis_tests::outcome(
            client
                .post(self.url("/messages/nouveau"))
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("elu", elu),
                    ("subject", subject),
                    ("body", body),
                ])
                .send()
                .await?,
        )
        .await
    }

    /// Starts a thread that must succeed; its id.
    async fn start(
        &self,
        client: &reqwest::Client,
        elu: &str,
        subject: &str,
        body: &str,
    ) -> Result<String> {
        let (status, location) = self.write(client, elu, subject, body).await?;
        anyhow::ensure!(status == 303, "new thread: {status} {location}");
        Ok(location.trim_start_matches("/messages/").to_string())
    }

    /// Posts `form` (plus a CSRF token) to `path`; status and body.
    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, String)> {
        let token = form_token(client, &self.url("/messages")).await?;
        let mut fields = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        let r = client.post(self.url(path)).form(&fields).send().await?;
        Ok((r.status().as_u16(), r.text().await?))
    }

    async fn reply(&self, client: &reqwest::Client, thread: &str, body: &str) -> Result<u16> {
        Ok(self
            .post(client, &format!("/messages/{thread}"), &[("body", body)])
            .await?
            .0)
    }

    async fn count(&self, sql: &str) -> Result<i64> {
        let mut tx = self.app.state.db.platform_tx().await?;
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// The number in the inbox's unread badge of thread `id` (0 without a badge).
fn unread(inbox: &str, id: &str) -> Option<i64> {
    let at = inbox.find(&format!("/messages/{id}\""))?;
    let rest = &inbox[at..];
    let end = rest.find("</li>")?;
    let item = &rest[..end];
    Some(match item.find("data-unread=\"") {
        Some(i) => item[i + 13..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()?,
        None => 0,
    })
}

both_backends!(
    citizens_write_officials_and_the_commune_answers,
    |backend| async move {
        let w = world(backend).await?;
        // Entry points: the official's profile and the commune page.
        let (_, profile) = w.get(&w.cyril, &format!("/elus/{}", w.alice_id)).await?;
        assert!(
            profile.contains(&format!("/messages/nouveau?elu={}", w.alice_id))
                && profile.contains("Écrire à Alice LAMBERT"),
            "{profile}"
        );
        let (_, home) = w.get(&w.cyril, "/").await?;
        assert!(home.contains("href=\"/messages/nouveau\">Écrire à la mairie"));
        let (status, form) = w
            .get(&w.cyril, &format!("/messages/nouveau?elu={}", w.alice_id))
            .await?;
        assert_eq!(status, 200);
        assert!(form.contains("<label for=\"body\">") && form.contains("Écrire à Alice LAMBERT"));

        let to_alice = w
            .start(
                &w.cyril,
                &w.alice_id,
                "Travaux rue des Lilas",
                "Bonjour,\n<b>Quand</b> finissent les travaux ?",
            )
            .await?;
        let to_mairie = w
            .start(
                &w.cyril,
                "",
                "Inscription cantine",
                "Comment inscrire mon fils ?",
            )
            .await?;

        // Alice sees her thread unread, not the commune's; the mayor sees the commune's.
        let (_, inbox) = w.get(&w.alice, "/messages").await?;
        assert_eq!(unread(&inbox, &to_alice), Some(1), "{inbox}");
        assert_eq!(unread(&inbox, &to_mairie), None, "not Alice's");
        let (_, inbox) = w.get(&w.mayor, "/messages").await?;
        assert_eq!(unread(&inbox, &to_mairie), Some(1), "{inbox}");
        assert_eq!(unread(&inbox, &to_alice), None, "private to Alice");

        // The recipient is notified too (in app), once the notice's job has run.
        w.app.settle_jobs().await?;
        let (_, centre) = w.get(&w.alice, "/notifications").await?;
        let cyril = parvis_tests::display_name("cyril@example.org");
        assert!(
            centre.contains(&format!("Nouveau message de {cyril}")),
            "{centre}"
        );

        // Alice reads (the count clears), the text is escaped with its line breaks.
        let (status, page) = w.get(&w.alice, &format!("/messages/{to_alice}")).await?;
        assert_eq!(status, 200);
        assert!(
            page.contains("Bonjour,<br>\n&lt;b&gt;Quand&lt;/b&gt; finissent"),
            "{page}"
        );
        assert!(!page.contains("<b>Quand"));
        let (_, inbox) = w.get(&w.alice, "/messages").await?;
        assert_eq!(unread(&inbox, &to_alice), Some(0));

        assert_eq!(
            w.reply(&w.alice, &to_alice, "Fin des travaux vendredi.")
                .await?,
            303
        );
        assert_eq!(
            w.reply(&w.mayor, &to_mairie, "Au guichet ou en ligne.")
                .await?,
            303
        );

        // Cyril: two unread threads, notified in app and by e-mail with the link.
        let (_, inbox) = w.get(&w.cyril, "/messages").await?;
        assert_eq!(unread(&inbox, &to_alice), Some(1), "{inbox}");
        assert_eq!(unread(&inbox, &to_mairie), Some(1));
        assert!(inbox.contains("2 messages non lus"), "{inbox}");
        let mail = w
            .app
            .smtp
            .wait_for("cyril@example.org", "Nouveau message de Alice LAMBERT")
            .await?;
        let link = mail.link("/messages/").context("link in the e-mail")?;
        assert!(link.ends_with(&format!("/messages/{to_alice}")), "{link}");
        assert!(
            !mail.text.contains("Fin des travaux"),
            "the e-mail never carries the text"
        );
        w.app
            .smtp
            .wait_for("cyril@example.org", "Nouveau message de Paris")
            .await?;
        let (_, centre) = w.get(&w.cyril, "/notifications").await?;
        assert!(
            centre.contains("Nouveau message de Alice LAMBERT")
                && centre.contains(&format!("/messages/{to_alice}")),
            "{centre}"
        );
        let (_, page) = w.get(&w.cyril, &format!("/messages/{to_mairie}")).await?;
        assert!(
            page.contains("Paris (mairie)") && page.contains("Au guichet ou en ligne."),
            "{page}"
        );
        // Officials and admins do not write first.
        let (status, _) = w.write(&w.mayor, "", "Bonjour", "Spam").await?;
        assert_eq!(status, 403);
        let (status, _) = w.write(&w.alice, &w.alice_id, "Moi", "Moi").await?;
        assert_eq!(status, 403);
        w.app.stop().await;
        Ok(())
    }
);

both_backends!(blocks_reports_limits_and_bad_input, |backend| async move {
    let w = world(backend).await?;
    let thread = w
        .start(&w.cyril, &w.alice_id, "Question", "Première question")
        .await?;
    assert_eq!(w.reply(&w.alice, &thread, "Réponse d'Alice").await?, 303);

    // Bad input: 422, the form again with the error, nothing written.
    let before = w.count("SELECT COUNT(*) FROM messages").await?;
    let (status, page) = w.write(&w.cyril, "", "Objet", "   ").await?;
    assert_eq!(status, 422);
    assert!(page.contains("role=\"alert\"") && page.contains("entre 1 et 5 000"));
    let (status, page) = w.write(&w.cyril, "", "Objet", &"a".repeat(5001)).await?;
    assert_eq!(status, 422);
    assert!(page.contains("name=\"body\""), "the form is shown again");
    let (status, _) = w.write(&w.cyril, "", "", "Sans objet").await?;
    assert_eq!(status, 422);
    let (status, page) = w
        .post(&w.cyril, &format!("/messages/{thread}"), &[("body", "")])
        .await?;
    assert_eq!(status, 422);
    assert!(page.contains("entre 1 et 5 000"));
    assert_eq!(w.count("SELECT COUNT(*) FROM messages").await?, before);

    // Report: Cyril flags Alice's answer; the moderation queue shows it with the reason.
    let (_, page) = w.get(&w.cyril, &format!("/messages/{thread}")).await?;
    let at = page
        .find("name=\"message_id\" value=\"")
        .context("report form")?;
    let message_id: String = page[at + 25..].chars().take_while(|c| *c != '"').collect();
    let (status, page) = w
        .post(
            &w.cyril,
            &format!("/messages/{thread}/signaler"),
            &[("message_id", &message_id), ("reason", "Propos insultants")],
        )
        .await?;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("modérateurs"));
    // Zoé cannot report a message of a thread that is not hers.
    let (status, _) = w
        .post(
            &w.zoe,
            &format!("/messages/{thread}/signaler"),
            &[("message_id", &message_id), ("reason", "Curieuse")],
        )
        .await?;
    assert_eq!(status, 404);
    let (status, queue) = w.get(&w.mayor, "/admin/moderation").await?;
    assert_eq!(status, 200);
    assert!(
        queue.contains("Réponse d&#x27;Alice") && queue.contains("Propos insultants"),
        "{queue}"
    );
    assert!(!queue.contains("Curieuse"));

    // Block: the button alone blocks no one (the box says so first)…
    let (status, page) = w
        .post(&w.alice, &format!("/messages/{thread}/bloquer"), &[])
        .await?;
    assert_eq!(status, 400);
    assert!(page.contains("pour confirmer le blocage"), "{page}");
    assert_eq!(w.count("SELECT COUNT(*) FROM account_blocks").await?, 0);
    // …then Alice blocks Cyril; his reply and any new thread to her are refused, nothing written.
    let (status, _) = w
        .post(
            &w.alice,
            &format!("/messages/{thread}/bloquer"),
            &[("confirme", "oui")],
        )
        .await?;
    assert_eq!(status, 303);
    let before = w.count("SELECT COUNT(*) FROM messages").await?;
    let threads = w.count("SELECT COUNT(*) FROM message_threads").await?;
    let (status, page) = w
        .post(
            &w.cyril,
            &format!("/messages/{thread}"),
            &[("body", "Encore moi")],
        )
        .await?;
    assert_eq!(status, 403);
    assert!(page.contains("a bloqué votre compte"), "{page}");
    let (status, _) = w
        .write(&w.cyril, &w.alice_id, "Autre", "Nouvelle tentative")
        .await?;
    assert_eq!(status, 403);
    assert_eq!(w.count("SELECT COUNT(*) FROM messages").await?, before);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM message_threads").await?,
        threads
    );
    // Unblock from the list: he may write again.
    let (_, list) = w.get(&w.alice, "/messages/bloques").await?;
    assert!(
        list.contains(&parvis_tests::display_name("cyril@example.org")),
        "{list}"
    );
    let at = list
        .find("name=\"account_id\" value=\"")
        .context("unblock form")?;
    let cyril_id: String = list[at + 25..].chars().take_while(|c| *c != '"').collect();
    let (status, _) = w
        .post(
            &w.alice,
            "/messages/bloques/retirer",
            &[("account_id", &cyril_id)],
        )
        .await?;
    assert_eq!(status, 303);
    assert_eq!(w.reply(&w.cyril, &thread, "Merci").await?, 303);

    // Rate limits: 5 new threads an hour, 10 messages a minute (Cyril sent 2 so far).
    for i in 0..4 {
        w.start(&w.cyril, "", &format!("Objet {i}"), "Bonjour")
            .await?;
    }
    let (status, page) = w.write(&w.cyril, "", "Objet 5", "Bonjour").await?;
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("trop de conversations"), "{page}");
    for _ in 0..4 {
        assert_eq!(w.reply(&w.cyril, &thread, "Relance").await?, 303);
    }
    let (status, page) = w
        .post(
            &w.cyril,
            &format!("/messages/{thread}"),
            &[("body", "Encore")],
        )
        .await?;
    assert_eq!(status, 429);
    assert!(page.contains("trop de messages"), "{page}");
    assert_eq!(
        w.count("SELECT COUNT(*) FROM messages WHERE body = 'Encore'")
            .await?,
        0
    );
    w.app.stop().await;
    Ok(())
});

both_backends!(
    threads_are_private_to_their_commune_and_sides,
    |backend| async move {
        let w = world(backend).await?;
        let lyon = w.app.commune("69123").await?;
        let thread = w
            .start(&w.cyril, "", "Objet privé", "Texte privé de Cyril")
            .await?;
        // A third account: 404, and nothing in its inbox.
        let (status, page) = w.get(&w.zoe, &format!("/messages/{thread}")).await?;
        assert_eq!(status, 404);
        assert!(!page.contains("Texte privé"));
        assert_eq!(w.reply(&w.zoe, &thread, "Intrusion").await?, 404);
        let (status, _) = w
            .post(
                &w.zoe,
                &format!("/messages/{thread}/bloquer"),
                &[("confirme", "oui")],
            )
            .await?;
        assert_eq!(status, 404);
        let (_, inbox) = w.get(&w.zoe, "/messages").await?;
        assert!(!inbox.contains(&thread));
        // An official of the commune is not its admin.
        let (status, _) = w.get(&w.alice, &format!("/messages/{thread}")).await?;
        assert_eq!(status, 404);
        // Paris's thread on Lyon's host: 404, even for its own citizen.
        let cyril_lyon = w
            .app
            .signed_in(Some(&lyon), "cyril@example.org", PASSWORD)
            .await?;
        let r = cyril_lyon
            .get(w.app.url(Some(&lyon), &format!("/messages/{thread}")))
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        let inbox = cyril_lyon
            .get(w.app.url(Some(&lyon), "/messages"))
            .send()
            .await?
            .text()
            .await?;
        assert!(!inbox.contains(&thread));
        // The owner still reads it on Paris's host.
        let (status, page) = w.get(&w.cyril, &format!("/messages/{thread}")).await?;
        assert_eq!(status, 200);
        assert!(page.contains("Texte privé de Cyril"));
        assert_eq!(
            w.count("SELECT COUNT(*) FROM messages WHERE body = 'Intrusion'")
                .await?,
            0
        );
        w.app.stop().await;
        Ok(())
    }
);

both_backends!(
    export_has_the_messages_and_deletion_removes_their_text,
    |backend| async move {
        let w = world(backend).await?;
        let thread = w
            .start(
                &w.cyril,
                &w.alice_id,
                "Mon dossier",
                "Texte confidentiel de Cyril",
            )
            .await?;
        assert_eq!(w.reply(&w.alice, &thread, "Réponse de l'élue").await?, 303);

        let r = w
            .cyril
            .get(w.url("/mon-compte/donnees.json"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let data: serde_json::Value = r.json().await?;
        let messages = data["messages"].as_array().context("messages")?;
        assert_eq!(messages.len(), 2, "{data}");
        assert!(
            messages
                .iter()
                .any(|m| m["body"] == "Texte confidentiel de Cyril" && m["sender"] == "moi")
        );
        assert!(messages.iter().any(|m| m["body"] == "Réponse de l'élue"));
        assert_eq!(data["message_threads"][0]["subject"], "Mon dossier");
        // Zoé's export has none of it.
        let data: serde_json::Value = w
            .zoe
            .get(w.url("/mon-compte/donnees.json"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(data["messages"].as_array().map(Vec::len), Some(0));

        // Cyril deletes his account.
        let token = form_token(&w.cyril, &w.url("/mon-compte")).await?;
        let r = w
            .cyril
            .post(w.url("/mon-compte/supprimer"))
            .form(&[("csrf_token", token.as_str()), ("password", PASSWORD)])
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert_eq!(
            w.count("SELECT COUNT(*) FROM messages WHERE body LIKE '%confidentiel%'")
                .await?,
            0
        );
        assert_eq!(
            w.count("SELECT COUNT(*) FROM message_threads WHERE subject = 'Mon dossier'")
                .await?,
            0
        );
        // Alice keeps the thread: her answer, and a deleted account's message without text.
        let (status, page) = w.get(&w.alice, &format!("/messages/{thread}")).await?;
        assert_eq!(status, 200);
        assert!(
            page.contains("Compte supprimé")
                && page.contains("Message supprimé avec le compte de son auteur")
                && page.contains("Réponse de l&#x27;élue"),
            "{page}"
        );
        assert!(!page.contains("confidentiel"));
        // Nobody reads her answers any more: the conversation is closed.
        let (status, page) = w
            .post(
                &w.alice,
                &format!("/messages/{thread}"),
                &[("body", "Allô ?")],
            )
            .await?;
        assert_eq!(status, 403);
        assert!(page.contains("conversation est close"), "{page}");
        w.app.stop().await;
        Ok(())
    }
);
