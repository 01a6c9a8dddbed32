//! The `parvis` commands no test ran (issue 16, « never tested »), through the real binary:
//! `migrate`, `billing grid|sync|connect`, `module entitle|disable`, `tenant create --all|--slug`,
//! `officials import` (a file that imports), and `serve` itself with its configuration from the
//! environment and from `parvis.toml` (`PARVIS_HTTPS`, `PARVIS_TRUST_PROXY`). Each check reads
//! what the command did (rows, Stripe's prices, a running server's answers), not only its exit
//! code; a refusal is exit code 1 with the French `erreur : …` line that says why.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use parvis_core::db::Db;
use parvis_tests::stripe::{FakeStripe, SECRET_KEY};
use parvis_tests::{Backend, TestApp, TestDb, both_backends, form_token};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};

use crate::cli::{exits_with, refused, text, wait_until_serving};

/// Every variable `Config` reads: the tests set the ones they mean, nothing leaks in.
const SETTINGS: [&str; 22] = [
    "DATABASE_URL",
    "PARVIS_BIND",
    "PARVIS_BASE_DOMAIN",
    "SMTP_URL",
    "PARVIS_MAIL_FROM",
    "PARVIS_HTTPS",
    "PARVIS_PUBLIC_PORT",
    "PARVIS_METRICS_TOKEN",
    "PARVIS_METRICS_BIND",
    "PARVIS_TRUST_PROXY",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "PARVIS_BILLING_GRID",
    "PARVIS_MODULE_CACHE",
    "PARVIS_SMS_URL",
    "PARVIS_SMS_TOKEN",
    "PARVIS_SMS_SENDER",
    "PARVIS_VAPID_PRIVATE_KEY",
    "PARVIS_VAPID_SUBJECT",
    "PARVIS_PUSH_ALLOW_LOOPBACK_HTTP",
    "PARVIS_DEMO_MODULES",
];

/// The binary, with no setting but `env` and the shared module cache, run in a fresh folder
/// (so no `parvis.toml` is read unless a test writes one there).
fn command(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parvis"));
    for name in SETTINGS {
        c.env_remove(name);
    }
    c.current_dir(dir).env(
        "PARVIS_MODULE_CACHE",
        parvis_tests::app::workspace_dir().join("target/parvis-test-module-cache"),
    );
    for (name, value) in env {
        c.env(name, value);
    }
    c
}

/// Runs `parvis args…` on `database_url` with `env`.
async fn parvis_with(database_url: &str, env: &[(&str, &str)], args: &[&str]) -> Result<Output> {
    let dir = tempfile::tempdir()?;
    let mut env = env.to_vec();
    env.push(("DATABASE_URL", database_url));
    env.push(("PARVIS_BASE_DOMAIN", "parvis.test"));
    Ok(command(dir.path(), &env).args(args).output().await?)
}

async fn parvis(database_url: &str, args: &[&str]) -> Result<Output> {
    parvis_with(database_url, &[], args).await
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The command succeeded (exit 0) and printed `line` as one of its lines.
#[track_caller]
fn printed(o: &Output, line: &str) {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    assert!(
        stdout(o).lines().any(|l| l.trim_end() == line),
        "no line « {line} »: {}",
        text(o)
    );
}

/// `parvis tenant create --insee 69123 --slug ville-de-lyon` (Lyon in the registry), and
/// what it says it did.
async fn open_lyon(database_url: &str) -> Result<()> {
    let o = parvis(
        database_url,
        &[
            "tenant",
            "create",
            "--insee",
            "69123",
            "--slug",
            "ville-de-lyon",
        ],
    )
    .await?;
    printed(
        &o,
        "Commune Lyon (69123) ouverte : http://ville-de-lyon.parvis.test/",
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// migrate

/// An empty database on `backend` (no table): its URL, and the folder or name that keeps it.
async fn empty_database(backend: Backend) -> Result<(String, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir()?;
            // A folder that does not exist yet: `migrate` creates the file and its folder.
            let url = format!("sqlite://{}/donnees/parvis.db", dir.path().display());
            Ok((url, Some(dir)))
        }
        Backend::Postgres => {
            let admin = parvis_tests::db::pg_admin_url()?;
            let name = format!("parvis_test_{}", uuid_like());
            let admin_db = Db::connect(&admin).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(admin_db.platform())
                .await?;
            admin_db.close().await;
            let (path, query) = match admin.split_once('?') {
                Some((path, query)) => (path, format!("?{query}")),
                None => (admin.as_str(), String::new()),
            };
            let (server, _) = path.rsplit_once('/').context("no database in the URL")?;
            Ok((format!("{server}/{name}{query}"), None))
        }
    }
}

/// A name no other test uses.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}{:x}", std::process::id())
}

