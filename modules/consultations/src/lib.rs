//! Consultations: the commune (or an official, with the admins' consent) asks a question for
//! a period; participants submit short proposals, published once moderated (a refusal is
//! explained to its author); each participant is shown the published proposals one at a time,
//! in a fair order (the least voted of a few drawn at random, never the most popular), and
//! votes d'accord, pas d'accord or neutre, with optional qualifications, changeable until the
//! end. The results (most consensual, most divisive, and by neighbourhood for those who say
//! where they live) are live, downloadable as open data without personal data, and published
//! to the commune's feed once closed.
//!
//! Layers: [`public`] and [`admin`] (routes) → [`service`] (the rules and the host calls) →
//! [`store`] (storage layout). [`model`] is plain Rust, unit-tested on the host target;
//! [`views`] renders the HTML fragments.

mod admin;
mod model;
mod public;
mod service;
mod store;
mod views;

use parvis_module_sdk::prelude::*;

/// The consultations module.
pub struct Consultations;

impl Module for Consultations {
    fn manifest() -> Manifest {
        Manifest::new("consultations", "Consultations", env!("CARGO_PKG_VERSION"))
            .description(
                "La commune pose une question pour une période ; les habitants proposent, \
                 les propositions sont modérées puis soumises au vote une à une, dans un ordre \
                 équitable ; les résultats sont publics et ouverts.",
            )
            .premium(false)
            .capabilities(&[Capability::Storage, Capability::Notify, Capability::Feed])
            .nav("Consultations", "/", false)
            .nav("Consultations", "/", true)
    }

    fn handle(req: Request) -> Response {
        parvis_module_sdk::serve(&req, admin::router, public::router)
    }

    /// The account's proposals and votes.
    fn export_account(account: &str) -> Result<Vec<PersonalRecord>, Error> {
        let mut out = Vec::new();
        for doc in store::proposed_by(account)? {
            let p = doc.value;
            out.push(personal::record(
                "proposition à une consultation",
                &serde_json::json!({
                    "consultation": p.consultation,
                    "proposition": p.number,
                    "texte": p.text,
                    "etat": p.moderation.label(),
                    "raison": p.reason,
                    "le": parvis_module_sdk::time::ms::iso_utc(p.submitted_at),
                }),
            )?);
        }
        for doc in store::all_ballots_of(account)? {
            let b = doc.value;
            out.push(personal::record(
                "vote à une consultation",
                &serde_json::json!({
                    "consultation": b.consultation,
                    "proposition": b.proposal,
                    "vote": b.vote.label(),
                    "qualifications": b.qualifications,
                    "quartier": b.neighbourhood,
                    "le": parvis_module_sdk::time::ms::iso_utc(b.at),
                }),
            )?);
        }
        for doc in store::declared_by(account)? {
            out.push(personal::record(
                "quartier indiqué pour une consultation",
                &serde_json::json!({
                    "consultation": doc.key.split('-').next().and_then(|n| n.parse::<u64>().ok()),
                    "quartier": doc.value,
                }),
            )?);
        }
        Ok(out)
    }

    /// The account's proposals stay, unsigned; its votes are withdrawn.
    fn account_deleted(account: &str) -> Result<(), Error> {
        service::forget(account)
    }
}

export_module!(Consultations);
