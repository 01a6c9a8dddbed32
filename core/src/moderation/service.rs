//! Moderation's rules: what a flag or a decision needs, which transaction it runs in, what goes
//! to the commune's audit log. Other features flag their own content (messages, comments) and
//! audit their own decisions through here, in their transactions.

use crate::db::TenantTx;
use crate::types::AccountId;
use crate::web::Tenant;

use super::store;
/// Notes who did what in the audit log of the transaction's commune (any feature's decision).
pub use super::store::audit;
pub use super::store::{AuditEntry, Flagged, FlaggedComment, FlaggedMessage, Target};

/// Shortest and longest reason, in characters.
const REASON_CHARS: std::ops::RangeInclusive<usize> = 3..=500;

/// A reason given with a flag or a decision: trimmed, 3 to 500 characters.
#[derive(Debug, Clone)]
pub struct Reason(String);

/// A reason too short or too long.
#[derive(Debug, thiserror::Error)]
#[error("Indiquez un motif (3 à 500 caractères).")]
pub struct BadReason;

impl Reason {
    /// The reason typed in a form.
    pub fn parse(raw: &str) -> Result<Reason, BadReason> {
        let reason = raw.trim();
        if REASON_CHARS.contains(&reason.chars().count()) {
            Ok(Reason(reason.to_string()))
        } else {
            Err(BadReason)
        }
    }

    /// The reason.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Flags a visible post of the commune; false when there is no such post or the account
/// already has an open flag on it.
pub async fn flag_post(
    tenant: &Tenant,
    post: &str,
    account: &AccountId,
    reason: &Reason,
) -> Result<bool, sqlx::Error> {
    let mut tx = tenant.db().begin_write().await?;
    let flagged = store::flag(&mut tx, post, account, reason.as_str()).await?;
    tx.commit().await?;
    Ok(flagged)
}

/// Flags a private message of the transaction's commune (the messages feature's own
/// transaction); false when there is no such message or it is flagged already.
pub async fn flag_message(
    tx: &mut TenantTx,
    message: &str,
    account: &AccountId,
    reason: &Reason,
) -> Result<bool, sqlx::Error> {
    store::flag_message(tx, message, account, reason.as_str()).await
}

/// Flags a visible comment of a post (the engagement feature's own transaction); `None` when
/// there is no such comment, false when the account flagged it already.
pub async fn flag_comment(
    tx: &mut TenantTx,
    post: &str,
    comment: &str,
    account: &AccountId,
    reason: &Reason,
) -> Result<Option<bool>, sqlx::Error> {
    store::flag_comment(tx, post, comment, account, reason.as_str()).await
}

/// What a commune's moderators see: flagged posts, messages and comments, and the log.
#[derive(Debug)]
pub struct Queues {
    /// Flagged posts.
    pub posts: Vec<Flagged>,
    /// Flagged private messages.
    pub messages: Vec<FlaggedMessage>,
    /// Flagged comments.
    pub comments: Vec<FlaggedComment>,
    /// The latest decisions.
    pub log: Vec<AuditEntry>,
}

/// The commune's moderation queues.
pub async fn queues(tenant: &Tenant) -> Result<Queues, sqlx::Error> {
    let mut tx = tenant.db().read().await?;
    let queues = Queues {
        posts: store::queue(&mut tx).await?,
        messages: store::message_queue(&mut tx).await?,
        comments: store::comment_queue(&mut tx).await?,
        log: store::audit_log(&mut tx).await?,
    };
    tx.commit().await?;
    Ok(queues)
}

/// Why a decision was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// Nothing of that kind and id in this commune.
    #[error("{}", match .0 {
        Target::Post => "Cette publication n'existe pas dans cette commune.",
        Target::Message => "Ce message n'existe pas dans cette commune.",
        Target::Comment => "Ce commentaire n'existe pas dans cette commune.",
    })]
    NotFound(Target),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Hides (or restores) a post, message or comment of the commune, with the moderator's
/// reason, and logs the decision in the same transaction.
pub async fn decide(
    tenant: &Tenant,
    moderator: &AccountId,
    (target, id): (Target, &str),
    hide: bool,
    reason: &Reason,
) -> Result<(), DecisionError> {
    let mut tx = tenant.db().begin_write().await?;
    if !store::set_hidden(&mut tx, target, id, hide, reason.as_str()).await? {
        return Err(DecisionError::NotFound(target));
    }
    let action = match (target, hide) {
        (Target::Post, true) => "post.hide",
        (Target::Post, false) => "post.restore",
        (Target::Message, true) => "message.hide",
        (Target::Message, false) => "message.restore",
        (Target::Comment, true) => "comment.hide",
        (Target::Comment, false) => "comment.restore",
    };
    store::audit(&mut tx, moderator, action, id, Some(reason.as_str())).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(
            Reason::parse("  spam  ").map(|r| r.0).ok(),
            Some("spam".into())
        );
        assert!(Reason::parse(" ab ").is_err());
        assert!(Reason::parse(&"é".repeat(500)).is_ok());
        assert!(Reason::parse(&"é".repeat(501)).is_err());
    }
}
