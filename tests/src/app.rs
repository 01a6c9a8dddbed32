//! The real application on a loopback port, over a fresh database, with a real SMTP server.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_core::config::Config;
use parvis_core::state::AppState;
use parvis_core::types::{AccountId, InseeCode};
use parvis_tenants::communes::{self, Progress, Selection, Source};
use parvis_tenants::provision;
use reqwest::redirect::Policy;
use tokio::sync::oneshot;

use crate::db::{Backend, TestDb};

/// Longest a test's request may go unanswered: a request that hangs fails with its URL
/// instead of the whole test being killed at the runner's limit without saying which.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
use crate::smtp::SmtpSink;

/// Base domain used by tests; a resolver maps every name to 127.0.0.1.
pub const BASE: &str = "parvis.test";

/// Resolves every host name to loopback, so tests use real tenant URLs.
struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            let addrs: reqwest::dns::Addrs =
                Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
            Ok(addrs)
        })
    }
}

/// Which background work of `parvis serve` a test app runs.
enum Background {
    /// All of it, as `parvis serve` does.
    All,
    /// The job workers and the module host's sync, not the digest scheduler: the test drives
    /// the digests with its own clock.
    AllButDigests,
}

/// A running Parvis.
pub struct TestApp {
    /// Which backend.
    pub backend: Backend,
    /// The database.
    pub db: TestDb,
    /// The state shared with the server (for direct checks).
    pub state: AppState,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The SMTP server the app sends to.
    pub smtp: SmtpSink,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// Starts the app on a fresh database.
    pub async fn start(backend: Backend) -> Result<TestApp> {
        Self::start_with(backend, 0).await
    }

    /// Starts the app whose SMTP server fails the first `smtp_failures` messages.
    pub async fn start_with(backend: Backend, smtp_failures: u32) -> Result<TestApp> {
        Self::start_configured(backend, smtp_failures, |_| {}).await
    }

    /// Starts the app with a test's own settings on top of the defaults.
    pub async fn start_configured(
        backend: Backend,
        smtp_failures: u32,
        configure: impl FnOnce(&mut Config),
    ) -> Result<TestApp> {
        Self::launch(backend, smtp_failures, configure, Background::All).await
    }

    /// Starts the app without the digest scheduler: the test sends the digests itself, at
    /// instants it chooses (`notifications::digest::run_due`). The scheduler runs on the real
    /// clock: at start it claims the current slots (so a test's call in them finds nothing to
    /// do, whatever exists), and when 08:00 Paris time passes during a test it sends the
    /// digests the test is about to look for.
    pub async fn start_without_digest_scheduler(backend: Backend) -> Result<TestApp> {
        Self::launch(backend, 0, |_| {}, Background::AllButDigests).await
    }

