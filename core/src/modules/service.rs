//! The rules of module management per commune: enable (premium modules need an entitlement),
//! disable, configure against the manifest's settings, and the host's automatic switch-off
//! after repeated faults, which tells the commune's admins. Each change is audited. What the
//! commune's admins see of their modules (each one's state and entitlement, and what each one
//! sent and stores against its limits) is read here too.

use std::collections::HashMap;
use std::sync::Arc;

use crate::authz::Authz;
use crate::authz::Role;
use crate::db::{TenantDb, TenantSql, sql};
use crate::modules::quota;
use crate::modules::registry::ModuleHost;
use crate::modules::registry::{LoadedModule, Manifest};
use crate::modules::store::{self, StorageUsage, TenantModule};
use crate::notifications::Notice;
use crate::types::{AccountId, ModuleId, TenantId};
use crate::web::Tenant;

/// What a management action can fail with (French messages for admins).
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// No such module is installed.
    #[error("aucun module « {0} » n'est installé")]
    Unknown(String),
    /// Premium, and the commune holds no entitlement.
    #[error(
        "le module « {0} » est un module premium : la commune doit y être abonnée avant de l'activer"
    )]
    NotEntitled(String),
    /// A setting's value does not fit its kind.
    #[error("réglage « {0} » : {1}")]
    Setting(String, String),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn module(host: &ModuleHost, id: &str) -> Result<Arc<LoadedModule>, ModuleError> {
    host.get(id)
        .ok_or_else(|| ModuleError::Unknown(id.to_string()))
}

/// Switches a module on for a commune (clearing a previous automatic switch-off); a premium
/// module needs an entitlement.
pub async fn enable(
    host: &ModuleHost,
    tenant: &TenantDb,
    id: &str,
    actor: Option<&AccountId>,
) -> Result<(), ModuleError> {
    switch(host, tenant, id, true, actor).await
}

/// Switches a module off for a commune (its data is kept).
pub async fn disable(
    host: &ModuleHost,
    tenant: &TenantDb,
    id: &str,
    actor: Option<&AccountId>,
) -> Result<(), ModuleError> {
    switch(host, tenant, id, false, actor).await
}

async fn switch(
    host: &ModuleHost,
    tenant: &TenantDb,
    id: &str,
    on: bool,
    actor: Option<&AccountId>,
) -> Result<(), ModuleError> {
    let m = module(host, id)?;
    let mut tx = tenant.begin_write().await?;
    if on && m.manifest.premium && !store::entitled(&mut tx, &m.id).await? {
        return Err(ModuleError::NotEntitled(m.manifest.name.clone()));
    }
    store::set_enabled(&mut tx, &m.id, on, None).await?;
    if let Some(actor) = actor {
        let action = if on {
            "module.enable"
        } else {
            "module.disable"
        };
        crate::moderation::service::audit(&mut tx, actor, action, m.id.as_str(), None).await?;
    }
    tx.commit().await?;
    changed(host, tenant.tenant_id());
    Ok(())
}

/// Validates submitted settings against the manifest and stores them as a JSON object.
pub async fn configure(
    host: &ModuleHost,
    tenant: &TenantDb,
    id: &str,
    form: &HashMap<String, String>,
    actor: &AccountId,
) -> Result<(), ModuleError> {
    let m = module(host, id)?;
    let settings = settings_from_form(&m.manifest, form)?;
    let mut tx = tenant.begin_write().await?;
    store::set_settings(&mut tx, &m.id, &settings.to_string()).await?;
    crate::moderation::service::audit(&mut tx, actor, "module.configure", m.id.as_str(), None)
        .await?;
    tx.commit().await?;
    changed(host, tenant.tenant_id());
    Ok(())
}

