//! SQL for notifications (account-owned rows, each carrying the tenant it comes from).

use serde::Serialize;
use sqlx::Row as _;

use crate::db::Db;
use crate::notifications::PostPublished;
use crate::types::AccountId;
use crate::util::now;

/// Writes one notification per follower of the post's commune or official (idempotent: a
/// retried job adds nothing). Returns how many were written.
pub async fn fan_out_post(db: &Db, event: &PostPublished) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO notifications (account_id, id, tenant_id, title, link, created_at) \
         SELECT DISTINCT f.account_id, $1, $2, $3, $4, $5 FROM follows f \
         WHERE f.tenant_id = $2 AND f.account_id <> $6 \
         AND (f.target_kind = 'commune' OR (f.target_kind = 'official' AND f.target_id = $7)) \
         ON CONFLICT DO NOTHING",
    )
    .bind(format!("post:{}", event.post_id))
    .bind(event.tenant_id)
    .bind(&event.title)
    .bind(&event.link)
    .bind(now())
    .bind(&event.author_account_id)
    .bind(event.official_id.clone().unwrap_or_default())
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// A notification as the centre shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// What happened.
    pub title: String,
    /// Where to see it.
    pub link: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Whether it was read.
    pub read: bool,
}

/// The latest notifications of an account.
pub async fn latest(db: &Db, account: &AccountId) -> Result<Vec<Notification>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT title, link, created_at, read_at FROM notifications WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50",
    )
    .bind(&account.0)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Notification {
                title: r.try_get("title")?,
                link: r.try_get("link")?,
                created_at: r.try_get("created_at")?,
                read: r.try_get::<Option<i64>, _>("read_at")?.is_some(),
            })
        })
        .collect()
}

/// Marks every notification of the account as read.
pub async fn mark_all_read(db: &Db, account: &AccountId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE notifications SET read_at = $1 WHERE account_id = $2 AND read_at IS NULL")
        .bind(now())
        .bind(&account.0)
        .execute(db.pool())
        .await?;
    Ok(())
}
