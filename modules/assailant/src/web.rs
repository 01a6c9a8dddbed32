//! Attacks on the web walls (routes below `/web/`).

use parvis_module_sdk::prelude::*;

/// Adds this file's routes.
pub fn routes(router: Router) -> Router {
    router
}