/// The migration numbers shipped for a backend (`0001_platform.sql` → 1).
fn shipped_migrations(backend: Backend) -> Result<Vec<i64>> {
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(
        parvis_tests::app::workspace_dir()
            .join("migrations")
            .join(folder),
    )? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(number) = name.strip_suffix(".sql").and_then(|n| n.split('_').next()) {
            numbers.push(number.parse()?);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

both_backends!(migrate_applies_every_migration_once, |backend| async move {
    let (url, _keep) = empty_database(backend).await?;
    let shipped = shipped_migrations(backend)?;
    assert!(shipped.len() > 20, "{shipped:?}");
    for run in ["first", "second"] {
        let o = parvis(&url, &["migrate"]).await?;
        printed(&o, "Base de données à jour.");
        let db = Db::connect(&url).await?;
        let applied: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT version, CASE WHEN success THEN 1 ELSE 0 END FROM _sqlx_migrations \
             ORDER BY version",
        )
        .fetch_all(db.platform())
        .await?;
        assert_eq!(
            applied,
            shipped.iter().map(|v| (*v, 1)).collect::<Vec<_>>(),
            "{run} run"
        );
        // The schema is there: the registry's table answers.
        let communes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM communes")
            .fetch_one(db.platform())
            .await?;
        assert_eq!(communes, 0);
        db.close().await;
    }
    Ok(())
});

// ---------------------------------------------------------------------------------------------
// billing grid | sync | connect

/// The default grid with one price changed (donations, smallest tier, monthly: 5 € → 6 €).
fn changed_grid(dir: &Path) -> Result<PathBuf> {
    let grid =
        std::fs::read_to_string(parvis_tests::app::workspace_dir().join("billing/grid.toml"))?;
    let changed = grid.replacen("prices = [[500, 5000]", "prices = [[600, 5000]", 1);
    anyhow::ensure!(
        changed != grid,
        "the donations offer's prices moved in grid.toml"
    );
    let path = dir.join("grille.toml");
    std::fs::write(&path, changed)?;
    Ok(path)
}

#[tokio::test]
async fn billing_grid_prints_the_price_grid() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/parvis.db", dir.path().display());
    let o = parvis(&url, &["billing", "grid"]).await?;
    printed(&o, "Délai de grâce après un échec de paiement : 14 jours.");
    printed(&o, "Appel au don (donations) — modules : donations");
    printed(
        &o,
        "Pack services premium (pack) — modules : office-hours, donations",
    );
    let lines: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    // Each offer lists its seven tiers, monthly and yearly, in euros.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("moins de 500 habitants"))
            .count(),
        4,
        "{lines:?}"
    );
    assert!(
        lines.contains(&"moins de 500 habitants 5 € / mois 50 € / an".to_string()),
        "{lines:?}"
    );
    assert!(
        // (Thousands are grouped by a narrow no-break space, which the line's reading collapses.)
        lines.contains(&"100 000 habitants et plus 399 € / mois 3 990 € / an".to_string()),
        "{lines:?}"
    );

    // PARVIS_BILLING_GRID: another grid is read, and a broken one refused.
    let grid = changed_grid(dir.path())?;
    let grid = grid.to_string_lossy();
    let o = parvis_with(
        &url,
        &[("PARVIS_BILLING_GRID", &grid)],
        &["billing", "grid"],
    )
    .await?;
    assert!(
        stdout(&o)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .any(|l| l == "moins de 500 habitants 6 € / mois 50 € / an"),
        "{}",
        text(&o)
    );
    let broken = dir.path().join("cassee.toml");
    std::fs::write(
        &broken,
        "currency = \"EUR\"\ngrace_days = 14\ntiers = []\noffers = []\n",
    )?;
    let o = parvis_with(
        &url,
        &[("PARVIS_BILLING_GRID", &broken.to_string_lossy())],
        &["billing", "grid"],
    )
    .await?;
    refused(
        &o,
        "grille tarifaire : devise « EUR » : attendu un code ISO 4217",
    );
    Ok(())
}

