//! SQL for the commune page. Every statement takes a [`TenantTx`] and filters on its tenant.

use serde::Serialize;

use crate::db::{TenantSql, TenantTx, sql};
use crate::rows::Flag;
use crate::util::{new_id, now};

/// Editable content of the commune page.
#[derive(Debug, Clone, Serialize, Default, PartialEq, sql::Row)]
pub struct PageContent {
    /// Presentation text (plain text, paragraphs separated by blank lines).
    pub presentation: String,
    /// Whether a logo / coat of arms was uploaded.
    #[row(try_from = "Flag")]
    pub has_logo: bool,
    /// Whether a cover photo was uploaded.
    #[row(try_from = "Flag")]
    pub has_cover: bool,
    /// The cover's text alternative ('' when it only decorates).
    pub cover_alt: Option<String>,
    /// Last edit (Unix seconds).
    pub updated_at: i64,
}

/// A useful link.
#[derive(Debug, Clone, Serialize, PartialEq, sql::Row)]
pub struct Link {
    /// Id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Absolute http(s) URL.
    pub url: String,
}

/// A member of the municipal team.
#[derive(Debug, Clone, Serialize, PartialEq, sql::Row)]
pub struct TeamMember {
    /// Id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Function (« Maire », « 1re adjointe »…).
    pub role_label: String,
}

/// The page content (defaults when the tenant has none yet).
pub async fn page(tx: &mut TenantTx) -> Result<PageContent, sqlx::Error> {
    let page: Option<PageContent> = tx.scoped_as(
        "SELECT presentation, CAST(CASE WHEN logo IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_logo, \
         CAST(CASE WHEN cover IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_cover, cover_alt, updated_at \
         FROM commune_pages WHERE tenant_id = $1",
    )
    .fetch_optional(tx)
    .await?;
    Ok(page.unwrap_or_default())
}

/// Replaces the presentation.
pub async fn set_presentation(tx: &mut TenantTx, text: &str) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO commune_pages (tenant_id, presentation, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET presentation = excluded.presentation, updated_at = excluded.updated_at",
    )
    .bind(text)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores the logo (already re-encoded as PNG).
pub async fn set_logo(tx: &mut TenantTx, png: Vec<u8>) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO commune_pages (tenant_id, presentation, logo, logo_mime, updated_at) VALUES ($1, '', $2, 'image/png', $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET logo = excluded.logo, logo_mime = excluded.logo_mime, updated_at = excluded.updated_at",
    )
    .bind(png)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores the cover photo (already re-encoded as JPEG) and its text alternative, or removes
/// it (`None`).
pub async fn set_cover(
    tx: &mut TenantTx,
    cover: Option<(Vec<u8>, &str)>,
) -> Result<(), sqlx::Error> {
    let (jpeg, alt) = cover.map_or((None, None), |(j, a)| (Some(j), Some(a)));
    tx.scoped(
        "INSERT INTO commune_pages (tenant_id, presentation, cover, cover_alt, updated_at) VALUES ($1, '', $2, $3, $4) \
         ON CONFLICT (tenant_id) DO UPDATE SET cover = excluded.cover, cover_alt = excluded.cover_alt, updated_at = excluded.updated_at",
    )
    .bind(jpeg)
    .bind(alt)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(())
}

/// The cover photo's JPEG bytes.
pub async fn cover(tx: &mut TenantTx) -> Result<Option<Vec<u8>>, sqlx::Error> {
    tx.scoped_scalar("SELECT cover FROM commune_pages WHERE tenant_id = $1 AND cover IS NOT NULL")
        .fetch_optional(tx)
        .await
}

/// The logo bytes and type.
pub async fn logo(tx: &mut TenantTx) -> Result<Option<(Vec<u8>, String)>, sqlx::Error> {
    tx.scoped_as(
        "SELECT logo, logo_mime FROM commune_pages WHERE tenant_id = $1 AND logo IS NOT NULL",
    )
    .fetch_optional(tx)
    .await
}

/// Useful links, in order.
pub async fn links(tx: &mut TenantTx) -> Result<Vec<Link>, sqlx::Error> {
    tx.scoped_as(
        "SELECT id, label, url FROM commune_links WHERE tenant_id = $1 ORDER BY position, id",
    )
    .fetch_all(tx)
    .await
}

