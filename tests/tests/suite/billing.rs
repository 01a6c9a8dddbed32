//! Billing through the real router, the real async-stripe client and a local Stripe speaking
//! Stripe's wire format: the grid published idempotently, a mayor subscribing through Checkout,
//! signed webhooks applied once and in any order, a failed payment's grace period, modules
//! switching off with the admins told, forged and stale signatures refused, Stripe's errors
//! explained, and donations paid on the commune's connected account.

use anyhow::{Context as _, Result};
use parvis_billing::Billing;
use parvis_billing::grid::Grid;
use parvis_billing::stripe::Stripe;
use parvis_core::authz::Role;
use parvis_core::modules::{service, store as module_store};
use parvis_core::types::{ModuleId, Slug, TenantId};
use parvis_tests::stripe::{FakeStripe, SECRET_KEY, WEBHOOK_SECRET};
use parvis_tests::{TestApp, both_backends, expect_page, form_token};
use serde_json::Value;

const PASSWORD: &str = "mot-de-passe-solide";
const MAYOR: &str = "maire@paris.fr";

async fn start(backend: parvis_tests::Backend, stripe: &FakeStripe) -> Result<TestApp> {
    let base = stripe.url();
    TestApp::start_configured(backend, 0, move |c| {
        c.stripe_secret_key = Some(SECRET_KEY.into());
        c.stripe_webhook_secret = Some(WEBHOOK_SECRET.into());
        c.stripe_api_base = Some(base);
    })
    .await
}

async fn tenant(app: &TestApp, slug: &str) -> Result<TenantId> {
    Ok(
        parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(slug)?)
            .await?
            .context("no such tenant")?
            .id,
    )
}

/// Paris, its mayor signed in, the premium modules installed.
async fn paris(app: &TestApp) -> Result<(String, reqwest::Client)> {
    let paris = app.commune("75056").await?;
    app.install_module("parvis-module-office-hours").await?;
    app.install_module("parvis-module-donations").await?;
    let maire = app.account(MAYOR, PASSWORD).await?;
    app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
    let admin = app.signed_in(Some(&paris), MAYOR, PASSWORD).await?;
    Ok((paris, admin))
}

async fn publish_grid(stripe: &FakeStripe) -> Result<()> {
    let client = Stripe::new(SECRET_KEY, Some(&stripe.url()))?;
    client.sync(&Grid::load(None)?, |_| {}).await?;
    Ok(())
}

