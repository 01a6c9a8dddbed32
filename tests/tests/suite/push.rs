//! Web push through a loopback push service that checks the VAPID signature and decrypts the
//! messages itself (tests/src/push.rs), on both backends: a citizen subscribes two devices,
//! an urgent alert from the real alerts component reaches the one still subscribed with
//! `Urgency: high`, the other's 410 removes it, and the report counts both; a commune's post
//! pushes through the same path; a busy push service is retried, and one answering without end
//! is read no further than a bound; the VAPID key is made once;
//! the subscription API refuses bad input with French JSON errors and keeps each account's
//! devices its own; devices are in the data export and go with the account; the scripts are
//! served as JavaScript.
//!
//! No browser test: Chromium's `PushManager.subscribe` needs Google's push service, which
//! this machine cannot reach; the test plays the browser's part (keys, subscription JSON).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_tests::{PushDevice, PushService, ReceivedPush, TestApp, both_backends, form_token};
use serde_json::Value;

const PASSWORD: &str = "mot-de-passe-solide";
const ADMIN: &str = "maire@paris.fr";
const FIREFOX_ANDROID: &str =
    "Mozilla/5.0 (Android 14; Mobile; rv:130.0) Gecko/130.0 Firefox/130.0";

async fn start(backend: parvis_tests::Backend) -> Result<(TestApp, String)> {
    let app = TestApp::start_configured(backend, 0, |config| {
        config.push_allow_loopback_http = true;
    })
    .await?;
    let paris = app.commune("75056").await?;
    Ok((app, paris))
}

async fn citizen(app: &TestApp, slug: &str, email: &str) -> Result<reqwest::Client> {
    app.account(email, PASSWORD).await?;
    app.signed_in(Some(slug), email, PASSWORD).await
}

/// What the page's script does: a JSON request with the page's CSRF token in a header.
async fn api(
    app: &TestApp,
    client: &reqwest::Client,
    slug: &str,
    method: reqwest::Method,
    body: String,
) -> Result<(u16, Value)> {
    let token = form_token(client, &app.url(Some(slug), "/connexion")).await?;
    let r = client
        .request(
            method,
            app.url(Some(slug), "/notifications/push/abonnement"),
        )
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("x-csrf-token", token)
        .header("user-agent", FIREFOX_ANDROID)
        .body(body)
        .send()
        .await?;
    parvis_tests::json_outcome(r).await
}

async fn subscribe(
    app: &TestApp,
    client: &reqwest::Client,
    slug: &str,
    device: &PushDevice,
) -> Result<String> {
    let (status, json) = api(
        app,
        client,
        slug,
        reqwest::Method::POST,
        device.subscription_json().to_string(),
    )
    .await?;
    anyhow::ensure!(status == 201, "subscribe {}: {status} {json}", device.name);
    assert_eq!(json["appareil"], "Firefox sur Android");
    Ok(json["id"].as_str().context("no id")?.to_string())
}

/// The platform's public key, as the script reads it; the push service will only accept it.
async fn expect_platform_key(app: &TestApp, service: &PushService, slug: &str) -> Result<()> {
    let key: Value = app
        .client()?
        .get(app.url(Some(slug), "/notifications/push/cle"))
        .header("accept", "application/json")
        .send()
        .await?
        .json()
        .await?;
    let key = key["cle"].as_str().context("no key")?;
    assert_eq!(
        key.len(),
        87,
        "an uncompressed P-256 point in base64url: {key}"
    );
    service.expect_key(key)
}

/// The commune's mayor (an admin) publishes `body` in the commune's feed.
/// A push service, an app whose key it expects, and Paris followed by Inès, whose `device`
/// is subscribed to that service.
async fn ines_subscribed(
    backend: parvis_tests::Backend,
    device: &str,
) -> Result<(PushService, TestApp, String)> {
    let service = PushService::start().await?;
    let (app, paris) = start(backend).await?;
    expect_platform_key(&app, &service, &paris).await?;
    let ines = citizen(&app, &paris, "ines@example.org").await?;
    app.follow_commune(&ines, &paris).await?;
    subscribe(&app, &ines, &paris, &service.device(device)?).await?;
    Ok((service, app, paris))
}

