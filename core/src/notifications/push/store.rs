//! SQL for push subscriptions: account-owned rows, whatever the commune (no tenant column).

use serde::Serialize;

use crate::db::{Db, sql};
use crate::notifications::push::NewSubscription;
use crate::types::AccountId;
use crate::util::{new_id, now};

/// A subscription as the sender needs it.
#[derive(Debug, Clone, sql::Row)]
pub struct Subscription {
    /// Id.
    pub id: String,
    /// The push service URL.
    pub endpoint: String,
    /// The device's public key (base64url).
    pub p256dh: String,
    /// The device's secret (base64url).
    pub auth: String,
}

/// A device as its owner sees it in the list.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Device {
    /// Id (for removal).
    pub id: String,
    /// « Firefox sur Android ».
    #[row(rename = "user_agent")]
    pub label: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Last notification the push service accepted, Unix seconds.
    pub last_success_at: Option<i64>,
}

/// Adds the device to the account, or updates it; `None` when the endpoint is another
/// account's device and the keys differ. A browser signed into another account re-subscribes
/// with the same endpoint *and the same keys* (they belong to the browser's subscription, not
/// to the person): that moves the device, since the browser is now the other person's. Someone
/// who only knows the endpoint (a capability URL) cannot move it with keys of their own.
pub async fn upsert(
    db: &Db,
    account: &AccountId,
    s: &NewSubscription,
) -> Result<Option<String>, sqlx::Error> {
    sql::query_scalar(
        "INSERT INTO push_subscriptions (id, account_id, endpoint, p256dh, auth, user_agent, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (endpoint) DO UPDATE SET \
         account_id = excluded.account_id, p256dh = excluded.p256dh, auth = excluded.auth, \
         user_agent = excluded.user_agent, failures = 0 \
         WHERE push_subscriptions.account_id = excluded.account_id \
         OR (push_subscriptions.p256dh = excluded.p256dh AND push_subscriptions.auth = excluded.auth) \
         RETURNING id",
    )
    .bind(new_id())
    .bind(&account.0)
    .bind(&s.endpoint)
    .bind(&s.p256dh)
    .bind(&s.auth)
    .bind(&s.label)
    .bind(now())
    .fetch_optional(db.platform())
    .await
}

/// Whether the account may add this device: it has fewer than `max` others.
pub async fn has_room(
    db: &Db,
    account: &AccountId,
    endpoint: &str,
    max: i64,
) -> Result<bool, sqlx::Error> {
    let others: i64 = sql::query_scalar(
        "SELECT COUNT(*) FROM push_subscriptions WHERE account_id = $1 AND endpoint <> $2",
    )
    .bind(&account.0)
    .bind(endpoint)
    .fetch_one(db.platform())
    .await?;
    Ok(others < max)
}

/// The account's devices, newest first.
pub async fn devices(db: &Db, account: &AccountId) -> Result<Vec<Device>, sqlx::Error> {
    sql::query_as(
        "SELECT id, user_agent, created_at, last_success_at FROM push_subscriptions \
         WHERE account_id = $1 ORDER BY created_at DESC, id DESC",
    )
    .bind(&account.0)
    .fetch_all(db.platform())
    .await
}

/// Removes the account's subscription with this endpoint; false if it has none.
pub async fn remove_endpoint(
    db: &Db,
    account: &AccountId,
    endpoint: &str,
) -> Result<bool, sqlx::Error> {
    let done = sql::query("DELETE FROM push_subscriptions WHERE endpoint = $1 AND account_id = $2")
        .bind(endpoint)
        .bind(&account.0)
        .execute(db.platform())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes one of the account's devices; false if it is not one of them.
pub async fn remove(db: &Db, account: &AccountId, id: &str) -> Result<bool, sqlx::Error> {
    let done = sql::query("DELETE FROM push_subscriptions WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(&account.0)
        .execute(db.platform())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The subscription ids of these accounts' devices (deleted accounts, and those that turned
/// web push off in their preferences, excluded).
pub async fn devices_of(
    on: &mut (impl sql::Sql + ?Sized),
    accounts: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let mut ids = Vec::new();
    for chunk in accounts.chunks(500) {
        let mut sql = String::from(
            "SELECT p.id FROM push_subscriptions p JOIN accounts a ON a.id = p.account_id \
             WHERE a.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM notification_preferences np \
             WHERE np.account_id = p.account_id AND np.push = 0) AND p.account_id IN (",
        );
        sql.push_str(&crate::db::placeholders(1, chunk.len()));
        sql.push_str(") ORDER BY p.id");
        let mut q = sql::query_scalar::<String>(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        ids.extend(q.fetch_all(&mut *on).await?);
    }
    Ok(ids)
}

/// One subscription, for the sender.
pub async fn find(db: &Db, id: &str) -> Result<Option<Subscription>, sqlx::Error> {
    sql::query_as("SELECT id, endpoint, p256dh, auth FROM push_subscriptions WHERE id = $1")
        .bind(id)
        .fetch_optional(db.platform())
        .await
}

/// The push service accepted a message.
pub async fn succeeded(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sql::query("UPDATE push_subscriptions SET last_success_at = $1, failures = 0 WHERE id = $2")
        .bind(now())
        .bind(id)
        .execute(db.platform())
        .await?;
    Ok(())
}

/// The push service refused a message or could not be reached, for good.
pub async fn failed(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sql::query("UPDATE push_subscriptions SET failures = failures + 1 WHERE id = $1")
        .bind(id)
        .execute(db.platform())
        .await?;
    Ok(())
}

/// The push service says the subscription is gone (404/410): forget the device.
pub async fn gone(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sql::query("DELETE FROM push_subscriptions WHERE id = $1")
        .bind(id)
        .execute(db.platform())
        .await?;
    Ok(())
}
