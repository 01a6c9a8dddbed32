//! Rules of the commune page: what a valid edit is, how a logo is cleaned, the edits its
//! admins make (each in one transaction of the commune, then the cached page is dropped), and
//! the rendered page cache that keeps anonymous home pages fast.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use std::time::{Duration, Instant};

use image::{ImageFormat, ImageReader, Limits};

use crate::communes::store::{self, Link, PageContent, TeamMember};
use crate::db::{TenantDb, TenantTx};
use crate::media::MediaError;
use crate::types::TenantId;
use crate::web::Tenant;
use crate::web::render::Template;
use crate::web::shared::{Kept, Versioned};
use crate::web::site::CommuneSite;

/// Largest logo upload accepted.
pub const MAX_LOGO_BYTES: usize = 2 << 20;
/// Logos are scaled down to fit this box.
const LOGO_BOX: u32 = 512;

/// Why an edit of the commune page fails; a refusal's message says, in French, how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The input is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The logo is larger than [`MAX_LOGO_BYTES`].
    #[error("Le logo ne doit pas dépasser 2 Mo.")]
    LogoTooLarge,
    /// The logo's header was refused before any pixel was decoded.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The cleaned logo could not be encoded.
    #[error(transparent)]
    Encode(image::ImageError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Everything the home page shows from the tenant's own rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HomeContent {
    /// Presentation and logo flag.
    pub page: PageContent,
    /// Useful links.
    pub links: Vec<Link>,
    /// Municipal team entered by the commune's admins.
    pub team: Vec<TeamMember>,
    /// The municipal council from the national registry of elected officials.
    pub council: Vec<store::Elected>,
    /// How many of the council the page shows first: everyone, or, in a council larger than
    /// [`COUNCIL_SHOWN`], those holding a function (mayor and deputies, who come first); the
    /// other councillors fold under « Voir les … autres conseillers ».
    pub council_shown: usize,
    /// The presentation split into paragraphs (blank lines separate them).
    pub paragraphs: Vec<String>,
}

/// The largest council the commune's page shows whole (a commune of 1,000 to 3,499 inhabitants
/// has 15 seats); Paris has 163.
pub const COUNCIL_SHOWN: usize = 15;

/// How many of `council` (functions first) the page shows before the fold.
fn council_shown(council: &[store::Elected]) -> usize {
    if council.len() <= COUNCIL_SHOWN {
        return council.len();
    }
    match council
        .iter()
        .take_while(|e| !e.functions.is_empty())
        .count()
    {
        // No function known: the first ones, by name.
        0 => COUNCIL_SHOWN,
        holding => holding,
    }
}

/// Reads the home page content in one tenant transaction.
pub async fn home_content(db: &TenantDb) -> Result<HomeContent, sqlx::Error> {
    let mut tx = db.read().await?;
    let page = store::page(&mut tx).await?;
    let paragraphs = page
        .presentation
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let council = store::council(&mut tx).await?;
    let content = HomeContent {
        page,
        links: store::links(&mut tx).await?,
        team: store::team(&mut tx).await?,
        council_shown: council_shown(&council),
        council,
        paragraphs,
    };
    tx.commit().await?;
    Ok(content)
}

/// Checks a presentation text.
pub fn check_presentation(text: &str) -> Result<String, EditError> {
    let text = text.replace("\r\n", "\n");
    if text.chars().count() > 20_000 {
        return Err(EditError::Invalid(
            "La présentation est trop longue (20 000 caractères au plus).".into(),
        ));
    }
    Ok(text.trim().to_string())
}

/// Checks a link (label and absolute http(s) URL).
pub fn check_link(label: &str, url: &str) -> Result<(String, String), EditError> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 120 {
        return Err(EditError::Invalid(
            "Le libellé du lien doit compter entre 1 et 120 caractères.".into(),
        ));
    }
    let parsed = url::Url::parse(url.trim()).map_err(|_| {
        EditError::Invalid(format!(
            "« {} » n'est pas une adresse web valide (https://…).",
            url.trim()
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(EditError::Invalid(
            "Un lien doit commencer par https:// ou http://.".into(),
        ));
    }
    Ok((label.to_string(), parsed.to_string()))
}

/// Checks a team member.
pub fn check_member(name: &str, role_label: &str) -> Result<(String, String), EditError> {
    let (name, role) = (name.trim(), role_label.trim());
    if name.is_empty()
        || name.chars().count() > 120
        || role.is_empty()
        || role.chars().count() > 120
    {
        return Err(EditError::Invalid(
            "Le nom et la fonction doivent compter chacun entre 1 et 120 caractères.".into(),
        ));
    }
    Ok((name.to_string(), role.to_string()))
}

/// Decodes an uploaded image (PNG or JPEG), scales it into a 512 px box and re-encodes it as
/// PNG: what is stored is never the uploaded bytes (no metadata, no polyglot files).
pub fn clean_logo(bytes: &[u8]) -> Result<Vec<u8>, EditError> {
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(EditError::LogoTooLarge);
    }
    let not_image =
        || EditError::Invalid("Ce fichier n'est pas une image PNG ou JPEG lisible.".into());
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_image())?;
    if !matches!(reader.format(), Some(ImageFormat::Png | ImageFormat::Jpeg)) {
        return Err(not_image());
    }
    // The declared size is checked from the header before any pixel is decoded, with the
    // bounds of every other upload (issue 13: a small PNG may declare 40 megapixels).
    crate::media::image::dimensions(bytes)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(crate::media::image::MAX_INPUT_SIDE);
    limits.max_image_height = Some(crate::media::image::MAX_INPUT_SIDE);
    limits.max_alloc = Some(
        crate::media::image::MAX_INPUT_PIXELS * crate::media::image::MAX_DECODED_BYTES_PER_PIXEL
            + (32 << 20),
    );
    reader.limits(limits);
    let image = reader.decode().map_err(|_| not_image())?;
    let image = if image.width() > LOGO_BOX || image.height() > LOGO_BOX {
        image.thumbnail(LOGO_BOX, LOGO_BOX)
    } else {
        image
    };
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .map_err(EditError::Encode)?;
    Ok(out)
}

