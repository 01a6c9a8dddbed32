//! `parvis serve --demo`: a ready-to-try platform on the embedded SQLite default — every
//! commune of France in the registry, one demo commune with sample content, a demo admin.

use anyhow::Context as _;
use parvis_core::accounts::service::create_verified;
use parvis_core::accounts::store as accounts;
use parvis_core::authz::{Authz, PLATFORM_DOMAIN, Role};
use parvis_core::communes::store;
use parvis_core::db::Db;
use parvis_core::types::{InseeCode, TenantId};
use parvis_tenants::communes::{self, Progress, Selection, Source};
use parvis_tenants::provision::{self, ProvisionError};

/// The demo commune: Annecy (Haute-Savoie).
pub const DEMO_INSEE: &str = "74010";
/// The demo admin's e-mail.
pub const DEMO_ADMIN_EMAIL: &str = "admin@parvis.localhost";
/// The demo admin's password (demo only: printed at start).
pub const DEMO_ADMIN_PASSWORD: &str = "parvis-demo-2026";

/// What the demo set up.
pub struct Demo {
    /// The demo commune's slug.
    pub slug: String,
}

/// Imports the registry if empty, provisions the demo commune with sample content, and creates
/// the demo admin. Idempotent: a second start changes nothing.
pub async fn prepare(db: &Db, authz: &Authz) -> anyhow::Result<Demo> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM communes")
        .fetch_one(db.pool())
        .await?;
    if count == 0 {
        eprintln!("Import du registre des communes (première exécution)…");
        communes::import(db, &Source::Embedded, &Selection::All, Progress::Bar).await?;
    }
    let insee = InseeCode::parse(DEMO_INSEE).context("demo INSEE code")?;
    let tenant = match provision::create_tenant(db, &insee, None).await {
        Ok(t) => {
            seed_content(db, t.id).await?;
            t
        }
        Err(ProvisionError::AlreadyProvisioned { .. }) => provision::find_by_insee(db, &insee)
            .await?
            .context("demo commune vanished")?,
        Err(e) => return Err(e.into()),
    };
    let admin = match accounts::by_email(db, DEMO_ADMIN_EMAIL).await? {
        Some(a) => a.id,
        None => create_verified(
            db,
            DEMO_ADMIN_EMAIL,
            "Admin de démonstration",
            DEMO_ADMIN_PASSWORD,
        )
        .await?
        .context("demo admin could not be created")?,
    };
    authz
        .grant(&admin, Role::PlatformAdmin, PLATFORM_DOMAIN)
        .await?;
    authz
        .grant(&admin, Role::TenantAdmin, &tenant.id.authz_domain())
        .await?;
    Ok(Demo {
        slug: tenant.slug.to_string(),
    })
}

async fn seed_content(db: &Db, tenant: TenantId) -> anyhow::Result<()> {
    let mut tx = db.tenant(tenant).begin().await?;
    store::set_presentation(
        &mut tx,
        "Contenu de démonstration : cette présentation est un exemple, rédigé pour montrer la page d'une commune.\n\n\
         Au bord du lac, la commune accueille habitants et visiteurs toute l'année. Retrouvez ici les \
         informations pratiques de la mairie, l'équipe municipale et les liens utiles.",
    )
    .await?;
    store::add_member(&mut tx, "Camille Exemple", "Maire (démonstration)").await?;
    store::add_member(&mut tx, "Dominique Exemple", "1re adjointe (démonstration)").await?;
    store::add_link(
        &mut tx,
        "Démarches administratives (service-public.fr)",
        "https://www.service-public.fr/",
    )
    .await?;
    store::add_link(
        &mut tx,
        "Données ouvertes de la commune (data.gouv.fr)",
        "https://www.data.gouv.fr/",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Where `scripts/demo` builds the feature modules (`PARVIS_DEMO_MODULES` overrides it).
pub const DEMO_MODULES_DIR: &str = "target/wasm32-wasip2/module";

/// Components built only for the host's tests: never installed in the demo (the impostor
/// claims the polls id).
const TEST_ONLY_MODULES: [&str; 3] = [
    "parvis_module_hostile.wasm",
    "parvis_module_assailant.wasm",
    "parvis_module_impostor.wasm",
];

/// Installs the feature modules built in `dir` (test-only components excluded) and switches
/// them on in the demo commune. Returns their names; none if the modules were not built.
pub async fn install_modules(
    state: &parvis_core::web::AppState,
    slug: &str,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(vec![]);
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("parvis_module_") && n.ends_with(".wasm"))
                && !TEST_ONLY_MODULES.iter().any(|t| p.ends_with(t))
        })
        .collect();
    files.sort();
    let tenant = provision::find_by_slug(&state.db, &parvis_core::types::Slug::parse(slug)?)
        .await?
        .context("demo commune")?;
    let mut names = vec![];
    for file in files {
        let wasm = std::fs::read(&file)?;
        let m = state
            .modules
            .install(state, &wasm)
            .await
            .with_context(|| format!("module {}", file.display()))?;
        if m.premium {
            // The demo commune tries everything, premium modules included.
            let id = parvis_core::types::ModuleId::parse(&m.id)?;
            parvis_core::modules::service::entitle(state, tenant.id, &id, "demo", None).await?;
        }
        parvis_core::modules::service::enable(state, tenant.id, &m.id, None).await?;
        names.push(m.name);
    }
    Ok(names)
}
