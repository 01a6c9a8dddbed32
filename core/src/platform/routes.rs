//! Platform pages: landing and commune search, `/inscrire-ma-commune`, `/a-propos`, and the
//! JSON search API.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::authz::{Can, RequestSubscription};
use crate::communes::search::CommuneHit;
use crate::error::{AppError, AppResult};
use crate::platform::requests::{self, NewRequest, REQUESTER_ROLES};
use crate::state::AppState;
use crate::web::render::{Notice, Template};
use crate::web::{Page, Site};

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    let router = Router::new()
        .route("/communes/recherche", get(search_fragment))
        .route("/api/v1/communes", get(search_api))
        .route("/inscrire-ma-commune", get(subscribe_form).post(subscribe))
        .route("/a-propos", get(about))
        .route("/composants", get(components));
    LEGAL_PAGES.iter().fold(router, |router, legal_page| {
        router.route(legal_page.href, get(|s, p| legal(s, p, legal_page)))
    })
}

const SEARCH_LIMIT: usize = 20;

/// `platform/search_results.html`: the communes matching a search (alone, as the search box
/// fetches it while typing, or in the landing page).
#[derive(Serialize)]
struct SearchResults<'a> {
    q: &'a str,
    hits: Vec<Hit>,
}

impl Template for SearchResults<'_> {
    const NAME: &'static str = "platform/search_results.html";
}

/// One commune found, with its site's address when it is served.
#[derive(Serialize)]
struct Hit {
    hit: CommuneHit,
    url: Option<String>,
}

/// `platform/landing.html`.
#[derive(Serialize)]
struct Landing<'a> {
    #[serde(flatten)]
    results: SearchResults<'a>,
    communes_count: usize,
}

impl Template for Landing<'_> {
    const NAME: &'static str = "platform/landing.html";
}

/// `platform/subscribe.html`: the form, empty or shown again with its error.
#[derive(Serialize)]
struct Subscribe<'a> {
    roles: &'static [&'static str],
    insee: &'a str,
    error: Option<String>,
    form: Option<&'a SubscribeForm>,
}

impl Template for Subscribe<'_> {
    const NAME: &'static str = "platform/subscribe.html";
}

/// `about.html`.
#[derive(Serialize)]
struct About {}

impl Template for About {
    const NAME: &'static str = "about.html";
}

fn search_results<'a>(state: &AppState, page: &Page, q: &'a str) -> SearchResults<'a> {
    let hits = state
        .communes
        .search(q, SEARCH_LIMIT)
        .into_iter()
        .map(|hit| {
            let url = hit
                .slug
                .as_ref()
                .map(|s| format!("{}/", page.commune_origin(state, s)));
            Hit { hit, url }
        })
        .collect();
    SearchResults { q, hits }
}