#[tokio::test]
async fn billing_sync_publishes_the_grid_at_stripe_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/parvis.db", dir.path().display());
    let o = parvis(&url, &["billing", "sync"]).await?;
    refused(
        &o,
        "STRIPE_SECRET_KEY manquant : impossible de publier la grille chez Stripe",
    );

    let stripe = FakeStripe::start().await?;
    let base = stripe.url();
    let env = [
        ("STRIPE_SECRET_KEY", SECRET_KEY),
        ("STRIPE_API_BASE", base.as_str()),
    ];
    let o = parvis_with(&url, &env, &["billing", "sync"]).await?;
    printed(
        &o,
        "Stripe à jour : 4 produit(s) créé(s), 0 mis à jour ; 56 tarif(s) créé(s), 0 inchangé(s).",
    );
    let key_of = |p: &serde_json::Value| p["lookup_key"].as_str().map(str::to_string);
    let prices = stripe.prices()?;
    let mut keys: Vec<String> = prices.iter().filter_map(key_of).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        56,
        "one price per offer × tier × interval: {keys:?}"
    );
    let price = |key: &str| -> Result<(i64, String)> {
        let p = stripe
            .prices()?
            .into_iter()
            .find(|p| p["lookup_key"] == key)
            .with_context(|| format!("no price {key}"))?;
        Ok((
            p["unit_amount"].as_i64().unwrap_or(0),
            p["recurring"]["interval"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        ))
    };
    assert_eq!(price("parvis:donations:s1:month")?, (500, "month".into()));
    assert_eq!(price("parvis:pack:s7:year")?, (399_000, "year".into()));

    // Again: nothing new at Stripe.
    let o = parvis_with(&url, &env, &["billing", "sync"]).await?;
    printed(
        &o,
        "Stripe à jour : 0 produit(s) créé(s), 0 mis à jour ; 0 tarif(s) créé(s), 56 inchangé(s).",
    );
    assert_eq!(stripe.prices()?.len(), 56);

    // One price changed in the grid: one new price, which takes the lookup key over.
    let grid = changed_grid(dir.path())?;
    let grid = grid.to_string_lossy();
    let mut changed = env.to_vec();
    changed.push(("PARVIS_BILLING_GRID", &grid));
    let o = parvis_with(&url, &changed, &["billing", "sync"]).await?;
    printed(
        &o,
        "Stripe à jour : 0 produit(s) créé(s), 0 mis à jour ; 1 tarif(s) créé(s), 55 inchangé(s).",
    );
    assert_eq!(stripe.prices()?.len(), 57);
    assert_eq!(price("parvis:donations:s1:month")?, (600, "month".into()));

    // Stripe refusing the key: said, not a panic, nothing claimed, nothing written.
    let wrong = [
        ("STRIPE_SECRET_KEY", "sk_test_autre"),
        ("STRIPE_API_BASE", base.as_str()),
    ];
    let o = parvis_with(&url, &wrong, &["billing", "sync"]).await?;
    refused(&o, "Invalid API Key provided.");
    assert!(!stdout(&o).contains("Stripe à jour"), "{}", text(&o));
    assert_eq!(stripe.prices()?.len(), 57);
    Ok(())
}

/// Paris with the donations module on (entitled) and its mayor's campaign, payments through
/// the local Stripe; the campaign's address.
async fn paris_with_a_campaign(backend: Backend) -> Result<(TestApp, FakeStripe, String, String)> {
    let stripe = FakeStripe::start().await?;
    let app = stripe.app(backend).await?;
    let paris = app.commune("75056").await?;
    app.install_module("parvis-module-donations").await?;
    let o = parvis(
        &app.db.url,
        &["module", "entitle", "--tenant", &paris, "donations"],
    )
    .await?;
    printed(&o, "Paris peut activer le module premium donations.");
    app.enable_module(&paris, "donations").await?;
    let maire = app.account("maire@paris.fr", "mot-de-passe-solide").await?;
    app.grant(&maire, parvis_core::authz::Role::TenantAdmin, Some(&paris))
        .await?;
    let admin = app
        .signed_in(Some(&paris), "maire@paris.fr", "mot-de-passe-solide")
        .await?;
    let id =
        parvis_tests::donations::open_campaign(&app, &admin, &paris, "Restaurer l'orgue").await?;
    let campaign = app.url(Some(&paris), &format!("/m/donations/{id}"));
    Ok((app, stripe, paris, campaign))
}

