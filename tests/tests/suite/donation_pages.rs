//! The donations module's pages no test reached (issue 16): the public list of campaigns
//! (`/m/donations/`), the thank-you page a donor comes back to from the payment page, and a
//! campaign closed by the commune. Payments go through the local Stripe (tests/src/stripe.rs)
//! and its signed webhook, as in production.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use parvis_tests::stripe::{FakeStripe, WEBHOOK_SECRET};
use parvis_tests::{TestApp, both_backends, form_token};

use parvis_tests::html::{attrs, texts};

const PASSWORD: &str = "mot-de-passe-solide";

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    let r = client.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// Posts `fields` with the token of the page at `from`; the status and Location or page.
async fn post(
    client: &reqwest::Client,
    from: &str,
    to: &str,
    fields: &[(&str, &str)],
) -> Result<(u16, String)> {
    let token = form_token(client, from).await?;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    parvis_tests::outcome(client.post(to).form(&form).send().await?).await
}

/// Checkout sessions the local Stripe opened so far.
fn checkouts(stripe: &FakeStripe) -> Result<Vec<Option<String>>> {
    Ok(stripe
        .requests()?
        .into_iter()
        .filter(|(method, path, _)| method == "POST" && path == "/v1/checkout/sessions")
        .map(|(_, _, account)| account)
        .collect())
}

/// Paris collecting donations (tests/src/donations.rs), paid to its connected account.
async fn paris_collects(
    backend: parvis_tests::Backend,
) -> Result<(TestApp, FakeStripe, String, reqwest::Client)> {
    let (app, stripe, paris, tenant, mayor) =
        parvis_tests::donations::paris_collects(backend).await?;
    let mut tx = app.state.db.tenant(tenant).begin_write().await?;
    parvis_billing::store::set_connected_account(&mut tx, "acct_paris_mairie").await?;
    tx.commit().await?;
    Ok((app, stripe, paris, mayor))
}

