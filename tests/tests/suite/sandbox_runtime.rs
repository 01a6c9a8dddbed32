//! The runtime walls of a module call (issue 14), through the real router with the assailant
//! module enabled in Paris and Lyon: every host call counts against the call's budget and a
//! call opens at most 3 checkouts; the deadline binds in host and WASI calls; a status HTTP
//! does not allow is a module fault whose writes are rolled back; one commune's calls cannot
//! take the memory, the instance slots, the database connections or the SQLite writer of the
//! others, and a commune is never charged for what another did.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parvis_core::types::Slug;
use parvis_tests::{TestApp, both_backends, form_token};

const ASSAILANT: &str = "parvis-module-assailant";

async fn paris_and_lyon(app: &TestApp) -> anyhow::Result<(String, String)> {
    let paris = app.commune("75056").await?;
    let lyon = app.commune("69123").await?;
    assert_eq!(app.install_module(ASSAILANT).await?, "assailant");
    app.enable_module(&paris, "assailant").await?;
    app.enable_module(&lyon, "assailant").await?;
    Ok((paris, lyon))
}

async fn tenant_id(app: &TestApp, slug: &str) -> anyhow::Result<parvis_core::types::TenantId> {
    let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(slug)?)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no commune {slug}"))?;
    Ok(tenant.id)
}

