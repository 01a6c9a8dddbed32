//! Billing rows: each commune's Stripe customer and connected account, its subscriptions as
//! Stripe last described them, and the webhook events already applied.

use parvis_core::db::{Db, TenantSql, TenantTx, sql};
use parvis_core::rows::Flag;
use parvis_core::types::TenantId;
use parvis_core::util::now;

/// A commune's Stripe identities.
#[derive(Debug, Clone, Default, sql::Row)]
pub struct Account {
    /// `cus_…` once the commune subscribed.
    pub customer_id: Option<String>,
    /// `acct_…`: where donations are paid.
    pub connected_account: Option<String>,
}

/// A subscription row.
#[derive(Debug, Clone, serde::Serialize, sql::Row)]
pub struct SubscriptionRow {
    /// `sub_…`.
    pub subscription_id: String,
    /// The grid's offer.
    pub offer: String,
    /// The tier it is billed at.
    pub tier: String,
    /// `month` or `year`.
    #[row(rename = "billing_interval")]
    pub interval: String,
    /// `price_…`.
    pub price_id: String,
    /// Stripe's status.
    pub status: String,
    /// End of the paid period.
    pub current_period_end: Option<i64>,
    /// Ends at the period's end.
    #[row(try_from = "Flag")]
    pub cancel_at_period_end: bool,
    /// When a payment first failed (grace starts there).
    pub past_due_since: Option<i64>,
    /// Newest Stripe timestamp applied.
    pub stripe_seen: i64,
}

/// The commune's account row (empty when it never subscribed).
pub async fn account(tx: &mut TenantTx) -> Result<Account, sqlx::Error> {
    let account: Option<Account> = tx
        .scoped_as(
            "SELECT customer_id, connected_account FROM billing_accounts WHERE tenant_id = $1",
        )
        .fetch_optional(tx)
        .await?;
    Ok(account.unwrap_or_default())
}

/// Records the commune's Stripe customer unless it has one already; returns the one it has.
pub async fn set_customer(tx: &mut TenantTx, customer: &str) -> Result<String, sqlx::Error> {
    // Not one `INSERT … ON CONFLICT (tenant_id) DO UPDATE`: on PostgreSQL, two of them racing
    // for a commune (a double click; Stripe gives both the same customer) fail on the
    // customer_id index, which is not their arbiter. A conflict on any index does nothing here,
    // and the update fills an existing row only where it has no customer yet.
    tx.scoped(
        "INSERT INTO billing_accounts (tenant_id, customer_id, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(customer)
    .bind(now())
    .execute(tx)
    .await?;
    tx.scoped(
        "UPDATE billing_accounts SET customer_id = COALESCE(customer_id, $2), updated_at = $3 \
         WHERE tenant_id = $1",
    )
    .bind(customer)
    .bind(now())
    .execute(tx)
    .await?;
    tx.scoped_scalar("SELECT customer_id FROM billing_accounts WHERE tenant_id = $1")
        .fetch_one(tx)
        .await
}

/// Records the connected account donations are paid to.
pub async fn set_connected_account(tx: &mut TenantTx, account: &str) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO billing_accounts (tenant_id, connected_account, updated_at) \
         VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE SET \
         connected_account = excluded.connected_account, updated_at = excluded.updated_at",
    )
    .bind(account)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(())
}

/// The commune a Stripe customer belongs to (the webhook's first question; platform-wide read).
pub async fn tenant_of_customer(db: &Db, customer: &str) -> Result<Option<TenantId>, sqlx::Error> {
    let mut tx = db.platform_tx().await?;
    let tenant = sql::query_scalar("SELECT tenant_id FROM billing_accounts WHERE customer_id = $1")
        .bind(customer)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(tenant)
}

/// The commune a connected account belongs to.
pub async fn tenant_of_account(db: &Db, account: &str) -> Result<Option<TenantId>, sqlx::Error> {
    let mut tx = db.platform_tx().await?;
    let tenant =
        sql::query_scalar("SELECT tenant_id FROM billing_accounts WHERE connected_account = $1")
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(tenant)
}

/// The commune's subscriptions, newest first.
pub async fn subscriptions(tx: &mut TenantTx) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    tx.scoped_as(
        "SELECT subscription_id, offer, tier, billing_interval, price_id, status, \
         current_period_end, cancel_at_period_end, past_due_since, stripe_seen \
         FROM billing_subscriptions WHERE tenant_id = $1 ORDER BY stripe_seen DESC",
    )
    .fetch_all(tx)
    .await
}

/// Writes a subscription's state unless a newer one was already applied. Returns whether it
/// was written.
pub async fn put_subscription(tx: &mut TenantTx, s: &SubscriptionRow) -> Result<bool, sqlx::Error> {
    let done = tx
        .scoped(
            "INSERT INTO billing_subscriptions (tenant_id, subscription_id, offer, tier, \
         billing_interval, price_id, status, current_period_end, cancel_at_period_end, \
         past_due_since, stripe_seen, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (tenant_id, subscription_id) DO UPDATE SET offer = excluded.offer, \
         tier = excluded.tier, billing_interval = excluded.billing_interval, \
         price_id = excluded.price_id, status = excluded.status, \
         current_period_end = excluded.current_period_end, \
         cancel_at_period_end = excluded.cancel_at_period_end, \
         past_due_since = excluded.past_due_since, stripe_seen = excluded.stripe_seen, \
         updated_at = excluded.updated_at \
         WHERE billing_subscriptions.stripe_seen <= excluded.stripe_seen",
        )
        .bind(&s.subscription_id)
        .bind(&s.offer)
        .bind(&s.tier)
        .bind(&s.interval)
        .bind(&s.price_id)
        .bind(&s.status)
        .bind(s.current_period_end)
        .bind(i32::from(s.cancel_at_period_end))
        .bind(s.past_due_since)
        .bind(s.stripe_seen)
        .bind(now())
        .execute(tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether an event was already applied (a cheap check before re-reading Stripe).
pub async fn event_seen(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sql::query_scalar("SELECT 1 FROM billing_events WHERE id = $1")
        .bind(id)
        .fetch_optional(db.platform())
        .await?;
    Ok(found.is_some())
}

/// Records an event once, inside the transaction that applies it; `false` if it was already
/// there (a concurrent delivery won: the caller rolls back).
pub async fn record_event<'c>(
    on: impl Into<sql::Target<'c>>,
    id: &str,
    event_type: &str,
    created: i64,
    tenant: Option<TenantId>,
    outcome: &str,
) -> Result<bool, sqlx::Error> {
    let done = sql::query(
        "INSERT INTO billing_events (id, event_type, created, received_at, tenant_id, outcome) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(event_type)
    .bind(created)
    .bind(now())
    .bind(tenant)
    .bind(outcome)
    .execute(on)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Communes with a subscription in payment trouble (their grace may run out).
pub async fn tenants_in_arrears(db: &Db) -> Result<Vec<TenantId>, sqlx::Error> {
    let mut tx = db.platform_tx().await?;
    let ids = sql::query_scalar(
        "SELECT DISTINCT tenant_id FROM billing_subscriptions \
         WHERE status IN ('past_due', 'unpaid') ORDER BY tenant_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids)
}
