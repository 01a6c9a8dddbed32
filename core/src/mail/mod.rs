//! E-mail through lettre over SMTP (`SMTP_URL`). Mail is never sent from a request: it is a
//! `mail` job, so a slow or unreachable SMTP server delays it instead of losing it.

use async_trait::async_trait;
use base64::Engine as _;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MailAttachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::jobs::{Handler, Job};
use crate::types::TenantId;

/// Job kind of outgoing mail.
pub const MAIL_JOB: &str = "mail";

/// One message to send.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Email {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// The same as HTML, sent as an alternative to the text (digests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// One-click unsubscribe link (RFC 8058), sent as `List-Unsubscribe` with
    /// `List-Unsubscribe-Post` on notification e-mails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_unsubscribe: Option<String>,
    /// Files attached (an `.ics` invitation, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The module notice this message delivers, counted in its delivery report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<crate::notifications::deliveries::NoticeRef>,
}

/// A file attached to an [`Email`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attachment {
    /// File name shown to the recipient.
    pub filename: String,
    /// MIME type, e.g. `text/calendar; method=REQUEST`.
    pub content_type: String,
    /// The bytes, base64 (standard alphabet) so the job payload stays JSON text.
    pub data_base64: String,
}

impl Attachment {
    /// An attachment from raw bytes.
    pub fn new(filename: &str, content_type: &str, data: &[u8]) -> Attachment {
        Attachment {
            filename: filename.to_string(),
            content_type: content_type.to_string(),
            data_base64: base64::engine::general_purpose::STANDARD.encode(data),
        }
    }
}

/// Sends [`Email`]s.
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

/// Mailer set-up errors.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The sender address is invalid.
    #[error("PARVIS_MAIL_FROM invalide : {0}")]
    From(String),
    /// The SMTP URL is invalid.
    #[error("SMTP_URL invalide : {0}")]
    Url(String),
}

impl Mailer {
    /// A mailer for `smtp_url` (`None`: messages are logged, for local development only).
    pub fn new(smtp_url: Option<&str>, from: &str) -> Result<Mailer, MailError> {
        let from: Mailbox = from.parse().map_err(|e| MailError::From(format!("{e}")))?;
        let transport = match smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::Url(e.to_string()))?
                    .build(),
            ),
            None => None,
        };
        Ok(Mailer { transport, from })
    }

    /// Sends one message now.
    pub async fn send(&self, email: &Email) -> anyhow::Result<()> {
        let to: Mailbox = email.to.parse()?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&email.subject);
        if let Some(link) = &email.list_unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{link}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let message = match (&email.html, email.attachments.is_empty()) {
            (None, true) => builder
                .header(ContentType::TEXT_PLAIN)
                .body(email.text.clone())?,
            (Some(html), true) => builder.multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                html.clone(),
            ))?,
            (html, false) => {
                let mut parts = match html {
                    Some(html) => MultiPart::mixed().multipart(MultiPart::alternative_plain_html(
                        email.text.clone(),
                        html.clone(),
                    )),
                    None => MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone())),
                };
                for a in &email.attachments {
                    let data = base64::engine::general_purpose::STANDARD.decode(&a.data_base64)?;
                    let kind = ContentType::parse(&a.content_type)?;
                    parts =
                        parts.singlepart(MailAttachment::new(a.filename.clone()).body(data, kind));
                }
                builder.multipart(parts)?
            }
        };
        match &self.transport {
            Some(transport) => {
                transport.send(message).await?;
                metrics::counter!("parvis_mail_sent_total").increment(1);
            }
            None => tracing::warn!(
                to = %email.to,
                subject = %email.subject,
                body = %email.text,
                "SMTP_URL is not set: e-mail logged, not sent"
            ),
        }
        Ok(())
    }
}

/// Runs the `mail` jobs, counting notice deliveries.
pub struct MailJobs {
    /// The transport.
    pub mailer: Mailer,
    /// Where delivery counts go.
    pub db: crate::db::Db,
}

impl Job for Email {
    const KIND: &'static str = MAIL_JOB;

    /// The commune of the notice it delivers; an account's own e-mail is platform work.
    fn tenant(&self) -> Option<TenantId> {
        self.notice.as_ref().map(|n| n.tenant_id)
    }
}

#[async_trait]
impl Handler<Email> for MailJobs {
    async fn run(&self, email: Email) -> anyhow::Result<()> {
        self.mailer.send(&email).await?;
        if let Some(notice) = &email.notice {
            crate::notifications::deliveries::record(
                &self.db,
                notice,
                crate::notifications::deliveries::Channel::Email,
                true,
            )
            .await;
        }
        Ok(())
    }

    async fn gave_up(&self, email: Email) {
        if let Some(notice) = email.notice {
            crate::notifications::deliveries::record(
                &self.db,
                &notice,
                crate::notifications::deliveries::Channel::Email,
                false,
            )
            .await;
        }
    }
}
