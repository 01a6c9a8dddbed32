//! Sondages: the commune asks a question, signed-in people (or verified residents) answer once,
//! everyone sees the live results, and the closing publishes them in the commune's feed.
//!
//! Layers: `public` and `admin` (routes) → `service` (rules) → `store` (storage layout);
//! `personal` exports and forgets an account's ballots; `model`, `form`, `time` and `export` are plain Rust, unit-tested on the host target;
//! `views` renders the HTML fragments.

mod admin;
mod export;
mod form;
mod model;
mod personal;
mod public;
mod service;
mod store;
mod time;
mod views;

use parvis_module_sdk::prelude::*;

/// The polls module.
pub struct Polls;

impl Module for Polls {
    fn manifest() -> Manifest {
        Manifest::new("polls", "Sondages", env!("CARGO_PKG_VERSION"))
            .description(
                "Sondages de la commune : une voix par compte, résultats en direct, \
                 publication des résultats dans le fil à la clôture.",
            )
            .capabilities(&[
                Capability::Storage,
                Capability::Notify,
                Capability::Feed,
                Capability::Tick,
            ])
            .setting(
                "introduction",
                "Texte d'introduction",
                "Affiché en tête de la liste des sondages (par exemple : qui peut voter, à quoi servent les résultats).",
                parvis_module_sdk::SettingKind::Text,
                "",
            )
            .nav("Sondages", "/", false)
            .nav("Sondages", "/", true)
    }

    fn handle(req: Request) -> Response {
        parvis_module_sdk::serve(&req, admin::router, public::router)
    }

    fn on_event(event: Event) -> Result<(), String> {
        match event {
            Event::Tick(seconds) => {
                service::close_due(seconds.saturating_mul(1000)).map_err(|e| e.to_string())
            }
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

export_module!(Polls);
