//! Alerts by text message through a real HTTP SMS provider on loopback (the host POSTs JSON
//! with its bearer token): a number is confirmed by a code sent to it before it gets alerts;
//! subscribers get the alert, a number the provider refuses is retried then counted as failed,
//! and the admin's delivery report shows both. Codes are limited per account, per number and
//! in attempts, and nobody learns whether another account registered a number.

use std::time::{Duration, Instant};

use parvis_core::authz::Role;
use parvis_tests::sms::SMS_TOKEN;
use parvis_tests::{SmsProvider, TestApp, both_backends, form_token};

const PASSWORD: &str = "mot-de-passe-solide";

async fn post(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> anyhow::Result<reqwest::Response> {
    let token = form_token(client, url).await?;
    let mut body = vec![("csrf_token", token.as_str())];
    body.extend_from_slice(fields);
    Ok(client.post(url).form(&body).send().await?)
}

/// Asks for a code for `typed`; the status.
async fn ask_code(
    app: &TestApp,
    paris: &str,
    client: &reqwest::Client,
    typed: &str,
) -> anyhow::Result<u16> {
    let page = app.url(Some(paris), "/m/alerts/sms");
    let r = post(client, &page, &[("phone", typed), ("consent", "oui")]).await?;
    Ok(r.status().as_u16())
}

/// Enters a code; the SMS page shown afterwards (with its flash message).
async fn enter_code(
    app: &TestApp,
    paris: &str,
    client: &reqwest::Client,
    code: &str,
) -> anyhow::Result<String> {
    let r = post(
        client,
        &app.url(Some(paris), "/m/alerts/sms/code"),
        &[("code", code)],
    )
    .await?;
    anyhow::ensure!(r.status() == 303, "code: {}", r.status());
    Ok(client
        .get(app.url(Some(paris), "/m/alerts/sms"))
        .send()
        .await?
        .text()
        .await?)
}

/// Registers and confirms a number as a citizen does: a code by SMS, then the code.
async fn register(
    app: &TestApp,
    provider: &SmsProvider,
    paris: &str,
    client: &reqwest::Client,
    typed: &str,
    number: &str,
) -> anyhow::Result<()> {
    let before = provider.messages_to(number).len();
    anyhow::ensure!(
        ask_code(app, paris, client, typed).await? == 303,
        "no code for {typed}"
    );
    let code = provider.code_for(number, before).await?;
    let page = enter_code(app, paris, client, &code).await?;
    anyhow::ensure!(page.contains("Votre numéro est confirmé"), "{page}");
    Ok(())
}

/// Publishes an SMS alert as the admin; the detail page's path.
async fn publish_sms(
    app: &TestApp,
    paris: &str,
    admin: &reqwest::Client,
    title: &str,
) -> anyhow::Result<String> {
    let form = app.url(Some(paris), "/admin/m/alerts/new");
    let expires = parvis_tests::datetime_local_in(chrono::Duration::days(2));
    let r = post(
        admin,
        &form,
        &[
            ("category", "meteo"),
            ("severity", "urgence"),
            ("zone", ""),
            ("title", title),
            ("message", "Les quais bas sont fermés jusqu'à nouvel ordre."),
            ("expires_at", expires.as_str()),
            ("channels", "sms"),
        ],
    )
    .await?;
    anyhow::ensure!(r.status() == 303, "publish: {}", r.text().await?);
    Ok(r.headers()["location"].to_str()?.to_string())
}

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

        // Two residents confirm their numbers; then the provider refuses the second one.
        let mut residents = Vec::new();
        for (email, phone, number) in [
            ("ines@example.org", "06 12 34 56 78", "+33612345678"),
            ("omar@example.org", "+33 7 00 00 00 99", "+33700000099"),
        ] {
            app.account(email, PASSWORD).await?;
            let client = app.signed_in(Some(&paris), email, PASSWORD).await?;
            register(&app, &provider, &paris, &client, phone, number).await?;
            residents.push(client);
        }
        provider.refuse("+33700000099");
        let codes = provider.messages().len();

        let maire = app.account("maire@paris.fr", PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let admin = app
            .signed_in(Some(&paris), "maire@paris.fr", PASSWORD)
            .await?;
        let detail = publish_sms(&app, &paris, &admin, "Crue de la Seine").await?;

        // The provider receives the one number it accepts, with the sender and the text.
        let started = Instant::now();
        while provider.messages().len() == codes {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(20),
                "no text message reached the provider"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let messages = provider.messages()[codes..].to_vec();
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

// Issue 13, defect 7: numbers were never verified, so anyone could subscribe someone else's
// number, block its owner, and learn whether it was registered.
both_backends!(
    sms_numbers_get_alerts_only_once_confirmed_by_their_holder,
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
        let maire = app.account("maire@paris.fr", PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let admin = app
            .signed_in(Some(&paris), "maire@paris.fr", PASSWORD)
            .await?;
        let mut citizens = Vec::new();
        for email in ["ines@example.org", "mallory@example.org", "bob@example.org"] {
            app.account(email, PASSWORD).await?;
            citizens.push(app.signed_in(Some(&paris), email, PASSWORD).await?);
        }
        let (ines, mallory, bob) = (&citizens[0], &citizens[1], &citizens[2]);
        const INES: &str = "+33612345678";
        let sms_page = app.url(Some(&paris), "/m/alerts/sms");

        // Mallory types Inès's number: a code goes to the number, nothing is registered, and a
        // wrong guess is refused.
        assert_eq!(
            ask_code(&app, &paris, mallory, "06 12 34 56 78").await?,
            303
        );
        let code = provider.code_for(INES, 0).await?;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let page = enter_code(&app, &paris, mallory, wrong).await?;
        assert!(
            page.contains("Ce code n&#x27;est pas le bon")
                || page.contains("Ce code n'est pas le bon"),
            "{page}"
        );
        assert!(!page.contains("Vous recevez les alertes"), "{page}");

        // A number waiting for its code receives no alert.
        let detail = publish_sms(&app, &paris, &admin, "Avant confirmation").await?;
        let report = admin
            .get(app.url(Some(&paris), &detail))
            .send()
            .await?
            .text()
            .await?;
        assert!(report.contains("aucun numéro"), "{report}");
        assert!(
            provider
                .messages()
                .iter()
                .all(|m| !m.text.contains("Avant confirmation")),
            "{:?}",
            provider.messages()
        );

        // Mallory's pending request blocks nothing: Inès gets her own code and confirms.
        register(&app, &provider, &paris, ines, "06.12.34.56.78", INES).await?;
        let page = ines.get(&sms_page).send().await?.text().await?;
        assert!(
            page.contains("Vous recevez les alertes par SMS au <strong>+33 6 12 34 56 78"),
            "{page}"
        );
        // Whether a number is registered is not revealed: asking for Inès's (registered) number
        // and for an unknown one give the same answer.
        let a = post(
            bob,
            &sms_page,
            &[("phone", "07 22 22 22 22"), ("consent", "oui")],
        )
        .await?;
        let (a_status, a_flash) = (a.status(), bob.get(&sms_page).send().await?.text().await?);
        let b = post(
            bob,
            &sms_page,
            &[("phone", "06 12 34 56 78"), ("consent", "oui")],
        )
        .await?;
        let (b_status, b_flash) = (b.status(), bob.get(&sms_page).send().await?.text().await?);
        assert_eq!(a_status, b_status);
        assert!(
            a_flash.contains("Un code de confirmation a été envoyé par SMS au +33 7 22 22 22 22"),
            "{a_flash}"
        );
        assert!(
            b_flash.contains("Un code de confirmation a été envoyé par SMS au +33 6 12 34 56 78"),
            "{b_flash}"
        );

        // An alert reaches the confirmed number only, once.
        // (Bob's codes are sent by jobs too: only the alert's messages are counted.)
        let alert_messages = || -> Vec<parvis_tests::Sms> {
            provider
                .messages()
                .into_iter()
                .filter(|m| m.text.contains("Crue de la Seine"))
                .collect()
        };
        publish_sms(&app, &paris, &admin, "Crue de la Seine").await?;
        // Every text message the alert caused is out once the job queue is idle.
        app.settle_jobs().await?;
        let alerts = alert_messages();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].to, INES);

        // Codes per number: Inès's number got 3 today (Mallory, Inès, Bob): a 4th is refused,
        // with the same words whoever asks.
        let r = post(
            mallory,
            &sms_page,
            &[("phone", "06 12 34 56 78"), ("consent", "oui")],
        )
        .await?;
        assert_eq!(r.status(), 429);
        assert!(r.text().await?.contains("Trop de codes"));
        // Codes per account: Bob asked for 2 numbers; 3 more, then refused.
        for phone in ["07 33 33 33 33", "07 44 44 44 44", "07 77 77 77 77"] {
            assert_eq!(ask_code(&app, &paris, bob, phone).await?, 303);
        }
        assert_eq!(ask_code(&app, &paris, bob, "07 55 55 55 55").await?, 429);

        // Attempts: five wrong codes void the code, even the right one afterwards.
        assert_eq!(
            ask_code(&app, &paris, mallory, "07 66 66 66 66").await?,
            303
        );
        let code = provider.code_for("+33766666666", 0).await?;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            enter_code(&app, &paris, mallory, wrong).await?;
        }
        let page = enter_code(&app, &paris, mallory, &code).await?;
        assert!(page.contains("plus valable"), "{page}");
        assert!(!page.contains("Vous recevez les alertes"), "{page}");
        app.stop().await;
        Ok(())
    }
);
