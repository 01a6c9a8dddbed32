//! Géo-évaluation (premium): a map of how citizens rate their commune, neighbourhood by
//! neighbourhood, with its trend over the year. It draws what the commune's modules publish
//! as figures (contract 0.2.7, `indicators`): the evaluations of commitments, the reports and
//! the time they took to resolve, the supports for ideas; and its own short periodic
//! barometer (propreté, sécurité, transports, cadre de vie…), which citizens answer once per
//! round, saying their neighbourhood if they will. For the commune's officials and admins;
//! no average drawn from fewer than [`model::MIN_GROUP`] answers is shown.
//!
//! Layers: [`public`] and [`admin`] (routes) → [`service`] (rules and host calls) → [`store`]
//! (storage layout). [`model`] is plain Rust, unit-tested on the host target; [`views`]
//! renders the HTML fragments.

mod admin;
mod model;
mod public;
mod service;
mod store;
mod views;

use parvis_module_sdk::prelude::*;

/// The géo-évaluation module.
pub struct GeoEvaluation;

impl Module for GeoEvaluation {
    fn manifest() -> Manifest {
        Manifest::new(model::MODULE, "Géo-évaluation", env!("CARGO_PKG_VERSION"))
            .description(
                "La carte de ce que les habitants pensent de leur commune, quartier par \
                 quartier : baromètre périodique, évaluation des engagements, signalements et \
                 délais de résolution, soutiens aux idées, et leur évolution.",
            )
            .premium(true)
            .capabilities(&[Capability::Storage])
            .nav("Baromètre", "/", false)
            .nav("Géo-évaluation", "/", true)
    }

    fn handle(req: Request) -> Response {
        parvis_module_sdk::serve(&req, admin::router, public::router)
    }

    /// The account's answers to the barometer.
    fn export_account(account: &str) -> Result<Vec<PersonalRecord>, Error> {
        let mut out = Vec::new();
        for a in store::answers_of(account)? {
            out.push(personal::record(
                "réponse au baromètre",
                &serde_json::json!({
                    "barometre": a.barometer,
                    "quartier": a.neighbourhood,
                    "notes": a.notes.iter().map(|(theme, note)| serde_json::json!({ "theme": theme, "note": note })).collect::<Vec<_>>(),
                    "le": parvis_module_sdk::time::ms::iso_utc(a.at),
                }),
            )?);
        }
        Ok(out)
    }

    /// The account's answers are counted out and erased.
    fn account_deleted(account: &str) -> Result<(), Error> {
        service::forget(account)
    }
}

export_module!(GeoEvaluation);
