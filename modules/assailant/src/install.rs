//! Attacks on the install walls (routes below `/install/`).

use parvis_module_sdk::prelude::*;

/// Adds this file's routes.
pub fn routes(router: Router) -> Router {
    router
}