/// The settings object of a form: each declared key, typed by its kind; unknown keys ignored.
pub fn settings_from_form(
    manifest: &Manifest,
    form: &HashMap<String, String>,
) -> Result<serde_json::Value, ModuleError> {
    let mut out = serde_json::Map::new();
    for spec in &manifest.settings {
        let raw = form.get(&spec.key).map(|v| v.trim()).unwrap_or("");
        let value = match spec.kind.as_str() {
            "boolean" => serde_json::Value::Bool(matches!(raw, "on" | "true" | "1")),
            "number" => {
                let raw = if raw.is_empty() {
                    spec.default_value.as_str()
                } else {
                    raw
                };
                let n: f64 = raw.replace(',', ".").parse().map_err(|_| {
                    ModuleError::Setting(spec.label.clone(), "un nombre est attendu".into())
                })?;
                serde_json::Number::from_f64(n)
                    .map(serde_json::Value::Number)
                    .ok_or_else(|| {
                        ModuleError::Setting(spec.label.clone(), "nombre invalide".into())
                    })?
            }
            _ => {
                if raw.chars().count() > 2000 {
                    return Err(ModuleError::Setting(
                        spec.label.clone(),
                        "2 000 caractères au plus".into(),
                    ));
                }
                serde_json::Value::String(raw.to_string())
            }
        };
        out.insert(spec.key.clone(), value);
    }
    Ok(serde_json::Value::Object(out))
}

/// An installed module as a commune's admins see it.
pub struct Offered {
    /// The module.
    pub module: Arc<LoadedModule>,
    /// The commune's choice (switched on or off, settings, why the host switched it off);
    /// none if the commune never touched it.
    pub choice: Option<TenantModule>,
    /// Free, or the commune holds a current entitlement to it.
    pub entitled: bool,
}

/// Every installed module with the commune's choice and entitlement, in the host's order.
pub async fn offered(host: &ModuleHost, tenant: &Tenant) -> Result<Vec<Offered>, sqlx::Error> {
    let choices = host.tenant(host.services().db(), tenant.id()).await?;
    let mut tx = tenant.db().read().await?;
    let mut offered = Vec::new();
    for module in host.all() {
        let entitled = !module.manifest.premium || store::entitled(&mut tx, &module.id).await?;
        offered.push(Offered {
            choice: choices.rows.get(module.id.as_str()).cloned(),
            entitled,
            module,
        });
    }
    tx.commit().await?;
    Ok(offered)
}

/// What a module enabled in a commune sent over the last 24 hours and what it stores there,
/// each against the limits the host enforces.
pub struct Consumption {
    /// The module.
    pub module: Arc<LoadedModule>,
    /// Notices, text messages and posts over the last 24 hours ([`quota`]).
    pub sent: quota::Usage,
    /// Its storage and quota.
    pub stored: StorageUsage,
}

/// The consumption of every module the commune has switched on, by module name.
pub async fn consumption(
    host: &ModuleHost,
    tenant: &Tenant,
) -> Result<Vec<Consumption>, sqlx::Error> {
    let choices = host.tenant(host.services().db(), tenant.id()).await?;
    let mut modules = host.all();
    modules.sort_by(|a, b| a.manifest.name.cmp(&b.manifest.name));
    let mut tx = tenant.db().read().await?;
    let mut consumption = Vec::new();
    for module in modules {
        if choices.enabled(module.id.as_str()).is_none() {
            continue;
        }
        consumption.push(Consumption {
            sent: quota::usage(&mut tx, module.id.as_str()).await?,
            stored: store::usage(&mut tx, module.id.as_str()).await?,
            module,
        });
    }
    tx.commit().await?;
    Ok(consumption)
}

/// Grants an entitlement to a premium module (`source`: `cli`, later `stripe`).
pub async fn entitle(
    host: &ModuleHost,
    tenant: &TenantDb,
    id: &ModuleId,
    source: &str,
    expires_at: Option<i64>,
) -> Result<(), ModuleError> {
    let mut tx = tenant.begin_write().await?;
    store::grant_entitlement(&mut tx, id, source, expires_at).await?;
    tx.commit().await?;
    changed(host, tenant.tenant_id());
    Ok(())
}

/// After a commune's modules or entitlements changed: drop what caches them.
pub fn changed(host: &ModuleHost, tenant: TenantId) {
    host.invalidate(tenant);
    host.services().home_changed(tenant);
}

