//! A loopback push service for tests, written from the RFCs and independent of the host's
//! web-push crate: it accepts POSTs like a real push service (RFC 8030), checks the VAPID
//! `Authorization: vapid t=…, k=…` header (RFC 8292: an ES256 JWT for this origin, signed by
//! the key in `k`), and decrypts the aes128gcm body (RFC 8188/8291) with the key pair and
//! auth secret the test generated for each device, as a browser does. It can be told to
//! answer 410 Gone for a device, like a service whose subscription was dropped.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead as _, KeyInit as _};
use aes_gcm::{Aes128Gcm, Nonce};
use anyhow::{Context as _, Result, bail, ensure};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use sha2::Sha256;

/// A subscribed "browser": its key pair and auth secret, and the subscription JSON it sends.
#[derive(Clone)]
pub struct PushDevice {
    /// Name in the endpoint's path.
    pub name: String,
    /// The endpoint URL.
    pub endpoint: String,
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl PushDevice {
    /// `PushSubscription.toJSON()`, as the page's script POSTs it.
    pub fn subscription_json(&self) -> serde_json::Value {
        let public = self.secret.public_key().to_encoded_point(false);
        serde_json::json!({
            "endpoint": self.endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }
}

/// A message the service accepted, decrypted.
#[derive(Debug, Clone)]
pub struct ReceivedPush {
    /// The device it was for.
    pub device: String,
    /// The decrypted JSON payload.
    pub payload: serde_json::Value,
    /// `Urgency` header.
    pub urgency: Option<String>,
    /// `TTL` header, seconds.
    pub ttl: u64,
    /// The JWT's `sub` claim.
    pub subject: String,
    /// The JWT's `exp` minus the time it was received, seconds.
    pub expires_in: i64,
}

#[derive(Default)]
struct Shared {
    devices: HashMap<String, PushDevice>,
    gone: HashSet<String>,
    /// Devices answered 503 this many more times.
    busy: HashMap<String, u32>,
    /// Devices answered 400 with a body that never ends.
    chatty: HashSet<String>,
    /// Bytes of such bodies produced so far (what the application server read, and what
    /// the sockets' buffers took).
    produced: Arc<std::sync::atomic::AtomicU64>,
    /// The VAPID public key the application server must use (base64url), once known.
    expected_key: Option<String>,
    received: Vec<ReceivedPush>,
    refused: Vec<String>,
}

type Service = Arc<Mutex<Shared>>;

/// The running push service.
pub struct PushService {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Service,
}

impl PushService {
    /// Starts the service on a free loopback port.
    pub async fn start() -> Result<PushService> {
        let shared: Service = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/push/{name}", post(receive))
            .with_state((shared.clone(), addr));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(PushService { addr, shared })
    }

    /// A new device (fresh P-256 key pair and auth secret) subscribed to this service.
    pub fn device(&self, name: &str) -> Result<PushDevice> {
        let mut auth = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut auth);
        let device = PushDevice {
            name: name.to_string(),
            endpoint: format!("http://{}/push/{name}", self.addr),
            secret: p256::SecretKey::random(&mut rand::rngs::OsRng),
            auth,
        };
        self.lock()?
            .devices
            .insert(name.to_string(), device.clone());
        Ok(device)
    }

    /// From now on, answers 410 Gone for this device.
    pub fn forget(&self, name: &str) -> Result<()> {
        self.lock()?.gone.insert(name.to_string());
        Ok(())
    }

    /// Answers 503 Service Unavailable to the next `times` messages for this device.
    pub fn busy(&self, name: &str, times: u32) -> Result<()> {
        self.lock()?.busy.insert(name.to_string(), times);
        Ok(())
    }

    /// From now on, answers 400 Bad Request for this device, with a body that never ends.
    pub fn chatty(&self, name: &str) -> Result<()> {
        self.lock()?.chatty.insert(name.to_string());
        Ok(())
    }

    /// Bytes of never-ending bodies produced so far.
    pub fn produced(&self) -> u64 {
        self.lock()
            .map(|s| s.produced.load(std::sync::atomic::Ordering::Relaxed))
            .unwrap_or_default()
    }

    /// Only accepts VAPID signatures by this public key (base64url, from the platform's
    /// `/notifications/push/cle`).
    pub fn expect_key(&self, key: &str) -> Result<()> {
        self.lock()?.expected_key = Some(key.to_string());
        Ok(())
    }

    /// The messages accepted so far.
    pub fn received(&self) -> Vec<ReceivedPush> {
        self.lock().map(|s| s.received.clone()).unwrap_or_default()
    }

    /// Why requests were refused (bad signature, undecryptable body…), for diagnostics.
    pub fn refused(&self) -> Vec<String> {
        self.lock().map(|s| s.refused.clone()).unwrap_or_default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Shared>> {
        self.shared
            .lock()
            .map_err(|_| anyhow::anyhow!("push service state poisoned"))
    }
}

async fn receive(
    State((shared, addr)): State<(Service, SocketAddr)>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let Ok(mut state) = shared.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if state.chatty.contains(&name) {
        let body = crate::endless_body(state.produced.clone());
        return (StatusCode::BAD_REQUEST, body).into_response();
    }
    receive_checked(&mut state, addr, &name, &headers, &body).into_response()
}

fn receive_checked(
    state: &mut Shared,
    addr: SocketAddr,
    name: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> StatusCode {
    let Some(device) = state.devices.get(name).cloned() else {
        return StatusCode::NOT_FOUND;
    };
    if state.gone.contains(name) {
        return StatusCode::GONE;
    }
    if let Some(left) = state.busy.get_mut(name).filter(|left| **left > 0) {
        *left -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let origin = format!("http://{addr}");
    let checked = check_vapid(headers, &origin, state.expected_key.as_deref()).and_then(
        |(subject, expires_in)| {
            let payload = decrypt(headers, body, &device)?;
            let ttl = header(headers, "ttl")
                .context("no TTL header")?
                .parse()
                .context("TTL is not a number")?;
            Ok(ReceivedPush {
                device: name.to_string(),
                payload,
                urgency: header(headers, "urgency").map(str::to_string),
                ttl,
                subject,
                expires_in,
            })
        },
    );
    match checked {
        Ok(message) => {
            state.received.push(message);
            StatusCode::CREATED
        }
        Err(e) => {
            state.refused.push(format!("{name}: {e:#}"));
            StatusCode::BAD_REQUEST
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// RFC 8292: `vapid t=<JWT>, k=<public key>`; the JWT is ES256 over `header.claims` by `k`,
/// for this origin, expiring within 24 hours. Returns the subject and seconds to expiry.
fn check_vapid(
    headers: &HeaderMap,
    origin: &str,
    expected_key: Option<&str>,
) -> Result<(String, i64)> {
    let value = header(headers, "authorization").context("no Authorization header")?;
    let params = value
        .strip_prefix("vapid ")
        .context("Authorization is not the vapid scheme")?;
    let mut token = None;
    let mut key = None;
    for part in params.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => token = Some(v.trim()),
            Some(("k", v)) => key = Some(v.trim()),
            _ => {}
        }
    }
    let (token, key) = (token.context("no t=")?, key.context("no k=")?);
    if let Some(expected) = expected_key {
        ensure!(key == expected, "signed by another key than the platform's");
    }
    let verifying = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key)?)
        .context("k is not a P-256 public key")?;
    let mut parts = token.split('.');
    let (Some(head), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bail!("the JWT does not have three parts");
    };
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature)?)
        .context("the JWT signature is not 64 bytes")?;
    verifying
        .verify(format!("{head}.{claims}").as_bytes(), &signature)
        .context("bad JWT signature")?;
    let head: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head)?)?;
    ensure!(head["alg"] == "ES256", "JWT algorithm {}", head["alg"]);
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims)?)?;
    ensure!(
        claims["aud"] == origin,
        "audience {} is not {origin}",
        claims["aud"]
    );
    let now = chrono::Utc::now().timestamp();
    let exp = claims["exp"].as_i64().context("no exp claim")?;
    ensure!(
        exp > now && exp <= now + 24 * 3600,
        "exp {exp} not within 24 h of {now}"
    );
    let subject = claims["sub"].as_str().context("no sub claim")?.to_string();
    ensure!(
        subject.starts_with("mailto:") || subject.starts_with("https:"),
        "sub {subject} is no contact"
    );
    Ok((subject, exp - now))
}

