//! The staff's routes, under `/admin/m/reports` (the host checked the viewer administers the
//! commune's modules): the queue, a report with its answers and notes.

use crate::form::{NOTE_MAX, status_change};
use crate::model::{self, Agent, Category, OPEN, Report, Status, services};
use crate::public::{cursor, filter};
use crate::service::Assignment;
use crate::{service, store, views};
use parvis_module_sdk::prelude::*;

/// The routes of the back-office.
pub fn router() -> Router {
    Router::new()
        .get("/", queue)
        .get("/statistiques", stats)
        .get("/export.csv", export)
        .get("/{n}", manage)
        .post("/lot", batch)
        .post("/{n}/statut", change)
        .post("/{n}/note", note)
        .post("/{n}/agent", assign)
}

fn queue(req: &Request, _: &Params) -> Result<Response, Error> {
    let categories = service::categories(req);
    let services = services(&categories);
    let mut filter = filter(req, Some(&services))?;
    // The queue opens on what is left to do.
    if req.query_value("statut").is_none() {
        filter.status = Some(OPEN.to_string());
    }
    let team = host::staff();
    filter.agent = match req.query_value("agent") {
        Some(MINE) => req.account().map(str::to_string),
        Some(a) if req.account() == Some(a) || team.iter().any(|m| m.account == a) => {
            Some(a.to_string())
        }
        _ => None,
    };
    filter.team = team.into_iter().map(|m| (m.account, m.name)).collect();
    let page = store::page(&filter, cursor(req))?;
    let reports: Vec<Report> = page.documents.into_iter().map(|d| d.value).collect();
    Ok(Response::page(
        "Signalements à traiter",
        views::queue(
            req,
            &categories,
            &services,
            &filter,
            &reports,
            page.next.as_deref(),
            store::count_state(OPEN)?,
        ),
    ))
}

fn stats(req: &Request, _: &Params) -> Result<Response, Error> {
    let now = host::now_ms();
    let reports = crate::stats::newest(crate::stats::SAMPLE, now - 365 * 24 * 3600 * 1000)?;
    Ok(Response::page(
        "Statistiques des signalements",
        views::stats(
            req,
            &crate::stats::figures(&reports, now),
            &store::open_by_neighbourhood()?,
        ),
    ))
}

fn export(_: &Request, _: &Params) -> Result<Response, Error> {
    let reports = crate::stats::newest(crate::stats::EXPORTED, i64::MIN)?;
    let data = crate::stats::csv(&reports).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Response::csv("signalements.csv", data))
}

/// Most reports one batch changes (each is a write and a notice).
pub const MAX_BATCH: usize = 50;

/// The queue's batch: one status (and reply) for the ticked reports, each told as if changed
/// one by one. Refusing and merging need a reason or a number each: not in a batch.
fn batch(req: &Request, _: &Params) -> Result<Response, Error> {
    let refuse = |message: &str| Err(Error::page(422, "Changement non appliqué", message));
    let status = match Status::parse(req.form_value("statut").unwrap_or_default()) {
        Some(s @ (Status::PrisEnCompte | Status::EnCours | Status::Resolu)) => s,
        _ => return refuse("Choisissez « Pris en compte », « En cours » ou « Résolu »."),
    };
    let reply = req.form_value("reponse").unwrap_or_default().trim();
    if reply.chars().count() > crate::form::REPLY_MAX {
        return refuse("La réponse est trop longue (2\u{a0}000 caractères au plus).");
    }
    let numbers: Vec<u64> = req
        .form_values("n")
        .into_iter()
        .filter_map(model::parse_number)
        .collect();
    if numbers.is_empty() {
        return refuse("Cochez au moins un signalement dans la liste.");
    }
    if numbers.len() > MAX_BATCH {
        return refuse(&format!("Au plus {MAX_BATCH} signalements à la fois."));
    }
    for &n in &numbers {
        let change = crate::form::StatusChange {
            status,
            reply: (!reply.is_empty()).then(|| reply.to_string()),
            duplicate_of: None,
            service: None,
        };
        service::change(req, n, change, None)?;
    }
    let done = match numbers.len() {
        1 => "1 signalement mis à jour".to_string(),
        n => format!("{n} signalements mis à jour"),
    };
    Ok(req.redirect("/").with_flash(format!(
        "{done}\u{a0}; les personnes qui les suivent sont prévenues."
    )))
}

