//! Alertes: the commune's admins publish an alert (weather, roadworks, water cut…) with a
//! severity, a zone and an expiry; it reaches the commune's followers in the app and by e-mail,
//! and the citizens who registered a mobile number by SMS. Each alert keeps the ids of the
//! notices it sent, so the admin pages show what was delivered, what failed and what is pending.
//!
//! Layers: [`public`] and [`admin`] (routes: parse, authorize, call, render) → [`service`]
//! (the rules and the host calls) → [`store`] (storage layout). [`model`], [`form`],
//! [`phone`], [`sms`], [`report`] and [`time`] are plain Rust, unit-tested on the host target;
//! [`views`] and [`admin_views`] render the HTML fragments.

mod admin;
mod admin_views;
mod form;
mod model;
mod phone;
mod public;
mod report;
mod service;
mod sms;
mod store;
mod time;
mod verify;
mod views;

use parvis_module_sdk::prelude::*;

/// The alerts module.
pub struct Alerts;

impl Module for Alerts {
    fn manifest() -> Manifest {
        Manifest::new("alerts", "Alertes", env!("CARGO_PKG_VERSION"))
            .description(
                "Alertes de la commune (météo, travaux, circulation, sécurité, santé, eau et \
                 énergie) : diffusion dans l'application, par e-mail et par SMS aux habitants \
                 inscrits, avec le suivi de la distribution.",
            )
            .premium(false)
            .capabilities(&[Capability::Storage, Capability::Notify])
            .nav("Alertes", "/", false)
            .nav("Alertes", "/", true)
    }

    fn handle(req: Request) -> Response {
        parvis_module_sdk::serve(&req, admin::router, public::router)
    }

    /// The account's SMS subscription (its phone number and consent), and the alerts it
    /// published for the commune.
    fn export_account(account: &str) -> Result<Vec<PersonalRecord>, Error> {
        let mut out = Vec::new();
        if let Some(sub) = store::subscription_of(account)? {
            out.push(personal::record(
                "inscription aux alertes par SMS",
                &serde_json::json!({
                    "numero": sub.key,
                    "consentement_le": parvis_module_sdk::time::ms::iso_utc(sub.value.consented_at),
                }),
            )?);
        }
        if let Some(pending) = store::pending_of(account)? {
            out.push(personal::record(
                "numéro en attente de confirmation pour les alertes par SMS",
                &serde_json::json!({
                    "numero": pending.number,
                    "consentement_le": parvis_module_sdk::time::ms::iso_utc(pending.consented_at),
                }),
            )?);
        }
        for alert in store::published_by(account)? {
            out.push(personal::record(
                "alerte publiée",
                &serde_json::json!({
                    "titre": alert.value.title,
                    "publiee_le": parvis_module_sdk::time::ms::iso_utc(alert.value.created_at),
                }),
            )?);
        }
        Ok(out)
    }

    /// Forgets the account's phone number. The alerts it published stay the commune's, as
    /// officials' posts do.
    fn account_deleted(account: &str) -> Result<(), Error> {
        service::unsubscribe(account)?;
        store::delete_send_log(&format!("a:{account}"))?;
        Ok(())
    }
}

export_module!(Alerts);
