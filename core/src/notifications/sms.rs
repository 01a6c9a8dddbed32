//! Text messages through the platform's SMS provider (`PARVIS_SMS_URL`): one durable job per
//! message, POSTed as JSON `{"to", "text", "sender"}` with an optional bearer token; a 2xx
//! answer is a sent message, anything else is retried twice then counted as failed.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::jobs::{Handler, Job};
use crate::notifications::deliveries::{self, Channel, NoticeRef};
use crate::types::TenantId;

/// Job kind of a text message.
pub const SMS_JOB: &str = "sms";
/// Attempts per message (1 s, then 2 s between them).
pub const SMS_ATTEMPTS: i64 = 3;
/// Longest message (three concatenated SMS segments of 160 GSM characters).
pub const MAX_TEXT: usize = 480;

/// One message to send.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextMessage {
    /// The notice it belongs to.
    pub notice: NoticeRef,
    /// E.164 number (`+336…`).
    pub to: String,
    /// The text.
    pub text: String,
}

/// A French mobile number (`06 12 34 56 78`, `+33 6 12 34 56 78`, `0033…`) in E.164 form
/// (`+33612345678`); `None` for anything else.
pub fn normalize_fr_mobile(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}' | '(' | ')'))
        .collect();
    let national = if let Some(rest) = digits.strip_prefix("+33") {
        rest.to_string()
    } else if let Some(rest) = digits.strip_prefix("0033") {
        rest.to_string()
    } else if let Some(rest) = digits.strip_prefix('0') {
        rest.to_string()
    } else {
        return None;
    };
    let mobile = national.len() == 9
        && national.bytes().all(|b| b.is_ascii_digit())
        && matches!(national.as_bytes().first(), Some(b'6' | b'7'));
    mobile.then(|| format!("+33{national}"))
}

/// Sends the `sms` jobs.
pub struct SmsSender {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    sender: String,
    db: Db,
}

impl SmsSender {
    /// A sender for the configured provider.
    pub fn new(url: &str, token: Option<String>, sender: &str, db: Db) -> anyhow::Result<Self> {
        Ok(SmsSender {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()?,
            url: url.to_string(),
            token,
            sender: sender.to_string(),
            db,
        })
    }
}

impl Job for TextMessage {
    const KIND: &'static str = SMS_JOB;
    const ATTEMPTS: i64 = SMS_ATTEMPTS;

    fn tenant(&self) -> Option<TenantId> {
        Some(self.notice.tenant_id)
    }
}

#[async_trait]
impl Handler<TextMessage> for SmsSender {
    async fn run(&self, message: TextMessage) -> anyhow::Result<()> {
        let mut request = self.client.post(&self.url).json(&serde_json::json!({
            "to": message.to,
            "text": message.text,
            "sender": self.sender,
        }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            let body = crate::util::error_text(response).await;
            anyhow::bail!("SMS provider answered {status}: {body}");
        }
        metrics::counter!("parvis_sms_sent_total").increment(1);
        deliveries::record(&self.db, &message.notice, Channel::Sms, true).await;
        Ok(())
    }

    async fn gave_up(&self, message: TextMessage) {
        deliveries::record(&self.db, &message.notice, Channel::Sms, false).await;
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_fr_mobile;

    #[test]
    fn french_mobile_numbers() {
        assert_eq!(
            normalize_fr_mobile("06 12 34 56 78").as_deref(),
            Some("+33612345678")
        );
        assert_eq!(
            normalize_fr_mobile("+33 7 12.34.56.78").as_deref(),
            Some("+33712345678")
        );
        assert_eq!(
            normalize_fr_mobile("0033612345678").as_deref(),
            Some("+33612345678")
        );
        assert_eq!(normalize_fr_mobile("01 23 45 67 89"), None, "a landline");
        assert_eq!(normalize_fr_mobile("06 12 34 56"), None);
        assert_eq!(normalize_fr_mobile("+44 7700 900123"), None);
        assert_eq!(normalize_fr_mobile("appelez-moi"), None);
    }
}