/// `$client` gives 10 € to `$campaign`: the status and the Location or page. (A macro: this
/// crate does not name the HTTP client's type.)
macro_rules! give {
    ($client:expr, $campaign:expr) => {
        async {
            let token = form_token($client, $campaign).await?;
            let r = $client
                .post(format!("{}/donner", $campaign))
                .form(&[("csrf_token", token.as_str()), ("montant", "10")])
                .send()
                .await?;
            parvis_tests::outcome(r).await
        }
    };
}

both_backends!(
    billing_connect_sends_the_communes_gifts_to_its_account,
    |backend| async move {
        let (app, stripe, paris, campaign) = paris_with_a_campaign(backend).await?;
        app.account("claire@example.org", "mot-de-passe-solide")
            .await?;
        let claire = app
            .signed_in(Some(&paris), "claire@example.org", "mot-de-passe-solide")
            .await?;
        // No connected account yet: no payment page is opened.
        let (status, page) = give!(&claire, &campaign).await?;
        assert_eq!(status, 503, "{page}");
        let sessions = |stripe: &FakeStripe| -> Result<Vec<Option<String>>> {
            Ok(stripe
                .requests()?
                .into_iter()
                .filter(|(m, p, _)| m == "POST" && p == "/v1/checkout/sessions")
                .map(|(_, _, account)| account)
                .collect())
        };
        assert!(sessions(&stripe)?.is_empty());

        let o = parvis(
            &app.db.url,
            &["billing", "connect", "--tenant", &paris, "pas-un-compte"],
        )
        .await?;
        refused(
            &o,
            "compte connecté « pas-un-compte » : attendu un identifiant Stripe acct_…",
        );
        let o = parvis(
            &app.db.url,
            &[
                "billing",
                "connect",
                "--tenant",
                "nulle-part",
                "acct_paris_mairie",
            ],
        )
        .await?;
        refused(&o, "commune « nulle-part » inconnue");
        let (status, _) = give!(&claire, &campaign).await?;
        assert_eq!(status, 503, "a refused connect recorded nothing");

        let o = parvis(
            &app.db.url,
            &[
                "billing",
                "connect",
                "--tenant",
                &paris,
                "acct_paris_mairie",
            ],
        )
        .await?;
        printed(&o, "Les dons de paris seront versés sur acct_paris_mairie.");
        let (status, location) = give!(&claire, &campaign).await?;
        assert_eq!(status, 303, "{location}");
        assert!(
            location.starts_with("https://checkout.stripe.test/"),
            "{location}"
        );
        assert_eq!(
            sessions(&stripe)?,
            [Some("acct_paris_mairie".to_string())],
            "the payment page is opened on the commune's account"
        );
        app.stop().await;
        Ok(())
    }
);

// ---------------------------------------------------------------------------------------------
// module entitle | disable