/// Delivers one event to the apex webhook, signed at `at` with `secret`.
async fn deliver(app: &TestApp, event: &Value, secret: &str, at: i64) -> Result<(u16, Value)> {
    let payload = serde_json::to_string(event)?;
    let r = app
        .bare_client()?
        .post(app.url(None, "/billing/stripe/webhook"))
        .header("stripe-signature", FakeStripe::sign(&payload, secret, at)?)
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await?;
    Ok((r.status().as_u16(), r.json().await?))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn deliver_all(app: &TestApp, events: &[Value]) -> Result<()> {
    for e in events {
        let (status, body) = deliver(app, e, WEBHOOK_SECRET, now()).await?;
        assert_eq!(status, 200, "{} refused: {body}", e["type"]);
    }
    Ok(())
}

async fn subscribe(
    app: &TestApp,
    admin: &reqwest::Client,
    slug: &str,
    offer: &str,
    interval: &str,
) -> Result<reqwest::Response> {
    let page = app.url(Some(slug), "/admin/billing");
    let token = form_token(admin, &page).await?;
    Ok(admin
        .post(app.url(Some(slug), "/admin/billing/souscrire"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("offre", offer),
            ("periodicite", interval),
        ])
        .send()
        .await?)
}

/// The `error.code` of a JSON refusal from the webhook endpoint.
async fn api_code(r: reqwest::Response) -> Result<String> {
    let body: Value = r.json().await.context("a JSON refusal")?;
    Ok(body["error"]["code"]
        .as_str()
        .with_context(|| format!("no error code in {body}"))?
        .to_string())
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn entitlement(
    app: &TestApp,
    t: TenantId,
    module: &str,
) -> Result<Option<(String, Option<i64>)>> {
    let mut tx = app.state.db.tenant(t).begin().await?;
    let e = module_store::entitlement(&mut tx, &ModuleId::parse(module)?).await?;
    tx.commit().await?;
    Ok(e)
}

async fn enabled(app: &TestApp, t: TenantId, module: &str) -> Result<bool> {
    let mut tx = app.state.db.tenant(t).begin().await?;
    let on = module_store::is_enabled(&mut tx, &ModuleId::parse(module)?).await?;
    tx.commit().await?;
    Ok(on)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_the_grid_twice_changes_nothing() -> Result<()> {
    let stripe = FakeStripe::start().await?;
    let client = Stripe::new(SECRET_KEY, Some(&stripe.url()))?;
    let grid = Grid::load(None)?;
    let first = client.sync(&grid, |_| {}).await?;
    assert_eq!(first.products_created, 4);
    assert_eq!(first.prices_created, 4 * 7 * 2);
    let again = client.sync(&grid, |_| {}).await?;
    assert_eq!(again.products_created + again.products_updated, 0);
    assert_eq!(again.prices_created, 0);
    assert_eq!(again.prices_unchanged, 4 * 7 * 2);

    // A new amount is a new Price that takes the lookup key over; the old one keeps existing.
    let text = parvis_billing::grid::DEFAULT_GRID.replacen("[900, 9000]", "[990, 9900]", 1);
    let changed = Grid::parse(&text, "test")?;
    let third = client.sync(&changed, |_| {}).await?;
    assert_eq!(third.prices_created, 2, "monthly and yearly of one tier");
    let prices = stripe.prices()?;
    let holders: Vec<&Value> = prices
        .iter()
        .filter(|p| p["lookup_key"] == "parvis:office-hours:s1:month")
        .collect();
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0]["unit_amount"], 990);
    assert_eq!(prices.len(), 4 * 7 * 2 + 2);
    Ok(())
}

both_backends!(
    a_mayor_subscribes_and_entitlements_follow_stripe,
    |backend| async move {
        let stripe = FakeStripe::start().await?;
        publish_grid(&stripe).await?;
        let app = start(backend, &stripe).await?;
        let (paris, admin) = paris(&app).await?;
        let t = tenant(&app, &paris).await?;

        // The page shows Paris' tier and its prices; citizens do not get it.
        let page = admin
            .get(app.url(Some(&paris), "/admin/billing"))
            .send()
            .await?
            .text()
            .await?;
        assert!(page.contains("100 000 habitants et plus"), "{page}");
        assert!(page.contains("<strong>299 €</strong> par mois"), "{page}");
        assert!(page.contains("14 jours"), "{page}");
        app.account("claire@example.org", PASSWORD).await?;
        let claire = app
            .signed_in(Some(&paris), "claire@example.org", PASSWORD)
            .await?;
        let r = claire
            .get(app.url(Some(&paris), "/admin/billing"))
            .send()
            .await?;
        let refusal = expect_page(r, 403, "pas les droits").await?;
        assert!(!refusal.contains("299 €"), "{refusal}");

        // Subscribing sends the mayor to Checkout; nothing is granted before Stripe says paid.
        // A double click makes two sessions for one and the same customer.
        let (r, again) = tokio::join!(
            subscribe(&app, &admin, &paris, "office-hours", "mensuel"),
            subscribe(&app, &admin, &paris, "office-hours", "mensuel")
        );
        let (r, again) = (r?, again?);
        assert_eq!((r.status().as_u16(), again.status().as_u16()), (303, 303));
        assert_eq!(stripe.customers()?, 1);
        let checkout = location(&r);
        assert_eq!(
            stripe.session_of_url(&location(&again))?["customer"],
            stripe.session_of_url(&checkout)?["customer"]
        );
        assert!(
            checkout.starts_with("https://checkout.stripe.test/"),
            "{checkout}"
        );
        let session = stripe.session_of_url(&checkout)?;
        assert_eq!(session["mode"], "subscription");
        assert_eq!(session["metadata"]["parvis_tenant"], t.to_string());
        assert_eq!(session["metadata"]["parvis_tier"], "s7");
        assert!(entitlement(&app, t, "office-hours").await?.is_none());
        assert!(
            service::enable(
                &app.state.modules,
                &app.state.db.tenant(t),
                "office-hours",
                None
            )
            .await
            .is_err()
        );

        // Stripe's events arrive in reverse order: the end state is the same.
        let mut events = stripe.complete_checkout(&checkout)?;
        events.reverse();
        deliver_all(&app, &events).await?;
        let sub_id = events
            .iter()
            .find(|e| e["type"] == "customer.subscription.created")
            .and_then(|e| e["data"]["object"]["id"].as_str())
            .context("subscription event")?
            .to_string();
        assert_eq!(
            entitlement(&app, t, "office-hours").await?,
            Some(("stripe".into(), None))
        );
        assert!(entitlement(&app, t, "donations").await?.is_none());
        service::enable(
            &app.state.modules,
            &app.state.db.tenant(t),
            "office-hours",
            None,
        )
        .await?;

        // A replay is acknowledged and ignored; forged, stale or misaddressed ones are refused.
        let (status, body) = deliver(&app, &events[0], WEBHOOK_SECRET, now()).await?;
        assert_eq!((status, body["outcome"].as_str()), (200, Some("replayed")));
        let (status, body) = deliver(&app, &events[0], "whsec_forged", now()).await?;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_signature"))
        );
        let (status, body) = deliver(&app, &events[0], WEBHOOK_SECRET, now() - 600).await?;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("stale_signature"))
        );
        let r = app
            .bare_client()?
            .post(app.url(None, "/billing/stripe/webhook"))
            .body("{}")
            .send()
            .await?;
        assert_eq!(
            (r.status().as_u16(), api_code(r).await?),
            (400, "missing_signature".into()),
            "no signature"
        );
        // Correctly signed, so only the host can be what is refused.
        let payload = serde_json::to_string(&events[0])?;
        let r = app
            .bare_client()?
            .post(app.url(Some(&paris), "/billing/stripe/webhook"))
            .header(
                "stripe-signature",
                FakeStripe::sign(&payload, WEBHOOK_SECRET, now())?,
            )
            .body(payload)
            .send()
            .await?;
        assert_eq!(
            (r.status().as_u16(), api_code(r).await?),
            (404, "not_found".into()),
            "webhooks are for the apex only"
        );

        let page = admin
            .get(app.url(Some(&paris), "/admin/billing"))
            .send()
            .await?
            .text()
            .await?;
        assert!(page.contains("<strong>actif</strong>"), "{page}");
        assert!(page.contains("PARVIS-0001"), "invoices are listed: {page}");
        // Viewed again: the list comes from the host's cache, not from another Stripe call.
        let listings = || -> Result<usize> {
            Ok(stripe
                .requests()?
                .iter()
                .filter(|(method, path, _)| method == "GET" && path.starts_with("/v1/invoices"))
                .count())
        };
        let before = listings()?;
        assert!(before >= 1);
        let page = admin
            .get(app.url(Some(&paris), "/admin/billing"))
            .send()
            .await?
            .text()
            .await?;
        assert!(page.contains("PARVIS-0001"));
        assert_eq!(listings()?, before);
        let again = subscribe(&app, &admin, &paris, "pack", "annuel").await?;
        assert_eq!(
            again.status(),
            409,
            "the pack overlaps the running subscription"
        );
        assert!(again.text().await?.contains("déjà un abonnement"));

        // The portal link goes to Stripe.
        let token = form_token(&admin, &app.url(Some(&paris), "/admin/billing")).await?;
        let r = admin
            .post(app.url(Some(&paris), "/admin/billing/portail"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        assert!(location(&r).starts_with("https://billing.stripe.test/"));

        // A renewal fails: the module stays on through the grace period…
        deliver_all(&app, &stripe.fail_renewal(&sub_id)?).await?;
        let (source, until) = entitlement(&app, t, "office-hours")
            .await?
            .context("entitlement kept in grace")?;
        assert_eq!(source, "stripe");
        let until = until.context("grace has an end")?;
        assert!((until - now() - 14 * 86_400).abs() < 120, "{until}");
        assert!(enabled(&app, t, "office-hours").await?);
        let page = admin
            .get(app.url(Some(&paris), "/admin/billing"))
            .send()
            .await?
            .text()
            .await?;
        assert!(page.contains("Le dernier paiement a échoué"), "{page}");
        let billing = Billing::from_config(&app.state.config)?;
        assert_eq!(billing.sweep(&app.state).await?, 0, "grace still running");
        assert!(entitlement(&app, t, "office-hours").await?.is_some());
        assert!(enabled(&app, t, "office-hours").await?);

        // …then, once it ran out, it switches off and the admins are told by e-mail, once.
        // The server sweeps too, every minute on the real clock: on a slow run its sweep may
        // be the one that finds the grace over, between this update and the test's sweep. So
        // the test's sweep switches Paris off unless the server's did (at most 1), and the
        // outcome is checked whoever swept: off, and one e-mail, since each sweep that switches
        // a commune off tells its admins (two sweeps doing it would send two).
        let mut tx = app.state.db.platform_tx().await?;
        sqlx::query("UPDATE billing_subscriptions SET past_due_since = $1 WHERE tenant_id = $2")
            .bind(now() - 15 * 86_400)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let swept = billing.sweep(&app.state).await?;
        assert!(swept <= 1, "one commune, swept {swept} times");
        assert!(entitlement(&app, t, "office-hours").await?.is_none());
        assert!(!enabled(&app, t, "office-hours").await?);
        let mail = app
            .smtp
            .wait_for(MAYOR, "Services premium désactivés")
            .await?;
        assert!(mail.text.contains("délai de grâce"), "{}", mail.text);
        app.settle_jobs().await?;
        let told = app
            .smtp
            .messages()?
            .into_iter()
            .filter(|m| m.subject.contains("Services premium désactivés"))
            .count();
        assert_eq!(told, 1, "the admins told once");
        assert_eq!(
            billing.sweep(&app.state).await?,
            0,
            "nothing left to switch off"
        );
        let r = claire
            .get(app.url(Some(&paris), "/m/office-hours/"))
            .send()
            .await?;
        assert_eq!(r.status(), 404, "a switched-off module is not served");

        // Paying again brings the right back; cancelling takes it away at once.
        deliver_all(&app, &stripe.recover(&sub_id)?).await?;
        assert_eq!(
            entitlement(&app, t, "office-hours").await?,
            Some(("stripe".into(), None))
        );
        service::enable(
            &app.state.modules,
            &app.state.db.tenant(t),
            "office-hours",
            None,
        )
        .await?;

        // A new official population in another tier: the price changes at renewal, unprorated.
        let mut tx = app.state.db.platform_tx().await?;
        sqlx::query("UPDATE communes SET population = 3000 WHERE insee = '75056'")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        deliver_all(&app, &stripe.recover(&sub_id)?).await?;
        let held = stripe.subscription(&sub_id)?;
        assert_eq!(
            held["items"]["data"][0]["price"]["lookup_key"],
            "parvis:office-hours:s3:month"
        );
        assert_eq!(held["_proration_behavior"], "none");

        deliver_all(&app, &stripe.cancel(&sub_id)?).await?;
        assert!(entitlement(&app, t, "office-hours").await?.is_none());
        assert!(!enabled(&app, t, "office-hours").await?);

        // Another commune's admin sees none of it.
        let lyon = app.commune("69123").await?;
        let lyon_admin = app.account("maire@lyon.fr", PASSWORD).await?;
        app.grant(&lyon_admin, Role::TenantAdmin, Some(&lyon))
            .await?;
        let lyon_client = app
            .signed_in(Some(&lyon), "maire@lyon.fr", PASSWORD)
            .await?;
        // Signed in on Paris's host too (the session cookie is per host), Lyon's admin is
        // refused as such, not merely sent to sign in.
        let lyon_at_paris = app
            .signed_in(Some(&paris), "maire@lyon.fr", PASSWORD)
            .await?;
        let r = lyon_at_paris
            .get(app.url(Some(&paris), "/admin/billing"))
            .send()
            .await?;
        assert_eq!(r.status(), 403);
        let refusal = r.text().await?;
        assert!(refusal.contains("pas les droits"), "{refusal}");
        // Paris's invoice (its admin sees it on this page) is not in the refusal.
        assert!(!refusal.contains("PARVIS-0001"), "{refusal}");
        let page = lyon_client
            .get(app.url(Some(&lyon), "/admin/billing"))
            .send()
            .await?
            .text()
            .await?;
        assert!(!page.contains("PARVIS-0001"), "{page}");
        assert!(
            !page.contains("<strong>actif</strong>"),
            "Paris' subscription shows in Lyon: {page}"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    bad_input_and_stripe_errors_grant_nothing,
    |backend| async move {
        let stripe = FakeStripe::start().await?;
        let app = start(backend, &stripe).await?;
        let (paris, admin) = paris(&app).await?;
        let t = tenant(&app, &paris).await?;

        let r = subscribe(&app, &admin, &paris, "jacuzzi", "mensuel").await?;
        assert_eq!(r.status(), 422);
        assert!(r.text().await?.contains("Offre inconnue"));
        let r = subscribe(&app, &admin, &paris, "office-hours", "hebdomadaire").await?;
        assert_eq!(r.status(), 422);
        assert!(r.text().await?.contains("Périodicité inconnue"));

        // The grid was never published: the mayor is told, the operators know what to run.
        let r = subscribe(&app, &admin, &paris, "office-hours", "annuel").await?;
        assert_eq!(r.status(), 503);
        assert!(r.text().await?.contains("parvis billing sync"));

        publish_grid(&stripe).await?;
        // Stripe rate-limits past the retries.
        for _ in 0..3 {
            stripe.inject(
                "/v1/prices",
                429,
                "rate_limit_error",
                "rate_limit",
                "Too many requests",
            )?;
        }
        let r = subscribe(&app, &admin, &paris, "office-hours", "annuel").await?;
        assert_eq!(r.status(), 503);
        assert_eq!(
            r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            Some("60")
        );
        assert!(r.text().await?.contains("surchargé"));
        // A refusal from Stripe on the session.
        stripe.inject(
            "/v1/checkout/sessions",
            402,
            "card_error",
            "card_declined",
            "Your card was declined.",
        )?;
        let r = subscribe(&app, &admin, &paris, "office-hours", "annuel").await?;
        assert_eq!(r.status(), 402);
        assert!(r.text().await?.contains("paiement refusé"));
        // A transient 500 is retried with the same idempotency key and succeeds.
        stripe.inject("/v1/checkout/sessions", 500, "api_error", "server", "Oops")?;
        let r = subscribe(&app, &admin, &paris, "office-hours", "annuel").await?;
        assert_eq!(r.status(), 303);
        let customers = stripe
            .requests()?
            .iter()
            .filter(|(m, p, _)| m == "POST" && p == "/v1/customers")
            .count();
        assert_eq!(
            customers, 1,
            "one Stripe customer per commune, however many attempts"
        );
        assert!(entitlement(&app, t, "office-hours").await?.is_none());

        // An event for a customer Parvis does not know changes nothing.
        let unknown = serde_json::json!({
            "id": "evt_unknown_customer", "object": "event", "api_version": "2026-09-30.clover",
            "created": now(), "livemode": false, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null}, "type": "customer.created",
            "data": {"object": {"id": "cus_nobody", "object": "customer", "created": now(),
                "livemode": false}}
        });
        let (status, body) = deliver(&app, &unknown, WEBHOOK_SECRET, now()).await?;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("ignored")),
            "{body}"
        );
        app.stop().await;

        // Stripe unreachable (nothing listens there): a clear message, nothing granted. The
        // port stays bound, not listening, for the whole check: no other process can start
        // listening there meanwhile, and connections to it are refused.
        let unreachable = tokio::net::TcpSocket::new_v4()?;
        unreachable.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let closed = unreachable.local_addr()?;
        let app = TestApp::start_configured(backend, 0, move |c| {
            c.stripe_secret_key = Some(SECRET_KEY.into());
            c.stripe_api_base = Some(format!("http://{closed}/"));
        })
        .await?;
        let (paris, admin) = self::paris(&app).await?;
        let r = subscribe(&app, &admin, &paris, "office-hours", "mensuel").await?;
        expect_page(r, 502, "ne répond pas").await?;
        drop(unreachable);
        app.stop().await;

        // No Stripe key: the page says so and subscribing is refused.
        let app = TestApp::start(backend).await?;
        let (paris, admin) = self::paris(&app).await?;
        let page = admin
            .get(app.url(Some(&paris), "/admin/billing"))
            .send()
            .await?
            .text()
            .await?;
        assert!(page.contains("n'est pas configuré"), "{page}");
        let r = subscribe(&app, &admin, &paris, "office-hours", "mensuel").await?;
        assert_eq!(r.status(), 503);
        let r = app
            .bare_client()?
            .post(app.url(None, "/billing/stripe/webhook"))
            .header("stripe-signature", "t=1,v1=00")
            .body("{}")
            .send()
            .await?;
        assert_eq!(
            (r.status().as_u16(), api_code(r).await?),
            (503, "not_configured".into()),
            "no webhook secret configured"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_gift_is_paid_to_the_commune_and_counted_once,
    |backend| async move {
        let stripe = FakeStripe::start().await?;
        let app = start(backend, &stripe).await?;
        let (paris, admin) = paris(&app).await?;
        let t = parvis_tests::donations::turn_on(&app, &paris).await?;
        let id = parvis_tests::donations::open_campaign(&app, &admin, &paris, "Restaurer l'orgue")
            .await?;
        app.account("claire@example.org", PASSWORD).await?;
        let claire = app
            .signed_in(Some(&paris), "claire@example.org", PASSWORD)
            .await?;
        let campaign = app.url(Some(&paris), &format!("/m/donations/{id}"));
        let give = |amount: &'static str| {
            let claire = claire.clone();
            let campaign = campaign.clone();
            async move {
                let token = form_token(&claire, &campaign).await?;
                anyhow::Ok(
                    claire
                        .post(format!("{campaign}/donner"))
                        .form(&[
                            ("csrf_token", token.as_str()),
                            ("montant", amount),
                            ("afficher", "on"),
                        ])
                        .send()
                        .await?,
                )
            }
        };

        // The commune has not connected its payment account yet: the page says so instead of
        // a form, and a gift posted anyway records nothing.
        let gift_form = |page: &str| {
            parvis_tests::html::attrs(page, "form", "action")
                .map(|actions| actions.iter().any(|a| a.ends_with("/donner")))
        };
        let page = claire.get(&campaign).send().await?.text().await?;
        assert!(!gift_form(&page)?, "{page}");
        assert!(
            parvis_tests::html::texts(&page, "main .notice")?
                .iter()
                .any(|n| n.starts_with("La commune n'a pas encore relié son compte de paiement")),
            "{page}"
        );
        let r = give("25").await?;
        assert_eq!(r.status(), 503);
        assert!(r.text().await?.contains("compte de paiement"));

        let mut tx = app.state.db.tenant(t).begin_write().await?;
        parvis_billing::store::set_connected_account(&mut tx, "acct_paris_mairie").await?;
        tx.commit().await?;
        let page = claire.get(&campaign).send().await?.text().await?;
        assert!(
            gift_form(&page)?,
            "the form, once payments are open: {page}"
        );
        let r = give("25").await?;
        assert_eq!(r.status(), 303, "{}", r.text().await?);
        let checkout = location(&r);
        assert!(
            checkout.starts_with("https://checkout.stripe.test/"),
            "{checkout}"
        );
        let session = stripe.session_of_url(&checkout)?;
        assert_eq!(session["mode"], "payment");
        assert_eq!(session["amount_total"], 2500);
        let on_account = stripe.requests()?.iter().any(|(_, p, a)| {
            p == "/v1/checkout/sessions" && a.as_deref() == Some("acct_paris_mairie")
        });
        assert!(
            on_account,
            "the session is created on the commune's connected account"
        );

        let events = stripe.complete_checkout(&checkout)?;
        assert_eq!(events[0]["account"], "acct_paris_mairie");
        deliver_all(&app, &events).await?;
        let (status, body) = deliver(&app, &events[0], WEBHOOK_SECRET, now()).await?;
        assert_eq!((status, body["outcome"].as_str()), (200, Some("replayed")));
        let page = claire.get(&campaign).send().await?.text().await?;
        assert!(
            page.contains("<strong>25 €</strong> collectés"),
            "counted once: {page}"
        );
        app.smtp
            .wait_for("claire@example.org", "Merci pour votre don")
            .await?;
        app.stop().await;
        Ok(())
    }
);

