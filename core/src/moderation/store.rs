//! SQL for flags, hiding and the audit log; every statement is bound to the tenant.

use std::collections::HashMap;

use serde::Serialize;

use crate::db::{TenantSql, TenantTx, sql};
use crate::rows::IsSet;
use crate::types::AccountId;
use crate::util::{new_id, now};

/// Records an admin or moderator action.
pub async fn audit(
    tx: &mut TenantTx,
    actor: &AccountId,
    action: &str,
    target: &str,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO audit_log (tenant_id, id, actor_account_id, action, target, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(&actor.0)
    .bind(action)
    .bind(target)
    .bind(reason)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(())
}

/// Flags a visible post of this tenant; false when there is no such post or the account
/// already has an open flag on it.
pub async fn flag(
    tx: &mut TenantTx,
    post: &str,
    account: &AccountId,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let exists = tx
        .scoped("SELECT 1 AS one FROM posts WHERE tenant_id = $1 AND id = $2 AND hidden_at IS NULL")
        .bind(post)
        .fetch_optional(tx)
        .await?;
    if exists.is_none() {
        return Ok(false);
    }
    let done = tx
        .scoped(
            "INSERT INTO flags (tenant_id, id, post_id, account_id, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT DO NOTHING",
        )
        .bind(new_id())
        .bind(post)
        .bind(&account.0)
        .bind(reason)
        .bind(now())
        .execute(tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A post in the moderation queue.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Flagged {
    /// Post id.
    #[row(rename = "id")]
    pub post_id: String,
    /// Author shown.
    pub author_name: String,
    /// Rendered body.
    pub body_html: String,
    /// Open flags.
    #[row(rename = "n")]
    pub flags: i64,
    /// The flags' reasons, joined.
    #[row(skip)]
    pub reasons: String,
    /// Whether it is hidden now.
    #[row(rename = "hidden_at", try_from = "IsSet")]
    pub hidden: bool,
}

/// What a flag (and a moderator's decision) points at.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// A feed post.
    Post,
    /// A private message.
    Message,
    /// A comment on a post.
    Comment,
}

impl Target {
    /// The table of what is flagged.
    fn table(self) -> &'static str {
        match self {
            Target::Post => "posts",
            Target::Message => "messages",
            Target::Comment => "post_comments",
        }
    }

    /// The column of `flags` that points at it.
    fn flag_column(self) -> &'static str {
        match self {
            Target::Post => "post_id",
            Target::Message => "message_id",
            Target::Comment => "comment_id",
        }
    }
}

/// Hides or restores a post, message or comment and resolves its open flags; false when it
/// is unknown here. Posts and comments keep the reason (shown to moderators); a message is
/// seen only by its two sides, and the reason stays in the audit log.
pub async fn set_hidden(
    tx: &mut TenantTx,
    target: Target,
    id: &str,
    hide: bool,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let at = now();
    let with_reason = !matches!(target, Target::Message);
    let sql = format!(
        "UPDATE {} SET hidden_at = $2{} WHERE tenant_id = $1 AND id = $3",
        target.table(),
        if with_reason {
            ", hidden_reason = $4"
        } else {
            ""
        }
    );
    let mut update = tx.scoped(&sql).bind(hide.then_some(at)).bind(id);
    if with_reason {
        update = update.bind(hide.then_some(reason));
    }
    if update.execute(tx).await?.rows_affected() != 1 {
        return Ok(false);
    }
    tx.scoped(&format!(
        "UPDATE flags SET resolved_at = $2 WHERE tenant_id = $1 AND {} = $3 AND resolved_at IS NULL",
        target.flag_column()
    ))
    .bind(at)
    .bind(id)
    .execute(tx)
    .await?;
    Ok(true)
}

/// The open flags' reasons on every post, message or comment of the tenant (by target), oldest
/// first and joined for the queue: one query for the whole queue.
async fn open_reasons(
    tx: &mut TenantTx,
    target: Target,
) -> Result<HashMap<String, String>, sqlx::Error> {
    let column = target.flag_column();
    let sql = format!(
        "SELECT {column} AS target, reason FROM flags WHERE tenant_id = $1 AND {column} IS NOT NULL \
         AND resolved_at IS NULL ORDER BY created_at"
    );
    let rows: Vec<(String, String)> = tx.scoped_as(&sql).fetch_all(tx).await?;
    let mut out: HashMap<String, String> = HashMap::new();
    for (target, reason) in rows {
        let joined = out.entry(target).or_default();
        if !joined.is_empty() {
            joined.push_str(" · ");
        }
        joined.push_str(&reason);
    }
    Ok(out)
}

