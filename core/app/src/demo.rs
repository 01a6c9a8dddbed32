//! `parvis serve --demo`: a ready-to-try platform on the embedded SQLite default — every
//! commune of France in the registry, one demo commune that looks lived in, a demo admin.
//!
//! What the demo commune shows is either true or marked as sample content:
//! - its real municipal council, from the national registry of elected officials
//!   (`data/demo/elus-74010.csv`, imported by the RNE importer as `parvis officials import` does);
//! - a few weeks of the commune's posts (`data/demo/publications.json`), each one marked as a
//!   demonstration;
//! - each module's own sample content, shipped in the module's folder (`modules/<id>/demo.json`):
//!   the requests its admin and a few demo citizens would make, replayed through the module host
//!   the first time the demo switches the module on (see [`ModuleDemo`]).
//!
//! Everything is written once: a second start adds nothing.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Datelike as _, NaiveDate, NaiveTime, TimeZone as _};
use chrono_tz::Europe::Paris;
use parvis_core::accounts::service::create_verified;
use parvis_core::accounts::store as accounts;
use parvis_core::authz::{Authz, PLATFORM_DOMAIN, Role, perms};
use parvis_core::communes::store;
use parvis_core::db::{Db, TenantSql, sql};
use parvis_core::feed::store::{Author, NewPost, insert_post};
use parvis_core::feed::{markdown, service::THEMES, tags};
use parvis_core::modules::bindings::parvis::module::types::{Body, Field, Request, Viewer};
use parvis_core::modules::call::{self, CallContext, ClientKey};
use parvis_core::state::AppState;
use parvis_core::types::{AccountId, InseeCode, TenantId};
use parvis_tenants::communes::{self, Progress, Selection, Source};
use parvis_tenants::officials;
use parvis_tenants::provision::{self, ProvisionError, Tenant};
use serde::Deserialize;

/// The demo commune: Annecy (Haute-Savoie).
pub const DEMO_INSEE: &str = "74010";
/// The demo admin's e-mail.
pub const DEMO_ADMIN_EMAIL: &str = "admin@parvis.localhost";
/// The demo admin's password (demo only: printed at start). The demo citizens share it.
pub const DEMO_ADMIN_PASSWORD: &str = "parvis-demo-2026";

/// The demo commune's council in the registry's « conseillers municipaux » layout (see
/// `data/README.md` for its source and licence).
const COUNCIL_CSV: &[u8] = include_bytes!("../../../data/demo/elus-74010.csv");
/// The commune's sample posts.
const POSTS_JSON: &str = include_str!("../../../data/demo/publications.json");
/// What opens every sample post: they are published under the commune's name.
const POST_MARK: &str =
    "*Publication de démonstration, fictive\u{a0}: elle n’émane pas de la mairie.*";

/// What the demo set up.
pub struct Demo {
    /// The demo commune's slug.
    pub slug: String,
}

