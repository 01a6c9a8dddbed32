//! The staff's routes, under `/admin/m/ideas` (the host checked the viewer administers the
//! commune's modules): the list, an idea with its answer and its comments to moderate.

use crate::model::Status;
use crate::public::{filter, idea_page, listing, number};
use crate::{form, service, views};
use parvis_module_sdk::prelude::*;

/// The routes of the back-office.
pub fn router() -> Router {
    Router::new()
        .get("/", queue)
        .get("/{n}", manage)
        .post("/{n}/reponse", answer)
        .post("/{n}/commentaires/supprimer", delete_comment)
}

fn queue(req: &Request, _: &Params) -> Result<Response, Error> {
    let mut filter = filter(req)?;
    // The list opens on the ideas still waiting for an answer.
    if req.query_value("statut").is_none() {
        filter.status = Some(Status::Proposee);
    }
    Ok(Response::page(
        "Idées des habitants",
        listing(req, &filter, views::queue)?,
    ))
}

fn manage(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    let page = idea_page(req, n, &[], "", views::manage)?;
    Ok(Response::page(format!("Idée n°\u{a0}{n}"), page))
}

fn answer(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    match form::answer(req) {
        Ok(answer) => {
            service::answer(req, n, answer)?;
            Ok(req.redirect(&format!("/{n}")).with_flash(
                "Réponse enregistrée\u{202f}; l'auteur et les personnes qui soutiennent l'idée sont prévenus.",
            ))
        }
        Err(errors) => {
            let page = idea_page(req, n, &errors, "", views::manage)?;
            Ok(Response::page(format!("Idée n°\u{a0}{n}"), page).with_status(422))
        }
    }
}

fn delete_comment(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    let key = req.form_value("cle").unwrap_or_default();
    service::delete_comment(req, n, key, true)?;
    Ok(req
        .redirect(&format!("/{n}#commentaires-titre"))
        .with_flash("Le commentaire est retiré de la page publique."))
}
