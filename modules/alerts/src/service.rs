//! The rules: publishing an alert on its channels, lifting it, reading its delivery report,
//! and the citizens' SMS subscriptions. Every write here is kept only if the request succeeds.

use crate::form::NewAlert;
use crate::model::Severity;
use crate::model::{Alert, NoticeKind, NoticeRef, Subscription};
use crate::report::AlertReport;
use crate::{sms, store, time, verify};
use parvis_module_sdk::Error;
use parvis_module_sdk::host::{self, Audience, Channels, Notification, Urgency};
use parvis_module_sdk::store::{Doc, StoreError};

/// Who may publish and lift alerts (text messages cost the commune money).
pub const SENDERS: [&str; 2] = ["tenant-admin", "platform-admin"];
/// Who may read the admin pages (the host let only them in; checked again here).
pub const STAFF: [&str; 3] = ["tenant-admin", "official", "platform-admin"];
/// The most numbers the host takes in one `send-sms` call.
const SMS_BATCH: usize = 1_000;

/// A published alert and what could not be sent.
#[derive(Debug)]
pub struct Published {
    pub id: String,
    pub notify_error: Option<String>,
    pub sms_error: Option<String>,
}

/// The notification's title: the severity in words, then the alert's title.
pub fn notification_title(alert: &Alert) -> String {
    format!("{} : {}", alert.severity.label(), alert.title)
}

/// The plain text of the e-mail and of the push message.
fn notification_body(alert: &Alert) -> String {
    format!(
        "{}\n\nGravité : {}\nCatégorie : {}\nZone : {}\nEn vigueur jusqu'au {}.",
        alert.message,
        alert.severity.label(),
        alert.category.label(),
        alert.zone_label(),
        time::format_fr(alert.expires_at),
    )
}

/// Stores the alert and sends it on its channels; returns its id. A channel that fails does
/// not stop the others: the reason is kept on the alert and shown to the admin.
pub fn publish(commune: &str, account: &str, new: NewAlert, now: i64) -> Result<Published, Error> {
    let id = host::new_id();
    let mut alert = Alert {
        category: new.category,
        severity: new.severity,
        zone: new.zone,
        title: new.title,
        message: new.message,
        channels: new.channels,
        created_at: now,
        expires_at: new.expires_at,
        lifted_at: None,
        created_by: account.to_owned(),
        notices: Vec::new(),
        notify_error: None,
        sms_error: None,
    };
    if alert.channels.to_followers() {
        notify_followers(&id, &mut alert);
    }
    if alert.channels.sms {
        send_sms(commune, &id, &mut alert)?;
    }
    store::insert_alert(&id, &alert)?;
    Ok(Published {
        id,
        notify_error: alert.notify_error,
        sms_error: alert.sms_error,
    })
}

/// One notice to the commune's followers, in the app, by e-mail and/or by web push (an
/// emergency wakes their devices).
fn notify_followers(id: &str, alert: &mut Alert) {
    let mut channels = Channels::empty();
    if alert.channels.in_app {
        channels = channels | Channels::IN_APP;
    }
    if alert.channels.email {
        channels = channels | Channels::EMAIL;
    }
    if alert.channels.push {
        channels = channels | Channels::PUSH;
    }
    let urgency = match alert.severity {
        Severity::Emergency => Urgency::High,
        Severity::Vigilance | Severity::Information => Urgency::Normal,
    };
    let notification = Notification::in_app(
        &notification_title(alert),
        &notification_body(alert),
        &format!("/{id}"),
    )
    .channels(channels)
    .urgency(urgency);
    match host::notify_tracked(&Audience::Followers, &notification) {
        Ok(sent) => alert.notices.push(NoticeRef {
            kind: NoticeKind::AppEmail,
            id: sent.notice,
            reach: sent.reach,
        }),
        Err(err) => {
            host::warn(&format!("alert {id}: notification refused: {err}"));
            alert.notify_error = Some(err);
        }
    }
}

/// The text messages, by batches of the host's size, to every registered number.
fn send_sms(commune: &str, id: &str, alert: &mut Alert) -> Result<(), StoreError> {
    let numbers = store::sms_numbers()?;
    if numbers.is_empty() {
        alert.sms_error = Some("aucun numéro n'est inscrit aux alertes par SMS.".into());
        return Ok(());
    }
    let text = sms::text(
        commune,
        alert.severity.label(),
        &alert.title,
        &alert.message,
    );
    for batch in numbers.chunks(SMS_BATCH) {
        match host::send_sms(batch, &text) {
            Ok(sent) => alert.notices.push(NoticeRef {
                kind: NoticeKind::Sms,
                id: sent.notice,
                reach: sent.reach,
            }),
            Err(err) => {
                host::warn(&format!("alert {id}: SMS refused: {err}"));
                alert.sms_error = Some(err);
                break;
            }
        }
    }
    Ok(())
}

