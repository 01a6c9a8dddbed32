//! A loopback SMS provider for tests: accepts the JSON messages the host POSTs, records them,
//! and refuses (HTTP 503) every number ending in `99`, like a provider rejecting a number.

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

type Inbox = Arc<Mutex<Vec<Sms>>>;

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
    if sms.to.ends_with("99") {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if let Ok(mut inbox) = inbox.lock() {
        inbox.push(sms);
    }
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
        self.inbox.lock().map(|m| m.clone()).unwrap_or_default()
    }
}
