//! Volume limits on what a module sends in a commune's name: notices (in app, e-mail, push),
//! text messages and feed posts, per call and per rolling day, per module and per commune; how
//! often one account hears from one module; and which accounts a module may notify at all.
//!
//! Counts per period are rows of `module_volumes` and `module_notice_recipients` written in
//! the module call's own transaction: a rolled-back call counts nothing, and every server
//! process sees the same counts. On PostgreSQL a transaction-scoped advisory lock per
//! (commune, module, kind) makes the check and the count one step, so concurrent calls cannot
//! both pass the last free unit; on SQLite the call already holds the writer.
//!
//! Refusals are French sentences returned to the module as `Err(String)`.

use std::collections::{HashMap, HashSet};

use crate::db::{Backend, TenantDb, TenantSql};
use crate::types::TenantId;
use crate::util::now;

/// Notices (`notify.send`, any audience) one call may send.
pub const NOTICES_PER_CALL: u32 = 10;
/// Notices to all the commune's followers one call may send.
pub const FOLLOWER_NOTICES_PER_CALL: u32 = 1;
/// Notices to all the commune's followers per module and commune per rolling 24 hours.
pub const FOLLOWER_NOTICES_PER_DAY: i64 = 20;
/// Recipients of notices to named accounts or to a role, per module and commune per rolling
/// 24 hours (an account named in two notices counts twice). Higher than the follower limit:
/// a donation campaign thanks each donor, office hours confirm each booking, one at a time.
pub const NOTICE_RECIPIENTS_PER_DAY: i64 = 2_000;
/// Notices (hence e-mails) one account receives from one module of one commune per rolling
/// hour, when named or reached through a role.
pub const NOTICES_PER_ACCOUNT_PER_HOUR: i64 = 10;
/// Longest notice body (the e-mail's text), in characters.
pub const MAX_NOTICE_BODY_CHARS: usize = 10_000;
/// Most attachments on one notice (their total size is bounded too, at 1 MiB).
pub const MAX_ATTACHMENTS: usize = 10;
/// Text messages (distinct numbers) per module and commune per rolling 24 hours; one send
/// names at most 1,000 numbers, and a call may make several sends (an emergency alert goes
/// to every subscriber in one call) within this daily bound.
pub const SMS_NUMBERS_PER_DAY: i64 = 5_000;
/// Feed posts one call may publish.
pub const POSTS_PER_CALL: u32 = 5;
/// Feed posts per module and commune per rolling 24 hours.
pub const POSTS_PER_DAY: i64 = 20;

/// The rolling period of the daily limits, in seconds.
const DAY: i64 = 86_400;
/// The rolling period of the per-account limit, in seconds.
const HOUR: i64 = 3_600;
/// Rows older than this are deleted as new ones are counted (they no longer count).
const KEEP: i64 = 2 * DAY;

/// What one call has sent so far (per-call limits); a field of the call's state.
#[derive(Debug, Default, Clone, Copy)]
pub struct CallVolumes {
    notices: u32,
    follower_notices: u32,
    posts: u32,
}

/// A volume counted per rolling day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volume {
    /// Recipients of notices to named accounts or roles.
    NoticeRecipients,
    /// Notices to all followers.
    FollowerNotices,
    /// Text messages (numbers).
    Sms,
    /// Feed posts.
    Posts,
}

impl Volume {
    fn kind(self) -> &'static str {
        match self {
            Volume::NoticeRecipients => "notice",
            Volume::FollowerNotices => "followers",
            Volume::Sms => "sms",
            Volume::Posts => "post",
        }
    }

    /// The limit per rolling 24 hours.
    pub fn per_day(self) -> i64 {
        match self {
            Volume::NoticeRecipients => NOTICE_RECIPIENTS_PER_DAY,
            Volume::FollowerNotices => FOLLOWER_NOTICES_PER_DAY,
            Volume::Sms => SMS_NUMBERS_PER_DAY,
            Volume::Posts => POSTS_PER_DAY,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Volume::NoticeRecipients => "destinataires de notifications",
            Volume::FollowerNotices => "notifications aux abonnés",
            Volume::Sms => "SMS",
            Volume::Posts => "publications",
        }
    }
}

