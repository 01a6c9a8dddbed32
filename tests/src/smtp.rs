//! A real SMTP server process (Python aiosmtpd, `tests/smtp_sink.py`) on a loopback port; the
//! messages it receives are appended as JSON lines that tests read back.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// One received message, decoded by Python's `email` package.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    /// Envelope recipients.
    pub rcpt_tos: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Decoded text/plain body.
    pub text: String,
    /// Decoded text/html body, if any.
    #[serde(default)]
    pub html: Option<String>,
    /// The `List-Unsubscribe` header (RFC 2369), if any.
    #[serde(default)]
    pub list_unsubscribe: Option<String>,
    /// The `List-Unsubscribe-Post` header (RFC 8058), if any.
    #[serde(default)]
    pub list_unsubscribe_post: Option<String>,
}

impl Mail {
    /// The first `http…` link of the body whose path contains `needle`.
    pub fn link(&self, needle: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains(needle))
            .map(str::to_string)
    }
}

/// The running SMTP server.
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
    child: Child,
}

/// Debian's python3 carries python3-aiosmtpd; `PARVIS_TEST_PYTHON` overrides.
fn python() -> String {
    std::env::var("PARVIS_TEST_PYTHON").unwrap_or_else(|_| {
        if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3".into()
        } else {
            "python3".into()
        }
    })
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl SmtpSink {
    /// Starts the sink; `fail_first` DATA commands get a temporary failure (451).
    pub async fn start(fail_first: u32) -> Result<SmtpSink> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("mail.jsonl");
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/smtp_sink.py"))
            .args(["--port", "0", "--out"])
            .arg(&out)
            .args(["--fail-first", &fail_first.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context(
                "starting tests/smtp_sink.py (needs python3 with aiosmtpd: scripts/install-deps)",
            )?;
        let stdout = child.stdout.take().context("sink stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(p) = line.strip_prefix("LISTENING ") {
                    return Ok::<u16, anyhow::Error>(p.trim().parse()?);
                }
            }
            bail!("smtp sink exited before listening")
        })
        .await
        .context("smtp sink did not start in 20 s")??;
        Ok(SmtpSink {
            port,
            out,
            _dir: dir,
            child,
        })
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Result<Vec<Mail>> {
        let text = match std::fs::read_to_string(&self.out) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e.into()),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).context("sink line"))
            .collect()
    }

    /// Waits (up to 20 s) for a message to `to` whose subject contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Result<Mail> {
        let started = Instant::now();
        loop {
            if let Some(m) = self
                .messages()?
                .into_iter()
                .find(|m| m.rcpt_tos.iter().any(|r| r == to) && m.subject.contains(subject))
            {
                return Ok(m);
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!(
                    "no mail to {to} with subject containing {subject:?} after 20 s; got {:?}",
                    self.messages()?
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
