//! `parvis module install`, `--replace` and `parvis module grant` through the binary, against a
//! running server (issue 14): exit statuses and the operator's messages.

use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::Result;
use parvis_tests::{TestApp, TestDb, both_backends};

async fn parvis(db: &TestDb, args: &[&str]) -> Result<Output> {
    Ok(tokio::process::Command::new(env!("CARGO_BIN_EXE_parvis"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("PARVIS_BASE_DOMAIN", "parvis.test")
        .env(
            "PARVIS_MODULE_CACHE",
            parvis_tests::app::workspace_dir().join("target/parvis-test-module-cache"),
        )
        .env_remove("SMTP_URL")
        .output()
        .await?)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A refused command: exit status 1 and the message, not a panic.
fn refused(o: &Output, says: &str) {
    let text = text(o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(text.contains(says), "« {says} » missing: {text}");
}

/// The impostor's checkout answer on the running server, once it serves the impostor.
async fn checkout_refusal(app: &TestApp, slug: &str) -> Result<Option<String>> {
    let r = app
        .client()?
        .get(app.url(Some(slug), "/m/polls/checkout"))
        .send()
        .await?;
    if r.status() != 200 {
        return Ok(None);
    }
    // The JSON answer, `{"refused": …, "url": …}`, read as text.
    Ok(Some(r.text().await?))
}

const UNDECLARED: &str = "n'a pas déclaré la capacité « payments »";

both_backends!(
    an_impostor_is_refused_then_replaces_with_its_new_capability_pending,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let polls = parvis_tests::app::module_wasm("parvis-module-polls")?;
        let polls = polls.to_string_lossy();
        let impostor = parvis_tests::app::module_wasm("parvis-module-impostor")?;
        let impostor = impostor.to_string_lossy();

        let o = parvis(&app.db, &["module", "install", &polls]).await?;
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("Capacités accordées : storage, notify, feed, tick."),
            "{}",
            text(&o)
        );
        let o = parvis(&app.db, &["module", "enable", "--tenant", &paris, "polls"]).await?;
        assert!(o.status.success(), "{}", text(&o));

        let o = parvis(&app.db, &["module", "install", &impostor]).await?;
        refused(
            &o,
            "le module « polls » est déjà installé : « Sondages », version 0.1.0",
        );
        refused(&o, "« Consultations express », version 9.9.9");
        refused(&o, "capacités : storage, payments");
        let o = parvis(&app.db, &["module", "list"]).await?;
        assert!(
            text(&o).contains("0.1.0") && !text(&o).contains("9.9.9"),
            "{}",
            text(&o)
        );

        let o = parvis(&app.db, &["module", "install", "--replace", &impostor]).await?;
        assert!(o.status.success(), "{}", text(&o));
        for line in [
            "Module polls remplacé : « Sondages » version 0.1.0 → « Consultations express » version 9.9.9.",
            "Attention : le nom a changé.",
            "Capacités ajoutées : payments.",
            "Capacités retirées : notify, feed, tick.",
            "parvis module grant polls payments",
        ] {
            assert!(text(&o).contains(line), "« {line} » missing: {}", text(&o));
        }
        let o = parvis(&app.db, &["module", "list"]).await?;
        assert!(
            text(&o).contains("capacités : storage, payments (en attente d'autorisation)"),
            "{}",
            text(&o)
        );

        // The running server serves the impostor, its checkout refused as undeclared.
        let deadline = Instant::now() + Duration::from_secs(15);
        let why = loop {
            if let Some(why) = checkout_refusal(&app, &paris).await? {
                break why;
            }
            anyhow::ensure!(Instant::now() < deadline, "the replacement was not served");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(why.contains(UNDECLARED), "{why}");

        refused(
            &parvis(&app.db, &["module", "grant", "polls", "root"]).await?,
            "capacité inconnue « root »",
        );
        refused(
            &parvis(&app.db, &["module", "grant", "inconnu", "payments"]).await?,
            "aucun module installé n'a l'identifiant « inconnu »",
        );
        refused(
            &parvis(&app.db, &["module", "grant", "polls", "notify"]).await?,
            "le module « polls » ne déclare pas la capacité « notify »",
        );
        let o = parvis(&app.db, &["module", "grant", "polls", "payments"]).await?;
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("Autorisé"), "{}", text(&o));

        // The running server applies the grant without restart.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let why = checkout_refusal(&app, &paris).await?.unwrap_or_default();
            if !why.contains(UNDECLARED) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "the grant was not applied");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let o = parvis(&app.db, &["module", "list"]).await?;
        assert!(
            text(&o).contains("capacités : storage, payments\n"),
            "{}",
            text(&o)
        );
        app.stop().await;
        Ok(())
    }
);
