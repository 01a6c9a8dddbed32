//! SQL for posts and follows.

use crate::db::Sql as _;
use serde::Serialize;

use crate::db::changes::Kept;
use crate::db::sql::{self, TenantQuery};
use crate::db::{Db, TenantSql, TenantTx};
use crate::feed::attachments::Attachment;
use crate::feed::engagement::store::Summary;
use crate::feed::tags::{KindLabel, PostKind};
use crate::rows::Flag;
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
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Post {
    /// Commune.
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// Id (UUIDv7, time-ordered).
    pub id: String,
    /// Commune slug.
    pub slug: String,
    /// Commune name.
    pub commune: String,
    /// How the commune's name joins a sentence ([`crate::communes::names`]).
    pub commune_kind: Option<i64>,
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
    /// News, action, commitment or proposal.
    #[row(try_from = "String")]
    pub kind: PostKind,
    /// The kind's French label.
    #[row(rename = "kind", try_from = "KindLabel")]
    pub kind_label: &'static str,
    /// Optional neighbourhood tag.
    pub quartier: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Its commune's version when it was read (`web/shared.rs`): its card, kept rendered, is
    /// reused while the version is the same.
    #[serde(skip)]
    pub version: i64,
    /// Why the viewer sees it (feed only).
    #[row(skip)]
    pub why: Option<String>,
    /// Link to the author's profile (set by the page, which knows the host).
    #[row(skip)]
    pub author_url: Option<String>,
    /// Link to the post's own page (set by the page, which knows the host).
    #[row(skip)]
    pub url: Option<String>,
    /// Its commune's news with the same theme (set by the page).
    #[row(skip)]
    pub theme_url: Option<String>,
    /// Its commune's news with the same neighbourhood tag (set by the page).
    #[row(skip)]
    pub quartier_url: Option<String>,
    /// Comments, reactions and evaluations (set by the page).
    #[row(skip)]
    pub engagement: Option<Summary>,
    /// Images and documents, in their author's order (set by the page).
    #[row(skip)]
    pub attachments: Vec<Attachment>,
}

/// Some posts of one or several communes, as the scope of a query on their comments,
/// reactions or attachments: `tenant_id IN (…) AND post_id IN (…)`. Post ids are unique across
/// communes; the tenants keep each lookup on a `(tenant_id, post_id)` index.
#[derive(Debug, Default)]
pub struct PostScope<'a> {
    tenants: Vec<TenantId>,
    posts: Vec<&'a str>,
}

impl<'a> PostScope<'a> {
    /// Posts of several communes (a feed page).
    pub fn of(posts: &[(TenantId, &'a str)]) -> PostScope<'a> {
        let mut tenants: Vec<TenantId> = posts.iter().map(|(t, _)| *t).collect();
        tenants.sort_unstable();
        tenants.dedup();
        PostScope {
            tenants,
            posts: posts.iter().map(|(_, id)| *id).collect(),
        }
    }

    /// Posts of one commune.
    pub fn within(tenant: TenantId, posts: &[&'a str]) -> PostScope<'a> {
        PostScope {
            tenants: vec![tenant],
            posts: posts.to_vec(),
        }
    }

    /// No post at all: nothing to ask.
    pub fn is_empty(&self) -> bool {
        self.posts.is_empty()
    }

    /// The condition, numbering its parameters from `$1`.
    pub fn sql(&self) -> String {
        format!(
            "tenant_id IN ({}) AND post_id IN ({})",
            crate::db::placeholders(1, self.tenants.len()),
            crate::db::placeholders(self.tenants.len() + 1, self.posts.len())
        )
    }

    /// Binds the condition's parameters, in [`PostScope::sql`]'s order, to a statement on the
    /// pool or a platform connection.
    pub fn bind<'q, T, R: sql::Read<T>>(
        &self,
        mut query: sql::Query<'q, T, R>,
    ) -> sql::Query<'q, T, R> {
        for tenant in &self.tenants {
            query = query.bind(*tenant);
        }
        for id in &self.posts {
            query = query.bind(*id);
        }
        query
    }

    /// Binds the condition's posts to a statement of a tenant's transaction
    /// ([`TenantSql::scoped`], which binds the tenant as `$1`): for a scope
    /// [`within`](PostScope::within) the transaction's tenant, whose one tenant is `$1` in
    /// [`PostScope::sql`]'s order.
    pub fn bind_scoped<'q, T, R: sql::Read<T>>(
        &self,
        mut query: TenantQuery<'q, T, R>,
    ) -> TenantQuery<'q, T, R> {
        for id in &self.posts {
            query = query.bind(*id);
        }
        query
    }
}

/// A new post: who speaks, what it says, what it is and where it belongs.
pub struct NewPost<'a> {
    /// The account that writes it.
    pub account: &'a AccountId,
    /// Who it speaks for.
    pub author: &'a Author,
    /// Name shown as author.
    pub author_name: &'a str,
    /// Markdown source.
    pub body: &'a str,
    /// Sanitized HTML.
    pub body_html: &'a str,
    /// Optional theme.
    pub theme: Option<&'a str>,
    /// Its kind.
    pub kind: PostKind,
    /// Optional neighbourhood tag (already validated).
    pub quartier: Option<&'a str>,
}

