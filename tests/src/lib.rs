//! Test harness: fresh databases on both backends, the real router on a loopback port, and a
//! real SMTP server process. Tests read like stories:
//! `let app = TestApp::start(backend).await?; let paris = app.commune("75056").await?;`

pub mod app;
pub mod db;
pub mod donations;
pub mod html;
pub mod push;
pub mod rne;
pub mod sms;
pub mod smtp;
pub mod stripe;

pub use app::{BASE, TestApp, csrf, form_token};
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

/// A form submission's outcome: its status, and where it redirects (`Location`) or, when it
/// does not, the page it answered.
pub async fn outcome(r: reqwest::Response) -> anyhow::Result<(u16, String)> {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    Ok((status, location.unwrap_or(r.text().await?)))
}
