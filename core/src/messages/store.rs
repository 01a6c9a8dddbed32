//! SQL for threads, messages and blocks. Threads and messages are tenant rows (through a
//! [`TenantTx`]); blocks belong to accounts and hold on the whole platform.

use serde::Serialize;

use crate::db::{Db, TenantSql, TenantTx, sql};
use crate::rows::IsSet;
use crate::types::AccountId;
use crate::util::{new_id, now};

/// Which side of a thread a message comes from, or an account reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The citizen who started the thread.
    Citizen,
    /// The official or the commune.
    Recipient,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Citizen => "citizen",
            Side::Recipient => "recipient",
        }
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Citizen => Side::Recipient,
            Side::Recipient => Side::Citizen,
        }
    }
}

/// A stored `sender_side` (the column's CHECK admits only `citizen` and `recipient`).
impl TryFrom<String> for Side {
    type Error = String;
    fn try_from(stored: String) -> Result<Side, String> {
        [Side::Citizen, Side::Recipient]
            .into_iter()
            .find(|side| side.as_str() == stored)
            .ok_or_else(|| format!("unknown message side « {stored} »"))
    }
}

/// Who a new thread is addressed to.
#[derive(Debug, Clone)]
pub enum Recipient {
    /// An official, by registry id, read by the account that holds the profile.
    Official {
        /// Registry id.
        official_id: String,
        /// The account holding the profile.
        account: AccountId,
        /// Name shown.
        name: String,
    },
    /// The commune, read and answered by its admins.
    Commune {
        /// The commune's name.
        name: String,
    },
}

/// A thread as the inbox and the thread page show it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Thread {
    /// Id (UUIDv7).
    pub id: String,
    /// Subject ('' once its citizen deleted their account).
    pub subject: String,
    /// `official` or `commune`.
    pub recipient_kind: String,
    /// The official's or the commune's name.
    pub recipient_name: String,
    /// The citizen's account.
    #[serde(skip)]
    #[row(rename = "citizen_account_id")]
    pub citizen: AccountId,
    /// The citizen's name (« Compte supprimé » once deleted).
    pub citizen_name: String,
    /// The official's account (official threads).
    #[serde(skip)]
    #[row(rename = "official_account_id")]
    pub official: Option<AccountId>,
    /// Unread messages on the citizen's side.
    #[serde(skip)]
    pub citizen_unread: i64,
    /// Unread messages on the recipient's side.
    #[serde(skip)]
    pub recipient_unread: i64,
    /// Unix seconds of the latest message.
    pub last_message_at: i64,
}

const THREAD_COLUMNS: &str = "t.id, t.subject, t.recipient_kind, t.recipient_name, t.citizen_account_id, \
     a.display_name AS citizen_name, t.official_account_id, t.citizen_unread, t.recipient_unread, t.last_message_at";