/// Publishes a news post in the transaction's tenant (modules publish this way); returns its id.
pub async fn insert(
    tx: &mut impl TenantSql,
    account: &AccountId,
    author: &Author,
    author_name: &str,
    body: &str,
    body_html: &str,
    theme: Option<&str>,
) -> Result<String, sqlx::Error> {
    let post = NewPost {
        account,
        author,
        author_name,
        body,
        body_html,
        theme,
        kind: PostKind::Actualite,
        quartier: None,
    };
    insert_post(tx, &post).await
}

/// Publishes a post in the transaction's tenant; returns its id.
pub async fn insert_post(
    tx: &mut impl TenantSql,
    post: &NewPost<'_>,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let (author_kind, official) = match post.author {
        Author::Commune => ("commune", None),
        Author::Official(id) => ("official", Some(id.as_str())),
        Author::Candidate => ("candidate", None),
    };
    tx.scoped(
        "INSERT INTO posts (tenant_id, id, author_account_id, author_kind, official_id, author_name, body, body_html, theme, \
         kind, quartier, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&id)
    .bind(&post.account.0)
    .bind(author_kind)
    .bind(official)
    .bind(post.author_name)
    .bind(post.body)
    .bind(post.body_html)
    .bind(post.theme)
    .bind(post.kind.as_str())
    .bind(post.quartier)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(id)
}

const COLUMNS: &str = "p.tenant_id, p.id, t.slug, c.name AS commune, c.name_kind AS commune_kind, p.author_kind, p.official_id, p.author_name, p.body_html, \
     p.theme, p.kind, p.quartier, p.created_at, COALESCE(v.version, 0) AS version";
/// How a post row reaches its commune's slug, name and version (migration 0025).
macro_rules! joins {
    () => {
        "JOIN tenants t ON t.id = p.tenant_id JOIN communes c ON c.insee = t.insee \
         LEFT JOIN tenant_versions v ON v.tenant_id = p.tenant_id"
    };
}
const FROM: &str = concat!("FROM posts p ", joins!());

/// A commune's latest posts, or one official's (`official`), newest first, before `before`.
pub async fn of_commune(
    db: &Db,
    tenant: TenantId,
    official: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Post>, sqlx::Error> {
    let filter = Filter {
        official,
        ..Filter::default()
    };
    of_commune_where(db, tenant, &filter, before, limit).await
}

/// Which of a commune's posts a list shows; empty parts select everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Filter<'a> {
    /// One official's posts.
    pub official: Option<&'a str>,
    /// Posts with this theme.
    pub theme: Option<&'a str>,
    /// Posts with this neighbourhood tag.
    pub quartier: Option<&'a str>,
}

