//! Rules of candidate profiles: who may stand, what a valid profile is, the neutral order of
//! the commune page, withdrawal by an admin, and what goes with a deleted account.

use axum::body::Bytes;

use crate::authz::Role;
use crate::candidates::store::{self, Candidate, ELECTIONS, NewCandidate};
use crate::db::sql;
use crate::media::MediaError;
use crate::media::image::{Fit, clean_blocking};
use crate::media::store::{self as media, NewMedia};
use crate::state::AppState;
use crate::types::{AccountId, TenantId};
use crate::web::Tenant;

/// Largest photo upload accepted.
pub const MAX_PHOTO_BYTES: usize = 5 << 20;
/// Photos are scaled to fit this box.
const PHOTO_BOX: u32 = 512;
/// Longest programme, in characters.
pub const MAX_PROGRAMME: usize = 20_000;

/// Why a candidate action is refused.
#[derive(Debug, thiserror::Error)]
pub enum CandidateError {
    /// Bad input; the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// The photo was refused.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// Not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Already exists.
    #[error("{0}")]
    Conflict(String),
    /// No such published profile here.
    #[error("Ce profil de candidat·e n'existe pas (ou plus).")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether the account may present itself in this commune: it holds the candidate role there,
/// or is a resident the commune verified.
pub async fn may_stand(state: &AppState, tenant: TenantId, account: &AccountId) -> bool {
    let roles = state.authz.roles_of(account, &tenant.authz_domain()).await;
    roles.contains(&Role::Candidate) || roles.contains(&Role::Resident)
}

/// A profile as submitted.
pub struct Submitted<'a> {
    /// Election kind.
    pub election_kind: &'a str,
    /// Election day (`aaaa-mm-jj` or `jj/mm/aaaa`).
    pub election_date: &'a str,
    /// List name.
    pub list_name: &'a str,
    /// Programme (markdown).
    pub programme: &'a str,
    /// Photo, if any.
    pub photo: Option<Bytes>,
}

/// Creates a published profile for `account` (named `display_name`); returns its id. The photo
/// is cleaned first; the photo and the profile are written in one transaction.
pub async fn create(
    state: &AppState,
    tenant: &Tenant,
    account: &AccountId,
    display_name: &str,
    input: Submitted<'_>,
) -> Result<String, CandidateError> {
    if !may_stand(state, tenant.id(), account).await {
        return Err(CandidateError::Forbidden(
            "Seules les personnes ayant le rôle de candidat·e dans la commune, ou un domicile vérifié par la mairie, peuvent créer un profil de candidat·e."
                .into(),
        ));
    }
    let invalid = |m: &str| CandidateError::Invalid(m.to_string());
    if !ELECTIONS.iter().any(|(k, _)| *k == input.election_kind) {
        return Err(invalid("Choisissez l'élection dans la liste."));
    }
    let date = crate::util::parse_date(input.election_date)
        .map_err(|e| CandidateError::Invalid(format!("Date de l'élection : {e}.")))?;
    let list_name = input.list_name.trim();
    if list_name.is_empty() || list_name.chars().count() > 120 {
        return Err(invalid(
            "Le nom de la liste doit compter entre 1 et 120 caractères.",
        ));
    }
    let programme = input.programme.replace("\r\n", "\n");
    let programme = programme.trim();
    if programme.is_empty() || programme.chars().count() > MAX_PROGRAMME {
        return Err(invalid(
            "Le programme doit compter entre 1 et 20 000 caractères.",
        ));
    }
    let photo = match input.photo {
        Some(bytes) => {
            if bytes.len() > MAX_PHOTO_BYTES {
                return Err(MediaError::TooLarge(MAX_PHOTO_BYTES).into());
            }
            clean_blocking(bytes, vec![Fit::Within(PHOTO_BOX)])
                .await?
                .pop()
        }
        None => None,
    };
    let mut tx = tenant.db().begin_write().await?;
    if store::has_published(&mut tx, account, input.election_kind, &date).await? {
        return Err(CandidateError::Conflict(
            "Vous avez déjà un profil de candidat·e pour cette élection.".into(),
        ));
    }
    let photo_id = match &photo {
        Some(p) => Some(
            media::insert_tenant(&mut tx, &NewMedia::image("candidate-photo", account, p)).await?,
        ),
        None => None,
    };
    let id = store::insert(
        &mut tx,
        &NewCandidate {
            account,
            election_kind: input.election_kind,
            election_date: &date,
            display_name,
            list_name,
            programme,
            programme_html: &crate::feed::markdown::render(programme),
            photo_id: photo_id.as_deref(),
        },
    )
    .await?;
    tx.commit().await?;
    state.home_cache.invalidate(tenant.id());
    Ok(id)
}

/// The published profiles of a commune in a neutral order: alphabetical by name (accents and
/// case ignored), never by date, popularity or list.
pub async fn listed(tenant: &Tenant) -> Result<Vec<Candidate>, sqlx::Error> {
    let mut tx = tenant.db().read().await?;
    let mut all = store::published(&mut tx).await?;
    tx.commit().await?;
    all.sort_by_cached_key(|c| {
        (
            deunicode::deunicode(&c.display_name).to_lowercase(),
            c.id.clone(),
        )
    });
    Ok(all)
}

/// A published profile of this commune.
pub async fn published(tenant: &Tenant, id: &str) -> Result<Candidate, CandidateError> {
    let mut tx = tenant.db().read().await?;
    let found = store::get(&mut tx, id).await?;
    tx.commit().await?;
    found
        .filter(|c| c.status == "published")
        .ok_or(CandidateError::NotFound)
}

/// Withdraws a published profile with a reason, recorded in the commune's audit log.
pub async fn withdraw(
    state: &AppState,
    tenant: &Tenant,
    admin: &AccountId,
    id: &str,
    reason: &str,
) -> Result<(), CandidateError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(CandidateError::Invalid(
            "Indiquez le motif du retrait (500 caractères au plus).".into(),
        ));
    }
    let mut tx = tenant.db().begin_write().await?;
    if !store::withdraw(&mut tx, id, reason, admin).await? {
        return Err(CandidateError::NotFound);
    }
    crate::moderation::service::audit(&mut tx, admin, "candidate.withdraw", id, Some(reason))
        .await?;
    tx.commit().await?;
    state.home_cache.invalidate(tenant.id());
    Ok(())
}

/// With a deleted account go its candidate profiles and their photos (in the caller's
/// platform transaction).
pub async fn forget_account(
    conn: &mut sqlx::AnyConnection,
    account: &AccountId,
) -> Result<(), sqlx::Error> {
    for statement in [
        "DELETE FROM candidates WHERE account_id = $1",
        "DELETE FROM media WHERE account_id = $1 AND purpose = 'candidate-photo'",
    ] {
        sql::query(statement)
            .bind(&account.0)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
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
            "candidate_profiles",
            "SELECT t.slug AS commune, c.id, c.election_kind, c.election_date, c.display_name, c.list_name, c.programme, \
             c.photo_id, c.status, c.withdrawn_reason, c.created_at FROM candidates c JOIN tenants t ON t.id = c.tenant_id \
             WHERE c.account_id = $1",
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
            &["UPDATE posts SET author_name = 'Compte supprimé' WHERE author_account_id = $1 AND author_kind = 'candidate'"],
        )
        .await?;
        forget_account(conn, account).await
    }
}
