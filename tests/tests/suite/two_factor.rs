//! Two-factor authentication (issue 20) through the real router, on both backends: a citizen
//! turns it on (a QR code and its key, a wrong code refused, ten recovery codes shown once);
//! the password then opens no session but asks for the code; a code is accepted once (the one
//! used at enrolment, replayed within its window, is refused), a recovery code once; five
//! wrong codes end the attempt (429) and the password is asked again; turning it off needs
//! the password; a platform administrator without it is sent to turn it on before the
//! platform's back-office opens.

use anyhow::{Context as _, Result};
use parvis_core::accounts::totp::code_at;
use parvis_core::authz::Role;
use parvis_tests::forms::{location, post};
use parvis_tests::{TestApp, both_backends, form_token, html};

const PASSWORD: &str = "mot-de-passe-solide";

fn step_now() -> Result<i64> {
    Ok(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )? / 30)
}

/// Signs in with the password only: the answer (a redirect to the code's form, or a session).
async fn password_step(
    app: &TestApp,
    slug: &str,
    email: &str,
) -> Result<(reqwest::Client, reqwest::Response)> {
    let client = app.client()?;
    let token = form_token(&client, &app.url(Some(slug), "/connexion")).await?;
    let r = client
        .post(app.url(Some(slug), "/connexion"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", PASSWORD),
            ("next", "/services"),
        ])
        .send()
        .await?;
    Ok((client, r))
}

/// Posts `fields` to `action` with the CSRF token of the page `from` (where the form is).
async fn submit(
    client: &reqwest::Client,
    from: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> Result<reqwest::Response> {
    let token = form_token(client, from).await?;
    let mut body = vec![("csrf_token", token.as_str())];
    body.extend_from_slice(fields);
    Ok(client.post(action).form(&body).send().await?)
}

async fn signed_in(client: &reqwest::Client, url: &str) -> Result<bool> {
    let page = client.get(url).send().await?.text().await?;
    Ok(html::text(&page).contains("Se déconnecter"))
}

async fn send_code(
    app: &TestApp,
    slug: &str,
    client: &reqwest::Client,
    code: &str,
) -> Result<reqwest::Response> {
    post(
        client,
        &app.url(Some(slug), "/connexion/code"),
        &[("code", code)],
    )
    .await
}

both_backends!(
    a_second_factor_guards_the_account_and_each_code_opens_once,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        app.account("alice@example.org", PASSWORD).await?;
        let alice = app
            .signed_in(Some(&paris), "alice@example.org", PASSWORD)
            .await?;
        let security = app.url(Some(&paris), "/mon-compte/securite");

        // Enrolment: a QR code and the key, a wrong code refused, then on.
        let r = submit(
            &alice,
            &security,
            &app.url(Some(&paris), "/mon-compte/securite/activer"),
            &[],
        )
        .await?;
        assert_eq!(r.status(), 303);
        let page = alice.get(&security).send().await?.text().await?;
        assert!(page.contains("<svg"), "a QR code: {page}");
        let secret: String = html::texts(&page, "code.secret")?
            .first()
            .context("the key")?
            .split_whitespace()
            .collect();
        assert_eq!(secret.len(), 32, "{secret}");
        let confirm = app.url(Some(&paris), "/mon-compte/securite/confirmer");
        let r = submit(&alice, &security, &confirm, &[("code", "000000")]).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Ce code ne correspond pas"));
        let step = step_now()?;
        let now_code = code_at(&secret, step).context("a code")?;
        let r = submit(&alice, &security, &confirm, &[("code", &now_code)]).await?;
        assert_eq!(r.status(), 200);
        let page = r.text().await?;
        let recovery = html::texts(&page, "ul.recovery code")?;
        assert_eq!(recovery.len(), 10, "{page}");
        assert!(html::text(&page).contains("La double authentification est activée."));

        // The password alone opens no session.
        let (second, r) = password_step(&app, &paris, "alice@example.org").await?;
        let status = r.status();
        let body = if status == 303 {
            String::new()
        } else {
            r.text().await?
        };
        assert_eq!(status, 303, "{body}");
        assert!(!signed_in(&second, &app.url(Some(&paris), "/")).await?);
        // The enrolment's code, replayed within its window: refused. The next one: in.
        let r = send_code(&app, &paris, &second, &now_code).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Code incorrect, ou déjà utilisé"));
        let next_code = code_at(&secret, step + 1).context("a code")?;
        let r = send_code(&app, &paris, &second, &next_code).await?;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/services");
        assert!(signed_in(&second, &app.url(Some(&paris), "/")).await?);
        // Signed in on every commune, as with a password alone.
        let lyon = app.commune("69123").await?;
        assert!(signed_in(&second, &app.url(Some(&lyon), "/")).await?);

        // That code again: refused; a recovery code: in, once.
        let (third, _) = password_step(&app, &paris, "alice@example.org").await?;
        assert_eq!(
            send_code(&app, &paris, &third, &next_code).await?.status(),
            422
        );
        let r = send_code(&app, &paris, &third, &recovery[0].to_uppercase()).await?;
        assert_eq!(r.status(), 303, "a recovery code, typed in capitals");
        assert!(signed_in(&third, &app.url(Some(&paris), "/")).await?);
        let page = third.get(&security).send().await?.text().await?;
        assert!(
            html::text(&page).contains("Codes de secours restants\u{a0}: 9"),
            "{page}"
        );

        // Five wrong codes end the attempt: the password again.
        let (fourth, _) = password_step(&app, &paris, "alice@example.org").await?;
        let r = send_code(&app, &paris, &fourth, &recovery[0]).await?;
        assert_eq!(r.status(), 422, "a recovery code is used once");
        for wrong in ["111111", "222222", "333333", "444444"] {
            assert_eq!(send_code(&app, &paris, &fourth, wrong).await?.status(), 422);
        }
        let r = send_code(&app, &paris, &fourth, "555555").await?;
        assert_eq!(r.status(), 429);
        assert!(html::text(&r.text().await?).contains("Trop d'essais"));
        let r = send_code(&app, &paris, &fourth, &recovery[1]).await?;
        assert_eq!(r.status(), 401);
        assert!(!signed_in(&fourth, &app.url(Some(&paris), "/")).await?);

        // Turning it off needs the password.
        let r = submit(
            &third,
            &security,
            &app.url(Some(&paris), "/mon-compte/securite/desactiver"),
            &[("password", "pas le bon"), ("code", &recovery[2])],
        )
        .await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("reste activée"));

        // A platform administrator without it: sent to turn it on first.
        let bob = app.account("bob@example.org", PASSWORD).await?;
        app.grant(&bob, Role::PlatformAdmin, None).await?;
        let admin = app.signed_in(None, "bob@example.org", PASSWORD).await?;
        let r = admin.get(app.url(None, "/admin")).send().await?;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/mon-compte/securite?requis=1");
        let page = admin
            .get(app.url(None, "/mon-compte/securite?requis=1"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            html::text(&page)
                .contains("L'administration de la plateforme demande la double authentification")
        );
        Ok(())
    }
);
