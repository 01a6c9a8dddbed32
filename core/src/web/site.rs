//! Which site a request is for, from its `Host`: the platform (apex), a commune by its
//! subdomain, or a commune by its custom domain. Anything else is a 404 page, never another
//! tenant's content.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::Instrument as _;

use crate::db::{Db, TenantDb, sql};
use crate::error::AppError;
use crate::types::{Slug, TenantId};
use crate::web::Web;

/// A commune served as a tenant, as pages need it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct CommuneSite {
    /// Tenant key.
    #[row(rename = "id")]
    pub tenant_id: TenantId,
    /// INSEE code.
    pub insee: String,
    /// Subdomain label.
    pub slug: String,
    /// Official name, with its article.
    pub name: String,
    /// How the name joins a sentence (the registry's `typeLiaison`; see
    /// [`crate::communes::names`]). Templates write `{{ commune | de }}`, `{{ commune | a }}`.
    pub name_kind: Option<i64>,
    /// Population municipale (INSEE), when known.
    pub population: Option<i64>,
    /// Département code and name.
    pub departement_code: Option<String>,
    /// Département name.
    pub departement_name: Option<String>,
    /// Région name.
    pub region_name: Option<String>,
    /// Intercommunalité (EPCI) name.
    pub epci_name: Option<String>,
    /// Postal codes, space-separated.
    pub postal_codes: String,
    /// Centre of the commune (WGS84).
    pub latitude: Option<f64>,
    /// Centre of the commune (WGS84).
    pub longitude: Option<f64>,
    /// Town hall postal address.
    pub mairie_address: Option<String>,
    /// Town hall phone.
    pub mairie_phone: Option<String>,
    /// Town hall e-mail.
    pub mairie_email: Option<String>,
    /// Town hall web site.
    pub mairie_website: Option<String>,
    /// `active` or `suspended`.
    pub status: String,
    /// The commune's colour (`#rrggbb`, checked by `communes::identity`), if it chose one.
    pub accent: Option<String>,
}

/// The site a request is for.
#[derive(Debug, Clone)]
pub enum Site {
    /// The platform: landing, commune search, subscription requests, platform admin.
    Platform,
    /// One commune.
    Commune(Arc<CommuneSite>),
}

impl Site {
    /// The casbin domain of this site.
    pub fn authz_domain(&self) -> String {
        match self {
            Site::Platform => crate::authz::PLATFORM_DOMAIN.to_string(),
            Site::Commune(c) => c.tenant_id.authz_domain(),
        }
    }

    /// The commune, or a 404 for platform-only hosts.
    pub fn commune(&self) -> Result<&Arc<CommuneSite>, AppError> {
        match self {
            Site::Commune(c) => Ok(c),
            Site::Platform => Err(AppError::not_found(
                "Cette page n'existe que sur le site d'une commune.",
            )),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Site {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Site>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("site not resolved")))
    }
}

/// What the resolver concluded from a Host header.
/// The commune a request is for, with the database seen from it: the tenant handle. Services
/// take it rather than a bare id, so the transactions they open are bound to the commune the
/// request's host resolved to (on PostgreSQL, Row-Level Security sees only it), and a
/// handler cannot hand them another one by mistake. Its extractor refuses a platform page
/// with a 404, as [`Site::commune`] does.
#[derive(Clone)]
pub struct Tenant {
    site: Arc<CommuneSite>,
    db: TenantDb,
}

impl Tenant {
    /// The handle of a resolved commune.
    pub fn new(site: Arc<CommuneSite>, db: &Db) -> Tenant {
        Tenant {
            db: db.tenant(site.tenant_id),
            site,
        }
    }

    /// The commune's id (for a log line, a job, a cache key).
    pub fn id(&self) -> TenantId {
        self.site.tenant_id
    }

    /// The commune as its site shows it.
    pub fn site(&self) -> &Arc<CommuneSite> {
        &self.site
    }

    /// The database seen from this commune.
    pub fn db(&self) -> &TenantDb {
        &self.db
    }
}

impl std::ops::Deref for Tenant {
    type Target = CommuneSite;
    fn deref(&self) -> &CommuneSite {
        &self.site
    }
}

