//! Running behind a reverse proxy (issue 16, « never tested »): with `PARVIS_TRUST_PROXY`,
//! the client is the last entry of `X-Forwarded-For` (what the proxy wrote, not what the
//! client did), an IPv6 client counted by its /64; without it, the header is ignored. With
//! `PARVIS_HTTPS`, cookies are `Secure` and links start with `https://`. What the address is
//! used for here is the per-address budget of the sign-in forms (20 a minute): its refusal is
//! the event each check waits for, so no check depends on how fast the requests go.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result};
use parvis_tests::{TestApp, both_backends, form_token};

use parvis_tests::html::{attrs, texts};

/// Each reset request names a new address, so only the per-client budget can refuse it.
static ADDRESS: AtomicUsize = AtomicUsize::new(0);

/// Asks for a password reset as the client `forwarded_for` says (the header a proxy adds);
/// the status.
async fn ask_reset(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    forwarded_for: Option<&str>,
) -> Result<u16> {
    let email = format!(
        "personne{}@example.org",
        ADDRESS.fetch_add(1, Ordering::Relaxed)
    );
    let mut request = client
        .post(app.url(None, "/mot-de-passe-oublie"))
        .form(&[("csrf_token", token), ("email", email.as_str())]);
    if let Some(header) = forwarded_for {
        request = request.header("x-forwarded-for", header);
    }
    let r = request.send().await?;
    let status = r.status().as_u16();
    if status == 429 {
        let page = r.text().await?;
        assert!(
            texts(&page, "main p")?
                .iter()
                .any(|p| p == "Trop de tentatives. Réessayez dans une minute."),
            "{page}"
        );
    }
    Ok(status)
}

/// Sends reset requests, the `i`th with `forwarded_for(i)`, until one is refused for its
/// client's budget; how many were accepted before. Fails if none is refused in 60.
async fn accepted_until_refused(
    app: &TestApp,
    client: &reqwest::Client,
    forwarded_for: impl Fn(usize) -> String,
) -> Result<usize> {
    let token = form_token(client, &app.url(None, "/mot-de-passe-oublie")).await?;
    for i in 0..60 {
        match ask_reset(app, client, &token, Some(&forwarded_for(i))).await? {
            200 => {}
            429 => return Ok(i),
            other => anyhow::bail!("request {i}: status {other}"),
        }
    }
    anyhow::bail!("60 requests and none refused: they were not counted as one client")
}

