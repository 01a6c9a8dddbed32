//! Alertes (module `alerts`, free) through the real host and its compiled component, on both
//! backends: an administrator publishes an alert (a bad form is refused with French messages),
//! the commune's followers get it in the app and by e-mail, the public page lists it with its
//! severity in words, the admin page shows its delivery report, lifting it moves it to the
//! history, and another commune sees nothing. Citizens register a mobile number for SMS alerts
//! (confirmed by a code: see alerts_sms.rs); without an SMS provider no code can be sent, and
//! the alert is still published and the admin is told why no SMS left.

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_tests::wait_for_page as wait_until;
use parvis_tests::{TestApp, both_backends, form_token, html};

const PACKAGE: &str = "parvis-module-alerts";
const ID: &str = "alerts";
const PASSWORD: &str = "mot-de-passe-solide";
const ADMIN: &str = "maire@paris.fr";

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    let r = client.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> Result<reqwest::Response> {
    let token = form_token(client, url).await?;
    let mut body = vec![("csrf_token", token.as_str())];
    body.extend_from_slice(fields);
    Ok(client.post(url).form(&body).send().await?)
}

/// Paris with the module enabled, and its mayor (tenant admin) signed in.
async fn paris_with_module(app: &TestApp) -> Result<(String, reqwest::Client)> {
    let paris = app.commune("75056").await?;
    assert_eq!(app.install_module(PACKAGE).await?, ID);
    app.enable_module(&paris, ID).await?;
    let maire = app.account(ADMIN, PASSWORD).await?;
    app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
    let admin = app.signed_in(Some(&paris), ADMIN, PASSWORD).await?;
    Ok((paris, admin))
}

async fn citizen(app: &TestApp, slug: &str, email: &str) -> Result<reqwest::Client> {
    app.account(email, PASSWORD).await?;
    app.signed_in(Some(slug), email, PASSWORD).await
}

/// A `datetime-local` value two days ahead (its UTC digits; the module reads them as Paris
/// time, one or two hours earlier, still well in the future and within 30 days).
fn in_two_days() -> String {
    parvis_tests::datetime_local_in(chrono::Duration::days(2))
}

/// Publishes an alert through the admin form; returns its id.
async fn publish(
    app: &TestApp,
    admin: &reqwest::Client,
    slug: &str,
    title: &str,
    channels: &[&str],
) -> Result<String> {
    let expires = in_two_days();
    let mut fields = vec![
        ("category", "circulation"),
        ("severity", "urgence"),
        ("zone", "Pont Neuf"),
        ("title", title),
        (
            "message",
            "Le pont est fermé à la circulation.\nDéviation par le pont des Arts.",
        ),
        ("expires_at", expires.as_str()),
    ];
    fields.extend(channels.iter().map(|c| ("channels", *c)));
    let r = post(admin, &app.url(Some(slug), "/admin/m/alerts/new"), &fields).await?;
    anyhow::ensure!(
        r.status() == 303,
        "publication: {} {}",
        r.status(),
        r.text().await?
    );
    let location = r.headers()["location"].to_str()?.to_string();
    Ok(location.rsplit('/').next().unwrap_or_default().to_string())
}

/// The cells of a channel's row in the delivery report: sent, failed, pending.
fn report_row(html: &str, channel: &str) -> Option<Vec<String>> {
    let start = format!("<th scope=\"row\">{channel}</th>");
    let row = &html[html.find(&start)? + start.len()..];
    let row = &row[..row.find("</tr>")?];
    Some(
        row.split("<td>")
            .skip(1)
            .map(|cell| cell.trim_end_matches("</td>").to_string())
            .collect(),
    )
}

fn sent(html: &str, channel: &str) -> u32 {
    report_row(html, channel)
        .and_then(|cells| cells.first()?.parse().ok())
        .unwrap_or(0)
}

