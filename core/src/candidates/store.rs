//! SQL for candidate profiles; every statement is bound to the tenant's transaction.

use serde::Serialize;

use crate::db::{TenantSql, TenantTx, sql};
use crate::media::routes::MediaUrl;
use crate::types::AccountId;
use crate::util::{new_id, now};

/// Elections a candidate profile may be for: (stored kind, label).
pub const ELECTIONS: &[(&str, &str)] = &[
    ("municipales", "Élections municipales"),
    ("municipales-partielles", "Élections municipales partielles"),
];

/// A candidate profile as pages show it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Candidate {
    /// Id.
    pub id: String,
    /// The candidate's account.
    #[serde(skip)]
    pub account_id: AccountId,
    /// Stored election kind.
    pub election_kind: String,
    /// Its label.
    #[row(rename = "election_kind", try_from = "ElectionLabel")]
    pub election_label: String,
    /// Election day, ISO.
    pub election_date: String,
    /// Name shown.
    pub display_name: String,
    /// Name of the list.
    pub list_name: String,
    /// Programme, markdown source.
    pub programme: String,
    /// Programme rendered by the safe markdown renderer.
    pub programme_html: String,
    /// `/media/<id>` of the photo.
    #[row(rename = "photo_id", try_from = "MediaUrl")]
    pub photo_url: Option<String>,
    /// Stored photo id.
    #[serde(skip)]
    pub photo_id: Option<String>,
    /// `published` or `withdrawn`.
    pub status: String,
    /// Why an admin withdrew it.
    pub withdrawn_reason: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// What a new profile holds (already checked).
pub struct NewCandidate<'a> {
    /// The candidate's account.
    pub account: &'a AccountId,
    /// Election kind.
    pub election_kind: &'a str,
    /// ISO date.
    pub election_date: &'a str,
    /// Name shown.
    pub display_name: &'a str,
    /// List name.
    pub list_name: &'a str,
    /// Markdown source.
    pub programme: &'a str,
    /// Rendered programme.
    pub programme_html: &'a str,
    /// Stored photo.
    pub photo_id: Option<&'a str>,
}

const SELECT: &str = "SELECT id, account_id, election_kind, election_date, display_name, list_name, programme, \
     programme_html, photo_id, status, withdrawn_reason, created_at FROM candidates";

/// A stored election kind read as its label from [`ELECTIONS`] (an unknown kind is shown as
/// stored): [`Candidate`]'s `election_label` reads `election_kind` through it.
#[derive(Debug, Clone)]
pub struct ElectionLabel(String);

sql::transparent!(ElectionLabel(String));

impl From<ElectionLabel> for String {
    fn from(kind: ElectionLabel) -> String {
        ELECTIONS
            .iter()
            .find(|(k, _)| *k == kind.0)
            .map_or(kind.0, |(_, l)| l.to_string())
    }
}

/// Creates a published profile; returns its id.
pub async fn insert(tx: &mut TenantTx, c: &NewCandidate<'_>) -> Result<String, sqlx::Error> {
    let id = new_id();
    tx.scoped(
        "INSERT INTO candidates (tenant_id, id, account_id, election_kind, election_date, display_name, list_name, \
         programme, programme_html, photo_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(&c.account.0)
    .bind(c.election_kind)
    .bind(c.election_date)
    .bind(c.display_name)
    .bind(c.list_name)
    .bind(c.programme)
    .bind(c.programme_html)
    .bind(c.photo_id)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(id)
}

/// Whether the account already has a published profile for this election.
pub async fn has_published(
    tx: &mut TenantTx,
    account: &AccountId,
    kind: &str,
    date: &str,
) -> Result<bool, sqlx::Error> {
    Ok(tx
        .scoped(
            "SELECT 1 AS one FROM candidates WHERE tenant_id = $1 AND account_id = $2 AND election_kind = $3 \
             AND election_date = $4 AND status = 'published'",
        )
        .bind(&account.0)
        .bind(kind)
        .bind(date)
        .fetch_optional(tx)
        .await?
        .is_some())
}

/// One profile of this tenant, whatever its status.
pub async fn get(tx: &mut TenantTx, id: &str) -> Result<Option<Candidate>, sqlx::Error> {
    tx.scoped_as(&format!("{SELECT} WHERE tenant_id = $1 AND id = $2"))
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// The published profiles of this tenant (unordered: the service sorts them).
pub async fn published(tx: &mut TenantTx) -> Result<Vec<Candidate>, sqlx::Error> {
    tx.scoped_as(&format!(
        "{SELECT} WHERE tenant_id = $1 AND status = 'published'"
    ))
    .fetch_all(tx)
    .await
}

/// Withdraws a published profile; false when it was not published.
pub async fn withdraw(
    tx: &mut TenantTx,
    id: &str,
    reason: &str,
    by: &AccountId,
) -> Result<bool, sqlx::Error> {
    let done = tx
        .scoped(
            "UPDATE candidates SET status = 'withdrawn', withdrawn_reason = $2, withdrawn_by = $3, withdrawn_at = $4 \
             WHERE tenant_id = $1 AND id = $5 AND status = 'published'",
        )
        .bind(reason)
        .bind(&by.0)
        .bind(now())
        .bind(id)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() == 1)
}
