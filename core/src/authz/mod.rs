//! Authorization: casbin RBAC with domains, where a domain is a tenant (`tenant:<id>`) or the
//! platform (`*`). Policies live in the database through [`adapter::DbAdapter`].
//!
//! Permissions (`p` rules) are role templates shared by every tenant; only role assignments
//! (`g` rules) are per tenant, which keeps `enforce` cheap with 35,000 tenants. Every signed-in
//! account is implicitly a citizen everywhere. Handlers check through one extractor, [`Can`].
//! What a commune's admins may grant and revoke, and what goes with a role, is [`service`].

pub mod adapter;
mod extract;
pub mod service;

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use casbin::{CoreApi as _, DefaultModel, Enforcer, MgmtApi as _, RbacApi as _};
use tokio::sync::RwLock;

pub use extract::{
    Actor, Can, Comment, EditCommune, ManageBilling, ManageModules, ManageRoles, Moderate, Perm,
    PublishPost, Report, RequestSubscription, VerifySubscriptions,
};

use crate::db::Db;
use crate::types::{AccountId, TenantId};

const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = (r.sub == p.sub || g(r.sub, p.sub, r.dom) || g(r.sub, p.sub, "*")) && (p.dom == "*" || p.dom == r.dom) && (p.obj == "*" || r.obj == p.obj) && (p.act == "*" || r.act == p.act)
"#;

/// The domain of platform-wide roles and actions.
pub const PLATFORM_DOMAIN: &str = "*";

/// The roles of DESIGN.md §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Runs the platform: provisions communes, verifies subscription requests.
    PlatformAdmin,
    /// Mayor or staff of one commune.
    TenantAdmin,
    /// Moderates one commune's content.
    Moderator,
    /// An elected official of the commune.
    Official,
    /// A candidate in an election of the commune.
    Candidate,
    /// A resident whose address the commune verified (polls restricted to residents).
    Resident,
    /// Any signed-in account (implicit).
    Citizen,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 7] = [
        Role::PlatformAdmin,
        Role::TenantAdmin,
        Role::Moderator,
        Role::Official,
        Role::Candidate,
        Role::Resident,
        Role::Citizen,
    ];

    /// The policy name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform-admin",
            Role::TenantAdmin => "tenant-admin",
            Role::Moderator => "moderator",
            Role::Official => "official",
            Role::Candidate => "candidate",
            Role::Resident => "resident",
            Role::Citizen => "citizen",
        }
    }

    /// The French label shown in pages.
    pub fn label(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "Administrateur de la plateforme",
            Role::TenantAdmin => "Administrateur de la commune",
            Role::Moderator => "Modérateur",
            Role::Official => "Élu",
            Role::Candidate => "Candidat",
            Role::Resident => "Habitant vérifié",
            Role::Citizen => "Citoyen",
        }
    }

    /// Parses a policy name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action on one kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// The kind of object.
    pub obj: &'static str,
    /// The action.
    pub act: &'static str,
}

impl Permission {
    /// A permission to do `act` on objects of kind `obj`.
    pub const fn new(obj: &'static str, act: &'static str) -> Permission {
        Permission { obj, act }
    }
}

/// The permission catalogue. Modules add theirs in later issues.
pub mod perms {
    use super::Permission;

    /// Edit the commune page (presentation, logo, team, links).
    pub const EDIT_COMMUNE: Permission = Permission::new("commune", "edit");
    /// Grant and revoke roles in the commune.
    pub const MANAGE_ROLES: Permission = Permission::new("roles", "manage");
    /// Enable, disable and configure modules.
    pub const MANAGE_MODULES: Permission = Permission::new("modules", "manage");
    /// Hide and restore content, see the moderation queue.
    pub const MODERATE: Permission = Permission::new("moderation", "act");
    /// Publish posts as an official or candidate.
    pub const PUBLISH_POST: Permission = Permission::new("post", "publish");
    /// Use the staff pages of the commune's modules (`/admin/m/…`).
    pub const USE_MODULE_ADMIN: Permission = Permission::new("module-admin", "use");
    /// Create polls.
    pub const CREATE_POLL: Permission = Permission::new("poll", "create");
    /// Comment, react, rate.
    pub const COMMENT: Permission = Permission::new("comment", "create");
    /// Report a problem or flag content.
    pub const REPORT: Permission = Permission::new("report", "create");
    /// Ask to subscribe a commune (a mayor's request).
    pub const REQUEST_SUBSCRIPTION: Permission = Permission::new("subscription", "request");
    /// Verify subscription requests and provision tenants.
    pub const VERIFY_SUBSCRIPTIONS: Permission = Permission::new("subscription", "verify");
    /// Subscribe the commune to premium modules and manage its payment.
    pub const MANAGE_BILLING: Permission = Permission::new("billing", "manage");
}