impl CallVolumes {
    /// Checks the per-call limits of one more notice (to the followers or not).
    pub fn check_notice(&self, followers: bool) -> Result<(), String> {
        if self.notices >= NOTICES_PER_CALL {
            return Err(format!(
                "limite atteinte : {NOTICES_PER_CALL} notifications par appel"
            ));
        }
        if followers && self.follower_notices >= FOLLOWER_NOTICES_PER_CALL {
            return Err(format!(
                "limite atteinte : {FOLLOWER_NOTICES_PER_CALL} notification aux abonnés par appel"
            ));
        }
        Ok(())
    }

    /// Counts a notice the call queued.
    pub fn add_notice(&mut self, followers: bool) {
        self.notices += 1;
        if followers {
            self.follower_notices += 1;
        }
    }

    /// Checks the per-call limit of one more post.
    pub fn check_post(&self) -> Result<(), String> {
        if self.posts >= POSTS_PER_CALL {
            return Err(format!(
                "limite atteinte : {POSTS_PER_CALL} publications par appel"
            ));
        }
        Ok(())
    }

    /// Counts a post the call published.
    pub fn add_post(&mut self) {
        self.posts += 1;
    }
}

/// A stable 64-bit key (FNV-1a) for PostgreSQL's advisory locks.
fn lock_key(parts: &[&str]) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Serialises the check-and-count of one (commune, module, kind) until the transaction ends.
async fn lock(
    tx: &mut impl TenantSql,
    backend: Backend,
    module: &str,
    kind: &str,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        let tenant = tx.tenant_id().to_string();
        let key = lock_key(&["parvis.volumes", &tenant, module, kind]);
        // `COUNT(*)` around it: the lock function returns `void`, which has no decoder.
        tx.control_scalar::<i64>("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS held")
            .bind(key)
            .fetch_one(tx)
            .await?;
    }
    Ok(())
}

/// What was counted of `volume` in the last 24 hours.
async fn used(
    tx: &mut impl TenantSql,
    module: &str,
    volume: Volume,
    since: i64,
) -> Result<i64, sqlx::Error> {
    tx.scoped_scalar::<i64>(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM module_volumes \
         WHERE tenant_id = $1 AND module_id = $2 AND kind = $3 AND at > $4",
    )
    .bind(module)
    .bind(volume.kind())
    .bind(since)
    .fetch_one(tx)
    .await
}

/// Counts `amount` of `volume` in the call's transaction, or says why not: `Ok(Err(..))` is
/// the refusal for the module.
pub async fn charge(
    tx: &mut impl TenantSql,
    backend: Backend,
    module: &str,
    volume: Volume,
    amount: i64,
) -> Result<Result<(), String>, sqlx::Error> {
    lock(tx, backend, module, volume.kind()).await?;
    let at = now();
    let limit = volume.per_day();
    let so_far = used(tx, module, volume, at - DAY).await?;
    if so_far.saturating_add(amount) > limit {
        let left = (limit - so_far).max(0);
        let mut why = format!(
            "limite atteinte : {} {} par jour pour ce module dans cette commune",
            crate::util::thousands(limit),
            volume.what()
        );
        if left > 0 {
            why.push_str(&format!(
                " (reste {} aujourd'hui)",
                crate::util::thousands(left)
            ));
        }
        return Ok(Err(why));
    }
    tx.scoped(
        "DELETE FROM module_volumes WHERE tenant_id = $1 AND module_id = $2 AND kind = $3 AND at < $4",
    )
    .bind(module)
    .bind(volume.kind())
    .bind(at - KEEP)
    .execute(tx)
    .await?;
    tx.scoped(
        "INSERT INTO module_volumes (tenant_id, module_id, kind, amount, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(module)
    .bind(volume.kind())
    .bind(amount)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(Ok(()))
}

/// Whether each of `accounts` (distinct) may get one more notice from this module:
/// `Ok(Err(..))` when some already had [`NOTICES_PER_ACCOUNT_PER_HOUR`] in the last hour,
/// saying how many. Holds the lock until the transaction ends: count them with
/// [`record_recipients`] in the same transaction.
pub async fn check_recipients(
    tx: &mut impl TenantSql,
    backend: Backend,
    module: &str,
    accounts: &[String],
) -> Result<Result<(), String>, sqlx::Error> {
    if accounts.is_empty() {
        return Ok(Ok(()));
    }
    lock(tx, backend, module, "recipients").await?;
    let at = now();
    let mut full = 0usize;
    for chunk in accounts.chunks(500) {
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT account_id FROM module_notice_recipients \
             WHERE tenant_id = $1 AND module_id = $2 AND at > $3 AND account_id IN ({}) \
             GROUP BY account_id HAVING COUNT(*) >= $4) AS full_accounts",
            crate::db::placeholders(5, chunk.len())
        );
        let mut q = tx
            .scoped_scalar::<i64>(&sql)
            .bind(module)
            .bind(at - HOUR)
            .bind(NOTICES_PER_ACCOUNT_PER_HOUR);
        for id in chunk {
            q = q.bind(id);
        }
        full += usize::try_from(q.fetch_one(tx).await?).unwrap_or(0);
    }
    if full > 0 {
        return Ok(Err(format!(
            "limite atteinte : {NOTICES_PER_ACCOUNT_PER_HOUR} notifications par heure pour un \
             même compte ({} destinataire{} l'{} atteinte)",
            crate::util::thousands(i64::try_from(full).unwrap_or(i64::MAX)),
            if full > 1 { "s" } else { "" },
            if full > 1 { "ont" } else { "a" },
        )));
    }
    Ok(Ok(()))
}

