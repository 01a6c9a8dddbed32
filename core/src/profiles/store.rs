//! SQL for citizen profiles, avatars and citizen follows (platform tables: accounts are
//! global). Every statement names the account it is about.

use serde::Serialize;
use sqlx::Row as _;

use crate::db::Db;
use crate::media::routes::url as media_url;
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

/// A citizen's profile as pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// Account id.
    pub id: String,
    /// Name shown to others.
    pub display_name: String,
    /// Short presentation, plain text.
    pub bio: String,
    /// Who may see it.
    pub visibility: Visibility,
    /// Whether the follows are shown on it.
    pub show_follows: bool,
    /// `/media/<id>` of the 256 px avatar.
    pub avatar_url: Option<String>,
    /// `/media/<id>` of the 64 px avatar.
    pub avatar_small_url: Option<String>,
    /// Stored avatar ids (large, small), to replace them.
    #[serde(skip)]
    pub avatar_ids: Option<(String, String)>,
}

/// The profile of a live account (deleted accounts have none).
pub async fn profile(db: &Db, account: &str) -> Result<Option<Profile>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT a.id, a.display_name, COALESCE(p.bio, '') AS bio, COALESCE(p.visibility, 'members') AS visibility, \
         COALESCE(p.show_follows, 0) AS show_follows, p.avatar_id, p.avatar_small_id \
         FROM accounts a LEFT JOIN account_profiles p ON p.account_id = a.id \
         WHERE a.id = $1 AND a.deleted_at IS NULL",
    )
    .bind(account)
    .fetch_optional(db.platform())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let large: Option<String> = row.try_get("avatar_id")?;
    let small: Option<String> = row.try_get("avatar_small_id")?;
    let visibility: String = row.try_get("visibility")?;
    Ok(Some(Profile {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        bio: row.try_get("bio")?,
        visibility: Visibility::parse(&visibility).unwrap_or(Visibility::Members),
        show_follows: row.try_get::<i64, _>("show_follows")? == 1,
        avatar_url: large.as_deref().map(media_url),
        avatar_small_url: small.as_deref().map(media_url),
        avatar_ids: large.zip(small),
    }))
}

/// Saves the text and privacy settings of a profile.
pub async fn save_settings(
    db: &Db,
    account: &AccountId,
    bio: &str,
    visibility: Visibility,
    show_follows: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
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
    sqlx::query(
        "INSERT INTO account_profiles (account_id, avatar_id, avatar_small_id, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id) DO UPDATE SET avatar_id = excluded.avatar_id, \
         avatar_small_id = excluded.avatar_small_id, updated_at = excluded.updated_at",
    )
    .bind(&account.0)
    .bind(ids.map(|i| i.0))
    .bind(ids.map(|i| i.1))
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

/// The avatar URLs (256 px, 64 px) of an account, if it has one.
pub async fn avatar_of(
    db: &Db,
    account: &AccountId,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT p.avatar_id, p.avatar_small_id FROM account_profiles p JOIN accounts a ON a.id = p.account_id \
         WHERE p.account_id = $1 AND a.deleted_at IS NULL",
    )
    .bind(&account.0)
    .fetch_optional(db.platform())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let large: Option<String> = row.try_get("avatar_id")?;
    let small: Option<String> = row.try_get("avatar_small_id")?;
    Ok(large
        .zip(small)
        .map(|(l, s)| (media_url(&l), media_url(&s))))
}

/// A commune an account follows.
#[derive(Debug, Clone, Serialize)]
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
    let rows = sqlx::query(
        "SELECT t.slug, c.name FROM follows f JOIN tenants t ON t.id = f.tenant_id JOIN communes c ON c.insee = t.insee \
         WHERE f.account_id = $1 AND f.target_kind = 'commune' AND t.status = 'active' ORDER BY c.name",
    )
    .bind(account)
    .fetch_all(db.platform())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FollowedCommune {
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
            })
        })
        .collect()
}

/// A citizen in a list.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// Account id.
    pub id: String,
    /// Name.
    pub display_name: String,
    /// Who may see their profile.
    pub visibility: Visibility,
    /// 64 px avatar.
    pub avatar_small_url: Option<String>,
}

/// The citizens an account follows, by name (the caller filters by visibility).
pub async fn followed_citizens(db: &Db, account: &str) -> Result<Vec<Card>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT a.id, a.display_name, COALESCE(p.visibility, 'members') AS visibility, p.avatar_small_id \
         FROM citizen_follows f JOIN accounts a ON a.id = f.followed_account_id \
         LEFT JOIN account_profiles p ON p.account_id = a.id \
         WHERE f.follower_account_id = $1 AND a.deleted_at IS NULL ORDER BY a.display_name, a.id",
    )
    .bind(account)
    .fetch_all(db.platform())
    .await?;
    rows.iter()
        .map(|r| {
            let visibility: String = r.try_get("visibility")?;
            let small: Option<String> = r.try_get("avatar_small_id")?;
            Ok(Card {
                id: r.try_get("id")?,
                display_name: r.try_get("display_name")?,
                visibility: Visibility::parse(&visibility).unwrap_or(Visibility::Private),
                avatar_small_url: small.as_deref().map(media_url),
            })
        })
        .collect()
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
        sqlx::query(
            "DELETE FROM citizen_follows WHERE follower_account_id = $1 AND followed_account_id = $2",
        )
        .bind(&follower.0)
        .bind(followed)
        .execute(db.platform())
        .await?;
        return Ok(false);
    }
    let done = sqlx::query(
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
    Ok(sqlx::query(
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
    sqlx::query_scalar(
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
