//! SQL for citizen profiles, avatars and citizen follows (platform tables: accounts are
//! global). Every statement names the account it is about.

use serde::Serialize;

use crate::db::{Db, sql};
use crate::media::routes::{MediaUrl, url as media_url};
use crate::rows::Flag;
use crate::types::AccountId;
use crate::util::now;

/// Who may see a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone, signed in or not.
    Public,
    /// Signed-in accounts only (the default).
    Members,
    /// Nobody but its owner.
    Private,
}

impl Visibility {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Members => "members",
            Visibility::Private => "private",
        }
    }

    /// Parses a stored or submitted name.
    pub fn parse(s: &str) -> Option<Visibility> {
        [Visibility::Public, Visibility::Members, Visibility::Private]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A stored visibility (the column's CHECK admits only the three names).
impl TryFrom<String> for Visibility {
    type Error = String;
    fn try_from(stored: String) -> Result<Visibility, String> {
        Visibility::parse(&stored).ok_or_else(|| format!("unknown profile visibility « {stored} »"))
    }
}

/// A citizen's profile as pages show it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Profile {
    /// Account id.
    pub id: String,
    /// Name shown to others.
    pub display_name: String,
    /// Short presentation, plain text.
    pub bio: String,
    /// Who may see it.
    #[row(try_from = "String")]
    pub visibility: Visibility,
    /// Whether the follows are shown on it.
    #[row(try_from = "Flag")]
    pub show_follows: bool,
    /// `/media/<id>` of the 256 px avatar.
    #[row(rename = "avatar_id", try_from = "MediaUrl")]
    pub avatar_url: Option<String>,
    /// `/media/<id>` of the 64 px avatar.
    #[row(rename = "avatar_small_id", try_from = "MediaUrl")]
    pub avatar_small_url: Option<String>,
    /// Stored avatar ids (large, small), to replace them.
    #[serde(skip)]
    #[row(flatten, try_from = "AvatarIds")]
    pub avatar_ids: Option<(String, String)>,
}

/// The avatar columns of a profile row; an avatar is both files or none.
#[derive(Debug, Clone, sql::Row)]
pub struct AvatarIds {
    /// The 256 px file.
    pub avatar_id: Option<String>,
    /// The 64 px file.
    pub avatar_small_id: Option<String>,
}

impl From<AvatarIds> for Option<(String, String)> {
    fn from(ids: AvatarIds) -> Option<(String, String)> {
        ids.avatar_id.zip(ids.avatar_small_id)
    }
}

/// The profile of a live account (deleted accounts have none).
pub async fn profile(db: &Db, account: &str) -> Result<Option<Profile>, sqlx::Error> {
    sql::query_as(
        "SELECT a.id, a.display_name, COALESCE(p.bio, '') AS bio, COALESCE(p.visibility, 'members') AS visibility, \
         COALESCE(p.show_follows, 0) AS show_follows, p.avatar_id, p.avatar_small_id \
         FROM accounts a LEFT JOIN account_profiles p ON p.account_id = a.id \
         WHERE a.id = $1 AND a.deleted_at IS NULL",
    )
    .bind(account)
    .fetch_optional(db.platform())
    .await
}

/// Saves the text and privacy settings of a profile.
pub async fn save_settings(
    db: &Db,
    account: &AccountId,
    bio: &str,
    visibility: Visibility,
    show_follows: bool,
) -> Result<(), sqlx::Error> {
    sql::query(
        "INSERT INTO account_profiles (account_id, bio, visibility, show_follows, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (account_id) DO UPDATE SET bio = excluded.bio, visibility = excluded.visibility, \
         show_follows = excluded.show_follows, updated_at = excluded.updated_at",
    )
    .bind(&account.0)
    .bind(bio)
    .bind(visibility.as_str())
    .bind(i64::from(show_follows))
    .bind(now())
    .execute(db.platform())
    .await?;
    Ok(())
}

/// Points the profile at new avatar files (or none).
pub async fn set_avatar(
    conn: &mut sqlx::AnyConnection,
    account: &AccountId,
    ids: Option<(&str, &str)>,
) -> Result<(), sqlx::Error> {
    sql::query(
        "INSERT INTO account_profiles (account_id, avatar_id, avatar_small_id, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id) DO UPDATE SET avatar_id = excluded.avatar_id, \
         avatar_small_id = excluded.avatar_small_id, updated_at = excluded.updated_at",
    )
    .bind(&account.0)
    .bind(ids.map(|i| i.0))
    .bind(ids.map(|i| i.1))
    .bind(now())
    .execute(&mut *conn)
    .await?;
    // The commune pages that show this person as one of their officials show the photo:
    // their version rises with it, as with any write to what they are made of.
    sql::query(
        "INSERT INTO tenant_versions (tenant_id, version)          SELECT DISTINCT tenant_id, 1 FROM officials WHERE account_id = $1 ORDER BY tenant_id          ON CONFLICT (tenant_id) DO UPDATE SET version = tenant_versions.version + 1",
    )
    .bind(&account.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The avatar URLs (256 px, 64 px) of an account, if it has one.
pub async fn avatar_of(
    db: &Db,
    account: &AccountId,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let ids: Option<AvatarIds> = sql::query_as(
        "SELECT p.avatar_id, p.avatar_small_id FROM account_profiles p JOIN accounts a ON a.id = p.account_id \
         WHERE p.account_id = $1 AND a.deleted_at IS NULL",
    )
    .bind(&account.0)
    .fetch_optional(db.platform())
    .await?;
    Ok(ids
        .and_then(Option::from)
        .map(|(l, s): (String, String)| (media_url(&l), media_url(&s))))
}

/// A commune an account follows.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct FollowedCommune {
    /// Subdomain label.
    pub slug: String,
    /// Name.
    pub name: String,
}

/// The communes an account follows, by name.
pub async fn followed_communes(
    db: &Db,
    account: &str,
) -> Result<Vec<FollowedCommune>, sqlx::Error> {
    sql::query_as(
        "SELECT t.slug, c.name FROM follows f JOIN tenants t ON t.id = f.tenant_id JOIN communes c ON c.insee = t.insee \
         WHERE f.account_id = $1 AND f.target_kind = 'commune' AND t.status = 'active' ORDER BY c.name",
    )
    .bind(account)
    .fetch_all(db.platform())
    .await
}

/// A citizen in a list.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Card {
    /// Account id.
    pub id: String,
    /// Name.
    pub display_name: String,
    /// Who may see their profile.
    #[row(try_from = "String")]
    pub visibility: Visibility,
    /// 64 px avatar.
    #[row(rename = "avatar_small_id", try_from = "MediaUrl")]
    pub avatar_small_url: Option<String>,
}

/// The citizens an account follows, by name (the caller filters by visibility).
pub async fn followed_citizens(db: &Db, account: &str) -> Result<Vec<Card>, sqlx::Error> {
    sql::query_as(
        "SELECT a.id, a.display_name, COALESCE(p.visibility, 'members') AS visibility, p.avatar_small_id \
         FROM citizen_follows f JOIN accounts a ON a.id = f.followed_account_id \
         LEFT JOIN account_profiles p ON p.account_id = a.id \
         WHERE f.follower_account_id = $1 AND a.deleted_at IS NULL ORDER BY a.display_name, a.id",
    )
    .bind(account)
    .fetch_all(db.platform())
    .await
}

/// Citizens one account may follow: the bound social networks settled on (Twitter's first
/// cap was 5,000), far above anyone's real circle, and it keeps a profile's « suit » list and
/// the follows table bounded per account.
pub const MAX_FOLLOWED_CITIZENS: i64 = 5_000;

/// Follows or unfollows a citizen; returns whether `follower` now follows them. A new follow
/// beyond [`MAX_FOLLOWED_CITIZENS`] is not recorded (`false`); the count and the insert are one
/// statement.
pub async fn set_citizen_follow(
    db: &Db,
    follower: &AccountId,
    followed: &str,
    on: bool,
) -> Result<bool, sqlx::Error> {
    if !on {
        sql::query(
            "DELETE FROM citizen_follows WHERE follower_account_id = $1 AND followed_account_id = $2",
        )
        .bind(&follower.0)
        .bind(followed)
        .execute(db.platform())
        .await?;
        return Ok(false);
    }
    let done = sql::query(
        "INSERT INTO citizen_follows (follower_account_id, followed_account_id, created_at) \
         SELECT $1, $2, $3 \
         WHERE (SELECT COUNT(*) FROM citizen_follows WHERE follower_account_id = $1) < $4 \
         ON CONFLICT DO NOTHING",
    )
    .bind(&follower.0)
    .bind(followed)
    .bind(now())
    .bind(MAX_FOLLOWED_CITIZENS)
    .execute(db.platform())
    .await?;
    if done.rows_affected() == 0 {
        // Either already followed (fine) or the cap is reached.
        return follows_citizen(db, follower, followed).await;
    }
    Ok(true)
}

/// Whether `follower` follows the citizen `followed`.
pub async fn follows_citizen(
    db: &Db,
    follower: &AccountId,
    followed: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sql::query(
        "SELECT 1 AS one FROM citizen_follows WHERE follower_account_id = $1 AND followed_account_id = $2",
    )
    .bind(&follower.0)
    .bind(followed)
    .fetch_optional(db.platform())
    .await?
    .is_some())
}