/// Posts with open flags, and hidden posts, most flagged first.
pub async fn queue(tx: &mut TenantTx) -> Result<Vec<Flagged>, sqlx::Error> {
    let mut queue: Vec<Flagged> = tx
        .scoped_as(
        "SELECT p.id, p.author_name, p.body_html, p.hidden_at, \
         (SELECT COUNT(*) FROM flags f WHERE f.tenant_id = p.tenant_id AND f.post_id = p.id AND f.resolved_at IS NULL) AS n \
         FROM posts p WHERE p.tenant_id = $1 AND (p.hidden_at IS NOT NULL OR EXISTS (SELECT 1 FROM flags f \
         WHERE f.tenant_id = p.tenant_id AND f.post_id = p.id AND f.resolved_at IS NULL)) ORDER BY n DESC, p.id DESC LIMIT 200",
    )
    .fetch_all(tx)
    .await?;
    let mut reasons = open_reasons(tx, Target::Post).await?;
    for post in &mut queue {
        post.reasons = reasons.remove(&post.post_id).unwrap_or_default();
    }
    Ok(queue)
}

/// An audit log entry, as moderators and admins of the commune see it: people are named by
/// their display name, never by their e-mail address (moderators are not shown admins' or
/// members' addresses).
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct AuditEntry {
    /// Who (display name, or [`GONE`]).
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Why.
    pub reason: Option<String>,
    /// When (Unix seconds).
    pub created_at: i64,
}

/// Shown for an account that no longer exists.
const GONE: &str = "compte supprimé";

/// The latest audit entries.
pub async fn audit_log(tx: &mut TenantTx) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let mut entries: Vec<AuditEntry> = tx
        .scoped_as(
        "SELECT COALESCE(a.display_name, $2) AS actor, l.action, l.target, l.reason, l.created_at FROM audit_log l \
         LEFT JOIN accounts a ON a.id = l.actor_account_id WHERE l.tenant_id = $1 ORDER BY l.id DESC LIMIT 100",
    )
    .bind(GONE)
    .fetch_all(tx)
    .await?;
    // Role changes name their account (`<account id or e-mail> <role>`): show its name instead.
    let mut names: HashMap<String, String> = HashMap::new();
    for entry in entries.iter_mut().filter(|e| e.action.starts_with("role.")) {
        let (who, role) = entry
            .target
            .split_once(' ')
            .map_or((entry.target.clone(), String::new()), |(w, r)| {
                (w.to_string(), r.to_string())
            });
        if !names.contains_key(&who) {
            let name = sql::query_scalar::<String>(
                "SELECT display_name FROM accounts WHERE id = $1 OR email = $1",
            )
            .bind(&who)
            .fetch_optional(tx.platform())
            .await?
            .unwrap_or_else(|| GONE.to_string());
            names.insert(who.clone(), name);
        }
        let name = names.get(&who).map_or(GONE, String::as_str);
        entry.target = format!("{name} {role}").trim_end().to_string();
    }
    Ok(entries)
}

