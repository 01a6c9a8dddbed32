//! Provisioning: a commune of the registry becomes a tenant served at `<slug>.<base domain>`.
//! Slugs come from the name; collisions (there are a dozen Sainte-Colombe) take the
//! département code, then the INSEE code. The biggest commune gets the bare name.

use std::collections::HashSet;
use std::fmt;

use parvis_core::db::{Db, sql};
use parvis_core::types::{InseeCode, Slug, TenantId};
use parvis_core::util::now;

use crate::Progress;
use crate::communes::{V, insert_batched};

/// A provisioned commune.
#[derive(Debug, Clone, sql::Row)]
pub struct Tenant {
    /// Key of every tenant-owned row.
    pub id: TenantId,
    /// INSEE code.
    #[row(try_from = "String")]
    pub insee: InseeCode,
    /// Subdomain.
    #[row(try_from = "String")]
    pub slug: Slug,
    /// Official name.
    pub name: String,
    /// Population municipale.
    pub population: Option<i64>,
    /// Département code.
    pub departement_code: String,
    /// `active` or `suspended`.
    pub status: String,
    /// Custom domain, if any.
    pub custom_domain: Option<String>,
}

/// Why a commune could not be provisioned.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The registry has no such commune.
    #[error("aucune commune n'a le code INSEE {insee}{}", if *.registry_empty { " : le registre des communes est vide, lancez d'abord `parvis communes import`" } else { "" })]
    UnknownInsee {
        /// The code asked for.
        insee: String,
        /// Whether the registry was never imported.
        registry_empty: bool,
    },
    /// The code is a neighbourhood of another commune.
    #[error(
        "le code {code} désigne {name}, quartier ou commune déléguée {parent} ({parent_insee}) : c'est cette commune qui peut être ouverte"
    )]
    NotACurrentCommune {
        /// The code asked for.
        code: String,
        /// Its name.
        name: String,
        /// The parent commune's name, after « de » (« d'Annecy », « du Havre »).
        parent: String,
        /// The parent's code.
        parent_insee: String,
    },
    /// Already a tenant.
    #[error("la commune {insee} est déjà ouverte, à l'adresse « {slug} »")]
    AlreadyProvisioned {
        /// Its code.
        insee: String,
        /// Its slug.
        slug: String,
    },
    /// The requested slug is used by another commune.
    #[error("l'identifiant « {0} » est déjà utilisé par une autre commune")]
    SlugTaken(String),
    /// A custom domain that cannot be a commune's.
    #[error("{0}")]
    BadDomain(String),
    /// No commune is served at this slug.
    #[error("aucune commune ouverte à l'adresse « {0} »")]
    UnknownSlug(String),
    /// Storage failed.
    #[error("base de données : {0}")]
    Db(#[from] sqlx::Error),
}

/// What `create_all` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvisionReport {
    /// Tenants created now.
    pub created: usize,
    /// Tenants that already existed.
    pub existing: usize,
}

impl fmt::Display for ProvisionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} commune(s) ouverte(s), {} déjà ouverte(s).",
            self.created, self.existing
        )
    }
}

const SELECT: &str = "SELECT t.id, t.insee, t.slug, t.status, t.custom_domain, c.name, c.population, c.departement_code \
     FROM tenants t JOIN communes c ON c.insee = t.insee";

/// The tenant of a commune.
pub async fn find_by_insee(db: &Db, insee: &InseeCode) -> Result<Option<Tenant>, sqlx::Error> {
    sql::query_as(&format!("{SELECT} WHERE t.insee = $1"))
        .bind(insee.as_str())
        .fetch_optional(db.platform())
        .await
}

/// The tenant served at a slug.
pub async fn find_by_slug(db: &Db, slug: &Slug) -> Result<Option<Tenant>, sqlx::Error> {
    sql::query_as(&format!("{SELECT} WHERE t.slug = $1"))
        .bind(slug.as_str())
        .fetch_optional(db.platform())
        .await
}