both_backends!(
    followers_get_alerts_in_the_app_and_by_email,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, admin) = paris_with_module(&app).await?;
        let follower = citizen(&app, &paris, "suiveuse@example.org").await?;
        app.follow_commune(&follower, &paris).await?;

        // A bad form is refused with French messages next to the fields; nothing is published.
        let new = app.url(Some(&paris), "/admin/m/alerts/new");
        let r = post(
            &admin,
            &new,
            &[
                ("category", "circulation"),
                ("severity", "urgence"),
                ("title", ""),
                ("message", "Message"),
                ("expires_at", "2000-01-01T10:00"),
                ("channels", "app"),
            ],
        )
        .await?;
        assert_eq!(r.status(), 422);
        let page = r.text().await?;
        assert!(page.contains("aria-invalid=\"true\""), "{page}");
        assert!(page.contains("Le titre est obligatoire."), "{page}");
        assert!(page.contains("expiration est déjà passée."), "{page}");

        // Citizens may not publish, nor read the back-office.
        let (status, _) = get(&follower, &new).await?;
        assert_eq!(status, 403);

        let title = "Fermeture du pont Neuf";
        let id = publish(&app, &admin, &paris, title, &["app", "email"]).await?;

        // The follower is told in the app and by e-mail.
        wait_until(
            &follower,
            &app.url(Some(&paris), "/notifications"),
            "no in-app notification",
            |page| page.contains(title),
        )
        .await?;
        let mail = app.smtp.wait_for("suiveuse@example.org", title).await?;
        assert!(mail.subject.contains("Urgence"), "{}", mail.subject);
        assert!(
            mail.text.contains("Déviation par le pont des Arts"),
            "{}",
            mail.text
        );

        // Anyone sees it among the current alerts, its severity in words.
        let visitor = app.client()?;
        let (status, list) = get(&visitor, &app.url(Some(&paris), "/m/alerts/")).await?;
        assert_eq!(status, 200);
        let current = &list[..list.find("Historique").context("history section")?];
        assert!(current.contains(title), "{list}");
        assert!(
            current.contains("<strong class=\"alert-severity\">Urgence</strong>"),
            "{list}"
        );
        let public = app.url(Some(&paris), &format!("/m/alerts/{id}"));
        let (status, page) = get(&visitor, &public).await?;
        assert_eq!(status, 200);
        assert!(
            page.contains("Zone : Pont Neuf") && page.contains("En vigueur jusqu"),
            "{page}"
        );

        // The admin page reports the delivery once the background jobs ran.
        let detail = app.url(Some(&paris), &format!("/admin/m/alerts/{id}"));
        let page = wait_until(&admin, &detail, "no e-mail in the report", |page| {
            sent(page, "E-mail") >= 1
        })
        .await?;
        assert!(sent(&page, "Application") >= 1, "{page}");
        assert_eq!(
            report_row(&page, "E-mail").map(|cells| cells[1..].to_vec()),
            Some(vec!["0".to_string(), "0".to_string()]),
            "no failure, nothing pending: {page}"
        );
        assert!(report_row(&page, "SMS").is_none(), "SMS not chosen: {page}");
        let (_, list) = get(&admin, &app.url(Some(&paris), "/admin/m/alerts/")).await?;
        assert!(
            list.contains(title) && list.contains("<th scope=\"row\">E-mail</th>"),
            "{list}"
        );

        // Another commune with the module does not see it.
        let lyon = app.commune("69123").await?;
        app.enable_module(&lyon, ID).await?;
        let (status, _) = get(&visitor, &app.url(Some(&lyon), &format!("/m/alerts/{id}"))).await?;
        assert_eq!(status, 404);
        let (_, list) = get(&visitor, &app.url(Some(&lyon), "/m/alerts/")).await?;
        assert!(!list.contains(title), "{list}");
        assert!(list.contains("Aucune alerte en cours."), "{list}");

        // Lifting it ends it now: it moves to the history.
        let token = form_token(&admin, &detail).await?;
        let r = admin
            .post(format!("{detail}/lever"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let (_, list) = get(&visitor, &app.url(Some(&paris), "/m/alerts/")).await?;
        let history_at = list.find("Historique").context("history section")?;
        assert!(!list[..history_at].contains(title), "{list}");
        assert!(list[history_at..].contains(title), "{list}");
        assert!(list[history_at..].contains("Levée le"), "{list}");
        let (_, page) = get(&admin, &detail).await?;
        assert!(!page.contains("/lever"), "already lifted: {page}");

        app.stop().await;
        Ok(())
    }
);