/// Polls `url` until it answers `status` (a running server takes module changes within
/// seconds); the page then.
async fn until_status(app: &TestApp, url: &str, status: u16) -> Result<String> {
    let client = app.client()?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = client.get(url).send().await?;
        let got = r.status().as_u16();
        let page = r.text().await?;
        if got == status {
            return Ok(page);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{url} still answers {got}, not {status}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

both_backends!(
    modules_are_entitled_and_switched_off_from_the_command_line,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        app.install_module("parvis-module-donations").await?;
        let db = app.db.url.clone();

        // Premium: enabling needs the entitlement that `module entitle` gives.
        let o = parvis(&db, &["module", "enable", "--tenant", &paris, "donations"]).await?;
        refused(
            &o,
            "le module « Appel au don » est un module premium : la commune doit y être abonnée avant de l'activer",
        );
        let o = parvis(
            &db,
            &["module", "entitle", "--tenant", "nulle-part", "donations"],
        )
        .await?;
        refused(&o, "aucune commune n'a l'identifiant « nulle-part »");
        let o = parvis(&db, &["module", "entitle", "--tenant", &paris, "donations"]).await?;
        printed(&o, "Paris peut activer le module premium donations.");
        let o = parvis(&db, &["module", "enable", "--tenant", &paris, "donations"]).await?;
        printed(&o, "Module donations activé pour Paris.");
        let list = app.url(Some(&paris), "/m/donations/");
        until_status(&app, &list, 200).await?;

        // Switched off: the running server stops serving it, and the list says so.
        let o = parvis(&db, &["module", "disable", "--tenant", &paris, "inconnu"]).await?;
        refused(&o, "aucun module « inconnu » n'est installé");
        let o = parvis(&db, &["module", "disable", "--tenant", &paris, "donations"]).await?;
        printed(&o, "Module donations désactivé pour Paris.");
        let page = until_status(&app, &list, 404).await?;
        assert!(
            page.contains("Le service « Appel au don » n&#x27;est pas proposé par cette commune."),
            "{page}"
        );
        let o = parvis(&db, &["module", "list"]).await?;
        let line = stdout(&o)
            .lines()
            .find(|l| l.starts_with("donations "))
            .map(str::to_string)
            .with_context(|| text(&o))?;
        assert!(line.ends_with("activé dans 0 commune(s)"), "{line}");
        // The entitlement stays: switching it on again needs no new grant.
        let o = parvis(&db, &["module", "enable", "--tenant", &paris, "donations"]).await?;
        printed(&o, "Module donations activé pour Paris.");
        until_status(&app, &list, 200).await?;
        app.stop().await;
        Ok(())
    }
);

// ---------------------------------------------------------------------------------------------
// tenant create --all | --slug

both_backends!(tenant_create_all_and_with_a_slug, |backend| async move {
    let db = TestDb::fresh(backend).await?;
    let o = parvis(&db.url, &["communes", "import"]).await?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let communes: usize = stdout(&o)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| text(&o))?;
    assert!(communes > 34_000, "{communes}");

    let o = parvis(&db.url, &["tenant", "create", "--slug", "lyon"]).await?;
    exits_with(&o, 2, "error: ", "required arguments were not provided");
    assert!(text(&o).contains("--insee"), "{}", text(&o));
    let o = parvis(&db.url, &["tenant", "create", "--all", "--insee", "69123"]).await?;
    exits_with(&o, 2, "error: ", "cannot be used with");
    open_lyon(&db.url).await?;

    let o = parvis(&db.url, &["tenant", "create", "--all"]).await?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let expected = format!("{} commune(s) ouverte(s), 1 déjà ouverte(s).", communes - 1);
    assert!(stdout(&o).starts_with(&expected), "{}", text(&o));
    let (tenants, slugs): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT slug) FROM tenants")
            .fetch_one(db.db.platform())
            .await?;
    assert_eq!((tenants, slugs), (communes as i64, communes as i64));
    let lyon: String = sqlx::query_scalar("SELECT slug FROM tenants WHERE insee = '69123'")
        .fetch_one(db.db.platform())
        .await?;
    assert_eq!(lyon, "ville-de-lyon", "--all keeps the slugs chosen before");
    let paris: String = sqlx::query_scalar("SELECT slug FROM tenants WHERE insee = '75056'")
        .fetch_one(db.db.platform())
        .await?;
    assert_eq!(paris, "paris");

    let o = parvis(&db.url, &["tenant", "create", "--all"]).await?;
    let again = format!("0 commune(s) ouverte(s), {communes} déjà ouverte(s).");
    assert!(stdout(&o).starts_with(&again), "{}", text(&o));
    let o = parvis(&db.url, &["tenant", "list", "--limit", "1"]).await?;
    printed(&o, &format!("{communes} commune(s) au total."));
    Ok(())
});

// ---------------------------------------------------------------------------------------------
// officials import