    async fn launch(
        backend: Backend,
        smtp_failures: u32,
        configure: impl FnOnce(&mut Config),
        background: Background,
    ) -> Result<TestApp> {
        // Server logs (errors behind a 500 page) go to the test's output; RUST_LOG tunes them.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error")),
            )
            .with_test_writer()
            .try_init();
        let db = TestDb::fresh(backend).await?;
        // The app opens the database itself: one handle per process, as a server has. On
        // SQLite a second one would keep a second writer and a second log watcher emptying the
        // same log (the consultation benchmark saw two checkpoints a second).
        db.db.close().await;
        let smtp = SmtpSink::start(smtp_failures).await?;
        let mut config = Config::with_database(&db.url)?;
        config.base_domain = BASE.into();
        config.smtp_url = Some(smtp.url());
        // Compiled modules are shared by every test (keyed by content and engine).
        config.module_cache = workspace_dir().join("target/parvis-test-module-cache");
        // Links carry the port the tests reach the server on (as `PARVIS_PUBLIC_PORT` would).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        config.public_port = addr.port();
        // A limit the test filled stays filled however slowly the test runs (a minute's refill
        // takes an hour): a refusal is the limit's, not the machine's speed.
        config.rate_limit_slowdown = 60;
        configure(&mut config);
        let parvis::Built {
            state,
            app,
            billing,
        } = parvis::build(config).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        match background {
            Background::All => parvis::spawn_background(&state, billing),
            Background::AllButDigests => {
                // What such a test needs of `parvis::spawn_background`: the job workers and
                // the module host's sync. Not the digest loop; nor the minute's refresh of the
                // communes index and roles, nor billing's sweep (each a minute after start:
                // the test does not use them).
                drop(billing);
                state.jobs.spawn_worker();
                parvis_core::modules::spawn_background(&state.modules);
            }
        }
        tokio::spawn(parvis_core::server::serve(listener, app, async {
            let _ = stopped.await;
        }));
        Ok(TestApp {
            backend,
            db,
            state,
            addr,
            smtp,
            stop: Some(stop),
        })
    }

    /// Imports communes from the real registry without opening them (their addresses invite
    /// their mayors to ask).
    pub async fn registry(&self, insee: &[&str]) -> Result<()> {
        let codes = insee
            .iter()
            .map(|c| InseeCode::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        communes::import(
            &self.state.db,
            &Source::Embedded,
            &Selection::Only(codes),
            Progress::Hidden,
        )
        .await?;
        self.state.communes.reload(&self.state.db).await?;
        Ok(())
    }

    /// Imports a commune from the real registry and provisions it; returns its slug.
    pub async fn commune(&self, insee: &str) -> Result<String> {
        let code = InseeCode::parse(insee)?;
        self.registry(&[insee]).await?;
        let tenant = provision::create_tenant(&self.state.db, &code, None).await?;
        self.state.communes.reload(&self.state.db).await?;
        Ok(tenant.slug.to_string())
    }

    /// `client` follows commune `slug` through its page's form (`POST /suivre`).
    pub async fn follow_commune(&self, client: &reqwest::Client, slug: &str) -> Result<()> {
        let token = form_token(client, &self.url(Some(slug), "/connexion")).await?;
        let r = client
            .post(self.url(Some(slug), "/suivre"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("target", "commune"),
                ("action", "suivre"),
            ])
            .send()
            .await?;
        // A visitor is sent to the sign-in form with a 303 too: that is no follow.
        let to = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default();
        anyhow::ensure!(
            r.status() == 303 && !to.contains("/connexion"),
            "follow {slug}: {} to {to}",
            r.status()
        );
        Ok(())
    }

    /// The form to flag the newest post on commune `slug`'s page, as `client` finds it: a
    /// card links to the post's own page, where the form is. Returns its action and token.
    pub async fn flag_form(
        &self,
        client: &reqwest::Client,
        slug: &str,
    ) -> Result<(String, String)> {
        let home = client
            .get(self.url(Some(slug), "/"))
            .send()
            .await?
            .text()
            .await?;
        let link = crate::html::attrs(&home, ".post .engagement a", "href")?
            .into_iter()
            .find(|href| href.ends_with("#signaler"))
            .ok_or_else(|| anyhow::anyhow!("no link to flag a post: {home}"))?;
        let page = client.get(&link).send().await?.text().await?;
        let action = crate::html::attrs(&page, "#signaler form", "action")?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("no flag form: {page}"))?;
        let token = csrf(&page).ok_or_else(|| anyhow::anyhow!("no token: {page}"))?;
        Ok((action, token))
    }

    /// `client` publishes `body` in commune `slug` through the form (`POST /publier`).
    pub async fn publish(&self, client: &reqwest::Client, slug: &str, body: &str) -> Result<()> {
        let r = self.post_publish(client, slug, body).await?;
        let status = r.status();
        anyhow::ensure!(
            status == 303,
            "publish in {slug}: {status}: {}",
            r.text().await?
        );
        Ok(())
    }

    /// The answer to `client` posting `body` to commune `slug`'s publishing form, whatever it is.
    pub async fn post_publish(
        &self,
        client: &reqwest::Client,
        slug: &str,
        body: &str,
    ) -> Result<reqwest::Response> {
        let token = form_token(client, &self.url(Some(slug), "/publier")).await?;
        Ok(client
            .post(self.url(Some(slug), "/publier"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("body", body),
                ("theme", ""),
            ])
            .send()
            .await?)
    }

    /// `http://<label.>parvis.test:<port><path>`; `None` = the apex.
    pub fn url(&self, slug: Option<&str>, path: &str) -> String {
        let host = match slug {
            Some(s) => format!("{s}.{BASE}"),
            None => BASE.to_string(),
        };
        format!("http://{host}:{}{path}", self.addr.port())
    }

    /// A browser-like client: cookie jar, no automatic redirects (tests follow them explicitly).
    pub fn client(&self) -> Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .cookie_store(true)
            .redirect(Policy::none())
            .dns_resolver(Arc::new(Loopback))
            .build()?)
    }

    /// A visitor's `GET` of `path` on a commune's host: the status and the answer as JSON
    /// (a JSON string holding the text when it is not JSON, such as an error page).
    pub async fn get_json(&self, slug: &str, path: &str) -> Result<(u16, serde_json::Value)> {
        status_and_json(
            self.client()?
                .get(self.url(Some(slug), path))
                .send()
                .await?,
        )
        .await
    }

    /// The text of `url` as a visitor who is not signed in sees it (whatever its status).
    pub async fn anonymous_page(&self, url: impl reqwest::IntoUrl) -> Result<String> {
        Ok(self.client()?.get(url).send().await?.text().await?)
    }

    /// A client without a cookie jar (benchmarks set each request's cookies themselves).
    pub fn bare_client(&self) -> Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(Policy::none())
            .dns_resolver(Arc::new(Loopback))
            .pool_max_idle_per_host(128)
            .build()?)
    }

    /// A verified account with `password`, created directly. Its display name is
    /// [`display_name`]`(email)`, not the address: pages name people by it, and a check for a
    /// name must not pass because the address is on the page for another reason.
    pub async fn account(&self, email: &str, password: &str) -> Result<AccountId> {
        self.account_named(email, &display_name(email), password)
            .await
    }

    /// A verified account with its own display name.
    pub async fn account_named(
        &self,
        email: &str,
        name: &str,
        password: &str,
    ) -> Result<AccountId> {
        parvis_core::accounts::service::create_verified(&self.state.db, email, name, password)
            .await?
            .with_context(|| format!("an account exists for {email}"))
    }

    /// The id of the commune `slug`.
    pub async fn tenant_id(&self, slug: &str) -> Result<parvis_core::types::TenantId> {
        Ok(parvis_tenants::provision::find_by_slug(
            &self.state.db,
            &parvis_core::types::Slug::parse(slug)?,
        )
        .await?
        .with_context(|| format!("no commune {slug}"))?
        .id)
    }

    /// Drops what `module` keeps under `key` in the server's memory for commune `slug` (the
    /// contract's `cache`), as if it had expired.
    pub async fn forget_module_cache(&self, slug: &str, module: &str, key: &str) -> Result<()> {
        let owner = (
            self.tenant_id(slug).await?,
            parvis_core::types::ModuleId::parse(module)?,
        );
        self.state
            .modules
            .services()
            .module_cache()
            .forget(&owner, key);
        Ok(())
    }

    /// Changes document `key` of `module`'s `collection` in commune `slug` with `change`, in
    /// the database (as if time had passed: a date moved back), keeping its version.
    pub async fn edit_module_doc(
        &self,
        slug: &str,
        module: &str,
        collection: &str,
        key: &str,
        change: impl FnOnce(&mut serde_json::Value) -> Result<()>,
    ) -> Result<()> {
        use parvis_core::db::TenantSql as _;
        // A writer's transaction: on SQLite it waits for the commune's turn at the writer (the
        // job queue may be writing) instead of failing when its read turns into a write.
        let mut tx = self
            .state
            .db
            .tenant(self.tenant_id(slug).await?)
            .begin_write()
            .await?;
        let value: String = tx
            .scoped_scalar(
                "SELECT value FROM module_docs WHERE tenant_id = $1 AND module_id = $2 \
                 AND collection = $3 AND key = $4",
            )
            .bind(module)
            .bind(collection)
            .bind(key)
            .fetch_one(&mut tx)
            .await?;
        let mut value: serde_json::Value = serde_json::from_str(&value)?;
        change(&mut value)?;
        tx.scoped(
            "UPDATE module_docs SET value = $5 WHERE tenant_id = $1 AND module_id = $2 \
             AND collection = $3 AND key = $4",
        )
        .bind(module)
        .bind(collection)
        .bind(key)
        .bind(value.to_string())
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Waits (up to 30 s) until the job queue has nothing left to run: no job waiting, running
    /// or due for a retry. Every e-mail, push, text message and notice the actions so far
    /// caused has then been delivered (or given up), so a check that one did not go can be
    /// made without a fixed sleep.
    pub async fn settle_jobs(&self) -> Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let pending: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT kind, last_error FROM jobs WHERE done_at IS NULL AND failed_at IS NULL",
            )
            .fetch_all(self.state.db.platform())
            .await?;
            if pending.is_empty() {
                // And this process was told of what they wrote (PostgreSQL's change notices).
                self.state.db.sync_changes().await;
                return Ok(());
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "jobs still pending after 30 s (kind, last error): {pending:?}"
            );
            // Wake the workers rather than wait for their one-second poll.
            self.state.jobs.notify();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Grants a role in a commune (by slug) or on the platform (`None`).
    pub async fn grant(&self, account: &AccountId, role: Role, slug: Option<&str>) -> Result<()> {
        let domain = match slug {
            Some(s) => {
                let slug = parvis_core::types::Slug::parse(s)?;
                provision::find_by_slug(&self.state.db, &slug)
                    .await?
                    .context("no such tenant")?
                    .id
                    .authz_domain()
            }
            None => parvis_core::authz::PLATFORM_DOMAIN.to_string(),
        };
        self.state.authz.grant(account, role, &domain).await?;
        Ok(())
    }

    /// A client signed in as `email` on `slug` (or the apex).
    pub async fn signed_in(
        &self,
        slug: Option<&str>,
        email: &str,
        password: &str,
    ) -> Result<reqwest::Client> {
        let client = self.client()?;
        let response = self.password_form(&client, slug, email, password).await?;
        anyhow::ensure!(
            response.status() == 303,
            "login failed: {}",
            response.status()
        );
        Ok(client)
    }

    /// Sends the sign-in form (e-mail and password) with `client`; the answer.
    async fn password_form(
        &self,
        client: &reqwest::Client,
        slug: Option<&str>,
        email: &str,
        password: &str,
    ) -> Result<reqwest::Response> {
        let html = client
            .get(self.url(slug, "/connexion"))
            .send()
            .await?
            .text()
            .await?;
        let token = csrf(&html).context("login form without CSRF token")?;
        Ok(client
            .post(self.url(slug, "/connexion"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", email),
                ("password", password),
                ("next", "/"),
            ])
            .send()
            .await?)
    }

    /// A client signed in as `email` on `slug` (or the apex) with two-factor authentication,
    /// as platform administrators must: the account's authenticator is set up in the database
    /// (its enrolment is `two_factor`'s test), then the password and the current code go
    /// through the sign-in forms.
    pub async fn signed_in_with_code(
        &self,
        slug: Option<&str>,
        email: &str,
        password: &str,
    ) -> Result<reqwest::Client> {
        const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        sqlx::query(
            "UPDATE accounts SET totp_secret = $1, totp_enabled_at = 1, totp_last_step = NULL \
             WHERE email = $2",
        )
        .bind(SECRET)
        .bind(email)
        .execute(self.state.db.platform())
        .await?;
        let client = self.client()?;
        let r = self.password_form(&client, slug, email, password).await?;
        anyhow::ensure!(r.status() == 303, "password step: {}", r.status());
        let step = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs(),
        )? / 30;
        let code = parvis_core::accounts::totp::code_at(SECRET, step).context("a code")?;
        let token = crate::form_token(&client, &self.url(slug, "/connexion/code")).await?;
        let r = client
            .post(self.url(slug, "/connexion/code"))
            .form(&[("csrf_token", token.as_str()), ("code", code.as_str())])
            .send()
            .await?;
        anyhow::ensure!(r.status() == 303, "code step: {}", r.status());
        Ok(client)
    }

    /// A client signed in as `account` on `slug` without the sign-in form: its session opened
    /// directly, for a test that needs more people than the sign-in's per-address limit lets
    /// one address sign in (the form itself is tested in `accounts`).
    pub async fn session_client(&self, slug: &str, account: &AccountId) -> Result<reqwest::Client> {
        let cookie = parvis_core::web::session::open(
            &self.state.db,
            account,
            &parvis_core::web::session::CookieScope {
                secure: false,
                domain: Some(BASE.to_string()),
            },
        )
        .await?;
        let jar = Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(cookie.to_str()?, &self.url(Some(slug), "/").parse()?);
        Ok(reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .cookie_provider(jar)
            .redirect(Policy::none())
            .dns_resolver(Arc::new(Loopback))
            .build()?)
    }

    /// Installs a module component built by the test command (see [`module_wasm`]).
    pub async fn install_module(&self, package: &str) -> Result<String> {
        let wasm = std::fs::read(module_wasm(package)?)?;
        let manifest = self.state.modules.install(&wasm).await?;
        Ok(manifest.id)
    }

    /// Provisions the communes of `insee` (their slugs, in order), installs `package` and
    /// switches it on for each; returns the module's id with the slugs.
    pub async fn module_in(&self, package: &str, insee: &[&str]) -> Result<(String, Vec<String>)> {
        let id = self.install_module(package).await?;
        let mut slugs = Vec::with_capacity(insee.len());
        for code in insee {
            let slug = self.commune(code).await?;
            self.enable_module(&slug, &id).await?;
            slugs.push(slug);
        }
        Ok((id, slugs))
    }

    /// [`TestApp::module_in`] for a fixed list of communes: their slugs, in order.
    pub async fn module_in_each<const N: usize>(
        &self,
        package: &str,
        insee: [&str; N],
    ) -> Result<[String; N]> {
        let (_, slugs) = self.module_in(package, &insee).await?;
        slugs
            .try_into()
            .map_err(|slugs: Vec<String>| anyhow::anyhow!("{N} communes expected: {slugs:?}"))
    }

    /// Switches an installed module on for a commune.
    pub async fn enable_module(&self, slug: &str, id: &str) -> Result<()> {
        let slug = parvis_core::types::Slug::parse(slug)?;
        let tenant = provision::find_by_slug(&self.state.db, &slug)
            .await?
            .context("no such tenant")?;
        parvis_core::modules::service::enable(
            &self.state.modules,
            &self.state.db.tenant(tenant.id),
            id,
            None,
        )
        .await?;
        self.state.db.sync_changes().await;
        Ok(())
    }

    /// Stops the server and the SMTP sink.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.state.db.close().await;
        self.smtp.stop().await;
    }
}

