//! Engagements: the commune's officials and the commune publish their commitments (a
//! programme, a mandate's promises) with a theme, a neighbourhood, dated milestones and
//! documents, then report their status and progress; each update goes to the commune's feed.
//! Citizens evaluate a commitment under way or done (1 to 5, an optional comment): one
//! evaluation per account, changeable, the verified residents counted apart; a distribution
//! is shown only from [`model::MIN_SHOWN`] evaluations. A « bilan » page for the commune and
//! for each bearer.
//!
//! Layers: [`public`] and [`admin`] (routes) → [`service`] (rules and host calls) → [`store`]
//! (storage layout). [`model`] and [`form`] are plain Rust, unit-tested on the host target;
//! [`views`] renders the HTML fragments.

mod admin;
mod form;
mod model;
mod public;
mod service;
mod store;
mod views;

use parvis_module_sdk::SettingKind;
use parvis_module_sdk::prelude::*;

/// The commitments module.
pub struct Commitments;

impl Module for Commitments {
    fn manifest() -> Manifest {
        Manifest::new("commitments", "Engagements", env!("CARGO_PKG_VERSION"))
            .description(
                "Les engagements des élus et de la commune, leur avancement étape par étape, \
                 et l'évaluation qu'en font les habitants ; un bilan par élu et pour la \
                 commune.",
            )
            .premium(false)
            .capabilities(&[Capability::Storage, Capability::Feed])
            .setting(
                "themes",
                "Thèmes",
                "Séparés par des points-virgules. Vide : la liste par défaut (cadre de vie, \
                 mobilités, environnement et nature…).",
                SettingKind::Text,
                service::DEFAULT_THEMES,
            )
            .setting(
                "intro",
                "Texte d'accueil",
                "Affiché en tête du bilan ; vide : un texte par défaut.",
                SettingKind::Text,
                "",
            )
            .nav("Engagements", "/", false)
            .nav("Engagements", "/", true)
    }

    fn handle(req: Request) -> Response {
        parvis_module_sdk::serve(&req, admin::router, public::router)
    }

    /// The evaluations the account gave, and the commitments it published as an official.
    fn export_account(account: &str) -> Result<Vec<PersonalRecord>, Error> {
        let mut out = Vec::new();
        for doc in store::evaluations_by(account)? {
            let e = doc.value;
            out.push(personal::record(
                "évaluation d'un engagement",
                &serde_json::json!({
                    "engagement": e.commitment,
                    "note": e.note,
                    "commentaire": e.comment,
                    "le": parvis_module_sdk::time::ms::iso_utc(e.at),
                }),
            )?);
        }
        for doc in store::published_by(account)? {
            out.push(personal::record(
                "engagement publié",
                &serde_json::json!({
                    "numero": doc.value.number,
                    "titre": doc.value.title,
                }),
            )?);
        }
        Ok(out)
    }

    /// The account's evaluations are withdrawn; the commitments it published stay.
    fn account_deleted(account: &str) -> Result<(), Error> {
        service::forget(account)
    }
}

export_module!(Commitments);
