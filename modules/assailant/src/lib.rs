//! The assailant: a module written from the contract alone that attacks what the sandbox
//! must hold beyond CPU, memory and stack (see `hostile` for those): storage quotas, volumes
//! of notices, SMS, posts and checkouts, the call's budgets and deadline, fairness between
//! communes, the page's origin, and the install path. Used only by the host's tests and the
//! fairness benchmark; never install it for a commune.
//!
//! Each wall has its own file and its own routes below its prefix.

use parvis_module_sdk::prelude::*;

mod install;
mod runtime;
mod storage;
mod volumes;
mod web;

/// The assailant module.
pub struct Assailant;

impl Module for Assailant {
    fn manifest() -> Manifest {
        Manifest::new(
            "assailant",
            "Module assaillant (tests)",
            env!("CARGO_PKG_VERSION"),
        )
        .description("Module de test des quotas et de l'équité entre communes. Ne pas activer.")
        .capabilities(&[
            Capability::Storage,
            Capability::Notify,
            Capability::Feed,
            Capability::Payments,
        ])
    }

    fn handle(req: Request) -> Response {
        let router = Router::new();
        let router = storage::routes(router);
        let router = volumes::routes(router);
        let router = runtime::routes(router);
        let router = web::routes(router);
        let router = install::routes(router);
        router.handle(&req)
    }

    // It keeps nothing about anyone on purpose: its documents are filler.
    fn export_account(_account: &str) -> Result<Vec<PersonalRecord>, Error> {
        Ok(Vec::new())
    }

    fn account_deleted(_account: &str) -> Result<(), Error> {
        Ok(())
    }
}

export_module!(Assailant);
