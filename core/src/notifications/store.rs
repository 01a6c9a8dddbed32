//! SQL for notifications (account-owned rows, each carrying the tenant it comes from).

use serde::Serialize;

use crate::db::{Db, TenantSql, sql};
use crate::notifications::email::{self, Mailing};
use crate::notifications::preferences::Kind;
use crate::notifications::{Notice, PostPublished, Recipients, deliveries, push};
use crate::types::AccountId;
use crate::util::now;

/// Writes one notification per follower of the post's commune or official, queues a push
/// message to each of their devices and their e-mails (now or in a digest, per their
/// preferences), in one transaction (idempotent: a retried job adds nothing). Returns how many
/// notifications were written.
pub async fn fan_out_post(db: &Db, event: &PostPublished) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_immediate().await?;
    let id = format!("post:{}", event.post_id);
    // RETURNING lists only the rows written now: a retry queues no push twice.
    let notified: Vec<String> = sql::query_scalar(
        "INSERT INTO notifications (account_id, id, tenant_id, title, link, created_at) \
         SELECT DISTINCT f.account_id, $1, $2, $3, $4, $5 FROM follows f \
         WHERE f.tenant_id = $2 AND f.account_id <> $6 \
         AND (f.target_kind = 'commune' OR (f.target_kind = 'official' AND f.target_id = $7)) \
         ON CONFLICT DO NOTHING RETURNING account_id",
    )
    .bind(&id)
    .bind(event.tenant_id)
    .bind(&event.title)
    .bind(&event.link)
    .bind(now())
    .bind(&event.author_account_id)
    .bind(event.official_id.clone().unwrap_or_default())
    .fetch_all(&mut *tx)
    .await?;
    let payload = push::Payload::new(&event.title, "", &event.link, &id);
    push::queue(
        &mut tx,
        event.tenant_id,
        &notified,
        None,
        &payload,
        push::Urgency::Normal,
    )
    .await?;
    let mailing = Mailing {
        id: &id,
        tenant_id: event.tenant_id,
        title: &event.title,
        body: &event.title,
        link: &event.link,
        kind: Kind::Followed,
        urgent: false,
        attachments: &[],
        notice: None,
    };
    email::route(&mut tx, &notified, &mailing).await?;
    tx.commit().await?;
    Ok(u64::try_from(notified.len()).unwrap_or(u64::MAX))
}

/// A notification as the centre shows it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Notification {
    /// What happened.
    pub title: String,
    /// Where to see it.
    pub link: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Whether it was read.
    #[row(rename = "read_at", try_from = "crate::rows::IsSet")]
    pub read: bool,
}

/// The latest notifications of an account.
pub async fn latest(db: &Db, account: &AccountId) -> Result<Vec<Notification>, sqlx::Error> {
    sql::query_as(
        "SELECT title, link, created_at, read_at FROM notifications WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50",
    )
    .bind(&account.0)
    .fetch_all(db.platform())
    .await
}

/// Marks every notification of the account as read.
pub async fn mark_all_read(db: &Db, account: &AccountId) -> Result<(), sqlx::Error> {
    sql::query("UPDATE notifications SET read_at = $1 WHERE account_id = $2 AND read_at IS NULL")
        .bind(now())
        .bind(&account.0)
        .execute(db.platform())
        .await?;
    Ok(())
}

