//! Who owns each table of the schema, in one place.
//!
//! Every table the migrations create is listed here once, as tenant-owned (one commune's rows,
//! walled off on PostgreSQL by the `tenant_isolation` policy that migration 0024's
//! `parvis_isolate_tenant` creates), account-owned (one person's rows, read across communes) or
//! platform-owned. A table that carries a `tenant_id` column and is not tenant-owned says why:
//! something reads it without a tenant's scope, so a tenant policy would hide its rows there.
//! The suite's `table_ownership` test holds this list to the migrated schema of both backends:
//! a new table fails it until it is declared here, and a tenant-owned table without its
//! policy fails it on PostgreSQL.

/// Whose rows a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// One commune's rows: reached through a tenant transaction ([`super::TenantDb`]), and on
    /// PostgreSQL behind Row-Level Security ([`TENANT_POLICY`], enabled and forced).
    Tenant,
    /// One person's rows, reached by account and read across communes (the session, the
    /// account's pages, its export): no Row-Level Security.
    Account,
    /// The platform's rows: the national registry, communes' tenancy, installed modules, the
    /// job queue. No Row-Level Security.
    Platform,
}

/// One table of the schema and its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// The table's name, as the migrations create it.
    pub name: &'static str,
    /// Whose rows it holds.
    pub owner: Owner,
    /// Why a table with a `tenant_id` column is not tenant-owned: what reads it without a
    /// tenant's scope. `None` for every other table.
    pub why: Option<&'static str>,
}

impl Table {
    /// The same table, with the reason it carries `tenant_id` yet is not tenant-owned.
    const fn because(self, why: &'static str) -> Table {
        Table {
            why: Some(why),
            ..self
        }
    }
}

const fn tenant(name: &'static str) -> Table {
    Table {
        name,
        owner: Owner::Tenant,
        why: None,
    }
}

const fn account(name: &'static str) -> Table {
    Table {
        name,
        owner: Owner::Account,
        why: None,
    }
}

const fn platform(name: &'static str) -> Table {
    Table {
        name,
        owner: Owner::Platform,
        why: None,
    }
}

/// The name of the Row-Level Security policy every tenant-owned table has on PostgreSQL.
pub const TENANT_POLICY: &str = "tenant_isolation";

/// Every table of the schema (both backends), grouped by owner, in the order of the
/// migrations that created them.
pub const TABLES: &[Table] = &[
    // The national registry and the communes' tenancy (0001).
    platform("regions"),
    platform("departements"),
    platform("epcis"),
    platform("communes"),
    platform("neighbourhoods"),
    platform("commune_outlines"),
    platform("place_levels"),
    platform("tenants"),
    // The roles of every commune in one policy store, loaded whole by the enforcer.
    platform("casbin_rules"),
    // Asked before the commune is a tenant; decided by platform administrators.
    platform("subscription_requests"),
    platform("jobs").because(
        "the worker claims every commune's jobs from one queue (`jobs/mod.rs`), and platform \
         work (account e-mails, digests) has no commune: NULL",
    ),
    platform("modules"),
    platform("module_versions"),
    platform("module_grants"),
    platform("billing_events").because(
        "Stripe events are deduplicated by their id before their commune is known \
         (`billing/src/store.rs::event_seen`, on the pool), and an event of no commune keeps \
         NULL",
    ),
    platform("platform_keys"),
    platform("digest_runs"),
    // One person's rows (0001, then 0005…0016).
    account("accounts"),
    account("sessions"),
    account("sso_codes"),
    account("totp_recovery_codes"),
    account("login_challenges"),
    account("identity_links"),
    account("oidc_logins"),
    account("email_tokens"),
    account("follows").because(
        "an account's follows are read across communes: its feed (`feed/store.rs`), its \
         public page (`profiles/store.rs::followed_communes`), its export and erasure \
         (`privacy/service.rs`)",
    ),
    account("notifications").because(
        "the session lookup counts an account's unread notifications of every commune on \
         every page (`web/session.rs::load`, on a reader), and the notification centre lists \
         them all (`notifications/store.rs`)",
    ),
    account("digest_items").because(
        "the digest job gathers each account's items of every commune into one e-mail \
         (`notifications/digest.rs`); preferences and erasure delete them by account",
    ),
    account("push_subscriptions"),
    account("account_blocks"),
    account("notification_preferences"),
    account("account_media"),
    account("account_profiles"),
    account("citizen_follows"),
    // One commune's rows (0002…0021).
    tenant("commune_pages"),
    tenant("commune_links"),
    tenant("team_members"),
    tenant("officials"),
    tenant("mandates"),
    tenant("official_claims"),
    tenant("posts"),
    tenant("flags"),
    tenant("audit_log"),
    tenant("tenant_modules"),
    tenant("module_entitlements"),
    tenant("module_docs"),
    tenant("module_index"),
    tenant("module_unique"),
    tenant("module_places"),
    tenant("module_place_cells"),
    tenant("api_keys"),
    tenant("tenant_neighbourhoods"),
    tenant("module_place_neighbourhoods"),
    tenant("module_counters"),
    tenant("notices_delivered"),
    tenant("notice_deliveries"),
    tenant("billing_accounts"),
    tenant("billing_subscriptions"),
    tenant("message_threads"),
    tenant("messages"),
    tenant("post_comments"),
    tenant("post_reactions"),
    tenant("post_ratings"),
    tenant("media"),
    tenant("candidates"),
    tenant("post_attachments"),
    tenant("module_storage_usage"),
    tenant("module_storage_quotas"),
    tenant("module_volumes"),
    tenant("module_notice_recipients"),
    tenant("module_contacts"),
    // Each commune's version, raised by triggers (0025).
    platform("tenant_versions").because(
        "read before any tenant transaction, by every page that keeps what it shares between \
         people in memory (`web/shared.rs`), and raised by triggers in every commune's writes",
    ),
];

/// The owner of a table, `None` if the list does not declare it.
pub fn owner(table: &str) -> Option<Owner> {
    TABLES.iter().find(|t| t.name == table).map(|t| t.owner)
}
