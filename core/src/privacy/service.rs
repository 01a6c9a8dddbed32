//! Data export and account deletion, free of HTTP. Private messages follow the same rule as
//! posts: the deleted account's messages lose their text (the other side keeps the thread,
//! signed « Compte supprimé »), and the threads it started lose their subject. Comments keep
//! their text like posts, signed « Compte supprimé »; reactions and evaluations are removed.

use serde_json::{Value, json};

use super::personal;

use crate::authz::Authz;
use crate::db::{Db, sql};
use crate::types::AccountId;
use crate::util::now;

/// Everything Parvis holds about an account, as one JSON document: each feature's sections
/// ([`personal::FEATURES`]), read in one platform transaction, always filtered by this account,
/// and its roles.
pub async fn export(db: &Db, authz: &Authz, account: &AccountId) -> Result<Value, sqlx::Error> {
    let mut tx = db.platform_tx().await?;
    let mut out = personal::Export::default();
    for feature in personal::FEATURES {
        feature.export(&mut tx, account, &mut out).await?;
    }
    tx.commit().await?;
    let roles: Vec<Value> = authz
        .all_roles_of(account)
        .await
        .into_iter()
        .map(|(role, domain)| json!({"role": role.as_str(), "domain": domain}))
        .collect();
    let mut data = out.0;
    data.insert("generated_at".into(), json!(now()));
    data.insert("roles".into(), Value::Array(roles));
    Ok(Value::Object(data))
}

/// [`export`], with what each module keeps about the account (`modules`).
pub async fn export_with_modules(
    app: &crate::state::AppState,
    account: &AccountId,
) -> Result<Value, sqlx::Error> {
    let mut data = export(&app.db, &app.authz, account).await?;
    data["modules"] = crate::modules::personal::export(&app.modules, account).await?;
    Ok(data)
}

/// Deletes an account: personal data erased, publications anonymised, roles removed; modules
/// are told by jobs queued in the same transaction (wake the queue after).
pub async fn delete(db: &Db, authz: &Authz, account: &AccountId) -> Result<(), sqlx::Error> {
    let mut tx = db.platform_tx().await?;
    for feature in personal::FEATURES {
        feature.erase(&mut tx, account).await?;
    }
    // Last, the account itself: no name, no address, no password; its id stays for what was
    // published under a public office.
    sql::query(
        "UPDATE accounts SET email = $1, display_name = 'Compte supprimé', password_hash = '!', email_verified_at = NULL, \
         deleted_at = $2 WHERE id = $3",
    )
    .bind(format!("supprime-{}@invalid", account.0))
    .bind(now())
    .bind(&account.0)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    for (role, domain) in authz.all_roles_of(account).await {
        if let Err(e) = authz.revoke(account, role, &domain).await {
            tracing::error!(error = %e, "role of a deleted account not revoked");
        }
    }
    Ok(())
}
