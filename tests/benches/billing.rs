//! Billing figures for the closing note, on the release build over loopback:
//! - webhook throughput: signed `customer.subscription.updated` events posted by 16 concurrent
//!   senders; each is verified (HMAC, tolerance), re-read from Stripe (the local Stripe, also on
//!   loopback), applied in one transaction and recorded once; then the same events again, which
//!   are acknowledged as replays (signature check and one lookup);
//! - the billing page of a subscribed commune (tier, offers, subscription state, its invoices):
//!   p50 and p99 over sequential requests, once with the invoice list the host keeps (300 s,
//!   or until a webhook about the commune), once right after a webhook dropped it, when the
//!   page reads the invoices from the (local) Stripe again.
//!
//! Run: `cargo build --profile module --target wasm32-wasip2 -p parvis-module-office-hours
//! -p parvis-module-donations && cargo bench -p parvis-tests --bench billing`
//! (env `EVENTS`, default 3000; PostgreSQL too when `PARVIS_TEST_PG_URL` is set).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use parvis_billing::grid::Grid;
use parvis_billing::stripe::Stripe;
use parvis_core::authz::Role;
use parvis_tests::bench::percentile;
use parvis_tests::stripe::{FakeStripe, SECRET_KEY, WEBHOOK_SECRET};
use parvis_tests::{Backend, TestApp, form_token};
use serde_json::Value;

const SENDERS: usize = 16;
const PAGE_VIEWS: usize = 1000;
const FRESH_VIEWS: usize = 200;

async fn post_all(app: &TestApp, bodies: Arc<Vec<(String, String)>>) -> Result<(f64, Vec<String>)> {
    let client = app.bare_client()?;
    let url = app.url(None, "/billing/stripe/webhook");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..SENDERS {
        let (client, url, bodies, next) =
            (client.clone(), url.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((payload, signature)) = bodies.get(i) else {
                    break;
                };
                let r = client
                    .post(&url)
                    .header("stripe-signature", signature)
                    .body(payload.clone())
                    .send()
                    .await?;
                let status = r.status();
                let body: Value = r.json().await?;
                if status != 200 {
                    bail!("webhook answered {status}: {body}");
                }
                outcomes.push(body["outcome"].as_str().unwrap_or_default().to_string());
            }
            anyhow::Ok(outcomes)
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.extend(t.await??);
    }
    let rate = bodies.len() as f64 / started.elapsed().as_secs_f64();
    Ok((rate, outcomes))
}

async fn run(backend: Backend, events: usize) -> Result<()> {
    let stripe = FakeStripe::start().await?;
    Stripe::new(SECRET_KEY, Some(&stripe.url()))?
        .sync(&Grid::load(None)?, |_| {})
        .await?;
    let base = stripe.url();
    let app = TestApp::start_configured(backend, 0, move |c| {
        c.stripe_secret_key = Some(SECRET_KEY.into());
        c.stripe_webhook_secret = Some(WEBHOOK_SECRET.into());
        c.stripe_api_base = Some(base);
    })
    .await?;
    let paris = app.commune("75056").await?;
    app.install_module("parvis-module-office-hours").await?;
    let maire = app.account("maire@paris.fr", "mot-de-passe-solide").await?;
    app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
    let admin = app
        .signed_in(Some(&paris), "maire@paris.fr", "mot-de-passe-solide")
        .await?;
    let page = app.url(Some(&paris), "/admin/billing");
    let token = form_token(&admin, &page).await?;
    let r = admin
        .post(app.url(Some(&paris), "/admin/billing/souscrire"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("offre", "office-hours"),
            ("periodicite", "annuel"),
        ])
        .send()
        .await?;
    let checkout = r
        .headers()
        .get("location")
        .context("checkout")?
        .to_str()?
        .to_string();
    let mut first = Vec::new();
    let mut sub = String::new();
    for e in stripe.complete_checkout(&checkout)? {
        if e["type"] == "customer.subscription.created" {
            sub = e["data"]["object"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        let payload = serde_json::to_string(&e)?;
        let sig = FakeStripe::sign(&payload, WEBHOOK_SECRET, chrono::Utc::now().timestamp())?;
        first.push((payload, sig));
    }
    post_all(&app, Arc::new(first)).await?;

    let now = chrono::Utc::now().timestamp();
    let mut bodies = Vec::with_capacity(events);
    for _ in 0..events {
        let payload = serde_json::to_string(&stripe.touch(&sub)?)?;
        let sig = FakeStripe::sign(&payload, WEBHOOK_SECRET, now)?;
        bodies.push((payload, sig));
    }
    let bodies = Arc::new(bodies);
    let (fresh_rate, outcomes) = post_all(&app, bodies.clone()).await?;
    let applied = outcomes.iter().filter(|o| *o == "applied").count();
    if applied != events {
        bail!("{applied} of {events} events applied");
    }
    let (replay_rate, outcomes) = post_all(&app, bodies).await?;
    if outcomes.iter().any(|o| o != "replayed") {
        bail!("a replay was applied again");
    }

    // The page reads the commune's invoices from Stripe, then keeps them (300 s, or until a
    // webhook about the commune says they changed). Both are measured: views from the kept
    // list, and views right after a webhook dropped it, which read Stripe again.
    let view = async |admin: &reqwest::Client| -> Result<Duration> {
        let started = Instant::now();
        let r = admin.get(&page).send().await?;
        let status = r.status();
        let html = r.text().await?;
        let took = started.elapsed();
        if status != 200 || !html.contains("<strong>actif</strong>") {
            bail!("billing page answered {status}");
        }
        Ok(took)
    };
    let mut cached = Vec::with_capacity(PAGE_VIEWS);
    view(&admin).await?;
    for _ in 0..PAGE_VIEWS {
        cached.push(view(&admin).await?);
    }
    let mut fresh = Vec::with_capacity(FRESH_VIEWS);
    for _ in 0..FRESH_VIEWS {
        let payload = serde_json::to_string(&stripe.touch(&sub)?)?;
        let sig = FakeStripe::sign(&payload, WEBHOOK_SECRET, chrono::Utc::now().timestamp())?;
        let (_, outcomes) = post_all(&app, Arc::new(vec![(payload, sig)])).await?;
        if outcomes != ["applied"] {
            bail!("a subscription update was not applied: {outcomes:?}");
        }
        fresh.push(view(&admin).await?);
    }
    cached.sort();
    fresh.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{backend:?}:");
    println!(
        "  webhooks, new events   {fresh_rate:8.0} events/s ({events} events, {SENDERS} senders)"
    );
    println!("  webhooks, replays      {replay_rate:8.0} events/s");
    println!(
        "  billing page, invoices kept         p50 {:6.2} ms  p99 {:6.2} ms ({PAGE_VIEWS} views)",
        ms(percentile(&cached, 0.5)),
        ms(percentile(&cached, 0.99))
    );
    println!(
        "  billing page, invoices from Stripe  p50 {:6.2} ms  p99 {:6.2} ms ({FRESH_VIEWS} views, each after a webhook)",
        ms(percentile(&fresh, 0.5)),
        ms(percentile(&fresh, 0.99))
    );
    app.stop().await;
    Ok(())
}

fn main() -> Result<()> {
    let events = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        run(Backend::Sqlite, events).await?;
        if std::env::var_os("PARVIS_TEST_PG_URL").is_some() {
            run(Backend::Postgres, events).await?;
        }
        anyhow::Ok(())
    })
}
