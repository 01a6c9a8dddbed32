//! Public routes, under `/m/alerts`: current alerts and history, an alert's page, and the
//! citizen's SMS subscription.

use crate::form::{FieldError, SmsForm};
use crate::model::{Severity, current_order, is_id};
use crate::service::{self, CodeRequest, Confirmation};
use crate::{phone, store, verify, views};
use parvis_module_sdk::now;
use parvis_module_sdk::prelude::*;

/// The routes a visitor reaches.
pub fn router() -> Router {
    Router::new()
        .get(now::PATH, happening)
        .get("/", index)
        .get("/sms", sms_page)
        .post("/sms", subscribe)
        .post("/sms/code", confirm)
        .post("/sms/supprimer", unsubscribe)
        .get("/{id}", show)
}

/// The alerts in force, for the commune's home page (`now`): the gravest first, each until it
/// ends.
fn happening(_: &Request, _: &Params) -> Result<Response, Error> {
    let now_ms = host::now_ms();
    let cards: Vec<now::Card> = store::current(now_ms)?
        .into_iter()
        .map(|doc| {
            let alert = doc.value;
            now::Card::new(&alert.title, &format!("/{}", doc.key))
                .summary(&format!(
                    "{} · {}",
                    alert.category.label(),
                    alert.zone_label()
                ))
                .severity(match alert.severity {
                    Severity::Information => now::Severity::Information,
                    Severity::Vigilance => now::Severity::Vigilance,
                    Severity::Emergency => now::Severity::Urgence,
                })
                .until(alert.expires_at)
        })
        .collect();
    Ok(now::answer(&cards))
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
    let confirmed = service::confirmed_number(account)?;
    let now = host::now_ms();
    // A code that can no longer be entered is not shown as pending.
    let pending = store::pending_of(account)?
        .filter(|p| now < p.expires_at && p.attempts < verify::MAX_ATTEMPTS)
        .map(|p| p.number);
    Ok(Response::page(
        "Alertes par SMS",
        views::sms_page(
            req,
            views::SmsState {
                confirmed: confirmed.as_deref(),
                pending: pending.as_deref(),
            },
            form,
            errors,
        ),
    ))
}

fn sms_page(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    render_sms(req, account, &SmsForm::default(), &[])
}

/// Sends a code to the number typed; the number is registered only once the code is entered.
fn subscribe(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    let form = SmsForm::from_request(req);
    let refused = |errors: Vec<FieldError>, status: u16| -> Result<Response, Error> {
        Ok(render_sms(req, account, &form, &errors)?.with_status(status))
    };
    let number = match form.validate() {
        Ok(number) => number,
        Err(errors) => return refused(errors, 422),
    };
    match service::request_code(&req.commune.name, account, &number, host::now_ms())? {
        CodeRequest::Sent => Ok(req.redirect("/sms").with_flash(format!(
            "Un code de confirmation a été envoyé par SMS au {}. Saisissez-le ci-dessous : \
             le numéro ne recevra les alertes qu'une fois confirmé.",
            phone::display(&number)
        ))),
        CodeRequest::Unchanged => Ok(req
            .redirect("/sms")
            .with_flash("Ce numéro est déjà confirmé : il reçoit les alertes.")),
        CodeRequest::TooMany => refused(
            vec![(
                "phone",
                "Trop de codes ont été demandés aujourd'hui pour votre compte ou pour ce numéro. \
                 Réessayez demain."
                    .into(),
            )],
            429,
        ),
        CodeRequest::Unavailable(_) => refused(
            vec![(
                "phone",
                "L'envoi de SMS n'est pas disponible pour le moment : votre numéro n'a pas pu \
                 être vérifié. Réessayez plus tard."
                    .into(),
            )],
            503,
        ),
    }
}

/// Checks the code entered. A wrong code answers with a redirection, not an error status, so
/// that the attempt it used is recorded (an error rolls the module's writes back).
fn confirm(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    let code = req.form_value("code").unwrap_or_default();
    let message = match service::confirm(account, code, host::now_ms())? {
        Confirmation::Confirmed => {
            "Votre numéro est confirmé : vous recevrez les alertes de la commune par SMS."
        }
        Confirmation::Wrong => {
            "Ce code n'est pas le bon. Vérifiez le SMS reçu et saisissez ses six chiffres."
        }
        Confirmation::Void => {
            "Ce code n'est plus valable (expiré ou trop d'essais) : demandez-en un nouveau."
        }
    };
    Ok(req.redirect("/sms").with_flash(message))
}

fn unsubscribe(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    let message = if service::unsubscribe(account)? {
        "Votre numéro est supprimé : vous ne recevrez plus les alertes par SMS."
    } else {
        "Aucun numéro n'était enregistré."
    };
    Ok(req.redirect("/sms").with_flash(message))
}
