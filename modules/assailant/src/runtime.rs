//! Attacks on the runtime walls (routes below `/runtime/`).

use parvis_module_sdk::prelude::*;

/// Adds this file's routes.
pub fn routes(router: Router) -> Router {
    router
}