/// RFC 8188 aes128gcm with the RFC 8291 key derivation, one record.
fn decrypt(headers: &HeaderMap, body: &[u8], device: &PushDevice) -> Result<serde_json::Value> {
    ensure!(
        header(headers, "content-encoding") == Some("aes128gcm"),
        "Content-Encoding is not aes128gcm"
    );
    // Header: salt (16) | record size (4) | key id length (1) | key id (the sender's key).
    ensure!(body.len() > 21, "body shorter than its header");
    let salt = &body[..16];
    let record_size = u32::from_be_bytes([body[16], body[17], body[18], body[19]]) as usize;
    let id_len = usize::from(body[20]);
    ensure!(id_len == 65, "key id of {id_len} bytes, not a P-256 point");
    let ciphertext = body.get(21 + id_len..).context("truncated key id")?;
    ensure!(
        ciphertext.len() <= record_size,
        "more than one record ({} > {record_size})",
        ciphertext.len()
    );
    let sender = p256::PublicKey::from_sec1_bytes(&body[21..21 + id_len])
        .context("key id is not a P-256 point")?;

    // RFC 8291 §3.3-3.4: IKM from the ECDH secret, keyed by the auth secret.
    let shared = p256::ecdh::diffie_hellman(device.secret.to_nonzero_scalar(), sender.as_affine());
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(
        device
            .secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes(),
    );
    key_info.extend_from_slice(sender.to_encoded_point(false).as_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&device.auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| anyhow::anyhow!("HKDF expand"))?;
    // RFC 8188 §2.2-2.3: content encryption key and nonce from the salt.
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| anyhow::anyhow!("HKDF expand"))?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|_| anyhow::anyhow!("HKDF expand"))?;
    let plain = Aes128Gcm::new_from_slice(&cek)?
        .decrypt(Nonce::from_slice(&nonce), ciphertext)
        .map_err(|_| anyhow::anyhow!("AES-GCM authentication failed"))?;
    // The last record ends with the delimiter 2, then zero padding.
    let end = plain
        .iter()
        .rposition(|&b| b != 0)
        .context("record of padding only")?;
    ensure!(plain[end] == 2, "last record without its 0x02 delimiter");
    Ok(serde_json::from_slice(&plain[..end])?)
}
