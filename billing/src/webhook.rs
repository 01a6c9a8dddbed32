//! A Stripe webhook delivery before anything acts on it: the signature checked on the raw
//! bytes, then only the envelope read (id, type, and the one id each event type needs).
//!
//! The typed async-stripe events are not used here on purpose: Stripe adds event types, fields
//! and enum values without notice, and a typed parser refuses an event it does not know, which
//! Stripe retries for days before disabling the endpoint. What Parvis acts on it re-reads from
//! Stripe (subscriptions, Checkout sessions), so the envelope never has to be complete.

use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

/// How far a signature's timestamp may be from now, in seconds: Stripe's own libraries use
/// five minutes, enough for a retry in flight, short for a replayed capture.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a delivery is not a Stripe event Parvis can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The `Stripe-Signature` header is malformed or no `v1` matches.
    #[error("invalid signature")]
    BadSignature,
    /// Signed more than [`TOLERANCE_SECONDS`] away from now.
    #[error("signature timestamp outside the tolerance")]
    Stale,
    /// Correctly signed, but not an event envelope (no id or type).
    #[error("unreadable event: {0}")]
    Unreadable(String),
}

/// What Parvis reads of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `evt_…`: events are applied once by id.
    pub id: String,
    /// `customer.subscription.updated`, … (any string: unknown types are acknowledged).
    pub kind: String,
    /// When Stripe created it (Unix seconds).
    pub created: i64,
    /// The connected account it happened on (donations), if any.
    pub account: Option<String>,
    /// `data.object`, untyped: read only through the accessors below.
    pub object: Value,
}

#[derive(Deserialize)]
struct RawEnvelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    account: Option<Value>,
    #[serde(default)]
    data: Option<RawData>,
}

#[derive(Deserialize)]
struct RawData {
    #[serde(default)]
    object: Value,
}

/// Checks `Stripe-Signature` (`t=…,v1=…[,v1=…]`) against the raw body: HMAC-SHA256 of
/// `t.body` with the endpoint secret, compared in constant time, and `t` within the tolerance
/// of `now`. The signature is checked before the timestamp, so a forged header never learns
/// whether its time was right.
pub fn verify(payload: &[u8], header: &str, secret: &str, now: i64) -> Result<(), EnvelopeError> {
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = Some(value),
            "v1" => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(EnvelopeError::BadSignature)?;
    let t: i64 = timestamp.parse().map_err(|_| EnvelopeError::BadSignature)?;
    if signatures.is_empty() {
        return Err(EnvelopeError::BadSignature);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| EnvelopeError::BadSignature)?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(payload);
    let matches = signatures
        .iter()
        .any(|s| mac.clone().verify_slice(s).is_ok());
    if !matches {
        return Err(EnvelopeError::BadSignature);
    }
    if now.abs_diff(t) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(EnvelopeError::Stale);
    }
    Ok(())
}

/// Reads the envelope of a (verified) event. Unknown types, fields and enum values are fine;
/// only a body without `id` and `type` is unreadable.
pub fn parse(payload: &[u8]) -> Result<Envelope, EnvelopeError> {
    let raw: RawEnvelope =
        serde_json::from_slice(payload).map_err(|e| EnvelopeError::Unreadable(e.to_string()))?;
    Ok(Envelope {
        id: raw.id,
        kind: raw.kind,
        created: raw.created.unwrap_or(0),
        account: raw.account.as_ref().and_then(id_of).map(str::to_string),
        object: raw.data.map(|d| d.object).unwrap_or(Value::Null),
    })
}

/// Verifies then parses one delivery.
pub fn open(
    payload: &[u8],
    header: &str,
    secret: &str,
    now: i64,
) -> Result<Envelope, EnvelopeError> {
    verify(payload, header, secret, now)?;
    parse(payload)
}

/// An id Stripe writes either as a string or, when expanded, as an object with an `id`.
fn id_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Object(o) => o
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// What an event asks Parvis to look at again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A subscription, re-read from Stripe.
    Subscription(String),
    /// A Checkout session paid on a connected account (a donation), re-read from Stripe.
    PaymentSession {
        /// `cs_…`.
        session: String,
    },
    /// Nothing Parvis acts on.
    Nothing,
}

impl Envelope {
    fn field(&self, name: &str) -> Option<&Value> {
        self.object.get(name)
    }

    /// The subscription or Checkout session this event is about, from the few fields needed.
    pub fn subject(&self) -> Subject {
        let subscription = |v: Option<&Value>| {
            v.and_then(id_of)
                .map(|s| Subject::Subscription(s.to_string()))
                .unwrap_or(Subject::Nothing)
        };
        match self.kind.as_str() {
            "checkout.session.completed" => match self.field("mode").and_then(Value::as_str) {
                Some("subscription") => subscription(self.field("subscription")),
                Some("payment") => match self.field("id").and_then(id_of) {
                    Some(id) => Subject::PaymentSession {
                        session: id.to_string(),
                    },
                    None => Subject::Nothing,
                },
                _ => Subject::Nothing,
            },
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "customer.subscription.paused"
            | "customer.subscription.resumed" => subscription(self.field("id")),
            "invoice.paid" | "invoice.payment_failed" | "invoice.payment_succeeded" => {
                // API versions from 2025 put it under `parent`; older ones at the top.
                let nested = self
                    .field("parent")
                    .and_then(|p| p.get("subscription_details"))
                    .and_then(|d| d.get("subscription"));
                subscription(nested.or_else(|| self.field("subscription")))
            }
            _ => Subject::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(payload: &[u8], secret: &str, t: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| {
            unreachable!("HMAC takes any key length");
        });
        mac.update(format!("{t}.").as_bytes());
        mac.update(payload);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn signature_time_and_envelope() {
        let body = br#"{"id":"evt_1","type":"brand.new.type","created":5,"data":{"object":{"id":"x","new_field":[1]}}}"#;
        let header = sign(body, "whsec", 1000);
        let e = open(body, &header, "whsec", 1100);
        assert_eq!(e.as_ref().map(|e| e.kind.as_str()), Ok("brand.new.type"));
        assert_eq!(e.map(|e| e.subject()), Ok(Subject::Nothing));
        assert_eq!(
            open(body, &header, "other", 1100),
            Err(EnvelopeError::BadSignature)
        );
        assert_eq!(
            open(body, &header, "whsec", 1000 + 301),
            Err(EnvelopeError::Stale)
        );
        assert_eq!(
            open(body, "t=1000,v1=zz", "whsec", 1000),
            Err(EnvelopeError::BadSignature)
        );
        let twice = format!("{},v1=00", header);
        assert!(open(body, &twice, "whsec", 1000).is_ok());
    }

    #[test]
    fn subjects() {
        let e = parse(br#"{"id":"evt","type":"invoice.paid","data":{"object":{"parent":{"subscription_details":{"subscription":{"id":"sub_1"}}}}}}"#);
        assert_eq!(
            e.map(|e| e.subject()),
            Ok(Subject::Subscription("sub_1".into()))
        );
        let e = parse(br#"{"id":"evt","type":"checkout.session.completed","account":"acct_1","data":{"object":{"id":"cs_1","mode":"payment"}}}"#);
        assert_eq!(
            e.map(|e| (e.account.clone(), e.subject())),
            Ok((
                Some("acct_1".into()),
                Subject::PaymentSession {
                    session: "cs_1".into()
                }
            ))
        );
    }
}
