//! `parvis serve --demo` (the binary, on a fresh SQLite file): the demo commune looks lived in
//! — its real council, the commune's posts, each module's demo content — and a second start
//! adds nothing.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};

use crate::cli::wait_until_serving;

/// The first start imports every commune of France (debug build).
const START_TIMEOUT: Duration = Duration::from_secs(600);

/// A running `parvis serve --demo`.
struct Demo {
    child: Child,
    /// Where it listens.
    addr: String,
    /// The demo commune's host name.
    host: String,
    /// What it printed before listening.
    output: String,
}

async fn start(db_url: &str) -> Result<Demo> {
    let modules = parvis_tests::app::module_wasm("parvis-module-polls")?
        .parent()
        .context("modules folder")?
        .to_path_buf();
    let mut child = Command::new(env!("CARGO_BIN_EXE_parvis"))
        .args(["serve", "--demo"])
        .env("DATABASE_URL", db_url)
        .env("PARVIS_BASE_DOMAIN", "parvis.test")
        .env("PARVIS_BIND", "127.0.0.1:0")
        .env("PARVIS_DEMO_MODULES", &modules)
        .env(
            "PARVIS_MODULE_CACHE",
            parvis_tests::app::workspace_dir().join("target/parvis-test-module-cache"),
        )
        .env_remove("SMTP_URL")
        .env_remove("PARVIS_PUBLIC_PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut host = None;
    let (output, addr) = wait_until_serving(&mut child, "serve --demo", START_TIMEOUT, |line| {
        let Some(url) = line.strip_prefix("Commune de démonstration : http://") else {
            return false;
        };
        host = url.split([':', '/']).next().map(str::to_string);
        true
    })
    .await?;
    let host = host.with_context(|| format!("no demo commune's host:\n{output}"))?;
    Ok(Demo {
        child,
        addr,
        host,
        output,
    })
}

impl Demo {
    /// `GET path` on the demo commune's site: the status line and the body.
    async fn get(&self, path: &str) -> Result<(String, String)> {
        let mut stream = tokio::net::TcpStream::connect(&self.addr).await?;
        stream
            .write_all(
                format!(
                    "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: text/html\r\n\r\n",
                    self.host
                )
                .as_bytes(),
            )
            .await?;
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await??;
        let text = String::from_utf8(raw)?;
        let (head, body) = text.split_once("\r\n\r\n").context("no HTTP head")?;
        let status = head.lines().next().unwrap_or_default().to_string();
        anyhow::ensure!(status.contains(" 200 "), "GET {path}: {status}\n{body}");
        Ok((status, body.to_string()))
    }

    async fn stop(mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// The part of `html` from `from` to the next `to` (or its end).
fn section<'a>(html: &'a str, from: &str, to: &str) -> Result<&'a str> {
    let start = html
        .find(from)
        .with_context(|| format!("{from} in:\n{html}"))?;
    let rest = &html[start..];
    Ok(rest
        .get(..rest.find(to).unwrap_or(rest.len()))
        .unwrap_or(rest))
}

/// What the demo commune shows, read over HTTP; `count` says how many times each sample
/// item appears (once: a second start must not add them again).
async fn check_lived_in(demo: &Demo) -> Result<()> {
    let (_, home) = demo.get("/").await?;
    // The real council from the registry (data/demo/elus-74010.csv), not invented names.
    let team = section(&home, "id=\"equipe\"", "</section>")?;
    assert!(
        team.contains(">Antoine ARMAND</a> <small>Maire</small>"),
        "{team}"
    );
    assert!(
        team.contains(">Anthony GRANGER</a> <small>1er adjoint au maire</small>"),
        "{team}"
    );
    assert!(!team.contains(">Exemple"), "no invented official");
    assert!(team.contains("Répertoire national des élus"), "{team}");
    // The commune's sample posts, marked, in the feed; the closed poll's results too.
    let news = section(&home, "id=\"actualites\"", "</section>")?;
    assert_eq!(
        news.matches("Bancs et éclairage du square remplacés")
            .count(),
        1,
        "{news}"
    );
    assert!(
        news.contains("Publication de démonstration, fictive"),
        "{news}"
    );
    assert_eq!(
        news.matches("Résultats du sondage").count(),
        1,
        "the closed poll published its results once: {news}"
    );

    let (_, polls) = demo.get("/m/polls/").await?;
    let open = section(&polls, "id=\"polls-open\"", "</section>")?;
    let lake = "quels aménagements souhaitez-vous en priorité au bord du lac";
    assert_eq!(open.matches(lake).count(), 1, "{open}");
    assert!(open.contains("5 votants"), "{open}");
    let closed = section(&polls, "id=\"polls-closed\"", "</section>")?;
    let hours = "à quelle heure préférez-vous les réunions publiques de quartier";
    assert_eq!(closed.matches(hours).count(), 1, "{closed}");
    assert!(closed.contains("4 votants"), "{closed}");

    let (_, alerts) = demo.get("/m/alerts/").await?;
    let title = "Alerte de démonstration\u{a0}: eau trouble après des travaux sur le réseau";
    assert_eq!(alerts.matches(title).count(), 1, "{alerts}");
    let history = alerts.find("Historique").unwrap_or(alerts.len());
    assert!(
        alerts.find(title).is_some_and(|at| at < history),
        "the alert is current, not in the history: {alerts}"
    );

    let (_, slots) = demo.get("/m/office-hours/").await?;
    assert_eq!(
        slots.matches("Permanence de démonstration").count(),
        3,
        "{slots}"
    );
    let (_, gifts) = demo.get("/m/donations/").await?;
    assert_eq!(
        gifts
            .matches("Collecte de démonstration\u{a0}: des livres pour la médiathèque")
            .count(),
        1,
        "{gifts}"
    );
    Ok(())
}

#[tokio::test]
async fn serve_demo_opens_a_lived_in_commune_and_a_second_start_adds_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}",
        Path::new(&dir.path().join("parvis.db")).display()
    );

    let demo = start(&url).await?;
    assert!(
        demo.output.contains("conseil municipal importé"),
        "the council was imported: {}",
        demo.output
    );
    check_lived_in(&demo).await?;
    demo.stop().await?;

    let again = start(&url).await?;
    assert!(
        !again.output.contains("conseil municipal importé"),
        "{}",
        again.output
    );
    check_lived_in(&again).await?;
    again.stop().await?;
    Ok(())
}
