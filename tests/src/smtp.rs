//! A real SMTP server process (Python aiosmtpd, `tests/smtp_sink.py`) on a loopback port; the
//! messages it receives are appended as JSON lines that tests read back.
//!
//! The port is reserved by this process for the sink's whole life: a socket bound to it with
//! `SO_REUSEPORT` and never listening, which the sink's own listening socket joins. No other
//! process can take the port, not even while a test has stopped the sink to show that mail
//! survives an SMTP outage ([`SmtpSink::stop_process`], [`SmtpSink::restart`]); and since the
//! reserving socket does not listen, connections are refused while the sink is down, as they
//! are when a real server is.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpSocket;
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
    /// The attached files, in order.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// A file attached to a message.
#[derive(Debug, Clone, Deserialize)]
pub struct Attachment {
    /// Its file name, if it has one.
    pub filename: Option<String>,
    /// Its MIME type (`text/calendar`).
    pub content_type: String,
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
    /// Bound to `port` and not listening: keeps the port ours while the sink is stopped.
    _reserved: TcpSocket,
    child: Option<Child>,
}

/// Debian's python3 carries python3-aiosmtpd; `PARVIS_TEST_PYTHON` overrides.
pub fn python() -> String {
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

/// A loopback port the kernel picks, held by a socket that does not listen.
fn reserve_port() -> Result<(TcpSocket, u16)> {
    let socket = TcpSocket::new_v4().context("socket for the SMTP sink's port")?;
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let port = socket.local_addr()?.port();
    Ok((socket, port))
}

/// Starts `tests/smtp_sink.py` on `port` (reserved by the caller) and waits until it listens.
async fn spawn_sink(port: u16, out: &std::path::Path, fail_first: u32) -> Result<Child> {
    let mut child = Command::new(python())
        .arg(repo_root().join("tests/smtp_sink.py"))
        .args(["--port", &port.to_string(), "--reuse-port", "--out"])
        .arg(out)
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
    let listening = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(p) = line.strip_prefix("LISTENING ") {
                return Ok::<u16, anyhow::Error>(p.trim().parse()?);
            }
        }
        bail!("smtp sink exited before listening")
    })
    .await
    .context("smtp sink did not start in 20 s")??;
    anyhow::ensure!(
        listening == port,
        "smtp sink listens on {listening}, not on the reserved {port}"
    );
    Ok(child)
}

/// The complete lines of `text`: a last line without its newline is still being written.
fn complete_lines(text: &str) -> impl Iterator<Item = &str> {
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().filter(|l| !l.trim().is_empty())
}

impl SmtpSink {
    /// Starts the sink; `fail_first` DATA commands get a temporary failure (451).
    pub async fn start(fail_first: u32) -> Result<SmtpSink> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("mail.jsonl");
        let (reserved, port) = reserve_port()?;
        let child = spawn_sink(port, &out, fail_first).await?;
        Ok(SmtpSink {
            port,
            out,
            _dir: dir,
            _reserved: reserved,
            child: Some(child),
        })
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The sink process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Every message received so far (the messages of earlier runs of the sink included).
    pub fn messages(&self) -> Result<Vec<Mail>> {
        self.records()?
            .into_iter()
            .map(|record| serde_json::from_value(record).context("sink line"))
            .collect()
    }

    /// Every message received so far as the sink recorded it (JSON objects with the envelope,
    /// the headers Parvis sets and the attachments' names and types).
    pub fn records(&self) -> Result<Vec<serde_json::Value>> {
        let text = match std::fs::read_to_string(&self.out) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e.into()),
        };
        complete_lines(&text)
            .map(|l| serde_json::from_str(l).with_context(|| format!("sink line {l:?}")))
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

    /// Stops the sink's process (as a crash or an outage would) and waits until it is gone;
    /// the port stays reserved, and connections to it are refused until [`SmtpSink::restart`].
    pub async fn stop_process(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("stopping the smtp sink")?;
        }
        Ok(())
    }

    /// Starts the sink again on the same port, writing to the same mailbox, after
    /// [`SmtpSink::stop_process`]; it accepts every message.
    pub async fn restart(&mut self) -> Result<()> {
        anyhow::ensure!(self.child.is_none(), "the smtp sink is still running");
        self.child = Some(spawn_sink(self.port, &self.out, 0).await?);
        Ok(())
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.stop_process().await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_line_still_being_written_is_left_for_later() {
        let text = "{\"a\":1}\n{\"b\":2}\n{\"c\":";
        assert_eq!(
            super::complete_lines(text).collect::<Vec<_>>(),
            ["{\"a\":1}", "{\"b\":2}"]
        );
        assert_eq!(super::complete_lines("{\"c\":").count(), 0);
        assert_eq!(super::complete_lines("").count(), 0);
    }
}
