//! Storage layout of the module, over the host's tenant-scoped documents:
//!
//! - `alerts`: one [`Alert`] per key, a `new-id` (UUIDv7 text), so keys sort by creation time;
//! - `endings`: key `{expires_at:013}-{alert}` (Unix milliseconds, zero-padded so keys sort by
//!   end), value [`Ending`]. Current alerts are the keys after "now", the history the keys
//!   before it, newest end first — no tick is needed to move an alert from one to the other.
//!   Lifting an alert moves its ending key;
//! - `sms`: one [`Subscription`] per key, the normalised number (`+33612345678`), so a number
//!   is registered once; index and unique value `account`, so an account has one number.
//!   Only numbers confirmed by a code (`verified_at`) receive alerts;
//! - `sms-pending`: one [`Pending`] per key, the account: a number waiting for its code;
//! - `sms-sends`: one [`SendLog`] per key, `a:<account>` or `n:<number>`: the codes sent in the
//!   last day, to limit them.

use crate::model::{Alert, Subscription};
use crate::verify::{Pending, SendLog};
use parvis_module_sdk::prelude::*;
use serde::{Deserialize, Serialize};

const ALERTS: Collection = Collection::new("alerts");
const ENDINGS: Collection = Collection::new("endings");
const SMS: Collection = Collection::new("sms");
const SMS_PENDING: Collection = Collection::new("sms-pending");
const SMS_SENDS: Collection = Collection::new("sms-sends");

/// How many past alerts a page of the history shows.
pub const HISTORY_PAGE: u32 = 20;
/// How many alerts a page of the admin list shows.
pub const ADMIN_PAGE: u32 = 20;

/// Points from an end time to its alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ending {
    pub alert: String,
}

/// The key prefix of everything ending at `ms`.
fn stamp(ms: i64) -> String {
    format!("{:013}", ms.max(0))
}

fn ending_key(id: &str, expires_at: i64) -> String {
    format!("{}-{id}", stamp(expires_at))
}

