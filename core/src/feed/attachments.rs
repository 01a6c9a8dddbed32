//! Images and PDF documents attached to a post. The publish form has fixed slots (up to
//! [`MAX_IMAGES`] images, each with its text alternative, and [`MAX_DOCUMENTS`] PDFs, each with
//! a title), so it works without JavaScript. Everything is checked and cleaned before the
//! post's transaction opens; the files are stored as tenant media in that same transaction, so
//! a refused file leaves neither a post nor a stray file behind.

use crate::db::Sql as _;
use std::collections::HashMap;

use axum::body::Bytes;
use serde::Serialize;

use crate::db::{Db, TenantSql, TenantTx, sql};
use crate::feed::store::PostScope;
use crate::media::image::{Cleaned, Fit, clean_blocking};
use crate::media::store::{self as media, NewMedia};
use crate::media::upload::Form;
use crate::media::{HumanSize, MediaError, pdf};
use crate::types::{AccountId, TenantId};

/// Images a post may carry.
pub const MAX_IMAGES: usize = 4;
/// PDF documents a post may carry.
pub const MAX_DOCUMENTS: usize = 2;
/// Largest image file accepted.
pub const MAX_IMAGE_BYTES: usize = 8 << 20;
/// Largest PDF accepted.
pub const MAX_DOCUMENT_BYTES: usize = 10 << 20;
/// Longest text alternative or document title.
pub const MAX_LABEL: usize = 300;
/// Reading size of an image (both sides fit in it).
const IMAGE_BOX: u32 = 1600;
/// Card size of an image.
const THUMB_BOX: u32 = 640;

/// Everything the publish form may upload, for [`crate::media::upload::body_limit`].
pub const MAX_TOTAL_BYTES: usize =
    MAX_IMAGES * MAX_IMAGE_BYTES + MAX_DOCUMENTS * MAX_DOCUMENT_BYTES;

/// The form's file fields and their limits: `image_1…` and `document_1…`.
pub fn file_fields() -> Vec<(String, usize)> {
    (1..=MAX_IMAGES)
        .map(|i| (format!("image_{i}"), MAX_IMAGE_BYTES))
        .chain((1..=MAX_DOCUMENTS).map(|i| (format!("document_{i}"), MAX_DOCUMENT_BYTES)))
        .collect()
}

/// Why the attachments of a publish form are refused: a French message and its status.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// A missing or too long label (422).
    #[error("{0}")]
    Label(String),
    /// A file that is not what its slot takes, or too large.
    #[error("{slot} : {error}")]
    File {
        /// « Image 2 », « Document 1 ».
        slot: String,
        /// Why.
        error: MediaError,
    },
}

