//! Each account's notification preferences: how often e-mails come (at once, in a daily or a
//! weekly digest, or never) and whether its devices get web push; and the signed link that
//! switches e-mails off in one click, without signing in (RFC 8058).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use serde::Serialize;
use sha2::Sha256;

use crate::db::{Db, sql};
use crate::rows::Flag;
use crate::types::AccountId;
use crate::util::{now, random_token};

/// How often an account gets notification e-mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rhythm {
    /// No choice made: notices addressed to the account at once, publications of what it
    /// follows in the daily digest.
    Defaut,
    /// One e-mail per notice.
    Immediat,
    /// One digest a day, at 08:00 (Paris time).
    Quotidien,
    /// One digest a week, on Monday at 08:00 (Paris time).
    Hebdomadaire,
    /// No notification e-mail at all.
    Jamais,
}

impl Rhythm {
    /// Every choice, in the order the page lists them.
    pub const ALL: [Rhythm; 5] = [
        Rhythm::Defaut,
        Rhythm::Immediat,
        Rhythm::Quotidien,
        Rhythm::Hebdomadaire,
        Rhythm::Jamais,
    ];

    /// The stored and submitted value.
    pub fn as_str(self) -> &'static str {
        match self {
            Rhythm::Defaut => "defaut",
            Rhythm::Immediat => "immediat",
            Rhythm::Quotidien => "quotidien",
            Rhythm::Hebdomadaire => "hebdomadaire",
            Rhythm::Jamais => "jamais",
        }
    }

    /// Parses a stored or submitted value.
    pub fn parse(value: &str) -> Option<Rhythm> {
        Rhythm::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// A stored rhythm (the column's CHECK admits only the five values).
impl TryFrom<String> for Rhythm {
    type Error = String;
    fn try_from(stored: String) -> Result<Rhythm, String> {
        Rhythm::parse(&stored).ok_or_else(|| format!("unknown e-mail rhythm « {stored} »"))
    }
}

/// What becomes of one notice's e-mail for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// An e-mail now.
    Now,
    /// An item of the next digest.
    Digest,
    /// No e-mail.
    None,
}

/// What kind of notice an e-mail is about, for [`route`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Addressed to the account itself (a message, a claim decided, a booking…).
    Direct,
    /// Sent to everyone following a commune or an official (a post, an alert, a poll…).
    Followed,
}

/// The routing rule, written once: an urgent notice skips the digests (never « jamais »);
/// by default, direct notices go at once and followed ones into the daily digest.
pub fn route(rhythm: Rhythm, kind: Kind, urgent: bool) -> Route {
    match rhythm {
        Rhythm::Jamais => Route::None,
        Rhythm::Immediat => Route::Now,
        _ if urgent => Route::Now,
        Rhythm::Quotidien | Rhythm::Hebdomadaire => Route::Digest,
        Rhythm::Defaut => match kind {
            Kind::Direct => Route::Now,
            Kind::Followed => Route::Digest,
        },
    }
}

/// An account's choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sql::Row)]
pub struct Preferences {
    /// E-mail rhythm.
    #[row(rename = "email_rhythm", try_from = "String")]
    pub rhythm: Rhythm,
    /// Web push to the account's devices.
    #[row(try_from = "Flag")]
    pub push: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            rhythm: Rhythm::Defaut,
            push: true,
        }
    }
}

/// The account's preferences (the defaults when it never chose).
pub async fn get(db: &Db, account: &AccountId) -> Result<Preferences, sqlx::Error> {
    let chosen: Option<Preferences> = sql::query_as(
        "SELECT email_rhythm, push FROM notification_preferences WHERE account_id = $1",
    )
    .bind(&account.0)
    .fetch_optional(db.platform())
    .await?;
    Ok(chosen.unwrap_or_default())
}

