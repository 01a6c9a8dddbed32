//! The back-office's route, under `/admin/m/commitments` (the host checked the viewer
//! administers the commune's modules): every commitment, to open and manage on its page.

use crate::store;
use crate::views;
use parvis_module_sdk::prelude::*;

/// The routes of the back-office.
pub fn router() -> Router {
    Router::new().get("/", queue)
}

fn queue(req: &Request, _: &Params) -> Result<Response, Error> {
    let commitments = store::all()?;
    Ok(Response::page(
        "Engagements",
        views::queue(req, &commitments),
    ))
}
