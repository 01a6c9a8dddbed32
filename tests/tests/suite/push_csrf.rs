//! The JSON push subscription API is a cross-site write like any form (issue 16: every test
//! sent the `X-CSRF-Token` header, so none showed it was needed): without the page's token in
//! that header, or with another one, subscribing and unsubscribing are refused in French JSON
//! and change nothing; with it, both are done.

use anyhow::Result;
use parvis_tests::{PushService, TestApp, both_backends, form_token};
use serde_json::{Value, json};

const PASSWORD: &str = "mot-de-passe-solide";

/// The devices listed on the account's devices page.
async fn devices(app: &TestApp, client: &reqwest::Client, slug: &str) -> Result<usize> {
    let page = client
        .get(app.url(Some(slug), "/notifications/appareils"))
        .send()
        .await?
        .text()
        .await?;
    if page.contains("Aucun appareil ne reçoit vos notifications.") {
        return Ok(0);
    }
    Ok(parvis_tests::html::table_rows(&page, "table")?.len())
}

/// What the page's script sends, with `token` in `X-CSRF-Token` (none: no header).
async fn call(
    app: &TestApp,
    client: &reqwest::Client,
    slug: &str,
    method: reqwest::Method,
    body: &Value,
    token: Option<&str>,
) -> Result<(u16, Value)> {
    let mut request = client
        .request(
            method,
            app.url(Some(slug), "/notifications/push/abonnement"),
        )
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("x-csrf-token", token);
    }
    let r = request.send().await?;
    parvis_tests::json_outcome(r).await
}

/// The refusal of a request without the page's token.
#[track_caller]
fn refused(answer: &(u16, Value)) {
    assert_eq!(answer.0, 403, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], "forbidden", "{}", answer.1);
    assert_eq!(
        answer.1["error"]["message"],
        "Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page et réessayez.",
    );
}

both_backends!(
    the_push_api_needs_the_pages_csrf_token,
    |backend| async move {
        let app =
            TestApp::start_configured(backend, 0, |c| c.push_allow_loopback_http = true).await?;
        let paris = app.commune("75056").await?;
        let service = PushService::start().await?;
        let device = service.device("telephone")?;
        app.account("alice@example.org", PASSWORD).await?;
        let alice = app
            .signed_in(Some(&paris), "alice@example.org", PASSWORD)
            .await?;
        let token = form_token(&alice, &app.url(Some(&paris), "/notifications")).await?;
        let subscription = device.subscription_json();
        let post = reqwest::Method::POST;

        refused(&call(&app, &alice, &paris, post.clone(), &subscription, None).await?);
        let forged = "x".repeat(token.len());
        refused(
            &call(
                &app,
                &alice,
                &paris,
                post.clone(),
                &subscription,
                Some(&forged),
            )
            .await?,
        );
        assert_eq!(
            devices(&app, &alice, &paris).await?,
            0,
            "nothing subscribed"
        );

        let (status, answer) =
            call(&app, &alice, &paris, post, &subscription, Some(&token)).await?;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(devices(&app, &alice, &paris).await?, 1);

        let endpoint = json!({ "endpoint": device.endpoint });
        let delete = reqwest::Method::DELETE;
        refused(&call(&app, &alice, &paris, delete.clone(), &endpoint, None).await?);
        assert_eq!(devices(&app, &alice, &paris).await?, 1, "still subscribed");
        let (status, answer) = call(&app, &alice, &paris, delete, &endpoint, Some(&token)).await?;
        assert_eq!(status, 204, "{answer}");
        assert_eq!(devices(&app, &alice, &paris).await?, 0);
        app.stop().await;
        Ok(())
    }
);