/// Serves the commune `slug` on its own domain too (`mairie-exemple.fr`), or no longer
/// (`None`). The domain is checked (a host name, not one of the platform's, free); its DNS and
/// certificate are the operator's to set up, pointing at this server. Returns the tenant.
pub async fn set_custom_domain(
    db: &Db,
    slug: &Slug,
    domain: Option<&str>,
    base_domain: &str,
) -> Result<Tenant, ProvisionError> {
    let tenant = find_by_slug(db, slug)
        .await?
        .ok_or_else(|| ProvisionError::UnknownSlug(slug.to_string()))?;
    let domain = match domain {
        None => None,
        Some(d) => {
            let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
            let host_name = d.len() <= 253
                && d.contains('.')
                && d.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !host_name {
                return Err(ProvisionError::BadDomain(format!(
                    "« {d} » n'est pas un nom de domaine (exemple : mairie-exemple.fr)"
                )));
            }
            if d == base_domain || d.ends_with(&format!(".{base_domain}")) {
                return Err(ProvisionError::BadDomain(format!(
                    "« {d} » est une adresse de la plateforme ({base_domain}) : un domaine propre est hors de celle-ci"
                )));
            }
            Some(d)
        }
    };
    let taken: Option<String> = match &domain {
        Some(d) => {
            sql::query_scalar("SELECT slug FROM tenants WHERE custom_domain = $1 AND id <> $2")
                .bind(d)
                .bind(tenant.id)
                .fetch_optional(db.platform())
                .await?
        }
        None => None,
    };
    if let Some(other) = taken {
        return Err(ProvisionError::BadDomain(format!(
            "ce domaine est déjà celui de la commune « {other} »"
        )));
    }
    sql::query("UPDATE tenants SET custom_domain = $1 WHERE id = $2")
        .bind(domain.as_deref())
        .bind(tenant.id)
        .execute(db.platform())
        .await?;
    Ok(find_by_slug(db, slug).await?.unwrap_or(tenant))
}

/// Tenants, biggest communes first.
pub async fn list_tenants(db: &Db, limit: i64, offset: i64) -> Result<Vec<Tenant>, sqlx::Error> {
    sql::query_as(&format!(
        "{SELECT} ORDER BY COALESCE(c.population, -1) DESC, t.insee LIMIT $1 OFFSET $2"
    ))
    .bind(limit.clamp(0, 100_000))
    .bind(offset.max(0))
    .fetch_all(db.platform())
    .await
}

/// How many tenants exist.
pub async fn count_tenants(db: &Db) -> Result<i64, sqlx::Error> {
    sql::query_scalar("SELECT COUNT(*) FROM tenants")
        .fetch_one(db.platform())
        .await
}

/// The first free slug among the name, name-département, name-INSEE.
fn pick_slug(name: &str, departement: &str, insee: &str, taken: impl Fn(&str) -> bool) -> Slug {
    let base = Slug::from_name(name);
    let candidates = [
        base.as_str().to_string(),
        format!("{}-{}", base.as_str(), departement.to_ascii_lowercase()),
        format!("{}-{}", base.as_str(), insee.to_ascii_lowercase()),
    ];
    candidates
        .iter()
        .filter_map(|c| Slug::parse(c).ok())
        .find(|s| !taken(s.as_str()))
        .unwrap_or_else(|| Slug::from_name(&format!("{name} {insee}")))
}

