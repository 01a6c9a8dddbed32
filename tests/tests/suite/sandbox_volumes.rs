//! Issue 14, volumes: the assailant module floods notices, e-mails to one account, SMS and
//! feed posts, sends 20 MiB bodies and notifies accounts that have nothing to do with the
//! commune, through the real router on both backends. Each flood stops at its stated bound
//! (counted in what was really produced: notifications, e-mails at the SMTP server, SMS
//! deliveries, posts), Lyon's own limits are untouched by Paris's flood, and the commune's
//! admins see the figures on « Consommation des modules ».

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parvis_core::authz::Role;
use parvis_core::db::TenantSql as _;
use parvis_core::modules::quota;
use parvis_core::types::{AccountId, Slug, TenantId};
use parvis_tests::sms::SMS_TOKEN;
use parvis_tests::{SmsProvider, TestApp, both_backends, form_token};
use serde_json::Value;

const ASSAILANT: &str = "parvis-module-assailant";
const PASSWORD: &str = "mot-de-passe-solide";

/// Paris and Lyon, the assailant enabled in both.
struct Scene {
    paris: String,
    lyon: String,
    paris_id: TenantId,
    lyon_id: TenantId,
}

async fn tenant_of(app: &TestApp, slug: &str) -> anyhow::Result<TenantId> {
    let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(slug)?)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant {slug}"))?;
    Ok(tenant.id)
}

async fn scene(app: &TestApp) -> anyhow::Result<Scene> {
    let paris = app.commune("75056").await?;
    let lyon = app.commune("69123").await?;
    assert_eq!(app.install_module(ASSAILANT).await?, "assailant");
    app.enable_module(&paris, "assailant").await?;
    app.enable_module(&lyon, "assailant").await?;
    Ok(Scene {
        paris_id: tenant_of(app, &paris).await?,
        lyon_id: tenant_of(app, &lyon).await?,
        paris,
        lyon,
    })
}

