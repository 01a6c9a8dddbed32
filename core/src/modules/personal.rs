//! Personal data that modules keep (ballots, bookings, pledges, phone numbers): the `modules`
//! section of an account's data export, and the erasure that follows an account's deletion.
//!
//! Each module is asked in each commune where it is installed (switched on or off: a
//! switched-off module keeps its data) and has stored something, in a call bound to that
//! commune, so a module only ever sees and answers for one commune at a time. A module that fails is marked unavailable
//! in the export, which still goes out. The erasure is one durable job per commune and module,
//! queued in the transaction that deletes the account: it cannot be lost, and a module that
//! fails is retried with backoff without holding the deletion back.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::jobs::{Handler, Job};
use crate::modules::bindings::parvis::module::types::Event;
use crate::modules::call::{self, Capability};
use crate::modules::registry::ModuleHost;
use crate::modules::{service, store};
use crate::types::{AccountId, TenantId};

/// Job kind: tell one module in one commune that an account was deleted.
pub const ACCOUNT_DELETED: &str = "module.account_deleted";
/// Attempts before the erasure job is given up (the backoff doubles up to 34 minutes: about
/// eleven hours in all).
const ERASE_ATTEMPTS: i64 = 30;

/// What the module could not give, in the export.
const UNAVAILABLE: &str = "Ce module n'a pas pu fournir vos données pour le moment ; \
    téléchargez à nouveau l'export plus tard.";

/// The `modules` section of the export: for each commune and module that keeps something
/// about the account, its records; a module that failed is listed as unavailable.
pub async fn export(host: &ModuleHost, account: &AccountId) -> Result<Value, sqlx::Error> {
    let installations = {
        let mut tx = host.services().db().platform_tx().await?;
        let rows = store::installations_with_data(&mut tx).await?;
        tx.commit().await?;
        rows
    };
    let mut out = Vec::new();
    for (tenant, slug, id) in installations {
        let Some(module) = host.get(&id) else {
            // Installed and not served by this host (an unsupported contract version).
            out.push(unavailable(&slug, &id, &id));
            continue;
        };
        // Without storage a module keeps nothing.
        if !module.capabilities.contains(&Capability::Storage) {
            continue;
        }
        let origin = service::commune_origin(host, &slug);
        let answer = call::export_account(host, &module, tenant, origin, &account.0).await;
        let records = match answer {
            Ok(Ok(records)) => records
                .into_iter()
                .map(|r| {
                    serde_json::from_str::<Value>(&r.data)
                        .ok()
                        .filter(Value::is_object)
                        .map(|data| json!({"kind": r.kind, "data": data}))
                })
                .collect::<Option<Vec<_>>>(),
            Ok(Err(e)) => {
                tracing::warn!(module = %id, commune = %slug, error = %e, "module export refused");
                None
            }
            Err(fault) => {
                tracing::warn!(module = %id, commune = %slug, %fault, "module export failed");
                None
            }
        };
        match records {
            Some(records) if records.is_empty() => {}
            Some(records) => out.push(json!({
                "commune": slug,
                "module": id,
                "name": module.manifest.name,
                "status": "ok",
                "records": records,
            })),
            None => out.push(unavailable(&slug, &id, &module.manifest.name)),
        }
    }
    Ok(Value::Array(out))
}

fn unavailable(commune: &str, id: &str, name: &str) -> Value {
    json!({
        "commune": commune,
        "module": id,
        "name": name,
        "status": "indisponible",
        "message": UNAVAILABLE,
    })
}

/// One erasure: a module, a commune, an account.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccountDeleted {
    tenant_id: crate::types::TenantId,
    module: String,
    account: String,
}