/// Counts one notice for each of `accounts`, after [`check_recipients`].
pub async fn record_recipients(
    tx: &mut impl TenantSql,
    module: &str,
    accounts: &[String],
) -> Result<(), sqlx::Error> {
    let at = now();
    tx.scoped(
        "DELETE FROM module_notice_recipients WHERE tenant_id = $1 AND module_id = $2 AND at < $3",
    )
    .bind(module)
    .bind(at - HOUR)
    .execute(tx)
    .await?;
    for chunk in accounts.chunks(200) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, $2, ${}, $3)", i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO module_notice_recipients (tenant_id, module_id, account_id, at) VALUES {}",
            values.join(", ")
        );
        let mut q = tx.scoped(&sql).bind(module).bind(at);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(tx).await?;
    }
    Ok(())
}

/// How many of `accounts` (distinct) are linked to the commune by nothing: they are not in
/// `known` (the commune's role holders, the account acting in the call), follow nothing in it
/// (the commune or one of its officials), and never acted in this module there (see
/// [`note_contact`]). Deleted accounts are unlinked.
pub async fn unlinked(
    tx: &mut impl TenantSql,
    module: &str,
    accounts: &[String],
    known: &HashSet<String>,
) -> Result<usize, sqlx::Error> {
    let rest: Vec<&String> = accounts.iter().filter(|a| !known.contains(*a)).collect();
    let mut linked = 0usize;
    for chunk in rest.chunks(500) {
        let sql = format!(
            "SELECT COUNT(*) FROM accounts a WHERE a.deleted_at IS NULL AND a.id IN ({}) AND (\
             EXISTS (SELECT 1 FROM follows f WHERE f.tenant_id = $1 AND f.account_id = a.id) \
             OR EXISTS (SELECT 1 FROM module_contacts c WHERE c.tenant_id = $1 \
             AND c.module_id = $2 AND c.account_id = a.id))",
            crate::db::placeholders(3, chunk.len())
        );
        let mut q = tx.scoped_scalar::<i64>(&sql).bind(module);
        for id in chunk {
            q = q.bind(*id);
        }
        linked += usize::try_from(q.fetch_one(tx).await?).unwrap_or(0);
    }
    Ok(rest.len().saturating_sub(linked))
}

/// Within a call's transaction: the signed-in account acting in this successful write call is
/// linked to the module in its commune (kept or rolled back with the call's writes).
pub async fn note_contact_in(
    tx: &mut impl TenantSql,
    module: &str,
    account: &str,
) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO module_contacts (tenant_id, module_id, account_id, seen_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(module)
    .bind(account)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(())
}

/// Accounts whose contact row with a module of a commune this process has seen committed, so
/// that a write call by one of them does not note it again: a voter's every vote after the
/// first is one statement lighter at SQLite's one writer. A row is only ever deleted with its
/// account, which then makes no call. Per process and bounded: forgotten all at once when
/// full (a forgotten contact costs one `INSERT … DO NOTHING`, as before).
#[derive(Debug, Default)]
pub(crate) struct KnownContacts {
    known: std::sync::Mutex<Contacts>,
}

