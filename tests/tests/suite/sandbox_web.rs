//! Issue 14, the page's origin: the assailant module (a real component, through the real
//! router) tries to run its own script on the commune's origin, to take the browser off-site
//! with a `<meta>` refresh, a `<base>` or a redirect, and to serve executable downloads. The
//! host answers with a policy that allows only its own static scripts, neutralised tags,
//! downloads that are files of a harmless type, refused redirects whose writes are rolled
//! back, and one short log line per refusal.

use std::io::Write;
use std::sync::Mutex;

use anyhow::Context as _;
use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, form_token};

const ASSAILANT: &str = "parvis-module-assailant";

/// Everything the server logged, for the assertions on log lines (see [`capture_logs`]).
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends the server's log lines to [`LOGS`]: installed before [`TestApp::start`], whose own
/// subscriber then stays out (one per process; every test of this file installs this one).
fn capture_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn,sqlx=error"))
        .with_ansi(false)
        .with_writer(|| Capture)
        .try_init();
}

/// The logged lines that contain `marker`.
fn logged(marker: &str) -> Vec<String> {
    let logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&logs)
        .lines()
        .filter(|l| l.contains(marker))
        .map(str::to_string)
        .collect()
}

async fn paris_with_assailant(app: &TestApp) -> anyhow::Result<String> {
    let paris = app.commune("75056").await?;
    assert_eq!(app.install_module(ASSAILANT).await?, "assailant");
    app.enable_module(&paris, "assailant").await?;
    Ok(paris)
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The sources of one directive of a Content-Security-Policy.
fn directive(csp: &str, name: &str) -> Vec<String> {
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
        .map(|rest| rest.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

both_backends!(
    module_scripts_never_run_on_the_communes_origin,
    |backend| async move {
        capture_logs();
        let app = TestApp::start(backend).await?;
        let paris = paris_with_assailant(&app).await?;
        let admin = app.account("maire@paris.fr", "une phrase de passe").await?;
        app.grant(&admin, Role::TenantAdmin, Some(&paris)).await?;
        let client = app
            .signed_in(Some(&paris), "maire@paris.fr", "une phrase de passe")
            .await?;
        let static_path = app.url(Some(&paris), "/static/");

        // The page that includes the module's script: only the host's static path runs.
        let r = client
            .get(app.url(Some(&paris), "/m/assailant/web/page"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let csp = header(&r, "content-security-policy");
        assert_eq!(
            directive(&csp, "script-src"),
            std::slice::from_ref(&static_path),
            "{csp}"
        );
        assert_eq!(
            directive(&csp, "worker-src"),
            [app.url(Some(&paris), "/sw.js")],
            "{csp}"
        );
        for (name, value) in [
            ("object-src", "'none'"),
            ("base-uri", "'none'"),
            ("frame-ancestors", "'none'"),
        ] {
            assert_eq!(directive(&csp, name), [value], "{name}: {csp}");
        }
        assert_eq!(
            directive(&csp, "form-action").first().map(String::as_str),
            Some("'self'")
        );
        // Core pages have the same script rule.
        let home = client.get(app.url(Some(&paris), "/")).send().await?;
        let core_csp = header(&home, "content-security-policy");
        assert_eq!(
            directive(&core_csp, "script-src"),
            std::slice::from_ref(&static_path),
            "{core_csp}"
        );
        assert_eq!(directive(&core_csp, "base-uri"), ["'none'"], "{core_csp}");

        // Its `<meta>` refresh and `<base>` arrive as inert elements, in any case and spacing.
        let html = r.text().await?;
        assert!(html.contains("<x-meta http-equiv=\"refresh\""), "{html}");
        assert!(html.contains("<x-BaSe HREF="), "{html}");
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<base"), "{html}");
        for (at, _) in lower.match_indices("<meta") {
            let tag = &lower[at..lower[at..].find('>').map_or(lower.len(), |end| at + end)];
            assert!(
                !tag.contains("refresh") && !tag.contains("evil"),
                "a meta tag reached the page: {tag}"
            );
        }
        assert!(
            html.contains("/m/assailant/web/js"),
            "the attack is on the page"
        );

        // The host's own script is served from the allowed path; nothing below it redirects
        // (CSP path matching stops at a redirect) or reaches a module, also through an
        // encoded `/` that a browser's CSP decodes before matching (`%2e%2e` is resolved by
        // the browser itself, before the policy sees the URL).
        let own = client
            .get(app.url(Some(&paris), "/static/search.js"))
            .send()
            .await?;
        assert_eq!(own.status(), 200);
        assert!(header(&own, "content-type").contains("javascript"));
        for path in [
            "/static/..%2F..%2Fm%2Fassailant%2Fweb%2Fjs",
            "/static/nothing.js",
        ] {
            let r = client.get(app.url(Some(&paris), path)).send().await?;
            assert_eq!(r.status(), 404, "{path}");
            assert!(r.headers().get("location").is_none(), "{path}");
        }

        // The script itself is a file to save, of a type no browser runs, in a sandbox.
        let js = client
            .get(app.url(Some(&paris), "/m/assailant/web/js"))
            .send()
            .await?;
        assert_eq!(js.status(), 200);
        assert_eq!(header(&js, "content-type"), "application/octet-stream");
        assert_eq!(
            header(&js, "content-disposition"),
            "attachment; filename=\"assailant.js\""
        );
        assert_eq!(header(&js, "x-content-type-options"), "nosniff");
        assert_eq!(
            header(&js, "content-security-policy"),
            "sandbox; default-src 'none'"
        );
        assert!(js.text().await?.contains("desactiver"));

        // Every executable or markup type becomes a plain file; data types keep theirs.
        for (declared, name, served, filename) in [
            (
                "text/html",
                "page.html",
                "application/octet-stream",
                "page.html",
            ),
            (
                "TEXT/HTML; charset=utf-8",
                "x",
                "application/octet-stream",
                "x",
            ),
            (
                "image/svg+xml",
                "logo.svg",
                "application/octet-stream",
                "logo.svg",
            ),
            (
                "application/xhtml+xml",
                "a",
                "application/octet-stream",
                "a",
            ),
            ("text/xml", "a", "application/octet-stream", "a"),
            ("application/wasm", "a", "application/octet-stream", "a"),
            (
                "application/javascript",
                "a",
                "application/octet-stream",
                "a",
            ),
            (
                "text/csv; charset=utf-8",
                "votes.csv",
                "text/csv; charset=utf-8",
                "votes.csv",
            ),
            ("text/calendar", "rdv.ics", "text/calendar", "rdv.ics"),
            ("image/png", "../../etc/\"x\".png", "image/png", "etcx.png"),
            (
                "application/pdf",
                ".htaccess",
                "application/pdf",
                "htaccess",
            ),
        ] {
            let r = client
                .get(app.url(Some(&paris), "/m/assailant/web/download"))
                .query(&[
                    ("type", declared),
                    ("name", name),
                    ("body", "<script>x</script>"),
                ])
                .send()
                .await?;
            assert_eq!(r.status(), 200, "{declared}");
            assert_eq!(header(&r, "content-type"), served, "{declared}");
            assert_eq!(
                header(&r, "content-disposition"),
                format!("attachment; filename=\"{filename}\""),
                "{declared}"
            );
            assert_eq!(header(&r, "x-content-type-options"), "nosniff");
            assert_eq!(
                header(&r, "content-security-policy"),
                "sandbox; default-src 'none'"
            );
        }

        // JSON answers are JSON, not sniffed, sandboxed.
        let j = client
            .get(app.url(Some(&paris), "/m/assailant/web/json"))
            .send()
            .await?;
        assert_eq!(j.status(), 200);
        assert!(header(&j, "content-type").starts_with("application/json"));
        assert_eq!(header(&j, "x-content-type-options"), "nosniff");
        assert_eq!(
            header(&j, "content-security-policy"),
            "sandbox; default-src 'none'"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    off_site_redirects_are_refused_rolled_back_and_logged_in_one_short_line,
    |backend| async move {
        capture_logs();
        let app = TestApp::start(backend).await?;
        let paris = paris_with_assailant(&app).await?;
        let client = app.client()?;
        let traces = || async {
            let r = client
                .get(app.url(Some(&paris), "/m/assailant/web/traces"))
                .send()
                .await?;
            let v: serde_json::Value = r.json().await?;
            v["traces"].as_u64().context("no trace count")
        };

        // A same-site redirect is answered, and its write kept.
        let r = client
            .get(app.url(Some(&paris), "/m/assailant/web/redirect"))
            .query(&[("to", "/m/assailant/web/traces?x=1")])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        assert_eq!(header(&r, "location"), "/m/assailant/web/traces?x=1");
        assert_eq!(traces().await?, 1);

        let marker = format!("evil-{}", backend_name(&app));
        for target in [
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/\r\n/evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "\\\\evil.example/",
            "https://evil.example/",
            "https:evil.example/",
            "HTTPS://evil.example/",
            "javascript:alert(1)//",
            " //evil.example/",
            "evil.example/",
        ] {
            let to = format!("{target}{marker}/");
            let r = client
                .get(app.url(Some(&paris), "/m/assailant/web/redirect"))
                .query(&[("to", to.as_str()), ("pad", "20000")])
                .send()
                .await?;
            assert_eq!(r.status(), 500, "{target:?}");
            assert!(r.headers().get("location").is_none(), "{target:?}");
            let page = r.text().await?;
            assert!(page.contains("hors du site"), "{target:?}: {page}");
            assert!(page.len() < 20_000, "the page does not carry the target");
            // The trace it wrote before answering was rolled back.
            assert_eq!(traces().await?, 1, "{target:?} kept its write");
        }

        // A form post (a writer from the start) is rolled back too.
        let token = form_token(&client, &app.url(Some(&paris), "/m/assailant/web/page")).await?;
        let r = client
            .post(app.url(Some(&paris), "/m/assailant/web/redirect"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("to", &format!("/\t/evil.example/{marker}")),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 500);
        assert!(r.headers().get("location").is_none());
        assert_eq!(traces().await?, 1);

        // One short line per refusal (the target, escaped and cut), not the page-sized target
        // or a backtrace.
        let lines = logged(&marker);
        assert_eq!(lines.len(), 13, "{lines:#?}");
        for line in &lines {
            assert!(line.len() < 1000, "a {}-byte log line", line.len());
            assert!(line.contains("hors du site"), "{line}");
            assert!(!line.contains('\t') && !line.contains('\r'), "{line}");
        }
        app.stop().await;
        Ok(())
    }
);

/// `sqlite` or `postgres`: the marker of this test's log lines, so the two backends' runs
/// (which share a process under `cargo test`) do not read each other's.
fn backend_name(app: &TestApp) -> &'static str {
    match app.backend {
        parvis_tests::Backend::Sqlite => "sqlite",
        parvis_tests::Backend::Postgres => "postgres",
    }
}
