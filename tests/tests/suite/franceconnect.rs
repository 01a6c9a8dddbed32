//! FranceConnect (issue 20) through the real router, on both backends, against a real OpenID
//! Connect provider process configured as FranceConnect (`tests/oidc`): a citizen signs in
//! from a commune's page and lands back on it with an account made from the identity; the
//! account page shows the identity but never the birth date; signing out ends FranceConnect's
//! session too. What must open no session: a replayed `state`, a callback in another browser,
//! an ID token altered after signing, a token made for another `nonce`, an expired code, an
//! error from the provider, a provider that is down (e-mail sign-in still works). An address
//! that has an account is never linked by itself: its owner links FranceConnect, signed in,
//! and unlinks it. An official whose identity matches the national registry (names and birth
//! date) holds their profile at once, recorded for the admins; a mismatch waits for them.

use anyhow::{Context as _, Result};
use parvis_tests::franceconnect::{Provider, follow, location, log_in_at_provider};
use parvis_tests::{Backend, TestApp, both_backends, form_token, html};

const PASSWORD: &str = "mot-de-passe-solide";

/// Whether `client` is signed in on the page at `url`.
async fn signed_in(client: &reqwest::Client, url: &str) -> Result<bool> {
    Ok(page_text(client, url).await?.contains("Se déconnecter"))
}

/// How many rows `table` holds (platform tables: accounts' own).
async fn rows(app: &TestApp, table: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.platform())
        .await?)
}

/// The text of the page at `url` as `client` sees it.
async fn page_text(client: &reqwest::Client, url: &str) -> Result<String> {
    Ok(html::text(&client.get(url).send().await?.text().await?))
}

/// Whether an answer opens a session (sets the session cookie to a value).
fn opens_session(r: &reqwest::Response) -> bool {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with("parvis_session=") && !c.starts_with("parvis_session=;"))
}

/// The button's way from a commune's page to the provider's login page, then the provider's
/// back to the platform: the callback URL, unopened.
async fn to_callback(
    app: &TestApp,
    client: &reqwest::Client,
    slug: &str,
    suite: &str,
    login: &str,
) -> Result<String> {
    let start = app.url(
        Some(slug),
        &format!("/franceconnect/connexion?suite={suite}"),
    );
    log_in_at_provider(client, &start, login).await
}

/// Opens the callback: its status, its text, whether it opened a session, and where it sends.
async fn open(client: &reqwest::Client, callback: &str) -> Result<(u16, String, bool, String)> {
    let r = client.get(callback).send().await?;
    let status = r.status().as_u16();
    let session = opens_session(&r);
    let to = if r.status().is_redirection() {
        location(callback, &r)?
    } else {
        String::new()
    };
    Ok((status, html::text(&r.text().await?), session, to))
}

/// The URL `url` with its query parameter `name` set to `value`.
/// A visitor starting a sign-in from `commune`'s page is told FranceConnect does not answer.
async fn told_franceconnect_is_down(app: &TestApp, commune: &str) -> Result<()> {
    let c = app.client()?;
    let (_, answer) = follow(
        &c,
        &app.url(Some(commune), "/franceconnect/connexion"),
        |_| false,
    )
    .await?;
    let answer = answer.context("an answer")?;
    assert_eq!(answer.status(), 503);
    assert!(html::text(&answer.text().await?).contains("FranceConnect ne répond pas"));
    Ok(())
}

fn with_param(url: &str, name: &str, value: &str) -> Result<String> {
    let mut u = reqwest::Url::parse(url)?;
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(name, value);
    Ok(u.to_string())
}