both_backends!(officials_import_writes_the_registry, |backend| async move {
    use parvis_tests::rne::{ALICE_LAMBERT, HEADER};
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("elus-conseillers-municipaux-cm.csv");
    let mayor =
        "75;Paris;;;75056;Paris;DUPONT;Bruno;M;03/04/1960;37;Cadres;15/03/2026;Maire;15/03/2026;FR";
    let lyon = "69;Rhône;;;69123;Lyon;MARTIN;Chloé;F;05/06/1970;37;Cadres;15/03/2026;;;FR";
    let nameless = "75;Paris;;;75056;Paris;;;F;05/06/1970;37;Cadres;15/03/2026;;;FR";
    std::fs::write(
        &file,
        format!("{HEADER}\n{ALICE_LAMBERT}\n{mayor}\n{lyon}\n{nameless}\n"),
    )?;
    let path = file.to_string_lossy().into_owned();
    let o = parvis(&app.db.url, &["officials", "import", "--file", &path]).await?;
    printed(
        &o,
        "2 ligne(s) importée(s) (2 élu(s)), 0 mandat(s) terminé(s), 2 ligne(s) rejetée(s).",
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("ligne 4 rejetée : la commune 69123 n'est pas ouverte sur Parvis"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ligne 5 rejetée : nom ou prénom absent"),
        "{stderr}"
    );

    // The council is on the commune's page: the mayor first, with the function.
    let page = app
        .client()?
        .get(app.url(Some(&paris), "/"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        page.contains(">Bruno DUPONT</a> <small>Maire</small>"),
        "{page}"
    );
    assert!(
        page.contains(">Alice LAMBERT</a> <small>Conseillère municipale</small>"),
        "{page}"
    );

    // The next file no longer lists the mayor: his mandate ends, nothing is duplicated.
    std::fs::write(&file, format!("{HEADER}\n{ALICE_LAMBERT}\n"))?;
    let o = parvis(&app.db.url, &["officials", "import", "--file", &path]).await?;
    printed(
        &o,
        "1 ligne(s) importée(s) (1 élu(s)), 1 mandat(s) terminé(s), 0 ligne(s) rejetée(s).",
    );
    let mut tx = app.state.db.platform_tx().await?;
    let (officials, current): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM officials), \
         (SELECT COUNT(*) FROM mandates WHERE ended_at IS NULL)",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    assert_eq!((officials, current), (2, 1));
    app.stop().await;
    Ok(())
});

// ---------------------------------------------------------------------------------------------
// serve

/// A running `parvis serve`.
struct Served {
    child: Child,
    /// `ip:port` it listens on.
    addr: String,
    /// What it printed before listening.
    output: String,
}

/// Starts `parvis serve` in `dir` with `env` (plus `PARVIS_BIND=127.0.0.1:0` unless `env` or a
/// `parvis.toml` there says otherwise) and waits until it listens.
async fn serve(dir: &Path, env: &[(&str, &str)]) -> Result<Served> {
    let mut child = command(dir, env)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (output, addr) =
        wait_until_serving(&mut child, "serve", Duration::from_secs(120), |line| {
            line.starts_with("Plateforme : ")
        })
        .await?;
    Ok(Served {
        child,
        addr,
        output,
    })
}

/// An HTTP answer: status, headers (names lowercased), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `name=value` of a cookie the answer sets, and its attributes (lowercased).
    fn cookie(&self, name: &str) -> Result<(String, Vec<String>)> {
        let set = self
            .header_values("set-cookie")
            .into_iter()
            .find(|v| v.starts_with(&format!("{name}=")))
            .with_context(|| format!("no {name} cookie: {:?}", self.headers))?;
        let mut parts = set.split(';').map(str::trim);
        let pair = parts.next().unwrap_or_default().to_string();
        Ok((pair, parts.map(str::to_ascii_lowercase).collect()))
    }
}

impl Served {
    /// One HTTP/1.0 request to the server (what a proxy in front sends).
    async fn request(
        &self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        form: Option<&str>,
    ) -> Result<Answer> {
        let mut stream = tokio::net::TcpStream::connect(&self.addr).await?;
        let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/html\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = form.unwrap_or_default();
        if form.is_some() {
            head.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await??;
        let text = String::from_utf8(raw)?;
        let (head, body) = text.split_once("\r\n\r\n").context("no HTTP head")?;
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("no status: {head}"))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Ok(Answer {
            status,
            headers,
            body: body.to_string(),
        })
    }

    /// Stops it as a service manager does (SIGTERM) and waits for a clean exit.
    async fn terminate(mut self) -> Result<()> {
        let pid = self.child.id().context("already stopped")?;
        let kill = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        anyhow::ensure!(kill.success(), "kill -TERM {pid}");
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .context("still running 20 s after SIGTERM")??;
        anyhow::ensure!(status.success(), "serve ended with {status} on SIGTERM");
        Ok(())
    }
}

