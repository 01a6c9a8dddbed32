//! The national registry of elected officials (RNE) as the tests write it: the header of the
//! real files, a councillor of Paris, the real importer, and handing a profile to an account as
//! an approved claim does.

use anyhow::{Context as _, Result};
use parvis_core::types::AccountId;
use parvis_tenants::Progress;
use parvis_tenants::officials::import_file;

use crate::TestApp;

/// The header of the municipal councillors' file (semicolons, French labels).
pub const HEADER: &str = "Code du département;Libellé du département;Code de la collectivité à statut particulier;Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;Nom de l'élu;Prénom de l'élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;Date de début de la fonction;Code nationalité";

/// Alice LAMBERT, municipal councillor of Paris.
pub const ALICE_LAMBERT: &str =
    "75;Paris;;;75056;Paris;LAMBERT;Alice;F;01/02/1975;37;Cadres;15/03/2026;;;FR";

/// Imports `rows` (after [`HEADER`]) with the real importer, as `parvis officials import`.
pub async fn import(app: &TestApp, rows: &[&str]) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("elus-conseillers-municipaux-cm.csv");
    std::fs::write(&file, format!("{HEADER}\n{}\n", rows.join("\n")))?;
    import_file(&app.state.db, &file, Progress::Hidden).await?;
    Ok(())
}

/// Gives the profile of the official named `last_name` to `account`, as an approved claim
/// does (the role is granted separately); returns the official's id.
pub async fn give_profile(app: &TestApp, last_name: &str, account: &AccountId) -> Result<String> {
    let mut tx = app.state.db.platform_tx().await?;
    sqlx::query("UPDATE officials SET account_id = $1 WHERE last_name = $2")
        .bind(&account.0)
        .bind(last_name)
        .execute(&mut *tx)
        .await?;
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM officials WHERE last_name = $1")
        .bind(last_name)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    id.context("no such official")
}
