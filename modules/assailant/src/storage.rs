//! Attacks on the storage walls (routes below `/storage/`).

use parvis_module_sdk::prelude::*;

/// Adds this file's routes.
pub fn routes(router: Router) -> Router {
    router
}
