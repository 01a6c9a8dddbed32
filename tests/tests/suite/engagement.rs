//! Engagement with posts: kinds and tags, each post's page, comments (notices to the author,
//! paging, deletion, flags and moderation), reactions and 1–5 evaluations counted once, spam
//! limits, bad input, other communes, data export and account deletion.

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, form_token};

const PASSWORD: &str = "mot de passe solide";

/// Paris with Alice, a councillor who holds her profile, a mayor (tenant admin and so
/// moderator), the citizens Cyril and Zoé; and L'Abergement, another commune.
struct World {
    app: TestApp,
    paris: String,
    abergement: String,
    alice_id: String,
    alice: reqwest::Client,
    mayor: reqwest::Client,
    cyril: reqwest::Client,
    zoe: reqwest::Client,
}

async fn world(backend: parvis_tests::Backend) -> Result<World> {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    let abergement = app.commune("01001").await?;
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
        abergement,
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

    /// Posts `form` (plus a CSRF token) to `path` on `slug`'s site; status, Location or page.
    async fn post_on(
        &self,
        client: &reqwest::Client,
        slug: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, String)> {
        let token = form_token(client, &self.app.url(Some(slug), "/connexion")).await?;
        let mut fields = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        parvis_tests::outcome(
            client
                .post(self.app.url(Some(slug), path))
                .form(&fields)
                .send()
                .await?,
        )
        .await
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, String)> {
        self.post_on(client, &self.paris, path, form).await
    }

    /// Publishes in Paris; the status and the Location or page.
    async fn publish(
        &self,
        client: &reqwest::Client,
        kind: &str,
        theme: &str,
        quartier: &str,
        body: &str,
    ) -> Result<(u16, String)> {
        self.post(
            client,
            "/publier",
            &[
                ("kind", kind),
                ("theme", theme),
                ("quartier", quartier),
                ("body", body),
            ],
        )
        .await
    }

    /// Publishes a post that must be accepted; its id.
    async fn published(&self, client: &reqwest::Client, kind: &str, body: &str) -> Result<String> {
        let (status, location) = self.publish(client, kind, "", "", body).await?;
        anyhow::ensure!(status == 303, "publish: {status} {location}");
        Ok(location.trim_start_matches("/publications/").to_string())
    }

    async fn comment(
        &self,
        client: &reqwest::Client,
        post: &str,
        body: &str,
    ) -> Result<(u16, String)> {
        self.post(
            client,
            &format!("/publications/{post}/commentaires"),
            &[("body", body)],
        )
        .await
    }

    async fn rate(
        &self,
        client: &reqwest::Client,
        post: &str,
        note: &str,
    ) -> Result<(u16, String)> {
        self.post(
            client,
            &format!("/publications/{post}/evaluation"),
            &[("note", note)],
        )
        .await
    }

    async fn react(
        &self,
        client: &reqwest::Client,
        post: &str,
        reaction: &str,
        on: bool,
    ) -> Result<(u16, String)> {
        self.post(
            client,
            &format!("/publications/{post}/reactions"),
            &[("reaction", reaction), ("etat", if on { "1" } else { "0" })],
        )
        .await
    }

    async fn count(&self, sql: &str) -> Result<i64> {
        let mut tx = self.app.state.db.platform_tx().await?;
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn id(&self, sql: &str) -> Result<String> {
        let mut tx = self.app.state.db.platform_tx().await?;
        let id: String = sqlx::query_scalar(sql).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn execute(&self, sql: &str) -> Result<()> {
        let mut tx = self.app.state.db.platform_tx().await?;
        sqlx::query(sql).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The number shown on a reaction's button of a post page.
fn reaction_count(page: &str, label: &str) -> Option<i64> {
    let at = page.find(&format!(">{label} <span class=\"count\">"))?;
    let rest = &page[at + label.len() + 22..];
    rest[..rest.find('<')?].parse().ok()
}

/// Whether a reaction's button says the viewer gave it.
fn pressed(page: &str, label: &str) -> bool {
    page.find(&format!(">{label} <span class=\"count\">"))
        .is_some_and(|at| page[..at].ends_with("aria-pressed=\"true\""))
}

both_backends!(
    posts_have_kinds_tags_and_their_own_page,
    |backend| async move {
        let w = world(backend).await?;
        let (status, location) = w
            .publish(
                &w.alice,
                "action",
                "Travaux et voirie",
                "  Centre   ville ",
                "Réfection de la **rue Haute** <script>alert(1)</script>",
            )
            .await?;
        assert_eq!(status, 303);
        let action = location.trim_start_matches("/publications/").to_string();
        let (status, _) = w
            .publish(&w.alice, "", "", "Gare", "Horaires d'été de la navette")
            .await?;
        assert_eq!(status, 303);

        // Bad kinds and tags: 422, the form kept, nothing written.
        let (status, page) = w.publish(&w.alice, "autre", "", "", "Texte").await?;
        assert_eq!(status, 422);
        assert!(page.contains("Choisissez un type de publication"), "{page}");
        let (status, page) = w
            .publish(&w.alice, "action", "", "x", "Texte gardé")
            .await?;
        assert_eq!(status, 422);
        assert!(page.contains("quartier doit compter") && page.contains("Texte gardé"));
        let (status, _) = w
            .publish(&w.alice, "action", "Thème inventé", "", "Texte")
            .await?;
        assert_eq!(status, 422);
        assert_eq!(w.count("SELECT COUNT(*) FROM posts").await?, 2);
        // A candidate publishes commitments and proposals, not actions carried out.
        let zoe_id = w
            .id("SELECT id FROM accounts WHERE email = 'zoe@example.org'")
            .await?;
        w.app
            .grant(
                &parvis_core::types::AccountId(zoe_id),
                Role::Candidate,
                Some(&w.paris),
            )
            .await?;
        let (status, page) = w.publish(&w.zoe, "action", "", "", "J'ai agi").await?;
        assert_eq!(status, 422, "{page}");
        assert!(
            w.published(&w.zoe, "engagement", "Je m'engage à publier le budget")
                .await?
                .len()
                > 10
        );

        // Cards show the kind and the tags; the commune page filters by theme and neighbourhood.
        let anonymous = w.app.client()?;
        let (_, home) = w.get(&anonymous, "/").await?;
        assert!(home.contains("Action réalisée") && home.contains("Quartier : Centre ville"));
        assert!(
            home.contains(&format!("/publications/{action}\"")),
            "cards link to the post page"
        );
        let (_, filtered) = w.get(&anonymous, "/?theme=Travaux+et+voirie").await?;
        assert!(
            filtered.contains("rue Haute") && !filtered.contains("navette"),
            "{filtered}"
        );
        let (_, filtered) = w.get(&anonymous, "/?quartier=Gare").await?;
        assert!(filtered.contains("navette") && !filtered.contains("rue Haute"));
        let (_, filtered) = w.get(&anonymous, "/?quartier=Centre%20ville").await?;
        assert!(filtered.contains("rue Haute") && !filtered.contains("navette"));

        // The post's page, readable without an account; HTML in the post is text.
        let (status, page) = w
            .get(&anonymous, &format!("/publications/{action}"))
            .await?;
        assert_eq!(status, 200);
        assert!(page.contains("<strong>rue Haute</strong>") && page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script>alert"));
        assert!(
            page.contains("Pas encore évaluée")
                && page.contains("Connectez-vous</a> pour commenter")
        );
        let news = w
            .id("SELECT id FROM posts WHERE body LIKE '%navette%'")
            .await?;
        let (status, page) = w.get(&anonymous, &format!("/publications/{news}")).await?;
        assert_eq!(status, 200);
        assert!(!page.contains("id=\"evaluation\""), "news is not evaluated");
        assert_eq!(w.get(&anonymous, "/publications/inconnue").await?.0, 404);
        // Another commune's host does not serve it.
        let r = anonymous
            .get(
                w.app
                    .url(Some(&w.abergement), &format!("/publications/{action}")),
            )
            .send()
            .await?;
        assert_eq!(r.status(), 404);

        // The official's profile lists her actions and commitments with their evaluation.
        let (_, profile) = w.get(&anonymous, &format!("/elus/{}", w.alice_id)).await?;
        assert!(
            profile.contains("Actions et engagements")
                && profile.contains("Réfection de la rue Haute")
                && profile.contains("pas encore évalué"),
            "{profile}"
        );

        // A hidden post's page is a 404 but for moderators.
        let (status, _) = w
            .post(
                &w.mayor,
                &format!("/admin/moderation/{action}/masquer"),
                &[("reason", "Doublon")],
            )
            .await?;
        assert_eq!(status, 303);
        assert_eq!(
            w.get(&anonymous, &format!("/publications/{action}"))
                .await?
                .0,
            404
        );
        assert_eq!(
            w.get(&w.cyril, &format!("/publications/{action}")).await?.0,
            404
        );
        let (status, page) = w.get(&w.mayor, &format!("/publications/{action}")).await?;
        assert_eq!(status, 200);
        assert!(page.contains("Publication masquée par la modération") && page.contains("Doublon"));
        let (status, _) = w.comment(&w.cyril, &action, "Encore là ?").await?;
        assert_eq!(status, 404, "no comment on a hidden post");
        w.app.stop().await;
        Ok(())
    }
);

both_backends!(
    comments_notify_the_author_and_are_moderated,
    |backend| async move {
        let w = world(backend).await?;
        let post = w
            .published(&w.alice, "proposition", "Un jardin partagé rue Haute")
            .await?;

        // Cyril comments: HTML is shown as text, line breaks kept; Alice is told in app.
        let (status, location) = w
            .comment(
                &w.cyril,
                &post,
                "Bonne idée <b>vraiment</b>\nDeuxième ligne",
            )
            .await?;
        assert_eq!(status, 303);
        assert!(
            location.starts_with(&format!("/publications/{post}#c-")),
            "{location}"
        );
        let (_, page) = w.get(&w.zoe, &format!("/publications/{post}")).await?;
        assert!(
            page.contains("Bonne idée &lt;b&gt;vraiment&lt;/b&gt;<br>"),
            "{page}"
        );
        assert!(page.contains("Commentaires (1)"));
        // Every notice the comment caused is out once the job queue is idle.
        w.app.settle_jobs().await?;
        let centre = w.get(&w.alice, "/notifications").await?.1;
        let cyril = parvis_tests::display_name("cyril@example.org");
        assert!(
            centre.contains(&format!("{cyril} a commenté votre publication"))
                && centre.contains(&format!("/publications/{post}#c-")),
            "{centre}"
        );
        // Her own comment tells nobody; a second one from Cyril does.
        let notices = "SELECT COUNT(*) FROM notifications n JOIN accounts a ON a.id = n.account_id \
                   WHERE a.email = 'alice@paris.test'";
        assert_eq!(w.count(notices).await?, 1);
        assert_eq!(
            w.comment(&w.alice, &post, "Merci, j'en parle au conseil.")
                .await?
                .0,
            303
        );
        w.app.settle_jobs().await?;
        assert_eq!(w.count(notices).await?, 1, "her own comment told her");
        assert_eq!(
            w.comment(&w.cyril, &post, "Je peux aider à l'arrosage.")
                .await?
                .0,
            303
        );
        w.app.settle_jobs().await?;
        assert_eq!(w.count(notices).await?, 2);
        let (_, page) = w.get(&w.cyril, &format!("/publications/{post}")).await?;
        assert!(page.contains("(auteur de la publication)"));

        // Refused: anonymous (sent to log in), unverified, empty and over-long; nothing written.
        let anonymous = w.app.client()?;
        let (status, location) = w.comment(&anonymous, &post, "Anonyme").await?;
        assert!(
            status == 303 && location.starts_with("/connexion"),
            "{status} {location}"
        );
        w.execute("UPDATE accounts SET email_verified_at = NULL WHERE email = 'zoe@example.org'")
            .await?;
        let (status, page) = w.comment(&w.zoe, &post, "Pas encore vérifiée").await?;
        assert_eq!(status, 403);
        assert!(
            page.contains("Confirmez d&#x27;abord votre adresse e-mail"),
            "{page}"
        );
        let (status, _) = w.react(&w.zoe, &post, "utile", true).await?;
        assert_eq!(status, 403);
        w.execute("UPDATE accounts SET email_verified_at = 1 WHERE email = 'zoe@example.org'")
            .await?;
        let long = "é".repeat(2001);
        let (status, page) = w.comment(&w.zoe, &post, &long).await?;
        assert_eq!(status, 422);
        assert!(page.contains("entre 1 et 2 000 caractères") && page.contains(&long));
        assert_eq!(w.comment(&w.zoe, &post, "   ").await?.0, 422);
        assert_eq!(w.count("SELECT COUNT(*) FROM post_comments").await?, 3);
        assert_eq!(w.count("SELECT COUNT(*) FROM post_reactions").await?, 0);

        // Another commune's host: the post does not exist there, nothing is written.
        let cyril_elsewhere = w
            .app
            .signed_in(Some(&w.abergement), "cyril@example.org", PASSWORD)
            .await?;
        for path in ["commentaires", "reactions", "evaluation"] {
            let (status, _) = w
                .post_on(
                    &cyril_elsewhere,
                    &w.abergement,
                    &format!("/publications/{post}/{path}"),
                    &[
                        ("body", "Ailleurs"),
                        ("reaction", "utile"),
                        ("etat", "1"),
                        ("note", "5"),
                    ],
                )
                .await?;
            assert_eq!(status, 404, "{path}");
        }
        assert_eq!(w.count("SELECT COUNT(*) FROM post_comments").await?, 3);
        assert_eq!(w.count("SELECT COUNT(*) FROM post_ratings").await?, 0);

        // Zoé flags Cyril's second comment; the mayor hides it, then restores it.
        let (_, page) = w.get(&w.zoe, &format!("/publications/{post}")).await?;
        let at = page.find("Je peux aider").context("comment")?;
        let before = &page[..at];
        let id_at = before.rfind("id=\"c-").context("comment id")? + 6;
        let comment: String = before[id_at..].chars().take_while(|c| *c != '"').collect();
        let flag = format!("/publications/{post}/commentaires/{comment}/signaler");
        assert_eq!(w.post(&w.zoe, &flag, &[("reason", "x")]).await?.0, 422);
        let (status, page) = w.post(&w.zoe, &flag, &[("reason", "Hors sujet")]).await?;
        assert_eq!(status, 200);
        assert!(page.contains("vont examiner ce commentaire"));
        let (_, page) = w.post(&w.zoe, &flag, &[("reason", "Hors sujet")]).await?;
        assert!(page.contains("déjà signalé"));
        let (_, queue) = w.get(&w.mayor, "/admin/moderation").await?;
        assert!(
            queue.contains(&format!(
                "Commentaire de {}",
                parvis_tests::display_name("cyril@example.org")
            )) && queue.contains("Hors sujet"),
            "{queue}"
        );
        assert_eq!(w.get(&w.cyril, "/admin/moderation").await?.0, 403);
        let hide = format!("/admin/moderation/commentaires/{comment}/masquer");
        assert_eq!(
            w.post(&w.cyril, &hide, &[("reason", "Je masque")]).await?.0,
            403
        );
        assert_eq!(
            w.post(&w.mayor, &hide, &[("reason", "Hors sujet")])
                .await?
                .0,
            303
        );
        let (_, page) = w.get(&w.zoe, &format!("/publications/{post}")).await?;
        assert!(!page.contains("Je peux aider") && page.contains("Commentaires (2)"));
        let (_, queue) = w.get(&w.mayor, "/admin/moderation").await?;
        assert!(queue.contains("Commentaire masqué"), "audit log");
        let restore = format!("/admin/moderation/commentaires/{comment}/retablir");
        assert_eq!(
            w.post(&w.mayor, &restore, &[("reason", "Après examen")])
                .await?
                .0,
            303
        );
        let (_, page) = w.get(&w.zoe, &format!("/publications/{post}")).await?;
        assert!(page.contains("Je peux aider"));
        // A moderator of another commune cannot hide it.
        let other = w.app.account("maire@abergement.test", PASSWORD).await?;
        w.app
            .grant(&other, Role::TenantAdmin, Some(&w.abergement))
            .await?;
        let other = w
            .app
            .signed_in(Some(&w.abergement), "maire@abergement.test", PASSWORD)
            .await?;
        let (status, _) = w
            .post_on(&other, &w.abergement, &hide, &[("reason", "Ailleurs")])
            .await?;
        assert_eq!(status, 404);

        // Only its author deletes a comment.
        let delete = format!("/publications/{post}/commentaires/{comment}/supprimer");
        assert_eq!(w.post(&w.zoe, &delete, &[]).await?.0, 404);
        assert_eq!(w.post(&w.cyril, &delete, &[]).await?.0, 303);
        let (_, page) = w.get(&w.zoe, &format!("/publications/{post}")).await?;
        assert!(!page.contains("Je peux aider") && page.contains("Commentaires (2)"));

        // Comments are paged oldest first by a stable cursor: a new comment never shifts a page.
        {
            let mut tx = w.app.state.db.platform_tx().await?;
            for i in 0..55 {
                sqlx::query(
                "INSERT INTO post_comments (tenant_id, id, post_id, author_account_id, body, created_at) \
                 SELECT p.tenant_id, $1, p.id, p.author_account_id, $2, 0 FROM posts p WHERE p.id = $3",
            )
            .bind(parvis_core::util::new_id())
            .bind(format!("Avis n° {i}."))
            .bind(&post)
            .execute(&mut *tx)
            .await?;
            }
            tx.commit().await?;
        }
        let (_, first) = w.get(&w.zoe, &format!("/publications/{post}")).await?;
        assert!(
            first.contains("Bonne idée")
                && first.contains("Avis n° 47.")
                && !first.contains("Avis n° 48.")
        );
        let next_at = first.find("?apres=").context("next page")?;
        let next: String = first[next_at..]
            .chars()
            .take_while(|c| *c != '#' && *c != '"')
            .collect();
        assert_eq!(
            w.comment(&w.zoe, &post, "Arrivé entre deux pages").await?.0,
            303
        );
        let (_, second) = w
            .get(&w.zoe, &format!("/publications/{post}{next}"))
            .await?;
        assert!(
            second.contains("Avis n° 48.") && second.contains("Avis n° 54."),
            "{second}"
        );
        assert!(!second.contains("Avis n° 47.") && !second.contains("Bonne idée"));
        assert!(
            second.contains("Arrivé entre deux pages"),
            "the new comment comes last"
        );
        w.app.stop().await;
        Ok(())
    }
);

both_backends!(reactions_and_evaluations_count_once, |backend| async move {
    let w = world(backend).await?;
    let action = w
        .published(&w.alice, "action", "Trottoirs refaits rue Basse")
        .await?;
    let news = w
        .published(&w.mayor, "actualite", "Marché de Noël samedi")
        .await?;
    let path = format!("/publications/{action}");

    // Reactions: given twice counts once, taken back, one per reaction and account.
    assert_eq!(w.react(&w.cyril, &action, "utile", true).await?.0, 303);
    assert_eq!(w.react(&w.cyril, &action, "utile", true).await?.0, 303);
    let p = w.get(&w.cyril, &path).await?.1;
    assert_eq!(reaction_count(&p, "Utile"), Some(1));
    assert!(pressed(&p, "Utile") && !pressed(&p, "Merci"));
    assert_eq!(w.react(&w.zoe, &action, "utile", true).await?.0, 303);
    assert_eq!(w.react(&w.zoe, &action, "soutien", true).await?.0, 303);
    assert_eq!(w.react(&w.cyril, &action, "utile", false).await?.0, 303);
    let p = w.get(&w.cyril, &path).await?.1;
    assert_eq!(reaction_count(&p, "Utile"), Some(1));
    assert_eq!(reaction_count(&p, "Je soutiens"), Some(1));
    assert!(!pressed(&p, "Utile"));
    assert_eq!(w.react(&w.cyril, &action, "colère", true).await?.0, 422);
    assert_eq!(w.count("SELECT COUNT(*) FROM post_reactions").await?, 2);

    // Evaluations: one per account, changeable; the average shown with its count.
    assert_eq!(w.rate(&w.cyril, &action, "4").await?.0, 303);
    assert!(
        w.get(&w.cyril, &path)
            .await?
            .1
            .contains("Note moyenne : <strong>4,0/5</strong> (1 évaluation)")
    );
    assert_eq!(w.rate(&w.cyril, &action, "2").await?.0, 303);
    assert_eq!(w.rate(&w.zoe, &action, "5").await?.0, 303);
    let p = w.get(&w.cyril, &path).await?.1;
    assert!(
        p.contains("Note moyenne : <strong>3,5/5</strong> (2 évaluations)"),
        "{p}"
    );
    assert!(p.contains("Votre évaluation (2/5)"));
    assert_eq!(w.count("SELECT COUNT(*) FROM post_ratings").await?, 2);
    // Bad notes, news, one's own post: refused, nothing written.
    for bad in ["0", "6", "trois", ""] {
        let (status, page) = w.rate(&w.cyril, &action, bad).await?;
        assert_eq!(status, 422, "{bad}");
        assert!(page.contains("Choisissez une note de 1 à 5."));
    }
    let (status, page) = w.rate(&w.cyril, &news, "5").await?;
    assert_eq!(status, 422);
    assert!(page.contains("Seules les actions, les engagements et les propositions"));
    assert_eq!(w.rate(&w.alice, &action, "5").await?.0, 403);
    assert_eq!(w.count("SELECT COUNT(*) FROM post_ratings").await?, 2);
    assert_eq!(
        w.count("SELECT CAST(SUM(value) AS BIGINT) FROM post_ratings")
            .await?,
        7
    );
    // Cards and the official's profile show the average.
    let (_, home) = w.get(&w.app.client()?, "/").await?;
    assert!(
        home.contains("Note : 3,5/5 (2 évaluations)") && home.contains("Utile : 1"),
        "{home}"
    );
    let (_, profile) = w
        .get(&w.app.client()?, &format!("/elus/{}", w.alice_id))
        .await?;
    assert!(profile.contains("note 3,5/5 (2 évaluations)"), "{profile}");

    // Concurrent double submits: still one evaluation and one reaction per account.
    let token = form_token(&w.zoe, &w.url("/connexion")).await?;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = w.zoe.clone();
        let token = token.clone();
        let rate_url = w.url(&format!("/publications/{action}/evaluation"));
        let react_url = w.url(&format!("/publications/{action}/reactions"));
        tasks.push(tokio::spawn(async move {
            let note = (1 + i % 5).to_string();
            let r = client
                .post(rate_url)
                .form(&[("csrf_token", token.as_str()), ("note", note.as_str())])
                .send()
                .await?;
            let s = client
                .post(react_url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("reaction", "merci"),
                    ("etat", "1"),
                ])
                .send()
                .await?;
            anyhow::Ok((r.status().as_u16(), s.status().as_u16()))
        }));
    }
    for t in tasks {
        assert_eq!(t.await??, (303, 303));
    }
    assert_eq!(w.count("SELECT COUNT(*) FROM post_ratings").await?, 2);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM post_reactions WHERE reaction = 'merci'")
            .await?,
        1
    );
    w.app.stop().await;
    Ok(())
});

both_backends!(spam_limits_answer_429, |backend| async move {
    let w = world(backend).await?;
    let post = w
        .published(&w.alice, "engagement", "Un banc par rue")
        .await?;
    for i in 0..5 {
        assert_eq!(
            w.comment(&w.cyril, &post, &format!("Commentaire {i}"))
                .await?
                .0,
            303
        );
    }
    let (status, page) = w.comment(&w.cyril, &post, "Un de trop").await?;
    assert_eq!(status, 429);
    assert!(
        page.contains("Vous commentez trop vite") && page.contains("Un de trop"),
        "{page}"
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM post_comments").await?, 5);
    // Others are not limited by Cyril's flood.
    assert_eq!(w.comment(&w.zoe, &post, "Moi aussi").await?.0, 303);

    for i in 0..30 {
        let (status, _) = w
            .publish(&w.mayor, "", "", "", &format!("Annonce {i}"))
            .await?;
        assert_eq!(status, 303, "post {i}");
    }
    let (status, page) = w.publish(&w.mayor, "", "", "", "Annonce de trop").await?;
    assert_eq!(status, 429);
    assert!(page.contains("Réessayez dans une heure") && page.contains("Annonce de trop"));
    assert_eq!(w.count("SELECT COUNT(*) FROM posts").await?, 31);
    w.app.stop().await;
    Ok(())
});

both_backends!(
    export_has_engagement_and_deletion_anonymises,
    |backend| async move {
        let w = world(backend).await?;
        let post = w.published(&w.alice, "action", "Éclairage du parc").await?;
        assert_eq!(
            w.comment(&w.cyril, &post, "Enfin de la lumière !").await?.0,
            303
        );
        assert_eq!(w.react(&w.cyril, &post, "merci", true).await?.0, 303);
        assert_eq!(w.rate(&w.cyril, &post, "5").await?.0, 303);

        let data: serde_json::Value = w
            .cyril
            .get(w.url("/mon-compte/donnees.json"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            data["comments"][0]["body"], "Enfin de la lumière !",
            "{data}"
        );
        assert_eq!(data["comments"][0]["post_id"], post.as_str());
        assert_eq!(data["reactions"][0]["reaction"], "merci");
        let value = &data["evaluations"][0]["value"];
        assert!(value.as_i64() == Some(5) || value == "5", "{data}");
        let data: serde_json::Value = w
            .zoe
            .get(w.url("/mon-compte/donnees.json"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(data["comments"].as_array().map(Vec::len), Some(0));
        // Before the deletion, the comment is signed with Cyril's name.
        let cyril = parvis_tests::display_name("cyril@example.org");
        let (_, page) = w.get(&w.zoe, &format!("/publications/{post}")).await?;
        assert!(page.contains(&cyril), "{page}");

        let token = form_token(&w.cyril, &w.url("/mon-compte")).await?;
        let r = w
            .cyril
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
        // The comment stays, signed « Compte supprimé »; reactions and evaluations are gone.
        let (status, page) = w.get(&w.zoe, &format!("/publications/{post}")).await?;
        assert_eq!(status, 200);
        assert!(page.contains("Compte supprimé") && page.contains("Enfin de la lumière !"));
        assert!(!page.contains(&cyril), "{page}");
        assert!(!page.contains("cyril@example.org"), "{page}");
        assert!(page.contains("Pas encore évaluée"), "{page}");
        assert_eq!(reaction_count(&page, "Merci"), Some(0));
        assert_eq!(w.count("SELECT COUNT(*) FROM post_reactions").await?, 0);
        assert_eq!(w.count("SELECT COUNT(*) FROM post_ratings").await?, 0);
        w.app.stop().await;
        Ok(())
    }
);

/// A 120×80 PNG.
fn png() -> Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(120, 80, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

/// Rows of `sql` (one `$1` post id) seen by the application's own role with `parvis.tenant_id`
/// set to `tenant` (or unset), as a query that forgot its tenant would see them.
async fn seen_from(
    w: &World,
    tenant: Option<i64>,
    sql: &str,
    post: &str,
) -> Result<Vec<(String, i64, i64)>> {
    let mut tx = w.app.state.db.platform().begin().await?;
    if let Some(tenant) = tenant {
        sqlx::query("SELECT set_config('parvis.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await?;
    }
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(sql).bind(post).fetch_all(&mut *tx).await?;
    tx.rollback().await?;
    Ok(rows)
}

// Issue 13, defect 8: PostgreSQL's `public_read` policies let any commune, or a query with no
// commune at all, read every comment, reaction and evaluation (who, which value) and the
// attachments of hidden posts. Only counts may cross communes, and pages still show them.
both_backends!(only_counts_cross_communes, |backend| async move {
    let w = world(backend).await?;
    let token = form_token(&w.alice, &w.url("/publier")).await?;
    let form = reqwest::multipart::Form::new()
        .text("body", "Bancs installés place du Marché")
        .text("kind", "action")
        .part(
            "image_1",
            reqwest::multipart::Part::bytes(png()?)
                .file_name("bancs.png")
                .mime_str("image/png")?,
        )
        .text("alt_1", "Trois bancs neufs sur la place");
    let (status, location) = parvis_tests::outcome(
        w.alice
            .post(w.url(&format!("/publier?csrf_token={token}")))
            .multipart(form)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, 303, "{location}");
    let action = location.trim_start_matches("/publications/").to_string();
    assert_eq!(w.comment(&w.cyril, &action, "Enfin !").await?.0, 303);
    assert_eq!(w.react(&w.cyril, &action, "utile", true).await?.0, 303);
    assert_eq!(w.react(&w.zoe, &action, "utile", true).await?.0, 303);
    assert_eq!(w.rate(&w.zoe, &action, "4").await?.0, 303);

    // Pages still show the counts, from the query that spans communes.
    let (_, home) = w.get(&w.app.client()?, "/").await?;
    assert!(
        home.contains("1 commentaire")
            && home.contains("Utile : 2")
            && home.contains("Note : 4,0/5 (1 évaluation)")
            && home.contains("Trois bancs neufs sur la place"),
        "{home}"
    );

    if backend == parvis_tests::Backend::Postgres {
        let tenant = |slug: String| {
            let db = w.app.state.db.clone();
            async move {
                anyhow::Ok(
                    sqlx::query_scalar::<_, i64>("SELECT id FROM tenants WHERE slug = $1")
                        .bind(slug)
                        .fetch_one(db.platform())
                        .await?,
                )
            }
        };
        let paris = tenant(w.paris.clone()).await?;
        let elsewhere = tenant(w.abergement.clone()).await?;
        let rows = [
            "SELECT author_account_id, 0::BIGINT, created_at FROM post_comments WHERE post_id = $1",
            "SELECT account_id, 0::BIGINT, created_at FROM post_reactions WHERE post_id = $1",
            "SELECT account_id, value, created_at FROM post_ratings WHERE post_id = $1",
        ];
        let counts = &format!(
            "SELECT kind, n, total FROM post_engagement_counts({paris}, $1) ORDER BY kind"
        );
        let attachments =
            "SELECT label, position, byte_size FROM post_attachments WHERE post_id = $1";
        let expected: Vec<(String, i64, i64)> = vec![
            ("comment".into(), 1, 0),
            ("rating".into(), 1, 4),
            ("utile".into(), 2, 0),
        ];
        for from in [Some(elsewhere), None] {
            for sql in rows {
                let seen = seen_from(&w, from, sql, &action).await?;
                assert!(seen.is_empty(), "from {from:?}, {sql}: {seen:?}");
            }
            assert_eq!(seen_from(&w, from, counts, &action).await?, expected);
            // A published post's attachments are public, like the post.
            assert_eq!(seen_from(&w, from, attachments, &action).await?.len(), 1);
        }
        // Its own commune still reads its rows.
        for sql in rows {
            assert!(!seen_from(&w, Some(paris), sql, &action).await?.is_empty());
        }

        // Once the post is hidden, nothing of it crosses communes, not even counts.
        let (status, _) = w
            .post(
                &w.mayor,
                &format!("/admin/moderation/{action}/masquer"),
                &[("reason", "Doublon")],
            )
            .await?;
        assert_eq!(status, 303);
        for from in [Some(elsewhere), None] {
            let seen = seen_from(&w, from, attachments, &action).await?;
            assert!(seen.is_empty(), "from {from:?}: {seen:?}");
            let counted = seen_from(&w, from, counts, &action).await?;
            assert!(counted.iter().all(|(_, n, _)| *n == 0), "{counted:?}");
        }
        assert_eq!(
            seen_from(&w, Some(paris), attachments, &action)
                .await?
                .len(),
            1
        );
    }
    w.app.stop().await;
    Ok(())
});
