//! Web push (RFC 8030, payloads encrypted per RFC 8291, signed per RFC 8292 VAPID): the devices
//! an account subscribed, and one durable job per device and notification. Whatever notifies
//! an account (a module's notice, a followed commune's post) pushes through [`queue`].

pub mod endpoint;
pub mod routes;
pub mod sender;
pub mod store;
pub mod vapid;

use crate::types::TenantId;
use serde::{Deserialize, Serialize};
use web_push_native::p256;

use crate::db::sql;
use crate::error::AppError;
use crate::notifications::deliveries::NoticeRef;

/// Job kind of one push message to one device.
pub const PUSH_JOB: &str = "push";
/// Attempts per message when the push service is busy or down (1 s, 2 s, 4 s between them).
pub const PUSH_ATTEMPTS: i64 = 4;
/// Devices one account may subscribe (each notification is sent to every one of them).
pub const MAX_DEVICES: i64 = 20;
/// Longest endpoint URL accepted (real ones are a few hundred characters).
pub const MAX_ENDPOINT: usize = 1024;
/// Longest text of a push payload's body: the whole encrypted message must stay under the
/// 4 KiB that push services accept.
const MAX_BODY_CHARS: usize = 600;

/// Push failures that are the platform's, not the user's.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The database could not be read or written.
    #[error("base de données : {0}")]
    Db(#[from] sqlx::Error),
    /// The VAPID key (configured or stored) is not a P-256 private key.
    #[error("la clé VAPID n'est pas une clé privée P-256 en base64url")]
    BadKey,
}

impl From<PushError> for AppError {
    fn from(e: PushError) -> Self {
        AppError::Internal(e.into())
    }
}

/// How soon a device should be woken (RFC 8030 §5.3 `Urgency`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    /// Can wait for the device to be on power and Wi-Fi.
    VeryLow,
    /// Can wait for power or Wi-Fi.
    Low,
    /// Delivered when the device is awake.
    #[default]
    Normal,
    /// Wakes the device (an emergency).
    High,
}

impl Urgency {
    /// The header value.
    pub fn header(self) -> &'static str {
        match self {
            Urgency::VeryLow => "very-low",
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }
}

/// What the device shows: the JSON the service worker (`/sw.js`) reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The notification's title.
    pub title: String,
    /// Its text (shortened to fit a push message).
    pub body: String,
    /// The absolute link opened on click.
    pub url: String,
    /// Replaces an earlier notification with the same tag on the device.
    pub tag: String,
}

impl Payload {
    /// A payload, its body shortened to what a push message can carry.
    pub fn new(title: &str, body: &str, url: &str, tag: &str) -> Payload {
        let trimmed = body.trim();
        let mut short: String = trimmed.chars().take(MAX_BODY_CHARS).collect();
        if short.len() < trimmed.len() {
            short.push('…');
        }
        Payload {
            title: title.chars().take(200).collect(),
            body: short,
            url: url.to_string(),
            tag: tag.chars().take(100).collect(),
        }
    }
}

/// One push job: a payload for one subscribed device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushMessage {
    /// The notice it belongs to (counted in its delivery report), if any.
    pub notice: Option<NoticeRef>,
    /// The device's subscription id (read when sending: a device removed meanwhile is skipped).
    pub subscription: String,
    /// What to show.
    pub payload: Payload,
    /// How soon.
    #[serde(default)]
    pub urgency: Urgency,
}

impl crate::jobs::Job for PushMessage {
    const KIND: &'static str = PUSH_JOB;
    const ATTEMPTS: i64 = PUSH_ATTEMPTS;

    /// The commune of its notice; a post's push messages are queued for their commune
    /// ([`crate::jobs::push_for`]).
    fn tenant(&self) -> Option<TenantId> {
        self.notice.as_ref().map(|n| n.tenant_id)
    }
}

/// Queues one push job per device of these accounts (deleted accounts excluded) in the
/// caller's transaction, in the queue's turn of commune `tenant`; returns how many.
pub async fn queue(
    on: &mut (impl sql::Sql + ?Sized),
    tenant: TenantId,
    accounts: &[String],
    notice: Option<&NoticeRef>,
    payload: &Payload,
    urgency: Urgency,
) -> Result<i64, sqlx::Error> {
    let mut queued = 0;
    for subscription in store::devices_of(&mut *on, accounts).await? {
        let message = PushMessage {
            notice: notice.cloned(),
            subscription,
            payload: payload.clone(),
            urgency,
        };
        crate::jobs::push_for(&mut *on, Some(tenant), &message).await?;
        queued += 1;
    }
    Ok(queued)
}

/// A subscription as the browser's `PushSubscription.toJSON()` writes it.
#[derive(Debug, Deserialize)]
struct RawSubscription {
    endpoint: String,
    keys: RawKeys,
}

#[derive(Debug, Deserialize)]
struct RawKeys {
    p256dh: String,
    auth: String,
}

/// A checked subscription, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    /// The push service URL of the device.
    pub endpoint: String,
    /// The device's P-256 public key (uncompressed point, base64url).
    pub p256dh: String,
    /// The device's 16-byte authentication secret (base64url).
    pub auth: String,
    /// A short label for the device list (« Firefox sur Android »).
    pub label: String,
}

