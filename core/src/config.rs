//! One `Config`, read from the environment and an optional `parvis.toml`, validated at start.
//! Names follow DESIGN.md §3; the defaults run on a laptop.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

/// Configuration errors, each naming the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting has a value that can't be used.
    #[error("configuration : {name} = « {value} » : {why}")]
    Invalid {
        /// The setting's name.
        name: &'static str,
        /// The value found.
        value: String,
        /// Why it was refused.
        why: String,
    },
    /// `parvis.toml` could not be read.
    #[error("configuration : lecture de {0} impossible : {1}")]
    File(String, String),
}

/// Everything the host needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://…` (default `sqlite://parvis-data/parvis.db`) or `postgres://…`.
    pub database_url: String,
    /// `PARVIS_BIND`: the listening address (default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// `PARVIS_BASE_DOMAIN`: communes are served at `<slug>.<base_domain>` (default `parvis.localhost`).
    pub base_domain: String,
    /// `SMTP_URL`: e.g. `smtp://127.0.0.1:1025` or `smtps://user:pass@host`. Unset: mail is
    /// logged instead of sent (development only).
    pub smtp_url: Option<String>,
    /// `PARVIS_MAIL_FROM`: the sender of every e-mail.
    pub mail_from: String,
    /// `PARVIS_HTTPS`: the public site is served over HTTPS (cookies get `Secure`).
    pub https: bool,
    /// `PARVIS_PUBLIC_PORT`: the port of every absolute link (pages, e-mails, redirects between
    /// sites), left out when it is the scheme's default. Default: 443 with `PARVIS_HTTPS` (a
    /// proxy in front), otherwise the port of `PARVIS_BIND`. Links never take the port (or the
    /// name) of a request's `Host` header: a cached page would hand it to every visitor.
    pub public_port: u16,
    /// `PARVIS_METRICS_TOKEN`: `GET /metrics` answers only with `Authorization: Bearer <token>`.
    /// Unset (and no `PARVIS_METRICS_BIND`): there is no `/metrics` (404).
    pub metrics_token: Option<String>,
    /// `PARVIS_METRICS_BIND`: a separate listening address (e.g. `127.0.0.1:9090`) serving only
    /// `/metrics`, for a Prometheus scraper on a private network. The token, when set, is
    /// required there too.
    pub metrics_bind: Option<SocketAddr>,
    /// `PARVIS_TRUST_PROXY`: take the client address from `X-Forwarded-For` (only behind a proxy).
    pub trust_proxy: bool,
    /// `STRIPE_SECRET_KEY`: the platform's Stripe key. Unset: no online payment.
    pub stripe_secret_key: Option<String>,
    /// `STRIPE_WEBHOOK_SECRET`: signs the webhooks Stripe sends to `/billing/stripe/webhook`.
    pub stripe_webhook_secret: Option<String>,
    /// `STRIPE_API_BASE`: another Stripe API address (the tests' local Stripe).
    pub stripe_api_base: Option<String>,
    /// `PARVIS_BILLING_GRID`: the price grid (TOML); default: the grid shipped in `billing/`.
    pub billing_grid: Option<std::path::PathBuf>,
    /// `PARVIS_MODULE_CACHE`: where compiled modules are kept (default `parvis-data/module-cache`).
    pub module_cache: std::path::PathBuf,
    /// `PARVIS_SMS_URL`: the SMS provider's HTTP endpoint; each message is POSTed as JSON
    /// `{"to": "+336…", "text": "…", "sender": "…"}`. Unset: no text messages.
    pub sms_url: Option<String>,
    /// `PARVIS_SMS_TOKEN`: sent as `Authorization: Bearer …` to the SMS provider.
    pub sms_token: Option<String>,
    /// `PARVIS_SMS_SENDER`: the sender name shown on phones (default `Parvis`).
    pub sms_sender: String,
    /// `PARVIS_VAPID_PRIVATE_KEY`: the web push (VAPID, RFC 8292) P-256 private key, 32 bytes in
    /// base64url. Unset: one is generated at first start and kept in the database.
    pub vapid_private_key: Option<String>,
    /// `PARVIS_VAPID_SUBJECT`: how push services can reach the platform's operator (default
    /// `mailto:contact@<base_domain>`).
    pub vapid_subject: String,
    /// `PARVIS_PUSH_ALLOW_LOOPBACK_HTTP`: accept `http://127.0.0.1…` push endpoints (tests and
    /// local push services only; real push services are HTTPS).
    pub push_allow_loopback_http: bool,
    /// How many times slower the per-account and per-address limits (logins, messages,
    /// comments, uploads…) refill than their stated rate: 1, always, in service. Tests set it
    /// high, so that a request a limit refused stays refused however slowly the test runs (a
    /// comment limit gives one back every 12 s). Not read from the environment or the file.
    pub rate_limit_slowdown: u32,
    /// Who runs this instance, for its legal notice, privacy policy and accessibility
    /// statement (`/mentions-legales`, `/confidentialite`, `/accessibilite`).
    pub legal: Legal,
    /// The maps' background tiles (`PARVIS_MAP_TILES`, `PARVIS_MAP_ATTRIBUTION`).
    pub map_tiles: MapTiles,
    /// Sign-in with FranceConnect (`PARVIS_FRANCECONNECT_URL`, `_CLIENT_ID`, `_CLIENT_SECRET`,
    /// all three or none). Unset: the button is not shown.
    pub franceconnect: Option<FranceConnect>,
}

