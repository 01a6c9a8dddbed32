//! A loopback SMS provider for tests: accepts the JSON messages the host POSTs, records them,
//! and refuses (HTTP 503) the numbers it is told to, like a provider rejecting a number.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One message the provider accepted.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Sms {
    /// E.164 number.
    pub to: String,
    /// Text.
    pub text: String,
    /// Sender name.
    pub sender: String,
}

#[derive(Default)]
struct Shared {
    received: Vec<Sms>,
    refused: Vec<String>,
}

type Inbox = Arc<Mutex<Shared>>;

/// The running provider.
pub struct SmsProvider {
    /// Where it listens.
    pub addr: SocketAddr,
    inbox: Inbox,
}

/// The bearer token the provider expects.
pub const SMS_TOKEN: &str = "jeton-de-test";

async fn receive(
    State(inbox): State<Inbox>,
    headers: HeaderMap,
    Json(sms): Json<Sms>,
) -> StatusCode {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {SMS_TOKEN}"));
    if !authorized {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(mut inbox) = inbox.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    if inbox.refused.contains(&sms.to) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    inbox.received.push(sms);
    StatusCode::ACCEPTED
}

impl SmsProvider {
    /// Starts the provider on a free loopback port.
    pub async fn start() -> Result<SmsProvider> {
        let inbox: Inbox = Arc::default();
        let app = axum::Router::new()
            .route("/messages", post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(SmsProvider { addr, inbox })
    }

    /// The URL to configure as `PARVIS_SMS_URL`.
    pub fn url(&self) -> String {
        format!("http://{}/messages", self.addr)
    }

    /// The messages accepted so far.
    pub fn messages(&self) -> Vec<Sms> {
        self.inbox
            .lock()
            .map(|m| m.received.clone())
            .unwrap_or_default()
    }

    /// From now on, answers 503 for this E.164 number.
    pub fn refuse(&self, number: &str) {
        if let Ok(mut inbox) = self.inbox.lock() {
            inbox.refused.push(number.to_string());
        }
    }

    /// The messages sent to this number so far.
    pub fn messages_to(&self, number: &str) -> Vec<Sms> {
        self.messages()
            .into_iter()
            .filter(|m| m.to == number)
            .collect()
    }

    /// The confirmation code in the latest message to this number (its first six-digit
    /// word), waiting up to 20 s for it to arrive.
    pub async fn code_for(&self, number: &str, previous: usize) -> Result<String> {
        let started = std::time::Instant::now();
        loop {
            let codes: Vec<String> = self
                .messages_to(number)
                .iter()
                .filter_map(|m| {
                    m.text
                        .split_whitespace()
                        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
                        .map(str::to_string)
                })
                .collect();
            if codes.len() > previous {
                return codes
                    .last()
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("no code"));
            }
            anyhow::ensure!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "no new code reached {number}: {:?}",
                self.messages()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
