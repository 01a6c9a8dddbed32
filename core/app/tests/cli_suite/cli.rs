//! The `parvis` binary: commands, exit codes and messages for bad input.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use parvis_tests::{TestDb, both_backends};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::Child;

/// The binary of this package, built by cargo for its integration tests.
fn binary() -> Result<PathBuf> {
    Ok(PathBuf::from(env!("CARGO_BIN_EXE_parvis")))
}

async fn parvis(db: &TestDb, args: &[&str]) -> Result<Output> {
    Ok(tokio::process::Command::new(binary()?)
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

/// Asserts the command ended with exit code `code` (not a panic's 101, not a signal) and a
/// stderr line starting with `prefix` that says `why`.
#[track_caller]
pub(crate) fn exits_with(o: &Output, code: i32, prefix: &str, why: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit {code}: {}",
        text(o)
    );
    assert!(!stderr.contains("panicked"), "a panic: {stderr}");
    let message = stderr
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no « {prefix} » line on stderr: {stderr}"));
    assert!(
        message.contains(why),
        "stderr does not say « {why} »: {message}"
    );
}

/// The command refused its input the way `parvis` documents it: exit code 1 and a French
/// `erreur : …` line that says `why`.
#[track_caller]
pub(crate) fn refused(o: &Output, why: &str) {
    exits_with(o, 1, "erreur : ", why);
}

/// The command line itself was refused by its parser (clap), before any work: exit code 2 and
/// clap's `error:` line naming `what`.
#[track_caller]
fn usage_refused(o: &Output, what: &str) {
    exits_with(o, 2, "error: ", what);
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Reads what a just started `parvis serve` (stdout and stderr piped) prints, line by line,
/// until `up` says a line shows it is ready, within `timeout`: what it printed by then and
/// the `ip:port` of its « Parvis écoute sur … » line. The rest of its output is drained, so
/// its pipes do not fill up. If it does not get there, it is killed and the error carries
/// what it printed on both streams.
pub(crate) async fn wait_until_serving(
    child: &mut Child,
    what: &str,
    timeout: Duration,
    mut up: impl FnMut(&str) -> bool,
) -> Result<(String, String)> {
    let stdout = child.stdout.take().context("stdout")?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut output = String::new();
    let (mut addr, mut ready) = (None, false);
    let read = async {
        while let Some(line) = lines.next_line().await? {
            output.push_str(&line);
            output.push('\n');
            if let Some(a) = line.strip_prefix("Parvis écoute sur ") {
                addr = Some(a.trim_end_matches('.').to_string());
            }
            if up(&line) {
                ready = true;
                break;
            }
        }
        anyhow::Ok(())
    };
    let finished = tokio::time::timeout(timeout, read).await;
    let (Ok(Ok(())), true, Some(addr)) = (finished, ready, addr) else {
        let _ = child.start_kill();
        let mut errors = String::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(5), stderr.read_to_string(&mut errors)).await;
        bail!("{what} did not start:\n{output}\n{errors}");
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink).await;
    });
    Ok((output, addr))
}