both_backends!(
    campaigns_are_listed_thanked_and_closed,
    |backend| async move {
        let (app, stripe, paris, mayor) = paris_collects(backend).await?;
        let url = |path: &str| app.url(Some(&paris), path);
        let anonymous = app.client()?;

        // The public list: nothing yet, then the open campaigns, newest first.
        let (status, page) = get(&anonymous, &url("/m/donations/")).await?;
        assert_eq!(status, 200);
        assert_eq!(texts(&page, "main h1")?, ["Appels au don"]);
        assert!(
            texts(&page, "main p")?.contains(&"Aucune collecte en cours.".to_string()),
            "{page}"
        );
        let organ =
            parvis_tests::donations::open_campaign(&app, &mayor, &paris, "Restaurer l'orgue")
                .await?;
        let trees =
            parvis_tests::donations::open_campaign(&app, &mayor, &paris, "Planter des arbres")
                .await?;
        assert_ne!(organ, trees);
        let (_, page) = get(&anonymous, &url("/m/donations/")).await?;
        assert_eq!(
            texts(&page, "section.card h2")?,
            ["Planter des arbres", "Restaurer l'orgue"]
        );
        assert_eq!(
            attrs(&page, "section.card h2 a", "href")?,
            [
                format!("/m/donations/{trees}"),
                format!("/m/donations/{organ}")
            ]
        );
        assert_eq!(
            texts(&page, "section.card progress + strong")?,
            ["0 €", "0 €"],
            "{page}"
        );

        // Claire gives: the payment page brings her back to the thank-you page.
        app.account("claire@example.org", PASSWORD).await?;
        let claire = app
            .signed_in(Some(&paris), "claire@example.org", PASSWORD)
            .await?;
        let (_, page) = get(&claire, &url("/")).await?;
        let claire_name = texts(&page, "header a.who")?.pop().context("signed in")?;
        let campaign = url(&format!("/m/donations/{organ}"));
        let (status, checkout) = post(
            &claire,
            &campaign,
            &format!("{campaign}/donner"),
            &[("montant", "25"), ("afficher", "on")],
        )
        .await?;
        assert_eq!(status, 303, "{checkout}");
        assert!(
            checkout.starts_with("https://checkout.stripe.test/"),
            "{checkout}"
        );
        assert_eq!(checkouts(&stripe)?, [Some("acct_paris_mairie".to_string())]);
        let session = stripe.session_of_url(&checkout)?;
        let thanks = session["success_url"].as_str().context("success_url")?;
        assert!(
            thanks.starts_with(&format!("{campaign}/merci")),
            "back on the commune's site: {thanks}"
        );
        assert_eq!(session["cancel_url"], campaign.as_str());
        let (status, page) = get(&claire, thanks).await?;
        assert_eq!(status, 200, "{page}");
        assert_eq!(texts(&page, "main h1")?, ["Merci pour votre don"]);
        let said = texts(&page, "main p")?.concat();
        assert!(
            said.contains("Votre paiement pour « Restaurer l'orgue » est en cours de confirmation"),
            "{said}"
        );
        assert!(attrs(&page, "main a", "href")?.contains(&format!("/m/donations/{organ}")));
        // The page thanks; it counts nothing (only the payment's confirmation does).
        let (_, page) = get(&anonymous, &campaign).await?;
        assert_eq!(texts(&page, "progress + strong")?, ["0 €"]);
        let (status, _) = get(&claire, &url("/m/donations/inconnue/merci")).await?;
        assert_eq!(status, 404);

        // Stripe confirms the payment through its signed webhook: counted, thanked.
        for event in stripe.complete_checkout(&checkout)? {
            let payload = serde_json::to_string(&event)?;
            let now = chrono::Utc::now().timestamp();
            let r = app
                .bare_client()?
                .post(app.url(None, "/billing/stripe/webhook"))
                .header(
                    "stripe-signature",
                    FakeStripe::sign(&payload, WEBHOOK_SECRET, now)?,
                )
                .header("content-type", "application/json")
                .body(payload)
                .send()
                .await?;
            assert_eq!(r.status(), 200, "{}", r.text().await?);
        }
        let mail = app
            .smtp
            .wait_for("claire@example.org", "Merci pour votre don")
            .await?;
        assert!(mail.text.contains("25 €"), "{}", mail.text);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, page) = get(&anonymous, &campaign).await?;
            if texts(&page, "progress + strong")? == ["25 €"] {
                assert!(
                    texts(&page, "div.module ul li")? == [claire_name.clone()],
                    "{page}"
                );
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the gift was not counted: {page}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // Closing: staff only; then the campaign leaves the list and takes no more gifts.
        let admin_list = url("/admin/m/donations/");
        let close = format!("/admin/m/donations/{organ}/cloturer");
        let (_, page) = get(&mayor, &admin_list).await?;
        assert!(attrs(&page, "form", "action")?.contains(&close), "{page}");
        let (status, _) = post(&claire, &campaign, &url(&close), &[]).await?;
        assert_eq!(status, 403);
        let (_, page) = get(&anonymous, &url("/m/donations/")).await?;
        assert_eq!(texts(&page, "section.card h2")?.len(), 2, "still open");

        let (status, to) = post(&mayor, &admin_list, &url(&close), &[]).await?;
        assert_eq!(status, 303, "{to}");
        let (_, page) = get(&mayor, &url(&to)).await?;
        assert_eq!(texts(&page, "p.notice")?, ["La collecte est close."]);
        let rows = parvis_tests::html::table_rows(&page, "table")?;
        let states: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r[0].as_str(), r[4].as_str()))
            .collect();
        assert_eq!(
            states,
            [
                ("Planter des arbres", "Clôturer Planter des arbres"),
                ("Restaurer l'orgue", "Close")
            ]
        );
        let (_, page) = get(&anonymous, &url("/m/donations/")).await?;
        assert_eq!(texts(&page, "section.card h2")?, ["Planter des arbres"]);
        let (_, page) = get(&claire, &campaign).await?;
        assert!(
            texts(&page, "main p")?
                .contains(&"Cette collecte est terminée. Merci à tous les donateurs.".to_string()),
            "{page}"
        );
        assert!(
            !attrs(&page, "form", "action")?
                .iter()
                .any(|a| a.ends_with("/donner")),
            "no gift form on a closed campaign: {page}"
        );
        assert_eq!(
            texts(&page, "progress + strong")?,
            ["25 €"],
            "what was given stays"
        );
        let (status, page) = post(
            &claire,
            &url(&format!("/m/donations/{trees}")),
            &format!("{campaign}/donner"),
            &[("montant", "10")],
        )
        .await?;
        assert_eq!(status, 409);
        assert!(page.contains("Cette collecte est terminée."), "{page}");
        assert_eq!(
            checkouts(&stripe)?.len(),
            1,
            "no payment page for a closed campaign"
        );
        let (status, _) = post(
            &mayor,
            &admin_list,
            &url("/admin/m/donations/inconnue/cloturer"),
            &[],
        )
        .await?;
        assert_eq!(status, 404);
        app.stop().await;
        Ok(())
    }
);
