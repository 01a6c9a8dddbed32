//! The `parvis` command: serve the platform and administer it (DESIGN.md §3).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use parvis_core::accounts::service::create_verified;
use parvis_core::accounts::store as accounts;
use parvis_core::authz::{Authz, PLATFORM_DOMAIN, Role};
use parvis_core::config::Config;
use parvis_core::db::Db;
use parvis_core::server;
use parvis_core::types::{InseeCode, Slug};
use parvis_tenants::communes::{self, Progress, Selection, Source};
use parvis_tenants::provision;

#[derive(Parser)]
#[command(
    name = "parvis",
    version,
    about = "Parvis : le parvis de la mairie en ligne"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the platform (PARVIS_BIND, default 127.0.0.1:8080).
    Serve {
        /// Import the communes if needed, set up a demo commune and a demo admin.
        #[arg(long)]
        demo: bool,
    },
    /// Apply the database migrations.
    Migrate,
    /// The registry of communes.
    Communes {
        #[command(subcommand)]
        command: CommunesCommand,
    },
    /// Tenants (communes served by the platform).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// The registry of elected officials (Répertoire national des élus).
    Officials {
        #[command(subcommand)]
        command: OfficialsCommand,
    },
    /// Accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Feature modules (wasm components).
    Module {
        #[command(subcommand)]
        command: ModuleCommand,
    },
    /// Billing of premium modules (price grid, Stripe).
    Billing {
        #[command(subcommand)]
        command: BillingCommand,
    },
    /// The job queue (mail, push, module erasures…): see and retry the jobs that failed.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List the jobs that failed for good, the latest first.
    Failed {
        /// Only jobs of this kind (e.g. module.account_deleted).
        #[arg(long)]
        kind: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Put failed jobs back in the queue, with a fresh set of attempts (once their cause is
    /// fixed); a running server takes them within a second.
    Retry {
        /// The jobs' numbers (as `jobs failed` lists them); all or none are put back.
        #[arg(required_unless_present = "kind", conflicts_with = "kind")]
        ids: Vec<i64>,
        /// Every failed job of this kind instead.
        #[arg(long)]
        kind: Option<String>,
    },
}

#[derive(Subcommand)]
enum BillingCommand {
    /// Print the price grid (PARVIS_BILLING_GRID, or the one shipped with Parvis).
    Grid,
    /// Create or update the Stripe products and prices of the grid (idempotent).
    Sync,
    /// Record the Stripe connected account a commune's donations are paid to.
    Connect {
        /// Commune slug.
        #[arg(long)]
        tenant: String,
        /// Its connected account (`acct_…`).
        account: String,
    },
}

#[derive(Subcommand)]
enum ModuleCommand {
    /// Validate a component and serve it as its module's current version (running servers
    /// pick it up within seconds, without restart).
    Install {
        /// The component (`.wasm`, built for wasm32-wasip2).
        file: PathBuf,
        /// Replace the installed module of the same id by this component, whoever wrote it
        /// (an upgrade, or a rollback to an older version). Capabilities it adds stay off
        /// until `parvis module grant`.
        #[arg(long)]
        replace: bool,
    },
    /// List installed modules, with their capabilities (those waiting for a grant marked).
    List,
    /// Let a module use a capability it declares that waits for the platform's approval
    /// (running servers apply it within seconds).
    Grant {
        /// Module id.
        id: String,
        /// Capability: storage, notify, feed, payments or tick.
        capability: String,
    },
    /// Withdraw a capability from a module (the host then refuses it as undeclared).
    Revoke {
        /// Module id.
        id: String,
        /// Capability: storage, notify, feed, payments or tick.
        capability: String,
    },
    /// Switch a module on for a commune.
    Enable {
        /// Commune slug.
        #[arg(long)]
        tenant: String,
        /// Module id.
        id: String,
    },
    /// Switch a module off for a commune.
    Disable {
        /// Commune slug.
        #[arg(long)]
        tenant: String,
        /// Module id.
        id: String,
    },
    /// Let a commune enable a premium module (until billing grants it from a subscription).
    Entitle {
        /// Commune slug.
        #[arg(long)]
        tenant: String,
        /// Module id.
        id: String,
    },
}

#[derive(Subcommand)]
enum CommunesCommand {
    /// Import (or update) every commune from the official data shipped with Parvis.
    Import {
        /// Read the data files from this folder instead of the embedded copy.
        #[arg(long)]
        from: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OfficialsCommand {
    /// Import an RNE file (municipal councillors or mayors), idempotently.
    Import {
        /// The CSV file, as published on data.gouv.fr.
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Provision a commune (or all of them) as a tenant.
    Create {
        /// INSEE code of the commune (75056 for Paris).
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        insee: Option<String>,
        /// Subdomain to use instead of the one derived from the name.
        #[arg(long, requires = "insee")]
        slug: Option<String>,
        /// Provision every current commune not yet provisioned.
        #[arg(long)]
        all: bool,
    },
    /// Serve a commune on its own domain too (its DNS and certificate pointing at this
    /// server), or no longer with --aucun. Signed-in people are signed in there as well.
    Domain {
        /// Commune slug.
        #[arg(long)]
        tenant: String,
        /// The domain (mairie-exemple.fr).
        #[arg(required_unless_present = "aucun", conflicts_with = "aucun")]
        domain: Option<String>,
        /// Remove the commune's own domain.
        #[arg(long)]
        aucun: bool,
    },
    /// List tenants.
    List {
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// How many to skip.
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a verified account, optionally with a role.
    Create {
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Password (10 characters at least).
        #[arg(long)]
        password: String,
        /// Display name (defaults to the part of the e-mail before @).
        #[arg(long)]
        name: Option<String>,
        /// Role: platform-admin, tenant-admin, moderator, official, candidate.
        #[arg(long)]
        role: Option<String>,
        /// Tenant slug, for tenant roles.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Turn an account's two-factor authentication off (its phone and recovery codes lost),
    /// once its owner has proved who they are by other means; it ends the account's sessions.
    SecondFactorOff {
        /// E-mail address.
        #[arg(long)]
        email: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("erreur : démarrage impossible : {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("erreur : {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open_db(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url)
        .await
        .with_context(|| format!("connexion à {}", server::redact(&config.database_url)))?;
    db.migrate().await?;
    Ok(db)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load()?;
    match cli.command {
        Command::Serve { demo } => serve(config, demo).await,
        Command::Migrate => {
            open_db(&config).await?;
            println!("Base de données à jour.");
            Ok(())
        }
        Command::Communes {
            command: CommunesCommand::Import { from },
        } => {
            let db = open_db(&config).await?;
            let source = from.map(Source::Dir).unwrap_or(Source::Embedded);
            let report = communes::import(&db, &source, &Selection::All, Progress::Bar).await?;
            println!("{report}");
            Ok(())
        }
        Command::Tenant { command } => tenant(config, command).await,
        Command::Officials {
            command: OfficialsCommand::Import { file },
        } => {
            let db = open_db(&config).await?;
            let report = parvis_tenants::officials::import_file(&db, &file, Progress::Bar).await?;
            for r in report.rejected.iter().take(50) {
                eprintln!("ligne {} rejetée : {}", r.line, r.reason);
            }
            if report.rejected.len() > 50 {
                eprintln!(
                    "… et {} autre(s) ligne(s) rejetée(s).",
                    report.rejected.len() - 50
                );
            }
            println!("{report}");
            Ok(())
        }
        Command::User { command } => user(config, command).await,
        Command::Module { command } => module(config, command).await,
        Command::Billing { command } => billing(config, command).await,
        Command::Jobs { command } => jobs(config, command).await,
    }
}

async fn jobs(config: Config, command: JobsCommand) -> anyhow::Result<()> {
    use parvis_core::jobs::{self, Retry};
    let db = open_db(&config).await?;
    match command {
        JobsCommand::Failed { kind, limit } => {
            let failed = jobs::failed(&db, kind.as_deref(), limit.clamp(1, 10_000)).await?;
            for job in &failed {
                let when = chrono::DateTime::from_timestamp(job.failed_at, 0)
                    .map(|t| {
                        t.with_timezone(&chrono_tz::Europe::Paris)
                            .format("%d/%m/%Y %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default();
                println!(
                    "n° {:<8} {:<26} {when}  {} tentative(s)  {}",
                    job.id,
                    job.kind,
                    job.attempts,
                    job.last_error.as_deref().unwrap_or("")
                );
            }
            println!("{} tâche(s) en échec.", failed.len());
        }
        JobsCommand::Retry { ids, kind } => {
            let which = match &kind {
                Some(kind) => Retry::Kind(kind),
                None => Retry::Ids(&ids),
            };
            let count = jobs::retry_failed(&db, which).await?;
            println!("{count} tâche(s) remise(s) en file.");
        }
    }
    db.close().await;
    Ok(())
}

async fn billing(config: Config, command: BillingCommand) -> anyhow::Result<()> {
    use parvis_billing::grid::{Interval, euros};
    let billing = parvis_billing::Billing::from_config(&config)?;
    match command {
        BillingCommand::Grid => {
            let g = &billing.grid;
            println!(
                "Délai de grâce après un échec de paiement : {} jours.",
                g.grace_days
            );
            for offer in &g.offers {
                println!(
                    "\n{} ({}) — modules : {}",
                    offer.name,
                    offer.id,
                    offer.modules.join(", ")
                );
                for (i, tier) in g.tiers.iter().enumerate() {
                    println!(
                        "  {:<28} {:>12} / mois  {:>12} / an",
                        tier.label,
                        offer
                            .price(i, Interval::Month)
                            .map(euros)
                            .unwrap_or_default(),
                        offer
                            .price(i, Interval::Year)
                            .map(euros)
                            .unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        BillingCommand::Sync => {
            let Some(stripe) = &billing.stripe else {
                bail!("STRIPE_SECRET_KEY manquant : impossible de publier la grille chez Stripe");
            };
            let total = billing.grid.offers.len() * billing.grid.tiers.len() * 2;
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tarifs créés {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let report = stripe
                .sync(&billing.grid, |key| {
                    bar.inc(1);
                    bar.set_message(key.to_string());
                })
                .await?;
            bar.finish_and_clear();
            println!(
                "Stripe à jour : {} produit(s) créé(s), {} mis à jour ; {} tarif(s) créé(s), {} inchangé(s).",
                report.products_created,
                report.products_updated,
                report.prices_created,
                report.prices_unchanged
            );
            Ok(())
        }
        BillingCommand::Connect { tenant, account } => {
            if !account.starts_with("acct_") || account.len() < 8 {
                bail!("compte connecté « {account} » : attendu un identifiant Stripe acct_…");
            }
            let db = open_db(&config).await?;
            let slug = Slug::parse(&tenant)?;
            let Some(t) = provision::find_by_slug(&db, &slug).await? else {
                bail!("commune « {tenant} » inconnue");
            };
            let mut tx = db.tenant(t.id).begin_write().await?;
            parvis_billing::store::set_connected_account(&mut tx, &account).await?;
            tx.commit().await?;
            println!("Les dons de {tenant} seront versés sur {account}.");
            Ok(())
        }
    }
}

/// What `parvis module install` did, for the operator: the module, what it replaced (name,
/// version, capabilities added and removed) and the capabilities waiting for a grant.
fn install_report(installed: &parvis_core::modules::install::Installed) -> String {
    use std::fmt::Write as _;
    let m = &installed.manifest;
    let list = parvis_core::modules::install::capability_list;
    let premium = if m.premium { " (premium)" } else { "" };
    let mut out = String::new();
    match &installed.previous {
        _ if installed.unchanged => {
            let _ = writeln!(
                out,
                "Module {} « {} » version {} déjà installé à l'identique : rien n'a changé.",
                m.id, m.name, m.version
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Module {} « {} » version {} installé{premium}.",
                m.id, m.name, m.version
            );
            let _ = writeln!(out, "Capacités accordées : {}.", list(&m.capabilities));
        }
        Some(before) => {
            let _ = writeln!(
                out,
                "Module {} remplacé : « {} » version {} → « {} » version {}{premium}.",
                m.id, before.name, before.version, m.name, m.version
            );
            if before.name != m.name {
                let _ = writeln!(out, "Attention : le nom a changé.");
            }
            if installed.downgrade {
                let _ = writeln!(out, "Attention : retour à une version antérieure.");
            }
            let _ = writeln!(out, "Capacités ajoutées : {}.", list(&installed.added));
            let _ = writeln!(out, "Capacités retirées : {}.", list(&installed.removed));
        }
    }
    if !installed.pending.is_empty() {
        let _ = writeln!(
            out,
            "En attente d'autorisation (refusées par l'hôte d'ici là) : {}. Pour les accorder : {}",
            list(&installed.pending),
            installed
                .pending
                .iter()
                .map(|c| format!("parvis module grant {} {c}", m.id))
                .collect::<Vec<_>>()
                .join(" ; ")
        );
    }
    out
}

async fn module(config: Config, command: ModuleCommand) -> anyhow::Result<()> {
    use parvis_core::modules::{install, service, store};
    let state = parvis::build(config).await?.state;
    let tenant_of = |slug: String| {
        let db = state.db.clone();
        async move {
            let slug = Slug::parse(&slug)?;
            provision::find_by_slug(&db, &slug)
                .await?
                .with_context(|| format!("aucune commune n'a l'identifiant « {slug} »"))
        }
    };
    match command {
        ModuleCommand::Install { file, replace } => {
            let wasm = std::fs::read(&file)
                .with_context(|| format!("lecture de {} impossible", file.display()))?;
            let installed = state.modules.install_with(&wasm, replace).await?;
            print!("{}", install_report(&installed));
        }
        ModuleCommand::List => {
            let counts: std::collections::HashMap<String, i64> = store::enabled_counts(&state.db)
                .await?
                .into_iter()
                .collect();
            let modules = state.modules.all();
            for m in &modules {
                println!(
                    "{:<16} {:<10} {:<28} {:<8} activé dans {} commune(s)",
                    m.id,
                    m.manifest.version,
                    m.manifest.name,
                    if m.manifest.premium {
                        "premium"
                    } else {
                        "libre"
                    },
                    counts.get(m.id.as_str()).copied().unwrap_or(0)
                );
                let capabilities: Vec<String> = m
                    .manifest
                    .capabilities
                    .iter()
                    .map(|c| {
                        if m.is_granted(c) {
                            c.clone()
                        } else {
                            format!("{c} (en attente d'autorisation)")
                        }
                    })
                    .collect();
                println!(
                    "{:<16} capacités : {}",
                    "",
                    parvis_core::modules::install::capability_list(&capabilities)
                );
            }
            println!("{} module(s) installé(s).", modules.len());
        }
        ModuleCommand::Enable { tenant, id } => {
            let t = tenant_of(tenant).await?;
            service::enable(&state.modules, &state.db.tenant(t.id), &id, None).await?;
            println!("Module {id} activé pour {}.", t.name);
        }
        ModuleCommand::Disable { tenant, id } => {
            let t = tenant_of(tenant).await?;
            service::disable(&state.modules, &state.db.tenant(t.id), &id, None).await?;
            println!("Module {id} désactivé pour {}.", t.name);
        }
        ModuleCommand::Grant { id, capability } => {
            let changed = install::set_grant(&state.db, &id, &capability, true, "cli").await?;
            println!(
                "{} : le module {id} peut utiliser la capacité {capability} ({}).",
                if changed {
                    "Autorisé"
                } else {
                    "Déjà autorisé"
                },
                install::capability_words(&capability).unwrap_or_default()
            );
        }
        ModuleCommand::Revoke { id, capability } => {
            let changed = install::set_grant(&state.db, &id, &capability, false, "cli").await?;
            println!(
                "{} : le module {id} ne peut plus utiliser la capacité {capability}.",
                if changed { "Retiré" } else { "Déjà retiré" }
            );
        }
        ModuleCommand::Entitle { tenant, id } => {
            let t = tenant_of(tenant).await?;
            let module_id = parvis_core::types::ModuleId::parse(&id)?;
            service::entitle(
                &state.modules,
                &state.db.tenant(t.id),
                &module_id,
                "cli",
                None,
            )
            .await?;
            println!("{} peut activer le module premium {id}.", t.name);
        }
    }
    Ok(())
}

async fn tenant(config: Config, command: TenantCommand) -> anyhow::Result<()> {
    let db = open_db(&config).await?;
    match command {
        TenantCommand::Create { all: true, .. } => {
            let started = std::time::Instant::now();
            let report = provision::create_all(&db, Progress::Bar).await?;
            println!("{report} ({:.1} s)", started.elapsed().as_secs_f64());
        }
        TenantCommand::Create {
            insee: Some(insee),
            slug,
            ..
        } => {
            let insee = InseeCode::parse(&insee)?;
            let slug = slug.map(|s| Slug::parse(&s)).transpose()?;
            let t = provision::create_tenant(&db, &insee, slug).await?;
            println!(
                "Commune {} ({}) ouverte : http://{}.{}/",
                t.name, t.insee, t.slug, config.base_domain
            );
        }
        TenantCommand::Create { .. } => bail!("indiquez --insee CODE ou --all"),
        TenantCommand::Domain { tenant, domain, .. } => {
            let slug = Slug::parse(&tenant)?;
            let t =
                provision::set_custom_domain(&db, &slug, domain.as_deref(), &config.base_domain)
                    .await?;
            match &t.custom_domain {
                Some(d) => println!("{} est servie aussi à {}", t.name, config.public_origin(d)),
                None => println!("{} n'a plus de domaine propre.", t.name),
            }
        }
        TenantCommand::List { limit, offset } => {
            let total = provision::count_tenants(&db).await?;
            for t in provision::list_tenants(&db, limit, offset).await? {
                println!(
                    "{:<6} {:<40} {:>10} {}.{}",
                    t.insee,
                    t.name,
                    t.population
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "-".into()),
                    t.slug,
                    config.base_domain
                );
            }
            println!("{total} commune(s) au total.");
        }
    }
    Ok(())
}

async fn user(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let (email, password, name, role, tenant) = match command {
        UserCommand::SecondFactorOff { email } => {
            let db = open_db(&config).await?;
            let found = parvis_core::accounts::totp::turn_off_by_email(&db, &email).await?;
            let email =
                found.with_context(|| format!("aucun compte à l'adresse {}", email.trim()))?;
            println!(
                "Double authentification désactivée pour {email} ; ses sessions sont fermées."
            );
            return Ok(());
        }
        UserCommand::Create {
            email,
            password,
            name,
            role,
            tenant,
        } => (email, password, name, role, tenant),
    };
    let db = open_db(&config).await?;
    let role = role
        .map(|r| {
            Role::parse(&r).filter(|r| *r != Role::Citizen).with_context(|| {
                format!("rôle inconnu « {r} » (platform-admin, tenant-admin, moderator, official, candidate)")
            })
        })
        .transpose()?;
    let domain = match (role, &tenant) {
        (Some(Role::PlatformAdmin), _) => Some(PLATFORM_DOMAIN.to_string()),
        (Some(_), Some(slug)) => {
            let slug = Slug::parse(slug)?;
            let t = provision::find_by_slug(&db, &slug)
                .await?
                .with_context(|| format!("aucune commune n'a l'identifiant « {slug} »"))?;
            Some(t.id.authz_domain())
        }
        (Some(r), None) => bail!("le rôle {r} s'attribue dans une commune : ajoutez --tenant SLUG"),
        (None, _) => None,
    };
    let display =
        name.unwrap_or_else(|| email.split('@').next().unwrap_or("Utilisateur").to_string());
    let id = match create_verified(&db, &email, &display, &password).await? {
        Some(id) => {
            println!("Compte {email} créé.");
            id
        }
        None => {
            let existing = accounts::by_email(&db, &email.trim().to_lowercase()).await?;
            let Some(existing) = existing.filter(|_| role.is_some()) else {
                bail!("un compte existe déjà pour {email}");
            };
            println!("Le compte {email} existe déjà : attribution du rôle seulement.");
            existing.id
        }
    };
    if let (Some(role), Some(domain)) = (role, domain) {
        let authz = Authz::load(db.clone()).await?;
        authz.grant(&id, role, &domain).await?;
        println!("Rôle {role} attribué.");
    }
    Ok(())
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let bind = config.bind;
    let parvis::Built {
        state,
        app,
        billing,
    } = parvis::build(config).await?;
    let demo = if demo {
        let d = parvis::demo::prepare(&state.db, &state.authz).await?;
        state.communes.reload(&state.db).await?;
        let dir = std::env::var_os("PARVIS_DEMO_MODULES")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(parvis::demo::DEMO_MODULES_DIR));
        let modules = parvis::demo::install_modules(&state, &d.slug, &dir).await?;
        if modules.is_empty() {
            println!("Aucun module construit : lancez scripts/demo pour les services (sondages…).");
        } else {
            println!(
                "Services activés dans la commune de démonstration : {}.",
                modules.join(", ")
            );
        }
        Some(d)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("écoute sur {bind} impossible"))?;
    let addr = listener.local_addr()?;
    if let Some(metrics_bind) = state.config.metrics_bind {
        let metrics = tokio::net::TcpListener::bind(metrics_bind)
            .await
            .with_context(|| format!("écoute des métriques sur {metrics_bind} impossible"))?;
        println!("Métriques Prometheus : http://{metrics_bind}/metrics");
        tokio::spawn(server::serve(
            metrics,
            server::metrics_router(state.clone()),
            shutdown_signal(),
        ));
    }
    parvis::spawn_background(&state, billing);
    println!("Parvis écoute sur {addr}.");
    println!("Plateforme : {}/", state.config.platform_origin());
    if let Some(d) = demo {
        println!(
            "Commune de démonstration : {}/  (administrateur : {} / {})",
            state.config.commune_origin(&d.slug),
            parvis::demo::DEMO_ADMIN_EMAIL,
            parvis::demo::DEMO_ADMIN_PASSWORD
        );
    }
    server::serve(listener, app, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
