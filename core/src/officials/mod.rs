//! Officials' public profiles and the claim of a pre-registered profile by its owner.
//! (The registry itself is imported by `parvis-tenants`.)

pub mod limiter;
pub mod routes;
pub mod service;
pub mod store;
pub mod titles;