both_backends!(
    sms_subscribers_and_an_alert_without_sms_provider,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, admin) = paris_with_module(&app).await?;
        let sms_page = app.url(Some(&paris), "/m/alerts/sms");

        // Visitors must sign in first.
        let r = app.client()?.get(&sms_page).send().await?;
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"],
            "/connexion?next=%2Fm%2Falerts%2Fsms"
        );

        // A citizen needs a French mobile number and must consent.
        let alice = citizen(&app, &paris, "alice@example.org").await?;
        let (status, page) = get(&alice, &sms_page).await?;
        assert_eq!(status, 200);
        assert!(
            page.contains("sert uniquement à vous envoyer les alertes"),
            "{page}"
        );
        let r = post(
            &alice,
            &sms_page,
            &[("phone", "01 23 45 67 89"), ("consent", "oui")],
        )
        .await?;
        assert_eq!(r.status(), 422);
        assert!(r.text().await?.contains("aria-invalid=\"true\""));
        let r = post(&alice, &sms_page, &[("phone", "06 12 34 56 78")]).await?;
        assert_eq!(r.status(), 422, "no consent");
        // Without an SMS provider no code can be sent: the number is not registered, and the
        // citizen is told why.
        let r = post(
            &alice,
            &sms_page,
            &[("phone", "06 12 34 56 78"), ("consent", "oui")],
        )
        .await?;
        assert_eq!(r.status(), 503);
        assert!(r.text().await?.contains("pas disponible"));
        let (_, page) = get(&alice, &sms_page).await?;
        assert!(!page.contains("+33 6 12 34 56 78"), "{page}");

        // Without an SMS provider the alert is published and the admin is told why no SMS left.
        let title = "Alerte canicule";
        let id = publish(&app, &admin, &paris, title, &["app", "sms"]).await?;
        let detail = app.url(Some(&paris), &format!("/admin/m/alerts/{id}"));
        let (status, page) = get(&admin, &detail).await?;
        assert_eq!(status, 200);
        assert!(
            page.contains("<strong>Les SMS n'ont pas pu être envoyés :</strong>"),
            "{page}"
        );
        assert!(report_row(&page, "SMS").is_some(), "{page}");
        let (_, list) = get(&app.client()?, &app.url(Some(&paris), "/m/alerts/")).await?;
        assert!(list.contains(title), "{list}");

        // Deleting when nothing is registered says so.
        let r = post(&alice, &format!("{sms_page}/supprimer"), &[]).await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&alice, &sms_page).await?;
        assert!(
            page.contains("Aucun numéro n&#x27;était enregistré")
                || page.contains("Aucun numéro n'était enregistré"),
            "{page}"
        );

        app.stop().await;
        Ok(())
    }
);

