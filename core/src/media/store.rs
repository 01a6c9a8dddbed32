//! SQL for stored media. Two homes, one shape:
//! - `account_media`: media an account owns across the platform (its avatar): accounts are
//!   global, so these rows belong to no tenant and go with the account;
//! - `media`: media a commune's content owns (a candidate's photo, a post's attachment), keyed
//!   by `(tenant_id, id)` and reached only through the tenant's transaction (Row-Level Security
//!   on PostgreSQL).
//!
//! Rows are immutable: replacing a file is a new id, so `GET /media/<id>` caches forever.

use sha2::{Digest as _, Sha256};

use crate::db::{TenantSql, TenantTx, sql};
use crate::rows::Flag;
use crate::types::AccountId;
use crate::util::{new_id, now};

/// A file to store.
#[derive(Debug, Clone, Copy)]
pub struct NewMedia<'a> {
    /// What it is for (`avatar`, `avatar-small`, `candidate-photo`, `attachment`…).
    pub purpose: &'a str,
    /// Who uploaded it.
    pub account: &'a AccountId,
    /// MIME type served.
    pub content_type: &'a str,
    /// File name offered on download (PDFs), already shown to nobody else.
    pub filename: Option<&'a str>,
    /// Pixel size of images.
    pub size: Option<(u32, u32)>,
    /// The content (already cleaned or checked).
    pub bytes: &'a [u8],
}

impl<'a> NewMedia<'a> {
    /// A cleaned image.
    pub fn image(
        purpose: &'a str,
        account: &'a AccountId,
        image: &'a crate::media::image::Cleaned,
    ) -> NewMedia<'a> {
        NewMedia {
            purpose,
            account,
            content_type: image.content_type,
            filename: None,
            size: Some((image.width, image.height)),
            bytes: &image.bytes,
        }
    }
}

/// A stored file as served.
#[derive(Debug, Clone, sql::Row)]
pub struct Stored {
    /// MIME type.
    pub content_type: String,
    /// File name for downloads.
    pub filename: Option<String>,
    /// SHA-256 of the content, hex (the ETag).
    pub sha256: String,
    /// Content.
    pub bytes: Vec<u8>,
    /// Withheld from the public: a file of a hidden post, or a withdrawn candidate's photo.
    /// The commune's moderators still see it (they review what they hid).
    #[row(try_from = "Flag")]
    pub withheld: bool,
}

/// Metadata of a stored file (exports, listings).
#[derive(Debug, Clone, serde::Serialize, sql::Row)]
pub struct Meta {
    /// Id (`/media/<id>`).
    pub id: String,
    /// Purpose.
    pub purpose: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub byte_size: i64,
    /// Unix seconds.
    pub created_at: i64,
}

const COLUMNS: &str = "id, account_id, purpose, content_type, filename, width, height, byte_size, sha256, bytes, created_at";

fn binds<Q: sql::Bind>(q: Q, id: &str, m: &NewMedia<'_>) -> Q {
    q.bind(id.to_string())
        .bind(&m.account.0)
        .bind(m.purpose)
        .bind(m.content_type)
        .bind(m.filename)
        .bind(m.size.map(|s| i64::from(s.0)))
        .bind(m.size.map(|s| i64::from(s.1)))
        .bind(m.bytes.len() as i64)
        .bind(hex::encode(Sha256::digest(m.bytes)))
        .bind(m.bytes.to_vec())
        .bind(now())
}

/// Stores an account's media (platform-wide); returns its id.
pub async fn insert_platform(
    conn: &mut sqlx::AnyConnection,
    m: &NewMedia<'_>,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let sql = format!(
        "INSERT INTO account_media ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    );
    binds(sql::query(&sql), &id, m).execute(conn).await?;
    Ok(id)
}

/// Stores media owned by the transaction's tenant; returns its id.
pub async fn insert_tenant(
    tx: &mut impl TenantSql,
    m: &NewMedia<'_>,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let sql = format!(
        "INSERT INTO media (tenant_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    );
    binds(tx.scoped(&sql), &id, m).execute(tx).await?;
    Ok(id)
}

/// Deletes an account's media by id (only if that account owns it).
pub async fn delete_platform(
    conn: &mut sqlx::AnyConnection,
    account: &AccountId,
    id: &str,
) -> Result<(), sqlx::Error> {
    sql::query("DELETE FROM account_media WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(&account.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes a file a feature module kept (its `purpose` is `module:<id>`); false if the
/// module had none with this id.
pub async fn delete_module(
    tx: &mut impl TenantSql,
    id: &str,
    purpose: &str,
) -> Result<bool, sqlx::Error> {
    let done = tx
        .scoped("DELETE FROM media WHERE tenant_id = $1 AND id = $2 AND purpose = $3")
        .bind(id)
        .bind(purpose)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes the tenant's media by id.
pub async fn delete_tenant(tx: &mut TenantTx, id: &str) -> Result<(), sqlx::Error> {
    tx.scoped("DELETE FROM media WHERE tenant_id = $1 AND id = $2")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// An account's media, by id (any host serves it).
pub async fn platform(pool: &sqlx::AnyPool, id: &str) -> Result<Option<Stored>, sqlx::Error> {
    sql::query_as(
        "SELECT content_type, filename, sha256, bytes, 0 AS withheld FROM account_media WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The tenant's media, by id (only its own host serves it).
pub async fn tenant(tx: &mut TenantTx, id: &str) -> Result<Option<Stored>, sqlx::Error> {
    // Each test is an index probe (migration 0018): the file's attachments to a hidden post,
    // and a withdrawn candidacy showing it as photo.
    tx.scoped_as(
        "SELECT m.content_type, m.filename, m.sha256, m.bytes, \
         CASE WHEN EXISTS (SELECT 1 FROM post_attachments a JOIN posts p \
                 ON p.tenant_id = a.tenant_id AND p.id = a.post_id \
                 WHERE a.tenant_id = m.tenant_id AND a.media_id = m.id AND p.hidden_at IS NOT NULL) \
           OR EXISTS (SELECT 1 FROM post_attachments a JOIN posts p \
                 ON p.tenant_id = a.tenant_id AND p.id = a.post_id \
                 WHERE a.tenant_id = m.tenant_id AND a.thumb_id = m.id AND p.hidden_at IS NOT NULL) \
           OR EXISTS (SELECT 1 FROM candidates c \
                 WHERE c.tenant_id = m.tenant_id AND c.photo_id = m.id AND c.status = 'withdrawn') \
         THEN 1 ELSE 0 END AS withheld \
         FROM media m WHERE m.tenant_id = $1 AND m.id = $2",
    )
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Metadata of every platform media an account owns (its data export).
pub async fn of_account(
    conn: &mut sqlx::AnyConnection,
    account: &AccountId,
) -> Result<Vec<Meta>, sqlx::Error> {
    sql::query_as(
        "SELECT id, purpose, content_type, byte_size, created_at FROM account_media WHERE account_id = $1 ORDER BY id",
    )
    .bind(&account.0)
    .fetch_all(conn)
    .await
}
