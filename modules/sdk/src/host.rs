//! Time, ids, randomness, logs, notifications, the commune's feed and payments.

use crate::bindings::parvis::module::{feed, notify, payments, runtime};

pub use feed::Item as FeedItem;
pub use notify::{Attachment, Audience, Channels, DeliveryReport, Notification, Sent, Urgency};
pub use payments::Checkout;
pub use runtime::Level;

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    runtime::now_ms()
}

/// `scheme://host[:port]` of the commune's site as people reach it, for absolute links (an
/// API's media URL). Since contract 0.2.5.
pub fn origin() -> String {
    crate::bindings::parvis::module::commune::origin()
}

/// A member of the commune's team (see [`staff`]).
pub use crate::bindings::parvis::module::commune::StaffMember;

/// The commune's team: its admins and officials, who may use the modules' back-office, sorted
/// by name (at most 500). For handing a task to one of them; needs the `storage` capability.
/// Since contract 0.2.6.
pub fn staff() -> Vec<StaffMember> {
    crate::bindings::parvis::module::commune::staff()
}

/// A new unique id that sorts by creation time (UUIDv7 text): a good document key.
pub fn new_id() -> String {
    runtime::new_id()
}

/// Cryptographically secure random bytes (at most 1024).
pub fn random_bytes(len: u32) -> Vec<u8> {
    runtime::random_bytes(len)
}

/// Logs through the host, tagged with the commune and the module.
pub fn log(level: Level, message: &str) {
    runtime::log(level, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs at warning level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Logs at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}

impl Notification {
    /// An in-app notification linking to `path` (below the module's mount point).
    pub fn in_app(title: &str, body: &str, path: &str) -> Self {
        Self {
            title: title.to_owned(),
            body: body.to_owned(),
            path: path.to_owned(),
            channels: Channels::IN_APP,
            attachments: Vec::new(),
            urgency: Urgency::Normal,
        }
    }

    /// Sets how soon web push wakes the device (`Urgency::High` for an emergency).
    pub fn urgency(mut self, urgency: Urgency) -> Self {
        self.urgency = urgency;
        self
    }

    /// Replaces the channels (e.g. `Channels::IN_APP | Channels::EMAIL`).
    pub fn channels(mut self, channels: Channels) -> Self {
        self.channels = channels;
        self
    }

    /// Adds an e-mail attachment.
    pub fn attachment(mut self, filename: &str, content_type: &str, data: Vec<u8>) -> Self {
        self.attachments.push(Attachment {
            filename: filename.to_owned(),
            content_type: content_type.to_owned(),
            data,
        });
        self
    }
}

/// Queues a notification; returns how many accounts it reaches.
pub fn notify(to: &Audience, notification: &Notification) -> Result<u32, String> {
    notify::send(to, notification).map(|sent| sent.reach)
}

/// Most accounts one notice names (the host's bound on an audience list).
pub const NOTICE_ACCOUNTS: usize = 1_000;

/// Tells `accounts` (an item's author and followers, say) of what `req`'s viewer just did:
/// the viewer is left out (they know), each account is told once, in notices of at most
/// [`NOTICE_ACCOUNTS`]. A notice the host refuses (a quota reached) is logged, not returned:
/// what the viewer did stands, whoever could not be told. Returns how many it reaches.
pub fn notify_others(
    req: &crate::Request,
    mut accounts: Vec<String>,
    notification: &Notification,
) -> u32 {
    accounts.retain(|a| Some(a.as_str()) != req.account());
    accounts.sort_unstable();
    accounts.dedup();
    let mut reached = 0;
    for batch in accounts.chunks(NOTICE_ACCOUNTS) {
        match notify(&Audience::Accounts(batch.to_vec()), notification) {
            Ok(n) => reached += n,
            Err(e) => warn(&format!("notice not sent to {} accounts: {e}", batch.len())),
        }
    }
    reached
}

/// Queues a notification; returns its notice id (for [`delivery_report`]) and its reach.
pub fn notify_tracked(to: &Audience, notification: &Notification) -> Result<Sent, String> {
    notify::send(to, notification)
}

/// Queues a text message to each phone number through the platform's SMS provider.
pub fn send_sms(numbers: &[String], text: &str) -> Result<Sent, String> {
    notify::send_sms(numbers, text)
}

/// What became of a notice this module sent (in app, e-mail, web push, SMS).
pub fn delivery_report(notice: &str) -> Result<DeliveryReport, String> {
    notify::report(notice)
}

/// Publishes Markdown in the commune's feed, linking to `path` below the module's mount
/// point; returns the post id.
pub fn publish(body_markdown: &str, path: Option<&str>) -> Result<String, String> {
    feed::publish(&FeedItem {
        body_markdown: body_markdown.to_owned(),
        path: path.map(str::to_owned),
        theme: None,
    })
}

/// Creates a checkout session through billing; returns the URL to send the payer to.
pub fn create_checkout(checkout: &Checkout) -> Result<String, String> {
    payments::create_checkout(checkout)
}

/// Whether payments are open in this commune now (the platform has a payment provider and the
/// commune linked its account); `Err` says why not, in French, for the citizen. Ask it before
/// showing a payment form, so nobody fills one in for nothing. Asks the provider nothing.
pub fn payments_available() -> Result<(), String> {
    payments::available()
}