both_backends!(tenant_commands_and_their_errors, |backend| async move {
    let db = TestDb::fresh(backend).await?;
    // Before the registry is imported, a commune cannot be provisioned.
    let o = parvis(&db, &["tenant", "create", "--insee", "75056"]).await?;
    refused(&o, "lancez d'abord `parvis communes import`");

    let o = parvis(&db, &["communes", "import"]).await?;
    assert!(o.status.success(), "{}", text(&o));
    let communes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM communes")
        .fetch_one(db.db.platform())
        .await?;
    assert!(communes > 34_000, "{communes} communes imported");
    let o = parvis(&db, &["tenant", "create", "--insee", "75056"]).await?;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("paris.parvis.test"));
    let paris =
        parvis_tenants::provision::find_by_slug(&db.db, &parvis_core::types::Slug::parse("paris")?)
            .await?
            .context("tenant create left no commune « paris »")?;
    assert_eq!(paris.insee.as_str(), "75056");
    let o = parvis(&db, &["tenant", "create", "--insee", "75056"]).await?;
    refused(&o, "la commune 75056 est déjà ouverte");
    let o = parvis(&db, &["tenant", "create", "--insee", "99999"]).await?;
    refused(&o, "aucune commune n'a le code INSEE 99999");
    let o = parvis(&db, &["tenant", "create", "--insee", "pas-un-code"]).await?;
    refused(&o, "« pas-un-code » n'est pas un code INSEE");
    let o = parvis(
        &db,
        &["tenant", "create", "--insee", "69123", "--slug", "paris"],
    )
    .await?;
    refused(&o, "l'identifiant « paris » est déjà utilisé");
    let o = parvis(
        &db,
        &["tenant", "create", "--insee", "69123", "--slug", "Lyon!"],
    )
    .await?;
    refused(
        &o,
        "« Lyon! » n'est pas un identifiant de sous-domaine valide",
    );

    let o = parvis(&db, &["tenant", "list"]).await?;
    assert!(o.status.success());
    assert!(
        text(&o).contains("75056") && text(&o).contains("1 commune(s)"),
        "{}",
        text(&o)
    );

    let o = parvis(
        &db,
        &[
            "user",
            "create",
            "--email",
            "maire@paris.test",
            "--password",
            "mot de passe solide",
            "--role",
            "tenant-admin",
            "--tenant",
            "paris",
        ],
    )
    .await?;
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Compte maire@paris.test créé.")
            && text(&o).contains("Rôle tenant-admin attribué."),
        "{}",
        text(&o)
    );
    // A verified account, named after its address, whose password opens it, admin of Paris
    // (the rules as a server loads them from the database) and of nowhere else.
    let maire = parvis_core::accounts::store::by_email(&db.db, "maire@paris.test")
        .await?
        .context("user create left no account")?;
    assert_eq!(maire.display_name, "maire");
    assert!(maire.email_verified_at.is_some(), "not verified");
    assert!(
        parvis_core::accounts::service::password_matches(&db.db, &maire.id, "mot de passe solide")
            .await?
    );
    // Her phone and recovery codes lost, the operator turns her two factors off.
    sqlx::query(
        "UPDATE accounts SET totp_secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', \
         totp_enabled_at = 1 WHERE id = $1",
    )
    .bind(&maire.id.0)
    .execute(db.db.platform())
    .await?;
    let o = parvis(
        &db,
        &["user", "second-factor-off", "--email", " Maire@Paris.test "],
    )
    .await?;
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Double authentification désactivée pour maire@paris.test"),
        "{}",
        text(&o)
    );
    let on: Option<i64> = sqlx::query_scalar("SELECT totp_enabled_at FROM accounts WHERE id = $1")
        .bind(&maire.id.0)
        .fetch_one(db.db.platform())
        .await?;
    assert_eq!(on, None);
    let o = parvis(
        &db,
        &[
            "user",
            "second-factor-off",
            "--email",
            "personne@paris.test",
        ],
    )
    .await?;
    refused(&o, "aucun compte à l'adresse personne@paris.test");
    let authz = parvis_core::authz::Authz::load(db.db.clone()).await?;
    let manage = parvis_core::authz::perms::MANAGE_ROLES;
    assert!(
        authz
            .can(Some(&maire.id), &paris.id.authz_domain(), manage)
            .await,
        "the new account is no admin of Paris"
    );
    assert!(
        !authz
            .can(Some(&maire.id), parvis_core::authz::PLATFORM_DOMAIN, manage)
            .await,
        "a commune's admin became a platform admin"
    );
    let o = parvis(
        &db,
        &[
            "user",
            "create",
            "--email",
            "x@paris.test",
            "--password",
            "court",
        ],
    )
    .await?;
    refused(&o, "Le nom affiché doit compter entre 2 et 80 caractères.");
    let o = parvis(
        &db,
        &[
            "user",
            "create",
            "--email",
            "y@paris.test",
            "--password",
            "mot de passe solide",
            "--role",
            "emperor",
        ],
    )
    .await?;
    refused(&o, "rôle inconnu « emperor »");
    let o = parvis(
        &db,
        &[
            "user",
            "create",
            "--email",
            "z@paris.test",
            "--password",
            "mot de passe solide",
            "--role",
            "moderator",
        ],
    )
    .await?;
    refused(&o, "ajoutez --tenant SLUG");
    // The refused accounts were not created.
    for email in ["x@paris.test", "y@paris.test", "z@paris.test"] {
        assert!(
            parvis_core::accounts::store::by_email(&db.db, email)
                .await?
                .is_none(),
            "{email} was created by a refused command"
        );
    }

    let o = parvis(
        &db,
        &["officials", "import", "--file", "/nonexistent/elus.csv"],
    )
    .await?;
    refused(
        &o,
        "/nonexistent/elus.csv : lecture impossible : No such file",
    );
    // The cause is said once (it was printed three times through the error chain).
    assert_eq!(text(&o).matches("No such file").count(), 1, "{}", text(&o));

    // A bad data folder: clear error, nothing changed.
    let bad = tempfile::tempdir()?;
    std::fs::write(bad.path().join("communes.json.gz"), b"not gzip")?;
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM communes")
        .fetch_one(db.db.platform())
        .await?;
    let o = parvis(
        &db,
        &[
            "communes",
            "import",
            "--from",
            bad.path().to_str().context("path")?,
        ],
    )
    .await?;
    refused(&o, "regions.json");
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM communes")
        .fetch_one(db.db.platform())
        .await?;
    assert_eq!(before, after);

    Ok(())
});

#[tokio::test]
async fn bad_configuration_is_reported() -> Result<()> {
    let o = tokio::process::Command::new(binary()?)
        .args(["migrate"])
        .env("DATABASE_URL", "mysql://nope")
        .output()
        .await?;
    refused(&o, "DATABASE_URL = « mysql://nope »");
    let o = tokio::process::Command::new(binary()?)
        .args(["migrate"])
        .env("PARVIS_BIND", "nowhere")
        .env("DATABASE_URL", "sqlite::memory:")
        .output()
        .await?;
    refused(&o, "PARVIS_BIND = « nowhere »");
    Ok(())
}

