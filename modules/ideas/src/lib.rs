//! Boîte à idées: a citizen proposes an idea for the commune (a title, a text, a theme,
//! optionally a place on the map or a neighbourhood, and a photo); others support it and
//! discuss it; the town hall answers with a status (à l'étude, retenue, réalisée, non retenue
//! with its reason) and a public reply, and may link the commitment that carries it out. The
//! author and the supporters are told of each answer.
//!
//! The lists are ordered newest first, never by popularity (the order is said on the page):
//! a new idea is read as much as an old one.
//!
//! Layers: [`public`] and [`admin`] (routes: parse, authorize, call, render) → [`service`]
//! (the rules and the host calls) → [`store`] (storage layout). [`model`] and [`form`] are
//! plain Rust, unit-tested on the host target; [`views`] renders the HTML fragments.

mod admin;
mod form;
mod model;
mod public;
mod service;
mod store;
mod views;

use parvis_module_sdk::SettingKind;
use parvis_module_sdk::prelude::*;

/// The ideas module.
pub struct Ideas;

impl Module for Ideas {
    fn manifest() -> Manifest {
        Manifest::new("ideas", "Boîte à idées", env!("CARGO_PKG_VERSION"))
            .description(
                "Les habitants proposent leurs idées pour la commune, les soutiennent et en \
                 discutent ; la mairie y répond publiquement (à l'étude, retenue, réalisée, \
                 non retenue avec la raison).",
            )
            .premium(false)
            .capabilities(&[Capability::Storage, Capability::Notify])
            .setting(
                "themes",
                "Thèmes",
                "Séparés par des points-virgules. Vide : la liste par défaut (cadre de vie, \
                 mobilités, environnement et nature, culture et patrimoine…).",
                SettingKind::Text,
                model::DEFAULT_THEMES,
            )
            .setting(
                "intro",
                "Texte d'accueil",
                "Affiché en tête de la boîte à idées ; vide : un texte par défaut.",
                SettingKind::Text,
                "",
            )
            .nav("Idées", "/", false)
            .nav("Idées", "/", true)
    }

    fn handle(req: Request) -> Response {
        parvis_module_sdk::serve(&req, admin::router, public::router)
    }

    /// The ideas the account proposed (with their text and place), its comments and the ideas
    /// it supports.
    fn export_account(account: &str) -> Result<Vec<PersonalRecord>, Error> {
        let mut out = Vec::new();
        for doc in store::proposed_by(account)? {
            let idea = doc.value;
            out.push(personal::record(
                "idée proposée",
                &serde_json::json!({
                    "numero": idea.number,
                    "titre": idea.title,
                    "texte": idea.text,
                    "theme": idea.theme_label,
                    "lieu": idea.at,
                    "nom_public": idea.public_name,
                    "statut": idea.status.label(),
                    "proposee_le": parvis_module_sdk::time::ms::iso_utc(idea.proposed_at()),
                }),
            )?);
        }
        for doc in store::comments_by(account)? {
            out.push(personal::record(
                "commentaire sur une idée",
                &serde_json::json!({
                    "idee": doc.value.idea,
                    "texte": doc.value.text,
                    "le": parvis_module_sdk::time::ms::iso_utc(doc.value.at),
                }),
            )?);
        }
        for (number, at) in store::supported_by(account)? {
            out.push(personal::record(
                "soutien à une idée",
                &serde_json::json!({
                    "idee": number,
                    "le": parvis_module_sdk::time::ms::iso_utc(at),
                }),
            )?);
        }
        Ok(out)
    }

    /// The account's ideas and comments stay, unsigned; its supports are withdrawn.
    fn account_deleted(account: &str) -> Result<(), Error> {
        service::forget(account)
    }
}

export_module!(Ideas);