both_backends!(
    an_alert_in_force_leads_the_commune_home_page,
    |backend| async move {
        // Issue 17: an active alert showed neither on the commune's home page nor in the feed.
        let app = TestApp::start(backend).await?;
        let (paris, admin) = paris_with_module(&app).await?;
        let reader = citizen(&app, &paris, "lea@example.org").await?;
        let home = app.url(Some(&paris), "/");
        let (_, page) = get(&reader, &home).await?;
        assert!(
            !page.contains("En ce moment"),
            "nothing happening yet: {page}"
        );

        let title = "Pont Neuf fermé";
        let id = publish(&app, &admin, &paris, title, &["app"]).await?;
        let (_, page) = get(&reader, &home).await?;
        let cards = html::texts(&page, "section.now article.alert-urgence")?;
        assert_eq!(cards.len(), 1, "{page}");
        assert!(cards[0].starts_with("Urgence · Alertes"), "{cards:?}");
        assert!(cards[0].contains(title), "{cards:?}");
        assert!(cards[0].contains("Circulation · Pont Neuf"), "{cards:?}");
        assert!(cards[0].contains("Jusqu'au"), "{cards:?}");
        assert_eq!(
            html::attrs(&page, "section.now h3 a", "href")?,
            [format!("/m/alerts/{id}")]
        );

        // In the feed of those who follow Paris, wherever they read it, naming the commune
        // and leading to its site; not in the feed of those who do not.
        app.follow_commune(&reader, &paris).await?;
        let lyon = app.commune("69123").await?;
        let elsewhere = citizen(&app, &lyon, "marc@example.org").await?;
        for host in [&paris, &lyon] {
            let reader = app
                .signed_in(Some(host), "lea@example.org", PASSWORD)
                .await?;
            let (status, feed) = get(&reader, &app.url(Some(host), "/fil")).await?;
            assert_eq!(status, 200);
            let cards = html::texts(&feed, "section.now article.alert-urgence")?;
            assert_eq!(cards.len(), 1, "{feed}");
            assert!(
                cards[0].starts_with("Urgence · Alertes · Paris"),
                "{cards:?}"
            );
            assert_eq!(
                html::attrs(&feed, "section.now h3 a", "href")?,
                [app.url(Some(&paris), &format!("/m/alerts/{id}"))]
            );
        }
        let (_, feed) = get(&elsewhere, &app.url(Some(&lyon), "/fil")).await?;
        assert!(!feed.contains("En ce moment"), "{feed}");

        // The back-office counts what the service did in 30 days.
        let (_, dashboard) = get(&admin, &app.url(Some(&paris), "/admin")).await?;
        let rows = html::table_rows(&dashboard, ".chart.bars table")?;
        assert_eq!(rows.len(), 1, "{dashboard}");
        assert_eq!(rows[0][0], "Alertes", "{rows:?}");
        assert_ne!(rows[0][1], "0", "the alert was written: {rows:?}");

        // The host asks that path itself; a visitor cannot.
        let (status, _) = get(
            &reader,
            &app.url(Some(&paris), "/m/alerts/_parvis/maintenant"),
        )
        .await?;
        assert_eq!(status, 404);

        // Lifted, it leaves the home page at once.
        let detail = app.url(Some(&paris), &format!("/admin/m/alerts/{id}"));
        let token = form_token(&admin, &detail).await?;
        let r = admin
            .post(format!("{detail}/lever"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&reader, &home).await?;
        assert!(!page.contains("En ce moment"), "{page}");
        let (_, feed) = get(&reader, &app.url(Some(&paris), "/fil")).await?;
        assert!(!feed.contains("En ce moment"), "{feed}");

        // A service the host switched off after repeated faults is on the admins' to-do list.
        let (_, dashboard) = get(&admin, &app.url(Some(&paris), "/admin")).await?;
        assert!(
            html::texts(&dashboard, ".todo a")?.is_empty(),
            "{dashboard}"
        );
        let mut tx = app.state.db.platform_tx().await?;
        sqlx::query(
            "UPDATE tenant_modules SET enabled = 0, fault_reason = 'trop d''erreurs' WHERE module_id = $1",
        )
        .bind(ID)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let (_, dashboard) = get(&admin, &app.url(Some(&paris), "/admin")).await?;
        assert_eq!(
            html::texts(&dashboard, ".todo a")?,
            [
                "Le service « Alertes » a été coupé après des erreurs répétées : le réactiver ou le laisser désactivé"
            ]
        );
        assert_eq!(
            html::attrs(&dashboard, ".todo a", "href")?,
            ["/admin/modules"]
        );
        app.stop().await;
        Ok(())
    }
);