/// Runs one edit of the page in a write transaction of the commune; once committed, the
/// cached page is dropped so that visitors see the edit at once.
async fn edit<T>(
    cache: &HomeCache,
    tenant: &Tenant,
    edit: impl AsyncFnOnce(&mut TenantTx) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    let mut tx = tenant.db().begin_write().await?;
    let done = edit(&mut tx).await?;
    tx.commit().await?;
    cache.invalidate(tenant.id());
    Ok(done)
}

/// Replaces the commune's presentation (checked by [`check_presentation`]).
pub async fn set_presentation(
    cache: &HomeCache,
    tenant: &Tenant,
    text: &str,
) -> Result<(), EditError> {
    let text = check_presentation(text)?;
    edit(cache, tenant, async |tx| {
        store::set_presentation(tx, &text).await
    })
    .await?;
    Ok(())
}

/// Replaces the commune's logo with the uploaded image, cleaned by [`clean_logo`] before the
/// transaction opens.
pub async fn set_logo(cache: &HomeCache, tenant: &Tenant, upload: &[u8]) -> Result<(), EditError> {
    let png = clean_logo(upload)?;
    edit(cache, tenant, async |tx| store::set_logo(tx, png).await).await?;
    Ok(())
}

/// Sets the commune's colour (checked by [`identity::check_accent`]; an empty field goes back
/// to the platform's). The site's cache and the commune's cached page are dropped: this
/// process shows it at once, others within the resolver's 30 s.
pub async fn set_accent(
    db: &crate::db::Db,
    sites: &crate::web::site::SiteResolver,
    cache: &HomeCache,
    tenant: &Tenant,
    text: &str,
) -> Result<(), EditError> {
    let accent = crate::communes::identity::check_accent(text)
        .map_err(|e| EditError::Invalid(e.to_string()))?;
    crate::db::sql::query("UPDATE tenants SET accent = $1 WHERE id = $2")
        .bind(accent.map(|a| a.hex()))
        .bind(tenant.id())
        .execute(db.platform())
        .await?;
    sites.invalidate();
    cache.invalidate(tenant.id());
    Ok(())
}

/// Largest cover photo accepted (a phone's photo).
pub const MAX_COVER_BYTES: usize = 8 << 20;
/// The cover is scaled down to fit this box (pages show it full width, at most 1,600 px).
const COVER_BOX: u32 = 1_600;
/// Longest text alternative of the cover.
const MAX_COVER_ALT: usize = 200;

/// Replaces the commune's cover photo: decoded with the media pipeline's bounds, turned
/// upright, scaled and re-encoded as JPEG (no EXIF, no GPS position survives) before the
/// transaction opens. `alt` describes it; empty when it only decorates.
pub async fn set_cover(
    cache: &HomeCache,
    tenant: &Tenant,
    upload: axum::body::Bytes,
    alt: &str,
) -> Result<(), EditError> {
    let alt = alt.trim().to_string();
    if alt.chars().count() > MAX_COVER_ALT {
        return Err(EditError::Invalid(format!(
            "La description de la photo compte au plus {MAX_COVER_ALT} caractères."
        )));
    }
    let cleaned = crate::media::image::clean_blocking(
        upload,
        vec![crate::media::image::Fit::Within(COVER_BOX)],
    )
    .await?;
    let jpeg = cleaned
        .into_iter()
        .next()
        .map(|c| c.bytes)
        .ok_or(EditError::Media(MediaError::NotAnImage))?;
    edit(cache, tenant, async |tx| {
        store::set_cover(tx, Some((jpeg, alt.as_str()))).await
    })
    .await?;
    Ok(())
}

/// Removes the commune's cover photo.
pub async fn remove_cover(cache: &HomeCache, tenant: &Tenant) -> Result<(), EditError> {
    edit(cache, tenant, async |tx| store::set_cover(tx, None).await).await?;
    Ok(())
}

/// Appends a useful link (checked by [`check_link`]); returns its id.
pub async fn add_link(
    cache: &HomeCache,
    tenant: &Tenant,
    label: &str,
    url: &str,
) -> Result<String, EditError> {
    let (label, url) = check_link(label, url)?;
    Ok(edit(cache, tenant, async |tx| {
        store::add_link(tx, &label, &url).await
    })
    .await?)
}

