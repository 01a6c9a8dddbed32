//! SQL for official profiles and claims; every statement is bound to the tenant's transaction.

use serde::Serialize;

use crate::db::{TenantSql, TenantTx, sql};
use crate::rows::Flag;
use crate::types::AccountId;
use crate::util::{new_id, now};

/// An official's public profile (never the birth date).
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Profile {
    /// Registry key within the commune.
    pub id: String,
    /// First name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// As the registry codes it: `F` or `M`.
    #[serde(skip)]
    pub sex: Option<String>,
    /// Current functions, best first, as pages say them (« 2e adjointe au maire »; empty:
    /// councillor; from the mandates, after the row).
    #[row(skip)]
    pub functions: Vec<String>,
    /// Whether an account owns the profile (set with `account_id`).
    #[row(skip)]
    pub claimed: bool,
    /// The owner, when claimed.
    #[serde(skip)]
    pub account_id: Option<AccountId>,
    /// Whether the official is the mayor (claims then need a platform admin; set with
    /// `functions`).
    #[row(skip)]
    pub is_mayor: bool,
}

/// One official of this tenant.
pub async fn profile(tx: &mut TenantTx, id: &str) -> Result<Option<Profile>, sqlx::Error> {
    let Some(mut profile) = tx
        .scoped_as::<Profile>(
            "SELECT id, first_name, last_name, sex, account_id FROM officials WHERE tenant_id = $1 AND id = $2",
        )
        .bind(id)
        .fetch_optional(tx)
        .await?
    else {
        return Ok(None);
    };
    let labels: Vec<String> = tx
        .scoped_scalar(
            "SELECT function_label FROM mandates WHERE tenant_id = $1 AND official_id = $2 AND ended_at IS NULL \
             AND function_label <> '' ORDER BY function_rank",
        )
        .bind(id)
        .fetch_all(tx)
        .await?;
    profile.functions = labels
        .iter()
        .map(|label| crate::officials::titles::function_title(label, profile.sex.as_deref()))
        .collect();
    profile.is_mayor = profile.functions.iter().any(|f| f == "Maire");
    profile.claimed = profile.account_id.is_some();
    Ok(Some(profile))
}

/// The official profile an account owns in this commune, if any.
pub async fn owned_by(
    tx: &mut TenantTx,
    account: &AccountId,
) -> Result<Option<Profile>, sqlx::Error> {
    let id: Option<String> = tx
        .scoped_scalar("SELECT id FROM officials WHERE tenant_id = $1 AND account_id = $2")
        .bind(&account.0)
        .fetch_optional(tx)
        .await?;
    match id {
        Some(id) => profile(tx, &id).await,
        None => Ok(None),
    }
}

/// Whether `birth_date` (ISO) is the registry's for this official.
pub async fn birth_date_matches(
    tx: &mut TenantTx,
    official: &str,
    birth_date: &str,
) -> Result<bool, sqlx::Error> {
    let row = tx
        .scoped(
            "SELECT 1 AS one FROM officials WHERE tenant_id = $1 AND id = $2 AND birth_date = $3",
        )
        .bind(official)
        .bind(birth_date)
        .fetch_optional(tx)
        .await?;
    Ok(row.is_some())
}

/// Whether this account already has a pending claim on this official.
pub async fn has_pending(
    tx: &mut TenantTx,
    official: &str,
    account: &AccountId,
) -> Result<bool, sqlx::Error> {
    let row = tx
        .scoped(
            "SELECT 1 AS one FROM official_claims WHERE tenant_id = $1 AND official_id = $2 AND account_id = $3 AND status = 'pending'",
        )
        .bind(official)
        .bind(&account.0)
        .fetch_optional(tx)
        .await?;
    Ok(row.is_some())
}

/// The registry's identity of an official: `(first name, family name, birth date)`.
pub async fn registry_identity(
    tx: &mut TenantTx,
    official: &str,
) -> Result<Option<(String, String, String)>, sqlx::Error> {
    tx.scoped_as(
        "SELECT first_name, last_name, birth_date FROM officials WHERE tenant_id = $1 AND id = $2",
    )
    .bind(official)
    .fetch_optional(tx)
    .await
}

/// How a claim was checked against the claimant's FranceConnect identity.
#[derive(Debug, Clone, Copy)]
pub enum Verification<'a> {
    /// Not checked (no identity linked).
    None,
    /// Names and birth date matched the registry.
    Verified,
    /// What did not match (told to the claimant, shown to the admins).
    Mismatch(&'a str),
}

/// Files a claim.
pub async fn insert_claim(
    tx: &mut TenantTx,
    official: &str,
    account: &AccountId,
    matches: bool,
    message: &str,
    verification: Verification<'_>,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let (verified_by, note) = match verification {
        Verification::None => (None, None),
        Verification::Verified => (
            Some("franceconnect"),
            Some(
                "Nom, prénom et date de naissance conformes au répertoire (identité FranceConnect).",
            ),
        ),
        Verification::Mismatch(why) => (None, Some(why)),
    };
    tx.scoped(
        "INSERT INTO official_claims (tenant_id, id, official_id, account_id, birth_date_matches, message, created_at, verified_by, verification_note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(official)
    .bind(&account.0)
    .bind(i64::from(matches))
    .bind(message)
    .bind(now())
    .bind(verified_by)
    .bind(note)
    .execute(tx)
    .await?;
    Ok(id)
}