/// Switches a faulty module off for one commune and tells its admins (in app and by e-mail).
pub async fn disable_after_faults(
    host: &ModuleHost,
    tenant: TenantId,
    module: &LoadedModule,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let origin = tenant_origin(host, tenant).await?;
    let notice = Notice::to_accounts(
        tenant,
        tenant_admins(host.services().authz(), tenant).await,
        format!("Module « {} » désactivé", module.manifest.name),
        format!(
            "Le module « {} » a été désactivé pour votre commune : {reason}.\n\
             Les autres services de la commune fonctionnent normalement. Vous pouvez le réactiver \
             depuis l'administration des modules.",
            module.manifest.name
        ),
        format!("{origin}/admin/modules"),
    );
    let mut tx = host.services().db().tenant(tenant).begin_write().await?;
    store::set_enabled(&mut tx, &module.id, false, Some(reason)).await?;
    crate::jobs::push(tx.platform(), &notice).await?;
    tx.commit().await?;
    host.services().wake_jobs();
    changed(host, tenant);
    tracing::warn!(module = %module.id, tenant = %tenant, %reason, "module switched off for a commune");
    Ok(())
}

/// Tells a commune's admins about its modules, in app, by e-mail and by push.
pub async fn tell_admins(
    host: &ModuleHost,
    tenant: TenantId,
    title: String,
    body: String,
) -> Result<(), sqlx::Error> {
    let origin = tenant_origin(host, tenant).await?;
    let admins = tenant_admins(host.services().authz(), tenant).await;
    let notice = Notice::to_accounts(
        tenant,
        admins,
        title,
        body,
        format!("{origin}/admin/modules"),
    );
    crate::jobs::push(host.services().db().platform(), &notice).await?;
    host.services().wake_jobs();
    Ok(())
}

/// The accounts holding the tenant-admin role in a commune.
pub async fn tenant_admins(authz: &Authz, tenant: TenantId) -> Vec<String> {
    authz
        .assignments(&tenant.authz_domain())
        .await
        .into_iter()
        .filter(|(_, r)| *r == Role::TenantAdmin)
        .map(|(a, _)| a.0)
        .collect()
}

/// Tells a module in a commune that a payment it asked for succeeded (billing calls this from
/// its webhook). `Ok(Err(..))`: the module refused it (unknown reference).
pub async fn payment_succeeded(
    host: &ModuleHost,
    tenant: TenantId,
    module: &str,
    payment: Payment,
) -> Result<Result<(), String>, String> {
    let Some(loaded) = host.get(module) else {
        return Err(format!("module « {module} » non installé"));
    };
    let origin = tenant_origin(host, tenant)
        .await
        .map_err(|e| e.to_string())?;
    // Billing confirmed this account paid through the module here: the module may thank it.
    if let Some(account) = &payment.account {
        crate::modules::quota::note_contact(&host.services().tenant(tenant), module, account).await;
    }
    let event = crate::modules::bindings::parvis::module::types::Event::PaymentSucceeded(
        crate::modules::bindings::parvis::module::types::Payment {
            reference: payment.reference,
            amount_cents: payment.amount_cents,
            currency: payment.currency,
            account: payment.account,
        },
    );
    crate::modules::call::event(host, &loaded, tenant, origin, &event)
        .await
        .map_err(|f| f.to_string())
}

/// A payment confirmed by the payment service.
#[derive(Debug, Clone)]
pub struct Payment {
    /// The module's reference.
    pub reference: String,
    /// Amount paid, in cents.
    pub amount_cents: u64,
    /// ISO 4217, lowercase.
    pub currency: String,
    /// Who paid (account id), when known.
    pub account: Option<String>,
}

/// The origin of a commune known by its id (a notice or a tick outside any request).
pub async fn tenant_origin(host: &ModuleHost, tenant: TenantId) -> Result<String, sqlx::Error> {
    let slug = sql::query_scalar::<String>("SELECT slug FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_one(host.services().db().platform())
        .await?;
    Ok(commune_origin(host, &slug))
}

/// `scheme://<slug>.<base domain>[:port]`: links in what is sent outside a request (notices,
/// ticks), from configuration like every other link (`PARVIS_PUBLIC_PORT`).
pub fn commune_origin(host: &ModuleHost, slug: &str) -> String {
    host.services().commune_origin(slug)
}
