//! A commune's neighbourhoods (quartiers), shared by every module (issue 19).
//!
//! The commune's admins define them: a GeoJSON file imported whole, or, for Paris, Lyon and
//! Marseille, the registry's municipal arrondissements. A place belongs to at most one
//! neighbourhood; the host keeps it with the place (`module_places.neighbourhood`), set when a
//! module places a document and again for every place when the neighbourhoods change, so that
//! modules list and count their documents by neighbourhood through the contract
//! (`parvis:module/neighbourhoods`, since 0.2.5) without ever reading an outline.

pub mod routes;
pub mod service;
pub mod shape;
pub mod store;

pub use service::{ImportError, Imported};
pub use store::Neighbourhood;