fn number(params: &Params) -> Result<u64, Error> {
    model::parse_number(params.require("n")?).ok_or(Error::NotFound)
}

/// The name of the neighbourhood a report's place lies in, if the commune has neighbourhoods.
pub fn place_name(report: &Report) -> Result<Option<String>, Error> {
    let Some((lat, lon)) = report.at else {
        return Ok(None);
    };
    Ok(store::neighbourhood_name(
        parvis_module_sdk::store::Point { lat, lon },
    )?)
}

fn render(
    req: &Request,
    n: u64,
    errors: &[(&'static str, String)],
    categories: &[Category],
) -> Result<Response, Error> {
    let doc = store::report(n)?.ok_or(Error::NotFound)?;
    let neighbourhood = place_name(&doc.value)?;
    let mut all = services(categories);
    if !all.contains(&doc.value.service.as_str()) {
        all.push(&doc.value.service);
    }
    Ok(Response::page(
        format!("Signalement n°\u{a0}{n}"),
        views::manage(
            req,
            &views::Manage {
                report: &doc.value,
                neighbourhood: neighbourhood.as_deref(),
                supporters: store::supporter_count(n)?,
                notes: &store::notes(n)?,
                services: &all,
                team: &host::staff()
                    .into_iter()
                    .map(|m| (m.account, m.name))
                    .collect::<Vec<_>>(),
                errors,
            },
        ),
    ))
}

fn manage(req: &Request, params: &Params) -> Result<Response, Error> {
    render(req, number(params)?, &[], &service::categories(req))
}

fn change(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    let categories = service::categories(req);
    let current = store::report(n)?.ok_or(Error::NotFound)?.value.service;
    let mut all = services(&categories);
    all.push(&current);
    let photo = match service::photos(1) {
        Ok(photos) => photos.into_iter().next(),
        Err(errors) => return Ok(render(req, n, &errors, &categories)?.with_status(422)),
    };
    match status_change(req, &all) {
        Ok(change) => {
            service::change(req, n, change, photo.as_ref())?;
            Ok(req
                .redirect(&format!("/{n}"))
                .with_flash("La réponse est enregistrée\u{a0}; les personnes qui suivent ce signalement sont prévenues."))
        }
        Err(errors) => Ok(render(req, n, &errors, &categories)?.with_status(422)),
    }
}

/// The queue's filter value for « the reports I took on ».
pub const MINE: &str = "moi";

/// « Je m'en occupe », « Je ne m'en occupe plus », or « Attribuer à » a member of the
/// commune's team (its admins and officials, `host::staff`) or to no one.
fn assign(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    let me = Agent {
        account: req.require_account()?.to_string(),
        name: req.display_name().unwrap_or("Équipe").to_string(),
    };
    let change = match req.form_value("action") {
        Some("laisser") => Assignment::Leave,
        Some("attribuer") => match req.form_value("agent").unwrap_or_default() {
            "" => Assignment::To(None),
            a if a == me.account => Assignment::To(Some(me)),
            a => match host::staff().into_iter().find(|m| m.account == a) {
                Some(m) => Assignment::To(Some(Agent {
                    account: m.account,
                    name: m.name,
                })),
                None => {
                    return Err(Error::page(
                        422,
                        "Attribution impossible",
                        "Cette personne ne fait pas partie de l'équipe de la commune\u{a0}: \
                         choisissez-la dans la liste.",
                    ));
                }
            },
        },
        _ => Assignment::To(Some(me)),
    };
    let flash = match service::assign(req, n, change)? {
        None => "Rien n'a changé.".to_string(),
        Some(None) => "Ce signalement n'est plus attribué.".to_string(),
        Some(Some(agent)) if Some(agent.account.as_str()) == req.account() => {
            "Ce signalement vous est attribué.".to_string()
        }
        Some(Some(agent)) => format!(
            "Ce signalement est attribué à {}\u{a0}; cette personne est prévenue.",
            agent.name
        ),
    };
    Ok(req.redirect(&format!("/{n}")).with_flash(flash))
}

fn note(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    let text = req.form_value("note").unwrap_or_default().trim();
    if text.is_empty() || text.chars().count() > NOTE_MAX {
        return Err(Error::page(
            422,
            "Note non enregistrée",
            "Une note fait de 1 à 2\u{a0}000 caractères.",
        ));
    }
    service::note(req, n, text)?;
    Ok(req
        .redirect(&format!("/{n}"))
        .with_flash("La note est ajoutée."))
}