/// Queues, in the transaction that deletes the account, one `account-deleted` job per commune
/// and module that keeps something there. Returns how many.
pub async fn queue_account_deleted(
    conn: &mut sqlx::AnyConnection,
    account: &AccountId,
) -> Result<usize, sqlx::Error> {
    let installations = store::installations_with_data(&mut *conn).await?;
    for (tenant, _, module) in &installations {
        let job = AccountDeleted {
            tenant_id: *tenant,
            module: module.clone(),
            account: account.0.clone(),
        };
        crate::jobs::push(&mut *conn, &job).await?;
    }
    Ok(installations.len())
}

/// Runs the erasure jobs: the module gets `account-deleted` in its commune; a refusal, a
/// fault or a module not served yet is an error, retried later by the queue.
pub struct EraseAccountData {
    modules: Arc<ModuleHost>,
}

impl EraseAccountData {
    /// The handler, calling modules on `modules`.
    pub fn new(modules: Arc<ModuleHost>) -> Arc<EraseAccountData> {
        Arc::new(EraseAccountData { modules })
    }
}

impl Job for AccountDeleted {
    const KIND: &'static str = ACCOUNT_DELETED;
    const ATTEMPTS: i64 = ERASE_ATTEMPTS;

    fn tenant(&self) -> Option<TenantId> {
        Some(self.tenant_id)
    }
}

#[async_trait]
impl Handler<AccountDeleted> for EraseAccountData {
    async fn run(&self, job: AccountDeleted) -> anyhow::Result<()> {
        let host = &self.modules;
        let module = host
            .get(&job.module)
            .ok_or_else(|| anyhow::anyhow!("module {} not served here", job.module))?;
        let tenant = job.tenant_id;
        let origin = service::tenant_origin(host, tenant).await?;
        let event = Event::AccountDeleted(job.account);
        match call::event(host, &module, tenant, origin, &event).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::anyhow!(
                "module {} refused account-deleted in commune {tenant}: {e}",
                job.module
            )),
            Err(fault) => Err(anyhow::anyhow!(
                "module {} failed account-deleted in commune {tenant}: {fault}",
                job.module
            )),
        }
    }

    /// The data stays where the module keeps it: the commune's admins, who answer for it, are
    /// told; the platform's operators, who can repair the module, find the job in the log and
    /// put it back with `parvis jobs retry`.
    async fn gave_up(&self, job: AccountDeleted) {
        tracing::error!(module = %job.module, tenant = %job.tenant_id, "a module never erased a deleted account's data: fix the module, then `parvis jobs retry --kind {ACCOUNT_DELETED}`");
        let host = &self.modules;
        let name = host
            .get(&job.module)
            .map_or_else(|| job.module.clone(), |m| m.manifest.name.clone());
        let told = service::tell_admins(
            host,
            job.tenant_id,
            format!("Données d'un compte supprimé non effacées par « {name} »"),
            format!(
                "Un habitant a supprimé son compte, mais le module « {name} » n'a pas effacé ce \
                 qu'il gardait de lui dans votre commune, malgré {ERASE_ATTEMPTS} tentatives en une \
                 dizaine d'heures. Ces données restent en l'état tant que le module ne les efface pas.\n\
                 L'équipe qui exploite la plateforme a l'incident dans son journal et relancera \
                 l'effacement une fois le module réparé. Si ce délai ne convient pas, vous pouvez \
                 désactiver le module depuis l'administration des modules."
            ),
        )
        .await;
        if let Err(e) = told {
            tracing::error!(error = %e, "the commune's admins were not told of the failed erasure");
        }
    }
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
        // Which modules of which communes the account used (a signed-in form that wrote): the
        // modules may notify it there (`modules::quota`).
        out.rows(
            conn,
            "modules_used",
            "SELECT t.slug AS commune, c.module_id AS module, c.seen_at FROM module_contacts c \
             JOIN tenants t ON t.id = c.tenant_id WHERE c.account_id = $1",
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
                "DELETE FROM module_contacts WHERE account_id = $1",
                "DELETE FROM module_notice_recipients WHERE account_id = $1",
            ],
        )
        .await?;
        // Modules erase what they keep from a durable job each, queued with the deletion.
        queue_account_deleted(conn, account).await.map(|_| ())
    }
}
