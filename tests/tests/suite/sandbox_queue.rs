//! Issue 14, the job queue: one commune's flood of jobs (17,099 e-mails to its admin, 53,000
//! text messages) once made every other commune's e-mail wait behind it, and finished jobs
//! were never deleted. Now the workers serve the communes in turn, each with at most
//! `TENANT_RUNNING_CAP` jobs running, and a sweep deletes finished jobs after their retention.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use parvis_core::jobs;
use parvis_core::mail::{Email, MAIL_JOB};
use parvis_core::notifications::deliveries::NoticeRef;
use parvis_core::notifications::sms::TextMessage;
use parvis_tests::{TestApp, both_backends, form_token};

/// How long another commune's e-mail may wait behind a flood (the stated figure: one poll of
/// an idle worker, 1 s, plus sending).
const LATENCY_BOUND: Duration = Duration::from_secs(2);

async fn tenant_id(app: &TestApp, slug: &str) -> anyhow::Result<parvis_core::types::TenantId> {
    let slug = parvis_core::types::Slug::parse(slug)?;
    Ok(
        parvis_tenants::provision::find_by_slug(&app.state.db, &slug)
            .await?
            .context("no such tenant")?
            .id,
    )
}

/// An e-mail of a notice of `tenant`, as a module's `notify` queues one per recipient.
fn notice_mail(tenant: parvis_core::types::TenantId, to: &str, subject: &str) -> Email {
    Email {
        to: to.into(),
        subject: subject.into(),
        text: "Bonjour".into(),
        html: None,
        list_unsubscribe: None,
        attachments: vec![],
        notice: Some(NoticeRef {
            tenant_id: tenant,
            notice_id: parvis_core::util::new_id(),
        }),
    }
}

async fn pending_of(app: &TestApp, tenant: parvis_core::types::TenantId) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND done_at IS NULL AND failed_at IS NULL",
    )
    .bind(tenant)
    .fetch_one(app.state.db.platform())
    .await?)
}

/// Queues `n` e-mails of a Paris notice to its admin in one statement (the flood of issue 14),
/// due now.
async fn flood(app: &TestApp, tenant: parvis_core::types::TenantId, n: i64) -> anyhow::Result<()> {
    let payload = serde_json::to_string(&notice_mail(
        tenant,
        "maire@paris.example",
        "Inondation de la boîte du maire",
    ))?;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $5) \
         INSERT INTO jobs (kind, payload, run_at, created_at, max_attempts, tenant_id) \
         SELECT $1, $2, $3, $3, 8, $4 FROM n",
    )
    .bind(MAIL_JOB)
    .bind(payload)
    .bind(parvis_core::util::now())
    .bind(tenant)
    .bind(n)
    .execute(app.state.db.platform())
    .await?;
    app.state.jobs.notify();
    Ok(())
}

/// Queues one Lyon notice e-mail and returns how long it took to reach the SMTP server.
async fn lyon_mail_latency(
    app: &TestApp,
    lyon: parvis_core::types::TenantId,
    n: usize,
) -> anyhow::Result<Duration> {
    let subject = format!("Conseil municipal de Lyon n° {n}");
    let started = Instant::now();
    app.state
        .jobs
        .enqueue(
            app.state.db.platform(),
            &notice_mail(lyon, "habitant@lyon.example", &subject),
        )
        .await?;
    app.smtp.wait_for("habitant@lyon.example", &subject).await?;
    Ok(started.elapsed())
}