/// How many live accounts follow a citizen.
pub async fn followers_of_citizen(db: &Db, account: &str) -> Result<i64, sqlx::Error> {
    sql::query_scalar(
        "SELECT COUNT(*) FROM citizen_follows f JOIN accounts a ON a.id = f.follower_account_id \
         WHERE f.followed_account_id = $1 AND a.deleted_at IS NULL",
    )
    .bind(account)
    .fetch_one(db.platform())
    .await
}

/// What this feature keeps about a person (see [`crate::privacy::personal`]).
pub struct Personal;

#[async_trait::async_trait]
impl crate::privacy::personal::PersonalData for Personal {
    fn tables(&self) -> &'static [&'static str] {
        &["account_profiles", "account_media", "citizen_follows"]
    }

    async fn export(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
        out: &mut crate::privacy::personal::Export,
    ) -> Result<(), sqlx::Error> {
        out.first(
            conn,
            "citizen_profile",
            "SELECT bio, visibility, show_follows, avatar_id, avatar_small_id, updated_at FROM account_profiles \
             WHERE account_id = $1",
            account,
            serde_json::Value::Null,
        )
        .await?;
        out.rows(
            conn,
            "media",
            "SELECT '' AS commune, id, purpose, content_type, byte_size, created_at FROM account_media WHERE account_id = $1 \
             UNION ALL SELECT t.slug AS commune, m.id, m.purpose, m.content_type, m.byte_size, m.created_at \
             FROM media m JOIN tenants t ON t.id = m.tenant_id WHERE m.account_id = $1",
            account,
        )
        .await?;
        out.rows(
            conn,
            "citizen_follows",
            "SELECT f.followed_account_id AS account, a.display_name, f.created_at FROM citizen_follows f \
             JOIN accounts a ON a.id = f.followed_account_id WHERE f.follower_account_id = $1",
            account,
        )
        .await?;
        Ok(())
    }

    async fn erase(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
    ) -> Result<(), sqlx::Error> {
        crate::privacy::personal::erase_with(
            conn,
            account,
            &[
                "DELETE FROM citizen_follows WHERE follower_account_id = $1 OR followed_account_id = $1",
                "DELETE FROM account_profiles WHERE account_id = $1",
                "DELETE FROM account_media WHERE account_id = $1",
            ],
        )
        .await
    }
}
