//! The team's routes, under `/admin/m/consultations` (the host checked the viewer is one of
//! the commune's admins or officials): the consultations, a new one, consent to an official's,
//! the moderation queue, and the publication of the results.

use crate::model::Moderation;
use crate::public::number;
use crate::service::{self, ConsultationForm};
use crate::{store, views};
use parvis_module_sdk::prelude::*;

/// The routes of the back-office.
pub fn router() -> Router {
    Router::new()
        .get("/", index)
        .get("/nouvelle", new_form)
        .post("/nouvelle", create)
        .get("/{n}", manage)
        .post("/{n}/valider", approve)
        .post("/{n}/moderer", moderate)
        .post("/{n}/publier-resultats", publish_results)
}

fn index(req: &Request, _: &Params) -> Result<Response, Error> {
    let all = store::consultations()?;
    let mut waiting = Vec::new();
    for c in &all {
        waiting.push(store::count(c.number, Moderation::Waiting)?);
    }
    Ok(Response::page(
        "Consultations",
        views::admin_index(req, &all, &waiting, host::now_ms()),
    ))
}

fn new_form(req: &Request, _: &Params) -> Result<Response, Error> {
    Ok(Response::page(
        "Nouvelle consultation",
        views::consultation_form(req, &ConsultationForm::default(), &[]),
    ))
}

fn create(req: &Request, _: &Params) -> Result<Response, Error> {
    let form = ConsultationForm::from_request(req);
    match service::create(req, &form) {
        Ok(n) if req.has_role(service::ADMIN) => Ok(req
            .redirect(&format!("/{n}"))
            .with_flash("La consultation est créée\u{a0}; elle s'ouvre à la date dite.")),
        Ok(n) => Ok(req.redirect(&format!("/{n}")).with_flash(
            "La consultation est créée\u{a0}; les administrateurs de la commune la valident avant qu'elle soit visible.",
        )),
        Err(errors) => Ok(Response::page(
            "Nouvelle consultation",
            views::consultation_form(req, &form, &errors),
        )
        .with_status(422)),
    }
}

fn manage(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    let (c, _) = service::consultation(req, n)?;
    let queue = store::proposals(n, Moderation::Waiting, None)?;
    let queue: Vec<_> = queue.documents.into_iter().map(|d| d.value).collect();
    Ok(Response::page(
        c.question.clone(),
        views::manage(req, &c, &queue, host::now_ms()),
    ))
}

fn approve(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    service::approve(req, n)?;
    Ok(req
        .redirect(&format!("/{n}"))
        .with_flash("La consultation est validée\u{a0}: elle est visible de tous."))
}

fn moderate(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    let p = req
        .form_value("proposition")
        .and_then(parvis_module_sdk::text::parse_number)
        .ok_or(Error::NotFound)?;
    let publish = req.form_value("decision") == Some("publier");
    service::moderate(n, p, publish, req.form_value("raison").unwrap_or_default())?;
    let flash = if publish {
        "Proposition publiée\u{a0}: elle entre dans le tirage des votes."
    } else {
        "Proposition refusée\u{a0}; son auteur reçoit la raison."
    };
    Ok(req.redirect(&format!("/{n}")).with_flash(flash))
}

fn publish_results(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    service::publish_results(n)?;
    Ok(req
        .redirect(&format!("/{n}"))
        .with_flash("Les résultats sont publiés dans le fil de la commune."))
}