/// Ends a current alert now; false if it had already ended.
pub fn lift(doc: &Doc<Alert>, now: i64) -> Result<bool, StoreError> {
    if !doc.value.is_current(now) {
        return Ok(false);
    }
    let mut alert = doc.value.clone();
    alert.expires_at = now;
    alert.lifted_at = Some(now);
    store::update_alert(doc, &alert)?;
    Ok(true)
}

/// What the host delivered so far for an alert's notices.
pub fn report(alert: &Alert) -> AlertReport {
    let mut report = AlertReport::default();
    for notice in &alert.notices {
        match host::delivery_report(&notice.id) {
            Ok(counts) => report.add(notice.kind, &counts),
            Err(err) => report.unavailable.push(err),
        }
    }
    report
}

/// The account's confirmed number, if any (a number registered before codes existed is not).
pub fn confirmed_number(account: &str) -> Result<Option<String>, StoreError> {
    Ok(store::subscription_of(account)?
        .filter(|doc| doc.value.verified_at.is_some())
        .map(|doc| doc.key))
}

/// What asking for a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRequest {
    /// A code is on its way to the number.
    Sent,
    /// The account's confirmed number already is this one.
    Unchanged,
    /// Too many codes today for this account or this number (the same answer for both: the
    /// page must not tell whether someone else asked for this number).
    TooMany,
    /// The host could not send the SMS (no provider, …): nothing was recorded.
    Unavailable(String),
}

/// Sends a code to `number` for `account` to confirm it. Nothing else changes: the account's
/// confirmed number (if any) keeps receiving alerts until the new one is confirmed, and no
/// one else's registration is looked at.
pub fn request_code(
    commune: &str,
    account: &str,
    number: &str,
    now: i64,
) -> Result<CodeRequest, StoreError> {
    if confirmed_number(account)?.as_deref() == Some(number) {
        return Ok(CodeRequest::Unchanged);
    }
    let account_key = format!("a:{account}");
    let number_key = format!("n:{number}");
    let (account_log, account_room) =
        store::send_log(&account_key)?.room(now, verify::SENDS_PER_ACCOUNT_PER_DAY);
    let (number_log, number_room) =
        store::send_log(&number_key)?.room(now, verify::SENDS_PER_NUMBER_PER_DAY);
    if !account_room || !number_room {
        return Ok(CodeRequest::TooMany);
    }
    let code = verify::code_from(&host::random_bytes(8));
    if let Err(why) = host::send_sms(&[number.to_owned()], &verify::text(commune, &code)) {
        host::warn(&format!("SMS code not sent: {why}"));
        return Ok(CodeRequest::Unavailable(why));
    }
    for (key, mut log) in [(account_key, account_log), (number_key, number_log)] {
        log.times.push(now);
        store::put_send_log(&key, &log)?;
    }
    let pending = verify::Pending {
        number: number.to_owned(),
        code,
        consented_at: now,
        expires_at: now + verify::CODE_TTL_MS,
        attempts: 0,
    };
    store::put_pending(account, &pending)?;
    Ok(CodeRequest::Sent)
}

/// What entering a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// The number is confirmed and receives the alerts.
    Confirmed,
    /// Wrong code (counted).
    Wrong,
    /// No code pending, expired, or out of attempts.
    Void,
}

/// Checks the code the account entered; on success the number is the account's: its previous
/// number is forgotten, and so is any registration of this number by another account (whoever
/// holds the phone now has proved it; numbers are reassigned, and a family's phone needs one
/// SMS per alert, not one per account).
pub fn confirm(account: &str, entered: &str, now: i64) -> Result<Confirmation, StoreError> {
    let Some(pending) = store::pending_of(account)? else {
        return Ok(Confirmation::Void);
    };
    match verify::check(&pending, entered, now) {
        verify::Check::Void => Ok(Confirmation::Void),
        verify::Check::Wrong(after) => {
            store::put_pending(account, &after)?;
            Ok(Confirmation::Wrong)
        }
        verify::Check::Confirmed => {
            store::delete_pending(account)?;
            if let Some(previous) = store::subscription_of(account)? {
                store::delete_subscription(&previous.key)?;
            }
            if store::subscription_at(&pending.number)?.is_some() {
                store::delete_subscription(&pending.number)?;
            }
            let subscription = Subscription {
                account: account.to_owned(),
                consented_at: pending.consented_at,
                verified_at: Some(now),
            };
            store::insert_subscription(&pending.number, &subscription)?;
            Ok(Confirmation::Confirmed)
        }
    }
}

/// Forgets the account's number, and the one it was confirming; false if it had none.
pub fn unsubscribe(account: &str) -> Result<bool, StoreError> {
    let pending = store::delete_pending(account)?;
    match store::subscription_of(account)? {
        Some(doc) => store::delete_subscription(&doc.key),
        None => Ok(pending),
    }
}