both_backends!(
    a_module_installed_by_the_cli_is_served_without_restart,
    |backend| async move {
        let app = parvis_tests::TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let dir = tempfile::tempdir()?;
        let bogus = dir.path().join("pas-un-module.wasm");
        std::fs::write(&bogus, b"\0asm pas vraiment")?;
        let o = parvis(&app.db, &["module", "install", &bogus.to_string_lossy()]).await?;
        refused(&o, "n'est pas un module Parvis");

        let wasm = parvis_tests::app::module_wasm("parvis-module-hostile")?;
        let wasm = wasm.to_string_lossy();
        let o = parvis(&app.db, &["module", "install", &wasm]).await?;
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("hostile"), "{}", text(&o));
        let o = parvis(&app.db, &["module", "install", &wasm]).await?;
        assert!(
            o.status.success(),
            "installing twice is harmless: {}",
            text(&o)
        );
        let o = parvis(
            &app.db,
            &["module", "enable", "--tenant", &paris, "inconnu"],
        )
        .await?;
        refused(&o, "aucun module « inconnu » n'est installé");
        let o = parvis(
            &app.db,
            &["module", "enable", "--tenant", &paris, "hostile"],
        )
        .await?;
        assert!(o.status.success(), "{}", text(&o));

        // The running server picks the new module up by itself.
        let client = app.client()?;
        let started = std::time::Instant::now();
        loop {
            let r = client
                .get(app.url(Some(&paris), "/m/hostile/ping"))
                .send()
                .await?;
            if r.status() == 200 {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < std::time::Duration::from_secs(8),
                "the running server did not serve the module: {}",
                r.status()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let o = parvis(&app.db, &["module", "list"]).await?;
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("activé dans 1 commune(s)"),
            "{}",
            text(&o)
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(failed_jobs_are_listed_and_put_back, |backend| async move {
    let db = TestDb::fresh(backend).await?;
    let o = parvis(&db, &["jobs", "failed"]).await?;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("0 tâche(s) en échec."), "{}", text(&o));

    // Two jobs given up, one still pending.
    for (kind, failed_at) in [
        ("mail.send", Some(1_764_000_000_i64)),
        ("module.account_deleted", Some(1_764_000_600)),
        ("mail.send", None),
    ] {
        sqlx::query(
            "INSERT INTO jobs (kind, payload, run_at, attempts, max_attempts, last_error, failed_at, created_at) \
             VALUES ($1, '{}', 0, 8, 8, 'smtp: connexion refusée', $2, 0)",
        )
        .bind(kind)
        .bind(failed_at)
        .execute(db.db.platform())
        .await?;
    }
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM jobs ORDER BY id")
        .fetch_all(db.db.platform())
        .await?;
    let o = parvis(&db, &["jobs", "failed"]).await?;
    let listed = text(&o);
    assert!(listed.contains("2 tâche(s) en échec."), "{listed}");
    assert!(listed.contains("smtp: connexion refusée"), "{listed}");
    // Latest first, in Paris time.
    let erasure = listed
        .find("module.account_deleted")
        .context(listed.clone())?;
    let mail = listed.find("mail.send").context(listed.clone())?;
    assert!(erasure < mail, "{listed}");
    assert!(listed.contains("24/11/2025 17:00"), "{listed}");
    let o = parvis(&db, &["jobs", "failed", "--kind", "mail.send"]).await?;
    assert!(text(&o).contains("1 tâche(s) en échec."), "{}", text(&o));

    // Naming a job that did not fail (the pending one) puts back none.
    let (mail_id, pending_id) = (ids[0].to_string(), ids[2].to_string());
    let o = parvis(&db, &["jobs", "retry", &mail_id, &pending_id]).await?;
    refused(
        &o,
        &format!("la tâche n° {pending_id} n'existe pas ou n'a pas échoué"),
    );
    let o = parvis(&db, &["jobs", "retry"]).await?;
    usage_refused(&o, "required arguments were not provided");
    let o = parvis(&db, &["jobs", "retry", "pas-un-numero"]).await?;
    usage_refused(&o, "invalid value 'pas-un-numero'");
    let still: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE failed_at IS NOT NULL")
        .fetch_one(db.db.platform())
        .await?;
    assert_eq!(still, 2);

    // A number given twice is one job.
    let o = parvis(&db, &["jobs", "retry", &mail_id, &mail_id]).await?;
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("1 tâche(s) remise(s) en file."),
        "{}",
        text(&o)
    );
    let (attempts, failed_at): (i64, Option<i64>) =
        sqlx::query_as("SELECT attempts, failed_at FROM jobs WHERE id = $1")
            .bind(ids[0])
            .fetch_one(db.db.platform())
            .await?;
    assert_eq!((attempts, failed_at), (0, None));
    let o = parvis(&db, &["jobs", "retry", "--kind", "module.account_deleted"]).await?;
    assert!(
        text(&o).contains("1 tâche(s) remise(s) en file."),
        "{}",
        text(&o)
    );
    let o = parvis(&db, &["jobs", "failed"]).await?;
    assert!(text(&o).contains("0 tâche(s) en échec."), "{}", text(&o));
    Ok(())
});
