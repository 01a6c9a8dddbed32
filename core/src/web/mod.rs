//! The HTTP layer shared by every feature: application state, site (tenant) resolution,
//! sessions, CSRF, page rendering, error pages, health and metrics.

pub mod csrf;
pub mod errors;
pub mod health;
pub mod path_guard;
pub mod render;
pub mod security;
pub mod session;
pub mod site;

pub use render::Page;
pub use session::{SignedIn, Viewer};
pub use site::{CommuneSite, Site};
