//! Test harness: fresh databases on both backends, the real router on a loopback port, and a
//! real SMTP server process. Tests read like stories:
//! `let app = TestApp::start(backend).await?; let paris = app.commune("75056").await?;`

pub mod app;
pub mod bench;
pub mod db;
pub mod donations;
pub mod forms;
pub mod franceconnect;
pub mod html;
pub mod push;
pub mod rne;
pub mod sms;
pub mod smtp;
pub mod stripe;

pub use app::{BASE, TestApp, csrf, display_name, form_token, status_and_json, wait_for_page};
pub use db::{Backend, TestDb};
pub use push::{PushDevice, PushService, ReceivedPush};
pub use sms::{Sms, SmsProvider};
pub use smtp::{Mail, SmtpSink};

/// Declares one async test per backend: `both_backends!(name, |backend| async move { … })`
/// expands to `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                let f = $body;
                f($crate::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                let f = $body;
                f($crate::Backend::Postgres).await
            }
        }
    };
}

/// A `datetime-local` form value (`2026-12-01T14:30`, UTC) this far from now.
pub fn datetime_local_in(offset: chrono::Duration) -> String {
    (chrono::Utc::now() + offset)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Where `r` redirects (its `Location` header), if it does.
fn location(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_string)
}

/// A JSON answer: its status and body (`null` when the body is empty); fails, saying the
/// status and the body, when the body is not JSON.
pub async fn json_outcome(r: reqwest::Response) -> anyhow::Result<(u16, serde_json::Value)> {
    use anyhow::Context as _;
    let status = r.status().as_u16();
    let text = r.text().await?;
    let json = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).with_context(|| format!("{status}: not JSON: {text}"))?
    };
    Ok((status, json))
}

/// Whether `page` says `says`, in its HTML or in its text once tags and entities are read
/// (an apostrophe is `&#x27;` in the HTML).
fn page_says(page: &str, says: &str) -> bool {
    page.contains(says) || html::text(page).contains(says)
}

/// A form submission's outcome: its status, and where it redirects (`Location`) or, when it
/// does not, the page it answered.
pub async fn outcome(r: reqwest::Response) -> anyhow::Result<(u16, String)> {
    let status = r.status().as_u16();
    let location = location(&r);
    Ok((status, location.unwrap_or(r.text().await?)))
}

/// Checks that `r` answered `status` with a page that says `says` (in its HTML, or in its text
/// once tags and entities are read), and returns the page. A status alone is not a check: a
/// 500, a redirect to sign in or another refusal would pass for the one expected.
pub async fn expect_page(r: reqwest::Response, status: u16, says: &str) -> anyhow::Result<String> {
    let url = r.url().to_string();
    let got = r.status().as_u16();
    let location = location(&r);
    let page = r.text().await?;
    anyhow::ensure!(
        got == status,
        "{url}: expected {status}, got {got}{}: {page}",
        location.map(|l| format!(" to {l}")).unwrap_or_default()
    );
    anyhow::ensure!(
        page_says(&page, says),
        "{url} ({status}) does not say « {says} »: {page}"
    );
    Ok(page)
}

/// Checks that `r` redirects (303) to a path starting with `to`, follows it with `client`
/// and checks that the page it lands on answers 200 and says `says`; returns that page.
pub async fn expect_redirect(
    client: &reqwest::Client,
    r: reqwest::Response,
    to: &str,
    says: &str,
) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let from = r.url().clone();
    let status = r.status().as_u16();
    let location = location(&r);
    let Some(location) = location.filter(|_| status == 303) else {
        anyhow::bail!(
            "{from}: expected a redirect (303) to {to}, got {status}: {}",
            r.text().await?
        );
    };
    let target = from
        .join(&location)
        .with_context(|| format!("{from}: bad Location « {location} »"))?;
    let path = match target.query() {
        Some(q) => format!("{}?{q}", target.path()),
        None => target.path().to_string(),
    };
    anyhow::ensure!(
        path.starts_with(to) || location.starts_with(to),
        "{from}: redirects to {location}, not {to}"
    );
    expect_page(client.get(target.as_str()).send().await?, 200, says).await
}

/// A body that never ends (blanks, which JSON allows before a value), adding to `produced`
/// each 64 KiB it hands to the server: what a hostile or broken server sends a client that
/// must stop reading.
pub fn endless_body(produced: std::sync::Arc<std::sync::atomic::AtomicU64>) -> axum::body::Body {
    let blanks = axum::body::Bytes::from(vec![b' '; 64 * 1024]);
    axum::body::Body::from_stream(futures_util::stream::repeat_with(move || {
        produced.fetch_add(blanks.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok::<_, std::io::Error>(blanks.clone())
    }))
}
