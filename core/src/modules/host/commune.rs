//! `parvis:module/commune` (since 0.2.1): what the host knows of the call's commune beyond the
//! request's `commune` record: how its name joins a French sentence (the registry's
//! `typeLiaison`), for the SDK's `req.commune.de()`; since 0.2.5 the site's origin, for
//! absolute links; since 0.2.6 its team (`staff`), for a module to hand a task to one of them.

use std::collections::BTreeMap;

use crate::authz::Role;
use crate::db::{TenantSql as _, placeholders, sql};
use crate::modules::bindings::parvis::module::commune::{Host, StaffMember};
use crate::modules::call::{CallState, Capability};

/// The most members `staff` returns (a commune's team is a few dozen people).
pub const MAX_STAFF: usize = 500;

/// The roles that open the modules' back-office (`authz`'s `USE_MODULE_ADMIN`).
const STAFF_ROLES: [Role; 2] = [Role::TenantAdmin, Role::Official];

impl Host for CallState {
    async fn name_kind(&mut self) -> Option<u8> {
        self.count_runtime_call();
        self.name_kind.and_then(|k| u8::try_from(k).ok())
    }

    async fn origin(&mut self) -> String {
        self.count_runtime_call();
        self.origin.clone()
    }

    /// The commune's admins and officials with their names, sorted by name; accounts deleted
    /// since they were granted a role are left out. Read in the call's transaction (the
    /// `storage` capability), so it sees the names as the rest of the call does.
    async fn staff(&mut self) -> Vec<StaffMember> {
        let Some(tenant) = self.tenant() else {
            return Vec::new();
        };
        let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (account, role) in self
            .services
            .authz()
            .assignments(&tenant.authz_domain())
            .await
        {
            if STAFF_ROLES.contains(&role) {
                let held = roles.entry(account.0).or_default();
                if !held.iter().any(|r| r == role.as_str()) {
                    held.push(role.as_str().to_string());
                }
            }
        }
        if roles.is_empty() {
            return Vec::new();
        }
        let _leaving = self.leaving_database();
        let Ok(tx) = self.tx(Capability::Storage).await else {
            return Vec::new();
        };
        let ids: Vec<&String> = roles.keys().take(MAX_STAFF).collect();
        let statement = format!(
            "SELECT id, display_name FROM accounts WHERE deleted_at IS NULL AND id IN ({})",
            placeholders(1, ids.len())
        );
        let mut query = sql::query_as::<(String, String)>(&statement);
        for id in &ids {
            query = query.bind(id.as_str());
        }
        let named = match query.fetch_all(tx.platform()).await {
            Ok(rows) => rows,
            Err(e) => {
                self.fail(&e);
                return Vec::new();
            }
        };
        let mut members: Vec<StaffMember> = named
            .into_iter()
            .map(|(account, name)| StaffMember {
                roles: roles.get(&account).cloned().unwrap_or_default(),
                account,
                name,
            })
            .collect();
        members.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then_with(|| a.account.cmp(&b.account))
        });
        members
    }
}
