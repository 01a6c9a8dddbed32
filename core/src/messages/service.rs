//! The rules of private messages, free of HTTP: who may read and write a thread, what a
//! message may hold, blocks, rate limits, and the notice each new message sends.
//!
//! - Only a citizen starts a thread, to an official who holds a profile here or to the commune;
//!   officials and admins answer but never write first (no cold messages to citizens).
//! - The commune's side is shared by its tenant admins (not platform admins: messages are
//!   private), and its answers are signed with the commune's name.
//! - Sending to a side one of whose readers blocked you is refused before anything is written.

use serde::Serialize;

use crate::authz::Role;
use crate::db::{Db, TenantSql};
use crate::messages::limiter::Refused;
use crate::messages::store::{self, Recipient, Side, Thread};
use crate::moderation::service::{self as moderation, Reason};
use crate::notifications::Notice;
use crate::state::AppState;
use crate::types::{AccountId, TenantId};
use crate::web::{CommuneSite, Tenant};

/// Longest message, in characters.
pub const MAX_BODY: usize = 5000;
/// Longest subject, in characters.
pub const MAX_SUBJECT: usize = 150;

/// Why a message was not sent (or a thread not shown).
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The input is wrong; the form is shown again with this.
    #[error("{0}")]
    Invalid(&'static str),
    /// A reader of the other side blocked the sender.
    #[error(
        "Votre message n'a pas été envoyé : votre interlocuteur a bloqué votre compte. Vous ne pouvez plus lui écrire."
    )]
    Blocked,
    /// The other side's account was deleted.
    #[error("Cette conversation est close : le compte de votre interlocuteur a été supprimé.")]
    Closed,
    /// Not allowed, with why.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Over a rate limit.
    #[error("{}", match .0 {
        Refused::Threads => "Vous avez commencé trop de conversations récemment. Réessayez dans une heure.",
        Refused::Messages => "Vous envoyez trop de messages. Patientez une minute avant d'écrire à nouveau.",
    })]
    RateLimited(Refused),
    /// No such thread here, or not one of the viewer's.
    #[error("Cette conversation n'existe pas.")]
    NotFound,
    /// Storage.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether `account` is one of the commune's admins (who share its side).
pub async fn is_admin(authz: &crate::authz::Authz, tenant: TenantId, account: &AccountId) -> bool {
    authz
        .roles_of(account, &tenant.authz_domain())
        .await
        .contains(&Role::TenantAdmin)
}

/// The commune's admins.
async fn admins(state: &AppState, tenant: TenantId) -> Vec<AccountId> {
    state
        .authz
        .assignments(&tenant.authz_domain())
        .await
        .into_iter()
        .filter(|(_, r)| *r == Role::TenantAdmin)
        .map(|(a, _)| a)
        .collect()
}

/// The side `account` reads `thread` from, if any.
pub async fn side_of(
    state: &AppState,
    tenant: TenantId,
    thread: &Thread,
    account: &AccountId,
) -> Option<Side> {
    if &thread.citizen == account {
        Some(Side::Citizen)
    } else if thread.official.as_ref() == Some(account)
        || (thread.recipient_kind == "commune" && is_admin(&state.authz, tenant, account).await)
    {
        Some(Side::Recipient)
    } else {
        None
    }
}

/// The accounts that read one side of a thread.
async fn readers(
    state: &AppState,
    tenant: TenantId,
    thread: &Thread,
    side: Side,
) -> Vec<AccountId> {
    match side {
        Side::Citizen => vec![thread.citizen.clone()],
        Side::Recipient => match &thread.official {
            Some(official) => vec![official.clone()],
            None => admins(state, tenant).await,
        },
    }
}

fn validate(subject: Option<&str>, body: &str) -> Result<(), MessageError> {
    if let Some(subject) = subject {
        let n = subject.chars().count();
        if n == 0 || n > MAX_SUBJECT {
            return Err(MessageError::Invalid(
                "L'objet doit compter entre 1 et 150 caractères.",
            ));
        }
    }
    let n = body.chars().count();
    if n == 0 || n > MAX_BODY {
        return Err(MessageError::Invalid(
            "Le message doit compter entre 1 et 5 000 caractères.",
        ));
    }
    Ok(())
}

