//! The rules of a commune's roles as its admins hand them out, with no HTTP types: which roles
//! they may grant, who holds which, granting one by e-mail, and revoking one (the commune keeps
//! at least one admin; an official's profiles go with the official role). Every change is
//! written to the commune's audit log. The back-office (`admin-ui`) calls these.

use crate::accounts::service::{AccountError, normalize_email};
use crate::accounts::store as accounts;
use crate::authz::{AuthzError, Role};
use crate::moderation::service::audit;
use crate::officials::service::Detached;
use crate::officials::store as officials;
use crate::state::AppState;
use crate::types::AccountId;
use crate::web::Tenant;

/// Roles a commune's admins may hand out (platform roles are the platform's).
pub const GRANTABLE: [Role; 5] = [
    Role::TenantAdmin,
    Role::Moderator,
    Role::Official,
    Role::Candidate,
    Role::Resident,
];

/// The role named `name`, if a commune's admins may grant it.
pub fn grantable(name: &str) -> Option<Role> {
    Role::parse(name).filter(|r| GRANTABLE.contains(r))
}

/// Why a role could not be granted or revoked. The back-office words each case for the admin.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// Not one of [`GRANTABLE`].
    #[error("not a role a commune hands out")]
    NotGrantable,
    /// The e-mail address is not one (its message, in French, says why).
    #[error(transparent)]
    Email(AccountError),
    /// No account uses this (normalised) address.
    #[error("no account uses {0}")]
    NoAccount(String),
    /// The admin would leave the commune without any admin.
    #[error("the commune's last admin")]
    LastAdmin,
    /// The rules could not be changed.
    #[error(transparent)]
    Authz(#[from] AuthzError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// An account holding a role in the commune.
#[derive(Debug, Clone)]
pub struct Holder {
    /// The account.
    pub account: AccountId,
    /// Its e-mail address.
    pub email: String,
    /// Its display name.
    pub name: String,
    /// The role.
    pub role: Role,
}

/// Who holds which role in the commune (accounts deleted since are left out).
pub async fn holders(state: &AppState, tenant: &Tenant) -> Result<Vec<Holder>, sqlx::Error> {
    let mut holders = Vec::new();
    for (account, role) in state.authz.assignments(&tenant.id().authz_domain()).await {
        if let Some(a) = accounts::by_id(&state.db, &account).await? {
            holders.push(Holder {
                account: a.id,
                email: a.email,
                name: a.display_name,
                role,
            });
        }
    }
    Ok(holders)
}

/// Grants `role` in the commune to the account using `email`, by `actor`, and audits it.
pub async fn grant(
    state: &AppState,
    tenant: &Tenant,
    actor: &AccountId,
    email: &str,
    role: Role,
) -> Result<(), RoleError> {
    if !GRANTABLE.contains(&role) {
        return Err(RoleError::NotGrantable);
    }
    let email = normalize_email(email).map_err(RoleError::Email)?;
    let account = accounts::by_email(&state.db, &email)
        .await?
        .ok_or(RoleError::NoAccount(email))?;
    let domain = tenant.id().authz_domain();
    state.authz.grant(&account.id, role, &domain).await?;
    tracing::info!(by = %actor, to = %account.id, role = %role, %domain, "role granted");
    let mut tx = tenant.db().begin_write().await?;
    audit(
        &mut tx,
        actor,
        "role.grant",
        &format!("{} {}", account.email, role.as_str()),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes `role` in the commune away from `target`, by `actor`; returns the official's profiles
/// that went with it (the official role), unclaimed again.
///
/// The profiles go in the transaction that writes the audit log, before the role itself: a
/// failure in between leaves a role without a profile, never the reverse (an account
/// receiving what citizens write to an official it no longer is).
pub async fn revoke(
    state: &AppState,
    tenant: &Tenant,
    actor: &AccountId,
    target: &AccountId,
    role: Role,
) -> Result<Vec<Detached>, RoleError> {
    if !GRANTABLE.contains(&role) {
        return Err(RoleError::NotGrantable);
    }
    let domain = tenant.id().authz_domain();
    if role == Role::TenantAdmin && target == actor {
        let admins = state
            .authz
            .assignments(&domain)
            .await
            .into_iter()
            .filter(|(_, r)| *r == Role::TenantAdmin)
            .count();
        if admins <= 1 {
            return Err(RoleError::LastAdmin);
        }
    }
    let mut tx = tenant.db().begin_write().await?;
    let detached = if role == Role::Official {
        officials::detach_account(&mut tx, target).await?
    } else {
        Vec::new()
    };
    audit(
        &mut tx,
        actor,
        "role.revoke",
        &format!("{} {}", target.0, role.as_str()),
        None,
    )
    .await?;
    for profile in &detached {
        audit(
            &mut tx,
            actor,
            "official.detach",
            &profile.id,
            Some(&format!(
                "Profil d'élu de {} détaché du compte {} (rôle d'élu retiré) : il est de nouveau à revendiquer.",
                profile.name, target.0
            )),
        )
        .await?;
    }
    tx.commit().await?;
    state.authz.revoke(target, role, &domain).await?;
    if !detached.is_empty() {
        state.home_cache.invalidate(tenant.id());
        tracing::info!(by = %actor, account = %target, profiles = detached.len(), "official profiles detached");
    }
    Ok(detached)
}