/// The CSRF cookie and the token of the forgotten-password form on `host`.
async fn reset_form(served: &Served, host: &str) -> Result<(String, Vec<String>, String)> {
    let form = served
        .request("GET", host, "/mot-de-passe-oublie", &[], None)
        .await?;
    anyhow::ensure!(form.status == 200, "form: {}", form.status);
    let (cookie, attributes) = form.cookie("parvis_csrf")?;
    let token = parvis_tests::csrf(&form.body).context("no token")?;
    Ok((cookie, attributes, token))
}

/// Asks for password resets (a new address each) on `host`, the `i`th claiming to come from
/// `forwarded_for(i)`, until one is refused for its client's budget (20 a minute); how many
/// were accepted before.
async fn resets_until_refused(
    served: &Served,
    host: &str,
    forwarded_for: impl Fn(usize) -> String,
) -> Result<usize> {
    let (cookie, _, token) = reset_form(served, host).await?;
    for i in 0..60 {
        let form = format!("csrf_token={token}&email=personne{i}%40example.org");
        let xff = forwarded_for(i);
        let answer = served
            .request(
                "POST",
                host,
                "/mot-de-passe-oublie",
                &[("Cookie", &cookie), ("X-Forwarded-For", &xff)],
                Some(&form),
            )
            .await?;
        match answer.status {
            200 => {}
            429 => return Ok(i),
            other => bail!("request {i}: {other}\n{}", answer.body),
        }
    }
    bail!("60 requests and none refused: they were not counted as one client")
}

both_backends!(serve_answers_then_stops_on_sigterm, |backend| async move {
    let db = TestDb::fresh(backend).await?;
    parvis_tenants::communes::import(
        &db.db,
        &parvis_tenants::communes::Source::Embedded,
        &parvis_tenants::communes::Selection::Only(vec![parvis_core::types::InseeCode::parse(
            "69123",
        )?]),
        parvis_tenants::communes::Progress::Hidden,
    )
    .await?;
    open_lyon(&db.url).await?;
    let dir = tempfile::tempdir()?;
    let served = serve(
        dir.path(),
        &[
            ("DATABASE_URL", &db.url),
            ("PARVIS_BIND", "127.0.0.1:0"),
            ("PARVIS_BASE_DOMAIN", "parvis.test"),
            ("PARVIS_PUBLIC_PORT", "8443"),
        ],
    )
    .await?;
    assert!(
        served
            .output
            .contains("Plateforme : http://parvis.test:8443/"),
        "links carry PARVIS_PUBLIC_PORT: {}",
        served.output
    );
    let health = served
        .request("GET", "anything", "/healthz", &[], None)
        .await?;
    assert_eq!(health.status, 200, "{}", health.body);
    let landing = served.request("GET", "parvis.test", "/", &[], None).await?;
    assert_eq!(landing.status, 200, "{}", landing.body);
    assert!(
        landing
            .body
            .contains("<h1>Le parvis de votre mairie, en ligne</h1>"),
        "{}",
        landing.body
    );
    let lyon = served
        .request("GET", "ville-de-lyon.parvis.test", "/", &[], None)
        .await?;
    assert_eq!(lyon.status, 200);
    assert!(
        lyon.body.contains("<title>Lyon — Parvis</title>"),
        "{}",
        lyon.body
    );
    // The slug chosen at creation is the address; the derived one is not.
    let other = served
        .request("GET", "lyon.parvis.test", "/", &[], None)
        .await?;
    assert_eq!(other.status, 404);
    assert!(
        other
            .body
            .contains("Aucune commune n&#x27;est servie à l&#x27;adresse")
            || other
                .body
                .contains("Aucune commune n'est servie à l'adresse"),
        "{}",
        other.body
    );
    // Plain HTTP: cookies without `Secure`.
    let (_, attributes, _) = reset_form(&served, "parvis.test").await?;
    assert!(!attributes.iter().any(|a| a == "secure"), "{attributes:?}");
    served.terminate().await?;
    Ok(())
});

