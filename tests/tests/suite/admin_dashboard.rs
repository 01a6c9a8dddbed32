//! A commune's back-office home (issue 17): what needs a decision today, the commune's
//! figures and its new followers week by week — each commune's own, for the roles that
//! may act on them.

use parvis_core::authz::Role;
use parvis_tests::html::{attrs, texts};
use parvis_tests::{TestApp, both_backends};

const PASSWORD: &str = "mot de passe solide";

/// The figures of a dashboard as (label, value).
fn figures(page: &str) -> anyhow::Result<Vec<(String, String)>> {
    Ok(texts(page, ".figures dt")?
        .into_iter()
        .zip(texts(page, ".figures dd")?)
        .collect())
}

both_backends!(
    the_dashboard_shows_what_to_do_and_the_communes_own_figures,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let annecy = app.commune("74010").await?;
        let lyon = app.commune("69123").await?;
        let mayor = app.account("maire@annecy.test", PASSWORD).await?;
        app.grant(&mayor, Role::TenantAdmin, Some(&annecy)).await?;
        let modo = app.account("modo@annecy.test", PASSWORD).await?;
        app.grant(&modo, Role::Moderator, Some(&annecy)).await?;
        let lyon_mayor = app.account("maire@lyon.test", PASSWORD).await?;
        app.grant(&lyon_mayor, Role::TenantAdmin, Some(&lyon))
            .await?;

        // Three citizens follow Annecy, one of them Lyon too.
        for who in ["ines", "jules", "karim"] {
            let email = format!("{who}@example.org");
            app.account(&email, PASSWORD).await?;
            let client = app.signed_in(Some(&annecy), &email, PASSWORD).await?;
            app.follow_commune(&client, &annecy).await?;
            if who == "ines" {
                // Signed in on each host (one account everywhere is issue 20).
                let client = app.signed_in(Some(&lyon), &email, PASSWORD).await?;
                app.follow_commune(&client, &lyon).await?;
            }
        }
        // Karim has followed Annecy for half a year: counted, but before the chart's weeks.
        let mut tx = app.state.db.platform_tx().await?;
        let moved = sqlx::query(
            "UPDATE follows SET created_at = created_at - 26 * 604800 \
             WHERE account_id = (SELECT id FROM accounts WHERE email = $1)",
        )
        .bind("karim@example.org")
        .execute(&mut *tx)
        .await?;
        anyhow::ensure!(moved.rows_affected() == 1);
        tx.commit().await?;

        let mayor_client = app
            .signed_in(Some(&annecy), "maire@annecy.test", PASSWORD)
            .await?;
        app.publish(&mayor_client, &annecy, "Le marché de Noël ouvre samedi.")
            .await?;
        let lyon_client = app
            .signed_in(Some(&lyon), "maire@lyon.test", PASSWORD)
            .await?;
        app.publish(&lyon_client, &lyon, "Fête des Lumières : le programme.")
            .await?;
        app.publish(&lyon_client, &lyon, "Travaux rue de la République.")
            .await?;

        // Inès flags Annecy's post.
        let ines = app
            .signed_in(Some(&annecy), "ines@example.org", PASSWORD)
            .await?;
        let (action, token) = app.flag_form(&ines, &annecy).await?;
        let flagged = ines
            .post(app.url(Some(&annecy), &action))
            .form(&[("csrf_token", token.as_str()), ("reason", "Hors sujet")])
            .send()
            .await?;
        assert_eq!(flagged.status(), 200);

        // A message to an Annecy citizen failed for good (its retries spent) a day ago; a
        // Lyon one two months ago, out of the figures' 30 days.
        let now = parvis_core::util::now();
        let mut tx = app.state.db.platform_tx().await?;
        for (slug, failed_at) in [(&annecy, now - 86_400), (&lyon, now - 60 * 86_400)] {
            sqlx::query(
                "INSERT INTO jobs (kind, payload, run_at, attempts, max_attempts, last_error, failed_at, created_at, tenant_id) \
                 SELECT 'mail', '{}', $1, 8, 8, 'refusé par le serveur', $1, $1, id FROM tenants WHERE slug = $2",
            )
            .bind(failed_at)
            .bind(slug)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;

        let dashboard = |client: reqwest::Client, slug: String| {
            let url = app.url(Some(&slug), "/admin");
            async move {
                let r = client.get(url).send().await?;
                anyhow::ensure!(r.status() == 200, "{slug}: {}", r.status());
                anyhow::Ok(r.text().await?)
            }
        };
        let page = dashboard(mayor_client.clone(), annecy.clone()).await?;
        assert_eq!(
            figures(&page)?,
            [
                ("Abonnés".to_string(), "3".to_string()),
                ("Publications, 30 derniers jours".into(), "1".into()),
                ("Signalements ouverts".into(), "1".into()),
                ("Envois en échec, 30 derniers jours".into(), "1".into()),
            ]
        );
        assert_eq!(texts(&page, ".todo a")?, ["1 signalement à examiner"]);
        assert_eq!(attrs(&page, ".todo a", "href")?, ["/admin/moderation"]);
        // Twelve weeks; this week's bar holds Inès and Jules, the others none (Karim's
        // week is older). The SVG's bars say the same as the table.
        let counts = texts(&page, ".chart tbody td:nth-child(2)")?;
        assert_eq!(counts.len(), 12, "{counts:?}");
        assert_eq!(counts.last().map(String::as_str), Some("2"));
        assert!(counts[..11].iter().all(|c| c == "0"), "{counts:?}");
        let bars = attrs(&page, ".chart rect", "height")?;
        assert_eq!(bars.last().map(String::as_str), Some("100"));
        assert!(bars[..11].iter().all(|h| h == "0"), "{bars:?}");
        assert_eq!(texts(&page, ".chart svg title")?.len(), 12);

        // A moderator sees the flags, not the commune's management.
        let modo_client = app
            .signed_in(Some(&annecy), "modo@annecy.test", PASSWORD)
            .await?;
        let page = dashboard(modo_client, annecy.clone()).await?;
        assert_eq!(texts(&page, ".todo a")?, ["1 signalement à examiner"]);
        assert!(!attrs(&page, "main a", "href")?.contains(&"/admin/roles".to_string()));

        // Lyon's figures are Lyon's alone.
        let page = dashboard(lyon_client, lyon.clone()).await?;
        assert_eq!(
            figures(&page)?,
            [
                ("Abonnés".to_string(), "1".to_string()),
                ("Publications, 30 derniers jours".into(), "2".into()),
                ("Signalements ouverts".into(), "0".into()),
                ("Envois en échec, 30 derniers jours".into(), "0".into()),
            ]
        );
        assert!(texts(&page, ".todo a")?.is_empty());
        assert!(
            texts(&page, ".chart p")?.is_empty(),
            "Lyon's one follower joined this week"
        );
        assert!(
            texts(&page, "#a-faire ~ p")?
                .contains(&"Rien n'attend de décision aujourd'hui.".to_string())
        );

        // Once the flag is resolved (as a moderator's decision leaves it), nothing is left to
        // do in Annecy.
        let mut tx = app.state.db.platform_tx().await?;
        sqlx::query("UPDATE flags SET resolved_at = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let page = dashboard(mayor_client, annecy).await?;
        assert!(texts(&page, ".todo a")?.is_empty(), "{page}");
        app.stop().await;
        Ok(())
    }
);