/// Writes a notice's in-app rows and queues its e-mails and push messages, in one transaction
/// (idempotent: a notice already delivered writes nothing more).
pub async fn deliver_notice(db: &Db, notice: &Notice) -> Result<(), sqlx::Error> {
    // A tenant transaction: the delivery counts are the commune's rows (RLS on PostgreSQL).
    let mut tx = db.tenant(notice.tenant_id).begin().await?;
    let marker = format!("notice:{}", notice.id);
    // The delivery record makes a retried job a no-op once its transaction committed.
    let first = tx
        .scoped(
            "INSERT INTO notices_delivered (id, tenant_id, delivered_at) VALUES ($2, $1, $3) ON CONFLICT DO NOTHING",
        )
        .bind(&notice.id)
        .bind(now())
        .execute(&mut tx)
        .await?;
    if first.rows_affected() == 0 {
        return Ok(());
    }
    let at = now();
    let accounts: Vec<String> = match &notice.recipients {
        Recipients::Followers => sql::query_scalar(
            "SELECT DISTINCT f.account_id FROM follows f JOIN accounts a ON a.id = f.account_id \
                 WHERE f.tenant_id = $1 AND f.target_kind = 'commune' AND a.deleted_at IS NULL",
        )
        .bind(notice.tenant_id)
        .fetch_all(tx.platform())
        .await?,
        Recipients::Accounts(ids) => ids.clone(),
    };
    if notice.in_app {
        let written = match &notice.recipients {
            Recipients::Followers => sql::query(
                "INSERT INTO notifications (account_id, id, tenant_id, title, link, created_at) \
                     SELECT DISTINCT f.account_id, $1, $2, $3, $4, $5 FROM follows f \
                     WHERE f.tenant_id = $2 AND f.target_kind = 'commune' ON CONFLICT DO NOTHING",
            )
            .bind(&marker)
            .bind(notice.tenant_id)
            .bind(&notice.title)
            .bind(&notice.link)
            .bind(at)
            .execute(tx.platform())
            .await?
            .rows_affected(),
            Recipients::Accounts(ids) => {
                let mut written = 0;
                for id in ids {
                    written += sql::query(
                        "INSERT INTO notifications (account_id, id, tenant_id, title, link, created_at) \
                         SELECT id, $2, $3, $4, $5, $6 FROM accounts WHERE id = $1 AND deleted_at IS NULL \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(&marker)
                    .bind(notice.tenant_id)
                    .bind(&notice.title)
                    .bind(&notice.link)
                    .bind(at)
                    .execute(tx.platform())
                    .await?
                    .rows_affected();
                }
                written
            }
        };
        let written = i64::try_from(written).unwrap_or(i64::MAX);
        deliveries::add(
            &mut tx,
            &notice.id,
            deliveries::Channel::InApp,
            written,
            written,
            0,
        )
        .await?;
    }
    if notice.email {
        let reference = deliveries::NoticeRef {
            tenant_id: notice.tenant_id,
            notice_id: notice.id.clone(),
        };
        let mailing = Mailing {
            id: &marker,
            tenant_id: notice.tenant_id,
            title: &notice.title,
            body: &notice.body,
            link: &notice.link,
            kind: match notice.recipients {
                Recipients::Accounts(_) => Kind::Direct,
                Recipients::Followers => Kind::Followed,
            },
            urgent: notice.urgency == push::Urgency::High,
            attachments: &notice.attachments,
            notice: Some(&reference),
        };
        // Digest items are not counted: the digest is not this notice's e-mail.
        let routed = email::route(&mut tx.platform(), &accounts, &mailing).await?;
        deliveries::add(
            &mut tx,
            &notice.id,
            deliveries::Channel::Email,
            routed.now,
            0,
            0,
        )
        .await?;
    }
    if notice.push {
        let payload = push::Payload::new(&notice.title, &notice.body, &notice.link, &marker);
        let reference = deliveries::NoticeRef {
            tenant_id: notice.tenant_id,
            notice_id: notice.id.clone(),
        };
        let queued = push::queue(
            &mut tx.platform(),
            notice.tenant_id,
            &accounts,
            Some(&reference),
            &payload,
            notice.urgency,
        )
        .await?;
        deliveries::add(&mut tx, &notice.id, deliveries::Channel::Push, queued, 0, 0).await?;
    }
    tx.commit().await
}

/// What this feature keeps about a person (see [`crate::privacy::personal`]).
pub struct Personal;

#[async_trait::async_trait]
impl crate::privacy::personal::PersonalData for Personal {
    fn tables(&self) -> &'static [&'static str] {
        &[
            "notifications",
            "push_subscriptions",
            "notification_preferences",
            "digest_items",
        ]
    }

    async fn export(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
        out: &mut crate::privacy::personal::Export,
    ) -> Result<(), sqlx::Error> {
        out.rows(
            conn,
            "notifications",
            "SELECT t.slug AS commune, n.title, n.link, n.created_at, n.read_at FROM notifications n \
             JOIN tenants t ON t.id = n.tenant_id WHERE n.account_id = $1 ORDER BY n.created_at",
            account,
        )
        .await?;
        out.rows(
            conn,
            "push_devices",
            "SELECT user_agent AS device, endpoint, created_at, last_success_at FROM push_subscriptions \
             WHERE account_id = $1",
            account,
        )
        .await?;
        // No row: the defaults (see /notifications/preferences).
        out.first(
            conn,
            "notification_preferences",
            "SELECT email_rhythm, push, updated_at FROM notification_preferences WHERE account_id = $1",
            account,
            serde_json::json!({"email_rhythm": "defaut", "push": 1, "updated_at": null}),
        )
        .await?;
        out.rows(
            conn,
            "pending_digest_items",
            "SELECT t.slug AS commune, d.title, d.link, d.created_at FROM digest_items d \
             JOIN tenants t ON t.id = d.tenant_id WHERE d.account_id = $1 ORDER BY d.created_at",
            account,
        )
        .await?;
        Ok(())
    }

    async fn erase(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
    ) -> Result<(), sqlx::Error> {
        crate::privacy::personal::erase_with(
            conn,
            account,
            &[
                "DELETE FROM notifications WHERE account_id = $1",
                "DELETE FROM push_subscriptions WHERE account_id = $1",
                "DELETE FROM notification_preferences WHERE account_id = $1",
                "DELETE FROM digest_items WHERE account_id = $1",
            ],
        )
        .await
    }
}
