//! The rules: publishing an alert on its channels, lifting it, reading its delivery report,
//! and the citizens' SMS subscriptions. Every write here is kept only if the request succeeds.

use crate::form::NewAlert;
use crate::model::Severity;
use crate::model::{Alert, NoticeKind, NoticeRef, Subscription};
use crate::report::AlertReport;
use crate::{sms, store, time};
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
    format!("{} : {}", alert.severity.label(), alert.title)
}

/// The plain text of the e-mail and of the push message.
fn notification_body(alert: &Alert) -> String {
    format!(
        "{}\n\nGravité : {}\nCatégorie : {}\nZone : {}\nEn vigueur jusqu'au {}.",
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

/// What a subscription did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    New,
    /// The account's previous number was replaced.
    Replaced,
    /// The account had registered this very number.
    Unchanged,
}

/// Why a subscription was refused.
#[derive(Debug)]
pub enum SubscribeError {
    /// Another account registered this number.
    Taken,
    Other(Error),
}

impl From<StoreError> for SubscribeError {
    fn from(err: StoreError) -> Self {
        Self::Other(err.into())
    }
}

/// Registers the account's number (replacing its previous one).
pub fn subscribe(account: &str, number: &str, now: i64) -> Result<Subscribed, SubscribeError> {
    let previous = store::subscription_of(account)?;
    if let Some(doc) = &previous {
        if doc.key == number {
            return Ok(Subscribed::Unchanged);
        }
        store::delete_subscription(&doc.key)?;
    }
    let subscription = Subscription {
        account: account.to_owned(),
        consented_at: now,
    };
    match store::insert_subscription(number, &subscription) {
        // The number is someone else's (the account's own was deleted above).
        Err(StoreError::Conflict(_)) => Err(SubscribeError::Taken),
        Err(err) => Err(err.into()),
        Ok(()) if previous.is_some() => Ok(Subscribed::Replaced),
        Ok(()) => Ok(Subscribed::New),
    }
}

/// Forgets the account's number; false if it had none.
pub fn unsubscribe(account: &str) -> Result<bool, StoreError> {
    match store::subscription_of(account)? {
        Some(doc) => store::delete_subscription(&doc.key),
        None => Ok(false),
    }
}
