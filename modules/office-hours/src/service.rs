//! The rules: publishing and cancelling slots, booking, cancelling and moving bookings, and the
//! reminders. Every function runs inside the host's one transaction per call: when a handler
//! answers with an error status, everything written here (and every notification queued) is
//! rolled back.

use crate::form::NewSlot;
use crate::ics::{self, Method};
use crate::model::{Booking, BookingStatus, REMINDER_WINDOW, Slot, Venue, slot_key};
use crate::store;
use crate::time;
use parvis_module_sdk::host::{Audience, Channels, Notification};
use parvis_module_sdk::prelude::*;

/// Why a booking was refused.
#[derive(Debug)]
pub enum BookError {
    /// Cancelled or already started.
    Closed,
    /// This citizen already holds a seat in this slot.
    AlreadyBooked,
    /// Every seat is taken.
    Full,
    /// The storage failed.
    Store(StoreError),
}

impl From<StoreError> for BookError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// Who books.
#[derive(Debug, Clone, Copy)]
pub struct Booker<'a> {
    /// Account id.
    pub account: &'a str,
    /// Display name.
    pub name: &'a str,
}

/// Publishes a slot; returns its key.
pub fn publish(new: NewSlot, host: Booker<'_>) -> Result<String, Error> {
    let slot = Slot {
        starts_at: new.starts_at,
        duration_min: new.duration_min,
        venue: new.venue,
        capacity: new.capacity,
        topic: new.topic,
        description: new.description,
        host_name: host.name.to_owned(),
        host_account: host.account.to_owned(),
        cancelled: false,
        cancel_reason: None,
    };
    // Random keys collide once in four billion per minute: retry rather than fail.
    for _ in 0..3 {
        let key = slot_key(slot.starts_at, &host::random_bytes(4));
        match store::insert_slot(&key, &slot) {
            Ok(()) => return Ok(key),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Internal("no free slot key after 3 tries".into()))
}

/// Seats still free in a slot.
pub fn seats_left(slot: &Doc<Slot>) -> Result<u32, StoreError> {
    let taken = u32::try_from(store::seats_taken(&slot.key)?).unwrap_or(u32::MAX);
    Ok(slot.value.capacity.saturating_sub(taken))
}

/// The viewer's confirmed booking of a slot, if any.
pub fn booking_of(slot: &str, account: &str) -> Result<Option<Doc<Booking>>, StoreError> {
    Ok(store::bookings_of_slot(slot)?
        .into_iter()
        .find(|b| b.value.account == account && b.value.status == BookingStatus::Confirmed))
}

/// Books a seat of `slot` for `booker`. `carried` keeps the calendar identity (UID, next
/// SEQUENCE) of an appointment being moved here.
pub fn book(
    slot: &Doc<Slot>,
    booker: Booker<'_>,
    subject: &str,
    now: i64,
    commune: &str,
    carried: Option<(String, u32)>,
) -> Result<Doc<Booking>, BookError> {
    if !slot.value.is_open(now) {
        return Err(BookError::Closed);
    }
    if booking_of(&slot.key, booker.account)?.is_some() {
        return Err(BookError::AlreadyBooked);
    }
    let key = host::new_id();
    let Some(seat) = store::take_seat(&slot.key, slot.value.capacity, &key)? else {
        return Err(BookError::Full);
    };
    let (uid, sequence) = carried.unwrap_or_else(|| (format!("{key}@{commune}.parvis"), 0));
    // A booking made less than a day ahead gets no separate reminder: the confirmation is one.
    let remind = slot.value.starts_at - now > REMINDER_WINDOW;
    let booking = Booking {
        slot: slot.key.clone(),
        account: booker.account.to_owned(),
        name: booker.name.to_owned(),
        subject: subject.to_owned(),
        seat,
        booked_at: now,
        status: BookingStatus::Confirmed,
        reminded: !remind,
        uid,
        sequence,
    };
    match store::insert_booking(&key, &booking) {
        Ok(()) => {}
        // The same citizen booking twice at once: the second insert meets the unique value.
        Err(StoreError::Conflict(_)) => return Err(BookError::AlreadyBooked),
        Err(e) => return Err(e.into()),
    }
    if remind {
        store::insert_reminder(&slot.key, &key, slot.value.starts_at)?;
    }
    Ok(Doc {
        key,
        value: booking,
        version: 1,
        created_at: now * 1000,
        updated_at: now * 1000,
    })
}

/// Frees a booking's seat and reminder and deletes it.
pub fn release(booking: &Doc<Booking>) -> Result<(), StoreError> {
    store::free_seat(&booking.value.slot, booking.value.seat)?;
    store::delete_reminder(&booking.value.slot, &booking.key)?;
    store::delete_booking(&booking.key)
}

/// A citizen cancels their booking: the seat is free again, and their calendar is told.
pub fn cancel_booking(booking: &Doc<Booking>, slot: &Slot, now: i64) -> Result<(), Error> {
    release(booking)?;
    let mut told = booking.value.clone();
    told.sequence += 1;
    notify(
        &told,
        slot,
        now,
        Method::Cancel,
        &format!("Réservation annulée : {}", time::when_fr(slot.starts_at)),
        "Votre réservation a bien été annulée ; la place est libérée pour une autre personne.",
    )
}

/// Moves a booking to another slot in one go: if the new slot cannot take it, the caller's
/// error status rolls everything back and the old booking stays.
pub fn move_booking(
    booking: &Doc<Booking>,
    to: &Doc<Slot>,
    booker: Booker<'_>,
    now: i64,
    commune: &str,
) -> Result<Doc<Booking>, BookError> {
    release(booking)?;
    let carried = (booking.value.uid.clone(), booking.value.sequence + 1);
    book(
        to,
        booker,
        &booking.value.subject,
        now,
        commune,
        Some(carried),
    )
}

/// Tells a citizen their appointment moved (same calendar UID, next SEQUENCE: calendars move
/// the event).
pub fn tell_moved(booking: &Booking, slot: &Slot, now: i64) -> Result<(), Error> {
    notify(
        booking,
        slot,
        now,
        Method::Request,
        &format!("Rendez-vous déplacé : {}", time::when_fr(slot.starts_at)),
        "Votre rendez-vous a été déplacé sur le créneau ci-dessous ; l'invitation jointe met \
         votre agenda à jour.",
    )
}

/// Tells a citizen their booking is confirmed.
pub fn confirm(booking: &Booking, slot: &Slot, now: i64) -> Result<(), Error> {
    notify(
        booking,
        slot,
        now,
        Method::Request,
        &format!("Permanence réservée : {}", time::when_fr(slot.starts_at)),
        "Votre réservation est confirmée.",
    )
}

/// The commune cancels a slot: every booked citizen is told, by e-mail with a calendar
/// cancellation and in the app. Returns how many bookings were cancelled.
pub fn cancel_slot(slot: &Doc<Slot>, reason: Option<&str>, now: i64) -> Result<usize, Error> {
    let mut cancelled = slot.clone();
    cancelled.value.cancelled = true;
    cancelled.value.cancel_reason = reason.map(str::to_owned);
    store::update_slot(&cancelled)?;
    let mut told = 0;
    for mut booking in store::bookings_of_slot(&slot.key)? {
        if booking.value.status != BookingStatus::Confirmed {
            continue;
        }
        booking.value.status = BookingStatus::SlotCancelled;
        booking.value.sequence += 1;
        store::update_booking(&booking)?;
        store::delete_reminder(&slot.key, &booking.key)?;
        let why = match reason {
            Some(reason) => format!("La commune a annulé cette permanence. Motif : {reason}"),
            None => "La commune a annulé cette permanence.".to_owned(),
        };
        notify(
            &booking.value,
            &cancelled.value,
            now,
            Method::Cancel,
            &format!(
                "Permanence annulée : {}",
                time::when_fr(slot.value.starts_at)
            ),
            &format!("{why}\nNous vous prions de nous excuser pour ce changement."),
        )?;
        told += 1;
    }
    Ok(told)
}

/// How many reminders one tick sends at most (the rest wait for the next minute).
const REMINDERS_PER_TICK: u32 = 50;

/// Sends the reminders of bookings starting within the next 24 hours; returns how many.
///
/// Pending reminders sort by their slot's start, so the tick reads only the next few and stops
/// at the first one that is not due yet.
pub fn send_reminders(now: i64) -> Result<u32, Error> {
    let mut sent = 0;
    for reminder in store::next_reminders(REMINDERS_PER_TICK)? {
        let due = reminder.value.starts_at - REMINDER_WINDOW;
        if due > now {
            break;
        }
        let Some((slot_key, booking_key)) = reminder.key.split_once(':') else {
            continue;
        };
        store::delete_reminder(slot_key, booking_key)?;
        if reminder.value.starts_at <= now {
            // Missed (the host was down): too late to remind.
            continue;
        }
        let (Some(mut booking), Some(slot)) =
            (store::booking(booking_key)?, store::slot(slot_key)?)
        else {
            continue;
        };
        if booking.value.status != BookingStatus::Confirmed
            || booking.value.reminded
            || slot.value.cancelled
        {
            continue;
        }
        notify(
            &booking.value,
            &slot.value,
            now,
            Method::Request,
            &format!(
                "Rappel : permanence {}",
                time::when_fr(slot.value.starts_at)
            ),
            "Nous vous rappelons votre rendez-vous à la permanence.",
        )?;
        booking.value.reminded = true;
        store::update_booking(&booking)?;
        sent += 1;
    }
    Ok(sent)
}

/// Where and when, as plain text lines for e-mails.
pub fn details_text(slot: &Slot, subject: &str) -> String {
    let venue = match &slot.venue {
        Venue::Place(place) => format!("Lieu : {place}"),
        Venue::Video(link) => format!("Visioconférence : {link}"),
    };
    format!(
        "Permanence : {}\nDate : {}, de {} à {}\nTenue par : {}\n{venue}\nObjet de votre demande : {subject}",
        slot.topic,
        time::date_fr(slot.starts_at),
        time::hour_fr(slot.starts_at),
        time::hour_fr(slot.ends_at()),
        slot.host_name,
    )
}

/// The `.ics` file of a booking.
pub fn invitation(booking: &Booking, slot: &Slot, now: i64, method: Method) -> Vec<u8> {
    let (location, url) = match &slot.venue {
        Venue::Place(place) => (place.as_str(), None),
        Venue::Video(link) => (link.as_str(), Some(link.as_str())),
    };
    let mut description = format!("Objet de votre demande : {}", booking.subject);
    if !slot.description.is_empty() {
        description.push_str("\n\n");
        description.push_str(&slot.description);
    }
    ics::calendar(
        method,
        &ics::Event {
            uid: &booking.uid,
            sequence: booking.sequence,
            stamp: now,
            starts_at: slot.starts_at,
            ends_at: slot.ends_at(),
            summary: &format!("Permanence : {}", slot.topic),
            description: &description,
            location,
            url,
        },
    )
    .into_bytes()
}

/// One e-mail and in-app notification to the booker, with the calendar file attached.
fn notify(
    booking: &Booking,
    slot: &Slot,
    now: i64,
    method: Method,
    title: &str,
    lead: &str,
) -> Result<(), Error> {
    let attachment = match method {
        Method::Request => {
            "L'invitation jointe (permanence.ics) ajoute ce rendez-vous à votre agenda."
        }
        Method::Cancel => {
            "Le fichier joint (annulation.ics) retire ce rendez-vous de votre agenda."
        }
    };
    let body = format!(
        "{lead}\n\n{}\n\n{attachment}\nVos réservations, pour les annuler ou les déplacer :",
        details_text(slot, &booking.subject)
    );
    let title: String = title.chars().take(200).collect();
    let notification = Notification::in_app(&title, &body, "/mes-reservations")
        .channels(Channels::IN_APP | Channels::EMAIL)
        .attachment(
            method.filename(),
            method.content_type(),
            invitation(booking, slot, now, method),
        );
    host::notify(
        &Audience::Accounts(vec![booking.account.clone()]),
        &notification,
    )
    .map(drop)
    .map_err(|e| Error::Internal(format!("notification: {e}")))
}