/// An elected official of the commune, from the national registry (RNE).
#[derive(Debug, Clone, Serialize, PartialEq, sql::Row)]
pub struct Elected {
    /// Registry key (profile page `/elus/<id>`).
    pub id: String,
    /// First name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// `M` or `F`, as published (for « conseiller » / « conseillère »).
    pub sex: Option<String>,
    /// The account that claimed the profile (never shown: it finds the photo).
    #[serde(skip)]
    pub account_id: Option<String>,
    /// `/media/<id>` of the claimed account's small photo, when it has one (filled by the
    /// page, not by this query).
    #[row(skip)]
    pub photo_url: Option<String>,
    /// Functions held (« Maire », « 1er adjoint au maire »), best first; empty for a councillor
    /// (one row per mandate: gathered after the rows).
    #[row(skip)]
    pub functions: Vec<String>,
}

/// One current mandate of the council: the official, and the function it is for ('' for a
/// councillor).
#[derive(sql::Row)]
struct Mandate {
    #[row(flatten)]
    official: Elected,
    function_label: String,
}

/// The current municipal council from the registry: the mayor first, then deputies by rank,
/// then councillors by name. (The birth date is never read here.)
pub async fn council(tx: &mut TenantTx) -> Result<Vec<Elected>, sqlx::Error> {
    let mandates: Vec<Mandate> = tx.scoped_as(
        "SELECT o.id, o.first_name, o.last_name, o.sex, o.account_id, m.function_label, m.function_rank FROM mandates m \
         JOIN officials o ON o.tenant_id = m.tenant_id AND o.id = m.official_id \
         WHERE m.tenant_id = $1 AND m.ended_at IS NULL \
         ORDER BY m.function_rank, o.last_name, o.first_name",
    )
    .fetch_all(tx)
    .await?;
    let mut order: Vec<String> = Vec::new();
    let mut by_id: std::collections::HashMap<String, Elected> = std::collections::HashMap::new();
    for Mandate {
        official,
        function_label: label,
    } in mandates
    {
        let entry = by_id.entry(official.id.clone()).or_insert_with(|| {
            order.push(official.id.clone());
            official
        });
        let label = crate::officials::titles::function_title(&label, entry.sex.as_deref());
        if !label.is_empty() && !entry.functions.contains(&label) {
            entry.functions.push(label);
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect())
}

/// The municipal team, in order.
pub async fn team(tx: &mut TenantTx) -> Result<Vec<TeamMember>, sqlx::Error> {
    tx.scoped_as(
        "SELECT id, name, role_label FROM team_members WHERE tenant_id = $1 ORDER BY position, id",
    )
    .fetch_all(tx)
    .await
}

async fn next_position(tx: &mut TenantTx, table: &str) -> Result<i64, sqlx::Error> {
    tx.scoped_scalar(&format!(
        "SELECT COALESCE(MAX(position), 0) + 1 AS p FROM {table} WHERE tenant_id = $1"
    ))
    .fetch_one(tx)
    .await
}

/// Appends a link.
pub async fn add_link(tx: &mut TenantTx, label: &str, url: &str) -> Result<String, sqlx::Error> {
    let position = next_position(tx, "commune_links").await?;
    let id = new_id();
    tx.scoped("INSERT INTO commune_links (tenant_id, id, label, url, position) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(label)
        .bind(url)
        .bind(position)
        .execute(tx)
        .await?;
    Ok(id)
}

/// Appends a team member.
pub async fn add_member(
    tx: &mut TenantTx,
    name: &str,
    role_label: &str,
) -> Result<String, sqlx::Error> {
    let position = next_position(tx, "team_members").await?;
    let id = new_id();
    tx.scoped("INSERT INTO team_members (tenant_id, id, name, role_label, position) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(name)
        .bind(role_label)
        .bind(position)
        .execute(tx)
        .await?;
    Ok(id)
}

/// Removes a link; false when this tenant has no such link.
pub async fn remove_link(tx: &mut TenantTx, id: &str) -> Result<bool, sqlx::Error> {
    let done = tx
        .scoped("DELETE FROM commune_links WHERE tenant_id = $1 AND id = $2")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a team member; false when this tenant has no such member.
pub async fn remove_member(tx: &mut TenantTx, id: &str) -> Result<bool, sqlx::Error> {
    let done = tx
        .scoped("DELETE FROM team_members WHERE tenant_id = $1 AND id = $2")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() == 1)
}
