//! Public routes, under `/m/reports`: the map and the list, the report form, a report's page,
//! supporting a report, and the map's markers.

use crate::form::ReportForm;
use crate::model::{self, CLOSED, Category, OPEN, Report};
use crate::service::{self, Sent};
use crate::store::{self, Filter};
use crate::views;
use parvis_module_sdk::prelude::*;

/// The routes a visitor reaches.
pub fn router() -> Router {
    crate::open311::routes(Router::new())
        .get("/", index)
        .get("/carte.json", markers)
        .get("/flux", feed)
        .get("/flux/{categorie}", feed)
        .get("/nouveau", new_form)
        .post("/nouveau", send)
        .get("/{n}", show)
        .post("/{n}/soutenir", support)
}

/// The list's filter from the query string: only values the lists know.
pub fn filter(req: &Request, services: Option<&[&str]>) -> Result<Filter, Error> {
    let categories = service::categories(req);
    let neighbourhoods: Vec<(String, String)> = store::neighbourhoods()?
        .into_iter()
        .map(|n| (n.id, n.name))
        .collect();
    Ok(Filter {
        status: req
            .query_value("statut")
            .filter(|s| *s == OPEN || *s == CLOSED || model::Status::parse(s).is_some())
            .map(str::to_string),
        category: req
            .query_value("categorie")
            .filter(|c| categories.iter().any(|k| k.code() == *c))
            .map(str::to_string),
        service: req
            .query_value("service")
            .filter(|s| services.is_some_and(|all| all.contains(s)))
            .map(str::to_string),
        period: req
            .query_value("periode")
            .filter(|p| store::PERIODS.iter().any(|(code, _, _)| code == p))
            .map(str::to_string),
        agent: None,
        team: Vec::new(),
        neighbourhood: req
            .query_value("quartier")
            .filter(|q| neighbourhoods.iter().any(|(id, _)| id == q))
            .map(str::to_string),
        neighbourhoods,
    })
}

/// A cursor from the query string: a report key.
pub fn cursor(req: &Request) -> Option<&str> {
    req.query_value("apres")
        .filter(|c| c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit()))
}

fn index(req: &Request, _: &Params) -> Result<Response, Error> {
    let categories = service::categories(req);
    let filter = filter(req, None)?;
    let page = store::page(&filter, cursor(req))?;
    let reports: Vec<Report> = page.documents.into_iter().map(|d| d.value).collect();
    let settings: service::Settings = req.settings();
    Ok(Response::page(
        "Signalements",
        views::index(
            req,
            &views::Index {
                categories: &categories,
                filter: &filter,
                reports: &reports,
                next: page.next.as_deref(),
                open: store::count_state(OPEN)?,
                closed: store::count_state(CLOSED)?,
                intro: &settings.intro,
            },
        ),
    ))
}

/// The open reports of the map's view, clustered on its grid (no report is read): a lone
/// marker is titled by its number and links to its page.
fn markers(req: &Request, _: &Params) -> Result<Response, Error> {
    let public = req.link("").replace("/admin/m/", "/m/");
    parvis_module_sdk::map::markers(req, &store::OPEN, |key| {
        let number = key.parse::<u64>().ok()?;
        Some((
            format!("{public}/{number}"),
            format!("Signalement n°\u{a0}{number}"),
        ))
    })
}

/// `/flux` (every report) or `/flux/{categorie}`: an Atom feed of the newest.
fn feed(req: &Request, params: &Params) -> Result<Response, Error> {
    let categories = service::categories(req);
    let category = match params.get("categorie") {
        Some(code) => Some(
            categories
                .iter()
                .find(|c| c.code() == code)
                .ok_or(Error::NotFound)?,
        ),
        None => None,
    };
    let filter = Filter {
        category: category.map(Category::code),
        ..Filter::default()
    };
    let mut reports: Vec<Report> = Vec::new();
    let mut cursor: Option<String> = None;
    // The category's index answers; a short page is not the end (see `store::page`).
    for _ in 0..10 {
        let page = store::page(&filter, cursor.as_deref())?;
        reports.extend(page.documents.into_iter().map(|d| d.value));
        match page.next {
            Some(next) if reports.len() < crate::feed::ENTRIES => cursor = Some(next),
            _ => break,
        }
    }
    let name = match category {
        Some(c) => format!("signalements-{}.atom", c.code()),
        None => "signalements.atom".to_string(),
    };
    let xml = crate::feed::atom(
        &req.commune.name,
        &req.commune.slug,
        category,
        &req.link(""),
        &reports,
    );
    Ok(Response::download(
        &name,
        "application/atom+xml",
        xml.into_bytes(),
    ))
}

fn new_form(req: &Request, _: &Params) -> Result<Response, Error> {
    req.require_account()?;
    let categories = service::categories(req);
    let form = ReportForm {
        category: req.query_value("categorie").unwrap_or_default().to_string(),
        ..ReportForm::default()
    };
    Ok(Response::page(
        "Signaler un problème",
        views::form(req, &categories, &form, &[]),
    ))
}

fn send(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    let categories = service::categories(req);
    let form = ReportForm::from_request(req);
    let refused = |errors: Vec<(&'static str, String)>| {
        Ok(Response::page(
            "Signaler un problème",
            views::form(req, &categories, &form, &errors),
        )
        .with_status(422))
    };
    let photos = service::photos(model::MAX_PHOTOS);
    let new = match (form.validate(&categories), photos) {
        (Ok(new), Ok(photos)) => (new, photos),
        (Err(mut errors), Err(more)) => {
            errors.extend(more);
            return refused(errors);
        }
        (Err(errors), _) | (_, Err(errors)) => return refused(errors),
    };
    let (new, photos) = new;
    let name = req.display_name().unwrap_or("Un habitant");
    match service::send(req, Some(account), name, new, form.confirmed, &photos) {
        Ok(Sent::Sent(number)) => Ok(req.redirect(&format!("/{number}")).with_flash(format!(
            "Merci\u{a0}! Votre signalement n°\u{a0}{number} est envoyé à la mairie. Vous serez prévenu de sa suite."
        ))),
        Ok(Sent::Nearby(nearby)) => Ok(Response::page(
            "C'est le même problème\u{a0}?",
            views::nearby(req, &form, &nearby),
        )),
        Err(errors) => refused(errors),
    }
}

fn number(params: &Params) -> Result<u64, Error> {
    model::parse_number(params.require("n")?).ok_or(Error::NotFound)
}

fn show(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    let doc = store::report(n)?.ok_or(Error::NotFound)?;
    let report = doc.value;
    let neighbourhood = crate::admin::place_name(&report)?;
    let involved = match req.account() {
        Some(account) => report.author.as_deref() == Some(account) || store::supports(n, account)?,
        None => false,
    };
    Ok(Response::page(
        format!("Signalement n°\u{a0}{n}"),
        views::show(
            req,
            &views::Show {
                report: &report,
                neighbourhood: neighbourhood.as_deref(),
                supporters: store::supporter_count(n)?,
                involved,
            },
        ),
    ))
}

fn support(req: &Request, params: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    let n = number(params)?;
    let added = service::support(n, account)?;
    let message = if added {
        "C'est noté\u{a0}: vous serez prévenu de la suite de ce signalement."
    } else {
        "Vous suivez déjà ce signalement."
    };
    Ok(req.redirect(&format!("/{n}")).with_flash(message))
}
