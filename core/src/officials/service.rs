//! The rules of officials' profiles as a commune's admins handle them, with no HTTP types:
//! the claims waiting for a decision, deciding one (a mayor's profile is handed over only by a
//! platform admin; an approved claimant gets the official role), and the names of profiles a
//! revocation has just taken back. The back-office (`admin-ui`) calls these.

use crate::authz::{Authz, AuthzError, PLATFORM_DOMAIN, Role, perms};
use crate::db::{Db, sql};
use crate::officials::store;
use crate::state::AppState;
use crate::types::{AccountId, TenantId};
use crate::web::Tenant;

pub use crate::officials::store::{Claim, Detached, Profile};

/// Shortest reason a refusal may give (it is sent to the claimant).
pub const MIN_REASON: usize = 5;

/// Why a claim could not be decided. The back-office words each case for the admin.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// The commune has no such claim.
    #[error("no such claim")]
    UnknownClaim,
    /// The official claimed is no longer in the commune's registry.
    #[error("the official is no longer in the registry")]
    UnknownOfficial,
    /// A mayor's profile is handed over only by a platform admin.
    #[error("a mayor's profile needs a platform admin")]
    MayorNeedsPlatform,
    /// A refusal without its reason (at least [`MIN_REASON`] characters).
    #[error("a refusal needs its reason")]
    ReasonMissing,
    /// Someone decided it first.
    #[error("the claim was already decided")]
    AlreadyDecided,
    /// The official role could not be granted.
    #[error(transparent)]
    Authz(#[from] AuthzError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// How an admin decides a claim.
#[derive(Debug, Clone, Copy)]
pub enum Decision<'a> {
    /// The claimant owns the profile and gets the official role.
    Approve,
    /// Refused, with the reason sent to the claimant.
    Reject {
        /// Why (at least [`MIN_REASON`] characters once trimmed).
        reason: &'a str,
    },
}

/// The commune's claims waiting for a decision, oldest first.
pub async fn pending_claims(tenant: &Tenant) -> Result<Vec<Claim>, sqlx::Error> {
    let mut tx = tenant.db().read().await?;
    let claims = store::pending_claims(&mut tx).await?;
    tx.commit().await?;
    Ok(claims)
}

/// Decides a pending claim in one transaction of the commune: on approval the claimant owns
/// the profile (the other claims on it are refused), holds the official role in the commune,
/// and the commune's cached page is dropped. Returns the claim and the official's profile, so
/// the caller can tell the claimant.
pub async fn decide_claim(
    state: &AppState,
    tenant: &Tenant,
    actor: &AccountId,
    id: &str,
    decision: Decision<'_>,
) -> Result<(Claim, Profile), ClaimError> {
    let (approve, reason) = match decision {
        Decision::Approve => (true, None),
        Decision::Reject { reason } => {
            let reason = reason.trim();
            if reason.chars().count() < MIN_REASON {
                return Err(ClaimError::ReasonMissing);
            }
            (false, Some(reason))
        }
    };
    let mut tx = tenant.db().begin_write().await?;
    let claim = store::claim(&mut tx, id)
        .await?
        .ok_or(ClaimError::UnknownClaim)?;
    let profile = store::profile(&mut tx, &claim.official_id)
        .await?
        .ok_or(ClaimError::UnknownOfficial)?;
    if approve
        && profile.is_mayor
        && !state
            .authz
            .can(Some(actor), PLATFORM_DOMAIN, perms::VERIFY_SUBSCRIPTIONS)
            .await
    {
        return Err(ClaimError::MayorNeedsPlatform);
    }
    if !store::decide(&mut tx, &claim, approve, reason, Some(actor)).await? {
        return Err(ClaimError::AlreadyDecided);
    }
    tx.commit().await?;
    if approve {
        holds_profile(state, tenant, &AccountId(claim.account_id.clone())).await?;
    }
    Ok((claim, profile))
}

/// At start: every profile's holder holds the official role in its commune. An approved
/// claim is committed before the role is granted (casbin's rules are written apart), so a
/// stop in between left a profile without its role; a revocation goes the other way (the
/// profiles first, `authz::service::revoke`), so a role is never given back here to someone
/// it was taken from. Returns how many roles it granted again.
pub async fn mend_official_roles(db: &Db, authz: &Authz) -> anyhow::Result<usize> {
    let mut tx = db.platform_tx().await?;
    let holders: Vec<(TenantId, String)> = sql::query_as(
        "SELECT tenant_id, account_id FROM officials WHERE account_id IS NOT NULL \
         ORDER BY tenant_id, account_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut mended = 0;
    for (tenant, account) in holders {
        let (account, domain) = (AccountId(account), tenant.authz_domain());
        if !authz.holds(&account, Role::Official, &domain).await
            && authz.grant(&account, Role::Official, &domain).await?
        {
            tracing::warn!(%account, %domain, "official role granted again to a profile's holder");
            mended += 1;
        }
    }
    Ok(mended)
}

/// After an approved claim was committed: the claimant holds the official role in the
/// commune, whose cached page is dropped.
pub async fn holds_profile(
    state: &AppState,
    tenant: &Tenant,
    account: &AccountId,
) -> Result<(), AuthzError> {
    state
        .authz
        .grant(account, Role::Official, &tenant.id().authz_domain())
        .await?;
    state.home_cache.invalidate(tenant.id());
    Ok(())
}

/// The claims the commune's officials won at once with their FranceConnect identity, newest
/// first: the record of those checks for the commune's and the platform's admins.
pub async fn verified_claims(tenant: &Tenant) -> Result<Vec<Claim>, sqlx::Error> {
    let mut tx = tenant.db().read().await?;
    let claims = store::verified_claims(&mut tx, 50).await?;
    tx.commit().await?;
    Ok(claims)
}

/// The names of those of `ids` that are profiles of the commune nobody holds now (to confirm
/// a revocation that took them back), in the order given.
pub async fn unclaimed_names(tenant: &Tenant, ids: &[String]) -> Result<Vec<String>, sqlx::Error> {
    let mut names = Vec::new();
    if ids.is_empty() {
        return Ok(names);
    }
    let mut tx = tenant.db().read().await?;
    for id in ids {
        if let Some(name) = store::unclaimed_name(&mut tx, id).await? {
            names.push(name);
        }
    }
    tx.commit().await?;
    Ok(names)
}
