//! Abuse through the real router: for each public form and API — sign-up, sign-in, password
//! reset, commune search, private messages, posts, comments, module routes, uploads, web push
//! subscriptions and the Stripe webhook — an oversized body, malformed encodings (bad UTF-8,
//! bad percent-encoding, the wrong content type, a truncated multipart body) and a flood from
//! one account or one address each get a clear 4xx, never a 5xx; meanwhile another client's
//! `/healthz` keeps answering in under 50 ms (p99).
//!
//! The probe runs on its own thread and runtime, so what it measures is the server's answer
//! time, not the test's scheduling. The cases run on SQLite only: they are about the HTTP edge,
//! which is the same on both backends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_tests::stripe::WEBHOOK_SECRET;
use parvis_tests::{Backend, TestApp, form_token};
use reqwest::multipart::{Form, Part};

const PASSWORD: &str = "mot-de-passe-solide";

/// `/healthz` answer times from a client of its own, every few milliseconds until stopped.
struct Probe {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Duration>>,
}

impl Probe {
    fn start(url: String) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return Vec::new();
            };
            rt.block_on(async move {
                let mut times = Vec::new();
                let Ok(client) = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                else {
                    return times;
                };
                while !flag.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let ok = client
                        .get(&url)
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200);
                    // A failed probe counts as the worst answer.
                    times.push(if ok {
                        started.elapsed()
                    } else {
                        Duration::from_secs(10)
                    });
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                times
            })
        });
        Probe { stop, thread }
    }

    /// Stops the probe; its samples sorted.
    fn finish(self) -> Vec<Duration> {
        self.stop.store(true, Ordering::Relaxed);
        let mut times = self.thread.join().unwrap_or_default();
        times.sort();
        times
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::MAX;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Every answer that was not what a client should get, with the request that got it.
#[derive(Default)]
struct Verdicts {
    wrong: Vec<String>,
    seen: usize,
}

impl Verdicts {
    /// A single abusive request: a 4xx.
    fn client_error(&mut self, case: &str, status: u16) {
        self.seen += 1;
        if !(400..500).contains(&status) {
            self.wrong.push(format!("{case}: {status}, expected a 4xx"));
        }
    }

    /// A flood: never a 5xx, and refused with a 429 before it ends.
    fn flood(&mut self, case: &str, statuses: &[u16]) {
        self.seen += statuses.len();
        if let Some(s) = statuses.iter().find(|s| **s >= 500) {
            self.wrong.push(format!("{case}: a {s} during the flood"));
        }
        if !statuses.contains(&429) {
            self.wrong
                .push(format!("{case}: never throttled (statuses {statuses:?})"));
        }
    }

    /// A flood where no limit applies: never a 5xx.
    fn no_server_error(&mut self, case: &str, statuses: &[u16]) {
        self.seen += statuses.len();
        if let Some(s) = statuses.iter().find(|s| **s >= 500) {
            self.wrong.push(format!("{case}: a {s} during the flood"));
        }
    }
}

/// Annecy with a citizen, its mayor, a post to comment on, and the polls module on.
struct World {
    app: TestApp,
    slug: String,
    citizen: reqwest::Client,
    mayor: reqwest::Client,
    post: String,
}

impl World {
    async fn new() -> Result<World> {
        let app = TestApp::start_configured(Backend::Sqlite, 0, |c| {
            c.stripe_webhook_secret = Some(WEBHOOK_SECRET.into());
        })
        .await?;
        let slug = app.commune("74010").await?;
        let polls = app.install_module("parvis-module-polls").await?;
        app.enable_module(&slug, &polls).await?;
        app.account("alice@example.org", PASSWORD).await?;
        let citizen = app
            .signed_in(Some(&slug), "alice@example.org", PASSWORD)
            .await?;
        let maire = app.account("maire@annecy.fr", PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&slug)).await?;
        let mayor = app
            .signed_in(Some(&slug), "maire@annecy.fr", PASSWORD)
            .await?;
        let mut world = World {
            app,
            slug,
            citizen,
            mayor,
            post: String::new(),
        };
        let token = csrf_token_of(&world.mayor, &world.url("/publier")).await?;
        let form = Form::new()
            .text("body", "Le marché de Noël ouvre samedi.")
            .text("kind", "actualite")
            .text("theme", "Culture et sport");
        let r = world
            .mayor
            .post(world.url(&format!("/publier?csrf_token={token}")))
            .multipart(form)
            .send()
            .await?;
        let location = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        world.post = location
            .split("/publications/")
            .nth(1)
            .and_then(|rest| rest.split(['/', '#', '?']).next())
            .filter(|id| !id.is_empty())
            .with_context(|| format!("no post published: {} {location}", r.status()))?
            .to_string();
        Ok(world)
    }

    fn url(&self, path: &str) -> String {
        self.app.url(Some(&self.slug), path)
    }

    fn apex(&self, path: &str) -> String {
        self.app.url(None, path)
    }

    /// An anonymous client holding a CSRF cookie, and its token (from `page`).
    async fn visitor(&self, page: &str) -> Result<(reqwest::Client, String)> {
        let client = self.app.client()?;
        let token = csrf_token_of(&client, &self.url(page)).await?;
        Ok((client, token))
    }

    /// POSTs raw `body` with `content_type` as `client`, the CSRF token in the header.
    async fn post_raw(
        &self,
        client: &reqwest::Client,
        token: &str,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<u16> {
        self.send(client, url, Some(token), content_type, body)
            .await
    }

    /// POSTs an urlencoded body as `client`, the CSRF token inside it.
    async fn post_form(
        &self,
        client: &reqwest::Client,
        token: &str,
        url: &str,
        rest: &[u8],
    ) -> Result<u16> {
        let mut body = format!("csrf_token={token}&").into_bytes();
        body.extend_from_slice(rest);
        self.send(client, url, None, FORM, body).await
    }

    /// Sends one POST. The server answers an oversized body with a 413 and closes the
    /// connection, possibly before the client has written it all (the client then sees only
    /// the connection end, counted as the 413 it was); a request that went out on a
    /// connection the server had just closed is sent again once.
    async fn send(
        &self,
        client: &reqwest::Client,
        url: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<u16> {
        let large = body.len() > 200 << 10;
        let mut last = None;
        for _ in 0..2 {
            let mut r = client
                .post(url)
                .header("content-type", content_type)
                .body(body.clone());
            if let Some(token) = token {
                r = r.header("x-csrf-token", token);
            }
            match r.send().await {
                Ok(r) => return Ok(r.status().as_u16()),
                Err(e) if large && !e.is_timeout() => return Ok(413),
                Err(e) if e.is_timeout() => return Err(e.into()),
                Err(e) => last = Some(e),
            }
        }
        Err(anyhow::anyhow!("POST {url}: {:?}", last))
    }
}

/// Sends the request `make` builds; once more (twice at most) when it went out on a connection
/// the server had just closed after refusing an oversized body. For a `large` body, the
/// connection ending before an answer is the server's 413 (it stops reading at the limit).
async fn status(make: impl Fn() -> reqwest::RequestBuilder, large: bool) -> Result<u16> {
    let mut last = None;
    for _ in 0..3 {
        match make().send().await {
            Ok(r) => return Ok(r.status().as_u16()),
            Err(e) if large && !e.is_timeout() => return Ok(413),
            Err(e) if e.is_timeout() => return Err(e.into()),
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow::anyhow!("request failed three times: {last:?}"))
}

/// The CSRF token of `client` from the form at `url` (again if the connection was closed).
async fn csrf_token_of(client: &reqwest::Client, url: &str) -> Result<String> {
    let mut last = None;
    for _ in 0..3 {
        match form_token(client, url).await {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no token")))
}

const FORM: &str = "application/x-www-form-urlencoded";

/// The public forms: (name, page with the form, where it posts, who sends it).
fn forms(w: &World) -> Vec<(&'static str, String, String, bool)> {
    vec![
        (
            "sign-up",
            "/inscription".into(),
            "/inscription".into(),
            false,
        ),
        ("sign-in", "/connexion".into(), "/connexion".into(), false),
        (
            "reset",
            "/mot-de-passe-oublie".into(),
            "/mot-de-passe-oublie".into(),
            false,
        ),
        (
            "message",
            "/messages/nouveau".into(),
            "/messages/nouveau".into(),
            true,
        ),
        (
            "comment",
            format!("/publications/{}", w.post),
            format!("/publications/{}/commentaires", w.post),
            true,
        ),
        // The CSRF token is the visitor's cookie: any page with a form gives it.
        ("module", "/connexion".into(), "/m/polls/x".into(), false),
        (
            "profile",
            "/mon-compte/profil".into(),
            "/mon-compte/profil".into(),
            true,
        ),
    ]
}

async fn oversized_and_malformed(w: &World, v: &mut Verdicts) -> Result<()> {
    for (name, page, action, signed) in forms(w) {
        let (client, token) = if signed {
            let token = csrf_token_of(&w.citizen, &w.url(&page)).await?;
            (w.citizen.clone(), token)
        } else {
            w.visitor(&page).await?
        };
        let url = w.url(&action);
        // Past the host's 4 MiB, past the CSRF layer's 1 MiB, past a module's 256 KiB.
        for size in [5 << 20, (1 << 20) + 10, 300 << 10] {
            let mut field = b"email=".to_vec();
            field.resize(size, b'a');
            let s = w.post_form(&client, &token, &url, &field).await?;
            let case = format!("{name}: POST {action} urlencoded {size} B");
            if size > 1 << 20 || name == "module" {
                v.client_error(&case, s);
            } else {
                // Under the host's limits a long field is the form's business: its page
                // says what is wrong. Never a 5xx.
                v.no_server_error(&case, &[s]);
            }
        }
        // Two million empty fields (the module fault of issue 13 §1).
        let s = w
            .post_form(&client, &token, &url, "a&".repeat(1 << 20).as_bytes())
            .await?;
        v.client_error(
            &format!("{name}: POST {action} with a million empty fields"),
            s,
        );
        let cases: [(&str, &str, Vec<u8>); 5] = [
            (
                "bad UTF-8",
                FORM,
                b"email=\xff\xfe\xfd&password=\xc3".to_vec(),
            ),
            (
                "bad percent-encoding",
                FORM,
                b"email=%ZZ%&password=%C3%&body=%".to_vec(),
            ),
            (
                "JSON body",
                "application/json",
                br#"{"email": "x@y.fr"}"#.to_vec(),
            ),
            ("text/plain body", "text/plain", b"email=x@y.fr".to_vec()),
            (
                "truncated multipart",
                "multipart/form-data; boundary=XX",
                b"--XX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx@y".to_vec(),
            ),
        ];
        for (what, content_type, body) in cases {
            let s = w
                .post_raw(&client, &token, &url, content_type, body)
                .await?;
            // A form with bad bytes may still be answered as a form (the field is refused
            // with its page): what it must never be is a 5xx.
            v.no_server_error(&format!("{name}: POST {action} {what}"), &[s]);
        }
    }

    // Uploads: a body past the limit, and a truncated multipart body.
    let avatar = w.url("/mon-compte/avatar");
    let token = csrf_token_of(&w.citizen, &w.url("/mon-compte/profil")).await?;
    let big = vec![0u8; 6 << 20];
    let s = status(
        || {
            let part = Part::bytes(big.clone()).file_name("a.png");
            w.citizen
                .post(format!("{avatar}?csrf_token={token}"))
                .multipart(Form::new().part("avatar", part))
        },
        true,
    )
    .await?;
    v.client_error("avatar: 6 MiB upload", s);
    for (path, token_page, client) in [
        ("/mon-compte/avatar", "/mon-compte/profil", &w.citizen),
        ("/publier", "/publier", &w.mayor),
    ] {
        let token = csrf_token_of(client, &w.url(token_page)).await?;
        let url = w.url(&format!("{path}?csrf_token={token}"));
        let s = status(
            || {
                client
                    .post(&url)
                    .header("content-type", "multipart/form-data; boundary=XX")
                    .body(&b"--XX\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n"[..])
            },
            false,
        )
        .await?;
        v.client_error(&format!("POST {path}: truncated multipart"), s);
        let s = status(
            || {
                client
                    .post(&url)
                    .header("content-type", "multipart/form-data")
                    .body("no boundary")
            },
            false,
        )
        .await?;
        v.client_error(&format!("POST {path}: multipart without boundary"), s);
    }
    // A post body past the upload limit.
    let token = csrf_token_of(&w.mayor, &w.url("/publier")).await?;
    let huge = Part::bytes(vec![b'a'; 40 << 20])
        .file_name("x.pdf")
        .mime_str("application/pdf")?;
    let s = w
        .mayor
        .post(w.url(&format!("/publier?csrf_token={token}")))
        .multipart(Form::new().text("body", "x").part("document_1", huge))
        .send()
        .await
        .map(|r| r.status().as_u16())
        // The server may close the connection once the limit is passed.
        .unwrap_or(413);
    v.client_error("POST /publier: 40 MiB body", s);

    // Web push subscription (JSON API): oversized, not JSON, wrong type.
    let token = csrf_token_of(&w.citizen, &w.url("/notifications/appareils")).await?;
    let push = w.url("/notifications/push/abonnement");
    for (what, content_type, body) in [
        ("64 KiB JSON", "application/json", vec![b' '; 64 << 10]),
        (
            "bad UTF-8",
            "application/json",
            b"{\"endpoint\": \"\xff\"}".to_vec(),
        ),
        (
            "truncated JSON",
            "application/json",
            b"{\"endpoint\": \"https://".to_vec(),
        ),
        ("urlencoded", FORM, b"endpoint=https://x".to_vec()),
    ] {
        let s = w
            .post_raw(&w.citizen, &token, &push, content_type, body)
            .await?;
        v.client_error(&format!("POST /notifications/push/abonnement {what}"), s);
    }

    // Search: a 60 KB query and a bad percent-encoding, on the apex and the API.
    let long = "a".repeat(60_000);
    for url in [
        w.apex(&format!("/communes/recherche?q={long}")),
        w.apex(&format!("/api/v1/communes?q={long}")),
        w.apex(&format!("/?q={long}")),
    ] {
        let client = w.app.bare_client()?;
        let s = status(|| client.get(&url), false).await?;
        v.no_server_error("search: 60 KB q", &[s]);
    }
    for url in [
        w.apex("/communes/recherche?q=%ZZ%FF"),
        w.apex("/api/v1/communes?q=%C3"),
    ] {
        let client = w.app.bare_client()?;
        let s = status(|| client.get(&url), false).await?;
        v.no_server_error(&format!("search: GET {url}"), &[s]);
    }

    // The Stripe webhook: oversized, unsigned, not an event.
    let hook = w.apex("/billing/stripe/webhook");
    for (what, sig, body) in [
        ("300 KiB", "t=1,v1=00", vec![b' '; 300 << 10]),
        ("no signature", "", b"{}".to_vec()),
        ("bad UTF-8", "t=1,v1=00", b"\xff\xfe".to_vec()),
    ] {
        let client = w.app.bare_client()?;
        let large = body.len() > 200 << 10;
        let s = status(
            || {
                let r = client.post(&hook).body(body.clone());
                if sig.is_empty() {
                    r
                } else {
                    r.header("stripe-signature", sig)
                }
            },
            large,
        )
        .await?;
        v.client_error(&format!("webhook: {what}"), s);
    }
    Ok(())
}

async fn floods(w: &World, v: &mut Verdicts) -> Result<()> {
    // From one address: wrong passwords for many accounts, padded variants of one address.
    let (client, token) = w.visitor("/connexion").await?;
    let mut statuses = Vec::new();
    for i in 0..30 {
        let body = format!("email=victim{i}%40example.org&password=guess{i}");
        statuses.push(
            w.post_form(&client, &token, &w.url("/connexion"), body.as_bytes())
                .await?,
        );
    }
    v.flood("sign-in from one address, 30 accounts", &statuses);
    let (client, token) = w.visitor("/mot-de-passe-oublie").await?;
    let mut statuses = Vec::new();
    for i in 0..25 {
        let pad = "%20".repeat(i % 5);
        let tab = "%09".repeat(i / 5);
        let body = format!("email={pad}alice%40example.org{tab}");
        statuses.push(
            w.post_form(
                &client,
                &token,
                &w.url("/mot-de-passe-oublie"),
                body.as_bytes(),
            )
            .await?,
        );
    }
    v.flood("reset of one padded address", &statuses);
    let (client, token) = w.visitor("/inscription").await?;
    let mut statuses = Vec::new();
    for i in 0..30 {
        let body =
            format!("display_name=Bot{i}&email=bot{i}%40example.org&password=mot-de-passe-solide");
        statuses.push(
            w.post_form(&client, &token, &w.url("/inscription"), body.as_bytes())
                .await?,
        );
    }
    v.flood("sign-up from one address", &statuses);

    // From one account: comments, messages, avatar uploads.
    let page = format!("/publications/{}", w.post);
    let token = csrf_token_of(&w.citizen, &w.url(&page)).await?;
    let mut statuses = Vec::new();
    for i in 0..40 {
        let body = format!("body=Commentaire+{i}");
        statuses.push(
            w.post_form(
                &w.citizen,
                &token,
                &w.url(&format!("/publications/{}/commentaires", w.post)),
                body.as_bytes(),
            )
            .await?,
        );
    }
    v.flood("comments from one account", &statuses);
    let token = csrf_token_of(&w.citizen, &w.url("/messages/nouveau")).await?;
    let mut statuses = Vec::new();
    for i in 0..40 {
        let body = format!("subject=Question+{i}&body=Bonjour+{i}");
        statuses.push(
            w.post_form(
                &w.citizen,
                &token,
                &w.url("/messages/nouveau"),
                body.as_bytes(),
            )
            .await?,
        );
    }
    v.flood("messages from one account", &statuses);
    let token = csrf_token_of(&w.citizen, &w.url("/mon-compte/profil")).await?;
    let png = tiny_png()?;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let url = w.url(&format!("/mon-compte/avatar?csrf_token={token}"));
        statuses.push(
            status(
                || {
                    let part = match Part::bytes(png.clone())
                        .file_name("a.png")
                        .mime_str("image/png")
                    {
                        Ok(part) => part,
                        Err(_) => Part::bytes(png.clone()),
                    };
                    w.citizen
                        .post(&url)
                        .multipart(Form::new().part("avatar", part))
                },
                false,
            )
            .await?,
        );
    }
    v.flood("avatar uploads from one account", &statuses);

    // Searches from one address, eight at a time: no limit applies, nothing may fail.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..160 {
        let client = w.app.bare_client()?;
        let url = w.apex(&format!(
            "/communes/recherche?q={}",
            "saint-".repeat(i % 16 + 1)
        ));
        set.spawn(async move { client.get(url).send().await.map(|r| r.status().as_u16()) });
        if set.len() >= 8 {
            let _ = set.join_next().await;
        }
    }
    let mut statuses = Vec::new();
    while let Some(r) = set.join_next().await {
        statuses.push(r.ok().and_then(Result::ok).unwrap_or(599));
    }
    v.no_server_error("searches from one address", &statuses);
    Ok(())
}

fn tiny_png() -> Result<Vec<u8>> {
    let img = image::RgbImage::from_pixel(4, 4, image::Rgb([200, 30, 30]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abusive_requests_get_a_clear_4xx_and_healthz_stays_fast() -> Result<()> {
    let w = World::new().await?;
    // `/healthz` answers on any host: the probe goes straight to the loopback address.
    let probe = Probe::start(format!("http://127.0.0.1:{}/healthz", w.app.addr.port()));
    let started = Instant::now();
    let mut v = Verdicts::default();
    // The floods and a second round of oversized and malformed requests go at once.
    oversized_and_malformed(&w, &mut v).await?;
    let mut second = Verdicts::default();
    let (a, b) = tokio::join!(floods(&w, &mut v), oversized_and_malformed(&w, &mut second));
    a?;
    b?;
    // More rounds until the probe has a generous sample: a p99 over a few hundred probes
    // tolerates a handful of scheduling hiccups on a loaded machine, not a stall.
    while started.elapsed() < Duration::from_secs(5) {
        oversized_and_malformed(&w, &mut second).await?;
    }
    v.wrong.extend(second.wrong);
    v.seen += second.seen;
    let took = started.elapsed();
    let times = probe.finish();
    let (p50, p99, max) = (
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or_default(),
    );
    eprintln!(
        "abuse: {} requests in {took:.1?}; /healthz {} probes: p50 {p50:.1?}, p99 {p99:.1?}, \
         max {max:.1?}",
        v.seen,
        times.len()
    );
    assert!(
        v.wrong.is_empty(),
        "abusive requests not answered with a clear 4xx:\n{}",
        v.wrong.join("\n")
    );
    assert!(times.len() >= 300, "too few probes: {}", times.len());
    assert!(
        p99 < Duration::from_millis(50),
        "/healthz p99 {p99:?} during the abuse (p50 {p50:?}, max {max:?})"
    );
    w.app.stop().await;
    Ok(())
}

/// Slowloris: connections that send half a request's head, then a byte now and then, are
/// closed at the head's deadline (`HEADER_READ_TIMEOUT`), however long the client would go
/// on; meanwhile `/healthz` answers as ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_sent_a_byte_at_a_time_is_cut_at_its_deadline() -> Result<()> {
    use parvis_core::server::HEADER_READ_TIMEOUT;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = TestApp::start(Backend::Sqlite).await?;
    let probe = Probe::start(format!("http://127.0.0.1:{}/healthz", app.addr.port()));
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = tokio::net::TcpStream::connect(app.addr).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await?;
        slow.push(stream);
    }
    // Each goes on sending a header byte every second, until the server hangs up.
    let cut = slow.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            let mut answer = Vec::new();
            for _ in 0..60 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if stream.write_all(b"X").await.is_err() {
                    break;
                }
                let mut buf = [0u8; 256];
                match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
                    Ok(Ok(0) | Err(_)) => break,
                    Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
            }
            answer
        })
    });
    let answers = futures_util::future::join_all(cut).await;
    let took = started.elapsed();
    let times = probe.finish();
    let p99 = percentile(&times, 0.99);
    eprintln!(
        "slowloris: 200 connections closed after {took:.1?}; /healthz {} probes, p99 {p99:.1?}",
        times.len()
    );
    for answer in answers {
        let answer = answer?;
        // Hyper hangs up without an answer, or with 408; never a 200 for an unfinished head.
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert!(
        took >= HEADER_READ_TIMEOUT - Duration::from_secs(1)
            && took < HEADER_READ_TIMEOUT + Duration::from_secs(10),
        "the heads were cut after {took:?}, not at {HEADER_READ_TIMEOUT:?}"
    );
    assert!(
        p99 < Duration::from_millis(50),
        "/healthz p99 {p99:?} while 200 heads trickled"
    );
    app.stop().await;
    Ok(())
}

/// A form's body that stops coming (here the sign-in form, an ordinary route: the module
/// routes are covered in `reports`) is answered 408 with the French page once it has sent
/// nothing for `BODY_IDLE`, and the connection is let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_body_that_stalls_is_answered_408() -> Result<()> {
    use parvis_core::web::body::BODY_IDLE;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = TestApp::start(Backend::Sqlite).await?;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await?;
    let host = format!("{}:{}", parvis_tests::BASE, app.addr.port());
    // The form carries its CSRF token: the body is read to find it.
    let token = "a".repeat(40);
    stream
        .write_all(
            format!(
                "POST /connexion HTTP/1.1\r\nHost: {host}\r\n\
                 Cookie: parvis_csrf={token}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n\
                 csrf_token={token}&email=alice%40example.org&pass"
            )
            .as_bytes(),
        )
        .await?;
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(BODY_IDLE + Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .context("the stalled body was never answered")?;
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("trop lent"), "{answer}");
    assert!(
        took >= BODY_IDLE - Duration::from_secs(1),
        "answered after {took:?}, before the body's deadline"
    );
    app.stop().await;
    Ok(())
}