/// Refuses when a reader of the other side blocked the sender or was deleted.
async fn may_write(db: &Db, readers: &[AccountId], sender: &AccountId) -> Result<(), MessageError> {
    if store::blocked_by_any(db, readers, sender).await? {
        return Err(MessageError::Blocked);
    }
    let mut open = false;
    for reader in readers {
        open |= !store::is_deleted(db, reader).await?;
    }
    if !readers.is_empty() && !open {
        return Err(MessageError::Closed);
    }
    Ok(())
}

/// Who writes, as the notice names them.
pub struct Sender<'a> {
    /// The account.
    pub account: &'a AccountId,
    /// Its name.
    pub name: &'a str,
}

/// Queues the notice of a new message to the other side, in the message's transaction.
async fn notify(
    tx: &mut crate::db::TenantTx,
    commune: &CommuneSite,
    to: Vec<AccountId>,
    from: &str,
    subject: &str,
    link: String,
) -> Result<(), sqlx::Error> {
    if to.is_empty() {
        return Ok(());
    }
    // The e-mail says who wrote and about what, never the text itself: e-mail is not private.
    let notice = Notice::to_accounts(
        commune.tenant_id,
        to.into_iter().map(|a| a.0).collect(),
        format!("Nouveau message de {from}"),
        format!(
            "{from} vous a écrit sur Parvis ({}) : « {subject} ».\nLisez le message et répondez sur la plateforme :",
            commune.name
        ),
        link,
    );
    crate::jobs::push(tx.platform(), &notice).await
}

/// Starts a thread from `citizen` to `to`; returns its id. `origin` is the commune site's
/// origin, for the notice's link.
pub async fn start(
    state: &AppState,
    tenant: &Tenant,
    origin: &str,
    citizen: Sender<'_>,
    to: Recipient,
    subject: &str,
    body: &str,
) -> Result<String, MessageError> {
    let readers = match &to {
        Recipient::Official { account, .. } => {
            if account == citizen.account {
                return Err(MessageError::Forbidden(
                    "Vous ne pouvez pas vous écrire à vous-même.",
                ));
            }
            vec![account.clone()]
        }
        Recipient::Commune { .. } => {
            if is_admin(&state.authz, tenant.id(), citizen.account).await {
                return Err(MessageError::Forbidden(
                    "Vous administrez cette commune : les messages à la mairie vous arrivent déjà.",
                ));
            }
            admins(state, tenant.id()).await
        }
    };
    validate(Some(subject), body)?;
    may_write(&state.db, &readers, citizen.account).await?;
    state
        .message_limiter
        .allow(citizen.account, true)
        .map_err(MessageError::RateLimited)?;
    let mut tx = tenant.db().begin_write().await?;
    let id = store::create_thread(&mut tx, citizen.account, &to, subject, body).await?;
    notify(
        &mut tx,
        tenant,
        readers,
        citizen.name,
        subject,
        format!("{origin}/messages/{id}"),
    )
    .await?;
    tx.commit().await?;
    state.jobs.notify();
    Ok(id)
}

/// A thread as one of its sides sees it.
pub struct Opened {
    /// The thread.
    pub thread: Thread,
    /// The viewer's side.
    pub side: Side,
    /// Its messages, oldest first.
    pub messages: Vec<MessageView>,
    /// The other side's account the viewer may block (an official's, or the citizen's), if any.
    pub blockable: Option<AccountId>,
}

/// A message ready to show.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    /// Id.
    pub id: String,
    /// Sent by the viewer's side.
    pub mine: bool,
    /// Who signs it.
    pub author: String,
    /// Escaped text with line breaks ('' when deleted or hidden).
    pub body_html: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Deleted with its author's account.
    pub deleted: bool,
    /// Hidden by a moderator.
    pub hidden: bool,
}

/// Plain text as HTML: escaped, line breaks kept.
fn text_html(body: &str) -> String {
    crate::web::render::escape_html(&body.replace('\r', "")).replace('\n', "<br>\n")
}