/// Waits until the push job has counted one failure for subscription `id` (20 s at most).
async fn one_failure(app: &TestApp, id: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let failures: i64 =
            sqlx::query_scalar("SELECT failures FROM push_subscriptions WHERE id = $1")
                .bind(id)
                .fetch_one(app.state.db.platform())
                .await?;
        if failures == 1 {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "the push job never counted the failure"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn mayor_publishes(app: &TestApp, slug: &str, body: &str) -> Result<()> {
    let maire = app.account(ADMIN, PASSWORD).await?;
    app.grant(&maire, Role::TenantAdmin, Some(slug)).await?;
    let admin = app.signed_in(Some(slug), ADMIN, PASSWORD).await?;
    app.publish(&admin, slug, body).await
}

async fn wait_for_pushes(service: &PushService, n: usize) -> Result<Vec<ReceivedPush>> {
    let started = Instant::now();
    while service.received().len() < n {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "{} push message(s) of {n} after 20 s; refused: {:?}",
            service.received().len(),
            service.refused()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(service.received())
}

/// The cells of a channel's row in the alert's delivery report: sent, failed, pending.
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

async fn endpoints(app: &TestApp) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT endpoint FROM push_subscriptions ORDER BY endpoint")
            .fetch_all(app.state.db.platform())
            .await?,
    )
}

both_backends!(
    an_urgent_alert_is_pushed_and_a_gone_device_is_removed,
    |backend| async move {
        let service = PushService::start().await?;
        let (app, paris) = start(backend).await?;
        app.install_module("parvis-module-alerts").await?;
        app.enable_module(&paris, "alerts").await?;
        expect_platform_key(&app, &service, &paris).await?;

        // Inès follows Paris and subscribes her phone and an old phone the service dropped.
        let ines = citizen(&app, &paris, "ines@example.org").await?;
        app.follow_commune(&ines, &paris).await?;
        let phone = service.device("telephone")?;
        let old = service.device("ancien-telephone")?;
        subscribe(&app, &ines, &paris, &phone).await?;
        subscribe(&app, &ines, &paris, &old).await?;
        service.forget("ancien-telephone")?;

        let maire = app.account(ADMIN, PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let admin = app.signed_in(Some(&paris), ADMIN, PASSWORD).await?;
        let form = app.url(Some(&paris), "/admin/m/alerts/new");
        let token = form_token(&admin, &form).await?;
        let expires = parvis_tests::datetime_local_in(chrono::Duration::days(2));
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
                ("channels", "app"),
                ("channels", "push"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 303, "{}", r.text().await?);
        let detail = r.headers()["location"].to_str()?.to_string();
        let id = detail.rsplit('/').next().unwrap_or_default().to_string();

        // The push service decrypts what the phone would show.
        let received = wait_for_pushes(&service, 1).await?;
        assert_eq!(received.len(), 1, "{received:?}");
        let push = &received[0];
        assert_eq!(push.device, "telephone");
        assert_eq!(push.payload["title"], "Urgence : Crue de la Seine");
        let body = push.payload["body"].as_str().unwrap_or_default();
        assert!(body.contains("Les quais bas sont fermés"), "{body}");
        assert_eq!(
            push.payload["url"],
            app.url(Some(&paris), &format!("/m/alerts/{id}"))
        );
        assert!(push.payload["tag"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(push.urgency.as_deref(), Some("high"));
        assert_eq!(push.ttl, 12 * 3600);
        assert!(push.expires_in <= 12 * 3600, "exp {}", push.expires_in);
        assert_eq!(push.subject, app.state.config.vapid_subject);
        assert!(push.subject.starts_with("mailto:contact@"));

        // The report counts one sent, one failed (gone), nothing pending.
        let started = Instant::now();
        loop {
            let page = admin
                .get(app.url(Some(&paris), &detail))
                .send()
                .await?
                .text()
                .await?;
            let row = report_row(&page, "Push");
            if row.as_deref() == Some(&["1".into(), "1".into(), "0".into()]) {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(20),
                "the report never showed push 1 sent, 1 failed: {row:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The gone device is forgotten; the phone's last success is shown.
        assert_eq!(endpoints(&app).await?, vec![phone.endpoint.clone()]);
        let devices = ines
            .get(app.url(Some(&paris), "/notifications/appareils"))
            .send()
            .await?
            .text()
            .await?;
        assert_eq!(
            devices.matches("Firefox sur Android").count(),
            2,
            "label and hidden button text"
        );
        assert!(!devices.contains("aucune pour l'instant"), "{devices}");
        assert!(service.refused().is_empty(), "{:?}", service.refused());
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_commune_post_is_pushed_to_followers,
    |backend| async move {
        let (service, app, paris) = ines_subscribed(backend, "ordinateur").await?;
        // Someone who does not follow Paris gets nothing.
        let omar = citizen(&app, &paris, "omar@example.org").await?;
        subscribe(&app, &omar, &paris, &service.device("omar")?).await?;

        mayor_publishes(
            &app,
            &paris,
            "La fête de quartier a lieu samedi place de la mairie.",
        )
        .await?;

        // Once every job the post caused has run (its fan-out and each push), the push
        // service has everything it will get.
        app.settle_jobs().await?;
        let received = service.received();
        assert_eq!(received.len(), 1, "{received:?}");
        assert_eq!(received[0].device, "ordinateur");
        assert_eq!(received[0].urgency.as_deref(), Some("normal"));
        let url = received[0].payload["url"].as_str().unwrap_or_default();
        assert!(url.starts_with(&app.url(Some(&paris), "/")), "{url}");
        app.stop().await;
        Ok(())
    }
);

both_backends!(a_busy_push_service_is_retried, |backend| async move {
    let (service, app, paris) = ines_subscribed(backend, "tablette").await?;
    service.busy("tablette", 2)?;

    mayor_publishes(&app, &paris, "Conseil municipal jeudi à 19 h.").await?;
    // Two 503 answers, retried after 1 s then 2 s, then delivered.
    let started = Instant::now();
    let received = wait_for_pushes(&service, 1).await?;
    assert_eq!(received[0].device, "tablette");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "retried too soon"
    );
    let failures: i64 = sqlx::query_scalar("SELECT failures FROM push_subscriptions")
        .fetch_one(app.state.db.platform())
        .await?;
    assert_eq!(failures, 0);
    app.stop().await;
    Ok(())
});

both_backends!(
    the_vapid_key_is_generated_once_and_kept,
    |backend| async move {
        use parvis_core::notifications::push::vapid;
        let (app, paris) = start(backend).await?;
        let published: Value = app
            .client()?
            .get(app.url(Some(&paris), "/notifications/push/cle"))
            .send()
            .await?
            .json()
            .await?;
        // Another server process on the same database reads the same key.
        let again = vapid::load_or_create(&app.state.db, &app.state.config).await?;
        assert_eq!(published["cle"], again.public_key());
        let rows: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM platform_keys WHERE name = 'vapid-private-key'",
        )
        .fetch_one(app.state.db.platform())
        .await?;
        assert_eq!(rows, 1);
        // A configured key wins over the stored one.
        let mut config = (*app.state.config).clone();
        config.vapid_private_key = Some("RS0WdYWWo1HajXg3NZR1olzCf31i-ZBGDkFyCs7j1jw".into());
        let configured = vapid::load_or_create(&app.state.db, &config).await?;
        assert_ne!(configured.public_key(), again.public_key());
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    the_subscription_api_refuses_bad_input_in_french_json,
    |backend| async move {
        let service = PushService::start().await?;
        let (app, paris) = start(backend).await?;
        let alice = citizen(&app, &paris, "alice@example.org").await?;
        let bob = citizen(&app, &paris, "bob@example.org").await?;
        let device = service.device("alice")?;
        let keys = device.subscription_json()["keys"].clone();
        let post = |client, body: String| api(&app, client, &paris, reqwest::Method::POST, body);

        let refused = |(status, json): (u16, Value), code: &str, words: &str| {
            assert_eq!(json["error"]["code"], code, "{status} {json}");
            let message = json["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(words), "{message}");
            status
        };
        let (status, json) = post(&alice, "{pas du json".into()).await?;
        assert_eq!(refused((status, json), "bad_request", "JSON valide"), 400);
        let incomplete = serde_json::json!({"endpoint": device.endpoint}).to_string();
        assert_eq!(
            refused(post(&alice, incomplete).await?, "bad_request", "incomplet"),
            400
        );
        let plain_http =
            serde_json::json!({"endpoint": "http://push.example.org/abc", "keys": keys})
                .to_string();
        assert_eq!(
            refused(post(&alice, plain_http).await?, "bad_request", "https://"),
            400
        );
        let long = serde_json::json!({
            "endpoint": format!("https://push.example.org/{}", "a".repeat(2000)),
            "keys": keys,
        })
        .to_string();
        assert_eq!(
            refused(post(&alice, long).await?, "bad_request", "https://"),
            400
        );
        let bad_key = serde_json::json!({"endpoint": device.endpoint,
            "keys": {"p256dh": "AAAA", "auth": keys["auth"]}})
        .to_string();
        assert_eq!(
            refused(post(&alice, bad_key).await?, "bad_request", "p256dh"),
            400
        );
        let huge = serde_json::json!({"endpoint": device.endpoint, "keys": keys,
            "remplissage": "x".repeat(20_000)})
        .to_string();
        assert_eq!(
            refused(post(&alice, huge).await?, "payload_too_large", "volumineux"),
            413
        );

        // Twenty devices at most per account (each notification goes to all of them).
        for n in 0..20 {
            subscribe(&app, &bob, &paris, &service.device(&format!("bob-{n}"))?).await?;
        }
        let one_more = service.device("bob-20")?.subscription_json().to_string();
        assert_eq!(
            refused(post(&bob, one_more).await?, "conflict", "20 appareils"),
            409
        );
        sqlx::query("DELETE FROM push_subscriptions")
            .execute(app.state.db.platform())
            .await?;

        // Without a session: 401 in JSON (the script shows the message), not a login page.
        let anonymous = app.client()?;
        let (status, json) = post(&anonymous, device.subscription_json().to_string()).await?;
        assert_eq!(status, 401);
        assert_eq!(json["error"]["code"], "unauthenticated");
        assert!(endpoints(&app).await?.is_empty());

        // Alice's device is hers: Bob can remove it neither by endpoint nor by id.
        let id = subscribe(&app, &alice, &paris, &device).await?;
        let by_endpoint = serde_json::json!({"endpoint": device.endpoint}).to_string();
        let (status, json) = api(
            &app,
            &bob,
            &paris,
            reqwest::Method::DELETE,
            by_endpoint.clone(),
        )
        .await?;
        assert_eq!(status, 404, "{json}");
        assert_eq!(json["error"]["code"], "not_found");
        let remove = app.url(
            Some(&paris),
            &format!("/notifications/appareils/{id}/supprimer"),
        );
        let token = form_token(&bob, &app.url(Some(&paris), "/notifications/appareils")).await?;
        let r = bob
            .post(&remove)
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        assert_eq!(endpoints(&app).await?, vec![device.endpoint.clone()]);

        // Alice removes it from her device list; then unsubscribing again finds nothing.
        let token = form_token(&alice, &app.url(Some(&paris), "/notifications/appareils")).await?;
        let r = alice
            .post(&remove)
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        assert!(endpoints(&app).await?.is_empty());
        subscribe(&app, &alice, &paris, &device).await?;
        let (status, _) = api(
            &app,
            &alice,
            &paris,
            reqwest::Method::DELETE,
            by_endpoint.clone(),
        )
        .await?;
        assert_eq!(status, 204);
        assert!(endpoints(&app).await?.is_empty());
        app.stop().await;
        Ok(())
    }
);

both_backends!(the_scripts_are_served_as_javascript, |backend| async move {
    let (app, paris) = start(backend).await?;
    let client = app.client()?;
    let r = client.get(app.url(Some(&paris), "/sw.js")).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(r.headers()["service-worker-allowed"], "/");
    assert!(r.text().await?.contains("showNotification"));
    let r = client
        .get(app.url(Some(&paris), "/static/push.js"))
        .send()
        .await?;
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(r.text().await?.contains("pushManager.subscribe"));

    // The notification page loads the script from the site, with no inline script (beside
    // the one every page loads to register the service worker, for the offline page).
    let ines = citizen(&app, &paris, "ines@example.org").await?;
    let page = ines
        .get(app.url(Some(&paris), "/notifications"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(
        parvis_tests::html::attrs(&page, "script", "src")?,
        vec!["/static/app.js", "/static/push.js"]
    );
    assert_eq!(page.matches("<script").count(), 2, "no inline script");
    assert!(page.contains("Recevoir les notifications sur cet appareil"));
    assert!(page.contains("Ne plus les recevoir ici"));
    app.stop().await;
    Ok(())
});

both_backends!(
    push_devices_are_exported_and_deleted_with_the_account,
    |backend| async move {
        let service = PushService::start().await?;
        let (app, paris) = start(backend).await?;
        let zoe = citizen(&app, &paris, "zoe@example.org").await?;
        let device = service.device("zoe")?;
        subscribe(&app, &zoe, &paris, &device).await?;
        let data: Value = zoe
            .get(app.url(Some(&paris), "/mon-compte/donnees.json"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            data["push_devices"][0]["endpoint"],
            device.endpoint.as_str()
        );
        assert_eq!(data["push_devices"][0]["device"], "Firefox sur Android");

        let token = form_token(&zoe, &app.url(Some(&paris), "/mon-compte")).await?;
        let r = zoe
            .post(app.url(Some(&paris), "/mon-compte/supprimer"))
            .form(&[("csrf_token", token.as_str()), ("password", PASSWORD)])
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert!(r.text().await?.contains("Compte supprimé"));
        assert!(endpoints(&app).await?.is_empty());
        app.stop().await;
        Ok(())
    }
);

async fn owner_of(app: &TestApp, endpoint: &str) -> Result<String> {
    Ok(sqlx::query_scalar(
        "SELECT a.email FROM push_subscriptions p JOIN accounts a ON a.id = p.account_id \
         WHERE p.endpoint = $1",
    )
    .bind(endpoint)
    .fetch_one(app.state.db.platform())
    .await?)
}

// Issue 13, defect 10: posting another account's endpoint with one's own keys moved the
// device. The endpoint is the browser's secret: only the same subscription (same keys, as a
// browser re-subscribing after a change of user sends) moves it.
both_backends!(
    a_device_is_not_taken_over_by_posting_its_endpoint,
    |backend| async move {
        let service = PushService::start().await?;
        let (app, paris) = start(backend).await?;
        let alice = citizen(&app, &paris, "alice@example.org").await?;
        let bob = citizen(&app, &paris, "bob@example.org").await?;
        let phone = service.device("alice-phone")?;
        subscribe(&app, &alice, &paris, &phone).await?;

        // Bob posts Alice's endpoint with keys of his own: refused, the device stays hers.
        let mut forged = service.device("bob-keys")?.subscription_json();
        forged["endpoint"] = serde_json::json!(phone.endpoint);
        let (status, json) = api(
            &app,
            &bob,
            &paris,
            reqwest::Method::POST,
            forged.to_string(),
        )
        .await?;
        assert_eq!(status, 409, "{json}");
        assert_eq!(json["error"]["code"], "conflict");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("autre compte"),
            "{json}"
        );
        assert_eq!(owner_of(&app, &phone.endpoint).await?, "alice@example.org");
        let stored: String =
            sqlx::query_scalar("SELECT p256dh FROM push_subscriptions WHERE endpoint = $1")
                .bind(&phone.endpoint)
                .fetch_one(app.state.db.platform())
                .await?;
        assert_eq!(
            stored,
            phone.subscription_json()["keys"]["p256dh"]
                .as_str()
                .unwrap_or_default(),
            "Alice's keys are kept"
        );

        // The same browser, now signed into Bob's account, re-subscribes with the same
        // subscription (same endpoint, same keys): the device is his from now on.
        subscribe(&app, &bob, &paris, &phone).await?;
        assert_eq!(owner_of(&app, &phone.endpoint).await?, "bob@example.org");
        let devices = alice
            .get(app.url(Some(&paris), "/notifications/appareils"))
            .send()
            .await?
            .text()
            .await?;
        assert!(!devices.contains("Firefox sur Android"), "{devices}");
        app.stop().await;
        Ok(())
    }
);

// Issue 13, defect 12: endpoints naming internal hosts were accepted. Only HTTPS on port 443
// to a name that resolves to public addresses is; the refusals are clear French JSON.
both_backends!(
    push_endpoints_naming_internal_hosts_are_refused,
    |backend| async move {
        let service = PushService::start().await?;
        let (app, paris) = start(backend).await?;
        let alice = citizen(&app, &paris, "alice@example.org").await?;
        let keys = service.device("alice")?.subscription_json()["keys"].clone();
        for (endpoint, words) in [
            ("https://redis.internal.corp:6379/x", "port 443"),
            ("https://push.example.org:8443/x", "port 443"),
            ("https://localhost./x", "https://"),
            ("https://localhost/x", "https://"),
            ("https://api.localhost/x", "https://"),
            ("https://10.0.0.1/x", "https://"),
            ("https://[fd00::1]/x", "https://"),
            ("https://169.254.169.254/latest/meta-data", "https://"),
            // Does not resolve (as an internal name seen from outside): not a public service.
            ("https://redis.internal.corp/x", "service public"),
            ("https://push.invalid./x", "service public"),
        ] {
            let body = serde_json::json!({"endpoint": endpoint, "keys": keys}).to_string();
            let (status, json) = api(&app, &alice, &paris, reqwest::Method::POST, body).await?;
            assert_eq!(status, 400, "{endpoint}: {json}");
            assert_eq!(json["error"]["code"], "bad_request", "{endpoint}");
            let message = json["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(words), "{endpoint}: {message}");
        }
        assert!(endpoints(&app).await?.is_empty());
        app.stop().await;
        Ok(())
    }
);

// Issue 13, defect 12, at send time: a device stored before the rules (or whose name now
// resolves elsewhere) pointing at an internal address gets no request from the platform.
both_backends!(
    nothing_is_sent_to_a_stored_internal_endpoint,
    |backend| async move {
        let service = PushService::start().await?;
        // Production rules: no loopback exception.
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        expect_platform_key(&app, &service, &paris).await?;
        let ines = citizen(&app, &paris, "ines@example.org").await?;
        app.follow_commune(&ines, &paris).await?;
        let device = service.device("interne")?;
        let json = device.subscription_json();
        let ines_id: String =
            sqlx::query_scalar("SELECT id FROM accounts WHERE email = 'ines@example.org'")
                .fetch_one(app.state.db.platform())
                .await?;
        sqlx::query(
            "INSERT INTO push_subscriptions (id, account_id, endpoint, p256dh, auth, user_agent, created_at) \
             VALUES ('ancien', $1, $2, $3, $4, 'Navigateur', 0)",
        )
        .bind(&ines_id)
        .bind(&device.endpoint)
        .bind(json["keys"]["p256dh"].as_str().unwrap_or_default())
        .bind(json["keys"]["auth"].as_str().unwrap_or_default())
        .execute(app.state.db.platform())
        .await?;

        mayor_publishes(&app, &paris, "Conseil municipal jeudi à 19 h.").await?;
        one_failure(&app, "ancien").await?;
        assert!(service.received().is_empty(), "{:?}", service.received());
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_push_service_answering_without_end_is_read_no_further_than_a_bound,
    |backend| async move {
        // A browser names its push service: the endpoint can be anyone's server. This one
        // refuses the message with a body that never ends; the platform logs its start and
        // counts the failure, and reads no more of it (read whole, it would run for the
        // client's 15 s timeout).
        let (service, app, paris) = ines_subscribed(backend, "bavard").await?;
        service.chatty("bavard")?;

        mayor_publishes(&app, &paris, "Conseil municipal jeudi à 19 h.").await?;
        let id: String = sqlx::query_scalar("SELECT id FROM push_subscriptions")
            .fetch_one(app.state.db.platform())
            .await?;
        one_failure(&app, &id).await?;
        // Give the service a moment to see the connection closed, then nothing more is sent.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let produced = service.produced();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(service.produced(), produced, "the connection is closed");
        assert!(produced < 16 << 20, "{produced} bytes produced");
        app.stop().await;
        Ok(())
    }
);
