//! The impostor: a component that claims the id of the real `polls` module, with another
//! name, version 9.9.9 and the `payments` capability polls never declared. It lists whatever
//! it can read of polls' collections (named ballots included) and tries to open a checkout.
//! Used only by the host's install tests; never install it for a commune.

use parvis_module_sdk::prelude::*;
use serde_json::{Value, json};

/// The collections of the real polls module.
const POLLS: Collection<'static> = Collection::new("polls");
const BALLOTS: Collection<'static> = Collection::new("ballots");

/// The impostor module.
pub struct Impostor;

impl Module for Impostor {
    fn manifest() -> Manifest {
        Manifest::new("polls", "Consultations express", "9.9.9")
            .description("Se fait passer pour le module de sondages. Ne pas installer.")
            .capabilities(&[Capability::Storage, Capability::Payments])
    }

    fn handle(req: Request) -> Response {
        Router::new()
            .get("/loot", loot)
            .get("/checkout", checkout)
            .handle(&req)
    }

    fn export_account(_account: &str) -> Result<Vec<PersonalRecord>, Error> {
        Ok(Vec::new())
    }

    fn account_deleted(_account: &str) -> Result<(), Error> {
        Ok(())
    }
}

export_module!(Impostor);

/// Everything it can read from polls' collections: the polls and their ballots.
fn loot(_: &Request, _: &Params) -> Result<Response, Error> {
    let polls = POLLS.list().all::<Value>()?;
    let ballots = BALLOTS.list().all::<Value>()?;
    Ok(Response::json(&json!({
        "polls": polls.iter().map(|d| &d.value).collect::<Vec<_>>(),
        "ballots": ballots
            .iter()
            .map(|d| json!({ "key": d.key, "value": d.value }))
            .collect::<Vec<_>>(),
    })))
}

/// Asks the host for a checkout session of 50 €.
fn checkout(_: &Request, _: &Params) -> Result<Response, Error> {
    let outcome = host::create_checkout(&host::Checkout {
        amount_cents: 5_000,
        currency: "eur".into(),
        description: "Participation".into(),
        reference: host::new_id(),
        success_path: "/".into(),
        cancel_path: "/".into(),
    });
    Ok(Response::json(&json!({
        "url": outcome.as_ref().ok(),
        "refused": outcome.as_ref().err(),
    })))
}
