//! Admin routes, under `/admin/m/polls`: list, create, results, close, exports.

use crate::form::PollForm;
use crate::public::{find, listed};
use crate::service::{self, MANAGER_ROLES};
use crate::{export, store, views};
use parvis_module_sdk::prelude::*;

/// The routes of the commune's back-office (the host checked the viewer administers modules).
pub fn router() -> Router {
    Router::new()
        .get("/", index)
        .get("/new", new_form)
        .post("/new", create)
        .get("/{id}", show)
        .post("/{id}/close", close)
        .get("/{id}/resultats.csv", results_csv)
        .get("/{id}/votants.csv", voters_csv)
}

fn can_manage(req: &Request) -> bool {
    req.has_any_role(&MANAGER_ROLES)
}

fn index(req: &Request, _: &Params) -> Result<Response, Error> {
    let now = host::now_ms();
    Ok(Response::page(
        "Sondages",
        views::admin_index(req, &listed()?, now, can_manage(req)),
    ))
}

fn new_form(req: &Request, _: &Params) -> Result<Response, Error> {
    req.require_any_role(&MANAGER_ROLES)?;
    let form = PollForm::blank(host::now_ms());
    Ok(Response::page(
        "Nouveau sondage",
        views::new_form(req, &form, &[]),
    ))
}

fn create(req: &Request, _: &Params) -> Result<Response, Error> {
    req.require_any_role(&MANAGER_ROLES)?;
    let account = req.require_account()?;
    let form = PollForm::from_request(req);
    match form.validate(host::now_ms()) {
        Ok(new) => {
            let id = service::create(account, new)?;
            Ok(req
                .redirect(&format!("/{id}"))
                .with_flash("Le sondage a été créé."))
        }
        Err(errors) => Ok(Response::page(
            "Nouveau sondage : à corriger",
            views::new_form(req, &form, &errors),
        )
        .with_status(422)),
    }
}

fn show(req: &Request, params: &Params) -> Result<Response, Error> {
    let doc = find(params)?;
    let results = store::results(&doc.key, &doc.value)?;
    Ok(Response::page(
        doc.value.question.clone(),
        views::admin_show(req, &doc, &results, host::now_ms(), can_manage(req)),
    ))
}

fn close(req: &Request, params: &Params) -> Result<Response, Error> {
    req.require_any_role(&MANAGER_ROLES)?;
    let doc = find(params)?;
    let id = doc.key.clone();
    service::close(doc, host::now_ms())?;
    Ok(req
        .redirect(&format!("/{id}"))
        .with_flash("Le sondage est clos ; ses résultats sont publiés dans le fil de la commune."))
}

fn results_csv(_: &Request, params: &Params) -> Result<Response, Error> {
    let doc = find(params)?;
    let results = store::results(&doc.key, &doc.value)?;
    let data = export::results_csv(&doc.value, &results)
        .map_err(|e| Error::Internal(format!("results csv: {e}")))?;
    Ok(Response::csv(
        &format!("sondage-{}-resultats.csv", doc.key),
        data,
    ))
}

fn voters_csv(_: &Request, params: &Params) -> Result<Response, Error> {
    let doc = find(params)?;
    if doc.value.anonymous {
        return Err(Error::NotFound);
    }
    let ballots = store::ballots(&doc.key)?;
    let data = export::voters_csv(&doc.value, ballots.iter().map(|b| &b.value))
        .map_err(|e| Error::Internal(format!("voters csv: {e}")))?;
    Ok(Response::csv(
        &format!("sondage-{}-votants.csv", doc.key),
        data,
    ))
}