/// True for a cursor this module hands out (an ending key), so a forged one is ignored.
pub fn is_cursor(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The alert with this id.
pub fn alert(id: &str) -> Result<Option<Doc<Alert>>, StoreError> {
    ALERTS.get(id)
}

/// Stores a new alert and its ending.
pub fn insert_alert(id: &str, alert: &Alert) -> Result<(), StoreError> {
    ALERTS.insert(id, alert, Indexes::new())?;
    insert_ending(id, alert.expires_at)
}

fn insert_ending(id: &str, expires_at: i64) -> Result<(), StoreError> {
    let ending = Ending {
        alert: id.to_owned(),
    };
    ENDINGS
        .insert(&ending_key(id, expires_at), &ending, Indexes::new())
        .map(drop)
}

/// Replaces an alert read at `before.version` whose end may have moved (conflict if someone
/// else wrote it meanwhile).
pub fn update_alert(before: &Doc<Alert>, after: &Alert) -> Result<(), StoreError> {
    ALERTS.put(&before.key, after, Indexes::new(), Some(before.version))?;
    if before.value.expires_at != after.expires_at {
        ENDINGS.delete(&ending_key(&before.key, before.value.expires_at))?;
        insert_ending(&before.key, after.expires_at)?;
    }
    Ok(())
}

/// The alerts of these endings, skipping any whose alert is gone.
fn alerts_of(endings: Vec<Doc<Ending>>) -> Result<Vec<Doc<Alert>>, StoreError> {
    let mut alerts = Vec::with_capacity(endings.len());
    for ending in endings {
        if let Some(alert) = alert(&ending.value.alert)? {
            alerts.push(alert);
        }
    }
    Ok(alerts)
}

/// The alerts still in force at `now`, in no particular order.
pub fn current(now: i64) -> Result<Vec<Doc<Alert>>, StoreError> {
    let endings = ENDINGS.list().after(Some(&stamp(now))).all()?;
    Ok(alerts_of(endings)?
        .into_iter()
        .filter(|a| a.value.is_current(now))
        .collect())
}

/// One page of the alerts that ended before `now`, latest end first, from `cursor` (the
/// `next` of the previous page); returns the page and the next cursor.
pub fn history(
    now: i64,
    cursor: Option<&str>,
) -> Result<(Vec<Doc<Alert>>, Option<String>), StoreError> {
    // Endings strictly before `now + 1`: an alert ending at `now` (lifted this millisecond) is
    // no longer current, so it belongs here (keys are `<stamp>-<id>`, above `stamp(now)`).
    let start = stamp(now.saturating_add(1));
    let page = ENDINGS
        .list()
        .descending()
        .after(Some(cursor.unwrap_or(&start)))
        .limit(HISTORY_PAGE)
        .page()?;
    let alerts = alerts_of(page.documents)?
        .into_iter()
        .filter(|a| !a.value.is_current(now))
        .collect();
    Ok((alerts, page.next))
}

/// One page of every alert, newest first, for the admins.
pub fn newest(cursor: Option<&str>) -> Result<(Vec<Doc<Alert>>, Option<String>), StoreError> {
    let page = ALERTS
        .list()
        .descending()
        .after(cursor)
        .limit(ADMIN_PAGE)
        .page()?;
    Ok((page.documents, page.next))
}

/// The alerts an account published, oldest first (every alert is read: they are few).
pub fn published_by(account: &str) -> Result<Vec<Doc<Alert>>, StoreError> {
    Ok(ALERTS
        .list()
        .all::<Alert>()?
        .into_iter()
        .filter(|a| a.value.created_by == account)
        .collect())
}

/// The SMS subscription of an account, if any.
pub fn subscription_of(account: &str) -> Result<Option<Doc<Subscription>>, StoreError> {
    Ok(SMS
        .list()
        .index("account", account)
        .limit(1)
        .page()?
        .documents
        .into_iter()
        .next())
}

/// Registers a number; `Conflict` if it is taken, or if the account has one already.
pub fn insert_subscription(number: &str, subscription: &Subscription) -> Result<(), StoreError> {
    let account = subscription.account.as_str();
    SMS.insert(
        number,
        subscription,
        Indexes::new()
            .index("account", account)
            .unique("account", account),
    )
    .map(drop)
}

/// Forgets a number.
pub fn delete_subscription(number: &str) -> Result<bool, StoreError> {
    SMS.delete(number)
}

/// Every confirmed number.
pub fn sms_numbers() -> Result<Vec<String>, StoreError> {
    Ok(SMS
        .list()
        .all::<Subscription>()?
        .into_iter()
        .filter(|doc| doc.value.verified_at.is_some())
        .map(|doc| doc.key)
        .collect())
}

/// The subscription stored under a number, whoever's it is.
pub fn subscription_at(number: &str) -> Result<Option<Doc<Subscription>>, StoreError> {
    SMS.get(number)
}

/// The number an account is confirming, if any.
pub fn pending_of(account: &str) -> Result<Option<Pending>, StoreError> {
    Ok(SMS_PENDING.get::<Pending>(account)?.map(|doc| doc.value))
}

/// Records (or replaces) the number an account is confirming.
pub fn put_pending(account: &str, pending: &Pending) -> Result<(), StoreError> {
    SMS_PENDING
        .put(account, pending, Indexes::new(), None)
        .map(drop)
}

/// Forgets the number an account was confirming.
pub fn delete_pending(account: &str) -> Result<bool, StoreError> {
    SMS_PENDING.delete(account)
}

/// The codes sent under this key (`a:<account>`, `n:<number>`).
pub fn send_log(key: &str) -> Result<SendLog, StoreError> {
    Ok(SMS_SENDS
        .get::<SendLog>(key)?
        .map(|doc| doc.value)
        .unwrap_or_default())
}

/// Forgets the codes sent under this key.
pub fn delete_send_log(key: &str) -> Result<bool, StoreError> {
    SMS_SENDS.delete(key)
}

/// Replaces the codes sent under this key.
pub fn put_send_log(key: &str, log: &SendLog) -> Result<(), StoreError> {
    SMS_SENDS.put(key, log, Indexes::new(), None).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_keys_sort_by_end_then_id() {
        assert_eq!(stamp(1_768_478_400_000), "1768478400000");
        assert_eq!(stamp(42), "0000000000042");
        assert!(stamp(999) < stamp(1_000));
        // An alert ending exactly now sorts after the stamp: still listed as current, then
        // filtered out by `is_current`.
        assert!(format!("{}-0190", stamp(5)) > stamp(5));
        assert!(is_cursor(
            "1768478400000-0190f4a2-7c1e-7d3b-9a51-3c2d4e5f6a7b"
        ));
        assert!(!is_cursor("zz"));
        assert!(!is_cursor(""));
    }
}