impl<S> FromRequestParts<S> for Tenant
where
    S: Send + Sync,
    Web: FromRef<S>,
{
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let site = Site::from_request_parts(parts, state).await?;
        let commune = site.commune()?;
        Ok(Tenant::new(commune.clone(), &Web::from_ref(state).db))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostKind {
    Apex,
    Subdomain(Slug),
    Custom(String),
}

/// Whether `host` is the platform's own (the apex) or one of its communes' subdomains: the
/// hosts a cookie for the base domain reaches.
pub fn under_base_domain(host: &str, base_domain: &str) -> bool {
    matches!(
        classify(host, base_domain),
        Some(HostKind::Apex | HostKind::Subdomain(_))
    )
}

/// The name of `host` when it is none of the platform's own (a commune's custom domain, if one
/// has it): lowercase, without port or final dot.
pub fn custom_host(host: &str, base_domain: &str) -> Option<String> {
    match classify(host, base_domain)? {
        HostKind::Custom(name) => Some(name),
        _ => None,
    }
}

/// The label of `host` when it is a subdomain of `base_domain` (served or not).
pub fn subdomain_of(host: &str, base_domain: &str) -> Option<Slug> {
    match classify(host, base_domain)? {
        HostKind::Subdomain(slug) => Some(slug),
        HostKind::Apex | HostKind::Custom(_) => None,
    }
}

/// Normalises and classifies a Host header value; `None` when malformed.
fn classify(host: &str, base_domain: &str) -> Option<HostKind> {
    let host = host.trim().to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        Some(_) => return None,
        None => host.as_str(),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid {
        return None;
    }
    if name == base_domain || name.strip_prefix("www.") == Some(base_domain) {
        return Some(HostKind::Apex);
    }
    if let Some(label) = name
        .strip_suffix(base_domain)
        .and_then(|s| s.strip_suffix('.'))
    {
        return Slug::parse(label).ok().map(HostKind::Subdomain);
    }
    Some(HostKind::Custom(name.to_string()))
}

const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX: usize = 50_000;

/// Resolves hosts to sites, caching known communes for a short while (so a renamed slug or a
/// suspended tenant takes effect within [`CACHE_TTL`] even when changed by another process).
pub struct SiteResolver {
    base_domain: String,
    cache: RwLock<HashMap<String, (Instant, Arc<CommuneSite>)>>,
}

const SELECT_SITE: &str = "SELECT t.id, t.insee, t.slug, t.status, t.accent, c.name, c.name_kind, c.population, \
     c.departement_code, d.name AS departement_name, r.name AS region_name, e.name AS epci_name, \
     c.postal_codes, c.latitude, c.longitude, c.mairie_address, c.mairie_phone, c.mairie_email, \
     c.mairie_website \
     FROM tenants t JOIN communes c ON c.insee = t.insee \
     LEFT JOIN departements d ON d.code = c.departement_code \
     LEFT JOIN regions r ON r.code = c.region_code \
     LEFT JOIN epcis e ON e.siren = c.epci_siren";

impl SiteResolver {
    /// A resolver for `<slug>.<base_domain>` hosts.
    pub fn new(base_domain: &str) -> SiteResolver {
        SiteResolver {
            base_domain: base_domain.to_string(),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Forgets cached communes (after an edit that changes what [`CommuneSite`] holds).
    pub fn invalidate(&self) {
        if let Ok(mut cache) = self.cache.write() {
            cache.clear();
        }
    }

    /// Resolves a Host header. `Ok(None)`: malformed or unknown host.
    pub async fn resolve(&self, db: &Db, host: &str) -> Result<Option<Site>, sqlx::Error> {
        let Some(kind) = classify(host, &self.base_domain) else {
            return Ok(None);
        };
        let key = match &kind {
            HostKind::Apex => return Ok(Some(Site::Platform)),
            HostKind::Subdomain(slug) => slug.as_str().to_string(),
            HostKind::Custom(domain) => format!("@{domain}"),
        };
        if let Ok(cache) = self.cache.read()
            && let Some((at, site)) = cache.get(&key)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(Some(Site::Commune(site.clone())));
        }
        let site: Option<CommuneSite> = match &kind {
            HostKind::Subdomain(slug) => {
                sql::query_as(&format!("{SELECT_SITE} WHERE t.slug = $1"))
                    .bind(slug.as_str())
                    .fetch_optional(db.platform())
                    .await?
            }
            HostKind::Custom(domain) => {
                sql::query_as(&format!("{SELECT_SITE} WHERE t.custom_domain = $1"))
                    .bind(domain)
                    .fetch_optional(db.platform())
                    .await?
            }
            HostKind::Apex => None,
        };
        let Some(site) = site.map(Arc::new) else {
            return Ok(None);
        };
        if site.status != "active" {
            return Ok(None);
        }
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, (Instant::now(), site.clone()));
        }
        Ok(Some(Site::Commune(site)))
    }

    /// The open commune whose subdomain label is `slug`, as a request on its host would
    /// resolve it (from the same cache).
    pub async fn commune(
        &self,
        db: &Db,
        slug: &str,
    ) -> Result<Option<Arc<CommuneSite>>, sqlx::Error> {
        let host = format!("{slug}.{}", self.base_domain);
        Ok(match self.resolve(db, &host).await? {
            Some(Site::Commune(site)) if site.slug == slug => Some(site),
            _ => None,
        })
    }
}

/// The Host of a request (HTTP/1.1 header, or the authority of an absolute URI).
pub fn request_host(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
}

/// Middleware: resolves the site, or answers the "unknown address" page. The rest of the
/// request runs in a span naming the tenant, so every log line says which commune it is about.
pub async fn resolve_site(State(state): State<Web>, mut req: Request, next: Next) -> Response {
    let host = request_host(req.headers(), req.uri()).unwrap_or_default();
    match state.sites.resolve(&state.db, &host).await {
        Ok(Some(site)) => {
            let tenant = match &site {
                Site::Platform => "-".to_string(),
                Site::Commune(c) => c.slug.clone(),
            };
            let span = tracing::info_span!(
                "request",
                request_id = %crate::util::new_id(),
                tenant = %tenant,
                method = %req.method(),
                path = %req.uri().path(),
            );
            req.extensions_mut().insert(site);
            next.run(req).instrument(span).await
        }
        Ok(None) => crate::web::errors::unknown_host_page(&state, &host).into_response(),
        Err(e) => AppError::Internal(e.into()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_hosts() {
        let b = "parvis.localhost";
        assert_eq!(classify("parvis.localhost", b), Some(HostKind::Apex));
        assert_eq!(classify("PARVIS.localhost:8080", b), Some(HostKind::Apex));
        assert_eq!(classify("www.parvis.localhost", b), Some(HostKind::Apex));
        assert!(
            matches!(classify("paris.parvis.localhost:8080", b), Some(HostKind::Subdomain(s)) if s.as_str() == "paris")
        );
        assert_eq!(classify("a.b.parvis.localhost", b), None);
        assert_eq!(classify("evil..parvis.localhost", b), None);
        assert_eq!(classify("paris.parvis.localhost:80x", b), None);
        assert_eq!(classify("<script>", b), None);
        assert_eq!(classify("", b), None);
        assert_eq!(
            classify("mairie-exemple.fr", b),
            Some(HostKind::Custom("mairie-exemple.fr".into()))
        );
    }
}
