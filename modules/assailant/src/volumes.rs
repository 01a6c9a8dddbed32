//! Attacks on the volumes walls (routes below `/volumes/`).

use parvis_module_sdk::prelude::*;

/// Adds this file's routes.
pub fn routes(router: Router) -> Router {
    router
}
