//! SQL for posts and follows.

use serde::Serialize;
use sqlx::Row as _;

use crate::db::{Db, TenantTx};
use crate::types::{AccountId, TenantId};
use crate::util::{new_id, now};

/// Who a post speaks for.
#[derive(Debug, Clone)]
pub enum Author {
    /// The commune (its admins).
    Commune,
    /// An official, by registry id.
    Official(String),
    /// A candidate.
    Candidate,
}

/// A post as pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct Post {
    /// Id (UUIDv7, time-ordered).
    pub id: String,
    /// Commune (tenant) it belongs to.
    #[serde(skip)]
    pub tenant_id: i64,
    /// Commune slug.
    pub slug: String,
    /// Commune name.
    pub commune: String,
    /// `commune`, `official` or `candidate`.
    pub author_kind: String,
    /// The official's registry id.
    pub official_id: Option<String>,
    /// Name shown as author.
    pub author_name: String,
    /// Sanitized HTML.
    pub body_html: String,
    /// Optional theme.
    pub theme: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Why the viewer sees it (feed only).
    pub why: Option<String>,
    /// Link to the author's profile (set by the page, which knows the host).
    pub author_url: Option<String>,
}

/// Publishes a post in the transaction's tenant; returns its id.
pub async fn insert(
    tx: &mut TenantTx,
    account: &AccountId,
    author: &Author,
    author_name: &str,
    body: &str,
    body_html: &str,
    theme: Option<&str>,
) -> Result<String, sqlx::Error> {
    let tenant = tx.tenant_id();
    let id = new_id();
    let (kind, official) = match author {
        Author::Commune => ("commune", None),
        Author::Official(id) => ("official", Some(id.as_str())),
        Author::Candidate => ("candidate", None),
    };
    sqlx::query(
        "INSERT INTO posts (tenant_id, id, author_account_id, author_kind, official_id, author_name, body, body_html, theme, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant)
    .bind(&id)
    .bind(&account.0)
    .bind(kind)
    .bind(official)
    .bind(author_name)
    .bind(body)
    .bind(body_html)
    .bind(theme)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

const COLUMNS: &str = "p.id, p.tenant_id, t.slug, c.name AS commune, p.author_kind, p.official_id, p.author_name, p.body_html, \
     p.theme, p.created_at";
/// How a post row reaches its commune's slug and name.
macro_rules! joins {
    () => {
        "JOIN tenants t ON t.id = p.tenant_id JOIN communes c ON c.insee = t.insee"
    };
}
const FROM: &str = concat!("FROM posts p ", joins!());

fn from_row(row: &sqlx::any::AnyRow) -> Result<Post, sqlx::Error> {
    Ok(Post {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        slug: row.try_get("slug")?,
        commune: row.try_get("commune")?,
        author_kind: row.try_get("author_kind")?,
        official_id: row.try_get("official_id")?,
        author_name: row.try_get("author_name")?,
        body_html: row.try_get("body_html")?,
        theme: row.try_get("theme")?,
        created_at: row.try_get("created_at")?,
        why: None,
        author_url: None,
    })
}

/// A commune's latest posts, or one official's (`official`), newest first, before `before`.
pub async fn of_commune(
    db: &Db,
    tenant: TenantId,
    official: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Post>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE p.tenant_id = $1 AND p.hidden_at IS NULL AND ($2 = '' OR p.official_id = $2) \
         AND ($3 = '' OR p.id < $3) ORDER BY p.id DESC LIMIT $4"
    ))
    .bind(tenant.0)
    .bind(official.unwrap_or_default())
    .bind(before.unwrap_or_default())
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// A candidate's latest posts in a commune (posts published as `candidate`), newest first.
pub async fn of_candidate(
    db: &Db,
    tenant: TenantId,
    account: &AccountId,
    limit: i64,
) -> Result<Vec<Post>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE p.tenant_id = $1 AND p.hidden_at IS NULL AND p.author_kind = 'candidate' \
         AND p.author_account_id = $2 ORDER BY p.id DESC LIMIT $3"
    ))
    .bind(tenant.0)
    .bind(&account.0)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Sources per feed query: each is one index seek, and a bound keeps the statement small.
const SOURCES_PER_QUERY: usize = 200;

/// What an account follows that publishes posts, per commune: the whole commune, or some of
/// its officials.
#[derive(Default)]
struct Followed {
    commune: bool,
    officials: Vec<String>,
}