/// `n` verified accounts that follow the commune.
async fn followers(
    app: &TestApp,
    tenant: TenantId,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<AccountId>> {
    let mut accounts = Vec::new();
    for i in 0..n {
        let account = app
            .account(&format!("{prefix}-{i}@example.org"), PASSWORD)
            .await?;
        parvis_core::feed::store::set_follow(&app.state.db, &account, tenant, "commune", "", true)
            .await?;
        accounts.push(account);
    }
    Ok(accounts)
}

/// Runs one attack route; its JSON (`sent`, `reach`, `refused`).
async fn attack(app: &TestApp, slug: &str, path: &str) -> anyhow::Result<Value> {
    let r = app
        .client()?
        .get(app.url(Some(slug), &format!("/m/assailant/volumes/{path}")))
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    anyhow::ensure!(status == 200, "{path}: {status} {text}");
    Ok(serde_json::from_str(&text)?)
}

/// One count in a commune's rows (`$1` is the tenant, `$2` the argument).
async fn count(app: &TestApp, tenant: TenantId, sql: &str, arg: &str) -> anyhow::Result<i64> {
    let mut tx = app.state.db.tenant(tenant).begin().await?;
    let n = tx
        .scoped_scalar::<i64>(sql)
        .bind(arg)
        .fetch_one(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// The module notices an account got from a commune.
async fn notices_of(app: &TestApp, tenant: TenantId, account: &AccountId) -> anyhow::Result<i64> {
    count(
        app,
        tenant,
        "SELECT COUNT(*) FROM notifications WHERE tenant_id = $1 AND account_id = $2 \
         AND id LIKE 'notice:%'",
        &account.0,
    )
    .await
}

/// Checks that `probe` gives `expected` once every job the calls so far caused has run (the
/// job worker delivers): the bound is what was produced, not what was queued so far.
async fn settles_at<F, Fut>(app: &TestApp, expected: i64, mut probe: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<i64>>,
{
    app.settle_jobs().await?;
    let n = probe().await?;
    anyhow::ensure!(n == expected, "{n} produced once settled, bound {expected}");
    Ok(())
}

fn sent(v: &Value) -> u64 {
    v["sent"].as_u64().unwrap_or(u64::MAX)
}

both_backends!(
    follower_notice_flood_stops_at_one_per_call_and_twenty_a_day,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let s = scene(&app).await?;
        let fans = followers(&app, s.paris_id, "fan-paris", 3).await?;
        let lyon_fans = followers(&app, s.lyon_id, "fan-lyon", 1).await?;

        let first = attack(&app, &s.paris, "notices?n=50").await?;
        assert_eq!(sent(&first), 1, "{first}");
        assert_eq!(first["reach"], 3, "{first}");
        assert_eq!(
            first["refused"],
            "limite atteinte : 1 notification aux abonnés par appel"
        );
        let mut total = sent(&first);
        let mut last = Value::Null;
        for _ in 0..24 {
            last = attack(&app, &s.paris, "notices?n=1").await?;
            total += sent(&last);
        }
        assert_eq!(total, u64::try_from(quota::FOLLOWER_NOTICES_PER_DAY)?);
        assert_eq!(
            last["refused"],
            "limite atteinte : 20 notifications aux abonnés par jour pour ce module dans cette commune"
        );

        // Lyon's module in Lyon has its own count.
        let lyon = attack(&app, &s.lyon, "notices?n=1").await?;
        assert_eq!(sent(&lyon), 1, "{lyon}");
        assert_eq!(lyon["refused"], Value::Null);

        for fan in &fans {
            settles_at(&app, 20, || notices_of(&app, s.paris_id, fan)).await?;
        }
        settles_at(&app, 1, || notices_of(&app, s.lyon_id, &lyon_fans[0])).await?;
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    one_account_gets_at_most_ten_notices_an_hour_from_a_module,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let s = scene(&app).await?;
        let maire = app.account("maire@paris.example", PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&s.paris)).await?;
        let lyon_maire = app.account("maire@lyon.example", PASSWORD).await?;
        app.grant(&lyon_maire, Role::TenantAdmin, Some(&s.lyon))
            .await?;

        // Ten per call, then ten per hour for the same account, e-mails included.
        let flood = format!("notices?to=accounts&account={}&email=1&n=50", maire.0);
        let first = attack(&app, &s.paris, &flood).await?;
        assert_eq!(sent(&first), 10, "{first}");
        assert_eq!(
            first["refused"],
            "limite atteinte : 10 notifications par appel"
        );
        let again = attack(&app, &s.paris, &flood).await?;
        assert_eq!(sent(&again), 0, "{again}");
        assert_eq!(
            again["refused"],
            "limite atteinte : 10 notifications par heure pour un même compte \
             (1 destinataire l'a atteinte)"
        );
        // Lyon's admin is still reachable by Lyon's module.
        let lyon = attack(
            &app,
            &s.lyon,
            &format!("notices?to=accounts&account={}&email=1", lyon_maire.0),
        )
        .await?;
        assert_eq!(sent(&lyon), 1, "{lyon}");

        let mails_to = |to: &'static str| {
            let smtp = &app.smtp;
            move || async move {
                Ok(i64::try_from(
                    smtp.messages()?
                        .iter()
                        .filter(|m| m.rcpt_tos.iter().any(|r| r == to))
                        .count(),
                )?)
            }
        };
        settles_at(&app, 10, mails_to("maire@paris.example")).await?;
        settles_at(&app, 1, mails_to("maire@lyon.example")).await?;
        settles_at(&app, 10, || notices_of(&app, s.paris_id, &maire)).await?;
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    accounts_linked_to_nothing_in_the_commune_are_refused,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let s = scene(&app).await?;
        let fan = followers(&app, s.paris_id, "fan-paris", 1).await?.remove(0);
        // Paul follows Lyon only: nothing links him to Paris.
        let paul = followers(&app, s.lyon_id, "paul", 1).await?.remove(0);

        let alone = attack(
            &app,
            &s.paris,
            &format!("notices?to=accounts&account={}&email=1", paul.0),
        )
        .await?;
        assert_eq!(sent(&alone), 0, "{alone}");
        assert_eq!(
            alone["refused"],
            "notification refusée : 1 des 1 comptes destinataires n'est pas lié à cette commune \
             (ni abonné, ni titulaire d'un de ses rôles, ni utilisateur de ce module ici)"
        );
        let mixed = attack(
            &app,
            &s.paris,
            &format!(
                "notices?to=accounts&account={}&account={}&email=1",
                paul.0, fan.0
            ),
        )
        .await?;
        assert_eq!(sent(&mixed), 0, "{mixed}");
        assert!(
            mixed["refused"]
                .as_str()
                .is_some_and(|r| r.starts_with("notification refusée : 1 des 2 comptes")),
            "{mixed}"
        );
        // A Paris follower is reachable, and so is Paul from Lyon, which he follows.
        let ok = attack(
            &app,
            &s.paris,
            &format!("notices?to=accounts&account={}&email=1", fan.0),
        )
        .await?;
        assert_eq!(sent(&ok), 1, "{ok}");
        let lyon = attack(
            &app,
            &s.lyon,
            &format!("notices?to=accounts&account={}&email=1", paul.0),
        )
        .await?;
        assert_eq!(sent(&lyon), 1, "{lyon}");

        app.smtp
            .wait_for("fan-paris-0@example.org", "Alerte")
            .await?;
        app.smtp.wait_for("paul-0@example.org", "Alerte").await?;
        settles_at(&app, 1, || notices_of(&app, s.lyon_id, &paul)).await?;
        assert_eq!(notices_of(&app, s.paris_id, &paul).await?, 0);
        let to_paul = app
            .smtp
            .messages()?
            .iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r == "paul-0@example.org"))
            .count();
        assert_eq!(to_paul, 1, "only Lyon's notice reached Paul");

        // Once Paul acts in Paris's module (a form he posts, signed in), it may answer him.
        let client = app
            .signed_in(Some(&s.paris), "paul-0@example.org", PASSWORD)
            .await?;
        let token = form_token(&client, &app.url(Some(&s.paris), "/connexion")).await?;
        let r = client
            .post(app.url(Some(&s.paris), "/m/assailant/volumes/hello"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let answer = attack(
            &app,
            &s.paris,
            &format!("notices?to=accounts&account={}", paul.0),
        )
        .await?;
        assert_eq!(sent(&answer), 1, "{answer}");
        settles_at(&app, 1, || notices_of(&app, s.paris_id, &paul)).await?;
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    sms_flood_stops_at_five_thousand_numbers_a_day,
    |backend| async move {
        let provider = SmsProvider::start().await?;
        let url = provider.url();
        let app = TestApp::start_configured(backend, 0, |config| {
            config.sms_url = Some(url);
            config.sms_token = Some(SMS_TOKEN.to_string());
            config.sms_sender = "Mairie".into();
        })
        .await?;
        let s = scene(&app).await?;

        let flood = attack(&app, &s.paris, "sms?calls=8&numbers=700").await?;
        assert_eq!(sent(&flood), 7, "{flood}");
        assert_eq!(flood["reach"], 4_900, "{flood}");
        assert_eq!(
            flood["refused"],
            "limite atteinte : 5\u{202F}000 SMS par jour pour ce module dans cette commune \
             (reste 100 aujourd'hui)"
        );
        let rest = attack(&app, &s.paris, "sms?calls=2&numbers=100&from=9000").await?;
        assert_eq!(sent(&rest), 1, "{rest}");
        assert_eq!(
            rest["refused"],
            "limite atteinte : 5\u{202F}000 SMS par jour pour ce module dans cette commune"
        );
        let lyon = attack(&app, &s.lyon, "sms?calls=1&numbers=10").await?;
        assert_eq!(sent(&lyon), 1, "{lyon}");
        assert_eq!(lyon["refused"], Value::Null);

        let queued = |tenant: TenantId| {
            count(
                &app,
                tenant,
                "SELECT CAST(COALESCE(SUM(queued), 0) AS BIGINT) FROM notice_deliveries \
                 WHERE tenant_id = $1 AND channel = $2",
                "sms",
            )
        };
        assert_eq!(queued(s.paris_id).await?, 5_000);
        assert_eq!(queued(s.lyon_id).await?, 10);
        assert!(provider.messages().len() <= 5_010);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    post_flood_stops_at_five_per_call_and_twenty_a_day,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let s = scene(&app).await?;

        let first = attack(&app, &s.paris, "posts?n=50").await?;
        assert_eq!(sent(&first), 5, "{first}");
        assert_eq!(
            first["refused"],
            "limite atteinte : 5 publications par appel"
        );
        let mut total = sent(&first);
        let mut last = Value::Null;
        for _ in 0..4 {
            last = attack(&app, &s.paris, "posts?n=5").await?;
            total += sent(&last);
        }
        assert_eq!(total, u64::try_from(quota::POSTS_PER_DAY)?);
        assert_eq!(
            last["refused"],
            "limite atteinte : 20 publications par jour pour ce module dans cette commune"
        );
        let lyon = attack(&app, &s.lyon, "posts?n=5").await?;
        assert_eq!(sent(&lyon), 5, "{lyon}");

        let posts = |tenant: TenantId| {
            count(
                &app,
                tenant,
                "SELECT COUNT(*) FROM posts WHERE tenant_id = $1 AND author_account_id = $2",
                parvis_core::modules::host::feed::MODULES_ACCOUNT,
            )
        };
        assert_eq!(posts(s.paris_id).await?, 20);
        assert_eq!(posts(s.lyon_id).await?, 5);
        app.stop().await;
        Ok(())
    }
);

/// The longest line the server logged.
static LONGEST_LOG_LINE: AtomicUsize = AtomicUsize::new(0);

/// A log writer that keeps the longest line's length and passes everything to stderr.
struct Measured;

impl Write for Measured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for line in buf.split(|b| *b == b'\n') {
            LONGEST_LOG_LINE.fetch_max(line.len(), Ordering::Relaxed);
        }
        let shown = &buf[..buf.len().min(2_000)];
        std::io::stderr().write_all(shown)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Longest log line tolerated: a notice's whole body (10,000 characters, up to 4 bytes
/// each) would fit, a 20 MiB one not by far.
const MAX_LOG_LINE: usize = 64 * 1024;

both_backends!(
    huge_bodies_are_refused_before_anything_is_stored_or_logged,
    |backend| async move {
        // Every log line of this test process goes through the measuring writer (the app's
        // own subscriber then finds one installed).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
            .with_writer(|| Measured)
            .try_init();
        // Without SMTP, as the observed server ran: each e-mail is logged, body included.
        let app = TestApp::start_configured(backend, 0, |config| config.smtp_url = None).await?;
        let s = scene(&app).await?;
        let fan = followers(&app, s.paris_id, "fan-paris", 1).await?.remove(0);

        let huge = format!("body?kind=notice&account={}", fan.0);
        let notice = attack(&app, &s.paris, &huge).await?;
        assert_eq!(sent(&notice), 0, "{notice}");
        assert_eq!(
            notice["refused"],
            "texte de plus de 10\u{202F}000 caractères"
        );
        let over = attack(&app, &s.paris, &format!("{huge}&chars=10001")).await?;
        assert_eq!(over["refused"], "texte de plus de 10\u{202F}000 caractères");
        let post = attack(&app, &s.paris, "body?kind=post").await?;
        assert_eq!(sent(&post), 0, "{post}");
        assert_eq!(post["refused"], "texte vide ou de plus de 20000 octets");

        // The longest body allowed goes through, e-mail (logged) included.
        let longest = attack(&app, &s.paris, &format!("{huge}&chars=10000")).await?;
        assert_eq!(sent(&longest), 1, "{longest}");
        settles_at(&app, 1, || notices_of(&app, s.paris_id, &fan)).await?;
        let logged = Instant::now() + Duration::from_secs(20);
        while LONGEST_LOG_LINE.load(Ordering::Relaxed) < 10_000 && Instant::now() < logged {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let longest = LONGEST_LOG_LINE.load(Ordering::Relaxed);
        assert!(longest >= 10_000, "the e-mail was logged: {longest}");
        assert!(longest < MAX_LOG_LINE, "a log line of {longest} bytes");
        let posts = count(
            &app,
            s.paris_id,
            "SELECT COUNT(*) FROM posts WHERE tenant_id = $1 AND author_account_id = $2",
            parvis_core::modules::host::feed::MODULES_ACCOUNT,
        )
        .await?;
        assert_eq!(posts, 0);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    admins_see_each_modules_usage_against_its_limits,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let s = scene(&app).await?;
        followers(&app, s.paris_id, "fan-paris", 2).await?;
        let maire = app.account("maire@paris.example", PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&s.paris)).await?;
        let lyon_maire = app.account("maire@lyon.example", PASSWORD).await?;
        app.grant(&lyon_maire, Role::TenantAdmin, Some(&s.lyon))
            .await?;
        attack(&app, &s.paris, "notices?n=1").await?;
        attack(&app, &s.paris, "posts?n=3").await?;
        attack(
            &app,
            &s.paris,
            &format!("notices?to=accounts&account={}&n=2", maire.0),
        )
        .await?;

        let page = |slug: String, email: &'static str| {
            let app = &app;
            async move {
                let client = app.signed_in(Some(&slug), email, PASSWORD).await?;
                let r = client
                    .get(app.url(Some(&slug), "/admin/modules/usage"))
                    .send()
                    .await?;
                let status = r.status().as_u16();
                let html = r.text().await?;
                anyhow::Ok((
                    status,
                    html.split_whitespace().collect::<Vec<_>>().join(" "),
                ))
            }
        };
        // The admins find the page from the modules page.
        let admin = app
            .signed_in(Some(&s.paris), "maire@paris.example", PASSWORD)
            .await?;
        let modules = admin
            .get(app.url(Some(&s.paris), "/admin/modules"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            modules.contains("href=\"/admin/modules/usage\""),
            "no link to the usage page: {modules}"
        );
        let (status, html) = page(s.paris.clone(), "maire@paris.example").await?;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("<h1>Consommation des modules</h1>"), "{html}");
        assert!(html.contains("Module assaillant (tests)"), "{html}");
        for (label, used, limit) in [
            ("Notifications à tous les abonnés", "1", "20"),
            ("Destinataires de notifications nominatives", "2", "2 000"),
            ("Publications dans le fil", "3", "20"),
            ("SMS envoyés", "0", "5 000"),
        ] {
            let row = format!("<th scope=\"row\">{label}</th> <td>{used}</td> <td>{limit}</td>");
            assert!(html.contains(&row), "{row} in {html}");
        }
        assert!(html.contains("<meter"), "{html}");
        assert!(html.contains("Documents"), "storage shown: {html}");

        // Lyon's admins see Lyon's figures, untouched.
        let (status, html) = page(s.lyon.clone(), "maire@lyon.example").await?;
        assert_eq!(status, 200, "{html}");
        assert!(
            html.contains("<th scope=\"row\">Publications dans le fil</th> <td>0</td> <td>20</td>"),
            "{html}"
        );
        // Someone who is not an admin of the commune does not see it.
        let (status, _) = page(s.paris.clone(), "maire@lyon.example").await?;
        assert_eq!(status, 403);
        app.stop().await;
        Ok(())
    }
);