/// A `parvis.toml` in `dir` with these lines.
fn write_toml(dir: &Path, lines: &[&str]) -> Result<()> {
    std::fs::write(dir.join("parvis.toml"), lines.join("\n") + "\n")?;
    Ok(())
}

#[tokio::test]
async fn serve_reads_parvis_toml_and_the_environment_wins() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // Relative paths are the working directory's.
    write_toml(
        dir.path(),
        &[
            "database_url = \"sqlite://donnees/parvis.db\"",
            "bind = \"127.0.0.1:0\"",
            "base_domain = \"toml.test\"",
            "https = true",
            "trust_proxy = true",
        ],
    )?;
    let served = serve(dir.path(), &[]).await?;
    assert!(
        served.output.contains("Plateforme : https://toml.test/"),
        "base domain and https from the file, port 443 left out: {}",
        served.output
    );
    assert!(
        dir.path().join("donnees/parvis.db").exists(),
        "the file's database"
    );
    let (_, attributes, _) = reset_form(&served, "toml.test").await?;
    assert!(
        attributes.iter().any(|a| a == "secure"),
        "https = true: {attributes:?}"
    );
    // trust_proxy = true: the last forwarded address is the client.
    let accepted = resets_until_refused(&served, "toml.test", |i| {
        format!("198.51.100.{i}, 203.0.113.7")
    })
    .await?;
    assert!(accepted >= 20, "{accepted}");
    let (cookie, _, token) = reset_form(&served, "toml.test").await?;
    let another = served
        .request(
            "POST",
            "toml.test",
            "/mot-de-passe-oublie",
            &[("Cookie", &cookie), ("X-Forwarded-For", "203.0.113.8")],
            Some(&format!("csrf_token={token}&email=autre%40example.org")),
        )
        .await?;
    assert_eq!(another.status, 200, "another client has its own budget");
    served.terminate().await?;

    // The environment wins over the file (an empty variable counts as unset).
    let served = serve(
        dir.path(),
        &[
            ("PARVIS_BASE_DOMAIN", "env.test"),
            ("PARVIS_HTTPS", "off"),
            ("PARVIS_PUBLIC_PORT", "8080"),
            ("PARVIS_TRUST_PROXY", "false"),
            ("DATABASE_URL", ""),
        ],
    )
    .await?;
    assert!(
        served.output.contains("Plateforme : http://env.test:8080/"),
        "{}",
        served.output
    );
    let (_, attributes, _) = reset_form(&served, "env.test").await?;
    assert!(!attributes.iter().any(|a| a == "secure"), "{attributes:?}");
    // No trusted proxy: forwarded addresses are ignored, every request is the one connection's.
    let accepted = resets_until_refused(&served, "env.test", |i| format!("203.0.113.{i}")).await?;
    assert!(accepted >= 20, "{accepted}");
    served.terminate().await?;
    Ok(())
}

#[tokio::test]
async fn bad_settings_in_parvis_toml_or_the_environment_are_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/parvis.db", dir.path().display());
    write_toml(dir.path(), &["bnid = \"127.0.0.1:8080\""])?;
    let o = command(dir.path(), &[("DATABASE_URL", &url)])
        .arg("migrate")
        .output()
        .await?;
    refused(&o, "configuration : lecture de parvis.toml impossible : ");
    assert!(text(&o).contains("unknown field `bnid`"), "{}", text(&o));
    write_toml(dir.path(), &["https = \"oui\""])?;
    let o = command(dir.path(), &[("DATABASE_URL", &url)])
        .arg("migrate")
        .output()
        .await?;
    refused(&o, "configuration : lecture de parvis.toml impossible : ");
    std::fs::remove_file(dir.path().join("parvis.toml"))?;
    let o = command(
        dir.path(),
        &[("DATABASE_URL", &url), ("PARVIS_TRUST_PROXY", "peut-être")],
    )
    .arg("migrate")
    .output()
    .await?;
    refused(
        &o,
        "configuration : PARVIS_TRUST_PROXY = « peut-être » : attendu true ou false",
    );
    let o = command(dir.path(), &[("DATABASE_URL", &url), ("PARVIS_HTTPS", "2")])
        .arg("migrate")
        .output()
        .await?;
    refused(
        &o,
        "configuration : PARVIS_HTTPS = « 2 » : attendu true ou false",
    );
    Ok(())
}
