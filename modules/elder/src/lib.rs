//! The elder: a module built against the contract `parvis:module@0.2.0` with `wit-bindgen`
//! alone, as every module was before 0.2.1, so the host's tests prove that a newer host still
//! runs it unchanged: it is installed, it answers, it stores, and its payments import (0.2.0's,
//! without `available`) is linked to the host's 0.2.1 one. Never install it for a commune.

/// Bindings of contract 0.2.0, frozen in `modules/wit/v0.2.0/`.
// The generated glue is FFI (canonical ABI lifting and lowering).
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        world: "module",
        path: "../wit/v0.2.0",
    });
}

use bindings::exports::parvis::module::guest::Guest;
use bindings::parvis::module::payments::{self, Checkout};
use bindings::parvis::module::storage;
use bindings::parvis::module::types::{
    Body, Capability, Event, Manifest, Page, PersonalRecord, Request, Response,
};

/// The elder module.
struct Elder;

/// The page's text with `<`, `>`, `&` and quotes escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, html: String) -> Response {
    Response {
        status: 200,
        body: Body::Page(Page {
            title: title.into(),
            html,
        }),
        flash: None,
    }
}

impl Guest for Elder {
    fn describe() -> Manifest {
        Manifest {
            id: "elder".into(),
            name: "Ancien module".into(),
            description: "Construit pour le contrat 0.2.0. Ne pas installer.".into(),
            version: "0.2.0".into(),
            premium: false,
            capabilities: vec![Capability::Storage, Capability::Payments],
            settings: vec![],
            nav: vec![],
        }
    }

    fn handle(req: Request) -> Response {
        match (req.method.as_str(), req.path.as_str()) {
            // Counts its visits in the commune's storage.
            ("GET", "/") => match storage::incr("visits", 1) {
                Ok(visits) => page(
                    "Ancien module",
                    format!("<p>Visite n° {visits} à {}.</p>", escape(&req.commune.name)),
                ),
                Err(_) => page("Ancien module", "<p>Stockage indisponible.</p>".into()),
            },
            // Asks for a checkout through 0.2.0's payments import and says what came back.
            ("GET", "/paiement") => {
                let outcome = payments::create_checkout(&Checkout {
                    amount_cents: 1_000,
                    currency: "eur".into(),
                    description: "Essai".into(),
                    reference: "essai".into(),
                    success_path: "/".into(),
                    cancel_path: "/".into(),
                });
                let text = match outcome {
                    Ok(_) => "Paiement ouvert.".to_string(),
                    Err(why) => format!("Paiement refusé : {}", escape(&why)),
                };
                page("Paiement", format!("<p>{text}</p>"))
            }
            _ => Response {
                status: 404,
                body: Body::Empty,
                flash: None,
            },
        }
    }

    fn on_event(_: Event) -> Result<(), String> {
        Ok(())
    }

    fn export_account(_: String) -> Result<Vec<PersonalRecord>, String> {
        Ok(Vec::new())
    }
}

// The generated exports are `extern "C"` FFI shims.
#[allow(unsafe_code)]
mod export {
    use super::{Elder, bindings};
    bindings::export!(Elder with_types_in bindings);
}
