//! Public routes, under `/m/alerts`: current alerts and history, an alert's page, and the
//! citizen's SMS subscription.

use crate::form::{FieldError, SmsForm};
use crate::model::{current_order, is_id};
use crate::service::{self, SubscribeError, Subscribed};
use crate::{store, views};
use parvis_module_sdk::prelude::*;

/// The routes a visitor reaches.
pub fn router() -> Router {
    Router::new()
        .get("/", index)
        .get("/sms", sms_page)
        .post("/sms", subscribe)
        .post("/sms/supprimer", unsubscribe)
        .get("/{id}", show)
}

fn index(req: &Request, _: &Params) -> Result<Response, Error> {
    let now = host::now_ms();
    let cursor = req.query_value("apres").filter(|c| store::is_cursor(c));
    let current = match cursor {
        Some(_) => None,
        None => {
            let mut current = store::current(now)?;
            current.sort_by(|a, b| current_order(&a.value, &b.value).then(b.key.cmp(&a.key)));
            Some(current)
        }
    };
    let (history, next) = store::history(now, cursor)?;
    Ok(Response::page(
        "Alertes",
        views::index(req, current.as_deref(), &history, next.as_deref(), now),
    ))
}

fn show(req: &Request, params: &Params) -> Result<Response, Error> {
    let id = params.require("id")?;
    if !is_id(id) {
        return Err(Error::NotFound);
    }
    let doc = store::alert(id)?.ok_or(Error::NotFound)?;
    Ok(Response::page(
        doc.value.title.clone(),
        views::show(req, &doc, host::now_ms()),
    ))
}

fn render_sms(
    req: &Request,
    account: &str,
    form: &SmsForm,
    errors: &[FieldError],
) -> Result<Response, Error> {
    let subscribed = store::subscription_of(account)?.map(|doc| doc.key);
    Ok(Response::page(
        "Alertes par SMS",
        views::sms_page(req, subscribed.as_deref(), form, errors),
    ))
}

fn sms_page(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    render_sms(req, account, &SmsForm::default(), &[])
}

fn subscribe(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    let form = SmsForm::from_request(req);
    let refused = |errors: Vec<FieldError>| -> Result<Response, Error> {
        Ok(render_sms(req, account, &form, &errors)?.with_status(422))
    };
    let number = match form.validate() {
        Ok(number) => number,
        Err(errors) => return refused(errors),
    };
    match service::subscribe(account, &number, host::now_ms()) {
        Ok(done) => {
            let message = match done {
                Subscribed::New => {
                    "Votre numéro est enregistré : vous recevrez les alertes de la commune par SMS."
                }
                Subscribed::Replaced => {
                    "Votre nouveau numéro est enregistré ; l'ancien a été supprimé."
                }
                Subscribed::Unchanged => "Ce numéro était déjà enregistré.",
            };
            Ok(req.redirect("/sms").with_flash(message))
        }
        Err(SubscribeError::Taken) => refused(vec![(
            "phone",
            "Ce numéro est déjà inscrit aux alertes de la commune par un autre compte.".into(),
        )]),
        Err(SubscribeError::Other(err)) => Err(err),
    }
}

fn unsubscribe(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    let message = if service::unsubscribe(account)? {
        "Votre numéro est supprimé : vous ne recevrez plus les alertes par SMS."
    } else {
        "Aucun numéro n'était enregistré."
    };
    Ok(req.redirect("/sms").with_flash(message))
}
