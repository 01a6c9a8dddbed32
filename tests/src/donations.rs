//! Fixtures for the donations module's tests.

use anyhow::{Context as _, Result};

use crate::{TestApp, form_token};

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