both_backends!(
    another_communes_mail_overtakes_a_flood_of_jobs,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let lyon = app.commune("69123").await?;
        let (paris_id, lyon_id) = (
            tenant_id(&app, &paris).await?,
            tenant_id(&app, &lyon).await?,
        );
        app.account("lea@example.org", "mot de passe de Léa")
            .await?;

        // Paris floods its admin: 5,000 e-mails queued the way the host queues them (the
        // commune is read from the notice each one belongs to).
        let mut tx = app.state.db.platform().begin().await?;
        for i in 0..5_000 {
            let mail = notice_mail(paris_id, "maire@paris.example", &format!("Alerte n° {i}"));
            jobs::push(&mut *tx, &mail).await?;
        }
        tx.commit().await?;
        app.state.jobs.notify();
        app.smtp
            .wait_for("maire@paris.example", "Alerte n° ")
            .await?;

        // While Paris's backlog drains, a Lyon notice e-mail and a password reset asked on
        // Lyon's site (platform work) both arrive within the bound.
        let lyon_latency = lyon_mail_latency(&app, lyon_id, 1).await?;
        let client = app.client()?;
        let token = form_token(&client, &app.url(Some(&lyon), "/mot-de-passe-oublie")).await?;
        let started = Instant::now();
        let r = client
            .post(app.url(Some(&lyon), "/mot-de-passe-oublie"))
            .form(&[("csrf_token", token.as_str()), ("email", "lea@example.org")])
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        app.smtp
            .wait_for("lea@example.org", "Réinitialisez votre mot de passe")
            .await?;
        let reset_latency = started.elapsed();
        let paris_left = pending_of(&app, paris_id).await?;
        println!(
            "{backend:?}: Lyon e-mail {lyon_latency:?}, reset e-mail {reset_latency:?}, \
             Paris still pending {paris_left} of 5000"
        );
        assert!(
            lyon_latency < LATENCY_BOUND,
            "Lyon's e-mail waited {lyon_latency:?} behind Paris's flood"
        );
        assert!(
            reset_latency < LATENCY_BOUND,
            "the reset e-mail waited {reset_latency:?} behind Paris's flood"
        );
        assert!(
            paris_left > 2_500,
            "Paris's backlog should still be mostly pending, {paris_left} left"
        );

        // Each job carries its commune: Paris's 5,000, Lyon's one; the reset is platform work.
        let lyon_jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1")
            .bind(lyon_id)
            .fetch_one(app.state.db.platform())
            .await?;
        assert_eq!(lyon_jobs, 1);
        let paris_jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1")
            .bind(paris_id)
            .fetch_one(app.state.db.platform())
            .await?;
        assert_eq!(paris_jobs, 5_000);
        let platform: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE tenant_id IS NULL AND payload LIKE '%lea@example.org%'",
        )
        .fetch_one(app.state.db.platform())
        .await?;
        assert_eq!(platform, 1);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    lyon_latency_behind_a_50000_job_backlog_in_paris,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let lyon = app.commune("69123").await?;
        let (paris_id, lyon_id) = (
            tenant_id(&app, &paris).await?,
            tenant_id(&app, &lyon).await?,
        );
        flood(&app, paris_id, 50_000).await?;
        app.smtp
            .wait_for("maire@paris.example", "Inondation")
            .await?;

        // Twenty Lyon e-mails, one after the other, while Paris's 50,000 are being sent.
        let mut latencies = Vec::new();
        for n in 0..20 {
            latencies.push(lyon_mail_latency(&app, lyon_id, n).await?);
        }
        latencies.sort();
        let p50 = latencies[latencies.len() / 2];
        let max = latencies[latencies.len() - 1];
        let paris_left = pending_of(&app, paris_id).await?;
        println!(
            "{backend:?}: Lyon e-mail latency behind 50,000 Paris jobs over 20 e-mails: \
             p50 {p50:?}, max {max:?}; Paris still pending {paris_left}"
        );
        assert!(max < LATENCY_BOUND, "Lyon's slowest e-mail took {max:?}");
        assert!(paris_left > 40_000, "{paris_left} Paris jobs left");
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_posts_e_mails_take_their_communes_turn,
    |backend| async move {
        // A post's e-mails to followers carry no notice: they once went to the platform's turn,
        // so a commune publishing in a loop delayed every password reset.
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let paris_id = tenant_id(&app, &paris).await?;
        let ines = app
            .account("ines@example.org", "mot de passe d'Inès")
            .await?;
        let client = app
            .signed_in(Some(&paris), "ines@example.org", "mot de passe d'Inès")
            .await?;
        app.follow_commune(&client, &paris).await?;
        sqlx::query(
            "INSERT INTO notification_preferences (account_id, email_rhythm, push, updated_at) \
             VALUES ($1, 'immediat', 1, 0)",
        )
        .bind(&ines.0)
        .execute(app.state.db.platform())
        .await?;

        let maire = app
            .account("maire@paris.example", "mot de passe du maire")
            .await?;
        app.grant(&maire, parvis_core::authz::Role::TenantAdmin, Some(&paris))
            .await?;
        let admin = app
            .signed_in(Some(&paris), "maire@paris.example", "mot de passe du maire")
            .await?;
        let token = form_token(&admin, &app.url(Some(&paris), "/publier")).await?;
        let r = admin
            .post(app.url(Some(&paris), "/publier"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("body", "Marché de Noël samedi sur le parvis."),
                ("theme", ""),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        app.smtp.wait_for("ines@example.org", "").await?;
        let mails: Vec<Option<parvis_core::types::TenantId>> = sqlx::query_scalar(
            "SELECT tenant_id FROM jobs WHERE kind = $1 AND payload LIKE '%ines@example.org%'",
        )
        .bind(MAIL_JOB)
        .fetch_all(app.state.db.platform())
        .await?;
        assert_eq!(mails, [Some(paris_id)]);
        app.stop().await;
        Ok(())
    }
);

/// An SMS provider that takes `delay` to answer each message (accepting it then), as a
/// provider that hangs does; returns its URL.
async fn slow_sms_provider(delay: Duration) -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/messages",
        axum::routing::post(move || async move {
            tokio::time::sleep(delay).await;
            axum::http::StatusCode::ACCEPTED
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/messages"))
}

both_backends!(
    a_communes_slow_jobs_leave_workers_to_the_others,
    |backend| async move {
        // Paris's text messages each hang 8 s at the provider: without a cap per commune they
        // would hold every worker, and Lyon's e-mail would wait 8 s for one to come back.
        let provider = slow_sms_provider(Duration::from_secs(8)).await?;
        let app = TestApp::start_configured(backend, 0, |config| {
            config.sms_url = Some(provider);
            config.sms_token = Some("jeton".into());
        })
        .await?;
        let paris = app.commune("75056").await?;
        let lyon = app.commune("69123").await?;
        let (paris_id, lyon_id) = (
            tenant_id(&app, &paris).await?,
            tenant_id(&app, &lyon).await?,
        );
        for i in 0..(2 * jobs::WORKERS) {
            let message = TextMessage {
                notice: NoticeRef {
                    tenant_id: paris_id,
                    notice_id: "sms-flood".into(),
                },
                to: format!("+336000000{i:02}"),
                text: "Cliquez ici".into(),
            };
            jobs::push(app.state.db.platform(), &message).await?;
        }
        app.state.jobs.notify();
        // The workers take Paris's messages up to the cap…
        let cap = i64::try_from(jobs::TENANT_RUNNING_CAP)?;
        let running = || async {
            anyhow::Ok(
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND locked_until IS NOT NULL \
                     AND done_at IS NULL AND failed_at IS NULL",
                )
                .bind(paris_id)
                .fetch_one(app.state.db.platform())
                .await?,
            )
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while running().await? < cap {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the workers never took {cap} of Paris's messages"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // …and no further: a claim made now, as any idle worker's, finds nothing it may run.
        assert!(
            !app.state.jobs.run_one().await?,
            "a third of Paris's messages was taken past the cap"
        );
        assert_eq!(running().await?, cap);

        let latency = lyon_mail_latency(&app, lyon_id, 1).await?;
        println!("{backend:?}: Lyon e-mail {latency:?} while Paris's text messages hang");
        assert!(
            latency < LATENCY_BOUND,
            "Lyon's e-mail waited {latency:?} for Paris's hanging jobs"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    finished_jobs_are_deleted_after_their_retention,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let db = &app.state.db;
        let at = parvis_core::util::now();
        let day = 24 * 3600;
        // (what, done_at, failed_at); none of them due, so the worker leaves them alone.
        let rows: [(&str, Option<i64>, Option<i64>); 5] = [
            ("done 8 days ago", Some(at - 8 * day), None),
            ("done yesterday", Some(at - day), None),
            ("failed 31 days ago", None, Some(at - 31 * day)),
            ("failed 10 days ago", None, Some(at - 10 * day)),
            ("pending for 40 days", None, None),
        ];
        for (what, done_at, failed_at) in rows {
            sqlx::query(
                "INSERT INTO jobs (kind, payload, run_at, created_at, done_at, failed_at, last_error) \
                 VALUES ('test.kept', $1, $2, $3, $4, $5, 'erreur')",
            )
            .bind(serde_json::json!({ "what": what }).to_string())
            .bind(at + 365 * day)
            .bind(at - 40 * day)
            .bind(done_at)
            .bind(failed_at)
            .execute(db.platform())
            .await?;
        }
        // And 2,500 done long ago: more than one batch.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
             INSERT INTO jobs (kind, payload, run_at, created_at, done_at) \
             SELECT 'test.old', '{}', $1, $1, $1 FROM n",
        )
        .bind(at - 100 * day)
        .execute(db.platform())
        .await?;

        let swept = jobs::sweep(db, at).await?;
        assert_eq!(
            swept,
            jobs::Swept {
                done: 2_501,
                failed: 1
            }
        );
        let mut left: Vec<String> = sqlx::query_scalar("SELECT payload FROM jobs")
            .fetch_all(db.platform())
            .await?;
        left.sort();
        assert_eq!(
            left,
            [
                r#"{"what":"done yesterday"}"#,
                r#"{"what":"failed 10 days ago"}"#,
                r#"{"what":"pending for 40 days"}"#,
            ]
        );
        // The failed job kept is still listed for the operator.
        let failed = jobs::failed(db, Some("test.kept"), 10).await?;
        assert_eq!(failed.len(), 1);
        // A second sweep finds nothing more.
        assert_eq!(jobs::sweep(db, at).await?, jobs::Swept::default());
        app.stop().await;
        Ok(())
    }
);

both_backends!(a_sweep_is_bounded, |backend| async move {
    let app = TestApp::start(backend).await?;
    let db = &app.state.db;
    let at = parvis_core::util::now();
    let limit = jobs::SWEEP_BATCH * i64::try_from(jobs::SWEEP_MAX_BATCHES)?;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
         INSERT INTO jobs (kind, payload, run_at, created_at, done_at) \
         SELECT 'test.old', '{}', $1, $1, $1 FROM n",
    )
    .bind(at - 100 * 24 * 3600)
    .bind(limit + 10)
    .execute(db.platform())
    .await?;
    let first = jobs::sweep(db, at).await?;
    assert_eq!(first.done, u64::try_from(limit)?);
    let second = jobs::sweep(db, at).await?;
    assert_eq!(second.done, 10);
    app.stop().await;
    Ok(())
});
