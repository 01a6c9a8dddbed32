//! Citizens' pages under `/m/office-hours/`: the upcoming slots, one slot with its booking form,
//! and the viewer's own bookings (cancel, move, calendar file).

use crate::form::check_subject;
use crate::ics::Method;
use crate::model::{BookingStatus, Slot, is_id};
use crate::service::{self, BookError, Booker};
use crate::views::{self, Bookable, BookingRow};
use crate::{store, time};
use parvis_module_sdk::now;
use parvis_module_sdk::prelude::*;

/// How many upcoming slots a page lists.
const UPCOMING: u32 = 200;

/// The public routes (the first match wins: literal segments before `{slot}`).
pub fn router() -> Router {
    Router::new()
        .get("/", index)
        .get(now::PATH, happening)
        .get("/mes-reservations", my_bookings)
        .get("/mes-reservations/{booking}/invitation.ics", invitation)
        .get("/mes-reservations/{booking}/deplacer", move_form)
        .post("/mes-reservations/{booking}/deplacer", move_booking)
        .post("/mes-reservations/{booking}/annuler", cancel_booking)
        .get("/{slot}", show)
        .post("/{slot}/book", book)
}

fn now() -> i64 {
    host::now_ms().div_euclid(1000)
}

/// Upcoming open slots with their free seats.
fn open_slots(now: i64) -> Result<Vec<(Doc<Slot>, u32)>, Error> {
    let mut out = Vec::new();
    for slot in store::slots_from(&time::key_stamp(now), UPCOMING)? {
        if slot.value.is_open(now) {
            let left = service::seats_left(&slot)?;
            out.push((slot, left));
        }
    }
    Ok(out)
}

/// How far ahead the commune's home page announces office hours.
const ANNOUNCED_FOR: i64 = 14 * 24 * 3600;
/// Office hours the home page announces at most.
const ANNOUNCED: usize = 2;

/// The next office hours with a free seat, within two weeks, for the commune's home page
/// (`now`): each until it starts.
fn happening(_: &Request, _: &Params) -> Result<Response, Error> {
    let at = now();
    let cards: Vec<now::Card> = open_slots(at)?
        .into_iter()
        .filter(|(slot, left)| *left > 0 && slot.value.starts_at < at + ANNOUNCED_FOR)
        .take(ANNOUNCED)
        .map(|(slot, left)| {
            let seats = if left == 1 {
                "1 place libre".to_string()
            } else {
                format!("{left} places libres")
            };
            now::Card::new(&slot.value.topic, &format!("/{}", slot.key))
                .summary(&format!(
                    "Avec {}, {} ; {seats}.",
                    slot.value.host_name,
                    time::when_fr(slot.value.starts_at)
                ))
                .shown_until(slot.value.starts_at.saturating_mul(1000))
        })
        .collect();
    Ok(now::answer(&cards))
}

fn index(req: &Request, _: &Params) -> Result<Response, Error> {
    Ok(views::index(req, &open_slots(now())?))
}

/// The slot named in the path; 404 for anything else.
fn load_slot(params: &Params) -> Result<Doc<Slot>, Error> {
    let key = params.require("slot")?;
    if !is_id(key) {
        return Err(Error::NotFound);
    }
    store::slot(key)?.ok_or(Error::NotFound)
}

fn show(req: &Request, params: &Params) -> Result<Response, Error> {
    let slot = load_slot(params)?;
    let left = service::seats_left(&slot)?;
    let mine = match req.account() {
        Some(account) => service::booking_of(&slot.key, account)?,
        None => None,
    };
    let bookable = bookable(req, &slot.value, left, mine.as_ref(), now());
    Ok(views::slot(req, &slot, left, bookable))
}

fn bookable<'a>(
    req: &Request,
    slot: &Slot,
    left: u32,
    mine: Option<&'a Doc<crate::model::Booking>>,
    now: i64,
) -> Bookable<'a> {
    match mine {
        Some(booking) => Bookable::Booked(booking),
        None if slot.cancelled => Bookable::Cancelled,
        None if !slot.is_upcoming(now) => Bookable::Past,
        None if !req.is_signed_in() => Bookable::SignIn,
        None if left == 0 => Bookable::Full,
        None => Bookable::Open {
            subject: "",
            error: None,
        },
    }
}

/// The French 409 page for a refused booking.
fn refused(err: BookError) -> Error {
    let message = match err {
        BookError::AlreadyBooked => "Vous avez déjà réservé ce créneau.",
        BookError::Full => "Ce créneau est complet.",
        BookError::Closed => "Ce créneau n'est plus ouvert à la réservation.",
        BookError::Store(e) => return e.into(),
    };
    Error::page(409, "Réservation impossible", message)
}

fn viewer(req: &Request) -> Result<Booker<'_>, Error> {
    let account = req.require_account()?;
    Ok(Booker {
        account,
        name: req.display_name().unwrap_or(account),
    })
}