/// Loads a thread for `account` (not one of its sides: not found) and marks it read.
pub async fn open(
    state: &AppState,
    tenant: &Tenant,
    account: &AccountId,
    id: &str,
) -> Result<Opened, MessageError> {
    let mut tx = tenant.db().begin_write().await?;
    let thread = store::thread(&mut tx, id)
        .await?
        .ok_or(MessageError::NotFound)?;
    let side = side_of(state, tenant.id(), &thread, account)
        .await
        .ok_or(MessageError::NotFound)?;
    store::mark_read(&mut tx, id, side).await?;
    let messages = store::messages(&mut tx, id).await?;
    tx.commit().await?;
    let recipient_author = if thread.recipient_kind == "commune" {
        format!("{} (mairie)", thread.recipient_name)
    } else {
        thread.recipient_name.clone()
    };
    let messages = messages
        .into_iter()
        .map(|m| MessageView {
            mine: m.side == side,
            author: match m.side {
                Side::Citizen => thread.citizen_name.clone(),
                Side::Recipient => recipient_author.clone(),
            },
            body_html: if m.deleted || m.hidden {
                String::new()
            } else {
                text_html(&m.body)
            },
            created_at: m.created_at,
            deleted: m.deleted,
            hidden: m.hidden,
            id: m.id,
        })
        .collect();
    let blockable = match side {
        Side::Citizen => thread.official.clone(),
        Side::Recipient => Some(thread.citizen.clone()),
    };
    Ok(Opened {
        thread,
        side,
        messages,
        blockable,
    })
}

/// Adds `sender`'s reply to thread `id`.
pub async fn reply(
    state: &AppState,
    tenant: &Tenant,
    origin: &str,
    sender: Sender<'_>,
    id: &str,
    body: &str,
) -> Result<(), MessageError> {
    // One write transaction from the read of the thread to the new message: a block or a
    // deletion committed meanwhile is seen (SQLite serializes writers; on PostgreSQL the
    // checks run after the thread row is read in this transaction).
    let mut tx = tenant.db().begin_write().await?;
    let thread = store::thread(&mut tx, id)
        .await?
        .ok_or(MessageError::NotFound)?;
    let side = side_of(state, tenant.id(), &thread, sender.account)
        .await
        .ok_or(MessageError::NotFound)?;
    validate(None, body)?;
    let readers = readers(state, tenant.id(), &thread, side.other()).await;
    may_write(&state.db, &readers, sender.account).await?;
    state
        .message_limiter
        .allow(sender.account, false)
        .map_err(MessageError::RateLimited)?;
    // Answers from the recipient's side are signed by the office, not the person.
    let from = match side {
        Side::Citizen => sender.name.to_string(),
        Side::Recipient => thread.recipient_name.clone(),
    };
    let subject = if thread.subject.is_empty() {
        "(sans objet)"
    } else {
        thread.subject.as_str()
    };
    store::add_message(&mut tx, id, sender.account, side, body).await?;
    let to = readers
        .into_iter()
        .filter(|a| a != sender.account)
        .collect();
    notify(
        &mut tx,
        tenant,
        to,
        &from,
        subject,
        format!("{origin}/messages/{id}"),
    )
    .await?;
    tx.commit().await?;
    state.jobs.notify();
    Ok(())
}

/// The viewer blocks the other side's account of thread `id` (an official or the citizen).
pub async fn block(
    state: &AppState,
    tenant: &Tenant,
    account: &AccountId,
    id: &str,
) -> Result<(), MessageError> {
    let opened = open(state, tenant, account, id).await?;
    let Some(other) = opened.blockable else {
        return Err(MessageError::Forbidden(
            "La mairie ne peut pas être bloquée ; signalez un message abusif à la modération.",
        ));
    };
    store::block(&state.db, account, &other).await?;
    Ok(())
}

/// A thread of the inbox, from the viewer's side.
#[derive(Debug, Clone, Serialize)]
pub struct InboxEntry {
    /// The thread.
    #[serde(flatten)]
    pub thread: Thread,
    /// Who the viewer talks with.
    pub with: String,
    /// Unread messages on the viewer's side.
    pub unread: i64,
}