/// Imports the registry if empty, provisions the demo commune with its council and sample
/// posts, and creates the demo admin. Idempotent: a second start changes nothing.
pub async fn prepare(db: &Db, authz: &Authz) -> anyhow::Result<Demo> {
    let count: i64 = sql::query_scalar("SELECT COUNT(*) FROM communes")
        .fetch_one(db.platform())
        .await?;
    if count == 0 {
        eprintln!("Import du registre des communes (première exécution)…");
        communes::import(db, &Source::Embedded, &Selection::All, Progress::Bar).await?;
    }
    let admin = demo_account(db, DEMO_ADMIN_EMAIL, "Admin de démonstration").await?;
    let insee = InseeCode::parse(DEMO_INSEE).context("demo INSEE code")?;
    let (tenant, fresh) = match provision::create_tenant(db, &insee, None).await {
        Ok(t) => (t, true),
        Err(ProvisionError::AlreadyProvisioned { .. }) => (
            provision::find_by_insee(db, &insee)
                .await?
                .context("demo commune vanished")?,
            false,
        ),
        Err(e) => return Err(e.into()),
    };
    import_council(db, &tenant).await?;
    if fresh {
        seed_page(db, tenant.id).await?;
        seed_posts(db, &tenant, &admin).await?;
        seed_followers(db, tenant.id).await?;
        seed_neighbourhoods(db, &tenant).await?;
    }
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

/// The account with this e-mail, created (verified, with the demo password) if missing.
async fn demo_account(db: &Db, email: &str, name: &str) -> anyhow::Result<AccountId> {
    if let Some(a) = accounts::by_email(db, email).await? {
        return Ok(a.id);
    }
    create_verified(db, email, name, DEMO_ADMIN_PASSWORD)
        .await?
        .with_context(|| format!("demo account {email} could not be created"))
}

/// Imports the demo commune's council from the shipped registry extract, unless the commune
/// already has one. The importer ends every mandate a national file no longer lists, so this
/// one-commune extract is never imported into a database that holds other communes' officials
/// (there, `parvis officials import` with the national file brings the demo commune's too).
async fn import_council(db: &Db, tenant: &Tenant) -> anyhow::Result<()> {
    let mut tx = db.tenant(tenant.id).begin().await?;
    let council = store::council(&mut tx).await?;
    tx.commit().await?;
    if !council.is_empty() {
        return Ok(());
    }
    let mut tx = db.platform_write_tx().await?;
    let others: i64 = sql::query_scalar(
        "SELECT COUNT(*) FROM mandates WHERE tenant_id <> $1 AND ended_at IS NULL",
    )
    .bind(tenant.id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    if others > 0 {
        eprintln!(
            "Conseil municipal de démonstration non importé\u{a0}: la base contient déjà les élus d’autres communes."
        );
        return Ok(());
    }
    let (kind, rows, rejected) =
        officials::parse::parse(COUNCIL_CSV).context("data/demo/elus-74010.csv")?;
    let report = officials::import_rows(db, kind, rows, rejected, Progress::Hidden).await?;
    if let Some(r) = report.rejected.first() {
        bail!(
            "data/demo/elus-74010.csv, ligne {}\u{a0}: {}",
            r.line,
            r.reason
        );
    }
    println!(
        "{}\u{a0}: conseil municipal importé du Répertoire national des élus ({} élus).",
        tenant.name, report.officials
    );
    Ok(())
}

/// The demo commune's colour (`communes::identity`).
const DEMO_ACCENT: &str = "#00577d";

async fn seed_page(db: &Db, tenant: TenantId) -> anyhow::Result<()> {
    // The blue of its lake, through the same contrast rules as an admin's choice.
    let accent = parvis_core::communes::identity::check_accent(DEMO_ACCENT)?.map(|a| a.hex());
    parvis_core::db::sql::query("UPDATE tenants SET accent = $1 WHERE id = $2")
        .bind(accent)
        .bind(tenant)
        .execute(db.platform())
        .await?;
    let mut tx = db.tenant(tenant).begin_write().await?;
    store::set_presentation(
        &mut tx,
        "Contenu de démonstration\u{a0}: cette présentation est un exemple, rédigé pour montrer la page d’une commune.\n\n\
         Au bord du lac, la commune accueille habitants et visiteurs toute l’année. Retrouvez ici les \
         informations pratiques de la mairie, l’équipe municipale et les liens utiles.",
    )
    .await?;
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

/// A sample post of `data/demo/publications.json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SamplePost {
    /// How many days before the demo's first start it is dated.
    days_ago: u32,
    /// Paris time, `HH:MM`.
    time: String,
    theme: Option<String>,
    /// `actualite`, `action`, `engagement` or `proposition`.
    kind: String,
    quartier: Option<String>,
    /// Markdown, after [`POST_MARK`].
    body: String,
}

/// Publishes the sample posts as the commune, dated over the last weeks.
async fn seed_posts(db: &Db, tenant: &Tenant, admin: &AccountId) -> anyhow::Result<()> {
    let mut posts: Vec<SamplePost> =
        serde_json::from_str(POSTS_JSON).context("data/demo/publications.json")?;
    // Oldest first: post ids are time-ordered and lists follow them.
    posts.sort_by(|a, b| b.days_ago.cmp(&a.days_ago).then(a.time.cmp(&b.time)));
    let now = parvis_core::util::now();
    let mut tx = db.tenant(tenant.id).begin_write().await?;
    for post in &posts {
        let bad = |what: &str| format!("data/demo/publications.json\u{a0}: {what}");
        let kind = tags::PostKind::parse(&post.kind).with_context(|| bad(&post.kind))?;
        let theme = post.theme.as_deref();
        if theme.is_some_and(|t| !THEMES.contains(&t)) {
            bail!(bad("thème inconnu"));
        }
        let quartier = tags::quartier(post.quartier.as_deref().unwrap_or_default())
            .map_err(|e| anyhow::anyhow!(bad(e)))?;
        let at = paris_timestamp(days_from(now, -i64::from(post.days_ago))?, &post.time)?;
        let body = format!("{POST_MARK}\n\n{}", post.body);
        let id = insert_post(
            &mut tx,
            &NewPost {
                account: admin,
                author: &Author::Commune,
                author_name: &tenant.name,
                body: &body,
                body_html: &markdown::render(&body),
                theme,
                kind,
                quartier: quartier.as_deref(),
            },
        )
        .await?;
        // The store dates a post when it is written; a sample post is dated in the past.
        tx.scoped("UPDATE posts SET created_at = $2 WHERE tenant_id = $1 AND id = $3")
            .bind(at.min(now))
            .bind(&id)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The demo commune's neighbourhoods: its outline cut in four at the town hall, imported as a
/// GeoJSON file would be. Annecy's real quartiers (its six communes déléguées) have no
/// outline in the open data Parvis ships; these sectors are the demo's, named as such.
async fn seed_neighbourhoods(db: &Db, tenant: &Tenant) -> anyhow::Result<()> {
    use geo::{BooleanOps as _, Rect};
    use parvis_core::communes::outline::Geometry;
    let Some(text) = parvis_core::communes::outline::text_of(db, tenant.insee.as_str()).await?
    else {
        return Ok(());
    };
    let outline: Geometry = serde_json::from_str(&text).context("demo commune outline")?;
    let (lat, lon): (Option<f64>, Option<f64>) =
        sql::query_as("SELECT latitude, longitude FROM communes WHERE insee = $1")
            .bind(tenant.insee.as_str())
            .fetch_one(db.platform())
            .await?;
    let (Some(lat), Some(lon)) = (lat, lon) else {
        return Ok(());
    };
    let shape = parvis_core::communes::outline::plane(&outline, 1.0);
    let far = 1.0;
    let sectors = [
        ("Secteur nord-ouest", (lon - far, lat), (lon, lat + far)),
        ("Secteur nord-est", (lon, lat), (lon + far, lat + far)),
        ("Secteur sud-ouest", (lon - far, lat - far), (lon, lat)),
        ("Secteur sud-est", (lon, lat - far), (lon + far, lat)),
    ];
    let features: Vec<serde_json::Value> = sectors
        .iter()
        .map(|(name, (w, s), (e, n))| {
            let cut = shape.intersection(&Rect::new((*w, *s), (*e, *n)).to_polygon());
            let coordinates: Vec<Vec<Vec<[f64; 2]>>> = cut
                .iter()
                .map(|p| {
                    std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .map(|ring| ring.coords().map(|c| [c.x, c.y]).collect())
                        .collect()
                })
                .collect();
            serde_json::json!({
                "type": "Feature",
                "properties": { "nom": name },
                "geometry": { "type": "MultiPolygon", "coordinates": coordinates },
            })
        })
        .collect();
    let file = serde_json::to_vec(&serde_json::json!({
        "type": "FeatureCollection",
        "features": features,
    }))?;
    parvis_core::neighbourhoods::service::import(
        db,
        &db.tenant(tenant.id),
        tenant.insee.as_str(),
        file,
    )
    .await
    .context("demo neighbourhoods")?;
    Ok(())
}

/// How many demo citizens follow the demo commune from the start.
const FOLLOWING_CITIZENS: u32 = 8;

/// The first demo citizens follow the commune, having joined over the last ten weeks (its
/// admin's chart of new followers has something to show).
async fn seed_followers(db: &Db, tenant: TenantId) -> anyhow::Result<()> {
    let now = parvis_core::util::now();
    for n in 1..=FOLLOWING_CITIZENS {
        let (email, name) = citizen(n);
        let id = demo_account(db, &email, &name).await?;
        parvis_core::feed::store::set_follow(db, &id, tenant, "commune", "", true).await?;
        // The store dates a follow when it is written; these are dated in the past.
        let _turn = db.write_turn().await?;
        sql::query(
            "UPDATE follows SET created_at = $1 WHERE account_id = $2 AND tenant_id = $3 \
             AND target_kind = 'commune'",
        )
        .bind(now - i64::from(n) * 9 * 24 * 3600)
        .bind(&id.0)
        .bind(tenant)
        .execute(db.platform())
        .await?;
    }
    Ok(())
}

/// Demo citizen `n`'s e-mail and name.
fn citizen(n: u32) -> (String, String) {
    (
        format!("habitant-{n}@parvis.localhost"),
        format!("Habitant de démonstration {n}"),
    )
}

/// The day in Paris `days` days from the Unix time `now`.
fn days_from(now: i64, days: i64) -> anyhow::Result<NaiveDate> {
    let today = DateTime::from_timestamp(now, 0)
        .context("horloge")?
        .with_timezone(&Paris)
        .date_naive();
    today
        .checked_add_signed(chrono::Duration::days(days))
        .context("date hors limites")
}

/// Unix seconds of `day` at `time` (`HH:MM`), Paris time.
fn paris_timestamp(day: NaiveDate, time: &str) -> anyhow::Result<i64> {
    let time = NaiveTime::parse_from_str(time, "%H:%M")
        .with_context(|| format!("heure «\u{a0}{time}\u{a0}» invalide (HH:MM)"))?;
    Paris
        .from_local_datetime(&day.and_time(time))
        .earliest()
        .map(|t| t.timestamp())
        .with_context(|| format!("{day} {time} n’existe pas à Paris"))
}

/// Where `scripts/demo` builds the feature modules (`PARVIS_DEMO_MODULES` overrides it).
pub const DEMO_MODULES_DIR: &str = "target/wasm32-wasip2/module";

/// Components built only for the host's tests: never installed in the demo (the impostor
/// claims the polls id; the elder is a frozen 0.2.0 component).
const TEST_ONLY_MODULES: [&str; 4] = [
    "parvis_module_hostile.wasm",
    "parvis_module_assailant.wasm",
    "parvis_module_impostor.wasm",
    "parvis_module_elder.wasm",
];

/// Installs the feature modules built in `dir` (test-only components excluded) and switches
/// them on in the demo commune; the first time a module is switched on there, its own demo
/// content is replayed. Returns their names; none if the modules were not built.
pub async fn install_modules(
    state: &AppState,
    slug: &str,
    dir: &Path,
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
    let mut replays = vec![];
    let mut names = vec![];
    for file in files {
        let wasm = std::fs::read(&file)?;
        let m = state
            .modules
            .install(&wasm)
            .await
            .with_context(|| format!("module {}", file.display()))?;
        let first_time = state
            .modules
            .tenant(&state.db, tenant.id)
            .await?
            .enabled(&m.id)
            .is_none();
        if m.premium {
            // The demo commune tries everything, premium modules included.
            let id = parvis_core::types::ModuleId::parse(&m.id)?;
            parvis_core::modules::service::entitle(
                &state.modules,
                &state.db.tenant(tenant.id),
                &id,
                "demo",
                None,
            )
            .await?;
        }
        parvis_core::modules::service::enable(
            &state.modules,
            &state.db.tenant(tenant.id),
            &m.id,
            None,
        )
        .await?;
        if first_time {
            replays.push((m.id.clone(), m.name.clone()));
        }
        names.push(m.name);
    }
    for (id, name) in replays {
        let Some(file) = content_file(dir, &id) else {
            continue;
        };
        eprintln!("Contenu de démonstration du module «\u{a0}{name}\u{a0}»…");
        // A module whose sample content fails still serves: the demo goes on without it.
        if let Err(e) = replay(state, &tenant, &id, &file).await {
            eprintln!(
                "Contenu de démonstration du module «\u{a0}{name}\u{a0}» incomplet ({})\u{a0}: {e:#}",
                file.display()
            );
        }
    }
    Ok(names)
}

/// `modules/<id>/demo.json` in the source tree the modules were built from: looked up above
/// the modules' build folder, then above the current folder, then in this binary's workspace.
fn content_file(dir: &Path, id: &str) -> Option<PathBuf> {
    let built = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let current = std::env::current_dir().unwrap_or_default();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [built, current, workspace]
        .iter()
        .flat_map(|start| start.ancestors())
        .map(|a| a.join("modules").join(id).join("demo.json"))
        .find(|p| p.is_file())
}

/// A module's demo content (`modules/<id>/demo.json`): the requests that fill it, in order,
/// replayed in the demo commune as the module's routes would receive them. (The file's
/// `about` says, for its reader, what the content shows.)
#[derive(Deserialize)]
struct ModuleDemo {
    steps: Vec<Step>,
}

/// One request of a module's demo content.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    /// `admin` (the demo admin) or `habitant-<n>` (demo citizen n, 1 to 20).
    #[serde(rename = "as")]
    actor: String,
    /// Under `/admin/m/<id>` (the module's back-office) rather than `/m/<id>`.
    #[serde(default)]
    admin: bool,
    /// `GET` or `POST`.
    method: String,
    /// Below the module's mount point. `{name}` is an id saved by an earlier step.
    path: String,
    /// Form fields; a list posts the field once per value (checkboxes). Values may hold
    /// `{name}`, `{date:+Nd}` (`YYYY-MM-DD`), `{datetime:+Nd@HH:MM}` or `{datetime:+Nh}`
    /// (`datetime-local`, Paris time); `+No` counts working days (Monday to Friday) instead.
    #[serde(default)]
    form: BTreeMap<String, FieldValue>,
    /// Saves the last segment of the answer's redirect (a created item's id) under this name.
    save: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FieldValue {
    One(String),
    Many(Vec<String>),
}

/// Who a step acts as: an account and its roles in the commune.
struct Actor {
    id: AccountId,
    name: String,
    roles: Vec<String>,
}

/// The demo citizens a file may name.
const MAX_CITIZENS: u32 = 20;

async fn actor(state: &AppState, tenant: &Tenant, who: &str) -> anyhow::Result<Actor> {
    let (email, name) = if who == "admin" {
        (
            DEMO_ADMIN_EMAIL.to_string(),
            "Admin de démonstration".to_string(),
        )
    } else {
        let n = who
            .strip_prefix("habitant-")
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=MAX_CITIZENS).contains(n))
            .with_context(|| {
                format!("«\u{a0}{who}\u{a0}»\u{a0}: une étape est jouée par «\u{a0}admin\u{a0}» ou «\u{a0}habitant-1\u{a0}» à «\u{a0}habitant-{MAX_CITIZENS}\u{a0}»")
            })?;
        citizen(n)
    };
    let id = demo_account(&state.db, &email, &name).await?;
    let roles = state
        .authz
        .roles_of(&id, &tenant.id.authz_domain())
        .await
        .into_iter()
        .map(|r| r.as_str().to_string())
        .collect();
    Ok(Actor { id, name, roles })
}

/// Replays a module's demo content in the demo commune, as its admin and demo citizens.
async fn replay(state: &AppState, tenant: &Tenant, id: &str, file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)?;
    let content: ModuleDemo = serde_json::from_str(&text)?;
    let module = state.modules.get(id).context("module non chargé")?;
    let settings = state
        .modules
        .tenant(&state.db, tenant.id)
        .await?
        .enabled(id)
        .map_or_else(|| "{}".to_string(), |c| c.settings.clone());
    let mut actors: HashMap<String, Actor> = HashMap::new();
    let mut saved: HashMap<String, String> = HashMap::new();
    let now = parvis_core::util::now();
    for (n, step) in content.steps.iter().enumerate() {
        let n = n + 1;
        let method = step.method.to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "POST") {
            bail!(
                "étape {n}\u{a0}: méthode «\u{a0}{}\u{a0}» (GET ou POST)",
                step.method
            );
        }
        if !actors.contains_key(&step.actor) {
            let a = actor(state, tenant, &step.actor).await?;
            actors.insert(step.actor.clone(), a);
        }
        let actor = actors.get(&step.actor).context("actor")?;
        let domain = tenant.id.authz_domain();
        // As the host's route does: the back-office only for those who may use it.
        if step.admin
            && !state
                .authz
                .can(Some(&actor.id), &domain, perms::USE_MODULE_ADMIN)
                .await
        {
            bail!(
                "étape {n}\u{a0}: «\u{a0}{}\u{a0}» n’a pas accès à l’administration des modules",
                step.actor
            );
        }
        let path = expand(&step.path, &saved, now).with_context(|| format!("étape {n}"))?;
        let mut form = vec![];
        for (name, value) in &step.form {
            let values = match value {
                FieldValue::One(v) => std::slice::from_ref(v),
                FieldValue::Many(v) => v.as_slice(),
            };
            for v in values {
                form.push(Field {
                    name: name.clone(),
                    value: expand(v, &saved, now).with_context(|| format!("étape {n}, {name}"))?,
                });
            }
        }
        let base = if step.admin {
            format!("/admin/m/{id}")
        } else {
            format!("/m/{id}")
        };
        let request = Request {
            method: method.clone(),
            path: path.clone(),
            query: vec![],
            form,
            body: vec![],
            content_type: (method == "POST")
                .then(|| "application/x-www-form-urlencoded".to_string()),
            viewer: Viewer {
                account: Some(actor.id.0.clone()),
                display_name: Some(actor.name.clone()),
                roles: actor.roles.clone(),
            },
            admin: step.admin,
            base: base.clone(),
            csrf_token: String::new(),
            settings: settings.clone(),
            commune: call::commune_of(&tenant.name, tenant.slug.as_str(), tenant.population),
        };
        let ctx = CallContext {
            tenant: tenant.id,
            origin: state.config.commune_origin(tenant.slug.as_str()),
            write: method != "GET",
            client: Some(ClientKey::account(&actor.id.0)),
            name_kind: state
                .sites
                .commune(&state.db, tenant.slug.as_str())
                .await?
                .and_then(|site| site.name_kind),
            uploads: None,
        };
        let (response, _) = call::handle(&state.modules, &module, &ctx, &request)
            .await
            .map_err(|f| anyhow::anyhow!("étape {n} ({method} {base}{path})\u{a0}: {f}"))?;
        if response.status >= 400 {
            let title = match &response.body {
                Body::Page(p) => format!(" «\u{a0}{}\u{a0}»", p.title),
                _ => String::new(),
            };
            bail!(
                "étape {n} ({method} {base}{path})\u{a0}: réponse {}{title}",
                response.status
            );
        }
        if let Some(name) = &step.save {
            let Body::Redirect(to) = &response.body else {
                bail!(
                    "étape {n}\u{a0}: «\u{a0}save\u{a0}» attend une redirection vers l’élément créé"
                );
            };
            let last = to.rsplit('/').next().unwrap_or_default();
            saved.insert(name.clone(), last.to_string());
        }
    }
    Ok(())
}