/// Flags a message of this tenant (its reader reports it); false when there is no such
/// message or the account already has an open flag on it.
pub async fn flag_message(
    tx: &mut TenantTx,
    message: &str,
    account: &AccountId,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = tx
        .scoped(
            "INSERT INTO flags (tenant_id, id, message_id, account_id, reason, created_at) \
             SELECT $1, $2, m.id, $4, $5, $6 FROM messages m WHERE m.tenant_id = $1 AND m.id = $3 \
             ON CONFLICT DO NOTHING",
        )
        .bind(new_id())
        .bind(message)
        .bind(&account.0)
        .bind(reason)
        .bind(now())
        .execute(tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A reported private message in the moderation queue.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct FlaggedMessage {
    /// Message id.
    #[row(rename = "id")]
    pub message_id: String,
    /// Its sender's name.
    #[row(rename = "display_name")]
    pub author_name: String,
    /// Plain text.
    pub body: String,
    /// Open flags.
    #[row(rename = "n")]
    pub flags: i64,
    /// The flags' reasons, joined.
    #[row(skip)]
    pub reasons: String,
    /// Whether it is hidden now.
    #[row(rename = "hidden_at", try_from = "IsSet")]
    pub hidden: bool,
}

/// Reported messages with open flags, and hidden ones, most flagged first. Moderators see a
/// private message only once one of its readers reported it.
pub async fn message_queue(tx: &mut TenantTx) -> Result<Vec<FlaggedMessage>, sqlx::Error> {
    let mut queue: Vec<FlaggedMessage> = tx
        .scoped_as(
        "SELECT m.id, a.display_name, m.body, m.hidden_at, \
         (SELECT COUNT(*) FROM flags f WHERE f.tenant_id = m.tenant_id AND f.message_id = m.id AND f.resolved_at IS NULL) AS n \
         FROM messages m JOIN accounts a ON a.id = m.sender_account_id WHERE m.tenant_id = $1 \
         AND EXISTS (SELECT 1 FROM flags f WHERE f.tenant_id = m.tenant_id AND f.message_id = m.id \
         AND (f.resolved_at IS NULL OR m.hidden_at IS NOT NULL)) ORDER BY n DESC, m.id DESC LIMIT 200",
    )
    .fetch_all(tx)
    .await?;
    let mut reasons = open_reasons(tx, Target::Message).await?;
    for message in &mut queue {
        message.reasons = reasons.remove(&message.message_id).unwrap_or_default();
    }
    Ok(queue)
}

/// Flags a visible comment of `post` in this tenant; `None` when there is no such comment,
/// `Some(false)` when the account already has an open flag on it.
pub async fn flag_comment(
    tx: &mut TenantTx,
    post: &str,
    comment: &str,
    account: &AccountId,
    reason: &str,
) -> Result<Option<bool>, sqlx::Error> {
    let exists = tx
        .scoped(
            "SELECT 1 AS one FROM post_comments WHERE tenant_id = $1 AND post_id = $2 AND id = $3 AND hidden_at IS NULL",
        )
        .bind(post)
        .bind(comment)
        .fetch_optional(tx)
    .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let done = tx
        .scoped(
            "INSERT INTO flags (tenant_id, id, comment_id, account_id, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT DO NOTHING",
        )
        .bind(new_id())
        .bind(comment)
        .bind(&account.0)
        .bind(reason)
        .bind(now())
        .execute(tx)
    .await?;
    Ok(Some(done.rows_affected() == 1))
}

/// A flagged (or hidden) comment in the moderation queue.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct FlaggedComment {
    /// Comment id.
    #[row(rename = "id")]
    pub comment_id: String,
    /// The post it answers.
    pub post_id: String,
    /// Its author's name.
    #[row(rename = "display_name")]
    pub author_name: String,
    /// Plain text.
    pub body: String,
    /// Open flags.
    #[row(rename = "n")]
    pub flags: i64,
    /// The flags' reasons, joined.
    #[row(skip)]
    pub reasons: String,
    /// Whether it is hidden now.
    #[row(rename = "hidden_at", try_from = "IsSet")]
    pub hidden: bool,
}

/// Comments with open flags, and hidden ones, most flagged first.
pub async fn comment_queue(tx: &mut TenantTx) -> Result<Vec<FlaggedComment>, sqlx::Error> {
    let mut queue: Vec<FlaggedComment> = tx
        .scoped_as(
        "SELECT c.id, c.post_id, a.display_name, c.body, c.hidden_at, \
         (SELECT COUNT(*) FROM flags f WHERE f.tenant_id = c.tenant_id AND f.comment_id = c.id AND f.resolved_at IS NULL) AS n \
         FROM post_comments c JOIN accounts a ON a.id = c.author_account_id WHERE c.tenant_id = $1 \
         AND (c.hidden_at IS NOT NULL OR EXISTS (SELECT 1 FROM flags f WHERE f.tenant_id = c.tenant_id \
         AND f.comment_id = c.id AND f.resolved_at IS NULL)) ORDER BY n DESC, c.id DESC LIMIT 200",
    )
    .fetch_all(tx)
    .await?;
    let mut reasons = open_reasons(tx, Target::Comment).await?;
    for comment in &mut queue {
        comment.reasons = reasons.remove(&comment.comment_id).unwrap_or_default();
    }
    Ok(queue)
}

/// What this feature keeps about a person (see [`crate::privacy::personal`]).
pub struct Personal;

#[async_trait::async_trait]
impl crate::privacy::personal::PersonalData for Personal {
    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    async fn export(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
        out: &mut crate::privacy::personal::Export,
    ) -> Result<(), sqlx::Error> {
        out.rows(
            conn,
            "flags",
            "SELECT t.slug AS commune, f.post_id, f.comment_id, f.reason, f.created_at FROM flags f JOIN tenants t ON t.id = f.tenant_id \
             WHERE f.account_id = $1",
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
            &["DELETE FROM flags WHERE account_id = $1"],
        )
        .await
    }
}
