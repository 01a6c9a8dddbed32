//! A real OpenID Connect provider standing in for FranceConnect: npm's OpenID-certified
//! `oidc-provider`, configured as FranceConnect v2 is (`tests/oidc/provider.mjs`: ES256 ID
//! tokens and userinfo JWTs, FranceConnect's claims, `eidas1`, codes of 30 s), run as its own
//! process on loopback. Tests sign in through its login page as one of its identities
//! (`tests/oidc/identities.json`: `marie`, `helene`, `karim`, `camille`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::{Backend, TestApp};

/// The platform's client id and secret at the provider.
pub const CLIENT_ID: &str = "parvis-tests";
pub const CLIENT_SECRET: &str = "un-secret-de-test-assez-long-pour-franceconnect";

/// The running provider.
pub struct Provider {
    /// Its issuer, `http://127.0.0.1:<port>/api/v2`.
    pub issuer: String,
    port: u16,
    child: Option<Child>,
}

fn script() -> PathBuf {
    crate::app::workspace_dir().join("tests/oidc/provider.mjs")
}

const NOT_LISTENING: &str = "the provider exited before listening";

/// A loopback port free now (the provider binds it a moment later).
fn free_port() -> Result<u16> {
    let socket = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(socket.local_addr()?.port())
}

impl Provider {
    /// A test app on `backend` whose FranceConnect is a provider started for it (its redirect
    /// and post-logout URIs are the app's), with the test controls on.
    pub async fn app(backend: Backend) -> Result<(TestApp, Provider)> {
        Self::app_with(backend, None).await
    }

    /// [`Provider::app`] with the identities of `identities` (a JSON file shaped as
    /// `tests/oidc/identities.json`).
    pub async fn app_with(
        backend: Backend,
        identities: Option<&std::path::Path>,
    ) -> Result<(TestApp, Provider)> {
        // The port is free when chosen, not when the provider binds it: another process may
        // take it meanwhile (CI once saw EADDRINUSE). Then both start again on another port.
        let mut attempt = 1;
        loop {
            match Self::app_on(backend, identities, free_port()?).await {
                Err(e) if attempt < 3 && e.chain().any(|c| c.to_string() == NOT_LISTENING) => {
                    eprintln!("the FranceConnect provider could not listen, again: {e:#}");
                    attempt += 1;
                }
                started => return started,
            }
        }
    }

    async fn app_on(
        backend: Backend,
        identities: Option<&std::path::Path>,
        port: u16,
    ) -> Result<(TestApp, Provider)> {
        let issuer = format!("http://127.0.0.1:{port}/api/v2");
        let configured = issuer.clone();
        let app = TestApp::start_configured(backend, 0, move |c| {
            c.franceconnect = Some(parvis_core::config::FranceConnect {
                issuer: configured,
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
            });
        })
        .await?;
        let origin = app.url(None, "");
        let provider = match Provider::start(port, &origin, identities).await {
            Ok(provider) => provider,
            Err(e) => {
                app.stop().await;
                return Err(e);
            }
        };
        anyhow::ensure!(
            provider.issuer == issuer,
            "the provider's issuer is {}, not {issuer}",
            provider.issuer
        );
        Ok((app, provider))
    }

    /// Starts the provider on `port` for the platform at `origin`.
    pub async fn start(
        port: u16,
        origin: &str,
        identities: Option<&std::path::Path>,
    ) -> Result<Provider> {
        let mut command = Command::new("node");
        command
            .arg(script())
            .env("FC_PORT", port.to_string())
            .env("FC_CLIENT_ID", CLIENT_ID)
            .env("FC_CLIENT_SECRET", CLIENT_SECRET)
            .env("FC_REDIRECT_URIS", format!("{origin}/franceconnect/retour"))
            .env(
                "FC_POST_LOGOUT_REDIRECT_URIS",
                format!("{origin}/franceconnect/sortie"),
            )
            .env("FC_TEST_CONTROLS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(file) = identities {
            command.env("FC_IDENTITIES", file);
        }
        let mut child = command
            .spawn()
            .context("starting tests/oidc/provider.mjs (needs node and `npm ci` in tests/oidc: scripts/install-deps)")?;
        let stdout = child.stdout.take().context("provider stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                let ready: serde_json::Value = serde_json::from_str(&line)?;
                if let Some(issuer) = ready["issuer"].as_str() {
                    return Ok::<String, anyhow::Error>(issuer.to_string());
                }
            }
            bail!(NOT_LISTENING)
        })
        .await
        .context("the provider did not start in 30 s")??;
        Ok(Provider {
            issuer,
            port,
            child: Some(child),
        })
    }

    async fn control(&self, path: &str, body: serde_json::Value) -> Result<()> {
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}{path}", self.port))
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 204, "{path} answered {}", r.status());
        Ok(())
    }

    /// While on, the token endpoint's ID tokens are altered after signing.
    pub async fn tamper(&self, on: bool) -> Result<()> {
        self.control("/__test/tamper", serde_json::json!({ "id_token": on }))
            .await
    }

    /// The lifetime of the codes issued from now on.
    pub async fn code_ttl(&self, seconds: u64) -> Result<()> {
        self.control(
            "/__test/code-ttl",
            serde_json::json!({ "seconds": seconds }),
        )
        .await
    }

    /// Stops the provider (FranceConnect is down).
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }
}

/// The `Location` of a redirect, absolute (relative ones are resolved against `from`).
pub fn location(from: &str, r: &reqwest::Response) -> Result<String> {
    let to = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .with_context(|| format!("{from} answered {} without a Location", r.status()))?;
    Ok(reqwest::Url::parse(from)?.join(to)?.to_string())
}

/// A browser's way through: follows redirects from `url` with `client` (cookies kept) until
/// an answer that is not one, or a URL for which `stop` says so. Returns the last URL and its
/// answer (`None` when stopped before opening it).
pub async fn follow(
    client: &reqwest::Client,
    url: &str,
    stop: impl Fn(&str) -> bool,
) -> Result<(String, Option<reqwest::Response>)> {
    let mut url = url.to_string();
    for _ in 0..20 {
        if stop(&url) {
            return Ok((url, None));
        }
        let r = client.get(&url).send().await?;
        if !r.status().is_redirection() {
            return Ok((url, Some(r)));
        }
        url = location(&url, &r)?;
    }
    bail!("more than 20 redirects from {url}")
}

/// Signs in at the provider as `login` from its login page at `url` (where the platform's
/// button led), and follows until the platform's callback, which is returned unopened.
pub async fn log_in_at_provider(
    client: &reqwest::Client,
    url: &str,
    login: &str,
) -> Result<String> {
    let (page_url, page) = follow(client, url, |u| u.contains("/franceconnect/retour")).await?;
    let Some(page) = page else {
        return Ok(page_url);
    };
    let status = page.status();
    let text = page.text().await?;
    anyhow::ensure!(
        status == 200 && text.contains("name=\"login\""),
        "expected the provider's login page at {page_url}, got {status}: {text}"
    );
    let r = client
        .post(&page_url)
        .form(&[("login", login)])
        .send()
        .await?;
    anyhow::ensure!(
        r.status().is_redirection(),
        "the provider's login answered {}: {}",
        r.status(),
        r.text().await?
    );
    let next = location(&page_url, &r)?;
    let (callback, _) = follow(client, &next, |u| u.contains("/franceconnect/retour")).await?;
    anyhow::ensure!(
        callback.contains("/franceconnect/retour"),
        "the provider did not send back to the platform: {callback}"
    );
    Ok(callback)
}