/// The display name [`TestApp::account`] gives `email`: its local part and the first label
/// of its domain, as words with a capital (`maire.prive@paris.test` → « Maire Prive Paris »).
pub fn display_name(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let domain = domain.split('.').next().unwrap_or_default();
    local
        .split(['.', '-', '_', '+'])
        .chain(std::iter::once(domain))
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The workspace root.
pub fn workspace_dir() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The component of module package `package` (e.g. `parvis-module-polls`), built by
/// `cargo build --profile module --target wasm32-wasip2` (scripts/test does it first).
pub fn module_wasm(package: &str) -> Result<std::path::PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"));
    let path = target
        .join("wasm32-wasip2/module")
        .join(format!("{}.wasm", package.replace('-', "_")));
    anyhow::ensure!(
        path.exists(),
        "{} is missing: build the modules first (scripts/test does: cargo build --profile module --target wasm32-wasip2 -p {package})",
        path.display()
    );
    Ok(path)
}

/// The CSRF token embedded in a page.
pub fn csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    let rest = &html[at..];
    Some(rest[..rest.find('"')?].to_string())
}

/// GETs a page and returns its CSRF token.
pub async fn form_token(client: &reqwest::Client, url: &str) -> Result<String> {
    let html = client.get(url).send().await?.text().await?;
    csrf(&html).with_context(|| format!("no CSRF token on {url}"))
}

/// GETs `url` with `client` until `done` holds for the page (up to 10 s, every 100 ms): what
/// background jobs deliver (a notification, a delivery report). Returns the last page.
pub async fn wait_for_page(
    client: &reqwest::Client,
    url: &str,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> Result<String> {
    let mut page = String::new();
    for _ in 0..100 {
        page = client.get(url).send().await?.text().await?;
        if done(&page) {
            return Ok(page);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("{what} after 10 s: {page}")
}

/// A response's status and body as JSON (a JSON string holding the text when it is not JSON).
pub async fn status_and_json(response: reqwest::Response) -> Result<(u16, serde_json::Value)> {
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    ))
}
