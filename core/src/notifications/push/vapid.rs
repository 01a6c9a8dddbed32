//! The platform's VAPID key pair (RFC 8292): configured (`PARVIS_VAPID_PRIVATE_KEY`) or
//! generated once at first start and kept in `platform_keys`, so every server process signs
//! with the same key and browsers' subscriptions survive restarts.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use web_push_native::jwt_simple::algorithms::{
    ECDSAP256KeyPairLike as _, ECDSAP256PublicKeyLike as _, ES256KeyPair,
};
use web_push_native::jwt_simple::claims::Claims;

use crate::config::Config;
use crate::db::{Db, sql};
use crate::notifications::push::PushError;
use crate::util::now;

/// Name of the key's row in `platform_keys`.
const KEY_ROW: &str = "vapid-private-key";

/// Base64url (padding tolerated), as browsers and `PARVIS_VAPID_PRIVATE_KEY` write keys.
pub fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()
}

/// A P-256 private key: 32 bytes in base64url; `None` if it is not one.
pub fn parse_private_key(text: &str) -> Option<ES256KeyPair> {
    let bytes = decode_b64url(text)?;
    if bytes.len() != 32 {
        return None;
    }
    ES256KeyPair::from_bytes(&bytes).ok()
}

/// The key pair that signs every push request.
#[derive(Clone)]
pub struct VapidKey {
    pair: Arc<ES256KeyPair>,
    public: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl VapidKey {
    fn new(pair: ES256KeyPair) -> VapidKey {
        let public = URL_SAFE_NO_PAD.encode(pair.public_key().public_key().to_bytes_uncompressed());
        VapidKey {
            pair: Arc::new(pair),
            public,
        }
    }

    /// The `Authorization` header for a push to `endpoint` (RFC 8292 §3): a JWT signed with
    /// ES256 for the endpoint's origin, port included (web-push-native's own header drops a
    /// non-default port, which a push service on one checks), expiring in `valid_for`.
    pub fn authorization(
        &self,
        endpoint: &url::Url,
        valid_for: std::time::Duration,
        subject: &str,
    ) -> Option<String> {
        let claims = Claims::create(valid_for.into())
            .with_audience(endpoint.origin().ascii_serialization())
            .with_subject(subject);
        let token = self
            .pair
            .sign(claims)
            .map_err(|e| tracing::warn!(error = %e, "VAPID signature failed"))
            .ok()?;
        Some(format!("vapid t={token}, k={}", self.public))
    }

    /// The public key as `PushManager.subscribe` wants it (`applicationServerKey`): the
    /// uncompressed point, base64url.
    pub fn public_key(&self) -> &str {
        &self.public
    }
}

/// The configured key, or the one in the database, created on first use (concurrent first
/// starts agree: the first insert wins and everyone reads it back).
pub async fn load_or_create(db: &Db, config: &Config) -> Result<VapidKey, PushError> {
    if let Some(text) = &config.vapid_private_key {
        return parse_private_key(text)
            .map(VapidKey::new)
            .ok_or(PushError::BadKey);
    }
    if let Some(key) = stored(db).await? {
        return Ok(key);
    }
    let generated = URL_SAFE_NO_PAD.encode(ES256KeyPair::generate().to_bytes());
    sql::query(
        "INSERT INTO platform_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(KEY_ROW)
    .bind(generated)
    .bind(now())
    .execute(db.platform())
    .await?;
    tracing::info!("web push: VAPID key generated and stored");
    stored(db).await?.ok_or(PushError::BadKey)
}

async fn stored(db: &Db) -> Result<Option<VapidKey>, PushError> {
    let value: Option<String> =
        sql::query_scalar("SELECT value FROM platform_keys WHERE name = $1")
            .bind(KEY_ROW)
            .fetch_optional(db.platform())
            .await?;
    match value {
        None => Ok(None),
        Some(text) => parse_private_key(&text)
            .map(|pair| Some(VapidKey::new(pair)))
            .ok_or(PushError::BadKey),
    }
}