/// Waits (10 s at most) until `ready` holds: what the host reports, never a fixed sleep, decides
/// that a flood is under way before a test checks what it does to others.
async fn until(what: &str, ready: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        anyhow::ensure!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Whether the assailant is still switched on for a commune (read from the database).
async fn still_enabled(app: &TestApp, slug: &str) -> anyhow::Result<bool> {
    let tenant = tenant_id(app, slug).await?;
    app.state.modules.invalidate(tenant);
    let modules = app.state.modules.tenant(&app.state.db, tenant).await?;
    Ok(modules.enabled("assailant").is_some())
}

/// The text of a page, apostrophes unescaped.
fn text(page: String) -> String {
    page.replace("&#x27;", "'").replace("&#39;", "'")
}

/// The French error page of a module fault.
fn assert_fault_page(status: u16, page: &str) {
    assert_eq!(status, 500, "{page}");
    assert!(page.contains("<html lang=\"fr\">"), "{page}");
    assert!(page.contains("n'a pas pu répondre"), "{page}");
}

/// Whether `?value=` was kept by the assailant in a commune.
async fn kept(
    app: &TestApp,
    client: &reqwest::Client,
    slug: &str,
    value: &str,
) -> anyhow::Result<bool> {
    let r: serde_json::Value = client
        .get(app.url(
            Some(slug),
            &format!("/m/assailant/runtime/mark?value={value}"),
        ))
        .send()
        .await?
        .json()
        .await?;
    r["kept"]
        .as_bool()
        .ok_or_else(|| anyhow::anyhow!("unexpected answer: {r}"))
}

both_backends!(
    every_host_call_counts_and_a_call_opens_at_most_three_checkouts,
    |backend| async move {
        let stripe = parvis_tests::stripe::FakeStripe::start().await?;
        let base = stripe.url();
        let app = TestApp::start_configured(backend, 0, move |c| {
            c.stripe_secret_key = Some(parvis_tests::stripe::SECRET_KEY.into());
            c.stripe_webhook_secret = Some(parvis_tests::stripe::WEBHOOK_SECRET.into());
            c.stripe_api_base = Some(base);
        })
        .await?;
        let (paris, _) = paris_and_lyon(&app).await?;
        let tenant = tenant_id(&app, &paris).await?;
        let mut tx = app.state.db.tenant(tenant).begin_write().await?;
        parvis_billing::store::set_connected_account(&mut tx, "acct_paris_mairie").await?;
        tx.commit().await?;
        let client = app.client()?;

        // 25,000 checkouts asked in one call: 3 reach the provider, the rest are refused, and
        // from the 20,001st host call on the budget refuses them.
        let r = client
            .get(app.url(Some(&paris), "/m/assailant/runtime/checkouts?n=25000"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let json: serde_json::Value = r.json().await?;
        assert_eq!(json["ok"], 3, "{json}");
        assert_eq!(json["first_budget_refusal"], 20_000, "{json}");
        let errors = json["errors"]
            .as_object()
            .ok_or_else(|| anyhow::anyhow!("{json}"))?;
        let capped = errors
            .iter()
            .find(|(message, _)| message.contains("au plus 3 paiements"))
            .and_then(|(_, n)| n.as_u64());
        assert_eq!(capped, Some(20_000 - 3), "{json}");
        let refused = errors
            .iter()
            .find(|(message, _)| message.contains("plus de 20000 appels à l'hôte"))
            .and_then(|(_, n)| n.as_u64());
        assert_eq!(refused, Some(5_000), "{json}");
        let sessions = stripe
            .requests()?
            .iter()
            .filter(|(method, path, _)| method == "POST" && path == "/v1/checkout/sessions")
            .count();
        assert_eq!(sessions, 3, "the provider saw 3 sessions, no more");

        // The runtime's imports count too (100,000 of them): they cannot refuse, so the call
        // ends.
        let r = client
            .get(app.url(Some(&paris), "/m/assailant/runtime/clock?n=100"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let r = client
            .get(app.url(Some(&paris), "/m/assailant/runtime/clock?n=120000"))
            .send()
            .await?;
        let (status, page) = (r.status().as_u16(), text(r.text().await?));
        assert_fault_page(status, &page);
        assert!(page.contains("100000 appels à l'hôte"), "{page}");
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    the_deadline_binds_in_host_and_wasi_calls,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, lyon) = paris_and_lyon(&app).await?;
        let client = app.client()?;
        // A 400 ms budget shows on a small scale what the 2 s one does.
        let budget = Duration::from_millis(400);
        app.state.modules.set_time_budget(budget);
        // What says the deadline cut a call is its fault page (« temps de calcul »: not the
        // host-call budget, not a database wait shed as an overload), and that it came after
        // the budget. The upper bound only tells a cut at the deadline from what ended these
        // calls before (the 30 s sleep itself, an outer 37 s, a database wait of 5 s more): with
        // a spinning module on one of 2 cores shared with other tests, a cut can come seconds
        // late without anything being wrong.
        let late = budget + Duration::from_millis(2500);

        // A WASI sleep of 30 s is cut at the deadline (it used to run until an outer 37 s).
        let started = Instant::now();
        let r = client
            .get(app.url(Some(&paris), "/m/assailant/runtime/sleep?ms=30000"))
            .send()
            .await?;
        let elapsed = started.elapsed();
        let (status, page) = (r.status().as_u16(), text(r.text().await?));
        assert_fault_page(status, &page);
        assert!(page.contains("temps de calcul"), "{page}");
        assert!(elapsed >= budget, "cut before its budget: {elapsed:?}");
        assert!(elapsed < late, "cut late: {elapsed:?}");

        // The same sleep right after an import the host refused: still the module's time, cut
        // at its deadline and charged to it (it used to count as waiting for the database,
        // 5 s more, then shed as an overload that is no one's fault).
        let started = Instant::now();
        let r = client
            .get(app.url(
                Some(&paris),
                "/m/assailant/runtime/sleep?ms=30000&after=refused-import",
            ))
            .send()
            .await?;
        let elapsed = started.elapsed();
        let (status, page) = (r.status().as_u16(), text(r.text().await?));
        assert_fault_page(status, &page);
        assert!(page.contains("temps de calcul"), "{page}");
        assert!(elapsed >= budget, "cut before its budget: {elapsed:?}");
        assert!(elapsed < late, "cut late: {elapsed:?}");

        // A GET that writes, then loops over host calls without end: cut at the deadline too,
        // and its write is not kept.
        let started = Instant::now();
        let r = client
            .get(app.url(
                Some(&paris),
                "/m/assailant/runtime/write-then-spin?value=spun",
            ))
            .send()
            .await?;
        let elapsed = started.elapsed();
        let (status, page) = (r.status().as_u16(), text(r.text().await?));
        assert_fault_page(status, &page);
        assert!(page.contains("temps de calcul"), "{page}");
        assert!(elapsed >= budget, "cut before its budget: {elapsed:?}");
        assert!(elapsed < late, "cut late: {elapsed:?}");
        assert!(!kept(&app, &client, &paris, "spun").await?);

        // A short sleep fits, and Lyon is served meanwhile.
        let r = client
            .get(app.url(Some(&paris), "/m/assailant/runtime/sleep?ms=50"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let r = client
            .get(app.url(Some(&lyon), "/m/assailant/runtime/ping"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_status_http_does_not_allow_is_a_fault_and_its_writes_are_rolled_back,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, _) = paris_and_lyon(&app).await?;
        let client = app.client()?;
        for code in [0, 99, 101, 199, 600, 999] {
            let value = format!("code{code}");
            let r = client
                .get(app.url(
                    Some(&paris),
                    &format!("/m/assailant/runtime/status?code={code}&value={value}"),
                ))
                .send()
                .await?;
            let (status, page) = (r.status().as_u16(), text(r.text().await?));
            assert_fault_page(status, &page);
            assert!(page.contains("code HTTP invalide"), "{code}: {page}");
            assert!(
                !kept(&app, &client, &paris, &value).await?,
                "the write of the call answered {code} was kept"
            );
        }
        // The bounds themselves are statuses a module may send.
        for (code, written) in [(200, true), (599, false)] {
            let value = format!("code{code}");
            let r = client
                .get(app.url(
                    Some(&paris),
                    &format!("/m/assailant/runtime/status?code={code}&value={value}"),
                ))
                .send()
                .await?;
            assert_eq!(r.status().as_u16(), code);
            assert_eq!(kept(&app, &client, &paris, &value).await?, written);
        }
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    one_commune_cannot_take_the_memory_of_all,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, lyon) = paris_and_lyon(&app).await?;
        let client = app.client()?;
        // 100 MiB for the live instances of one commune (256 MiB by default).
        app.state.modules.set_memory_budget(1 << 30, 100 << 20);
        let url = app.url(
            Some(&paris),
            "/m/assailant/runtime/memory?mib=30&hold_ms=1000",
        );
        let calls: Vec<_> = (0..6)
            .map(|_| tokio::spawn(client.get(url.clone()).send()))
            .collect();
        let paris_id = tenant_id(&app, &paris).await?;
        until("Paris's instances hold 30 MiB", || {
            app.state.modules.memory_in_use(Some(paris_id)) >= 30 << 20
        })
        .await?;
        // Meanwhile Lyon is served at once.
        let started = Instant::now();
        let r = client
            .get(app.url(Some(&lyon), "/m/assailant/runtime/memory?mib=30&hold_ms=0"))
            .send()
            .await?;
        assert_eq!(r.status(), 200, "Lyon kept its own memory share");
        assert!(started.elapsed() < Duration::from_millis(500));
        let mut statuses = Vec::new();
        for call in calls {
            let r = call.await??;
            let status = r.status().as_u16();
            if status == 500 {
                let page = text(r.text().await?);
                assert!(page.contains("mémoire autorisée"), "{page}");
            }
            statuses.push(status);
        }
        statuses.sort_unstable();
        let served = statuses.iter().filter(|s| **s == 200).count();
        assert!(
            (1..=3).contains(&served) && statuses.iter().all(|s| *s == 200 || *s == 500),
            "three 30 MiB instances at most fit in 100 MiB: {statuses:?}"
        );
        // The memory of finished calls was given back.
        let r = client
            .get(app.url(Some(&paris), "/m/assailant/runtime/memory?mib=50&hold_ms=0"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);

        // Past the budget of all communes together, a call is shed (503), not charged: Paris
        // holds 30 MiB of 40 while Lyon asks for 30. Whether Paris still held them for the
        // whole of Lyon's call is read from the budget after Lyon's answer (it only falls when
        // Paris's instance is dropped): on a loaded machine (the full suite on 2 cores) a
        // 4 s hold has ended before Lyon's call was served, and that round proves nothing, so
        // it is played again with a longer hold rather than read as a pass or a failure.
        let mut proven = false;
        for hold in [4_000u64, 10_000, 25_000, 25_000] {
            app.state
                .modules
                .set_time_budget(Duration::from_millis(hold + 4_000));
            // A finished call's instance is freed in the background, just after its answer:
            // on a loaded machine the 50 MiB one above may not be yet, and would leave the
            // next call no room in 40 MiB (a 503 that is not the one this checks).
            until("the finished calls' memory is given back", || {
                app.state.modules.memory_in_use(None) <= 10 << 20
            })
            .await?;
            // Instances made ahead of the next calls count in the budget too: drop them, so
            // that Paris's 30 MiB fit in the 40 whatever the background made meanwhile.
            app.state.modules.set_memory_budget(40 << 20, 1 << 30);
            let held = tokio::spawn(
                client
                    .get(app.url(
                        Some(&paris),
                        &format!("/m/assailant/runtime/memory?mib=30&hold_ms={hold}"),
                    ))
                    .send(),
            );
            until("Paris's call holds 30 MiB (or has ended)", || {
                app.state.modules.memory_in_use(Some(paris_id)) >= 30 << 20 || held.is_finished()
            })
            .await?;
            if held.is_finished() {
                let status = held.await??.status();
                // Shed itself: an instance made in the background took the room first.
                assert_eq!(status, 503, "Paris's call ended before it held its memory");
                eprintln!("Paris's held call was shed before it held its memory: again");
                continue;
            }
            let r = client
                .get(app.url(Some(&lyon), "/m/assailant/runtime/memory?mib=30&hold_ms=0"))
                .send()
                .await?;
            let held_throughout = app.state.modules.memory_in_use(Some(paris_id)) >= 30 << 20;
            assert_eq!(held.await??.status(), 200);
            if !held_throughout {
                eprintln!("Paris's {hold} ms hold ended before Lyon was served: again");
                continue;
            }
            assert_eq!(
                r.status(),
                503,
                "Lyon's call is shed while Paris holds 30 MiB"
            );
            assert!(r.headers().contains_key("retry-after"));
            proven = true;
            break;
        }
        assert!(proven, "Paris's hold never outlasted Lyon's call");
        assert!(still_enabled(&app, &paris).await? && still_enabled(&app, &lyon).await?);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_commune_flooding_slow_calls_leaves_slots_to_the_others,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, lyon) = paris_and_lyon(&app).await?;
        let client = app.client()?;
        // 8 slots, 4 per commune, a 1 s wait: the 256/64 of a real server, on a small scale.
        app.state.modules.set_shares(8, Duration::from_secs(1), 4);
        let slow = app.url(Some(&paris), "/m/assailant/runtime/sleep?ms=800");
        let flood: Vec<_> = (0..24)
            .map(|_| tokio::spawn(client.get(slow.clone()).send()))
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;

        // Lyon: every call answered, each within 300 ms.
        let mut slowest = Duration::ZERO;
        for _ in 0..10 {
            let started = Instant::now();
            let r = client
                .get(app.url(Some(&lyon), "/m/assailant/runtime/ping"))
                .send()
                .await?;
            assert_eq!(r.status(), 200);
            slowest = slowest.max(started.elapsed());
        }
        assert!(
            slowest < Duration::from_millis(300),
            "Lyon waited {slowest:?} behind Paris"
        );
        // Paris waits, then is shed, alone: 503 with Retry-After.
        let mut shed = 0;
        for call in flood {
            let r = call.await??;
            match r.status().as_u16() {
                200 => {}
                503 => {
                    assert!(r.headers().contains_key("retry-after"));
                    shed += 1;
                }
                other => anyhow::bail!("unexpected status {other}"),
            }
        }
        assert!(shed > 0, "Paris was held to its share");
        assert!(
            still_enabled(&app, &paris).await?,
            "shedding is not a fault"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_commune_holding_database_transactions_leaves_connections_to_the_others,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, lyon) = paris_and_lyon(&app).await?;
        let client = app.client()?;
        // 20 Paris calls each holding a transaction 1.5 s: more than the pool (16 on
        // PostgreSQL, 8 SQLite readers).
        let slow = app.url(Some(&paris), "/m/assailant/runtime/hold-db?ms=1500");
        let flood: Vec<_> = (0..20)
            .map(|_| tokio::spawn(client.get(slow.clone()).send()))
            .collect();
        let paris_id = tenant_id(&app, &paris).await?;
        let limit = parvis_core::modules::registry::tenant_transactions(app.state.db.backend());
        until("Paris's calls hold all their transactions", || {
            app.state
                .modules
                .transactions_in_use(app.state.db.backend(), paris_id)
                >= limit
        })
        .await?;
        // Lyon's module reads, and the host's own pages, find connections at once.
        let mut slowest = Duration::ZERO;
        for _ in 0..10 {
            let started = Instant::now();
            let r = client
                .get(app.url(Some(&lyon), "/m/assailant/runtime/hold-db?ms=0"))
                .send()
                .await?;
            assert_eq!(r.status(), 200);
            let r = client
                .get(app.url(Some(&lyon), "/connexion"))
                .send()
                .await?;
            assert_eq!(r.status(), 200);
            slowest = slowest.max(started.elapsed());
        }
        assert!(
            slowest < Duration::from_millis(500),
            "Lyon waited {slowest:?} for a connection"
        );
        for call in flood {
            let status = call.await??.status().as_u16();
            assert!(
                status == 200 || status == 503,
                "Paris's calls wait or are shed: {status}"
            );
        }
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    lyon_is_never_charged_for_what_paris_holds,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, lyon) = paris_and_lyon(&app).await?;
        let maire = app.account("maire@lyon.fr", "mot-de-passe-solide").await?;
        app.grant(&maire, parvis_core::authz::Role::TenantAdmin, Some(&lyon))
            .await?;
        // Two visitors of Lyon: three faults from two clients would switch the module off.
        let mut visitors = Vec::new();
        for email in ["ana@lyon.fr", "bao@lyon.fr"] {
            app.account(email, "mot-de-passe-solide").await?;
            visitors.push(
                app.signed_in(Some(&lyon), email, "mot-de-passe-solide")
                    .await?,
            );
        }
        app.state
            .modules
            .set_time_budget(Duration::from_millis(1000));
        // Paris: 10 writers, each holding its write 900 ms, one after another.
        let mut flood = Vec::new();
        for i in 0..10 {
            let client = app.client()?;
            let token = form_token(&client, &app.url(Some(&paris), "/connexion")).await?;
            let url = app.url(
                Some(&paris),
                &format!("/m/assailant/runtime/hold-write?value=p{i}&ms=900"),
            );
            flood.push(tokio::spawn(async move {
                client
                    .post(url)
                    .form(&[("csrf_token", token.as_str())])
                    .send()
                    .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Lyon writes meanwhile, by POST (a writer) and by GET (a read call that writes):
        // answered, or shed with 503, never a fault of Lyon's module.
        let mut slowest = Duration::ZERO;
        for i in 0..8 {
            let started = Instant::now();
            let r = if i % 2 == 0 {
                let client = app.client()?;
                let token = form_token(&client, &app.url(Some(&lyon), "/connexion")).await?;
                client
                    .post(app.url(
                        Some(&lyon),
                        &format!("/m/assailant/runtime/hold-write?value=l{i}&ms=0"),
                    ))
                    .form(&[("csrf_token", token.as_str())])
                    .send()
                    .await?
            } else {
                visitors[i % 4 / 2]
                    .get(app.url(
                        Some(&lyon),
                        &format!("/m/assailant/runtime/status?code=200&value=l{i}"),
                    ))
                    .send()
                    .await?
            };
            let status = r.status().as_u16();
            assert!(
                status == 200 || status == 503,
                "Lyon charged: {status} {}",
                text(r.text().await?)
            );
            slowest = slowest.max(started.elapsed());
        }
        assert!(
            slowest < Duration::from_millis(3500),
            "Lyon waited {slowest:?}"
        );
        for call in flood {
            call.await??;
        }
        assert!(
            still_enabled(&app, &lyon).await?,
            "Lyon's module switched off"
        );
        // A switch-off would have queued the admins' e-mail: it is sent once the queue is idle.
        app.settle_jobs().await?;
        let told: Vec<String> = app
            .smtp
            .messages()?
            .into_iter()
            .map(|m| m.subject)
            .filter(|s| s.contains("désactivé"))
            .collect();
        assert!(told.is_empty(), "admins told: {told:?}");
        app.stop().await;
        Ok(())
    }
);

/// The host's log as a test reads it: every line the subscriber writes.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    /// Catches the process's log from now on (each test runs in its own process).
    fn install() -> Self {
        let log = Self::default();
        let writer = log.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "warn,parvis::module=info",
            ))
            .with_writer(move || writer.clone())
            .try_init();
        log
    }

    fn lines(&self) -> Vec<String> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

both_backends!(
    a_call_writes_a_bounded_number_of_log_lines,
    |backend| async move {
        let log = CapturedLog::install();
        let app = TestApp::start(backend).await?;
        let (paris, _) = paris_and_lyon(&app).await?;
        let r = app
            .client()?
            .get(app.url(Some(&paris), "/m/assailant/runtime/log?lines=5000"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let lines = log.lines();
        let kept = lines
            .iter()
            .filter(|l| l.contains("journal journal"))
            .count();
        assert_eq!(kept, 100, "the module's lines kept in the host's log");
        let told: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("plus de 100 lignes de journal dans une requête"))
            .collect();
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].contains("assailant"), "{}", told[0]);
        // Each kept line is cut at 2 KiB: the whole call left well under 300 KiB in the log.
        let bytes: usize = lines.iter().map(String::len).sum();
        assert!(bytes < 300 << 10, "{bytes} bytes of log");
        app.stop().await;
        Ok(())
    }
);