/// A claim as the admins review it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Claim {
    /// Id.
    pub id: String,
    /// The official claimed.
    pub official_id: String,
    /// Their name.
    pub official_name: String,
    /// The claimant.
    pub account_id: String,
    /// Claimant's e-mail.
    pub email: String,
    /// Claimant's display name.
    pub display_name: String,
    /// Whether the birth date given matched the registry.
    #[row(try_from = "Flag")]
    pub birth_date_matches: bool,
    /// Free message.
    pub message: String,
    /// pending, approved, rejected.
    pub status: String,
    /// `franceconnect`: approved at once, the claimant's FranceConnect identity matching.
    pub verified_by: Option<String>,
    /// What the FranceConnect check found (a match, or what differed).
    pub verification_note: Option<String>,
    /// When it was decided.
    pub decided_at: Option<i64>,
}

const SELECT_CLAIM: &str = "SELECT c.id, c.official_id, o.first_name || ' ' || o.last_name AS official_name, c.account_id, \
     a.email, a.display_name, c.birth_date_matches, c.message, c.status, c.verified_by, c.verification_note, c.decided_at FROM official_claims c \
     JOIN officials o ON o.tenant_id = c.tenant_id AND o.id = c.official_id JOIN accounts a ON a.id = c.account_id";

/// Claims approved at once through FranceConnect, newest first (the record the platform's
/// admins and the commune's read).
pub async fn verified_claims(tx: &mut TenantTx, limit: i64) -> Result<Vec<Claim>, sqlx::Error> {
    tx.scoped_as(&format!(
        "{SELECT_CLAIM} WHERE c.tenant_id = $1 AND c.verified_by IS NOT NULL ORDER BY c.decided_at DESC, c.id LIMIT $2"
    ))
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Pending claims, oldest first.
pub async fn pending_claims(tx: &mut TenantTx) -> Result<Vec<Claim>, sqlx::Error> {
    tx.scoped_as(&format!(
        "{SELECT_CLAIM} WHERE c.tenant_id = $1 AND c.status = 'pending' ORDER BY c.created_at, c.id"
    ))
    .fetch_all(tx)
    .await
}

/// One claim.
pub async fn claim(tx: &mut TenantTx, id: &str) -> Result<Option<Claim>, sqlx::Error> {
    tx.scoped_as(&format!(
        "{SELECT_CLAIM} WHERE c.tenant_id = $1 AND c.id = $2"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Decides a pending claim; on approval the account owns the profile and other pending claims
/// on it are refused. False when it was no longer pending.
pub async fn decide(
    tx: &mut TenantTx,
    claim: &Claim,
    approve: bool,
    reason: Option<&str>,
    by: Option<&AccountId>,
) -> Result<bool, sqlx::Error> {
    let by = by.map(|a| a.0.as_str());
    let at = now();
    let done = tx
        .scoped(
            "UPDATE official_claims SET status = $2, decision_reason = $3, decided_by = $4, decided_at = $5 \
             WHERE tenant_id = $1 AND id = $6 AND status = 'pending'",
        )
        .bind(if approve { "approved" } else { "rejected" })
        .bind(reason)
        .bind(by)
        .bind(at)
        .bind(&claim.id)
        .execute(tx)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    if approve {
        tx.scoped("UPDATE officials SET account_id = $2 WHERE tenant_id = $1 AND id = $3")
            .bind(&claim.account_id)
            .bind(&claim.official_id)
            .execute(tx)
            .await?;
        tx.scoped(
            "UPDATE official_claims SET status = 'rejected', decision_reason = 'Profil attribué à une autre demande.', \
             decided_by = $2, decided_at = $3 WHERE tenant_id = $1 AND official_id = $4 AND status = 'pending'",
        )
        .bind(by)
        .bind(at)
        .bind(&claim.official_id)
        .execute(tx)
        .await?;
    }
    Ok(true)
}

/// A profile taken back from the account that held it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct Detached {
    /// The official's registry id.
    pub id: String,
    /// « Prénom Nom ».
    pub name: String,
}

/// Takes back every profile `account` holds in this commune (its official role was taken
/// away): they are unclaimed again, claimable anew, and messages to them no longer reach it.
pub async fn detach_account(
    tx: &mut TenantTx,
    account: &AccountId,
) -> Result<Vec<Detached>, sqlx::Error> {
    let mut detached: Vec<Detached> = tx
        .scoped_as(
            "UPDATE officials SET account_id = NULL WHERE tenant_id = $1 AND account_id = $2 \
             RETURNING id, first_name || ' ' || last_name AS name",
        )
        .bind(&account.0)
        .fetch_all(tx)
        .await?;
    detached.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(detached)
}

/// The name of an unclaimed profile (to confirm a detachment to the admin), if it is one.
pub async fn unclaimed_name(tx: &mut TenantTx, id: &str) -> Result<Option<String>, sqlx::Error> {
    tx.scoped_scalar(
        "SELECT first_name || ' ' || last_name FROM officials \
         WHERE tenant_id = $1 AND id = $2 AND account_id IS NULL",
    )
    .bind(id)
    .fetch_optional(tx)
    .await
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
            "official_profiles",
            "SELECT t.slug AS commune, o.id, o.first_name, o.last_name, o.birth_date FROM officials o \
             JOIN tenants t ON t.id = o.tenant_id WHERE o.account_id = $1",
            account,
        )
        .await?;
        out.rows(
            conn,
            "official_claims",
            "SELECT t.slug AS commune, c.official_id, c.message, c.status, c.decision_reason, c.created_at \
             FROM official_claims c JOIN tenants t ON t.id = c.tenant_id WHERE c.account_id = $1",
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
                "DELETE FROM official_claims WHERE account_id = $1",
                "UPDATE officials SET account_id = NULL WHERE account_id = $1",
            ],
        )
        .await
    }
}