/// Starts a thread with its first message; returns the thread's id.
pub async fn create_thread(
    tx: &mut TenantTx,
    citizen: &AccountId,
    to: &Recipient,
    subject: &str,
    body: &str,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let (kind, official, official_id, name) = match to {
        Recipient::Official {
            official_id,
            account,
            name,
        } => (
            "official",
            Some(account.0.as_str()),
            Some(official_id.as_str()),
            name,
        ),
        Recipient::Commune { name } => ("commune", None, None, name),
    };
    let at = now();
    tx.scoped(
        "INSERT INTO message_threads (tenant_id, id, citizen_account_id, recipient_kind, official_account_id, official_id, \
         recipient_name, subject, created_at, last_message_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(&id)
    .bind(&citizen.0)
    .bind(kind)
    .bind(official)
    .bind(official_id)
    .bind(name.as_str())
    .bind(subject)
    .bind(at)
    .execute(tx)
    .await?;
    add_message(tx, &id, citizen, Side::Citizen, body).await?;
    Ok(id)
}

/// Adds a message to a thread and counts it unread on the other side; returns its id.
pub async fn add_message(
    tx: &mut TenantTx,
    thread: &str,
    sender: &AccountId,
    side: Side,
    body: &str,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let at = now();
    tx.scoped(
        "INSERT INTO messages (tenant_id, id, thread_id, sender_account_id, sender_side, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(thread)
    .bind(&sender.0)
    .bind(side.as_str())
    .bind(body)
    .bind(at)
    .execute(tx)
    .await?;
    let unread = match side {
        Side::Citizen => "recipient_unread",
        Side::Recipient => "citizen_unread",
    };
    tx.scoped(&format!(
        "UPDATE message_threads SET last_message_at = $2, {unread} = {unread} + 1 WHERE tenant_id = $1 AND id = $3"
    ))
    .bind(at)
    .bind(thread)
    .execute(tx)
    .await?;
    Ok(id)
}

/// One thread of this tenant.
pub async fn thread(tx: &mut TenantTx, id: &str) -> Result<Option<Thread>, sqlx::Error> {
    tx.scoped_as(&format!(
        "SELECT {THREAD_COLUMNS} FROM message_threads t JOIN accounts a ON a.id = t.citizen_account_id \
         WHERE t.tenant_id = $1 AND t.id = $2"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// The threads `account` takes part in here (as citizen, as official, or as one of the
/// commune's admins when `admin`), latest activity first.
pub async fn inbox(
    tx: &mut TenantTx,
    account: &AccountId,
    admin: bool,
) -> Result<Vec<Thread>, sqlx::Error> {
    tx.scoped_as(&format!(
        "SELECT {THREAD_COLUMNS} FROM message_threads t JOIN accounts a ON a.id = t.citizen_account_id \
         WHERE t.tenant_id = $1 AND (t.citizen_account_id = $2 OR t.official_account_id = $2 \
         OR (t.recipient_kind = 'commune' AND $3 = 1)) ORDER BY t.last_message_at DESC, t.id DESC LIMIT 200"
    ))
    .bind(&account.0)
    .bind(i64::from(admin))
    .fetch_all(tx)
    .await
}

/// The account's unread messages in this commune, on every side it reads (one query, for the
/// page header).
pub async fn unread_total(
    tx: &mut TenantTx,
    account: &AccountId,
    admin: bool,
) -> Result<i64, sqlx::Error> {
    tx.scoped_scalar(
        "SELECT CAST(COALESCE(SUM(CASE WHEN citizen_account_id = $2 THEN citizen_unread ELSE recipient_unread END), 0) AS BIGINT) \
         FROM message_threads WHERE tenant_id = $1 AND (citizen_account_id = $2 OR official_account_id = $2 \
         OR (recipient_kind = 'commune' AND $3 = 1))",
    )
    .bind(&account.0)
    .bind(i64::from(admin))
    .fetch_one(tx)
    .await
}

/// Zeroes one side's unread count.
pub async fn mark_read(tx: &mut TenantTx, thread: &str, side: Side) -> Result<(), sqlx::Error> {
    let unread = match side {
        Side::Citizen => "citizen_unread",
        Side::Recipient => "recipient_unread",
    };
    tx.scoped(&format!(
        "UPDATE message_threads SET {unread} = 0 WHERE tenant_id = $1 AND id = $2 AND {unread} <> 0"
    ))
    .bind(thread)
    .execute(tx)
    .await?;
    Ok(())
}

/// A message as the thread page shows it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Message {
    /// Id.
    pub id: String,
    /// Who sent it.
    #[row(rename = "sender_side", try_from = "String")]
    pub side: Side,
    /// Its sender's account.
    #[serde(skip)]
    #[row(rename = "sender_account_id")]
    pub sender: AccountId,
    /// Plain text ('' when deleted).
    pub body: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Deleted with its author's account.
    #[row(rename = "deleted_at", try_from = "IsSet")]
    pub deleted: bool,
    /// Hidden by a moderator.
    #[row(rename = "hidden_at", try_from = "IsSet")]
    pub hidden: bool,
}

/// The messages of a thread, oldest first.
pub async fn messages(tx: &mut TenantTx, thread: &str) -> Result<Vec<Message>, sqlx::Error> {
    tx.scoped_as(
        "SELECT id, sender_side, sender_account_id, body, created_at, deleted_at, hidden_at FROM messages \
         WHERE tenant_id = $1 AND thread_id = $2 ORDER BY id",
    )
    .bind(thread)
    .fetch_all(tx)
    .await
}

/// Whether an account was deleted (a closed conversation).
pub async fn is_deleted(db: &Db, account: &AccountId) -> Result<bool, sqlx::Error> {
    let deleted: Option<Option<i64>> =
        sql::query_scalar("SELECT deleted_at FROM accounts WHERE id = $1")
            .bind(&account.0)
            .fetch_optional(db.platform())
            .await?;
    Ok(deleted.is_none_or(|d| d.is_some()))
}

/// Whether any of `blockers` blocked `account`.
pub async fn blocked_by_any(
    db: &Db,
    blockers: &[AccountId],
    account: &AccountId,
) -> Result<bool, sqlx::Error> {
    for blocker in blockers {
        let row = sql::query(
            "SELECT 1 AS one FROM account_blocks WHERE blocker_account_id = $1 AND blocked_account_id = $2",
        )
        .bind(&blocker.0)
        .bind(&account.0)
        .fetch_optional(db.platform())
        .await?;
        if row.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `blocker` blocks `blocked` (idempotent).
pub async fn block(db: &Db, blocker: &AccountId, blocked: &AccountId) -> Result<(), sqlx::Error> {
    sql::query(
        "INSERT INTO account_blocks (blocker_account_id, blocked_account_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&blocker.0)
    .bind(&blocked.0)
    .bind(now())
    .execute(db.platform())
    .await?;
    Ok(())
}

/// `blocker` lifts its block of `blocked`.
pub async fn unblock(db: &Db, blocker: &AccountId, blocked: &str) -> Result<(), sqlx::Error> {
    sql::query(
        "DELETE FROM account_blocks WHERE blocker_account_id = $1 AND blocked_account_id = $2",
    )
    .bind(&blocker.0)
    .bind(blocked)
    .execute(db.platform())
    .await?;
    Ok(())
}

/// An account someone blocked.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Blocked {
    /// Its id (the unblock form's value).
    #[row(rename = "blocked_account_id")]
    pub account_id: String,
    /// Its name.
    #[row(rename = "display_name")]
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// The accounts `blocker` blocked, latest first.
pub async fn blocked(db: &Db, blocker: &AccountId) -> Result<Vec<Blocked>, sqlx::Error> {
    sql::query_as(
        "SELECT b.blocked_account_id, a.display_name, b.created_at FROM account_blocks b \
         JOIN accounts a ON a.id = b.blocked_account_id WHERE b.blocker_account_id = $1 ORDER BY b.created_at DESC",
    )
    .bind(&blocker.0)
    .fetch_all(db.platform())
    .await
}

/// Account deletion (in the deletion's platform transaction): the account's messages lose
/// their text, the threads it started lose their subject, its blocks go.
pub async fn forget_account(
    conn: &mut sqlx::AnyConnection,
    account: &AccountId,
) -> Result<(), sqlx::Error> {
    sql::query(
        "UPDATE messages SET body = '', deleted_at = $1 WHERE sender_account_id = $2 AND deleted_at IS NULL",
    )
    .bind(now())
    .bind(&account.0)
    .execute(&mut *conn)
    .await?;
    sql::query("UPDATE message_threads SET subject = '' WHERE citizen_account_id = $1")
        .bind(&account.0)
        .execute(&mut *conn)
        .await?;
    sql::query(
        "DELETE FROM account_blocks WHERE blocker_account_id = $1 OR blocked_account_id = $1",
    )
    .bind(&account.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What this feature keeps about a person (see [`crate::privacy::personal`]).
pub struct Personal;

#[async_trait::async_trait]
impl crate::privacy::personal::PersonalData for Personal {
    fn tables(&self) -> &'static [&'static str] {
        &["account_blocks"]
    }

    async fn export(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
        out: &mut crate::privacy::personal::Export,
    ) -> Result<(), sqlx::Error> {
        // Every message of the threads the account takes part in (as citizen or official),
        // and those it sent for a commune; a message deleted with its author's account has no
        // text.
        out.rows(
            conn,
            "message_threads",
            "SELECT t.slug AS commune, th.id, th.subject, th.recipient_kind, th.recipient_name, th.created_at \
             FROM message_threads th JOIN tenants t ON t.id = th.tenant_id \
             WHERE th.citizen_account_id = $1 OR th.official_account_id = $1 \
             OR EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = th.tenant_id AND m.thread_id = th.id AND m.sender_account_id = $1)",
            account,
        )
        .await?;
        out.rows(
            conn,
            "messages",
            "SELECT t.slug AS commune, m.thread_id, m.id, m.sender_side, \
             CASE WHEN m.sender_account_id = $1 THEN 'moi' ELSE 'interlocuteur' END AS sender, m.body, m.created_at \
             FROM messages m JOIN message_threads th ON th.tenant_id = m.tenant_id AND th.id = m.thread_id \
             JOIN tenants t ON t.id = m.tenant_id \
             WHERE th.citizen_account_id = $1 OR th.official_account_id = $1 OR m.sender_account_id = $1 \
             ORDER BY m.id",
            account,
        )
        .await?;
        out.rows(
            conn,
            "blocks",
            "SELECT a.display_name AS blocked, b.created_at FROM account_blocks b JOIN accounts a ON a.id = b.blocked_account_id \
             WHERE b.blocker_account_id = $1",
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
        forget_account(conn, account).await
    }
}