/// The platform landing: commune search (works without JavaScript; enhanced as you type).
pub fn landing(state: &AppState, page: &Page, q: Option<&str>) -> AppResult<Response> {
    let q = q.unwrap_or_default().trim();
    crate::communes::search::check_query(q)?;
    let landing = Landing {
        results: search_results(state, page, q),
        communes_count: state.communes.len(),
    };
    Ok(page.render(state, &landing)?.into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search_fragment(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<SearchQuery>,
) -> AppResult<Response> {
    crate::communes::search::check_query(q.q.trim())?;
    let results = search_results(&state, &page, q.q.trim());
    Ok(Html(state.templates.render(&results)?).into_response())
}

async fn search_api(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> AppResult<Response> {
    crate::communes::search::check_query(&q.q)?;
    let hits = state.communes.search(&q.q, SEARCH_LIMIT);
    Ok(Json(json!({"communes": hits})).into_response())
}

fn platform_only(page: &Page) -> AppResult<()> {
    match page.site {
        Site::Platform => Ok(()),
        Site::Commune(_) => Err(AppError::not_found(
            "L'inscription d'une commune se fait depuis l'accueil de la plateforme.",
        )),
    }
}

#[derive(Deserialize)]
struct SubscribeQuery {
    insee: Option<String>,
}

async fn subscribe_form(
    State(state): State<AppState>,
    Can(_actor, _): Can<RequestSubscription>,
    page: Page,
    Query(q): Query<SubscribeQuery>,
) -> AppResult<Response> {
    platform_only(&page)?;
    let form = Subscribe {
        roles: REQUESTER_ROLES,
        insee: q.insee.as_deref().unwrap_or_default(),
        error: None,
        form: None,
    };
    Ok(page.with_forms().render(&state, &form)?.into_response())
}

#[derive(Deserialize, Serialize)]
struct SubscribeForm {
    #[serde(default)]
    insee: String,
    #[serde(default)]
    requester_name: String,
    #[serde(default)]
    requester_role: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    message: String,
}

async fn subscribe(
    State(state): State<AppState>,
    Can(actor, _): Can<RequestSubscription>,
    page: Page,
    Form(form): Form<SubscribeForm>,
) -> AppResult<Response> {
    platform_only(&page)?;
    let result = match state.subscription_limiter.check(&actor.account.id) {
        Ok(()) => {
            requests::create(
                &state.db,
                &actor.account.id,
                NewRequest {
                    insee: &form.insee,
                    requester_name: &form.requester_name,
                    requester_role: &form.requester_role,
                    phone: &form.phone,
                    message: &form.message,
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            let notice = Notice {
                title: "Demande envoyée",
                message: "Merci ! Un administrateur de la plateforme va vérifier votre fonction \
                          (nous pourrons vous rappeler au numéro indiqué). Vous recevrez un \
                          e-mail dès que la commune sera ouverte et que vous en serez \
                          administrateur.",
            };
            Ok(page.render(&state, &notice)?.into_response())
        }
        Err(e @ (AppError::BadRequest(_) | AppError::Conflict(_) | AppError::TooManyRequests)) => {
            let status = e.status();
            let message = match e {
                AppError::TooManyRequests => format!(
                    "Vous avez envoyé {} demandes dans l'heure : réessayez plus tard, ou écrivez-nous.",
                    requests::REQUESTS_PER_HOUR
                ),
                e => e.to_string(),
            };
            let again = Subscribe {
                roles: REQUESTER_ROLES,
                insee: &form.insee,
                error: Some(message),
                form: Some(&form),
            };
            page.render_form(&state, status, &again)
        }
        Err(e) => Err(e),
    }
}

async fn about(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    Ok((StatusCode::OK, page.render(&state, &About {})?).into_response())
}

/// A component of the design system's living page, by its anchor.
#[derive(Serialize)]
struct Section {
    id: &'static str,
    name: &'static str,
}

/// The living page's components, in its order (`components.html` shows each by its `id`).
const SECTIONS: [Section; 15] = [
    Section {
        id: "couleurs",
        name: "Couleurs",
    },
    Section {
        id: "boutons",
        name: "Boutons",
    },
    Section {
        id: "champs",
        name: "Champs de formulaire",
    },
    Section {
        id: "choix",
        name: "Boutons radio et cases à cocher",
    },
    Section {
        id: "cartes",
        name: "Cartes",
    },
    Section {
        id: "messages",
        name: "Messages",
    },
    Section {
        id: "alertes",
        name: "Alertes par gravité",
    },
    Section {
        id: "ariane",
        name: "Fil d'Ariane",
    },
    Section {
        id: "onglets",
        name: "Onglets",
    },
    Section {
        id: "tableaux",
        name: "Tableaux",
    },
    Section {
        id: "graphiques",
        name: "Graphiques",
    },
    Section {
        id: "vide",
        name: "États vides",
    },
    Section {
        id: "replis",
        name: "Replis",
    },
    Section {
        id: "confirmations",
        name: "Confirmations",
    },
    Section {
        id: "lieu",
        name: "Lieu sur la carte",
    },
];

/// A colour of the style sheet: its variable's name (without `--`) and what it is for.
#[derive(Serialize)]
struct Colour {
    name: &'static str,
    role: &'static str,
}

const COLOURS: [Colour; 10] = [
    Colour {
        name: "ink",
        role: "le texte",
    },
    Colour {
        name: "muted",
        role: "le texte secondaire",
    },
    Colour {
        name: "accent",
        role: "les liens et l'action principale",
    },
    Colour {
        name: "bg",
        role: "le fond",
    },
    Colour {
        name: "soft",
        role: "le fond des cartes et de l'en-tête",
    },
    Colour {
        name: "line",
        role: "les séparations",
    },
    Colour {
        name: "info",
        role: "une information",
    },
    Colour {
        name: "warn",
        role: "une vigilance",
    },
    Colour {
        name: "err",
        role: "une erreur, une urgence, ce qui détruit",
    },
    Colour {
        name: "ok",
        role: "une réussite",
    },
];

/// `components.html`: the design system's living page.
#[derive(Serialize)]
struct Components {
    sections: &'static [Section],
    colours: &'static [Colour],
}

impl Template for Components {
    const NAME: &'static str = "components.html";
}

async fn components(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let content = Components {
        sections: &SECTIONS,
        colours: &COLOURS,
    };
    Ok((StatusCode::OK, page.render(&state, &content)?).into_response())
}

/// A legal page every host serves, the same on the platform and on each commune's site (a
/// commune's notice adds who answers for what its town hall publishes).
#[derive(Serialize)]
struct LegalLink {
    /// What `legal/page.html` includes.
    #[serde(skip)]
    name: &'static str,
    href: &'static str,
    title: &'static str,
}

const LEGAL_PAGES: [LegalLink; 4] = [
    LegalLink {
        name: "mentions",
        href: "/mentions-legales",
        title: "Mentions légales",
    },
    LegalLink {
        name: "confidentialite",
        href: "/confidentialite",
        title: "Politique de confidentialité",
    },
    LegalLink {
        name: "accessibilite",
        href: "/accessibilite",
        title: "Accessibilité : non conforme",
    },
    LegalLink {
        name: "conditions",
        href: "/conditions",
        title: "Conditions d’utilisation",
    },
];

/// `legal/page.html`: one legal page, with the instance's operator and links to the others.
#[derive(Serialize)]
struct LegalPage<'a> {
    page: &'static str,
    title: &'static str,
    legal: &'a crate::config::Legal,
    others: Vec<&'static LegalLink>,
}

impl Template for LegalPage<'_> {
    const NAME: &'static str = "legal/page.html";
}

async fn legal(
    State(state): State<AppState>,
    page: Page,
    this: &'static LegalLink,
) -> AppResult<Response> {
    let context = LegalPage {
        page: this.name,
        title: this.title,
        legal: &state.config.legal,
        others: LEGAL_PAGES.iter().filter(|p| p.href != this.href).collect(),
    };
    Ok(page.render(&state, &context)?.into_response())
}