/// Provisions one commune. `slug`: the subdomain to use instead of the derived one.
pub async fn create_tenant(
    db: &Db,
    insee: &InseeCode,
    slug: Option<Slug>,
) -> Result<Tenant, ProvisionError> {
    let mut tx = db.begin_immediate().await?;
    let commune: Option<(String, String)> =
        sql::query_as("SELECT name, departement_code FROM communes WHERE insee = $1")
            .bind(insee.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some((name, departement)) = commune else {
        let neighbourhood: Option<(String, String, String, Option<i64>)> = sql::query_as(
            "SELECT n.name, n.parent_insee, c.name AS parent, c.name_kind FROM neighbourhoods n JOIN communes c ON c.insee = n.parent_insee \
             WHERE n.code = $1 AND n.parent_insee <> $1",
        )
        .bind(insee.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((name, parent_insee, parent, kind)) = neighbourhood {
            return Err(ProvisionError::NotACurrentCommune {
                code: insee.to_string(),
                name,
                parent: parvis_core::communes::names::of(&parent, kind),
                parent_insee,
            });
        }
        let count: i64 = sql::query_scalar("SELECT COUNT(*) FROM communes")
            .fetch_one(&mut *tx)
            .await?;
        return Err(ProvisionError::UnknownInsee {
            insee: insee.to_string(),
            registry_empty: count == 0,
        });
    };
    if let Some(slug) = sql::query_scalar("SELECT slug FROM tenants WHERE insee = $1")
        .bind(insee.as_str())
        .fetch_optional(&mut *tx)
        .await?
    {
        return Err(ProvisionError::AlreadyProvisioned {
            insee: insee.to_string(),
            slug,
        });
    }
    let candidates = [Slug::from_name(&name).as_str().to_string()];
    let taken: HashSet<String> =
        sql::query_scalar("SELECT slug FROM tenants WHERE slug = $1 OR slug LIKE $2")
            .bind(&candidates[0])
            .bind(format!("{}-%", candidates[0]))
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let slug = match slug {
        Some(s) => {
            let used = sql::query("SELECT 1 AS one FROM tenants WHERE slug = $1")
                .bind(s.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if used.is_some() {
                return Err(ProvisionError::SlugTaken(s.to_string()));
            }
            s
        }
        None => pick_slug(&name, &departement, insee.as_str(), |s| taken.contains(s)),
    };
    let id: TenantId = sql::query_scalar("INSERT INTO tenants (insee, slug, status, created_at) VALUES ($1, $2, 'active', $3) RETURNING id")
        .bind(insee.as_str())
        .bind(slug.as_str())
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => ProvisionError::SlugTaken(slug.to_string()),
            _ => ProvisionError::Db(e),
        })?;
    tx.commit().await?;
    start_with_arrondissements(db, id, insee.as_str(), &name).await?;
    find_by_insee(db, insee)
        .await?
        .filter(|t| t.id == id)
        .ok_or(ProvisionError::Db(sqlx::Error::RowNotFound))
}

/// Paris, Lyon and Marseille start with their municipal arrondissements as neighbourhoods
/// (`parvis_core::neighbourhoods`); their admins may replace them. Other communes start with
/// none.
async fn start_with_arrondissements(
    db: &Db,
    tenant: TenantId,
    insee: &str,
    name: &str,
) -> Result<(), ProvisionError> {
    use parvis_core::neighbourhoods::{ImportError, service};
    if service::arrondissement_count(db, insee).await? == 0 {
        return Ok(());
    }
    match service::from_arrondissements(db, &db.tenant(tenant), insee, name).await {
        Ok(_) => Ok(()),
        Err(ImportError::Db(e)) => Err(ProvisionError::Db(e)),
        // The registry's outlines did not pass the checks: the commune opens without
        // neighbourhoods, which its admins can still import.
        Err(e) => {
            tracing::warn!(insee, error = %e, "arrondissements not taken as neighbourhoods");
            Ok(())
        }
    }
}

/// Provisions every commune not yet a tenant, in one transaction.
pub async fn create_all(db: &Db, progress: Progress) -> Result<ProvisionReport, ProvisionError> {
    let mut tx = db.begin_immediate().await?;
    let mut taken: HashSet<String> = sql::query_scalar("SELECT slug FROM tenants")
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    let existing = taken.len();
    let communes: Vec<(String, String, String)> = sql::query_as(
        "SELECT c.insee, c.name, c.departement_code FROM communes c \
         WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.insee = c.insee) \
         ORDER BY COALESCE(c.population, -1) DESC, c.insee",
    )
    .fetch_all(&mut *tx)
    .await?;
    let at = now();
    let mut values = Vec::with_capacity(communes.len());
    for (insee, name, departement) in communes {
        let slug = pick_slug(&name, &departement, &insee, |s| taken.contains(s));
        taken.insert(slug.to_string());
        values.push(vec![
            V::T(Some(insee)),
            V::T(Some(slug.to_string())),
            V::T(Some("active".into())),
            V::I(Some(at)),
        ]);
    }
    let created = values.len();
    let bar = progress.bar(created as u64, "communes ouvertes");
    insert_batched(
        &mut tx,
        "tenants",
        &["insee", "slug", "status", "created_at"],
        "",
        values,
        &bar,
    )
    .await?;
    tx.commit().await?;
    bar.finish_and_clear();
    // The few communes with municipal arrondissements start with them as neighbourhoods.
    let divided: Vec<(TenantId, String, String)> = sql::query_as(
        "SELECT t.id, c.insee, c.name FROM tenants t JOIN communes c ON c.insee = t.insee \
         WHERE EXISTS (SELECT 1 FROM neighbourhoods n \
                       WHERE n.parent_insee = c.insee AND n.kind = 'arrondissement') \
           AND t.created_at = $1",
    )
    .bind(at)
    .fetch_all(db.platform())
    .await?;
    for (tenant, insee, name) in divided {
        start_with_arrondissements(db, tenant, &insee, &name).await?;
    }
    Ok(ProvisionReport { created, existing })
}

#[cfg(test)]
mod tests {
    use super::pick_slug;

    #[test]
    fn slugs_are_deduplicated() {
        let taken = ["sainte-colombe", "sainte-colombe-05"];
        let pick = |dep: &str, insee: &str| {
            pick_slug("Sainte-Colombe", dep, insee, |s| taken.contains(&s)).to_string()
        };
        assert_eq!(pick("77", "77403"), "sainte-colombe-77");
        assert_eq!(pick("05", "05133"), "sainte-colombe-05133");
        assert_eq!(
            pick_slug("Ajaccio", "2A", "2A004", |_| false).as_str(),
            "ajaccio"
        );
        assert_eq!(
            pick_slug("Sartène", "2A", "2A272", |s| s == "sartene").as_str(),
            "sartene-2a"
        );
    }
}
