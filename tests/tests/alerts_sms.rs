//! Alerts by text message through a real HTTP SMS provider on loopback (the host POSTs JSON
//! with its bearer token): subscribers get the alert, a number the provider refuses is
//! retried then counted as failed, and the admin's delivery report shows both.

use std::time::{Duration, Instant};

use parvis_core::authz::Role;
use parvis_tests::sms::SMS_TOKEN;
use parvis_tests::{SmsProvider, TestApp, both_backends, form_token};

const PASSWORD: &str = "mot-de-passe-solide";

both_backends!(
    an_alert_reaches_sms_subscribers_and_reports_failures,
    |backend| async move {
        let provider = SmsProvider::start().await?;
        let url = provider.url();
        let app = TestApp::start_configured(backend, 0, |config| {
            config.sms_url = Some(url);
            config.sms_token = Some(SMS_TOKEN.to_string());
            config.sms_sender = "Mairie".into();
        })
        .await?;
        let paris = app.commune("75056").await?;
        app.install_module("parvis-module-alerts").await?;
        app.enable_module(&paris, "alerts").await?;

        // Two residents subscribe; the provider will refuse the second number.
        for (email, phone) in [
            ("ines@example.org", "06 12 34 56 78"),
            ("omar@example.org", "+33 7 00 00 00 99"),
        ] {
            app.account(email, PASSWORD).await?;
            let client = app.signed_in(Some(&paris), email, PASSWORD).await?;
            let page = app.url(Some(&paris), "/m/alerts/sms");
            let token = form_token(&client, &page).await?;
            let r = client
                .post(&page)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("phone", phone),
                    ("consent", "oui"),
                ])
                .send()
                .await?;
            assert_eq!(r.status(), 303, "{email}: {}", r.text().await?);
        }

        let maire = app.account("maire@paris.fr", PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let admin = app
            .signed_in(Some(&paris), "maire@paris.fr", PASSWORD)
            .await?;
        let form = app.url(Some(&paris), "/admin/m/alerts/new");
        let expires = parvis_tests::datetime_local_in(chrono::Duration::days(2));
        let token = form_token(&admin, &form).await?;
        let r = admin
            .post(&form)
            .form(&[
                ("csrf_token", token.as_str()),
                ("category", "meteo"),
                ("severity", "urgence"),
                ("zone", ""),
                ("title", "Crue de la Seine"),
                ("message", "Les quais bas sont fermés jusqu'à nouvel ordre."),
                ("expires_at", expires.as_str()),
                ("channels", "sms"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 303, "{}", r.text().await?);
        let detail = r.headers()["location"].to_str()?.to_string();

        // The provider receives the one number it accepts, with the sender and the text.
        let started = Instant::now();
        while provider.messages().is_empty() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(20),
                "no text message reached the provider"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let messages = provider.messages();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0].to, "+33612345678");
        assert_eq!(messages[0].sender, "Mairie");
        assert!(
            messages[0].text.contains("Crue de la Seine"),
            "{messages:?}"
        );

        // The refused number is retried, then counted as failed in the report.
        let started = Instant::now();
        loop {
            let page = admin
                .get(app.url(Some(&paris), &detail))
                .send()
                .await?
                .text()
                .await?;
            if page.contains("<tr><th scope=\"row\">SMS</th><td>1</td><td>1</td><td>0</td></tr>") {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "the report never showed 1 sent, 1 failed: {page}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        app.stop().await;
        Ok(())
    }
);