both_backends!(
    a_citizen_signs_in_with_franceconnect_and_nothing_else_opens_a_session,
    |backend| async move {
        let (app, provider) = Provider::app(backend).await?;
        let paris = app.commune("75056").await?;

        // The button is on the sign-in page.
        let visitor = app.client()?;
        let login_page = visitor
            .get(app.url(Some(&paris), "/connexion"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            login_page.contains("S'identifier avec")
                && login_page.contains("href=\"/franceconnect/connexion?suite=%2F\""),
            "{login_page}"
        );

        // Signed in from Paris's page: back on it, with an account made from the identity.
        let marie = app.client()?;
        let callback = to_callback(&app, &marie, &paris, "/elus", "marie").await?;
        assert!(
            callback.starts_with(&app.url(None, "/franceconnect/retour?")),
            "one callback, on the platform's site: {callback}"
        );
        let (status, text, session, to) = open(&marie, &callback).await?;
        assert_eq!(status, 303, "{text}");
        assert!(session, "a session is opened");
        assert_eq!(to, app.url(Some(&paris), "/elus"));
        assert!(signed_in(&marie, &app.url(Some(&paris), "/")).await?);
        let lyon = app.commune("69123").await?;
        assert!(
            signed_in(&marie, &app.url(Some(&lyon), "/")).await?,
            "signed in on every commune"
        );
        let account = marie
            .get(app.url(Some(&paris), "/mon-compte"))
            .send()
            .await?
            .text()
            .await?;
        let account_text = html::text(&account);
        assert!(account_text.contains("Marie Dupont"), "{account_text}");
        assert!(account_text.contains("marie.dupont@example.fr"));
        assert!(
            account_text.contains("Marie Jeanne DUPONT"),
            "the identity linked: {account_text}"
        );
        assert!(
            !account.contains("1962") && !account.contains("14/05"),
            "the birth date is shown to no one"
        );
        // Without a password, the account cannot unlink FranceConnect (it could not sign in).
        let token = form_token(&marie, &app.url(Some(&paris), "/mon-compte")).await?;
        let r = marie
            .post(app.url(Some(&paris), "/mon-compte/franceconnect/delier"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 409);
        assert!(html::text(&r.text().await?).contains("Choisissez d'abord un mot de passe"));

        // The same browser again: FranceConnect's session signs the person straight back, the
        // same account (no second account made).
        let callback = to_callback(&app, &marie, &paris, "/", "marie").await?;
        let (status, _, session, _) = open(&marie, &callback).await?;
        assert_eq!((status, session), (303, true));
        let accounts: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM accounts WHERE email = 'marie.dupont@example.fr'",
        )
        .fetch_one(app.state.db.platform())
        .await?;
        assert_eq!(accounts, 1);

        // Signing out ends FranceConnect's session too: the provider's logout, then back.
        let token = form_token(&marie, &app.url(Some(&paris), "/")).await?;
        let r = marie
            .post(app.url(Some(&paris), "/deconnexion"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let end = location(&app.url(Some(&paris), "/deconnexion"), &r)?;
        assert!(
            end.starts_with(&format!("{}/session/end?", provider.issuer))
                && end.contains("id_token_hint=")
                && end.contains("post_logout_redirect_uri="),
            "{end}"
        );
        assert!(!signed_in(&marie, &app.url(Some(&paris), "/")).await?);
        // The provider's page asks its form to be posted (a browser does it by itself).
        let (end_url, page) = follow(&marie, &end, |_| false).await?;
        let page = page.context("the provider's logout page")?.text().await?;
        let action = html::attrs(&page, "form", "action")?
            .into_iter()
            .next()
            .context("the logout form")?;
        let action = reqwest::Url::parse(&end_url)?.join(&action)?.to_string();
        let mut fields: Vec<(String, String)> =
            html::attrs(&page, "form input[type=hidden]", "name")?
                .into_iter()
                .zip(html::attrs(&page, "form input[type=hidden]", "value")?)
                .collect();
        fields.push(("logout".into(), "yes".into()));
        let r = marie.post(&action).form(&fields).send().await?;
        let back = location(&action, &r)?;
        assert!(
            back.starts_with(&app.url(None, "/franceconnect/sortie")),
            "{back}"
        );
        let text = page_text(&marie, &back).await?;
        assert!(
            text.contains("déconnecté de Parvis et de FranceConnect"),
            "{text}"
        );
        // FranceConnect asks who it is again.
        let start = app.url(Some(&paris), "/franceconnect/connexion");
        let (at, page) = follow(&marie, &start, |u| u.contains("/franceconnect/retour")).await?;
        let page = page.with_context(|| format!("went straight back: {at}"))?;
        assert!(page.text().await?.contains("name=\"login\""));

        // A replayed callback opens nothing.
        let other = app.client()?;
        let callback = to_callback(&app, &other, &paris, "/", "karim").await?;
        let (status, _, session, _) = open(&other, &callback).await?;
        assert_eq!((status, session), (303, true));
        let (status, text, session, _) = open(&other, &callback).await?;
        assert_eq!(status, 400, "{text}");
        assert!(!session);
        assert!(text.contains("a déjà servi"), "{text}");

        // A callback opened in another browser (the state is bound to the one that left).
        let leaving = app.client()?;
        let callback = to_callback(&app, &leaving, &paris, "/", "helene").await?;
        let stranger = app.client()?;
        let (status, text, session, _) = open(&stranger, &callback).await?;
        assert_eq!((status, session), (400, false), "{text}");
        assert!(text.contains("un autre navigateur"), "{text}");

        // An ID token altered after its signature: refused.
        provider.tamper(true).await?;
        let c = app.client()?;
        let callback = to_callback(&app, &c, &paris, "/", "camille").await?;
        let (status, text, session, _) = open(&c, &callback).await?;
        provider.tamper(false).await?;
        assert_eq!((status, session), (502, false), "{text}");
        assert!(text.contains("n'a pas pu être vérifiée"), "{text}");
        assert!(text.contains("adresse e-mail"), "the way out: {text}");

        // A token made for another nonce (the authorization request changed on its way).
        let c = app.client()?;
        let start = app.url(Some(&paris), "/franceconnect/connexion");
        let (authorize, _) = follow(&c, &start, |u| u.contains("/api/v2/authorize")).await?;
        // Only the claims the platform uses are asked for.
        let scope = reqwest::Url::parse(&authorize)?
            .query_pairs()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .context("scope")?;
        let mut asked: Vec<&str> = scope.split(' ').collect();
        asked.sort_unstable();
        assert_eq!(
            asked,
            ["birthdate", "email", "family_name", "given_name", "openid"]
        );
        let forged = with_param(&authorize, "nonce", &"n".repeat(43))?;
        let callback = log_in_at_provider(&c, &forged, "camille").await?;
        let (status, text, session, _) = open(&c, &callback).await?;
        assert_eq!((status, session), (400, false), "{text}");
        assert!(text.contains("ne correspond pas"), "{text}");

        // An expired code.
        provider.code_ttl(1).await?;
        let c = app.client()?;
        let callback = to_callback(&app, &c, &paris, "/", "camille").await?;
        tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
        let (status, text, session, _) = open(&c, &callback).await?;
        provider.code_ttl(30).await?;
        assert_eq!((status, session), (400, false), "{text}");
        assert!(text.contains("a expiré"), "{text}");

        // The provider answers with an error (the person cancelled).
        let c = app.client()?;
        let (authorize, _) = follow(&c, &start, |u| u.contains("/api/v2/authorize")).await?;
        let state = reqwest::Url::parse(&authorize)?
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .context("state")?;
        let cancelled = format!(
            "{}?error=access_denied&error_description=L%27usager+a+annul%C3%A9&state={state}",
            app.url(None, "/franceconnect/retour")
        );
        let (status, text, session, _) = open(&c, &cancelled).await?;
        assert_eq!((status, session), (400, false), "{text}");
        assert!(text.contains("L'usager a annulé"), "{text}");

        // No state, a made-up state.
        for bad in ["", "?code=abc&state=inconnu"] {
            let (status, _, session, _) = open(
                &c,
                &format!("{}{bad}", app.url(None, "/franceconnect/retour")),
            )
            .await?;
            assert_eq!((status, session), (400, false), "{bad}");
        }

        // Nothing refused above made an account or opened a session: marie's and karim's
        // only (marie's first sign-in, whose cookie her second replaced, and karim's).
        let links = rows(&app, "identity_links").await?;
        assert_eq!(links, 2, "marie and karim");
        let sessions = rows(&app, "sessions").await?;
        assert_eq!(sessions, 2);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    an_address_with_an_account_is_linked_only_by_its_owner,
    |backend| async move {
        let (app, _provider) = Provider::app(backend).await?;
        let paris = app.commune("75056").await?;
        app.account("marie.dupont@example.fr", PASSWORD).await?;

        // FranceConnect's address has an account: no session, no link, and how to link.
        let c = app.client()?;
        let callback = to_callback(&app, &c, &paris, "/", "marie").await?;
        let (status, text, session, _) = open(&c, &callback).await?;
        assert_eq!((status, session), (409, false), "{text}");
        assert!(text.contains("existe déjà"), "{text}");
        assert!(text.contains("Mon compte"), "{text}");

        // Its owner, signed in with the password, links it from the account page.
        let owner = app
            .signed_in(Some(&paris), "marie.dupont@example.fr", PASSWORD)
            .await?;
        let page = owner
            .get(app.url(Some(&paris), "/mon-compte"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            page.contains("href=\"/franceconnect/connexion?suite=%2Fmon-compte&amp;lier=1\""),
            "the link button: {page}"
        );
        let start = app.url(
            Some(&paris),
            "/franceconnect/connexion?lier=1&suite=/mon-compte",
        );
        let callback = log_in_at_provider(&owner, &start, "marie").await?;
        let (status, text, _, to) = open(&owner, &callback).await?;
        assert_eq!(status, 303, "{text}");
        assert_eq!(to, app.url(Some(&paris), "/mon-compte"));
        let text = page_text(&owner, &app.url(Some(&paris), "/mon-compte")).await?;
        assert!(text.contains("Marie Jeanne DUPONT"), "{text}");

        // Now FranceConnect signs into that account.
        let c = app.client()?;
        let callback = to_callback(&app, &c, &paris, "/mon-compte", "marie").await?;
        let (status, _, session, _) = open(&c, &callback).await?;
        assert_eq!((status, session), (303, true));
        let text = page_text(&c, &app.url(Some(&paris), "/mon-compte")).await?;
        assert!(
            text.contains(&parvis_tests::display_name("marie.dupont@example.fr")),
            "{text}"
        );

        // Another account cannot take the same identity.
        app.account("autre@example.fr", PASSWORD).await?;
        let other = app
            .signed_in(Some(&paris), "autre@example.fr", PASSWORD)
            .await?;
        let start = app.url(Some(&paris), "/franceconnect/connexion?lier=1");
        let callback = log_in_at_provider(&other, &start, "marie").await?;
        let (status, text, _, _) = open(&other, &callback).await?;
        assert_eq!(status, 409, "{text}");
        assert!(text.contains("déjà liée à un autre compte"), "{text}");

        // With a password, the owner unlinks it.
        let token = form_token(&owner, &app.url(Some(&paris), "/mon-compte")).await?;
        let r = owner
            .post(app.url(Some(&paris), "/mon-compte/franceconnect/delier"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let links = rows(&app, "identity_links").await?;
        assert_eq!(links, 0);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    an_official_whose_identity_matches_the_registry_holds_the_profile_at_once,
    |backend| async move {
        let (app, _provider) = Provider::app(backend).await?;
        let paris = app.commune("75056").await?;
        parvis_tests::rne::import(
            &app,
            &[
                "75;Paris;;;75056;Paris;LE GOFF;Hélène-Marie;F;30/11/1985;37;Cadres;15/03/2026;;;FR",
                "75;Paris;;;75056;Paris;BENALI;Karim;M;03/02/1991;37;Cadres;15/03/2026;;;FR",
            ],
        )
        .await?;
        // Across communes: on PostgreSQL, row-level security hides a commune's rows otherwise.
        let officials = |name: &'static str| {
            let db = app.state.db.clone();
            async move {
                let mut tx = db.platform_tx().await?;
                let row: (String, Option<String>) =
                    sqlx::query_as("SELECT id, account_id FROM officials WHERE last_name = $1")
                        .bind(name)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.commit().await?;
                anyhow::Ok(row)
            }
        };
        let (helene, _) = officials("LE GOFF").await?;
        let (karim, _) = officials("BENALI").await?;

        // Hélène signs in with FranceConnect and claims her profile: no date to type, and
        // hers at once (accents, hyphen and case as registries write them apart).
        let c = app.client()?;
        let callback = to_callback(&app, &c, &paris, "/", "helene").await?;
        assert_eq!(open(&c, &callback).await?.0, 303);
        let profile = app.url(Some(&paris), &format!("/elus/{helene}"));
        let page = c.get(&profile).send().await?.text().await?;
        assert!(
            html::text(&page).contains("sera comparée au répertoire")
                && !page.contains("name=\"birth_date\""),
            "{page}"
        );
        let token = form_token(&c, &profile).await?;
        let r = c
            .post(format!("{profile}/revendiquer"))
            .form(&[("csrf_token", token.as_str()), ("message", "")])
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let text = html::text(&r.text().await?);
        assert!(
            text.contains("correspond au répertoire national des élus"),
            "{text}"
        );
        assert!(text.contains("c'est le vôtre"), "{text}");
        assert!(officials("LE GOFF").await?.1.is_some(), "hers");

        // Karim's identity differs from the registry on the birth date: his claim waits, and
        // he is told why (not the date itself).
        let k = app.client()?;
        let callback = to_callback(&app, &k, &paris, "/", "karim").await?;
        assert_eq!(open(&k, &callback).await?.0, 303);
        let profile = app.url(Some(&paris), &format!("/elus/{karim}"));
        let token = form_token(&k, &profile).await?;
        let r = k
            .post(format!("{profile}/revendiquer"))
            .form(&[("csrf_token", token.as_str()), ("message", "C'est moi")])
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let page = r.text().await?;
        let text = html::text(&page);
        assert!(text.contains("ne correspond pas au répertoire"), "{text}");
        assert!(text.contains("la date de naissance"), "{text}");
        assert!(!page.contains("1990") && !page.contains("1991"), "{page}");

        // The commune's admins (and the platform's) read both: the verified one recorded, the
        // other waiting with what differed.
        let maire = app.account("maire@paris.fr", PASSWORD).await?;
        app.grant(&maire, parvis_core::authz::Role::TenantAdmin, Some(&paris))
            .await?;
        let admin = app
            .signed_in(Some(&paris), "maire@paris.fr", PASSWORD)
            .await?;
        let page = admin
            .get(app.url(Some(&paris), "/admin/revendications"))
            .send()
            .await?
            .text()
            .await?;
        let text = html::text(&page);
        assert!(text.contains("Vérifiés par FranceConnect"), "{text}");
        assert!(text.contains("Hélène-Marie LE GOFF"), "{text}");
        assert!(text.contains("conformes au répertoire"), "{text}");
        assert!(
            text.contains("différente sur la date de naissance"),
            "{text}"
        );
        assert!(
            !page.contains("1985") && !page.contains("1990"),
            "no birth date: {page}"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    franceconnect_down_leaves_e_mail_sign_in_working,
    |backend| async move {
        let (app, mut provider) = Provider::app(backend).await?;
        let paris = app.commune("75056").await?;
        app.account("habitant@example.fr", PASSWORD).await?;

        // Down in the middle of a sign-in: the code cannot be exchanged.
        let c = app.client()?;
        let callback = to_callback(&app, &c, &paris, "/", "marie").await?;
        provider.stop().await?;
        let (status, text, session, _) = open(&c, &callback).await?;
        assert_eq!((status, session), (503, false), "{text}");
        assert!(text.contains("FranceConnect ne répond pas"), "{text}");
        assert!(text.contains("adresse e-mail"), "{text}");

        // Down from the start (a fresh platform that never reached it).
        let (app2, mut provider2) = Provider::app(backend).await?;
        let lyon = app2.commune("69123").await?;
        provider2.stop().await?;
        told_franceconnect_is_down(&app2, &lyon).await?;

        // E-mail sign-in works all along.
        let signed = app
            .signed_in(Some(&paris), "habitant@example.fr", PASSWORD)
            .await?;
        assert!(signed_in(&signed, &app.url(Some(&paris), "/")).await?);
        app2.stop().await;
        app.stop().await;
        Ok(())
    }
);

/// A provider whose description never ends (an endless stream of blanks, which JSON allows
/// before a value): the platform stops reading it at its bound, tells the person at once, and
/// e-mail sign-in works. Read whole, the stream runs for the 5 s timeout (944 MB produced,
/// without the bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_sending_without_end_is_read_no_further_than_a_bound() -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let produced = Arc::new(AtomicU64::new(0));
    let counter = produced.clone();
    let endless = axum::Router::new().route(
        "/api/v2/.well-known/openid-configuration",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move { parvis_tests::endless_body(counter) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let issuer = format!("http://{}/api/v2", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, endless).await });
    let app = TestApp::start_configured(Backend::Sqlite, 0, move |c| {
        c.franceconnect = Some(parvis_core::config::FranceConnect {
            issuer,
            client_id: parvis_tests::franceconnect::CLIENT_ID.into(),
            client_secret: parvis_tests::franceconnect::CLIENT_SECRET.into(),
        });
    })
    .await?;
    let paris = app.commune("75056").await?;
    app.account("habitant@example.fr", PASSWORD).await?;

    told_franceconnect_is_down(&app, &paris).await?;
    // What the server produced: what the platform read (256 KiB at most) and what the
    // sockets' buffers took before the connection closed. Give the server a moment to see it.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let first = produced.load(Ordering::Relaxed);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        produced.load(Ordering::Relaxed),
        first,
        "the connection is closed: nothing more is sent"
    );
    assert!(first < 16 << 20, "{first} bytes produced");

    let signed = app
        .signed_in(Some(&paris), "habitant@example.fr", PASSWORD)
        .await?;
    assert!(signed_in(&signed, &app.url(Some(&paris), "/")).await?);
    app.stop().await;
    Ok(())
}