/// Removes a useful link; false when the commune has no such link (nothing changed).
pub async fn remove_link(
    cache: &HomeCache,
    tenant: &Tenant,
    id: &str,
) -> Result<bool, sqlx::Error> {
    edit(cache, tenant, async |tx| store::remove_link(tx, id).await).await
}

/// Appends a member of the municipal team (checked by [`check_member`]); returns their id.
pub async fn add_member(
    cache: &HomeCache,
    tenant: &Tenant,
    name: &str,
    role_label: &str,
) -> Result<String, EditError> {
    let (name, role) = check_member(name, role_label)?;
    Ok(edit(cache, tenant, async |tx| {
        store::add_member(tx, &name, &role).await
    })
    .await?)
}

/// Removes a member of the municipal team; false when the commune has no such member.
pub async fn remove_member(
    cache: &HomeCache,
    tenant: &Tenant,
    id: &str,
) -> Result<bool, sqlx::Error> {
    edit(cache, tenant, async |tx| store::remove_member(tx, id).await).await
}

/// A commune's page, kept: rendered for anonymous visitors for a few seconds (a page read by
/// many costs one render; edits drop it at once), and what its page shows everyone, at its
/// commune's version ([`crate::web::shared`]), for the pages rendered for each person.
pub struct HomeCache {
    pages: RwLock<HashMap<TenantId, (Instant, Bytes)>>,
    shared: Versioned<TenantId, HomeShared>,
}

impl Default for HomeCache {
    fn default() -> Self {
        HomeCache {
            pages: RwLock::default(),
            shared: Versioned::new(SHARED_KEPT),
        }
    }
}

/// How many communes' shared parts are kept (about 40 KB each).
const SHARED_KEPT: usize = 2_000;

/// What a commune's page shows everyone, rendered at one version of the commune from contexts
/// with no viewer in them: its top, its latest news (unfiltered), and its presentation, team,
/// candidates, town hall and links; and its number of followers.
#[derive(Debug)]
pub struct HomeShared {
    /// `commune/home_head.html`, rendered.
    pub head_html: Kept,
    /// `commune/home_news.html` with the latest news, rendered.
    pub news_html: Kept,
    /// `commune/home_public.html`, rendered.
    pub public_html: Kept,
    /// Accounts following the commune.
    pub followers: i64,
}

/// `commune/home_head.html`: the commune's name, figures and logo.
#[derive(serde::Serialize)]
pub struct HomeHead<'a> {
    /// The commune.
    pub commune: &'a CommuneSite,
    /// Whether it has a logo.
    pub has_logo: bool,
    /// Its cover photo, if it has one.
    pub cover: Option<Cover>,
}

/// A commune's cover photo as its page shows it.
#[derive(serde::Serialize)]
pub struct Cover {
    /// Names the photo's address (`/couverture?v=…`): a new photo, a new address.
    pub version: i64,
    /// Its text alternative ('' when it only decorates).
    pub alt: String,
}

impl Template for HomeHead<'_> {
    const NAME: &'static str = "commune/home_head.html";
}

/// `commune/home_public.html`: the presentation, the municipal team, the candidates, the town
/// hall and the useful links.
#[derive(serde::Serialize)]
pub struct PublicSections<'a> {
    /// The commune.
    pub commune: &'a CommuneSite,
    /// The commune's content.
    pub content: &'a HomeContent,
    /// Published candidates, by name.
    pub candidates: &'a [crate::candidates::store::Candidate],
}

impl Template for PublicSections<'_> {
    const NAME: &'static str = "commune/home_public.html";
}

const HOME_TTL: Duration = Duration::from_secs(10);

impl HomeCache {
    /// The cached page, if fresh.
    pub fn get(&self, tenant: TenantId) -> Option<Bytes> {
        let pages = self.pages.read().ok()?;
        let (at, html) = pages.get(&tenant)?;
        (at.elapsed() < HOME_TTL).then(|| html.clone())
    }

    /// Stores a freshly rendered page.
    pub fn put(&self, tenant: TenantId, html: Bytes) {
        if let Ok(mut pages) = self.pages.write() {
            if pages.len() > 10_000 {
                pages.retain(|_, (at, _)| at.elapsed() < HOME_TTL);
            }
            pages.insert(tenant, (Instant::now(), html));
        }
    }

    /// What the commune's page shows everyone, if kept at `version`.
    pub fn shared(&self, tenant: TenantId, version: i64) -> Option<Arc<HomeShared>> {
        self.shared.get(&tenant, version)
    }

    /// Keeps what the commune's page shows everyone, read at `version` or later.
    pub fn put_shared(&self, tenant: TenantId, version: i64, shared: Arc<HomeShared>) {
        self.shared.put(tenant, version, shared);
    }

    /// Drops a tenant's anonymous page after an edit (its shared part goes with the version).
    pub fn invalidate(&self, tenant: TenantId) {
        if let Ok(mut pages) = self.pages.write() {
            pages.remove(&tenant);
        }
    }
}