/// This platform as a FranceConnect service provider (« fournisseur de service »), as
/// registered with FranceConnect: its redirect URI is `<platform origin>/franceconnect/retour`,
/// its post-logout URI `<platform origin>/franceconnect/sortie`.
#[derive(Clone)]
pub struct FranceConnect {
    /// The provider's issuer, whose `/.well-known/openid-configuration` describes it
    /// (`https://oidc.franceconnect.gouv.fr/api/v2` in production,
    /// `https://fcp-low.sbx.dev-franceconnect.fr/api/v2` for integration).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for FranceConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FranceConnect")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The default background of maps: the French state's free « Plan IGN » raster tiles
/// (Géoplateforme WMTS, Web Mercator), which need no key.
pub const IGN_PLAN_TILES: &str = "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&FORMAT=image/png";

/// Their credit.
pub const IGN_PLAN_ATTRIBUTION: &str = "Plan IGN © IGN – Géoplateforme";

/// Where maps take their background from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MapTiles {
    /// URL template of 256-pixel raster tiles in Web Mercator, with `{z}`, `{x}` and `{y}`.
    pub url: String,
    /// The credit the map shows (plain text).
    pub attribution: String,
    /// `scheme://host[:port]` of `url`: the one outside origin pages may load images from.
    #[serde(skip)]
    pub origin: String,
}

impl MapTiles {
    /// Checks a URL template: http(s), with its three placeholders, a host, nothing to inject
    /// into a header.
    pub fn new(url: &str, attribution: &str) -> Result<MapTiles, String> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("attendu une adresse https://…".into());
        }
        if !["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p)) {
            return Err("l'adresse doit contenir {z}, {x} et {y}".into());
        }
        let sample = url
            .replace("{z}", "0")
            .replace("{x}", "0")
            .replace("{y}", "0");
        let parsed = url::Url::parse(&sample).map_err(|e| format!("adresse illisible : {e}"))?;
        if parsed.host_str().is_none() || !parsed.username().is_empty() {
            return Err("attendu une adresse avec un nom d'hôte et sans identifiants".into());
        }
        Ok(MapTiles {
            url: url.to_string(),
            attribution: attribution.to_string(),
            origin: parsed.origin().ascii_serialization(),
        })
    }
}