#[derive(Debug, Default)]
struct Contacts {
    /// By commune, then module: the accounts.
    by_tenant: HashMap<TenantId, HashMap<String, HashSet<String>>>,
    count: usize,
}

/// Most contacts a process remembers (about a hundred bytes each: some 26 MB at most).
pub(crate) const KNOWN_CONTACTS: usize = 1 << 18;

impl KnownContacts {
    /// Whether `account`'s contact with `module` in commune `tenant` is known committed.
    pub(crate) fn knows(&self, tenant: TenantId, module: &str, account: &str) -> bool {
        let known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known
            .by_tenant
            .get(&tenant)
            .and_then(|modules| modules.get(module))
            .is_some_and(|accounts| accounts.contains(account))
    }

    /// Remembers a contact, once the transaction that noted it is committed.
    pub(crate) fn learn(&self, tenant: TenantId, module: &str, account: &str) {
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.count >= KNOWN_CONTACTS {
            *known = Contacts::default();
        }
        let accounts = known.by_tenant.entry(tenant).or_default();
        let added = match accounts.get_mut(module) {
            Some(accounts) => accounts.insert(account.to_string()),
            None => {
                accounts.insert(module.to_string(), HashSet::from([account.to_string()]));
                true
            }
        };
        known.count += usize::from(added);
    }
}

/// Remembers that a signed-in account acted in a module of a commune (a call that wrote and
/// succeeded): the module may notify it afterwards (a booking confirmed, a donor thanked).
/// Reads first, so only the first contact writes. Failures are logged, never shown.
pub async fn note_contact(tenant: &TenantDb, module: &str, account: &str) {
    let result: Result<(), sqlx::Error> = async {
        let mut tx = tenant.begin().await?;
        let known = tx
            .scoped_scalar::<i64>(
                "SELECT COUNT(*) FROM module_contacts WHERE tenant_id = $1 AND module_id = $2 AND account_id = $3",
            )
            .bind(module)
            .bind(account)
            .fetch_one(&mut tx)
            .await?;
        tx.rollback().await?;
        if known > 0 {
            return Ok(());
        }
        let mut tx = tenant.begin_write().await?;
        note_contact_in(&mut tx, module, account).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(module, tenant = %tenant.tenant_id(), error = %e, "module contact not recorded");
    }
}

/// One volume of one module in one commune over the last 24 hours, against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeUsage {
    /// Counted in the last 24 hours.
    pub used: i64,
    /// The limit per 24 hours.
    pub limit: i64,
}

/// What a module sent in a commune over the last 24 hours (for the commune's admins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Recipients of notices to named accounts or roles.
    pub notice_recipients: VolumeUsage,
    /// Notices to all followers.
    pub follower_notices: VolumeUsage,
    /// Text messages.
    pub sms: VolumeUsage,
    /// Feed posts.
    pub posts: VolumeUsage,
}

/// The module's volumes in the transaction's commune over the last 24 hours.
pub async fn usage(tx: &mut impl TenantSql, module: &str) -> Result<Usage, sqlx::Error> {
    let since = now() - DAY;
    let mut of = async |volume: Volume| -> Result<VolumeUsage, sqlx::Error> {
        Ok(VolumeUsage {
            used: used(tx, module, volume, since).await?,
            limit: volume.per_day(),
        })
    };
    Ok(Usage {
        notice_recipients: of(Volume::NoticeRecipients).await?,
        follower_notices: of(Volume::FollowerNotices).await?,
        sms: of(Volume::Sms).await?,
        posts: of(Volume::Posts).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_call_limits() {
        let mut call = CallVolumes::default();
        assert!(call.check_notice(true).is_ok());
        call.add_notice(true);
        assert!(call.check_notice(true).is_err());
        for _ in 1..NOTICES_PER_CALL {
            assert!(call.check_notice(false).is_ok());
            call.add_notice(false);
        }
        assert_eq!(
            call.check_notice(false),
            Err("limite atteinte : 10 notifications par appel".into())
        );
        for _ in 0..POSTS_PER_CALL {
            call.add_post();
        }
        assert!(call.check_post().is_err());
    }

    #[test]
    fn lock_keys_differ_by_part() {
        assert_ne!(lock_key(&["a", "bc"]), lock_key(&["ab", "c"]));
        assert_eq!(lock_key(&["x"]), lock_key(&["x"]));
    }
}