both_backends!(
    behind_a_trusted_proxy_the_client_is_the_last_forwarded_address,
    |backend| async move {
        let app = TestApp::start_configured(backend, 0, |c| c.trust_proxy = true).await?;
        let client = app.client()?;
        let token = form_token(&client, &app.url(None, "/mot-de-passe-oublie")).await?;
        // Each request starts the header with another address (a client can write anything
        // there); the proxy's entry, the last, is one client: its budget runs out.
        let accepted =
            accepted_until_refused(&app, &client, |i| format!("198.51.100.{i}, 203.0.113.7"))
                .await?;
        assert!(accepted >= 20, "the budget is 20 a minute: {accepted}");
        // Another client behind the same proxy, and the proxy itself, still have theirs.
        assert_eq!(
            ask_reset(&app, &client, &token, Some("203.0.113.7, 203.0.113.8")).await?,
            200
        );
        assert_eq!(ask_reset(&app, &client, &token, None).await?, 200);
        // An IPv6 client is its /64: other addresses of that network share its budget.
        accepted_until_refused(&app, &client, |i| format!("2001:db8:1:2::{:x}", i + 1)).await?;
        assert_eq!(
            ask_reset(&app, &client, &token, Some("2001:db8:1:3::1")).await?,
            200
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    without_a_trusted_proxy_forwarded_addresses_are_ignored,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        assert!(!app.state.config.trust_proxy, "off by default");
        let client = app.client()?;
        // Every request claims another client: all are the one connection's, and refused.
        let accepted = accepted_until_refused(&app, &client, |i| format!("203.0.113.{i}")).await?;
        assert!(accepted >= 20, "{accepted}");
        app.stop().await;
        Ok(())
    }
);

/// The attributes of the `name` cookie a response sets (lowercased, without its value).
fn cookie_attributes(r: &reqwest::Response, name: &str) -> Result<(String, Vec<String>)> {
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .with_context(|| format!("no {name} cookie set"))?;
    let mut parts = set.split(';').map(str::trim);
    let pair = parts.next().unwrap_or_default().to_string();
    Ok((pair, parts.map(|p| p.to_ascii_lowercase()).collect()))
}

/// Signs in on the apex with a client that has no cookie jar (the test carries the cookies,
/// as a browser would over HTTPS): the CSRF and session cookies' attributes, and the session
/// cookie itself.
async fn sign_in_by_hand(app: &TestApp) -> Result<(Vec<String>, Vec<String>, String)> {
    let client = app.bare_client()?;
    let r = client.get(app.url(None, "/connexion")).send().await?;
    let (csrf_cookie, csrf_attributes) = cookie_attributes(&r, "parvis_csrf")?;
    let page = r.text().await?;
    let token = parvis_tests::csrf(&page).context("no token")?;
    let r = client
        .post(app.url(None, "/connexion"))
        .header("cookie", &csrf_cookie)
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "alice@example.org"),
            ("password", "une phrase de passe"),
        ])
        .send()
        .await?;
    anyhow::ensure!(r.status() == 303, "login: {}", r.status());
    let (session, session_attributes) = cookie_attributes(&r, "parvis_session")?;
    Ok((csrf_attributes, session_attributes, session))
}

both_backends!(
    over_https_cookies_are_secure_and_links_say_https,
    |backend| async move {
        // What a proxy terminating TLS on 443 needs: PARVIS_HTTPS (the public port follows).
        let app = TestApp::start_configured(backend, 0, |c| {
            c.https = true;
            c.public_port = 443;
        })
        .await?;
        let lyon = app.commune("69123").await?;
        app.account("alice@example.org", "une phrase de passe")
            .await?;
        let (csrf, session, cookie) = sign_in_by_hand(&app).await?;
        for (name, attributes) in [("parvis_csrf", &csrf), ("parvis_session", &session)] {
            for wanted in ["secure", "httponly", "samesite=lax"] {
                assert!(
                    attributes.iter().any(|a| a == wanted),
                    "{name}: {attributes:?}"
                );
            }
        }
        let home = app
            .bare_client()?
            .get(app.url(None, "/"))
            .header("cookie", &cookie)
            .send()
            .await?
            .text()
            .await?;
        assert_eq!(texts(&home, "header a.who")?.len(), 1, "signed in: {home}");
        // Links between sites name the public origin: https, no port.
        let page = app.anonymous_page(app.url(Some(&lyon), "/")).await?;
        assert!(
            attrs(&page, "footer a", "href")?.contains(&"https://parvis.test/a-propos".to_string()),
            "{page}"
        );
        let page = app.anonymous_page(app.url(None, "/?q=lyon")).await?;
        assert!(
            attrs(&page, "a", "href")?.contains(&"https://lyon.parvis.test/".to_string()),
            "{page}"
        );
        app.stop().await;

        // The same over plain HTTP: no `Secure` (a browser would drop the cookies), links in
        // http with the listening port.
        let app = TestApp::start(backend).await?;
        app.account("alice@example.org", "une phrase de passe")
            .await?;
        let (csrf, session, _) = sign_in_by_hand(&app).await?;
        assert!(
            !csrf.iter().chain(&session).any(|a| a == "secure"),
            "{csrf:?} {session:?}"
        );
        let page = app.anonymous_page(app.url(None, "/")).await?;
        assert!(
            attrs(&page, "footer a", "href")?.contains(&app.url(None, "/a-propos")),
            "{page}"
        );
        app.stop().await;
        Ok(())
    }
);