/// The viewer's threads here, latest first, and their total unread.
pub async fn inbox(
    state: &AppState,
    tenant: &Tenant,
    account: &AccountId,
) -> Result<(Vec<InboxEntry>, i64), MessageError> {
    let admin = is_admin(&state.authz, tenant.id(), account).await;
    let mut tx = tenant.db().read().await?;
    let threads = store::inbox(&mut tx, account, admin).await?;
    tx.commit().await?;
    let entries: Vec<InboxEntry> = threads
        .into_iter()
        .map(|t| {
            let citizen = &t.citizen == account;
            InboxEntry {
                with: if citizen {
                    if t.recipient_kind == "commune" {
                        format!("{} (mairie)", t.recipient_name)
                    } else {
                        t.recipient_name.clone()
                    }
                } else {
                    t.citizen_name.clone()
                },
                unread: if citizen {
                    t.citizen_unread
                } else {
                    t.recipient_unread
                },
                thread: t,
            }
        })
        .collect();
    let total = entries.iter().map(|e| e.unread).sum();
    Ok((entries, total))
}

/// The viewer's unread messages in this commune (the page header's count).
pub async fn unread_total(
    authz: &crate::authz::Authz,
    db: &crate::db::Db,
    tenant: TenantId,
    account: &AccountId,
) -> Result<i64, sqlx::Error> {
    let admin = is_admin(authz, tenant, account).await;
    let mut tx = db.tenant(tenant).read().await?;
    let total = store::unread_total(&mut tx, account, admin).await?;
    tx.commit().await?;
    Ok(total)
}

/// The header's count of unread messages (see [`crate::web::HeaderCounts`]): kept per person
/// and commune at the version of the commune's messages it was counted at (migration 0026
/// raises it at every write to a thread), so a page recounts only when a thread moved.
pub struct UnreadMessages {
    /// Role assignments (a commune's admins read the commune's side of threads).
    pub authz: std::sync::Arc<crate::authz::Authz>,
    /// Storage.
    pub db: crate::db::Db,
    /// Counts by commune, account and whether it was counted as an admin.
    pub kept: crate::web::shared::Versioned<(TenantId, AccountId, bool), i64>,
}

/// How many people's counts are kept (a few dozen bytes each).
pub const UNREAD_KEPT: usize = 50_000;

impl UnreadMessages {
    /// Counts kept for at most [`UNREAD_KEPT`] people.
    pub fn new(authz: std::sync::Arc<crate::authz::Authz>, db: crate::db::Db) -> Self {
        UnreadMessages {
            authz,
            db,
            kept: crate::web::shared::Versioned::new(UNREAD_KEPT),
        }
    }

    async fn count(
        &self,
        tenant: TenantId,
        account: &AccountId,
        messages: Option<i64>,
    ) -> Result<i64, sqlx::Error> {
        let admin = is_admin(&self.authz, tenant, account).await;
        let Some(version) = messages else {
            return unread_total(&self.authz, &self.db, tenant, account).await;
        };
        let key = (tenant, account.clone(), admin);
        if let Some(total) = self.kept.get(&key, version) {
            return Ok(*total);
        }
        let mut tx = self.db.tenant(tenant).read().await?;
        let total = store::unread_total(&mut tx, account, admin).await?;
        tx.commit().await?;
        // Counted after `version` was read: as new as it, or newer (then the next page,
        // reading a newer version, counts again).
        self.kept.put(key, version, std::sync::Arc::new(total));
        Ok(total)
    }
}

impl crate::web::HeaderCounts for UnreadMessages {
    fn unread_messages<'a>(
        &'a self,
        tenant: TenantId,
        account: &'a AccountId,
        messages: Option<i64>,
    ) -> futures_util::future::BoxFuture<'a, Result<i64, sqlx::Error>> {
        Box::pin(self.count(tenant, account, messages))
    }
}

/// The viewer reports a message of the other side of thread `id` to the commune's
/// moderators (the same flags and queue as posts); false when already reported.
pub async fn report(
    state: &AppState,
    tenant: &Tenant,
    account: &AccountId,
    id: &str,
    message: &str,
    reason: &Reason,
) -> Result<bool, MessageError> {
    let mut tx = tenant.db().begin_write().await?;
    let thread = store::thread(&mut tx, id)
        .await?
        .ok_or(MessageError::NotFound)?;
    let side = side_of(state, tenant.id(), &thread, account)
        .await
        .ok_or(MessageError::NotFound)?;
    let reportable = store::messages(&mut tx, id)
        .await?
        .iter()
        .any(|m| m.id == message && m.side != side);
    if !reportable {
        return Err(MessageError::NotFound);
    }
    let flagged = moderation::flag_message(&mut tx, message, account, reason).await?;
    tx.commit().await?;
    Ok(flagged)
}