fn book(req: &Request, params: &Params) -> Result<Response, Error> {
    let booker = viewer(req)?;
    let slot = load_slot(params)?;
    let now = now();
    let typed = req.form_value("objet").unwrap_or_default();
    let subject = match check_subject(typed) {
        Ok(subject) => subject,
        Err(message) => {
            let left = service::seats_left(&slot)?;
            let bookable = Bookable::Open {
                subject: typed,
                error: Some(&message),
            };
            return Ok(views::slot(req, &slot, left, bookable));
        }
    };
    let booking =
        service::book(&slot, booker, &subject, now, &req.commune.slug, None).map_err(refused)?;
    service::confirm(&booking.value, &slot.value, now)?;
    Ok(req.redirect("/mes-reservations").with_flash(
        "Votre réservation est confirmée. Un e-mail de confirmation avec l'invitation pour votre \
         agenda vous a été envoyé.",
    ))
}

fn my_bookings(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    let now = now();
    let mut upcoming: Vec<BookingRow> = Vec::new();
    let mut past: Vec<BookingRow> = Vec::new();
    for booking in store::bookings_of_account(account)? {
        let Some(slot) = store::slot(&booking.value.slot)? else {
            continue;
        };
        if slot.value.is_upcoming(now) {
            upcoming.push((booking, slot));
        } else {
            past.push((booking, slot));
        }
    }
    upcoming.sort_by(|a, b| a.1.key.cmp(&b.1.key));
    past.sort_by(|a, b| b.1.key.cmp(&a.1.key));
    Ok(views::my_bookings(req, &upcoming, &past))
}

/// The viewer's own booking named in the path, with its slot; 404 for anyone else's.
fn own_booking(req: &Request, params: &Params) -> Result<BookingRow, Error> {
    let account = req.require_account()?;
    let key = params.require("booking")?;
    if !is_id(key) {
        return Err(Error::NotFound);
    }
    let booking = store::booking(key)?
        .filter(|b| b.value.account == account)
        .ok_or(Error::NotFound)?;
    let slot = store::slot(&booking.value.slot)?.ok_or(Error::NotFound)?;
    Ok((booking, slot))
}

/// An action on a booking that is still confirmed and to come; a 409 page otherwise.
fn active_booking(req: &Request, params: &Params, now: i64) -> Result<BookingRow, Error> {
    let (booking, slot) = own_booking(req, params)?;
    if booking.value.status != BookingStatus::Confirmed {
        return Err(Error::page(
            409,
            "Action impossible",
            "Ce créneau a été annulé par la commune.",
        ));
    }
    if !slot.value.is_upcoming(now) {
        return Err(Error::page(
            409,
            "Action impossible",
            "Ce rendez-vous est passé.",
        ));
    }
    Ok((booking, slot))
}

fn invitation(req: &Request, params: &Params) -> Result<Response, Error> {
    let (booking, slot) = own_booking(req, params)?;
    let method = match booking.value.status {
        BookingStatus::Confirmed => Method::Request,
        BookingStatus::SlotCancelled => Method::Cancel,
    };
    let data = service::invitation(&booking.value, &slot.value, now(), method);
    Ok(Response::download(
        method.filename(),
        "text/calendar; charset=utf-8",
        data,
    ))
}

fn cancel_booking(req: &Request, params: &Params) -> Result<Response, Error> {
    let now = now();
    let (booking, slot) = active_booking(req, params, now)?;
    service::cancel_booking(&booking, &slot.value, now)?;
    Ok(req
        .redirect("/mes-reservations")
        .with_flash("Votre réservation est annulée ; la place est libérée."))
}

/// Other upcoming slots with a free seat that the viewer has not booked.
fn move_choices(current: &str, account: &str, now: i64) -> Result<Vec<(Doc<Slot>, u32)>, Error> {
    let mut choices = Vec::new();
    for (slot, left) in open_slots(now)? {
        if slot.key != current && left > 0 && service::booking_of(&slot.key, account)?.is_none() {
            choices.push((slot, left));
        }
    }
    Ok(choices)
}

fn move_form(req: &Request, params: &Params) -> Result<Response, Error> {
    let now = now();
    let (booking, slot) = active_booking(req, params, now)?;
    let choices = move_choices(&slot.key, &booking.value.account, now)?;
    Ok(views::move_form(req, &booking, &slot.value, &choices, None))
}

fn move_booking(req: &Request, params: &Params) -> Result<Response, Error> {
    let now = now();
    let booker = viewer(req)?;
    let (booking, slot) = active_booking(req, params, now)?;
    let target = req
        .form_text("creneau")
        .filter(|key| is_id(key) && *key != slot.key)
        .map(store::slot)
        .transpose()?
        .flatten();
    let Some(target) = target else {
        let choices = move_choices(&slot.key, booker.account, now)?;
        let page = views::move_form(
            req,
            &booking,
            &slot.value,
            &choices,
            Some("Choisissez un autre créneau dans la liste."),
        );
        return Ok(page.with_status(422));
    };
    // Cancel and book again in this one transaction: if the new slot is refused, the error
    // status rolls the cancellation back and the citizen keeps the old booking.
    let moved = service::move_booking(&booking, &target, booker, now, &req.commune.slug)
        .map_err(refused)?;
    service::tell_moved(&moved.value, &target.value, now)?;
    Ok(req.redirect("/mes-reservations").with_flash(format!(
        "Votre rendez-vous est déplacé au {}. Un e-mail vous a été envoyé.",
        time::when_fr(target.value.starts_at)
    )))
}
