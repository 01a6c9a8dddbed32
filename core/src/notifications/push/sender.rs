//! Sends the `push` jobs: the payload encrypted for the device (aes128gcm, RFC 8291), a VAPID
//! signature (RFC 8292) for the push service's origin, `TTL` and `Urgency` headers. 2xx is a
//! delivered message; 404/410 mean the device unsubscribed (forgotten, counted as failed);
//! 429 and 5xx are retried with backoff; any other answer is a failure not worth retrying.

use std::time::Duration;

use async_trait::async_trait;
use axum::http::{HeaderValue, StatusCode};
use web_push_native::{Auth, WebPushBuilder, p256};

use crate::db::Db;
use crate::jobs::Handler;
use crate::notifications::deliveries::{self, Channel};
use crate::notifications::push::endpoint::{EndpointPolicy, PublicResolver, check_url};
use crate::notifications::push::vapid::{VapidKey, decode_b64url};
use crate::notifications::push::{PushMessage, store};

/// How long push services keep an undelivered message, and how long the VAPID signature is
/// valid (RFC 8292 allows at most 24 hours).
const TTL: Duration = Duration::from_secs(12 * 3600);

/// Sends the `push` jobs.
pub struct PushSender {
    client: reqwest::Client,
    db: Db,
    key: VapidKey,
    subject: String,
    policy: EndpointPolicy,
}

impl PushSender {
    /// A sender signing with `key`, giving `subject` (`mailto:…`) as the operator's contact;
    /// `allow_loopback_http` lets it reach a local push service (tests).
    pub fn new(
        db: Db,
        key: VapidKey,
        subject: &str,
        allow_loopback_http: bool,
    ) -> anyhow::Result<Self> {
        let policy = EndpointPolicy {
            allow_loopback: allow_loopback_http,
        };
        Ok(PushSender {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .redirect(reqwest::redirect::Policy::none())
                // Every name is resolved here, and only public addresses are connected to.
                .dns_resolver(PublicResolver::shared(policy))
                .no_proxy()
                .build()?,
            db,
            key,
            subject: subject.to_string(),
            policy,
        })
    }

    async fn count(&self, message: &PushMessage, ok: bool) {
        if let Some(notice) = &message.notice {
            deliveries::record(&self.db, notice, Channel::Push, ok).await;
        }
        let outcome = if ok { "sent" } else { "failed" };
        metrics::counter!("parvis_push_total", "outcome" => outcome).increment(1);
    }

    /// The encrypted, signed request; `None` if the stored keys are unusable.
    fn request(
        &self,
        sub: &store::Subscription,
        message: &PushMessage,
    ) -> Option<axum::http::Request<Vec<u8>>> {
        let public = decode_b64url(&sub.p256dh)
            .and_then(|bytes| p256::PublicKey::from_sec1_bytes(&bytes).ok())?;
        let auth = decode_b64url(&sub.auth).filter(|bytes| bytes.len() == 16)?;
        let endpoint = url::Url::parse(&sub.endpoint).ok()?;
        let authorization = self.key.authorization(&endpoint, TTL, &self.subject)?;
        let body = serde_json::to_vec(&message.payload).ok()?;
        let mut request = WebPushBuilder::new(
            endpoint.as_str().parse().ok()?,
            public,
            Auth::clone_from_slice(&auth),
        )
        .with_valid_duration(TTL)
        .build(body)
        .map_err(|e| tracing::warn!(error = %e, "push message not built"))
        .ok()?;
        let headers = request.headers_mut();
        headers.insert(
            "urgency",
            HeaderValue::from_static(message.urgency.header()),
        );
        headers.insert(
            axum::http::header::AUTHORIZATION,
            HeaderValue::from_str(&authorization).ok()?,
        );
        Some(request)
    }
}

#[async_trait]
impl Handler<PushMessage> for PushSender {
    async fn run(&self, message: PushMessage) -> anyhow::Result<()> {
        let Some(sub) = store::find(&self.db, &message.subscription).await? else {
            // The device was removed after the notice was queued.
            self.count(&message, false).await;
            return Ok(());
        };
        // Stored before the rules of `endpoint` (or by hand): checked again before each send;
        // the resolver checks the addresses of names.
        if check_url(&sub.endpoint, self.policy).is_err() {
            tracing::warn!(subscription = %sub.id, "push endpoint refused by the endpoint rules");
            store::failed(&self.db, &sub.id).await?;
            self.count(&message, false).await;
            return Ok(());
        }
        let Some(request) = self.request(&sub, &message) else {
            tracing::warn!(subscription = %sub.id, "push subscription with unusable keys");
            store::failed(&self.db, &sub.id).await?;
            self.count(&message, false).await;
            return Ok(());
        };
        let (parts, body) = request.into_parts();
        let response = self
            .client
            .post(sub.endpoint.as_str())
            .headers(parts.headers)
            .body(body)
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            store::succeeded(&self.db, &sub.id).await?;
            self.count(&message, true).await;
            return Ok(());
        }
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            tracing::info!(subscription = %sub.id, %status, "push subscription gone, removed");
            store::gone(&self.db, &sub.id).await?;
            self.count(&message, false).await;
            return Ok(());
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            anyhow::bail!("push service answered {status}");
        }
        let text = crate::util::error_text(response).await;
        tracing::warn!(subscription = %sub.id, %status, body = %text, "push message refused");
        store::failed(&self.db, &sub.id).await?;
        self.count(&message, false).await;
        Ok(())
    }

    async fn gave_up(&self, message: PushMessage) {
        if let Err(e) = store::failed(&self.db, &message.subscription).await {
            tracing::warn!(error = %e, "push failure not recorded");
        }
        self.count(&message, false).await;
    }
}
