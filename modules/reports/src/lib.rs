//! Signalements: a citizen reports a problem in the street (a category, a place on the map
//! inside the commune, a description); nearby open reports of the same category are offered
//! first (« C'est le même problème ? »), so people join a report rather than duplicate it. The
//! town hall answers from a queue (status, public reply, service, internal notes, merging
//! duplicates), and the reporter and the supporters are told of each step.
//!
//! Layers: [`public`] and [`admin`] (routes: parse, authorize, call, render) → [`service`]
//! (the rules and the host calls) → [`store`] (storage layout). [`model`] and [`form`] are
//! plain Rust, unit-tested on the host target; [`views`] renders the HTML fragments.

mod admin;
mod feed;
mod form;
mod model;
mod open311;
mod public;
mod service;
mod stats;
mod store;
mod views;

use parvis_module_sdk::SettingKind;
use parvis_module_sdk::prelude::*;

/// The reports module.
pub struct Reports;

impl Module for Reports {
    fn manifest() -> Manifest {
        Manifest::new("reports", "Signalements", env!("CARGO_PKG_VERSION"))
            .description(
                "Signalements des habitants (voirie, propreté, éclairage…) placés sur la carte \
                 de la commune, suivis publiquement jusqu'à leur résolution, avec la file de \
                 traitement de la mairie.",
            )
            .premium(false)
            .capabilities(&[Capability::Storage, Capability::Notify])
            .setting(
                "categories",
                "Catégories et services",
                "Séparées par des points-virgules ; « Catégorie > Service » désigne le service \
                 qui la traite. Vide : la liste par défaut (voirie, propreté, dépôt sauvage, \
                 éclairage public, espaces verts…).",
                SettingKind::Text,
                model::DEFAULT_CATEGORIES,
            )
            .setting(
                "questions",
                "Questions par catégorie",
                "Ce que le formulaire demande en plus, selon la catégorie, séparé par des \
                 points-virgules : « Catégorie : Question », suivi de « = choix | choix » pour \
                 une liste de choix et de « * » si la réponse est obligatoire. Les applications \
                 Open311 les reçoivent comme attributs du service. Vide : quelques questions \
                 par défaut (numéro du lampadaire…).",
                SettingKind::Text,
                model::DEFAULT_QUESTIONS,
            )
            .setting(
                "intro",
                "Texte d'accueil",
                "Affiché en tête de la page des signalements ; vide : un texte par défaut.",
                SettingKind::Text,
                "",
            )
            .nav("Signalements", "/", false)
            .nav("Signalements", "/", true)
            .nav("Statistiques des signalements", "/statistiques", true)
    }

    fn handle(req: Request) -> Response {
        parvis_module_sdk::serve(&req, admin::router, public::router)
    }

    /// The reports the account sent (with their place and text), those it supports and those
    /// it took on as staff.
    fn export_account(account: &str) -> Result<Vec<PersonalRecord>, Error> {
        let mut out = Vec::new();
        for doc in store::sent_by(account)? {
            let r = doc.value;
            out.push(personal::record(
                "signalement envoyé",
                &serde_json::json!({
                    "numero": r.number,
                    "categorie": r.category_label,
                    "description": r.description,
                    "adresse": r.address,
                    "lieu": r.at,
                    "nom_public": r.public_name,
                    "statut": r.status.label(),
                    "envoye_le": parvis_module_sdk::time::ms::iso_utc(r.sent_at()),
                }),
            )?);
        }
        for doc in store::assigned_to(account)? {
            out.push(personal::record(
                "signalement pris en charge",
                &serde_json::json!({
                    "numero": doc.value.number,
                    "nom": doc.value.agent.map(|a| a.name),
                }),
            )?);
        }
        for (number, at) in store::supported_by(account)? {
            out.push(personal::record(
                "soutien à un signalement",
                &serde_json::json!({
                    "numero": number,
                    "le": parvis_module_sdk::time::ms::iso_utc(at),
                }),
            )?);
        }
        Ok(out)
    }

    /// The account's reports stay, unsigned; its supports and assignments are withdrawn.
    fn account_deleted(account: &str) -> Result<(), Error> {
        service::forget(account)
    }
}

export_module!(Reports);
