//! The job queue is durable: work enqueued before a restart is done after it.

use parvis_core::config::Config;
use parvis_core::jobs::{self, Job as _};
use parvis_core::mail::{Email, MAIL_JOB};
use parvis_tests::{SmtpSink, TestDb, both_backends};

both_backends!(jobs_survive_a_restart, |backend| async move {
    let db = TestDb::fresh(backend).await?;
    // First process: enqueues a mail and stops before any worker ran.
    {
        let config = Config::with_database(&db.url)?;
        let state = parvis::build(config).await?.state;
        let email = Email {
            to: "frank@example.org".into(),
            subject: "Avant le redémarrage".into(),
            text: "Bonjour".into(),
            attachments: vec![],
            notice: None,
            html: None,
            list_unsubscribe: None,
        };
        state.jobs.enqueue(state.db.platform(), &email).await?;
        state.db.close().await;
    }
    // Second process on the same database, with SMTP reachable: the mail goes out.
    let smtp = SmtpSink::start(0).await?;
    let mut config = Config::with_database(&db.url)?;
    config.smtp_url = Some(smtp.url());
    let state = parvis::build(config).await?.state;
    parvis_core::server::spawn_background(&state);
    let mail = smtp
        .wait_for("frank@example.org", "Avant le redémarrage")
        .await?;
    assert_eq!(mail.text.trim(), "Bonjour");
    state.db.close().await;
    smtp.stop().await;
    Ok(())
});

// A job is queued as a value of its type, so its kind and payload agree; a stored payload its
// type cannot read (written by hand, or by an older version) is given up at its first attempt,
// not retried for an hour and a quarter.
both_backends!(
    a_payload_its_type_cannot_read_fails_at_once,
    |backend| async move {
        let db = TestDb::fresh(backend).await?;
        let config = Config::with_database(&db.url)?;
        let state = parvis::build(config).await?.state;
        assert_eq!(Email::KIND, MAIL_JOB);
        sqlx::query(
            "INSERT INTO jobs (kind, payload, run_at, created_at, max_attempts) \
         VALUES ($1, $2, 0, 0, 8)",
        )
        .bind(MAIL_JOB)
        .bind(r#"{"to": 42}"#)
        .execute(state.db.platform())
        .await?;
        assert!(state.jobs.run_one().await?, "the job was claimed");
        let failed = jobs::failed(&state.db, Some(MAIL_JOB), 10).await?;
        assert_eq!(failed.len(), 1, "given up at once: {failed:?}");
        assert_eq!(failed[0].attempts, 1);
        let error = failed[0].last_error.as_deref().unwrap_or_default();
        assert!(error.contains("payload of mail"), "{error}");
        assert!(!state.jobs.run_one().await?, "nothing left to retry");
        state.db.close().await;
        Ok(())
    }
);