/// The operator of an instance, as French law asks a site to name it (LCEN art. 6, RGPD
/// art. 13, RGAA's accessibility statement). Each is free text; a missing one is shown as not
/// given, so an instance that forgot one says so rather than inventing it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Legal {
    /// `PARVIS_OPERATOR`: the publisher (a company, an association, a collectivity).
    pub operator: Option<String>,
    /// `PARVIS_OPERATOR_ADDRESS`: its postal address.
    pub address: Option<String>,
    /// `PARVIS_PUBLICATION_DIRECTOR`: the director of publication.
    pub director: Option<String>,
    /// `PARVIS_HOSTING`: the host's name, address and telephone.
    pub hosting: Option<String>,
    /// `PARVIS_CONTACT_EMAIL`: where people write about their data, accessibility or the
    /// legal notice (default `contact@<base_domain>`).
    pub contact: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    bind: Option<String>,
    base_domain: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    https: Option<bool>,
    public_port: Option<u16>,
    metrics_token: Option<String>,
    metrics_bind: Option<String>,
    trust_proxy: Option<bool>,
    stripe_secret_key: Option<String>,
    stripe_webhook_secret: Option<String>,
    stripe_api_base: Option<String>,
    billing_grid: Option<String>,
    module_cache: Option<String>,
    sms_url: Option<String>,
    sms_token: Option<String>,
    sms_sender: Option<String>,
    vapid_private_key: Option<String>,
    vapid_subject: Option<String>,
    push_allow_loopback_http: Option<bool>,
    operator: Option<String>,
    operator_address: Option<String>,
    publication_director: Option<String>,
    hosting: Option<String>,
    contact_email: Option<String>,
    map_tiles: Option<String>,
    map_attribution: Option<String>,
    franceconnect_url: Option<String>,
    franceconnect_client_id: Option<String>,
    franceconnect_client_secret: Option<String>,
}

impl Config {
    /// Reads `parvis.toml` (if present in the working directory) then the environment, which wins.
    pub fn load() -> Result<Config, ConfigError> {
        let file = Self::read_file(Path::new("parvis.toml"))?;
        Self::from_sources(&file, |name| std::env::var(name).ok())
    }

    fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| ConfigError::File(path.display().to_string(), e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
            Err(e) => Err(ConfigError::File(path.display().to_string(), e.to_string())),
        }
    }

    fn from_sources(
        file: &FileConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let pick = |name: &str, from_file: &Option<String>| {
            env(name).filter(|v| !v.is_empty()).or(from_file.clone())
        };
        let flag = |name: &'static str, from_file: Option<bool>| -> Result<bool, ConfigError> {
            match env(name).filter(|v| !v.is_empty()) {
                None => Ok(from_file.unwrap_or(false)),
                Some(v) => match v.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => Ok(true),
                    "0" | "false" | "no" | "off" => Ok(false),
                    _ => Err(ConfigError::Invalid {
                        name,
                        value: v,
                        why: "attendu true ou false".into(),
                    }),
                },
            }
        };

        let database_url = pick("DATABASE_URL", &file.database_url)
            .unwrap_or_else(|| "sqlite://parvis-data/parvis.db".to_string());
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                value: database_url,
                why: "attendu sqlite://chemin ou postgres://…".into(),
            });
        }
        let bind_text =
            pick("PARVIS_BIND", &file.bind).unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let bind: SocketAddr = bind_text.parse().map_err(|_| ConfigError::Invalid {
            name: "PARVIS_BIND",
            value: bind_text.clone(),
            why: "attendu une adresse et un port, par exemple 127.0.0.1:8080".into(),
        })?;
        let https = flag("PARVIS_HTTPS", file.https)?;
        let public_port = match env("PARVIS_PUBLIC_PORT").filter(|v| !v.is_empty()) {
            Some(v) => match v.trim().parse::<u16>() {
                Ok(port) if port != 0 => port,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "PARVIS_PUBLIC_PORT",
                        value: v,
                        why: "attendu un numéro de port, par exemple 443".into(),
                    });
                }
            },
            None => file
                .public_port
                .unwrap_or(if https { 443 } else { bind.port() }),
        };
        let metrics_token = pick("PARVIS_METRICS_TOKEN", &file.metrics_token);
        if let Some(token) = &metrics_token
            && (token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::Invalid {
                name: "PARVIS_METRICS_TOKEN",
                value: "(masqué)".into(),
                why: "attendu au moins 16 caractères imprimables, sans espace".into(),
            });
        }
        let metrics_bind = match pick("PARVIS_METRICS_BIND", &file.metrics_bind) {
            None => None,
            Some(text) => Some(
                text.parse::<SocketAddr>()
                    .map_err(|_| ConfigError::Invalid {
                        name: "PARVIS_METRICS_BIND",
                        value: text.clone(),
                        why: "attendu une adresse et un port, par exemple 127.0.0.1:9090".into(),
                    })?,
            ),
        };
        let base_domain = pick("PARVIS_BASE_DOMAIN", &file.base_domain)
            .unwrap_or_else(|| "parvis.localhost".to_string())
            .to_ascii_lowercase();
        let valid_domain = !base_domain.is_empty()
            && base_domain.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid_domain {
            return Err(ConfigError::Invalid {
                name: "PARVIS_BASE_DOMAIN",
                value: base_domain,
                why: "attendu un nom de domaine, par exemple parvis.localhost".into(),
            });
        }
        let smtp_url = pick("SMTP_URL", &file.smtp_url);
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(ConfigError::Invalid {
                name: "SMTP_URL",
                value: url.clone(),
                why: "attendu smtp://hôte:port ou smtps://…".into(),
            });
        }
        let sms_url = pick("PARVIS_SMS_URL", &file.sms_url);
        if let Some(url) = &sms_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::Invalid {
                name: "PARVIS_SMS_URL",
                value: url.clone(),
                why: "attendu une adresse https://…".into(),
            });
        }
        let franceconnect = match (
            pick("PARVIS_FRANCECONNECT_URL", &file.franceconnect_url),
            pick(
                "PARVIS_FRANCECONNECT_CLIENT_ID",
                &file.franceconnect_client_id,
            ),
            pick(
                "PARVIS_FRANCECONNECT_CLIENT_SECRET",
                &file.franceconnect_client_secret,
            ),
        ) {
            (None, None, None) => None,
            (Some(issuer), Some(client_id), Some(client_secret)) => {
                if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                    return Err(ConfigError::Invalid {
                        name: "PARVIS_FRANCECONNECT_URL",
                        value: issuer,
                        why: "attendu l'adresse https://… du fournisseur (son « issuer »)".into(),
                    });
                }
                Some(FranceConnect {
                    issuer: issuer.trim_end_matches('/').to_string(),
                    client_id,
                    client_secret,
                })
            }
            _ => {
                return Err(ConfigError::Invalid {
                    name: "PARVIS_FRANCECONNECT_URL",
                    value: "(incomplet)".into(),
                    why: "FranceConnect demande ensemble PARVIS_FRANCECONNECT_URL, \
                          PARVIS_FRANCECONNECT_CLIENT_ID et PARVIS_FRANCECONNECT_CLIENT_SECRET"
                        .into(),
                });
            }
        };
        let vapid_private_key = pick("PARVIS_VAPID_PRIVATE_KEY", &file.vapid_private_key);
        if let Some(key) = &vapid_private_key
            && crate::notifications::push::vapid::parse_private_key(key).is_none()
        {
            return Err(ConfigError::Invalid {
                name: "PARVIS_VAPID_PRIVATE_KEY",
                value: "(masquée)".into(),
                why: "attendu une clé privée P-256 de 32 octets en base64url".into(),
            });
        }
        let vapid_subject = pick("PARVIS_VAPID_SUBJECT", &file.vapid_subject)
            .unwrap_or_else(|| format!("mailto:contact@{base_domain}"));
        if !(vapid_subject.starts_with("mailto:") || vapid_subject.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "PARVIS_VAPID_SUBJECT",
                value: vapid_subject,
                why: "attendu mailto:adresse ou https://…".into(),
            });
        }
        // A given address follows the accounts' own rule, so the legal pages never show one
        // a person could not have signed up with; the default is the base domain's.
        let contact = match pick("PARVIS_CONTACT_EMAIL", &file.contact_email) {
            Some(given) => crate::accounts::service::normalize_email(&given).map_err(|_| {
                ConfigError::Invalid {
                    name: "PARVIS_CONTACT_EMAIL",
                    value: given.clone(),
                    why: "attendu une adresse e-mail, par exemple contact@exemple.fr".into(),
                }
            })?,
            None => format!("contact@{base_domain}"),
        };
        let legal = Legal {
            operator: pick("PARVIS_OPERATOR", &file.operator),
            address: pick("PARVIS_OPERATOR_ADDRESS", &file.operator_address),
            director: pick("PARVIS_PUBLICATION_DIRECTOR", &file.publication_director),
            hosting: pick("PARVIS_HOSTING", &file.hosting),
            contact,
        };
        let tiles_url =
            pick("PARVIS_MAP_TILES", &file.map_tiles).unwrap_or_else(|| IGN_PLAN_TILES.into());
        let attribution = pick("PARVIS_MAP_ATTRIBUTION", &file.map_attribution)
            .unwrap_or_else(|| IGN_PLAN_ATTRIBUTION.into());
        let map_tiles =
            MapTiles::new(&tiles_url, &attribution).map_err(|why| ConfigError::Invalid {
                name: "PARVIS_MAP_TILES",
                value: tiles_url.clone(),
                why,
            })?;
        let mail_from = pick("PARVIS_MAIL_FROM", &file.mail_from)
            .unwrap_or_else(|| format!("Parvis <ne-pas-repondre@{base_domain}>"));
        Ok(Config {
            database_url,
            bind,
            smtp_url,
            mail_from,
            https,
            public_port,
            metrics_token,
            metrics_bind,
            trust_proxy: flag("PARVIS_TRUST_PROXY", file.trust_proxy)?,
            stripe_secret_key: pick("STRIPE_SECRET_KEY", &file.stripe_secret_key),
            stripe_webhook_secret: pick("STRIPE_WEBHOOK_SECRET", &file.stripe_webhook_secret),
            stripe_api_base: pick("STRIPE_API_BASE", &file.stripe_api_base),
            billing_grid: pick("PARVIS_BILLING_GRID", &file.billing_grid).map(Into::into),
            module_cache: pick("PARVIS_MODULE_CACHE", &file.module_cache)
                .unwrap_or_else(|| "parvis-data/module-cache".to_string())
                .into(),
            sms_url,
            sms_token: pick("PARVIS_SMS_TOKEN", &file.sms_token),
            sms_sender: pick("PARVIS_SMS_SENDER", &file.sms_sender)
                .unwrap_or_else(|| "Parvis".to_string()),
            vapid_private_key,
            vapid_subject,
            push_allow_loopback_http: flag(
                "PARVIS_PUSH_ALLOW_LOOPBACK_HTTP",
                file.push_allow_loopback_http,
            )?,
            rate_limit_slowdown: 1,
            legal,
            map_tiles,
            franceconnect,
            base_domain,
        })
    }

    /// How public links are written: scheme, port and base domain.
    pub fn origins(&self) -> Origins {
        Origins {
            https: self.https,
            public_port: self.public_port,
            base_domain: self.base_domain.clone(),
        }
    }

    /// `scheme://host[:port]` of a public link to `host`: scheme and port from configuration.
    pub fn public_origin(&self, host: &str) -> String {
        public_origin(self.https, self.public_port, host)
    }

    /// The platform's origin (`scheme://<base domain>[:port]`).
    pub fn platform_origin(&self) -> String {
        self.public_origin(&self.base_domain)
    }

    /// The origin of a commune's site (`scheme://<slug>.<base domain>[:port]`).
    pub fn commune_origin(&self, slug: &str) -> String {
        self.public_origin(&format!("{slug}.{}", self.base_domain))
    }

    /// The defaults, with the given database: for tests and tools.
    pub fn with_database(database_url: &str) -> Result<Config, ConfigError> {
        Self::from_sources(&FileConfig::default(), |name| {
            (name == "DATABASE_URL").then(|| database_url.to_string())
        })
    }
}

