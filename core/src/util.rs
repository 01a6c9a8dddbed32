//! Small helpers shared by every feature: clock, identifiers, tokens, text folding.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Current time in Unix seconds (the storage format of every timestamp).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A new time-ordered identifier (UUIDv7, text form) for rows keyed by text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// 32 random bytes from the OS generator, URL-safe base64 without padding.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a secret token, hex: what the database stores instead of the token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Folds a name for searching: no accents, lowercase, punctuation as single spaces
/// (« Saint-Étienne » → `saint etienne`).
pub fn search_key(text: &str) -> String {
    let folded = deunicode::deunicode(text).to_ascii_lowercase();
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_keys() {
        assert_eq!(super::search_key("Saint-Étienne"), "saint etienne");
        assert_eq!(super::search_key("L'Haÿ-les-Roses "), "l hay les roses");
    }
}