impl AttachmentError {
    /// 413 for a file too large, 422 otherwise.
    pub fn status(&self) -> axum::http::StatusCode {
        match self {
            AttachmentError::File { error, .. } => match error {
                MediaError::Unreadable => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                other => other.status(),
            },
            AttachmentError::Label(_) => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// The attachments of a publish form, read but not yet checked.
#[derive(Debug, Default)]
pub struct Submitted {
    images: Vec<(usize, Bytes, String)>,
    documents: Vec<(usize, Bytes, String)>,
}

fn label(form: &Form, field: &str, missing: String) -> Result<String, AttachmentError> {
    let text = form.text(field).trim();
    if text.is_empty() {
        return Err(AttachmentError::Label(missing));
    }
    if text.chars().count() > MAX_LABEL {
        return Err(AttachmentError::Label(format!(
            "Le texte « {} » dépasse {MAX_LABEL} caractères.",
            text.chars().take(40).collect::<String>()
        )));
    }
    Ok(text.to_string())
}

impl Submitted {
    /// Reads the slots of the form: each file needs its text alternative or title.
    pub fn from_form(form: &Form) -> Result<Submitted, AttachmentError> {
        let mut out = Submitted::default();
        for i in 1..=MAX_IMAGES {
            if let Some(bytes) = form.files.get(&format!("image_{i}")) {
                let alt = label(
                    form,
                    &format!("alt_{i}"),
                    format!(
                        "Décrivez l'image {i} en une phrase : ce texte est lu aux personnes qui ne la voient pas."
                    ),
                )?;
                out.images.push((i, bytes.clone(), alt));
            }
        }
        for i in 1..=MAX_DOCUMENTS {
            if let Some(bytes) = form.files.get(&format!("document_{i}")) {
                let title = label(
                    form,
                    &format!("document_title_{i}"),
                    format!("Donnez un titre au document {i}."),
                )?;
                out.documents.push((i, bytes.clone(), title));
            }
        }
        Ok(out)
    }

    /// Whether nothing was attached.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.documents.is_empty()
    }

    /// Checks every file and cleans the images (decoded off the async workers); nothing is
    /// stored yet.
    pub async fn prepare(self) -> Result<Prepared, AttachmentError> {
        let mut images = Vec::with_capacity(self.images.len());
        for (i, bytes, alt) in self.images {
            let file = |error| AttachmentError::File {
                slot: format!("Image {i}"),
                error,
            };
            let sizes = clean_blocking(bytes, vec![Fit::Within(IMAGE_BOX), Fit::Within(THUMB_BOX)])
                .await
                .map_err(file)?;
            let [large, thumb]: [Cleaned; 2] =
                sizes.try_into().map_err(|_| file(MediaError::NotAnImage))?;
            images.push(PreparedImage { large, thumb, alt });
        }
        let mut documents = Vec::with_capacity(self.documents.len());
        for (i, bytes, title) in self.documents {
            pdf::check(&bytes, MAX_DOCUMENT_BYTES).map_err(|error| AttachmentError::File {
                slot: format!("Document {i}"),
                error,
            })?;
            documents.push((bytes, title));
        }
        Ok(Prepared { images, documents })
    }
}

struct PreparedImage {
    large: Cleaned,
    thumb: Cleaned,
    alt: String,
}

/// Checked attachments, ready to store with their post.
pub struct Prepared {
    images: Vec<PreparedImage>,
    documents: Vec<(Bytes, String)>,
}

/// A document's download name: its title, with `.pdf`.
fn filename(title: &str) -> String {
    let stem: String = title.chars().take(100).collect();
    format!("{}.pdf", stem.trim().trim_end_matches(".pdf"))
}

/// One `post_attachments` row.
struct Row<'a> {
    kind: &'a str,
    media: &'a str,
    /// The card-size image and its size (images only).
    thumb: Option<(&'a str, u32, u32)>,
    label: &'a str,
    byte_size: usize,
}

/// Stores the attachments of a new post in its transaction, images first, in form order.
pub async fn insert(
    tx: &mut TenantTx,
    post: &str,
    account: &AccountId,
    prepared: &Prepared,
) -> Result<(), sqlx::Error> {
    let mut rows = Vec::new();
    for image in &prepared.images {
        let large =
            media::insert_tenant(tx, &NewMedia::image("post-image", account, &image.large)).await?;
        let thumb = media::insert_tenant(
            tx,
            &NewMedia::image("post-image-card", account, &image.thumb),
        )
        .await?;
        rows.push((large, Some(thumb), image));
    }
    let mut documents = Vec::new();
    for (bytes, title) in &prepared.documents {
        let name = filename(title);
        let new = NewMedia {
            purpose: "post-document",
            account,
            content_type: "application/pdf",
            filename: Some(&name),
            size: None,
            bytes,
        };
        documents.push((media::insert_tenant(tx, &new).await?, title, bytes.len()));
    }
    let images = rows.iter().map(|(large, thumb, image)| Row {
        kind: "image",
        media: large,
        thumb: thumb
            .as_deref()
            .map(|id| (id, image.thumb.width, image.thumb.height)),
        label: &image.alt,
        byte_size: image.large.bytes.len(),
    });
    let documents = documents.iter().map(|(id, title, size)| Row {
        kind: "document",
        media: id,
        thumb: None,
        label: title,
        byte_size: *size,
    });
    for (position, row) in (1i64..).zip(images.chain(documents)) {
        tx.scoped(
            "INSERT INTO post_attachments (tenant_id, post_id, position, kind, media_id, thumb_id, width, height, label, byte_size) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(post)
        .bind(position)
        .bind(row.kind)
        .bind(row.media)
        .bind(row.thumb.map(|t| t.0))
        .bind(row.thumb.map(|t| i64::from(t.1)))
        .bind(row.thumb.map(|t| i64::from(t.2)))
        .bind(row.label)
        .bind(row.byte_size as i64)
        .execute(tx)
        .await?;
    }
    Ok(())
}

/// One attachment as cards and post pages show it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Attachment {
    /// `image` or `document`.
    pub kind: String,
    /// The image at reading size, or the PDF (set by the page, which knows the host).
    #[row(skip)]
    pub url: String,
    /// The image at card size (set with `url`).
    #[row(skip)]
    pub thumb_url: Option<String>,
    /// Card size, for the `width`/`height` attributes.
    pub width: Option<i64>,
    /// Card size.
    pub height: Option<i64>,
    /// Text alternative or title.
    pub label: String,
    /// « 1,2 Mo ».
    #[row(rename = "byte_size", try_from = "HumanSize")]
    pub size: String,
    #[serde(skip)]
    media_id: String,
    #[serde(skip)]
    thumb_id: Option<String>,
}

impl Attachment {
    /// Points the links at `origin` (a post's commune serves its media on its own host).
    pub fn link(&mut self, origin: &str) {
        self.url = format!("{origin}{}", crate::media::routes::url(&self.media_id));
        self.thumb_url = self
            .thumb_id
            .as_deref()
            .map(|id| format!("{origin}{}", crate::media::routes::url(id)));
    }
}

/// The attachments of some posts of the transaction's tenant (a post page), by post id.
pub async fn of_posts_in(
    tx: &mut TenantTx,
    posts: &[&str],
) -> Result<HashMap<String, Vec<Attachment>>, sqlx::Error> {
    let scope = PostScope::within(tx.tenant_id(), posts);
    if scope.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = select(&scope, "");
    let rows = scope
        .bind_scoped(tx.scoped_as::<OfPost>(&sql))
        .fetch_all(tx)
        .await?;
    Ok(by_post(rows))
}

/// The attachments of published posts of several communes (a feed page), by post id, in one
/// query: like the posts they belong to, they are public while the post is published
/// (PostgreSQL's `published_read` policy, migration 0019); a hidden post's stay its commune's.
pub async fn of_posts(
    db: &Db,
    posts: &[(TenantId, &str)],
) -> Result<HashMap<String, Vec<Attachment>>, sqlx::Error> {
    let scope = PostScope::of(posts);
    if scope.is_empty() {
        return Ok(HashMap::new());
    }
    // The policy already filters on PostgreSQL; SQLite has none, so the query says it too.
    let published = " AND EXISTS (SELECT 1 FROM posts p WHERE p.tenant_id = a.tenant_id \
                     AND p.id = a.post_id AND p.hidden_at IS NULL)";
    let sql = select(&scope, published);
    let rows = scope
        .bind(sql::query_as::<OfPost>(&sql))
        .fetch_all(db.reader().await?.sql())
        .await?;
    Ok(by_post(rows))
}

/// The statement reading the attachments of the posts of `scope`, with `extra` conditions on
/// `a`, the attachment.
fn select(scope: &PostScope<'_>, extra: &str) -> String {
    format!(
        "SELECT post_id, kind, media_id, thumb_id, width, height, label, byte_size FROM post_attachments a \
         WHERE {}{extra} ORDER BY post_id, position",
        scope.sql()
    )
}

/// Attachment rows grouped by post, in their order.
fn by_post(rows: Vec<OfPost>) -> HashMap<String, Vec<Attachment>> {
    let mut out: HashMap<String, Vec<Attachment>> = HashMap::new();
    for OfPost {
        post_id,
        attachment,
    } in rows
    {
        out.entry(post_id).or_default().push(attachment);
    }
    out
}

/// An attachment row with the post it belongs to.
#[derive(sql::Row)]
struct OfPost {
    post_id: String,
    #[row(flatten)]
    attachment: Attachment,
}

#[cfg(test)]
mod tests {
    #[test]
    fn documents_download_under_their_title() {
        assert_eq!(super::filename("Compte rendu"), "Compte rendu.pdf");
        assert_eq!(super::filename("budget.pdf"), "budget.pdf");
    }
}
