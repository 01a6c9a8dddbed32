//! In-app notifications: the one path through which the core (and, later, modules) tell
//! accounts about something. Fan-out to followers is a durable job, set-based in SQL.

pub mod routes;
pub mod store;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::jobs::JobHandler;

/// Job kind of a new post's fan-out.
pub const FAN_OUT_POST: &str = "notify.post";

/// A post to announce to the followers of its commune or official.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostPublished {
    /// Commune.
    pub tenant_id: i64,
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

#[async_trait]
impl JobHandler for FanOut {
    async fn run(&self, payload: serde_json::Value) -> anyhow::Result<()> {
        let event: PostPublished = serde_json::from_value(payload)?;
        store::fan_out_post(&self.db, &event).await?;
        Ok(())
    }
}