/// The part of the configuration public links are made of, for code that needs no more of it
/// (the module host).
#[derive(Debug, Clone)]
pub struct Origins {
    https: bool,
    public_port: u16,
    base_domain: String,
}

impl Origins {
    /// The origin of a commune's site (`scheme://<slug>.<base domain>[:port]`).
    pub fn commune(&self, slug: &str) -> String {
        public_origin(
            self.https,
            self.public_port,
            &format!("{slug}.{}", self.base_domain),
        )
    }
}

fn public_origin(https: bool, port: u16, host: &str) -> String {
    let scheme = if https { "https" } else { "http" };
    let default_port = if https { 443 } else { 80 };
    if port == default_port {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = Config::from_sources(&FileConfig::default(), |_| None);
        assert!(matches!(c, Ok(ref c) if c.base_domain == "parvis.localhost"));
        let bad = Config::from_sources(&FileConfig::default(), |n| {
            (n == "PARVIS_BIND").then(|| "nowhere".to_string())
        });
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                name: "PARVIS_BIND",
                ..
            })
        ));
        let bad = Config::from_sources(&FileConfig::default(), |n| {
            (n == "SMTP_URL").then(|| "http://x".to_string())
        });
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                name: "SMTP_URL",
                ..
            })
        ));
        for (name, value) in [
            ("PARVIS_VAPID_PRIVATE_KEY", "pas-une-cle"),
            ("PARVIS_VAPID_SUBJECT", "contact@example.org"),
        ] {
            let bad = Config::from_sources(&FileConfig::default(), |n| {
                (n == name).then(|| value.to_string())
            });
            assert!(
                matches!(bad, Err(ConfigError::Invalid { name: n, .. }) if n == name),
                "{name}"
            );
        }
        for (name, value) in [
            ("PARVIS_PUBLIC_PORT", "huit"),
            ("PARVIS_METRICS_BIND", "partout"),
            ("PARVIS_METRICS_TOKEN", "court"),
        ] {
            let bad = Config::from_sources(&FileConfig::default(), |n| {
                (n == name).then(|| value.to_string())
            });
            assert!(
                matches!(bad, Err(ConfigError::Invalid { name: n, .. }) if n == name),
                "{name}"
            );
        }
        let key = Config::from_sources(&FileConfig::default(), |n| {
            (n == "PARVIS_VAPID_PRIVATE_KEY")
                .then(|| "RS0WdYWWo1HajXg3NZR1olzCf31i-ZBGDkFyCs7j1jw".to_string())
        });
        assert!(matches!(key, Ok(ref c) if c.vapid_private_key.is_some()));
    }

    #[test]
    fn the_operator_named_by_the_legal_pages() {
        let c = Config::from_sources(&FileConfig::default(), |_| None);
        assert!(matches!(c, Ok(ref c)
            if c.legal.contact == "contact@parvis.localhost" && c.legal.operator.is_none()));
        let file = FileConfig {
            operator: Some("Commune de Lyon".into()),
            ..FileConfig::default()
        };
        let c = Config::from_sources(&file, |n| {
            (n == "PARVIS_CONTACT_EMAIL").then(|| "dpo@lyon.fr".to_string())
        });
        assert!(matches!(c, Ok(ref c)
            if c.legal.contact == "dpo@lyon.fr" && c.legal.operator.as_deref() == Some("Commune de Lyon")));
        for bad in ["dpo", "d p o@lyon.fr", "a@b@c"] {
            let c = Config::from_sources(&FileConfig::default(), |n| {
                (n == "PARVIS_CONTACT_EMAIL").then(|| bad.to_string())
            });
            assert!(
                matches!(
                    c,
                    Err(ConfigError::Invalid {
                        name: "PARVIS_CONTACT_EMAIL",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn public_links_take_the_configured_port() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            }
        };
        let dev = Config::from_sources(&FileConfig::default(), env(&[]));
        assert!(
            matches!(dev, Ok(ref c) if c.commune_origin("annecy") == "http://annecy.parvis.localhost:8080")
        );
        let prod = Config::from_sources(
            &FileConfig::default(),
            env(&[
                ("PARVIS_HTTPS", "true"),
                ("PARVIS_BASE_DOMAIN", "parvis.fr"),
            ]),
        );
        assert!(matches!(prod, Ok(ref c) if c.platform_origin() == "https://parvis.fr"));
        let port = Config::from_sources(
            &FileConfig::default(),
            env(&[
                ("PARVIS_BIND", "0.0.0.0:80"),
                ("PARVIS_PUBLIC_PORT", "8443"),
            ]),
        );
        assert!(matches!(port, Ok(ref c) if c.platform_origin() == "http://parvis.localhost:8443"));
    }
}