/// How many times an event id is recorded (applied or acknowledged).
async fn recorded(app: &TestApp, id: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM billing_events WHERE id = $1")
            .bind(id)
            .fetch_one(app.state.db.platform())
            .await?,
    )
}

/// Delivers raw bytes signed with `header`.
async fn deliver_raw(app: &TestApp, body: Vec<u8>, header: &str) -> Result<(u16, Value)> {
    let r = app
        .bare_client()?
        .post(app.url(None, "/billing/stripe/webhook"))
        .header("stripe-signature", header)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    Ok((r.status().as_u16(), r.json().await?))
}

both_backends!(
    events_parvis_does_not_know_are_acknowledged_and_known_ones_still_applied,
    |backend| async move {
        let stripe = FakeStripe::start().await?;
        publish_grid(&stripe).await?;
        let app = start(backend, &stripe).await?;
        let (paris, admin) = paris(&app).await?;
        let t = tenant(&app, &paris).await?;
        let r = subscribe(&app, &admin, &paris, "office-hours", "mensuel").await?;
        let events = stripe.complete_checkout(&location(&r))?;
        deliver_all(&app, &events).await?;
        let sub = events
            .iter()
            .find(|e| e["type"] == "customer.subscription.created")
            .and_then(|e| e["data"]["object"]["id"].as_str())
            .context("subscription event")?
            .to_string();
        assert!(entitlement(&app, t, "office-hours").await?.is_some());

        // A type Stripe added after this client was written: 200, recorded once, twice = replay.
        let novel = serde_json::json!({
            "id": "evt_from_the_future", "object": "event", "api_version": "2099-01-01.future",
            "created": now(), "livemode": false, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null},
            "type": "treasury.teleportation.completed",
            "data": {"object": {"id": "tp_1", "object": "teleportation", "speed": "warp"}}
        });
        let (status, body) = deliver(&app, &novel, WEBHOOK_SECRET, now()).await?;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("ignored")),
            "{body}"
        );
        let (status, body) = deliver(&app, &novel, WEBHOOK_SECRET, now()).await?;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("replayed")),
            "{body}"
        );
        assert_eq!(recorded(&app, "evt_from_the_future").await?, 1);

        // A known type whose object has fields and enum values the typed client does not
        // know: acknowledged, and acted on (the subscription is re-read from Stripe).
        let mut cancelled = stripe.cancel(&sub)?.remove(0);
        let object = &mut cancelled["data"]["object"];
        object["status"] = "suspended_by_regulator".into();
        object["collection_method"] = "barter".into();
        object["billing_mode"]["type"] = "quantum".into();
        object["a_field_from_2099"] = serde_json::json!({"nested": [1, 2, 3]});
        cancelled["data"]["previous_attributes"] = serde_json::json!({"status": "dormant"});
        let (status, body) = deliver(&app, &cancelled, WEBHOOK_SECRET, now()).await?;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("applied")),
            "{body}"
        );
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("canceled")),
            "Stripe's own state is applied, not the event's copy: {body}"
        );
        assert!(entitlement(&app, t, "office-hours").await?.is_none());

        // Refused: the signature is checked on the raw bytes, and its time too.
        let payload = serde_json::to_vec(&novel)?;
        let header = FakeStripe::sign(std::str::from_utf8(&payload)?, WEBHOOK_SECRET, now())?;
        let mut tampered = payload.clone();
        tampered.push(b' ');
        let (status, body) = deliver_raw(&app, tampered, &header).await?;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_signature"))
        );
        let (status, body) = deliver_raw(&app, payload.clone(), "t=abc,v1=zz").await?;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_signature"))
        );
        let stale = FakeStripe::sign(std::str::from_utf8(&payload)?, WEBHOOK_SECRET, now() - 301)?;
        let (status, body) = deliver_raw(&app, payload.clone(), &stale).await?;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("stale_signature"))
        );
        let future = FakeStripe::sign(std::str::from_utf8(&payload)?, WEBHOOK_SECRET, now() + 900)?;
        let (status, body) = deliver_raw(&app, payload, &future).await?;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("stale_signature"))
        );
        // Correctly signed bytes that are not an event at all.
        let junk = b"\xff\xfe not json".to_vec();
        let header = {
            use hmac::Mac as _;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes())?;
            let t = now();
            mac.update(format!("{t}.").as_bytes());
            mac.update(&junk);
            format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
        };
        let (status, body) = deliver_raw(&app, junk, &header).await?;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_event"))
        );
        app.stop().await;
        Ok(())
    }
);