/// The role templates: (role, permission). Platform admins may do everything.
fn templates() -> Vec<(Role, Permission)> {
    use perms::*;
    let mut t = vec![];
    for p in [
        EDIT_COMMUNE,
        MANAGE_ROLES,
        MANAGE_MODULES,
        MODERATE,
        PUBLISH_POST,
        CREATE_POLL,
        USE_MODULE_ADMIN,
        MANAGE_BILLING,
    ] {
        t.push((Role::TenantAdmin, p));
    }
    t.push((Role::Moderator, MODERATE));
    t.push((Role::Official, PUBLISH_POST));
    t.push((Role::Official, CREATE_POLL));
    t.push((Role::Official, USE_MODULE_ADMIN));
    t.push((Role::Candidate, PUBLISH_POST));
    for p in [COMMENT, REPORT, REQUEST_SUBSCRIPTION] {
        t.push((Role::Citizen, p));
    }
    t
}

/// Authorization errors (storage or policy evaluation).
#[derive(Debug, thiserror::Error)]
#[error("autorisations : {0}")]
pub struct AuthzError(#[from] casbin::Error);

/// The enforcer, shared by all requests.
pub struct Authz {
    enforcer: RwLock<Enforcer>,
    db: Db,
    /// Fingerprint of the rules table when last loaded, to pick up changes made by the CLI.
    loaded_version: AtomicI64,
    /// Decisions already taken (account, domain, object, action), emptied whenever the rules
    /// change: a page asks the same few questions for the same person at every request, and
    /// casbin evaluates its matcher each time. Filled only under the enforcer's read lock and
    /// emptied under its write lock, so a decision never outlives the rules it came from.
    decisions: std::sync::Mutex<std::collections::HashMap<String, bool>>,
}

/// Decisions kept at most (then they are all forgotten at once).
const DECISIONS_KEPT: usize = 100_000;

impl Authz {
    /// Loads the policies and makes sure the role templates exist.
    pub async fn load(db: Db) -> Result<Authz, AuthzError> {
        let model = DefaultModel::from_str(MODEL).await?;
        let adapter = adapter::DbAdapter::new(db.clone());
        let mut enforcer = Enforcer::new(model, adapter).await?;
        enforcer.enable_auto_save(true);
        let wanted: Vec<Vec<String>> = templates()
            .into_iter()
            .map(|(role, p)| {
                vec![
                    role.as_str().to_string(),
                    "*".to_string(),
                    p.obj.to_string(),
                    p.act.to_string(),
                ]
            })
            .chain(std::iter::once(vec![
                Role::PlatformAdmin.as_str().to_string(),
                "*".into(),
                "*".into(),
                "*".into(),
            ]))
            .filter(|rule| !enforcer.has_policy(rule.clone()))
            .collect();
        if !wanted.is_empty() {
            enforcer.add_policies(wanted).await?;
        }
        let authz = Authz {
            enforcer: RwLock::new(enforcer),
            loaded_version: AtomicI64::new(0),
            decisions: Default::default(),
            db,
        };
        authz
            .loaded_version
            .store(authz.rules_version().await.unwrap_or(0), Ordering::Relaxed);
        Ok(authz)
    }

    async fn rules_version(&self) -> Result<i64, sqlx::Error> {
        adapter::rules_version(&self.db).await
    }

    /// Reloads the policies if another process (the CLI) changed them.
    pub async fn refresh(&self) -> Result<(), AuthzError> {
        let Ok(version) = self.rules_version().await else {
            return Ok(());
        };
        if version != self.loaded_version.load(Ordering::Relaxed) {
            let mut enforcer = self.enforcer.write().await;
            let loaded = enforcer.load_policy().await;
            self.forget_decisions();
            loaded?;
            self.loaded_version.store(version, Ordering::Relaxed);
        }
        Ok(())
    }

    /// May `account` (or an anonymous visitor) do `perm` in `domain`?
    pub async fn can(&self, account: Option<&AccountId>, domain: &str, perm: Permission) -> bool {
        let Some(account) = account else {
            return false;
        };
        let key = format!(
            "{}\u{0}{domain}\u{0}{}\u{0}{}",
            account.0, perm.obj, perm.act
        );
        let enforcer = self.enforcer.read().await;
        if let Some(known) = self
            .decisions
            .lock()
            .ok()
            .and_then(|d| d.get(&key).copied())
        {
            return known;
        }
        let ask = |sub: &str| {
            enforcer
                .enforce((sub, domain, perm.obj, perm.act))
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "casbin enforce failed");
                    false
                })
        };
        let allowed = ask(&account.0) || ask(Role::Citizen.as_str());
        if let Ok(mut decisions) = self.decisions.lock() {
            if decisions.len() >= DECISIONS_KEPT {
                decisions.clear();
            }
            decisions.insert(key, allowed);
        }
        drop(enforcer);
        allowed
    }

    /// Forgets every decision (the caller holds the enforcer's write lock).
    fn forget_decisions(&self) {
        if let Ok(mut decisions) = self.decisions.lock() {
            decisions.clear();
        }
    }

    /// Gives `role` to `account` in `domain` (idempotent).
    pub async fn grant(
        &self,
        account: &AccountId,
        role: Role,
        domain: &str,
    ) -> Result<bool, AuthzError> {
        let mut enforcer = self.enforcer.write().await;
        let added = enforcer
            .add_grouping_policy(vec![account.0.clone(), role.as_str().into(), domain.into()])
            .await;
        // Even a failed change may have changed the rules in memory.
        self.forget_decisions();
        let added = added?;
        drop(enforcer);
        self.bump_version().await;
        Ok(added)
    }

    /// Takes `role` away from `account` in `domain`.
    pub async fn revoke(
        &self,
        account: &AccountId,
        role: Role,
        domain: &str,
    ) -> Result<bool, AuthzError> {
        let mut enforcer = self.enforcer.write().await;
        let removed = enforcer
            .remove_grouping_policy(vec![account.0.clone(), role.as_str().into(), domain.into()])
            .await;
        // Even a failed change may have changed the rules in memory.
        self.forget_decisions();
        let removed = removed?;
        drop(enforcer);
        self.bump_version().await;
        Ok(removed)
    }

    async fn bump_version(&self) {
        if let Ok(v) = self.rules_version().await {
            self.loaded_version.store(v, Ordering::Relaxed);
        }
    }

    /// Does `account` hold `role` in `domain` itself (a platform role does not count)?
    pub async fn holds(&self, account: &AccountId, role: Role, domain: &str) -> bool {
        let enforcer = self.enforcer.read().await;
        enforcer.has_grouping_policy(vec![account.0.clone(), role.as_str().into(), domain.into()])
    }

    /// The explicit roles of `account` in `domain` (platform roles included).
    pub async fn roles_of(&self, account: &AccountId, domain: &str) -> Vec<Role> {
        let enforcer = self.enforcer.read().await;
        let mut names = enforcer.get_roles_for_user(&account.0, Some(domain));
        if domain != PLATFORM_DOMAIN {
            names.extend(enforcer.get_roles_for_user(&account.0, Some(PLATFORM_DOMAIN)));
        }
        let mut roles: Vec<Role> = names.iter().filter_map(|n| Role::parse(n)).collect();
        roles.sort_by_key(|r| Role::ALL.iter().position(|x| x == r));
        roles.dedup();
        roles
    }

    /// Every (role, domain) an account holds, in every domain.
    pub async fn all_roles_of(&self, account: &AccountId) -> Vec<(Role, String)> {
        let enforcer = self.enforcer.read().await;
        enforcer
            .get_filtered_grouping_policy(0, vec![account.0.clone()])
            .into_iter()
            .filter_map(|rule| Some((Role::parse(rule.get(1)?)?, rule.get(2)?.clone())))
            .collect()
    }

    /// Every (account, role) assignment in `domain`.
    pub async fn assignments(&self, domain: &str) -> Vec<(AccountId, Role)> {
        let enforcer = self.enforcer.read().await;
        enforcer
            .get_filtered_grouping_policy(2, vec![domain.to_string()])
            .into_iter()
            .filter_map(|rule| {
                let role = Role::parse(rule.get(1)?)?;
                Some((AccountId(rule.first()?.clone()), role))
            })
            .collect()
    }
}

/// The casbin domain of a tenant.
pub fn tenant_domain(tenant: TenantId) -> String {
    tenant.authz_domain()
}