/// Replaces `{name}` (a saved id) and the date placeholders of a demo value.
fn expand(text: &str, saved: &HashMap<String, String>, now: i64) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('}').with_context(|| {
            format!("«\u{a0}{{\u{a0}» sans «\u{a0}}}\u{a0}» dans «\u{a0}{text}\u{a0}»")
        })?;
        let token = &after[..end];
        out.push_str(&placeholder(token, saved, now)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn placeholder(token: &str, saved: &HashMap<String, String>, now: i64) -> anyhow::Result<String> {
    let wrong = || {
        format!(
            "«\u{a0}{{{token}}}\u{a0}»\u{a0}: décalage attendu comme +3d, +3o (jours ouvrés) ou +3h"
        )
    };
    // `+Nd`: N days later; `+No`: N working days later (Monday to Friday).
    let day = |spec: &str| -> anyhow::Result<NaiveDate> {
        let (n, unit) = spec.split_at(spec.len().saturating_sub(1));
        let n = n.parse::<i64>().ok().with_context(wrong)?;
        match unit {
            "d" => days_from(now, n),
            "o" => {
                let mut day = days_from(now, 0)?;
                for _ in 0..n {
                    day = day.succ_opt().context("date hors limites")?;
                    while day.weekday().number_from_monday() > 5 {
                        day = day.succ_opt().context("date hors limites")?;
                    }
                }
                Ok(day)
            }
            _ => bail!(wrong()),
        }
    };
    if let Some(spec) = token.strip_prefix("date:") {
        return Ok(day(spec)?.format("%Y-%m-%d").to_string());
    }
    if let Some(spec) = token.strip_prefix("datetime:") {
        let at = match spec.split_once('@') {
            Some((days, time)) => paris_timestamp(day(days)?, time)?,
            None => {
                let hours = spec.strip_suffix('h').and_then(|n| n.parse::<i64>().ok());
                now + hours.with_context(wrong)? * 3600
            }
        };
        return Ok(DateTime::from_timestamp(at, 0)
            .context("date hors limites")?
            .with_timezone(&Paris)
            .format("%Y-%m-%dT%H:%M")
            .to_string());
    }
    saved.get(token).cloned().with_context(|| {
        format!("«\u{a0}{{{token}}}\u{a0}»\u{a0}: aucune étape précédente ne l’a enregistré")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-15 12:00 UTC = 13:00 in Paris.
    const NOW: i64 = 1_768_478_400;

    #[test]
    fn placeholders_give_paris_dates() -> anyhow::Result<()> {
        let saved = HashMap::from([("sondage".to_string(), "0193abc".to_string())]);
        assert_eq!(expand("/{sondage}/vote", &saved, NOW)?, "/0193abc/vote");
        assert_eq!(expand("{date:+45d}", &saved, NOW)?, "2026-03-01");
        assert_eq!(
            expand("{datetime:+7d@18:00}", &saved, NOW)?,
            "2026-01-22T18:00"
        );
        assert_eq!(expand("{datetime:+2h}", &saved, NOW)?, "2026-01-15T15:00");
        // A Thursday: two working days later is Monday.
        assert_eq!(
            expand("{datetime:+2o@10:00}", &saved, NOW)?,
            "2026-01-19T10:00"
        );
        assert_eq!(expand("{date:+1o}", &saved, NOW)?, "2026-01-16");
        assert!(expand("/{inconnu}/vote", &saved, NOW).is_err());
        assert!(expand("{datetime:demain}", &saved, NOW).is_err());
        assert!(expand("{date:+3d", &saved, NOW).is_err());
        Ok(())
    }

    #[test]
    fn the_shipped_content_parses() -> anyhow::Result<()> {
        let posts: Vec<SamplePost> = serde_json::from_str(POSTS_JSON)?;
        assert!(posts.len() >= 5);
        let (_, rows, rejected) = officials::parse::parse(COUNCIL_CSV)?;
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(
            rows.iter().filter(|r| r.function_label == "Maire").count(),
            1
        );
        for id in [
            "polls",
            "alerts",
            "office-hours",
            "donations",
            "reports",
            "ideas",
            "commitments",
            "consultations",
            "geo-evaluation",
        ] {
            let file = content_file(Path::new(DEMO_MODULES_DIR), id)
                .with_context(|| format!("modules/{id}/demo.json"))?;
            let content: ModuleDemo = serde_json::from_str(&std::fs::read_to_string(&file)?)
                .with_context(|| file.display().to_string())?;
            assert!(!content.steps.is_empty(), "{id}");
        }
        Ok(())
    }
}
