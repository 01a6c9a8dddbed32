//! An account's bookings: exported with their slot, and forgotten with the account (each
//! booking is deleted and its seat freed for someone else; nobody is notified, there is no
//! one left to tell). The slots an official published are exported too, and stay the
//! commune's after the account is deleted, as officials' posts do.

use crate::model::{BookingStatus, Venue};
use crate::{service, store, time};
use parvis_module_sdk::prelude::*;
use serde_json::json;

/// Every booking of the account in this commune, with its slot, and the slots it published.
pub fn export(account: &str) -> Result<Vec<PersonalRecord>, Error> {
    let mut out = Vec::new();
    for booking in store::bookings_of_account(account)? {
        let b = &booking.value;
        let slot = store::slot(&b.slot)?.map(|s| s.value);
        let (topic, when, venue) = match &slot {
            Some(s) => (
                s.topic.as_str(),
                time::iso_utc(s.starts_at),
                match &s.venue {
                    Venue::Place(place) => place.as_str(),
                    Venue::Video(_) => "visioconférence",
                },
            ),
            None => ("", String::new(), ""),
        };
        out.push(personal::record(
            "réservation",
            &json!({
                "permanence": topic,
                "debut": when,
                "lieu": venue,
                "nom": b.name,
                "sujet": b.subject,
                "reservee_le": time::iso_utc(b.booked_at),
                "statut": match b.status {
                    BookingStatus::Confirmed => "confirmée",
                    BookingStatus::SlotCancelled => "permanence annulée",
                },
            }),
        )?);
    }
    for slot in store::slots_of_host(account)? {
        out.push(personal::record(
            "permanence publiée",
            &json!({
                "permanence": slot.value.topic,
                "debut": time::iso_utc(slot.value.starts_at),
                "nom_affiche": slot.value.host_name,
            }),
        )?);
    }
    Ok(out)
}

/// Deletes every booking of the account, freeing its seats and reminders. Idempotent.
pub fn forget(account: &str) -> Result<(), Error> {
    for booking in store::bookings_of_account(account)? {
        service::release(&booking)?;
    }
    Ok(())
}
