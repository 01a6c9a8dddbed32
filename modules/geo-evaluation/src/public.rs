//! Public routes, under `/m/geo-evaluation`: the barometer citizens answer, and the map for
//! the commune's officials and admins.

use crate::model::{self, Answer};
use crate::service::{self, AnswerError, READERS};
use crate::{store, views};
use parvis_module_sdk::html::FieldError;
use parvis_module_sdk::prelude::*;

/// The routes.
pub fn router() -> Router {
    Router::new()
        .get("/", home)
        .get("/carte", map)
        .post("/{n}", answer)
}

fn number(params: &Params) -> Result<u64, Error> {
    model::parse_number(params.require("n")?).ok_or(Error::NotFound)
}

fn page(req: &Request, errors: Option<(u64, Vec<FieldError>)>) -> Result<Response, Error> {
    let rounds = store::barometers()?;
    let now = host::now_ms();
    let mut mine: Vec<(u64, Answer)> = Vec::new();
    if let Some(account) = req.account() {
        for b in rounds.iter().filter(|b| b.phase(now) == model::Phase::Open) {
            if let Some(doc) = store::answer(b.number, account)? {
                mine.push((b.number, doc.value));
            }
        }
    }
    let status = if errors.is_some() { 422 } else { 200 };
    Ok(Response::page(
        "Baromètre de la vie locale",
        views::home(
            req,
            &views::Home {
                rounds: &rounds,
                now,
                mine: &mine,
                neighbourhoods: &service::neighbourhoods()?,
                errors,
            },
        ),
    )
    .with_status(status))
}

fn home(req: &Request, _: &Params) -> Result<Response, Error> {
    page(req, None)
}

fn answer(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    match service::answer(req, n) {
        Ok(changed) => Ok(req.redirect("/").with_flash(if changed {
            "Vos réponses sont changées. Merci\u{a0}!"
        } else {
            "Vos réponses sont enregistrées. Merci\u{a0}!"
        })),
        Err(AnswerError::Page(e)) => Err(e),
        Err(AnswerError::Form(errors)) => page(req, Some((n, errors))),
    }
}

fn map(req: &Request, _: &Params) -> Result<Response, Error> {
    req.require_account()?;
    req.require_any_role(&READERS)?;
    let rounds = store::barometers()?;
    let data = service::map(req.query_value("indicateur"), service::period(req), &rounds)?;
    Ok(Response::page(
        "Géo-évaluation",
        views::map_page(req, &data, None),
    ))
}
