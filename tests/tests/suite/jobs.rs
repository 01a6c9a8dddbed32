//! The job queue is durable: work enqueued before a restart is done after it.

use parvis_core::config::Config;
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
        state
            .jobs
            .enqueue(state.db.pool(), MAIL_JOB, &email)
            .await?;
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
