//! One account everywhere (issue 20), through the real router on both backends: a sign-in on
//! one commune's subdomain signs the person in on every other and on the platform's site; a
//! commune on its own domain receives the session through a one-time hand-off code (bound to
//! that domain, expiring in seconds, used once; a replayed, expired or misdirected code, or a
//! hand-off to a host that is no commune of the platform, is refused in French with no
//! session); a visitor signed in nowhere is asked once and left alone; signing out on the
//! commune's domain signs the person out on every host.

use anyhow::{Context as _, Result};
use parvis_core::types::Slug;
use parvis_tenants::provision;
use parvis_tests::{TestApp, both_backends, form_token, html};
use reqwest::header::{ACCEPT, LOCATION, SET_COOKIE};

const PASSWORD: &str = "mot-de-passe-solide";

/// A page as a browser opens it: it asks for HTML.
async fn open(client: &reqwest::Client, url: &str) -> Result<reqwest::Response> {
    Ok(client.get(url).header(ACCEPT, "text/html").send().await?)
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

async fn signed_in_on(client: &reqwest::Client, url: &str) -> Result<bool> {
    let r = open(client, url).await?;
    anyhow::ensure!(r.status() == 200, "{url}: {}", r.status());
    Ok(html::text(&r.text().await?).contains("Se déconnecter"))
}

/// Follows the hand-off from a commune's own domain: the redirect to the platform, and the
/// platform's answer (the arrival URL, with its code). Returns that answer.
async fn hand_off(client: &reqwest::Client, page: &str) -> Result<reqwest::Response> {
    let r = open(client, page).await?;
    anyhow::ensure!(r.status() == 303, "{page}: {}", r.status());
    let depart = location(&r);
    anyhow::ensure!(depart.contains("/sso/depart?vers="), "{depart}");
    open(client, &depart).await
}

both_backends!(
    one_sign_in_reaches_every_commune_and_one_sign_out_ends_it,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let lyon = app.commune("69123").await?;
        let port = app.addr.port();
        let own = format!("http://mairie-paris.example:{port}");
        let other = format!("http://mairie-lyon.example:{port}");
        let base = &app.state.config.base_domain;
        // Bad domains are refused in French.
        for (bad, says) in [
            ("pas un domaine", "n'est pas un nom de domaine"),
            ("lyon.parvis.test", "est une adresse de la plateforme"),
        ] {
            let e =
                provision::set_custom_domain(&app.state.db, &Slug::parse(&paris)?, Some(bad), base)
                    .await
                    .err()
                    .context("a bad domain was taken")?;
            assert!(e.to_string().contains(says), "{e}");
        }
        provision::set_custom_domain(
            &app.state.db,
            &Slug::parse(&paris)?,
            Some("Mairie-Paris.example"),
            base,
        )
        .await?;
        provision::set_custom_domain(
            &app.state.db,
            &Slug::parse(&lyon)?,
            Some("mairie-lyon.example"),
            base,
        )
        .await?;
        let e = provision::set_custom_domain(
            &app.state.db,
            &Slug::parse(&lyon)?,
            Some("mairie-paris.example"),
            base,
        )
        .await
        .err()
        .context("a domain taken twice")?;
        assert!(e.to_string().contains("déjà celui de la commune"), "{e}");

        app.account_named("alice@example.org", "Alice Martin", PASSWORD)
            .await?;
        let alice = app
            .signed_in(Some(&paris), "alice@example.org", PASSWORD)
            .await?;
        // Signed in on Paris's subdomain: on Lyon's and on the platform's site too.
        assert!(signed_in_on(&alice, &app.url(Some(&lyon), "/")).await?);
        assert!(signed_in_on(&alice, &app.url(None, "/")).await?);

        // Paris on its own domain: handed over through the platform, once.
        let arrival = hand_off(&alice, &format!("{own}/services")).await?;
        assert_eq!(arrival.status(), 303);
        assert_eq!(arrival.headers()["referrer-policy"], "no-referrer");
        assert_eq!(arrival.headers()["cache-control"], "no-store");
        let to = location(&arrival);
        assert!(to.starts_with(&format!("{own}/sso/arrivee?code=")), "{to}");
        assert!(to.ends_with("&suite=%2Fservices"), "{to}");
        let r = open(&alice, &to).await?;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/services");
        let set = cookies(&r);
        assert!(
            set.iter()
                .any(|c| c.starts_with("parvis_session=") && !c.contains("Domain=")),
            "a session of the domain's own: {set:?}"
        );
        assert!(signed_in_on(&alice, &format!("{own}/")).await?);
        // The same code again: refused, no session.
        let r = open(&alice, &to).await?;
        assert_eq!(r.status(), 400);
        assert!(!cookies(&r).iter().any(|c| c.starts_with("parvis_session=")));
        assert!(
            html::text(&r.text().await?).contains("Ce lien de connexion a expiré ou a déjà servi."),
        );

        // A code made for Lyon's domain, shown to Paris's; an expired one: refused.
        let bruno_id = app.account("bruno@example.org", PASSWORD).await?;
        let bruno = app
            .signed_in(Some(&lyon), "bruno@example.org", PASSWORD)
            .await?;
        let to_lyon = location(&hand_off(&bruno, &format!("{other}/")).await?);
        let code = to_lyon
            .split("code=")
            .nth(1)
            .and_then(|c| c.split('&').next())
            .context("a code")?;
        let misdirected = format!("{own}/sso/arrivee?code={code}&suite=%2F");
        assert_eq!(open(&bruno, &misdirected).await?.status(), 400);
        let to_lyon = location(&hand_off(&bruno, &format!("{other}/")).await?);
        sqlx::query(
            "UPDATE sso_codes SET expires_at = 0 WHERE account_id = $1 AND used_at IS NULL",
        )
        .bind(&bruno_id.0)
        .execute(app.state.db.platform())
        .await?;
        assert_eq!(open(&bruno, &to_lyon).await?.status(), 400);

        // No hand-off to a host that is no commune of the platform, nor to its own hosts.
        for vers in [
            "http://evil.example/".to_string(),
            format!("http://evil.example:{port}/"),
            app.url(Some(&lyon), "/"),
            "javascript:alert(1)".to_string(),
        ] {
            let url = format!(
                "{}?vers={}",
                app.url(None, "/sso/depart"),
                url::form_urlencoded::byte_serialize(vers.as_bytes()).collect::<String>()
            );
            let r = open(&alice, &url).await?;
            assert_eq!(r.status(), 400, "{vers}");
            assert!(location(&r).is_empty());
        }

        // A visitor signed in nowhere is asked once, then left alone.
        let visitor = app.client()?;
        let back = hand_off(&visitor, &format!("{own}/")).await?;
        assert_eq!(back.status(), 303);
        let back = location(&back);
        assert_eq!(back, format!("{own}/?sso=non"));
        let r = open(&visitor, &back).await?;
        assert_eq!(r.status(), 200);
        assert!(cookies(&r).iter().any(|c| c.starts_with("parvis_sso=1")));
        assert_eq!(
            open(&visitor, &format!("{own}/services")).await?.status(),
            200
        );
        // Scripts and forms are never redirected.
        let r = visitor
            .get(format!("{other}/"))
            .header(ACCEPT, "application/json")
            .send()
            .await?;
        assert_ne!(r.status(), 303);

        // Alice signs out on Paris's own domain: signed out everywhere.
        let token = form_token(&alice, &format!("{own}/")).await?;
        let r = alice
            .post(format!("{own}/deconnexion"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        assert!(!signed_in_on(&alice, &app.url(Some(&lyon), "/")).await?);
        assert!(!signed_in_on(&alice, &app.url(Some(&paris), "/")).await?);
        assert!(!signed_in_on(&alice, &app.url(None, "/")).await?);
        // Bruno's sign-in is his own: still signed in.
        assert!(signed_in_on(&bruno, &app.url(Some(&lyon), "/")).await?);

        // One account cannot flood the platform with hand-off codes (each is a row): past 60
        // a minute, 429 and no code.
        let depart = format!(
            "{}?vers={}",
            app.url(None, "/sso/depart"),
            url::form_urlencoded::byte_serialize(format!("{other}/").as_bytes())
                .collect::<String>()
        );
        let mut refused = None;
        for i in 0..70 {
            let r = open(&bruno, &depart).await?;
            if r.status() == 429 {
                refused = Some(i);
                break;
            }
            assert_eq!(r.status(), 303);
        }
        let refused = refused.context("no limit on hand-off codes")?;
        assert!((55..=60).contains(&refused), "refused after {refused}");
        Ok(())
    }
);
