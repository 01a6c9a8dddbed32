//! Permanences en ligne: the commune's officials publish office-hour slots (a place or a video
//! link, a few seats), citizens book a seat with the subject they want to raise, get an e-mail
//! invitation (`.ics`) and a reminder the day before, and can cancel or move their booking.
//!
//! Layout: [`public`] and [`admin`] (handlers: parse, authorize, call, render), [`views`] and
//! [`admin_views`] (HTML), [`service`] (the rules), [`store`] (storage layout), [`model`],
//! [`form`] (checked input), [`time`] (Europe/Paris), [`ics`] (calendar files), [`personal`]
//! (an account's bookings, exported and forgotten).

use parvis_module_sdk::prelude::*;

mod admin;
mod admin_views;
mod form;
mod ics;
mod model;
mod personal;
mod public;
mod service;
mod store;
mod time;
mod views;

/// The module.
pub struct OfficeHours;

impl Module for OfficeHours {
    fn manifest() -> Manifest {
        Manifest::new(
            "office-hours",
            "Permanences en ligne",
            env!("CARGO_PKG_VERSION"),
        )
        .description(
            "Les élus publient des créneaux de permanence (en mairie ou en visioconférence) ; \
                 les habitants réservent une place, reçoivent une invitation par e-mail et un \
                 rappel la veille.",
        )
        .premium(true)
        .capabilities(&[Capability::Storage, Capability::Notify, Capability::Tick])
        .nav("Permanences", "/", false)
        .nav("Agenda des permanences", "/", true)
    }

    fn handle(req: Request) -> Response {
        parvis_module_sdk::serve(&req, admin::router, public::router)
    }

    fn on_event(event: Event) -> Result<(), String> {
        match event {
            Event::Tick(now) => service::send_reminders(now)
                .map(drop)
                .map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }

    fn export_account(account: &str) -> Result<Vec<PersonalRecord>, Error> {
        personal::export(account)
    }

    fn account_deleted(account: &str) -> Result<(), Error> {
        personal::forget(account)
    }
}

export_module!(OfficeHours);
