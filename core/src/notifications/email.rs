//! Notice e-mails, routed by each recipient's preferences: one e-mail now, an item of the next
//! digest, or nothing. Only verified addresses of live accounts get mail. Every notification
//! e-mail carries its one-click unsubscribe link (RFC 8058).

use crate::db::sql;
use crate::mail::{Attachment, Email};
use crate::notifications::deliveries::NoticeRef;
use crate::notifications::preferences::{self, Kind, Rhythm, Route, UnsubscribeKey};
use crate::util::now;

/// One notice, as its e-mails need it.
#[derive(Debug, Clone)]
pub struct Mailing<'a> {
    /// The notification's id (`post:<id>`, `notice:<id>`): a digest lists it once.
    pub id: &'a str,
    /// Commune it comes from.
    pub tenant_id: crate::types::TenantId,
    /// Subject of the e-mail, line of the digest.
    pub title: &'a str,
    /// Text of the e-mail.
    pub body: &'a str,
    /// Absolute link.
    pub link: &'a str,
    /// Addressed to the account, or to followers.
    pub kind: Kind,
    /// Urgent: skips the digests.
    pub urgent: bool,
    /// Files attached (immediate e-mails only).
    pub attachments: &'a [Attachment],
    /// The notice whose delivery report counts the e-mails.
    pub notice: Option<&'a NoticeRef>,
}

/// How many e-mails were queued now, and how many items wait for a digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Routed {
    /// E-mails queued now.
    pub now: i64,
    /// Digest items written.
    pub digest: i64,
}

/// The footer of every notification e-mail: where to change preferences, how to stop.
pub fn footer(origin: &str, unsubscribe: &str) -> String {
    format!(
        "--\nVous recevez cet e-mail parce que vous avez un compte sur Parvis.\n\
         Choisir quand recevoir vos notifications : {origin}/notifications/preferences\n\
         Ne plus recevoir aucun e-mail de notification (en un clic) : {unsubscribe}\n"
    )
}

/// Queues the e-mails (or digest items) of `mailing` for `accounts`, in the caller's
/// transaction.
pub async fn route(
    on: &mut (impl sql::Sql + ?Sized),
    accounts: &[String],
    mailing: &Mailing<'_>,
) -> Result<Routed, sqlx::Error> {
    let mut routed = Routed::default();
    if accounts.is_empty() {
        return Ok(routed);
    }
    let key = UnsubscribeKey::load(&mut *on).await?;
    let origin = preferences::origin_of(mailing.link);
    if origin.is_none() {
        tracing::warn!(link = %mailing.link, "notice link is not absolute: e-mails without unsubscribe link");
    }
    let at = now();
    for chunk in accounts.chunks(500) {
        let mut sql = String::from(
            "SELECT a.id, a.email, COALESCE(p.email_rhythm, 'defaut') AS rhythm FROM accounts a \
             LEFT JOIN notification_preferences p ON p.account_id = a.id \
             WHERE a.email_verified_at IS NOT NULL AND a.deleted_at IS NULL AND a.id IN (",
        );
        sql.push_str(&crate::db::placeholders(1, chunk.len()));
        sql.push(')');
        let mut q = sql::query_as::<(String, String, String)>(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        let mut digest = Vec::new();
        for (account, to, rhythm) in q.fetch_all(&mut *on).await? {
            let rhythm = Rhythm::parse(&rhythm).unwrap_or(Rhythm::Defaut);
            match preferences::route(rhythm, mailing.kind, mailing.urgent) {
                Route::None => {}
                Route::Now => {
                    let unsubscribe = origin.as_deref().map(|o| (o, key.link(o, &account)));
                    let mut text = format!("{}\n\n{}\n", mailing.body, mailing.link);
                    if let Some((origin, link)) = &unsubscribe {
                        text.push('\n');
                        text.push_str(&footer(origin, link));
                    }
                    let email = Email {
                        to,
                        subject: mailing.title.to_string(),
                        text,
                        html: None,
                        list_unsubscribe: unsubscribe.map(|(_, link)| link),
                        attachments: mailing.attachments.to_vec(),
                        notice: mailing.notice.cloned(),
                    };
                    // The commune's turn in the queue, also for a post's e-mails (no notice).
                    let tenant = Some(mailing.tenant_id);
                    crate::jobs::push_for(&mut *on, tenant, &email).await?;
                    routed.now += 1;
                }
                Route::Digest => digest.push(account),
            }
        }
        // One statement per chunk: a post to a commune's 100,000 followers is 200 of them.
        if !digest.is_empty() {
            let sql = format!(
                "INSERT INTO digest_items (account_id, id, tenant_id, title, link, created_at) \
                 SELECT a.id, $1, $2, $3, $4, $5 FROM accounts a WHERE a.id IN ({}) ON CONFLICT DO NOTHING",
                crate::db::placeholders(6, digest.len())
            );
            let mut q = sql::query(&sql)
                .bind(mailing.id)
                .bind(mailing.tenant_id)
                .bind(mailing.title)
                .bind(mailing.link)
                .bind(at);
            for account in &digest {
                q = q.bind(account);
            }
            routed.digest += i64::try_from(q.execute(&mut *on).await?.rows_affected()).unwrap_or(0);
        }
    }
    Ok(routed)
}