/// A commune's latest posts that match `filter`, newest first, before `before`.
pub async fn of_commune_where(
    db: &Db,
    tenant: TenantId,
    filter: &Filter<'_>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Post>, sqlx::Error> {
    sql::query_as(&format!(
        "SELECT {COLUMNS} {FROM} WHERE p.tenant_id = $1 AND p.hidden_at IS NULL AND ($2 = '' OR p.official_id = $2) \
         AND ($3 = '' OR p.id < $3) AND ($5 = '' OR p.theme = $5) AND ($6 = '' OR p.quartier = $6) \
         ORDER BY p.id DESC LIMIT $4"
    ))
    .bind(tenant)
    .bind(filter.official.unwrap_or_default())
    .bind(before.unwrap_or_default())
    .bind(limit)
    .bind(filter.theme.unwrap_or_default())
    .bind(filter.quartier.unwrap_or_default())
    .fetch_all(db.reader().await?.sql())
    .await
}

/// One post of this tenant, with what only its own pages need.
#[derive(sql::Row)]
pub struct OnePost {
    /// The post.
    #[row(flatten)]
    pub post: Post,
    /// The account that wrote it.
    #[row(rename = "author_account_id")]
    pub author_account: AccountId,
    /// Hidden by a moderator, and why ('' when no reason was given).
    pub hidden: Option<String>,
}

