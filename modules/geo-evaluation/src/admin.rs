//! The back-office, under `/admin/m/geo-evaluation` (the host checked the viewer administers
//! the commune's modules): the map, and the barometer's rounds.

use crate::model;
use crate::service::{self, BarometerForm};
use crate::{store, views};
use parvis_module_sdk::html::FieldError;
use parvis_module_sdk::prelude::*;

/// The routes of the back-office.
pub fn router() -> Router {
    Router::new()
        .get("/", index)
        .post("/barometres", create)
        .post("/barometres/{n}/clore", close)
}

fn page(req: &Request, form: &BarometerForm, errors: &[FieldError]) -> Result<Response, Error> {
    let rounds = store::barometers()?;
    let data = service::map(req.query_value("indicateur"), service::period(req), &rounds)?;
    let part = views::rounds(req, &rounds, host::now_ms(), form, errors);
    let status = if errors.is_empty() { 200 } else { 422 };
    Ok(
        Response::page("Géo-évaluation", views::map_page(req, &data, Some(part)))
            .with_status(status),
    )
}

fn index(req: &Request, _: &Params) -> Result<Response, Error> {
    page(req, &BarometerForm::default(), &[])
}

fn create(req: &Request, _: &Params) -> Result<Response, Error> {
    let form = BarometerForm::from_request(req);
    match service::create(&form) {
        Ok(_) => Ok(req.redirect("/").with_flash("Le baromètre est ouvert.")),
        Err(errors) => page(req, &form, &errors),
    }
}

fn close(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = model::parse_number(params.require("n")?).ok_or(Error::NotFound)?;
    service::close(n)?;
    Ok(req.redirect("/").with_flash("Le baromètre est clos."))
}
