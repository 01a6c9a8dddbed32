//! SQL for comments, reactions and evaluations. Every statement runs in a [`TenantTx`] and is
//! bound to its tenant, except the counts of a page of posts from several communes, which are
//! public and come from one query that returns nothing but counts.

use crate::db::Sql as _;
use std::collections::HashMap;

use serde::Serialize;

use crate::db::{Backend, Db, TenantSql, TenantTx, sql};
use crate::feed::store::PostScope;
use crate::types::{AccountId, TenantId};
use crate::util::{new_id, now};

/// The reactions, a small fixed and neutral set: (stored value, French label).
pub const REACTIONS: [(&str, &str); 3] = [
    ("utile", "Utile"),
    ("merci", "Merci"),
    ("soutien", "Je soutiens"),
];

/// How many accounts gave one reaction.
#[derive(Debug, Clone, Serialize)]
pub struct ReactionCount {
    /// Stored value (the form's).
    pub key: &'static str,
    /// French label.
    pub label: &'static str,
    /// Accounts that gave it.
    pub count: i64,
    /// Whether the viewer gave it (post page only).
    pub mine: bool,
}

/// Comments, reactions and evaluations of one post.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Visible comments.
    pub comments: i64,
    /// Each reaction of [`REACTIONS`], in order.
    pub reactions: Vec<ReactionCount>,
    /// Evaluations.
    pub ratings: i64,
    /// Their average, in French notation (« 4,2 »), when there is one.
    pub average: Option<String>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            comments: 0,
            reactions: REACTIONS
                .iter()
                .map(|&(key, label)| ReactionCount {
                    key,
                    label,
                    count: 0,
                    mine: false,
                })
                .collect(),
            ratings: 0,
            average: None,
        }
    }
}

fn average(total: i64, count: i64) -> Option<String> {
    (count > 0).then(|| format!("{:.1}", total as f64 / count as f64).replace('.', ","))
}

/// The summaries of some posts of the transaction's tenant, in one query.
pub async fn summaries_in(
    tx: &mut TenantTx,
    posts: &[&str],
) -> Result<HashMap<String, Summary>, sqlx::Error> {
    let scope = PostScope::within(tx.tenant_id(), posts);
    if scope.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = count_sql(&scope, "");
    let rows = scope.bind_scoped(tx.scoped_as(&sql)).fetch_all(tx).await?;
    Ok(fold(rows))
}