/// Saves the account's preferences; with « jamais », its pending digest items go too. `push`
/// `None` keeps the stored choice (the one-click unsubscribe only touches e-mail). Returns
/// false when the account does not exist (any more).
pub async fn set(
    db: &Db,
    account: &AccountId,
    rhythm: Rhythm,
    push: Option<bool>,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_immediate().await?;
    let push_sql = if push.is_some() {
        "excluded.push"
    } else {
        "notification_preferences.push"
    };
    let written = sql::query(&format!(
        "INSERT INTO notification_preferences (account_id, email_rhythm, push, updated_at) \
         SELECT id, $2, $3, $4 FROM accounts WHERE id = $1 AND deleted_at IS NULL \
         ON CONFLICT (account_id) DO UPDATE SET email_rhythm = excluded.email_rhythm, \
         push = {push_sql}, updated_at = excluded.updated_at"
    ))
    .bind(&account.0)
    .bind(rhythm.as_str())
    .bind(i64::from(push.unwrap_or(true)))
    .bind(now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if rhythm == Rhythm::Jamais {
        sql::query("DELETE FROM digest_items WHERE account_id = $1")
            .bind(&account.0)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(written > 0)
}

/// Name of the unsubscribe key's row in `platform_keys`.
const KEY_ROW: &str = "unsubscribe-hmac-key";

/// The key that signs unsubscribe links: random, made at first use and kept in the database so
/// every server process (and every restart) signs alike.
#[derive(Clone)]
pub struct UnsubscribeKey(Vec<u8>);

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsubscribeKey(…)")
    }
}

impl UnsubscribeKey {
    /// The stored key, created on first use (concurrent first uses agree: the first insert
    /// wins and everyone reads it back).
    pub async fn load(on: &mut (impl sql::Sql + ?Sized)) -> Result<UnsubscribeKey, sqlx::Error> {
        let select = "SELECT value FROM platform_keys WHERE name = $1";
        let stored: Option<String> = sql::query_scalar(select)
            .bind(KEY_ROW)
            .fetch_optional(&mut *on)
            .await?;
        let text = match stored {
            Some(text) => text,
            None => {
                sql::query(
                    "INSERT INTO platform_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(KEY_ROW)
                .bind(random_token())
                .bind(now())
                .execute(&mut *on)
                .await?;
                sql::query_scalar(select)
                    .bind(KEY_ROW)
                    .fetch_one(&mut *on)
                    .await?
            }
        };
        Ok(UnsubscribeKey(text.into_bytes()))
    }

    fn mac(&self, account: &str) -> Hmac<Sha256> {
        // A key of any length is accepted by HMAC: this cannot fail.
        let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"parvis-unsubscribe:");
        mac.update(account.as_bytes());
        mac
    }

    /// The token of `account`'s unsubscribe link.
    pub fn token(&self, account: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(account).finalize().into_bytes())
    }

    /// Whether `token` is `account`'s (compared in constant time).
    pub fn verify(&self, account: &str, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token.trim()) {
            Ok(bytes) => self.mac(account).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    /// The absolute one-click unsubscribe link, on the site `origin` (`scheme://host[:port]`).
    pub fn link(&self, origin: &str, account: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("compte", account)
            .append_pair("jeton", &self.token(account))
            .finish();
        format!("{origin}/desabonnement?{query}")
    }
}

/// `scheme://host[:port]` of an absolute link (where the unsubscribe link of its e-mail goes).
pub fn origin_of(link: &str) -> Option<String> {
    let url = url::Url::parse(link).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgent_notices_skip_digests_but_not_jamais() {
        use Kind::*;
        assert_eq!(route(Rhythm::Defaut, Direct, false), Route::Now);
        assert_eq!(route(Rhythm::Defaut, Followed, false), Route::Digest);
        assert_eq!(route(Rhythm::Defaut, Followed, true), Route::Now);
        assert_eq!(route(Rhythm::Quotidien, Direct, false), Route::Digest);
        assert_eq!(route(Rhythm::Hebdomadaire, Followed, true), Route::Now);
        assert_eq!(route(Rhythm::Immediat, Followed, false), Route::Now);
        assert_eq!(route(Rhythm::Jamais, Direct, true), Route::None);
    }

    #[test]
    fn tokens_are_per_account_and_forgeries_fail() {
        let key = UnsubscribeKey(b"secret".to_vec());
        let token = key.token("a");
        assert!(key.verify("a", &token));
        assert!(!key.verify("b", &token));
        assert!(!key.verify("a", "AAAA"));
        assert!(!key.verify("a", "not base64 !"));
        assert!(!UnsubscribeKey(b"other".to_vec()).verify("a", &token));
        assert_eq!(
            origin_of("http://paris.parvis.test:8080/m/alerts/1").as_deref(),
            Some("http://paris.parvis.test:8080")
        );
    }
}
