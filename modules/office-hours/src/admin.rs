//! Officials' pages under `/admin/m/office-hours/`: the agenda with who booked what, publishing
//! a slot, cancelling one. The host already let only the commune's staff in; the roles are
//! checked again here, as every module should.

use crate::admin_views::{self, AgendaEntry};
use crate::form::SlotInput;
use crate::model::{Slot, is_id};
use crate::service::{self, Booker};
use crate::{store, time};
use parvis_module_sdk::prelude::*;

/// Who may publish and cancel slots.
const STAFF: [&str; 3] = ["official", "tenant-admin", "platform-admin"];
/// How many slots each part of the agenda shows.
const AGENDA: u32 = 200;
/// Longest cancellation reason, in characters.
const MAX_REASON: usize = 300;

/// The admin routes.
pub fn router() -> Router {
    Router::new()
        .get("/", agenda)
        .get("/new", new_form)
        .post("/new", create)
        .post("/{slot}/cancel", cancel)
}

fn now() -> i64 {
    host::now_ms().div_euclid(1000)
}

fn staff(req: &Request) -> Result<Booker<'_>, Error> {
    if !req.admin {
        return Err(Error::Forbidden);
    }
    req.require_any_role(&STAFF)?;
    let account = req.require_account()?;
    Ok(Booker {
        account,
        name: req.display_name().unwrap_or(account),
    })
}

fn entry(slot: Doc<Slot>) -> Result<AgendaEntry, Error> {
    let bookings = store::bookings_of_slot(&slot.key)?;
    Ok(AgendaEntry { slot, bookings })
}

fn agenda(req: &Request, _: &Params) -> Result<Response, Error> {
    staff(req)?;
    let stamp = time::key_stamp(now());
    let upcoming = store::slots_from(&stamp, AGENDA)?
        .into_iter()
        .map(entry)
        .collect::<Result<Vec<_>, _>>()?;
    let past = store::slots_before(&stamp, AGENDA)?
        .into_iter()
        .map(entry)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(admin_views::agenda(req, &upcoming, &past))
}

fn new_form(req: &Request, _: &Params) -> Result<Response, Error> {
    staff(req)?;
    Ok(admin_views::slot_form(req, &SlotInput::blank(), &[]))
}

fn create(req: &Request, _: &Params) -> Result<Response, Error> {
    let official = staff(req)?;
    let input = SlotInput::from_request(req);
    let new = match input.check(now()) {
        Ok(new) => new,
        Err(errors) => return Ok(admin_views::slot_form(req, &input, &errors).with_status(422)),
    };
    let starts_at = new.starts_at;
    service::publish(new, official)?;
    Ok(req.redirect("/").with_flash(format!(
        "Le créneau du {} est publié.",
        time::when_fr(starts_at)
    )))
}

fn cancel(req: &Request, params: &Params) -> Result<Response, Error> {
    staff(req)?;
    let key = params.require("slot")?;
    if !is_id(key) {
        return Err(Error::NotFound);
    }
    let slot = store::slot(key)?.ok_or(Error::NotFound)?;
    if slot.value.cancelled {
        return Ok(req
            .redirect("/")
            .with_flash("Ce créneau était déjà annulé."));
    }
    if !slot.value.is_upcoming(now()) {
        return Err(Error::page(
            409,
            "Action impossible",
            "Ce créneau est déjà commencé ou passé : il ne peut plus être annulé.",
        ));
    }
    let reason: Option<String> = req
        .form_text("motif")
        .map(|r| r.chars().take(MAX_REASON).collect());
    let told = service::cancel_slot(&slot, reason.as_deref(), now())?;
    let message = match told {
        0 => "Le créneau est annulé. Personne n'était inscrit.".to_owned(),
        1 => "Le créneau est annulé. La personne inscrite a été prévenue par e-mail.".to_owned(),
        n => format!(
            "Le créneau est annulé. Les {n} personnes inscrites ont été prévenues par e-mail."
        ),
    };
    Ok(req.redirect("/").with_flash(message))
}