/// Why a subscription was refused (French, shown by the page's script).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSubscription {
    /// Not JSON.
    #[error("L'abonnement envoyé n'est pas du JSON valide.")]
    Malformed,
    /// JSON without the expected fields.
    #[error(
        "L'abonnement envoyé est incomplet : il faut « endpoint », « keys.p256dh » et « keys.auth »."
    )]
    Incomplete,
    /// The endpoint is too long, not a URL, or not HTTPS.
    #[error(
        "L'adresse du service de notification doit être une adresse https:// valide d'au plus {MAX_ENDPOINT} caractères."
    )]
    Endpoint,
    /// Not HTTPS on port 443, the push services' port.
    #[error(
        "L'adresse du service de notification doit être une adresse https:// sur le port 443, celui des services de notification."
    )]
    Port,
    /// The host name does not resolve, or resolves to an address of a private network.
    #[error(
        "L'adresse du service de notification ne désigne pas un service public joignable : elle est refusée."
    )]
    Unreachable,
    /// The public key is not a P-256 point.
    #[error("La clé « p256dh » de l'abonnement n'est pas une clé publique P-256 valide.")]
    PublicKey,
    /// The secret is not 16 bytes.
    #[error("Le secret « auth » de l'abonnement doit faire 16 octets en base64url.")]
    Auth,
}

impl From<InvalidSubscription> for AppError {
    fn from(e: InvalidSubscription) -> Self {
        AppError::bad_request(e.to_string())
    }
}

/// Checks a subscription sent by the page's script. `allow_loopback_http` accepts
/// `http://127.0.0.1…` endpoints (a local push service in tests).
pub fn parse_subscription(
    body: &[u8],
    user_agent: &str,
    allow_loopback_http: bool,
) -> Result<NewSubscription, InvalidSubscription> {
    let raw: RawSubscription = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            InvalidSubscription::Incomplete
        } else {
            InvalidSubscription::Malformed
        }
    })?;
    let endpoint = check_endpoint(&raw.endpoint, allow_loopback_http)?;
    let p256dh = raw.keys.p256dh.trim();
    let point = (p256dh.len() <= 100)
        .then(|| vapid::decode_b64url(p256dh))
        .flatten()
        .filter(|bytes| bytes.len() == 65)
        .ok_or(InvalidSubscription::PublicKey)?;
    p256::PublicKey::from_sec1_bytes(&point).map_err(|_| InvalidSubscription::PublicKey)?;
    let auth = raw.keys.auth.trim();
    (auth.len() <= 40)
        .then(|| vapid::decode_b64url(auth))
        .flatten()
        .filter(|bytes| bytes.len() == 16)
        .ok_or(InvalidSubscription::Auth)?;
    Ok(NewSubscription {
        endpoint,
        p256dh: p256dh.trim_end_matches('=').to_string(),
        auth: auth.trim_end_matches('=').to_string(),
        label: device_label(user_agent),
    })
}

/// The endpoint, canonical, if its form is acceptable (see [`endpoint::check_url`]).
fn check_endpoint(text: &str, allow_loopback_http: bool) -> Result<String, InvalidSubscription> {
    let policy = endpoint::EndpointPolicy {
        allow_loopback: allow_loopback_http,
    };
    Ok(endpoint::check_url(text, policy)?.to_string())
}

/// « Firefox sur Android »: enough to recognise a device in the list, no more.
pub fn device_label(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} sur {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("Navigateur sur {s}"),
        (None, None) => "Navigateur".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";

    fn json(endpoint: &str, p256dh: &str, auth: &str) -> Vec<u8> {
        serde_json::json!({"endpoint": endpoint, "expirationTime": null,
            "keys": {"p256dh": p256dh, "auth": auth}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn accepts_a_browser_subscription() {
        let body = json(
            "https://fcm.googleapis.com/fcm/send/abc",
            KEY,
            "_ordMnz7uTCmrpBTeUV4Bw",
        );
        let s = parse_subscription(&body, "Mozilla/5.0 (Android 14) Firefox/130.0", false);
        assert!(
            matches!(s, Ok(ref s) if s.label == "Firefox sur Android"),
            "{s:?}"
        );
    }

    #[test]
    fn refuses_what_is_not_a_subscription() {
        let auth = "_ordMnz7uTCmrpBTeUV4Bw";
        let check = |body: &[u8]| parse_subscription(body, "", false).err();
        assert_eq!(check(b"{"), Some(InvalidSubscription::Malformed));
        assert_eq!(
            check(br#"{"endpoint": "https://push.example/x"}"#),
            Some(InvalidSubscription::Incomplete)
        );
        for endpoint in ["http://push.example/x", "ftp://push.example/x"] {
            assert_eq!(
                check(&json(endpoint, KEY, auth)),
                Some(InvalidSubscription::Port),
                "{endpoint}"
            );
        }
        for endpoint in [
            "https://127.0.0.1/x",
            "https://10.0.0.1/x",
            "https://localhost/x",
            "https://user:pw@push.example/x",
        ] {
            assert_eq!(
                check(&json(endpoint, KEY, auth)),
                Some(InvalidSubscription::Endpoint),
                "{endpoint}"
            );
        }
        let long = format!("https://push.example/{}", "a".repeat(MAX_ENDPOINT));
        assert_eq!(
            check(&json(&long, KEY, auth)),
            Some(InvalidSubscription::Endpoint)
        );
        assert_eq!(
            check(&json("https://push.example/x", "AAAA", auth)),
            Some(InvalidSubscription::PublicKey)
        );
        assert_eq!(
            check(&json("https://push.example/x", KEY, "c2hvcnQ")),
            Some(InvalidSubscription::Auth)
        );
        let loopback = json("http://127.0.0.1:4000/x", KEY, auth);
        assert!(parse_subscription(&loopback, "", true).is_ok());
    }

    #[test]
    fn payload_bodies_are_shortened() {
        let p = Payload::new("Titre", &"é".repeat(2000), "https://x.example/", "t");
        assert_eq!(p.body.chars().count(), MAX_BODY_CHARS + 1);
        assert!(p.body.ends_with('…'));
        assert_eq!(Payload::new("T", " court ", "u", "t").body, "court");
    }
}