/// The summaries of published posts of several communes (a feed page), in one query; a
/// hidden post counts nothing here. Only counts cross communes: on PostgreSQL they come from
/// `post_engagement_counts` (migration 0019), which returns nothing else, while the rows
/// themselves (who reacted, who gave which note, comments) stay behind each commune's wall.
pub async fn summaries(
    db: &Db,
    posts: &[(TenantId, &str)],
) -> Result<HashMap<String, Summary>, sqlx::Error> {
    if posts.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = match db.backend() {
        Backend::Postgres => {
            let values = (0..posts.len())
                .map(|i| {
                    format!(
                        "(CAST(${} AS BIGINT), CAST(${} AS TEXT))",
                        2 * i + 1,
                        2 * i + 2
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT v.post_id, c.kind AS k, c.n, c.total FROM (VALUES {values}) AS v(tenant_id, post_id) \
                 CROSS JOIN LATERAL post_engagement_counts(v.tenant_id, v.post_id) c"
            );
            let mut query = sql::query_as(&sql);
            for (tenant, post) in posts {
                query = query.bind(tenant).bind(*post);
            }
            query.fetch_all(db.reader().await?.sql()).await?
        }
        // No Row-Level Security on SQLite: the same counts, of published posts only.
        Backend::Sqlite => {
            let scope = PostScope::of(posts);
            let sql = count_sql(&scope, PUBLISHED);
            scope
                .bind(sql::query_as(&sql))
                .fetch_all(db.reader().await?.sql())
                .await?
        }
    };
    Ok(fold(rows))
}

/// Restricts a count to the rows of published posts (`t` is the counted table).
const PUBLISHED: &str = " AND EXISTS (SELECT 1 FROM posts p WHERE p.tenant_id = t.tenant_id \
                          AND p.id = t.post_id AND p.hidden_at IS NULL)";

/// Counts for the posts of `scope`, with `extra` conditions on each counted table `t`.
fn count_sql(scope: &PostScope<'_>, extra: &str) -> String {
    let scope_sql = scope.sql();
    format!(
        "SELECT post_id, 'comment' AS k, COUNT(*) AS n, CAST(0 AS BIGINT) AS total FROM post_comments t \
         WHERE {scope_sql} AND hidden_at IS NULL{extra} GROUP BY post_id \
         UNION ALL SELECT post_id, reaction AS k, COUNT(*) AS n, CAST(0 AS BIGINT) AS total FROM post_reactions t \
         WHERE {scope_sql}{extra} GROUP BY post_id, reaction \
         UNION ALL SELECT post_id, 'rating' AS k, COUNT(*) AS n, CAST(SUM(value) AS BIGINT) AS total FROM post_ratings t \
         WHERE {scope_sql}{extra} GROUP BY post_id"
    )
}

/// One count of a post, as both backends' count queries return it: its visible comments
/// (`k` = `comment`), the accounts that gave one reaction (`k` = the reaction), or its
/// evaluations (`k` = `rating`, with the sum of their values in `total`; 0 otherwise).
#[derive(sql::Row)]
struct Count {
    post_id: String,
    k: String,
    n: i64,
    total: i64,
}

/// Summaries from counts.
fn fold(counts: Vec<Count>) -> HashMap<String, Summary> {
    let mut out: HashMap<String, Summary> = HashMap::new();
    for Count {
        post_id,
        k,
        n,
        total,
    } in counts
    {
        let summary = out.entry(post_id).or_default();
        match k.as_str() {
            "comment" => summary.comments = n,
            "rating" => {
                summary.ratings = n;
                summary.average = average(total, n);
            }
            reaction => {
                if let Some(r) = summary.reactions.iter_mut().find(|r| r.key == reaction) {
                    r.count = n;
                }
            }
        }
    }
    out
}

/// What the viewer gave a post: its reactions and its evaluation.
pub async fn given_by(
    tx: &mut TenantTx,
    post: &str,
    account: &AccountId,
) -> Result<(Vec<String>, Option<i64>), sqlx::Error> {
    let reactions: Vec<String> = tx
        .scoped_scalar(
            "SELECT reaction FROM post_reactions WHERE tenant_id = $1 AND post_id = $2 AND account_id = $3",
        )
        .bind(post)
        .bind(&account.0)
        .fetch_all(tx)
        .await?;
    let rating: Option<i64> = tx
        .scoped_scalar(
            "SELECT value FROM post_ratings WHERE tenant_id = $1 AND post_id = $2 AND account_id = $3",
        )
        .bind(post)
        .bind(&account.0)
        .fetch_optional(tx)
        .await?;
    Ok((reactions, rating))
}

/// A comment as the post page shows it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Comment {
    /// Id (UUIDv7, time-ordered: the cursor of the comment pages).
    pub id: String,
    /// Its author's account.
    #[serde(skip)]
    #[row(rename = "author_account_id")]
    pub author: AccountId,
    /// Its author's name (« Compte supprimé » once the account is deleted).
    #[row(rename = "display_name")]
    pub author_name: String,
    /// Plain text, escaped by the template.
    pub body: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A post's visible comments, oldest first, strictly after the `after` cursor.
pub async fn comments(
    tx: &mut TenantTx,
    post: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Comment>, sqlx::Error> {
    tx.scoped_as(
        "SELECT c.id, c.author_account_id, a.display_name, c.body, c.created_at FROM post_comments c \
         JOIN accounts a ON a.id = c.author_account_id \
         WHERE c.tenant_id = $1 AND c.post_id = $2 AND c.hidden_at IS NULL AND ($3 = '' OR c.id > $3) \
         ORDER BY c.id LIMIT $4",
    )
    .bind(post)
    .bind(after.unwrap_or_default())
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Adds a comment to a post; returns its id.
pub async fn add_comment(
    tx: &mut TenantTx,
    post: &str,
    author: &AccountId,
    body: &str,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    tx.scoped(
        "INSERT INTO post_comments (tenant_id, id, post_id, author_account_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(post)
    .bind(&author.0)
    .bind(body)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(id)
}

/// Deletes a comment of `post` written by `author`; false when there is none.
pub async fn delete_comment(
    tx: &mut TenantTx,
    post: &str,
    comment: &str,
    author: &AccountId,
) -> Result<bool, sqlx::Error> {
    let done = tx
        .scoped(
            "DELETE FROM post_comments WHERE tenant_id = $1 AND post_id = $2 AND id = $3 AND author_account_id = $4",
        )
        .bind(post)
        .bind(comment)
        .bind(&author.0)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives (`on`) or takes back a reaction; idempotent, so a double submit counts once.
pub async fn set_reaction(
    tx: &mut TenantTx,
    post: &str,
    account: &AccountId,
    reaction: &str,
    on: bool,
) -> Result<(), sqlx::Error> {
    if on {
        tx.scoped(
            "INSERT INTO post_reactions (tenant_id, post_id, account_id, reaction, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(post)
        .bind(&account.0)
        .bind(reaction)
        .bind(now())
        .execute(tx)
        .await?;
    } else {
        tx.scoped(
            "DELETE FROM post_reactions WHERE tenant_id = $1 AND post_id = $2 AND account_id = $3 AND reaction = $4",
        )
        .bind(post)
        .bind(&account.0)
        .bind(reaction)
        .execute(tx)
        .await?;
    }
    Ok(())
}

/// Records or changes the account's evaluation of a post: one row per account and post.
pub async fn rate(
    tx: &mut TenantTx,
    post: &str,
    account: &AccountId,
    value: i64,
) -> Result<(), sqlx::Error> {
    let at = now();
    tx.scoped(
        "INSERT INTO post_ratings (tenant_id, post_id, account_id, value, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (tenant_id, post_id, account_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(post)
    .bind(&account.0)
    .bind(value)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether the account may take part: its address is verified and it is not deleted.
pub async fn is_verified(db: &Db, account: &AccountId) -> Result<bool, sqlx::Error> {
    let row = sql::query(
        "SELECT 1 AS one FROM accounts WHERE id = $1 AND email_verified_at IS NOT NULL AND deleted_at IS NULL",
    )
    .bind(&account.0)
    .fetch_optional(db.reader().await?.sql())
    .await?;
    Ok(row.is_some())
}

/// Account deletion (in the deletion's platform transaction): its reactions and evaluations
/// go (counts drop); its comments stay, signed « Compte supprimé » like its posts.
pub async fn forget_account(
    conn: &mut sqlx::AnyConnection,
    account: &AccountId,
) -> Result<(), sqlx::Error> {
    for statement in [
        "DELETE FROM post_reactions WHERE account_id = $1",
        "DELETE FROM post_ratings WHERE account_id = $1",
    ] {
        sql::query(statement)
            .bind(&account.0)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// What this feature keeps about a person (see [`crate::privacy::personal`]).
pub struct Personal;

#[async_trait::async_trait]
impl crate::privacy::personal::PersonalData for Personal {
    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    async fn export(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
        out: &mut crate::privacy::personal::Export,
    ) -> Result<(), sqlx::Error> {
        out.rows(
            conn,
            "comments",
            "SELECT t.slug AS commune, c.post_id, c.id, c.body, c.created_at, c.hidden_at FROM post_comments c \
             JOIN tenants t ON t.id = c.tenant_id WHERE c.author_account_id = $1 ORDER BY c.id",
            account,
        )
        .await?;
        out.rows(
            conn,
            "reactions",
            "SELECT t.slug AS commune, r.post_id, r.reaction, r.created_at FROM post_reactions r \
             JOIN tenants t ON t.id = r.tenant_id WHERE r.account_id = $1",
            account,
        )
        .await?;
        out.rows(
            conn,
            "evaluations",
            "SELECT t.slug AS commune, r.post_id, r.value, r.created_at, r.updated_at FROM post_ratings r \
             JOIN tenants t ON t.id = r.tenant_id WHERE r.account_id = $1",
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
        forget_account(conn, account).await
    }
}
