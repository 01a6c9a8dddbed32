//! Storage layout, over the host's tenant-scoped documents:
//!
//! - `slots`: key `{UTC start YYYYMMDDTHHMMZ}-{random hex}` (sorts by start), value [`Slot`];
//! - `bookings`: key a UUIDv7, value [`Booking`]; indexes `slot` and `account`; unique
//!   `booker` = `{slot}/{account}` (one booking per citizen and slot, even under concurrency);
//! - `seats`: key `{slot}:seat:{n}` for n in 0..capacity, value [`Seat`]; index `slot`. A
//!   create-only insert of a free seat key is what stops overbooking;
//! - `reminders`: key `{slot}:{booking}` (sorts by start), value [`Reminder`]: only bookings
//!   whose reminder is still due, so the tick reads the few next ones and stops.

use crate::model::{Booking, Reminder, Seat, Slot, reminder_key, seat_key};
use parvis_module_sdk::prelude::*;

const SLOTS: Collection = Collection::new("slots");
const BOOKINGS: Collection = Collection::new("bookings");
const SEATS: Collection = Collection::new("seats");
const REMINDERS: Collection = Collection::new("reminders");

/// The slot at `key`.
pub fn slot(key: &str) -> Result<Option<Doc<Slot>>, StoreError> {
    SLOTS.get(key)
}

/// Creates a slot; `Conflict` if the key is taken.
pub fn insert_slot(key: &str, slot: &Slot) -> Result<(), StoreError> {
    SLOTS.insert(key, slot, Indexes::new()).map(drop)
}

/// Replaces a slot read at `version`.
pub fn update_slot(doc: &Doc<Slot>) -> Result<(), StoreError> {
    SLOTS
        .put(&doc.key, &doc.value, Indexes::new(), Some(doc.version))
        .map(drop)
}

/// Slots starting at or after the minute of `stamp` (a [`crate::time::key_stamp`]), soonest
/// first, at most `limit`.
pub fn slots_from(stamp: &str, limit: u32) -> Result<Vec<Doc<Slot>>, StoreError> {
    Ok(SLOTS
        .list()
        .after(Some(stamp))
        .limit(limit)
        .page()?
        .documents)
}

/// Slots that started before the minute of `stamp`, latest first, at most `limit`.
pub fn slots_before(stamp: &str, limit: u32) -> Result<Vec<Doc<Slot>>, StoreError> {
    Ok(SLOTS
        .list()
        .descending()
        .after(Some(stamp))
        .limit(limit)
        .page()?
        .documents)
}

/// The slots an account published, soonest first (every slot is read).
pub fn slots_of_host(account: &str) -> Result<Vec<Doc<Slot>>, StoreError> {
    Ok(SLOTS
        .list()
        .all::<Slot>()?
        .into_iter()
        .filter(|s| s.value.host_account == account)
        .collect())
}

/// Seats taken in a slot.
pub fn seats_taken(slot: &str) -> Result<u64, StoreError> {
    SEATS.count(Some(("slot", slot)))
}

/// Takes the first free seat of a slot for `booking`: `None` when every seat is taken.
///
/// Each try is a create-only insert of `{slot}:seat:{n}`: two concurrent bookings can never
/// hold the same seat (the second insert conflicts, or waits for the first transaction and
/// then conflicts), so a slot never has more bookings than seats.
pub fn take_seat(slot: &str, capacity: u32, booking: &str) -> Result<Option<u32>, StoreError> {
    let seat = Seat {
        booking: booking.to_owned(),
    };
    for n in 0..capacity {
        match SEATS.insert(
            &seat_key(slot, n),
            &seat,
            Indexes::new().index("slot", slot),
        ) {
            Ok(_) => return Ok(Some(n)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Frees a seat.
pub fn free_seat(slot: &str, n: u32) -> Result<(), StoreError> {
    SEATS.delete(&seat_key(slot, n)).map(drop)
}

fn booking_indexes(booking: &Booking, unique: bool) -> Indexes {
    let indexes = Indexes::new()
        .index("slot", &booking.slot)
        .index("account", &booking.account);
    if unique {
        indexes.unique(
            "booker",
            &crate::model::booker_of_slot(&booking.slot, &booking.account),
        )
    } else {
        indexes
    }
}

/// Creates a booking; `Conflict` if this account already booked this slot.
pub fn insert_booking(key: &str, booking: &Booking) -> Result<(), StoreError> {
    BOOKINGS
        .insert(key, booking, booking_indexes(booking, true))
        .map(drop)
}

/// Replaces a booking read at `version` (its indexes and unique value are written again).
pub fn update_booking(doc: &Doc<Booking>) -> Result<(), StoreError> {
    BOOKINGS
        .put(
            &doc.key,
            &doc.value,
            booking_indexes(&doc.value, true),
            Some(doc.version),
        )
        .map(drop)
}

/// Deletes a booking.
pub fn delete_booking(key: &str) -> Result<(), StoreError> {
    BOOKINGS.delete(key).map(drop)
}

/// The booking at `key`.
pub fn booking(key: &str) -> Result<Option<Doc<Booking>>, StoreError> {
    BOOKINGS.get(key)
}

/// Every booking of a slot (at most its capacity while it is open), oldest first.
pub fn bookings_of_slot(slot: &str) -> Result<Vec<Doc<Booking>>, StoreError> {
    BOOKINGS.list().index("slot", slot).all()
}

/// Every booking of an account, oldest first.
pub fn bookings_of_account(account: &str) -> Result<Vec<Doc<Booking>>, StoreError> {
    BOOKINGS.list().index("account", account).all()
}

/// Schedules a booking's reminder.
pub fn insert_reminder(slot: &str, booking: &str, starts_at: i64) -> Result<(), StoreError> {
    let reminder = Reminder {
        booking: booking.to_owned(),
        starts_at,
    };
    REMINDERS
        .insert(&reminder_key(slot, booking), &reminder, Indexes::new())
        .map(drop)
}

/// Drops a booking's reminder (sent, or no longer needed).
pub fn delete_reminder(slot: &str, booking: &str) -> Result<(), StoreError> {
    REMINDERS.delete(&reminder_key(slot, booking)).map(drop)
}

/// The next `limit` reminders still to send, soonest slot first.
pub fn next_reminders(limit: u32) -> Result<Vec<Doc<Reminder>>, StoreError> {
    Ok(REMINDERS.list().limit(limit).page()?.documents)
}