/// The feed of `account`: posts of the communes and officials it follows, newest first,
/// strictly older than the `before` cursor (so new posts never shift a page).
///
/// Each followed source is read through its own index (a commune's posts by `(tenant_id, id)`,
/// an official's by `(tenant_id, official_id, id)`), at most `limit` posts each, and the
/// newest `limit` of those make the page: the cost follows what the account follows, not the
/// size of the table.
pub async fn feed(
    db: &Db,
    account: &AccountId,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Post>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT tenant_id, target_kind, target_id FROM follows \
         WHERE account_id = $1 AND target_kind IN ('commune', 'official')",
    )
    .bind(&account.0)
    .fetch_all(db.pool())
    .await?;
    let mut followed: std::collections::BTreeMap<i64, Followed> = Default::default();
    for row in &rows {
        let source = followed.entry(row.try_get("tenant_id")?).or_default();
        match row.try_get::<String, _>("target_kind")?.as_str() {
            "commune" => source.commune = true,
            _ => source.officials.push(row.try_get("target_id")?),
        }
    }
    // A followed commune already brings its officials' posts.
    let sources: Vec<(i64, Option<&str>)> = followed
        .iter()
        .flat_map(|(tenant, f)| {
            let officials = f.officials.iter().filter(|_| !f.commune);
            let officials = officials.map(|o| (*tenant, Some(o.as_str())));
            f.commune
                .then_some((*tenant, None))
                .into_iter()
                .chain(officials)
        })
        .collect();
    let mut posts = Vec::new();
    for chunk in sources.chunks(SOURCES_PER_QUERY) {
        posts.extend(newest_of(db, chunk, before, limit).await?);
    }
    posts.sort_by(|a, b| b.id.cmp(&a.id));
    posts.truncate(usize::try_from(limit).unwrap_or(0));
    for post in &mut posts {
        let by_commune = followed.get(&post.tenant_id).is_some_and(|f| f.commune);
        post.why = Some(if by_commune {
            format!("Vous suivez la commune de {}.", post.commune)
        } else {
            format!("Vous suivez {}.", post.author_name)
        });
    }
    Ok(posts)
}

/// The newest `limit` visible posts of `sources` (commune, or commune and official) older
/// than `before`: one `UNION ALL` arm per source, each an ordered index range with a limit.
async fn newest_of(
    db: &Db,
    sources: &[(i64, Option<&str>)],
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Post>, sqlx::Error> {
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let older = if before.is_some() { " AND id < $2" } else { "" };
    let mut next = 3;
    let arms: Vec<String> = sources
        .iter()
        .enumerate()
        .map(|(i, (_, official))| {
            let tenant = next;
            next += 1;
            let by = match official {
                Some(_) => {
                    next += 1;
                    format!(" AND official_id = ${}", tenant + 1)
                }
                None => String::new(),
            };
            format!(
                "SELECT tenant_id, id FROM (SELECT tenant_id, id FROM posts WHERE tenant_id = ${tenant}{by} \
                 AND hidden_at IS NULL{older} ORDER BY id DESC LIMIT $1) AS a{i}"
            )
        })
        .collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM (SELECT tenant_id, id FROM ({}) AS u ORDER BY id DESC LIMIT $1) AS s \
         JOIN posts p ON p.tenant_id = s.tenant_id AND p.id = s.id {} ORDER BY p.id DESC",
        arms.join(" UNION ALL "),
        joins!()
    );
    let mut query = sqlx::query(&sql)
        .bind(limit)
        .bind(before.unwrap_or_default());
    for (tenant, official) in sources {
        query = query.bind(*tenant);
        if let Some(official) = official {
            query = query.bind(*official);
        }
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// Follows or unfollows; returns whether the account now follows the target.
pub async fn set_follow(
    db: &Db,
    account: &AccountId,
    tenant: TenantId,
    kind: &str,
    target: &str,
    follow: bool,
) -> Result<bool, sqlx::Error> {
    if follow {
        sqlx::query(
            "INSERT INTO follows (account_id, tenant_id, target_kind, target_id, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&account.0)
        .bind(tenant.0)
        .bind(kind)
        .bind(target)
        .bind(now())
        .execute(db.pool())
        .await?;
    } else {
        sqlx::query("DELETE FROM follows WHERE account_id = $1 AND tenant_id = $2 AND target_kind = $3 AND target_id = $4")
            .bind(&account.0)
            .bind(tenant.0)
            .bind(kind)
            .bind(target)
            .execute(db.pool())
            .await?;
    }
    Ok(follow)
}

/// Whether the account follows the target.
pub async fn follows(
    db: &Db,
    account: &AccountId,
    tenant: TenantId,
    kind: &str,
    target: &str,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT 1 AS one FROM follows WHERE account_id = $1 AND tenant_id = $2 AND target_kind = $3 AND target_id = $4")
        .bind(&account.0)
        .bind(tenant.0)
        .bind(kind)
        .bind(target)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.is_some())
}

/// How many accounts follow a commune.
pub async fn followers_of_commune(db: &Db, tenant: TenantId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM follows WHERE tenant_id = $1 AND target_kind = 'commune'",
    )
    .bind(tenant.0)
    .fetch_one(db.pool())
    .await
}
