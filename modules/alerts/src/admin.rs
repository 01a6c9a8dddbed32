//! Admin routes, under `/admin/m/alerts`: the list with delivery reports, publishing an alert,
//! its page, lifting it. The host let only the commune's staff in; roles are checked again here,
//! and only administrators may publish or lift.

use crate::admin_views::{self, Reported};
use crate::form::AlertForm;
use crate::model::is_id;
use crate::service::{self, SENDERS, STAFF};
use crate::store;
use crate::views::reason;
use parvis_module_sdk::prelude::*;

/// The routes of the commune's back-office.
pub fn router() -> Router {
    Router::new()
        .get("/", index)
        .get("/new", new_form)
        .post("/new", create)
        .get("/{id}", show)
        .post("/{id}/lever", lift)
}

fn staff(req: &Request) -> Result<(), Error> {
    if !req.admin {
        return Err(Error::Forbidden);
    }
    req.require_any_role(&STAFF)
}

/// The account of an administrator who may publish.
fn sender(req: &Request) -> Result<&str, Error> {
    staff(req)?;
    req.require_any_role(&SENDERS)?;
    req.require_account()
}

fn find(params: &Params) -> Result<Doc<crate::model::Alert>, Error> {
    let id = params.require("id")?;
    if !is_id(id) {
        return Err(Error::NotFound);
    }
    store::alert(id)?.ok_or(Error::NotFound)
}

fn index(req: &Request, _: &Params) -> Result<Response, Error> {
    staff(req)?;
    let cursor = req.query_value("apres").filter(|c| store::is_cursor(c));
    let (alerts, next) = store::newest(cursor)?;
    let reported: Vec<Reported> = alerts
        .into_iter()
        .map(|doc| {
            let report = service::report(&doc.value);
            (doc, report)
        })
        .collect();
    Ok(Response::page(
        "Alertes",
        admin_views::index(
            req,
            &reported,
            next.as_deref(),
            req.has_any_role(&SENDERS),
            host::now_ms(),
        ),
    ))
}

fn new_form(req: &Request, _: &Params) -> Result<Response, Error> {
    sender(req)?;
    Ok(Response::page(
        "Publier une alerte",
        admin_views::new_form(req, &AlertForm::blank(host::now_ms()), &[]),
    ))
}

fn create(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = sender(req)?;
    let form = AlertForm::from_request(req);
    let now = host::now_ms();
    let new = match form.validate(now) {
        Ok(new) => new,
        Err(errors) => {
            return Ok(Response::page(
                "Publier une alerte : à corriger",
                admin_views::new_form(req, &form, &errors),
            )
            .with_status(422));
        }
    };
    let published = service::publish(&req.commune.name, account, new, now)?;
    let mut flash = String::from("L'alerte est publiée.");
    if let Some(why) = &published.notify_error {
        flash.push_str(&format!(
            " La notification dans l'application et par e-mail n'a pas pu être envoyée : {}",
            reason(why)
        ));
    }
    if let Some(why) = &published.sms_error {
        flash.push_str(&format!(
            " Les SMS n'ont pas pu être envoyés : {}",
            reason(why)
        ));
    }
    Ok(req
        .redirect(&format!("/{}", published.id))
        .with_flash(flash))
}

fn show(req: &Request, params: &Params) -> Result<Response, Error> {
    staff(req)?;
    let doc = find(params)?;
    let report = service::report(&doc.value);
    Ok(Response::page(
        doc.value.title.clone(),
        admin_views::show(
            req,
            &doc,
            &report,
            req.has_any_role(&SENDERS),
            host::now_ms(),
        ),
    ))
}

fn lift(req: &Request, params: &Params) -> Result<Response, Error> {
    sender(req)?;
    let doc = find(params)?;
    let message = if service::lift(&doc, host::now_ms())? {
        "L'alerte est levée : elle figure désormais dans l'historique."
    } else {
        "Cette alerte était déjà terminée."
    };
    Ok(req.redirect(&format!("/{}", doc.key)).with_flash(message))
}