/// A post of the transaction's tenant, hidden or not; `None` when it is not one of its posts.
pub async fn one(tx: &mut TenantTx, id: &str) -> Result<Option<OnePost>, sqlx::Error> {
    tx.scoped_as(&format!(
        "SELECT {COLUMNS}, p.author_account_id, \
         CASE WHEN p.hidden_at IS NULL THEN NULL ELSE COALESCE(p.hidden_reason, '') END AS hidden \
         {FROM} WHERE p.tenant_id = $1 AND p.id = $2"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// A candidate's latest posts in a commune (posts published as `candidate`), newest first.
pub async fn of_candidate(
    db: &Db,
    tenant: TenantId,
    account: &AccountId,
    limit: i64,
) -> Result<Vec<Post>, sqlx::Error> {
    sql::query_as(&format!(
        "SELECT {COLUMNS} {FROM} WHERE p.tenant_id = $1 AND p.hidden_at IS NULL AND p.author_kind = 'candidate' \
         AND p.author_account_id = $2 ORDER BY p.id DESC LIMIT $3"
    ))
    .bind(tenant)
    .bind(&account.0)
    .bind(limit)
    .fetch_all(db.reader().await?.sql())
    .await
}

/// Communes one account may follow. Enough to follow every commune of the largest
/// département (Pas-de-Calais, 890), and a bound on what a feed page reads: each followed
/// source costs the page one short index range (see [`feed`]).
pub const MAX_FOLLOWED_COMMUNES: i64 = 1_000;
/// Officials one account may follow one by one (in communes it does not follow whole), for
/// the same reason.
pub const MAX_FOLLOWED_OFFICIALS: i64 = 1_000;

/// The feed of `account`: posts of the communes and officials it follows, newest first,
/// strictly older than the `before` cursor (so new posts never shift a page).
///
/// One statement, whatever the account follows: for each followed source (a commune, or an
/// official of a commune not followed whole) the id of its `limit`-th newest post is found by
/// one index seek (`floor`; a commune's posts by `(tenant_id, id)`, an official's by
/// `(tenant_id, official_id, id)`), then each source's posts from that floor are one index
/// range of at most `limit` rows, and the newest `limit` of those make the page. The cost
/// follows what the account follows (capped by [`MAX_FOLLOWED_COMMUNES`] and
/// [`MAX_FOLLOWED_OFFICIALS`]), never the size of the table.
pub async fn feed(
    db: &Db,
    account: &AccountId,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Post>, sqlx::Error> {
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let older = |alias: &str| {
        if before.is_some() {
            format!(" AND {alias}.id < $2")
        } else {
            String::new()
        }
    };
    let (older_q, older_p) = (older("q"), older("p"));
    let sql = format!(
        "WITH sources AS MATERIALIZED ( \
           SELECT f.tenant_id, CASE WHEN f.target_kind = 'commune' THEN '' ELSE f.target_id END AS official \
           FROM follows f WHERE f.account_id = $1 AND (f.target_kind = 'commune' \
             OR (f.target_kind = 'official' AND NOT EXISTS (SELECT 1 FROM follows g \
                 WHERE g.account_id = $1 AND g.tenant_id = f.tenant_id AND g.target_kind = 'commune'))) \
         ), bounds AS MATERIALIZED ( \
           SELECT tenant_id, official, CASE WHEN official = '' \
             THEN (SELECT q.id FROM posts q WHERE q.tenant_id = sources.tenant_id AND q.hidden_at IS NULL{older_q} \
                   ORDER BY q.id DESC LIMIT 1 OFFSET $4) \
             ELSE (SELECT q.id FROM posts q WHERE q.tenant_id = sources.tenant_id AND q.official_id = sources.official \
                   AND q.hidden_at IS NULL{older_q} ORDER BY q.id DESC LIMIT 1 OFFSET $4) \
             END AS floor FROM sources \
         ) \
         SELECT {COLUMNS}, s.by_commune FROM ( \
           SELECT p.tenant_id, p.id, 1 AS by_commune FROM bounds b JOIN posts p ON p.tenant_id = b.tenant_id \
             WHERE b.official = '' AND p.hidden_at IS NULL AND p.id >= COALESCE(b.floor, ''){older_p} \
           UNION ALL \
           SELECT p.tenant_id, p.id, 0 AS by_commune FROM bounds b JOIN posts p ON p.tenant_id = b.tenant_id \
             AND p.official_id = b.official \
             WHERE b.official <> '' AND p.hidden_at IS NULL AND p.id >= COALESCE(b.floor, ''){older_p} \
           ORDER BY id DESC LIMIT $3 \
         ) AS s JOIN posts p ON p.tenant_id = s.tenant_id AND p.id = s.id {} ORDER BY p.id DESC",
        joins!()
    );
    let rows: Vec<FeedRow> = sql::query_as(&sql)
        .bind(&account.0)
        .bind(before.unwrap_or_default())
        .bind(limit)
        .bind(limit - 1)
        .fetch_all(db.reader().await?.sql())
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |FeedRow {
                 mut post,
                 by_commune,
             }| {
                post.why = Some(if by_commune {
                    format!(
                        "Vous suivez la commune {}.",
                        crate::communes::names::of(&post.commune, post.commune_kind)
                    )
                } else {
                    format!("Vous suivez {}.", post.author_name)
                });
                post
            },
        )
        .collect())
}

/// Fingerprints of feeds kept at most (one per reader).
const FINGERPRINTS_KEPT: usize = 65_536;

/// Feeds' fingerprints ([`feed_stamp`]) kept while the database says what they were made of has
/// not changed ([`crate::db::changes`]): what the reader follows (their account's changes) and
/// those communes' versions. A page of a feed kept for its reader then asks the database
/// nothing.
pub struct Fingerprints(Kept<AccountId, Fingerprint>);

/// A feed's fingerprint and the communes it was read from (their versions are in it).
#[derive(Clone)]
struct Fingerprint(i64, Vec<TenantId>);

impl Default for Fingerprints {
    fn default() -> Self {
        Fingerprints(Kept::new(FINGERPRINTS_KEPT))
    }
}

/// A fingerprint of what `account`'s feed is made of: what it follows and the versions of the
/// communes it follows ([`crate::web::shared`]). Two reads with the same fingerprint give the
/// same feed, so a page of it can be reused while the fingerprint stays the same.
pub async fn feed_stamp(
    db: &Db,
    kept: &Fingerprints,
    account: &AccountId,
) -> Result<i64, sqlx::Error> {
    use std::hash::{Hash as _, Hasher as _};
    let changes = db.changes();
    if let Some(changes) = changes
        && let Some(f) = kept
            .0
            .get(account, |f, stamp| changes.fresh(stamp, &account.0, &f.1))
    {
        return Ok(f.0);
    }
    // Stamped before the statement begins: a change it does not see is told after the stamp.
    let stamp = changes.and_then(|c| c.stamp());
    let sources: Vec<(TenantId, String, String, i64)> = sql::query_as(
        "SELECT f.tenant_id, f.target_kind, f.target_id, COALESCE(v.version, 0) AS version \
         FROM follows f LEFT JOIN tenant_versions v ON v.tenant_id = f.tenant_id \
         WHERE f.account_id = $1 ORDER BY f.tenant_id, f.target_kind, f.target_id",
    )
    .bind(&account.0)
    .fetch_all(db.reader().await?.sql())
    .await?;
    let mut hasher = std::hash::DefaultHasher::new();
    sources.hash(&mut hasher);
    let value = hasher.finish() as i64;
    if let Some(stamp) = stamp {
        let mut tenants: Vec<TenantId> = sources.iter().map(|s| s.0).collect();
        tenants.dedup();
        kept.0
            .put(account.clone(), Fingerprint(value, tenants), stamp);
    }
    Ok(value)
}

/// A post of the feed, and whether it is there because its commune is followed (rather
/// than its official).
#[derive(sql::Row)]
struct FeedRow {
    #[row(flatten)]
    post: Post,
    #[row(try_from = "Flag")]
    by_commune: bool,
}

/// Follows or unfollows; returns whether the account now follows the target. A new follow
/// beyond the account's cap for its kind ([`MAX_FOLLOWED_COMMUNES`],
/// [`MAX_FOLLOWED_OFFICIALS`]) is not recorded (and `false` is returned); the count and the
/// insert are one statement.
pub async fn set_follow(
    db: &Db,
    account: &AccountId,
    tenant: TenantId,
    kind: &str,
    target: &str,
    follow: bool,
) -> Result<bool, sqlx::Error> {
    if follow {
        let cap = if kind == "commune" {
            MAX_FOLLOWED_COMMUNES
        } else {
            MAX_FOLLOWED_OFFICIALS
        };
        let done = sql::query(
            "INSERT INTO follows (account_id, tenant_id, target_kind, target_id, created_at) \
             SELECT $1, $2, $3, $4, $5 \
             WHERE (SELECT COUNT(*) FROM follows WHERE account_id = $1 AND target_kind = $3) < $6 \
             ON CONFLICT DO NOTHING",
        )
        .bind(&account.0)
        .bind(tenant)
        .bind(kind)
        .bind(target)
        .bind(now())
        .bind(cap)
        .execute(db.platform())
        .await?;
        if done.rows_affected() == 0 {
            // Either already followed (fine) or the cap is reached.
            return follows(db, account, tenant, kind, target).await;
        }
    } else {
        sql::query("DELETE FROM follows WHERE account_id = $1 AND tenant_id = $2 AND target_kind = $3 AND target_id = $4")
            .bind(&account.0)
            .bind(tenant)
            .bind(kind)
            .bind(target)
            .execute(db.platform())
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
    let row = sql::query("SELECT 1 AS one FROM follows WHERE account_id = $1 AND tenant_id = $2 AND target_kind = $3 AND target_id = $4")
        .bind(&account.0)
        .bind(tenant)
        .bind(kind)
        .bind(target)
        .fetch_optional(db.reader().await?.sql())
        .await?;
    Ok(row.is_some())
}

/// How many accounts follow a commune.
pub async fn followers_of_commune(db: &Db, tenant: TenantId) -> Result<i64, sqlx::Error> {
    sql::query_scalar(
        "SELECT COUNT(*) FROM follows WHERE tenant_id = $1 AND target_kind = 'commune'",
    )
    .bind(tenant)
    .fetch_one(db.reader().await?.sql())
    .await
}

/// An official's action or commitment, as their profile lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordEntry {
    /// Post id.
    pub id: String,
    /// Action or commitment.
    pub kind_label: &'static str,
    /// The text's beginning, as plain text.
    pub excerpt: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Its evaluations (set by the page).
    pub engagement: Option<Summary>,
}

/// An official's visible actions and commitments, newest first.
pub async fn record(
    db: &Db,
    tenant: TenantId,
    official: &str,
    limit: i64,
) -> Result<Vec<RecordEntry>, sqlx::Error> {
    let posts: Vec<RecordPost> = sql::query_as(
        "SELECT p.id, p.kind, p.body, p.created_at FROM posts p WHERE p.tenant_id = $1 AND p.official_id = $2 \
         AND p.hidden_at IS NULL AND p.kind IN ('action', 'engagement') ORDER BY p.id DESC LIMIT $3",
    )
    .bind(tenant)
    .bind(official)
    .bind(limit)
    .fetch_all(db.reader().await?.sql())
    .await?;
    Ok(posts
        .into_iter()
        .map(|post| RecordEntry {
            id: post.id,
            kind_label: post.kind_label,
            excerpt: crate::feed::markdown::excerpt(&post.body, 160),
            created_at: post.created_at,
            engagement: None,
        })
        .collect())
}

/// An action or a commitment as [`record`] reads it.
#[derive(sql::Row)]
struct RecordPost {
    id: String,
    #[row(rename = "kind", try_from = "KindLabel")]
    kind_label: &'static str,
    body: String,
    created_at: i64,
}

/// What this feature keeps about a person (see [`crate::privacy::personal`]).
pub struct Personal;

#[async_trait::async_trait]
impl crate::privacy::personal::PersonalData for Personal {
    fn tables(&self) -> &'static [&'static str] {
        &["follows"]
    }

    async fn export(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
        out: &mut crate::privacy::personal::Export,
    ) -> Result<(), sqlx::Error> {
        out.rows(
            conn,
            "follows",
            "SELECT t.slug AS commune, f.target_kind, f.target_id, f.created_at FROM follows f JOIN tenants t ON t.id = f.tenant_id \
             WHERE f.account_id = $1",
            account,
        )
        .await?;
        out.rows(
            conn,
            "posts",
            "SELECT t.slug AS commune, p.id, p.author_kind, p.author_name, p.body, p.theme, p.created_at, p.hidden_at \
             FROM posts p JOIN tenants t ON t.id = p.tenant_id WHERE p.author_account_id = $1",
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
            &["DELETE FROM follows WHERE account_id = $1"],
        )
        .await
    }
}

/// How many of a commune's followers began following it in each of the last `weeks` weeks
/// before `now` (Unix seconds), oldest week first. Those who left since are not counted.
pub async fn commune_followers_by_week(
    db: &Db,
    tenant: TenantId,
    now: i64,
    weeks: usize,
) -> Result<Vec<i64>, sqlx::Error> {
    const WEEK: i64 = 7 * 24 * 3600;
    let span = i64::try_from(weeks).unwrap_or(0);
    let rows: Vec<(i64, i64)> = sql::query_as(
        "SELECT CAST(($2 - created_at) / 604800 AS BIGINT) AS ago, COUNT(*) AS n FROM follows \
         WHERE tenant_id = $1 AND target_kind = 'commune' AND created_at > $3 AND created_at <= $2 \
         GROUP BY ago",
    )
    .bind(tenant)
    .bind(now)
    .bind(now - span * WEEK)
    .fetch_all(db.reader().await?.sql())
    .await?;
    let mut counts = vec![0; weeks];
    for (ago, n) in rows {
        if let Some(slot) = usize::try_from(ago)
            .ok()
            .and_then(|ago| weeks.checked_sub(ago + 1))
            .and_then(|at| counts.get_mut(at))
        {
            *slot = n;
        }
    }
    Ok(counts)
}
