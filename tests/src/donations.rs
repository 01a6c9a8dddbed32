//! Fixtures for the donations module's tests.

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_core::modules::service;
use parvis_core::types::{ModuleId, Slug, TenantId};

use crate::stripe::FakeStripe;
use crate::{Backend, TestApp, form_token};

/// Entitles the commune at `slug` to the premium donations module (installed already), as
/// the platform does (noted « test »), and switches it on there; the commune's tenant.
pub async fn turn_on(app: &TestApp, slug: &str) -> Result<TenantId> {
    let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(slug)?)
        .await?
        .with_context(|| format!("no commune « {slug} »"))?;
    service::entitle(
        &app.state.modules,
        &app.state.db.tenant(tenant.id),
        &ModuleId::parse("donations")?,
        "test",
        None,
    )
    .await?;
    app.enable_module(slug, "donations").await?;
    Ok(tenant.id)
}

/// Paris with the donations module on (entitled), payments through a local Stripe, and its
/// mayor (`maire@paris.fr`) signed in: the app, the Stripe, Paris' slug and tenant, and the
/// mayor's client. (Its connected account is the caller's to record: this crate does not
/// link the billing store.)
pub async fn paris_collects(
    backend: Backend,
) -> Result<(TestApp, FakeStripe, String, TenantId, reqwest::Client)> {
    const PASSWORD: &str = "mot-de-passe-solide";
    let stripe = FakeStripe::start().await?;
    let app = stripe.app(backend).await?;
    let paris = app.commune("75056").await?;
    app.install_module("parvis-module-donations").await?;
    let tenant = turn_on(&app, &paris).await?;
    let maire = app.account("maire@paris.fr", PASSWORD).await?;
    app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
    let mayor = app
        .signed_in(Some(&paris), "maire@paris.fr", PASSWORD)
        .await?;
    Ok((app, stripe, paris, tenant, mayor))
}

/// Opens a donation campaign (goal 1 000 €, open until 2099) as the commune's admin, through
/// the module's admin form, and returns its id, read from the link in the admin list.
pub async fn open_campaign(
    app: &TestApp,
    admin: &reqwest::Client,
    slug: &str,
    title: &str,
) -> Result<String> {
    let form = app.url(Some(slug), "/admin/m/donations/nouvelle");
    let token = form_token(admin, &form).await?;
    let r = admin
        .post(&form)
        .form(&[
            ("csrf_token", token.as_str()),
            ("titre", title),
            ("description", "Les tuyaux ont 150 ans."),
            ("objectif", "1 000"),
            ("echeance", "2099-12-31"),
        ])
        .send()
        .await?;
    anyhow::ensure!(r.status() == 303, "campaign not opened: {}", r.status());
    let list = admin
        .get(app.url(Some(slug), "/admin/m/donations/"))
        .send()
        .await?
        .text()
        .await?;
    let at = list
        .find("/m/donations/0")
        .with_context(|| format!("no campaign link in {list}"))?;
    Ok(list[at + "/m/donations/".len()..]
        .chars()
        .take_while(|c| *c != '"')
        .collect())
}
