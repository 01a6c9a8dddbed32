//! The rules of engagement with posts, free of HTTP: who may comment, react and evaluate,
//! what a comment may hold, rate limits, and the notice its author gets.
//!
//! - Only verified, signed-in accounts take part; a post of another commune, or a hidden one,
//!   does not exist here.
//! - A reaction is given or taken back (idempotent); an evaluation (1–5) is one per account and
//!   post, changeable, and only on actions, commitments and proposals — never one's own post.
//! - The post's author is told of each new comment in app, except of their own.

use crate::db::TenantSql;
use crate::feed::engagement::store::{self, REACTIONS};
use crate::feed::limiter::Refused;
use crate::feed::store::{self as posts, OnePost};
use crate::moderation::service::{self as moderation, Reason};
use crate::notifications::Notice;
use crate::state::AppState;
use crate::types::AccountId;
use crate::web::Tenant;

/// Longest comment, in characters.
pub const MAX_COMMENT: usize = 2000;

/// Why an engagement was refused.
#[derive(Debug, thiserror::Error)]
pub enum EngageError {
    /// The input is wrong; the form is shown again with this (422).
    #[error("{0}")]
    Invalid(&'static str),
    /// Not allowed, with why (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The account's address is not verified (403).
    #[error(
        "Confirmez d'abord votre adresse e-mail (lien reçu à l'inscription) pour commenter, réagir ou évaluer."
    )]
    Unverified,
    /// Over a rate limit (429).
    #[error("{}", .0.message())]
    RateLimited(Refused),
    /// No such post or comment in this commune (404).
    #[error("Cette publication n'existe pas dans cette commune.")]
    NotFound,
    /// Storage.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Someone taking part, as notices name them.
pub struct Participant<'a> {
    /// The account.
    pub account: &'a AccountId,
    /// Its name.
    pub name: &'a str,
}

/// A visible post of this transaction's tenant.
async fn visible(tx: &mut crate::db::TenantTx, post: &str) -> Result<OnePost, EngageError> {
    match posts::one(tx, post).await? {
        Some(p) if p.hidden.is_none() => Ok(p),
        _ => Err(EngageError::NotFound),
    }
}

async fn verified(state: &AppState, account: &AccountId) -> Result<(), EngageError> {
    if store::is_verified(&state.db, account).await? {
        Ok(())
    } else {
        Err(EngageError::Unverified)
    }
}

/// The comment as stored: trimmed, checked for length.
pub fn validate_comment(body: &str) -> Result<&str, EngageError> {
    let body = body.trim();
    let n = body.chars().count();
    if n == 0 || n > MAX_COMMENT {
        return Err(EngageError::Invalid(
            "Le commentaire doit compter entre 1 et 2 000 caractères.",
        ));
    }
    Ok(body)
}

/// Adds `who`'s comment to `post`; returns its id. `origin` is the commune site's origin, for
/// the notice's link.
pub async fn comment(
    state: &AppState,
    tenant: &Tenant,
    origin: &str,
    who: Participant<'_>,
    post: &str,
    body: &str,
) -> Result<String, EngageError> {
    let mut tx = tenant.db().begin_write().await?;
    let target = visible(&mut tx, post).await?;
    verified(state, who.account).await?;
    let body = validate_comment(body)?;
    state
        .feed_limiter
        .comment(who.account)
        .map_err(EngageError::RateLimited)?;
    let id = store::add_comment(&mut tx, post, who.account, body).await?;
    let author = &target.author_account;
    if author != who.account && store::is_verified(&state.db, author).await? {
        // In the notification centre only: comments are too frequent for mail and push.
        let notice = Notice {
            email: false,
            push: false,
            ..Notice::to_accounts(
                tenant.id(),
                vec![author.0.clone()],
                format!("{} a commenté votre publication", who.name),
                format!(
                    "{} a commenté votre publication sur Parvis ({}).",
                    who.name, tenant.name
                ),
                format!("{origin}/publications/{post}#c-{id}"),
            )
        };
        crate::jobs::push(tx.platform(), &notice).await?;
    }
    tx.commit().await?;
    state.jobs.notify();
    state.home_cache.invalidate(tenant.id());
    Ok(id)
}

/// `who` deletes their own comment on `post`.
pub async fn delete_comment(
    state: &AppState,
    tenant: &Tenant,
    who: &AccountId,
    post: &str,
    comment: &str,
) -> Result<(), EngageError> {
    let mut tx = tenant.db().begin_write().await?;
    if !store::delete_comment(&mut tx, post, comment, who).await? {
        return Err(EngageError::NotFound);
    }
    tx.commit().await?;
    state.home_cache.invalidate(tenant.id());
    Ok(())
}

/// Gives (`on`) or takes back one of the [`REACTIONS`].
pub async fn react(
    state: &AppState,
    tenant: &Tenant,
    who: &AccountId,
    post: &str,
    reaction: &str,
    on: bool,
) -> Result<(), EngageError> {
    let mut tx = tenant.db().begin_write().await?;
    visible(&mut tx, post).await?;
    verified(state, who).await?;
    if !REACTIONS.iter().any(|(key, _)| *key == reaction) {
        return Err(EngageError::Invalid("Cette réaction n'existe pas."));
    }
    state
        .feed_limiter
        .reaction(who)
        .map_err(EngageError::RateLimited)?;
    store::set_reaction(&mut tx, post, who, reaction, on).await?;
    tx.commit().await?;
    state.home_cache.invalidate(tenant.id());
    Ok(())
}

/// Records or changes `who`'s evaluation (`note`, as submitted) of an action, commitment or
/// proposal.
pub async fn evaluate(
    state: &AppState,
    tenant: &Tenant,
    who: &AccountId,
    post: &str,
    note: &str,
) -> Result<(), EngageError> {
    let mut tx = tenant.db().begin_write().await?;
    let target = visible(&mut tx, post).await?;
    verified(state, who).await?;
    if !target.post.kind.evaluable() {
        return Err(EngageError::Invalid(
            "Seules les actions, les engagements et les propositions peuvent être évalués.",
        ));
    }
    if &target.author_account == who {
        return Err(EngageError::Forbidden(
            "Vous ne pouvez pas évaluer votre propre publication.",
        ));
    }
    let value = match note.trim().parse::<i64>() {
        Ok(v) if (1..=5).contains(&v) => v,
        _ => return Err(EngageError::Invalid("Choisissez une note de 1 à 5.")),
    };
    state
        .feed_limiter
        .reaction(who)
        .map_err(EngageError::RateLimited)?;
    store::rate(&mut tx, post, who, value).await?;
    tx.commit().await?;
    state.home_cache.invalidate(tenant.id());
    Ok(())
}

/// `who` reports a visible comment of `post` to the commune's moderators; false when already
/// reported.
pub async fn flag_comment(
    tenant: &Tenant,
    who: &AccountId,
    post: &str,
    comment: &str,
    reason: &Reason,
) -> Result<bool, EngageError> {
    let mut tx = tenant.db().begin_write().await?;
    visible(&mut tx, post).await?;
    let flagged = moderation::flag_comment(&mut tx, post, comment, who, reason).await?;
    let Some(flagged) = flagged else {
        return Err(EngageError::NotFound);
    };
    tx.commit().await?;
    Ok(flagged)
}
