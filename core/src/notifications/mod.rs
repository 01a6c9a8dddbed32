//! Notifications: the one path through which the core and the modules tell accounts about
//! something, in app, by e-mail, by web push to their subscribed devices, and (modules) by SMS.
//! Fan-out to followers is a durable job, set-based in SQL; each e-mail, push message and SMS
//! is a durable job of its own. E-mails follow each account's preferences: at once, in a daily
//! or weekly digest, or never.

pub mod deliveries;
pub mod digest;
pub mod email;
pub mod preferences;
pub mod push;
pub mod routes;
pub mod sms;
pub mod store;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::jobs::{Handler, Job};
use crate::types::TenantId;

/// Job kind of a new post's fan-out.
pub const FAN_OUT_POST: &str = "notify.post";

/// A post to announce to the followers of its commune or official.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostPublished {
    /// Commune.
    pub tenant_id: crate::types::TenantId,
    /// The post.
    pub post_id: String,
    /// The official who wrote it, if any.
    pub official_id: Option<String>,
    /// Its author, who is not notified.
    pub author_account_id: String,
    /// What the notification says.
    pub title: String,
    /// Absolute link to the post.
    pub link: String,
}

/// Runs the fan-out jobs.
pub struct FanOut {
    /// Storage.
    pub db: Db,
}

impl Job for PostPublished {
    const KIND: &'static str = FAN_OUT_POST;

    fn tenant(&self) -> Option<TenantId> {
        Some(self.tenant_id)
    }
}

#[async_trait]
impl Handler<PostPublished> for FanOut {
    async fn run(&self, event: PostPublished) -> anyhow::Result<()> {
        store::fan_out_post(&self.db, &event).await?;
        Ok(())
    }
}

/// Job kind of a notice (the path modules notify through).
pub const SEND_NOTICE: &str = "notify.send";

/// Who a notice is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Recipients {
    /// These accounts.
    Accounts(Vec<String>),
    /// Everyone who follows the commune.
    Followers,
}

/// A notice to deliver in app, by e-mail and/or by web push.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notice {
    /// Commune it comes from.
    pub tenant_id: crate::types::TenantId,
    /// Unique id: a retried job writes nothing twice.
    pub id: String,
    /// Who.
    pub recipients: Recipients,
    /// What happened (the in-app line and the e-mail subject).
    pub title: String,
    /// The e-mail body.
    pub body: String,
    /// Absolute link.
    pub link: String,
    /// Show it in the notification centre.
    pub in_app: bool,
    /// Send it by e-mail (verified addresses only).
    pub email: bool,
    /// Push it to the recipients' subscribed devices.
    #[serde(default)]
    pub push: bool,
    /// How urgent the push message is.
    #[serde(default)]
    pub urgency: push::Urgency,
    /// E-mail attachments.
    #[serde(default)]
    pub attachments: Vec<crate::mail::Attachment>,
}

impl Notice {
    /// A notice to these accounts in app, by e-mail and by push, at normal urgency, without
    /// attachments: what most notices are (change the fields for the others).
    pub fn to_accounts(
        tenant: crate::types::TenantId,
        accounts: Vec<String>,
        title: String,
        body: String,
        link: String,
    ) -> Notice {
        Notice {
            tenant_id: tenant,
            id: crate::util::new_id(),
            recipients: Recipients::Accounts(accounts),
            title,
            body,
            link,
            in_app: true,
            email: true,
            push: true,
            urgency: push::Urgency::Normal,
            attachments: vec![],
        }
    }
}

/// Delivers notices: in-app rows set-based, then one mail job per recipient and one push job
/// per subscribed device.
pub struct SendNotices {
    /// Storage.
    pub db: Db,
}

impl Job for Notice {
    const KIND: &'static str = SEND_NOTICE;

    fn tenant(&self) -> Option<TenantId> {
        Some(self.tenant_id)
    }
}

#[async_trait]
impl Handler<Notice> for SendNotices {
    async fn run(&self, notice: Notice) -> anyhow::Result<()> {
        store::deliver_notice(&self.db, &notice).await?;
        Ok(())
    }
}