/// The local Stripe keeps Stripe's promise on `Idempotency-Key`: a retry that races the
/// original (Parvis retries a POST with the same key) gets the original's object, not a second
/// one. The fake used to check for a replay and record the answer in two holds of its lock,
/// so two requests at once could both miss and create one each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_stripe_answers_one_idempotency_key_once_even_at_once() -> Result<()> {
    let stripe = FakeStripe::start().await?;
    let client = reqwest::Client::new();
    let keys: Vec<String> = (0..40).map(|i| format!("parvis-test-key-{i}")).collect();
    let mut all = tokio::task::JoinSet::new();
    for key in &keys {
        for _ in 0..4 {
            let (client, url, key) = (client.clone(), stripe.url(), key.clone());
            all.spawn(async move {
                let r = client
                    .post(format!("{url}v1/customers"))
                    .bearer_auth(SECRET_KEY)
                    .header("idempotency-key", &key)
                    .form(&[("name", "Commune de Paris")])
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "{}", r.status());
                let body: Value = r.json().await?;
                let id = body["id"].as_str().context("customer id")?.to_string();
                anyhow::Ok((key, id))
            });
        }
    }
    let mut ids: std::collections::HashMap<String, std::collections::BTreeSet<String>> =
        std::collections::HashMap::new();
    for answer in all.join_all().await {
        let (key, id) = answer?;
        ids.entry(key).or_default().insert(id);
    }
    let split: Vec<_> = ids.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(split.is_empty(), "one key, several customers: {split:?}");
    assert_eq!(stripe.customers()?, keys.len(), "one customer per key");
    Ok(())
}
